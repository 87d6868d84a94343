"""daisy.Array over in-memory data, side by side with funlib.persistence 0.7's Array.

The tests parametrized with ``persistence`` run once against ``funlib.persistence`` and once
against ``daisy.persistence``: the same calls, the same outcomes. The tests without it cover
what only daisy does (or does differently: clearer error classes, ROIs off the voxel grid).
"""

import importlib
import pickle

import numpy as np
import pytest
from funlib.geometry import Coordinate, Roi

import daisy
import daisy.persistence

pytestmark = [
    pytest.mark.timeout(60),
    # funlib.persistence warns that axis names ending in "^" are deprecated.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


@pytest.fixture(params=["funlib.persistence", "daisy.persistence"])
def persistence(request):
    return importlib.import_module(request.param)


def volume(shape, dtype=np.int64):
    return np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape)


# --- properties --------------------------------------------------------------------------


def test_defaults(persistence):
    a = persistence.Array(volume((10, 20)))
    assert a.roi == Roi((0, 0), (10, 20))
    assert a.offset == Coordinate(0, 0)
    assert a.voxel_size == Coordinate(1, 1)
    assert a.axis_names == ["d0", "d1"]
    assert a.units == ["", ""]
    assert a.types == ["space", "space"]
    assert (a.dims, a.channel_dims, a.spatial_dims) == (2, 0, 2)
    assert a.shape == (10, 20)
    assert a.physical_shape == (10, 20)
    assert a.dtype == np.int64
    assert a.is_writeable


def test_metadata_with_channels(persistence):
    a = persistence.Array(volume((3, 10, 20)), offset=(2, 4), voxel_size=(2, 3), units=("nm", "nm"))
    assert a.roi == Roi((2, 4), (20, 60))
    assert a.axis_names == ["c0^", "d0", "d1"]
    assert a.types == ["channel", "space", "space"]
    assert a.units == ["nm", "nm"]
    assert (a.dims, a.channel_dims, a.spatial_dims) == (3, 1, 2)
    assert a.physical_shape == (10, 20)
    assert a.shape == (3, 10, 20)


def test_types_decide_the_channels(persistence):
    a = persistence.Array(volume((2, 4, 6)), types=["channel", "time", "space"], voxel_size=(5, 1))
    assert a.channel_dims == 1
    assert a.axis_names == ["c0^", "d0", "d1"]
    assert a.roi == Roi((0, 0), (20, 6))


def test_axis_names_decide_the_channels(persistence):
    a = persistence.Array(volume((2, 4, 6)), axis_names=["c^", "z", "y"])
    assert a.types == ["channel", "space", "space"]
    assert a.voxel_size == Coordinate(1, 1)


def test_offset_and_voxel_size_for_every_dimension_are_stripped(persistence):
    a = persistence.Array(
        volume((2, 4, 6)),
        types=["channel", "space", "space"],
        voxel_size=(1, 2, 3),
        offset=(0, 4, 6),
    )
    assert a.voxel_size == Coordinate(2, 3)
    assert a.offset == Coordinate(4, 6)


def test_chunk_shape_given(persistence):
    assert persistence.Array(volume((10, 20)), chunks=(5, 4)).chunk_shape == Coordinate(5, 4)


def test_chunk_shape_of_chunked_data():
    """funlib.persistence reports dask's automatic chunks; daisy the data's own."""
    zarr = pytest.importorskip("zarr")
    z = zarr.create_array(zarr.storage.MemoryStore(), shape=(10, 20), chunks=(5, 4), dtype="u1")
    assert daisy.Array(z).chunk_shape == Coordinate(5, 4)
    assert daisy.Array(volume((10, 20))).chunk_shape == Coordinate(10, 20)


def test_ambiguous_physical_dimensions_are_a_value_error(persistence):
    with pytest.raises(ValueError, match="ambiguous"):
        persistence.Array(volume((4, 4)), voxel_size=(1, 1), offset=(1, 1, 1))


def test_metadata_errors_are_value_errors_naming_the_values():
    with pytest.raises(ValueError, match="axis names"):
        daisy.Array(volume((4, 4)), axis_names=["a"], types=["space", "space"])
    with pytest.raises(ValueError, match="voxel size"):
        daisy.Array(volume((4, 4)), voxel_size=(0, 1))
    with pytest.raises(ValueError, match="3 types"):
        daisy.Array(volume((4, 4)), types=["space"] * 3)


# --- reading -----------------------------------------------------------------------------


def test_read_roi(persistence):
    data = volume((3, 10, 20))
    a = persistence.Array(data, offset=(2, 4), voxel_size=(2, 3))
    out = a[Roi((4, 10), (6, 9))]
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, data[:, 1:4, 2:5])
    np.testing.assert_array_equal(a[a.roi], data)


def test_read_roi_outside_is_an_index_error(persistence):
    a = persistence.Array(volume((10, 10)), offset=(10, 10))
    with pytest.raises(IndexError):
        a[Roi((0, 0), (15, 15))]
    with pytest.raises(IndexError):
        a[Roi((18, 18), (4, 4))]


def test_read_coordinate(persistence):
    data = volume((10, 20))
    a = persistence.Array(data, offset=(10, 20), voxel_size=(2, 2))
    assert a[Coordinate(14, 26)] == data[2, 3]
    with pytest.raises(IndexError):
        a[Coordinate(0, 0)]


def test_read_coordinate_with_channels(persistence):
    data = volume((2, 10, 20))
    a = persistence.Array(data, voxel_size=(1, 1))
    np.testing.assert_array_equal(a[Coordinate(2, 3)], data[:, 2, 3])


@pytest.mark.parametrize(
    "key",
    [
        np.s_[:],
        np.s_[2:5],
        np.s_[1, 2:7],
        np.s_[..., 3],
        np.s_[-3:],
        np.s_[::2, 1:9:3],
        np.s_[8:2:-2],
        np.s_[4],
        np.s_[4, 5],
        np.s_[[1, 3]],
        np.s_[np.arange(10) % 3 == 0],
    ],
)
def test_read_voxel_keys(persistence, key):
    data = volume((10, 12))
    a = persistence.Array(data, offset=(100, 100), voxel_size=(3, 3))
    np.testing.assert_array_equal(a[key], data[key])


def test_read_returns_a_copy_of_numpy_data():
    data = volume((4, 4))
    out = daisy.Array(data)[Roi((0, 0), (2, 2))]
    out[:] = -1
    assert data[0, 0] == 0


# --- writing -----------------------------------------------------------------------------


def test_write_roi_writes_through(persistence):
    data = np.zeros((2, 10, 10), np.uint8)
    a = persistence.Array(data, offset=(4, 8), voxel_size=(2, 2))
    a[Roi((6, 8), (4, 6))] = np.full((2, 2, 3), 7, np.uint8)
    expected = np.zeros_like(data)
    expected[:, 1:3, 0:3] = 7
    np.testing.assert_array_equal(data, expected)
    np.testing.assert_array_equal(a[a.roi], expected)


def test_write_scalar(persistence):
    data = np.zeros((10, 10), np.float32)
    a = persistence.Array(data)
    a[Roi((2, 2), (3, 3))] = 1.5
    assert data.sum() == pytest.approx(9 * 1.5)


def test_write_voxel_keys(persistence):
    data = np.zeros((10, 10), np.int32)
    a = persistence.Array(data)
    a[np.s_[1:3, 4:6]] = 5
    a[0] = np.arange(10)
    a[np.s_[::3, 9]] = -1
    expected = np.zeros((10, 10), np.int32)
    expected[1:3, 4:6] = 5
    expected[0] = np.arange(10)
    expected[::3, 9] = -1
    np.testing.assert_array_equal(data, expected)


def test_write_outside_is_an_index_error(persistence):
    a = persistence.Array(np.zeros((10, 10)))
    with pytest.raises(IndexError):
        a[Roi((5, 5), (10, 10))] = 1


def test_write_of_the_wrong_shape_is_a_value_error(persistence):
    a = persistence.Array(np.zeros((10, 10)))
    with pytest.raises(ValueError):
        a[Roi((0, 0), (4, 4))] = np.ones((3, 3))


# --- to_ndarray --------------------------------------------------------------------------


def test_to_ndarray_inside_across_and_outside(persistence):
    data = volume((2, 10, 10))
    a = persistence.Array(data, offset=(10, 10), voxel_size=(2, 2))
    np.testing.assert_array_equal(a.to_ndarray(Roi((12, 12), (4, 4))), data[:, 1:3, 1:3])
    across = a.to_ndarray(Roi((6, 26), (8, 8)), fill_value=-1)
    assert across.shape == (2, 4, 4)
    expected = np.full((2, 4, 4), -1)
    expected[:, 2:, :2] = data[:, 0:2, 8:10]
    np.testing.assert_array_equal(across, expected)
    outside = a.to_ndarray(Roi((100, 100), (4, 2)))
    np.testing.assert_array_equal(outside, np.zeros((2, 2, 1)))
    assert across.dtype == data.dtype


def test_to_ndarray_off_the_voxel_grid_is_a_value_error():
    a = daisy.Array(volume((10, 10)), voxel_size=(2, 2))
    with pytest.raises(ValueError, match="voxel grid"):
        a.to_ndarray(Roi((1, 0), (4, 4)))


def test_read_off_the_voxel_grid_is_a_value_error():
    """funlib.persistence rounds such ROIs down silently; daisy refuses them."""
    a = daisy.Array(volume((10, 10)), voxel_size=(2, 2))
    with pytest.raises(ValueError, match="voxel grid"):
        a[Roi((1, 0), (2, 2))]
    with pytest.raises(ValueError, match="voxel grid"):
        a[Roi((0, 0), (3, 2))] = 0


def test_roi_of_other_dimensions_is_a_value_error():
    a = daisy.Array(volume((10, 10)))
    with pytest.raises(ValueError, match="dimensions"):
        a[Roi((0,), (2,))]


# --- world and voxel space ----------------------------------------------------------------


def test_pixel_and_world_space(persistence):
    a = persistence.Array(volume((10, 10)), offset=(10, 20), voxel_size=(2, 4))
    assert a.to_pixel_space(Coordinate(14, 28)) == Coordinate(2, 2)
    assert a.to_pixel_space(Roi((12, 24), (4, 8))) == Roi((1, 1), (2, 2))
    np.testing.assert_array_equal(a.to_pixel_space([15, 22]), [2.5, 0.5])
    assert a.to_world_space(Coordinate(2, 2)) == Coordinate(14, 28)
    assert a.to_world_space(Roi((1, 1), (2, 2))) == Roi((12, 24), (4, 8))
    np.testing.assert_array_equal(a.to_world_space([1, 1]), [12, 24])
    with pytest.raises(ValueError):
        a.to_pixel_space(Coordinate(0, 0))


# --- lazy ops ----------------------------------------------------------------------------


def test_lazy_roi(persistence):
    data = volume((10, 10))
    a = persistence.Array(data, offset=(10, 10), voxel_size=(2, 2))
    a.lazy_op(Roi((14, 12), (6, 8)))
    assert a.roi == Roi((14, 12), (6, 8))
    assert a.shape == (3, 4)
    np.testing.assert_array_equal(a[a.roi], data[2:5, 1:5])
    np.testing.assert_array_equal(a[Coordinate(16, 12)], data[3, 1])


def test_lazy_roi_write():
    """funlib.persistence 0.7 writes a Roi of a Roi-windowed array relative to the window's
    offset into the whole data (here voxel [0, 0]); daisy writes where the Roi is."""
    data = volume((10, 10))
    a = daisy.Array(data, offset=(10, 10), voxel_size=(2, 2))
    a.lazy_op(Roi((14, 12), (6, 8)))
    a[Roi((14, 12), (2, 2))] = -5
    assert data[2, 1] == -5
    assert (data == -5).sum() == 1


def test_lazy_slices_collapse_and_keep_the_offset(persistence):
    data = volume((3, 10, 10))
    a = persistence.Array(data, offset=(4, 4), voxel_size=(2, 2))
    a.lazy_op(np.s_[1, :, 2:8])
    assert a.shape == (10, 6)
    assert a.axis_names == ["d0", "d1"]
    assert a.channel_dims == 0
    assert a.roi == Roi((4, 4), (20, 12))
    np.testing.assert_array_equal(a[a.roi], data[1, :, 2:8])
    np.testing.assert_array_equal(a[Roi((6, 4), (2, 4))], data[1, 1:2, 2:4])
    assert a.is_writeable
    a[Roi((4, 4), (2, 2))] = -1
    assert data[1, 0, 2] == -1


def test_lazy_callable_reads_and_is_read_only(persistence):
    data = volume((10, 10))
    a = persistence.Array(data)
    a.lazy_op(lambda d: d * 2)
    np.testing.assert_array_equal(a[Roi((0, 0), (2, 2))], data[:2, :2] * 2)
    assert not a.is_writeable
    with pytest.raises(RuntimeError):
        a[Roi((0, 0), (2, 2))] = 0


def test_lazy_op_argument(persistence):
    data = volume((10, 10))
    a = persistence.Array(data, lazy_op=Roi((2, 2), (4, 4)))
    assert a.roi == Roi((2, 2), (4, 4))
    np.testing.assert_array_equal(a[a.roi], data[2:6, 2:6])


def test_unsupported_lazy_op_is_a_value_error():
    a = daisy.Array(volume((10, 10)))
    with pytest.raises(ValueError, match="lazy op"):
        a.lazy_op(np.s_[::2])


# --- attributes, pickling --------------------------------------------------------------------


def test_attrs_of_in_memory_data(persistence):
    a = persistence.Array(volume((4, 4)))
    a.attrs["name"] = "raw"
    assert a.attrs == {"name": "raw"}


def test_in_memory_array_pickles():
    data = volume((2, 6, 6))
    a = daisy.Array(data, offset=(2, 2), voxel_size=(1, 1))
    a.lazy_op(Roi((3, 3), (2, 2)))
    b = pickle.loads(pickle.dumps(a))
    assert b.roi == a.roi
    np.testing.assert_array_equal(b[b.roi], data[:, 1:3, 1:3])


def test_validate(persistence):
    a = persistence.Array(volume((4, 4)), voxel_size=(1, 1))
    a.validate()
    a.validate(strict=False)


def test_data(persistence):
    data = volume((4, 6))
    np.testing.assert_array_equal(np.asarray(persistence.Array(data).data), data)
