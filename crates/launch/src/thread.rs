//! `ThreadLauncher`: each worker is a thread of the server's process running a Rust function.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use daisy_protocol::Context;

use crate::{LaunchError, Launcher, WorkerExit, WorkerHandle, WorkerSpec};

/// The error a worker function may return.
pub type WorkerError = Box<dyn std::error::Error + Send + Sync>;

type WorkerFn = dyn Fn(Context) -> Result<(), WorkerError> + Send + Sync;

/// The exit of a thread whose function failed or panicked.
const THREAD_FAILED: WorkerExit = WorkerExit::Failed {
    code: Some(1),
    signal: None,
};

/// Starts each worker as a thread (named `daisy-worker-<id>`) running a function with the
/// worker's context.
///
/// The function returning `Ok` is a [`WorkerExit::Success`]; returning `Err` or panicking is
/// `Failed { code: Some(1), signal: None }`, and the error or panic text is logged at ERROR.
/// Output is never redirected ([`WorkerHandle::log_files`] is None) and there is no pid.
///
/// **Threads cannot be killed.** [`WorkerHandle::kill`] on a running thread only abandons it:
/// the handle reports `Failed { code: None, signal: None }` from then on and the thread is
/// detached. The server also closes the worker's connection, so a well-behaved worker (one that
/// talks to the server through a daisy client) ends on its own at its next request.
///
/// ```
/// use daisy_launch::{Launcher, ThreadLauncher, WorkerExit, WorkerSpec};
/// use daisy_protocol::Context;
///
/// let launcher = ThreadLauncher::new(|context: Context| {
///     assert_eq!(context.task_id()?, "A");
///     Ok(())
/// });
/// let context = Context::for_worker(None, "127.0.0.1", 4242, "A", 0, "secret");
/// let spec = WorkerSpec { task_id: "A".into(), worker_id: 0, context, log_basename: None };
/// let mut worker = launcher.launch(&spec).unwrap();
/// let exit = loop {
///     if let Some(exit) = worker.try_wait().unwrap() {
///         break exit;
///     }
///     std::thread::sleep(std::time::Duration::from_millis(1));
/// };
/// assert_eq!(exit, WorkerExit::Success);
/// ```
#[derive(Clone)]
pub struct ThreadLauncher {
    function: Arc<WorkerFn>,
}

impl ThreadLauncher {
    /// A launcher running `function(context)` in a new thread per worker.
    pub fn new(
        function: impl Fn(Context) -> Result<(), WorkerError> + Send + Sync + 'static,
    ) -> Self {
        Self {
            function: Arc::new(function),
        }
    }
}

impl std::fmt::Debug for ThreadLauncher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadLauncher").finish_non_exhaustive()
    }
}

impl Launcher for ThreadLauncher {
    /// Starts a thread running the function with `spec.context`.
    ///
    /// # Errors
    ///
    /// [`LaunchError::Spawn`] (naming the thread) if the thread cannot be created.
    fn launch(&self, spec: &WorkerSpec) -> Result<Box<dyn WorkerHandle>, LaunchError> {
        let name = format!("daisy-worker-{}", spec.worker_id);
        let function = Arc::clone(&self.function);
        let context = spec.context.clone();
        let task_id = spec.task_id.clone();
        let worker_id = spec.worker_id;
        let thread = thread::Builder::new()
            .name(name.clone())
            .spawn(move || run(&*function, context, &task_id, worker_id))
            .map_err(|e| LaunchError::Spawn {
                program: format!("thread {name}"),
                source: e.into(),
            })?;
        Ok(Box::new(ThreadHandle {
            worker_id,
            thread: Some(thread),
            exit: None,
        }))
    }

    fn name(&self) -> &str {
        "threads"
    }
}

/// Runs the worker function, turning its result or panic into an exit.
fn run(function: &WorkerFn, context: Context, task_id: &str, worker_id: u64) -> WorkerExit {
    match panic::catch_unwind(AssertUnwindSafe(|| function(context))) {
        Ok(Ok(())) => WorkerExit::Success,
        Ok(Err(error)) => {
            tracing::error!(task_id, worker_id, %error, "worker thread failed");
            THREAD_FAILED
        }
        Err(payload) => {
            let message = panic_message(payload.as_ref());
            tracing::error!(task_id, worker_id, panic = %message, "worker thread panicked");
            THREAD_FAILED
        }
    }
}

/// The text of a panic payload (`&str` or `String`), or a stand-in.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "non-text panic payload".to_owned()
    }
}

/// A worker thread.
#[derive(Debug)]
struct ThreadHandle {
    worker_id: u64,
    /// None once joined or abandoned.
    thread: Option<JoinHandle<WorkerExit>>,
    exit: Option<WorkerExit>,
}

impl ThreadHandle {
    fn join(&mut self, thread: JoinHandle<WorkerExit>) -> WorkerExit {
        // `run` catches panics, so joining fails only if logging itself panicked.
        let exit = thread.join().unwrap_or(THREAD_FAILED);
        self.exit = Some(exit);
        exit
    }
}

impl WorkerHandle for ThreadHandle {
    fn worker_id(&self) -> u64 {
        self.worker_id
    }

    fn try_wait(&mut self) -> Result<Option<WorkerExit>, LaunchError> {
        if let Some(thread) = self.thread.take_if(|t| t.is_finished()) {
            self.join(thread);
        }
        Ok(self.exit)
    }

    /// Abandons a running thread (threads cannot be killed); on an ended thread returns its
    /// exit.
    fn kill(&mut self) -> Result<WorkerExit, LaunchError> {
        if let Some(thread) = self.thread.take() {
            if thread.is_finished() {
                return Ok(self.join(thread));
            }
            tracing::warn!(
                worker_id = self.worker_id,
                "worker thread cannot be killed; abandoning it"
            );
            self.exit = Some(WorkerExit::Failed {
                code: None,
                signal: None,
            });
        }
        Ok(self.exit.unwrap_or(THREAD_FAILED))
    }

    fn log_files(&self) -> Option<(PathBuf, PathBuf)> {
        None
    }

    fn pid(&self) -> Option<u32> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_messages() {
        assert_eq!(panic_message(&"static"), "static");
        assert_eq!(panic_message(&String::from("owned")), "owned");
        assert_eq!(panic_message(&42_u8), "non-text panic payload");
    }
}
