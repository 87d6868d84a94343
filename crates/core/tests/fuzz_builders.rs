//! Fuzzing the entry points that take user input for panics: `TaskBuilder`, `Tiling::builder`,
//! `BlockwiseDependencyGraph::builder`, the scheduler over what they build, and the ROI and
//! coordinate arithmetic. Every input must give a value or a typed error, never a panic or an
//! overflow (the test profile checks overflow, so an unchecked `+` fails here).
//!
//! Values mix small numbers (real tasks), the limits of the engine (±2^60) and of `i64`, so
//! that the boundaries are hit often. Bounded: a few hundred cases each, a few seconds in all.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use daisy_core::{
    Block, BlockStatus, BlockwiseDependencyGraph, DoneMarker, Fit, Scheduler, Task, Tiling,
};
use daisy_geometry::{Coordinate, Roi, SnapMode};
use proptest::prelude::*;

/// Tasks with at most this many blocks are also scheduled to the end.
const SCHEDULE_LIMIT: u64 = 200;

/// One coordinate value: small, near a limit, or anything.
fn value() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => -8i64..=8,
        2 => -1000i64..=1000,
        1 => prop::sample::select(vec![
            i64::MIN,
            i64::MIN + 1,
            -(1i64 << 62),
            -(1i64 << 60),
            -(1i64 << 60) + 1,
            (1i64 << 60) - 1,
            1i64 << 60,
            1i64 << 62,
            i64::MAX - 1,
            i64::MAX,
        ]),
        1 => any::<i64>(),
    ]
}

/// An optional value (`None`: unbounded), mostly bounded.
fn maybe_value() -> impl Strategy<Value = Option<i64>> {
    prop_oneof![9 => value().prop_map(Some), 1 => Just(None)]
}

/// A ROI of `dims` dimensions, or `None` if its end overflows (the constructor refuses it).
fn roi_of(dims: usize) -> impl Strategy<Value = Option<Roi>> {
    (
        prop::collection::vec(maybe_value(), dims),
        prop::collection::vec(maybe_value(), dims),
    )
        .prop_map(|(offset, shape)| {
            let offset = Coordinate::from_options(&offset).ok()?;
            let shape = Coordinate::from_options(&shape).ok()?;
            Roi::new(offset, shape).ok()
        })
}

/// A ROI of 1 to 3 dimensions (mostly `dims`, sometimes another number).
fn roi_near(dims: usize) -> impl Strategy<Value = Option<Roi>> {
    prop_oneof![9 => roi_of(dims), 1 => (1usize..=3).prop_flat_map(roi_of)]
}

/// A bounded ROI of `dims` dimensions with small values (a task that really has blocks).
fn small_roi(dims: usize, lo: i64, hi: i64) -> impl Strategy<Value = Roi> {
    (
        prop::collection::vec(-4i64..=4, dims),
        prop::collection::vec(lo..=hi, dims),
    )
        .prop_map(|(offset, shape)| Roi::from_values(&offset, &shape).unwrap())
}

/// A coordinate of 1 to 3 dimensions.
fn coordinate() -> impl Strategy<Value = Coordinate> {
    (1usize..=3)
        .prop_flat_map(|dims| prop::collection::vec(maybe_value(), dims))
        .prop_map(|v| Coordinate::from_options(&v).unwrap())
}

fn fit() -> impl Strategy<Value = Fit> {
    prop::sample::select(vec![Fit::Valid, Fit::Overhang, Fit::Shrink])
}

/// A timeout as the builder may be given it: a duration or seconds.
#[derive(Debug, Clone)]
enum Timeout {
    None,
    Duration(Duration),
    Seconds(f64),
}

fn timeout() -> impl Strategy<Value = Timeout> {
    prop_oneof![
        Just(Timeout::None),
        prop::sample::select(vec![
            Duration::ZERO,
            Duration::from_nanos(1),
            Duration::from_secs(1),
            Duration::from_secs(u64::MAX),
            Duration::MAX,
        ])
        .prop_map(Timeout::Duration),
        prop::sample::select(vec![
            0.0,
            -0.0,
            -1.0,
            1e-12,
            0.5,
            1e9,
            1e19,
            1.8e19,
            1e300,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ])
        .prop_map(Timeout::Seconds),
    ]
}

/// A task id: mostly fine, sometimes hostile.
fn task_id() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z][a-z0-9_]{0,8}",
        1 => prop::sample::select(vec![
            "", ".", "..", "../escaped", "a/b", "a\\b", "nul\0", "tab\t", "a:b", "a=b",
            "ünïcødé", "with space", "-dash",
        ])
        .prop_map(str::to_owned),
        1 => ".{0,12}",
    ]
}

/// Walks what a built task offers (bounded), then schedules it to the end if it is small.
fn exercise(task: &Arc<Task>, probe: &Roi) {
    let tiling = task.tiling();
    let _ = tiling.largest_id();
    let _ = DoneMarker::num_ids(task);
    let _ = DoneMarker::canonical_layout(task);
    let _ = tiling.expand_to_grid(probe);
    let _ = tiling.block_id(probe);
    let _ = Tiling::block_id_of(&tiling.total_read_roi(), probe);
    for level in 0..tiling.num_levels().min(3) {
        let _ = tiling.level_offset(level);
        for block in tiling.level_blocks(level).take(8) {
            let mut block = block;
            let _ = tiling.inclusion_criteria(&block);
            let _ = tiling.fit_block(&mut block);
        }
    }
    if tiling.num_blocks() > SCHEDULE_LIMIT {
        return;
    }
    let _ = tiling.get_subgraph_blocks(probe, false);
    let _ = tiling.get_subgraph_blocks(probe, true);
    let mut scheduler = Scheduler::new([task], true).unwrap();
    let id = task.task_id().to_string();
    let mut handed_out = 0u64;
    while let Some(mut block) = scheduler.acquire_block(&id).unwrap() {
        handed_out += 1;
        // Every third block fails once, to walk retries and orphans too.
        block.status = if block.spatial_id() % 3 == 0 {
            BlockStatus::Failed
        } else {
            BlockStatus::Success
        };
        scheduler.release_block(&block).unwrap();
        assert!(
            handed_out <= 4 * SCHEDULE_LIMIT,
            "the scheduler does not end"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn task_builder_never_panics(
        id in task_id(),
        total in roi_near(2),
        read in roi_near(2),
        write in roi_near(2),
        probe in roi_near(2),
        fit in fit(),
        conflict in any::<bool>(),
        workers in prop::sample::select(vec![0usize, 1, 2, usize::MAX]),
        retries in prop::sample::select(vec![0u32, 1, u32::MAX]),
        timeout in timeout(),
    ) {
        let (Some(total), Some(read), Some(write)) = (total, read, write) else {
            return Ok(());
        };
        let mut builder = Task::builder(id.as_str(), total, read, write)
            .fit(fit)
            .read_write_conflict(conflict)
            .num_workers(workers)
            .max_retries(retries);
        builder = match timeout {
            Timeout::None => builder,
            Timeout::Duration(d) => builder.timeout(d),
            Timeout::Seconds(s) => builder.timeout_secs(s),
        };
        if let Ok(task) = builder.build() {
            // What was built is what the rules allow.
            prop_assert!(task.num_workers() >= 1);
            prop_assert!(task.timeout().is_none_or(|t| !t.is_zero() && t <= daisy_core::MAX_TIMEOUT));
            prop_assert!(!id.is_empty() && !id.contains(['/', '\\']) && id != "." && id != "..");
            exercise(&task, &probe.unwrap_or(total));
        }
    }

    #[test]
    fn small_tasks_build_and_run_to_the_end(
        (total, read, write) in (1usize..=3).prop_flat_map(|dims| (
            small_roi(dims, -2, 12),
            small_roi(dims, -1, 5),
            small_roi(dims, -1, 4),
        )),
        fit in fit(),
        conflict in any::<bool>(),
    ) {
        // Realistic shapes: the builder's checks pass often, and the scheduler runs.
        if let Ok(task) = Task::builder("t", total, read, write)
            .fit(fit)
            .read_write_conflict(conflict)
            .build()
        {
            exercise(&task, &total);
        }
    }

    #[test]
    fn tiling_and_graph_builders_never_panic(
        read in roi_near(2),
        write in roi_near(2),
        total_read in prop::option::of(roi_near(2)),
        total_write in prop::option::of(roi_near(2)),
        probe in roi_near(2),
        fit in fit(),
        conflict in any::<bool>(),
    ) {
        let (Some(read), Some(write)) = (read, write) else {
            return Ok(());
        };
        let mut tiling = Tiling::builder("t", read, write)
            .fit(fit)
            .read_write_conflict(conflict);
        let mut graph = BlockwiseDependencyGraph::builder("t", read, write)
            .fit(fit)
            .read_write_conflict(conflict);
        if let Some(Some(total)) = total_read {
            tiling = tiling.total_read_roi(total);
            graph = graph.total_read_roi(total);
        }
        if let Some(Some(total)) = total_write {
            tiling = tiling.total_write_roi(total);
            graph = graph.total_write_roi(total);
        }
        let probe = probe.unwrap_or(read);
        if let Ok(tiling) = tiling.build() {
            let _ = tiling.expand_to_grid(&probe);
            let _ = tiling.block_id(&probe);
            for block in tiling.root_gen().take(8) {
                let _ = tiling.shrink_possible(&block);
            }
        }
        if let Ok(graph) = graph.build() {
            for level in 0..graph.tiling().num_levels().min(3) {
                let _ = graph.level_conflicts(level);
            }
            let block = Block::new("t".into(), 0, probe, probe);
            let _ = graph.upstream(&block);
            let _ = graph.downstream(&block);
            if graph.tiling().num_blocks() <= SCHEDULE_LIMIT {
                let _ = graph.enumerate_all_dependencies().count();
            }
        }
        let _ = Tiling::context_of(&read, &write);
        let _ = Tiling::grid_origin(&probe, &read, &write);
        let _ = Tiling::block_id_of(&probe, &write);
        let _ = Tiling::expand_to_grid_at(&probe, &read.offset(), &write.shape());
    }

    #[test]
    fn roi_and_coordinate_arithmetic_never_panics(
        a in roi_near(2),
        b in roi_near(2),
        c in coordinate(),
        d in coordinate(),
        scalar in value(),
        other in value(),
        dim in 0usize..=4,
    ) {
        let _ = c.add(&d);
        let _ = c.sub(&d);
        let _ = c.mul(&d);
        let _ = c.div(&d);
        let _ = c.floor_div(&d);
        let _ = c.rem(&d);
        let _ = c.pow(&d);
        let _ = c.floor_division(&d);
        let _ = c.ceil_division(&d);
        let _ = c.round_division(&d);
        let _ = c.add_scalar(scalar);
        let _ = c.sub_scalar(scalar);
        let _ = c.mul_scalar(scalar);
        let _ = c.div_scalar(scalar);
        let _ = c.floor_div_scalar(scalar);
        let _ = c.rem_scalar(scalar);
        let _ = c.pow_scalar(scalar);
        let _ = c.ceil_division_scalar(scalar);
        let _ = c.round_division_scalar(scalar);
        let _ = c.neg();
        let _ = c.abs();
        let _ = c.is_multiple_of(&d);
        let _ = c.squeeze(dim);
        let _ = c.to_string();
        let (Some(a), Some(b)) = (a, b) else {
            return Ok(());
        };
        let _ = Roi::from_begin_end(&c, &d);
        let _ = a.center();
        let _ = a.end();
        let _ = a.size();
        let _ = a.try_size();
        let _ = a.contains(&b);
        let _ = a.contains_coordinate(&c);
        let _ = a.intersects(&b);
        let _ = a.intersect(&b);
        let _ = a.union(&b);
        let _ = a.shift(&c);
        let _ = a.shift_scalar(scalar);
        let _ = a.grow(&c, &d);
        let _ = a.grow_scalar(scalar, other);
        for mode in [SnapMode::Grow, SnapMode::Shrink, SnapMode::Closest] {
            let _ = a.snap_to_grid(&c, mode);
        }
        let _ = a.mul(&c);
        let _ = a.div(&c);
        let _ = a.floor_div(&c);
        let _ = a.rem(&c);
        let _ = a.mul_scalar(scalar);
        let _ = a.div_scalar(scalar);
        let _ = a.floor_div_scalar(scalar);
        let _ = a.rem_scalar(scalar);
        let _ = a.with_offset(c);
        let _ = a.with_shape(d);
        let _ = a.squeeze(dim);
        let _ = a.to_slices();
        let _ = a.to_string();
    }
}
