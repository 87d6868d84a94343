"""daisy.coordinate, daisy.roi, daisy.freezable and the grid helpers of daisy.blocks (docs/semantics.md#geometry, #tiling)."""

import funlib.geometry
import pytest
from funlib.geometry import Coordinate, Roi

import daisy.coordinate
import daisy.roi
from daisy.blocks import expand_request_roi_to_grid, expand_roi_to_grid, expand_write_roi_to_grid
from daisy.freezable import Freezable

# Pure computation: no test here waits for anything.
pytestmark = pytest.mark.timeout(30)


def test_coordinate_and_roi_are_funlibs_own_classes():
    assert daisy.coordinate.Coordinate is funlib.geometry.Coordinate
    assert daisy.roi.Roi is funlib.geometry.Roi


# --- Freezable (docs/semantics.md#geometry, #blocks-and-block-ids) -------------------------------------------------------------


class Thing(Freezable):
    def __init__(self):
        self.x = 1
        self.freeze()

    def __repr__(self):
        return f"Thing(x={self.x:d})"


def test_freezable_allows_existing_attributes_and_rejects_new_ones():
    thing = Thing()
    thing.x = 2
    assert thing.x == 2
    with pytest.raises(TypeError) as e:
        thing.y = 3
    assert str(e.value) == "Thing(x=2) is frozen, you can't add attributes to it"
    assert not hasattr(thing, "y")


def test_freezable_thaw_allows_new_attributes_again():
    thing = Thing()
    thing.thaw()
    thing.y = 3
    assert thing.y == 3
    thing.freeze()
    with pytest.raises(TypeError):
        thing.z = 4


def test_unfrozen_freezable_accepts_anything():
    class Open(Freezable):
        pass

    o = Open()
    o.anything = 1
    assert o.anything == 1


# --- expand_roi_to_grid (docs/semantics.md#tiling) -----------------------------------------------------------


def test_expand_roi_to_grid_1d_worked_example():
    result = expand_roi_to_grid(Roi((3,), (2,)), Roi((0,), (12,)), Roi((0,), (5,)), Roi((1,), (3,)))
    assert result == Roi((1,), (6,))
    assert repr(result) == "[1:7] (6)"


def test_expand_roi_to_grid_2d_worked_example():
    result = expand_roi_to_grid(
        Roi((5, 5), (3, 3)), Roi((0, 0), (16, 16)), Roi((0, 0), (4, 4)), Roi((1, 1), (2, 2))
    )
    assert result == Roi((5, 5), (4, 4))
    assert repr(result) == "[5:9, 5:9] (4, 4)"


def test_expand_roi_to_grid_keeps_aligned_rois_and_handles_negative_offsets():
    total, read, write = Roi((-10,), (30,)), Roi((0,), (5,)), Roi((1,), (3,))
    # grid: blocks begin at 1 - 10 = -9 plus multiples of 3
    assert expand_roi_to_grid(Roi((-9,), (6,)), total, read, write) == Roi((-9,), (6,))
    assert expand_roi_to_grid(Roi((-8,), (1,)), total, read, write) == Roi((-9,), (3,))
    assert expand_roi_to_grid(Roi((-10,), (2,)), total, read, write) == Roi((-12,), (6,))


def test_expand_request_roi_to_grid_adds_the_read_context():
    result = expand_request_roi_to_grid(
        Roi((3,), (2,)), Roi((0,), (12,)), Roi((0,), (5,)), Roi((1,), (3,))
    )
    # [1:7] grown by 1 (write.begin - read.begin) and 1 (read.end - write.end)
    assert result == Roi((0,), (8,))


def test_expand_request_roi_to_grid_asymmetric_context():
    # read [0:6], write [1:3]: context 1 below, 3 above; grid anchored at 1, step 2
    result = expand_request_roi_to_grid(
        Roi((4,), (1,)), Roi((0,), (20,)), Roi((0,), (6,)), Roi((1,), (2,))
    )
    assert result == Roi((3,), (2,)).grow(1, 3)
    assert result == Roi((2,), (6,))


# --- expand_write_roi_to_grid (docs/semantics.md#tiling) -----------------------------------------------------


def test_expand_write_roi_to_grid_worked_examples():
    assert expand_write_roi_to_grid(Roi((3,), (2,)), Roi((0,), (3,))) == Roi((3,), (3,))
    result = expand_write_roi_to_grid(Roi((-1, 5), (3, 3)), Roi((0, 0), (4, 4)))
    assert result == Roi((-4, 4), (8, 4))
    assert repr(result) == "[-4:4, 4:8] (8, 4)"


def test_expand_write_roi_to_grid_uses_only_the_write_shape():
    assert expand_write_roi_to_grid(Roi((3,), (2,)), Roi((100,), (3,))) == Roi((3,), (3,))


# --- errors ---------------------------------------------------------------------------------


def test_grid_helpers_reject_non_rois_naming_the_argument():
    with pytest.raises(
        TypeError, match=r"expand_roi_to_grid\(\): sub_roi must be a funlib.geometry.Roi"
    ):
        expand_roi_to_grid((3, 5), Roi((0,), (12,)), Roi((0,), (5,)), Roi((1,), (3,)))
    with pytest.raises(TypeError, match=r"expand_write_roi_to_grid\(\): write_roi must be"):
        expand_write_roi_to_grid(Roi((3,), (2,)), Coordinate(3))


def test_grid_helpers_reject_unbounded_rois():
    with pytest.raises(ValueError, match=r"sub_roi must be bounded, got \[:\] \(inf\)"):
        expand_roi_to_grid(
            Roi((None,), (None,)), Roi((0,), (12,)), Roi((0,), (5,)), Roi((1,), (3,))
        )
    with pytest.raises(ValueError, match="roi must be bounded"):
        expand_write_roi_to_grid(Roi((0, None), (5, None)), Roi((0, 0), (4, 4)))


def test_grid_helpers_reject_mismatched_dimensions():
    with pytest.raises(ValueError, match="same dimensions, but sub_roi has 2, total_roi has 1"):
        expand_roi_to_grid(Roi((0, 0), (3, 3)), Roi((0,), (12,)), Roi((0,), (5,)), Roi((1,), (3,)))
    with pytest.raises(ValueError, match="roi has 1, write_roi has 2"):
        expand_write_roi_to_grid(Roi((0,), (3,)), Roi((0, 0), (4, 4)))


def test_grid_helpers_reject_non_positive_write_shapes():
    with pytest.raises(
        ValueError,
        match=r"write_roi must have a positive shape in every dimension, got \[empty ROI\]",
    ):
        expand_roi_to_grid(Roi((3,), (2,)), Roi((0,), (12,)), Roi((0,), (5,)), Roi((1,), (0,)))
    with pytest.raises(ValueError, match="positive shape"):
        expand_write_roi_to_grid(Roi((3,), (2,)), Roi((0,), (-2,)))


def test_grid_helpers_are_exact_for_large_coordinates():
    big = 2**62
    result = expand_write_roi_to_grid(Roi((big + 1,), (1,)), Roi((0,), (3,)))
    assert result.begin[0] % 3 == 0
    assert result.begin[0] <= big + 1 and result.end[0] >= big + 2
