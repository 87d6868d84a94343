"""Property tests of daisy.Array: for random arrays and ROIs on the voxel grid, to_ndarray and
array[roi] agree with a voxel-by-voxel model, for in-memory data and for Zarr arrays read and
written by the engine."""

import itertools

import numpy as np
import pytest
from funlib.geometry import Roi
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import daisy

pytestmark = pytest.mark.timeout(120)

SHAPE = (2, 9, 7)  # one channel dimension
OFFSET = (-6, 12)
VOXEL_SIZE = (3, 2)
DATA = np.arange(int(np.prod(SHAPE)), dtype=np.int32).reshape(SHAPE)


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    path = tmp_path_factory.mktemp("props") / "a.zarr"
    a = daisy.prepare_ds(path, SHAPE, offset=OFFSET, voxel_size=VOXEL_SIZE, chunk_shape=(1, 4, 3),
                         dtype="int32")  # fmt: skip
    a[a.roi] = DATA
    return path


rois = st.tuples(
    st.integers(-8, 14), st.integers(-4, 12), st.integers(0, 8), st.integers(0, 8)
).map(
    lambda t: Roi(
        (OFFSET[0] + t[0] * VOXEL_SIZE[0], OFFSET[1] + t[1] * VOXEL_SIZE[1]),
        (t[2] * VOXEL_SIZE[0], t[3] * VOXEL_SIZE[1]),
    )
)


def model(roi, fill):
    """to_ndarray voxel by voxel: the voxel at world position p is the array's if the array's
    ROI contains p."""
    shape = (SHAPE[0], roi.shape[0] // VOXEL_SIZE[0], roi.shape[1] // VOXEL_SIZE[1])
    out = np.full(shape, fill, np.int32)
    for i, j in itertools.product(range(shape[1]), range(shape[2])):
        z = (roi.offset[0] + i * VOXEL_SIZE[0] - OFFSET[0]) // VOXEL_SIZE[0]
        y = (roi.offset[1] + j * VOXEL_SIZE[1] - OFFSET[1]) // VOXEL_SIZE[1]
        if 0 <= z < SHAPE[1] and 0 <= y < SHAPE[2]:
            out[:, i, j] = DATA[:, z, y]
    return out


def numpy_slice(roi):
    """DATA sliced as numpy would by the voxel region of ``roi``."""
    begin = [(b - o) // v for b, o, v in zip(roi.offset, OFFSET, VOXEL_SIZE, strict=True)]
    shape = [s // v for s, v in zip(roi.shape, VOXEL_SIZE, strict=True)]
    return DATA[(slice(None),) + tuple(slice(b, b + n) for b, n in zip(begin, shape, strict=True))]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(roi=rois, fill=st.integers(-5, 5))
def test_to_ndarray_and_reads_match_the_model(stored, roi, fill):
    memory = daisy.Array(DATA, offset=OFFSET, voxel_size=VOXEL_SIZE)
    on_disk = daisy.open_ds(stored)
    expected = model(roi, fill)
    for a in (memory, on_disk):
        np.testing.assert_array_equal(a.to_ndarray(roi, fill_value=fill), expected)
        if a.roi.contains(roi) and roi.empty:
            # Contained when its begin is (funlib.geometry's rule); its end may reach past
            # the array's, and the result is then clamped as numpy slicing is.
            assert a[roi].shape == numpy_slice(roi).shape
        elif a.roi.contains(roi):
            np.testing.assert_array_equal(a[roi], expected)
        else:
            with pytest.raises(IndexError):
                a[roi]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(roi=rois, value=st.integers(-100, 100))
def test_writes_match_numpy(tmp_path_factory, roi, value):
    path = tmp_path_factory.mktemp("w") / "a.zarr"
    on_disk = daisy.prepare_ds(path, SHAPE, offset=OFFSET, voxel_size=VOXEL_SIZE,
                               chunk_shape=(2, 4, 4), dtype="int32")  # fmt: skip
    on_disk[on_disk.roi] = DATA
    memory = daisy.Array(DATA.copy(), offset=OFFSET, voxel_size=VOXEL_SIZE)
    if not memory.roi.contains(roi):
        return
    for a in (memory, on_disk):
        a[roi] = value
    np.testing.assert_array_equal(on_disk[on_disk.roi], memory[memory.roi])
    np.testing.assert_array_equal(daisy.open_ds(path)[on_disk.roi], memory[memory.roi])
