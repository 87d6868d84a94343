"""Worked examples of docs/semantics.md#tiling, #tasks-that-depend-on-tasks through the public daisy API."""

import pytest
from helpers import chain, ids, line

import daisy
from daisy import Roi


def run_serially(scheduler):
    """Runs every block, always of the first ready task, to success; returns the block ids in
    the order they were handed out."""
    done = []
    while ready := scheduler.get_ready_tasks():
        block = scheduler.acquire_block(ready[0].task_id)
        assert block is not None
        block.status = daisy.BlockStatus.SUCCESS
        scheduler.release_block(block)
        done.append(block.block_id)
    return done


def all_blocks(graph):
    """spatial id -> block, over all levels of a BlockwiseDependencyGraph."""
    return {
        b.block_id[1]: b for level in range(graph.num_levels) for b in graph.level_blocks(level)
    }


def graph_2d(read_write_conflict=True):
    return daisy.BlockwiseDependencyGraph(
        "t",
        Roi((0, 0), (3, 3)),
        Roi((1, 1), (1, 1)),
        read_write_conflict,
        "valid",
        total_read_roi=Roi((0, 0), (6, 6)),
    )


# docs/semantics.md#levels-and-conflicts: level, ids in order, write offsets, upstream -> downstream of every block
LEVELS_7_9 = [
    [12, 23, 25, 40],
    [8, 17, 19, 32],
    [7, 16, 18, 31],
    [4, 11, 13, 24],
]
WRITE_OFFSETS_7_9 = [
    [(2, 2), (2, 4), (4, 2), (4, 4)],
    [(2, 1), (2, 3), (4, 1), (4, 3)],
    [(1, 2), (1, 4), (3, 2), (3, 4)],
    [(1, 1), (1, 3), (3, 1), (3, 3)],
]
DEPS_7_9 = {
    12: ([], [8, 17]),
    23: ([], [17]),
    25: ([], [19, 32]),
    40: ([], [32]),
    8: ([12], [7, 18]),
    17: ([12, 23], [7, 16, 18, 31]),
    19: ([25], [18]),
    32: ([25, 40], [18, 31]),
    7: ([8, 17], [4, 11]),
    16: ([17], [11]),
    18: ([8, 17, 19, 32], [13, 24]),
    31: ([17, 32], [24]),
    4: ([7], []),
    11: ([7, 16], []),
    13: ([18], []),
    24: ([18, 31], []),
}


def test_7_9_levels_and_dependencies():
    graph = graph_2d()
    assert graph.total_write_roi == Roi((1, 1), (4, 4))
    assert graph.num_levels == 4
    assert graph.num_blocks == 16
    assert graph.num_roots() == 4
    assert graph.level_offsets() == [(1, 1), (1, 0), (0, 1), (0, 0)]
    assert graph.level_stride == (2, 2)
    assert graph.level_conflicts() == [
        [],
        [(0, -1), (0, 1)],
        [(-1, -1), (-1, 1), (1, -1), (1, 1)],
        [(0, -1), (0, 1)],
    ]
    for level, (expected, offsets) in enumerate(zip(LEVELS_7_9, WRITE_OFFSETS_7_9, strict=True)):
        blocks = list(graph.level_blocks(level))
        assert ids(blocks) == expected
        assert [tuple(b.write_roi.begin) for b in blocks] == offsets
        for b in blocks:
            assert b.read_roi == b.write_roi.grow(1, 1)
            assert b.block_id == ("t", b.block_id[1])
    assert ids(graph.root_gen()) == LEVELS_7_9[0]
    for block_id, block in all_blocks(graph).items():
        up, down = DEPS_7_9[block_id]
        assert sorted(ids(graph.upstream(block))) == up
        assert sorted(ids(graph.downstream(block))) == down
    deps = list(graph.enumerate_all_dependencies())
    assert [b.block_id[1] for b, _ in deps] == sum(LEVELS_7_9, [])
    for b, up in deps:
        assert sorted(ids(up)) == DEPS_7_9[b.block_id[1]][0]


def test_7_9_scheduler_runs_levels_in_order():
    task = daisy.Task(
        "t", Roi((0, 0), (6, 6)), Roi((0, 0), (3, 3)), Roi((1, 1), (1, 1)), lambda b: None
    )
    scheduler = daisy.Scheduler([task])
    for expected in LEVELS_7_9:
        acquired = []
        while (block := scheduler.acquire_block("t")) is not None:
            acquired.append(block)
        assert ids(acquired) == expected
        assert scheduler.acquire_block("t") is None
        for block in acquired:
            block.status = daisy.BlockStatus.SUCCESS
            scheduler.release_block(block)
    state = scheduler.task_states["t"]
    assert state.completed_count == 16 and state.is_done()


def test_7_9_without_conflict_one_level_row_major():
    task = daisy.Task(
        "t",
        Roi((0, 0), (6, 6)),
        Roi((0, 0), (3, 3)),
        Roi((1, 1), (1, 1)),
        lambda b: None,
        read_write_conflict=False,
    )
    scheduler = daisy.Scheduler([task])
    acquired = []
    while (block := scheduler.acquire_block("t")) is not None:
        acquired.append(block)
    assert ids(acquired) == [4, 7, 11, 16, 8, 12, 17, 23, 13, 18, 24, 31, 19, 25, 32, 40]
    assert graph_2d(False).num_levels == 1


@pytest.mark.parametrize(
    "fit, expected",
    [
        ("valid", {1: ((4, 7), (3, 8), 0), 0: ((1, 4), (0, 5), 1), 2: ((7, 10), (6, 11), 1)}),
        (
            "overhang",
            {
                1: ((4, 7), (3, 8), 0),
                3: ((10, 13), (9, 14), 0),
                0: ((1, 4), (0, 5), 1),
                2: ((7, 10), (6, 11), 1),
            },
        ),
        (
            "shrink",
            {
                1: ((4, 7), (3, 8), 0),
                3: ((10, 11), (9, 12), 0),
                0: ((1, 4), (0, 5), 1),
                2: ((7, 10), (6, 11), 1),
            },
        ),
    ],
)
def test_7_6_fit_modes_1d(fit, expected):
    graph = daisy.BlockwiseDependencyGraph(
        "t", Roi((0,), (5,)), Roi((1,), (3,)), True, fit, total_read_roi=Roi((0,), (12,))
    )
    assert graph.level_offsets() == [(3,), (0,)]
    assert graph.num_blocks == len(expected)
    found = {}
    for level in range(graph.num_levels):
        for b in graph.level_blocks(level):
            found[b.block_id[1]] = (
                (b.write_roi.begin[0], b.write_roi.end[0]),
                (b.read_roi.begin[0], b.read_roi.end[0]),
                level,
            )
    assert found == expected
    blocks = all_blocks(graph)
    assert ids(graph.upstream(blocks[0])) == [1]
    assert sorted(ids(graph.upstream(blocks[2]))) == ([1] if fit == "valid" else [1, 3])
    if fit == "shrink":
        assert blocks[3].requested_write_roi == Roi((10,), (3,))
        assert graph.shrink_possible(blocks[3])
        full = daisy.Block(Roi((0,), (12,)), Roi((9,), (5,)), Roi((10,), (3,)), task_id="t")
        assert graph.shrink(full).write_roi == Roi((10,), (1,))
        assert graph.shrink(full).read_roi == Roi((9,), (3,))


@pytest.mark.parametrize(
    "write, counts", [(Roi((2,), (1,)), (8, 8, 8)), (Roi((1,), (3,)), (3, 4, 4))]
)
def test_7_6_block_counts(write, counts):
    for fit, count in zip(("valid", "overhang", "shrink"), counts, strict=True):
        graph = daisy.BlockwiseDependencyGraph(
            "t", Roi((0,), (5,)), write, True, fit, total_read_roi=Roi((0,), (12,))
        )
        assert graph.num_blocks == count, fit


def test_7_8_upstream_downstream_inverse_shrink():
    graph = daisy.BlockwiseDependencyGraph(
        "t", Roi((0,), (7,)), Roi((1,), (5,)), True, "shrink", total_read_roi=Roi((0,), (100,))
    )
    blocks = all_blocks(graph)
    for b in blocks.values():
        for up in graph.upstream(b):
            assert b in graph.downstream(up)
        for down in graph.downstream(b):
            assert b in graph.upstream(down)


def test_7_10_stride_clamp_and_orphans():
    task = daisy.Task(
        "t", Roi((0,), (12,)), Roi((0,), (9,)), Roi((4,), (1,)), lambda b: None, max_retries=0
    )
    graph = daisy.DependencyGraph([task]).task_dependency_graphs["t"]
    assert graph.num_levels == 4
    assert graph.level_offsets() == [(3,), (2,), (1,), (0,)]
    scheduler = daisy.Scheduler([task])
    order = []
    for _ in range(4):
        block = scheduler.acquire_block("t")
        order.append(block.block_id[1])
        assert scheduler.acquire_block("t") is None
        block.status = daisy.BlockStatus.SUCCESS
        scheduler.release_block(block)
    assert order == [7, 6, 5, 4]

    scheduler = daisy.Scheduler([task])
    block = scheduler.acquire_block("t")
    assert block.block_id[1] == 7
    block.status = daisy.BlockStatus.FAILED
    assert scheduler.release_block(block) == {}
    state = scheduler.task_states["t"]
    assert (state.failed_count, state.orphaned_count) == (1, 3)
    assert state.is_done()


def test_7_12_subgraph_blocks_symmetric():
    graph = daisy.BlockwiseDependencyGraph(
        "t",
        Roi((0, 0), (4, 4)),
        Roi((1, 1), (2, 2)),
        True,
        "valid",
        total_read_roi=Roi((0, 0), (16, 16)),
    )
    sub = Roi((6, 6), (3, 3))
    write = graph.get_subgraph_blocks(sub)
    assert sorted(ids(write)) == [12, 17, 18, 24]
    assert {tuple(b.write_roi.begin) for b in write} == {(5, 5), (5, 7), (7, 5), (7, 7)}
    assert sorted(ids(graph.get_subgraph_blocks(sub, read_roi=True))) == [
        12,
        17,
        18,
        23,
        24,
        25,
        31,
        32,
        40,
    ]


def test_7_12_empty_intersection_runs_to_completion():
    up = daisy.Task("U", Roi((0,), (100,)), Roi((0,), (10,)), Roi((0,), (10,)), lambda b: None)
    down = daisy.Task(
        "D",
        Roi((0,), (20,)),
        Roi((0,), (10,)),
        Roi((0,), (10,)),
        lambda b: None,
        upstream_tasks=[up],
    )
    graph = daisy.DependencyGraph([down])
    upstream_blocks = all_blocks(graph.task_dependency_graphs["U"])
    for block_id in range(2, 10):
        assert graph.downstream(upstream_blocks[block_id]) == []
    scheduler = daisy.Scheduler([down])
    assert len(run_serially(scheduler)) == 12
    states = scheduler.task_states
    assert states["U"].completed_count == 10 and states["D"].completed_count == 2


def test_7_12_asymmetric_context_is_exact_inverse():
    up = line(20, task_id="U")
    down = daisy.Task(
        "D",
        Roi((0,), (20,)),
        Roi((0,), (5,)),
        Roi((1,), (1,)),
        lambda b: None,
        read_write_conflict=False,
        upstream_tasks=[up],
    )
    graph = daisy.DependencyGraph([down])
    d_blocks = all_blocks(graph.task_dependency_graphs["D"])
    u_blocks = all_blocks(graph.task_dependency_graphs["U"])
    assert d_blocks[1].write_roi == Roi((1,), (1,))
    assert ids(graph.upstream(d_blocks[1])) == [0, 1, 2, 3, 4]
    assert ids(graph.downstream(u_blocks[3])) == [1, 2, 3, 4]
    for u in u_blocks.values():
        for d in graph.downstream(u):
            assert u in graph.upstream(d)
    for d in d_blocks.values():
        for u in graph.upstream(d):
            assert d in graph.downstream(u)


def test_8_dependency_graph_worked_example():
    a, b = chain()
    graph = daisy.DependencyGraph([b])
    assert graph.task_ids == ["B", "A"]
    assert graph.root_tasks() == ["A"]
    assert graph.upstream_tasks == {"B": {"A"}, "A": set()}
    assert graph.downstream_tasks == {"A": {"B"}, "B": set()}
    assert graph.task_map == {"B": b, "A": a}
    assert graph.num_blocks("A") == 16 and graph.num_roots("A") == 4
    roots = graph.roots()
    assert list(roots) == ["A"] and roots["A"][0] == 4
    assert ids(roots["A"][1]) == [12, 23, 25, 40]
    a_blocks = all_blocks(graph.task_dependency_graphs["A"])
    b_blocks = all_blocks(graph.task_dependency_graphs["B"])
    assert b_blocks[12].read_roi == Roi((1, 1), (3, 3))
    up = graph.upstream(b_blocks[12])
    assert [blk.block_id for blk in up] == [("A", i) for i in (4, 7, 8, 11, 12, 13, 17, 18, 24)]
    assert [blk.block_id for blk in graph.downstream(a_blocks[4])] == [
        ("B", i) for i in (4, 7, 8, 12)
    ]
    assert [blk.block_id for blk in graph.downstream(a_blocks[12])] == [
        ("B", 4),
        ("B", 7),
        ("A", 8),
        ("B", 8),
        ("B", 11),
        ("B", 12),
        ("B", 13),
        ("A", 17),
        ("B", 17),
        ("B", 18),
        ("B", 24),
    ]


def run_levels_of_a(scheduler):
    """Runs A's first three levels; returns A's last level, acquired."""
    for _ in range(3):
        acquired = []
        while (block := scheduler.acquire_block("A")) is not None:
            acquired.append(block)
        for block in acquired:
            block.status = daisy.BlockStatus.SUCCESS
            assert "B" not in scheduler.release_block(block)
    last = []
    while (block := scheduler.acquire_block("A")) is not None:
        last.append(block)
    assert ids(last) == [4, 11, 13, 24]
    return {b.block_id[1]: b for b in last}


def test_8_release_order_queues_downstream_blocks():
    a, b = chain()
    scheduler = daisy.Scheduler([b])
    assert list(scheduler.task_states) == ["A", "B"]
    last = run_levels_of_a(scheduler)
    queued = []
    for block_id in (24, 13, 11, 4):
        block = last[block_id]
        block.status = daisy.BlockStatus.SUCCESS
        gained = scheduler.release_block(block)
        assert list(gained) == ["B"]
        assert gained["B"] is scheduler.task_states["B"]
        queued.append(scheduler.acquire_block("B").block_id[1])
    assert queued == [40, 25, 23, 12]

    scheduler = daisy.Scheduler([b])
    last = run_levels_of_a(scheduler)
    for block_id in (4, 11, 13):
        last[block_id].status = daisy.BlockStatus.SUCCESS
        assert scheduler.release_block(last[block_id]) == {}
        assert scheduler.task_states["B"].ready_count == 0
    last[24].status = daisy.BlockStatus.SUCCESS
    assert list(scheduler.release_block(last[24])) == ["B"]
    assert scheduler.task_states["B"].ready_count == 4
    got = []
    while (block := scheduler.acquire_block("B")) is not None:
        got.append(block.block_id[1])
    assert got == [12, 23, 25, 40]


def test_9_8_chained_cycles_follow_level_order():
    a, b = chain()
    scheduler = daisy.Scheduler([b])
    done = run_serially(scheduler)
    assert len(done) == 32
    order = {task_id: [i for t, i in done if t == task_id] for task_id in ("A", "B")}
    for task_id in ("A", "B"):
        assert order[task_id] == sum(LEVELS_7_9, [])
        assert scheduler.task_states[task_id].completed_count == 16


def test_dependency_graph_rejects_duplicate_ids_and_cycles():
    a = line(10, task_id="A")
    a2 = line(10, task_id="A")
    b = line(10, task_id="B", upstream_tasks=[a2])
    with pytest.raises(ValueError, match="'A'"):
        daisy.DependencyGraph([a, b])
    with pytest.raises(ValueError, match="'A'"):
        daisy.Scheduler([a, b])
    # the same object twice is fine
    c = line(10, task_id="C", upstream_tasks=[a])
    assert daisy.DependencyGraph([a, c, a]).task_ids == ["A", "C"]
    # a cycle
    a.upstream_tasks.append(c)
    with pytest.raises(ValueError, match="cycle"):
        daisy.DependencyGraph([c])
    with pytest.raises(ValueError, match="cycle"):
        daisy.Scheduler([c])


def test_expand_helpers_are_exported():
    assert daisy.expand_roi_to_grid(
        Roi((3,), (2,)), Roi((0,), (12,)), Roi((0,), (5,)), Roi((1,), (3,))
    ) == Roi((1,), (6,))
    assert daisy.expand_write_roi_to_grid(Roi((3,), (2,)), Roi((0,), (3,))) == Roi((3,), (3,))


# --- the engine's tiling behind the Python helpers -----------------------------------------


def test_grid_helpers_are_the_engines():
    from daisy import _daisy, blocks

    args = (Roi((3,), (2,)), Roi((0,), (12,)), Roi((0,), (5,)), Roi((1,), (3,)))
    assert blocks.expand_roi_to_grid(*args) == _daisy.expand_roi_to_grid(*args) == Roi((1,), (6,))
    assert blocks.expand_request_roi_to_grid(*args) == _daisy.expand_request_roi_to_grid(*args)
    assert blocks.expand_request_roi_to_grid(*args) == Roi((0,), (8,))
    assert _daisy.expand_write_roi_to_grid(Roi((-1, 5), (3, 3)), Roi((7, 7), (4, 4))) == Roi(
        (-4, 4), (8, 4)
    )
    with pytest.raises(ValueError, match=r"expand_roi_to_grid\(\): write_roi must have a positive"):
        _daisy.expand_roi_to_grid(
            Roi((3,), (2,)), Roi((0,), (12,)), Roi((0,), (5,)), Roi((1,), (0,))
        )


@pytest.mark.parametrize("fit", ["valid", "overhang", "shrink"])
def test_grid_helpers_agree_with_the_graph(fit):
    # Every write ROI of a task is on the grid of expand_roi_to_grid, and a block built from
    # the total ROI and its write ROI gets the graph's id.
    total, read, write = Roi((-2, 3), (17, 13)), Roi((0, 0), (5, 4)), Roi((1, 1), (3, 2))
    graph = daisy.BlockwiseDependencyGraph("t", read, write, True, fit, total_read_roi=total)
    blocks = all_blocks(graph)
    assert len(blocks) == graph.num_blocks
    assert max(blocks) == graph.largest_id
    for spatial_id, block in blocks.items():
        requested = block.requested_write_roi
        assert daisy.expand_roi_to_grid(requested, total, read, write) == requested
        assert daisy.Block(total, block.read_roi, requested).block_id[1] == spatial_id
        assert graph.block_id(block.write_roi) == spatial_id


def test_level_stride_and_grid_come_from_the_engine():
    graph = graph_2d()
    assert graph.level_stride == graph._graph.level_stride == (2, 2)
    assert graph.grid_shape == (4, 4)
    assert graph.largest_id == 40  # the far corner, index (4, 4) on the grid of the total ROI
    assert graph_2d(read_write_conflict=False).level_stride == (1, 1)
    # No block fits: one level, stride of one block.
    empty = daisy.BlockwiseDependencyGraph(
        "t", Roi((0,), (5,)), Roi((1,), (3,)), total_read_roi=Roi((0,), (4,))
    )
    assert (empty.num_blocks, empty.largest_id, empty.level_stride) == (0, None, (3,))


def test_shrink_is_the_engines_whatever_the_fit():
    full = daisy.Block(Roi((0,), (12,)), Roi((9,), (5,)), Roi((10,), (3,)), task_id="t")
    for fit in ("valid", "overhang", "shrink"):
        graph = daisy.BlockwiseDependencyGraph(
            "t", Roi((0,), (5,)), Roi((1,), (3,)), True, fit, total_read_roi=Roi((0,), (12,))
        )
        assert graph.shrink_possible(full) == (fit == "shrink")
        shrunk = graph.shrink(full)
        assert (shrunk.read_roi, shrunk.write_roi) == (Roi((9,), (3,)), Roi((10,), (1,)))
        assert shrunk.requested_write_roi == Roi((10,), (3,))
        assert shrunk.block_id == full.block_id
        fitted = graph.fit_block(full)
        assert fitted.write_roi == (Roi((10,), (1,)) if fit == "shrink" else Roi((10,), (3,)))
