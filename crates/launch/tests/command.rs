//! `CommandLauncher` with real shells: substitution, quoting, validation, and the process checks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use daisy_launch::conformance::{self, scripts};
use daisy_launch::{CommandLauncher, LaunchError, WorkerSpec};
use daisy_protocol::Context;

mod common;
use common::run_to_end;

fn with_pid_file(template: &str, pid_file: &Path) -> CommandLauncher {
    CommandLauncher::new(template)
        .unwrap()
        .env(scripts::PID_FILE_VARIABLE, pid_file)
}

#[test]
fn placeholders_are_substituted_and_quoted() {
    let dir = tempfile::tempdir().unwrap();
    let logdir = dir.path().join("my logs");
    let context = Context::for_worker(Some("a dir with spaces"), "127.0.0.1", 4242, "A", 3, "tok");
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
fn the_whole_suite_passes() {
    common::process_launcher_suite_passes(with_pid_file);
}
