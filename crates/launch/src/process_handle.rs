//! Starting a worker as an OS process in its own process group; shared by the process-based
//! launchers, whose handles are [`PidHandle`]s.

use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::process_settings::ProcessSettings;
use crate::{LaunchError, PidHandle, WorkerSpec, log_file_paths};

/// Starts `command` as the worker described by `spec`.
///
/// Applies `settings`, then sets `DAISY_CONTEXT` (which wins over one in `settings`), puts the process in a new process group, gives it a null stdin and
/// redirects its stdout / stderr to the log files (file-descriptor level, so everything the
/// worker starts writes there too), or lets it inherit them when `spec.log_basename` is None.
/// `program` names the program in errors. The process is a child of this one: its
/// [`PidHandle`] watches it without reaping it until it is killed (see there).
pub(crate) fn spawn_worker(
    mut command: Command,
    program: &str,
    settings: &ProcessSettings,
    spec: &WorkerSpec,
) -> Result<PidHandle, LaunchError> {
    settings.apply(&mut command);
    command
        .env(daisy_protocol::ENV_VARIABLE, spec.context.to_env())
        .stdin(Stdio::null())
        .process_group(0);
    let log_files = match &spec.log_basename {
        Some(basename) => {
            let (out, err) = log_file_paths(basename);
            command.stdout(create_log_file(&out)?);
            command.stderr(create_log_file(&err)?);
            Some((out, err))
        }
        None => {
            command.stdout(Stdio::inherit()).stderr(Stdio::inherit());
            None
        }
    };
    let child = command.spawn().map_err(|e| LaunchError::Spawn {
        program: program.to_owned(),
        source: e.into(),
    })?;
    tracing::debug!(
        task_id = %spec.task_id,
        worker_id = spec.worker_id,
        pid = child.id(),
        program,
        "started worker process"
    );
    // Dropping `child` neither waits for nor kills the process: the handle does both.
    PidHandle::new(spec.worker_id, child.id(), log_files)
}

/// Creates (truncating) a log file and its parent directories.
pub(crate) fn create_log_file(path: &Path) -> Result<File, LaunchError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|source| LaunchError::LogFile {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    File::create(path).map_err(|source| LaunchError::LogFile {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_file_under_a_file_names_the_directory() {
        let dir = std::env::temp_dir().join(format!("daisy-launch-unit-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("plain");
        fs::write(&file, "x").unwrap();
        let err = create_log_file(&file.join("sub").join("worker_0.out")).unwrap_err();
        match err {
            LaunchError::LogFile { path, .. } => assert_eq!(path, file.join("sub")),
            other => panic!("unexpected error {other}"),
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}
