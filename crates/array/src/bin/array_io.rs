//! Benchmark of block-wise array I/O: a 512³ uint8 array in 64³ chunks (zstd level 0), written
//! block by block (64³ writes) and read block by block (80³ reads: 8 voxels of context), for
//! several chunk cache sizes, in grid order by one worker and interleaved over two worker
//! processes (block i to worker i % 2). Prints one JSON object per line.
//!
//! Usage: `array_io [DIR]` (default: a directory under the system temp dir, removed after).
//! Run in release: `cargo run --release -p daisy-array --bin array_io`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use daisy_array::{Array, ArrayStats, CreateOptions, DType, OpenOptions};
use daisy_geometry::Roi;

/// Array side in voxels.
const SIDE: i64 = 512;
/// Chunk and block side.
const BLOCK: i64 = 64;
/// Context on each side of a read.
const CONTEXT: i64 = 8;
/// Cache sizes to measure, MiB.
const CACHE_MIB: [usize; 5] = [0, 8, 32, 64, 128];

fn blocks() -> Vec<[i64; 3]> {
    let n = SIDE / BLOCK;
    let mut blocks = Vec::new();
    for z in 0..n {
        for y in 0..n {
            for x in 0..n {
                blocks.push([z * BLOCK, y * BLOCK, x * BLOCK]);
            }
        }
    }
    blocks
}

fn fail(what: &str, error: impl std::fmt::Display) -> ! {
    eprintln!("array_io: {what}: {error}");
    std::process::exit(1)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// Writes every block; returns the JSON line.
fn write_all(path: &Path) -> String {
    let mut options = CreateOptions::new(vec![SIDE as u64; 3], DType::UInt8);
    options.chunk_shape = Some(vec![BLOCK as u64; 3]);
    options.overwrite = true;
    let array = Array::create(path, &options).unwrap_or_else(|e| fail("create", e));
    let mut times = Vec::new();
    let start = Instant::now();
    for (i, begin) in blocks().into_iter().enumerate() {
        let roi = Roi::from_values(&begin, &[BLOCK; 3]).unwrap_or_else(|e| fail("roi", e));
        let data = ndarray_block(i, begin);
        let t = Instant::now();
        array
            .write(&roi, data.view())
            .unwrap_or_else(|e| fail("write", e));
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let seconds = start.elapsed().as_secs_f64();
    let stats = array.stats();
    let mb = stats.bytes_written as f64 / 1e6;
    format!(
        "{{\"phase\":\"write\",\"blocks\":{},\"mb_per_s\":{:.1},\"median_block_ms\":{:.3},\"chunks_decoded\":{},\"chunks_encoded\":{},\"store_reads\":{},\"stored_mb\":{:.1}}}",
        times.len(),
        mb / seconds,
        median(&mut times),
        stats.chunks_decoded,
        stats.chunks_encoded,
        stats.store_reads,
        stats.store_bytes_written as f64 / 1e6
    )
}

/// The data of block `i`: a smooth ramp plus a little hash noise (compressible, not trivially).
fn ndarray_block(i: usize, begin: [i64; 3]) -> daisy_array::ndarray::ArrayD<u8> {
    let shape = [BLOCK as usize; 3];
    daisy_array::ndarray::ArrayD::from_shape_fn(daisy_array::ndarray::IxDyn(&shape), |index| {
        let (z, y, x) = (
            begin[0] as usize + index[0],
            begin[1] as usize + index[1],
            begin[2] as usize + index[2],
        );
        let noise =
            (z.wrapping_mul(73_856_093) ^ y.wrapping_mul(19_349_663) ^ x.wrapping_mul(83_492_791))
                % 7;
        ((z + y + x) / 4 + noise + i % 3) as u8
    })
}

/// Reads the blocks `mine` of the array (80³ each, fill outside) with a cache of `cache_mib`.
fn read_blocks(path: &Path, cache_mib: usize, mine: &[usize]) -> (f64, Vec<f64>, ArrayStats) {
    let options = OpenOptions {
        cache_bytes: cache_mib << 20,
        ..OpenOptions::default()
    };
    let array = Array::open(path, &options).unwrap_or_else(|e| fail("open", e));
    let all = blocks();
    let mut times = Vec::new();
    let start = Instant::now();
    for &i in mine {
        let begin = all[i];
        let roi = Roi::from_values(
            &[begin[0] - CONTEXT, begin[1] - CONTEXT, begin[2] - CONTEXT],
            &[BLOCK + 2 * CONTEXT; 3],
        )
        .unwrap_or_else(|e| fail("roi", e));
        let t = Instant::now();
        let data = array
            .to_ndarray::<u8>(&roi, 0)
            .unwrap_or_else(|e| fail("read", e));
        std::hint::black_box(&data);
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    (start.elapsed().as_secs_f64(), times, array.stats())
}

fn read_line(
    label: &str,
    workers: usize,
    cache_mib: usize,
    seconds: f64,
    times: &mut [f64],
    stats: &[ArrayStats],
) -> String {
    let blocks = times.len() as f64;
    let bytes: u64 = stats.iter().map(|s| s.bytes_read).sum();
    let decoded: u64 = stats.iter().map(|s| s.chunks_decoded).sum();
    let hits: u64 = stats.iter().map(|s| s.chunk_cache_hits).sum();
    format!(
        "{{\"phase\":\"read\",\"order\":\"{label}\",\"workers\":{workers},\"io_threads\":{},\"cache_mib\":{cache_mib},\"blocks\":{},\"mb_per_s\":{:.1},\"median_block_ms\":{:.3},\"chunks_decoded_per_block\":{:.2},\"cache_hits_per_block\":{:.2}}}",
        daisy_array::io_threads(),
        times.len(),
        bytes as f64 / 1e6 / seconds,
        median(times),
        decoded as f64 / blocks,
        hits as f64 / blocks
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // Child mode: `array_io --worker PATH CACHE_MIB WORKER WORKERS` prints "seconds stats...".
    if args.get(1).map(String::as_str) == Some("--worker") {
        let parse = |i: usize| -> usize {
            args.get(i).and_then(|v| v.parse().ok()).unwrap_or_else(|| {
                fail("worker arguments", "expected PATH CACHE_MIB WORKER WORKERS")
            })
        };
        let path = PathBuf::from(args.get(2).cloned().unwrap_or_default());
        let (cache_mib, worker, workers) = (parse(3), parse(4), parse(5));
        let mine: Vec<usize> = (0..blocks().len())
            .filter(|i| i % workers == worker)
            .collect();
        let (seconds, times, stats) = read_blocks(&path, cache_mib, &mine);
        let times: Vec<String> = times.iter().map(|t| format!("{t}")).collect();
        println!(
            "{seconds} {} {} {} {}",
            stats.bytes_read,
            stats.chunks_decoded,
            stats.chunk_cache_hits,
            times.join(",")
        );
        return;
    }
    let dir = args
        .get(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join(format!("array_io-{}", std::process::id())));
    let path = dir.join("volume.zarr");
    println!("{}", write_all(&path));
    for cache_mib in CACHE_MIB {
        let all: Vec<usize> = (0..blocks().len()).collect();
        let (seconds, mut times, stats) = read_blocks(&path, cache_mib, &all);
        println!(
            "{}",
            read_line("grid", 1, cache_mib, seconds, &mut times, &[stats])
        );
    }
    // Two worker processes, block i to worker i % 2, started together.
    let exe = std::env::current_exe().unwrap_or_else(|e| fail("current exe", e));
    for cache_mib in CACHE_MIB {
        let start = Instant::now();
        let children: Vec<_> = (0..2)
            .map(|worker| {
                Command::new(&exe)
                    .args([
                        "--worker",
                        &path.to_string_lossy(),
                        &cache_mib.to_string(),
                        &worker.to_string(),
                        "2",
                    ])
                    .stdout(std::process::Stdio::piped())
                    .spawn()
                    .unwrap_or_else(|e| fail("spawn worker", e))
            })
            .collect();
        let children: Vec<_> = children
            .into_iter()
            .map(std::process::Child::wait_with_output)
            .collect();
        let _ = start;
        let mut times = Vec::new();
        let mut stats = Vec::new();
        let mut wall: f64 = 0.0;
        for child in children {
            let output = child.unwrap_or_else(|e| fail("worker", e));
            let text = String::from_utf8_lossy(&output.stdout).to_string();
            let fields: Vec<&str> = text.split_whitespace().collect();
            if fields.len() < 5 {
                fail("worker output", text);
            }
            wall = wall.max(fields[0].parse().unwrap_or(0.0));
            stats.push(ArrayStats {
                bytes_read: fields[1].parse().unwrap_or(0),
                chunks_decoded: fields[2].parse().unwrap_or(0),
                chunk_cache_hits: fields[3].parse().unwrap_or(0),
                ..ArrayStats::default()
            });
            times.extend(fields[4].split(',').filter_map(|t| t.parse::<f64>().ok()));
        }
        println!(
            "{}",
            read_line("interleaved", 2, cache_mib, wall, &mut times, &stats)
        );
    }
    if args.get(1).is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
