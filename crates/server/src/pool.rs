//! The workers of one task: starting, reaping, replacing (docs/semantics.md#workers-and-daisy_context).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use daisy_launch::{Launcher, WorkerExit, WorkerHandle, WorkerSpec, next_worker_id};
use daisy_protocol::Context;

/// Where a task's workers connect to, and how they are started.
pub(crate) struct PoolConfig {
    pub hostname: String,
    pub port: u16,
    pub token: String,
    pub logdir: Option<PathBuf>,
    pub prefetch: u32,
}

/// A worker that ended.
pub(crate) struct Ended {
    pub worker_id: u64,
    pub exit: WorkerExit,
}

/// The live workers of one task and its restart budget.
pub(crate) struct WorkerPool {
    task_id: String,
    launcher: Arc<dyn Launcher>,
    workers: Vec<Box<dyn WorkerHandle>>,
    /// Replacements started so far.
    pub restarts: u32,
    /// Workers started so far, replacements included.
    pub started: u64,
}

impl WorkerPool {
    pub fn new(task_id: &str, launcher: Arc<dyn Launcher>) -> Self {
        Self {
            task_id: task_id.to_owned(),
            launcher,
            workers: Vec::new(),
            restarts: 0,
            started: 0,
        }
    }

    /// The context a worker with this id gets.
    fn context(
        &self,
        config: &PoolConfig,
        worker_id: u64,
    ) -> Result<Context, daisy_protocol::ProtocolError> {
        let logdir = config.logdir.as_deref().map(Path::to_string_lossy);
        let mut context = Context::for_worker(
            logdir.as_deref(),
            &config.hostname,
            config.port,
            &self.task_id,
            worker_id,
            &config.token,
        )?;
        context.set("prefetch", &config.prefetch.to_string())?;
        Ok(context)
    }

    /// Runs the task's init callback with the context of worker 0.
    pub fn init(
        &self,
        config: &PoolConfig,
        callback: &daisy_core::InitCallback,
    ) -> Result<(), String> {
        let context = self.context(config, 0).map_err(|e| e.to_string())?;
        callback(&context.to_env()).map_err(|e| e.to_string())
    }

    /// Starts one worker; `None` (logged) if it could not be started.
    pub fn start(&mut self, config: &PoolConfig) -> Option<u64> {
        // Unique per process, across runs (docs/semantics.md#workers-and-daisy_context).
        let worker_id = next_worker_id();
        self.started += 1;
        let context = match self.context(config, worker_id) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(
                    "cannot start worker {worker_id} of task {}: {e}",
                    self.task_id
                );
                return None;
            }
        };
        let spec = WorkerSpec {
            task_id: self.task_id.clone(),
            worker_id,
            context,
            log_basename: config
                .logdir
                .as_deref()
                .map(|d| daisy_launch::log_basename(d, &self.task_id, worker_id)),
        };
        match self.launcher.launch(&spec) {
            Ok(handle) => {
                tracing::debug!(
                    "started worker {worker_id} of task {} ({})",
                    self.task_id,
                    self.launcher.name()
                );
                self.workers.push(handle);
                Some(worker_id)
            }
            Err(e) => {
                tracing::error!(
                    "cannot start worker {worker_id} of task {}: {e}",
                    self.task_id
                );
                None
            }
        }
    }

    /// Reaps the workers that ended.
    pub fn reap(&mut self) -> Vec<Ended> {
        let mut ended = Vec::new();
        self.workers.retain_mut(|w| match w.try_wait() {
            Ok(Some(exit)) => {
                ended.push(Ended {
                    worker_id: w.worker_id(),
                    exit,
                });
                false
            }
            Ok(None) => true,
            Err(e) => {
                tracing::warn!("cannot check worker {}: {e}", w.worker_id());
                true
            }
        });
        ended
    }

    /// Whether any worker is alive.
    pub fn alive(&self) -> usize {
        self.workers.len()
    }

    /// Kills one worker (its process tree), if it is one of ours.
    pub fn kill(&mut self, worker_id: u64) {
        if let Some(i) = self.workers.iter().position(|w| w.worker_id() == worker_id) {
            let mut worker = self.workers.swap_remove(i);
            if let Err(e) = worker.kill() {
                tracing::warn!("cannot kill worker {worker_id}: {e}");
            }
        }
    }

    /// Kills every worker still alive.
    pub fn kill_all(&mut self) {
        for mut worker in self.workers.drain(..) {
            if let Err(e) = worker.kill() {
                tracing::warn!("cannot kill worker {}: {e}", worker.worker_id());
            }
        }
    }

    /// The log files of a worker, if it is alive and redirected.
    pub fn log_files(&self, worker_id: u64) -> Option<(PathBuf, PathBuf)> {
        self.workers
            .iter()
            .find(|w| w.worker_id() == worker_id)
            .and_then(|w| w.log_files())
    }
}
