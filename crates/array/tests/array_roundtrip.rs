//! Round trips: every dtype, Zarr v2 and v3, every codec; partial and unaligned writes;
//! to_ndarray outside and across the bounds; reopening.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::single_range_in_vec_init
)]

mod common;

use common::{array_path, create, options, roi};
use daisy_array::ndarray::{ArrayD, IxDyn};
use daisy_array::{
    Array, ArrayError, ArrayMetadata, Compression, DType, Element, MetadataOverrides, Mode,
    OpenOptions, ZarrFormat,
};
use daisy_geometry::Coordinate;

fn codecs() -> Vec<Compression> {
    vec![
        Compression::Default,
        Compression::None,
        Compression::Zstd { level: 3 },
        Compression::Gzip { level: 5 },
        Compression::Blosc {
            cname: "lz4".into(),
            clevel: 5,
            shuffle: 1,
        },
        Compression::Blosc {
            cname: "zstd".into(),
            clevel: 3,
            shuffle: 2,
        },
    ]
}

/// Writes a pattern of `T` into an unaligned ROI, reads it back, and reopens the array.
fn round_trip<T: Element>(
    dtype: DType,
    format: ZarrFormat,
    compression: &Compression,
    value: impl Fn(usize) -> T,
) {
    let (_dir, path) = array_path("a.zarr");
    let mut options = options(&[13, 17], &[4, 5], dtype);
    options.zarr_format = format;
    options.compression = compression.clone();
    let array = create(&path, &options);
    let roi = roi(&[3, 2], &[9, 13]);
    let data = ArrayD::from_shape_fn(IxDyn(&[9, 13]), |index| value(index[0] * 13 + index[1]));
    array.write(&roi, data.view()).unwrap();
    assert_eq!(array.read::<T>(&roi).unwrap(), data);
    let reopened = Array::open(&path, &OpenOptions::default()).unwrap();
    assert_eq!(reopened.dtype(), dtype);
    assert_eq!(reopened.zarr_format(), format);
    assert_eq!(
        reopened.read::<T>(&roi).unwrap(),
        data,
        "{dtype} {format:?} {compression:?}"
    );
    // Outside the written ROI: the fill value (zero bytes).
    let mut corner = vec![1u8; dtype.size_of()];
    reopened
        .read_voxels_into(&[0..1, 0..1], &mut corner)
        .unwrap();
    assert!(corner.iter().all(|&b| b == 0), "{dtype}: {corner:?}");
}

#[test]
fn every_dtype_format_and_codec_round_trips() {
    for format in [ZarrFormat::V3, ZarrFormat::V2] {
        for compression in codecs() {
            round_trip::<bool>(DType::Bool, format, &compression, |i| i % 3 == 0);
            round_trip::<u8>(DType::UInt8, format, &compression, |i| (i % 251) as u8 + 1);
            round_trip::<u16>(DType::UInt16, format, &compression, |i| i as u16 * 300 + 1);
            round_trip::<u32>(DType::UInt32, format, &compression, |i| {
                i as u32 * 70_001 + 1
            });
            round_trip::<u64>(DType::UInt64, format, &compression, |i| {
                (i as u64) << 40 | 1
            });
            round_trip::<i8>(DType::Int8, format, &compression, |i| (i % 200) as i8 - 100);
            round_trip::<i16>(DType::Int16, format, &compression, |i| i as i16 * -97);
            round_trip::<i32>(DType::Int32, format, &compression, |i| i as i32 * -70_001);
            round_trip::<i64>(DType::Int64, format, &compression, |i| -((i as i64) << 40));
            round_trip::<f32>(DType::Float32, format, &compression, |i| {
                i as f32 * 0.25 - 3.0
            });
            round_trip::<f64>(DType::Float64, format, &compression, |i| {
                i as f64 * -1e-3 + 0.5
            });
        }
    }
}

#[test]
fn zarr_v2_files_are_what_zarr_python_writes() {
    let (_dir, path) = array_path("v2.zarr");
    let mut options = options(&[10, 10], &[5, 5], DType::Int16);
    options.zarr_format = ZarrFormat::V2;
    let array = create(&path, &options);
    array.fill(&roi(&[0, 0], &[5, 5]), -3i16).unwrap();
    let zarray: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path.join(".zarray")).unwrap()).unwrap();
    assert_eq!(zarray["dtype"], "<i2");
    assert_eq!(zarray["compressor"]["id"], "zstd");
    assert_eq!(zarray["compressor"]["level"], 0);
    let zattrs: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path.join(".zattrs")).unwrap()).unwrap();
    assert_eq!(zattrs["voxel_size"], serde_json::json!([1, 1]));
    assert!(path.join("0.0").is_file(), "dot-separated chunk keys");
    assert!(
        !path.join("1.1").exists(),
        "untouched chunks are not written"
    );
}

#[test]
fn partial_and_unaligned_writes_keep_the_rest_of_each_chunk() {
    let (_dir, path) = array_path("a.zarr");
    let array = create(&path, &options(&[16, 16], &[8, 8], DType::UInt8));
    array.fill(&array.roi(), 1u8).unwrap();
    array.fill(&roi(&[5, 6], &[4, 7]), 9u8).unwrap();
    let whole = array.read::<u8>(&array.roi()).unwrap();
    for ((y, x), &value) in whole
        .view()
        .into_dimensionality::<daisy_array::ndarray::Ix2>()
        .unwrap()
        .indexed_iter()
    {
        let inside = (5..9).contains(&y) && (6..13).contains(&x);
        assert_eq!(value, if inside { 9 } else { 1 }, "at {y}, {x}");
    }
    // Reading through a fresh handle sees the same.
    let reopened = Array::open(&path, &OpenOptions::default()).unwrap();
    assert_eq!(reopened.read::<u8>(&reopened.roi()).unwrap(), whole);
}

#[test]
fn world_units_offset_voxel_size_and_channels() {
    let (_dir, path) = array_path("a.zarr");
    let mut options = options(&[2, 10, 20], &[1, 5, 5], DType::Float32);
    options.metadata = Some(
        MetadataOverrides {
            offset: Some(Coordinate::new(&[100, 40]).unwrap()),
            voxel_size: Some(Coordinate::new(&[4, 2]).unwrap()),
            ..MetadataOverrides::default()
        }
        .resolve(&[2, 10, 20], false)
        .unwrap(),
    );
    let array = create(&path, &options);
    assert_eq!(array.roi(), roi(&[100, 40], &[40, 40]));
    let target = roi(&[108, 50], &[8, 6]);
    let data = ArrayD::from_shape_fn(IxDyn(&[2, 2, 3]), |i| {
        (i[0] * 100 + i[1] * 10 + i[2]) as f32
    });
    array.write(&target, data.view()).unwrap();
    assert_eq!(array.read::<f32>(&target).unwrap(), data);
    // Voxel indexing sees the same voxels at (roi - offset) / voxel_size.
    let mut bytes = vec![0u8; 2 * 2 * 3 * 4];
    array
        .read_voxels_into(&[0..2, 2..4, 5..8], &mut bytes)
        .unwrap();
    let mut expected = Vec::new();
    for value in data.iter() {
        expected.extend_from_slice(&value.to_ne_bytes());
    }
    assert_eq!(bytes, expected);
    let reopened = Array::open(&path, &OpenOptions::default()).unwrap();
    let metadata: &ArrayMetadata = reopened.metadata();
    assert_eq!(metadata.voxel_size, Coordinate::new(&[4, 2]).unwrap());
    assert_eq!(reopened.layout().channel_dims(), 1);
}

#[test]
fn to_ndarray_fills_outside_and_across_the_bounds() {
    let (_dir, path) = array_path("a.zarr");
    let array = create(&path, &options(&[6, 6], &[4, 4], DType::Int32));
    array.fill(&array.roi(), 5i32).unwrap();
    // Across the bounds.
    let across = array.to_ndarray(&roi(&[-2, 4], &[4, 4]), -1i32).unwrap();
    assert_eq!(across.shape(), &[4, 4]);
    for ((y, x), &value) in across
        .view()
        .into_dimensionality::<daisy_array::ndarray::Ix2>()
        .unwrap()
        .indexed_iter()
    {
        let inside = y >= 2 && x < 2;
        assert_eq!(value, if inside { 5 } else { -1 }, "at {y}, {x}");
    }
    // Wholly outside.
    let outside = array.to_ndarray(&roi(&[10, 10], &[2, 3]), 7i32).unwrap();
    assert!(outside.iter().all(|&v| v == 7));
    assert_eq!(outside.shape(), &[2, 3]);
    // The byte twin agrees.
    let mut bytes = vec![0u8; 16 * 4];
    array
        .to_ndarray_into(&roi(&[-2, 4], &[4, 4]), &(-1i32).to_ne_bytes(), &mut bytes)
        .unwrap();
    let from_bytes: Vec<i32> = bytes
        .chunks_exact(4)
        .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    assert_eq!(from_bytes, across.iter().copied().collect::<Vec<_>>());
}

#[test]
fn byte_twins_match_the_typed_calls() {
    let (_dir, path) = array_path("a.zarr");
    let array = create(&path, &options(&[9, 9], &[4, 4], DType::UInt16));
    let target = roi(&[1, 2], &[5, 6]);
    let values: Vec<u16> = (0..30).map(|v| v * 1000).collect();
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_ne_bytes()).collect();
    array.write_bytes(&target, &bytes).unwrap();
    let mut out = vec![0u8; bytes.len()];
    array.read_into(&target, &mut out).unwrap();
    assert_eq!(out, bytes);
    let typed = array.read::<u16>(&target).unwrap();
    assert_eq!(typed.iter().copied().collect::<Vec<_>>(), values);
}

#[test]
fn custom_attributes_and_set_attrs_are_stored() {
    let (_dir, path) = array_path("a.zarr");
    let mut options = options(&[4], &[4], DType::UInt8);
    options
        .custom_attributes
        .insert("source".into(), "test".into());
    let array = create(&path, &options);
    assert_eq!(array.attrs()["source"], "test");
    let mut more = serde_json::Map::new();
    more.insert("note".into(), serde_json::json!({"a": 1}));
    array.set_attrs(&more).unwrap();
    let reopened = Array::open(&path, &OpenOptions::with_mode(Mode::ReadWrite)).unwrap();
    assert_eq!(reopened.attrs()["note"]["a"], 1);
    assert_eq!(reopened.attrs()["source"], "test");
    assert_eq!(reopened.attrs()["voxel_size"], serde_json::json!([1]));
    assert!(!reopened.attrs().contains_key("_zarrs"));
    assert!(reopened.remove_attr("note").unwrap());
    assert!(!reopened.remove_attr("note").unwrap());
    let again = Array::open(&path, &OpenOptions::default()).unwrap();
    assert!(!again.attrs().contains_key("note"));
    assert_eq!(again.attrs()["source"], "test");
    assert!(matches!(
        again.remove_attr("source"),
        Err(ArrayError::ReadOnly { .. })
    ));
}

#[test]
fn fill_values_and_overwrite() {
    let (_dir, path) = array_path("a.zarr");
    let mut options = options(&[4, 4], &[2, 2], DType::Float64);
    options.fill_value = Some(serde_json::json!("NaN"));
    let array = create(&path, &options);
    assert!(
        array
            .read::<f64>(&array.roi())
            .unwrap()
            .iter()
            .all(|v| v.is_nan())
    );
    assert!(
        Array::create(&path, &options).is_err(),
        "no overwrite unless told"
    );
    options.overwrite = true;
    options.fill_value = Some(serde_json::json!(2.5));
    let array = Array::create(&path, &options).unwrap();
    assert!(
        array
            .read::<f64>(&array.roi())
            .unwrap()
            .iter()
            .all(|&v| v == 2.5)
    );
}
