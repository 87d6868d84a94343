//! The frontier between finished and waiting blocks (docs/semantics.md#scheduling).

use std::collections::hash_map::Entry;

use rustc_hash::FxHashMap;

use crate::DependencyGraph;
use crate::grid::Vector;

/// A block that some but not all of its upstream blocks have finished for.
#[derive(Debug, Clone, Copy)]
struct Waiting {
    /// Upstream blocks not yet finished (succeeded, failed for good or orphaned).
    remaining: u64,
    /// Whether an upstream block failed or was orphaned: the block will never run.
    orphaned: bool,
}

/// What counting one finished upstream block of a waiting block found.
#[derive(Debug, Clone, Copy)]
struct Counted {
    /// Whether the block was orphaned before this upstream block finished.
    was_orphaned: bool,
    /// Whether this was the last of its upstream blocks (the block is no longer held).
    last: bool,
}

/// Counts one finished upstream block of block `key` (`failed`: it failed for good or was
/// orphaned, which orphans the block); `upstream_count` is asked only the first time.
#[inline]
fn upstream_finished(
    waiting: &mut FxHashMap<u64, Waiting>,
    key: u64,
    failed: bool,
    upstream_count: impl FnOnce() -> u64,
) -> Counted {
    match waiting.entry(key) {
        Entry::Occupied(mut e) => {
            let w = e.get_mut();
            w.remaining -= 1;
            let was_orphaned = w.orphaned;
            w.orphaned |= failed;
            let last = w.remaining == 0;
            if last {
                e.remove();
            }
            Counted { was_orphaned, last }
        }
        Entry::Vacant(e) => {
            let n = upstream_count();
            if n > 1 {
                e.insert(Waiting {
                    remaining: n - 1,
                    orphaned: failed,
                });
            }
            Counted {
                was_orphaned: false,
                last: n <= 1,
            }
        }
    }
}

/// A block that became ready: its task, key and spatial id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ready {
    pub task: usize,
    pub key: u64,
    pub spatial_id: u64,
}

/// Tracks which waiting blocks are ready, and which can never run.
///
/// daisy keeps the succeeded blocks that still have unfinished downstream blocks (the
/// *surface*) and the failed ones that still matter (the *boundary*), and asks for every
/// downstream block whether all its upstream blocks are in the surface. This keeps, per task,
/// only the blocks that are partly unblocked: block key → how many upstream blocks are still
/// unfinished, and whether one of them failed. A block is ready when the last of its upstream
/// blocks succeeds, so the ready blocks, their order and the orphan counts are exactly daisy's,
/// at 24 bytes per partly unblocked block and nothing for the rest.
#[derive(Debug, Clone, Default)]
pub struct ReadySurface {
    waiting: Vec<FxHashMap<u64, Waiting>>,
    stack: Vec<(usize, Vector)>,
}

impl ReadySurface {
    /// An empty surface for `num_tasks` tasks.
    pub(crate) fn new(num_tasks: usize) -> Self {
        Self {
            waiting: vec![FxHashMap::default(); num_tasks],
            stack: Vec::new(),
        }
    }

    /// The number of partly unblocked blocks held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.waiting.iter().map(FxHashMap::len).sum()
    }

    /// Whether no block is partly unblocked.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.waiting.iter().all(FxHashMap::is_empty)
    }

    /// Block `g` of task `t` succeeded: appends the blocks that became ready to `ready`, sorted as
    /// daisy's downstream lists are (by spatial id; the block's own task first among equal ids).
    #[inline]
    pub(crate) fn mark_success(
        &mut self,
        graph: &DependencyGraph,
        t: usize,
        g: &Vector,
        ready: &mut Vec<Ready>,
    ) {
        let start = ready.len();
        let waiting = &mut self.waiting;
        graph.for_each_downstream(t, g, |d, p| {
            let key = graph.graph(d).key(p);
            let counted = upstream_finished(&mut waiting[d], key, false, || {
                graph.upstream_count(d, p) as u64
            });
            if counted.last && !counted.was_orphaned {
                ready.push(Ready {
                    task: d,
                    key,
                    spatial_id: graph.graph(d).spatial_id(p),
                });
            }
        });
        if ready.len() - start > 1 {
            ready[start..].sort_by_key(|r| (r.spatial_id, graph.tie_break(t, r.task)));
        }
    }

    /// Block `g` of task `t` failed for good: counts the blocks that can no longer run into
    /// `orphans` (indexed by task), each exactly once.
    ///
    /// With `count_all` the whole downstream closure is walked; without, only the direct
    /// downstream blocks are marked, and the rest stay pending until the scheduler reclassifies
    /// them when nothing is left to run.
    pub(crate) fn mark_failure(
        &mut self,
        graph: &DependencyGraph,
        t: usize,
        g: &Vector,
        count_all: bool,
        orphans: &mut [u64],
    ) {
        self.stack.clear();
        self.stack.push((t, *g));
        let Self { waiting, stack } = self;
        while let Some((t, g)) = stack.pop() {
            graph.for_each_downstream(t, &g, |d, p| {
                let key = graph.graph(d).key(p);
                let counted = upstream_finished(&mut waiting[d], key, true, || {
                    graph.upstream_count(d, p) as u64
                });
                if !counted.was_orphaned {
                    orphans[d] += 1;
                    if count_all {
                        stack.push((d, *p));
                    }
                }
            });
        }
    }

    /// Forgets every waiting block of task `t` (the task was abandoned).
    pub(crate) fn clear_task(&mut self, t: usize) {
        self.waiting[t].clear();
    }
}
