//! A worker never waits forever on a server that is gone or hung: real TCP on loopback with
//! servers that accept and stay silent, never accept, or die in the middle of an acquire.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::channel;
use std::thread;
use std::time::{Duration, Instant};

use daisy_client::{Client, ClientError, Timeouts};
use daisy_protocol::{
    ClientMessage, Context, DEFAULT_MAX_FRAME, PROTOCOL_VERSION, ServerMessage, decode_frame,
    encode_frame,
};

/// Short bounds, so that the tests take well under a second each.
const SHORT: Timeouts = Timeouts {
    connect: Duration::from_millis(300),
    handshake: Duration::from_millis(300),
    write: Duration::from_millis(300),
    keepalive: Duration::from_secs(1),
    unacknowledged: Duration::from_secs(1),
};

fn context(port: u16) -> Context {
    Context::for_worker(None, "127.0.0.1", port, "A", 0, "s3cret")
}

/// Reads one client message from a blocking stream.
fn read_message(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> ClientMessage {
    loop {
        if let Some((message, used)) = decode_frame(buffer, DEFAULT_MAX_FRAME).unwrap() {
            buffer.drain(..used);
            return message;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).unwrap();
        assert!(n > 0, "the client closed the connection");
        buffer.extend_from_slice(&chunk[..n]);
    }
}

fn send(stream: &mut TcpStream, message: &ServerMessage) {
    let mut out = Vec::new();
    encode_frame(message, DEFAULT_MAX_FRAME, &mut out).unwrap();
    stream.write_all(&out).unwrap();
}

/// Answers the handshake with `Welcome`.
fn welcome(stream: &mut TcpStream, buffer: &mut Vec<u8>) {
    assert!(matches!(
        read_message(stream, buffer),
        ClientMessage::Hello { .. }
    ));
    send(
        stream,
        &ServerMessage::Welcome {
            version: PROTOCOL_VERSION,
        },
    );
}

fn expect_handshake_timeout(port: u16) {
    let started = Instant::now();
    let error = Client::with_timeouts(&context(port), 1, SHORT).unwrap_err();
    let took = started.elapsed();
    match &error {
        ClientError::Timeout { during, after, .. } => {
            assert_eq!(*during, "the handshake");
            assert_eq!(*after, SHORT.handshake);
        }
        other => panic!("expected a handshake timeout, got {other}"),
    }
    assert!(
        took >= SHORT.handshake && took < Duration::from_secs(3),
        "gave up after {took:?}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "no answer from the daisy server at 127.0.0.1:{port} during the handshake within \
             0.3 s; giving the server up"
        )
    );
}

#[test]
fn handshake_with_a_server_that_never_answers_errors_within_the_bound() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (accepted, held) = channel();
    thread::spawn(move || {
        // Accepts, reads the Hello, and never answers (a server whose loop is stuck).
        let (mut stream, _) = listener.accept().unwrap();
        let mut buffer = Vec::new();
        let _ = read_message(&mut stream, &mut buffer);
        accepted.send(stream).unwrap();
    });
    expect_handshake_timeout(port);
    drop(held.recv().unwrap());
}

#[test]
fn handshake_with_a_listener_that_never_accepts_errors_within_the_bound() {
    // The kernel completes the connection from the backlog; nobody ever reads the Hello.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    expect_handshake_timeout(port);
    drop(listener);
}

/// Accepts one worker, welcomes it and reads its first request, an acquire: the server's
/// side of the connection then, and its read buffer.
fn accept_an_acquire(listener: &TcpListener) -> (TcpStream, Vec<u8>) {
    let (mut stream, _) = listener.accept().unwrap();
    let mut buffer = Vec::new();
    welcome(&mut stream, &mut buffer);
    assert!(matches!(
        read_message(&mut stream, &mut buffer),
        ClientMessage::AcquireBlocks { .. }
    ));
    (stream, buffer)
}

#[test]
fn a_server_that_dies_mid_acquire_ends_the_worker_promptly() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (waiting, acquire_seen) = channel();
    let (die, dying) = channel::<()>();
    let server = thread::spawn(move || {
        let (stream, _) = accept_an_acquire(&listener);
        waiting.send(()).unwrap();
        dying.recv().unwrap();
        // The process holding the socket is gone: listener and connection close at once.
        drop(stream);
        drop(listener);
    });
    let mut client = Client::with_timeouts(&context(port), 1, SHORT).unwrap();
    let (done, result) = channel();
    let worker = thread::spawn(move || {
        let outcome = client.acquire_block().map(|block| block.is_some());
        done.send((outcome, Instant::now())).unwrap();
    });
    acquire_seen.recv().unwrap();
    let killed = Instant::now();
    die.send(()).unwrap();
    let (outcome, ended) = result.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(matches!(outcome, Ok(false)), "{outcome:?}");
    assert!(ended.duration_since(killed) < Duration::from_secs(1));
    worker.join().unwrap();
    server.join().unwrap();
    // A new worker of the dead server is refused at once, with the address in the error.
    let error = Client::with_timeouts(&context(port), 1, SHORT).unwrap_err();
    assert!(matches!(error, ClientError::Connect { .. }), "{error}");
    assert!(error.to_string().contains(&format!("127.0.0.1:{port}")));
}

#[test]
fn acquire_waits_for_a_live_server_longer_than_every_bound() {
    // No block ready yet is not a dead server: the acquire outlasts every bound, then gets
    // its answer.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (waiting, acquire_seen) = channel();
    let (answer, answering) = channel::<()>();
    let server = thread::spawn(move || {
        let (mut stream, mut buffer) = accept_an_acquire(&listener);
        waiting.send(()).unwrap();
        answering.recv().unwrap();
        send(&mut stream, &ServerMessage::RequestShutdown);
        assert_eq!(
            read_message(&mut stream, &mut buffer),
            ClientMessage::Goodbye
        );
    });
    let mut client = Client::with_timeouts(&context(port), 1, SHORT).unwrap();
    let (done, result) = channel();
    let worker = thread::spawn(move || {
        let outcome = client.acquire_block().map(|block| block.is_some());
        done.send(outcome).unwrap();
    });
    acquire_seen.recv().unwrap();
    let patience = SHORT.handshake + SHORT.write + Duration::from_millis(400);
    assert!(
        result.recv_timeout(patience).is_err(),
        "the acquire ended while the server was alive"
    );
    answer.send(()).unwrap();
    let outcome = result.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(matches!(outcome, Ok(false)), "{outcome:?}");
    worker.join().unwrap();
    server.join().unwrap();
}
