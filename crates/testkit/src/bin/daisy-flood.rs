//! Measures what a flood of idle connections costs a run: starts a run (one thread, as
//! `run_blockwise` and the Python package run it) whose only worker waits without connecting,
//! then, `rounds` times, opens `connections` TCP connections to it that never say a word,
//! holds them, and closes them. Prints the process's resident memory (`VmRSS`) and open
//! descriptors (and the soft limit on them) before the first flood, while each flood is held
//! and after it is gone, as JSON lines. The server's default caps apply, unless `cap` (the
//! most connections waiting for their handshake) is given (0: the default); `tls` forces TLS
//! on (off on loopback by default).
//!
//! `daisy-flood [connections (2000)] [rounds (2)] [hold seconds (1)] [cap] [tls]`

use std::net::TcpStream;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::resource::{Resource, getrlimit};

use daisy::{Launchers, Roi, Scheduler, Server, ServerOptions, Task, ThreadLauncher};

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let tls = args.last().is_some_and(|a| a == "tls");
    if tls {
        args.pop();
    }
    let args: Vec<u64> = args
        .iter()
        .map(|a| a.parse().unwrap_or_else(|_| usage()))
        .collect();
    let arg = |i: usize, default: u64| args.get(i).copied().unwrap_or(default);
    let (connections, rounds, hold) = (arg(0, 2000), arg(1, 2), Duration::from_secs(arg(2, 1)));
    let cap = args
        .get(3)
        .and_then(|&c| usize::try_from(c).ok())
        .filter(|&c| c > 0);
    match flood(connections, rounds, hold, cap, tls) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("daisy-flood: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> ! {
    eprintln!("usage: daisy-flood [connections] [rounds] [hold seconds] [cap] [tls]");
    std::process::exit(2)
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn flood(
    connections: u64,
    rounds: u64,
    hold: Duration,
    cap: Option<usize>,
    tls: bool,
) -> Result<(), BoxError> {
    let (port, stop) = start_run(cap, tls)?;
    settle();
    print("before", 0);
    for round in 1..=rounds {
        let mut peers = Vec::new();
        let mut refused = 0;
        for _ in 0..connections {
            match TcpStream::connect(("127.0.0.1", port)) {
                Ok(peer) => peers.push(peer),
                Err(_) => refused += 1,
            }
        }
        if refused > 0 {
            eprintln!("daisy-flood: {refused} connections could not be made");
        }
        settle();
        std::thread::sleep(hold);
        print("during", round);
        drop(peers);
        settle();
        print("after", round);
    }
    drop(stop);
    Ok(())
}

/// Starts the run on a thread of its own; returns its port and what stops it when dropped.
fn start_run(cap: Option<usize>, tls: bool) -> Result<(u16, mpsc::Sender<()>), BoxError> {
    let task = Task::builder(
        "flooded",
        Roi::from_values(&[0], &[1])?,
        Roi::from_values(&[0], &[1])?,
        Roi::from_values(&[0], &[1])?,
    )
    .build()?;
    let scheduler = Scheduler::new(&[task], true)?;
    let (stop, stopped) = mpsc::channel::<()>();
    let stopped = Arc::new(std::sync::Mutex::new(stopped));
    // The one worker waits for the end of the run without connecting.
    let launchers = Launchers::all(Arc::new(ThreadLauncher::new(move |_| {
        if let Ok(stopped) = stopped.lock() {
            let _ = stopped.recv();
        }
        Ok(())
    })));
    let options = ServerOptions {
        logdir: None,
        stall_grace: Duration::from_secs(3600),
        max_unauthenticated: cap,
        tls: Some(tls),
        ..ServerOptions::default()
    };
    let (bound, port) = mpsc::channel();
    std::thread::spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(r) => r,
            Err(e) => return eprintln!("daisy-flood: cannot start a runtime: {e}"),
        };
        runtime.block_on(async move {
            // Bound as `run_blockwise` binds (tokio's backlog of 1,024).
            let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
                Ok(l) => l,
                Err(e) => return eprintln!("daisy-flood: cannot listen: {e}"),
            };
            let _ = bound.send(listener.local_addr().map(|a| a.port()));
            let server = Server::new(scheduler, launchers, options);
            if let Err(e) = server.run(listener, std::future::pending()).await {
                eprintln!("daisy-flood: {e}");
            }
        });
    });
    let port = port.recv()??;
    Ok((port, stop))
}

/// Waits until the number of open descriptors has not changed for half a second (the server
/// has closed what it is going to close), at most 30 s.
fn settle() {
    let start = Instant::now();
    let mut last = (open_descriptors(), Instant::now());
    while start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
        let now = open_descriptors();
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() > Duration::from_millis(500) {
            return;
        }
    }
}

fn print(phase: &str, round: u64) {
    println!(
        "{{\"phase\": \"{phase}\", \"round\": {round}, \"rss_kib\": {}, \"descriptors\": {}, \
         \"soft_limit\": {}}}",
        rss_kib(),
        open_descriptors(),
        getrlimit(Resource::RLIMIT_NOFILE).map_or(0, |(soft, _)| soft)
    );
}

/// This process's resident memory in KiB (0 if unknown).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// How many descriptors this process has open.
fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count)
}
