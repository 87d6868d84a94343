//! Progress bars, periodic status lines, the Execution Summary, and a JSON-lines event stream.

use std::collections::{HashMap, VecDeque};
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use daisy_core::TaskState;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::{Observer, RunEvent};

/// The window of the completion rate behind the ETA (daisy 0.2: two minutes).
const RATE_WINDOW: Duration = Duration::from_secs(120);

/// Per-task bars on a terminal (daisy's `CLMonitor`), periodic status lines otherwise, and
/// daisy's Execution Summary on stdout at the end.
pub struct Progress {
    bars: Option<(MultiProgress, HashMap<String, ProgressBar>)>,
    status_interval: Duration,
    last_status: Instant,
    history: VecDeque<(Instant, u64)>,
    states: Vec<(String, TaskState)>,
    summary: bool,
}

impl Progress {
    /// Bars if stderr is a terminal, else a status line every 10 seconds; summary at the end.
    #[must_use]
    pub fn new() -> Self {
        if std::io::stderr().is_terminal() {
            Self::bars()
        } else {
            Self::status_lines(Duration::from_secs(10))
        }
    }

    /// Progress bars on stderr.
    #[must_use]
    pub fn bars() -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        Self {
            bars: Some((multi, HashMap::new())),
            ..Self::status_lines(Duration::MAX)
        }
    }

    /// A status line at INFO every `interval` (no bars).
    #[must_use]
    pub fn status_lines(interval: Duration) -> Self {
        Self {
            bars: None,
            status_interval: interval,
            last_status: Instant::now(),
            history: VecDeque::new(),
            states: Vec::new(),
            summary: true,
        }
    }

    /// Whether to print the Execution Summary at the end (default: yes).
    #[must_use]
    pub fn with_summary(mut self, summary: bool) -> Self {
        self.summary = summary;
        self
    }

    fn update(&mut self, task_id: &str, state: &TaskState) {
        match self.states.iter_mut().find(|(t, _)| t == task_id) {
            Some(entry) => entry.1 = *state,
            None => self.states.push((task_id.to_owned(), *state)),
        }
        if let Some((multi, bars)) = &mut self.bars {
            let bar = bars.entry(task_id.to_owned()).or_insert_with(|| {
                let bar = multi.add(ProgressBar::new(state.total_block_count));
                if let Ok(style) = ProgressStyle::with_template(
                    "{desc} {wide_bar} {pos}/{len} [{elapsed_precise}<{eta_precise}, {per_sec}] {msg}",
                ) {
                    bar.set_style(style);
                }
                bar.set_message(format!("{task_id} ▶"));
                bar
            });
            bar.set_position(state.completed_count);
            bar.set_message(format!(
                "⧗={}, ▶={}, ✔={}, ✗={}, ∅={}",
                state.pending_count(),
                state.processing_count,
                state.completed_count,
                state.failed_count,
                state.orphaned_count
            ));
        }
        let now = Instant::now();
        if now.duration_since(self.last_status) >= self.status_interval {
            self.last_status = now;
            self.status_line(now);
        }
    }

    fn status_line(&mut self, now: Instant) {
        let finished: u64 = self
            .states
            .iter()
            .map(|(_, s)| s.completed_count + s.failed_count + s.orphaned_count)
            .sum();
        let total: u64 = self.states.iter().map(|(_, s)| s.total_block_count).sum();
        self.history.push_back((now, finished));
        while self
            .history
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > RATE_WINDOW)
        {
            self.history.pop_front();
        }
        let rate = match self.history.front() {
            Some(&(t, f)) if now > t => (finished - f) as f64 / now.duration_since(t).as_secs_f64(),
            _ => 0.0,
        };
        let eta = if rate > 0.0 {
            format!("{:.0} s", (total - finished) as f64 / rate)
        } else {
            "unknown".to_owned()
        };
        let tasks: Vec<String> = self
            .states
            .iter()
            .map(|(t, s)| {
                format!(
                    "{t}: {}/{} done, {} processing, {} failed, {} orphaned",
                    s.completed_count,
                    s.total_block_count,
                    s.processing_count,
                    s.failed_count,
                    s.orphaned_count
                )
            })
            .collect();
        tracing::info!("{}; {rate:.1} blocks/s, ETA {eta}", tasks.join("; "));
    }
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

impl Observer for Progress {
    fn on_event(&mut self, event: &RunEvent<'_>) {
        match *event {
            RunEvent::TaskStart { task_id, state } | RunEvent::Progress { task_id, state } => {
                self.update(task_id, state);
            }
            RunEvent::TaskDone { task_id, state } => {
                self.update(task_id, state);
                if let Some((_, bars)) = &mut self.bars
                    && let Some(bar) = bars.get(task_id)
                {
                    let mark = if state.failed_count > 0 {
                        "✗"
                    } else if state.orphaned_count > 0 {
                        "∅"
                    } else {
                        "✔"
                    };
                    bar.finish_with_message(format!("{task_id} {mark}"));
                }
            }
            RunEvent::TaskAbandoned { task_id, state, .. } => self.update(task_id, state),
            RunEvent::BlockFailure { .. } | RunEvent::WorkerStarted { .. } => {}
            RunEvent::Exit { report } => {
                if let Some((multi, bars)) = &mut self.bars {
                    for bar in bars.values() {
                        bar.abandon();
                    }
                    let _ = multi.clear();
                }
                if self.summary {
                    print!("{report}");
                    let _ = std::io::stdout().flush();
                }
            }
        }
    }
}

/// One JSON object per line for every task event, for dashboards and other tools.
///
/// Keys: `t` (seconds since the epoch), `event` (`start`, `progress`, `finish`), `task`,
/// `total`, `ready`, `processing`, `completed`, `skipped`, `failed`, `orphaned`, `workers`
/// (started so far), `failures` (failed attempts so far). Exactly one `start` and one `finish`
/// per task; `progress` lines at most every `interval` per task.
pub struct JsonEvents {
    out: Box<dyn Write + Send>,
    interval: Duration,
    tasks: HashMap<String, JsonTask>,
}

#[derive(Default)]
struct JsonTask {
    last: Option<Instant>,
    finished: bool,
    workers: u64,
    failures: u64,
    state: TaskState,
}

impl JsonEvents {
    /// Writes to `out`, `progress` lines at most every `interval` per task.
    #[must_use]
    pub fn new(out: Box<dyn Write + Send>, interval: Duration) -> Self {
        Self {
            out,
            interval,
            tasks: HashMap::new(),
        }
    }

    fn emit(&mut self, kind: &str, task_id: &str) {
        let Some(task) = self.tasks.get(task_id) else {
            return;
        };
        let s = &task.state;
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let line = serde_json::json!({
            "t": t, "event": kind, "task": task_id, "total": s.total_block_count, "ready": s.ready_count,
            "processing": s.processing_count, "completed": s.completed_count, "skipped": s.skipped_count,
            "failed": s.failed_count, "orphaned": s.orphaned_count, "workers": task.workers, "failures": task.failures,
        });
        if writeln!(self.out, "{line}").is_err() {
            tracing::warn!("cannot write a progress event");
        }
    }
}

impl Observer for JsonEvents {
    fn on_event(&mut self, event: &RunEvent<'_>) {
        match *event {
            RunEvent::TaskStart { task_id, state } => {
                let task = self.tasks.entry(task_id.to_owned()).or_default();
                task.state = *state;
                task.last = Some(Instant::now());
                self.emit("start", task_id);
            }
            RunEvent::Progress { task_id, state } => {
                let interval = self.interval;
                let task = self.tasks.entry(task_id.to_owned()).or_default();
                task.state = *state;
                if task.finished || task.last.is_some_and(|l| l.elapsed() < interval) {
                    return;
                }
                let first = task.last.is_none();
                task.last = Some(Instant::now());
                self.emit(if first { "start" } else { "progress" }, task_id);
            }
            RunEvent::TaskDone { task_id, state } => {
                let task = self.tasks.entry(task_id.to_owned()).or_default();
                task.state = *state;
                let first = task.last.is_none();
                task.finished = true;
                task.last = Some(Instant::now());
                if first {
                    self.emit("start", task_id);
                }
                self.emit("finish", task_id);
            }
            RunEvent::TaskAbandoned { task_id, state, .. } => {
                self.tasks.entry(task_id.to_owned()).or_default().state = *state;
            }
            RunEvent::BlockFailure { failure } => {
                self.tasks
                    .entry(failure.block_id.task_id.to_string())
                    .or_default()
                    .failures += 1;
            }
            RunEvent::WorkerStarted { task_id, .. } => {
                self.tasks.entry(task_id.to_owned()).or_default().workers += 1;
            }
            RunEvent::Exit { .. } => {
                let unfinished: Vec<String> = self
                    .tasks
                    .iter()
                    .filter(|(_, t)| !t.finished && t.last.is_some())
                    .map(|(k, _)| k.clone())
                    .collect();
                for task_id in unfinished {
                    self.emit("finish", &task_id);
                }
                let _ = self.out.flush();
            }
        }
    }
}
