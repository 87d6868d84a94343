//! Smooth a 3-D Zarr volume block-wise in Rust worker processes, and check the result.
//!
//! 1. writes a synthetic uint8 volume (default 256³) into a Zarr v3 array `raw.zarr` in
//!    chunks of 64³;
//! 2. smooths it with a 3³ mean filter, block by block, in worker processes (this program,
//!    started again by a `ProcessLauncher`: it is a worker when it sees `DAISY_CONTEXT`): each
//!    block reads its read ROI (its 64³ write ROI plus 8 voxels of context on every side) from
//!    `raw.zarr` and writes its write ROI into `smoothed.zarr`, both addressed in world units;
//! 3. filters the whole volume at once (one process) and compares every voxel.
//!
//! ```sh
//! cargo run --release --example smooth_zarr                           # 256³, 2 workers, a temporary directory
//! cargo run --release --example smooth_zarr -- --size 512 --workers 2 --out /tmp/smooth
//! ```
//!
//! Exit code 0 iff the block-wise result equals the whole-volume one on every voxel and the
//! run succeeded.

mod smooth;

use std::path::PathBuf;
use std::process::ExitCode;

use daisy::ProcessLauncher;

const USAGE: &str = "usage: smooth_zarr [--size N (256)] [--block N (64)] [--workers N (2)] \
                     [--out DIR (a temporary directory, removed)] [--seed N (1)]";

fn main() -> ExitCode {
    if std::env::var_os(daisy::ENV_VARIABLE).is_some() {
        // Started by the run as one of its workers.
        return match smooth::worker() {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("smooth_zarr worker: {error}");
                ExitCode::FAILURE
            }
        };
    }
    match drive() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("smooth_zarr: {error}");
            ExitCode::from(2)
        }
    }
}

fn drive() -> Result<bool, smooth::BoxError> {
    let (options, temporary) = parse_args()?;
    println!(
        "smoothing {size}³ uint8 (Zarr v3 in {out}) with a 3³ mean filter: blocks of {block}³ \
         with {context} voxels of context, {workers} Rust worker processes",
        size = options.size,
        out = options.out.display(),
        block = options.block,
        context = smooth::CONTEXT,
        workers = options.workers,
    );
    let launcher = ProcessLauncher::new(std::env::current_exe()?, std::iter::empty::<&str>());
    let outcome = smooth::run(&options, launcher);
    if temporary {
        let _ = std::fs::remove_dir_all(&options.out);
    }
    let outcome = outcome?;
    println!("{outcome}");
    Ok(outcome.ok())
}

fn parse_args() -> Result<(smooth::Options, bool), smooth::BoxError> {
    let mut options = smooth::Options {
        size: 256,
        block: 64,
        workers: 2,
        out: PathBuf::new(),
        seed: 1,
        progress: true,
    };
    let mut out = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "-h" || arg == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{arg} needs a value\n{USAGE}"))?;
        let number = || {
            value
                .parse::<i64>()
                .map_err(|e| format!("{arg} {value}: {e}\n{USAGE}"))
        };
        match arg.as_str() {
            "--size" => options.size = number()?,
            "--block" => options.block = number()?,
            "--workers" => options.workers = usize::try_from(number()?)?,
            "--seed" => options.seed = u64::try_from(number()?)?,
            "--out" => out = Some(PathBuf::from(&value)),
            _ => return Err(format!("unknown option {arg}\n{USAGE}").into()),
        }
    }
    let temporary = out.is_none();
    options.out = match out {
        Some(out) => out,
        None => std::env::temp_dir().join(format!("daisy-smooth-{}", std::process::id())),
    };
    Ok((options, temporary))
}
