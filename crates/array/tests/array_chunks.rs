//! Chunk-level behaviour: the chunk cache's counters, writes that cover whole chunks never reading
//! them, cache coherence across handles, sharded arrays written with zarrs' own builder, and done
//! markers of daisy-core read as Zarr v3 arrays.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::single_range_in_vec_init
)]

mod common;

use std::sync::Arc;

use common::{array_path, create, options, roi};
use daisy_array::ndarray::{ArrayD, IxDyn};
use daisy_array::{Array, DType, Mode, OpenOptions};

/// A 256³ uint8 array in 64³ chunks, every chunk written.
fn volume(path: &std::path::Path) {
    let array = create(
        path,
        &options(&[256, 256, 256], &[64, 64, 64], DType::UInt8),
    );
    let data = ArrayD::from_shape_fn(IxDyn(&[256, 256, 256]), |i| {
        (i[0] + i[1] * 3 + i[2] * 7) as u8
    });
    array.write(&array.roi(), data.view()).unwrap();
}

#[test]
fn neighbouring_reads_decode_fewer_chunks_with_the_cache() {
    let (_dir, path) = array_path("volume.zarr");
    volume(&path);
    let array = Array::open(&path, &OpenOptions::default()).unwrap();
    let first = array
        .read::<u8>(&roi(&[56, 56, 56], &[80, 80, 80]))
        .unwrap();
    let after_first = array.stats();
    assert_eq!(after_first.chunks_decoded, 27);
    assert_eq!(after_first.chunk_cache_hits, 0);
    // The next block along z shares 18 of its 27 chunks with the first.
    let second = array
        .read::<u8>(&roi(&[120, 56, 56], &[80, 80, 80]))
        .unwrap();
    let after_second = array.stats();
    assert_eq!(after_second.chunks_decoded - after_first.chunks_decoded, 9);
    assert_eq!(after_second.chunk_cache_hits, 18);
    assert_eq!(first[[64, 0, 0]], second[[0, 0, 0]]);
    assert_eq!(after_second.reads, 2);

    // Without a cache every read decodes all its chunks (only the parts it needs).
    let uncached = Array::open(
        &path,
        &OpenOptions {
            cache_bytes: 0,
            ..OpenOptions::default()
        },
    )
    .unwrap();
    let again = uncached
        .read::<u8>(&roi(&[56, 56, 56], &[80, 80, 80]))
        .unwrap();
    uncached
        .read::<u8>(&roi(&[120, 56, 56], &[80, 80, 80]))
        .unwrap();
    assert_eq!(again, first);
    assert_eq!(uncached.stats().chunks_decoded, 54);
    assert_eq!(uncached.stats().chunk_cache_hits, 0);
    assert_eq!(uncached.stats().cached_bytes, 0);

    // A cache smaller than one read's chunks still bounds its bytes.
    let small = Array::open(
        &path,
        &OpenOptions {
            cache_bytes: 4 * 64 * 64 * 64,
            ..OpenOptions::default()
        },
    )
    .unwrap();
    small
        .read::<u8>(&roi(&[56, 56, 56], &[80, 80, 80]))
        .unwrap();
    assert!(small.stats().cached_bytes <= 4 * 64 * 64 * 64);
}

#[test]
fn writes_covering_whole_chunks_never_read_them() {
    let (_dir, path) = array_path("a.zarr");
    create(&path, &options(&[64, 64], &[16, 16], DType::UInt16));
    let array = Array::open(&path, &OpenOptions::with_mode(Mode::ReadWrite)).unwrap();
    array.fill(&array.roi(), 3u16).unwrap();
    let before = array.stats();
    // Aligned to chunks, over existing chunks: 4 chunks encoded, nothing read.
    array.fill(&roi(&[16, 32], &[32, 16]), 5u16).unwrap();
    let after = array.stats();
    assert_eq!(after.store_reads, before.store_reads);
    assert_eq!(after.chunks_decoded, before.chunks_decoded);
    assert_eq!(after.chunks_encoded - before.chunks_encoded, 2);
    // Unaligned: the chunks it touches partly are read (from the store, as the cache was
    // filled by the writes themselves, from the cache) and merged.
    let fresh = Array::open(
        &path,
        &OpenOptions {
            mode: Mode::ReadWrite,
            cache_bytes: 0,
            ..OpenOptions::default()
        },
    )
    .unwrap();
    fresh.fill(&roi(&[1, 1], &[16, 16]), 9u16).unwrap();
    let stats = fresh.stats();
    assert_eq!(stats.chunks_decoded, 4);
    assert!(stats.store_reads >= 4, "{stats:?}");
    assert_eq!(stats.chunks_encoded, 4);
    let whole = fresh.read::<u16>(&fresh.roi()).unwrap();
    assert_eq!(whole[[0, 0]], 3);
    assert_eq!(whole[[1, 1]], 9);
    assert_eq!(whole[[16, 32]], 5);
}

#[test]
fn the_cache_follows_writes_through_any_handle() {
    let (_dir, path) = array_path("a.zarr");
    let writer = create(&path, &options(&[32, 32], &[16, 16], DType::UInt8));
    writer.fill(&writer.roi(), 1u8).unwrap();
    let reader = Array::open(&path, &OpenOptions::default()).unwrap();
    let block = roi(&[0, 0], &[16, 16]);
    assert!(reader.read::<u8>(&block).unwrap().iter().all(|&v| v == 1));
    assert!(reader.read::<u8>(&block).unwrap().iter().all(|&v| v == 1));
    assert_eq!(reader.stats().chunk_cache_hits, 1);
    // Another handle (another process, in a task) rewrites the chunk with other content.
    let pattern = ArrayD::from_shape_fn(IxDyn(&[16, 16]), |i| (i[0] * 16 + i[1]) as u8);
    writer.write(&block, pattern.view()).unwrap();
    assert_eq!(
        reader.read::<u8>(&block).unwrap(),
        pattern,
        "a stale chunk was served"
    );
    // The writer's own cache holds what it wrote.
    let before = writer.stats();
    assert_eq!(writer.read::<u8>(&block).unwrap(), pattern);
    assert_eq!(writer.stats().chunk_cache_hits - before.chunk_cache_hits, 1);
    assert_eq!(writer.stats().chunks_decoded, before.chunks_decoded);
}

#[test]
fn sharded_arrays_written_by_zarrs_read_back() {
    use zarrs::array::codec::{ShardingCodecBuilder, ZstdCodec};
    use zarrs::array::{ArrayBuilder, data_type};
    use zarrs::filesystem::FilesystemStore;

    let (_dir, path) = array_path("sharded.zarr");
    std::fs::create_dir_all(&path).unwrap();
    let store = Arc::new(FilesystemStore::new(&path).unwrap());
    let mut sharding = ShardingCodecBuilder::new(
        [8u64, 8]
            .map(|size| std::num::NonZeroU64::new(size).unwrap())
            .to_vec(),
        &data_type::uint16(),
    );
    sharding.bytes_to_bytes_codecs(vec![Arc::new(ZstdCodec::new(1, false))]);
    let zarr = ArrayBuilder::new(vec![40u64, 40], vec![16u64, 16], data_type::uint16(), 0u16)
        .array_to_bytes_codec(Arc::new(sharding.build()))
        .build(store, "/")
        .unwrap();
    zarr.store_metadata().unwrap();
    let values: Vec<u16> = (0..1600).map(|v| v as u16).collect();
    zarr.store_array_subset(
        &zarrs::array::ArraySubset::new_with_ranges(&[0..40, 0..40]),
        &values[..],
    )
    .unwrap();

    for cache_bytes in [0, 1 << 20] {
        let array = Array::open(
            &path,
            &OpenOptions {
                cache_bytes,
                mode: Mode::ReadWrite,
                ..OpenOptions::default()
            },
        )
        .unwrap();
        assert_eq!(array.chunk_shape(), &[8, 8]);
        assert_eq!(array.shard_shape(), Some(&[16u64, 16][..]));
        let part = array.read::<u16>(&roi(&[5, 30], &[20, 10])).unwrap();
        for ((y, x), &value) in part
            .view()
            .into_dimensionality::<daisy_array::ndarray::Ix2>()
            .unwrap()
            .indexed_iter()
        {
            assert_eq!(value as usize, (y + 5) * 40 + x + 30);
        }
    }
    // Writing through the sharded array keeps the rest of each shard.
    let array = Array::open(&path, &OpenOptions::with_mode(Mode::ReadWrite)).unwrap();
    array.fill(&roi(&[3, 3], &[2, 2]), 7u16).unwrap();
    let whole = array.read::<u16>(&array.roi()).unwrap();
    assert_eq!(whole[[3, 3]], 7);
    assert_eq!(whole[[2, 3]], 2 * 40 + 3);
    assert_eq!(whole[[39, 39]], 1599);
}

#[test]
fn sharded_arrays_created_here_round_trip() {
    let (_dir, path) = array_path("sharded.zarr");
    let mut options = options(&[30, 30], &[5, 5], DType::Int32);
    options.shard_shape = Some(vec![10, 10]);
    let array = create(&path, &options);
    let data = ArrayD::from_shape_fn(IxDyn(&[30, 30]), |i| (i[0] * 30 + i[1]) as i32 - 400);
    array.write(&array.roi(), data.view()).unwrap();
    let reopened = Array::open(&path, &OpenOptions::default()).unwrap();
    assert_eq!(reopened.read::<i32>(&reopened.roi()).unwrap(), data);
    assert_eq!(reopened.shard_shape(), Some(&[10u64, 10][..]));
    let zarr_json = std::fs::read_to_string(path.join("zarr.json")).unwrap();
    assert!(zarr_json.contains("sharding_indexed"));
}

#[test]
fn done_markers_of_daisy_core_are_zarr_v3_uint8_arrays() {
    use daisy_core::{DoneMarker, Task};

    let (_dir, path) = array_path("marker");
    let task = Task::builder(
        "smooth",
        roi(&[0, 0], &[100, 100]),
        roi(&[0, 0], &[12, 12]),
        roi(&[1, 1], &[10, 10]),
    )
    .build()
    .unwrap();
    let marker = DoneMarker::open(&path, &task).unwrap();
    marker.mark_done(4).unwrap();
    marker.mark_done(144).unwrap();
    let len = marker.len();
    drop(marker);

    // zarrs opens it as a valid Zarr v3 array.
    let store = Arc::new(zarrs::filesystem::FilesystemStore::new(&path).unwrap());
    let zarr = zarrs::array::Array::open(store, "/").unwrap();
    assert_eq!(zarr.shape(), &[len]);
    let bytes: Vec<u8> = zarr.retrieve_chunk(&[0]).unwrap();
    assert_eq!(bytes.len() as u64, len);
    assert_eq!(bytes.iter().filter(|&&b| b == 1).count(), 2);
    assert_eq!((bytes[4], bytes[144], bytes[5]), (1, 1, 0));

    // And so does this crate.
    let array = Array::open(&path, &OpenOptions::default()).unwrap();
    assert_eq!(array.dtype(), DType::UInt8);
    let mut marks = vec![0u8; len as usize];
    array.read_voxels_into(&[0..len], &mut marks).unwrap();
    assert_eq!(marks, bytes);
}

#[test]
fn concurrent_writes_of_parts_of_one_chunk_all_land() {
    // 8 writers, each with its own handle (and cache), each writing its own 2-row slab of one
    // 16×16 chunk over and over: every write reads, changes and stores the whole chunk.
    let (_dir, path) = array_path("a.zarr");
    create(&path, &options(&[16, 16], &[16, 16], DType::UInt16));
    let writers: Vec<_> = (0..8u16)
        .map(|w| {
            let path = path.clone();
            std::thread::spawn(move || {
                let array = Array::open(&path, &OpenOptions::with_mode(Mode::ReadWrite)).unwrap();
                let slab = roi(&[i64::from(w) * 2, 0], &[2, 16]);
                for round in 1..=40u16 {
                    let data = ArrayD::from_elem(IxDyn(&[2, 16]), w * 100 + round);
                    array.write(&slab, data.view()).unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    let fresh = Array::open(&path, &OpenOptions::default()).unwrap();
    let all = fresh.read::<u16>(&roi(&[0, 0], &[16, 16])).unwrap();
    for ((row, _), &value) in all.indexed_iter().map(|(i, v)| ((i[0], i[1]), v)) {
        assert_eq!(value, (row as u16 / 2) * 100 + 40, "row {row}");
    }
}
