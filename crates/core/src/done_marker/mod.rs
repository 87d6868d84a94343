//! Done markers: a persistent record of a task's completed blocks (docs/semantics.md#resume).
//!
//! A marker is a directory holding a single-chunk Zarr v3 array of `uint8`, one byte per spatial
//! block id (byte `N` = block `N`; `0` not done, `1` succeeded), the layout of daisy 2.0, so any
//! Zarr v3 reader can open it:
//!
//! ```text
//! <path>/zarr.json   array metadata; attributes `daisy_task_hash` (the task's layout) and
//!                    `daisy_task_id` (the task it belongs to)
//! <path>/c/0         the chunk: one raw byte per block id, created sparse (costs no disk)
//! ```
//!
//! A marker belongs to one task: opening it for a task with another id (two tasks given one
//! path, or a renamed task) or another layout is an error, and so is a chunk holding anything
//! but bytes 0 and 1, so a marker never makes a run skip blocks it did not finish. A marker
//! without a `daisy_task_id` (written by an earlier version, or by daisy 2.0) is adopted by
//! the first task with its layout that opens it: the id is recorded then.
//!
//! Block ids are Cantor numbers and not dense (docs/semantics.md#blocks-and-block-ids): in 3-D they reach about six times the
//! number of blocks, so the array has `largest id + 1` entries. Marking a block done is one
//! positioned one-byte write, O(1) and without fsync: the byte sits in the page cache and
//! survives a crash of the scheduler process; [`DoneMarker::sync`] makes it durable against a
//! crash of the machine.

mod file_safety;
mod layout_hash;
mod platform_io;
mod zarr_metadata;

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use crate::{CoreError, Task};
use platform_io::{read_at, write_all_at};
use zarr_metadata::{METADATA, parse_metadata, write_metadata};

/// The directory of chunk keys with the default encoding and separator `/`.
const CHUNK_DIR: &str = "c";
/// The only chunk: key `c/0`.
const CHUNK: &str = "0";
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
    /// The id of the task the marker belongs to, as stored in the metadata.
    task_id: String,
}

impl DoneMarker {
    /// Opens the marker of a task at `path`, creating it if missing.
    ///
    /// A new marker is an all-zero sparse chunk plus its metadata, written to a temporary file
    /// and renamed into place. An existing one must be a 1-D `uint8` Zarr v3 array with one
    /// chunk, the bytes codec and fill value 0, whose `daisy_task_id` is the task's id, whose
    /// `daisy_task_hash` equals [`DoneMarker::layout_hash`] of the task and whose shape equals
    /// [`DoneMarker::num_ids`]; its chunk is read once to check that it holds only bytes 0 and 1
    /// (O(entries), 1 MiB at a time). A missing or empty chunk of an existing marker (a Zarr
    /// writer may delete an all-zero chunk) is recreated empty. A marker without a
    /// `daisy_task_id` (written before task ids were recorded) is adopted: the task's id is
    /// recorded in it.
    ///
    /// # Errors
    ///
    /// - [`CoreError::DoneMarkerOwnedByAnotherTask`] if the marker belongs to a task with
    ///   another id;
    /// - [`CoreError::DoneMarkerLayoutMismatch`] if the marker was written for a task with
    ///   other ROIs or another fit;
    /// - [`CoreError::DoneMarkerShapeMismatch`] if it has the task's hash but another shape;
    /// - [`CoreError::DoneMarkerCorrupt`] if the chunk has the wrong length or holds a byte
    ///   other than 0 and 1;
    /// - [`CoreError::DoneMarkerInvalid`] if the metadata is not valid JSON or not such an
    ///   array, or if `path` is a directory holding files other than a marker's (nothing is
    ///   written into it then);
    /// - [`CoreError::DoneMarkerIo`] if a file cannot be read, created or written;
    /// - [`CoreError::BlockIdOverflow`] if the task's largest block id is `u64::MAX`.
    pub fn open(path: &Path, task: &Task) -> Result<DoneMarker, CoreError> {
        let len = Self::num_ids(task)?;
        let task_hash = Self::layout_hash(task);
        let task_id = task.task_id().to_string();
        let metadata_path = path.join(METADATA);
        match fs::read_to_string(&metadata_path) {
            Ok(text) => {
                let stored = parse_metadata(path, &text)?;
                check_stored(path, &stored, &task_id, &task_hash, len)?;
                let chunk = open_chunk(path, len, false)?;
                if let Some(chunk) = &chunk {
                    check_chunk(chunk, len, &path.join(CHUNK_DIR).join(CHUNK))?;
                }
                if stored.task_id.is_none() {
                    // Written before task ids were recorded: this task adopts it.
                    write_metadata(path, len, &task_hash, &task_id)?;
                }
                Ok(DoneMarker {
                    path: path.to_path_buf(),
                    chunk,
                    len,
                    task_hash,
                    task_id,
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if let Some(entry) = file_safety::foreign_entry(path)? {
                    return Err(file_safety::not_a_marker(path, &entry));
                }
                // The chunk first: a crash before the metadata lands leaves no marker behind,
                // and a stale chunk without metadata is truncated here.
                let chunk = open_chunk(path, len, true)?;
                write_metadata(path, len, &task_hash, &task_id)?;
                Ok(DoneMarker {
                    path: path.to_path_buf(),
                    chunk,
                    len,
                    task_hash,
                    task_id,
                })
            }
            Err(e) => Err(io_error(&metadata_path, "read", e)),
        }
    }

    /// Whether a block is recorded as done (ids ≥ [`DoneMarker::len`]: `false`).
    ///
    /// Byte 1 is done, byte 0 is not.
    ///
    /// # Errors
    ///
    /// [`CoreError::DoneMarkerIo`] if the chunk cannot be read, [`CoreError::DoneMarkerCorrupt`]
    /// if the byte is neither 0 nor 1 or the chunk was cut short (changed since it was opened).
    pub fn is_done(&self, spatial_id: u64) -> Result<bool, CoreError> {
        let Some(chunk) = self.chunk.as_ref().filter(|_| spatial_id < self.len) else {
            return Ok(false);
        };
        let mut byte = [0u8];
        let read = read_at(chunk, &mut byte, spatial_id)
            .map_err(|e| io_error(&self.chunk_path(), "read", e))?;
        if read == 0 {
            return Err(corrupt(
                &self.chunk_path(),
                format!(
                    "it ends before byte {spatial_id}, expected {} bytes",
                    self.len
                ),
            ));
        }
        done_byte(byte[0], spatial_id, &self.chunk_path())
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
        write_all_at(chunk, &[1], spatial_id).map_err(|e| io_error(&self.chunk_path(), "write", e))
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
                .map_err(|e| io_error(&self.chunk_path(), "sync", e)),
            None => Ok(()),
        }
    }

    /// The number of blocks recorded as done, for reports.
    ///
    /// Reads the whole chunk ([`DoneMarker::len`] bytes, 1 MiB at a time).
    ///
    /// # Errors
    ///
    /// [`CoreError::DoneMarkerIo`] if the chunk cannot be read, [`CoreError::DoneMarkerCorrupt`]
    /// if it holds a byte other than 0 and 1 or was cut short.
    pub fn count_done(&self) -> Result<u64, CoreError> {
        match &self.chunk {
            Some(chunk) => check_chunk(chunk, self.len, &self.chunk_path()),
            None => Ok(0),
        }
    }

    /// The number of blocks the marker at `path` records as done for `task`, without creating
    /// or changing anything (for status reports); `None` if there is no marker there.
    ///
    /// The marker is checked as [`DoneMarker::open`] checks it (its task, layout, shape, and
    /// every byte of its chunk), except that a marker without a `daisy_task_id` is counted as
    /// it is, not adopted. A missing or empty chunk counts as nothing done.
    ///
    /// ```
    /// use daisy_core::{DoneMarker, Task};
    /// use daisy_geometry::Roi;
    ///
    /// let task = Task::builder(
    ///     "t",
    ///     Roi::from_values(&[0], &[40]).unwrap(),
    ///     Roi::from_values(&[0], &[10]).unwrap(),
    ///     Roi::from_values(&[0], &[10]).unwrap(),
    /// )
    /// .build()
    /// .unwrap();
    /// let dir = std::env::temp_dir().join(format!("daisy-doc-count-{}", std::process::id()));
    /// let path = dir.join("t");
    /// assert_eq!(DoneMarker::count_done_at(&path, &task).unwrap(), None);
    /// assert!(!path.exists()); // nothing was created
    /// DoneMarker::open(&path, &task).unwrap().mark_done(2).unwrap();
    /// assert_eq!(DoneMarker::count_done_at(&path, &task).unwrap(), Some(1));
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// As [`DoneMarker::open`] for a marker that is not the task's or is damaged
    /// ([`CoreError::DoneMarkerOwnedByAnotherTask`], [`CoreError::DoneMarkerLayoutMismatch`],
    /// [`CoreError::DoneMarkerShapeMismatch`], [`CoreError::DoneMarkerCorrupt`],
    /// [`CoreError::DoneMarkerInvalid`], [`CoreError::BlockIdOverflow`]), and
    /// [`CoreError::DoneMarkerIo`] if a file cannot be read.
    pub fn count_done_at(path: &Path, task: &Task) -> Result<Option<u64>, CoreError> {
        let len = Self::num_ids(task)?;
        let metadata_path = path.join(METADATA);
        let text = match fs::read_to_string(&metadata_path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error(&metadata_path, "read", e)),
        };
        let stored = parse_metadata(path, &text)?;
        check_stored(
            path,
            &stored,
            task.task_id().as_ref(),
            &Self::layout_hash(task),
            len,
        )?;
        if len == 0 {
            return Ok(Some(0));
        }
        let chunk_path = path.join(CHUNK_DIR).join(CHUNK);
        let chunk = match File::open(&chunk_path) {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Some(0)),
            Err(e) => return Err(io_error(&chunk_path, "open", e)),
        };
        let size = chunk
            .metadata()
            .map_err(|e| io_error(&chunk_path, "inspect", e))?
            .len();
        if size == 0 {
            return Ok(Some(0));
        }
        if size != len {
            return Err(corrupt(
                &chunk_path,
                format!("it has {size} bytes, the marker's shape needs {len}"),
            ));
        }
        check_chunk(&chunk, len, &chunk_path).map(Some)
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
        if file_safety::removable(path)? {
            fs::remove_dir_all(path).map_err(|e| io_error(path, "remove", e))?;
        }
        Ok(())
    }

    /// The number of entries a task's marker has: the task's largest block id + 1
    /// ([`crate::Tiling::largest_id`]); 0 for a task without blocks. O(dims), without
    /// enumerating blocks.
    ///
    /// # Errors
    ///
    /// [`CoreError::BlockIdOverflow`] if the largest id is `u64::MAX` (no `u64` count for it).
    pub fn num_ids(task: &Task) -> Result<u64, CoreError> {
        let tiling = task.tiling();
        let Some(largest) = tiling.largest_id() else {
            return Ok(0);
        };
        largest
            .checked_add(1)
            .ok_or_else(|| CoreError::BlockIdOverflow {
                index: tiling.far_corner_index()[..tiling.dims()].to_vec(),
            })
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
        layout_hash::canonical_layout(task)
    }

    /// The layout hash of a task: lowercase hex SHA-256 of [`DoneMarker::canonical_layout`].
    ///
    /// Stored as the array attribute `daisy_task_hash`; two tasks with the same ROIs and fit
    /// have the same hash, whatever their names or options (the task a marker belongs to is
    /// its `daisy_task_id` attribute).
    #[must_use]
    pub fn layout_hash(task: &Task) -> String {
        layout_hash::layout_hash(task)
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

    /// The id of the task the marker belongs to (stored as `daisy_task_id`).
    #[must_use]
    pub fn task_id(&self) -> &str {
        &self.task_id
    }

    /// The path of the chunk file.
    fn chunk_path(&self) -> PathBuf {
        self.path.join(CHUNK_DIR).join(CHUNK)
    }
}

/// Checks that stored metadata is that of the task with id `task_id`, layout hash `task_hash`
/// and `len` entries (a marker without a task id belongs to any task of its layout).
fn check_stored(
    path: &Path,
    stored: &zarr_metadata::StoredMetadata,
    task_id: &str,
    task_hash: &str,
    len: u64,
) -> Result<(), CoreError> {
    if let Some(owner) = stored.task_id.as_ref().filter(|&owner| owner != task_id) {
        return Err(CoreError::DoneMarkerOwnedByAnotherTask {
            path: display(path),
            owner: owner.clone(),
            task_id: task_id.to_owned(),
        });
    }
    if stored.task_hash != task_hash {
        return Err(CoreError::DoneMarkerLayoutMismatch {
            path: display(path),
            stored: stored.task_hash.clone(),
            expected: task_hash.to_owned(),
        });
    }
    if stored.len != len {
        return Err(CoreError::DoneMarkerShapeMismatch {
            path: display(path),
            stored: stored.len,
            expected: len,
        });
    }
    Ok(())
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
    fs::create_dir_all(&dir).map_err(|e| io_error(&dir, "create", e))?;
    let chunk_path = dir.join(CHUNK);
    let chunk = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(fresh)
        .open(&chunk_path)
        .map_err(|e| io_error(&chunk_path, "open", e))?;
    let size = chunk
        .metadata()
        .map_err(|e| io_error(&chunk_path, "inspect", e))?
        .len();
    if size == 0 {
        // A new chunk, or one a Zarr writer left empty: all fill value.
        chunk
            .set_len(len)
            .map_err(|e| io_error(&chunk_path, "extend", e))?;
    } else if size != len {
        return Err(corrupt(
            &chunk_path,
            format!("it has {size} bytes, the marker's shape needs {len}"),
        ));
    }
    Ok(Some(chunk))
}

/// Reads a whole chunk of `len` entries (1 MiB at a time), checking that every byte is 0 or 1;
/// returns the number of 1s.
fn check_chunk(chunk: &File, len: u64, chunk_path: &Path) -> Result<u64, CoreError> {
    let mut buffer = vec![0u8; COUNT_BUFFER];
    let mut done = 0u64;
    let mut position = 0u64;
    while position < len {
        let want =
            usize::try_from(len - position).map_or(COUNT_BUFFER, |left| left.min(COUNT_BUFFER));
        let read = read_at(chunk, &mut buffer[..want], position)
            .map_err(|e| io_error(chunk_path, "read", e))?;
        if read == 0 {
            return Err(corrupt(
                chunk_path,
                format!("it ends after {position} bytes, the marker's shape needs {len}"),
            ));
        }
        let bytes = &buffer[..read];
        if let Some(at) = bytes.iter().position(|&b| b > 1) {
            return Err(bad_byte(bytes[at], position + at as u64, chunk_path));
        }
        done += bytes.iter().map(|&b| u64::from(b)).sum::<u64>();
        position += read as u64;
    }
    Ok(done)
}

/// Whether the byte of entry `spatial_id` says done; an error for a byte other than 0 and 1.
fn done_byte(byte: u8, spatial_id: u64, chunk_path: &Path) -> Result<bool, CoreError> {
    match byte {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(bad_byte(byte, spatial_id, chunk_path)),
    }
}

/// The error for byte `value` at `offset`, neither 0 nor 1.
fn bad_byte(value: u8, offset: u64, chunk_path: &Path) -> CoreError {
    corrupt(
        chunk_path,
        format!("byte {offset} (block id {offset}) is {value}, expected 0 (not done) or 1 (done)"),
    )
}

/// A corruption error naming the chunk file.
fn corrupt(chunk_path: &Path, reason: String) -> CoreError {
    CoreError::DoneMarkerCorrupt {
        chunk: display(chunk_path),
        reason,
    }
}
/// A path for an error message.
fn display(path: &Path) -> String {
    path.display().to_string()
}

/// An io error with the file and what was attempted.
fn io_error(path: &Path, action: &'static str, error: io::Error) -> CoreError {
    CoreError::DoneMarkerIo {
        path: display(path),
        action,
        source: error.into(),
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;
    use crate::Fit;
    use crate::test_values::{example_1d, roi, task};

    #[test]
    fn num_ids_of_the_1d_worked_example() {
        // docs/semantics.md#fit-modes: ids 0, 1, 2 (valid) and 0..=3 (overhang, shrink).
        let (total, read, write) = example_1d();
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
    fn io_errors_keep_their_source_and_path() {
        let err = io_error(
            Path::new("/m/c/0"),
            "read",
            io::Error::new(io::ErrorKind::PermissionDenied, "denied"),
        );
        assert_eq!(err.to_string(), "done marker /m/c/0: cannot read: denied");
        let source = err.source().unwrap();
        let shared = source.downcast_ref::<crate::SharedIoError>().unwrap();
        assert_eq!(shared.kind(), io::ErrorKind::PermissionDenied);
    }

    #[test]
    fn a_task_without_blocks_has_an_empty_marker() {
        let t = task(
            roi(&[0], &[4]),
            roi(&[0], &[5]),
            roi(&[1], &[3]),
            Fit::Valid,
        );
        assert_eq!(DoneMarker::num_ids(&t).unwrap(), 0);
        let dir = tempfile::tempdir().unwrap();
        let marker = DoneMarker::open(&dir.path().join("m"), &t).unwrap();
        assert!(marker.is_empty());
        assert!(!marker.is_done(0).unwrap());
        assert!(marker.mark_done(0).is_err());
    }
}
