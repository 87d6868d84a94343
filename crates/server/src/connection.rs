//! One worker connection: reads frames into events for the run, writes the run's replies; and
//! the run's table of the connections that passed the handshake.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use daisy_protocol::{
    ClientMessage, Peer, ProtocolError, ServerMessage, check_hello, decode_frame, encode_frame,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;

/// Identifies a connection within a run.
pub(crate) type ConnId = u64;

/// How long a new connection may take to say Hello.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest first frame: a Hello is tiny, and nobody unauthenticated gets to make the
/// server buffer more.
const MAX_HELLO_FRAME: u32 = 64 * 1024;

/// Why reading from a connection failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    /// The socket itself failed (e.g. reset by the peer).
    #[error("cannot read from the connection: {0}")]
    Io(#[source] io::Error),
    /// The bytes are not daisy's protocol.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// The peer closed the connection in the middle of a frame.
    #[error("connection closed inside a frame ({buffered} bytes buffered)")]
    Truncated {
        /// The bytes of the unfinished frame.
        buffered: usize,
    },
}

/// What a connection tells the run.
#[derive(Debug)]
pub(crate) enum ConnEvent {
    /// The handshake succeeded.
    Opened {
        conn: ConnId,
        peer: Peer,
        outbox: mpsc::UnboundedSender<Outgoing>,
    },
    /// Messages that arrived together (one read), in order.
    Messages {
        conn: ConnId,
        messages: Vec<ClientMessage>,
    },
    /// The connection is gone; `reason` says why if it was not a clean close.
    Closed {
        conn: ConnId,
        reason: Option<String>,
    },
}

/// What the run tells a connection.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// Send a message.
    Message(ServerMessage),
    /// Close the connection.
    Close,
}

/// Serves one connection until it closes: handshake, then frames in, replies out.
pub(crate) async fn serve(
    stream: TcpStream,
    address: SocketAddr,
    conn: ConnId,
    token: String,
    max_frame: u32,
    events: mpsc::UnboundedSender<ConnEvent>,
) {
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = stream.into_split();
    let mut buffer = Vec::with_capacity(4096);
    let hello = tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        read_messages(&mut reader, &mut buffer, MAX_HELLO_FRAME.min(max_frame)),
    )
    .await;
    let first = match hello {
        Ok(Ok(Some(mut messages))) if !messages.is_empty() => {
            let first = messages.remove(0);
            (first, messages)
        }
        Ok(Ok(_)) => return,
        Ok(Err(e)) => {
            tracing::warn!("closing connection from {address}: {e}");
            return;
        }
        Err(_) => {
            tracing::warn!(
                "closing connection from {address}: no handshake within {} s",
                HANDSHAKE_TIMEOUT.as_secs()
            );
            return;
        }
    };
    let (hello, rest) = first;
    let peer = match check_hello(hello, &token) {
        Ok(peer) => peer,
        Err(e) => {
            tracing::warn!("refusing connection from {address}: {e}");
            let mut out = Vec::new();
            if encode_frame(
                &ServerMessage::Refused {
                    reason: e.to_string(),
                },
                max_frame,
                &mut out,
            )
            .is_ok()
            {
                let _ = writer.write_all(&out).await;
            }
            let _ = writer.shutdown().await;
            return;
        }
    };
    let (outbox, inbox) = mpsc::unbounded_channel();
    let _ = outbox.send(Outgoing::Message(ServerMessage::Welcome {
        version: daisy_protocol::PROTOCOL_VERSION,
    }));
    if events
        .send(ConnEvent::Opened { conn, peer, outbox })
        .is_err()
    {
        return;
    }
    if !rest.is_empty()
        && events
            .send(ConnEvent::Messages {
                conn,
                messages: rest,
            })
            .is_err()
    {
        return;
    }
    let writing = tokio::spawn(write_loop(writer, inbox, max_frame));
    let reason = loop {
        match read_messages(&mut reader, &mut buffer, max_frame).await {
            Ok(Some(messages)) => {
                let goodbye = messages.last() == Some(&ClientMessage::Goodbye);
                if events.send(ConnEvent::Messages { conn, messages }).is_err() || goodbye {
                    break None;
                }
            }
            Ok(None) => break None,
            Err(e) => {
                tracing::warn!("closing connection from {address}: {e}");
                break Some(e.to_string());
            }
        }
    };
    let _ = events.send(ConnEvent::Closed { conn, reason });
    writing.abort();
}

/// Reads until at least one whole message is in; `None` at a clean end of stream.
async fn read_messages(
    reader: &mut (impl AsyncRead + Unpin),
    buffer: &mut Vec<u8>,
    max_frame: u32,
) -> Result<Option<Vec<ClientMessage>>, ReadError> {
    let mut messages = Vec::new();
    loop {
        let mut used = 0;
        loop {
            match decode_frame::<ClientMessage>(&buffer[used..], max_frame) {
                Ok(Some((message, n))) => {
                    messages.push(message);
                    used += n;
                }
                Ok(None) => break,
                Err(e) if messages.is_empty() => return Err(e.into()),
                // Deliver the good messages before it; the next call reports the bad frame.
                Err(_) => break,
            }
        }
        buffer.drain(..used);
        if !messages.is_empty() {
            return Ok(Some(messages));
        }
        let mut chunk = [0u8; 16 * 1024];
        let n = reader.read(&mut chunk).await.map_err(ReadError::Io)?;
        if n == 0 {
            return if buffer.is_empty() {
                Ok(None)
            } else {
                Err(ReadError::Truncated {
                    buffered: buffer.len(),
                })
            };
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

/// Writes replies, coalescing everything queued into one write.
async fn write_loop(
    mut writer: OwnedWriteHalf,
    mut inbox: mpsc::UnboundedReceiver<Outgoing>,
    max_frame: u32,
) {
    let mut out = Vec::with_capacity(4096);
    while let Some(first) = inbox.recv().await {
        out.clear();
        let mut close = false;
        let mut next = Some(first);
        while let Some(item) = next {
            match item {
                Outgoing::Message(message) => {
                    if let Err(e) = encode_frame(&message, max_frame, &mut out) {
                        tracing::error!("cannot encode a reply: {e}");
                    }
                }
                Outgoing::Close => close = true,
            }
            next = inbox.try_recv().ok();
        }
        if !out.is_empty() && writer.write_all(&out).await.is_err() {
            return;
        }
        if close {
            let _ = writer.shutdown().await;
            return;
        }
    }
}

/// A connection that passed the handshake, as the run sees it.
struct Conn {
    outbox: mpsc::UnboundedSender<Outgoing>,
    /// The task it works on (`None`: a task the run does not have).
    task: Option<usize>,
    /// The worker behind it, if the server started it.
    worker_id: Option<u64>,
}

/// The run's open connections, and how many there are per task.
pub(crate) struct Connections {
    open: HashMap<ConnId, Conn>,
    per_task: Vec<usize>,
}

impl Connections {
    /// No connections, for a run of `tasks` tasks.
    pub fn new(tasks: usize) -> Self {
        Self {
            open: HashMap::new(),
            per_task: vec![0; tasks],
        }
    }

    /// A connection passed the handshake for task `task` (`None`: unknown task).
    pub fn open(
        &mut self,
        conn: ConnId,
        task: Option<usize>,
        worker_id: Option<u64>,
        outbox: mpsc::UnboundedSender<Outgoing>,
    ) {
        if let Some(t) = task {
            self.per_task[t] += 1;
        }
        let old = self.open.insert(
            conn,
            Conn {
                outbox,
                task,
                worker_id,
            },
        );
        if let Some(t) = old.and_then(|c| c.task) {
            self.per_task[t] -= 1;
        }
    }

    /// Whether the connection is open (not given up on).
    pub fn contains(&self, conn: ConnId) -> bool {
        self.open.contains_key(&conn)
    }

    /// The task and worker of an open connection.
    pub fn peer(&self, conn: ConnId) -> Option<(Option<usize>, Option<u64>)> {
        self.open.get(&conn).map(|c| (c.task, c.worker_id))
    }

    /// How many connections task `t` has open.
    pub fn of_task(&self, t: usize) -> usize {
        self.per_task[t]
    }

    /// Sends a message; a connection that is gone is ignored.
    pub fn send(&self, conn: ConnId, message: ServerMessage) {
        if let Some(c) = self.open.get(&conn) {
            let _ = c.outbox.send(Outgoing::Message(message));
        }
    }

    /// Forgets a connection (it closed, or we close it: `close` tells its writer to).
    /// Whether it was open.
    pub fn remove(&mut self, conn: ConnId, close: bool) -> bool {
        let Some(c) = self.open.remove(&conn) else {
            return false;
        };
        if close {
            let _ = c.outbox.send(Outgoing::Close);
        }
        if let Some(t) = c.task {
            self.per_task[t] -= 1;
        }
        true
    }

    /// Tells every connection's writer to close (the run is over).
    pub fn close_all(&self) {
        for c in self.open.values() {
            let _ = c.outbox.send(Outgoing::Close);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use tokio::io::ReadBuf;

    use super::*;

    /// A reader whose socket fails.
    struct Broken;

    impl AsyncRead for Broken {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Poll::Ready(Err(io::Error::from(io::ErrorKind::ConnectionReset)))
        }
    }

    #[tokio::test]
    async fn a_read_error_is_an_io_error() {
        let mut buffer = Vec::new();
        let error = read_messages(&mut Broken, &mut buffer, 1024)
            .await
            .unwrap_err();
        assert!(matches!(&error, ReadError::Io(e) if e.kind() == io::ErrorKind::ConnectionReset));
        assert!(
            error
                .to_string()
                .starts_with("cannot read from the connection: "),
            "{error}"
        );
        assert!(std::error::Error::source(&error).is_some());
    }

    #[tokio::test]
    async fn messages_then_a_clean_end_then_a_cut_frame() {
        let mut bytes = Vec::new();
        encode_frame(&ClientMessage::Goodbye, 1024, &mut bytes).unwrap();
        encode_frame(&ClientMessage::Goodbye, 1024, &mut bytes).unwrap();
        let mut buffer = Vec::new();
        let mut reader = &bytes[..];
        let messages = read_messages(&mut reader, &mut buffer, 1024)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            messages,
            vec![ClientMessage::Goodbye, ClientMessage::Goodbye]
        );
        assert!(
            read_messages(&mut reader, &mut buffer, 1024)
                .await
                .unwrap()
                .is_none()
        );
        let cut = &bytes[..bytes.len() / 2 - 1];
        let mut reader = cut;
        let error = read_messages(&mut reader, &mut Vec::new(), 1024)
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "connection closed inside a frame ({} bytes buffered)",
                cut.len()
            )
        );
    }

    #[test]
    fn connections_are_counted_per_task() {
        let mut conns = Connections::new(2);
        let (tx, mut rx) = mpsc::unbounded_channel();
        conns.open(1, Some(1), Some(7), tx.clone());
        conns.open(2, None, None, tx);
        assert_eq!((conns.of_task(0), conns.of_task(1)), (0, 1));
        assert_eq!(conns.peer(1), Some((Some(1), Some(7))));
        conns.send(1, ServerMessage::RequestShutdown);
        assert!(matches!(
            rx.try_recv(),
            Ok(Outgoing::Message(ServerMessage::RequestShutdown))
        ));
        assert!(conns.remove(1, true));
        assert!(matches!(rx.try_recv(), Ok(Outgoing::Close)));
        assert!(!conns.remove(1, true));
        assert_eq!(conns.of_task(1), 0);
        assert!(conns.contains(2) && !conns.contains(1));
    }
}
