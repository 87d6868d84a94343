//! `CommandLauncher` with real shells: substitution, quoting, validation, and the process checks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::Path;

use daisy_launch::conformance::{self, scripts};
use daisy_launch::{CommandLauncher, LaunchError, Launcher, WorkerExit, WorkerSpec};
use daisy_protocol::Context;

fn with_pid_file(template: &str, pid_file: &Path) -> CommandLauncher {
    CommandLauncher::new(template)
        .unwrap()
        .env(scripts::PID_FILE_VARIABLE, pid_file)
}

fn run_to_end(launcher: &CommandLauncher, spec: &WorkerSpec) -> (String, String) {
    let mut handle = launcher.launch(spec).unwrap();
    let exit = conformance::wait_for_exit(handle.as_mut(), conformance::EXIT_TIMEOUT);
    assert_eq!(exit, Some(WorkerExit::Success));
    let (out, err) = handle.log_files().unwrap();
    (
        fs::read_to_string(out).unwrap(),
        fs::read_to_string(err).unwrap(),
    )
}

#[test]
fn placeholders_are_substituted_and_quoted() {
    let dir = tempfile::tempdir().unwrap();
    let logdir = dir.path().join("my logs");
    let context =
        Context::for_worker(Some("a dir with spaces"), "127.0.0.1", 4242, "A", 3, "tok").unwrap();
    let spec = WorkerSpec {
        task_id: "A".into(),
        worker_id: 3,
        context: context.clone(),
        log_basename: Some(daisy_launch::log_basename(&logdir, "A", 3)),
    };
    // Each substituted value arrives as one argument: printf prints one line per argument.
    let launcher =
        CommandLauncher::new("printf '%s\\n' {task_id} {worker_id} {context} {log_out} {log_err}")
            .unwrap();
    let (out, _) = run_to_end(&launcher, &spec);
    let (log_out, log_err) = daisy_launch::log_file_paths(spec.log_basename.as_deref().unwrap());
    assert_eq!(
        out,
        format!(
            "A\n3\n{}\n{}\n{}\n",
            context.to_env(),
            log_out.display(),
            log_err.display()
        )
    );
}

#[test]
fn log_placeholders_are_empty_words_without_redirection() {
    let launcher =
        CommandLauncher::new(r#"test -z {log_out} && test -z {log_err} && [ $# -eq 0 ]"#).unwrap();
    conformance::worker_that_succeeds_is_reaped(&launcher, &conformance::spec("A", 0, None));
}

#[test]
fn the_template_output_lands_in_the_log_files() {
    let dir = tempfile::tempdir().unwrap();
    let launcher =
        CommandLauncher::new("echo submitted {task_id}_{worker_id}; echo warning >&2").unwrap();
    let (out, err) = run_to_end(&launcher, &conformance::spec("A", 4, Some(dir.path())));
    assert_eq!(out, "submitted A_4\n");
    assert_eq!(err, "warning\n");
}

#[test]
fn unknown_placeholder_is_rejected_at_construction() {
    let err = CommandLauncher::new("sbatch --wait --job-name={job_name} run.sh").unwrap_err();
    match &err {
        LaunchError::Template { template, problem } => {
            assert_eq!(template, "sbatch --wait --job-name={job_name} run.sh");
            assert!(problem.contains("{job_name}"), "{problem}");
        }
        other => panic!("unexpected error {other}"),
    }
    assert!(err.to_string().contains("job_name"), "{err}");
}

#[test]
fn double_braces_escape() {
    let dir = tempfile::tempdir().unwrap();
    let launcher =
        CommandLauncher::new("echo '{{{worker_id}}}'; f() {{ echo in-function; }}; f").unwrap();
    let (out, _) = run_to_end(&launcher, &conformance::spec("A", 5, Some(dir.path())));
    assert_eq!(out, "{5}\nin-function\n");
}

#[test]
fn context_reaches_the_command_environment() {
    let dir = tempfile::tempdir().unwrap();
    conformance::context_reaches_worker_and_output_is_redirected(
        &CommandLauncher::new(scripts::ECHO_CONTEXT).unwrap(),
        &conformance::spec("A", 1, Some(dir.path())),
    );
}

#[test]
fn exit_codes_and_kill() {
    conformance::worker_that_fails_is_reported(
        &CommandLauncher::new(scripts::EXIT_3).unwrap(),
        &conformance::spec("A", 2, None),
        Some(3),
    );
    let exit = conformance::running_worker_can_be_killed(
        &CommandLauncher::new(scripts::SLEEP).unwrap(),
        &conformance::spec("A", 3, None),
    );
    assert_eq!(
        exit,
        WorkerExit::Failed {
            code: None,
            signal: Some(9)
        }
    );
}

#[test]
fn kill_ends_the_submitting_process_tree() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("grandchild.pid");
    conformance::kill_ends_the_process_tree(
        &with_pid_file(scripts::SPAWN_GRANDCHILD, &pid_file),
        &conformance::spec("A", 4, None),
        &pid_file,
    );
}

#[test]
fn the_whole_suite_passes() {
    let dir = tempfile::tempdir().unwrap();
    conformance::process_launcher_suite(
        &|script, pid_file| Box::new(with_pid_file(script, pid_file)),
        dir.path(),
    );
}
