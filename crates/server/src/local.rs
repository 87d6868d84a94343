//! In-process workers: the conversation of a TCP connection, through channels.
//!
//! Workers that are threads of the server's own process need no socket, no serialization and
//! no token: a [`LocalClient`] sends the same messages as a TCP client straight into the run's
//! event queue and receives blocks as values. The run treats it like any other connection:
//! parked requests, lost blocks when it goes away, timeouts.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use daisy_core::Block;
use daisy_protocol::{ClientMessage, Peer, ServerMessage};
use tokio::sync::mpsc;

use crate::connection::{ConnEvent, ConnId, Outgoing};

/// Local connection ids have the top bit set; TCP ones count up from 1.
const LOCAL: ConnId = 1 << 63;

/// The run's side of the in-process transport: give it to [`crate::Server::local`].
pub struct LocalEndpoint {
    pub(crate) events: (
        mpsc::UnboundedSender<ConnEvent>,
        mpsc::UnboundedReceiver<ConnEvent>,
    ),
}

/// The workers' side: connects in-process workers to the run. Cheap to clone.
#[derive(Clone)]
pub struct LocalConnector {
    events: mpsc::UnboundedSender<ConnEvent>,
    next: Arc<AtomicU64>,
}

/// A connector and the endpoint it connects to.
#[must_use]
pub fn local_transport() -> (LocalConnector, LocalEndpoint) {
    let (tx, rx) = mpsc::unbounded_channel();
    (
        LocalConnector {
            events: tx.clone(),
            next: Arc::new(AtomicU64::new(0)),
        },
        LocalEndpoint { events: (tx, rx) },
    )
}

impl LocalConnector {
    /// Connects a worker of `task_id`; `None` if the run is over.
    #[must_use]
    pub fn connect(&self, task_id: &str, worker_id: Option<u64>) -> Option<LocalClient> {
        let conn = LOCAL | self.next.fetch_add(1, Ordering::Relaxed);
        let (outbox, inbox) = mpsc::unbounded_channel();
        let peer = Peer {
            task_id: task_id.to_owned(),
            worker_id,
        };
        self.events
            .send(ConnEvent::Opened { conn, peer, outbox })
            .ok()?;
        Some(LocalClient {
            conn,
            task_id: task_id.to_owned(),
            events: self.events.clone(),
            inbox,
            pending: Vec::new(),
        })
    }
}

/// An in-process worker's connection. Blocking: use it from a worker thread, not from async code.
pub struct LocalClient {
    conn: ConnId,
    task_id: String,
    events: mpsc::UnboundedSender<ConnEvent>,
    inbox: mpsc::UnboundedReceiver<Outgoing>,
    /// Releases not yet sent: they go with the next request.
    pending: Vec<ClientMessage>,
}

impl LocalClient {
    /// Asks for up to `max` blocks and waits for them; `None` when there is no more work.
    pub fn acquire_blocks(&mut self, max: u32) -> Option<Vec<Block>> {
        self.pending.push(ClientMessage::AcquireBlocks {
            task_id: self.task_id.clone(),
            max,
        });
        self.flush();
        loop {
            match self.inbox.blocking_recv()? {
                Outgoing::Message(ServerMessage::SendBlocks { blocks }) => return Some(blocks),
                Outgoing::Message(ServerMessage::Welcome { .. }) => {}
                Outgoing::Message(
                    ServerMessage::RequestShutdown | ServerMessage::Refused { .. },
                )
                | Outgoing::Close => {
                    return None;
                }
            }
        }
    }

    /// Returns a block (its status says SUCCESS or FAILED), with the next request.
    pub fn release(&mut self, block: Block) {
        self.pending.push(ClientMessage::ReleaseBlock { block });
    }

    /// Returns a block as FAILED with the error text, with the next request.
    pub fn fail(&mut self, block: Block, error: String) {
        self.pending
            .push(ClientMessage::BlockFailed { block, error });
    }

    /// Reports that the worker's own code failed outside any block (daisy's
    /// `ClientException`): the run aborts. Sent at once, with what is pending.
    pub fn client_exception(&mut self, error: String) {
        self.pending.push(ClientMessage::ClientException { error });
        self.flush();
    }

    /// Sends what is pending now.
    pub fn flush(&mut self) {
        if !self.pending.is_empty() {
            let messages = std::mem::take(&mut self.pending);
            let _ = self.events.send(ConnEvent::Messages {
                conn: self.conn,
                messages,
                in_flight: None,
            });
        }
    }
}

impl Drop for LocalClient {
    fn drop(&mut self) {
        self.flush();
        let _ = self.events.send(ConnEvent::Closed {
            conn: self.conn,
            reason: None,
        });
    }
}
