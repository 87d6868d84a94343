//! Starting daisy's workers: threads, local processes, or jobs submitted with a command
//! template (`bsub`, `qsub`, `sbatch`).
//!
//! The server decides *when* a task needs a worker (docs/semantics.md#the-distributed-run, #worker-restarts); a [`Launcher`]
//! decides *how* one is started. Each worker is described by a [`WorkerSpec`]: its task, its
//! id (from [`next_worker_id`]), its [`Context`](daisy_protocol::Context), which tells it where
//! the server is, and where its output goes ([`log_basename`]). A launcher returns a
//! [`WorkerHandle`] that the server polls ([`WorkerHandle::try_wait`]) and, on a timeout or at
//! the end of the run, kills ([`WorkerHandle::kill`]).
//!
//! - [`ProcessLauncher`]: a local program; the context arrives in `DAISY_CONTEXT`, the
//!   worker runs in its own process group (killing it kills everything it started) and its
//!   stdout / stderr go to `<logdir>/<task_id>/worker_<id>.out` / `.err`.
//! - [`CommandLauncher`]: a shell command made from a template, for cluster schedulers;
//!   otherwise like [`ProcessLauncher`].
//! - [`SlurmLauncher`]: a SLURM batch job per worker (`sbatch`, watched with `scontrol`,
//!   cancelled with `scancel`), with the task's `sbatch` options ([`SlurmOptions`]).
//! - [`ThreadLauncher`]: a Rust function in a thread of the server's process (threads
//!   cannot be killed, see its docs).
//!
//! With the `tests` feature, [`conformance`] holds the checks every launcher passes.
//!
//! ```
//! use std::time::Duration;
//! use daisy_launch::{Launcher, ProcessLauncher, WorkerExit, WorkerSpec, log_basename, next_worker_id};
//! use daisy_protocol::Context;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let logdir = std::env::temp_dir().join(format!("daisy-launch-example-{}", std::process::id()));
//! let launcher = ProcessLauncher::new("sh", ["-c", r#"echo "worker sees $DAISY_CONTEXT""#]);
//!
//! let worker_id = next_worker_id();
//! let context = Context::for_worker(None, "127.0.0.1", 4242, "smooth", worker_id, "secret");
//! let spec = WorkerSpec {
//!     task_id: "smooth".into(),
//!     worker_id,
//!     context: context.clone(),
//!     log_basename: Some(log_basename(&logdir, "smooth", worker_id)),
//! };
//! let mut worker = launcher.launch(&spec)?;
//! let exit = loop {
//!     if let Some(exit) = worker.try_wait()? {
//!         break exit;
//!     }
//!     std::thread::sleep(Duration::from_millis(10));
//! };
//! assert_eq!(exit, WorkerExit::Success);
//!
//! let (out, _err) = worker.log_files().ok_or("output is redirected")?;
//! assert_eq!(std::fs::read_to_string(out)?, format!("worker sees {}\n", context.to_env()));
//! # std::fs::remove_dir_all(&logdir)?;
//! # Ok(())
//! # }
//! ```

mod command;
mod error;
mod launcher;
mod pid;
mod process;
mod process_handle;
mod process_settings;
mod slurm;
mod template;
mod thread;
mod worker_id;

#[cfg(feature = "tests")]
pub mod conformance;

pub use command::CommandLauncher;
pub use error::LaunchError;
pub use launcher::{Launcher, WorkerExit, WorkerHandle, WorkerSpec, log_basename, log_file_paths};
pub use pid::PidHandle;
pub use process::ProcessLauncher;
pub use slurm::{SlurmLauncher, SlurmOptions};
pub use thread::{ThreadLauncher, WorkerError};
pub use worker_id::next_worker_id;
