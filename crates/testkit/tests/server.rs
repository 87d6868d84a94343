//! The server under hostile and heavy traffic: wrong tokens, garbage bytes, many connections.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use daisy::{
    Context, Launchers, ProcessLauncher, Roi, Scheduler, ServerOptions, Task, ThreadLauncher,
};
use daisy_client::{AsyncClient, ClientError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

mod common;
use common::line;

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

/// Starts a run whose workers are processes that take `sleep_ms` per block; returns its port
/// and the run's handle.
async fn start(blocks: i64, sleep_ms: u64) -> (u16, tokio::task::JoinHandle<daisy::RunReport>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let launcher = ProcessLauncher::new(
        env!("CARGO_BIN_EXE_daisy-test-worker"),
        Vec::<String>::new(),
    )
    .env("DAISY_TEST_WORKER", format!("sleep_ms={sleep_ms}"));
    let scheduler = Scheduler::new(&[line(blocks)], true).unwrap();
    let options = ServerOptions {
        token: Some(TOKEN.into()),
        logdir: None,
        ..ServerOptions::default()
    };
    let run = tokio::spawn(async move {
        daisy::Server::new(scheduler, Launchers::all(Arc::new(launcher)), options)
            .run(listener, std::future::pending())
            .await
            .unwrap()
    });
    (port, run)
}

fn context(port: u16, token: &str) -> Context {
    let mut ctx = Context::for_worker(None, "127.0.0.1", port, "t", 999, token);
    ctx.set("prefetch", "1");
    ctx
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_token_is_refused_and_the_run_goes_on() {
    let (port, run) = start(20, 10).await;
    let err = AsyncClient::connect(&context(port, "not-the-token"))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(&err, ClientError::Refused { reason } if reason.contains("wrong run token")),
        "{err}"
    );
    let report = run.await.unwrap();
    assert!(report.succeeded(), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_closes_only_its_own_connection() {
    let (port, run) = start(30, 10).await;
    // Deterministic pseudo-random garbage, and some nastier frames.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut payloads: Vec<Vec<u8>> = (0..40)
        .map(|i| {
            (0..(i * 7 % 200 + 1))
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect()
        })
        .collect();
    payloads.push(vec![0xff, 0xff, 0xff, 0xff]); // a 4 GiB frame
    payloads.push(vec![0, 0, 0, 0]); // an empty frame
    payloads.push(vec![0, 0, 0, 10, 1, 2]); // truncated
    for payload in payloads {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let _ = stream.write_all(&payload).await;
        let _ = stream.shutdown().await;
        // The server closes it: reading ends (EOF or reset) instead of hanging.
        let mut sink = Vec::new();
        let read =
            tokio::time::timeout(Duration::from_secs(40), stream.read_to_end(&mut sink)).await;
        assert!(read.is_ok(), "the server kept a garbage connection open");
    }
    let report = run.await.unwrap();
    assert!(report.succeeded(), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_connections_are_held() {
    // The run lasts about 5 s (400 blocks of 25 ms on 2 workers), well beyond the time 1,000
    // connections take even on a loaded machine: they must all meet the same, running server.
    let (port, run) = start(400, 25).await;
    // 1,000 connections, all open at once while the workers keep working, for a task that
    // has no blocks: each is answered (told to stop) by the same server.
    let mut ctx = context(port, TOKEN);
    ctx.set("task_id", "none");
    let mut clients = Vec::new();
    for _ in 0..1000 {
        clients.push(AsyncClient::connect(&ctx).await.unwrap());
    }
    let mut waiting = Vec::new();
    for mut client in clients {
        waiting.push(tokio::spawn(async move { client.acquire_blocks(1).await }));
    }
    for w in waiting {
        assert_eq!(w.await.unwrap().unwrap(), None);
    }
    let report = run.await.unwrap();
    assert!(report.succeeded(), "{report}");
}

#[test]
fn thread_workers_run_in_process() {
    let report = daisy::run_blockwise(
        &[Task::builder(
            "t",
            Roi::from_values(&[0, 0], &[100, 100]).unwrap(),
            Roi::from_values(&[0, 0], &[12, 12]).unwrap(),
            Roi::from_values(&[1, 1], &[10, 10]).unwrap(),
        )
        .num_workers(4)
        .process_function(|b| {
            if b.spatial_id() == 0 {
                Err("zero".into())
            } else {
                Ok(())
            }
        })
        .max_retries(0)
        .build()
        .unwrap()],
        daisy::RunOptions {
            progress: daisy::ProgressMode::Off,
            handle_ctrl_c: false,
            launchers: Launchers::default(),
            ..Default::default()
        },
    )
    .unwrap();
    let t = report.task("t").unwrap();
    assert_eq!(t.state.failed_count, 1);
    assert_eq!(t.failures[0].error, "zero");
    let _ = ThreadLauncher::new(|_| Ok(()));
}
