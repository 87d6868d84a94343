//! Property tests: the core against a literal port of daisy 1.x (tests/reference), plus the
//! scheduler's safety invariants.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod reference;

use std::collections::HashSet;
use std::sync::Arc;

use daisy_core::{Block, BlockStatus, DependencyGraph, Fit, Scheduler, Task};
use daisy_geometry::Roi;
use proptest::prelude::*;
use reference::{RefScheduler, RefTask, related};

#[derive(Debug, Clone)]
struct TaskSpec {
    total_offset: Vec<i64>,
    total_shape: Vec<i64>,
    write: Vec<i64>,
    ul: Vec<i64>,
    lr: Vec<i64>,
    conflict: bool,
    fit: Fit,
    max_retries: u32,
    upstream: Vec<usize>,
}

impl TaskSpec {
    fn rois(&self) -> (Roi, Roi, Roi) {
        let read_shape: Vec<i64> = (0..self.write.len())
            .map(|d| self.ul[d] + self.write[d] + self.lr[d])
            .collect();
        (
            Roi::from_values(&self.total_offset, &self.total_shape).unwrap(),
            Roi::from_values(&vec![0; self.write.len()], &read_shape).unwrap(),
            Roi::from_values(&self.ul, &self.write).unwrap(),
        )
    }
}

fn task_spec(dims: usize, index: usize) -> impl Strategy<Value = TaskSpec> {
    let max_shape = [0, 30, 16, 10][dims];
    (
        prop::collection::vec(-3i64..=3, dims),
        prop::collection::vec(2i64..=max_shape, dims),
        prop::collection::vec(1i64..=3, dims),
        prop::collection::vec(0i64..=3, dims),
        prop::collection::vec(-3i64..=3, dims),
        any::<bool>(),
        prop_oneof![Just(Fit::Valid), Just(Fit::Overhang), Just(Fit::Shrink)],
        0u32..=2,
        prop::collection::vec(any::<bool>(), index),
    )
        .prop_map(
            |(total_offset, total_shape, write, ul, mut lr, conflict, fit, max_retries, links)| {
                for d in 0..lr.len() {
                    // With conflicts the read ROI contains the write ROI; without, it is any non-empty ROI
                    // not beginning after the write ROI.
                    lr[d] = if conflict {
                        lr[d].abs()
                    } else {
                        lr[d].max(1 - ul[d] - write[d])
                    };
                }
                let upstream = links
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| **l)
                    .map(|(i, _)| i)
                    .collect();
                TaskSpec {
                    total_offset,
                    total_shape,
                    write,
                    ul,
                    lr,
                    conflict,
                    fit,
                    max_retries,
                    upstream,
                }
            },
        )
}

fn specs() -> impl Strategy<Value = Vec<TaskSpec>> {
    (1usize..=3, 1usize..=3).prop_flat_map(|(dims, n)| {
        (0..n)
            .map(|i| task_spec(dims, i).boxed())
            .collect::<Vec<_>>()
    })
}

fn build(specs: &[TaskSpec]) -> (Vec<Arc<Task>>, Vec<RefTask>) {
    let mut tasks: Vec<Arc<Task>> = Vec::new();
    let mut refs = Vec::new();
    for (i, s) in specs.iter().enumerate() {
        let (total, read, write) = s.rois();
        let task = Task::builder(format!("t{i}"), total, read, write)
            .read_write_conflict(s.conflict)
            .fit(s.fit)
            .max_retries(s.max_retries)
            // daisy 1.x never gives up a task whose first attempts all failed.
            .max_failures_before_success(0)
            .upstream_tasks(s.upstream.iter().map(|&u| &tasks[u]))
            .build()
            .unwrap();
        tasks.push(task);
        refs.push(RefTask {
            read,
            write,
            total_read: total,
            conflict: s.conflict,
            fit: s.fit,
            max_retries: s.max_retries,
            upstream: s.upstream.clone(),
        });
    }
    (tasks, refs)
}

fn index_of(block: &Block) -> usize {
    block.task_id()[1..].parse().unwrap()
}

/// Two blocks out at once must not be one reading what the other writes (within a conflicting
/// task), nor a downstream block reading what an upstream block writes.
fn assert_no_conflicts(out: &[Block], reference: &RefScheduler) {
    for a in out {
        for b in out {
            if a == b {
                continue;
            }
            let (ta, tb) = (index_of(a), index_of(b));
            let graphs = &reference.deps.graphs;
            if ta == tb && graphs[ta].t.conflict {
                assert!(
                    !a.read_roi.intersects(&b.write_roi).unwrap(),
                    "{a} reads what {b} writes"
                );
            }
            if graphs[tb].t.upstream.contains(&ta) {
                let ua = reference.deps.by_id[&(ta, a.spatial_id())].clone();
                let db = reference.deps.by_id[&(tb, b.spatial_id())].clone();
                assert!(
                    !related(&graphs[ta], &ua, &db),
                    "{b} runs while its upstream block {a} is out"
                );
            }
        }
    }
}

fn compare_counts(s: &Scheduler, r: &RefScheduler, n: usize) {
    let live: u64 = (0..n)
        .map(|t| r.counts[t].ready + r.counts[t].processing)
        .sum();
    for t in 0..n {
        let mine = s.task_state(&format!("t{t}")).unwrap();
        let theirs = r.counts[t];
        let total = mine.total_block_count;
        assert_eq!(total as usize, r.deps.blocks[t].len(), "t{t} block count");
        assert_eq!(
            (
                mine.ready_count,
                mine.processing_count,
                mine.completed_count,
                mine.failed_count
            ),
            (
                theirs.ready,
                theirs.processing,
                theirs.completed,
                theirs.failed
            ),
            "t{t} counters"
        );
        // Once nothing is ready or out, blocks daisy 1.x leaves pending forever count as orphans.
        let ref_pending = total
            - theirs.ready
            - theirs.processing
            - theirs.completed
            - theirs.failed
            - theirs.orphaned;
        let stranded = if live == 0 { ref_pending } else { 0 };
        assert_eq!(
            mine.orphaned_count,
            theirs.orphaned + stranded,
            "t{t} orphans"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Levels, block ids, ROIs, and upstream/downstream lists (content and order) equal daisy 1.x's.
    #[test]
    fn graph_equals_reference(specs in specs()) {
        let (tasks, refs) = build(&specs);
        let reference = RefScheduler::new(refs);
        let graph = DependencyGraph::new(&tasks).unwrap();
        for (t, task) in tasks.iter().enumerate() {
            let tiling = graph.task_dependency_graph(task.task_id()).unwrap();
            let ref_graph = &reference.deps.graphs[t];
            prop_assert_eq!(tiling.num_blocks() as usize, reference.deps.blocks[t].len());
            if ref_graph.empty {
                continue;
            }
            prop_assert_eq!(tiling.num_levels() as usize, ref_graph.level_offsets.len());
            for level in 0..ref_graph.level_offsets.len() {
                let mine: Vec<(u64, Roi, Roi)> = tiling.level_blocks(level as u64).map(|b| (b.spatial_id(), b.read_roi, b.write_roi)).collect();
                let theirs: Vec<(u64, Roi, Roi)> = ref_graph.level_blocks(t, level).into_iter().map(|b| (b.id, b.read, b.write)).collect();
                prop_assert_eq!(mine, theirs, "level {}", level);
            }
            for level in 0..tiling.num_levels() {
                for block in tiling.level_blocks(level) {
                    let id = (t, block.spatial_id());
                    let up: Vec<(usize, u64)> = graph.upstream(&block).unwrap().iter().map(|b| (index_of(b), b.spatial_id())).collect();
                    let down: Vec<(usize, u64)> = graph.downstream(&block).unwrap().iter().map(|b| (index_of(b), b.spatial_id())).collect();
                    prop_assert_eq!(&up[..], reference.deps.upstream(id), "upstream of {}", block);
                    prop_assert_eq!(&down[..], reference.deps.downstream(id), "downstream of {}", block);
                }
            }
        }
    }

    /// Driven by the same random acquires and releases, the scheduler hands out the same blocks
    /// in the same order with the same counters as daisy 1.x's, never two conflicting blocks at
    /// once, and every block exactly once when nothing fails.
    #[test]
    fn scheduler_equals_reference(
        specs in specs(),
        ops in prop::collection::vec((any::<bool>(), any::<u16>(), 0u8..10), 0..250),
        fail_rate in 0u8..4,
        count_all in any::<bool>(),
    ) {
        let (tasks, refs) = build(&specs);
        let n = tasks.len();
        let mut reference = RefScheduler::new(refs);
        let mut s = Scheduler::new(&tasks, count_all).unwrap();
        let mut out: Vec<Block> = Vec::new();
        let mut handed_out = HashSet::new();
        let mut failures = 0;
        let mut step = |s: &mut Scheduler, reference: &mut RefScheduler, out: &mut Vec<Block>, acquire: bool, pick: usize, fail: bool| -> bool {
            if acquire || out.is_empty() {
                let t = pick % n;
                let mine = s.acquire_block(&format!("t{t}")).unwrap();
                let theirs = reference.acquire(t);
                assert_eq!(mine.as_ref().map(|b| (t, b.spatial_id())), theirs);
                let Some(block) = mine else { return false };
                if !handed_out.insert(block.block_id.clone()) {
                    assert!(failures > 0, "{block} handed out twice without a failure");
                }
                out.push(block);
                assert_no_conflicts(out, reference);
            } else {
                let mut block = out.swap_remove(pick % out.len());
                block.status = if fail { BlockStatus::Failed } else { BlockStatus::Success };
                if fail {
                    failures += 1;
                }
                s.release_block(&block).unwrap();
                reference.release((index_of(&block), block.spatial_id()), block.status);
            }
            true
        };
        for (acquire, pick, roll) in ops {
            step(&mut s, &mut reference, &mut out, acquire, pick as usize, roll < fail_rate);
            if count_all {
                compare_counts(&s, &reference, n);
            }
        }
        // Drain: release what is out, then run everything that becomes ready.
        loop {
            let progressed = if !out.is_empty() {
                step(&mut s, &mut reference, &mut out, false, 0, false)
            } else {
                (0..n).any(|t| step(&mut s, &mut reference, &mut out, true, t, false))
            };
            if !progressed {
                break;
            }
        }
        prop_assert!(s.all_done(), "not done: {:?}", s.task_states().collect::<Vec<_>>());
        if count_all {
            compare_counts(&s, &reference, n);
        } else {
            // Without the full orphan walk, the final counts are the same.
            for t in 0..n {
                let mine = s.task_state(&format!("t{t}")).unwrap();
                prop_assert_eq!(mine.completed_count + mine.failed_count + mine.orphaned_count, mine.total_block_count);
                prop_assert_eq!((mine.completed_count, mine.failed_count), (reference.counts[t].completed, reference.counts[t].failed));
            }
        }
        if failures == 0 {
            let total: u64 = s.task_states().map(|(_, st)| st.total_block_count).sum();
            prop_assert_eq!(handed_out.len() as u64, total);
        }
    }

    /// Workers asking in several lanes get every block exactly once when nothing fails, never
    /// two conflicting blocks at once, nothing while a block is ready in any lane, and the run
    /// ends with every block counted.
    #[test]
    fn lanes_keep_the_guarantees(
        specs in specs(),
        ops in prop::collection::vec((any::<bool>(), any::<u16>(), 0u8..10, 0u32..5), 0..250),
        fail_rate in 0u8..4,
    ) {
        let (tasks, refs) = build(&specs);
        let n = tasks.len();
        let reference = RefScheduler::new(refs);
        let mut s = Scheduler::new(&tasks, true).unwrap();
        let mut out: Vec<Block> = Vec::new();
        let mut handed_out = HashSet::new();
        let mut failures = 0;
        let mut step = |s: &mut Scheduler, out: &mut Vec<Block>, acquire: bool, pick: usize, fail: bool, lane: u32| -> bool {
            if acquire || out.is_empty() {
                let task_id = format!("t{}", pick % n);
                let ready = s.task_state(&task_id).unwrap().ready_count;
                let Some(block) = s.acquire_block_in(&task_id, lane).unwrap() else {
                    assert_eq!(ready, 0, "{task_id}: nothing for lane {lane} with blocks ready");
                    return false;
                };
                if !handed_out.insert(block.block_id.clone()) {
                    assert!(failures > 0, "{block} handed out twice without a failure");
                }
                out.push(block);
                assert_no_conflicts(out, &reference);
            } else {
                let mut block = out.swap_remove(pick % out.len());
                block.status = if fail { BlockStatus::Failed } else { BlockStatus::Success };
                if fail {
                    failures += 1;
                }
                s.release_block(&block).unwrap();
            }
            for t in 0..n {
                let task_id = format!("t{t}");
                assert_eq!(s.task_queue(&task_id).unwrap().num_ready(), s.task_state(&task_id).unwrap().ready_count);
            }
            true
        };
        for (acquire, pick, roll, lane) in ops {
            step(&mut s, &mut out, acquire, pick as usize, roll < fail_rate, lane);
        }
        let mut lane = 0;
        loop {
            lane = (lane + 1) % 3;
            let progressed = if !out.is_empty() {
                step(&mut s, &mut out, false, 0, false, lane)
            } else {
                (0..n).any(|t| step(&mut s, &mut out, true, t, false, lane))
            };
            if !progressed {
                break;
            }
        }
        prop_assert!(s.all_done(), "not done: {:?}", s.task_states().collect::<Vec<_>>());
        for (_, st) in s.task_states() {
            prop_assert_eq!(st.completed_count + st.failed_count + st.orphaned_count, st.total_block_count);
        }
        if failures == 0 {
            let total: u64 = s.task_states().map(|(_, st)| st.total_block_count).sum();
            prop_assert_eq!(handed_out.len() as u64, total);
        }
    }

    /// get_subgraph_blocks equals the brute-force definition of docs/semantics.md#tasks-that-depend-on-tasks.
    #[test]
    fn subgraph_blocks_brute_force(specs in specs(), offset in prop::collection::vec(-4i64..=14, 3), shape in prop::collection::vec(0i64..=6, 3)) {
        let (tasks, refs) = build(&specs[..1]);
        let reference = RefScheduler::new(refs);
        let tiling = tasks[0].tiling();
        let dims = tiling.dims();
        let sub = Roi::from_values(&offset[..dims], &shape[..dims]).unwrap();
        let g = &reference.deps.graphs[0];
        for read_roi in [false, true] {
            let mut mine: Vec<u64> = tiling.get_subgraph_blocks(&sub, read_roi).unwrap().iter().map(Block::spatial_id).collect();
            let mut theirs: Vec<u64> = reference.deps.blocks[0]
                .iter()
                .filter(|b| {
                    let roi = if read_roi { b.read } else { b.write.intersect(&g.total_write).unwrap() };
                    roi.intersects(&sub).unwrap()
                })
                .map(|b| b.id)
                .collect();
            mine.sort_unstable();
            theirs.sort_unstable();
            prop_assert_eq!(mine, theirs, "read_roi {}", read_roi);
        }
    }
}
