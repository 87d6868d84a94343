"""daisy.open_ds / daisy.prepare_ds on Zarr arrays: round trips with zarr-python 3 and
funlib.persistence 0.7 in both directions, legacy attributes, prepare_ds's modes side by side
with funlib's, and the errors."""

import importlib
import json
import os
import pathlib

import numcodecs
import numpy as np
import pytest
import zarr
import zarr.codecs
from funlib.geometry import Coordinate, Roi

import daisy
import daisy.persistence

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]

DTYPES = ["bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64",
          "float32", "float64"]  # fmt: skip


@pytest.fixture(params=["funlib.persistence", "daisy.persistence"])
def persistence(request):
    return importlib.import_module(request.param)


def random_data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.random(shape) > 0.5
    if np.dtype(dtype).kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -1000), min(info.max, 1000), shape, endpoint=True).astype(
        dtype
    )


METADATA = dict(
    offset=(8, 12, 4),
    voxel_size=(4, 2, 1),
    axis_names=["c^", "z", "y", "x"],
    units=["nm", "nm", "nm"],
    types=["channel", "space", "space", "space"],
)


# --- written by daisy ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_written_by_daisy_read_by_zarr_and_funlib(tmp_path, dtype):
    path = tmp_path / "a.zarr"
    a = daisy.prepare_ds(path, (2, 10, 12, 7), chunk_shape=(1, 4, 5, 7), dtype=dtype, **METADATA)
    data = random_data((2, 10, 12, 7), dtype)
    a[a.roi] = data
    z = zarr.open_array(path, mode="r")
    assert z.metadata.zarr_format == 3
    assert z.dtype == np.dtype(dtype)
    assert z.chunks == (1, 4, 5, 7)
    np.testing.assert_array_equal(z[:], data)
    attrs = dict(z.attrs)
    assert attrs["offset"] == [8, 12, 4]
    assert attrs["voxel_size"] == [4, 2, 1]
    assert attrs["axis_names"] == ["c^", "z", "y", "x"]
    assert attrs["units"] == ["nm", "nm", "nm"]
    assert attrs["types"] == ["channel", "space", "space", "space"]
    f = importlib.import_module("funlib.persistence").open_ds(path)
    assert f.roi == a.roi == Roi((8, 12, 4), (40, 24, 7))
    assert f.voxel_size == a.voxel_size
    assert f.axis_names == a.axis_names
    assert f.units == a.units
    assert f.types == a.types
    np.testing.assert_array_equal(f[f.roi], data)


def test_new_arrays_are_zstd_level_0_like_funlib(tmp_path):
    daisy.prepare_ds(tmp_path / "d.zarr", (10, 10), dtype="uint8")
    importlib.import_module("funlib.persistence").prepare_ds(
        tmp_path / "f.zarr", (10, 10), dtype="uint8"
    )
    d = zarr.open_array(tmp_path / "d.zarr", mode="r")
    f = zarr.open_array(tmp_path / "f.zarr", mode="r")
    assert d.compressors == f.compressors
    assert d.chunks == f.chunks


def test_zarr_format_2(tmp_path):
    path = tmp_path / "v2.zarr"
    a = daisy.prepare_ds(path, (6, 6), dtype="int16", zarr_format=2, voxel_size=(3, 3))
    a[Roi((3, 3), (6, 6))] = 7
    z = zarr.open_array(path, mode="r")
    assert z.metadata.zarr_format == 2
    assert z[1:3, 1:3].tolist() == [[7, 7], [7, 7]]
    assert z.attrs["voxel_size"] == [3, 3]


def test_custom_metadata_and_attrs(tmp_path):
    path = tmp_path / "a.zarr"
    a = daisy.prepare_ds(path, (4, 4), custom_metadata={"source": "test", "n": np.int64(3)})
    assert a.attrs["source"] == "test"
    a.attrs["more"] = [1, 2]
    assert zarr.open_array(path, mode="r").attrs["more"] == [1, 2]
    assert daisy.open_ds(path).attrs["n"] == 3
    del a.attrs["more"]
    assert "more" not in zarr.open_array(path, mode="r").attrs
    with pytest.raises(KeyError):
        del a.attrs["more"]
    with pytest.raises(ValueError, match="read"):
        del daisy.open_ds(path).attrs["source"]
    with pytest.raises(ValueError, match="offset"):
        daisy.prepare_ds(tmp_path / "b.zarr", (4, 4), custom_metadata={"offset": [1, 1]})


# --- written by others, opened by daisy ----------------------------------------------------


def test_written_by_funlib(tmp_path):
    path = tmp_path / "f.zarr"
    fp = importlib.import_module("funlib.persistence")
    f = fp.prepare_ds(
        path,
        (3, 20, 30),
        offset=(12, 4),
        voxel_size=(2, 1),
        units=["nm", "nm"],
        dtype="float32",
        chunk_shape=(3, 8, 8),
    )
    data = random_data((3, 20, 30), "float32")
    f[f.roi] = data
    a = daisy.open_ds(path)
    assert a.roi == f.roi
    assert (a.voxel_size, a.offset, a.axis_names, a.units, a.types) == (
        f.voxel_size,
        f.offset,
        f.axis_names,
        f.units,
        f.types,
    )
    assert a.chunk_shape == Coordinate(3, 8, 8)
    np.testing.assert_array_equal(a[a.roi], data)
    inner = Roi((f.roi.offset[0] + 2, f.roi.offset[1] + 2), (4, 4))
    np.testing.assert_array_equal(a[inner], f[inner])


V2_COMPRESSORS = {
    "default": "auto",
    "none": None,
    "blosc": numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE),
    "gzip": numcodecs.GZip(level=5),
    "zstd": numcodecs.Zstd(level=3),
}
V3_COMPRESSORS = {
    "default": "auto",
    "none": None,
    "blosc": zarr.codecs.BloscCodec(cname="zstd", clevel=3, shuffle="bitshuffle"),
    "gzip": zarr.codecs.GzipCodec(level=5),
    "zstd": zarr.codecs.ZstdCodec(level=3),
}


@pytest.mark.parametrize("zarr_format", [2, 3])
@pytest.mark.parametrize("codec", ["default", "none", "blosc", "gzip", "zstd"])
@pytest.mark.parametrize("dtype", ["uint8", "int32", "float64"])
def test_written_by_zarr_python(tmp_path, zarr_format, codec, dtype):
    path = tmp_path / "z.zarr"
    compressors = (V2_COMPRESSORS if zarr_format == 2 else V3_COMPRESSORS)[codec]
    z = zarr.create_array(
        str(path),
        shape=(13, 17),
        chunks=(5, 4),
        dtype=dtype,
        zarr_format=zarr_format,
        compressors=compressors,
    )
    data = random_data((13, 17), dtype)
    z[:] = data
    z.attrs.update({"offset": [10, 20], "voxel_size": [2, 1]})
    a = daisy.open_ds(path)
    assert a.roi == Roi((10, 20), (26, 17))
    np.testing.assert_array_equal(a[a.roi], data)
    np.testing.assert_array_equal(a[Roi((14, 23), (6, 5))], data[2:5, 3:8])
    # and daisy writes what zarr-python reads
    b = daisy.open_ds(path, mode="r+")
    b[Roi((10, 20), (4, 4))] = np.full((2, 4), 1, dtype)
    np.testing.assert_array_equal(zarr.open_array(str(path), mode="r")[:2, :4], 1)


def test_sharded_array_by_zarr_python(tmp_path):
    path = tmp_path / "s.zarr"
    z = zarr.create_array(str(path), shape=(32, 32), chunks=(4, 4), shards=(16, 16), dtype="u2")
    data = random_data((32, 32), "uint16")
    z[:] = data
    a = daisy.open_ds(path)
    np.testing.assert_array_equal(a[Roi((3, 5), (20, 11))], data[3:23, 5:16])


def test_array_inside_a_group_and_local_store(tmp_path):
    group = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    raw = group.create_array("raw", shape=(8, 8), chunks=(4, 4), dtype="u1")
    raw[:] = 3
    a = daisy.open_ds(str(tmp_path / "g.zarr") + "/raw")
    assert a[a.roi].sum() == 3 * 64
    b = daisy.open_ds(zarr.storage.LocalStore(str(tmp_path / "g.zarr" / "raw")))
    assert b.shape == (8, 8)
    c = daisy.open_ds(pathlib.Path(tmp_path) / "g.zarr" / "raw")
    assert c.roi == a.roi


def test_legacy_resolution_attribute(tmp_path):
    """daisy <= 1.0's prepare_ds wrote the voxel size as `resolution`."""
    path = tmp_path / "old.zarr"
    z = zarr.create_array(str(path), shape=(10, 10), chunks=(5, 5), dtype="u1", zarr_format=2)
    z[:] = volume_u8((10, 10))
    z.attrs.update({"resolution": [4, 8], "offset": [40, 80]})
    a = daisy.open_ds(path)
    assert a.voxel_size == Coordinate(4, 8)
    assert a.roi == Roi((40, 80), (40, 80))
    np.testing.assert_array_equal(a[Roi((44, 88), (4, 8))], z[1:2, 1:2])


def volume_u8(shape):
    return (np.arange(int(np.prod(shape))) % 251).astype(np.uint8).reshape(shape)


def test_remapped_metadata_format(tmp_path):
    path = tmp_path / "m.zarr"
    z = zarr.create_array(str(path), shape=(6, 6), chunks=(3, 3), dtype="u1")
    z.attrs.update({"meta": {"res": [2, 2], "off": [4, 4]}})
    fmt = daisy.persistence.MetaDataFormat(voxel_size_attr="meta/res", offset_attr="meta/off")
    assert fmt.voxel_size_attr == "meta/res"
    a = daisy.open_ds(path, metadata_format=fmt)
    assert a.roi == Roi((4, 4), (12, 12))
    old = daisy.persistence.get_default_metadata_format()
    daisy.persistence.set_default_metadata_format(fmt)
    try:
        assert daisy.open_ds(path).voxel_size == Coordinate(2, 2)
    finally:
        daisy.persistence.set_default_metadata_format(old)
    assert daisy.open_ds(path).voxel_size == Coordinate(1, 1)


def test_overrides(tmp_path):
    path = tmp_path / "a.zarr"
    daisy.prepare_ds(path, (10, 10), voxel_size=(2, 2), dtype="uint8")
    a = daisy.open_ds(path, voxel_size=(5, 5), offset=(10, 10), units=["um", "um"])
    assert a.roi == Roi((10, 10), (50, 50))
    assert a.units == ["um", "um"]


# --- prepare_ds's rules, side by side ------------------------------------------------------


def outcome(function):
    """What a prepare_ds call gave: the exception class, or the array's shape and metadata.
    (Not its chunk_shape: funlib's reports dask's chunking of a new array; the stored chunks
    are compared below; nor is_writeable: funlib's is True for arrays opened read-only.)"""
    try:
        a = function()
    except Exception as e:  # the class is what is compared
        return type(e).__name__ if not isinstance(e, PermissionError) else "PermissionError"
    return (a.shape, tuple(a.roi.offset), tuple(a.voxel_size), a.dtype.name, a.units,
            a.axis_names, a.types)  # fmt: skip


SCENARIOS = {
    # name: (first prepare_ds kwargs or None, second prepare_ds kwargs)
    "new": (None, dict(mode="a")),
    "new w": (None, dict(mode="w")),
    "new w-": (None, dict(mode="w-")),
    "new r": (None, dict(mode="r")),
    "new r+": (None, dict(mode="r+")),
    "compatible a": ({}, dict(mode="a")),
    "compatible r": ({}, dict(mode="r")),
    "compatible r+": ({}, dict(mode="r+")),
    "compatible w": ({}, dict(mode="w")),
    "compatible w-": ({}, dict(mode="w-")),
    "offset differs": ({}, dict(offset=(100, 200))),
    "shape differs a": ({}, dict(shape=(12, 16))),
    "shape differs w": ({}, dict(shape=(12, 16), mode="w")),
    "dtype differs": ({}, dict(dtype="float32")),
    "dtype differs w": ({}, dict(dtype="float32", mode="w")),
    "chunks differ": ({}, dict(chunk_shape=(5, 5))),
    "chunks same": ({}, dict(chunk_shape=(4, 8))),
    "voxel size differs a": ({}, dict(voxel_size=(3, 3))),
    "voxel size differs r": ({}, dict(voxel_size=(3, 3), mode="r")),
    "units differ": ({}, dict(units=["um", "um"])),
    "axis names differ": ({}, dict(axis_names=["y", "x"])),
}
BASE = dict(shape=(8, 16), offset=(4, 8), voxel_size=(2, 1), chunk_shape=(4, 8), dtype="uint8")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_prepare_ds_rules_like_funlib(tmp_path, scenario):
    first, second = SCENARIOS[scenario]
    outcomes = {}
    for name in ("funlib.persistence", "daisy.persistence"):
        fp = importlib.import_module(name)
        path = tmp_path / name / "a.zarr"
        path.parent.mkdir()
        if first is not None:
            a = fp.prepare_ds(path, **{**BASE, **first})
            a[a.roi] = 9
        kwargs = {**BASE, **second}
        if "chunk_shape" not in second and first is not None:
            del kwargs["chunk_shape"]
        result = outcome(lambda fp=fp, path=path, kwargs=kwargs: fp.prepare_ds(path, **kwargs))
        kept = None
        if os.path.exists(path):
            z = zarr.open_array(str(path), mode="r")
            kept = (z.shape, z.chunks, z.dtype.name, int(np.asarray(z[0, 0])),
                    json.dumps(dict(z.attrs), sort_keys=True))  # fmt: skip
        outcomes[name] = (result, kept)
    assert outcomes["daisy.persistence"] == outcomes["funlib.persistence"]


def test_prepare_ds_error_messages_name_the_field(tmp_path):
    daisy.prepare_ds(tmp_path / "a.zarr", (8, 8), dtype="uint8")
    with pytest.raises(PermissionError, match="shape"):
        daisy.prepare_ds(tmp_path / "a.zarr", (8, 9), dtype="uint8")
    with pytest.raises(PermissionError, match="dtype"):
        daisy.prepare_ds(tmp_path / "a.zarr", (8, 8), dtype="int8")
    with pytest.raises(PermissionError, match="voxel size"):
        daisy.prepare_ds(tmp_path / "a.zarr", (8, 8), dtype="uint8", voxel_size=(2, 2), mode="r")


# --- errors ------------------------------------------------------------------------------


def test_open_missing_is_file_not_found(tmp_path, persistence):
    with pytest.raises(FileNotFoundError):
        persistence.open_ds(tmp_path / "nothing.zarr")


def test_open_group_is_a_type_error(tmp_path, persistence):
    zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    with pytest.raises(TypeError):
        persistence.open_ds(str(tmp_path / "g.zarr"))


def test_open_plain_directory_or_garbage_is_a_type_error(tmp_path):
    (tmp_path / "plain").mkdir()
    with pytest.raises(TypeError, match="plain"):
        daisy.open_ds(tmp_path / "plain")
    (tmp_path / "bad.zarr").mkdir()
    (tmp_path / "bad.zarr" / "zarr.json").write_text("{not json")
    with pytest.raises(TypeError, match="bad.zarr"):
        daisy.open_ds(tmp_path / "bad.zarr")


def test_store_of_another_kind_is_a_type_error():
    with pytest.raises(TypeError, match="store"):
        daisy.open_ds(zarr.storage.MemoryStore())
    with pytest.raises(TypeError, match="store"):
        daisy.prepare_ds(42, (4, 4))


def test_unknown_keyword_is_a_type_error(tmp_path):
    with pytest.raises(TypeError, match="synchronizer"):
        daisy.prepare_ds(tmp_path / "a.zarr", (4, 4), synchronizer=None)


def test_unsupported_dtype_is_a_type_error(tmp_path):
    with pytest.raises(TypeError, match="complex64"):
        daisy.prepare_ds(tmp_path / "a.zarr", (4, 4), dtype=np.complex64)


def test_write_to_read_only_is_a_value_error_like_funlib(tmp_path, persistence):
    persistence.prepare_ds(tmp_path / "a.zarr", (4, 4), dtype="uint8")
    a = persistence.open_ds(tmp_path / "a.zarr")
    assert a[a.roi].sum() == 0
    with pytest.raises(ValueError):
        a[a.roi] = 1


def test_read_only_error_names_path_and_mode(tmp_path):
    daisy.prepare_ds(tmp_path / "a.zarr", (4, 4), dtype="uint8")
    a = daisy.open_ds(tmp_path / "a.zarr")
    assert not a.is_writeable
    with pytest.raises(ValueError, match=r"a\.zarr.*'r'|a\.zarr.*\"r\""):
        a[a.roi] = 1


def test_roi_outside_names_the_array(tmp_path):
    a = daisy.prepare_ds(tmp_path / "a.zarr", (4, 4), dtype="uint8", offset=(4, 4))
    with pytest.raises(IndexError, match=r"\[4:8, 4:8\]"):
        a[Roi((0, 0), (4, 4))]


def test_to_ndarray_of_zarr(tmp_path):
    a = daisy.prepare_ds(tmp_path / "a.zarr", (2, 8, 8), dtype="int32", offset=(8, 8),
                         voxel_size=(2, 2))  # fmt: skip
    data = random_data((2, 8, 8), "int32")
    a[a.roi] = data
    out = a.to_ndarray(Roi((4, 20), (8, 8)), fill_value=-7)
    expected = np.full((2, 4, 4), -7, np.int32)
    expected[:, 2:, :2] = data[:, :2, 6:]
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(a.to_ndarray(a.roi), data)


def test_voxel_keys_and_lazy_ops_of_zarr(tmp_path):
    a = daisy.prepare_ds(tmp_path / "a.zarr", (3, 10, 12), dtype="int64", chunk_shape=(1, 4, 4))
    data = np.arange(360).reshape(3, 10, 12)
    a[a.roi] = data
    for key in [np.s_[:], np.s_[1], np.s_[0, 2:5], np.s_[..., ::3], np.s_[2, 9:1:-2, 4]]:
        np.testing.assert_array_equal(a[key], data[key])
        np.testing.assert_array_equal(a.data[key], data[key])
    a[np.s_[0, ::2, 0]] = -1
    data[0, ::2, 0] = -1
    np.testing.assert_array_equal(a[a.roi], data)
    a.lazy_op(np.s_[2])
    a.lazy_op(Roi((2, 4), (4, 4)))
    assert a.shape == (4, 4)
    np.testing.assert_array_equal(a[a.roi], data[2, 2:6, 4:8])
    np.testing.assert_array_equal(a[Coordinate(3, 5)], data[2, 3, 5])
    a.lazy_op(lambda d: d + 0.5)
    assert a.dtype == np.float64
    np.testing.assert_array_equal(a.to_ndarray(a.roi), data[2, 2:6, 4:8] + 0.5)
    np.testing.assert_array_equal(a.to_ndarray(Roi((0, 4), (4, 4)))[:2], 0)


def test_stats_count_decoded_chunks_and_cache_hits(tmp_path):
    a = daisy.prepare_ds(tmp_path / "a.zarr", (64, 64), dtype="uint8", chunk_shape=(16, 16))
    a[a.roi] = 1
    b = daisy.open_ds(tmp_path / "a.zarr")
    b[Roi((0, 0), (32, 32))]
    first = b.stats()
    assert first["chunks_decoded"] == 4
    b[Roi((16, 16), (32, 32))]
    second = b.stats()
    assert second["chunks_decoded"] - first["chunks_decoded"] == 3
    assert second["chunk_cache_hits"] - first["chunk_cache_hits"] == 1
    c = daisy.open_ds(tmp_path / "a.zarr", cache_size=0)
    c[Roi((0, 0), (32, 32))]
    c[Roi((0, 0), (32, 32))]
    assert c.stats()["chunks_decoded"] == 8
    assert daisy.Array(np.zeros(3)).stats() is None
    with pytest.raises(ValueError, match="cache_size"):
        daisy.open_ds(tmp_path / "a.zarr", cache_size=-1)


def test_top_level_and_persistence_names():
    assert daisy.Array is daisy.persistence.Array
    assert daisy.open_ds is daisy.persistence.open_ds
    assert daisy.prepare_ds is daisy.persistence.prepare_ds
    from daisy.persistence.arrays import Array, open_ds, prepare_ds  # noqa: F401
    from daisy.persistence.arrays.metadata import (  # noqa: F401
        MetaDataFormat,
        get_default_metadata_format,
        set_default_metadata_format,
    )


COMPRESSORS = {
    "none": (None, []),
    "gzip": (numcodecs.GZip(level=3), ["gzip"]),
    "zstd": (numcodecs.Zstd(level=5), ["zstd"]),
    "blosc": (
        numcodecs.Blosc(cname="lz4", clevel=4, shuffle=numcodecs.Blosc.BITSHUFFLE),
        ["blosc"],
    ),
    "zarr3 gzip": (zarr.codecs.GzipCodec(level=2), ["gzip"]),
    "dict zstd": ({"id": "zstd", "level": 1}, ["zstd"]),
}


@pytest.mark.parametrize("zarr_format", [2, 3])
@pytest.mark.parametrize("name", COMPRESSORS)
def test_prepare_ds_compressor(tmp_path, zarr_format, name):
    compressor, expected = COMPRESSORS[name]
    path = tmp_path / "c.zarr"
    a = daisy.prepare_ds(path, (20, 20), chunk_shape=(8, 8), dtype="uint16",
                         zarr_format=zarr_format, compressor=compressor)  # fmt: skip
    data = random_data((20, 20), "uint16")
    a[a.roi] = data
    z = zarr.open_array(str(path), mode="r")
    names = [type(c).__name__.lower() for c in z.compressors]
    assert len(names) == len(expected)
    assert all(e in n for e, n in zip(expected, names, strict=True)), names
    np.testing.assert_array_equal(z[:], data)


def test_prepare_ds_unsupported_compressor_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="lzma"):
        daisy.prepare_ds(tmp_path / "c.zarr", (4, 4), compressor=numcodecs.LZMA())


def test_configured_metadata_format(tmp_path, monkeypatch):
    """funlib.persistence's configuration files name the default attribute names."""
    (tmp_path / "funlib_persistence.toml").write_text('voxel_size_attr = "resolution_nm"\n')
    monkeypatch.chdir(tmp_path)
    old = daisy.persistence.get_default_metadata_format()
    try:
        assert daisy.persistence.read_config() == {
            "offset_attr": "offset",
            "voxel_size_attr": "resolution_nm",
            "axis_names_attr": "axis_names",
            "units_attr": "units",
            "types_attr": "types",
        }
        daisy.persistence.configure_library()
        assert daisy.persistence.get_default_metadata_format().voxel_size_attr == "resolution_nm"
        daisy.prepare_ds(tmp_path / "a.zarr", (4, 4), voxel_size=(3, 3), dtype="uint8")
        assert zarr.open_array(str(tmp_path / "a.zarr")).attrs["resolution_nm"] == [3, 3]
        assert daisy.open_ds(tmp_path / "a.zarr").voxel_size == Coordinate(3, 3)
    finally:
        daisy.persistence.set_default_metadata_format(old)
    with pytest.raises(TypeError, match="MetaDataFormat"):
        daisy.persistence.set_default_metadata_format({"offset_attr": "o"})


def test_metadata_format_pickles_and_compares():
    import pickle

    fmt = daisy.persistence.MetaDataFormat(offset_attr="a/b")
    assert pickle.loads(pickle.dumps(fmt)) == fmt
    assert fmt != daisy.persistence.MetaDataFormat()
    assert fmt.model_dump()["offset_attr"] == "a/b"


def test_strict_metadata(tmp_path):
    """funlib.persistence 0.7 accepts anything with strict_metadata (its defaults count as
    given); daisy requires every field to be stored or given."""
    daisy.prepare_ds(tmp_path / "a.zarr", (4, 4), dtype="uint8")
    zarr.create_array(str(tmp_path / "bare.zarr"), shape=(4, 4), chunks=(2, 2), dtype="u1")
    assert daisy.open_ds(tmp_path / "a.zarr", strict_metadata=True).roi == Roi((0, 0), (4, 4))
    with pytest.raises(ValueError, match="strict"):
        daisy.open_ds(tmp_path / "bare.zarr", strict_metadata=True)


def test_in_memory_zarr_and_dask_data():
    dask_array = pytest.importorskip("dask.array")
    z = zarr.create_array(zarr.storage.MemoryStore(), shape=(10, 10), chunks=(5, 5), dtype="i4")
    a = daisy.Array(z, offset=(10, 10), voxel_size=(2, 2))
    a[Roi((12, 12), (4, 4))] = 3
    assert z[1:3, 1:3].sum() == 12
    np.testing.assert_array_equal(a[Roi((10, 10), (6, 6))], z[:3, :3])
    d = daisy.Array(dask_array.from_array(np.arange(100).reshape(10, 10), chunks=5))
    assert d.chunk_shape == Coordinate(5, 5)
    np.testing.assert_array_equal(d[Roi((1, 1), (2, 2))], [[11, 12], [21, 22]])
