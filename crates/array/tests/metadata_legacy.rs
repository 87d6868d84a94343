//! Metadata of datasets written by older tools: daisy ≤ 1.0's `prepare_ds` (`resolution` and
//! `offset`, Zarr and N5), N5 viewers (`pixelResolution`), `transform` blocks, and what
//! funlib.persistence 0.7 writes. The attribute fixtures are written out as those tools store them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use daisy_array::{ArrayLayout, ArrayMetadata, MetadataFormat, MetadataOverrides};
use serde_json::{Map, Value, json};

fn map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn read(attrs: Value, shape: &[u64]) -> ArrayMetadata {
    MetadataFormat::default()
        .read(&map(attrs), shape, &MetadataOverrides::default(), false)
        .unwrap()
}

fn read_n5(attrs: Value, shape: &[u64]) -> ArrayMetadata {
    MetadataFormat::default()
        .read_n5(&map(attrs), shape, &MetadataOverrides::default(), false)
        .unwrap()
}

fn roi(metadata: &ArrayMetadata, shape: &[u64]) -> String {
    ArrayLayout::from_metadata(shape, metadata)
        .unwrap()
        .roi()
        .to_string()
}

#[test]
fn daisy_1_zarr_resolution_and_offset() {
    // daisy 1.x: prepare_ds("a.zarr", "raw", Roi((400, 40, 40), (400, 400, 400)), (40, 4, 4), np.uint8)
    let shape = [10, 100, 100];
    let m = read(
        json!({"resolution": [40, 4, 4], "offset": [400, 40, 40]}),
        &shape,
    );
    assert_eq!(m.voxel_size.to_string(), "(40, 4, 4)");
    assert_eq!(m.offset.to_string(), "(400, 40, 40)");
    assert_eq!(m.axis_names, ["d0", "d1", "d2"]);
    assert_eq!(m.types, ["space", "space", "space"]);
    assert_eq!(roi(&m, &shape), "[400:800, 40:440, 40:440] (400, 400, 400)");
}

#[test]
fn daisy_1_zarr_with_channels() {
    // daisy 1.x with num_channels=3: the voxel size covers the spatial dimensions only.
    let shape = [3, 10, 100, 100];
    let m = read(
        json!({"resolution": [40, 4, 4], "offset": [0, 0, 0]}),
        &shape,
    );
    assert_eq!(m.axis_names, ["c0^", "d0", "d1", "d2"]);
    assert_eq!(m.types, ["channel", "space", "space", "space"]);
    assert_eq!(roi(&m, &shape), "[0:400, 0:400, 0:400] (400, 400, 400)");
}

#[test]
fn daisy_1_n5_lists_are_reversed() {
    // daisy 1.x wrote N5 attributes in x, y, z order, next to N5's own array attributes.
    let attrs = json!({
        "dimensions": [100, 100, 10], "blockSize": [64, 64, 8], "dataType": "uint8",
        "compression": {"type": "gzip", "level": -1},
        "resolution": [4, 4, 40], "offset": [40, 40, 400],
    });
    let shape = [10, 100, 100];
    let m = read_n5(attrs, &shape);
    assert_eq!(m.voxel_size.to_string(), "(40, 4, 4)");
    assert_eq!(m.offset.to_string(), "(400, 40, 40)");
    assert_eq!(roi(&m, &shape), "[400:800, 40:440, 40:440] (400, 400, 400)");
}

#[test]
fn n5_pixel_resolution_gives_voxel_size_and_unit() {
    let attrs = json!({"pixelResolution": {"dimensions": [4.0, 8.0, 40.0], "unit": "nm"}});
    let m = read_n5(attrs.clone(), &[10, 100, 100]);
    assert_eq!(m.voxel_size.to_string(), "(40, 8, 4)");
    assert_eq!(m.units, ["nm", "nm", "nm"]);
    assert_eq!(m.offset.to_string(), "(0, 0, 0)");
    // In a Zarr container the same attributes are in C order.
    assert_eq!(
        read(attrs, &[10, 100, 100]).voxel_size.to_string(),
        "(4, 8, 40)"
    );
}

#[test]
fn transform_follows_its_own_ordering() {
    let c_order = json!({"transform": {
        "axes": ["z", "y", "x"], "ordering": "C", "scale": [40, 4, 4],
        "translate": [400, 40, 40], "units": ["nm", "nm", "nm"],
    }});
    let shape = [10, 100, 100];
    for m in [read(c_order.clone(), &shape), read_n5(c_order, &shape)] {
        assert_eq!(m.voxel_size.to_string(), "(40, 4, 4)");
        assert_eq!(m.offset.to_string(), "(400, 40, 40)");
        assert_eq!(m.units, ["nm", "nm", "nm"]);
    }
    // Without an ordering, C is meant.
    let implicit = json!({"transform": {"scale": [40, 4, 4], "translate": [400, 40, 40]}});
    assert_eq!(
        read_n5(implicit, &shape).voxel_size.to_string(),
        "(40, 4, 4)"
    );
    let f_order = json!({"transform": {
        "ordering": "F", "scale": [4, 4, 40], "translate": [40, 40, 400], "units": ["nm", "um", "pm"],
    }});
    for m in [read(f_order.clone(), &shape), read_n5(f_order, &shape)] {
        assert_eq!(m.voxel_size.to_string(), "(40, 4, 4)");
        assert_eq!(m.offset.to_string(), "(400, 40, 40)");
        assert_eq!(m.units, ["pm", "um", "nm"]);
    }
}

#[test]
fn scale_attribute_is_a_voxel_size() {
    let m = read(json!({"scale": [2, 3]}), &[5, 5]);
    assert_eq!(m.voxel_size.to_string(), "(2, 3)");
}

#[test]
fn the_current_attributes_win_over_the_legacy_ones_and_arguments_over_both() {
    let attrs = map(json!({"voxel_size": [8, 8], "resolution": [4, 4], "offset": [16, 16]}));
    let format = MetadataFormat::default();
    let m = format
        .read(&attrs, &[5, 5], &MetadataOverrides::default(), false)
        .unwrap();
    assert_eq!(m.voxel_size.to_string(), "(8, 8)");
    let voxel_size = MetadataOverrides {
        voxel_size: Some(daisy_geometry::Coordinate::new(&[2, 2]).unwrap()),
        ..Default::default()
    };
    let m = format.read(&attrs, &[5, 5], &voxel_size, false).unwrap();
    assert_eq!(m.voxel_size.to_string(), "(2, 2)");
    assert_eq!(m.offset.to_string(), "(16, 16)");
}

#[test]
fn an_offset_off_the_voxel_grid_is_kept_in_world_units() {
    // Older datasets sometimes store voxel centres; the offset is read as stored.
    let m = read(json!({"resolution": [8, 8], "offset": [4, 4]}), &[10, 10]);
    assert_eq!(m.offset.to_string(), "(4, 4)");
    assert_eq!(roi(&m, &[10, 10]), "[4:84, 4:84] (80, 80)");
}

#[test]
fn funlib_persistence_0_7_attributes() {
    // What funlib.persistence 0.7's prepare_ds("a.zarr", (3, 10, 10), voxel_size=(4, 4),
    // offset=(8, 8), custom_metadata={"k": 1}) stores.
    let attrs = json!({
        "axis_names": ["c0^", "d0", "d1"], "units": ["", ""], "voxel_size": [4, 4],
        "offset": [8, 8], "types": ["channel", "space", "space"], "k": 1,
    });
    let m = read(attrs, &[3, 10, 10]);
    assert_eq!(m.voxel_size.to_string(), "(4, 4)");
    assert_eq!(m.offset.to_string(), "(8, 8)");
    assert_eq!(m.axis_names, ["c0^", "d0", "d1"]);
    assert_eq!(m.channel_dims(), 1);
}
