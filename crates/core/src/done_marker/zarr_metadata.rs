//! The Zarr v3 array metadata of a done marker (`zarr.json`): written for a new marker,
//! validated for an existing one.

use std::fs;
use std::io;
use std::path::Path;

use serde_json::{Value, json};

use super::{display, io_error, platform_io};
use crate::CoreError;

/// The metadata file of a Zarr v3 array.
pub(super) const METADATA: &str = "zarr.json";
/// Prefix of the temporary file `zarr.json` is written to before it is renamed into place.
pub(super) const METADATA_TMP_PREFIX: &str = ".zarr.json.tmp";
/// The array attribute holding the layout hash.
const HASH_ATTRIBUTE: &str = "daisy_task_hash";
/// The array attribute holding the id of the task the marker belongs to.
const TASK_ID_ATTRIBUTE: &str = "daisy_task_id";

/// What the metadata of an existing marker says.
#[derive(Debug)]
pub(super) struct StoredMetadata {
    /// The number of entries (the array's shape).
    pub len: u64,
    /// The `daisy_task_hash` attribute.
    pub task_hash: String,
    /// The `daisy_task_id` attribute; `None` in markers written before task ids were recorded
    /// (and by daisy 2.0).
    pub task_id: Option<String>,
}

/// Validates `zarr.json` as a daisy marker: a 1-D single-chunk `uint8` Zarr v3 array.
pub(super) fn parse_metadata(path: &Path, text: &str) -> Result<StoredMetadata, CoreError> {
    let invalid = |reason: String| CoreError::DoneMarkerInvalid {
        path: display(path),
        reason,
    };
    let value: Value = serde_json::from_str(text)
        .map_err(|e| invalid(format!("{METADATA} is not valid json: {e}")))?;
    let field = |name: &str| value.get(name).unwrap_or(&Value::Null);
    let expect = |name: &str, expected: &Value| {
        let got = field(name);
        if got == expected {
            Ok(())
        } else {
            Err(invalid(format!("{name} is {got}, expected {expected}")))
        }
    };
    if !value.is_object() {
        return Err(invalid(format!(
            "{METADATA} is {value}, expected an object"
        )));
    }
    expect("zarr_format", &json!(3))?;
    expect("node_type", &json!("array"))?;
    expect("data_type", &json!("uint8"))?;
    expect("fill_value", &json!(0))?;
    let shape = field("shape");
    let len = match shape.as_array().map(Vec::as_slice) {
        Some([n]) => n.as_u64(),
        _ => None,
    }
    .ok_or_else(|| invalid(format!("shape is {shape}, expected [n]")))?;
    let grid = field("chunk_grid");
    let single_chunk = json!({"name": "regular", "configuration": {"chunk_shape": [len.max(1)]}});
    if *grid != single_chunk {
        return Err(invalid(format!(
            "chunk_grid is {grid}, expected {single_chunk} (one chunk)"
        )));
    }
    let encoding = field("chunk_key_encoding");
    let separator = encoding
        .get("configuration")
        .and_then(|c| c.get("separator"))
        .unwrap_or(&Value::Null);
    if encoding.get("name") != Some(&json!("default"))
        || !(separator.is_null() || *separator == json!("/"))
    {
        return Err(invalid(format!(
            "chunk_key_encoding is {encoding}, expected the default encoding with separator \"/\""
        )));
    }
    let codecs = field("codecs");
    let bytes_only = matches!(
        codecs.as_array().map(Vec::as_slice),
        Some([codec]) if codec.get("name") == Some(&json!("bytes"))
    );
    if !bytes_only {
        return Err(invalid(format!(
            "codecs are {codecs}, expected only the bytes codec"
        )));
    }
    let transformers = field("storage_transformers");
    if !(transformers.is_null() || transformers.as_array().is_some_and(Vec::is_empty)) {
        return Err(invalid(format!(
            "storage_transformers are {transformers}, expected none"
        )));
    }
    let attributes = field("attributes");
    let task_hash = attributes
        .get(HASH_ATTRIBUTE)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("it has no string attribute {HASH_ATTRIBUTE}")))?;
    let task_id = match attributes.get(TASK_ID_ATTRIBUTE) {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => Some(id.clone()),
        Some(other) => {
            return Err(invalid(format!(
                "attribute {TASK_ID_ATTRIBUTE} is {other}, expected a string"
            )));
        }
    };
    Ok(StoredMetadata {
        len,
        task_hash: task_hash.to_owned(),
        task_id,
    })
}

/// The metadata of the marker of task `task_id` with `len` entries.
fn metadata(len: u64, task_hash: &str, task_id: &str) -> Value {
    json!({
        "zarr_format": 3,
        "node_type": "array",
        "shape": [len],
        "data_type": "uint8",
        // Zarr readers need a positive chunk shape; an empty array has no chunk at all.
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [len.max(1)]}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": 0,
        "codecs": [{"name": "bytes"}],
        "attributes": {HASH_ATTRIBUTE: task_hash, TASK_ID_ATTRIBUTE: task_id},
        "dimension_names": ["block_id"],
    })
}

/// Writes `zarr.json` of the marker of task `task_id` with `len` entries atomically (see
/// [`platform_io::write_atomically`]), creating the directory if missing.
pub(super) fn write_metadata(
    path: &Path,
    len: u64,
    task_hash: &str,
    task_id: &str,
) -> Result<(), CoreError> {
    fs::create_dir_all(path).map_err(|e| io_error(path, "create", e))?;
    let target = path.join(METADATA);
    let tmp = path.join(format!("{METADATA_TMP_PREFIX}.{}", std::process::id()));
    let mut text = serde_json::to_string_pretty(&metadata(len, task_hash, task_id))
        .map_err(|e| io_error(&target, "serialize", io::Error::other(e)))?;
    text.push('\n');
    // The temporary file, if left behind, is recognised as a marker file.
    platform_io::write_atomically(&target, &tmp, text.as_bytes())
        .map_err(|e| io_error(&target, "write", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_validation_names_the_bad_field() {
        let good = metadata(7, "abc", "t");
        let path = Path::new("/m");
        let parsed = parse_metadata(path, &good.to_string()).unwrap();
        assert_eq!((parsed.len, parsed.task_hash.as_str()), (7, "abc"));
        assert_eq!(parsed.task_id.as_deref(), Some("t"));
        let mut bad = good.clone();
        bad["attributes"]["daisy_task_id"] = json!(3);
        let err = parse_metadata(path, &bad.to_string()).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("attribute daisy_task_id is 3, expected a string"),
            "{err}"
        );
        // Markers written before task ids were recorded have none.
        let mut old = good.clone();
        old["attributes"] = json!({"daisy_task_hash": "abc"});
        assert_eq!(
            parse_metadata(path, &old.to_string()).unwrap().task_id,
            None
        );
        let mut bad = good.clone();
        bad["data_type"] = json!("uint16");
        let err = parse_metadata(path, &bad.to_string()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/m is not a daisy done marker (a 1-d uint8 zarr v3 array): \
             data_type is \"uint16\", expected \"uint8\""
        );
        let mut bad = good.clone();
        bad["chunk_grid"]["configuration"]["chunk_shape"] = json!([3]);
        assert!(matches!(
            parse_metadata(path, &bad.to_string()),
            Err(CoreError::DoneMarkerInvalid { .. })
        ));
        let mut bad = good.clone();
        bad["codecs"] = json!([{"name": "bytes"}, {"name": "gzip"}]);
        assert!(parse_metadata(path, &bad.to_string()).is_err());
        let err = parse_metadata(path, "{").unwrap_err();
        assert!(
            err.to_string().contains("zarr.json is not valid json"),
            "{err}"
        );
        // The separator may be left at its default.
        let mut ok = good;
        ok["chunk_key_encoding"] = json!({"name": "default"});
        assert!(parse_metadata(path, &ok.to_string()).is_ok());
    }

    #[test]
    fn written_metadata_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m");
        write_metadata(&path, 12, "feed", "smooth").unwrap();
        let text = fs::read_to_string(path.join(METADATA)).unwrap();
        let stored = parse_metadata(&path, &text).unwrap();
        assert_eq!((stored.len, stored.task_hash.as_str()), (12, "feed"));
        assert_eq!(stored.task_id.as_deref(), Some("smooth"));
    }
}
