//! [`MetadataFormat`]: where an array's metadata lives in its attributes, how it is read
//! (including the forms older tools wrote) and written, and the configuration files that name
//! the default format.
//!
//! The five attribute names default to `offset`, `voxel_size`, `axis_names`, `units` and `types`.
//! Each can be remapped to another key or to a path into nested attributes, as in
//! funlib.persistence's `MetaDataFormat`:
//!
//! - `a/b/c` reads `attrs["a"]["b"]["c"]`;
//! - an integer segment indexes a list: `arrays/0/offset` reads `attrs["arrays"][0]["offset"]`;
//! - `{dim}` collects one value per element of a list: `axes/{dim}/name` reads
//!   `[axis["name"] for axis in attrs["axes"]]` (a missing value is `None`).
//!
//! Older datasets are read too. When the voxel size attribute is absent, the voxel size is
//! taken from `resolution` (daisy ≤ 1.0, funlib.persistence ≤ 0.4), `scale`,
//! `pixelResolution.dimensions` or `transform.scale`; when the offset attribute is absent, from
//! `transform.translate`; when units are absent, from `pixelResolution.unit` (one unit for every
//! dimension) or `transform.units`. N5 datasets store every per-dimension list reversed (x, y, z
//! order); [`MetadataFormat::read_n5`] reverses them back. A `transform` is stored in the order
//! its `ordering` field says (`"C"` unless given), whatever the container.

use std::path::{Path, PathBuf};

use daisy_geometry::Coordinate;
use serde_json::{Map, Value};

use crate::error::ArrayError;
use crate::metadata::{ArrayMetadata, MetadataOverrides};

/// The name of funlib.persistence's configuration file.
pub const CONFIG_FILE_NAME: &str = "funlib_persistence.toml";

/// The attribute names (or `a/b` paths) under which an array's metadata is stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MetadataFormat {
    /// Key of the offset (world units, physical dimensions). Default `offset`.
    pub offset_attr: String,
    /// Key of the voxel size (world units, physical dimensions). Default `voxel_size`.
    pub voxel_size_attr: String,
    /// Key of the axis names (every dimension). Default `axis_names`.
    pub axis_names_attr: String,
    /// Key of the units (physical dimensions). Default `units`.
    pub units_attr: String,
    /// Key of the axis types (every dimension). Default `types`.
    pub types_attr: String,
}

impl Default for MetadataFormat {
    fn default() -> Self {
        MetadataFormat {
            offset_attr: "offset".into(),
            voxel_size_attr: "voxel_size".into(),
            axis_names_attr: "axis_names".into(),
            units_attr: "units".into(),
            types_attr: "types".into(),
        }
    }
}

/// The order in which a container stores per-dimension lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AttributeOrder {
    /// As the array's dimensions (Zarr).
    #[default]
    C,
    /// Reversed (N5, Fortran order).
    Fortran,
}

impl MetadataFormat {
    /// The five attribute keys, in the order offset, voxel size, axis names, units, types.
    pub fn attribute_keys(&self) -> [&str; 5] {
        [
            &self.offset_attr,
            &self.voxel_size_attr,
            &self.axis_names_attr,
            &self.units_attr,
            &self.types_attr,
        ]
    }

    /// The value at `key` (a key or `a/b/{dim}/c` path, see the module docs) in `attrs`, or
    /// `None` if it is absent.
    ///
    /// # Errors
    ///
    /// [`ArrayError::InvalidAttribute`] if the path runs into a value it cannot index (a
    /// non-integer segment into a list other than `{dim}`, a `{dim}` element that is not a
    /// string, number or null).
    pub fn fetch(attrs: &Map<String, Value>, key: &str) -> Result<Option<Value>, ArrayError> {
        let segments: Vec<&str> = key.split('/').collect();
        let Some((first, rest)) = segments.split_first() else {
            return Ok(None);
        };
        match attrs.get(*first) {
            None => Ok(None),
            Some(value) if rest.is_empty() => Ok(Some(value.clone())),
            Some(value) => fetch_in(value, rest, key),
        }
    }

    /// The metadata stored in `attrs` (a field is `None` where nothing is stored), including
    /// the older forms (see the module docs).
    ///
    /// # Errors
    ///
    /// [`ArrayError::InvalidAttribute`] if a stored value has the wrong form (not a list, a
    /// voxel size that is not integral, ...).
    pub fn read_stored(
        &self,
        attrs: &Map<String, Value>,
        order: AttributeOrder,
    ) -> Result<MetadataOverrides, ArrayError> {
        let reverse = order == AttributeOrder::Fortran;
        let get = |key: &str| Self::fetch(attrs, key);
        let coordinate = |key: &str| -> Result<Option<Coordinate>, ArrayError> {
            get(key)?
                .map(|v| to_coordinate(key, &v, reverse))
                .transpose()
        };
        let strings = |key: &str, null_ok: bool| -> Result<Option<Vec<String>>, ArrayError> {
            get(key)?
                .map(|v| to_strings(key, &v, null_ok, reverse))
                .transpose()
        };

        let mut stored = MetadataOverrides {
            offset: coordinate(&self.offset_attr)?,
            voxel_size: coordinate(&self.voxel_size_attr)?,
            axis_names: strings(&self.axis_names_attr, false)?,
            units: strings(&self.units_attr, true)?,
            types: strings(&self.types_attr, false)?,
        };

        // Older forms, used only where the attribute itself is absent.
        let transform = attrs.get("transform").and_then(Value::as_object);
        let transform_reversed = transform
            .and_then(|t| t.get("ordering"))
            .and_then(Value::as_str)
            .is_some_and(|o| o == "F");
        let pixel_resolution = attrs.get("pixelResolution").and_then(Value::as_object);
        if stored.voxel_size.is_none() {
            stored.voxel_size = if let Some(v) = attrs.get("resolution") {
                Some(to_coordinate("resolution", v, reverse)?)
            } else if let Some(v) = attrs.get("scale").filter(|v| v.is_array()) {
                Some(to_coordinate("scale", v, reverse)?)
            } else if let Some(v) = pixel_resolution.and_then(|p| p.get("dimensions")) {
                Some(to_coordinate("pixelResolution/dimensions", v, reverse)?)
            } else if let Some(v) = transform.and_then(|t| t.get("scale")) {
                Some(to_coordinate("transform/scale", v, transform_reversed)?)
            } else {
                None
            };
        }
        if stored.offset.is_none()
            && let Some(v) = transform.and_then(|t| t.get("translate"))
        {
            stored.offset = Some(to_coordinate("transform/translate", v, transform_reversed)?);
        }
        if stored.units.is_none() {
            if let (Some(unit), Some(voxel_size)) = (
                pixel_resolution
                    .and_then(|p| p.get("unit"))
                    .and_then(Value::as_str),
                stored.voxel_size,
            ) {
                stored.units = Some(vec![unit.to_owned(); voxel_size.dims()]);
            } else if let Some(v) = transform.and_then(|t| t.get("units")) {
                stored.units = Some(to_strings("transform/units", v, true, transform_reversed)?);
            }
        }
        Ok(stored)
    }

    /// The metadata of a Zarr array of `shape` from its attributes: `overrides` where given,
    /// else the stored values, else the defaults (see [`MetadataOverrides::resolve`]).
    ///
    /// # Errors
    ///
    /// [`ArrayError::InvalidAttribute`] for a stored value of the wrong form;
    /// [`ArrayError::InvalidMetadata`] if the result does not describe an array of `shape`.
    pub fn read(
        &self,
        attrs: &Map<String, Value>,
        shape: &[u64],
        overrides: &MetadataOverrides,
        strict: bool,
    ) -> Result<ArrayMetadata, ArrayError> {
        self.read_with_order(attrs, shape, overrides, strict, AttributeOrder::C)
    }

    /// As [`MetadataFormat::read`], for the attributes of an N5 dataset (`attributes.json`),
    /// whose per-dimension lists are reversed. `shape` is in C order (the reverse of N5's
    /// `dimensions`).
    ///
    /// # Errors
    ///
    /// As [`MetadataFormat::read`].
    pub fn read_n5(
        &self,
        attrs: &Map<String, Value>,
        shape: &[u64],
        overrides: &MetadataOverrides,
        strict: bool,
    ) -> Result<ArrayMetadata, ArrayError> {
        self.read_with_order(attrs, shape, overrides, strict, AttributeOrder::Fortran)
    }

    /// As [`MetadataFormat::read`], with lists stored in `order`.
    ///
    /// # Errors
    ///
    /// As [`MetadataFormat::read`].
    pub fn read_with_order(
        &self,
        attrs: &Map<String, Value>,
        shape: &[u64],
        overrides: &MetadataOverrides,
        strict: bool,
        order: AttributeOrder,
    ) -> Result<ArrayMetadata, ArrayError> {
        let stored = self.read_stored(attrs, order)?;
        overrides.or(&stored).resolve(shape, strict)
    }

    /// Writes the five metadata attributes into `attrs` under this format's keys, creating the
    /// nested objects (and lists, for integer and `{dim}` segments) a path needs and replacing
    /// values in the way.
    pub fn write(&self, metadata: &ArrayMetadata, attrs: &mut Map<String, Value>) {
        let coordinate = |c: &Coordinate| {
            Value::Array(
                c.iter()
                    .map(|v| v.map_or(Value::Null, Value::from))
                    .collect(),
            )
        };
        let strings =
            |s: &[String]| Value::Array(s.iter().map(|s| Value::String(s.clone())).collect());
        // Under a `{dim}` path (one entry per dimension), the values of the physical
        // dimensions are placed at those dimensions; the channels get none.
        let mask = metadata.physical_mask();
        let physical = |key: &str, value: Value| match value {
            Value::Array(values) if key.contains("{dim}") => {
                let mut values = values.into_iter();
                Value::Array(
                    mask.iter()
                        .map(|&p| {
                            if p {
                                values.next().unwrap_or(Value::Null)
                            } else {
                                Value::Null
                            }
                        })
                        .collect(),
                )
            }
            other => other,
        };
        let values = [
            (
                &self.offset_attr,
                physical(&self.offset_attr, coordinate(&metadata.offset)),
            ),
            (
                &self.voxel_size_attr,
                physical(&self.voxel_size_attr, coordinate(&metadata.voxel_size)),
            ),
            (&self.axis_names_attr, strings(&metadata.axis_names)),
            (
                &self.units_attr,
                physical(&self.units_attr, strings(&metadata.units)),
            ),
            (&self.types_attr, strings(&metadata.types)),
        ];
        for (key, value) in values {
            let segments: Vec<&str> = key.split('/').collect();
            if let Some((first, rest)) = segments.split_first() {
                if rest.is_empty() {
                    attrs.insert((*first).to_owned(), value);
                } else {
                    let slot = attrs.entry(*first).or_insert(Value::Null);
                    set_in(slot, rest, value);
                }
            }
        }
    }

    /// The format a configuration table describes: keys `offset_attr`, `voxel_size_attr`,
    /// `axis_names_attr`, `units_attr`, `types_attr` (each optional, a string); the rest keep
    /// their defaults.
    ///
    /// # Errors
    ///
    /// [`ArrayError::InvalidMetadataFormat`] for an unknown key or a value that is not a string.
    pub fn from_config(config: &Map<String, Value>) -> Result<MetadataFormat, ArrayError> {
        let mut format = MetadataFormat::default();
        for (key, value) in config {
            let slot = match key.as_str() {
                "offset_attr" => &mut format.offset_attr,
                "voxel_size_attr" => &mut format.voxel_size_attr,
                "axis_names_attr" => &mut format.axis_names_attr,
                "units_attr" => &mut format.units_attr,
                "types_attr" => &mut format.types_attr,
                _ => {
                    return Err(ArrayError::InvalidMetadataFormat {
                        reason: format!(
                            "unknown key {key:?}: expected offset_attr, voxel_size_attr, \
                             axis_names_attr, units_attr or types_attr"
                        ),
                    });
                }
            };
            let Some(value) = value.as_str() else {
                return Err(ArrayError::InvalidMetadataFormat {
                    reason: format!("{key} must be a string, got {value}"),
                });
            };
            value.clone_into(slot);
        }
        Ok(format)
    }

    /// The default format that funlib.persistence's configuration files describe (see
    /// [`config_paths`]): the files' settings merged, a higher-precedence file winning; the
    /// built-in default if no file exists or none sets anything.
    ///
    /// # Errors
    ///
    /// [`ArrayError::InvalidMetadataFormat`] naming the file that cannot be read or parsed,
    /// or the bad key.
    pub fn from_config_files(paths: &[PathBuf]) -> Result<MetadataFormat, ArrayError> {
        let mut merged = Map::new();
        for path in paths.iter().rev() {
            let text = match std::fs::read_to_string(path) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(ArrayError::InvalidMetadataFormat {
                        reason: format!("cannot read {}: {e}", path.display()),
                    });
                }
            };
            let table: toml::Table =
                text.parse()
                    .map_err(|e: toml::de::Error| ArrayError::InvalidMetadataFormat {
                        reason: format!("cannot parse {}: {}", path.display(), e.message()),
                    })?;
            let table = if path.file_name().is_some_and(|n| n == "pyproject.toml") {
                match table.get("tool").and_then(|t| t.get("funlib_persistence")) {
                    Some(toml::Value::Table(t)) => t.clone(),
                    _ => continue,
                }
            } else {
                table
            };
            for (key, value) in table {
                merged.insert(key, toml_to_json(value));
            }
        }
        Self::from_config(&merged).map_err(|e| match e {
            ArrayError::InvalidMetadataFormat { reason } => ArrayError::InvalidMetadataFormat {
                reason: format!("{reason} (in the configuration files {paths:?})"),
            },
            other => other,
        })
    }

    /// The configured default format for the current directory and user, as funlib.persistence
    /// reads it when it is imported (see [`config_paths`]).
    ///
    /// # Errors
    ///
    /// As [`MetadataFormat::from_config_files`].
    pub fn configured() -> Result<MetadataFormat, ArrayError> {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let home = std::env::var_os("HOME").map(PathBuf::from);
        Self::from_config_files(&config_paths(&cwd, home.as_deref()))
    }
}

/// funlib.persistence's configuration files, highest precedence first: `pyproject.toml` (its
/// `[tool.funlib_persistence]` table) and `funlib_persistence.toml` in `cwd`, then
/// `~/.config/funlib_persistence/funlib_persistence.toml`, then
/// `/etc/funlib_persistence/funlib_persistence.toml`.
pub fn config_paths(cwd: &Path, home: Option<&Path>) -> Vec<PathBuf> {
    let mut paths = vec![cwd.join("pyproject.toml"), cwd.join(CONFIG_FILE_NAME)];
    if let Some(home) = home {
        paths.push(
            home.join(".config")
                .join("funlib_persistence")
                .join(CONFIG_FILE_NAME),
        );
    }
    paths.push(Path::new("/etc/funlib_persistence").join(CONFIG_FILE_NAME));
    paths
}

/// A TOML value as JSON (datetimes as strings).
fn toml_to_json(value: toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => Value::from(f),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => {
            Value::Object(t.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect())
        }
    }
}

/// Follows the remaining path `segments` of `key` into `value`.
fn fetch_in(value: &Value, segments: &[&str], key: &str) -> Result<Option<Value>, ArrayError> {
    let Some((current, rest)) = segments.split_first() else {
        return Ok(Some(value.clone()));
    };
    let child = match value {
        Value::Object(map) => map.get(*current),
        Value::Array(list) => {
            if let Ok(index) = current.parse::<i64>() {
                python_index(list, index)
            } else if *current == "{dim}" {
                let mut values = Vec::with_capacity(list.len());
                for element in list {
                    let v = fetch_in(element, rest, key)?.unwrap_or(Value::Null);
                    if v.is_array() || v.is_object() {
                        return Err(bad(key, &v, "a {dim} path must lead to single values"));
                    }
                    values.push(v);
                }
                return Ok(Some(Value::Array(values)));
            } else {
                return Err(bad(
                    key,
                    value,
                    &format!("cannot index a list with {current:?} (use an integer or {{dim}})"),
                ));
            }
        }
        Value::Null => None,
        other => {
            return Err(bad(
                key,
                other,
                &format!("cannot index it with {current:?}"),
            ));
        }
    };
    match child {
        None => Ok(None),
        Some(child) => fetch_in(child, rest, key),
    }
}

/// `list[index]` with Python's negative indexes; `None` if out of range.
fn python_index(list: &[Value], index: i64) -> Option<&Value> {
    let len = i64::try_from(list.len()).ok()?;
    let i = if index < 0 { index + len } else { index };
    usize::try_from(i).ok().and_then(|i| list.get(i))
}

/// Stores `value` at the path `segments` below `slot`, replacing what is in the way.
fn set_in(slot: &mut Value, segments: &[&str], value: Value) {
    let Some((current, rest)) = segments.split_first() else {
        *slot = value;
        return;
    };
    if *current == "{dim}" {
        let Value::Array(values) = value else {
            *slot = value;
            return;
        };
        if !slot.is_array() {
            *slot = Value::Array(Vec::new());
        }
        if let Value::Array(list) = slot {
            if list.len() < values.len() {
                list.resize(values.len(), Value::Null);
            }
            for (element, v) in list.iter_mut().zip(values) {
                if v.is_null() {
                    // No value for this dimension: leave its entry as it is.
                    if element.is_null() {
                        *element = Value::Object(Map::new());
                    }
                } else {
                    set_in(element, rest, v);
                }
            }
        }
    } else if let Ok(index) = current.parse::<usize>() {
        if !slot.is_array() {
            *slot = Value::Array(Vec::new());
        }
        if let Value::Array(list) = slot {
            if list.len() <= index {
                list.resize(index + 1, Value::Null);
            }
            set_in(&mut list[index], rest, value);
        }
    } else {
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        if let Value::Object(map) = slot {
            let child = map.entry(*current).or_insert(Value::Null);
            set_in(child, rest, value);
        }
    }
}

/// A stored list of integers (or `null`) as a coordinate, reversed if `reverse`.
fn to_coordinate(key: &str, value: &Value, reverse: bool) -> Result<Coordinate, ArrayError> {
    let Value::Array(list) = value else {
        return Err(bad(key, value, "expected a list of integers"));
    };
    let mut values = Vec::with_capacity(list.len());
    for v in list {
        values.push(match v {
            Value::Null => None,
            Value::Number(n) => Some(if let Some(i) = n.as_i64() {
                i
            } else {
                match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => f as i64,
                    _ => return Err(bad(key, value, "expected integers (world units)")),
                }
            }),
            _ => return Err(bad(key, value, "expected a list of integers")),
        });
    }
    if reverse {
        values.reverse();
    }
    Coordinate::from_options(&values).map_err(|e| bad(key, value, &e.to_string()))
}

/// A stored list of strings, reversed if `reverse`; `null` elements become `""` if `null_ok`.
fn to_strings(
    key: &str,
    value: &Value,
    null_ok: bool,
    reverse: bool,
) -> Result<Vec<String>, ArrayError> {
    let Value::Array(list) = value else {
        return Err(bad(key, value, "expected a list of strings"));
    };
    let mut strings = list
        .iter()
        .map(|v| match v {
            Value::String(s) => Ok(s.clone()),
            Value::Null if null_ok => Ok(String::new()),
            _ => Err(bad(key, value, "expected a list of strings")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if reverse {
        strings.reverse();
    }
    Ok(strings)
}

/// Builds an [`ArrayError::InvalidAttribute`].
fn bad(key: &str, value: &Value, reason: &str) -> ArrayError {
    ArrayError::InvalidAttribute {
        key: key.to_owned(),
        value: value.to_string(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn fetch_follows_nested_paths_indexes_and_dims() -> Result<(), ArrayError> {
        let attrs = map(json!({
            "metadata": {"offset": [100, 200]},
            "axes": [{"offset": 0}, {"offset": 1}, {}],
            "arrays": [{"offset": [1, 1]}, {"offset": [2, 2]}],
        }));
        let fetch = |k| MetadataFormat::fetch(&attrs, k);
        assert_eq!(fetch("metadata/offset")?, Some(json!([100, 200])));
        assert_eq!(fetch("axes/{dim}/offset")?, Some(json!([0, 1, null])));
        assert_eq!(fetch("arrays/1/offset")?, Some(json!([2, 2])));
        assert_eq!(fetch("arrays/-1/offset")?, Some(json!([2, 2])));
        assert_eq!(fetch("missing/offset")?, None);
        assert_eq!(fetch("metadata/missing")?, None);
        assert!(fetch("arrays/x/offset").is_err());
        Ok(())
    }

    #[test]
    fn write_then_read_round_trips_through_nested_keys() -> Result<(), ArrayError> {
        let format = MetadataFormat {
            offset_attr: "meta/offset".into(),
            voxel_size_attr: "meta/scale/0".into(),
            axis_names_attr: "axes/{dim}/name".into(),
            units_attr: "meta/units".into(),
            types_attr: "axes/{dim}/type".into(),
        };
        let metadata = MetadataOverrides {
            voxel_size: Some(Coordinate::new(&[4, 8])?),
            offset: Some(Coordinate::new(&[40, 80])?),
            ..Default::default()
        }
        .resolve(&[3, 10, 10], false)?;
        let mut attrs = map(json!({"keep": 1, "meta": 5}));
        format.write(&metadata, &mut attrs);
        assert_eq!(attrs["keep"], json!(1));
        assert_eq!(
            attrs["axes"],
            json!([{"name": "c0^", "type": "channel"}, {"name": "d0", "type": "space"},
                   {"name": "d1", "type": "space"}])
        );
        assert_eq!(attrs["meta"]["scale"], json!([[4, 8]]));
        let read = format.read(&attrs, &[3, 10, 10], &MetadataOverrides::default(), true)?;
        assert_eq!(read, metadata);
        Ok(())
    }

    #[test]
    fn config_rejects_unknown_keys_and_non_strings() {
        assert!(MetadataFormat::from_config(&map(json!({"offset_attr": "o"}))).is_ok());
        assert!(MetadataFormat::from_config(&map(json!({"offset": "o"}))).is_err());
        assert!(MetadataFormat::from_config(&map(json!({"offset_attr": 3}))).is_err());
    }
}
