//! Benchmarks of daisy, one JSON line per run.
//!
//! ```text
//! cargo run --release -p daisy-bench -- scheduler --blocks 1000000 [--conflict] [--first-block]
//! ```
//!
//! ```text
//! cargo run --release -p daisy-bench -- e2e --blocks N --workers W [--conflict] [--threads] [--prefetch P] [--tls]
//! ```
//!
//! `e2e` runs the same task end to end with no-op blocks: `run_blockwise` with W worker
//! processes over TCP on loopback (this program, as `daisy-bench worker`), or W threads of this
//! process with `--threads`, with the worker connections encrypted with TLS if `--tls` is given
//! (on loopback they are plain otherwise), and prints `scenario`, `blocks`, `workers`,
//! `conflict`, `threads`, `prefetch`, `tls`, `seconds` (from building the task to the end of
//! the run, workers' start-up included), `blocks_per_s` and `peak_rss_mb` (of the server
//! process).
//!
//! `scheduler` drives the in-process acquire+release loop over a 3-D task of 64³ write blocks
//! with 8 voxels of context (read blocks of 80³), on a grid as close to a cube as the number of
//! blocks allows, one block out at a time, and prints `scenario`, `blocks`, `conflict`,
//! `seconds`, `blocks_per_s`, `peak_rss_mb` and `first_block_ms` (from building the task to the
//! first block in hand). `--first-block` stops after the first block.

use std::process::ExitCode;
use std::time::Instant;

use daisy_core::{BlockStatus, Scheduler, Task};
use daisy_geometry::Roi;

const USAGE: &str = "usage: daisy-bench scheduler --blocks N [--conflict] [--first-block]\n       \
                     daisy-bench e2e --blocks N --workers W [--conflict] [--threads] [--prefetch P] [--tls]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(line) => {
            if !line.is_empty() {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("daisy-bench: {message}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<String, String> {
    let Some((scenario, rest)) = args.split_first() else {
        return Err("no scenario given".into());
    };
    match scenario.as_str() {
        "worker" => return worker().map(|()| String::new()),
        "scheduler" | "e2e" => {}
        other => return Err(format!("unknown scenario {other:?}")),
    }
    let mut blocks = None;
    let (mut conflict, mut first_only, mut threads, mut tls) = (false, false, false, false);
    let (mut workers, mut prefetch) = (2usize, 64u32);
    let mut rest = rest.iter();
    let value = |name: &str, rest: &mut std::slice::Iter<'_, String>| -> Result<u64, String> {
        let v = rest.next().ok_or(format!("{name} needs a value"))?;
        v.parse::<u64>()
            .map_err(|_| format!("{name}: not a positive integer: {v:?}"))
    };
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--blocks" => blocks = Some(value("--blocks", &mut rest)?.max(1)),
            "--workers" => workers = value("--workers", &mut rest)?.max(1) as usize,
            "--prefetch" => {
                prefetch = value("--prefetch", &mut rest)?.clamp(1, u64::from(u32::MAX)) as u32
            }
            "--conflict" => conflict = true,
            "--first-block" => first_only = true,
            "--threads" => threads = true,
            "--tls" => tls = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let blocks = blocks.ok_or("--blocks is required")?;
    if scenario == "scheduler" {
        scheduler(blocks, conflict, first_only)
    } else {
        end_to_end(blocks, workers, conflict, threads, prefetch, tls)
    }
}

/// The bench task: 64³ write blocks with 8 voxels of context on a near-cubic grid.
fn bench_task(blocks: u64, conflict: bool) -> Result<daisy::TaskBuilder, String> {
    let grid = cube_grid(blocks);
    let (write, context) = (64, 8);
    let shape: Vec<i64> = grid.iter().map(|n| n * write + 2 * context).collect();
    Ok(Task::builder(
        "bench",
        Roi::from_values(&[0, 0, 0], &shape).map_err(|e| e.to_string())?,
        Roi::from_values(&[0, 0, 0], &[write + 2 * context; 3]).map_err(|e| e.to_string())?,
        Roi::from_values(&[context; 3], &[write; 3]).map_err(|e| e.to_string())?,
    )
    .read_write_conflict(conflict))
}

/// `daisy-bench worker`: a worker process with no-op blocks.
fn worker() -> Result<(), String> {
    let mut client = daisy::Client::from_env().map_err(|e| e.to_string())?;
    client.run(|_| Ok(())).map_err(|e| e.to_string())?;
    Ok(())
}

fn end_to_end(
    blocks: u64,
    workers: usize,
    conflict: bool,
    threads: bool,
    prefetch: u32,
    tls: bool,
) -> Result<String, String> {
    use daisy::{Launchers, ProcessLauncher, ProgressMode, RunOptions, ServerOptions};
    let start = Instant::now();
    let task = bench_task(blocks, conflict)?
        .num_workers(workers)
        .process_function(|_| Ok(()))
        .build()
        .map_err(|e| e.to_string())?;
    let launchers = if threads {
        Launchers::default()
    } else {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        Launchers::all(std::sync::Arc::new(ProcessLauncher::new(exe, ["worker"])))
    };
    let options = RunOptions {
        server: ServerOptions {
            logdir: None,
            prefetch,
            tls: Some(tls),
            ..ServerOptions::default()
        },
        launchers,
        progress: ProgressMode::Off,
        handle_ctrl_c: false,
        ..RunOptions::default()
    };
    let report = daisy::run_blockwise(&[task], options).map_err(|e| e.to_string())?;
    let seconds = start.elapsed().as_secs_f64();
    if !report.succeeded() {
        return Err(format!("the run failed:{report}"));
    }
    Ok(serde_json::json!({
        "scenario": "e2e",
        "blocks": blocks,
        "workers": workers,
        "conflict": conflict,
        "threads": threads,
        "prefetch": prefetch,
        "tls": tls,
        "seconds": seconds,
        "blocks_per_s": (blocks as f64 / seconds).round(),
        "peak_rss_mb": peak_rss_mb(),
    })
    .to_string())
}

/// Three factors of `n`, as close to each other as possible.
fn cube_grid(n: u64) -> [i64; 3] {
    let mut best = [1, 1, n];
    for a in (1..).take_while(|a| a * a * a <= n) {
        if !n.is_multiple_of(a) {
            continue;
        }
        let m = n / a;
        for b in (a..).take_while(|b| b * b <= m) {
            if m.is_multiple_of(b) && m / b - a < best[2] - best[0] {
                best = [a, b, m / b];
            }
        }
    }
    best.map(|x| x as i64)
}

fn scheduler(blocks: u64, conflict: bool, first_only: bool) -> Result<String, String> {
    let grid = cube_grid(blocks);
    let start = Instant::now();
    let task = bench_task(blocks, conflict)?
        .build()
        .map_err(|e| e.to_string())?;
    let mut scheduler = Scheduler::new(&[task], true).map_err(|e| e.to_string())?;
    let mut first = scheduler
        .acquire_block("bench")
        .map_err(|e| e.to_string())?
        .ok_or("no first block")?;
    let first_block_ms = start.elapsed().as_secs_f64() * 1e3;
    if !first_only {
        first.status = BlockStatus::Success;
        scheduler.release_block(&first).map_err(|e| e.to_string())?;
        let mut done = 1u64;
        while let Some(mut block) = scheduler
            .acquire_block("bench")
            .map_err(|e| e.to_string())?
        {
            block.status = BlockStatus::Success;
            scheduler.release_block(&block).map_err(|e| e.to_string())?;
            done += 1;
        }
        if done != blocks {
            return Err(format!("processed {done} blocks, expected {blocks}"));
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let rate = if first_only {
        serde_json::Value::Null
    } else {
        (blocks as f64 / seconds).round().into()
    };
    Ok(serde_json::json!({
        "scenario": "scheduler",
        "blocks": blocks,
        "grid": grid,
        "conflict": conflict,
        "seconds": seconds,
        "blocks_per_s": rate,
        "peak_rss_mb": peak_rss_mb(),
        "first_block_ms": first_block_ms,
    })
    .to_string())
}

/// The peak resident set size of this process, from `/proc/self/status` (Linux).
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grids_close_to_a_cube() {
        assert_eq!(cube_grid(1_000_000), [100, 100, 100]);
        assert_eq!(cube_grid(10_000), [20, 20, 25]);
        assert_eq!(cube_grid(100_000_000), [400, 500, 500]);
        assert_eq!(cube_grid(7), [1, 1, 7]);
        assert_eq!(cube_grid(1), [1, 1, 1]);
    }

    #[test]
    fn runs_and_reports() {
        let line = run(&[
            "scheduler".into(),
            "--blocks".into(),
            "1000".into(),
            "--conflict".into(),
        ])
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["blocks"], 1000);
        assert_eq!(v["conflict"], true);
        assert!(v["blocks_per_s"].as_f64().unwrap() > 0.0);
        assert!(
            run(&["scheduler".into()])
                .unwrap_err()
                .contains("--blocks is required")
        );
        assert!(
            run(&["nope".into()])
                .unwrap_err()
                .contains("unknown scenario")
        );
    }
}
