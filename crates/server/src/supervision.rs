//! The worker pool of every task: launching, reaping, replacing, abandoning
//! (docs/semantics.md#workers-and-daisy_context, #worker-restarts).
//!
//! A task's workers are started when it first has ready blocks. A worker that crashes while
//! its task is not done is replaced, and so is the last worker of a task that has ready
//! blocks but nobody to take them (after a grace period); each replacement uses one restart
//! of the task's budget (`max_worker_restarts`), which the pool owns. A task that needs a
//! replacement after its budget is used up is abandoned.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use daisy_core::{BoxError, InitCallback, Task, TaskState};
use daisy_launch::{Launcher, WorkerExit, WorkerHandle, WorkerSpec, next_worker_id};
use daisy_protocol::Context;

use crate::WorkerFailure;
use crate::reporting::Reporting;

/// A worker's `.out` and `.err` files.
type LogFiles = (PathBuf, PathBuf);

/// Where workers connect to, and what they are told.
pub(crate) struct PoolConfig {
    /// The host workers connect to.
    pub hostname: String,
    /// The port workers connect to.
    pub port: u16,
    /// The run token.
    pub token: String,
    /// Where worker logs go.
    pub logdir: Option<PathBuf>,
    /// The most blocks a worker asks for at a time.
    pub prefetch: u32,
}

/// What a task looks like to its pool when the workers are checked.
pub(crate) struct Health {
    /// The task's counters.
    pub state: TaskState,
    /// Whether it has checked blocks waiting to be handed out.
    pub has_checked: bool,
    /// How many connections it has open.
    pub connections: usize,
}

/// The workers of one task and its restart budget.
pub(crate) struct WorkerPool {
    task_id: String,
    launcher: Arc<dyn Launcher>,
    workers: Vec<Box<dyn WorkerHandle>>,
    /// Replacements allowed (the task's `max_worker_restarts`).
    budget: u32,
    /// Replacements started so far.
    restarts: u32,
    /// Workers started so far, replacements included.
    started: u64,
    /// Whether the task's workers were started (its first blocks were ready).
    recruited: bool,
    /// Since when the task has had ready blocks but no worker.
    stalled_since: Option<Instant>,
    /// Why the task was abandoned, if it was.
    abandoned: Option<String>,
}

impl WorkerPool {
    /// An empty pool for `task`, starting workers with `launcher`.
    pub fn new(task: &Task, launcher: Arc<dyn Launcher>) -> Self {
        Self {
            task_id: task.task_id().to_string(),
            launcher,
            workers: Vec::new(),
            budget: task.max_worker_restarts(),
            restarts: 0,
            started: 0,
            recruited: false,
            stalled_since: None,
            abandoned: None,
        }
    }

    /// Uses one restart of the budget; false if it is used up.
    fn take_restart(&mut self) -> bool {
        if self.restarts < self.budget {
            self.restarts += 1;
            true
        } else {
            false
        }
    }

    /// The context a worker with this id gets.
    fn context(
        &self,
        config: &PoolConfig,
        worker_id: u64,
    ) -> Context {
        let logdir = config.logdir.as_deref().map(Path::to_string_lossy);
        let mut context = Context::for_worker(
            logdir.as_deref(),
            &config.hostname,
            config.port,
            &self.task_id,
            worker_id,
            &config.token,
        );
        context.set("prefetch", &config.prefetch.to_string());
        context
    }

    /// Runs the task's init callback with the context of worker 0.
    fn init(&self, config: &PoolConfig, callback: &InitCallback) -> Result<(), BoxError> {
        callback(&self.context(config, 0).to_env())
    }

    /// Starts one worker; `None` (logged) if it could not be started.
    fn start(&mut self, config: &PoolConfig) -> Option<u64> {
        // Unique per process, across runs (docs/semantics.md#workers-and-daisy_context).
        let worker_id = next_worker_id();
        self.started += 1;
        let context = self.context(config, worker_id);
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

    /// Reaps the workers that ended: `(worker_id, exit, log files)`.
    fn reap(&mut self) -> Vec<(u64, WorkerExit, Option<LogFiles>)> {
        let mut ended = Vec::new();
        self.workers.retain_mut(|w| match w.try_wait() {
            Ok(Some(exit)) => {
                ended.push((w.worker_id(), exit, w.log_files()));
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

    /// Kills one worker (its process tree), if it is one of ours.
    fn kill(&mut self, worker_id: u64) {
        if let Some(i) = self.workers.iter().position(|w| w.worker_id() == worker_id) {
            let mut worker = self.workers.swap_remove(i);
            if let Err(e) = worker.kill() {
                tracing::warn!("cannot kill worker {worker_id}: {e}");
            }
        }
    }

    /// Kills every worker still alive.
    fn kill_all(&mut self) {
        for mut worker in self.workers.drain(..) {
            if let Err(e) = worker.kill() {
                tracing::warn!("cannot kill worker {}: {e}", worker.worker_id());
            }
        }
    }
}

/// The worker pools of every task of a run.
pub(crate) struct Supervisor {
    pools: Vec<WorkerPool>,
    config: PoolConfig,
    /// How long a task may have ready blocks but no worker before a replacement is started.
    stall_grace: Duration,
}

impl Supervisor {
    /// Supervises `pools` (one per task, in task order).
    pub fn new(pools: Vec<WorkerPool>, config: PoolConfig, stall_grace: Duration) -> Self {
        Self {
            pools,
            config,
            stall_grace,
        }
    }

    /// Whether task `t`'s workers were started.
    pub fn recruited(&self, t: usize) -> bool {
        self.pools[t].recruited
    }

    /// Why task `t` was abandoned, if it was.
    pub fn abandoned(&self, t: usize) -> Option<&str> {
        self.pools[t].abandoned.as_deref()
    }

    /// How many workers task `t` has had, replacements included.
    pub fn workers_started(&self, t: usize) -> u64 {
        self.pools[t].started
    }

    /// The log files of a live worker of task `t`, if its output is redirected.
    pub fn log_files(&self, t: usize, worker_id: u64) -> Option<(PathBuf, PathBuf)> {
        self.pools[t]
            .workers
            .iter()
            .find(|w| w.worker_id() == worker_id)
            .and_then(|w| w.log_files())
    }

    /// Kills a worker of task `t` (e.g. one stuck past its block's timeout).
    pub fn kill(&mut self, t: usize, worker_id: u64) {
        self.pools[t].kill(worker_id);
    }

    /// Starts the workers of task `t`: its init callback first, then `num_workers` workers.
    ///
    /// # Errors
    ///
    /// The init callback's error, if it failed (no worker is started then).
    pub fn recruit(
        &mut self,
        t: usize,
        task: &Task,
        reporting: &mut Reporting,
    ) -> Result<(), BoxError> {
        self.pools[t].recruited = true;
        if let Some(callback) = task.init_callback() {
            self.pools[t].init(&self.config, callback)?;
        }
        for _ in 0..task.num_workers() {
            self.start_worker(t, reporting);
        }
        Ok(())
    }

    fn start_worker(&mut self, t: usize, reporting: &mut Reporting) {
        let pool = &mut self.pools[t];
        if let Some(worker_id) = pool.start(&self.config) {
            reporting.worker_started(&pool.task_id, worker_id);
        }
    }

    /// Reaps the ended workers of task `t`, replaces crashed ones within the budget, and
    /// handles a stalled task: replaced after the grace period, or abandoned when the budget
    /// is used up. The reason, if the task is abandoned now.
    pub fn check(
        &mut self,
        t: usize,
        health: &Health,
        now: Instant,
        reporting: &mut Reporting,
    ) -> Option<String> {
        if !self.pools[t].recruited {
            return None;
        }
        let done = health.state.is_done();
        for (worker_id, exit, log_files) in self.pools[t].reap() {
            let pool = &mut self.pools[t];
            match exit {
                WorkerExit::Success => {
                    tracing::info!("worker {worker_id} of task {} exited", pool.task_id);
                }
                WorkerExit::Failed { .. } => {
                    tracing::warn!("worker {worker_id} of task {} died: {exit}", pool.task_id);
                    reporting.worker_failed(
                        t,
                        WorkerFailure {
                            worker_id,
                            exit,
                            log_files,
                        },
                    );
                    if !done && pool.abandoned.is_none() && pool.take_restart() {
                        self.start_worker(t, reporting);
                    }
                }
            }
        }
        let pool = &mut self.pools[t];
        let state = &health.state;
        let stalled = !done
            && pool.abandoned.is_none()
            && (state.ready_count > 0 || health.has_checked)
            && state.processing_count == 0
            && pool.workers.is_empty()
            && health.connections == 0;
        if !stalled {
            pool.stalled_since = None;
            return None;
        }
        let since = *pool.stalled_since.get_or_insert(now);
        if now.duration_since(since) < self.stall_grace {
            return None;
        }
        pool.stalled_since = None;
        if pool.take_restart() {
            self.start_worker(t, reporting);
            return None;
        }
        let reason = format!(
            "no worker left and the restart budget is used up (max_worker_restarts = {}, {} workers started)",
            pool.budget, pool.started
        );
        tracing::error!("abandoning task {}: {reason}", pool.task_id);
        pool.abandoned = Some(reason.clone());
        Some(reason)
    }

    /// Gives the workers `grace` to exit on their own, then kills the rest.
    pub async fn shutdown(&mut self, grace: Duration) {
        let until = Instant::now() + grace;
        while self.pools.iter().any(|p| !p.workers.is_empty()) && Instant::now() < until {
            for pool in &mut self.pools {
                pool.reap();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        for pool in &mut self.pools {
            pool.kill_all();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::HashMap;
    use std::sync::Mutex;

    use daisy_geometry::Roi;
    use daisy_launch::LaunchError;

    use super::*;
    use crate::{Observer, RunEvent};

    /// The fake workers' fates: set an exit to end one.
    #[derive(Clone, Default)]
    struct Fates(Arc<Mutex<HashMap<u64, WorkerExit>>>);

    /// Starts fake workers (no process, no thread); refuses when `refuse` is set.
    struct FakeLauncher {
        fates: Fates,
        launched: Arc<Mutex<Vec<u64>>>,
    }

    struct FakeWorker {
        worker_id: u64,
        fates: Fates,
    }

    impl Launcher for FakeLauncher {
        fn launch(&self, spec: &WorkerSpec) -> Result<Box<dyn WorkerHandle>, LaunchError> {
            self.launched.lock().unwrap().push(spec.worker_id);
            Ok(Box::new(FakeWorker {
                worker_id: spec.worker_id,
                fates: self.fates.clone(),
            }))
        }

        fn name(&self) -> &str {
            "fake"
        }
    }

    impl WorkerHandle for FakeWorker {
        fn worker_id(&self) -> u64 {
            self.worker_id
        }

        fn try_wait(&mut self) -> Result<Option<WorkerExit>, LaunchError> {
            Ok(self.fates.0.lock().unwrap().get(&self.worker_id).copied())
        }

        fn kill(&mut self) -> Result<WorkerExit, LaunchError> {
            let exit = WorkerExit::Failed {
                code: None,
                signal: Some(9),
            };
            self.fates.0.lock().unwrap().insert(self.worker_id, exit);
            Ok(exit)
        }

        fn log_files(&self) -> Option<(PathBuf, PathBuf)> {
            None
        }

        fn pid(&self) -> Option<u32> {
            None
        }
    }

    /// Counts the workers observers hear of.
    struct Started(Arc<Mutex<u64>>);

    impl Observer for Started {
        fn on_event(&mut self, event: &RunEvent<'_>) {
            if matches!(event, RunEvent::WorkerStarted { .. }) {
                *self.0.lock().unwrap() += 1;
            }
        }
    }

    fn task(workers: usize, restarts: u32) -> Arc<Task> {
        Task::builder(
            "t",
            Roi::from_values(&[0], &[4]).unwrap(),
            Roi::from_values(&[0], &[1]).unwrap(),
            Roi::from_values(&[0], &[1]).unwrap(),
        )
        .num_workers(workers)
        .max_worker_restarts(restarts)
        .build()
        .unwrap()
    }

    struct Fixture {
        task: Arc<Task>,
        supervisor: Supervisor,
        reporting: Reporting,
        fates: Fates,
        launched: Arc<Mutex<Vec<u64>>>,
        heard: Arc<Mutex<u64>>,
    }

    fn fixture(workers: usize, restarts: u32, stall_grace: Duration) -> Fixture {
        let task = task(workers, restarts);
        let fates = Fates::default();
        let launched = Arc::new(Mutex::new(Vec::new()));
        let launcher = Arc::new(FakeLauncher {
            fates: fates.clone(),
            launched: Arc::clone(&launched),
        });
        let config = PoolConfig {
            hostname: "127.0.0.1".into(),
            port: 1,
            token: "t".into(),
            logdir: None,
            prefetch: 1,
        };
        let heard = Arc::new(Mutex::new(0));
        Fixture {
            supervisor: Supervisor::new(
                vec![WorkerPool::new(&task, launcher)],
                config,
                stall_grace,
            ),
            task,
            reporting: Reporting::new(vec![Box::new(Started(Arc::clone(&heard)))], 1),
            fates,
            launched,
            heard,
        }
    }

    fn health(ready: u64) -> Health {
        Health {
            state: TaskState {
                total_block_count: 4,
                ready_count: ready,
                ..TaskState::default()
            },
            has_checked: false,
            connections: 0,
        }
    }

    impl Fixture {
        fn crash_all(&self) {
            for &w in self.launched.lock().unwrap().iter() {
                self.fates.0.lock().unwrap().insert(
                    w,
                    WorkerExit::Failed {
                        code: Some(3),
                        signal: None,
                    },
                );
            }
        }

        fn check(&mut self, ready: u64, now: Instant) -> Option<String> {
            self.supervisor
                .check(0, &health(ready), now, &mut self.reporting)
        }
    }

    #[test]
    fn crashed_workers_are_replaced_within_the_budget() {
        let mut f = fixture(2, 1, Duration::from_secs(3600));
        assert!(f.check(4, Instant::now()).is_none());
        assert!(
            f.launched.lock().unwrap().is_empty(),
            "started before recruiting"
        );
        f.supervisor.recruit(0, &f.task, &mut f.reporting).unwrap();
        assert!(f.supervisor.recruited(0));
        assert_eq!(f.launched.lock().unwrap().len(), 2);
        f.crash_all();
        assert!(f.check(4, Instant::now()).is_none());
        // Two crashed, one replacement: the budget is 1.
        assert_eq!(f.launched.lock().unwrap().len(), 3);
        assert_eq!(f.supervisor.workers_started(0), 3);
        assert_eq!(*f.heard.lock().unwrap(), 3);
        // Both crashes are in the report, with how the workers ended.
        let tasks = [Arc::clone(&f.task)];
        let scheduler = daisy_core::Scheduler::new(&tasks, true).unwrap();
        let report = f.reporting.finish(&tasks, &scheduler, &f.supervisor, false);
        let failed: Vec<String> = report.tasks[0]
            .worker_failures
            .iter()
            .map(|w| format!("worker {} {}", w.worker_id, w.exit))
            .collect();
        let launched = f.launched.lock().unwrap();
        assert_eq!(
            failed,
            [
                format!("worker {} failed with exit code 3", launched[0]),
                format!("worker {} failed with exit code 3", launched[1]),
            ]
        );
    }

    #[test]
    fn a_stalled_task_gets_a_replacement_then_is_abandoned() {
        let mut f = fixture(1, 1, Duration::ZERO);
        f.supervisor.recruit(0, &f.task, &mut f.reporting).unwrap();
        f.fates
            .0
            .lock()
            .unwrap()
            .insert(f.launched.lock().unwrap()[0], WorkerExit::Success);
        let now = Instant::now();
        // A worker that exited with success is not replaced, but the stalled task is.
        assert!(f.check(4, now).is_none());
        assert_eq!(f.launched.lock().unwrap().len(), 2);
        // The replacement crashes: the budget is used up, the task is abandoned.
        f.crash_all();
        let reason = f.check(4, now).unwrap();
        assert_eq!(
            reason,
            "no worker left and the restart budget is used up (max_worker_restarts = 1, 2 workers started)"
        );
        assert_eq!(f.supervisor.abandoned(0), Some(reason.as_str()));
        assert!(f.check(4, now).is_none(), "abandoned twice");
    }

    #[test]
    fn a_task_without_ready_blocks_is_not_stalled() {
        let mut f = fixture(1, 0, Duration::ZERO);
        f.supervisor.recruit(0, &f.task, &mut f.reporting).unwrap();
        f.crash_all();
        assert!(f.check(0, Instant::now()).is_none());
        assert!(f.supervisor.abandoned(0).is_none());
    }

    #[test]
    fn a_failing_init_callback_starts_no_worker() {
        let mut f = fixture(2, 0, Duration::ZERO);
        let task = Task::builder(
            "t",
            Roi::from_values(&[0], &[4]).unwrap(),
            Roi::from_values(&[0], &[1]).unwrap(),
            Roi::from_values(&[0], &[1]).unwrap(),
        )
        .init_callback(|context| {
            assert!(context.contains("worker_id=0"));
            Err("no database".into())
        })
        .build()
        .unwrap();
        let error = f
            .supervisor
            .recruit(0, &task, &mut f.reporting)
            .unwrap_err();
        assert_eq!(error.to_string(), "no database");
        assert!(f.launched.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn shutdown_kills_the_workers_left() {
        let mut f = fixture(2, 0, Duration::ZERO);
        f.supervisor.recruit(0, &f.task, &mut f.reporting).unwrap();
        f.supervisor.kill(0, f.launched.lock().unwrap()[0]);
        f.supervisor.shutdown(Duration::from_millis(1)).await;
        let fates = f.fates.0.lock().unwrap();
        assert_eq!(fates.len(), 2);
        assert!(f.supervisor.pools[0].workers.is_empty());
    }
}
