//! Done markers: a persistent record of a task's completed blocks (docs/semantics.md#resume).
//!
//! A marker is a directory holding a single-chunk Zarr v3 array of `uint8`, one byte per spatial
//! block id (byte `N` = block `N`; `0` not done, `1` succeeded), the layout of daisy 2.0, so any
//! Zarr v3 reader can open it:
//!
//! ```text
//! <path>/zarr.json   array metadata; attribute `daisy_task_hash` ties it to one task layout
//! <path>/c/0         the chunk: one raw byte per block id, created sparse (costs no disk)
//! ```
//!
//! Block ids are Cantor numbers and not dense (docs/semantics.md#blocks-and-block-ids): in 3-D they reach about six times the
//! number of blocks, so the array has `largest id + 1` entries. Marking a block done is one
//! positioned one-byte write, O(1) and without fsync: the byte sits in the page cache and
//! survives a crash of the scheduler process; [`DoneMarker::sync`] makes it durable against a
//! crash of the machine.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use daisy_geometry::Roi;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{CoreError, Fit, Task, cantor_number};

/// The metadata file of a Zarr v3 array.
const METADATA: &str = "zarr.json";
/// The directory of chunk keys with the default encoding and separator `/`.
const CHUNK_DIR: &str = "c";
/// The only chunk: key `c/0`.
const CHUNK: &str = "0";
/// Prefix of the temporary file `zarr.json` is written to before it is renamed into place.
const METADATA_TMP_PREFIX: &str = ".zarr.json.tmp";
/// The array attribute holding the layout hash.
const HASH_ATTRIBUTE: &str = "daisy_task_hash";
/// Bytes read at a time by [`DoneMarker::count_done`].
const COUNT_BUFFER: usize = 1 << 20;

/// A persistent per-task record of completed blocks, stored as a Zarr v3 array.
///
/// Open it with [`DoneMarker::open`] (which creates it if missing and refuses a marker written
/// for another task layout), record successes with [`DoneMarker::mark_done`] and ask
/// [`DoneMarker::is_done`] before handing out a block. All methods take `&self`: the bytes are
/// written with positioned writes, so a marker can be shared between threads.
///
/// ```
/// use daisy_core::{DoneMarker, Task};
/// use daisy_geometry::Roi;
///
/// let task = Task::builder(
///     "smooth",
///     Roi::from_values(&[0, 0], &[100, 100]).unwrap(),
///     Roi::from_values(&[0, 0], &[12, 12]).unwrap(),
///     Roi::from_values(&[1, 1], &[10, 10]).unwrap(),
/// )
/// .build()
/// .unwrap();
/// let dir = std::env::temp_dir().join(format!("daisy-doc-marker-{}", std::process::id()));
/// let path = dir.join("smooth");
/// let marker = DoneMarker::open(&path, &task).unwrap();
/// // 9 × 9 blocks; the far corner, index (8, 8), has the largest id: 16·17/2 + 8 = 144.
/// assert_eq!(marker.len(), 145);
/// marker.mark_done(4).unwrap();
/// drop(marker);
/// // After a restart (or a crash), the mark is still there.
/// let marker = DoneMarker::open(&path, &task).unwrap();
/// assert!(marker.is_done(4).unwrap());
/// assert_eq!(marker.count_done().unwrap(), 1);
/// DoneMarker::reset(&path).unwrap();
/// assert!(!path.exists());
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Debug)]
pub struct DoneMarker {
    /// The marker directory.
    path: PathBuf,
    /// The open chunk `c/0`; `None` for a task without blocks (no chunk exists).
    chunk: Option<File>,
    /// The number of entries: the task's largest block id + 1.
    len: u64,
    /// The task's layout hash, as stored in the metadata.
    task_hash: String,
}

impl DoneMarker {
    /// Opens the marker of a task at `path`, creating it if missing.
    ///
    /// A new marker is an all-zero sparse chunk plus its metadata, written to a temporary file
    /// and renamed into place. An existing one must be a 1-D `uint8` Zarr v3 array with one
    /// chunk, the bytes codec and fill value 0, whose `daisy_task_hash` equals
    /// [`DoneMarker::layout_hash`] of the task and whose shape equals
    /// [`DoneMarker::num_ids`]. A missing chunk of an existing marker (a Zarr writer may delete
    /// an all-zero chunk) is recreated empty.
    ///
    /// # Errors
    ///
    /// - [`CoreError::DoneMarkerLayoutMismatch`] if the marker was written for a task with
    ///   other ROIs or another fit;
    /// - [`CoreError::DoneMarkerShapeMismatch`] if it has the task's hash but another shape;
    /// - [`CoreError::DoneMarkerInvalid`] if the metadata is not valid JSON or not such an
    ///   array, if the chunk has the wrong length, or if `path` is a directory holding files
    ///   other than a marker's (nothing is written into it then);
    /// - [`CoreError::DoneMarkerIo`] if a file cannot be read, created or written;
    /// - [`CoreError::BlockIdOverflow`] if the task's largest block id is `u64::MAX`.
    pub fn open(path: &Path, task: &Task) -> Result<DoneMarker, CoreError> {
        let len = Self::num_ids(task)?;
        let task_hash = Self::layout_hash(task);
        let metadata_path = path.join(METADATA);
        match fs::read_to_string(&metadata_path) {
            Ok(text) => {
                let stored = parse_metadata(path, &text)?;
                if stored.task_hash != task_hash {
                    return Err(CoreError::DoneMarkerLayoutMismatch {
                        path: display(path),
                        stored: stored.task_hash,
                        expected: task_hash,
                    });
                }
                if stored.len != len {
                    return Err(CoreError::DoneMarkerShapeMismatch {
                        path: display(path),
                        stored: stored.len,
                        expected: len,
                    });
                }
                let chunk = open_chunk(path, len, false)?;
                Ok(DoneMarker {
                    path: path.to_path_buf(),
                    chunk,
                    len,
                    task_hash,
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if let Some(entry) = foreign_entry(path)? {
                    return Err(not_a_marker(path, &entry));
                }
                // The chunk first: a crash before the metadata lands leaves no marker behind,
                // and a stale chunk without metadata is truncated here.
                let chunk = open_chunk(path, len, true)?;
                write_metadata(path, len, &task_hash)?;
                Ok(DoneMarker {
                    path: path.to_path_buf(),
                    chunk,
                    len,
                    task_hash,
                })
            }
            Err(e) => Err(io_error(&metadata_path, "read", &e)),
        }
    }

    /// Whether a block is recorded as done (ids ≥ [`DoneMarker::len`]: `false`).
    ///
    /// Any non-zero byte counts as done (daisy writes 1).
    ///
    /// # Errors
    ///
    /// [`CoreError::DoneMarkerIo`] if the chunk cannot be read.
    pub fn is_done(&self, spatial_id: u64) -> Result<bool, CoreError> {
        let Some(chunk) = self.chunk.as_ref().filter(|_| spatial_id < self.len) else {
            return Ok(false);
        };
        let mut byte = [0u8];
        let read = read_at(chunk, &mut byte, spatial_id)
            .map_err(|e| io_error(&self.chunk_path(), "read", &e))?;
        // A chunk cut short reads as the fill value.
        Ok(read == 1 && byte[0] != 0)
    }

    /// Records a block as done: one positioned one-byte write, O(1), no fsync.
    ///
    /// The byte goes straight to the operating system (no buffer in this process), so it
    /// survives a crash of the scheduler process; call [`DoneMarker::sync`] to make it survive
    /// a crash of the machine.
    ///
    /// # Errors
    ///
    /// [`CoreError::DoneMarkerIdOutOfRange`] if `spatial_id` ≥ [`DoneMarker::len`] (not a block
    /// of this task), [`CoreError::DoneMarkerIo`] if the write fails.
    pub fn mark_done(&self, spatial_id: u64) -> Result<(), CoreError> {
        let Some(chunk) = self.chunk.as_ref().filter(|_| spatial_id < self.len) else {
            return Err(CoreError::DoneMarkerIdOutOfRange {
                path: display(&self.path),
                spatial_id,
                len: self.len,
            });
        };
        write_all_at(chunk, &[1], spatial_id).map_err(|e| io_error(&self.chunk_path(), "write", &e))
    }

    /// Flushes the chunk to disk (fsync), e.g. at the end of a run.
    ///
    /// # Errors
    ///
    /// [`CoreError::DoneMarkerIo`] if the flush fails.
    pub fn sync(&self) -> Result<(), CoreError> {
        match &self.chunk {
            Some(chunk) => chunk
                .sync_all()
                .map_err(|e| io_error(&self.chunk_path(), "sync", &e)),
            None => Ok(()),
        }
    }

    /// The number of blocks recorded as done, for reports.
    ///
    /// Reads the whole chunk ([`DoneMarker::len`] bytes, 1 MiB at a time).
    ///
    /// # Errors
    ///
    /// [`CoreError::DoneMarkerIo`] if the chunk cannot be read.
    pub fn count_done(&self) -> Result<u64, CoreError> {
        let Some(chunk) = &self.chunk else {
            return Ok(0);
        };
        let mut buffer = vec![0u8; COUNT_BUFFER];
        let mut done = 0u64;
        let mut position = 0u64;
        while position < self.len {
            let want = usize::try_from(self.len - position)
                .map_or(COUNT_BUFFER, |left| left.min(COUNT_BUFFER));
            let read = read_at(chunk, &mut buffer[..want], position)
                .map_err(|e| io_error(&self.chunk_path(), "read", &e))?;
            if read == 0 {
                break; // a chunk cut short: the rest is the fill value
            }
            done += buffer[..read].iter().filter(|&&b| b != 0).count() as u64;
            position += read as u64;
        }
        Ok(done)
    }

    /// Deletes the marker directory (daisy 2.0's `Task.reset()`); a missing one is fine.
    ///
    /// Only a directory that holds nothing but a marker's files (`zarr.json`, `c/0`) is
    /// deleted, so a mistyped path never removes other data.
    ///
    /// # Errors
    ///
    /// [`CoreError::DoneMarkerInvalid`] if the directory holds other files,
    /// [`CoreError::DoneMarkerIo`] if it cannot be listed or removed.
    pub fn reset(path: &Path) -> Result<(), CoreError> {
        match fs::symlink_metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_error(path, "inspect", &e)),
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
        fs::remove_dir_all(path).map_err(|e| io_error(path, "remove", &e))
    }

    /// The number of entries a task's marker has: the task's largest spatial id + 1.
    ///
    /// The largest id is the far corner's: ids grow with every index component. Per dimension
    /// the grid has `floor(E / w)` positions with `fit = valid` and `ceil(E / w)` otherwise
    /// (`E` the total write shape, `w` the write shape); the far corner's block index is
    /// `(total_write.begin + (grid − 1)·w − total_read.begin) / w`. Computed in O(dims), without
    /// enumerating blocks. A task without blocks has 0 entries.
    ///
    /// # Errors
    ///
    /// [`CoreError::BlockIdOverflow`] if the largest id is `u64::MAX` (no `u64` count for it),
    /// [`CoreError::Unbounded`] for an unbounded ROI (which a built task never has).
    pub fn num_ids(task: &Task) -> Result<u64, CoreError> {
        let (total_read, total_write, write) =
            (task.total_roi(), task.total_write_roi(), task.write_roi());
        let unbounded = |what: &'static str, roi: Roi| CoreError::Unbounded {
            task_id: task.task_id().to_string(),
            what,
            roi: roi.to_string(),
        };
        let (read_begin, write_begin) = (total_read.begin(), total_write.begin());
        let (extent, write_shape) = (total_write.shape(), write.shape());
        let read_begin = read_begin
            .bounded_values()
            .ok_or_else(|| unbounded("total ROI", total_read))?;
        let write_begin = write_begin
            .bounded_values()
            .ok_or_else(|| unbounded("total write ROI", total_write))?;
        let extent = extent
            .bounded_values()
            .ok_or_else(|| unbounded("total write ROI", total_write))?;
        let write_shape = write_shape
            .bounded_values()
            .ok_or_else(|| unbounded("write ROI", write))?;
        let mut corner = Vec::with_capacity(write_shape.len());
        for d in 0..write_shape.len() {
            let (w, e) = (i128::from(write_shape[d]), i128::from(extent[d]));
            // docs/semantics.md#tiling: a block exists while its write offset o satisfies o ≤ E − r.
            let r = if task.fit() == Fit::Valid { w } else { 1 };
            if w <= 0 || e < r {
                return Ok(0);
            }
            let grid = (e - r) / w + 1;
            let begin = i128::from(write_begin[d]) + (grid - 1) * w;
            let index = (begin - i128::from(read_begin[d])) / w;
            corner.push(i64::try_from(index).unwrap_or(i64::MAX));
        }
        cantor_number(&corner)?
            .checked_add(1)
            .ok_or(CoreError::BlockIdOverflow { index: corner })
    }

    /// The canonical serialization of a task's layout, the input of [`DoneMarker::layout_hash`].
    ///
    /// The UTF-8 bytes of compact JSON with sorted keys and no whitespace:
    ///
    /// ```text
    /// {"fit":F,"read_roi":R,"total_roi":R,"write_roi":R}
    /// R = {"offset":[o_0,...,o_{n-1}],"shape":[s_0,...,s_{n-1}]}
    /// ```
    ///
    /// `F` is `"valid"`, `"overhang"` or `"shrink"`; `read_roi` and `write_roi` are the
    /// block-relative templates and `total_roi` the total read ROI; the numbers are decimal
    /// integers (`-` for negatives, no leading zeros or `+`), one per dimension; an unbounded
    /// component (impossible in a built task) is `null`.
    ///
    /// ```
    /// use daisy_core::{DoneMarker, Fit, Task};
    /// use daisy_geometry::Roi;
    ///
    /// let task = Task::builder(
    ///     "t",
    ///     Roi::from_values(&[0, -4], &[10, 20]).unwrap(),
    ///     Roi::from_values(&[0, 0], &[4, 4]).unwrap(),
    ///     Roi::from_values(&[1, 1], &[2, 2]).unwrap(),
    /// )
    /// .fit(Fit::Shrink)
    /// .build()
    /// .unwrap();
    /// assert_eq!(
    ///     DoneMarker::canonical_layout(&task),
    ///     r#"{"fit":"shrink","read_roi":{"offset":[0,0],"shape":[4,4]},"#.to_owned()
    ///         + r#""total_roi":{"offset":[0,-4],"shape":[10,20]},"#
    ///         + r#""write_roi":{"offset":[1,1],"shape":[2,2]}}"#
    /// );
    /// ```
    #[must_use]
    pub fn canonical_layout(task: &Task) -> String {
        format!(
            r#"{{"fit":"{}","read_roi":{},"total_roi":{},"write_roi":{}}}"#,
            task.fit(),
            canonical_roi(task.read_roi()),
            canonical_roi(task.total_roi()),
            canonical_roi(task.write_roi()),
        )
    }

    /// The layout hash of a task: lowercase hex SHA-256 of [`DoneMarker::canonical_layout`].
    ///
    /// Stored as the array attribute `daisy_task_hash`; two tasks with the same ROIs and fit
    /// have the same blocks and share a marker, whatever their names or options.
    #[must_use]
    pub fn layout_hash(task: &Task) -> String {
        let digest = Sha256::digest(Self::canonical_layout(task).as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The number of entries: one more than the task's largest block id.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the marker has no entries (a task without blocks).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The marker directory.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The layout hash stored in the marker (the task's [`DoneMarker::layout_hash`]).
    #[must_use]
    pub fn task_hash(&self) -> &str {
        &self.task_hash
    }

    /// The path of the chunk file.
    fn chunk_path(&self) -> PathBuf {
        self.path.join(CHUNK_DIR).join(CHUNK)
    }
}

/// What the metadata of an existing marker says.
#[derive(Debug)]
struct StoredMetadata {
    len: u64,
    task_hash: String,
}

/// Validates `zarr.json` as a daisy marker: a 1-D single-chunk `uint8` Zarr v3 array.
fn parse_metadata(path: &Path, text: &str) -> Result<StoredMetadata, CoreError> {
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
    let task_hash = value
        .get("attributes")
        .and_then(|a| a.get(HASH_ATTRIBUTE))
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("it has no string attribute {HASH_ATTRIBUTE}")))?;
    Ok(StoredMetadata {
        len,
        task_hash: task_hash.to_owned(),
    })
}

/// The metadata of a marker with `len` entries.
fn metadata(len: u64, task_hash: &str) -> Value {
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
        "attributes": {HASH_ATTRIBUTE: task_hash},
        "dimension_names": ["block_id"],
    })
}

/// Writes `zarr.json` atomically: to a temporary file, flushed, then renamed into place.
fn write_metadata(path: &Path, len: u64, task_hash: &str) -> Result<(), CoreError> {
    fs::create_dir_all(path).map_err(|e| io_error(path, "create", &e))?;
    let target = path.join(METADATA);
    let tmp = path.join(format!("{METADATA_TMP_PREFIX}.{}", std::process::id()));
    let mut text = serde_json::to_string_pretty(&metadata(len, task_hash))
        .map_err(|e| io_error(&target, "serialize", &io::Error::other(e)))?;
    text.push('\n');
    let write = || -> io::Result<()> {
        let mut file = File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, &target)
    };
    write().map_err(|e| {
        // Best effort: the temporary file is recognised as a marker file anyway.
        let _ = fs::remove_file(&tmp);
        io_error(&target, "write", &e)
    })?;
    sync_dir(path);
    Ok(())
}

/// Makes a rename in `dir` durable where directories can be flushed (best effort).
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Opens `c/0` with length `len` (sparse), creating it if missing; `None` if `len` is 0.
///
/// With `fresh`, an existing chunk is truncated first (it has no metadata, so no marks).
/// An existing chunk must be `len` bytes long, except an empty one, which is extended.
fn open_chunk(path: &Path, len: u64, fresh: bool) -> Result<Option<File>, CoreError> {
    if len == 0 {
        return Ok(None);
    }
    let dir = path.join(CHUNK_DIR);
    fs::create_dir_all(&dir).map_err(|e| io_error(&dir, "create", &e))?;
    let chunk_path = dir.join(CHUNK);
    let chunk = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(fresh)
        .open(&chunk_path)
        .map_err(|e| io_error(&chunk_path, "open", &e))?;
    let size = chunk
        .metadata()
        .map_err(|e| io_error(&chunk_path, "inspect", &e))?
        .len();
    if size == 0 {
        // A new chunk, or one a Zarr writer left empty: all fill value.
        chunk
            .set_len(len)
            .map_err(|e| io_error(&chunk_path, "extend", &e))?;
    } else if size != len {
        return Err(CoreError::DoneMarkerInvalid {
            path: display(path),
            reason: format!("chunk {CHUNK_DIR}/{CHUNK} has {size} bytes, expected {len}"),
        });
    }
    Ok(Some(chunk))
}

/// The first entry of `path` that is not a marker file (`zarr.json`, its temporary file,
/// `c/0`), as a relative path; `None` if there is none or `path` does not exist.
fn foreign_entry(path: &Path) -> Result<Option<String>, CoreError> {
    let entries = match fs::read_dir(path) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(path, "list", &e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| io_error(path, "list", &e))?;
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
    let entries = fs::read_dir(dir).map_err(|e| io_error(dir, "list", &e))?;
    for entry in entries {
        let name = entry
            .map_err(|e| io_error(dir, "list", &e))?
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
fn not_a_marker(path: &Path, entry: &str) -> CoreError {
    CoreError::DoneMarkerInvalid {
        path: display(path),
        reason: format!(
            "it contains {entry:?}, which is no marker file; refusing to use or delete it"
        ),
    }
}

/// One canonical ROI: `{"offset":[...],"shape":[...]}`.
fn canonical_roi(roi: Roi) -> String {
    let list = |values: Vec<Option<i64>>| {
        values
            .iter()
            .map(|v| v.map_or_else(|| "null".to_owned(), |v| v.to_string()))
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        r#"{{"offset":[{}],"shape":[{}]}}"#,
        list(roi.offset().to_vec()),
        list(roi.shape().to_vec())
    )
}

/// A path for an error message.
fn display(path: &Path) -> String {
    path.display().to_string()
}

/// An io error with the file and what was attempted.
fn io_error(path: &Path, action: &'static str, error: &io::Error) -> CoreError {
    CoreError::DoneMarkerIo {
        path: display(path),
        action,
        message: error.to_string(),
    }
}

/// Reads at `offset` without moving a shared cursor; returns the bytes read (0 at the end).
#[cfg(unix)]
fn read_at(file: &File, buffer: &mut [u8], offset: u64) -> io::Result<usize> {
    use std::os::unix::fs::FileExt;
    loop {
        match file.read_at(buffer, offset) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            result => return result,
        }
    }
}

/// Writes all of `bytes` at `offset` without moving a shared cursor.
#[cfg(unix)]
fn write_all_at(file: &File, bytes: &[u8], offset: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.write_all_at(bytes, offset)
}

/// Reads at `offset` (the cursor moves, but every access is positioned).
#[cfg(windows)]
fn read_at(file: &File, buffer: &mut [u8], offset: u64) -> io::Result<usize> {
    use std::os::windows::fs::FileExt;
    file.seek_read(buffer, offset)
}

/// Writes all of `bytes` at `offset` (the cursor moves, but every access is positioned).
#[cfg(windows)]
fn write_all_at(file: &File, mut bytes: &[u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !bytes.is_empty() {
        match file.seek_write(bytes, offset)? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => {
                bytes = &bytes[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn roi(offset: &[i64], shape: &[i64]) -> Roi {
        Roi::from_values(offset, shape).unwrap()
    }

    fn task(total: Roi, read: Roi, write: Roi, fit: Fit) -> Arc<Task> {
        Task::builder("t", total, read, write)
            .fit(fit)
            .build()
            .unwrap()
    }

    #[test]
    fn canonical_layout_is_exact() {
        let t = task(
            roi(&[0], &[12]),
            roi(&[0], &[5]),
            roi(&[1], &[3]),
            Fit::Overhang,
        );
        assert_eq!(
            DoneMarker::canonical_layout(&t),
            r#"{"fit":"overhang","read_roi":{"offset":[0],"shape":[5]},"total_roi":{"offset":[0],"shape":[12]},"write_roi":{"offset":[1],"shape":[3]}}"#
        );
        let hash = DoneMarker::layout_hash(&t);
        assert_eq!(hash.len(), 64);
        assert!(
            hash.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        let expected: String = Sha256::digest(DoneMarker::canonical_layout(&t))
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hash, expected);
    }

    #[test]
    fn sha256_hex_matches_the_known_vector() {
        // Guards the hex encoding against the published test vector of SHA-256("abc").
        let hex: String = Sha256::digest(b"abc")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn num_ids_of_the_1d_worked_example() {
        // docs/semantics.md#fit-modes: ids 0, 1, 2 (valid) and 0..=3 (overhang, shrink).
        let (total, read, write) = (roi(&[0], &[12]), roi(&[0], &[5]), roi(&[1], &[3]));
        assert_eq!(
            DoneMarker::num_ids(&task(total, read, write, Fit::Valid)).unwrap(),
            3
        );
        assert_eq!(
            DoneMarker::num_ids(&task(total, read, write, Fit::Overhang)).unwrap(),
            4
        );
        assert_eq!(
            DoneMarker::num_ids(&task(total, read, write, Fit::Shrink)).unwrap(),
            4
        );
    }

    #[test]
    fn metadata_validation_names_the_bad_field() {
        let good = metadata(7, "abc");
        let path = Path::new("/m");
        let parsed = parse_metadata(path, &good.to_string()).unwrap();
        assert_eq!((parsed.len, parsed.task_hash.as_str()), (7, "abc"));
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
}
