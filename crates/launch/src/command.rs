//! `CommandLauncher`: each worker is a shell command made from a template, typically a job
//! submission (`bsub`, `qsub`, `sbatch`).

use std::process::Command;

use crate::process_handle::spawn_worker;
use crate::process_settings::{ProcessSettings, settings_builder};
use crate::template::{Template, Values};
use crate::{LaunchError, Launcher, WorkerHandle, WorkerSpec, log_file_paths};

/// Starts each worker by running a command template with `sh -c`.
///
/// Placeholders in the template are replaced before the command runs:
///
/// | placeholder   | replaced by                                                          |
/// |---------------|----------------------------------------------------------------------|
/// | `{task_id}`   | the task id, shell-quoted                                            |
/// | `{worker_id}` | the worker id                                                        |
/// | `{context}`   | the worker's `DAISY_CONTEXT` string, shell-quoted                    |
/// | `{log_out}`   | the worker's `.out` file, shell-quoted; `''` when not redirected     |
/// | `{log_err}`   | the worker's `.err` file, shell-quoted; `''` when not redirected     |
///
/// `{{` and `}}` stand for literal braces; any other `{...}` is refused by [`new`](Self::new).
/// Otherwise the command runs as with [`ProcessLauncher`](crate::ProcessLauncher):
/// `DAISY_CONTEXT` in its environment, its own process group, stdout / stderr redirected to
/// the log files (the local output of the submitting command, e.g. `bsub`'s messages).
///
/// The command should **block for the lifetime of the job** (`sbatch --wait`, `bsub -K`,
/// `qsub -sync y`), as daisy documents: the server sees the worker end when the command ends,
/// and a command that returns while its job is still queued uses up the task's restarts
/// (docs/semantics.md#worker-restarts).
///
/// Killing the worker ([`WorkerHandle::kill`], timeouts, the end of the run) sends SIGKILL to
/// the **local** submitting process group only. Whether the cluster job is cancelled then is
/// up to the scheduler of the cluster (SIGKILL gives the submitting command no chance to cancel
/// it); in any case the server closes the job's connection, so a daisy worker in the job ends
/// once it next talks to the server.
///
/// ```
/// use daisy_launch::CommandLauncher;
///
/// let launcher = CommandLauncher::new(
///     "bsub -K -J daisy_{task_id}_{worker_id} -o {log_out} -e {log_err} python worker.py",
/// )
/// .unwrap();
/// assert!(CommandLauncher::new("sbatch --wait --job-name={job}").is_err());
/// # let _ = launcher;
/// ```
#[derive(Debug, Clone)]
pub struct CommandLauncher {
    template: Template,
    settings: ProcessSettings,
}

settings_builder!(CommandLauncher, "worker command");

impl CommandLauncher {
    /// A launcher running `template` with `sh -c` after substituting placeholders.
    ///
    /// # Errors
    ///
    /// [`LaunchError::Template`] for an unknown placeholder (named in the message), an unclosed
    /// `{` or an unmatched `}`.
    pub fn new(template: &str) -> Result<Self, LaunchError> {
        Ok(Self {
            template: Template::parse(template)?,
            settings: ProcessSettings::default(),
        })
    }

    /// The template as given.
    #[must_use]
    pub fn template(&self) -> &str {
        self.template.source()
    }

    /// The command line for a worker: the template with its placeholders substituted.
    #[must_use]
    pub fn command_line(&self, spec: &WorkerSpec) -> String {
        let log_files = spec.log_basename.as_deref().map(log_file_paths);
        let context = spec.context.to_env();
        self.template.render(&Values {
            task_id: &spec.task_id,
            worker_id: spec.worker_id,
            context: &context,
            log_files: log_files
                .as_ref()
                .map(|(out, err)| (out.as_path(), err.as_path())),
        })
    }
}

impl Launcher for CommandLauncher {
    /// Runs the worker's command line with `sh -c`.
    ///
    /// # Errors
    ///
    /// [`LaunchError::LogFile`] if a log file or its directory cannot be created,
    /// [`LaunchError::Spawn`] if `sh` cannot be started.
    fn launch(&self, spec: &WorkerSpec) -> Result<Box<dyn WorkerHandle>, LaunchError> {
        let line = self.command_line(spec);
        tracing::debug!(task_id = %spec.task_id, worker_id = spec.worker_id, command = %line, "running worker command");
        let mut command = Command::new("sh");
        command.arg("-c").arg(&line);
        Ok(Box::new(spawn_worker(command, "sh", &self.settings, spec)?))
    }

    fn name(&self) -> &str {
        "command template"
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use daisy_protocol::Context;

    #[test]
    fn command_line_substitutes() {
        let launcher =
            CommandLauncher::new("run {task_id} {worker_id} {context} {log_out}").unwrap();
        let context = Context::for_worker(Some("my logs"), "h", 1, "A", 2, "t");
        let spec = WorkerSpec {
            task_id: "A".into(),
            worker_id: 2,
            context,
            log_basename: Some(PathBuf::from("logs/A/worker_2")),
        };
        assert_eq!(
            launcher.command_line(&spec),
            "run A 2 'logdir=my logs:hostname=h:port=1:task_id=A:worker_id=2:token=t' logs/A/worker_2.out"
        );
        assert_eq!(launcher.name(), "command template");
        assert_eq!(
            launcher.template(),
            "run {task_id} {worker_id} {context} {log_out}"
        );
    }
}
