//! The store under every [`Array`](crate::Array): zarrs' filesystem store, wrapped to count the
//! reads and writes that reach the disk (the figures [`ArrayStats`](crate::ArrayStats) reports) and
//! to fingerprint chunk files for the chunk cache.

use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::UNIX_EPOCH;

use zarrs::filesystem::FilesystemStore;
use zarrs::storage::byte_range::ByteRangeIterator;
use zarrs::storage::{
    Bytes, ListableStorageTraits, MaybeBytes, MaybeBytesIterator, OffsetBytesIterator,
    ReadableStorageTraits, StorageError, StoreKey, StoreKeys, StoreKeysPrefixes, StorePrefix,
    WritableStorageTraits,
};

use crate::error::ArrayError;

/// What a chunk file looked like when it was read: its length and modification time, or absent.
///
/// A cached chunk is used only while its file still has the same fingerprint, so writes by other
/// processes (other workers of a task) are seen on the next read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fingerprint {
    /// No file: the chunk is all fill value.
    Absent,
    /// The file's length in bytes and modification time in nanoseconds since the epoch.
    File {
        /// Length in bytes.
        len: u64,
        /// Modification time, nanoseconds since the epoch.
        modified_ns: u128,
    },
}

/// Counters of the store operations of one array.
#[derive(Debug, Default)]
pub(crate) struct StoreCounters {
    /// Reads of a value or of byte ranges of it (one per call, found or not).
    pub reads: AtomicU64,
    /// Bytes returned by reads.
    pub bytes_read: AtomicU64,
    /// Writes of a whole value or of byte ranges of it.
    pub writes: AtomicU64,
    /// Bytes written.
    pub bytes_written: AtomicU64,
}

/// zarrs' filesystem store with counters.
#[derive(Debug)]
pub(crate) struct CountingStore {
    /// The wrapped store.
    inner: FilesystemStore,
    /// The counters.
    pub counters: StoreCounters,
}

impl CountingStore {
    /// A store rooted at `root` (the array's directory).
    ///
    /// # Errors
    /// [`ArrayError::NotAnArray`] if the path is not valid UTF-8 (zarrs requires it).
    pub(crate) fn new(root: &Path) -> Result<CountingStore, ArrayError> {
        let inner = FilesystemStore::new(root).map_err(|error| ArrayError::NotAnArray {
            path: root.to_path_buf(),
            reason: error.to_string(),
        })?;
        Ok(CountingStore {
            inner,
            counters: StoreCounters::default(),
        })
    }

    /// The fingerprint of the file holding `key`.
    pub(crate) fn fingerprint(&self, key: &StoreKey) -> Fingerprint {
        let path = self.inner.key_to_fspath(key);
        match std::fs::metadata(&path) {
            Ok(metadata) => Fingerprint::File {
                len: metadata.len(),
                modified_ns: metadata
                    .modified()
                    .ok()
                    .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
                    .map_or(0, |duration| duration.as_nanos()),
            },
            Err(_) => Fingerprint::Absent,
        }
    }

    fn count_read(&self, bytes: u64) {
        self.counters.reads.fetch_add(1, Ordering::Relaxed);
        self.counters.bytes_read.fetch_add(bytes, Ordering::Relaxed);
    }

    fn count_write(&self, bytes: u64) {
        self.counters.writes.fetch_add(1, Ordering::Relaxed);
        self.counters
            .bytes_written
            .fetch_add(bytes, Ordering::Relaxed);
    }
}

impl ReadableStorageTraits for CountingStore {
    fn get(&self, key: &StoreKey) -> Result<MaybeBytes, StorageError> {
        let value = self.inner.get(key)?;
        self.count_read(value.as_ref().map_or(0, |bytes| bytes.len() as u64));
        Ok(value)
    }

    fn get_partial_many<'a>(
        &'a self,
        key: &StoreKey,
        byte_ranges: ByteRangeIterator<'a>,
    ) -> Result<MaybeBytesIterator<'a>, StorageError> {
        let values = self.inner.get_partial_many(key, byte_ranges)?;
        // The byte count of partial reads is counted as the values are consumed.
        self.count_read(0);
        Ok(values.map(|values| {
            let counted: Box<dyn Iterator<Item = Result<Bytes, StorageError>> + 'a> =
                Box::new(values.inspect(|value| {
                    if let Ok(bytes) = value {
                        self.counters
                            .bytes_read
                            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                    }
                }));
            counted
        }))
    }

    fn size_key(&self, key: &StoreKey) -> Result<Option<u64>, StorageError> {
        self.inner.size_key(key)
    }

    fn supports_get_partial(&self) -> bool {
        self.inner.supports_get_partial()
    }
}

/// Whether writes wait for the disk (`fsync`): `DAISY_ARRAY_SYNC_WRITES=1`, read once per process.
fn sync_writes() -> bool {
    static SYNC: OnceLock<bool> = OnceLock::new();
    *SYNC.get_or_init(|| {
        std::env::var("DAISY_ARRAY_SYNC_WRITES")
            .is_ok_and(|value| matches!(value.trim(), "1" | "true" | "yes"))
    })
}

/// Writes `value` to `path` atomically: into a temporary file beside it, then renamed over it,
/// so a reader (another worker, a downstream task) sees the old file or the new one, never a
/// part. Not synced to the disk (as zarr-python and tensorstore write): a crash of the process
/// leaves no torn chunk, a crash of the machine may lose the last writes.
fn write_atomically(path: &Path, value: &[u8]) -> std::io::Result<()> {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let parent = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(parent)?;
    let name = path
        .file_name()
        .map_or_else(Default::default, |name| name.to_string_lossy());
    let temporary = parent.join(format!(
        ".{name}.{}.{}.partial",
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed)
    ));
    let result = std::fs::write(&temporary, value).and_then(|()| std::fs::rename(&temporary, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

impl WritableStorageTraits for CountingStore {
    fn set(&self, key: &StoreKey, value: Bytes) -> Result<(), StorageError> {
        self.count_write(value.len() as u64);
        if sync_writes() {
            // zarrs' store: in place, each file synced before the write returns.
            return self.inner.set(key, value);
        }
        Ok(write_atomically(&self.inner.key_to_fspath(key), &value)?)
    }

    fn set_partial_many(
        &self,
        key: &StoreKey,
        offset_values: OffsetBytesIterator,
    ) -> Result<(), StorageError> {
        let values: Vec<(u64, Bytes)> = offset_values.collect();
        let bytes: u64 = values.iter().map(|(_, value)| value.len() as u64).sum();
        self.count_write(bytes);
        self.inner
            .set_partial_many(key, Box::new(values.into_iter()))
    }

    fn erase(&self, key: &StoreKey) -> Result<(), StorageError> {
        self.inner.erase(key)
    }

    fn erase_prefix(&self, prefix: &StorePrefix) -> Result<(), StorageError> {
        self.inner.erase_prefix(prefix)
    }

    fn supports_set_partial(&self) -> bool {
        self.inner.supports_set_partial()
    }
}

impl ListableStorageTraits for CountingStore {
    fn list(&self) -> Result<StoreKeys, StorageError> {
        self.inner.list()
    }

    fn list_prefix(&self, prefix: &StorePrefix) -> Result<StoreKeys, StorageError> {
        self.inner.list_prefix(prefix)
    }

    fn list_dir(&self, prefix: &StorePrefix) -> Result<StoreKeysPrefixes, StorageError> {
        self.inner.list_dir(prefix)
    }

    fn size_prefix(&self, prefix: &StorePrefix) -> Result<u64, StorageError> {
        self.inner.size_prefix(prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn set_replaces_the_file_whole_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = CountingStore::new(dir.path()).unwrap();
        let key = StoreKey::new("c/0/1").unwrap();
        store.set(&key, Bytes::from(vec![1u8; 1000])).unwrap();
        store.set(&key, Bytes::from(vec![2u8; 10])).unwrap();
        assert_eq!(store.get(&key).unwrap().unwrap().to_vec(), vec![2u8; 10]);
        assert_eq!(files_in(&dir.path().join("c/0")), vec!["1".to_owned()]);
        assert_eq!(store.counters.writes.load(Ordering::Relaxed), 2);
        assert_eq!(store.counters.bytes_written.load(Ordering::Relaxed), 1010);
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chunk");
        write_atomically(&path, b"old").unwrap();
        // A directory where the file should go: the rename fails.
        let blocked = dir.path().join("dir");
        std::fs::create_dir_all(blocked.join("inside")).unwrap();
        assert!(write_atomically(&blocked, b"new").is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(
            files_in(dir.path()),
            vec!["chunk".to_owned(), "dir".to_owned()]
        );
    }
}
