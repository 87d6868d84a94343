//! Watching a run: events for progress bars, status lines and dashboards (docs/semantics.md#progress-and-the-execution-summary).

use daisy_core::TaskState;

use crate::{BlockFailure, RunReport};

/// Something that happened in a run.
#[derive(Debug, Clone, Copy)]
pub enum RunEvent<'a> {
    /// A task got its first ready blocks and its workers are being started.
    TaskStart {
        /// The task.
        task_id: &'a str,
        /// Its counters.
        state: &'a TaskState,
    },
    /// Blocks of a task were handed out or came back.
    Progress {
        /// The task.
        task_id: &'a str,
        /// Its counters.
        state: &'a TaskState,
    },
    /// A task is done (every block completed, failed or orphaned).
    TaskDone {
        /// The task.
        task_id: &'a str,
        /// Its final counters.
        state: &'a TaskState,
    },
    /// A task was given up: no worker is left and its restart budget is used up
    /// (docs/semantics.md#worker-restarts); its remaining blocks count as orphaned.
    TaskAbandoned {
        /// The task.
        task_id: &'a str,
        /// Its counters after abandoning.
        state: &'a TaskState,
        /// Why.
        reason: &'a str,
    },
    /// A block attempt failed (the block may still be retried).
    BlockFailure {
        /// What failed.
        failure: &'a BlockFailure,
    },
    /// A worker was started (replacements included).
    WorkerStarted {
        /// The task.
        task_id: &'a str,
        /// The worker.
        worker_id: u64,
    },
    /// The run ended.
    Exit {
        /// The final report.
        report: &'a RunReport,
    },
}

/// Receives the events of a run, in order, on the server's thread: keep it quick.
pub trait Observer: Send {
    /// Called for every event.
    fn on_event(&mut self, event: &RunEvent<'_>);
}
