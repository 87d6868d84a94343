//! The error type of the server crate.

use daisy_core::CoreError;

/// Why a run could not start or had to stop.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The scheduler refused the tasks.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The listening socket could not be set up.
    #[error("cannot listen on {address}: {error}")]
    Listen {
        /// The address.
        address: String,
        /// The io error text.
        error: String,
    },
    /// A worker's own code failed outside any block (daisy's `ClientException`): the run aborted.
    #[error("worker {worker_id:?} of task {task_id} failed: {error}")]
    ClientException {
        /// The task.
        task_id: String,
        /// The worker, if the server started it.
        worker_id: Option<u64>,
        /// What went wrong.
        error: String,
    },
    /// A task's init callback failed: the run aborted before its workers started.
    #[error("the init callback of task {task_id} failed: {error}")]
    InitCallback {
        /// The task.
        task_id: String,
        /// What went wrong.
        error: String,
    },
    /// No launcher is configured for a task.
    #[error("no launcher for task {task_id}: give one for the task or a default")]
    NoLauncher {
        /// The task.
        task_id: String,
    },
    /// The random run token could not be generated.
    #[error("cannot generate a run token: {error}")]
    Token {
        /// The error text.
        error: String,
    },
}
