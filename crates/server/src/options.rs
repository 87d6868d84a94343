//! How a run is set up: launchers per task, and the server's knobs.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use daisy_launch::Launcher;
use daisy_protocol::DEFAULT_MAX_FRAME;

/// The launcher of each task, with a default for the others.
#[derive(Clone, Default)]
pub struct Launchers {
    default: Option<Arc<dyn Launcher>>,
    per_task: HashMap<String, Arc<dyn Launcher>>,
}

impl Launchers {
    /// Every task uses `launcher`.
    #[must_use]
    pub fn all(launcher: Arc<dyn Launcher>) -> Self {
        Self {
            default: Some(launcher),
            per_task: HashMap::new(),
        }
    }

    /// Task `task_id` uses `launcher`.
    #[must_use]
    pub fn with_task(mut self, task_id: &str, launcher: Arc<dyn Launcher>) -> Self {
        self.per_task.insert(task_id.to_owned(), launcher);
        self
    }

    /// The launcher of a task.
    #[must_use]
    pub fn for_task(&self, task_id: &str) -> Option<Arc<dyn Launcher>> {
        self.per_task
            .get(task_id)
            .or(self.default.as_ref())
            .cloned()
    }
}

/// The server's knobs; `Default` gives daisy's behaviour.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// The run's secret token; a random one if `None`.
    pub token: Option<String>,
    /// The largest frame accepted.
    pub max_frame: u32,
    /// Where worker logs go: `<logdir>/<task_id>/worker_<N>.out/.err`; `None` does not redirect.
    pub logdir: Option<PathBuf>,
    /// The most blocks a worker started by the server asks for at a time (it asks for one
    /// while blocks take long, and batches only quick ones: `daisy_client::Prefetch`).
    pub prefetch: u32,
    /// How long a task may have ready blocks but no worker before a replacement is started
    /// (the last-worker rule, docs/semantics.md#worker-restarts).
    pub stall_grace: Duration,
    /// How often workers are checked for having ended.
    pub health_interval: Duration,
    /// How long workers get to exit on their own when the run ends, before they are killed.
    pub shutdown_grace: Duration,
    /// Whether connections are encrypted with TLS (docs/protocol.md): `None` (the default)
    /// for TLS unless the listener's address is loopback; `Some(true)` or `Some(false)` force
    /// it on or off.
    pub tls: Option<bool>,
    /// How long a new connection may take to complete the handshake before it is closed.
    pub handshake_timeout: Duration,
    /// The most connections that may wait for their handshake at once (over it, the oldest
    /// waiting one of the address with the most is closed); `None`: a quarter of the open
    /// file limit, between 16 and 1,024.
    pub max_unauthenticated: Option<usize>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            token: None,
            max_frame: DEFAULT_MAX_FRAME,
            logdir: Some(PathBuf::from("daisy_logs")),
            prefetch: 32,
            stall_grace: Duration::from_secs(5),
            health_interval: Duration::from_millis(100),
            shutdown_grace: Duration::from_secs(2),
            tls: None,
            handshake_timeout: Duration::from_secs(5),
            max_unauthenticated: None,
        }
    }
}
