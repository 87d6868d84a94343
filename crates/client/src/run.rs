//! The block loop: acquire, process, release, until the server has no more work (docs/semantics.md#tasks).

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use daisy_core::{Block, BlockStatus, BoxError};

use crate::client::worker_label;
use crate::{Client, ClientError};

/// What a [`Client::run`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Blocks returned as SUCCESS.
    pub succeeded: u64,
    /// Blocks returned as FAILED.
    pub failed: u64,
}

impl Client {
    /// Runs the block loop: acquires blocks until the server has no more work and calls `f`
    /// on each, with status PROCESSING.
    ///
    /// When `f` returns `Ok`, a block still PROCESSING becomes SUCCESS (`f` may set SUCCESS
    /// or FAILED itself; FAILED is returned as such). When `f` returns `Err` or panics, the
    /// block is reported with `BlockFailed` and the error text or panic message, the failure
    /// is logged at ERROR as `Block <block> failed in worker <worker_id>: <error>`, and the
    /// loop goes on with the next block. The client has said `Goodbye` when this returns.
    ///
    /// # Errors
    ///
    /// As [`Client::acquire_block`]: a broken connection or protocol ends the loop; a failing
    /// block does not.
    pub fn run<F>(&mut self, mut f: F) -> Result<RunSummary, ClientError>
    where
        F: FnMut(&mut Block) -> Result<(), BoxError>,
    {
        let mut summary = RunSummary::default();
        let worker = worker_label(self.worker_id());
        while let Some(mut guard) = self.acquire_block()? {
            match process_block(&mut guard, &mut f) {
                Outcome::Succeeded => {
                    summary.succeeded += 1;
                    guard.succeed();
                }
                Outcome::Failed(None) => {
                    summary.failed += 1;
                    guard.release();
                }
                Outcome::Failed(Some(error)) => {
                    summary.failed += 1;
                    tracing::error!("Block {} failed in {worker}: {error}", *guard);
                    guard.fail(&error);
                }
            }
        }
        Ok(summary)
    }
}

/// What became of one block in the block loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Return it as SUCCESS.
    Succeeded,
    /// Return it as FAILED: with the error text or panic message, or `None` if the block
    /// function set the status to FAILED itself.
    Failed(Option<String>),
}

/// One step of the block loop: runs `f` on a block (status PROCESSING) and says what to return.
///
/// When `f` returns `Ok`, a block still PROCESSING (or set to SUCCESS) succeeded, one set to
/// FAILED failed. When `f` returns `Err` or panics, the block failed with the error text or
/// `block function panicked: <message>`. Shared by [`Client::run`] and in-process workers.
pub fn process_block<F>(block: &mut Block, f: &mut F) -> Outcome
where
    F: FnMut(&mut Block) -> Result<(), BoxError>,
{
    block.status = BlockStatus::Processing;
    match catch_unwind(AssertUnwindSafe(|| f(block))) {
        Ok(Ok(())) if matches!(block.status, BlockStatus::Processing | BlockStatus::Success) => {
            Outcome::Succeeded
        }
        Ok(Ok(())) => Outcome::Failed(None),
        Ok(Err(e)) => Outcome::Failed(Some(e.to_string())),
        Err(panic) => Outcome::Failed(Some(format!(
            "block function panicked: {}",
            panic_message(panic.as_ref())
        ))),
    }
}

/// The message of a panic payload (`&str` or `String`), or a placeholder.
fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(text) = payload.downcast_ref::<&str>() {
        text
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text
    } else {
        "<non-string panic payload>"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_messages() {
        let text = catch_unwind(|| panic!("boom")).unwrap_err();
        assert_eq!(panic_message(text.as_ref()), "boom");
        let n = 7;
        let formatted = catch_unwind(|| panic!("boom {n}")).unwrap_err();
        assert_eq!(panic_message(formatted.as_ref()), "boom 7");
        let other = catch_unwind(|| std::panic::panic_any(42_u8)).unwrap_err();
        assert_eq!(panic_message(other.as_ref()), "<non-string panic payload>");
    }
}
