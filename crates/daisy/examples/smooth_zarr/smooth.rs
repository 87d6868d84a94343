//! The smoothing job of the `smooth_zarr` example, shared with its integration test
//! (`crates/daisy/tests/smooth_zarr.rs`): the driver writes the input, runs the task with
//! worker processes and checks every voxel; [`worker`] is what each worker process runs.

use std::error::Error;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use daisy::array::ndarray::{Array3, ArrayView3, Axis, Ix3, Slice};
use daisy::array::{Array, ArrayMetadata, ArrayStats, CreateOptions, DType, Mode, OpenOptions};
use daisy::{
    Client, Fit, Launchers, ProcessLauncher, ProgressMode, Roi, RunOptions, ServerOptions, Task,
};

/// Voxels of context on each side of a write block (the 3³ filter needs 1).
pub const CONTEXT: i64 = 8;

/// The environment variable that tells a worker process where the arrays are.
pub const OUT_ENV: &str = "DAISY_SMOOTH_ZARR_OUT";

/// What the example's errors are.
pub type BoxError = Box<dyn Error + Send + Sync>;

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Edge of the cubic volume in voxels.
    pub size: i64,
    /// Edge of a write block and of a chunk.
    pub block: i64,
    /// Worker processes.
    pub workers: usize,
    /// Directory for `raw.zarr`, `smoothed.zarr`, the worker logs and statistics.
    pub out: PathBuf,
    /// Seed of the synthetic volume.
    pub seed: u64,
    /// Show progress and the Execution Summary.
    pub progress: bool,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Blocks of the task.
    pub blocks: u64,
    /// Whether `run_blockwise` reported success.
    pub succeeded: bool,
    /// Voxels where the block-wise result differs from the whole-volume one.
    pub differing: u64,
    /// Voxels compared.
    pub compared: u64,
    /// Time to write the input volume.
    pub t_write: Duration,
    /// Time of `run_blockwise`, workers started and stopped included.
    pub t_daisy: Duration,
    /// Time to read the input back and filter the whole volume at once, in this process.
    pub t_whole: Duration,
    /// What the workers' reads of `raw.zarr` cost, summed over the workers.
    pub workers: WorkerStats,
}

impl Outcome {
    /// Whether the run succeeded and every voxel equals the whole-volume result.
    pub fn ok(&self) -> bool {
        self.succeeded && self.differing == 0 && self.workers.blocks == self.blocks
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.ok() { "OK" } else { "FAILED" };
        let relation = if self.differing == 0 {
            "equals"
        } else {
            "differs from"
        };
        write!(
            f,
            "{verdict}: block-wise result {relation} the whole-volume one on {} voxels",
            self.compared
        )?;
        if self.differing > 0 {
            write!(f, " ({} voxels differ)", self.differing)?;
        }
        let t_daisy = self.t_daisy.as_secs_f64();
        let blocks = self.workers.blocks.max(1) as f64;
        write!(
            f,
            "; run_blockwise succeeded: {} | daisy {t_daisy:.2} s ({:.0} blocks/s), \
             whole volume in one process {:.2} s, writing the input {:.2} s | \
             chunks decoded per block {:.2} (cache hits per block {:.2}), {} blocks in {} workers",
            self.succeeded,
            self.blocks as f64 / t_daisy,
            self.t_whole.as_secs_f64(),
            self.t_write.as_secs_f64(),
            self.workers.chunks_decoded as f64 / blocks,
            self.workers.cache_hits as f64 / blocks,
            self.workers.blocks,
            self.workers.processes,
        )
    }
}

/// The reads of `raw.zarr` of one or more workers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerStats {
    /// Worker processes that reported.
    pub processes: u64,
    /// Blocks they processed.
    pub blocks: u64,
    /// Chunks of `raw.zarr` they decoded.
    pub chunks_decoded: u64,
    /// Chunks of `raw.zarr` they found in their chunk cache.
    pub cache_hits: u64,
}

impl WorkerStats {
    fn from_array(blocks: u64, stats: &ArrayStats) -> Self {
        Self {
            processes: 1,
            blocks,
            chunks_decoded: stats.chunks_decoded,
            cache_hits: stats.chunk_cache_hits,
        }
    }

    fn to_text(self) -> String {
        format!(
            "blocks {}\nchunks_decoded {}\ncache_hits {}\n",
            self.blocks, self.chunks_decoded, self.cache_hits
        )
    }

    fn parse(path: &Path) -> Result<Self, BoxError> {
        let text = fs::read_to_string(path)?;
        let mut stats = Self {
            processes: 1,
            ..Self::default()
        };
        for line in text.lines() {
            let (key, value) = line
                .split_once(' ')
                .ok_or_else(|| format!("{}: bad line {line:?}", path.display()))?;
            let value: u64 = value.parse()?;
            match key {
                "blocks" => stats.blocks = value,
                "chunks_decoded" => stats.chunks_decoded = value,
                "cache_hits" => stats.cache_hits = value,
                _ => return Err(format!("{}: unknown key {key:?}", path.display()).into()),
            }
        }
        Ok(stats)
    }

    fn add(&mut self, other: Self) {
        self.processes += other.processes;
        self.blocks += other.blocks;
        self.chunks_decoded += other.chunks_decoded;
        self.cache_hits += other.cache_hits;
    }
}

/// The task's geometry: the total ROI, one block's read and write ROIs, the total write ROI.
struct Geometry {
    total: Roi,
    read: Roi,
    write: Roi,
    total_write: Roi,
}

impl Geometry {
    fn new(size: i64, block: i64) -> Result<Self, BoxError> {
        let total = Roi::from_values(&[0; 3], &[size; 3])?;
        Ok(Self {
            read: Roi::from_values(&[0; 3], &[block + 2 * CONTEXT; 3])?,
            write: Roi::from_values(&[CONTEXT; 3], &[block; 3])?,
            total_write: total.grow_scalar(-CONTEXT, -CONTEXT)?,
            total,
        })
    }
}

fn raw_path(out: &Path) -> PathBuf {
    out.join("raw.zarr")
}

fn smoothed_path(out: &Path) -> PathBuf {
    out.join("smoothed.zarr")
}

fn stats_dir(out: &Path) -> PathBuf {
    out.join("worker-stats")
}

/// Writes the input, smooths it block-wise in worker processes started by `launcher`, and
/// compares every voxel with the whole-volume result.
///
/// `launcher` starts a program that calls [`worker`] when it sees `DAISY_CONTEXT`; this adds
/// [`OUT_ENV`] to its environment.
///
/// # Errors
///
/// When the arrays cannot be created, written or read, or the run cannot start.
pub fn run(options: &Options, launcher: ProcessLauncher) -> Result<Outcome, BoxError> {
    let Options {
        size, block, out, ..
    } = options;
    if *size < 2 * CONTEXT + 1 || *block < 1 || options.workers < 1 {
        return Err(format!(
            "size must be at least {}, block and workers positive: got size {size}, block {block}, workers {}",
            2 * CONTEXT + 1,
            options.workers
        )
        .into());
    }
    let geometry = Geometry::new(*size, *block)?;
    fs::create_dir_all(out)?;
    let _ = fs::remove_dir_all(stats_dir(out));
    fs::create_dir_all(stats_dir(out))?;

    // 1. The input volume, chunked like the blocks.
    let volume = synthetic_volume(*size as usize, options.seed);
    let started = Instant::now();
    let chunk = vec![*block as u64; 3];
    let raw = Array::create(raw_path(out), &create_options(&geometry.total, &chunk)?)?;
    raw.write(&geometry.total, volume.view().into_dyn())?;
    let t_write = started.elapsed();
    drop((raw, volume));

    // The output covers the total write ROI (its offset is the ROI's begin), so its chunks
    // start where write blocks start and no two workers ever write into one chunk.
    Array::create(
        smoothed_path(out),
        &create_options(&geometry.total_write, &chunk)?,
    )?;

    let task = Task::builder("smooth", geometry.total, geometry.read, geometry.write)
        .num_workers(options.workers)
        .read_write_conflict(false) // input and output are different arrays
        .fit(Fit::Shrink)
        .build()?;
    let launcher = launcher.env(OUT_ENV, out.as_os_str());
    let run_options = RunOptions {
        launchers: Launchers::all(Arc::new(launcher)),
        server: ServerOptions {
            logdir: Some(out.join("daisy_logs")),
            ..ServerOptions::default()
        },
        progress: if options.progress {
            ProgressMode::Auto
        } else {
            ProgressMode::Off
        },
        ..RunOptions::default()
    };

    // 2. Block-wise, in the worker processes.
    let started = Instant::now();
    let report = daisy::run_blockwise(&[task], run_options)?;
    let t_daisy = started.elapsed();
    let blocks = report
        .task("smooth")
        .map_or(0, |t| t.state.total_block_count);

    // 3. The whole volume at once, and the check.
    let started = Instant::now();
    let stored = OpenOptions {
        cache_bytes: 0,
        ..OpenOptions::default()
    };
    let input = Array::open(raw_path(out), &stored)?
        .read::<u8>(&geometry.total)?
        .into_dimensionality::<Ix3>()?;
    let whole = mean3_valid(input.view()); // covers [1, size - 1)³
    let inner = (CONTEXT - 1) as usize;
    let end = *size as usize - 2 - inner;
    let expected = crop(whole.view(), [inner; 3], [end - inner; 3]);
    let t_whole = started.elapsed();
    let smoothed = Array::open(smoothed_path(out), &stored)?;
    let result = smoothed
        .read::<u8>(&geometry.total_write)?
        .into_dimensionality::<Ix3>()?;
    let differing = if result.shape() == expected.shape() {
        result
            .iter()
            .zip(expected.iter())
            .filter(|(a, b)| a != b)
            .count() as u64
    } else {
        result.len() as u64
    };

    let mut workers = WorkerStats {
        processes: 0,
        ..WorkerStats::default()
    };
    for entry in fs::read_dir(stats_dir(out))? {
        workers.add(WorkerStats::parse(&entry?.path())?);
    }
    Ok(Outcome {
        blocks,
        succeeded: report.succeeded(),
        differing,
        compared: expected.len() as u64,
        t_write,
        t_daisy,
        t_whole,
        workers,
    })
}

/// A new uint8 Zarr v3 array covering `roi` (its offset is the ROI's begin), chunked by
/// `chunk`, replacing one that exists.
fn create_options(roi: &Roi, chunk: &[u64]) -> Result<CreateOptions, BoxError> {
    let shape: Vec<u64> = roi
        .shape()
        .try_bounded_values()?
        .iter()
        .map(|&s| u64::try_from(s))
        .collect::<Result<_, _>>()?;
    let mut metadata = ArrayMetadata::default_for(&shape)?;
    metadata.offset = roi.offset();
    let mut options = CreateOptions::new(shape, DType::UInt8);
    options.chunk_shape = Some(chunk.to_vec());
    options.metadata = Some(metadata);
    options.overwrite = true;
    Ok(options)
}

/// The worker process: opens the arrays in the directory [`OUT_ENV`] names, then smooths
/// blocks until the run has none left, and writes what its reads cost into the directory's
/// `worker-stats`.
///
/// # Errors
///
/// When `DAISY_CONTEXT` or [`OUT_ENV`] is missing, an array cannot be opened or the
/// connection to the run breaks (a failing block fails only that block).
pub fn worker() -> Result<(), BoxError> {
    let out = PathBuf::from(
        std::env::var_os(OUT_ENV)
            .ok_or_else(|| format!("{OUT_ENV} is not set: the driver sets it for its workers"))?,
    );
    let raw = Array::open(raw_path(&out), &OpenOptions::default())?;
    let smoothed = Array::open(
        smoothed_path(&out),
        &OpenOptions::with_mode(Mode::ReadWrite),
    )?;
    let mut client = Client::from_env()?;
    let worker_id = client.worker_id().unwrap_or(0);
    let summary = client.run(|block| {
        // The read ROI (write ROI plus context) from `raw`, in world units ...
        let data = raw
            .read::<u8>(&block.read_roi)?
            .into_dimensionality::<Ix3>()?;
        let filtered = mean3_valid(data.view()); // covers the read ROI less 1 on each side
        let begin = block.write_roi.begin().sub(&block.read_roi.begin())?;
        let shape = block.write_roi.shape();
        let (begin, shape) = (begin.try_bounded_values()?, shape.try_bounded_values()?);
        let index = |values: &[i64], less: i64| -> Result<[usize; 3], BoxError> {
            Ok([
                usize::try_from(values[0] - less)?,
                usize::try_from(values[1] - less)?,
                usize::try_from(values[2] - less)?,
            ])
        };
        let cropped = crop(filtered.view(), index(begin, 1)?, index(shape, 0)?);
        // ... and the write ROI into `smoothed`, also in world units.
        smoothed.write(&block.write_roi, cropped.into_dyn())?;
        Ok(())
    })?;
    let stats = WorkerStats::from_array(summary.succeeded + summary.failed, &raw.stats());
    fs::write(
        stats_dir(&out).join(format!("worker_{worker_id}.txt")),
        stats.to_text(),
    )?;
    Ok(())
}

/// The part of `volume` that begins at `begin` and has `shape` (in voxels).
pub fn crop<'a>(
    volume: ArrayView3<'a, u8>,
    begin: [usize; 3],
    shape: [usize; 3],
) -> ArrayView3<'a, u8> {
    let mut view = volume;
    view.slice_each_axis_inplace(|axis| {
        let i = axis.axis.index();
        Slice::from(begin[i]..begin[i] + shape[i])
    });
    view
}

/// The 3³ mean of a uint8 volume, "valid" mode (2 voxels smaller along each axis): the exact
/// sum of 27 values, rounded half up, so any block gives exactly the whole-volume result (the
/// same formula as `examples/smooth_zarr.py`).
pub fn mean3_valid(input: ArrayView3<'_, u8>) -> Array3<u8> {
    let (a, b, c) = input.dim();
    if a.min(b).min(c) < 3 {
        return Array3::zeros((
            a.saturating_sub(2),
            b.saturating_sub(2),
            c.saturating_sub(2),
        ));
    }
    let mut sum = input.mapv(u16::from); // 27 * 255 = 6885 fits
    for axis in 0..3 {
        let n = sum.len_of(Axis(axis));
        let mut next = sum.slice_axis(Axis(axis), Slice::from(0..n - 2)).to_owned();
        next += &sum.slice_axis(Axis(axis), Slice::from(1..n - 1));
        next += &sum.slice_axis(Axis(axis), Slice::from(2..n));
        sum = next;
    }
    sum.mapv(|s| ((s + 13) / 27) as u8)
}

/// A reproducible uint8 volume: a few bright blobs on a gradient along x, plus noise.
pub fn synthetic_volume(size: usize, seed: u64) -> Array3<u8> {
    let mut state = seed;
    let mut uniform = move || {
        // splitmix64
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f32 / (1u64 << 53) as f32
    };
    let n = size as f32;
    let blobs: Vec<[Vec<f32>; 3]> = (0..8)
        .map(|_| {
            let center = [uniform() * n, uniform() * n, uniform() * n];
            let radius = n / 16.0 + uniform() * (n / 5.0 - n / 16.0);
            center.map(|c| {
                (0..size)
                    .map(|i| (-((i as f32 - c).powi(2)) / (2.0 * radius * radius)).exp())
                    .collect()
            })
        })
        .collect();
    let mut noise = seed ^ 0x5851_f42d_4c95_7f2d;
    Array3::from_shape_fn((size, size, size), |(z, y, x)| {
        // a cheap per-voxel hash, spread over [-40, 40)
        noise = noise
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let jitter = ((noise >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 80.0;
        let mut value = jitter + x as f32 * (64.0 / n);
        for [gz, gy, gx] in &blobs {
            value += 120.0 * gz[z] * gy[y] * gx[x];
        }
        value.clamp(0.0, 255.0) as u8
    })
}
