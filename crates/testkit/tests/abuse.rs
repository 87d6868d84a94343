//! Peers that never complete the handshake cannot take a run down: they are capped in number
//! and in buffered bytes, dropped after a deadline, and cost no memory once gone; the run's
//! own workers still connect.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use daisy::{
    BlockStatus, Context, Launchers, Roi, RunReport, Scheduler, ServerOptions, Task, ThreadLauncher,
};
use daisy_client::AsyncClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

/// A run of 10 blocks whose launched worker never connects: the test's own client does the
/// work. Returns its port, the run, and the flag that lets the launched worker end.
async fn start(options: ServerOptions) -> (u16, JoinHandle<RunReport>, Arc<AtomicBool>) {
    let task = Task::builder(
        "t",
        Roi::from_values(&[0], &[10]).unwrap(),
        Roi::from_values(&[0], &[1]).unwrap(),
        Roi::from_values(&[0], &[1]).unwrap(),
    )
    .build()
    .unwrap();
    let scheduler = Scheduler::new(&[task], true).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let idle = Arc::clone(&done);
    let launchers = Launchers::all(Arc::new(ThreadLauncher::new(move |_| {
        while !idle.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    })));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let options = ServerOptions {
        token: Some(TOKEN.into()),
        logdir: None,
        stall_grace: Duration::from_secs(3600),
        shutdown_grace: Duration::from_millis(200),
        ..options
    };
    let run = tokio::spawn(async move {
        daisy::Server::new(scheduler, launchers, options)
            .run(listener, std::future::pending())
            .await
            .unwrap()
    });
    (port, run, done)
}

/// Does every block of the run as a worker with the token would; how many it did.
async fn work(port: u16) -> usize {
    let context = Context::for_worker(None, "127.0.0.1", port, "t", 999, TOKEN);
    let mut client = tokio::time::timeout(Duration::from_secs(10), AsyncClient::connect(&context))
        .await
        .expect("a worker with the token could not connect in time")
        .unwrap();
    let mut done = 0;
    while let Some(blocks) = client.acquire_blocks(4).await.unwrap() {
        for mut block in blocks {
            block.status = BlockStatus::Success;
            client.queue_release(&block);
            done += 1;
        }
    }
    done
}

/// Waits for the server to close `peer` (end of stream or reset).
async fn closed_within(peer: &mut TcpStream, limit: Duration) {
    let mut byte = [0u8; 1];
    match tokio::time::timeout(limit, peer.read(&mut byte)).await {
        Ok(Ok(0) | Err(_)) => {}
        Ok(Ok(_)) => panic!("the server sent bytes to a peer that said nothing"),
        Err(_) => panic!("the server kept the connection open for {limit:?}"),
    }
}

/// Whether the server still holds `peer` open (nothing to read, no end of stream).
fn still_open(peer: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(peer.try_read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

async fn finish(run: JoinHandle<RunReport>, done: &AtomicBool) -> RunReport {
    done.store(true, Ordering::Relaxed);
    tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("the run did not end")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_beyond_the_cap_are_refused_and_workers_still_connect() {
    const CAP: usize = 50;
    let (port, run, done) = start(ServerOptions {
        max_unauthenticated: Some(CAP),
        handshake_timeout: Duration::from_secs(60),
        ..ServerOptions::default()
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..3 * CAP {
        idle.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    }
    // Over the cap, the oldest idle connections are closed, long before the deadline.
    for peer in &mut idle[..2 * CAP] {
        closed_within(peer, Duration::from_secs(20)).await;
    }
    assert!(idle[2 * CAP..].iter().all(still_open));
    // A worker with the token still gets in (the oldest idle one makes room) and does the run.
    assert_eq!(work(port).await, 10);
    closed_within(&mut idle[2 * CAP], Duration::from_secs(20)).await;
    let report = finish(run, &done).await;
    assert!(report.succeeded(), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_peer_is_dropped_after_the_handshake_deadline() {
    let deadline = Duration::from_millis(300);
    let (port, run, done) = start(ServerOptions {
        handshake_timeout: deadline,
        ..ServerOptions::default()
    })
    .await;
    let start = Instant::now();
    let mut silent = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    // Half a length prefix is no better than silence.
    let mut halting = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    halting.write_all(&[0, 0]).await.unwrap();
    for peer in [&mut silent, &mut halting] {
        closed_within(peer, Duration::from_secs(10)).await;
        let took = start.elapsed();
        assert!(
            took >= deadline,
            "closed after {took:?}, before the deadline"
        );
    }
    assert_eq!(work(port).await, 10);
    assert!(finish(run, &done).await.succeeded());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_sending_a_huge_length_prefix_before_handshake_buffers_little() {
    let (port, run, done) = start(ServerOptions {
        handshake_timeout: Duration::from_secs(60),
        ..ServerOptions::default()
    })
    .await;
    // Announcing a first frame of 60,000 bytes (the largest frame after the handshake is
    // 64 MiB) or 4 GiB: closed at once, without waiting for the bytes, let alone buffering
    // them (the first frame is at most 4 KiB).
    for announced in [60_000u32, u32::MAX] {
        let mut peer = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        peer.write_all(&announced.to_be_bytes()).await.unwrap();
        peer.write_all(&[7; 100]).await.unwrap();
        closed_within(&mut peer, Duration::from_secs(10)).await;
    }
    // A first frame of allowed size, followed by far more bytes than it announced: the server
    // reads the frame, refuses it and closes; it never reads (buffers) the rest.
    let mut peer = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    peer.write_all(&4000u32.to_be_bytes()).await.unwrap();
    let flood = vec![0xee; 64 << 20];
    let written = tokio::time::timeout(Duration::from_secs(10), peer.write_all(&flood)).await;
    assert!(
        matches!(written, Ok(Err(_))),
        "the server read 64 MiB sent before the handshake"
    );
    assert_eq!(work(port).await, 10);
    assert!(finish(run, &done).await.succeeded());
}

/// Runs `daisy-flood` (a run, flooded with idle connections); its JSON lines as
/// `(phase, resident KiB, open descriptors, soft descriptor limit)`.
fn flood(shell_prefix: &str, args: &str) -> Vec<(String, u64, u64, u64)> {
    let program = env!("CARGO_BIN_EXE_daisy-flood");
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!("{shell_prefix} exec '{program}' {args}"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let n = |k: &str| v[k].as_u64().unwrap();
            (
                v["phase"].as_str().unwrap().to_owned(),
                n("rss_kib"),
                n("descriptors"),
                n("soft_limit"),
            )
        })
        .collect()
}

#[test]
fn flood_of_idle_connections_does_not_keep_memory() {
    // 1,000 idle connections, all held (the cap is raised to 1,000), three times over.
    let phases = flood("", "1000 3 0 1000");
    let kib = |i: usize| phases[i].1;
    let before = kib(0);
    let during = kib(1).max(kib(3)).max(kib(5));
    let (after_first, after_last) = (kib(2), kib(6));
    // Each connection that has not shaken hands costs about 3 KiB (it was 21 KiB: a 16 KiB
    // read buffer and a 4 KiB frame buffer each, before the handshake).
    assert!(
        during - before < 8 * 1024,
        "1,000 idle connections took {} KiB: {phases:?}",
        during - before
    );
    // Once they are gone, what is left is the allocator's free memory, which it keeps for the
    // next flood: it does not grow from one flood to the next.
    assert!(
        after_last.saturating_sub(before) < 6 * 1024,
        "{} KiB were not given back: {phases:?}",
        after_last.saturating_sub(before)
    );
    assert!(
        after_last.saturating_sub(after_first) < 1024,
        "memory grows with every flood: {phases:?}"
    );
    assert!(
        phases.iter().step_by(2).all(|p| p.2 == phases[0].2),
        "descriptors were not given back: {phases:?}"
    );
}

#[test]
fn soft_descriptor_limit_is_raised_at_start() {
    let (_, hard) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    let lowered = hard.min(1024) / 2;
    // A server started under a lowered soft limit (and no flood) raises it to the hard one.
    let phases = flood(&format!("ulimit -Sn {lowered} &&"), "0 0");
    assert_eq!(phases.len(), 1);
    assert_eq!(phases[0].3, hard, "the soft limit stayed {}", phases[0].3);
}
