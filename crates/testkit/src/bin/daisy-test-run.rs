//! A scheduler process for end-to-end tests: runs an n×n grid task (10×10 blocks, one voxel of
//! context) with a done marker and `daisy-test-worker` processes; prints the Execution Summary,
//! then the report as a JSON line. Ctrl-C (SIGINT) stops it cleanly.
//!
//! `daisy-test-run <dir> <n> <worker program> <worker directives>`

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use daisy::{
    Launchers, ProcessLauncher, ProgressMode, Roi, RunOptions, ServerOptions, Task, run_blockwise,
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, n, program, directives] = &args[..] else {
        eprintln!("usage: daisy-test-run <dir> <n> <worker program> <worker directives>");
        return ExitCode::from(2);
    };
    let (dir, n) = (PathBuf::from(dir), n.parse::<i64>().unwrap_or(4));
    let task = Task::builder(
        "t",
        Roi::from_values(&[0, 0], &[n * 10 + 2, n * 10 + 2])
            .unwrap_or_else(|_| std::process::exit(2)),
        Roi::from_values(&[0, 0], &[12, 12]).unwrap_or_else(|_| std::process::exit(2)),
        Roi::from_values(&[1, 1], &[10, 10]).unwrap_or_else(|_| std::process::exit(2)),
    )
    .num_workers(2)
    .done_marker(dir.join("t.done"))
    .build();
    let task = match task {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let launcher =
        ProcessLauncher::new(program, Vec::<String>::new()).env("DAISY_TEST_WORKER", directives);
    let options = RunOptions {
        server: ServerOptions {
            logdir: Some(dir.join("daisy_logs")),
            stall_grace: Duration::from_millis(300),
            ..Default::default()
        },
        launchers: Launchers::all(Arc::new(launcher)),
        progress: ProgressMode::Lines(Duration::from_secs(60)),
        handle_ctrl_c: true,
        ..RunOptions::default()
    };
    match run_blockwise(&[task], options) {
        Ok(report) => {
            let t = &report.tasks[0].state;
            println!(
                "{{\"succeeded\": {}, \"completed\": {}, \"skipped\": {}, \"total\": {}}}",
                report.succeeded(),
                t.completed_count,
                t.skipped_count,
                t.total_block_count
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
