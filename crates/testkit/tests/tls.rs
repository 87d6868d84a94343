//! Runs over TLS (docs/protocol.md): worker processes on loopback with TLS forced on, what a
//! peer without the run's certificate fingerprint gets, and what a sniffer between the
//! workers and the server sees.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use daisy::{
    Context, LaunchError, Launcher, Launchers, ProcessLauncher, Scheduler, ServerOptions,
    WorkerHandle, WorkerSpec,
};
use daisy_client::{AsyncClient, ClientError};
use daisy_protocol::{TLS_FINGERPRINT_KEY, TlsError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

mod common;
use common::line;

const TOKEN: &str = "5eb63bbbe01eeed093cb22bb8f5acdc3";

/// Every wait here; a hang fails the test.
const BOUND: Duration = Duration::from_secs(60);

/// Starts `daisy-test-worker` processes, recording the contexts it gives them and pointing
/// them at `port` instead of the server's if one is set (a proxy in between).
struct Recording {
    inner: ProcessLauncher,
    contexts: Mutex<Vec<Context>>,
    port: Option<u16>,
}

impl Recording {
    fn new(sleep_ms: u64, port: Option<u16>) -> Arc<Self> {
        Arc::new(Self {
            inner: ProcessLauncher::new(
                env!("CARGO_BIN_EXE_daisy-test-worker"),
                Vec::<String>::new(),
            )
            .env("DAISY_TEST_WORKER", format!("sleep_ms={sleep_ms}")),
            contexts: Mutex::new(Vec::new()),
            port,
        })
    }

    /// The context of the first worker, once one was started.
    async fn first_context(&self) -> Context {
        tokio::time::timeout(BOUND, async {
            loop {
                if let Some(c) = self.contexts.lock().unwrap().first() {
                    return c.clone();
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("a worker is started")
    }
}

impl Launcher for Recording {
    fn launch(&self, spec: &WorkerSpec) -> Result<Box<dyn WorkerHandle>, LaunchError> {
        self.contexts.lock().unwrap().push(spec.context.clone());
        let mut spec = spec.clone();
        if let Some(port) = self.port {
            spec.context.set("port", &port.to_string());
        }
        self.inner.launch(&spec)
    }

    fn name(&self) -> &str {
        "recording processes"
    }
}

/// Starts a run of `blocks` blocks with `tls` on `listener`.
fn start(
    listener: TcpListener,
    blocks: i64,
    tls: bool,
    launcher: Arc<Recording>,
) -> tokio::task::JoinHandle<daisy::RunReport> {
    let scheduler = Scheduler::new(&[line(blocks)], true).unwrap();
    let options = ServerOptions {
        token: Some(TOKEN.into()),
        logdir: None,
        tls: Some(tls),
        ..ServerOptions::default()
    };
    tokio::spawn(async move {
        daisy::Server::new(scheduler, Launchers::all(launcher), options)
            .run(listener, std::future::pending())
            .await
            .unwrap()
    })
}

async fn finished(run: tokio::task::JoinHandle<daisy::RunReport>) -> daisy::RunReport {
    tokio::time::timeout(BOUND, run)
        .await
        .expect("the run ends")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_over_tls_on_loopback_completes() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let launcher = Recording::new(0, None);
    let run = start(listener, 40, true, Arc::clone(&launcher));
    let report = finished(run).await;
    assert!(report.succeeded(), "{report}");
    let contexts = launcher.contexts.lock().unwrap().clone();
    let fingerprints: Vec<_> = contexts
        .iter()
        .map(|c| c.get(TLS_FINGERPRINT_KEY).unwrap().to_owned())
        .collect();
    assert_eq!(fingerprints[0].len(), 64);
    assert!(fingerprints.iter().all(|f| *f == fingerprints[0]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_is_off_on_loopback_and_on_elsewhere_by_default() {
    for (bind, tls) in [("127.0.0.1:0", false), ("0.0.0.0:0", true)] {
        let listener = TcpListener::bind(bind).await.unwrap();
        let launcher = Recording::new(0, None);
        let scheduler = Scheduler::new(&[line(4)], true).unwrap();
        let options = ServerOptions {
            logdir: None,
            ..ServerOptions::default()
        };
        let recording = Arc::clone(&launcher);
        let report = tokio::time::timeout(
            BOUND,
            daisy::Server::new(scheduler, Launchers::all(recording), options)
                .run(listener, std::future::pending()),
        )
        .await
        .unwrap()
        .unwrap();
        assert!(report.succeeded(), "{report}");
        let context = launcher.contexts.lock().unwrap()[0].clone();
        assert_eq!(context.get(TLS_FINGERPRINT_KEY).is_some(), tls, "{bind}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_without_the_runs_certificate_are_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let launcher = Recording::new(20, None);
    let run = start(listener, 30, true, Arc::clone(&launcher));
    let context = launcher.first_context().await;
    // The right fingerprint and token: served.
    let client = AsyncClient::connect(&context).await.unwrap();
    client.disconnect().await.unwrap();
    // Another certificate's fingerprint: the client refuses the server.
    let mut wrong = context.clone();
    wrong.set(TLS_FINGERPRINT_KEY, &"0".repeat(64));
    let error = AsyncClient::connect(&wrong).await.unwrap_err();
    assert!(
        matches!(&error, ClientError::Tls(TlsError::Mismatch { .. })),
        "{error}"
    );
    assert!(
        error.to_string().contains("presents a TLS certificate"),
        "{error}"
    );
    // No fingerprint (a plain client): the server refuses it, in words.
    let plain = Context::for_worker(
        None,
        context.hostname().unwrap(),
        context.port().unwrap(),
        "t",
        999,
        TOKEN,
    );
    let error = tokio::time::timeout(BOUND, AsyncClient::connect(&plain))
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(&error, ClientError::Refused { reason }
            if reason.contains("accepts TLS connections only")),
        "{error}"
    );
    // None of it disturbs the run.
    let report = finished(run).await;
    assert!(report.succeeded(), "{report}");
}

/// Relays connections from `proxy` to `server`, recording every byte in either direction.
async fn sniffing_proxy(proxy: TcpListener, server: u16, seen: Arc<Mutex<Vec<u8>>>) {
    loop {
        let Ok((client, _)) = proxy.accept().await else {
            return;
        };
        let Ok(upstream) = TcpStream::connect(("127.0.0.1", server)).await else {
            return;
        };
        let (client_read, client_write) = client.into_split();
        let (server_read, server_write) = upstream.into_split();
        tokio::spawn(copy_recording(client_read, server_write, Arc::clone(&seen)));
        tokio::spawn(copy_recording(server_read, client_write, Arc::clone(&seen)));
    }
}

async fn copy_recording(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    seen: Arc<Mutex<Vec<u8>>>,
) {
    let mut chunk = vec![0u8; 16 * 1024];
    while let Ok(n) = from.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        seen.lock().unwrap().extend_from_slice(&chunk[..n]);
        if to.write_all(&chunk[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// Runs `blocks` blocks with workers connecting through a recording proxy; what it saw.
async fn sniffed_run(tls: bool) -> Vec<u8> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = listener.local_addr().unwrap().port();
    let proxy = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let launcher = Recording::new(0, Some(proxy.local_addr().unwrap().port()));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let proxying = tokio::spawn(sniffing_proxy(proxy, server, Arc::clone(&seen)));
    let report = finished(start(listener, 20, tls, launcher)).await;
    proxying.abort();
    assert!(report.succeeded(), "{report}");
    seen.lock().unwrap().clone()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_of_a_tls_run_cannot_be_sniffed() {
    // The check can fail: without TLS the sniffer sees the token and the protocol.
    let plain = sniffed_run(false).await;
    assert!(contains(&plain, TOKEN.as_bytes()) && contains(&plain, b"DSY1"));
    let encrypted = sniffed_run(true).await;
    assert!(encrypted.len() > 1000, "{} bytes", encrypted.len());
    assert!(!contains(&encrypted, TOKEN.as_bytes()));
    assert!(!contains(&encrypted, b"DSY1"));
}
