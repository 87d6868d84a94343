//! A daisy worker for end-to-end tests.
//!
//! Connects with `DAISY_CONTEXT` and processes blocks; what it does is set by the comma-separated
//! directives in `DAISY_TEST_WORKER`:
//!
//! - `record=<path>`: append `<task>/<spatial id>` of every block it succeeds to `<path>`;
//! - `sleep_ms=<n>`: sleep that long in every block;
//! - `fail=<id>`: block `<id>` fails (returns an error) every time; `fail=all`: every block;
//! - `kill_once=<id>@<marker>`: on block `<id>`, if `<marker>` does not exist, create it and
//!   SIGKILL itself (holding its blocks);
//! - `hang_once=<id>@<marker>`: likewise, but hang forever instead;
//! - `exit=<code>`: exit at once with that code, before connecting;
//! - `exception`: report a `ClientException` and exit 1.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use daisy::Client;

fn main() -> ExitCode {
    let directives = std::env::var("DAISY_TEST_WORKER").unwrap_or_default();
    match run(&directives) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("daisy-test-worker: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(directives: &str) -> Result<ExitCode, Box<dyn std::error::Error + Send + Sync>> {
    let mut record = None;
    let mut sleep = Duration::ZERO;
    let mut fail = Vec::new();
    let mut fail_all = false;
    let mut kill_once = None;
    let mut hang_once = None;
    for directive in directives.split(',').filter(|d| !d.is_empty()) {
        let (key, value) = directive.split_once('=').unwrap_or((directive, ""));
        match key {
            "record" => record = Some(value.to_owned()),
            "sleep_ms" => sleep = Duration::from_millis(value.parse()?),
            "fail" if value == "all" => fail_all = true,
            "fail" => fail.push(value.parse::<u64>()?),
            "kill_once" => kill_once = Some(once(value)?),
            "hang_once" => hang_once = Some(once(value)?),
            "exit" => return Ok(ExitCode::from(value.parse::<u8>()?)),
            "exception" => {
                let mut client = Client::from_env()?;
                client.client_exception("the worker's own code failed")?;
                return Ok(ExitCode::from(1));
            }
            other => return Err(format!("unknown directive {other:?}").into()),
        }
    }
    let mut client = Client::from_env()?;
    client.run(|block| {
        let id = block.spatial_id();
        if let Some((target, marker)) = &kill_once
            && *target == id
            && first_time(marker)?
        {
            nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL)?;
        }
        if let Some((target, marker)) = &hang_once
            && *target == id
            && first_time(marker)?
        {
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
        std::thread::sleep(sleep);
        if fail_all || fail.contains(&id) {
            return Err(format!("block {id} fails on purpose").into());
        }
        if let Some(path) = &record {
            // One write per line: appends from several processes must not interleave.
            let mut file = OpenOptions::new().create(true).append(true).open(path)?;
            file.write_all(format!("{}\n", block.block_id).as_bytes())?;
        }
        Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

fn once(value: &str) -> Result<(u64, String), Box<dyn std::error::Error + Send + Sync>> {
    let (id, marker) = value.split_once('@').ok_or("expected <id>@<marker>")?;
    Ok((id.parse()?, marker.to_owned()))
}

/// Creates `marker`; true if it did not exist.
fn first_time(marker: &str) -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
    if Path::new(marker).exists() {
        return Ok(false);
    }
    std::fs::write(marker, b"")?;
    Ok(true)
}
