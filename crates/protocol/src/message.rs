//! The messages between workers and the server.

use daisy_core::Block;
use serde::{Deserialize, Serialize};

/// The protocol version spoken by this crate; both sides must agree.
pub const PROTOCOL_VERSION: u16 = 1;

/// The error text of a block that was returned with status FAILED but without an error (the
/// engine's, shared with the serial run).
pub use daisy_core::RELEASED_AS_FAILED;

/// The first four bytes of every connection's first message.
pub const MAGIC: [u8; 4] = *b"DSY1";

/// What a worker sends to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ClientMessage {
    /// The handshake: the first message of every connection, nothing is served before it.
    Hello {
        /// [`MAGIC`].
        magic: [u8; 4],
        /// [`PROTOCOL_VERSION`].
        version: u16,
        /// The run's secret token, from `DAISY_CONTEXT`.
        token: String,
        /// The task this worker works for.
        task_id: String,
        /// The worker's id, if the server started it.
        worker_id: Option<u64>,
    },
    /// Asks for up to `max` blocks (at least one); the reply is [`ServerMessage::SendBlocks`]
    /// with one or more blocks, or [`ServerMessage::RequestShutdown`]. A request that cannot be
    /// served yet waits at the server until blocks are ready.
    AcquireBlocks {
        /// The task.
        task_id: String,
        /// The most blocks to send.
        max: u32,
    },
    /// Returns a block; its status says SUCCESS or FAILED.
    ReleaseBlock {
        /// The block.
        block: Block,
    },
    /// Returns a block that failed, with the error text (daisy's `BlockFailed`).
    BlockFailed {
        /// The block.
        block: Block,
        /// What went wrong.
        error: String,
    },
    /// The worker's own code failed outside any block (daisy's `ClientException`): the run aborts.
    ClientException {
        /// What went wrong.
        error: String,
    },
    /// The worker is done and closes the connection.
    Goodbye,
    /// Returns several blocks of one task by id: the compact form of `ReleaseBlock` and
    /// `BlockFailed` for workers that batch (the server keeps its own copy of every block out).
    ReleaseBlocks {
        /// The task.
        task_id: String,
        /// The blocks, in the order they were finished.
        released: Vec<Released>,
    },
}

/// One block returned in a [`ClientMessage::ReleaseBlocks`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Released {
    /// The block's spatial id.
    pub spatial_id: u64,
    /// `None`: it succeeded; otherwise it failed with this error text.
    pub error: Option<String>,
}

/// What the server sends to a worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ServerMessage {
    /// The handshake succeeded.
    Welcome {
        /// The server's [`PROTOCOL_VERSION`].
        version: u16,
    },
    /// The handshake failed; the server closes the connection after this.
    Refused {
        /// Why.
        reason: String,
    },
    /// Blocks to process, in order.
    SendBlocks {
        /// One or more blocks.
        blocks: Vec<Block>,
    },
    /// No more blocks for this worker: it should finish and disconnect.
    RequestShutdown,
}

impl ClientMessage {
    /// The handshake message for a context.
    #[must_use]
    pub fn hello(token: &str, task_id: &str, worker_id: Option<u64>) -> Self {
        Self::Hello {
            magic: MAGIC,
            version: PROTOCOL_VERSION,
            token: token.to_owned(),
            task_id: task_id.to_owned(),
            worker_id,
        }
    }

    /// A short description for logs, without payloads.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::Hello {
                task_id, worker_id, ..
            } => match worker_id {
                Some(w) => format!("Hello(task {task_id}, worker {w})"),
                None => format!("Hello(task {task_id}, an unknown worker)"),
            },
            Self::AcquireBlocks { task_id, max } => format!("AcquireBlocks({task_id}, {max})"),
            Self::ReleaseBlock { block } => {
                format!("ReleaseBlock({}, {})", block.block_id, block.status)
            }
            Self::BlockFailed { block, .. } => format!("BlockFailed({})", block.block_id),
            Self::ClientException { .. } => "ClientException".to_owned(),
            Self::Goodbye => "Goodbye".to_owned(),
            Self::ReleaseBlocks { task_id, released } => {
                format!("ReleaseBlocks({task_id}, {} blocks)", released.len())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use daisy_core::{Block, BlockStatus};
    use daisy_geometry::Roi;

    use super::*;

    #[test]
    fn descriptions_have_no_rust_debug_output() {
        assert_eq!(
            ClientMessage::hello("t", "A", Some(14)).describe(),
            "Hello(task A, worker 14)"
        );
        assert_eq!(
            ClientMessage::hello("t", "A", None).describe(),
            "Hello(task A, an unknown worker)"
        );
        let roi = Roi::from_values(&[0], &[1]).unwrap();
        let mut block = Block::new("A".into(), 3, roi, roi);
        block.status = BlockStatus::Success;
        let described = ClientMessage::ReleaseBlock { block }.describe();
        assert!(
            described.ends_with(", BlockStatus.SUCCESS)") && described.starts_with("ReleaseBlock("),
            "{described}"
        );
    }
}
