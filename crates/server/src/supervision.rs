//! The worker pool of every task: launching, reaping, replacing, abandoning
//! (docs/semantics.md#workers-and-daisy_context, #worker-restarts).
//!
//! A task's workers are started when it first has ready blocks, after its init callback
//! returned. Init callbacks and launches run on threads of their own, never on the event
//! loop: what they return comes back as a [`PoolEvent`]. A task has at most one launch in
//! flight, and never more workers alive (or being started) than `num_workers` or than blocks
//! left to finish (ready, waiting for upstream blocks, or out): `num_workers = 1_000_000` on
//! a two-block task starts two workers.
//!
//! A worker that crashes (or cannot be started) while its task is not done is replaced, and so
//! is the last worker of a task that has ready blocks but nobody to take them (after a grace
//! period); each replacement uses one restart of the task's budget (`max_worker_restarts`),
//! which the pool owns. Launches back off: after the n-th worker in a row to fail (or not
//! start) without a block completed in between, the task's next launch waits
//! `100 ms * 2^(n-1)`, at most 2 s. A task that needs a replacement after its budget is used
//! up is abandoned.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use daisy_core::{BoxError, InitCallback, Task, TaskState};
use daisy_launch::{LaunchError, Launcher, WorkerExit, WorkerHandle, WorkerSpec, next_worker_id};
use daisy_protocol::Context;
use tokio::sync::mpsc;

use crate::reporting::Reporting;
use crate::{ServerError, WorkerFailure};

/// The first replacement delay after a failed worker.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// The longest replacement delay.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// How long the replacement of the `failures`-th worker in a row to fail waits.
fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    FIRST_BACKOFF
        .saturating_mul(1 << doublings)
        .min(MAX_BACKOFF)
}

/// What came back from work started off the event loop.
pub(crate) enum PoolEvent {
    /// The init callback of task `t` returned.
    Initialized {
        /// The task.
        t: usize,
        /// What it returned.
        result: Result<(), BoxError>,
    },
    /// A launch of a worker of task `t` returned.
    Launched {
        /// The task.
        t: usize,
        /// The worker.
        worker_id: u64,
        /// Its handle, or why it could not be started.
        result: Result<Box<dyn WorkerHandle>, LaunchError>,
    },
}

/// Where workers connect to, and what they are told.
pub(crate) struct PoolConfig {
    /// The host workers connect to.
    pub hostname: String,
    /// The port workers connect to.
    pub port: u16,
    /// The run token.
    pub token: String,
    /// Where worker logs go.
    pub logdir: Option<PathBuf>,
    /// The most blocks a worker asks for at a time.
    pub prefetch: u32,
    /// The SHA-256 fingerprint of the run's TLS certificate, if connections use TLS.
    pub tls_fingerprint: Option<String>,
}

/// What a task looks like to its pool when the workers are checked.
pub(crate) struct Health {
    /// The task's counters.
    pub state: TaskState,
    /// Whether it has checked blocks waiting to be handed out.
    pub has_checked: bool,
    /// How many connections it has open.
    pub connections: usize,
}

/// Blocks of a task not finished yet: ready, waiting for upstream blocks, or out.
fn blocks_left(state: &TaskState) -> u64 {
    state
        .total_block_count
        .saturating_sub(state.completed_count + state.failed_count + state.orphaned_count)
}

/// The workers of one task and its restart budget.
pub(crate) struct WorkerPool {
    task_id: String,
    launcher: Arc<dyn Launcher>,
    workers: Vec<Box<dyn WorkerHandle>>,
    /// The task's `num_workers`.
    num_workers: u64,
    /// Replacements allowed (the task's `max_worker_restarts`).
    budget: u32,
    /// Replacements started so far.
    restarts: u32,
    /// Workers started so far (launches tried), replacements included.
    started: u64,
    /// Whether the task's workers were asked for (its first blocks were ready).
    recruited: bool,
    /// Whether its init callback is running.
    initializing: bool,
    /// The worker whose launch is running, if one is.
    launching: Option<u64>,
    /// First workers still to start.
    initial: u64,
    /// Replacements owed (within the budget), started once `not_before` passed.
    replacements: u32,
    /// When the next replacement may start.
    not_before: Option<Instant>,
    /// Workers that failed or could not be started since a block was last completed.
    failures_in_a_row: u32,
    /// Since when the task has had ready blocks but no worker.
    stalled_since: Option<Instant>,
    /// Why the task was abandoned, if it was.
    abandoned: Option<String>,
}

impl WorkerPool {
    /// An empty pool for `task`, starting workers with `launcher`.
    pub fn new(task: &Task, launcher: Arc<dyn Launcher>) -> Self {
        Self {
            task_id: task.task_id().to_string(),
            launcher,
            workers: Vec::new(),
            num_workers: u64::try_from(task.num_workers()).unwrap_or(u64::MAX),
            budget: task.max_worker_restarts(),
            restarts: 0,
            started: 0,
            recruited: false,
            initializing: false,
            launching: None,
            initial: 0,
            replacements: 0,
            not_before: None,
            failures_in_a_row: 0,
            stalled_since: None,
            abandoned: None,
        }
    }

    /// Whether nothing is starting and nothing is owed: no init callback, launch or
    /// replacement on its way.
    fn settled(&self) -> bool {
        !self.initializing
            && self.launching.is_none()
            && self.initial == 0
            && self.replacements == 0
    }

    /// A worker failed (or could not be started): the next replacement waits longer.
    fn failed_once(&mut self, now: Instant) {
        self.failures_in_a_row = self.failures_in_a_row.saturating_add(1);
        self.not_before = Some(now + backoff(self.failures_in_a_row));
    }

    /// Owes one replacement if the budget allows it; false if it is used up.
    fn owe_replacement(&mut self) -> bool {
        if self.restarts.saturating_add(self.replacements) < self.budget {
            self.replacements += 1;
            true
        } else {
            false
        }
    }

    /// The context a worker with this id gets.
    fn context(&self, config: &PoolConfig, worker_id: u64) -> Context {
        let logdir = config.logdir.as_deref().map(Path::to_string_lossy);
        let mut context = Context::for_worker(
            logdir.as_deref(),
            &config.hostname,
            config.port,
            &self.task_id,
            worker_id,
            &config.token,
        );
        context.set("prefetch", &config.prefetch.to_string());
        if let Some(fingerprint) = &config.tls_fingerprint {
            context.set(daisy_protocol::TLS_FINGERPRINT_KEY, fingerprint);
        }
        context
    }

    /// Starts the launch of one worker on a thread of its own; its handle comes back as
    /// [`PoolEvent::Launched`] on `results`.
    fn start(&mut self, t: usize, config: &PoolConfig, results: &mpsc::UnboundedSender<PoolEvent>) {
        // Unique per process, across runs (docs/semantics.md#workers-and-daisy_context).
        let worker_id = next_worker_id();
        self.started += 1;
        let context = self.context(config, worker_id);
        let spec = WorkerSpec {
            task_id: self.task_id.clone(),
            worker_id,
            context,
            log_basename: config
                .logdir
                .as_deref()
                .map(|d| daisy_launch::log_basename(d, &self.task_id, worker_id)),
        };
        let launcher = Arc::clone(&self.launcher);
        let results = results.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("daisy-launch-{worker_id}"))
            .spawn(move || {
                let result = launcher.launch(&spec);
                // Once the run is over nobody takes the handle: dropping it stops the worker.
                let _ = results.send(PoolEvent::Launched {
                    t,
                    worker_id,
                    result,
                });
            });
        match spawned {
            Ok(_) => self.launching = Some(worker_id),
            Err(e) => {
                tracing::error!(
                    "cannot start worker {worker_id} of task {}: no thread to launch it: {e}",
                    self.task_id
                );
                self.failed_once(Instant::now());
            }
        }
    }

    /// Reaps the workers that ended, each described as if it failed.
    fn reap(&mut self) -> Vec<WorkerFailure> {
        let mut ended = Vec::new();
        self.workers.retain_mut(|w| match w.try_wait() {
            Ok(Some(exit)) => {
                ended.push(WorkerFailure {
                    worker_id: w.worker_id(),
                    exit,
                    log_files: w.log_files(),
                    reason: w.failure_reason(),
                });
                false
            }
            Ok(None) => true,
            Err(e) => {
                tracing::warn!("cannot check worker {}: {e}", w.worker_id());
                true
            }
        });
        ended
    }

    /// Kills one worker (its process tree), if it is one of ours.
    fn kill(&mut self, worker_id: u64) {
        if let Some(i) = self.workers.iter().position(|w| w.worker_id() == worker_id) {
            let mut worker = self.workers.swap_remove(i);
            if let Err(e) = worker.kill() {
                tracing::warn!("cannot kill worker {worker_id}: {e}");
            }
        }
    }

    /// Kills every worker still alive.
    fn kill_all(&mut self) {
        for mut worker in self.workers.drain(..) {
            if let Err(e) = worker.kill() {
                tracing::warn!("cannot kill worker {}: {e}", worker.worker_id());
            }
        }
    }
}

/// Runs `callback` with `context` on a thread of its own; what it returns comes back as
/// [`PoolEvent::Initialized`] on `results`.
fn run_init(
    t: usize,
    callback: InitCallback,
    context: String,
    results: &mpsc::UnboundedSender<PoolEvent>,
) {
    let sender = results.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("daisy-init-{t}"))
        .spawn(move || {
            let result = callback(&context);
            let _ = sender.send(PoolEvent::Initialized { t, result });
        });
    if let Err(e) = spawned {
        let result = Err(format!("no thread to run it: {e}").into());
        let _ = results.send(PoolEvent::Initialized { t, result });
    }
}

/// The worker pools of every task of a run.
pub(crate) struct Supervisor {
    pools: Vec<WorkerPool>,
    config: PoolConfig,
    /// How long a task may have ready blocks but no worker before a replacement is started.
    stall_grace: Duration,
    /// Where init callbacks and launches send what they return.
    results_tx: mpsc::UnboundedSender<PoolEvent>,
    /// What init callbacks and launches returned.
    results: mpsc::UnboundedReceiver<PoolEvent>,
}

impl Supervisor {
    /// Supervises `pools` (one per task, in task order).
    pub fn new(pools: Vec<WorkerPool>, config: PoolConfig, stall_grace: Duration) -> Self {
        let (results_tx, results) = mpsc::unbounded_channel();
        Self {
            pools,
            config,
            stall_grace,
            results_tx,
            results,
        }
    }

    /// Whether task `t`'s workers were asked for.
    pub fn recruited(&self, t: usize) -> bool {
        self.pools[t].recruited
    }

    /// Why task `t` was abandoned, if it was.
    pub fn abandoned(&self, t: usize) -> Option<&str> {
        self.pools[t].abandoned.as_deref()
    }

    /// How many workers task `t` has had, replacements included.
    pub fn workers_started(&self, t: usize) -> u64 {
        self.pools[t].started
    }

    /// The log files of a live worker of task `t`, if its output is redirected.
    pub fn log_files(&self, t: usize, worker_id: u64) -> Option<(PathBuf, PathBuf)> {
        self.pools[t]
            .workers
            .iter()
            .find(|w| w.worker_id() == worker_id)
            .and_then(|w| w.log_files())
    }

    /// Kills a worker of task `t` (e.g. one stuck past its block's timeout).
    pub fn kill(&mut self, t: usize, worker_id: u64) {
        self.pools[t].kill(worker_id);
    }

    /// Asks for the workers of task `t`: its init callback runs first (off the loop), then
    /// [`start_due`](Self::start_due) starts up to `num_workers` workers one by one.
    pub fn recruit(&mut self, t: usize, task: &Task) {
        let pool = &mut self.pools[t];
        pool.recruited = true;
        let Some(callback) = task.init_callback() else {
            pool.initial = pool.num_workers;
            return;
        };
        pool.initializing = true;
        let context = pool.context(&self.config, 0).to_env();
        run_init(t, Arc::clone(callback), context, &self.results_tx);
    }

    /// The next thing an init callback or a launch returned.
    pub async fn next_event(&mut self) -> Option<PoolEvent> {
        self.results.recv().await
    }

    /// Applies what an init callback or a launch returned.
    ///
    /// # Errors
    ///
    /// [`ServerError::InitCallback`] if task `t`'s init callback failed: the run aborts, no
    /// worker of the task is started.
    pub fn apply(
        &mut self,
        event: PoolEvent,
        reporting: &mut Reporting,
    ) -> Result<(), ServerError> {
        match event {
            PoolEvent::Initialized { t, result } => {
                let pool = &mut self.pools[t];
                pool.initializing = false;
                match result {
                    Ok(()) => {
                        pool.initial = pool.num_workers;
                        Ok(())
                    }
                    Err(source) => Err(ServerError::InitCallback {
                        task_id: pool.task_id.clone(),
                        source,
                    }),
                }
            }
            PoolEvent::Launched {
                t,
                worker_id,
                result,
            } => {
                let pool = &mut self.pools[t];
                if pool.launching == Some(worker_id) {
                    pool.launching = None;
                }
                match result {
                    Ok(handle) => {
                        tracing::debug!(
                            "started worker {worker_id} of task {} ({})",
                            pool.task_id,
                            pool.launcher.name()
                        );
                        pool.workers.push(handle);
                        reporting.worker_started(&pool.task_id, worker_id);
                    }
                    Err(e) => {
                        tracing::error!(
                            "cannot start worker {worker_id} of task {}: {e}",
                            pool.task_id
                        );
                        // Like a worker that crashed at start: replaced within the budget.
                        pool.failed_once(Instant::now());
                        if !pool.owe_replacement() {
                            pool.initial = 0;
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// Starts the next worker task `t` is owed, if one is, no launch of the task is running
    /// and the backoff after a failed worker passed: a first worker, or a replacement. Nothing is started (and nothing
    /// owed any more) once the task has as many workers as `num_workers` or as blocks left;
    /// `state` gives the task's counters.
    pub fn start_due(&mut self, t: usize, state: impl FnOnce() -> TaskState) {
        let pool = &mut self.pools[t];
        if pool.settled() || pool.initializing || pool.launching.is_some() {
            return;
        }
        if pool.abandoned.is_some() {
            pool.initial = 0;
            pool.replacements = 0;
            return;
        }
        let wanted = blocks_left(&state()).min(pool.num_workers);
        if pool.workers.len() as u64 >= wanted {
            // Blocks left only decrease: these workers will never be needed.
            pool.initial = 0;
            pool.replacements = 0;
            return;
        }
        if pool.not_before.is_some_and(|at| Instant::now() < at) {
            return;
        }
        if pool.initial > 0 {
            pool.initial -= 1;
        } else {
            pool.replacements -= 1;
            pool.restarts += 1;
        }
        pool.start(t, &self.config, &self.results_tx);
    }

    /// A worker of task `t` completed a block: replacements stop backing off.
    pub fn progressed(&mut self, t: usize) {
        let pool = &mut self.pools[t];
        pool.failures_in_a_row = 0;
        pool.not_before = None;
    }

    /// Reaps the ended workers of task `t`, owes replacements of crashed ones within the
    /// budget, and handles a stalled task: replaced after the grace period, or abandoned when
    /// the budget is used up. The reason, if the task is abandoned now.
    pub fn check(
        &mut self,
        t: usize,
        health: &Health,
        now: Instant,
        reporting: &mut Reporting,
    ) -> Option<String> {
        let pool = &mut self.pools[t];
        if !pool.recruited {
            return None;
        }
        let done = health.state.is_done();
        for ended in pool.reap() {
            let (worker_id, exit) = (ended.worker_id, ended.exit);
            match exit {
                WorkerExit::Success => {
                    tracing::info!("worker {worker_id} of task {} exited", pool.task_id);
                }
                WorkerExit::Failed { .. } => {
                    let reason = ended.reason.as_deref().unwrap_or_default();
                    let sep = if reason.is_empty() { "" } else { ": " };
                    tracing::warn!(
                        "worker {worker_id} of task {} died: {exit}{sep}{reason}",
                        pool.task_id
                    );
                    reporting.worker_failed(t, ended);
                    if !done && pool.abandoned.is_none() {
                        pool.failed_once(now);
                        pool.owe_replacement();
                    }
                }
            }
        }
        let state = &health.state;
        let stalled = !done
            && pool.abandoned.is_none()
            && pool.settled()
            && (state.ready_count > 0 || health.has_checked)
            && state.processing_count == 0
            && pool.workers.is_empty()
            && health.connections == 0;
        if !stalled {
            pool.stalled_since = None;
            return None;
        }
        let since = *pool.stalled_since.get_or_insert(now);
        if now.duration_since(since) < self.stall_grace {
            return None;
        }
        pool.stalled_since = None;
        if pool.owe_replacement() {
            // The grace period was the wait: no backoff on top.
            pool.not_before = None;
            return None;
        }
        let reason = format!(
            "no worker left and the restart budget is used up (max_worker_restarts = {}, {} workers started)",
            pool.budget, pool.started
        );
        tracing::error!("abandoning task {}: {reason}", pool.task_id);
        pool.abandoned = Some(reason.clone());
        Some(reason)
    }

    /// Starts nothing more; waits up to `grace` for the launches still running and for the
    /// workers to exit on their own, then kills the rest. A launch that returns later stops
    /// its worker itself (its handle is dropped).
    pub async fn shutdown(&mut self, grace: Duration) {
        for pool in &mut self.pools {
            pool.initial = 0;
            pool.replacements = 0;
        }
        // Clamped like a task's timeout, so that a huge grace cannot overflow the clock.
        let until = Instant::now() + grace.min(daisy_core::MAX_TIMEOUT);
        let busy = |pools: &[WorkerPool]| {
            pools
                .iter()
                .any(|p| !p.workers.is_empty() || p.launching.is_some())
        };
        while busy(&self.pools) && Instant::now() < until {
            for pool in &mut self.pools {
                pool.reap();
            }
            let wait = tokio::time::timeout(Duration::from_millis(10), self.results.recv());
            if let Ok(Some(PoolEvent::Launched {
                t,
                worker_id,
                result,
            })) = wait.await
            {
                let pool = &mut self.pools[t];
                if pool.launching == Some(worker_id) {
                    pool.launching = None;
                }
                if let Ok(handle) = result {
                    pool.workers.push(handle);
                }
            }
        }
        for pool in &mut self.pools {
            if let Some(worker_id) = pool.launching {
                tracing::warn!(
                    "worker {worker_id} of task {} is still being started at the end of the run; it is stopped once its launch returns",
                    pool.task_id
                );
            }
            pool.kill_all();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::HashMap;
    use std::sync::Mutex;

    use daisy_geometry::Roi;

    use super::*;
    use crate::{Observer, RunEvent};

    /// The fake workers' fates: set an exit to end one.
    #[derive(Clone, Default)]
    struct Fates(Arc<Mutex<HashMap<u64, WorkerExit>>>);

    /// Starts fake workers (no process, no thread).
    struct FakeLauncher {
        fates: Fates,
        launched: Arc<Mutex<Vec<u64>>>,
    }

    struct FakeWorker {
        worker_id: u64,
        fates: Fates,
    }

    impl Launcher for FakeLauncher {
        fn launch(&self, spec: &WorkerSpec) -> Result<Box<dyn WorkerHandle>, LaunchError> {
            self.launched.lock().unwrap().push(spec.worker_id);
            Ok(Box::new(FakeWorker {
                worker_id: spec.worker_id,
                fates: self.fates.clone(),
            }))
        }

        fn name(&self) -> &str {
            "fake"
        }
    }

    impl WorkerHandle for FakeWorker {
        fn worker_id(&self) -> u64 {
            self.worker_id
        }

        fn try_wait(&mut self) -> Result<Option<WorkerExit>, LaunchError> {
            Ok(self.fates.0.lock().unwrap().get(&self.worker_id).copied())
        }

        fn kill(&mut self) -> Result<WorkerExit, LaunchError> {
            let exit = WorkerExit::Failed {
                code: None,
                signal: Some(9),
            };
            self.fates.0.lock().unwrap().insert(self.worker_id, exit);
            Ok(exit)
        }

        fn log_files(&self) -> Option<(PathBuf, PathBuf)> {
            None
        }

        fn pid(&self) -> Option<u32> {
            None
        }
    }

    /// Counts the workers observers hear of.
    struct Started(Arc<Mutex<u64>>);

    impl Observer for Started {
        fn on_event(&mut self, event: &RunEvent<'_>) {
            if matches!(event, RunEvent::WorkerStarted { .. }) {
                *self.0.lock().unwrap() += 1;
            }
        }
    }

    fn builder() -> daisy_core::TaskBuilder {
        Task::builder(
            "t",
            Roi::from_values(&[0], &[4]).unwrap(),
            Roi::from_values(&[0], &[1]).unwrap(),
            Roi::from_values(&[0], &[1]).unwrap(),
        )
    }

    fn task(workers: usize, restarts: u32) -> Arc<Task> {
        builder()
            .num_workers(workers)
            .max_worker_restarts(restarts)
            .build()
            .unwrap()
    }

    struct Fixture {
        task: Arc<Task>,
        supervisor: Supervisor,
        reporting: Reporting,
        fates: Fates,
        launched: Arc<Mutex<Vec<u64>>>,
        heard: Arc<Mutex<u64>>,
    }

    fn fixture_for(task: Arc<Task>, stall_grace: Duration) -> Fixture {
        let fates = Fates::default();
        let launched = Arc::new(Mutex::new(Vec::new()));
        let launcher = Arc::new(FakeLauncher {
            fates: fates.clone(),
            launched: Arc::clone(&launched),
        });
        let config = crate::test_values::pool_config("t");
        let heard = Arc::new(Mutex::new(0));
        Fixture {
            supervisor: Supervisor::new(
                vec![WorkerPool::new(&task, launcher)],
                config,
                stall_grace,
            ),
            task,
            reporting: Reporting::new(vec![Box::new(Started(Arc::clone(&heard)))], 1),
            fates,
            launched,
            heard,
        }
    }

    fn fixture(workers: usize, restarts: u32, stall_grace: Duration) -> Fixture {
        fixture_for(task(workers, restarts), stall_grace)
    }

    /// A task of 4 blocks, `ready` of them ready and `completed` done.
    fn counters(ready: u64, completed: u64) -> TaskState {
        TaskState {
            total_block_count: 4,
            ready_count: ready,
            completed_count: completed,
            ..TaskState::default()
        }
    }

    fn health(ready: u64) -> Health {
        Health {
            state: counters(ready, 0),
            has_checked: false,
            connections: 0,
        }
    }

    impl Fixture {
        fn crash_all(&self) {
            for &w in self.launched.lock().unwrap().iter() {
                self.fates.0.lock().unwrap().insert(
                    w,
                    WorkerExit::Failed {
                        code: Some(3),
                        signal: None,
                    },
                );
            }
        }

        fn check(&mut self, ready: u64, now: Instant) -> Option<String> {
            self.supervisor
                .check(0, &health(ready), now, &mut self.reporting)
        }

        /// Starts what is due and applies what the launches return, until nothing is running.
        async fn settle(&mut self, state: TaskState) {
            loop {
                self.supervisor.start_due(0, || state);
                if self.supervisor.pools[0].launching.is_none() {
                    return;
                }
                let event = self.supervisor.next_event().await.unwrap();
                self.supervisor.apply(event, &mut self.reporting).unwrap();
            }
        }

        fn launched(&self) -> usize {
            self.launched.lock().unwrap().len()
        }
    }

    #[test]
    fn replacements_back_off_exponentially_up_to_two_seconds() {
        let delays: Vec<u128> = [1, 2, 3, 4, 5, 6, 40, u32::MAX]
            .map(|n| backoff(n).as_millis())
            .to_vec();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 2000, 2000, 2000]);
    }

    #[tokio::test]
    async fn crashed_workers_are_replaced_within_the_budget_after_a_backoff() {
        let mut f = fixture(2, 1, Duration::from_secs(3600));
        assert!(f.check(4, Instant::now()).is_none());
        f.settle(counters(4, 0)).await;
        assert_eq!(f.launched(), 0, "started before recruiting");
        f.supervisor.recruit(0, &f.task);
        assert!(f.supervisor.recruited(0));
        f.settle(counters(4, 0)).await;
        assert_eq!(f.launched(), 2);
        f.crash_all();
        // Noticed "an hour from now": the backoff ends well after this test.
        let later = Instant::now() + Duration::from_secs(3600);
        assert!(f.check(4, later).is_none());
        // Two crashed, one replacement owed (the budget is 1), after a backoff.
        assert_eq!(f.supervisor.pools[0].replacements, 1);
        f.settle(counters(4, 0)).await;
        assert_eq!(f.launched(), 2, "replaced without backing off");
        // A completed block ends the backoff.
        f.supervisor.progressed(0);
        f.settle(counters(4, 0)).await;
        assert_eq!(f.launched(), 3);
        assert_eq!(f.supervisor.workers_started(0), 3);
        assert_eq!(*f.heard.lock().unwrap(), 3);
        // Both crashes are in the report, with how the workers ended.
        let tasks = [Arc::clone(&f.task)];
        let scheduler = daisy_core::Scheduler::new(&tasks, true).unwrap();
        let report = f.reporting.finish(&tasks, &scheduler, &f.supervisor, false);
        let failed: Vec<String> = report.tasks[0]
            .worker_failures
            .iter()
            .map(|w| format!("worker {} {}", w.worker_id, w.exit))
            .collect();
        let launched = f.launched.lock().unwrap();
        assert_eq!(
            failed,
            [
                format!("worker {} failed with exit code 3", launched[0]),
                format!("worker {} failed with exit code 3", launched[1]),
            ]
        );
    }

    #[tokio::test]
    async fn no_more_workers_than_blocks_left() {
        let mut f = fixture(1_000_000, 10, Duration::from_secs(3600));
        f.supervisor.recruit(0, &f.task);
        f.settle(counters(4, 0)).await;
        assert_eq!(f.launched(), 4, "a worker per block left");
        assert!(f.supervisor.pools[0].settled(), "still owes workers");
        // Two blocks done, a worker crashes: three workers for two blocks, no replacement.
        let first = f.launched.lock().unwrap()[0];
        f.fates.0.lock().unwrap().insert(
            first,
            WorkerExit::Failed {
                code: Some(1),
                signal: None,
            },
        );
        let health = Health {
            state: counters(0, 2),
            has_checked: false,
            connections: 3,
        };
        f.supervisor.progressed(0);
        assert!(
            f.supervisor
                .check(0, &health, Instant::now(), &mut f.reporting)
                .is_none()
        );
        f.settle(counters(0, 2)).await;
        assert_eq!(f.launched(), 4);
        assert_eq!(f.supervisor.pools[0].restarts, 0, "a restart was used");
    }

    #[tokio::test]
    async fn a_stalled_task_gets_a_replacement_then_is_abandoned() {
        let mut f = fixture(1, 1, Duration::ZERO);
        f.supervisor.recruit(0, &f.task);
        f.settle(counters(4, 0)).await;
        f.fates
            .0
            .lock()
            .unwrap()
            .insert(f.launched.lock().unwrap()[0], WorkerExit::Success);
        let now = Instant::now();
        // A worker that exited with success is not replaced, but the stalled task is.
        assert!(f.check(4, now).is_none());
        f.settle(counters(4, 0)).await;
        assert_eq!(f.launched(), 2);
        // The replacement crashes: the budget is used up, the task is abandoned.
        f.crash_all();
        let reason = f.check(4, now).unwrap();
        assert_eq!(
            reason,
            "no worker left and the restart budget is used up (max_worker_restarts = 1, 2 workers started)"
        );
        assert_eq!(f.supervisor.abandoned(0), Some(reason.as_str()));
        assert!(f.check(4, now).is_none(), "abandoned twice");
    }

    #[tokio::test]
    async fn a_task_without_ready_blocks_is_not_stalled() {
        let mut f = fixture(1, 0, Duration::ZERO);
        f.supervisor.recruit(0, &f.task);
        f.settle(counters(4, 0)).await;
        f.crash_all();
        assert!(f.check(0, Instant::now()).is_none());
        assert!(f.supervisor.abandoned(0).is_none());
    }

    #[tokio::test]
    async fn a_failing_init_callback_starts_no_worker() {
        let task = builder()
            .num_workers(2)
            .init_callback(|context| {
                assert!(context.contains("worker_id=0"));
                Err("no database".into())
            })
            .build()
            .unwrap();
        let mut f = fixture_for(task, Duration::ZERO);
        f.supervisor.recruit(0, &f.task);
        let event = f.supervisor.next_event().await.unwrap();
        let error = f.supervisor.apply(event, &mut f.reporting).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the init callback of task t failed: no database"
        );
        f.settle(counters(4, 0)).await;
        assert_eq!(f.launched(), 0);
    }

    #[tokio::test]
    async fn the_init_callback_runs_off_the_caller_and_before_any_worker() {
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let wait = Mutex::new(wait);
        let task = builder()
            .num_workers(2)
            .init_callback(move |_| {
                wait.lock().unwrap().recv().map_err(|e| e.to_string())?;
                Ok(())
            })
            .build()
            .unwrap();
        let mut f = fixture_for(task, Duration::ZERO);
        // Returns while the callback waits.
        f.supervisor.recruit(0, &f.task);
        f.supervisor.start_due(0, || counters(4, 0));
        assert!(
            f.check(4, Instant::now()).is_none(),
            "stalled while initializing"
        );
        assert_eq!(
            f.launched(),
            0,
            "a worker started before the init callback returned"
        );
        release.send(()).unwrap();
        let event = f.supervisor.next_event().await.unwrap();
        f.supervisor.apply(event, &mut f.reporting).unwrap();
        f.settle(counters(4, 0)).await;
        assert_eq!(f.launched(), 2);
    }

    /// Refuses every launch.
    struct Refusing(Arc<Mutex<u32>>);

    impl Launcher for Refusing {
        fn launch(&self, _: &WorkerSpec) -> Result<Box<dyn WorkerHandle>, LaunchError> {
            *self.0.lock().unwrap() += 1;
            Err(LaunchError::Spawn {
                program: "nothing".into(),
                source: "refused".into(),
            })
        }

        fn name(&self) -> &str {
            "refusing"
        }
    }

    #[tokio::test]
    async fn failed_launches_use_the_budget_and_back_off() {
        let tries = Arc::new(Mutex::new(0));
        let task = task(1, 2);
        let mut f = fixture(1, 0, Duration::ZERO);
        f.supervisor.pools[0] = WorkerPool::new(&task, Arc::new(Refusing(Arc::clone(&tries))));
        f.supervisor.recruit(0, &task);
        f.settle(counters(4, 0)).await;
        assert_eq!(
            *tries.lock().unwrap(),
            1,
            "launched again without backing off"
        );
        for _ in 0..2 {
            f.supervisor.progressed(0);
            f.settle(counters(4, 0)).await;
        }
        // One worker and two replacements; then nothing is owed, and the task stalls.
        assert_eq!(*tries.lock().unwrap(), 3);
        assert!(f.supervisor.pools[0].settled());
        assert!(f.check(4, Instant::now()).is_some(), "not abandoned");
        assert_eq!(f.supervisor.workers_started(0), 3);
    }

    #[tokio::test]
    async fn shutdown_kills_the_workers_left() {
        let mut f = fixture(2, 0, Duration::ZERO);
        f.supervisor.recruit(0, &f.task);
        f.settle(counters(4, 0)).await;
        f.supervisor.kill(0, f.launched.lock().unwrap()[0]);
        f.supervisor.shutdown(Duration::from_millis(1)).await;
        let fates = f.fates.0.lock().unwrap();
        assert_eq!(fates.len(), 2);
        assert!(f.supervisor.pools[0].workers.is_empty());
    }
}
