//! Errors: each names what was wrong and where.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::single_range_in_vec_init
)]

mod common;

use common::{array_path, create, options, roi};
use daisy_array::ndarray::{ArrayD, IxDyn};
use daisy_array::{Array, ArrayError, DType, Mode, OpenOptions};

fn open_error(path: &std::path::Path) -> ArrayError {
    Array::open(path, &OpenOptions::default()).unwrap_err()
}

#[test]
fn missing_paths_and_things_that_are_not_arrays() {
    let (dir, path) = array_path("missing.zarr");
    let error = open_error(&path);
    assert!(matches!(error, ArrayError::NotFound { .. }), "{error}");
    assert!(error.to_string().contains("missing.zarr"), "{error}");

    let plain = dir.path().join("plain");
    std::fs::create_dir(&plain).unwrap();
    let error = open_error(&plain);
    assert!(matches!(error, ArrayError::NotAnArray { .. }), "{error}");
    assert!(error.to_string().contains("without zarr.json"), "{error}");

    let group = dir.path().join("group.zarr");
    std::fs::create_dir(&group).unwrap();
    std::fs::write(
        group.join("zarr.json"),
        r#"{"zarr_format":3,"node_type":"group"}"#,
    )
    .unwrap();
    let error = open_error(&group);
    assert!(error.to_string().contains("zarr group"), "{error}");

    let garbage = dir.path().join("garbage.zarr");
    std::fs::create_dir(&garbage).unwrap();
    std::fs::write(garbage.join("zarr.json"), "{not json").unwrap();
    let error = open_error(&garbage);
    assert!(error.to_string().contains("not valid JSON"), "{error}");

    let bad_array = dir.path().join("bad.zarr");
    std::fs::create_dir(&bad_array).unwrap();
    std::fs::write(
        bad_array.join("zarr.json"),
        r#"{"zarr_format":3,"node_type":"array","shape":[4]}"#,
    )
    .unwrap();
    let error = open_error(&bad_array);
    assert!(matches!(error, ArrayError::NotAnArray { .. }), "{error}");
    assert!(
        error.to_string().contains("zarrs cannot open it"),
        "{error}"
    );

    let n5 = dir.path().join("volume.n5");
    std::fs::create_dir(&n5).unwrap();
    std::fs::write(n5.join("attributes.json"), r#"{"dimensions":[4]}"#).unwrap();
    assert!(open_error(&n5).to_string().contains("N5"));

    let file = dir.path().join("file.zarr");
    std::fs::write(&file, "x").unwrap();
    assert!(open_error(&file).to_string().contains("is a file"));
}

#[test]
fn a_roi_outside_the_array_names_both_rois_and_the_path() {
    let (_dir, path) = array_path("raw.zarr");
    let array = create(&path, &options(&[10, 10], &[5, 5], DType::UInt8));
    let error = array.read::<u8>(&roi(&[5, 5], &[10, 10])).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("[5:15, 5:15]"), "{message}");
    assert!(message.contains("[0:10, 0:10]"), "{message}");
    assert!(message.contains("raw.zarr"), "{message}");
    assert!(
        matches!(error.innermost(), ArrayError::RoiNotContained { .. }),
        "{error:?}"
    );
}

#[test]
fn dtype_mismatches_buffer_lengths_and_regions() {
    let (_dir, path) = array_path("a.zarr");
    let array = create(&path, &options(&[10, 10], &[5, 5], DType::UInt8));
    let error = array.read::<u16>(&array.roi()).unwrap_err();
    assert!(matches!(error, ArrayError::DTypeMismatch { .. }), "{error}");
    assert!(error.to_string().contains("requested uint16"), "{error}");
    assert!(error.to_string().contains("holds uint8"), "{error}");

    let mut small = vec![0u8; 99];
    let error = array.read_into(&array.roi(), &mut small).unwrap_err();
    assert!(
        matches!(error.innermost(), ArrayError::BufferLength { .. }),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("expected 100 bytes, got 99 bytes"),
        "{error}"
    );
    assert!(array.write_bytes(&array.roi(), &[0u8; 101]).is_err());

    let wrong_shape = ArrayD::<u8>::zeros(IxDyn(&[10, 9]));
    let error = array.write(&array.roi(), wrong_shape.view()).unwrap_err();
    assert!(error.to_string().contains("[10, 9]"), "{error}");

    let error = array
        .read_voxels_into(&[0..11, 0..1], &mut [0u8; 11])
        .unwrap_err();
    assert!(error.to_string().contains("[0:11, 0:1]"), "{error}");
    assert!(error.to_string().contains("[10, 10]"), "{error}");
    assert!(
        array.read_voxels_into(&[0..1], &mut [0u8; 1]).is_err(),
        "dims differ"
    );

    let error = array
        .to_ndarray_into(&array.roi(), &[0, 0], &mut [0u8; 100])
        .unwrap_err();
    assert!(error.to_string().contains("fill value"), "{error}");
}

#[test]
fn writes_to_a_read_only_array_name_the_mode() {
    let (_dir, path) = array_path("a.zarr");
    create(&path, &options(&[4], &[4], DType::UInt8));
    let array = Array::open(&path, &OpenOptions::default()).unwrap();
    assert!(!array.is_writeable());
    let error = array.fill(&array.roi(), 1u8).unwrap_err();
    assert!(matches!(error, ArrayError::ReadOnly { .. }), "{error}");
    assert!(
        error.to_string().contains("read-only mode \"r\""),
        "{error}"
    );
    assert!(array.write_voxels(&[0..1], &[1]).is_err());
    assert!(array.set_attrs(&serde_json::Map::new()).is_err());
    let writeable = Array::open(&path, &OpenOptions::with_mode(Mode::ReadWrite)).unwrap();
    writeable.fill(&writeable.roi(), 1u8).unwrap();
}

#[test]
fn bad_create_options() {
    let (dir, path) = array_path("a.zarr");
    let error = Array::create(&path, &options(&[4, 4], &[4], DType::UInt8)).unwrap_err();
    assert!(error.to_string().contains("chunk shape [4]"), "{error}");
    let mut sharded = options(&[8], &[3], DType::UInt8);
    sharded.shard_shape = Some(vec![8]);
    let error = Array::create(&path, &sharded).unwrap_err();
    assert!(error.to_string().contains("not a multiple"), "{error}");
    // Overwrite never deletes something that is not a zarr node.
    let precious = dir.path().join("precious");
    std::fs::create_dir(&precious).unwrap();
    std::fs::write(precious.join("thesis.tex"), "x").unwrap();
    let mut overwrite = options(&[4], &[4], DType::UInt8);
    overwrite.overwrite = true;
    assert!(Array::create(&precious, &overwrite).is_err());
    assert!(precious.join("thesis.tex").is_file());
    assert!("x8".parse::<Mode>().is_err());
}
