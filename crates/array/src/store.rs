//! The store under every [`Array`](crate::Array): zarrs' filesystem store, wrapped to count the
//! reads and writes that reach the disk (the figures [`ArrayStats`](crate::ArrayStats) reports) and
//! to fingerprint chunk files for the chunk cache.

use std::path::Path;
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

impl WritableStorageTraits for CountingStore {
    fn set(&self, key: &StoreKey, value: Bytes) -> Result<(), StorageError> {
        self.count_write(value.len() as u64);
        self.inner.set(key, value)
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
