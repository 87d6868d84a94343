//! One worker connection: reads frames into events for the run, writes the run's replies.

use std::net::SocketAddr;
use std::time::Duration;

use daisy_protocol::{
    ClientMessage, Peer, ProtocolError, ServerMessage, check_hello, decode_frame, encode_frame,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

/// Identifies a connection within a run.
pub(crate) type ConnId = u64;

/// How long a new connection may take to say Hello.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest first frame: a Hello is tiny, and nobody unauthenticated gets to make the
/// server buffer more.
const MAX_HELLO_FRAME: u32 = 64 * 1024;

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
                "closing connection from {address}: no handshake within {HANDSHAKE_TIMEOUT:?}"
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
    reader: &mut OwnedReadHalf,
    buffer: &mut Vec<u8>,
    max_frame: u32,
) -> Result<Option<Vec<ClientMessage>>, ProtocolError> {
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
                Err(e) if messages.is_empty() => return Err(e),
                // Deliver the good messages before it; the next call reports the bad frame.
                Err(_) => break,
            }
        }
        buffer.drain(..used);
        if !messages.is_empty() {
            return Ok(Some(messages));
        }
        let mut chunk = [0u8; 16 * 1024];
        let n = reader
            .read(&mut chunk)
            .await
            .map_err(|e| ProtocolError::UnexpectedMessage {
                message: format!("read failed: {e}"),
            })?;
        if n == 0 {
            return if buffer.is_empty() {
                Ok(None)
            } else {
                Err(ProtocolError::UnexpectedMessage {
                    message: format!("connection closed inside a frame ({} bytes)", buffer.len()),
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
