//! Every worked example of docs/semantics.md#blocks-and-block-ids, #scheduling that the core covers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use daisy_core::{
    Block, BlockId, BlockStatus, BlockwiseDependencyGraph, CoreError, DependencyGraph, Fit,
    Scheduler, Task,
};
use daisy_geometry::Roi;

mod common;
use common::{example_1d, example_2d, roi};

fn ids(blocks: &[Block]) -> Vec<u64> {
    blocks.iter().map(Block::spatial_id).collect()
}

/// The block ids (`task/spatial id`) of `blocks`.
fn block_ids(blocks: &[Block]) -> Vec<String> {
    blocks.iter().map(|b| b.block_id.to_string()).collect()
}

/// Task ids as strings.
fn names<T: ToString>(task_ids: impl Iterator<Item = T>) -> Vec<String> {
    task_ids.map(|t| t.to_string()).collect()
}

fn graph(total: Roi, read: Roi, write: Roi, conflict: bool, fit: Fit) -> BlockwiseDependencyGraph {
    BlockwiseDependencyGraph::builder("t", read, write)
        .read_write_conflict(conflict)
        .fit(fit)
        .total_read_roi(total)
        .build()
        .unwrap()
}

fn task(id: &str, total: Roi, read: Roi, write: Roi) -> daisy_core::TaskBuilder {
    Task::builder(id, total, read, write)
}

/// Acquires everything ready, then releases it all with `status`; returns the acquired ids.
fn drain_level(s: &mut Scheduler, task_id: &str, status: BlockStatus) -> Vec<u64> {
    let mut blocks = Vec::new();
    while let Some(b) = s.acquire_block(task_id).unwrap() {
        blocks.push(b);
    }
    release_all(s, &mut blocks, status);
    ids(&blocks)
}

/// Releases `blocks` with `status`, in order.
fn release_all(s: &mut Scheduler, blocks: &mut [Block], status: BlockStatus) {
    for b in blocks {
        b.status = status;
        s.release_block(b).unwrap();
    }
}

/// Runs the scheduler to the end one block at a time, always from the first ready task, every
/// block succeeding; returns the blocks in the order they were handed out.
fn run_in_ready_order(s: &mut Scheduler) -> Vec<BlockId> {
    let mut order = Vec::new();
    loop {
        let Some(task_id) = s.get_ready_tasks().next().map(|t| t.task_id().clone()) else {
            return order;
        };
        let mut block = s.acquire_block(&task_id).unwrap().unwrap();
        order.push(block.block_id.clone());
        block.status = BlockStatus::Success;
        s.release_block(&block).unwrap();
    }
}

/// docs/semantics.md#fit-modes: the 1-D example in all three fit modes.
#[test]
fn one_dimensional_fit_modes() {
    let (total, read, write) = example_1d();
    // Every fit mode has these blocks (id, write ROI, read ROI): 1 in level 0, 0 and 2 in
    // level 1; they differ in block 3 (level 0), which only overhang and shrink have.
    let block_1 = (1, "[4:7] (3)", "[3:8] (5)");
    let level_1 = vec![
        (0, "[1:4] (3)", "[0:5] (5)"),
        (2, "[7:10] (3)", "[6:11] (5)"),
    ];
    for (fit, block_3) in [
        (Fit::Valid, None),
        (Fit::Overhang, Some((3, "[10:13] (3)", "[9:14] (5)"))),
        (Fit::Shrink, Some((3, "[10:11] (1)", "[9:12] (3)"))),
    ] {
        let level_0: Vec<_> = std::iter::once(block_1).chain(block_3).collect();
        let expected = [level_0, level_1.clone()];
        let g = graph(total, read, write, true, fit);
        assert_eq!(g.num_levels(), 2);
        assert_eq!(g.level_offset(0).unwrap().to_string(), "(3,)");
        assert_eq!(g.level_offset(1).unwrap().to_string(), "(0,)");
        for (level, blocks) in expected.iter().enumerate() {
            let got: Vec<(u64, String, String)> = g
                .level_blocks(level as u64)
                .map(|b| {
                    (
                        b.spatial_id(),
                        b.write_roi.to_string(),
                        b.read_roi.to_string(),
                    )
                })
                .collect();
            let want: Vec<(u64, String, String)> = blocks
                .iter()
                .map(|&(id, w, r)| (id, w.to_owned(), r.to_owned()))
                .collect();
            assert_eq!(got, want, "{fit} level {level}");
        }
        let all: Vec<Block> = (0..2)
            .flat_map(|l| g.level_blocks(l).collect::<Vec<_>>())
            .collect();
        let by_id = |id: u64| all.iter().find(|b| b.spatial_id() == id).unwrap().clone();
        assert_eq!(ids(&g.upstream(&by_id(0)).unwrap()), [1]);
        let block_2_upstream = if fit == Fit::Valid {
            vec![1]
        } else {
            vec![1, 3]
        };
        assert_eq!(ids(&g.upstream(&by_id(2)).unwrap()), block_2_upstream);
        assert_eq!(ids(&g.downstream(&by_id(1)).unwrap()), [0, 2]);
        if fit == Fit::Shrink {
            assert_eq!(by_id(3).requested_write_roi.to_string(), "[10:13] (3)");
        }
    }
}

/// docs/semantics.md#fit-modes: block counts for total `[0:12]`, read `[0:5]`.
#[test]
fn block_counts() {
    let (total, read, _) = example_1d();
    for (write, counts, levels) in [
        (roi(&[2], &[1]), [8, 8, 8], 3),
        (roi(&[1], &[3]), [3, 4, 4], 2),
    ] {
        for (fit, count) in [Fit::Valid, Fit::Overhang, Fit::Shrink]
            .into_iter()
            .zip(counts)
        {
            let g = graph(total, read, write, true, fit);
            assert_eq!(g.num_blocks(), count, "{write} {fit}");
            assert_eq!(g.num_levels(), levels, "{write} {fit}");
            let enumerated: usize = (0..g.num_levels()).map(|l| g.level_blocks(l).count()).sum();
            assert_eq!(enumerated as u64, count);
        }
    }
}

/// docs/semantics.md#tiling, #levels-and-conflicts: level offsets and conflicts in 2-D with stride (2, 2).
#[test]
fn two_dimensional_levels_and_conflicts() {
    let (total, read, write) = example_2d();
    let g = graph(total, read, write, true, Fit::Valid);
    let offsets: Vec<String> = (0..4)
        .map(|l| g.level_offset(l).unwrap().to_string())
        .collect();
    assert_eq!(offsets, ["(1, 1)", "(1, 0)", "(0, 1)", "(0, 0)"]);
    let conflicts: Vec<Vec<String>> = (0..4)
        .map(|l| {
            g.level_conflicts(l)
                .iter()
                .map(ToString::to_string)
                .collect()
        })
        .collect();
    assert_eq!(
        conflicts,
        [
            vec![],
            vec!["(0, -1)".to_owned(), "(0, 1)".to_owned()],
            vec![
                "(-1, -1)".to_owned(),
                "(-1, 1)".to_owned(),
                "(1, -1)".to_owned(),
                "(1, 1)".to_owned()
            ],
            vec!["(0, -1)".to_owned(), "(0, 1)".to_owned()],
        ]
    );
    assert_eq!(g.level_stride().to_string(), "(2, 2)");
    let (total, read, write) = example_1d();
    let one_d = graph(total, read, write, true, Fit::Valid);
    assert_eq!(one_d.level_stride().to_string(), "(6,)");
}

/// docs/semantics.md#levels-and-conflicts: the exact 2-D level order, upstream and downstream lists.
#[test]
fn two_dimensional_worked_example() {
    let (total, read, write) = example_2d();
    let g = graph(total, read, write, true, Fit::Valid);
    assert_eq!(g.total_write_roi().to_string(), "[1:5, 1:5] (4, 4)");
    type Level<'a> = (&'a [u64], &'a [(i64, i64)], &'a [(&'a [u64], &'a [u64])]);
    let table: [Level; 4] = [
        (
            &[12, 23, 25, 40],
            &[(2, 2), (2, 4), (4, 2), (4, 4)],
            &[
                (&[], &[8, 17]),
                (&[], &[17]),
                (&[], &[19, 32]),
                (&[], &[32]),
            ],
        ),
        (
            &[8, 17, 19, 32],
            &[(2, 1), (2, 3), (4, 1), (4, 3)],
            &[
                (&[12], &[7, 18]),
                (&[12, 23], &[7, 16, 18, 31]),
                (&[25], &[18]),
                (&[25, 40], &[18, 31]),
            ],
        ),
        (
            &[7, 16, 18, 31],
            &[(1, 2), (1, 4), (3, 2), (3, 4)],
            &[
                (&[8, 17], &[4, 11]),
                (&[17], &[11]),
                (&[8, 17, 19, 32], &[13, 24]),
                (&[17, 32], &[24]),
            ],
        ),
        (
            &[4, 11, 13, 24],
            &[(1, 1), (1, 3), (3, 1), (3, 3)],
            &[(&[7], &[]), (&[7, 16], &[]), (&[18], &[]), (&[18, 31], &[])],
        ),
    ];
    for (level, (level_ids, offsets, deps)) in table.iter().enumerate() {
        let blocks: Vec<Block> = g.level_blocks(level as u64).collect();
        assert_eq!(ids(&blocks), *level_ids, "level {level}");
        for ((block, &(x, y)), &(up, down)) in blocks.iter().zip(offsets.iter()).zip(deps.iter()) {
            assert_eq!(block.write_roi, roi(&[x, y], &[1, 1]));
            assert_eq!(ids(&g.upstream(block).unwrap()), up, "upstream of {block}");
            assert_eq!(
                ids(&g.downstream(block).unwrap()),
                down,
                "downstream of {block}"
            );
        }
    }
    let all: Vec<(u64, Vec<u64>)> = g
        .enumerate_all_dependencies()
        .map(|(b, up)| (b.spatial_id(), ids(&up)))
        .collect();
    assert_eq!(all.len(), 16);
    assert_eq!(all[5], (17, vec![12, 23]));

    // Driving a scheduler yields exactly the four levels in order.
    let t = task("t", total, read, write).build().unwrap();
    let mut s = Scheduler::new(&[t], true).unwrap();
    for level_ids in table.iter().map(|(ids, _, _)| *ids) {
        assert_eq!(drain_level(&mut s, "t", BlockStatus::Success), level_ids);
    }
    assert!(s.acquire_block("t").unwrap().is_none());
    assert!(s.task_state("t").unwrap().is_done());

    // Without conflicts: one level, roots row-major.
    let t = task("t", total, read, write)
        .read_write_conflict(false)
        .build()
        .unwrap();
    let mut s = Scheduler::new(&[t], true).unwrap();
    assert_eq!(
        drain_level(&mut s, "t", BlockStatus::Success),
        [4, 7, 11, 16, 8, 12, 17, 23, 13, 18, 24, 31, 19, 25, 32, 40]
    );
}

/// docs/semantics.md#levels-and-conflicts: the stride clamp gives four single-block levels; a failure orphans the rest.
#[test]
fn stride_clamp() {
    let make = |retries| {
        task("t", roi(&[0], &[12]), roi(&[0], &[9]), roi(&[4], &[1]))
            .max_retries(retries)
            .build()
            .unwrap()
    };
    let g = make(2).tiling().clone();
    assert_eq!(g.level_stride().to_string(), "(4,)");
    let offsets: Vec<String> = (0..g.num_levels())
        .map(|l| g.level_offset(l).unwrap().to_string())
        .collect();
    assert_eq!(offsets, ["(3,)", "(2,)", "(1,)", "(0,)"]);
    let mut s = Scheduler::new(&[make(2)], true).unwrap();
    for id in [7, 6, 5, 4] {
        assert_eq!(drain_level(&mut s, "t", BlockStatus::Success), [id]);
    }
    let mut s = Scheduler::new(&[make(0)], true).unwrap();
    assert_eq!(drain_level(&mut s, "t", BlockStatus::Failed), [7]);
    let state = s.task_state("t").unwrap();
    assert_eq!((state.failed_count, state.orphaned_count), (1, 3));
    assert!(state.is_done());
}

/// docs/semantics.md#levels-and-conflicts: a total write ROI smaller than one write block has no blocks (1.x raised here).
#[test]
fn too_small_for_one_block() {
    let t = task("t", roi(&[0], &[4]), roi(&[0], &[5]), roi(&[1], &[3]))
        .build()
        .unwrap();
    let mut s = Scheduler::new(&[t], true).unwrap();
    assert!(s.acquire_block("t").unwrap().is_none());
    let state = s.task_state("t").unwrap();
    assert_eq!(state.total_block_count, 0);
    assert!(state.is_done());
}

/// docs/semantics.md#tiling, #tasks-that-depend-on-tasks: `get_subgraph_blocks` in both semantics.
#[test]
fn subgraph_blocks() {
    let g = graph(
        roi(&[0, 0], &[16, 16]),
        roi(&[0, 0], &[4, 4]),
        roi(&[1, 1], &[2, 2]),
        true,
        Fit::Valid,
    );
    let sub = roi(&[6, 6], &[3, 3]);
    let write = g.get_subgraph_blocks(&sub, false).unwrap();
    assert_eq!(ids(&write), [12, 17, 18, 24]);
    let writes: Vec<String> = write.iter().map(|b| b.write_roi.to_string()).collect();
    assert_eq!(
        writes,
        [
            "[5:7, 5:7] (2, 2)",
            "[5:7, 7:9] (2, 2)",
            "[7:9, 5:7] (2, 2)",
            "[7:9, 7:9] (2, 2)"
        ]
    );
    let mut read = ids(&g.get_subgraph_blocks(&sub, true).unwrap());
    read.sort_unstable();
    assert_eq!(read, [12, 17, 18, 23, 24, 25, 31, 32, 40]);
    assert!(
        g.get_subgraph_blocks(&roi(&[100, 100], &[3, 3]), false)
            .unwrap()
            .is_empty()
    );
    assert!(
        g.get_subgraph_blocks(&Roi::empty(2).unwrap(), true)
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        g.get_subgraph_blocks(&roi(&[0], &[3]), true),
        Err(CoreError::DimensionMismatch { .. })
    ));
}

fn chained(conflict_b: bool) -> (Arc<Task>, Arc<Task>) {
    let (total, read, write) = example_2d();
    let a = task("A", total, read, write).build().unwrap();
    let b = task("B", total, read, write)
        .read_write_conflict(conflict_b)
        .upstream_task(&a)
        .build()
        .unwrap();
    (a, b)
}

fn find(g: &DependencyGraph, task_id: &str, spatial_id: u64) -> Block {
    let tiling = g.task_dependency_graph(task_id).unwrap();
    (0..tiling.num_levels())
        .flat_map(|l| tiling.level_blocks(l).collect::<Vec<_>>())
        .find(|b| b.spatial_id() == spatial_id)
        .unwrap()
}

/// docs/semantics.md#tasks-that-depend-on-tasks: the chained A → B example.
#[test]
fn chained_tasks() {
    let (_, b) = chained(true);
    let g = DependencyGraph::new([&b]).unwrap();
    assert_eq!(names(g.task_ids()), ["B", "A"]);
    assert_eq!(names(g.root_tasks()), ["A"]);
    assert_eq!(names(g.upstream_tasks("B").unwrap()), ["A"]);
    assert_eq!(names(g.downstream_tasks("A").unwrap()), ["B"]);
    assert!(matches!(
        g.upstream_tasks("nope").map(|_| ()),
        Err(CoreError::UnknownTask { .. })
    ));

    let b12 = find(&g, "B", 12);
    assert_eq!(b12.read_roi.to_string(), "[1:4, 1:4] (3, 3)");
    let up = block_ids(&g.upstream(&b12).unwrap());
    assert_eq!(
        up,
        [
            "A/4", "A/7", "A/8", "A/11", "A/12", "A/13", "A/17", "A/18", "A/24"
        ]
    );
    let down = block_ids(&g.downstream(&find(&g, "A", 4)).unwrap());
    assert_eq!(down, ["B/4", "B/7", "B/8", "B/12"]);
    let down = block_ids(&g.downstream(&find(&g, "A", 12)).unwrap());
    assert_eq!(
        down,
        [
            "B/4", "B/7", "A/8", "B/8", "B/11", "B/12", "B/13", "A/17", "B/17", "B/18", "B/24"
        ]
    );
}

/// docs/semantics.md#tasks-that-depend-on-tasks: releasing A's last level in two orders, then B's own four levels.
#[test]
fn chained_release_orders() {
    for (order, expected) in [
        (
            [24, 13, 11, 4],
            vec![vec![40], vec![25], vec![23], vec![12]],
        ),
        (
            [4, 11, 13, 24],
            vec![vec![], vec![], vec![], vec![12, 23, 25, 40]],
        ),
    ] {
        let (a, b) = chained(true);
        let mut s = Scheduler::new([&a, &b], true).unwrap();
        for _ in 0..3 {
            drain_level(&mut s, "A", BlockStatus::Success);
            assert!(s.acquire_block("B").unwrap().is_none());
        }
        let mut last: Vec<Block> = std::iter::from_fn(|| s.acquire_block("A").unwrap()).collect();
        assert_eq!(ids(&last), [4, 11, 13, 24]);
        let mut queued = 0;
        for (id, want) in order.iter().zip(&expected) {
            let block = last.iter_mut().find(|b| b.spatial_id() == *id).unwrap();
            block.status = BlockStatus::Success;
            s.release_block(block).unwrap();
            queued += want.len();
            assert_eq!(s.task_state("B").unwrap().ready_count as usize, queued);
            let gained = names(s.last_release_ready_tasks());
            assert_eq!(gained.is_empty(), want.is_empty());
        }
        let first_b: Vec<u64> = std::iter::from_fn(|| s.acquire_block("B").unwrap())
            .map(|b| b.spatial_id())
            .collect();
        assert_eq!(first_b, expected.concat());
    }
    // 32 acquire/release cycles complete both tasks, each in the level order of docs/semantics.md#levels-and-conflicts.
    let (_, b) = chained(true);
    let mut s = Scheduler::new([&b], true).unwrap();
    let order = run_in_ready_order(&mut s);
    assert_eq!(order.len(), 32);
    let of_task = |task_id: &str| -> Vec<u64> {
        order
            .iter()
            .filter(|b| &*b.task_id == task_id)
            .map(|b| b.spatial_id)
            .collect()
    };
    let (a_order, b_order) = (of_task("A"), of_task("B"));
    let levels = [12, 23, 25, 40, 8, 17, 19, 32, 7, 16, 18, 31, 4, 11, 13, 24];
    assert_eq!(a_order, levels);
    assert_eq!(b_order.len(), 16);
    assert!(s.all_done());
}

/// docs/semantics.md#scheduling: the conformance sequences.
#[test]
fn conformance_sequences() {
    let make = |conflict| {
        task("t", roi(&[0], &[4]), roi(&[0], &[3]), roi(&[1], &[1]))
            .read_write_conflict(conflict)
            .build()
            .unwrap()
    };
    // No conflict: 1, 2, None.
    let mut s = Scheduler::new(&[make(false)], true).unwrap();
    let got: Vec<u64> = std::iter::from_fn(|| s.acquire_block("t").unwrap())
        .map(|b| b.spatial_id())
        .collect();
    assert_eq!(got, [1, 2]);

    // Retries: fail 1 once (re-queued, succeeds), fail 2 three times (permanent).
    let mut s = Scheduler::new(&[make(false)], true).unwrap();
    let mut one = s.acquire_block("t").unwrap().unwrap();
    let mut two = s.acquire_block("t").unwrap().unwrap();
    one.status = BlockStatus::Failed;
    s.release_block(&one).unwrap();
    let mut one = s.acquire_block("t").unwrap().unwrap();
    assert_eq!(one.spatial_id(), 1);
    one.status = BlockStatus::Success;
    s.release_block(&one).unwrap();
    for attempt in 0..3 {
        two.status = BlockStatus::Failed;
        s.release_block(&two).unwrap();
        if attempt < 2 {
            two = s.acquire_block("t").unwrap().unwrap();
            assert_eq!(two.spatial_id(), 2);
        }
    }
    assert!(s.acquire_block("t").unwrap().is_none());
    let state = s.task_state("t").unwrap();
    assert_eq!((state.completed_count, state.failed_count), (1, 1));

    // Conflict: failing block 2 three times orphans block 1.
    let mut s = Scheduler::new(&[make(true)], true).unwrap();
    for _ in 0..3 {
        assert_eq!(drain_level(&mut s, "t", BlockStatus::Failed), [2]);
    }
    let state = s.task_state("t").unwrap();
    assert_eq!(
        (
            state.completed_count,
            state.failed_count,
            state.orphaned_count
        ),
        (0, 1, 1)
    );
    assert!(state.is_done());
}

/// docs/semantics.md#scheduling: 361 blocks in 16 levels; failing everything counts each block exactly once.
#[test]
fn fail_everything() {
    for count_all in [true, false] {
        let t = task(
            "t",
            roi(&[0, 0], &[25, 25]),
            roi(&[0, 0], &[7, 7]),
            roi(&[3, 3], &[1, 1]),
        )
        .max_retries(0)
        .build()
        .unwrap();
        assert_eq!(t.tiling().num_levels(), 16);
        assert_eq!(t.tiling().level_stride().to_string(), "(4, 4)");
        let mut s = Scheduler::new(&[t], count_all).unwrap();
        assert_eq!(s.task_state("t").unwrap().ready_count, 16);
        while !drain_level(&mut s, "t", BlockStatus::Failed).is_empty() {}
        let state = s.task_state("t").unwrap();
        assert_eq!(
            (
                state.total_block_count,
                state.failed_count,
                state.orphaned_count
            ),
            (361, 16, 345),
            "count_all {count_all}"
        );
        assert!(state.is_done());
    }
}

/// docs/semantics.md#scheduling: releasing a block that is not out is an error that changes nothing.
#[test]
fn bad_releases() {
    let t = task("t", roi(&[0], &[4]), roi(&[0], &[3]), roi(&[1], &[1]))
        .read_write_conflict(false)
        .build()
        .unwrap();
    let mut s = Scheduler::new(&[t], true).unwrap();
    let mut block = s.acquire_block("t").unwrap().unwrap();
    let before = *s.task_state("t").unwrap();
    let err = s.release_block(&block).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unexpected status for released block t/1: BlockStatus.CREATED"
    );
    block.status = BlockStatus::Success;
    s.release_block(&block).unwrap();
    let after = *s.task_state("t").unwrap();
    let err = s.release_block(&block).unwrap_err();
    assert_eq!(
        err.to_string(),
        "block t/1 is not being processed, it cannot be released"
    );
    assert_eq!(*s.task_state("t").unwrap(), after);
    assert_ne!(before, after);
    let mut stranger = block.clone();
    stranger.block_id.task_id = "nope".into();
    assert!(matches!(
        s.release_block(&stranger),
        Err(CoreError::UnknownTask { .. })
    ));
    assert!(matches!(
        s.acquire_block("nope"),
        Err(CoreError::UnknownTask { .. })
    ));
}

/// docs/semantics.md#tasks, #scheduling: a pre-check that says "done" skips the block, which counts as completed.
#[test]
fn skipped_blocks() {
    let (total, read, write) = example_1d();
    let t = task("t", total, read, write)
        .check_function(|b| Ok(b.spatial_id() == 1))
        .build()
        .unwrap();
    let mut s = Scheduler::new(&[t], true).unwrap();
    // Block 1 (level 0) is skipped, which releases 0 and 2.
    assert_eq!(drain_level(&mut s, "t", BlockStatus::Success), [0, 2]);
    let state = s.task_state("t").unwrap();
    assert_eq!((state.completed_count, state.skipped_count), (3, 1));
    assert!(state.started);
}

/// docs/semantics.md#tasks-that-depend-on-tasks defect 1: an empty intersection yields no blocks, and the run completes.
#[test]
fn empty_intersection_does_not_crash() {
    let up = task("U", roi(&[0], &[100]), roi(&[0], &[10]), roi(&[0], &[10]))
        .build()
        .unwrap();
    let down = task("D", roi(&[0], &[20]), roi(&[0], &[10]), roi(&[0], &[10]))
        .upstream_task(&up)
        .build()
        .unwrap();
    let mut s = Scheduler::new([&down], true).unwrap();
    let order: Vec<String> = run_in_ready_order(&mut s)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(order.len(), 12);
    assert!(s.all_done());
    let d_first = order.iter().position(|o| o.starts_with('D')).unwrap();
    assert!(order[..d_first].contains(&"U/0".to_owned()));
}

/// docs/semantics.md#tasks-that-depend-on-tasks defect 2: asymmetric contexts; upstream and downstream are exact inverses.
#[test]
fn asymmetric_context_inverse() {
    let up = task("U", roi(&[0], &[20]), roi(&[0], &[1]), roi(&[0], &[1]))
        .build()
        .unwrap();
    let down = task("D", roi(&[0], &[20]), roi(&[0], &[5]), roi(&[1], &[1]))
        .read_write_conflict(false)
        .upstream_task(&up)
        .build()
        .unwrap();
    let g = DependencyGraph::new([&down]).unwrap();
    let d1 = find(&g, "D", 1);
    assert_eq!(d1.write_roi.to_string(), "[1:2] (1)");
    assert_eq!(ids(&g.upstream(&d1).unwrap()), [0, 1, 2, 3, 4]);
    assert_eq!(ids(&g.downstream(&find(&g, "U", 3)).unwrap()), [1, 2, 3, 4]);
    // And the run does not hang when U/4 finishes last.
    let mut s = Scheduler::new([&down], true).unwrap();
    let mut u: Vec<Block> = std::iter::from_fn(|| s.acquire_block("U").unwrap()).collect();
    u.sort_by_key(|b| (b.spatial_id() == 4, b.spatial_id()));
    release_all(&mut s, &mut u, BlockStatus::Success);
    assert_eq!(drain_level(&mut s, "D", BlockStatus::Success).len(), 16);
    assert!(s.all_done());
}

/// docs/semantics.md#tasks-that-depend-on-tasks: two different task objects with one id are rejected.
#[test]
fn duplicate_task_ids() {
    let a1 = task("A", roi(&[0], &[10]), roi(&[0], &[2]), roi(&[0], &[2]))
        .build()
        .unwrap();
    let a2 = task("A", roi(&[0], &[10]), roi(&[0], &[2]), roi(&[0], &[2]))
        .build()
        .unwrap();
    let b = task("B", roi(&[0], &[10]), roi(&[0], &[2]), roi(&[0], &[2]))
        .upstream_task(&a1)
        .build()
        .unwrap();
    assert!(DependencyGraph::new([&b, &a1, &a1]).is_ok());
    let err = DependencyGraph::new([&b, &a2]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "two different tasks share the task id 'A'; task ids must be unique"
    );
}

/// docs/semantics.md#worker-restarts: an abandoned task orphans its remaining blocks and, once nothing can run, what
/// depends on them.
#[test]
fn abandoned_task() {
    let (a, b) = chained(true);
    let mut s = Scheduler::new([&a, &b], true).unwrap();
    drain_level(&mut s, "A", BlockStatus::Success);
    s.abandon_task("A").unwrap();
    let a_state = *s.task_state("A").unwrap();
    assert_eq!((a_state.completed_count, a_state.orphaned_count), (4, 12));
    let b_state = *s.task_state("B").unwrap();
    assert_eq!(b_state.orphaned_count, 16);
    assert!(s.all_done());
}
