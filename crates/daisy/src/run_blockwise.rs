//! `run_blockwise`: runs tasks and their upstream tasks with workers, and reports.

use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::Arc;
use std::time::Duration;

use daisy_client::{Outcome, Prefetch, process_block};
use daisy_core::{BlockStatus, CoreError, Scheduler, Task};
use daisy_launch::{Launcher, ThreadLauncher};
use daisy_protocol::Context;
use daisy_server::{
    JsonEvents, Launchers, LocalConnector, Observer, ObserverThread, Progress, RunReport, Server,
    ServerError, ServerOptions, local_transport,
};

use crate::Listen;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgressMode {
    /// Bars on a terminal, status lines otherwise; the summary at the end.
    #[default]
    Auto,
    /// Status lines at INFO every interval; the summary at the end.
    Lines(Duration),
    /// Nothing, not even the summary.
    Off,
}

/// Everything `run_blockwise` can be told; `Default` runs every task's block function in
/// `num_workers` threads of this process.
pub struct RunOptions {
    /// The server's knobs (token, log directory, prefetch, grace periods).
    pub server: ServerOptions,
    /// How workers are started, per task; tasks without one run their block function in threads.
    pub launchers: Launchers,
    /// Where the server listens.
    pub listen: Listen,
    /// How progress is shown.
    pub progress: ProgressMode,
    /// A JSON-lines event stream, if wanted.
    pub json_events: Option<Box<dyn Write + Send>>,
    /// Count orphans the moment a block fails for good (daisy's default).
    pub count_all_orphans: bool,
    /// Stop cleanly on Ctrl-C.
    pub handle_ctrl_c: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            server: ServerOptions::default(),
            launchers: Launchers::default(),
            listen: Listen::default(),
            progress: ProgressMode::default(),
            json_events: None,
            count_all_orphans: true,
            handle_ctrl_c: true,
        }
    }
}

/// Why `run_blockwise` could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The tasks are invalid (e.g. two tasks share an id).
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The server could not run, or a worker's own code failed.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// The async runtime could not be started.
    #[error("cannot start the runtime: {0}")]
    Runtime(#[source] io::Error),
}

/// Runs the tasks and, recursively, their upstream tasks, and returns the report.
///
/// Check [`RunReport::succeeded`]: true only if every block succeeded or was skipped. Failed
/// blocks are listed with their worker, error and log files; the Execution Summary is printed
/// unless progress is off. Ctrl-C stops handing out blocks, stops the workers and returns.
///
/// ```
/// use std::sync::Arc;
/// use daisy::{run_blockwise, RunOptions, ProgressMode, Roi, Task};
///
/// let task = Task::builder(
///     "square",
///     Roi::from_values(&[0, 0], &[64, 64]).unwrap(),
///     Roi::from_values(&[0, 0], &[16, 16]).unwrap(),
///     Roi::from_values(&[0, 0], &[16, 16]).unwrap(),
/// )
/// .num_workers(2)
/// .process_function(|_block| Ok(()))
/// .build()
/// .unwrap();
/// let options = RunOptions { progress: ProgressMode::Off, ..RunOptions::default() };
/// let report = run_blockwise(&[task], options).unwrap();
/// assert!(report.succeeded());
/// ```
///
/// # Errors
///
/// [`RunError::Core`] for invalid tasks or a task that has neither a block function nor a
/// launcher, [`RunError::Server`] if the server cannot listen or a worker's own code failed
/// (`ClientException`), [`RunError::Runtime`] if no runtime (or no thread for the JSON event
/// stream) can be started.
pub fn run_blockwise(tasks: &[Arc<Task>], options: RunOptions) -> Result<RunReport, RunError> {
    let scheduler = Scheduler::new(tasks, options.count_all_orphans)?;
    let mut launchers = options.launchers;
    let (connector, endpoint) = local_transport();
    let threads = thread_launcher(&scheduler, connector);
    for task in scheduler.dependency_graph().tasks() {
        if launchers.for_task(task.task_id()).is_none() {
            if task.process_function().is_none() {
                return Err(CoreError::NoBlockFunction {
                    task_id: task.task_id().to_string(),
                }
                .into());
            }
            launchers = launchers.with_task(task.task_id(), Arc::clone(&threads));
        }
    }
    let mut observers: Vec<Box<dyn Observer>> = Vec::new();
    match options.progress {
        ProgressMode::Auto => observers.push(Box::new(Progress::new())),
        ProgressMode::Lines(interval) => observers.push(Box::new(Progress::status_lines(interval))),
        ProgressMode::Off => {}
    }
    if let Some(out) = options.json_events {
        // The stream may be a pipe nobody reads for a while: it must not stall the run.
        let events = Box::new(JsonEvents::new(out, Duration::from_millis(500)));
        observers.push(Box::new(
            ObserverThread::spawn(events).map_err(RunError::Runtime)?,
        ));
    }
    let handle_ctrl_c = options.handle_ctrl_c;
    let shutdown = async move {
        if handle_ctrl_c {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
            tracing::warn!("interrupted: stopping the workers");
        } else {
            std::future::pending::<()>().await;
        }
    };
    let server = Server::new(scheduler, launchers, options.server)
        .observers(observers)
        .local(endpoint);
    serve_on_this_thread(server, &options.listen, shutdown)
}

/// Runs `server` on this thread, listening where `listen` says (and advertising that address
/// to workers), until every task is done or `shutdown` resolves: the building block of
/// [`run_blockwise`] for front ends that bring their own launchers, observers and
/// interruption (e.g. the Python package).
///
/// One thread runs every connection, the run and the timers (fewer cross-thread wake-ups per
/// round trip than a multi-threaded runtime); checks, init callbacks and worker launches run on
/// threads of their own, so that user code never stalls the run.
///
/// ```
/// use std::sync::Arc;
/// use daisy::{Launchers, Listen, Roi, Scheduler, Server, ServerOptions, Task, ThreadLauncher};
///
/// let task = Task::builder(
///     "t",
///     Roi::from_values(&[0], &[4]).unwrap(),
///     Roi::from_values(&[0], &[1]).unwrap(),
///     Roi::from_values(&[0], &[1]).unwrap(),
/// )
/// .build()
/// .unwrap();
/// let scheduler = Scheduler::new(&[task], true).unwrap();
/// // Workers that never connect: the run ends when `shutdown` resolves.
/// let launchers = Launchers::all(Arc::new(ThreadLauncher::new(|_| Ok(()))));
/// let options = ServerOptions { logdir: None, ..ServerOptions::default() };
/// let server = Server::new(scheduler, launchers, options);
/// let report = daisy::serve_on_this_thread(server, &Listen::Loopback, async {}).unwrap();
/// assert!(report.interrupted);
/// ```
///
/// # Errors
///
/// As [`run_blockwise`], without the task validation: [`RunError::Runtime`] if no runtime
/// can be started, [`ServerError::Listen`] (in [`RunError::Server`]) if the address cannot be
/// bound, and what [`Server::run`] returns.
pub fn serve_on_this_thread(
    server: Server,
    listen: &Listen,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<RunReport, RunError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(RunError::Runtime)?;
    let (bind, host) = listen.resolve();
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .map_err(|source| ServerError::Listen {
                address: bind.to_string(),
                source,
            })?;
        Ok(server.advertise(host).run(listener, shutdown).await?)
    })
}

/// Workers as threads of this process, each running its task's block function, talking to the
/// run through the in-process transport (no sockets, no serialization).
fn thread_launcher(scheduler: &Scheduler, connector: LocalConnector) -> Arc<dyn Launcher> {
    let functions: HashMap<String, daisy_core::BlockFunction> = scheduler
        .dependency_graph()
        .tasks()
        .iter()
        .filter_map(|t| {
            t.process_function()
                .map(|f| (t.task_id().to_string(), Arc::clone(f)))
        })
        .collect();
    Arc::new(ThreadLauncher::new(move |context: Context| {
        let task_id = context.task_id()?.to_owned();
        let function = functions
            .get(&task_id)
            .ok_or_else(|| format!("task {task_id} has no block function"))?;
        let prefetch = context
            .get("prefetch")
            .and_then(|p| p.parse().ok())
            .unwrap_or(1);
        let worker_id = context.worker_id()?;
        let Some(mut client) = connector.connect(&task_id, worker_id) else {
            return Ok(());
        };
        let mut f = |block: &mut daisy_core::Block| function(block);
        let mut prefetch = Prefetch::new(prefetch);
        prefetch.block_started();
        while let Some(blocks) = client.acquire_blocks(prefetch.request()) {
            for mut block in blocks {
                prefetch.block_started();
                match process_block(&mut block, &mut f) {
                    Outcome::Succeeded => {
                        block.status = BlockStatus::Success;
                        client.release(block);
                    }
                    Outcome::Failed(error) => {
                        let error =
                            error.unwrap_or_else(|| daisy_protocol::RELEASED_AS_FAILED.to_owned());
                        // The server logs it (in this same process), each distinct error once.
                        client.fail(block, error);
                    }
                }
            }
        }
        Ok(())
    }))
}
