//! A bounded cache of decoded chunks, least recently used first out, limited by bytes.
//!
//! One cache per [`Array`](crate::Array). Neighbouring blocks of a task read overlapping context
//! (an 80³ read with 8 voxels of context around a 64³ block touches 27 chunks of 64³, of which the
//! next block in grid order shares 18), so a worker that keeps the chunks it decoded last decodes
//! fewer. Every entry carries the [`Fingerprint`] of its chunk file when it was read: an entry is
//! used only while the file is unchanged, so writes by other processes are seen; writes through
//! the same `Array` replace the entry with the chunk just written.
//!
//! zarrs has its own caches (`ChunkCacheDecodedLruSizeLimit`), but they can neither be
//! invalidated by a write nor say how often they hit, which this crate must report
//! ([`ArrayStats`](crate::ArrayStats)); this one is small and does both.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use crate::store::Fingerprint;

/// One cached chunk.
#[derive(Debug)]
struct Entry {
    /// The decoded chunk (C order, native endian).
    data: Arc<Vec<u8>>,
    /// The chunk file's fingerprint when `data` was read or written.
    fingerprint: Fingerprint,
    /// When the entry was last used (a key of `ChunkLru::order`).
    tick: u64,
}

/// The cache's state, under one lock.
#[derive(Debug, Default)]
struct ChunkLru {
    /// Entries by chunk indices.
    entries: HashMap<Vec<u64>, Entry>,
    /// Chunk indices by last use, oldest first.
    order: BTreeMap<u64, Vec<u64>>,
    /// The next tick.
    tick: u64,
    /// Bytes held by `entries`.
    bytes: usize,
}

/// A thread-safe LRU cache of decoded chunks bounded by bytes (capacity 0: caches nothing).
#[derive(Debug)]
pub(crate) struct ChunkCache {
    /// The capacity in bytes.
    capacity: usize,
    /// The entries.
    lru: Mutex<ChunkLru>,
}

impl ChunkCache {
    /// An empty cache holding at most `capacity` bytes of decoded chunks.
    pub(crate) fn new(capacity: usize) -> ChunkCache {
        ChunkCache {
            capacity,
            lru: Mutex::new(ChunkLru::default()),
        }
    }

    /// Whether the cache can hold anything.
    pub(crate) fn is_enabled(&self) -> bool {
        self.capacity > 0
    }

    /// The capacity in bytes.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes held now.
    pub(crate) fn bytes(&self) -> usize {
        self.lock().bytes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ChunkLru> {
        self.lru.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cached chunk if its file still has `fingerprint` (a stale entry is dropped).
    pub(crate) fn get(&self, chunk: &[u64], fingerprint: Fingerprint) -> Option<Arc<Vec<u8>>> {
        if !self.is_enabled() {
            return None;
        }
        let mut lru = self.lock();
        let lru = &mut *lru;
        let entry = lru.entries.get_mut(chunk)?;
        if entry.fingerprint != fingerprint {
            let size = entry.data.len();
            let tick = entry.tick;
            lru.entries.remove(chunk);
            lru.order.remove(&tick);
            lru.bytes -= size;
            return None;
        }
        lru.order.remove(&entry.tick);
        lru.tick += 1;
        entry.tick = lru.tick;
        lru.order.insert(lru.tick, chunk.to_vec());
        Some(Arc::clone(&entry.data))
    }

    /// Caches a chunk (replacing an older entry), evicting the least recently used ones to fit.
    ///
    /// A chunk larger than the whole capacity is not cached.
    pub(crate) fn insert(&self, chunk: &[u64], data: Arc<Vec<u8>>, fingerprint: Fingerprint) {
        if data.len() > self.capacity {
            self.remove(chunk);
            return;
        }
        let mut lru = self.lock();
        let lru = &mut *lru;
        if let Some(old) = lru.entries.remove(chunk) {
            lru.order.remove(&old.tick);
            lru.bytes -= old.data.len();
        }
        while lru.bytes + data.len() > self.capacity {
            let Some((_, oldest)) = lru.order.pop_first() else {
                break;
            };
            if let Some(evicted) = lru.entries.remove(&oldest) {
                lru.bytes -= evicted.data.len();
            }
        }
        lru.tick += 1;
        lru.bytes += data.len();
        lru.order.insert(lru.tick, chunk.to_vec());
        lru.entries.insert(
            chunk.to_vec(),
            Entry {
                data,
                fingerprint,
                tick: lru.tick,
            },
        );
    }

    /// Drops the entry of a chunk.
    pub(crate) fn remove(&self, chunk: &[u64]) {
        let mut lru = self.lock();
        if let Some(old) = lru.entries.remove(chunk) {
            lru.order.remove(&old.tick);
            lru.bytes -= old.data.len();
        }
    }

    /// Drops every entry.
    pub(crate) fn clear(&self) {
        let mut lru = self.lock();
        *lru = ChunkLru::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: Fingerprint = Fingerprint::File {
        len: 10,
        modified_ns: 1,
    };

    fn chunk(bytes: usize) -> Arc<Vec<u8>> {
        Arc::new(vec![0; bytes])
    }

    #[test]
    fn least_recently_used_chunks_leave_first() {
        let cache = ChunkCache::new(300);
        cache.insert(&[0], chunk(100), FILE);
        cache.insert(&[1], chunk(100), FILE);
        cache.insert(&[2], chunk(100), FILE);
        assert!(cache.get(&[0], FILE).is_some());
        cache.insert(&[3], chunk(100), FILE);
        assert!(cache.get(&[1], FILE).is_none(), "1 was the least recent");
        assert!(cache.get(&[0], FILE).is_some());
        assert!(cache.get(&[2], FILE).is_some());
        assert!(cache.get(&[3], FILE).is_some());
        assert_eq!(cache.bytes(), 300);
    }

    #[test]
    fn a_changed_file_invalidates_its_entry() {
        let cache = ChunkCache::new(1000);
        cache.insert(&[0, 0], chunk(10), FILE);
        let changed = Fingerprint::File {
            len: 10,
            modified_ns: 2,
        };
        assert!(cache.get(&[0, 0], changed).is_none());
        assert!(
            cache.get(&[0, 0], FILE).is_none(),
            "the stale entry is gone"
        );
        assert_eq!(cache.bytes(), 0);
    }

    #[test]
    fn zero_capacity_and_oversized_chunks_cache_nothing() {
        let cache = ChunkCache::new(0);
        cache.insert(&[0], chunk(1), Fingerprint::Absent);
        assert!(cache.get(&[0], Fingerprint::Absent).is_none());
        let small = ChunkCache::new(10);
        small.insert(&[0], chunk(5), Fingerprint::Absent);
        small.insert(&[0], chunk(11), Fingerprint::Absent);
        assert!(small.get(&[0], Fingerprint::Absent).is_none());
        assert_eq!(small.bytes(), 0);
        small.insert(&[1], chunk(5), Fingerprint::Absent);
        small.clear();
        assert_eq!(small.bytes(), 0);
    }
}
