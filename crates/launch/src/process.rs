//! `ProcessLauncher`: each worker is a local process running a given program.

use std::ffi::OsString;
use std::process::Command;

use crate::process_handle::spawn_worker;
use crate::process_settings::{ProcessSettings, settings_builder};
use crate::{LaunchError, Launcher, WorkerHandle, WorkerSpec};

/// Starts each worker as a local process running `program` with `args`.
///
/// Every worker gets:
/// - `DAISY_CONTEXT` set to its context (this wins over a `DAISY_CONTEXT` given to
///   [`env`](Self::env)), on top of the server's environment and the [`env`](Self::env) entries;
/// - its own process group, so [`WorkerHandle::kill`] ends everything it started;
/// - a null stdin, and stdout / stderr redirected at the file-descriptor level to
///   `<log_basename>.out` / `.err` (parent directories created, files truncated), so the
///   programs it starts write there too; with no log basename they are inherited.
///
/// Dropping the handle of a worker that is still running kills its process group.
///
/// ```
/// use daisy_launch::{Launcher, ProcessLauncher, WorkerExit, WorkerSpec};
/// use daisy_protocol::Context;
///
/// let launcher = ProcessLauncher::new("sh", ["-c", "test -n \"$DAISY_CONTEXT\""]);
/// let context = Context::for_worker(None, "127.0.0.1", 4242, "A", 0, "secret");
/// let spec = WorkerSpec { task_id: "A".into(), worker_id: 0, context, log_basename: None };
/// let mut worker = launcher.launch(&spec).unwrap();
/// let exit = loop {
///     if let Some(exit) = worker.try_wait().unwrap() {
///         break exit;
///     }
///     std::thread::sleep(std::time::Duration::from_millis(10));
/// };
/// assert_eq!(exit, WorkerExit::Success);
/// ```
#[derive(Debug, Clone)]
pub struct ProcessLauncher {
    program: OsString,
    args: Vec<OsString>,
    settings: ProcessSettings,
}

settings_builder!(ProcessLauncher, "worker");

impl ProcessLauncher {
    /// A launcher running `program` (looked up in `PATH` if it has no `/`) with `args`.
    pub fn new<I, S>(program: impl Into<OsString>, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        Self {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            settings: ProcessSettings::default(),
        }
    }

    /// The program, for errors and logs.
    fn program_name(&self) -> String {
        self.program.to_string_lossy().into_owned()
    }
}

impl Launcher for ProcessLauncher {
    /// Starts the program as the worker of `spec`.
    ///
    /// # Errors
    ///
    /// [`LaunchError::LogFile`] if a log file or its directory cannot be created,
    /// [`LaunchError::Spawn`] (naming the program) if the program cannot be started.
    fn launch(&self, spec: &WorkerSpec) -> Result<Box<dyn WorkerHandle>, LaunchError> {
        let mut command = Command::new(&self.program);
        command.args(&self.args);
        Ok(Box::new(spawn_worker(
            command,
            &self.program_name(),
            &self.settings,
            spec,
        )?))
    }

    fn name(&self) -> &str {
        "processes"
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn builder_collects_settings() {
        let launcher = ProcessLauncher::new("python3", ["-m", "worker"])
            .env("A", "1")
            .current_dir("/tmp");
        assert_eq!(launcher.program_name(), "python3");
        assert_eq!(
            launcher.args,
            vec![OsString::from("-m"), OsString::from("worker")]
        );
        assert_eq!(
            launcher.settings.env,
            vec![(OsString::from("A"), OsString::from("1"))]
        );
        assert_eq!(launcher.settings.current_dir, Some(PathBuf::from("/tmp")));
        assert_eq!(launcher.name(), "processes");
    }
}
