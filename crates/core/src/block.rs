//! A block: one placement of a task's read and write ROI templates (docs/semantics.md#blocks-and-block-ids).

use std::fmt;
use std::sync::Arc;

use daisy_geometry::Roi;

/// The name of a task, shared cheaply between blocks.
pub type TaskId = Arc<str>;

/// The processing status of a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[repr(u8)]
pub enum BlockStatus {
    /// Created, not yet handed out.
    #[default]
    Created = 0,
    /// Handed to a worker.
    Processing = 1,
    /// Processed (or skipped) successfully.
    Success = 2,
    /// Processing failed.
    Failed = 3,
}

impl BlockStatus {
    /// The status with daisy's integer value, if there is one.
    #[must_use]
    pub fn from_value(value: u8) -> Option<Self> {
        match value {
            0 => Some(Self::Created),
            1 => Some(Self::Processing),
            2 => Some(Self::Success),
            3 => Some(Self::Failed),
            _ => None,
        }
    }
}

impl fmt::Display for BlockStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::Created => "CREATED",
            Self::Processing => "PROCESSING",
            Self::Success => "SUCCESS",
            Self::Failed => "FAILED",
        };
        write!(f, "BlockStatus.{name}")
    }
}

/// The id of a block: its task and its spatial id (a generalised Cantor number, docs/semantics.md#blocks-and-block-ids).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct BlockId {
    /// The task the block belongs to.
    pub task_id: TaskId,
    /// The Cantor number of the block's index in its task's grid.
    pub spatial_id: u64,
}

impl fmt::Display for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.task_id, self.spatial_id)
    }
}

/// One unit of work: a read ROI, a write ROI and an id.
///
/// Equality and hashing use the block id only.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Block {
    /// The block's id.
    pub block_id: BlockId,
    /// The region the block function may read.
    pub read_roi: Roi,
    /// The region the block function writes (shrunk at the boundary with `fit = shrink`).
    pub write_roi: Roi,
    /// The write ROI before any shrink.
    pub requested_write_roi: Roi,
    /// The processing status.
    pub status: BlockStatus,
    /// When the block was handed out (seconds since the epoch), set by the server.
    pub started_processing: Option<f64>,
    /// When the block came back (seconds since the epoch), set by the server.
    pub stopped_processing: Option<f64>,
}

impl Block {
    /// A block with a given id, in state CREATED.
    #[must_use]
    #[inline]
    pub fn new(task_id: TaskId, spatial_id: u64, read_roi: Roi, write_roi: Roi) -> Self {
        Self {
            block_id: BlockId {
                task_id,
                spatial_id,
            },
            read_roi,
            write_roi,
            requested_write_roi: write_roi,
            status: BlockStatus::Created,
            started_processing: None,
            stopped_processing: None,
        }
    }

    /// The block's task id.
    #[must_use]
    pub fn task_id(&self) -> &str {
        &self.block_id.task_id
    }

    /// The block's spatial id.
    #[must_use]
    pub fn spatial_id(&self) -> u64 {
        self.block_id.spatial_id
    }
}

impl PartialEq for Block {
    fn eq(&self, other: &Self) -> bool {
        self.block_id == other.block_id
    }
}

impl Eq for Block {}

impl std::hash::Hash for Block {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.block_id.hash(state);
    }
}

impl fmt::Display for Block {
    /// daisy's format: `t/12 with read ROI [1:4, 1:4] (3, 3) and write ROI [2:3, 2:3] (1, 1)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} with read ROI {} and write ROI {}",
            self.block_id, self.read_roi, self.write_roi
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_in_daisy_format() {
        let read = Roi::from_values(&[1, 1], &[3, 3]).unwrap();
        let write = Roi::from_values(&[2, 2], &[1, 1]).unwrap();
        let block = Block::new("t".into(), 12, read, write);
        assert_eq!(
            block.to_string(),
            "t/12 with read ROI [1:4, 1:4] (3, 3) and write ROI [2:3, 2:3] (1, 1)"
        );
        assert_eq!(block.status, BlockStatus::Created);
        assert_eq!(block.requested_write_roi, write);
    }

    #[test]
    fn equality_uses_the_id_only() {
        let a = Roi::from_values(&[0], &[4]).unwrap();
        let b = Roi::from_values(&[4], &[4]).unwrap();
        let mut x = Block::new("t".into(), 3, a, a);
        let y = Block::new("t".into(), 3, b, b);
        x.status = BlockStatus::Failed;
        assert_eq!(x, y);
        assert_ne!(x, Block::new("u".into(), 3, a, a));
        assert_ne!(x, Block::new("t".into(), 4, a, a));
    }

    #[test]
    fn status_values() {
        assert_eq!(BlockStatus::Success as u8, 2);
        assert_eq!(BlockStatus::from_value(3), Some(BlockStatus::Failed));
        assert_eq!(BlockStatus::from_value(4), None);
        assert_eq!(BlockStatus::Success.to_string(), "BlockStatus.SUCCESS");
    }
}
