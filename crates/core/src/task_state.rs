//! Per-task block counters (docs/semantics.md#scheduling).

use std::fmt;

/// The block counters of one task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TaskState {
    /// Whether a block was handed to a worker.
    pub started: bool,
    /// The number of blocks of the task.
    pub total_block_count: u64,
    /// Blocks waiting to be handed out.
    pub ready_count: u64,
    /// Blocks handed out and not yet returned.
    pub processing_count: u64,
    /// Blocks done, skipped ones included.
    pub completed_count: u64,
    /// Blocks skipped because their pre-check said they were done.
    pub skipped_count: u64,
    /// Blocks that failed permanently.
    pub failed_count: u64,
    /// Blocks that can never run because a block they depend on failed.
    pub orphaned_count: u64,
}

impl TaskState {
    /// Blocks waiting for upstream blocks: everything not otherwise counted.
    #[must_use]
    pub fn pending_count(&self) -> u64 {
        self.total_block_count.saturating_sub(
            self.ready_count
                + self.completed_count
                + self.failed_count
                + self.orphaned_count
                + self.processing_count,
        )
    }

    /// Whether every block has completed, failed or been orphaned.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.total_block_count
            .saturating_sub(self.completed_count + self.failed_count + self.orphaned_count)
            == 0
    }
}

impl fmt::Display for TaskState {
    /// daisy's format: one `Name: value` line per counter, each ending in a newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let started = if self.started { "True" } else { "False" };
        writeln!(f, "Started: {started}")?;
        writeln!(f, "Total Blocks: {}", self.total_block_count)?;
        writeln!(f, "Ready: {}", self.ready_count)?;
        writeln!(f, "Processing: {}", self.processing_count)?;
        writeln!(f, "Pending: {}", self.pending_count())?;
        writeln!(f, "Completed: {}", self.completed_count)?;
        writeln!(f, "Skipped: {}", self.skipped_count)?;
        writeln!(f, "Failed: {}", self.failed_count)?;
        writeln!(f, "Orphaned: {}", self.orphaned_count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_matches_daisy() {
        assert_eq!(
            TaskState::default().to_string(),
            "Started: False\nTotal Blocks: 0\nReady: 0\nProcessing: 0\nPending: 0\nCompleted: 0\nSkipped: 0\nFailed: 0\nOrphaned: 0\n"
        );
    }

    #[test]
    fn pending_and_done() {
        let mut s = TaskState {
            total_block_count: 10,
            ready_count: 2,
            processing_count: 1,
            completed_count: 3,
            ..Default::default()
        };
        assert_eq!(s.pending_count(), 4);
        assert!(!s.is_done());
        s.failed_count = 1;
        s.orphaned_count = 6;
        assert!(s.is_done());
    }
}
