//! The `AsyncClient` against a fake server on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Action, FakeServer, TASK, blocks, frame};
use daisy_client::{AsyncClient, BlockStatus, ClientError};
use daisy_protocol::{ProtocolError, ServerMessage};

#[tokio::test]
async fn acquire_release_and_shutdown() {
    let server = FakeServer::start(blocks(5), vec![]);
    let mut client = AsyncClient::connect(&server.context()).await.unwrap();
    assert_eq!(client.task_id(), TASK);
    assert_eq!(client.worker_id(), Some(3));
    let mut received = Vec::new();
    while let Some(batch) = client.acquire_blocks(2).await.unwrap() {
        assert!(!batch.is_empty() && batch.len() <= 2);
        for mut block in batch {
            received.push(block.spatial_id());
            if block.spatial_id() == 1 {
                client.queue_block_failed(&block, "no data");
            } else {
                block.status = BlockStatus::Success;
                client.queue_release(&block);
            }
        }
        assert!(client.has_queued(), "releases wait for the next request");
    }
    assert_eq!(received, vec![0, 1, 2, 3, 4]);
    assert!(client.is_closed());
    assert_eq!(client.acquire_blocks(2).await.unwrap(), None);
    client.disconnect().await.unwrap();
    let record = server.wait_connection_end();
    assert_eq!(record.acquires, vec![2, 2, 2, 2]);
    assert_eq!(record.goodbyes, 1, "Goodbye after RequestShutdown, once");
    assert_eq!(
        record.failures,
        vec![(1, BlockStatus::Failed, "no data".to_owned())]
    );
    assert_eq!(
        record.releases,
        vec![
            (0, BlockStatus::Success),
            (2, BlockStatus::Success),
            (3, BlockStatus::Success),
            (4, BlockStatus::Success)
        ]
    );
}

#[tokio::test]
async fn releases_of_unfinished_blocks_go_back_as_failed() {
    let server = FakeServer::start(blocks(1), vec![]);
    let mut client = AsyncClient::connect(&server.context()).await.unwrap();
    let batch = client.acquire_blocks(0).await.unwrap().unwrap();
    assert_eq!(batch[0].status, BlockStatus::Processing);
    client.queue_release(&batch[0]);
    client.flush().await.unwrap();
    assert!(!client.has_queued());
    // The release arrives before the client does anything else.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while server.record().releases.is_empty() {
        assert!(std::time::Instant::now() < deadline, "flush sent nothing");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    client.disconnect().await.unwrap();
    let record = server.wait_connection_end();
    assert_eq!(record.acquires, vec![1], "max 0 is asked as 1");
    assert_eq!(record.releases, vec![(0, BlockStatus::Failed)]);
    assert_eq!(record.goodbyes, 1);
}

#[tokio::test]
async fn wrong_token_is_refused() {
    let server = FakeServer::start(blocks(1), vec![]);
    let error = AsyncClient::connect(&server.context_with_token("nope"))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the daisy server refused the connection: wrong run token"
    );
}

#[tokio::test]
async fn server_closing_mid_acquire_gives_none() {
    let server = FakeServer::start(blocks(1), vec![Action::Close]);
    let mut client = AsyncClient::connect(&server.context()).await.unwrap();
    assert_eq!(client.acquire_blocks(1).await.unwrap(), None);
    assert!(client.is_closed());
    assert_eq!(client.acquire_blocks(1).await.unwrap(), None);
    client.queue_release(&blocks(1)[0]);
    assert!(
        !client.has_queued(),
        "nothing is queued on a closed connection"
    );
    client.flush().await.unwrap();
    assert!(matches!(
        client.client_exception("late").await,
        Err(ClientError::ConnectionClosed { .. })
    ));
    client.disconnect().await.unwrap();
}

#[tokio::test]
async fn a_truncated_reply_counts_as_closed() {
    // Announces 100 bytes, sends 3, then closes.
    let server = FakeServer::start(
        blocks(1),
        vec![Action::Raw(vec![0, 0, 0, 100, 1, 2, 3]), Action::Close],
    );
    let mut client = AsyncClient::connect(&server.context()).await.unwrap();
    let reply = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        client.acquire_blocks(1),
    )
    .await;
    assert!(reply.is_err(), "a partial frame waits for more bytes");
    // The timed-out request is abandoned; the next one makes the server close.
    assert_eq!(client.acquire_blocks(1).await.unwrap(), None);
}

#[tokio::test]
async fn garbage_is_an_error_not_a_panic() {
    let server = FakeServer::start(blocks(1), vec![Action::Raw(vec![0, 0, 0, 0])]);
    let mut client = AsyncClient::connect(&server.context()).await.unwrap();
    assert!(matches!(
        client.acquire_blocks(1).await,
        Err(ClientError::Protocol(ProtocolError::EmptyFrame))
    ));
}

#[tokio::test]
async fn several_replies_in_one_read_are_decoded_in_turn() {
    let mut two = frame(&ServerMessage::SendBlocks { blocks: blocks(1) });
    two.extend(frame(&ServerMessage::RequestShutdown));
    let server = FakeServer::start(blocks(0), vec![Action::Raw(two)]);
    let mut client = AsyncClient::connect(&server.context()).await.unwrap();
    let batch = client.acquire_blocks(1).await.unwrap().unwrap();
    assert_eq!(batch.len(), 1);
    // The RequestShutdown is already buffered: the next acquire reads it.
    assert_eq!(client.acquire_blocks(1).await.unwrap(), None);
    let record = server.wait_connection_end();
    assert_eq!(record.goodbyes, 1);
}
