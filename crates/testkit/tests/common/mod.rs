//! What the end-to-end tests share.

// Each test file uses part of this module.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use daisy::{
    Launcher, Launchers, ProcessLauncher, ProgressMode, Roi, RunOptions, ServerOptions, Task,
    TaskBuilder,
};

/// An n×n grid of 10×10 write blocks with one voxel of context.
pub fn grid(id: &str, n: i64) -> TaskBuilder {
    Task::builder(
        id,
        Roi::from_values(&[0, 0], &[n * 10 + 2, n * 10 + 2]).unwrap(),
        Roi::from_values(&[0, 0], &[12, 12]).unwrap(),
        Roi::from_values(&[1, 1], &[10, 10]).unwrap(),
    )
}

/// Worker processes of the testkit's worker program, told what to do by `directives`
/// (`DAISY_TEST_WORKER`, see the program).
pub fn worker(directives: &str) -> Arc<ProcessLauncher> {
    Arc::new(
        ProcessLauncher::new(
            env!("CARGO_BIN_EXE_daisy-test-worker"),
            Vec::<String>::new(),
        )
        .env("DAISY_TEST_WORKER", directives),
    )
}

/// Run options for tests: logs under `dir`, a short stall grace, no progress, no Ctrl-C.
pub fn options_with(dir: &Path, launchers: Launchers) -> RunOptions {
    RunOptions {
        server: ServerOptions {
            logdir: Some(dir.join("daisy_logs")),
            stall_grace: Duration::from_millis(300),
            prefetch: 2,
            ..ServerOptions::default()
        },
        launchers,
        progress: ProgressMode::Off,
        handle_ctrl_c: false,
        ..RunOptions::default()
    }
}

/// [`options_with`] with one launcher for every task.
pub fn options(dir: &Path, launcher: Arc<dyn Launcher>) -> RunOptions {
    options_with(dir, Launchers::all(launcher))
}

/// Task "t": `blocks` one-dimensional blocks of 10, no context, two workers.
pub fn line(blocks: i64) -> Arc<Task> {
    Task::builder(
        "t",
        Roi::from_values(&[0], &[blocks * 10]).unwrap(),
        Roi::from_values(&[0], &[10]).unwrap(),
        Roi::from_values(&[0], &[10]).unwrap(),
    )
    .num_workers(2)
    .build()
    .unwrap()
}

/// The lines of the file at `path` (none if it does not exist).
pub fn recorded(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Asserts that `lines` holds `expected` distinct lines, each once.
pub fn assert_each_once(lines: &[String], expected: usize) {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for line in lines {
        *counts.entry(line).or_default() += 1;
    }
    assert_eq!(counts.len(), expected, "distinct blocks");
    assert!(
        counts.values().all(|&c| c == 1),
        "a block succeeded twice: {counts:?}"
    );
}
