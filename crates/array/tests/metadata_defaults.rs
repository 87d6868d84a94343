//! Metadata defaults and overrides: each case is what funlib.persistence 0.7's
//! `MetaDataFormat().parse(shape, attrs, **args)` returns for the same input.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::result_large_err)]

use daisy_array::{ArrayError, ArrayMetadata, AttributeOrder, MetadataFormat, MetadataOverrides};
use serde_json::{Map, Value, json};

fn map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

/// Arguments given as JSON (the same keys as the attributes).
fn args(value: Value) -> MetadataOverrides {
    MetadataFormat::default()
        .read_stored(&map(value), AttributeOrder::C)
        .unwrap()
}

fn parse(shape: &[u64], given: Value, attrs: Value) -> Result<ArrayMetadata, ArrayError> {
    MetadataFormat::default().read(&map(attrs), shape, &args(given), false)
}

/// `(offset, voxel_size, axis_names, units, types)` as JSON.
fn fields(m: &ArrayMetadata) -> Value {
    let coordinate = |c: &daisy_geometry::Coordinate| {
        c.iter().map(|v| v.unwrap_or(i64::MIN)).collect::<Vec<_>>()
    };
    json!([
        coordinate(&m.offset),
        coordinate(&m.voxel_size),
        m.axis_names,
        m.units,
        m.types
    ])
}

#[test]
fn defaults_and_overrides_match_funlib() {
    let cases = [
        (
            vec![10, 20, 30],
            json!({}),
            json!({}),
            json!([
                [0, 0, 0],
                [1, 1, 1],
                ["d0", "d1", "d2"],
                ["", "", ""],
                ["space", "space", "space"]
            ]),
        ),
        (
            vec![3, 10, 10],
            json!({"voxel_size": [4, 4]}),
            json!({}),
            json!([
                [0, 0],
                [4, 4],
                ["c0^", "d0", "d1"],
                ["", ""],
                ["channel", "space", "space"]
            ]),
        ),
        (
            vec![2, 3, 10, 10],
            json!({"units": ["nm", "nm"]}),
            json!({}),
            json!([
                [0, 0],
                [1, 1],
                ["c0^", "c1^", "d0", "d1"],
                ["nm", "nm"],
                ["channel", "channel", "space", "space"]
            ]),
        ),
        (
            vec![3, 10, 10],
            json!({"axis_names": ["c^", "y", "x"]}),
            json!({}),
            json!([
                [0, 0],
                [1, 1],
                ["c^", "y", "x"],
                ["", ""],
                ["channel", "space", "space"]
            ]),
        ),
        (
            vec![5, 3, 7],
            json!({"types": ["time", "channel", "space"], "voxel_size": [2, 1, 4],
                   "units": ["ms", "", "nm"]}),
            json!({}),
            json!([
                [0, 0],
                [2, 4],
                ["d0", "c0^", "d1"],
                ["ms", "nm"],
                ["time", "channel", "space"]
            ]),
        ),
        (
            vec![5, 3, 7],
            json!({"types": ["space", "channel", "space"]}),
            json!({}),
            json!([
                [0, 0],
                [1, 1],
                ["d0", "c0^", "d1"],
                ["", ""],
                ["space", "channel", "space"]
            ]),
        ),
        (
            vec![10, 10],
            json!({}),
            json!({"offset": [8, 8], "voxel_size": [4, 4]}),
            json!([[8, 8], [4, 4], ["d0", "d1"], ["", ""], ["space", "space"]]),
        ),
        (
            vec![3, 10, 10],
            json!({}),
            json!({"voxel_size": [4, 4], "axis_names": ["c0^", "z", "y"]}),
            json!([
                [0, 0],
                [4, 4],
                ["c0^", "z", "y"],
                ["", ""],
                ["channel", "space", "space"]
            ]),
        ),
        (
            // An argument overrides the stored value; the rest is stored.
            vec![3, 10, 10],
            json!({"offset": [1, 2]}),
            json!({"voxel_size": [4, 4], "offset": [8, 8]}),
            json!([
                [1, 2],
                [4, 4],
                ["c0^", "d0", "d1"],
                ["", ""],
                ["channel", "space", "space"]
            ]),
        ),
        (
            vec![10, 10],
            json!({}),
            json!({"axis_names": ["a", "b"], "units": ["nm", "um"], "types": ["space", "time"]}),
            json!([[0, 0], [1, 1], ["a", "b"], ["nm", "um"], ["space", "time"]]),
        ),
        (
            // Values for every dimension (with holes at the channels) are stripped by types.
            vec![4, 10, 10],
            json!({}),
            json!({"offset": [null, 8, 8], "voxel_size": [null, 4, 4],
                   "types": ["channel", "space", "space"]}),
            json!([
                [8, 8],
                [4, 4],
                ["c0^", "d0", "d1"],
                ["", ""],
                ["channel", "space", "space"]
            ]),
        ),
    ];
    for (shape, given, attrs, expected) in cases {
        let parsed = parse(&shape, given.clone(), attrs.clone())
            .unwrap_or_else(|e| panic!("{shape:?} {given} {attrs}: {e}"));
        assert_eq!(fields(&parsed), expected, "{shape:?} {given} {attrs}");
    }
}

#[test]
fn ambiguous_physical_dimensions_are_a_value_error_naming_them() {
    let error = parse(
        &[3, 10, 10],
        json!({"voxel_size": [4, 4], "offset": [0, 0, 0]}),
        json!({}),
    )
    .unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, ArrayError::InvalidMetadata { .. }),
        "{error:?}"
    );
    assert!(message.contains("ambiguous"), "{message}");
    assert!(
        message.contains("(4, 4)") && message.contains("(0, 0, 0)"),
        "{message}"
    );
}

#[test]
fn metadata_that_cannot_describe_the_shape_is_an_error() {
    // More physical dimensions than the array has.
    assert!(parse(&[10], json!({"units": ["nm", "nm"]}), json!({})).is_err());
    // Types for some dimensions only.
    assert!(parse(&[10, 10], json!({"types": ["space"]}), json!({})).is_err());
    // Axis names for some dimensions only.
    assert!(parse(&[10, 10], json!({}), json!({"axis_names": ["x"]})).is_err());
    // Types and a per-dimension value of a third length.
    let error = parse(
        &[3, 10, 10],
        json!({"types": ["channel", "space", "space"], "voxel_size": [1, 2, 3, 4]}),
        json!({}),
    )
    .unwrap_err();
    assert!(error.to_string().contains("not compatible"), "{error}");
    // A voxel size of zero.
    assert!(parse(&[10], json!({"voxel_size": [0]}), json!({})).is_err());
}

#[test]
fn strict_metadata_needs_every_field_stored_or_given() {
    let format = MetadataFormat::default();
    let complete = map(
        json!({"offset": [8], "voxel_size": [4], "axis_names": ["x"],
                              "units": ["nm"], "types": ["space"]}),
    );
    assert!(
        format
            .read(&complete, &[10], &MetadataOverrides::default(), true)
            .is_ok()
    );

    let mut without_units = complete.clone();
    without_units.remove("units");
    let error = format
        .read(&without_units, &[10], &MetadataOverrides::default(), true)
        .unwrap_err();
    assert!(error.to_string().contains("units is not given"), "{error}");
    // ... unless the argument gives it.
    let units = MetadataOverrides {
        units: Some(vec!["nm".into()]),
        ..Default::default()
    };
    assert!(format.read(&without_units, &[10], &units, true).is_ok());
    // Strict also needs the offset on the voxel grid.
    let mut off_grid = complete;
    off_grid.insert("offset".into(), json!([6]));
    assert!(
        format
            .read(&off_grid, &[10], &MetadataOverrides::default(), false)
            .is_ok()
    );
    let error = format
        .read(&off_grid, &[10], &MetadataOverrides::default(), true)
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("not a multiple of the voxel size (4,)"),
        "{error}"
    );
}

#[test]
fn stored_values_of_the_wrong_form_name_the_key() {
    for (attrs, key) in [
        (json!({"voxel_size": 4}), "voxel_size"),
        (json!({"voxel_size": [4.5, 4]}), "voxel_size"),
        (json!({"offset": ["a"]}), "offset"),
        (json!({"axis_names": [1, 2]}), "axis_names"),
        (json!({"types": "space"}), "types"),
    ] {
        let error = parse(&[10, 10], json!({}), attrs.clone()).unwrap_err();
        assert!(
            matches!(&error, ArrayError::InvalidAttribute { key: k, .. } if k == key),
            "{attrs}: {error:?}"
        );
    }
    // Integral floats are integers.
    let parsed = parse(&[10], json!({}), json!({"voxel_size": [4.0]})).unwrap();
    assert_eq!(parsed.voxel_size.to_string(), "(4,)");
}
