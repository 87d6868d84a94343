//! Remapped attribute names (other keys, nested `a/b` paths, list indexes, `{dim}`) and the
//! configuration files that name the default format.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use daisy_array::{ArrayError, MetadataFormat, MetadataOverrides, config_paths};
use serde_json::{Map, Value, json};

fn map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn format(
    offset: &str,
    voxel_size: &str,
    axis_names: &str,
    units: &str,
    types: &str,
) -> MetadataFormat {
    MetadataFormat {
        offset_attr: offset.into(),
        voxel_size_attr: voxel_size.into(),
        axis_names_attr: axis_names.into(),
        units_attr: units.into(),
        types_attr: types.into(),
    }
}

#[test]
fn nested_keys_read_and_write() {
    let format = format("meta/offset", "meta/res", "names", "meta/units", "kinds");
    let attrs = map(json!({
        "meta": {"offset": [10, 20], "res": [5, 10], "units": ["nm", "nm"]},
        "names": ["z", "y"], "kinds": ["space", "space"],
    }));
    let m = format
        .read(&attrs, &[4, 4], &MetadataOverrides::default(), true)
        .unwrap();
    assert_eq!(m.offset.to_string(), "(10, 20)");
    assert_eq!(m.voxel_size.to_string(), "(5, 10)");
    assert_eq!(m.axis_names, ["z", "y"]);

    let mut written = Map::new();
    format.write(&m, &mut written);
    assert_eq!(Value::Object(written), Value::Object(attrs));
}

#[test]
fn dim_paths_collect_one_value_per_axis() {
    // An OME-like layout: one object per axis; the channel axis has no scale or unit.
    let format = format(
        "axes/{dim}/translation",
        "axes/{dim}/scale",
        "axes/{dim}/name",
        "axes/{dim}/unit",
        "axes/{dim}/type",
    );
    let attrs = map(json!({"axes": [
        {"name": "c", "type": "channel"},
        {"name": "z", "type": "space", "scale": 40, "translation": 400, "unit": "nm"},
        {"name": "y", "type": "space", "scale": 4, "translation": 40, "unit": "nm"},
    ]}));
    let m = format
        .read(&attrs, &[2, 10, 10], &MetadataOverrides::default(), false)
        .unwrap();
    assert_eq!(m.voxel_size.to_string(), "(40, 4)");
    assert_eq!(m.offset.to_string(), "(400, 40)");
    assert_eq!(m.units, ["nm", "nm"]);
    assert_eq!(m.axis_names, ["c", "z", "y"]);
    assert_eq!(m.channel_dims(), 1);

    // Written back, the physical values land on the physical axes only.
    let mut written = Map::new();
    format.write(&m, &mut written);
    assert_eq!(written, attrs);
}

#[test]
fn list_indexes_select_an_entry() {
    let format = format(
        "arrays/1/offset",
        "arrays/1/voxel_size",
        "axis_names",
        "units",
        "types",
    );
    let attrs = map(json!({"arrays": [
        {"offset": [1, 1], "voxel_size": [1, 1]},
        {"offset": [2, 2], "voxel_size": [2, 2]},
    ]}));
    let m = format
        .read(&attrs, &[4, 4], &MetadataOverrides::default(), false)
        .unwrap();
    assert_eq!(m.offset.to_string(), "(2, 2)");
    assert_eq!(m.voxel_size.to_string(), "(2, 2)");
    // Writing replaces that entry only.
    let mut updated = attrs.clone();
    let mut moved = m.clone();
    moved.offset = daisy_geometry::Coordinate::new(&[6, 6]).unwrap();
    format.write(&moved, &mut updated);
    assert_eq!(
        updated["arrays"][0],
        json!({"offset": [1, 1], "voxel_size": [1, 1]})
    );
    assert_eq!(
        updated["arrays"][1],
        json!({"offset": [6, 6], "voxel_size": [2, 2]})
    );
}

#[test]
fn a_missing_nested_parent_means_absent() {
    let format = format(
        "meta/offset",
        "meta/voxel_size",
        "axis_names",
        "units",
        "types",
    );
    let m = format
        .read(
            &map(json!({"other": 1})),
            &[4],
            &MetadataOverrides::default(),
            false,
        )
        .unwrap();
    assert_eq!(m.offset.to_string(), "(0,)");
}

#[test]
fn a_path_through_a_value_that_cannot_be_indexed_names_the_key() {
    let format = format("meta/offset", "voxel_size", "axis_names", "units", "types");
    let error = format
        .read(
            &map(json!({"meta": "text"})),
            &[4],
            &MetadataOverrides::default(),
            false,
        )
        .unwrap_err();
    assert!(
        matches!(&error, ArrayError::InvalidAttribute { key, .. } if key == "meta/offset"),
        "{error:?}"
    );
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn config_files_merge_with_the_nearest_winning() {
    let dir = tempfile::tempdir().unwrap();
    let (cwd, home) = (dir.path().join("project"), dir.path().join("home"));
    let paths = config_paths(&cwd, Some(&home));
    assert_eq!(paths[0], cwd.join("pyproject.toml"));
    assert_eq!(paths[1], cwd.join("funlib_persistence.toml"));
    assert_eq!(
        paths[2],
        home.join(".config/funlib_persistence/funlib_persistence.toml")
    );
    assert_eq!(
        paths[3],
        Path::new("/etc/funlib_persistence/funlib_persistence.toml")
    );
    let paths = &paths[..3];

    // No file: the default format.
    assert_eq!(
        MetadataFormat::from_config_files(paths).unwrap(),
        MetadataFormat::default()
    );

    write(
        &paths[2],
        "offset_attr = \"user_offset\"\nunits_attr = \"user_units\"\n",
    );
    write(&paths[1], "offset_attr = \"local_offset\"\n");
    write(
        &paths[0],
        "[project]\nname = \"x\"\n\n[tool.funlib_persistence]\nvoxel_size_attr = \"meta/resolution\"\n",
    );
    let configured = MetadataFormat::from_config_files(paths).unwrap();
    assert_eq!(configured.offset_attr, "local_offset");
    assert_eq!(configured.units_attr, "user_units");
    assert_eq!(configured.voxel_size_attr, "meta/resolution");
    assert_eq!(configured.axis_names_attr, "axis_names");

    // A pyproject.toml without the table sets nothing.
    write(&paths[0], "[project]\nname = \"x\"\n");
    let configured = MetadataFormat::from_config_files(paths).unwrap();
    assert_eq!(configured.voxel_size_attr, "voxel_size");
}

#[test]
fn bad_config_files_are_errors_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("funlib_persistence.toml");
    write(&file, "offset_attr = \n");
    let error = MetadataFormat::from_config_files(std::slice::from_ref(&file)).unwrap_err();
    assert!(matches!(error, ArrayError::InvalidMetadataFormat { .. }));
    assert!(
        error.to_string().contains("funlib_persistence.toml"),
        "{error}"
    );

    write(&file, "offset = \"o\"\n");
    let error = MetadataFormat::from_config_files(std::slice::from_ref(&file)).unwrap_err();
    assert!(
        error.to_string().contains("unknown key \"offset\""),
        "{error}"
    );

    write(&file, "offset_attr = 3\n");
    let error = MetadataFormat::from_config_files(std::slice::from_ref(&file)).unwrap_err();
    assert!(
        error.to_string().contains("offset_attr must be a string"),
        "{error}"
    );
}
