//! Blocks of several tasks and the dependencies among them (docs/semantics.md#tasks-that-depend-on-tasks).

use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::grid::{GridBox, Progression, Vector};
use crate::root_cursor::RootCursor;
use crate::{Block, BlockwiseDependencyGraph, CoreError, LevelBlocks, Task, TaskId};

/// The tasks of a run with their tilings and the upstream relation among them.
///
/// Within a task, block `b` waits for the blocks of the previous level it conflicts with
/// (docs/semantics.md#levels-and-conflicts). Across tasks, a block `d` of task `D` waits for every block `u` of each upstream task
/// `U` with `(u.write_roi ∩ U.total_write_roi) ∩ d.read_roi ≠ ∅`: [`DependencyGraph::upstream`]
/// and [`DependencyGraph::downstream`] are exact inverses of each other for any contexts and fit
/// modes (which daisy 1.x's were not, docs/semantics.md#tasks-that-depend-on-tasks).
#[derive(Debug, Clone)]
pub struct DependencyGraph {
    tasks: Vec<Arc<Task>>,
    graphs: Vec<BlockwiseDependencyGraph>,
    index: FxHashMap<TaskId, usize>,
    upstream_tasks: Vec<Vec<usize>>,
    downstream_tasks: Vec<Vec<usize>>,
}

impl DependencyGraph {
    /// Registers the tasks and, recursively, their upstream tasks (depth first, each task
    /// before its upstream tasks).
    ///
    /// # Errors
    ///
    /// [`CoreError::DuplicateTaskId`] if two different task objects share an id,
    /// [`CoreError::DimensionMismatch`] if a task and an upstream task differ in dimensions.
    pub fn new<'a>(tasks: impl IntoIterator<Item = &'a Arc<Task>>) -> Result<Self, CoreError> {
        let mut graph = Self {
            tasks: Vec::new(),
            graphs: Vec::new(),
            index: FxHashMap::default(),
            upstream_tasks: Vec::new(),
            downstream_tasks: Vec::new(),
        };
        for task in tasks {
            graph.register(task)?;
        }
        for (t, task) in graph.tasks.iter().enumerate() {
            for upstream in task.upstream_tasks() {
                let u = graph.index[upstream.task_id()];
                if graph.graphs[u].dims() != graph.graphs[t].dims() {
                    return Err(CoreError::DimensionMismatch {
                        task_id: task.task_id().to_string(),
                        what: "upstream task",
                        got: graph.graphs[u].dims(),
                        expected: graph.graphs[t].dims(),
                    });
                }
                if !graph.upstream_tasks[t].contains(&u) {
                    graph.upstream_tasks[t].push(u);
                    graph.downstream_tasks[u].push(t);
                }
            }
        }
        for list in graph
            .upstream_tasks
            .iter_mut()
            .chain(graph.downstream_tasks.iter_mut())
        {
            list.sort_unstable();
        }
        Ok(graph)
    }

    fn register(&mut self, task: &Arc<Task>) -> Result<(), CoreError> {
        // An explicit stack: upstream chains may be long.
        let mut stack = vec![Arc::clone(task)];
        while let Some(task) = stack.pop() {
            if let Some(&i) = self.index.get(task.task_id()) {
                if !Arc::ptr_eq(&self.tasks[i], &task) {
                    return Err(CoreError::DuplicateTaskId {
                        task_id: task.task_id().to_string(),
                    });
                }
                continue;
            }
            let graph = BlockwiseDependencyGraph::from(task.tiling().clone());
            self.index.insert(task.task_id().clone(), self.tasks.len());
            self.graphs.push(graph);
            self.upstream_tasks.push(Vec::new());
            self.downstream_tasks.push(Vec::new());
            stack.extend(task.upstream_tasks().iter().rev().cloned());
            self.tasks.push(task);
        }
        Ok(())
    }

    /// The task ids in registration order.
    pub fn task_ids(&self) -> impl Iterator<Item = &TaskId> {
        self.tasks.iter().map(|t| t.task_id())
    }
    /// The tasks in registration order.
    #[must_use]
    pub fn tasks(&self) -> &[Arc<Task>] {
        &self.tasks
    }
    /// A task by id.
    #[must_use]
    pub fn task(&self, task_id: &str) -> Option<&Arc<Task>> {
        self.index.get(task_id).map(|&i| &self.tasks[i])
    }
    /// The tiling of a task by id.
    #[must_use]
    pub fn task_dependency_graph(&self, task_id: &str) -> Option<&BlockwiseDependencyGraph> {
        self.index.get(task_id).map(|&i| &self.graphs[i])
    }
    /// The ids of the tasks a task reads from, in registration order.
    ///
    /// # Errors
    ///
    /// [`CoreError::UnknownTask`] for a task id the graph does not know (not "no upstream
    /// tasks").
    pub fn upstream_tasks(
        &self,
        task_id: &str,
    ) -> Result<impl Iterator<Item = &TaskId>, CoreError> {
        self.related(task_id, &self.upstream_tasks)
    }
    /// The ids of the tasks that read from a task, in registration order.
    ///
    /// # Errors
    ///
    /// [`CoreError::UnknownTask`] for a task id the graph does not know.
    pub fn downstream_tasks(
        &self,
        task_id: &str,
    ) -> Result<impl Iterator<Item = &TaskId>, CoreError> {
        self.related(task_id, &self.downstream_tasks)
    }
    fn related<'a>(
        &'a self,
        task_id: &str,
        lists: &'a [Vec<usize>],
    ) -> Result<impl Iterator<Item = &'a TaskId>, CoreError> {
        let &i = self
            .index
            .get(task_id)
            .ok_or_else(|| CoreError::UnknownTask {
                task_id: task_id.to_owned(),
            })?;
        Ok(lists[i].iter().map(|&i| self.tasks[i].task_id()))
    }
    /// The ids of the tasks without upstream tasks, in registration order.
    pub fn root_tasks(&self) -> impl Iterator<Item = &TaskId> {
        (0..self.tasks.len())
            .filter(|&i| self.upstream_tasks[i].is_empty())
            .map(|i| self.tasks[i].task_id())
    }
    /// The number of blocks of a task.
    #[must_use]
    pub fn num_blocks(&self, task_id: &str) -> Option<u64> {
        self.task_dependency_graph(task_id)
            .map(|graph| graph.num_blocks())
    }
    /// The number of level-0 blocks of a task.
    #[must_use]
    pub fn num_roots(&self, task_id: &str) -> Option<u64> {
        self.task_dependency_graph(task_id)
            .map(|graph| graph.num_roots())
    }
    /// The level-0 blocks of a task, lazily.
    #[must_use]
    pub fn root_gen(&self, task_id: &str) -> Option<LevelBlocks<'_>> {
        self.task_dependency_graph(task_id)
            .map(|graph| graph.root_gen())
    }

    /// Every block that must succeed before `block` may run, sorted by spatial id (the block's own
    /// task first among equal ids, then registration order).
    ///
    /// # Errors
    ///
    /// [`CoreError::UnknownTask`] or [`CoreError::NotOnGrid`] for a block that is not part of the graph.
    pub fn upstream(&self, block: &Block) -> Result<Vec<Block>, CoreError> {
        let (t, g) = self.locate(block)?;
        let mut out = Vec::new();
        self.for_each_upstream(t, &g, |u, g| out.push((u, self.graphs[u].block_at(g))));
        Ok(self.sorted(t, out))
    }

    /// Every block that waits for `block`, in the order of [`DependencyGraph::upstream`].
    ///
    /// # Errors
    ///
    /// [`CoreError::UnknownTask`] or [`CoreError::NotOnGrid`] for a block that is not part of the graph.
    pub fn downstream(&self, block: &Block) -> Result<Vec<Block>, CoreError> {
        let (t, g) = self.locate(block)?;
        let mut out = Vec::new();
        self.for_each_downstream(t, &g, |d, g| out.push((d, self.graphs[d].block_at(g))));
        Ok(self.sorted(t, out))
    }

    fn sorted(&self, own: usize, mut blocks: Vec<(usize, Block)>) -> Vec<Block> {
        blocks.sort_by_key(|(t, b)| (b.spatial_id(), self.tie_break(own, *t)));
        blocks.into_iter().map(|(_, b)| b).collect()
    }

    // ---- crate-internal interface for the scheduler ----

    /// The index of a task, if registered.
    #[inline]
    pub(crate) fn index_of(&self, task_id: &str) -> Option<usize> {
        // A few tasks: comparing beats hashing (and the id is usually the task's own `Arc`).
        if self.tasks.len() <= 8 {
            return self.tasks.iter().position(|t| {
                let id: &str = t.task_id();
                std::ptr::eq(id, task_id) || id == task_id
            });
        }
        self.index.get(task_id).copied()
    }
    /// The tiling of task `t`.
    pub(crate) fn graph(&self, t: usize) -> &BlockwiseDependencyGraph {
        &self.graphs[t]
    }
    /// Whether task `t` has no upstream tasks.
    pub(crate) fn is_root_task(&self, t: usize) -> bool {
        self.upstream_tasks[t].is_empty()
    }

    /// The blocks of task `t` that wait for no other block, lazily (see [`RootCursor`]).
    pub(crate) fn roots(&self, t: usize) -> RootCursor {
        let graph = &self.graphs[t];
        let level0 = graph.level_box(0);
        let mut holes = Vec::new();
        for &u in &self.upstream_tasks[t] {
            // Per dimension, the grid indices whose read ROI overlaps some block of `u`: a range,
            // since both ends of the read ROI grow with the index.
            let mut hole = GridBox::new(graph.dims());
            for d in 0..graph.dims() {
                let overlapping = |g: &i64| {
                    let (lo, hi) = graph.fitted_read_axis(d, *g);
                    self.graphs[u].write_overlap_axis(d, lo, hi).count > 0
                };
                let n = graph.grid()[d];
                let first = (0..n).find(overlapping).unwrap_or(n);
                let end = (first..n).rev().find(overlapping).map_or(first, |g| g + 1);
                hole.axes[d] = Progression::range(first, end);
            }
            if hole.len() > 0 {
                holes.push(hole);
            }
        }
        RootCursor::new(level0, holes)
    }
    /// Whether any block of task `t` can have a downstream block.
    pub(crate) fn has_downstream(&self, t: usize) -> bool {
        (self.graphs[t].read_write_conflict() && self.graphs[t].num_levels() > 1)
            || !self.downstream_tasks[t].is_empty()
    }

    /// Among blocks with equal spatial ids: the block's own task first, then registration order.
    pub(crate) fn tie_break(&self, own: usize, t: usize) -> usize {
        if t == own { 0 } else { t + 1 }
    }

    /// Task index and grid position of a block.
    pub(crate) fn locate(&self, block: &Block) -> Result<(usize, Vector), CoreError> {
        let t = self
            .index_of(block.task_id())
            .ok_or_else(|| CoreError::UnknownTask {
                task_id: block.task_id().to_owned(),
            })?;
        Ok((t, self.graphs[t].position_of(block)?))
    }

    /// Calls `f(task, position)` for every block that block `g` of task `t` waits for.
    pub(crate) fn for_each_upstream(&self, t: usize, g: &Vector, f: impl FnMut(usize, &Vector)) {
        self.for_each_related::<false>(t, g, f);
    }

    /// Calls `f(task, position)` for every block that waits for block `g` of task `t`.
    #[inline]
    pub(crate) fn for_each_downstream(&self, t: usize, g: &Vector, f: impl FnMut(usize, &Vector)) {
        self.for_each_related::<true>(t, g, f);
    }

    /// Calls `f(task, position)` for every block related to block `g` of task `t`: the blocks
    /// that wait for it (`DOWN`) or that it waits for. Within the task, the conflicting blocks
    /// of the next or previous level; across tasks, the blocks of the downstream tasks whose
    /// read ROIs overlap its (clipped) write ROI, or the blocks of the upstream tasks whose
    /// write ROIs overlap its (fitted) read ROI: one relation, read in either direction.
    #[inline]
    fn for_each_related<const DOWN: bool>(
        &self,
        t: usize,
        g: &Vector,
        mut f: impl FnMut(usize, &Vector),
    ) {
        let graph = &self.graphs[t];
        let mut b = GridBox::new(graph.dims());
        if DOWN {
            graph.intra_downstream(g, &mut b);
        } else {
            graph.intra_upstream(g, &mut b);
        }
        b.for_each(|p| f(t, p));
        let others = if DOWN {
            &self.downstream_tasks[t]
        } else {
            &self.upstream_tasks[t]
        };
        if others.is_empty() {
            return;
        }
        let (lo, hi) = if DOWN {
            graph.clipped_write(g)
        } else {
            graph.fitted_read(g)
        };
        for &o in others {
            if DOWN {
                self.graphs[o].read_overlap(&lo, &hi, &mut b);
            } else {
                self.graphs[o].write_overlap(&lo, &hi, &mut b);
            }
            b.for_each(|p| f(o, p));
        }
    }

    /// The number of blocks that block `g` of task `t` waits for.
    #[inline]
    pub(crate) fn upstream_count(&self, t: usize, g: &Vector) -> u128 {
        let graph = &self.graphs[t];
        let mut count = graph.intra_upstream_count(g);
        if !self.upstream_tasks[t].is_empty() {
            let (lo, hi) = graph.fitted_read(g);
            let mut b = GridBox::new(graph.dims());
            for &u in &self.upstream_tasks[t] {
                self.graphs[u].write_overlap(&lo, &hi, &mut b);
                count += b.len();
            }
        }
        count
    }
}

/// Links tasks given with their upstream tasks by position: `upstream[i]` lists the positions
/// (in `tasks`) of the tasks that task `i` reads from. Returns the tasks, in the given order,
/// with those upstream tasks (any upstream tasks they had are replaced).
///
/// This is how tasks whose upstream relation was made elsewhere (daisy's Python tasks, which
/// may list each other in any way) become a task graph: linking checks that the relation is
/// one. The linked tasks form a valid [`DependencyGraph`].
///
/// # Errors
///
/// The errors of [`upstream_first`] (unknown positions, cycles) and of [`DependencyGraph::new`]
/// over the linked tasks ([`CoreError::DuplicateTaskId`] for two tasks with one id,
/// [`CoreError::DimensionMismatch`] for a task and an upstream task that differ in dimensions).
pub fn link_tasks(
    tasks: &[Arc<Task>],
    upstream: &[Vec<usize>],
) -> Result<Vec<Arc<Task>>, CoreError> {
    let mut linked: Vec<Option<Arc<Task>>> = vec![None; tasks.len()];
    for i in upstream_first(tasks, upstream)? {
        let ups = upstream
            .get(i)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .filter_map(|&u| linked[u].clone())
            .collect();
        linked[i] = Some(tasks[i].with_upstream_tasks(ups));
    }
    let linked: Vec<Arc<Task>> = linked.into_iter().flatten().collect();
    DependencyGraph::new(&linked)?;
    Ok(linked)
}

/// An order of the positions of `tasks` in which every task comes after the tasks it reads
/// from (`upstream[i]`: the positions of the upstream tasks of task `i`; missing entries mean
/// none). Depth first, in the given order.
///
/// # Errors
///
/// [`CoreError::UnknownUpstream`] for a position that is not one of `tasks`, and
/// [`CoreError::TaskCycle`] naming the tasks of a cycle in order if the upstream relation has
/// one (each task is followed by one of its upstream tasks).
pub fn upstream_first(
    tasks: &[Arc<Task>],
    upstream: &[Vec<usize>],
) -> Result<Vec<usize>, CoreError> {
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    let ups = |i: usize| upstream.get(i).map_or(&[][..], Vec::as_slice);
    for (i, list) in upstream.iter().enumerate().take(tasks.len()) {
        if let Some(&index) = list.iter().find(|&&u| u >= tasks.len()) {
            return Err(CoreError::UnknownUpstream {
                task_id: tasks[i].task_id().to_string(),
                index,
                len: tasks.len(),
            });
        }
    }
    let mut marks = vec![Mark::New; tasks.len()];
    let mut order = Vec::with_capacity(tasks.len());
    // An explicit stack of (task, next upstream to visit): upstream chains may be long.
    let mut path: Vec<(usize, usize)> = Vec::new();
    for start in 0..tasks.len() {
        if marks[start] != Mark::New {
            continue;
        }
        marks[start] = Mark::OnPath;
        path.push((start, 0));
        while let Some(&mut (task, ref mut next)) = path.last_mut() {
            let Some(&u) = ups(task).get(*next) else {
                marks[task] = Mark::Done;
                order.push(task);
                path.pop();
                continue;
            };
            *next += 1;
            match marks[u] {
                Mark::Done => {}
                Mark::New => {
                    marks[u] = Mark::OnPath;
                    path.push((u, 0));
                }
                Mark::OnPath => {
                    let first = path.iter().position(|&(t, _)| t == u).unwrap_or(0);
                    let cycle = path[first..]
                        .iter()
                        .map(|&(t, _)| t)
                        .chain([u])
                        .map(|t| tasks[t].task_id().to_string())
                        .collect();
                    return Err(CoreError::TaskCycle { cycle });
                }
            }
        }
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use daisy_geometry::Roi;

    use super::*;

    fn task(id: &str, dims: usize) -> Arc<Task> {
        let roi = |offset: i64, shape: i64| {
            Roi::from_values(&vec![offset; dims], &vec![shape; dims]).unwrap()
        };
        Task::builder(id, roi(0, 10), roi(0, 2), roi(0, 2))
            .build()
            .unwrap()
    }

    #[test]
    fn linking_gives_each_task_its_upstream_tasks() {
        let tasks = [task("a", 1), task("b", 1), task("c", 1)];
        // a reads from b and c, b from c.
        let linked = link_tasks(&tasks, &[vec![1, 2], vec![2], vec![]]).unwrap();
        let ids = |t: &Arc<Task>| {
            t.upstream_tasks()
                .iter()
                .map(|u| u.task_id().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&linked[0]), ["b", "c"]);
        assert_eq!(ids(&linked[1]), ["c"]);
        assert!(ids(&linked[2]).is_empty());
        // The upstream task of `a` is the linked `b`, which has its own upstream task.
        assert_eq!(ids(&linked[0].upstream_tasks()[0]), ["c"]);
        assert_eq!(
            upstream_first(&tasks, &[vec![1, 2], vec![2]]).unwrap(),
            [2, 1, 0]
        );
        let graph = DependencyGraph::new(&linked[..1]).unwrap();
        assert_eq!(
            graph.task_ids().map(|t| t.to_string()).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
    }

    #[test]
    fn cycles_are_named_in_order() {
        let tasks = [task("a", 1), task("b", 1), task("c", 1)];
        let err = link_tasks(&tasks, &[vec![1], vec![2], vec![1]]).unwrap_err();
        assert_eq!(
            err,
            CoreError::TaskCycle {
                cycle: vec!["b".into(), "c".into(), "b".into()]
            }
        );
        assert_eq!(
            err.to_string(),
            "the tasks form a cycle: 'b' -> 'c' -> 'b' (each task lists the next as an upstream task)"
        );
        let err = link_tasks(&tasks, &[vec![0]]).unwrap_err();
        assert_eq!(
            err.to_string().split(" (").next(),
            Some("the tasks form a cycle: 'a' -> 'a'")
        );
    }

    #[test]
    fn bad_relations_are_errors() {
        let tasks = [task("a", 1), task("a", 1)];
        let err = link_tasks(&tasks, &[vec![1]]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "two different tasks share the task id 'a'; task ids must be unique"
        );
        let err = link_tasks(&tasks, &[vec![2]]).unwrap_err();
        assert!(
            matches!(
                err,
                CoreError::UnknownUpstream {
                    index: 2,
                    len: 2,
                    ..
                }
            ),
            "{err}"
        );
        let err = link_tasks(&[task("a", 1), task("b", 2)], &[vec![1]]).unwrap_err();
        assert!(
            matches!(
                err,
                CoreError::DimensionMismatch {
                    what: "upstream task",
                    ..
                }
            ),
            "{err}"
        );
        // The same task twice (one object) is no duplicate.
        let a = task("a", 1);
        assert!(DependencyGraph::new([&a, &a]).is_ok());
    }
}
