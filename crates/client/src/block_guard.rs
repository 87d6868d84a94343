//! A block on loan from the server, returned exactly once.

use std::ops::{Deref, DerefMut};

use daisy_core::{Block, BlockStatus};

use crate::Client;

/// The error text of a block whose guard was dropped without `succeed` or `fail`.
pub const DROPPED_WITHOUT_RELEASE: &str = "block dropped without being released";

/// A block handed out by [`Client::acquire_block`], to be returned with
/// [`succeed`](Self::succeed) or [`fail`](Self::fail).
///
/// It dereferences to the [`Block`]. A guard dropped without either (an early `?` return, a
/// panic) returns the block as FAILED with the text
/// `"block dropped without being released"`, the explicit counterpart of daisy's
/// `acquire_block` context manager, so a block is never left out.
#[derive(Debug)]
pub struct BlockGuard<'a> {
    /// The client the block goes back through.
    client: &'a mut Client,
    /// The block; `Some` until the guard is consumed.
    block: Option<Block>,
}

impl<'a> BlockGuard<'a> {
    /// A guard for `block`, returned through `client`.
    pub(crate) fn new(client: &'a mut Client, block: Block) -> Self {
        Self {
            client,
            block: Some(block),
        }
    }

    /// Returns the block as SUCCESS.
    pub fn succeed(mut self) {
        if let Some(mut block) = self.block.take() {
            block.status = BlockStatus::Success;
            self.client.release_block(block);
        }
    }

    /// Returns the block as FAILED with an error text, and logs the failure at ERROR.
    pub fn fail(mut self, error: &str) {
        if let Some(block) = self.block.take() {
            self.client.fail_block(block, error);
        }
    }

    /// Returns the block with the status it has now: SUCCESS as success, anything else as
    /// FAILED (without an error text).
    pub fn release(mut self) {
        if let Some(block) = self.block.take() {
            self.client.release_block(block);
        }
    }

    /// Takes the block out without returning it; the caller must hand it to
    /// [`Client::release_block`] or [`Client::fail_block`] later, or the server will count it
    /// as lost when the connection closes.
    #[must_use]
    pub fn into_block(mut self) -> Block {
        match self.block.take() {
            Some(block) => block,
            None => unreachable!("a BlockGuard holds its block until it is consumed"),
        }
    }
}

impl Deref for BlockGuard<'_> {
    type Target = Block;

    fn deref(&self) -> &Block {
        match &self.block {
            Some(block) => block,
            None => unreachable!("a BlockGuard holds its block until it is consumed"),
        }
    }
}

impl DerefMut for BlockGuard<'_> {
    fn deref_mut(&mut self) -> &mut Block {
        match &mut self.block {
            Some(block) => block,
            None => unreachable!("a BlockGuard holds its block until it is consumed"),
        }
    }
}

impl Drop for BlockGuard<'_> {
    fn drop(&mut self) {
        if let Some(block) = self.block.take() {
            self.client.fail_block(block, DROPPED_WITHOUT_RELEASE);
        }
    }
}
