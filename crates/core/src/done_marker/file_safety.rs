//! Refusing to use or delete a directory that is not a done marker: a mistyped path must never
//! write into, or remove, other data.

use std::fs;
use std::io;
use std::path::Path;

use super::zarr_metadata::{METADATA, METADATA_TMP_PREFIX};
use super::{CHUNK, CHUNK_DIR, display, io_error};
use crate::CoreError;

/// Whether `path` may be deleted as a marker: `false` if it does not exist, `true` if it is a
/// directory holding nothing but a marker's files.
///
/// # Errors
///
/// [`CoreError::DoneMarkerInvalid`] if it is not a directory or holds other files,
/// [`CoreError::DoneMarkerIo`] if it cannot be inspected or listed.
pub(super) fn removable(path: &Path) -> Result<bool, CoreError> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io_error(path, "inspect", e)),
        Ok(meta) if !meta.is_dir() => {
            return Err(CoreError::DoneMarkerInvalid {
                path: display(path),
                reason: "it is not a directory; refusing to delete it".to_owned(),
            });
        }
        Ok(_) => {}
    }
    if let Some(entry) = foreign_entry(path)? {
        return Err(not_a_marker(path, &entry));
    }
    Ok(true)
}

/// The first entry of `path` that is not a marker file (`zarr.json`, its temporary file,
/// `c/0`), as a relative path; `None` if there is none or `path` does not exist.
pub(super) fn foreign_entry(path: &Path) -> Result<Option<String>, CoreError> {
    let entries = match fs::read_dir(path) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(path, "list", e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| io_error(path, "list", e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if name == CHUNK_DIR && is_dir {
            if let Some(chunk) = foreign_chunk(&entry.path())? {
                return Ok(Some(format!("{CHUNK_DIR}/{chunk}")));
            }
            continue;
        }
        let ok = !is_dir && (name == METADATA || name.starts_with(METADATA_TMP_PREFIX));
        if !ok {
            return Ok(Some(name));
        }
    }
    Ok(None)
}

/// The first entry of the chunk directory other than the chunk `0`.
fn foreign_chunk(dir: &Path) -> Result<Option<String>, CoreError> {
    let entries = fs::read_dir(dir).map_err(|e| io_error(dir, "list", e))?;
    for entry in entries {
        let name = entry
            .map_err(|e| io_error(dir, "list", e))?
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name != CHUNK {
            return Ok(Some(name));
        }
    }
    Ok(None)
}

/// The error for a directory that holds more than a marker.
pub(super) fn not_a_marker(path: &Path, entry: &str) -> CoreError {
    CoreError::DoneMarkerInvalid {
        path: display(path),
        reason: format!(
            "it contains {entry:?}, which is no marker file; refusing to use or delete it"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_marker_files_are_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m");
        assert!(!removable(&path).unwrap());
        assert_eq!(foreign_entry(&path).unwrap(), None);
        fs::create_dir_all(path.join(CHUNK_DIR)).unwrap();
        fs::write(path.join(METADATA), "{}").unwrap();
        fs::write(path.join(CHUNK_DIR).join(CHUNK), "").unwrap();
        fs::write(path.join(format!("{METADATA_TMP_PREFIX}.12")), "").unwrap();
        assert!(removable(&path).unwrap());
        fs::write(path.join(CHUNK_DIR).join("1"), "").unwrap();
        assert_eq!(foreign_entry(&path).unwrap().as_deref(), Some("c/1"));
        let err = removable(&path).unwrap_err();
        assert!(
            err.to_string().contains("refusing to use or delete it"),
            "{err}"
        );
        let file = dir.path().join("file");
        fs::write(&file, "data").unwrap();
        let err = removable(&file).unwrap_err();
        assert!(err.to_string().contains("it is not a directory"), "{err}");
    }
}
