//! Done markers on real files: layout, persistence, refusal of other layouts and other tasks,
//! corruption (docs/semantics.md#resume).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::Path;
use std::sync::Arc;

use daisy_core::{CoreError, DoneMarker, Fit, Task};
use daisy_geometry::Roi;
use serde_json::{Value, json};

mod common;
use common::{example_1d, example_2d, roi};

/// The 2-D example of docs/semantics.md#levels-and-conflicts with this fit mode.
fn task_2d(fit: Fit) -> Arc<Task> {
    let (total, read, write) = example_2d();
    Task::builder("t", total, read, write)
        .fit(fit)
        .build()
        .unwrap()
}

/// The largest spatial id over every block of every level, by enumeration.
fn max_enumerated_id(task: &Task) -> Option<u64> {
    let tiling = task.tiling();
    (0..tiling.num_levels())
        .flat_map(|level| tiling.level_blocks(level))
        .map(|block| block.spatial_id())
        .max()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(path.join("zarr.json")).unwrap()).unwrap()
}

fn write_json(path: &Path, value: &Value) {
    fs::write(path.join("zarr.json"), value.to_string()).unwrap();
}

#[test]
fn open_creates_the_zarr_v3_layout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("marker");
    let task = task_2d(Fit::Valid);
    let marker = DoneMarker::open(&path, &task).unwrap();
    // Index (4, 4) is the far corner: 8·9/2 + 4 = 40.
    assert_eq!(marker.len(), 41);
    assert_eq!(marker.path(), path);
    let hash = DoneMarker::layout_hash(&task);
    assert_eq!(marker.task_hash(), hash);
    assert_eq!(marker.task_id(), "t");
    assert_eq!(
        read_json(&path),
        json!({
            "zarr_format": 3,
            "node_type": "array",
            "shape": [41],
            "data_type": "uint8",
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [41]}},
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
            "fill_value": 0,
            "codecs": [{"name": "bytes"}],
            "attributes": {"daisy_task_hash": hash, "daisy_task_id": "t"},
            "dimension_names": ["block_id"],
        })
    );
    let chunk = fs::read(path.join("c").join("0")).unwrap();
    assert_eq!(chunk, vec![0u8; 41]);
    // Only the marker's files.
    let mut entries: Vec<String> = fs::read_dir(&path)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    entries.sort();
    assert_eq!(entries, ["c", "zarr.json"]);
}

/// Reads the marker as a generic Zarr v3 reader would, from the metadata alone.
fn read_as_zarr_v3(path: &Path) -> Vec<u8> {
    let meta = read_json(path);
    assert_eq!(meta["zarr_format"], 3);
    assert_eq!(meta["node_type"], "array");
    assert_eq!(meta["data_type"], "uint8");
    let shape: Vec<u64> = meta["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(meta["chunk_grid"]["name"], "regular");
    let chunk_shape: Vec<u64> = meta["chunk_grid"]["configuration"]["chunk_shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(shape.len(), 1);
    assert_eq!(chunk_shape.len(), 1);
    assert!(chunk_shape[0] > 0, "zarr chunk shapes are positive");
    let codecs = meta["codecs"].as_array().unwrap();
    assert_eq!(codecs.len(), 1);
    assert_eq!(codecs[0]["name"], "bytes");
    let fill = u8::try_from(meta["fill_value"].as_u64().unwrap()).unwrap();
    // The default chunk key encoding: "c" + separator + chunk index.
    assert_eq!(meta["chunk_key_encoding"]["name"], "default");
    let separator = meta["chunk_key_encoding"]["configuration"]["separator"]
        .as_str()
        .unwrap_or("/");
    let chunks = shape[0].div_ceil(chunk_shape[0]);
    let mut array = Vec::new();
    for index in 0..chunks {
        let key = format!("c{separator}{index}");
        let chunk_len = usize::try_from(chunk_shape[0]).unwrap();
        let chunk = match fs::read(path.join(&key)) {
            Ok(bytes) => bytes,
            Err(_) => vec![fill; chunk_len],
        };
        // bytes codec, 1-byte elements: the chunk is exactly chunk_shape elements.
        assert_eq!(chunk.len(), chunk_len, "chunk {key}");
        array.extend_from_slice(&chunk);
    }
    array.truncate(usize::try_from(shape[0]).unwrap());
    array
}

#[test]
fn marks_are_readable_as_zarr_v3() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("marker");
    let task = task_2d(Fit::Valid);
    let marker = DoneMarker::open(&path, &task).unwrap();
    let ids: Vec<u64> = {
        let tiling = task.tiling();
        tiling.level_blocks(0).map(|b| b.spatial_id()).collect()
    };
    assert_eq!(ids, [12, 23, 25, 40]);
    for &id in &ids {
        marker.mark_done(id).unwrap();
    }
    marker.sync().unwrap();
    let array = read_as_zarr_v3(&path);
    assert_eq!(array.len(), 41);
    for (id, &byte) in array.iter().enumerate() {
        let expected = u8::from(ids.contains(&(id as u64)));
        assert_eq!(byte, expected, "byte {id}");
    }
}

#[test]
fn marks_persist_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("marker");
    let task = task_2d(Fit::Overhang);
    {
        let marker = DoneMarker::open(&path, &task).unwrap();
        assert!(!marker.is_done(7).unwrap());
        marker.mark_done(7).unwrap();
        marker.mark_done(0).unwrap();
        marker.mark_done(7).unwrap(); // idempotent
        assert!(marker.is_done(7).unwrap());
        assert!(marker.is_done(0).unwrap());
        assert!(!marker.is_done(8).unwrap());
        assert_eq!(marker.count_done().unwrap(), 2);
        // Dropped without sync, as after a crash of the scheduler process.
    }
    let marker = DoneMarker::open(&path, &task).unwrap();
    assert!(marker.is_done(7).unwrap());
    assert!(marker.is_done(0).unwrap());
    assert!(!marker.is_done(1).unwrap());
    assert_eq!(marker.count_done().unwrap(), 2);
    // Ids beyond the marker are not done, and cannot be marked.
    assert!(!marker.is_done(marker.len()).unwrap());
    assert!(!marker.is_done(u64::MAX).unwrap());
    let err = marker.mark_done(marker.len()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "done marker {}: block id {} is beyond its {} entries",
            path.display(),
            marker.len(),
            marker.len()
        )
    );
    assert!(matches!(
        marker.mark_done(u64::MAX),
        Err(CoreError::DoneMarkerIdOutOfRange {
            spatial_id: u64::MAX,
            ..
        })
    ));
}

#[test]
fn a_marker_is_shared_between_threads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("marker");
    let task = Task::builder("t", roi(&[0], &[1000]), roi(&[0], &[1]), roi(&[0], &[1]))
        .build()
        .unwrap();
    let marker = DoneMarker::open(&path, &task).unwrap();
    std::thread::scope(|s| {
        for start in 0..4u64 {
            let marker = &marker;
            s.spawn(move || {
                for id in (start..1000).step_by(4) {
                    marker.mark_done(id).unwrap();
                }
            });
        }
    });
    assert_eq!(marker.count_done().unwrap(), 1000);
}

#[cfg(unix)]
#[test]
fn the_chunk_is_sparse() {
    use std::os::unix::fs::MetadataExt;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("marker");
    // 500³ blocks; the far corner (499, 499, 499) has id 1497·1498·1499/6 + 998·999/2 + 499.
    let task = Task::builder(
        "big",
        roi(&[0, 0, 0], &[1000, 1000, 1000]),
        roi(&[0, 0, 0], &[2, 2, 2]),
        roi(&[0, 0, 0], &[2, 2, 2]),
    )
    .build()
    .unwrap();
    let marker = DoneMarker::open(&path, &task).unwrap();
    let expected = 1497 * 1498 * 1499 / 6 + 998 * 999 / 2 + 499 + 1;
    assert_eq!(marker.len(), expected);
    assert!(marker.len() > 500_000_000);
    let chunk = path.join("c").join("0");
    let meta = fs::metadata(&chunk).unwrap();
    assert_eq!(meta.len(), expected);
    // 512-byte units: an untouched chunk takes (almost) no disk.
    assert!(meta.blocks() * 512 < 1 << 20, "{} blocks", meta.blocks());
    marker.mark_done(expected - 1).unwrap();
    marker.mark_done(123_456_789).unwrap();
    marker.sync().unwrap();
    let meta = fs::metadata(&chunk).unwrap();
    assert!(meta.blocks() * 512 < 1 << 20, "{} blocks", meta.blocks());
    assert!(marker.is_done(expected - 1).unwrap());
    assert!(marker.is_done(123_456_789).unwrap());
    assert!(!marker.is_done(123_456_788).unwrap());
}

#[test]
fn another_layout_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("marker");
    let total = roi(&[0, 0], &[6, 6]);
    let base = |write: Roi, fit: Fit| {
        Task::builder("t", total, roi(&[0, 0], &[3, 3]), write)
            .fit(fit)
            .build()
            .unwrap()
    };
    let task = base(roi(&[1, 1], &[1, 1]), Fit::Valid);
    DoneMarker::open(&path, &task)
        .unwrap()
        .mark_done(3)
        .unwrap();
    let stored = DoneMarker::layout_hash(&task);
    for other in [
        base(roi(&[1, 1], &[1, 1]), Fit::Shrink),
        base(roi(&[0, 0], &[2, 2]), Fit::Valid),
        base(roi(&[1, 1], &[2, 1]), Fit::Valid),
    ] {
        let ours = DoneMarker::layout_hash(&other);
        assert_ne!(ours, stored);
        let err = DoneMarker::open(&path, &other).unwrap_err();
        assert_eq!(
            err,
            CoreError::DoneMarkerLayoutMismatch {
                path: path.display().to_string(),
                stored: stored.clone(),
                expected: ours.clone(),
            }
        );
        assert_eq!(
            err.to_string(),
            format!(
                "done marker {} was written for a different task layout (hash {stored}), \
                 this task's layout hashes to {ours}; delete it or call reset",
                path.display()
            )
        );
    }
    // The same task with other options shares the marker.
    let same = Task::builder("t", total, roi(&[0, 0], &[3, 3]), roi(&[1, 1], &[1, 1]))
        .max_retries(7)
        .build()
        .unwrap();
    assert!(DoneMarker::open(&path, &same).unwrap().is_done(3).unwrap());
    // After a reset, the other layout gets a fresh marker.
    DoneMarker::reset(&path).unwrap();
    let shrink = base(roi(&[1, 1], &[1, 1]), Fit::Shrink);
    let marker = DoneMarker::open(&path, &shrink).unwrap();
    assert_eq!(marker.count_done().unwrap(), 0);
}

#[test]
fn a_wrong_shape_or_malformed_metadata_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("marker");
    let task = task_2d(Fit::Valid);
    DoneMarker::open(&path, &task).unwrap();
    let good = read_json(&path);

    let mut bad = good.clone();
    bad["shape"] = json!([50]);
    bad["chunk_grid"]["configuration"]["chunk_shape"] = json!([50]);
    write_json(&path, &bad);
    let err = DoneMarker::open(&path, &task).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "done marker {} has shape [50], this task needs [41]",
            path.display()
        )
    );

    let mut bad = good.clone();
    bad["data_type"] = json!("int16");
    write_json(&path, &bad);
    let err = DoneMarker::open(&path, &task).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{} is not a daisy done marker (a 1-d uint8 zarr v3 array): \
             data_type is \"int16\", expected \"uint8\"",
            path.display()
        )
    );

    let mut bad = good.clone();
    bad["zarr_format"] = json!(2);
    write_json(&path, &bad);
    let err = DoneMarker::open(&path, &task).unwrap_err();
    assert!(
        err.to_string().contains("zarr_format is 2, expected 3"),
        "{err}"
    );

    let mut bad = good.clone();
    bad["attributes"] = json!({});
    write_json(&path, &bad);
    let err = DoneMarker::open(&path, &task).unwrap_err();
    assert!(
        err.to_string()
            .contains("it has no string attribute daisy_task_hash"),
        "{err}"
    );

    fs::write(path.join("zarr.json"), "{\"zarr_format\": 3,").unwrap();
    let err = DoneMarker::open(&path, &task).unwrap_err();
    assert!(
        matches!(&err, CoreError::DoneMarkerInvalid { reason, .. } if reason.starts_with("zarr.json is not valid json")),
        "{err}"
    );

    let mut bad = good.clone();
    bad["attributes"]["daisy_task_id"] = json!(["t"]);
    write_json(&path, &bad);
    let err = DoneMarker::open(&path, &task).unwrap_err();
    assert!(
        err.to_string()
            .contains("attribute daisy_task_id is [\"t\"], expected a string"),
        "{err}"
    );
}

/// A task with the same layout as `task_2d(Fit::Valid)` under another id.
fn task_2d_named(task_id: &str) -> Arc<Task> {
    let (total, read, write) = example_2d();
    Task::builder(task_id, total, read, write).build().unwrap()
}

/// The error for task `task_id` opening the marker at `path` of task `owner`, and its text.
fn assert_owned_by(err: &CoreError, path: &Path, owner: &str, task_id: &str) {
    assert_eq!(
        *err,
        CoreError::DoneMarkerOwnedByAnotherTask {
            path: path.display().to_string(),
            owner: owner.to_owned(),
            task_id: task_id.to_owned(),
        }
    );
    assert_eq!(
        err.to_string(),
        format!(
            "done marker {} belongs to task '{owner}', not to task '{task_id}': every task needs \
             its own done marker (a renamed task too); give task '{task_id}' another path, or \
             reset the marker to run it from the start",
            path.display()
        )
    );
}

#[test]
fn two_tasks_given_one_marker_path_do_not_share_it() {
    // Before: two tasks with one layout and one marker path shared it; the second skipped every
    // block the first had done (one ran 62 of 100 blocks, both reported success).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("marker");
    let task = |task_id: &str| {
        Task::builder(task_id, roi(&[0], &[100]), roi(&[0], &[1]), roi(&[0], &[1]))
            .process_function(|_| Ok(()))
            .done_marker(&path)
            .build()
            .unwrap()
    };
    let (first, second) = (task("first"), task("second"));
    // In one run: the scheduler refuses to start.
    let err = daisy_core::Scheduler::new([&first, &second], true).unwrap_err();
    assert_owned_by(&err, &path, "first", "second");
    // In two runs: the first finishes, the second is refused instead of skipping everything.
    let states = daisy_core::run_serial(&[Arc::clone(&first)]).unwrap();
    assert_eq!(states[0].1.completed_count, 100);
    let err = daisy_core::run_serial(&[Arc::clone(&second)]).unwrap_err();
    assert_owned_by(&err, &path, "first", "second");
    let err = DoneMarker::open(&path, &second).unwrap_err();
    assert_owned_by(&err, &path, "first", "second");
    // The marker is untouched, and still the first task's.
    let marker = DoneMarker::open(&path, &first).unwrap();
    assert_eq!(marker.count_done().unwrap(), 100);
    assert_eq!(read_json(&path)["attributes"]["daisy_task_id"], "first");
}

#[test]
fn a_renamed_task_does_not_inherit_the_marker() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("marker");
    DoneMarker::open(&path, &task_2d_named("smooth"))
        .unwrap()
        .mark_done(4)
        .unwrap();
    let err = DoneMarker::open(&path, &task_2d_named("smooth_v2")).unwrap_err();
    assert_owned_by(&err, &path, "smooth", "smooth_v2");
    // A reset gives the renamed task a fresh marker of its own.
    DoneMarker::reset(&path).unwrap();
    let marker = DoneMarker::open(&path, &task_2d_named("smooth_v2")).unwrap();
    assert_eq!(marker.count_done().unwrap(), 0);
    assert_eq!(marker.task_id(), "smooth_v2");
    drop(marker);
    let err = DoneMarker::open(&path, &task_2d_named("smooth")).unwrap_err();
    assert_owned_by(&err, &path, "smooth_v2", "smooth");
}

#[test]
fn a_marker_without_a_task_id_is_adopted_by_the_first_task_that_opens_it() {
    // Markers of the previous version (and daisy 2.0's) record no task id: they stay usable,
    // and the first task with their layout to open them records its id.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("marker");
    let task = task_2d_named("old");
    DoneMarker::open(&path, &task)
        .unwrap()
        .mark_done(9)
        .unwrap();
    let mut legacy = read_json(&path);
    legacy["attributes"] = json!({"daisy_task_hash": DoneMarker::layout_hash(&task)});
    write_json(&path, &legacy);
    let marker = DoneMarker::open(&path, &task_2d_named("new")).unwrap();
    assert!(marker.is_done(9).unwrap());
    assert_eq!(marker.task_id(), "new");
    drop(marker);
    assert_eq!(read_json(&path)["attributes"]["daisy_task_id"], "new");
    let err = DoneMarker::open(&path, &task).unwrap_err();
    assert_owned_by(&err, &path, "new", "old");
}

/// A marker of `task_2d(Fit::Valid)` (41 entries) with blocks 0 and 3 done; its chunk file.
fn marker_with_marks(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let path = dir.join("marker");
    let marker = DoneMarker::open(&path, &task_2d(Fit::Valid)).unwrap();
    marker.mark_done(0).unwrap();
    marker.mark_done(3).unwrap();
    let chunk = path.join("c").join("0");
    (path, chunk)
}

/// The corruption error's text for `chunk`.
fn corrupt_text(chunk: &Path, reason: &str) -> String {
    format!(
        "done marker chunk {} is corrupt: {reason}; reset the marker (delete its directory) to \
         run the task from the start",
        chunk.display()
    )
}

#[test]
fn a_chunk_of_random_bytes_is_corrupt_not_all_done() {
    // Before: every non-zero byte counted as done, so a chunk of random bytes skipped
    // (nearly) every block.
    let dir = tempfile::tempdir().unwrap();
    let (path, chunk) = marker_with_marks(dir.path());
    // A fixed pseudo-random fill (xorshift), with a byte above 1 at position 2.
    let mut x: u32 = 0x9e37_79b9;
    let bytes: Vec<u8> = (0..41)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x.to_le_bytes()[0] | 2
        })
        .collect();
    fs::write(&chunk, &bytes).unwrap();
    let err = DoneMarker::open(&path, &task_2d(Fit::Valid)).unwrap_err();
    assert_eq!(
        err.to_string(),
        corrupt_text(
            &chunk,
            &format!(
                "byte 0 (block id 0) is {}, expected 0 (not done) or 1 (done)",
                bytes[0]
            )
        )
    );
    assert!(matches!(err, CoreError::DoneMarkerCorrupt { .. }));
    // One bad byte among good ones is found too.
    let mut one_bad = vec![0u8; 41];
    one_bad[3] = 1;
    one_bad[40] = 0xff;
    fs::write(&chunk, &one_bad).unwrap();
    let err = DoneMarker::open(&path, &task_2d(Fit::Valid)).unwrap_err();
    assert_eq!(
        err.to_string(),
        corrupt_text(
            &chunk,
            "byte 40 (block id 40) is 255, expected 0 (not done) or 1 (done)"
        )
    );
}

#[test]
fn a_truncated_chunk_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let (path, chunk) = marker_with_marks(dir.path());
    fs::write(&chunk, [1u8, 0, 0, 1, 0]).unwrap();
    let err = DoneMarker::open(&path, &task_2d(Fit::Valid)).unwrap_err();
    assert_eq!(
        err.to_string(),
        corrupt_text(&chunk, "it has 5 bytes, the marker's shape needs 41")
    );
    // Longer than the shape: also the wrong length.
    fs::write(&chunk, [0u8; 42]).unwrap();
    let err = DoneMarker::open(&path, &task_2d(Fit::Valid)).unwrap_err();
    assert_eq!(
        err.to_string(),
        corrupt_text(&chunk, "it has 42 bytes, the marker's shape needs 41")
    );
}

#[test]
fn a_chunk_corrupted_while_open_is_an_error_not_done() {
    let dir = tempfile::tempdir().unwrap();
    let (path, chunk) = marker_with_marks(dir.path());
    let marker = DoneMarker::open(&path, &task_2d(Fit::Valid)).unwrap();
    assert!(marker.is_done(3).unwrap());
    let mut bytes = fs::read(&chunk).unwrap();
    bytes[7] = b'x';
    fs::write(&chunk, &bytes).unwrap();
    let err = marker.is_done(7).unwrap_err();
    assert_eq!(
        err.to_string(),
        corrupt_text(
            &chunk,
            "byte 7 (block id 7) is 120, expected 0 (not done) or 1 (done)"
        )
    );
    assert!(marker.count_done().is_err());
    // Cut short while open.
    fs::OpenOptions::new()
        .write(true)
        .open(&chunk)
        .unwrap()
        .set_len(5)
        .unwrap();
    let err = marker.is_done(30).unwrap_err();
    assert_eq!(
        err.to_string(),
        corrupt_text(&chunk, "it ends before byte 30, expected 41 bytes")
    );
    let err = marker.count_done().unwrap_err();
    assert_eq!(
        err.to_string(),
        corrupt_text(&chunk, "it ends after 5 bytes, the marker's shape needs 41")
    );
}

#[test]
fn a_missing_chunk_reads_as_not_done() {
    // Zarr writers may delete an all-fill chunk; the marker recreates it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("marker");
    let task = task_2d(Fit::Valid);
    DoneMarker::open(&path, &task)
        .unwrap()
        .mark_done(5)
        .unwrap();
    fs::remove_dir_all(path.join("c")).unwrap();
    let marker = DoneMarker::open(&path, &task).unwrap();
    assert_eq!(marker.count_done().unwrap(), 0);
    marker.mark_done(5).unwrap();
    assert_eq!(fs::metadata(path.join("c").join("0")).unwrap().len(), 41);
}

#[test]
fn other_directories_are_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    fs::create_dir_all(&path).unwrap();
    fs::write(path.join("precious.txt"), "keep me").unwrap();
    let task = task_2d(Fit::Valid);
    let err = DoneMarker::open(&path, &task).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{} is not a daisy done marker (a 1-d uint8 zarr v3 array): it contains \
             \"precious.txt\", which is no marker file; refusing to use or delete it",
            path.display()
        )
    );
    assert!(!path.join("zarr.json").exists());
    assert!(DoneMarker::reset(&path).is_err());
    assert!(path.join("precious.txt").exists());
    // An empty directory becomes a marker.
    let empty = dir.path().join("empty");
    fs::create_dir(&empty).unwrap();
    DoneMarker::open(&empty, &task).unwrap();
    assert!(empty.join("zarr.json").exists());
    // Nor is a marker-looking directory with other chunks.
    let chunks = dir.path().join("chunks");
    fs::create_dir_all(chunks.join("c")).unwrap();
    fs::write(chunks.join("c").join("1"), "x").unwrap();
    let err = DoneMarker::open(&chunks, &task).unwrap_err();
    assert!(err.to_string().contains("it contains \"c/1\""), "{err}");
    assert!(DoneMarker::reset(&chunks).is_err());
    assert!(chunks.join("c").join("1").exists());
    // A regular file is neither used nor deleted.
    let file = dir.path().join("file");
    fs::write(&file, "x").unwrap();
    assert!(matches!(
        DoneMarker::open(&file, &task),
        Err(CoreError::DoneMarkerIo { .. })
    ));
    assert!(matches!(
        DoneMarker::reset(&file),
        Err(CoreError::DoneMarkerInvalid { .. })
    ));
    assert!(file.exists());
}

#[test]
fn reset_removes_the_marker() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a").join("marker");
    let task = task_2d(Fit::Valid);
    let marker = DoneMarker::open(&path, &task).unwrap();
    marker.mark_done(1).unwrap();
    drop(marker);
    DoneMarker::reset(&path).unwrap();
    assert!(!path.exists());
    assert!(dir.path().join("a").exists());
    // Resetting a missing marker is fine.
    DoneMarker::reset(&path).unwrap();
    let marker = DoneMarker::open(&path, &task).unwrap();
    assert!(!marker.is_done(1).unwrap());
}

#[test]
fn a_task_without_blocks_has_an_empty_marker() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("marker");
    // valid fit, total write shape 2 < write shape 3: no block.
    let task = Task::builder("t", roi(&[0], &[4]), roi(&[0], &[5]), roi(&[1], &[3]))
        .build()
        .unwrap();
    assert_eq!(task.tiling().num_blocks(), 0);
    assert_eq!(DoneMarker::num_ids(&task).unwrap(), 0);
    let marker = DoneMarker::open(&path, &task).unwrap();
    assert!(marker.is_empty());
    assert!(!marker.is_done(0).unwrap());
    assert_eq!(marker.count_done().unwrap(), 0);
    assert!(matches!(
        marker.mark_done(0),
        Err(CoreError::DoneMarkerIdOutOfRange { len: 0, .. })
    ));
    marker.sync().unwrap();
    let meta = read_json(&path);
    assert_eq!(meta["shape"], json!([0]));
    // Zarr readers need a positive chunk shape; with no element there is no chunk.
    assert_eq!(
        meta["chunk_grid"]["configuration"]["chunk_shape"],
        json!([1])
    );
    assert!(!path.join("c").exists());
    assert!(read_as_zarr_v3(&path).is_empty());
    drop(marker);
    assert!(DoneMarker::open(&path, &task).unwrap().is_empty());
    DoneMarker::reset(&path).unwrap();
    assert!(!path.exists());
}

#[test]
fn num_ids_is_the_largest_id_plus_one() {
    // (total, read template, write template, read_write_conflict)
    let cases: Vec<(Roi, Roi, Roi, bool)> = vec![
        // 1-D, docs/semantics.md#fit-modes.
        (roi(&[0], &[12]), roi(&[0], &[5]), roi(&[1], &[3]), true),
        (roi(&[0], &[12]), roi(&[0], &[5]), roi(&[2], &[1]), true),
        (roi(&[-7], &[23]), roi(&[0], &[6]), roi(&[2], &[2]), true),
        // 2-D, square and non-square grids, offsets and strides.
        (
            roi(&[0, 0], &[6, 6]),
            roi(&[0, 0], &[3, 3]),
            roi(&[1, 1], &[1, 1]),
            true,
        ),
        (
            roi(&[0, 0], &[17, 9]),
            roi(&[0, 0], &[5, 3]),
            roi(&[1, 1], &[3, 1]),
            true,
        ),
        (
            roi(&[3, -2], &[40, 11]),
            roi(&[0, 0], &[10, 4]),
            roi(&[2, 1], &[4, 2]),
            true,
        ),
        (
            roi(&[0, 0], &[13, 7]),
            roi(&[0, 0], &[3, 2]),
            roi(&[0, 0], &[3, 2]),
            false,
        ),
        // Read beginning before the write without conflicts: the id shift.
        (
            roi(&[0, 0], &[20, 9]),
            roi(&[2, 0], &[1, 2]),
            roi(&[5, 1], &[3, 2]),
            false,
        ),
        // 3-D, non-cube grid.
        (
            roi(&[0, 0, 0], &[11, 7, 15]),
            roi(&[0, 0, 0], &[4, 3, 5]),
            roi(&[1, 1, 1], &[2, 1, 3]),
            true,
        ),
        (
            roi(&[5, 0, -3], &[9, 14, 8]),
            roi(&[0, 0, 0], &[3, 3, 3]),
            roi(&[0, 0, 0], &[3, 3, 3]),
            false,
        ),
    ];
    let mut checked = 0;
    for (total, read, write, conflict) in cases {
        for fit in [Fit::Valid, Fit::Overhang, Fit::Shrink] {
            let task = Task::builder("t", total, read, write)
                .read_write_conflict(conflict)
                .fit(fit)
                .build()
                .unwrap();
            let expected = max_enumerated_id(&task).map_or(0, |max| max + 1);
            assert_eq!(
                DoneMarker::num_ids(&task).unwrap(),
                expected,
                "total {total}, read {read}, write {write}, {fit}"
            );
            checked += usize::from(expected > 0);
        }
    }
    assert!(checked >= 25, "only {checked} cases had blocks");
}

#[test]
fn the_far_corner_need_not_be_in_the_last_level() {
    // 1-D: levels [(3,), (0,)]; with 4 blocks (overhang), the largest id 3 is in level 0.
    let (total, read, write) = example_1d();
    let task = Task::builder("t", total, read, write)
        .fit(Fit::Overhang)
        .build()
        .unwrap();
    let tiling = task.tiling();
    let last: Vec<u64> = tiling
        .level_blocks(tiling.num_levels() - 1)
        .map(|b| b.spatial_id())
        .collect();
    assert_eq!(last, [0, 2]);
    assert_eq!(DoneMarker::num_ids(&task).unwrap(), 4);
}

#[test]
fn count_done_at_reads_without_creating_or_adopting() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m");
    let task = task_2d(Fit::Valid);
    // No marker: nothing is created.
    assert_eq!(DoneMarker::count_done_at(&path, &task).unwrap(), None);
    assert!(!path.exists());
    let marker = DoneMarker::open(&path, &task).unwrap();
    for id in [0, 4, 7] {
        marker.mark_done(id).unwrap();
    }
    drop(marker);
    assert_eq!(DoneMarker::count_done_at(&path, &task).unwrap(), Some(3));
    // Another task's marker, or another layout, is refused as by `open`.
    let other = task_2d_named("other");
    assert!(matches!(
        DoneMarker::count_done_at(&path, &other),
        Err(CoreError::DoneMarkerOwnedByAnotherTask { .. })
    ));
    assert!(matches!(
        DoneMarker::count_done_at(&path, &task_2d(Fit::Shrink)),
        Err(CoreError::DoneMarkerLayoutMismatch { .. })
    ));
    // A marker without a task id is counted, not adopted.
    let mut metadata = read_json(&path);
    metadata["attributes"]
        .as_object_mut()
        .unwrap()
        .remove("daisy_task_id");
    write_json(&path, &metadata);
    assert_eq!(DoneMarker::count_done_at(&path, &other).unwrap(), Some(3));
    assert!(
        read_json(&path)["attributes"]
            .get("daisy_task_id")
            .is_none()
    );
    // A corrupt chunk is an error; a missing one is nothing done.
    let chunk = path.join("c/0");
    let mut bytes = fs::read(&chunk).unwrap();
    bytes[1] = 9;
    fs::write(&chunk, &bytes).unwrap();
    assert!(matches!(
        DoneMarker::count_done_at(&path, &task),
        Err(CoreError::DoneMarkerCorrupt { .. })
    ));
    fs::remove_file(&chunk).unwrap();
    assert_eq!(DoneMarker::count_done_at(&path, &task).unwrap(), Some(0));
}
