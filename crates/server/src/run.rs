//! The run: one task owning the scheduler, fed by connections, checks, timers and workers.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use daisy_core::{Block, BlockId, BlockStatus, Scheduler, Task, TaskState};
use daisy_protocol::{ClientMessage, ServerMessage};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::connection::{self, ConnEvent, ConnId, Outgoing};
use crate::pool::{PoolConfig, WorkerPool};
use crate::{
    BlockFailure, Launchers, LocalEndpoint, Observer, RunEvent, RunReport, ServerError,
    ServerOptions, TaskReport,
};

/// The most blocks sent in one reply: far below the frame limit even for 8-D blocks with long
/// task ids (a 3-D block takes ~100 bytes on the wire).
const MAX_BLOCKS_PER_REPLY: u32 = 4096;

/// A check that ran off the event loop.
enum CheckDone {
    /// A pre-check: `done` means skip the block.
    Pre {
        t: usize,
        seq: u64,
        block: Block,
        done: bool,
    },
    /// A post-check of a block a worker reported as done.
    Post {
        t: usize,
        block: Block,
        worker_id: Option<u64>,
        ok: bool,
    },
}

/// A block that is out.
struct Out {
    conn: ConnId,
    worker_id: Option<u64>,
    deadline: Option<Instant>,
    /// The server's own copy: releases only say which block and how it went.
    block: Block,
}

/// A connection that passed the handshake.
struct Conn {
    outbox: mpsc::UnboundedSender<Outgoing>,
    task: Option<usize>,
    worker_id: Option<u64>,
}

/// Pre-checks in flight for one task, handed out in acquisition order.
#[derive(Default)]
struct Checks {
    next_seq: u64,
    ready_seq: u64,
    results: BTreeMap<u64, (Block, bool)>,
    checked: VecDeque<Block>,
}

impl Checks {
    fn in_flight(&self) -> u64 {
        self.next_seq - self.ready_seq
    }
}

/// Per-task bookkeeping of the run.
struct TaskRun {
    task: Arc<Task>,
    parked: VecDeque<(ConnId, u32)>,
    pool: WorkerPool,
    started: bool,
    done_reported: bool,
    stalled_since: Option<Instant>,
    abandoned: Option<String>,
    failures: Vec<BlockFailure>,
    checks: Checks,
    connections: usize,
}

/// Serves the scheduler's blocks to workers until every task is done, `shutdown` resolves
/// (Ctrl-C), or a worker reports a `ClientException`.
///
/// Workers connect over TCP to `listener`, or, if they are threads of this process, through
/// the in-process transport whose endpoint is `local` ([`crate::local_transport`]).
///
/// Workers are recruited per task when it first has ready blocks, through the task's launcher;
/// they connect back to `hostname:port` (the listener's advertised address) with the run token.
/// Checks run on blocking threads, never on the event loop; a parked request is answered the
/// moment a block of its task becomes ready.
///
/// # Errors
///
/// [`ServerError::NoLauncher`] before anything starts if a task has no launcher, and
/// [`ServerError::ClientException`] (after cleanup) if a worker's own code failed.
#[allow(clippy::too_many_arguments)]
pub async fn serve(
    listener: TcpListener,
    hostname: String,
    scheduler: Scheduler,
    launchers: Launchers,
    options: ServerOptions,
    observers: Vec<Box<dyn Observer>>,
    local: Option<LocalEndpoint>,
    shutdown: impl Future<Output = ()>,
) -> Result<RunReport, ServerError> {
    let port = listener
        .local_addr()
        .map_err(|e| ServerError::Listen {
            address: hostname.clone(),
            error: e.to_string(),
        })?
        .port();
    let token = match &options.token {
        Some(t) => t.clone(),
        None => crate::token::generate()?,
    };
    let mut tasks = Vec::new();
    for task in scheduler.dependency_graph().tasks() {
        let launcher =
            launchers
                .for_task(task.task_id())
                .ok_or_else(|| ServerError::NoLauncher {
                    task_id: task.task_id().to_string(),
                })?;
        tasks.push(TaskRun {
            task: Arc::clone(task),
            parked: VecDeque::new(),
            pool: WorkerPool::new(task.task_id(), launcher),
            started: false,
            done_reported: false,
            stalled_since: None,
            abandoned: None,
            failures: Vec::new(),
            checks: Checks::default(),
            connections: 0,
        });
    }
    let index = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.task.task_id().to_string(), i))
        .collect();
    let (events_tx, events) = match local {
        Some(endpoint) => endpoint.events,
        None => mpsc::unbounded_channel(),
    };
    let (checks_tx, checks) = mpsc::unbounded_channel();
    let accepting = tokio::spawn(accept_loop(
        listener,
        token.clone(),
        options.max_frame,
        events_tx,
    ));
    let pool_config = PoolConfig {
        hostname,
        port,
        token,
        logdir: options.logdir.clone(),
        prefetch: options.prefetch,
    };
    let mut run = Run {
        scheduler,
        tasks,
        index,
        conns: HashMap::new(),
        out: HashMap::new(),
        deadlines: BTreeSet::new(),
        observers,
        options,
        pool_config,
        checks_tx,
        started_order: Vec::new(),
        abort: None,
    };
    let interrupted = run.event_loop(events, checks, shutdown).await;
    accepting.abort();
    let report = run.finish(interrupted).await;
    match run.abort.take() {
        Some(error) => Err(error),
        None => Ok(report),
    }
}

async fn accept_loop(
    listener: TcpListener,
    token: String,
    max_frame: u32,
    events: mpsc::UnboundedSender<ConnEvent>,
) {
    let mut next: ConnId = 0;
    loop {
        match listener.accept().await {
            Ok((stream, address)) => {
                next += 1;
                tokio::spawn(connection::serve(
                    stream,
                    address,
                    next,
                    token.clone(),
                    max_frame,
                    events.clone(),
                ));
            }
            Err(e) => {
                // E.g. too many open files: keep serving the connections we have.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

struct Run {
    scheduler: Scheduler,
    tasks: Vec<TaskRun>,
    index: HashMap<String, usize>,
    conns: HashMap<ConnId, Conn>,
    out: HashMap<(usize, u64), Out>,
    deadlines: BTreeSet<(Instant, usize, u64)>,
    observers: Vec<Box<dyn Observer>>,
    options: ServerOptions,
    pool_config: PoolConfig,
    checks_tx: mpsc::UnboundedSender<CheckDone>,
    started_order: Vec<usize>,
    abort: Option<ServerError>,
}

impl Run {
    /// Runs until done, interrupted (returns `true`) or aborted.
    async fn event_loop(
        &mut self,
        mut events: mpsc::UnboundedReceiver<ConnEvent>,
        mut checks: mpsc::UnboundedReceiver<CheckDone>,
        shutdown: impl Future<Output = ()>,
    ) -> bool {
        tokio::pin!(shutdown);
        let mut health = tokio::time::interval(self.options.health_interval);
        health.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.after_change();
        while !self.scheduler.all_done() && self.abort.is_none() {
            let deadline = self
                .deadlines
                .first()
                .map(|d| tokio::time::Instant::from_std(d.0));
            tokio::select! {
                biased;
                () = &mut shutdown => return true,
                Some(event) = events.recv() => self.on_connection(event),
                Some(done) = checks.recv() => self.on_check(done),
                () = sleep_until(deadline) => self.expire(Instant::now()),
                _ = health.tick() => self.check_workers(),
            }
            self.after_change();
        }
        false
    }

    // ---- connections ----

    fn on_connection(&mut self, event: ConnEvent) {
        match event {
            ConnEvent::Opened { conn, peer, outbox } => {
                let task = self.index.get(&peer.task_id).copied();
                if let Some(t) = task {
                    self.tasks[t].connections += 1;
                }
                self.conns.insert(
                    conn,
                    Conn {
                        outbox,
                        task,
                        worker_id: peer.worker_id,
                    },
                );
            }
            ConnEvent::Messages { conn, messages } => {
                for message in messages {
                    self.on_message(conn, message);
                }
            }
            ConnEvent::Closed { conn, reason } => {
                let why = reason.map_or_else(
                    || "worker connection closed".to_owned(),
                    |r| format!("worker connection closed: {r}"),
                );
                self.drop_connection(conn, &why);
            }
        }
    }

    fn on_message(&mut self, conn: ConnId, message: ClientMessage) {
        if !self.conns.contains_key(&conn) {
            return; // a connection we gave up on (timeout): everything it says is stale
        }
        match message {
            ClientMessage::AcquireBlocks { task_id, max } => match self.index.get(&task_id) {
                Some(&t) => self.tasks[t]
                    .parked
                    .push_back((conn, max.clamp(1, MAX_BLOCKS_PER_REPLY))),
                None => self.send(conn, ServerMessage::RequestShutdown),
            },
            ClientMessage::ReleaseBlock { block } => {
                let error = (block.status != BlockStatus::Success)
                    .then(|| daisy_protocol::RELEASED_AS_FAILED.to_owned());
                if let Some(&t) = self.index.get(block.task_id()) {
                    self.on_release(conn, t, block.spatial_id(), error);
                }
            }
            ClientMessage::BlockFailed { block, error } => {
                if let Some(&t) = self.index.get(block.task_id()) {
                    self.on_release(conn, t, block.spatial_id(), Some(error));
                }
            }
            ClientMessage::ReleaseBlocks { task_id, released } => {
                if let Some(&t) = self.index.get(&task_id) {
                    for r in released {
                        self.on_release(conn, t, r.spatial_id, r.error);
                    }
                }
            }
            ClientMessage::ClientException { error } => {
                let c = &self.conns[&conn];
                let task_id = c
                    .task
                    .map_or_else(String::new, |t| self.tasks[t].task.task_id().to_string());
                tracing::error!("worker {:?} of task {task_id} failed: {error}", c.worker_id);
                self.abort = Some(ServerError::ClientException {
                    task_id,
                    worker_id: c.worker_id,
                    error,
                });
            }
            ClientMessage::Goodbye => {}
            ClientMessage::Hello { .. } => {
                tracing::warn!("closing connection {conn}: a second Hello");
                self.close(conn, "protocol violation: a second Hello");
            }
        }
    }

    fn send(&self, conn: ConnId, message: ServerMessage) {
        if let Some(c) = self.conns.get(&conn) {
            let _ = c.outbox.send(Outgoing::Message(message));
        }
    }

    /// Closes a connection from our side; its blocks are lost.
    fn close(&mut self, conn: ConnId, why: &str) {
        if let Some(c) = self.conns.get(&conn) {
            let _ = c.outbox.send(Outgoing::Close);
        }
        self.drop_connection(conn, why);
    }

    fn drop_connection(&mut self, conn: ConnId, why: &str) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        if let Some(t) = c.task {
            self.tasks[t].connections -= 1;
        }
        // Rare enough to scan: the blocks out are at most workers × prefetch.
        let held: Vec<(usize, u64)> = self
            .out
            .iter()
            .filter(|(_, o)| o.conn == conn)
            .map(|(k, _)| *k)
            .collect();
        for (t, spatial_id) in held {
            if let Some(out) = self.out.remove(&(t, spatial_id)) {
                if let Some(d) = out.deadline {
                    self.deadlines.remove(&(d, t, spatial_id));
                }
                self.lose(t, out, why);
            }
        }
    }

    /// A block that is out will not come back: it fails (and may be retried).
    fn lose(&mut self, t: usize, out: Out, why: &str) {
        let mut block = out.block;
        tracing::warn!("block {} lost: {why}", block.block_id);
        block.status = BlockStatus::Failed;
        self.record_failure(t, &block.block_id, out.worker_id, format!("lost: {why}"));
        self.release_to_scheduler(t, &block);
    }

    // ---- releases ----

    /// A worker returned block `spatial_id` of task `t`: `None` means success, else the error.
    fn on_release(&mut self, conn: ConnId, t: usize, spatial_id: u64, error: Option<String>) {
        let key = (t, spatial_id);
        if self.out.get(&key).is_none_or(|out| out.conn != conn) {
            tracing::debug!(
                "ignoring a stale release of {}/{spatial_id} from connection {conn}",
                self.tasks[t].task.task_id()
            );
            return;
        }
        let Some(out) = self.out.remove(&key) else {
            return;
        };
        if let Some(d) = out.deadline {
            self.deadlines.remove(&(d, t, spatial_id));
        }
        let mut block = out.block;
        block.stopped_processing = Some(now_seconds());
        if let Some(error) = error {
            block.status = BlockStatus::Failed;
            tracing::error!(
                "Block {block} failed in worker {} with {error}",
                out.worker_id
                    .map_or_else(|| "None".to_owned(), |w| w.to_string())
            );
            self.record_failure(t, &block.block_id, out.worker_id, error);
            self.release_to_scheduler(t, &block);
            return;
        }
        block.status = BlockStatus::Success;
        let task = Arc::clone(&self.tasks[t].task);
        if task.post_check_function().is_some() {
            // The block stays "processing" while its post-check runs off the loop.
            let tx = self.checks_tx.clone();
            let worker_id = out.worker_id;
            tokio::task::spawn_blocking(move || {
                let ok = task.post_check(&block);
                let _ = tx.send(CheckDone::Post {
                    t,
                    block,
                    worker_id,
                    ok,
                });
            });
            return;
        }
        self.release_to_scheduler(t, &block);
    }

    fn release_to_scheduler(&mut self, t: usize, block: &Block) {
        if let Err(e) = self.scheduler.release_block(block) {
            tracing::error!("cannot release {}: {e}", block.block_id);
            return;
        }
        self.notify_progress(t);
    }

    fn record_failure(
        &mut self,
        t: usize,
        block_id: &BlockId,
        worker_id: Option<u64>,
        error: String,
    ) {
        let log_files = worker_id.and_then(|w| self.tasks[t].pool.log_files(w));
        let failure = BlockFailure {
            block_id: block_id.clone(),
            worker_id,
            error,
            log_files,
        };
        for o in &mut self.observers {
            o.on_event(&RunEvent::BlockFailure { failure: &failure });
        }
        self.tasks[t].failures.push(failure);
    }

    // ---- checks ----

    fn on_check(&mut self, done: CheckDone) {
        match done {
            CheckDone::Pre {
                t,
                seq,
                block,
                done,
            } => {
                self.tasks[t].checks.results.insert(seq, (block, done));
                loop {
                    let checks = &mut self.tasks[t].checks;
                    let Some((mut block, done)) = checks.results.remove(&checks.ready_seq) else {
                        break;
                    };
                    checks.ready_seq += 1;
                    if !done {
                        checks.checked.push_back(block);
                    } else if let Err(e) = self.scheduler.skip_block(&mut block) {
                        tracing::error!("cannot skip {}: {e}", block.block_id);
                    }
                }
                self.notify_progress(t);
            }
            CheckDone::Post {
                t,
                mut block,
                worker_id,
                ok,
            } => {
                if !ok {
                    block.status = BlockStatus::Failed;
                    tracing::error!("Block {block} failed its post-check");
                    self.record_failure(
                        t,
                        &block.block_id,
                        worker_id,
                        "post-check failed".to_owned(),
                    );
                }
                self.release_to_scheduler(t, &block);
            }
        }
    }

    /// Starts pre-checks of ready blocks while parked requests want more than is checked.
    fn start_checks(&mut self, t: usize) {
        let demand: u64 = self.tasks[t]
            .parked
            .iter()
            .map(|&(_, max)| u64::from(max))
            .sum();
        let task = Arc::clone(&self.tasks[t].task);
        while self.tasks[t].checks.in_flight() + (self.tasks[t].checks.checked.len() as u64)
            < demand
        {
            let Some(block) = self.scheduler.acquire_block_unchecked(task.task_id()) else {
                break;
            };
            let seq = self.tasks[t].checks.next_seq;
            self.tasks[t].checks.next_seq += 1;
            let (tx, task) = (self.checks_tx.clone(), Arc::clone(&task));
            tokio::task::spawn_blocking(move || {
                let done = task.pre_check(&block);
                let _ = tx.send(CheckDone::Pre {
                    t,
                    seq,
                    block,
                    done,
                });
            });
        }
    }

    // ---- handing out blocks ----

    /// After anything happened: serve parked requests, start workers, report finished tasks.
    fn after_change(&mut self) {
        for t in 0..self.tasks.len() {
            if !self.tasks[t].parked.is_empty() {
                self.serve_parked(t);
            }
        }
        self.recruit();
        self.report_done();
    }

    fn next_block(&mut self, t: usize) -> Option<Block> {
        if self.tasks[t].task.check_function().is_some() {
            self.tasks[t].checks.checked.pop_front()
        } else {
            self.scheduler
                .acquire_block_unchecked(self.tasks[t].task.task_id())
        }
    }

    /// Nothing ready, nothing waiting on upstream blocks, nothing out or being checked: a
    /// waiting worker will get nothing more. (daisy 1.x also stops workers while blocks are
    /// still out; one of those may fail and be retried, and then no worker is left to take it.)
    fn exhausted(&self, t: usize) -> bool {
        let state = self.state(t);
        let checks = &self.tasks[t].checks;
        state.ready_count == 0
            && state.pending_count() == 0
            && state.processing_count == 0
            && checks.in_flight() == 0
            && checks.checked.is_empty()
    }

    fn serve_parked(&mut self, t: usize) {
        if self.tasks[t].task.check_function().is_some() {
            self.start_checks(t);
        }
        let mut handed_out = false;
        while let Some(&(conn, max)) = self.tasks[t].parked.front() {
            if !self.conns.contains_key(&conn) {
                self.tasks[t].parked.pop_front();
                continue;
            }
            let mut blocks = Vec::new();
            while blocks.len() < max as usize {
                match self.next_block(t) {
                    Some(block) => blocks.push(block),
                    None => break,
                }
            }
            if blocks.is_empty() {
                if self.exhausted(t) {
                    self.tasks[t].parked.pop_front();
                    self.send(conn, ServerMessage::RequestShutdown);
                    continue;
                }
                break;
            }
            self.tasks[t].parked.pop_front();
            self.hand_out(t, conn, blocks);
            handed_out = true;
        }
        if handed_out {
            self.notify_progress(t);
        }
    }

    fn hand_out(&mut self, t: usize, conn: ConnId, mut blocks: Vec<Block>) {
        let now = Instant::now();
        let deadline = self.tasks[t].task.timeout().map(|d| now + d);
        let sent = now_seconds();
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        for block in &mut blocks {
            block.started_processing = Some(sent);
            let key = (t, block.spatial_id());
            self.out.insert(
                key,
                Out {
                    conn,
                    worker_id: c.worker_id,
                    deadline,
                    block: block.clone(),
                },
            );
            if let Some(d) = deadline {
                self.deadlines.insert((d, t, key.1));
            }
        }
        let _ = c
            .outbox
            .send(Outgoing::Message(ServerMessage::SendBlocks { blocks }));
    }

    // ---- time ----

    fn expire(&mut self, now: Instant) {
        while let Some(&(deadline, t, spatial_id)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_first();
            let Some(out) = self.out.get(&(t, spatial_id)) else {
                continue;
            };
            let (conn, worker_id) = (out.conn, out.worker_id);
            let timeout = self.tasks[t].task.timeout().unwrap_or_default();
            let why = format!(
                "block {}/{spatial_id} timed out after {timeout:?}",
                self.tasks[t].task.task_id()
            );
            // The worker may be stuck anywhere: stop it and everything it holds.
            if let Some(w) = worker_id {
                self.tasks[t].pool.kill(w);
            }
            self.close(conn, &why);
        }
    }

    // ---- workers ----

    fn recruit(&mut self) {
        for t in 0..self.tasks.len() {
            let run = &self.tasks[t];
            let has_work = self
                .scheduler
                .task_state(run.task.task_id())
                .is_some_and(|s| s.ready_count > 0);
            if run.started || !has_work || run.abandoned.is_some() {
                continue;
            }
            self.tasks[t].started = true;
            self.started_order.push(t);
            let state = self.state(t);
            let task_id = self.tasks[t].task.task_id().clone();
            for o in &mut self.observers {
                o.on_event(&RunEvent::TaskStart {
                    task_id: &task_id,
                    state: &state,
                });
            }
            if let Some(callback) = self.tasks[t].task.init_callback() {
                if let Err(error) = self.tasks[t].pool.init(&self.pool_config, callback) {
                    tracing::error!("the init callback of task {task_id} failed: {error}");
                    self.abort = Some(ServerError::InitCallback {
                        task_id: task_id.to_string(),
                        error,
                    });
                    return;
                }
            }
            for _ in 0..self.tasks[t].task.num_workers() {
                self.start_worker(t);
            }
        }
    }

    fn start_worker(&mut self, t: usize) {
        if let Some(worker_id) = self.tasks[t].pool.start(&self.pool_config) {
            let task_id = self.tasks[t].task.task_id().clone();
            for o in &mut self.observers {
                o.on_event(&RunEvent::WorkerStarted {
                    task_id: &task_id,
                    worker_id,
                });
            }
        }
    }

    /// Reaps ended workers, replaces crashed ones within the budget, and handles stalled tasks
    /// (docs/semantics.md#worker-restarts).
    fn check_workers(&mut self) {
        let now = Instant::now();
        for t in 0..self.tasks.len() {
            if !self.tasks[t].started {
                continue;
            }
            let done = self.state(t).is_done();
            let budget = self.tasks[t].task.max_worker_restarts();
            for ended in self.tasks[t].pool.reap() {
                match ended.exit {
                    daisy_launch::WorkerExit::Success => {
                        tracing::info!(
                            "worker {} of task {} exited",
                            ended.worker_id,
                            self.tasks[t].task.task_id()
                        );
                    }
                    daisy_launch::WorkerExit::Failed { code, signal } => {
                        tracing::warn!(
                            "worker {} of task {} died (exit code {code:?}, signal {signal:?})",
                            ended.worker_id,
                            self.tasks[t].task.task_id()
                        );
                        if !done
                            && self.tasks[t].abandoned.is_none()
                            && self.tasks[t].pool.restarts < budget
                        {
                            self.tasks[t].pool.restarts += 1;
                            self.start_worker(t);
                        }
                    }
                }
            }
            let state = self.state(t);
            let run = &self.tasks[t];
            let stalled = !done
                && run.abandoned.is_none()
                && (state.ready_count > 0 || !run.checks.checked.is_empty())
                && state.processing_count == 0
                && run.pool.alive() == 0
                && run.connections == 0;
            if !stalled {
                self.tasks[t].stalled_since = None;
                continue;
            }
            let since = *self.tasks[t].stalled_since.get_or_insert(now);
            if now.duration_since(since) < self.options.stall_grace {
                continue;
            }
            self.tasks[t].stalled_since = None;
            if self.tasks[t].pool.restarts < budget {
                self.tasks[t].pool.restarts += 1;
                self.start_worker(t);
            } else {
                self.abandon(t, budget);
            }
        }
    }

    fn abandon(&mut self, t: usize, budget: u32) {
        let task_id = self.tasks[t].task.task_id().clone();
        let reason = format!(
            "no worker left and the restart budget is used up (max_worker_restarts = {budget}, {} workers started)",
            self.tasks[t].pool.started
        );
        tracing::error!("abandoning task {task_id}: {reason}");
        self.tasks[t].abandoned = Some(reason);
        if let Err(e) = self.scheduler.abandon_task(&task_id) {
            tracing::error!("cannot abandon task {task_id}: {e}");
        }
        self.notify_progress(t);
    }

    // ---- reporting ----

    fn state(&self, t: usize) -> TaskState {
        self.scheduler
            .task_state(self.tasks[t].task.task_id())
            .copied()
            .unwrap_or_default()
    }

    fn notify_progress(&mut self, t: usize) {
        if self.observers.is_empty() {
            return;
        }
        let state = self.state(t);
        let task_id = self.tasks[t].task.task_id().clone();
        for o in &mut self.observers {
            o.on_event(&RunEvent::Progress {
                task_id: &task_id,
                state: &state,
            });
        }
    }

    fn report_done(&mut self) {
        for t in 0..self.tasks.len() {
            let state = self.state(t);
            if self.tasks[t].done_reported || !state.is_done() {
                continue;
            }
            self.tasks[t].done_reported = true;
            if !self.started_order.contains(&t) {
                self.started_order.push(t);
            }
            // Workers waiting for more get told to stop.
            while let Some((conn, _)) = self.tasks[t].parked.pop_front() {
                self.send(conn, ServerMessage::RequestShutdown);
            }
            let task_id = self.tasks[t].task.task_id().clone();
            for o in &mut self.observers {
                o.on_event(&RunEvent::TaskDone {
                    task_id: &task_id,
                    state: &state,
                });
            }
        }
    }

    /// Stops everything: tells waiting workers to stop, closes connections, gives workers a
    /// moment to exit on their own, kills the rest, and builds the report.
    async fn finish(&mut self, interrupted: bool) -> RunReport {
        for t in 0..self.tasks.len() {
            while let Some((conn, _)) = self.tasks[t].parked.pop_front() {
                self.send(conn, ServerMessage::RequestShutdown);
            }
        }
        for conn in self.conns.values() {
            let _ = conn.outbox.send(Outgoing::Close);
        }
        let grace = Instant::now() + self.options.shutdown_grace;
        while self.tasks.iter().any(|t| t.pool.alive() > 0) && Instant::now() < grace {
            for t in &mut self.tasks {
                t.pool.reap();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        for t in &mut self.tasks {
            t.pool.kill_all();
        }
        if let Err(e) = self.scheduler.sync_done_markers() {
            tracing::error!("{e}");
        }
        let mut order = self.started_order.clone();
        for (id, _) in self.scheduler.task_states() {
            if let Some(&t) = self.index.get(&**id) {
                if !order.contains(&t) {
                    order.push(t);
                }
            }
        }
        let report = RunReport {
            tasks: order
                .into_iter()
                .map(|t| TaskReport {
                    task_id: self.tasks[t].task.task_id().to_string(),
                    state: self.state(t),
                    abandoned: self.tasks[t].abandoned.clone(),
                    failures: std::mem::take(&mut self.tasks[t].failures),
                    workers_started: self.tasks[t].pool.started,
                })
                .collect(),
            interrupted,
        };
        for o in &mut self.observers {
            o.on_event(&RunEvent::Exit { report: &report });
        }
        report
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

fn now_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
