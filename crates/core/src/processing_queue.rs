//! The blocks of one task that are ready or out (docs/semantics.md#scheduling).

use std::collections::VecDeque;

use rustc_hash::FxHashMap;

use crate::BlockwiseDependencyGraph;
use crate::grid::Vector;
use crate::root_cursor::RootCursor;

/// The most lanes a queue keeps: lane numbers beyond it share lanes (modulo).
const MAX_LANES: usize = 1024;

/// The ready blocks of one lane: its share of the roots and the blocks its own releases made
/// ready.
#[derive(Debug, Clone, Default)]
struct Lane {
    roots: Option<RootCursor>,
    ready: VecDeque<u64>,
}

impl Lane {
    fn ready_roots(&self) -> u128 {
        self.roots.as_ref().map_or(0, RootCursor::remaining)
    }

    /// The lane's next block: its roots first, then its FIFO.
    #[inline]
    fn next(&mut self, graph: &BlockwiseDependencyGraph) -> Option<Vector> {
        if let Some(cursor) = &mut self.roots {
            if let Some(g) = cursor.next_position() {
                return Some(g);
            }
            self.roots = None;
        }
        self.ready.pop_front().map(|key| graph.position(key))
    }
}

/// Ready and processing blocks of one task.
///
/// Roots (blocks that wait for nothing: the level-0 blocks of a task without upstream tasks)
/// come lazily from a cursor and are handed out first; other ready blocks wait in a FIFO as 8-byte keys. Nothing here grows with
/// the volume: only with the ready frontier and the blocks in flight.
///
/// The ready blocks are kept in *lanes*, one per worker that asks with a lane number (the
/// server gives each worker connection one), so that a worker's consecutive blocks are
/// neighbours: a lane takes its own share of the roots (the back half of the largest share
/// left, taken the first time it runs dry), and a block that a lane's release makes ready
/// (or a retry) is queued in that lane. A lane with nothing left takes from the others: half
/// of the largest share of roots, else the oldest block of the longest FIFO. With one lane
/// (lane 0, what [`crate::Scheduler::acquire_block`] uses) the order is exactly daisy's.
#[derive(Debug, Clone)]
pub struct ProcessingQueue {
    /// Never empty: lane 0 starts with all the roots.
    lanes: Vec<Lane>,
    /// Spatial id → key of the blocks out.
    processing_blocks: FxHashMap<u64, u64>,
    /// Spatial id → lane of the blocks out in lanes other than 0 (lane 0 alone, daisy's
    /// order, pays nothing for lanes).
    processing_lanes: FxHashMap<u64, u32>,
    /// Key → failed attempts so far, for blocks that failed at least once.
    block_retries: FxHashMap<u64, u32>,
}

impl ProcessingQueue {
    /// A queue seeded with a task's roots.
    pub(crate) fn new(roots: RootCursor) -> Self {
        Self {
            lanes: vec![Lane {
                roots: Some(roots),
                ready: VecDeque::new(),
            }],
            processing_blocks: FxHashMap::default(),
            processing_lanes: FxHashMap::default(),
            block_retries: FxHashMap::default(),
        }
    }

    /// Roots not yet handed out.
    #[must_use]
    pub fn ready_roots(&self) -> u64 {
        self.lanes.iter().map(|l| l.ready_roots() as u64).sum()
    }

    /// All blocks ready to be handed out.
    #[must_use]
    pub fn num_ready(&self) -> u64 {
        self.ready_roots() + self.lanes.iter().map(|l| l.ready.len() as u64).sum::<u64>()
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

    /// The number of lanes used so far (at least 1).
    #[must_use]
    pub fn num_lanes(&self) -> usize {
        self.lanes.len()
    }

    /// How often a block (by key) has failed so far.
    pub(crate) fn retries(&self, key: u64) -> u32 {
        self.block_retries.get(&key).copied().unwrap_or(0)
    }

    /// The index of `lane`, its entry made if it is new.
    #[inline]
    fn lane_index(&mut self, lane: u32) -> usize {
        let i = lane as usize % MAX_LANES;
        if i >= self.lanes.len() {
            self.lanes.resize_with(i + 1, Lane::default);
        }
        i
    }

    /// The next ready block for `lane`: its own roots, then its own FIFO, then what it takes
    /// from the other lanes.
    #[inline]
    pub(crate) fn get_next(
        &mut self,
        graph: &BlockwiseDependencyGraph,
        lane: u32,
    ) -> Option<Vector> {
        let i = self.lane_index(lane);
        if let Some(g) = self.lanes[i].next(graph) {
            return Some(g);
        }
        if self.lanes.len() == 1 {
            return None;
        }
        self.take_from_others(graph, i)
    }

    /// Lane `i` ran dry: half of the largest share of roots left (or its one block, if it does
    /// not split), else the oldest block of the longest FIFO. One pass over the lanes.
    fn take_from_others(&mut self, graph: &BlockwiseDependencyGraph, i: usize) -> Option<Vector> {
        let (mut roots_at, mut most_roots) = (None, 0);
        let (mut ready_at, mut most_ready) = (None, 0);
        for (j, lane) in self.lanes.iter().enumerate() {
            if lane.ready_roots() > most_roots {
                (roots_at, most_roots) = (Some(j), lane.ready_roots());
            }
            if lane.ready.len() > most_ready {
                (ready_at, most_ready) = (Some(j), lane.ready.len());
            }
        }
        if let Some(j) = roots_at {
            let share = self.lanes[j].roots.as_mut().and_then(RootCursor::split_off);
            if let Some(mut share) = share {
                let g = share.next_position();
                self.lanes[i].roots = Some(share);
                return g;
            }
            return self.lanes[j].next(graph);
        }
        let j = ready_at?;
        self.lanes[j]
            .ready
            .pop_front()
            .map(|key| graph.position(key))
    }

    /// Appends a ready block (by key) to the FIFO of `lane`.
    #[inline]
    pub(crate) fn push_ready(&mut self, key: u64, lane: u32) {
        let i = self.lane_index(lane);
        self.lanes[i].ready.push_back(key);
    }

    /// Records a block as out, in `lane`.
    #[inline]
    pub(crate) fn start(&mut self, spatial_id: u64, key: u64, lane: u32) {
        self.processing_blocks.insert(spatial_id, key);
        if lane != 0 {
            self.processing_lanes.insert(spatial_id, lane);
        }
    }

    /// The key of a block that is out, if it is.
    #[inline]
    pub(crate) fn processing_key(&self, spatial_id: u64) -> Option<u64> {
        self.processing_blocks.get(&spatial_id).copied()
    }

    /// Records a block as no longer out; its key and lane, if it was out.
    #[inline]
    pub(crate) fn finish(&mut self, spatial_id: u64) -> Option<(u64, u32)> {
        let key = self.processing_blocks.remove(&spatial_id)?;
        let lane = if self.processing_lanes.is_empty() {
            0
        } else {
            self.processing_lanes.remove(&spatial_id).unwrap_or(0)
        };
        Some((key, lane))
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
        for lane in &mut self.lanes {
            lane.roots = None;
            lane.ready.clear();
        }
        n
    }
}
