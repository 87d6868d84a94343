//! Every decision and error of `prepare::decide`, each as funlib.persistence 0.7's `prepare_ds`
//! behaves in the same situation (checked against it: same modes, same existing arrays).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use daisy_array::{
    ArrayError, DType, ExistingArray, MetadataFormat, MetadataOverrides, Mode, PrepareDecision,
    PrepareRequest, decide,
};
use daisy_geometry::Coordinate;
use serde_json::{Map, Value, json};

const MODES: [Mode; 5] = [
    Mode::Read,
    Mode::ReadWrite,
    Mode::Append,
    Mode::Write,
    Mode::WriteNew,
];

fn map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn c(values: &[i64]) -> Coordinate {
    Coordinate::new(values).unwrap()
}

fn path() -> &'static Path {
    Path::new("/data/a.zarr")
}

/// What funlib.persistence 0.7 stores for prepare_ds("a.zarr", (10, 10), voxel_size=(4, 4),
/// offset=(8, 8), custom_metadata={"k": 1}).
fn existing() -> ExistingArray {
    ExistingArray {
        shape: vec![10, 10],
        chunk_shape: vec![5, 5],
        dtype: DType::Float32,
        attrs: map(json!({
            "axis_names": ["d0", "d1"], "units": ["", ""], "voxel_size": [4, 4],
            "offset": [8, 8], "types": ["space", "space"], "k": 1,
        })),
    }
}

fn request(mode: Mode) -> PrepareRequest {
    let mut request = PrepareRequest::new(vec![10, 10], DType::Float32);
    request.mode = mode;
    request.metadata.voxel_size = Some(c(&[4, 4]));
    request
}

#[test]
fn nothing_exists_create_unless_the_mode_needs_an_array() {
    for mode in MODES {
        let mut request = request(mode);
        request.custom_metadata = map(json!({"k": 1}));
        let decision = decide(path(), None, &request);
        match mode {
            Mode::Read | Mode::ReadWrite => {
                let error = decision.unwrap_err();
                assert!(
                    matches!(error, ArrayError::NotFound { .. }),
                    "{mode}: {error:?}"
                );
                assert!(error.to_string().contains("/data/a.zarr"), "{error}");
            }
            _ => {
                let Ok(PrepareDecision::Create(options)) = decision else {
                    panic!("{mode}: {decision:?}");
                };
                assert!(!options.overwrite);
                assert_eq!(options.shape, [10, 10]);
                assert_eq!(options.chunk_shape.as_deref(), Some(&[10, 10][..]));
                let metadata = options.metadata.unwrap();
                assert_eq!(metadata.voxel_size, c(&[4, 4]));
                assert_eq!(metadata.offset, c(&[0, 0]));
                assert_eq!(options.custom_attributes, map(json!({"k": 1})));
            }
        }
    }
}

#[test]
fn compatible_array_is_reopened_with_its_stored_offset() {
    for mode in MODES {
        let mut request = request(mode);
        // A differing offset is not an incompatibility; the stored one is kept.
        request.metadata.offset = Some(c(&[0, 0]));
        let decision = decide(path(), Some(&existing()), &request);
        match mode {
            Mode::Read | Mode::ReadWrite | Mode::Append => {
                let Ok(PrepareDecision::Reopen { metadata }) = decision else {
                    panic!("{mode}: {decision:?}");
                };
                assert_eq!(metadata.offset, c(&[8, 8]));
                assert_eq!(metadata.voxel_size, c(&[4, 4]));
            }
            Mode::Write => {
                let Ok(PrepareDecision::Recreate(options)) = decision else {
                    panic!("{mode}: {decision:?}");
                };
                assert!(options.overwrite);
                assert_eq!(options.metadata.unwrap().offset, c(&[0, 0]));
                assert!(options.custom_attributes.is_empty());
            }
            Mode::WriteNew => {
                let error = decision.unwrap_err();
                assert!(
                    matches!(error, ArrayError::AlreadyExists { mode: "w-", .. }),
                    "{error:?}"
                );
            }
        }
    }
}

#[test]
fn differing_metadata_is_rewritten_unless_read_only() {
    for mode in MODES {
        let mut request = request(mode);
        request.metadata.voxel_size = Some(c(&[2, 2]));
        request.custom_metadata = map(json!({"j": 2}));
        let decision = decide(path(), Some(&existing()), &request);
        match mode {
            Mode::Read => {
                let error = decision.unwrap_err();
                assert!(
                    matches!(
                        error,
                        ArrayError::IncompatibleMetadata {
                            field: "voxel size",
                            ..
                        }
                    ),
                    "{error:?}"
                );
                assert_eq!(
                    error.to_string(),
                    "the existing array's metadata is not compatible: its voxel size is (4, 4), \
                     but (2, 2) was requested; mode \"r\" does not allow updating it"
                );
            }
            Mode::ReadWrite | Mode::Append => {
                let Ok(PrepareDecision::RewriteMetadata {
                    metadata,
                    attributes,
                }) = decision
                else {
                    panic!("{mode}: {decision:?}");
                };
                // The arguments over the stored values; all attributes replaced ("k" is gone).
                assert_eq!(metadata.voxel_size, c(&[2, 2]));
                assert_eq!(metadata.offset, c(&[8, 8]));
                assert_eq!(
                    attributes,
                    map(json!({
                        "axis_names": ["d0", "d1"], "units": ["", ""], "voxel_size": [2, 2],
                        "offset": [8, 8], "types": ["space", "space"], "j": 2,
                    }))
                );
            }
            Mode::Write => {
                let Ok(PrepareDecision::Recreate(options)) = decision else {
                    panic!("{mode}: {decision:?}");
                };
                let metadata = options.metadata.unwrap();
                assert_eq!(
                    (metadata.voxel_size, metadata.offset),
                    (c(&[2, 2]), c(&[8, 8]))
                );
                assert_eq!(options.custom_attributes, map(json!({"j": 2})));
            }
            Mode::WriteNew => {
                assert!(
                    matches!(decision, Err(ArrayError::AlreadyExists { .. })),
                    "{decision:?}"
                );
            }
        }
    }
}

#[test]
fn every_metadata_field_that_differs_is_named() {
    let cases: [(MetadataOverrides, &str); 3] = [
        (
            MetadataOverrides {
                types: Some(vec!["space".into(), "time".into()]),
                ..Default::default()
            },
            "types",
        ),
        (
            MetadataOverrides {
                axis_names: Some(vec!["y".into(), "x".into()]),
                ..Default::default()
            },
            "axis names",
        ),
        (
            MetadataOverrides {
                units: Some(vec!["nm".into(), "nm".into()]),
                ..Default::default()
            },
            "units",
        ),
    ];
    for (metadata, field) in cases {
        let mut request = request(Mode::Read);
        request.metadata = MetadataOverrides {
            voxel_size: Some(c(&[4, 4])),
            ..metadata
        };
        let error = decide(path(), Some(&existing()), &request).unwrap_err();
        assert!(
            matches!(&error, ArrayError::IncompatibleMetadata { field: f, .. } if *f == field),
            "{field}: {error:?}"
        );
    }
}

#[test]
fn default_arguments_against_a_stored_voxel_size_rewrite_the_stored_metadata() {
    // Voxel size 1 (the default) differs from the stored 4: funlib rewrites the attributes with
    // the stored values (dropping the custom ones).
    let mut request = PrepareRequest::new(vec![10, 10], DType::Float32);
    request.mode = Mode::Append;
    let Ok(PrepareDecision::RewriteMetadata {
        metadata,
        attributes,
    }) = decide(path(), Some(&existing()), &request)
    else {
        panic!()
    };
    assert_eq!(
        (metadata.voxel_size, metadata.offset),
        (c(&[4, 4]), c(&[8, 8]))
    );
    assert!(!attributes.contains_key("k"));
}

/// A change to a request.
type Change<'a> = &'a dyn Fn(&mut PrepareRequest);

#[test]
fn differing_data_is_refused_unless_mode_w_recreates() {
    let shape = |r: &mut PrepareRequest| r.shape = vec![10, 12];
    let dtype = |r: &mut PrepareRequest| r.dtype = DType::UInt8;
    let chunks = |r: &mut PrepareRequest| r.chunk_shape = Some(vec![2, 2]);
    let cases: [(Change, &str, &str, &str); 3] = [
        (&shape, "shape", "[10, 12]", "[10, 10]"),
        (&dtype, "dtype", "uint8", "float32"),
        (&chunks, "chunk shape", "[2, 2]", "[5, 5]"),
    ];
    for (change, field, requested, stored) in cases {
        for mode in MODES {
            let mut request = request(mode);
            change(&mut request);
            let decision = decide(path(), Some(&existing()), &request);
            if mode == Mode::Write {
                let Ok(PrepareDecision::Recreate(options)) = decision else {
                    panic!("{field} {mode}: {decision:?}");
                };
                // The stored metadata fills in what the arguments do not give.
                assert_eq!(options.metadata.unwrap().offset, c(&[8, 8]));
                continue;
            }
            let error = decision.unwrap_err();
            let ArrayError::IncompatibleData {
                field: f,
                requested: r,
                existing: e,
                mode: m,
            } = &error
            else {
                panic!("{field} {mode}: {error:?}");
            };
            assert_eq!(
                (*f, r.as_str(), e.as_str(), *m),
                (field, requested, stored, mode.as_str())
            );
            assert!(error.to_string().contains("use mode \"w\""), "{error}");
        }
    }
}

#[test]
fn an_existing_chunk_shape_is_fine_when_none_is_requested() {
    let mut request = request(Mode::Append);
    request.chunk_shape = None;
    assert!(matches!(
        decide(path(), Some(&existing()), &request),
        Ok(PrepareDecision::Reopen { .. })
    ));
    request.chunk_shape = Some(vec![5, 5]);
    assert!(matches!(
        decide(path(), Some(&existing()), &request),
        Ok(PrepareDecision::Reopen { .. })
    ));
}

#[test]
fn recreating_with_a_new_shape_ignores_stored_metadata_that_no_longer_fits() {
    let mut request = PrepareRequest::new(vec![3, 10, 10, 10], DType::Float32);
    request.mode = Mode::Write;
    let Ok(PrepareDecision::Recreate(options)) = decide(path(), Some(&existing()), &request) else {
        panic!()
    };
    let metadata = options.metadata.unwrap();
    assert_eq!(metadata.voxel_size, c(&[1, 1, 1, 1]));
}

#[test]
fn custom_metadata_must_not_collide_with_metadata_keys() {
    let mut request = request(Mode::Write);
    request.custom_metadata = map(json!({"offset": [1, 1]}));
    let error = decide(path(), None, &request).unwrap_err();
    assert!(matches!(&error, ArrayError::CustomMetadataCollision { key } if key == "offset"));

    // With nested keys, the top of a path collides too.
    request.format = MetadataFormat {
        offset_attr: "meta/offset".into(),
        ..Default::default()
    };
    request.custom_metadata = map(json!({"meta": {}}));
    assert!(matches!(
        decide(path(), None, &request),
        Err(ArrayError::CustomMetadataCollision { .. })
    ));
    request.custom_metadata = map(json!({"offset": 1}));
    assert!(decide(path(), None, &request).is_ok());
}

#[test]
fn a_daisy_1_dataset_is_reopened_when_the_request_matches() {
    let legacy = ExistingArray {
        shape: vec![10, 100, 100],
        chunk_shape: vec![10, 64, 64],
        dtype: DType::UInt8,
        attrs: map(json!({"resolution": [40, 4, 4], "offset": [400, 40, 40]})),
    };
    let mut request = PrepareRequest::new(vec![10, 100, 100], DType::UInt8);
    request.metadata.voxel_size = Some(c(&[40, 4, 4]));
    let Ok(PrepareDecision::Reopen { metadata }) = decide(path(), Some(&legacy), &request) else {
        panic!()
    };
    assert_eq!(metadata.offset, c(&[400, 40, 40]));
}

#[test]
fn requested_metadata_that_does_not_fit_the_shape_is_an_error() {
    let mut request = request(Mode::Append);
    request.metadata.offset = Some(c(&[0, 0, 0]));
    assert!(matches!(
        decide(path(), None, &request),
        Err(ArrayError::InvalidMetadata { .. })
    ));
}
