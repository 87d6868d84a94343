//! The server: one task owning the scheduler, fed by connections, checks, timers and workers.
//!
//! [`Server::run`] accepts connections on a listener; each connection runs on its own task
//! (`connection.rs`) and sends what its worker says into one queue. The run's loop takes one
//! thing at a time from that queue, the check results, the earliest block deadline, the
//! worker health tick and the shutdown signal, and applies it: a [`ClientMessage`] is
//! dispatched to the concern it is about ([`Run::apply`]), like a command in a key-value
//! server. After each step, parked requests are served, new workers recruited and finished
//! tasks reported.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use daisy_core::{Block, BlockId, BlockStatus, Scheduler, Task};
use daisy_protocol::{ClientMessage, ServerMessage, TlsIdentity};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::admission::Admission;
use crate::checks::{CheckDone, Checks};
use crate::connection::{self, ConnEvent, ConnId, Connections};
use crate::dispatch::{Dispatch, Out, now_seconds};
use crate::reporting::{self, Reporting};
use crate::supervision::{Health, PoolConfig, PoolEvent, Supervisor, WorkerPool};
use crate::{
    BlockFailure, Launchers, LocalEndpoint, Observer, RunReport, ServerError, ServerOptions,
};

/// A run of the scheduler server, set up step by step.
///
/// ```no_run
/// # async fn example(scheduler: daisy_core::Scheduler, launchers: daisy_server::Launchers)
/// # -> Result<(), daisy_server::ServerError> {
/// use daisy_server::{Progress, Server, ServerOptions};
///
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// let report = Server::new(scheduler, launchers, ServerOptions::default())
///     .observer(Box::new(Progress::new()))
///     .run(listener, async { let _ = tokio::signal::ctrl_c().await; })
///     .await?;
/// println!("{report}");
/// # Ok(()) }
/// ```
pub struct Server {
    scheduler: Scheduler,
    launchers: Launchers,
    options: ServerOptions,
    observers: Vec<Box<dyn Observer>>,
    local: Option<LocalEndpoint>,
    advertise: Option<String>,
}

impl Server {
    /// A server for the scheduler's tasks, whose workers `launchers` start.
    #[must_use]
    pub fn new(scheduler: Scheduler, launchers: Launchers, options: ServerOptions) -> Self {
        Self {
            scheduler,
            launchers,
            options,
            observers: Vec::new(),
            local: None,
            advertise: None,
        }
    }

    /// Adds an observer of the run's events.
    #[must_use]
    pub fn observer(mut self, observer: Box<dyn Observer>) -> Self {
        self.observers.push(observer);
        self
    }

    /// Adds observers of the run's events.
    #[must_use]
    pub fn observers(mut self, observers: impl IntoIterator<Item = Box<dyn Observer>>) -> Self {
        self.observers.extend(observers);
        self
    }

    /// Also serves in-process workers through this endpoint ([`crate::local_transport`]).
    #[must_use]
    pub fn local(mut self, endpoint: LocalEndpoint) -> Self {
        self.local = Some(endpoint);
        self
    }

    /// The host workers are told to connect to; by default the listener's address (or
    /// `127.0.0.1` if it listens on all interfaces).
    #[must_use]
    pub fn advertise(mut self, host: impl Into<String>) -> Self {
        self.advertise = Some(host.into());
        self
    }

    /// Serves the scheduler's blocks to workers until every task is done, `shutdown` resolves
    /// (e.g. Ctrl-C: the report says `interrupted`), or a worker reports a `ClientException`.
    ///
    /// Workers connect to `listener` (bound by the caller; port 0 is fine), or through the
    /// in-process endpoint. Workers are recruited per task when it first has ready blocks,
    /// through the task's launcher, and connect back with the run token. Checks, init
    /// callbacks and launches run on threads of their own, never on the event loop; a parked
    /// request is answered the moment a block of its task becomes ready.
    ///
    /// # Errors
    ///
    /// Before anything starts: [`ServerError::NoLauncher`] if a task has no launcher,
    /// [`ServerError::Listen`] if the listener has no address, [`ServerError::Token`] if no
    /// token can be generated, [`ServerError::Tls`] if TLS is on and no certificate can be
    /// made. After cleanup: [`ServerError::ClientException`] if a client
    /// sent one, [`ServerError::InitCallback`] if a task's init callback failed.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<RunReport, ServerError> {
        let address = listener
            .local_addr()
            .map_err(|source| ServerError::Listen {
                address: "the given listener".to_owned(),
                source,
            })?;
        widen_backlog(&listener);
        let hostname = self.advertise.unwrap_or_else(|| advertised(address));
        let token = match &self.options.token {
            Some(t) => t.clone(),
            None => crate::token::generate()?,
        };
        // TLS unless on loopback (docs/protocol.md): a new certificate for every run.
        let tls = if self.options.tls.unwrap_or(!address.ip().is_loopback()) {
            Some(Arc::new(TlsIdentity::generate()?))
        } else {
            None
        };
        let tasks: Vec<Arc<Task>> = self.scheduler.dependency_graph().tasks().to_vec();
        let mut pools = Vec::with_capacity(tasks.len());
        for task in &tasks {
            let launcher =
                self.launchers
                    .for_task(task.task_id())
                    .ok_or_else(|| ServerError::NoLauncher {
                        task_id: task.task_id().to_string(),
                    })?;
            pools.push(WorkerPool::new(task, launcher));
        }
        let (events_tx, events) = match self.local {
            Some(endpoint) => endpoint.events,
            None => mpsc::unbounded_channel(),
        };
        let (checks, check_results) = Checks::new(tasks.len());
        // Graceful shutdown starts here: the accept loop is a task of its own, aborted the
        // moment the event loop ends, so no connection is accepted while the run winds down
        // (connections already accepted keep their tasks until `Run::finish` closes them).
        let limit = crate::descriptor_limit::raise();
        let admission = Admission::new(
            self.options
                .max_unauthenticated
                .unwrap_or_else(|| crate::descriptor_limit::waiting_cap(limit)),
            self.options.handshake_timeout,
        );
        let accepting = tokio::spawn(accept_loop(
            listener,
            Arc::from(token.as_str()),
            self.options.max_frame,
            events_tx,
            Arc::clone(&admission),
            tls.clone(),
        ));
        let config = PoolConfig {
            hostname,
            port: address.port(),
            token,
            logdir: self.options.logdir.clone(),
            prefetch: self.options.prefetch,
            tls_fingerprint: tls.as_ref().map(|t| t.fingerprint().to_owned()),
        };
        let mut run = Run {
            index: tasks
                .iter()
                .enumerate()
                .map(|(t, task)| (task.task_id().to_string(), t))
                .collect(),
            conns: Connections::new(tasks.len()),
            dispatch: Dispatch::new(tasks.len()),
            checks,
            supervisor: Supervisor::new(pools, config, self.options.stall_grace),
            reporting: Reporting::new(self.observers, tasks.len()),
            tasks,
            scheduler: self.scheduler,
            health_interval: self.options.health_interval,
            shutdown_grace: self.options.shutdown_grace,
            abort: None,
        };
        let interrupted = run.event_loop(events, check_results, shutdown).await;
        accepting.abort();
        admission.flush();
        let report = run.finish(interrupted).await;
        match run.abort.take() {
            Some(error) => Err(error),
            None => Ok(report),
        }
    }
}

/// The host to advertise for a listener's address.
fn advertised(address: SocketAddr) -> String {
    if address.ip().is_unspecified() {
        std::net::Ipv4Addr::LOCALHOST.to_string()
    } else {
        address.ip().to_string()
    }
}

/// The most connections the kernel queues for `accept` (tokio listens with 128).
const BACKLOG: i32 = 1024;

/// Lets the kernel queue [`BACKLOG`] connections for `accept` (listening again only changes
/// the queue's length): with tokio's 128, a thousand workers starting together, or a flood
/// of idle connections, overflow the queue, and every dropped connection request costs its
/// worker a second before it is sent again.
fn widen_backlog(listener: &TcpListener) {
    use nix::sys::socket::{Backlog, listen};
    let backlog = Backlog::new(BACKLOG).unwrap_or(Backlog::MAXCONN);
    if let Err(e) = listen(listener, backlog) {
        tracing::debug!("cannot lengthen the listener's queue to {BACKLOG}: {e}");
    }
}

/// Accepts connections until aborted; each is served on its own task, and waits for its
/// handshake under `admission` (`admission.rs`: the cap, the deadline, the warnings).
///
/// A connection is accepted as a [`tokio::net::TcpStream`] here and handed to
/// [`connection::serve`], which wraps it in TLS if `tls` is given.
async fn accept_loop(
    listener: TcpListener,
    token: Arc<str>,
    max_frame: u32,
    events: mpsc::UnboundedSender<ConnEvent>,
    admission: Arc<Admission>,
    tls: Option<Arc<TlsIdentity>>,
) {
    let mut next: ConnId = 0;
    let mut warnings = tokio::time::interval(crate::admission::WARNING_INTERVAL);
    warnings.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = warnings.tick() => {
                admission.flush();
                continue;
            }
        };
        match accepted {
            Ok((stream, address)) => {
                next += 1;
                let _ = stream.set_nodelay(true);
                let ticket = admission.admit(next, address);
                tokio::spawn(connection::serve(
                    stream,
                    address,
                    next,
                    Arc::clone(&token),
                    max_frame,
                    events.clone(),
                    ticket,
                    tls.clone(),
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

/// The state of a run: each concern owns its part, the loop ties them together.
///
/// Graceful shutdown: the loop ends when every task is done, the shutdown future resolves
/// (the report says `interrupted`) or `abort` is set; [`Run::finish`] then winds the fields
/// down as each field's comment says, in this order: `dispatch`, `conns`, `supervisor`,
/// `scheduler`, `reporting`; `abort` decides what `run` returns.
struct Run {
    /// The blocks and their dependencies; only the loop touches it. At shutdown: its done
    /// markers are written (after the workers are gone, so no release can race the write).
    scheduler: Scheduler,
    /// The tasks, in the scheduler's order: `t` in every concern is an index into this.
    tasks: Vec<Arc<Task>>,
    /// Task id to `t`.
    index: HashMap<String, usize>,
    /// Parked requests, blocks out, deadlines. At shutdown: every parked request is told to
    /// stop (`RequestShutdown`) first, so waiting workers exit by themselves; blocks still
    /// out stay out (they count as processing in the report).
    dispatch: Dispatch,
    /// The connections that passed the handshake. At shutdown: every connection's writer is
    /// told to close after what is queued (the stop requests above are sent first).
    conns: Connections,
    /// The worker pools and restart budgets. At shutdown: workers get `shutdown_grace` to
    /// exit on their own (reaped every 10 ms), then the rest are killed with their process
    /// groups; nothing is restarted any more.
    supervisor: Supervisor,
    /// How long workers get to exit on their own at the end.
    shutdown_grace: Duration,
    /// Pre- and post-checks in flight. At shutdown: nothing; checks still running finish on
    /// their blocking threads and their results are dropped with the channel.
    checks: Checks,
    /// Observers, failures, the report's task order. At shutdown: last, it builds the report
    /// from the final counters and hands it to the observers (`Exit`).
    reporting: Reporting,
    /// How often workers are checked for having ended.
    health_interval: Duration,
    /// Set when the run must stop early (a client sent a `ClientException`, an init callback failed):
    /// the loop ends, the shutdown above runs as usual, and `run` returns this error instead
    /// of the report.
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
        // tokio's interval panics on a zero period.
        let mut health = tokio::time::interval(self.health_interval.max(Duration::from_millis(1)));
        health.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.after_change();
        while !self.scheduler.all_done() && self.abort.is_none() {
            let deadline = self
                .dispatch
                .next_deadline()
                .map(tokio::time::Instant::from_std);
            tokio::select! {
                biased;
                () = &mut shutdown => return true,
                Some(event) = events.recv() => self.on_connection(event),
                Some(done) = checks.recv() => self.on_check(done),
                Some(event) = self.supervisor.next_event() => self.on_pool_event(event),
                () = sleep_until(deadline) => self.expire(Instant::now()),
                _ = health.tick() => self.check_workers(),
            }
            self.after_change();
        }
        false
    }

    // ---- connections and their messages ----

    fn on_connection(&mut self, event: ConnEvent) {
        match event {
            ConnEvent::Opened { conn, peer, outbox } => {
                let task = self.index.get(&peer.task_id).copied();
                self.conns.open(conn, task, peer.worker_id, outbox);
            }
            ConnEvent::Messages {
                conn,
                messages,
                in_flight,
            } => {
                for message in messages {
                    self.apply(conn, message);
                }
                // Applied: the connection may be read from again.
                drop(in_flight);
            }
            ConnEvent::Closed { conn, reason } => {
                let why = reason.map_or_else(
                    || "worker connection closed".to_owned(),
                    |r| format!("worker connection closed: {r}"),
                );
                self.drop_connection(conn, &why, false);
            }
        }
    }

    /// Applies one message of a worker.
    fn apply(&mut self, conn: ConnId, message: ClientMessage) {
        let Some((task, worker_id)) = self.conns.peer(conn) else {
            return; // a connection we gave up on (timeout): everything it says is stale
        };
        match message {
            ClientMessage::AcquireBlocks { task_id, max } => match self.index.get(&task_id) {
                Some(&t) => self.dispatch.park(t, conn, max),
                None => self.conns.send(conn, ServerMessage::RequestShutdown),
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
                let task_id =
                    task.map_or_else(String::new, |t| self.tasks[t].task_id().to_string());
                let error = ServerError::ClientException {
                    task_id,
                    worker_id,
                    error,
                };
                tracing::error!("{error}");
                self.abort = Some(error);
            }
            ClientMessage::Goodbye => {}
            ClientMessage::Hello { .. } => {
                tracing::warn!("closing connection {conn}: a second Hello");
                self.drop_connection(conn, "protocol violation: a second Hello", true);
            }
        }
    }

    /// Forgets a connection (closing it from our side if `close`); its blocks are lost.
    fn drop_connection(&mut self, conn: ConnId, why: &str, close: bool) {
        if !self.conns.remove(conn, close) {
            return;
        }
        for (t, out) in self.dispatch.take_held(conn) {
            self.lose(t, out, why);
        }
    }

    /// A block that is out will not come back: it fails (and may be retried).
    fn lose(&mut self, t: usize, out: Out, why: &str) {
        let mut block = out.block;
        block.status = BlockStatus::Failed;
        self.record_failure(t, &block.block_id, out.worker_id, format!("lost: {why}"));
        self.release_to_scheduler(t, &block);
    }

    /// A worker returned block `spatial_id` of task `t`: `None` means success, else the error.
    fn on_release(&mut self, conn: ConnId, t: usize, spatial_id: u64, error: Option<String>) {
        let Some(out) = self.dispatch.take_back(t, spatial_id, conn) else {
            tracing::debug!(
                "ignoring a stale release of {}/{spatial_id} from connection {conn}",
                self.tasks[t].task_id()
            );
            return;
        };
        let mut block = out.block;
        block.stopped_processing = Some(now_seconds());
        if let Some(error) = error {
            block.status = BlockStatus::Failed;
            // Logged by `reporting`, each distinct error once.
            self.record_failure(t, &block.block_id, out.worker_id, error);
            self.release_to_scheduler(t, &block);
            return;
        }
        block.status = BlockStatus::Success;
        if self.tasks[t].post_check_function().is_some() {
            // The block stays "processing" while its post-check runs off the loop.
            self.checks
                .start_post_check(t, &self.tasks[t], block, out.worker_id);
            return;
        }
        self.release_to_scheduler(t, &block);
    }

    fn release_to_scheduler(&mut self, t: usize, block: &Block) {
        if let Err(e) = self.scheduler.release_block(block) {
            tracing::error!("cannot release {}: {e}", block.block_id);
            return;
        }
        if block.status == BlockStatus::Success {
            self.supervisor.progressed(t);
        }
        self.reporting.progress(&self.tasks[t], &self.scheduler);
    }

    fn record_failure(
        &mut self,
        t: usize,
        block_id: &BlockId,
        worker_id: Option<u64>,
        error: String,
    ) {
        let log_files = worker_id.and_then(|w| self.supervisor.log_files(t, w));
        self.reporting.block_failed(
            t,
            BlockFailure {
                block_id: block_id.clone(),
                worker_id,
                error,
                log_files,
            },
        );
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
                self.checks
                    .pre_check_done(t, seq, block, done, &mut self.scheduler);
                self.reporting.progress(&self.tasks[t], &self.scheduler);
            }
            CheckDone::Post {
                t,
                mut block,
                worker_id,
                ok,
            } => {
                if !ok {
                    block.status = BlockStatus::Failed;
                    self.record_failure(
                        t,
                        &block.block_id,
                        worker_id,
                        daisy_core::POST_CHECK_FAILED.to_owned(),
                    );
                }
                self.release_to_scheduler(t, &block);
            }
        }
    }

    // ---- after every step ----

    /// Serves parked requests, starts workers, reports finished tasks.
    fn after_change(&mut self) {
        for t in 0..self.tasks.len() {
            if self.dispatch.has_parked(t)
                && self.dispatch.serve_parked(
                    t,
                    &self.tasks[t],
                    &mut self.scheduler,
                    &mut self.checks,
                    &self.conns,
                )
            {
                self.reporting.progress(&self.tasks[t], &self.scheduler);
            }
        }
        self.recruit();
        for t in 0..self.tasks.len() {
            let (scheduler, task) = (&self.scheduler, &self.tasks[t]);
            self.supervisor
                .start_due(t, || reporting::state(scheduler, task));
        }
        for t in 0..self.tasks.len() {
            if self.reporting.task_done(t, &self.tasks[t], &self.scheduler) {
                // Workers waiting for more get told to stop.
                self.dispatch.dismiss_parked(t, &self.conns);
            }
        }
    }

    /// Asks for the workers of tasks that got their first ready blocks (their init callbacks
    /// and launches run off the loop).
    fn recruit(&mut self) {
        for t in 0..self.tasks.len() {
            let task = &self.tasks[t];
            let has_work = self
                .scheduler
                .task_state(task.task_id())
                .is_some_and(|s| s.ready_count > 0);
            if self.supervisor.recruited(t) || !has_work || self.supervisor.abandoned(t).is_some() {
                continue;
            }
            self.reporting.task_started(t, task, &self.scheduler);
            self.supervisor.recruit(t, task);
        }
    }

    /// An init callback or a worker launch returned.
    fn on_pool_event(&mut self, event: PoolEvent) {
        if let Err(error) = self.supervisor.apply(event, &mut self.reporting) {
            tracing::error!("{error}");
            self.abort = Some(error);
        }
    }

    // ---- time ----

    /// Closes the connections holding blocks past their deadline (and kills their workers).
    fn expire(&mut self, now: Instant) {
        while let Some(expired) = self.dispatch.next_expired(now) {
            let task = &self.tasks[expired.t];
            let why = format!(
                "block {}/{} timed out after {} s",
                task.task_id(),
                expired.spatial_id,
                task.timeout().unwrap_or_default().as_secs_f64()
            );
            // The worker may be stuck anywhere: stop it and everything it holds.
            if let Some(w) = expired.worker_id {
                self.supervisor.kill(expired.t, w);
            }
            self.drop_connection(expired.conn, &why, true);
        }
    }

    /// Reaps ended workers, replaces crashed ones, abandons tasks nobody can work on.
    fn check_workers(&mut self) {
        let now = Instant::now();
        for t in 0..self.tasks.len() {
            let health = Health {
                state: reporting::state(&self.scheduler, &self.tasks[t]),
                has_checked: self.checks.has_checked(t),
                connections: self.conns.of_task(t),
            };
            let Some(reason) = self.supervisor.check(t, &health, now, &mut self.reporting) else {
                continue;
            };
            let task_id = self.tasks[t].task_id();
            if let Err(e) = self.scheduler.abandon_task(task_id) {
                tracing::error!("cannot abandon task {task_id}: {e}");
            }
            self.reporting
                .task_abandoned(&self.tasks[t], &self.scheduler, &reason);
            self.reporting.progress(&self.tasks[t], &self.scheduler);
        }
    }

    /// Stops everything (the order is [`Run`]'s) and builds the report.
    async fn finish(&mut self, interrupted: bool) -> RunReport {
        for t in 0..self.tasks.len() {
            self.dispatch.dismiss_parked(t, &self.conns);
        }
        self.conns.close_all();
        self.supervisor.shutdown(self.shutdown_grace).await;
        if let Err(e) = self.scheduler.sync_done_markers() {
            tracing::error!("{e}");
        }
        self.reporting
            .finish(&self.tasks, &self.scheduler, &self.supervisor, interrupted)
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Mutex;

    use daisy_geometry::Roi;
    use daisy_launch::ThreadLauncher;

    use super::*;
    use crate::{LocalConnector, RunEvent, local_transport};

    fn task(id: &str, blocks: i64, workers: usize) -> Arc<Task> {
        Task::builder(
            id,
            Roi::from_values(&[0], &[blocks]).unwrap(),
            Roi::from_values(&[0], &[1]).unwrap(),
            Roi::from_values(&[0], &[1]).unwrap(),
        )
        .num_workers(workers)
        .max_retries(0)
        .build()
        .unwrap()
    }

    /// In-process workers that fail block 0 and succeed on the others.
    fn threads(connector: LocalConnector) -> Launchers {
        Launchers::all(Arc::new(ThreadLauncher::new(move |context| {
            let task_id = context.task_id()?.to_owned();
            let Some(mut client) = connector.connect(&task_id, context.worker_id()?) else {
                return Ok(());
            };
            while let Some(blocks) = client.acquire_blocks(2) {
                for mut block in blocks {
                    // Slow enough for the second worker to start before the first is done.
                    std::thread::sleep(Duration::from_millis(5));
                    if block.spatial_id() == 0 {
                        client.fail(block, "zero".into());
                    } else {
                        block.status = BlockStatus::Success;
                        client.release(block);
                    }
                }
            }
            Ok(())
        })))
    }

    /// Writes down the kinds of events.
    struct Kinds(Arc<Mutex<Vec<&'static str>>>);

    impl Observer for Kinds {
        fn on_event(&mut self, event: &RunEvent<'_>) {
            let kind = match event {
                RunEvent::TaskStart { .. } => "start",
                RunEvent::Progress { .. } => return,
                RunEvent::TaskDone { .. } => "done",
                RunEvent::TaskAbandoned { .. } => "abandoned",
                RunEvent::BlockFailure { .. } => "failure",
                RunEvent::WorkerStarted { .. } => "worker",
                RunEvent::Exit { .. } => "exit",
            };
            self.0.lock().unwrap().push(kind);
        }
    }

    fn options() -> ServerOptions {
        ServerOptions {
            token: Some("secret".into()),
            logdir: None,
            ..ServerOptions::default()
        }
    }

    async fn listener() -> TcpListener {
        TcpListener::bind("127.0.0.1:0").await.unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_run_of_in_process_workers() {
        let scheduler = Scheduler::new(&[task("t", 10, 2)], true).unwrap();
        let (connector, endpoint) = local_transport();
        let events = Arc::new(Mutex::new(Vec::new()));
        let report = Server::new(scheduler, threads(connector), options())
            .observer(Box::new(Kinds(Arc::clone(&events))))
            .local(endpoint)
            .run(listener().await, std::future::pending())
            .await
            .unwrap();
        let t = report.task("t").unwrap();
        assert_eq!((t.state.completed_count, t.state.failed_count), (9, 1));
        assert_eq!(t.failures[0].error, "zero");
        assert_eq!(t.workers_started, 2);
        assert!(!report.interrupted && !report.succeeded());
        assert_eq!(
            *events.lock().unwrap(),
            ["start", "worker", "worker", "failure", "done", "exit"]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shutdown_interrupts_a_run_nobody_works_on() {
        let scheduler = Scheduler::new(&[task("t", 10, 1)], true).unwrap();
        // Workers that never connect: nothing happens until the shutdown.
        let idle = Launchers::all(Arc::new(ThreadLauncher::new(|_| Ok(()))));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let run = tokio::spawn(Server::new(scheduler, idle, options()).run(
            listener().await,
            async {
                let _ = stopped.await;
            },
        ));
        stop.send(()).unwrap();
        let report = run.await.unwrap().unwrap();
        assert!(report.interrupted);
        assert_eq!(report.task("t").unwrap().state.completed_count, 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_client_exception_aborts_with_the_worker_named() {
        let scheduler = Scheduler::new(&[task("crashy", 10, 1)], true).unwrap();
        let (connector, endpoint) = local_transport();
        let launchers = Launchers::all(Arc::new(ThreadLauncher::new(move |_| {
            if let Some(mut client) = connector.connect("crashy", Some(14)) {
                client.client_exception("RuntimeError('x')".into());
            }
            Ok(())
        })));
        let error = Server::new(scheduler, launchers, options())
            .local(endpoint)
            .run(listener().await, std::future::pending())
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "worker 14 of task crashy failed: RuntimeError('x')"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_task_without_launcher_is_refused_before_starting() {
        let scheduler = Scheduler::new(&[task("t", 1, 1)], true).unwrap();
        let error = Server::new(scheduler, Launchers::default(), options())
            .run(listener().await, std::future::pending())
            .await
            .unwrap_err();
        assert!(matches!(error, ServerError::NoLauncher { task_id } if task_id == "t"));
    }

    /// A run state with one task and no workers, to apply messages to by hand.
    fn run_state() -> Run {
        let task = task("t", 2, 1);
        let scheduler = Scheduler::new(&[Arc::clone(&task)], true).unwrap();
        let launcher: Arc<dyn daisy_launch::Launcher> = Arc::new(ThreadLauncher::new(|_| Ok(())));
        let config = crate::test_values::pool_config("secret");
        Run {
            index: HashMap::from([("t".to_owned(), 0)]),
            conns: Connections::new(1),
            dispatch: Dispatch::new(1),
            checks: Checks::new(1).0,
            supervisor: Supervisor::new(
                vec![WorkerPool::new(&task, launcher)],
                config,
                Duration::from_secs(1),
            ),
            reporting: Reporting::new(Vec::new(), 1),
            tasks: vec![task],
            scheduler,
            health_interval: Duration::from_secs(1),
            shutdown_grace: Duration::ZERO,
            abort: None,
        }
    }

    fn drain(rx: &mut mpsc::UnboundedReceiver<connection::Outgoing>) -> Vec<String> {
        let mut seen = Vec::new();
        while let Ok(item) = rx.try_recv() {
            seen.push(match item {
                connection::Outgoing::Message(ServerMessage::SendBlocks { blocks }) => {
                    format!("blocks {}", blocks.len())
                }
                connection::Outgoing::Message(ServerMessage::RequestShutdown) => "stop".into(),
                connection::Outgoing::Message(_) => "other".into(),
                connection::Outgoing::Close => "close".into(),
            });
        }
        seen
    }

    #[test]
    fn messages_are_dispatched_to_their_concern() {
        let mut run = run_state();
        let (tx, mut rx) = mpsc::unbounded_channel();
        run.conns.open(1, Some(0), Some(5), tx);
        // A request for an unknown task is told to stop at once.
        run.apply(
            1,
            ClientMessage::AcquireBlocks {
                task_id: "nope".into(),
                max: 1,
            },
        );
        assert_eq!(drain(&mut rx), ["stop"]);
        run.apply(
            1,
            ClientMessage::AcquireBlocks {
                task_id: "t".into(),
                max: 8,
            },
        );
        run.after_change();
        assert_eq!(drain(&mut rx), ["blocks 2"]);
        // Messages of a connection we do not know are ignored.
        run.apply(2, ClientMessage::Goodbye);
        // A second Hello closes the connection and loses its blocks.
        run.apply(1, ClientMessage::hello("secret", "t", Some(5)));
        assert_eq!(drain(&mut rx), ["close"]);
        let state = reporting::state(&run.scheduler, &run.tasks[0]);
        assert_eq!(state.failed_count + state.ready_count, 2);
        assert_eq!(run.conns.of_task(0), 0);
    }
}
