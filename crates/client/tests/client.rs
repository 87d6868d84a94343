//! The blocking `Client` against a fake server on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::TcpListener;

use common::{Action, FakeServer, TASK, blocks, frame};
use daisy_client::{BlockStatus, Client, ClientError, DROPPED_WITHOUT_RELEASE, RunSummary};
use daisy_protocol::{ProtocolError, ServerMessage};

#[test]
fn handshake_presents_task_and_worker() {
    let server = FakeServer::start(blocks(0), vec![]);
    let client = Client::new(&server.context(), 1).unwrap();
    assert_eq!(client.task_id(), TASK);
    assert_eq!(client.worker_id(), Some(3));
    client.disconnect().unwrap();
    let record = server.wait_connection_end();
    assert_eq!(record.hellos, vec![(TASK.to_owned(), Some(3))]);
    assert_eq!(record.goodbyes, 1);
    assert!(record.acquires.is_empty());
}

#[test]
fn wrong_token_is_refused_with_the_servers_reason() {
    let server = FakeServer::start(blocks(1), vec![]);
    let error = Client::new(&server.context_with_token("guess"), 1).unwrap_err();
    assert!(
        matches!(&error, ClientError::Refused { reason } if reason == "wrong run token"),
        "{error}"
    );
    let record = server.wait_connection_end();
    assert_eq!(record.refused, vec!["wrong run token".to_owned()]);
    assert!(record.hellos.is_empty());
}

#[test]
fn run_processes_every_block_once_and_reports_failures() {
    let server = FakeServer::start(blocks(7), vec![]);
    let mut client = Client::new(&server.context(), 1).unwrap();
    let mut seen = Vec::new();
    let summary = client
        .run(|block| {
            assert_eq!(block.status, BlockStatus::Processing);
            seen.push(block.spatial_id());
            match block.spatial_id() {
                2 => Err(format!("bad block {}", block.spatial_id()).into()),
                4 => panic!("boom in block {}", block.spatial_id()),
                5 => {
                    block.status = BlockStatus::Failed;
                    Ok(())
                }
                6 => {
                    block.status = BlockStatus::Success;
                    Ok(())
                }
                _ => Ok(()),
            }
        })
        .unwrap();
    assert_eq!(seen, vec![0, 1, 2, 3, 4, 5, 6]);
    assert_eq!(
        summary,
        RunSummary {
            succeeded: 4,
            failed: 3
        }
    );
    drop(client);
    let record = server.wait_connection_end();
    assert_eq!(
        record.returned(),
        vec![
            (0, BlockStatus::Success),
            (1, BlockStatus::Success),
            (2, BlockStatus::Failed),
            (3, BlockStatus::Success),
            (4, BlockStatus::Failed),
            (5, BlockStatus::Failed),
            (6, BlockStatus::Success),
        ],
        "every block comes back exactly once: {record:?}"
    );
    assert_eq!(record.failure_text(2), "bad block 2");
    assert_eq!(
        record.failure_text(4),
        "block function panicked: boom in block 4"
    );
    // Block 5 set FAILED itself: a plain release, not a BlockFailed.
    assert!(record.releases.contains(&(5, BlockStatus::Failed)));
    assert_eq!(
        record.goodbyes, 1,
        "run ends with one Goodbye, drop adds none"
    );
}

#[test]
fn prefetch_asks_for_batches() {
    let server = FakeServer::start(blocks(10), vec![]);
    let mut client = Client::new(&server.context(), 4).unwrap();
    let summary = client.run(|_| Ok(())).unwrap();
    assert_eq!(summary.succeeded, 10);
    let record = server.wait_connection_end();
    // One block first (nothing measured yet), then batches of 4 for quick blocks, plus the
    // request answered with RequestShutdown.
    assert_eq!(record.acquires, vec![1, 4, 4, 4, 4]);
    assert_eq!(
        record.batches,
        vec![vec![0], vec![1, 2, 3, 4], vec![5, 6, 7, 8], vec![9]]
    );
    assert_eq!(record.releases.len(), 10);
}

#[test]
fn prefetch_comes_from_the_context() {
    let server = FakeServer::start(blocks(3), vec![]);
    let mut context = server.context();
    context.set(daisy_client::PREFETCH_KEY, "2");
    let mut client = Client::from_context(&context).unwrap();
    assert_eq!(client.prefetch(), 2);
    client.run(|_| Ok(())).unwrap();
    assert_eq!(server.wait_connection_end().acquires, vec![1, 2, 2]);
}

#[test]
fn releases_travel_with_the_next_acquire() {
    let server = FakeServer::start(blocks(3), vec![]);
    let mut client = Client::new(&server.context(), 1).unwrap();
    client.run(|_| Ok(())).unwrap();
    let record = server.wait_connection_end();
    assert_eq!(
        record.reads,
        vec![
            vec!["hello"],
            vec!["acquire"],
            vec!["release", "acquire"],
            vec!["release", "acquire"],
            vec!["release", "acquire"],
            vec!["goodbye"],
        ],
        "each release arrives in the same read as the next acquire"
    );
}

#[test]
fn guards_release_exactly_once() {
    let server = FakeServer::start(blocks(4), vec![]);
    let mut client = Client::new(&server.context(), 1).unwrap();

    let mut first = client.acquire_block().unwrap().unwrap();
    assert_eq!(first.spatial_id(), 0);
    assert_eq!(first.status, BlockStatus::Processing);
    first.status = BlockStatus::Failed; // succeed() overrides what the body set
    first.succeed();

    let second = client.acquire_block().unwrap().unwrap();
    second.fail("could not read");

    let third = client.acquire_block().unwrap().unwrap();
    assert_eq!(third.spatial_id(), 2);
    drop(third); // neither succeed nor fail

    let fourth = client.acquire_block().unwrap().unwrap();
    let block = fourth.into_block();
    assert_eq!(block.spatial_id(), 3);
    client.release_block(block); // still PROCESSING: goes back as FAILED

    assert!(client.acquire_block().unwrap().is_none());
    assert!(
        client.acquire_block().unwrap().is_none(),
        "stays finished after shutdown"
    );
    drop(client);
    let record = server.wait_connection_end();
    assert_eq!(
        record.releases,
        vec![(0, BlockStatus::Success), (3, BlockStatus::Failed)]
    );
    assert_eq!(record.failure_text(1), "could not read");
    assert_eq!(record.failure_text(2), DROPPED_WITHOUT_RELEASE);
    assert_eq!(record.returned().len(), 4, "each block once: {record:?}");
}

#[test]
fn a_guard_dropped_by_a_panic_fails_its_block() {
    let server = FakeServer::start(blocks(2), vec![]);
    let mut client = Client::new(&server.context(), 1).unwrap();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _guard = client.acquire_block().unwrap().unwrap();
        panic!("worker bug");
    }));
    assert!(result.is_err());
    drop(client);
    let record = server.wait_connection_end();
    assert_eq!(
        record.failures,
        vec![(0, BlockStatus::Failed, DROPPED_WITHOUT_RELEASE.to_owned())]
    );
    assert_eq!(record.goodbyes, 1);
}

#[test]
fn dropping_the_client_flushes_and_says_goodbye() {
    let server = FakeServer::start(blocks(2), vec![]);
    let mut client = Client::new(&server.context(), 1).unwrap();
    client.acquire_block().unwrap().unwrap().succeed();
    drop(client);
    let record = server.wait_connection_end();
    assert_eq!(record.releases, vec![(0, BlockStatus::Success)]);
    assert_eq!(record.goodbyes, 1);
    assert_eq!(record.reads.last().unwrap(), &vec!["release", "goodbye"]);
}

#[test]
fn prefetched_blocks_send_releases_without_waiting_for_the_next_request() {
    let server = FakeServer::start(blocks(3), vec![]);
    let mut client = Client::new(&server.context(), 3).unwrap();
    // Block 0 alone (nothing measured yet), then blocks 1 and 2 in one batch.
    client.acquire_block().unwrap().unwrap().succeed();
    client.acquire_block().unwrap().unwrap().succeed();
    let last = client.acquire_block().unwrap().unwrap();
    // Block 1's release went out when block 2 came from the local buffer.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while server.record().releases.len() < 2 {
        assert!(std::time::Instant::now() < deadline, "release not sent");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    last.succeed();
    assert!(client.acquire_block().unwrap().is_none());
    let record = server.wait_connection_end();
    assert_eq!(record.acquires, vec![1, 3, 3]);
    assert_eq!(record.releases.len(), 3);
}

#[test]
fn slow_blocks_are_fetched_one_at_a_time() {
    let server = FakeServer::start(blocks(4), vec![]);
    let mut client = Client::new(&server.context(), 8).unwrap();
    client
        .run(|_| {
            std::thread::sleep(std::time::Duration::from_millis(10));
            Ok(())
        })
        .unwrap();
    assert_eq!(server.wait_connection_end().acquires, vec![1, 1, 1, 1, 1]);
}

#[test]
fn server_closing_mid_acquire_ends_the_loop() {
    let server = FakeServer::start(blocks(3), vec![Action::Serve, Action::Close]);
    let mut client = Client::new(&server.context(), 1).unwrap();
    let summary = client.run(|_| Ok(())).unwrap();
    assert_eq!(
        summary,
        RunSummary {
            succeeded: 1,
            failed: 0
        }
    );
    let record = server.wait_connection_end();
    assert_eq!(record.releases, vec![(0, BlockStatus::Success)]);
    assert_eq!(record.acquires.len(), 2);
}

#[test]
fn garbage_from_the_server_is_an_error() {
    // A length beyond the frame limit.
    let server = FakeServer::start(blocks(1), vec![Action::Raw(vec![0xff; 16])]);
    let mut client = Client::new(&server.context(), 1).unwrap();
    let error = client.acquire_block().unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::Protocol(ProtocolError::FrameTooLarge { .. })
        ),
        "{error:?}"
    );

    // A plausible length, then bytes that are no message.
    let server = FakeServer::start(
        blocks(1),
        vec![Action::Raw(vec![0, 0, 0, 5, 0xee, 0xee, 0xee, 0xee, 0xee])],
    );
    let mut client = Client::new(&server.context(), 1).unwrap();
    let error = client.acquire_block().unwrap_err();
    assert!(
        matches!(error, ClientError::Protocol(ProtocolError::Decode { .. })),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with("protocol error: undecodable message")
    );
}

#[test]
fn an_unexpected_reply_is_an_error() {
    let welcome = frame(&ServerMessage::Welcome { version: 1 });
    let empty = frame(&ServerMessage::SendBlocks { blocks: vec![] });
    let server = FakeServer::start(blocks(1), vec![Action::Raw(welcome), Action::Raw(empty)]);
    let mut client = Client::new(&server.context(), 1).unwrap();
    assert_eq!(
        client.acquire_block().unwrap_err().to_string(),
        "unexpected message from the daisy server: Welcome(version 1) in reply to AcquireBlocks"
    );
    assert_eq!(
        client.acquire_block().unwrap_err().to_string(),
        "unexpected message from the daisy server: SendBlocks(0 blocks) in reply to AcquireBlocks"
    );
}

#[test]
fn connecting_to_a_closed_port_names_the_address() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let context = daisy_protocol::Context::for_worker(None, "127.0.0.1", port, TASK, 0, "t");
    let error = Client::new(&context, 1).unwrap_err();
    let address = format!("127.0.0.1:{port}");
    assert!(
        matches!(&error, ClientError::Connect { address: a, .. } if *a == address),
        "{error:?}"
    );
    assert!(error.to_string().contains(&address), "{error}");
}

#[test]
fn an_ipv6_server_address_is_written_in_brackets() {
    let listener = TcpListener::bind("[::1]:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let context = daisy_protocol::Context::for_worker(None, "::1", port, TASK, 0, "t");
    let error = Client::new(&context, 1).unwrap_err();
    assert!(
        matches!(&error, ClientError::Connect { address, .. } if *address == format!("[::1]:{port}")),
        "{error}"
    );
}

#[test]
fn client_exceptions_reach_the_server() {
    let server = FakeServer::start(blocks(1), vec![]);
    let mut client = Client::new(&server.context(), 1).unwrap();
    client
        .client_exception("could not open the input array")
        .unwrap();
    drop(client);
    let record = server.wait_connection_end();
    assert_eq!(
        record.exceptions,
        vec!["could not open the input array".to_owned()]
    );
}

#[test]
fn contexts_without_a_server_address_are_errors() {
    let mut context = daisy_protocol::Context::new();
    context.set("task_id", TASK);
    let error = Client::new(&context, 1).unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid worker context: DAISY_CONTEXT has no valid hostname"
    );
    let mut context = daisy_protocol::Context::new();
    context.set("prefetch", "lots");
    assert!(matches!(
        Client::from_context(&context),
        Err(ClientError::Context(ProtocolError::ContextField {
            key: "prefetch",
            ..
        }))
    ));
    if std::env::var_os(daisy_protocol::ENV_VARIABLE).is_none() {
        assert!(matches!(
            Client::from_env(),
            Err(ClientError::Context(ProtocolError::MissingContext))
        ));
    }
}
