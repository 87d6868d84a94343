//! The blocks of one task that are ready or out (docs/semantics.md#scheduling).

use std::collections::VecDeque;

use rustc_hash::FxHashMap;

use crate::BlockwiseDependencyGraph;
use crate::grid::Vector;
use crate::root_cursor::RootCursor;

/// Ready and processing blocks of one task.
///
/// Roots (blocks that wait for nothing: the level-0 blocks of a task without upstream tasks)
/// come lazily from a cursor and are handed out first; other ready blocks wait in a FIFO as 8-byte keys. Nothing here grows with
/// the volume: only with the ready frontier and the blocks in flight.
#[derive(Debug, Clone)]
pub struct ProcessingQueue {
    root_generator: Option<RootCursor>,
    ready_queue: VecDeque<u64>,
    /// Spatial id → key of the blocks out.
    processing_blocks: FxHashMap<u64, u64>,
    /// Key → failed attempts so far, for blocks that failed at least once.
    block_retries: FxHashMap<u64, u32>,
}

impl ProcessingQueue {
    /// A queue seeded with a task's roots.
    pub(crate) fn new(roots: RootCursor) -> Self {
        Self {
            root_generator: Some(roots),
            ready_queue: VecDeque::new(),
            processing_blocks: FxHashMap::default(),
            block_retries: FxHashMap::default(),
        }
    }

    /// Roots not yet handed out.
    #[must_use]
    pub fn ready_roots(&self) -> u64 {
        self.root_generator
            .as_ref()
            .map_or(0, |c| c.remaining() as u64)
    }

    /// All blocks ready to be handed out.
    #[must_use]
    pub fn num_ready(&self) -> u64 {
        self.ready_roots() + self.ready_queue.len() as u64
    }

    /// The number of blocks out.
    #[must_use]
    pub fn num_processing(&self) -> usize {
        self.processing_blocks.len()
    }

    /// The spatial ids of the blocks out, in no particular order.
    pub fn processing_blocks(&self) -> impl Iterator<Item = u64> + '_ {
        self.processing_blocks.keys().copied()
    }

    /// How often a block (by key) has failed so far.
    pub(crate) fn retries(&self, key: u64) -> u32 {
        self.block_retries.get(&key).copied().unwrap_or(0)
    }

    /// The next ready block: roots first, then the FIFO.
    #[inline]
    pub(crate) fn get_next(&mut self, graph: &BlockwiseDependencyGraph) -> Option<Vector> {
        if let Some(cursor) = &mut self.root_generator {
            if let Some(g) = cursor.next_position() {
                return Some(g);
            }
            self.root_generator = None;
        }
        self.ready_queue.pop_front().map(|key| graph.position(key))
    }

    /// Appends a ready block (by key) to the FIFO.
    #[inline]
    pub(crate) fn push_ready(&mut self, key: u64) {
        self.ready_queue.push_back(key);
    }

    /// Records a block as out.
    #[inline]
    pub(crate) fn start(&mut self, spatial_id: u64, key: u64) {
        self.processing_blocks.insert(spatial_id, key);
    }

    /// The key of a block that is out, if it is.
    #[inline]
    pub(crate) fn processing_key(&self, spatial_id: u64) -> Option<u64> {
        self.processing_blocks.get(&spatial_id).copied()
    }

    /// Records a block as no longer out; its key, if it was out.
    #[inline]
    pub(crate) fn finish(&mut self, spatial_id: u64) -> Option<u64> {
        self.processing_blocks.remove(&spatial_id)
    }

    /// Counts a failed attempt.
    pub(crate) fn count_retry(&mut self, key: u64) {
        *self.block_retries.entry(key).or_insert(0) += 1;
    }

    /// Forgets the retry count of a block that is finished for good.
    #[inline]
    pub(crate) fn forget_retries(&mut self, key: u64) {
        if !self.block_retries.is_empty() {
            self.block_retries.remove(&key);
        }
    }

    /// Empties the queue (the task was abandoned); returns how many ready blocks were dropped.
    pub(crate) fn drain_ready(&mut self) -> u64 {
        let n = self.num_ready();
        self.root_generator = None;
        self.ready_queue.clear();
        n
    }
}
