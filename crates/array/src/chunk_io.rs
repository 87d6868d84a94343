//! The chunk engine under an [`Array`](crate::Array): reads and writes of voxel regions, chunk by
//! chunk, in parallel on the per-process pool, through the chunk cache.
//!
//! Each call touches each chunk (each shard, for sharded arrays: the unit the store holds) once.
//! Reads decode the chunks they need (or take them from the cache, or know them to be fill value
//! when the chunk file is absent) and copy the needed boxes into the output. Writes build each
//! chunk in full: from fill values when the write covers the chunk's part of the array (the chunk is
//! never read), else from the stored chunk merged with the new data; then encode and store it,
//! and put it in the cache.

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;
use zarrs::array::{ArrayBytes, CodecOptions};

use crate::chunk_cache::ChunkCache;
use crate::chunk_lock;
use crate::dtype::DType;
use crate::error::ArrayError;
use crate::pool;
use crate::store::{CountingStore, Fingerprint};
use crate::subset::{self, Placement};
use crate::zarr_node::ZarrArray;

/// Counters of the work an [`Array`](crate::Array) did since it was opened:
/// [`Array::stats`](crate::Array::stats).
///
/// A chunk that one call touches is decoded at most once in that call; `chunks_decoded +
/// chunk_cache_hits + chunks_missing` is the number of chunks the reads (and the partial writes,
/// which merge into the stored chunk) needed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ArrayStats {
    /// Calls that read (`read`, `read_into`, `to_ndarray`, `read_voxels_into`, ...).
    pub reads: u64,
    /// Calls that wrote (`write`, `write_bytes`, `fill`, `write_voxels`).
    pub writes: u64,
    /// Chunks read from the store and decoded.
    pub chunks_decoded: u64,
    /// Chunks taken from the chunk cache instead.
    pub chunk_cache_hits: u64,
    /// Chunks that do not exist in the store (all fill value: neither read nor decoded).
    pub chunks_missing: u64,
    /// Chunks encoded and written.
    pub chunks_encoded: u64,
    /// Bytes the reads returned (decoded, as the caller sees them).
    pub bytes_read: u64,
    /// Bytes the writes took (decoded).
    pub bytes_written: u64,
    /// Reads that reached the store (metadata included).
    pub store_reads: u64,
    /// Bytes the store returned (encoded).
    pub store_bytes_read: u64,
    /// Writes that reached the store (metadata included).
    pub store_writes: u64,
    /// Bytes written to the store (encoded).
    pub store_bytes_written: u64,
    /// Bytes of decoded chunks the cache holds now.
    pub cached_bytes: u64,
}

/// The counters behind [`ArrayStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    reads: AtomicU64,
    writes: AtomicU64,
    chunks_decoded: AtomicU64,
    chunk_cache_hits: AtomicU64,
    chunks_missing: AtomicU64,
    chunks_encoded: AtomicU64,
    bytes_read: AtomicU64,
    bytes_written: AtomicU64,
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

/// A decoded chunk, or the part of it a read needs.
struct Piece {
    /// The bytes (a whole chunk, or a box of it).
    data: Arc<Vec<u8>>,
    /// The shape of `data` in elements.
    data_shape: Vec<u64>,
    /// Where the region the read needs starts inside `data`.
    data_origin: Vec<u64>,
    /// The region of the array the piece provides.
    region: Vec<Range<u64>>,
}

/// The zarrs array with what its chunk I/O needs.
pub(crate) struct ChunkIo {
    /// The array's directory (named in errors).
    pub path: PathBuf,
    /// The zarrs array.
    pub zarr: ZarrArray,
    /// The store under `zarr` (the same `Arc`).
    pub store: Arc<CountingStore>,
    /// The element type.
    pub dtype: DType,
    /// The shape of the units the store holds (chunks, or shards of a sharded array).
    pub grid_shape: Vec<u64>,
    /// The fill value, one element in native byte order.
    pub fill_value: Vec<u8>,
    /// Decoded chunks.
    pub cache: ChunkCache,
    /// What was done.
    pub counters: Counters,
}

impl ChunkIo {
    /// Counts a read that needed no chunk (a `to_ndarray` wholly outside the array).
    pub(crate) fn count_empty_read(&self) {
        bump(&self.counters.reads, 1);
    }

    /// The counters, with the store's.
    pub(crate) fn stats(&self) -> ArrayStats {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let store = &self.store.counters;
        ArrayStats {
            reads: load(&self.counters.reads),
            writes: load(&self.counters.writes),
            chunks_decoded: load(&self.counters.chunks_decoded),
            chunk_cache_hits: load(&self.counters.chunk_cache_hits),
            chunks_missing: load(&self.counters.chunks_missing),
            chunks_encoded: load(&self.counters.chunks_encoded),
            bytes_read: load(&self.counters.bytes_read),
            bytes_written: load(&self.counters.bytes_written),
            store_reads: load(&store.reads),
            store_bytes_read: load(&store.bytes_read),
            store_writes: load(&store.writes),
            store_bytes_written: load(&store.bytes_written),
            cached_bytes: self.cache.bytes() as u64,
        }
    }

    pub(crate) fn zarr_error(
        &self,
        operation: String,
    ) -> impl Fn(zarrs::array::ArrayError) -> ArrayError + '_ {
        move |source| ArrayError::Zarr {
            operation: operation.clone(),
            path: self.path.clone(),
            source: Box::new(source),
        }
    }

    /// Codec options for one of `chunks` chunks processed at once.
    fn codec_options(&self, chunks: usize) -> CodecOptions {
        let threads = pool::io_threads();
        CodecOptions::default().with_concurrent_target((threads / chunks.max(1)).max(1))
    }

    /// The row-major index of grid cell `cell` among all the cells of the array (wrapping on
    /// overflow: it only picks the byte of the cell's lock).
    fn cell_index(&self, cell: &[u64]) -> u64 {
        cell.iter()
            .zip(&self.grid_shape)
            .zip(self.zarr.shape())
            .fold(0u64, |index, ((&c, &size), &extent)| {
                index
                    .wrapping_mul(extent.div_ceil(size.max(1)))
                    .wrapping_add(c)
            })
    }

    /// The region of the array a grid cell (chunk or shard) covers, clipped to the shape.
    fn cell_region(&self, cell: &[u64]) -> Vec<Range<u64>> {
        cell.iter()
            .zip(&self.grid_shape)
            .zip(self.zarr.shape())
            .map(|((&index, &size), &extent)| {
                let start = index * size;
                start..(start + size).min(extent)
            })
            .collect()
    }

    /// A whole grid cell of fill values.
    fn fill_cell(&self) -> Vec<u8> {
        let elements: u64 = self.grid_shape.iter().product();
        self.fill_value.repeat(elements as usize)
    }

    /// The decoded grid cell `cell` (from the cache, the store, or fill values).
    fn load_cell(&self, cell: &[u64], options: &CodecOptions) -> Result<Arc<Vec<u8>>, ArrayError> {
        let key = self.zarr.chunk_key(cell);
        let fingerprint = self.store.fingerprint(&key);
        if let Some(data) = self.cache.get(cell, fingerprint) {
            bump(&self.counters.chunk_cache_hits, 1);
            return Ok(data);
        }
        let data = if fingerprint == Fingerprint::Absent {
            bump(&self.counters.chunks_missing, 1);
            Arc::new(self.fill_cell())
        } else {
            let bytes: ArrayBytes<'static> = self
                .zarr
                .retrieve_chunk_opt(cell, options)
                .map_err(self.zarr_error(format!("read chunk {cell:?} of")))?;
            bump(&self.counters.chunks_decoded, 1);
            let bytes = bytes
                .into_fixed()
                .map_err(|error| ArrayError::InvalidOptions {
                    reason: format!("chunk {cell:?} is not of fixed size: {error}"),
                })?;
            Arc::new(bytes.into_owned())
        };
        self.cache.insert(cell, Arc::clone(&data), fingerprint);
        Ok(data)
    }

    /// The part of grid cell `cell` inside `region`.
    fn read_piece(
        &self,
        cell: &[u64],
        region: &[Range<u64>],
        options: &CodecOptions,
    ) -> Result<Piece, ArrayError> {
        let cell_region = self.cell_region(cell);
        let Some(inside) = subset::intersect(region, &cell_region) else {
            return Err(ArrayError::RegionOutOfBounds {
                region: subset::format_region(region),
                shape: self.zarr.shape().to_vec(),
            });
        };
        let whole = subset::covers(region, &cell_region);
        if self.cache.is_enabled() || whole {
            let origin: Vec<u64> = inside
                .iter()
                .zip(&cell_region)
                .map(|(inside, cell)| inside.start - cell.start)
                .collect();
            return Ok(Piece {
                data: self.load_cell(cell, options)?,
                data_shape: self.grid_shape.clone(),
                data_origin: origin,
                region: inside,
            });
        }
        // Without a cache, decode only the part needed (zarrs reads only the inner chunks of
        // a shard it needs).
        let key = self.zarr.chunk_key(cell);
        if self.store.fingerprint(&key) == Fingerprint::Absent {
            bump(&self.counters.chunks_missing, 1);
            let len = subset::region_len(&inside).unwrap_or(0) as usize;
            return Ok(Piece {
                data: Arc::new(self.fill_value.repeat(len)),
                data_shape: subset::region_shape(&inside),
                data_origin: vec![0; inside.len()],
                region: inside,
            });
        }
        let in_cell: Vec<Range<u64>> = inside
            .iter()
            .zip(&cell_region)
            .map(|(inside, cell)| inside.start - cell.start..inside.end - cell.start)
            .collect();
        let bytes: ArrayBytes<'static> = self
            .zarr
            .retrieve_chunk_subset_opt(cell, &subset::to_subset(&in_cell), options)
            .map_err(self.zarr_error(format!("read chunk {cell:?} of")))?;
        bump(&self.counters.chunks_decoded, 1);
        let bytes = bytes
            .into_fixed()
            .map_err(|error| ArrayError::InvalidOptions {
                reason: format!("chunk {cell:?} is not of fixed size: {error}"),
            })?;
        Ok(Piece {
            data: Arc::new(bytes.into_owned()),
            data_shape: subset::region_shape(&inside),
            data_origin: vec![0; inside.len()],
            region: inside,
        })
    }

    /// Reads a checked region into `out` (its exact size).
    pub(crate) fn read_region(
        &self,
        region: &[Range<u64>],
        out: &mut [u8],
    ) -> Result<(), ArrayError> {
        bump(&self.counters.reads, 1);
        bump(&self.counters.bytes_read, out.len() as u64);
        if out.is_empty() {
            return Ok(());
        }
        let cells = subset::chunks_touching(region, &self.grid_shape);
        let options = self.codec_options(cells.len());
        let pieces: Vec<Piece> = pool::install(|| {
            cells
                .par_iter()
                .map(|cell| self.read_piece(cell, region, &options))
                .collect::<Result<Vec<Piece>, ArrayError>>()
        })?;
        let out_shape = subset::region_shape(region);
        let element = self.dtype.size_of();
        for piece in &pieces {
            let out_origin: Vec<u64> = piece
                .region
                .iter()
                .zip(region)
                .map(|(piece, region)| piece.start - region.start)
                .collect();
            subset::copy_box(
                &piece.data,
                Placement {
                    buffer_shape: &piece.data_shape,
                    origin: &piece.data_origin,
                },
                out,
                Placement {
                    buffer_shape: &out_shape,
                    origin: &out_origin,
                },
                &subset::region_shape(&piece.region),
                element,
            );
        }
        Ok(())
    }

    /// Writes `data` (the exact size of the checked region) into grid cell `cell`.
    fn write_cell(
        &self,
        cell: &[u64],
        region: &[Range<u64>],
        data: &[u8],
        options: &CodecOptions,
    ) -> Result<(), ArrayError> {
        let cell_region = self.cell_region(cell);
        let Some(inside) = subset::intersect(region, &cell_region) else {
            return Ok(());
        };
        let covers = subset::covers(region, &cell_region);
        // A write of part of the cell reads, changes and stores it: under the cell's lock, so
        // that a concurrent write of another part (another worker's block) is not undone.
        let _lock = if covers {
            None
        } else {
            Some(
                chunk_lock::lock_chunk(&self.path, self.cell_index(cell)).map_err(|source| {
                    ArrayError::Io {
                        path: self.path.join(chunk_lock::LOCK_FILE),
                        source,
                    }
                })?,
            )
        };
        let mut chunk: Vec<u8> = if covers {
            // The write replaces everything: no need to read the chunk.
            self.fill_cell()
        } else {
            self.load_cell(cell, options)?.as_ref().clone()
        };
        let in_cell: Vec<u64> = inside
            .iter()
            .zip(&cell_region)
            .map(|(inside, cell)| inside.start - cell.start)
            .collect();
        let in_data: Vec<u64> = inside
            .iter()
            .zip(region)
            .map(|(inside, region)| inside.start - region.start)
            .collect();
        subset::copy_box(
            data,
            Placement {
                buffer_shape: &subset::region_shape(region),
                origin: &in_data,
            },
            &mut chunk,
            Placement {
                buffer_shape: &self.grid_shape,
                origin: &in_cell,
            },
            &subset::region_shape(&inside),
            self.dtype.size_of(),
        );
        self.zarr
            .store_chunk_opt(cell, ArrayBytes::new_flen(&chunk[..]), options)
            .map_err(self.zarr_error(format!("write chunk {cell:?} of")))?;
        bump(&self.counters.chunks_encoded, 1);
        if self.cache.is_enabled() {
            let fingerprint = self.store.fingerprint(&self.zarr.chunk_key(cell));
            self.cache.insert(cell, Arc::new(chunk), fingerprint);
        }
        Ok(())
    }

    /// Writes `data` (the exact size of the checked region).
    pub(crate) fn write_region(
        &self,
        region: &[Range<u64>],
        data: &[u8],
    ) -> Result<(), ArrayError> {
        bump(&self.counters.writes, 1);
        bump(&self.counters.bytes_written, data.len() as u64);
        if data.is_empty() {
            return Ok(());
        }
        let cells = subset::chunks_touching(region, &self.grid_shape);
        let options = self.codec_options(cells.len());
        pool::install(|| {
            cells
                .par_iter()
                .try_for_each(|cell| self.write_cell(cell, region, data, &options))
        })
    }
}
