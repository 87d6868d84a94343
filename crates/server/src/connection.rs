//! One worker connection: reads frames into events for the run, writes the run's replies; and
//! the run's table of the connections that passed the handshake.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use daisy_protocol::{
    ClientMessage, Peer, ProtocolError, ServerMessage, Stream, TlsIdentity, check_hello,
    decode_frame, encode_frame,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc};

use crate::admission::{Refusal, Ticket};

/// Identifies a connection within a run.
pub(crate) type ConnId = u64;

/// The largest first frame: a Hello is tiny (task ids are at most 255 bytes), and nobody
/// unauthenticated gets to make the server buffer more.
pub(crate) const MAX_HELLO_FRAME: u32 = 4096;

/// How much is read at a time after the handshake (the buffer grows only for larger frames).
const READ_SIZE: usize = 16 * 1024;

/// How many reads of a connection may wait for the run at once: a worker that sends faster
/// than the run applies its messages is not read from meanwhile, so they cannot pile up.
const MAX_IN_FLIGHT: usize = 16;

/// A buffer larger than this is given back once it is empty (after a large frame).
const KEPT_BUFFER: usize = 64 * 1024;

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
        /// Holds one of the connection's [`MAX_IN_FLIGHT`] places until the run has applied
        /// the messages (dropped with the event); `None` for in-process workers.
        in_flight: Option<OwnedSemaphorePermit>,
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

/// What a connection's first frame gave, before the deadline.
enum Handshake {
    /// A Hello with the run's token.
    Done(Peer),
    /// The peer closed the connection without a word.
    Gone,
    /// Anything else: why, for the warning.
    Refused(String),
}

/// Serves one accepted connection until it closes: the handshake (under `ticket`: within its
/// deadline, and unless it is evicted to make room for a newer connection), then frames in,
/// replies out.
///
/// With `tls`, the socket is wrapped in TLS first (docs/protocol.md), within the same
/// deadline.
#[allow(clippy::too_many_arguments)] // the connection's parts, passed once
pub(crate) async fn serve(
    tcp: tokio::net::TcpStream,
    address: SocketAddr,
    conn: ConnId,
    token: Arc<str>,
    max_frame: u32,
    events: mpsc::UnboundedSender<ConnEvent>,
    mut ticket: Ticket,
    tls: Option<Arc<TlsIdentity>>,
) {
    let deadline = ticket.deadline();
    let shaking = async {
        let (mut reader, mut writer) = Stream::accept(tcp, tls.as_deref()).await?.into_split();
        let shaken = shake_hands(&mut reader, &mut writer, &token, max_frame).await;
        Ok::<_, daisy_protocol::TlsError>((shaken, reader, writer))
    };
    let handshake = tokio::select! {
        biased;
        shaken = tokio::time::timeout(deadline, shaking) => shaken,
        () = ticket.evicted() => return, // counted where it was evicted
    };
    let (peer, reader, writer) = match handshake {
        Ok(Ok((Handshake::Done(peer), reader, writer))) => (peer, reader, writer),
        Ok(Ok((Handshake::Gone, ..))) => return,
        Ok(Ok((Handshake::Refused(why), ..))) => {
            return ticket.refuse(Refusal::BadHandshake, &format!("{address}: {why}"));
        }
        Ok(Err(tls)) => {
            return ticket.refuse(Refusal::BadHandshake, &format!("{address}: {tls}"));
        }
        Err(_) => {
            let detail = format!(
                "{address}: no handshake within {} s",
                deadline.as_secs_f64()
            );
            return ticket.refuse(Refusal::Deadline, &detail);
        }
    };
    drop(ticket);
    // Boxed: the state of an authenticated connection (its buffers) is allocated only once the
    // handshake is done, and waiting connections stay small.
    Box::pin(authenticated(
        reader, writer, address, conn, peer, max_frame, events,
    ))
    .await;
}

/// Reads the first frame (and nothing more: at most [`MAX_HELLO_FRAME`] bytes, buffered as
/// they arrive) and checks it; a refused peer is told why.
async fn shake_hands<R, W>(reader: &mut R, writer: &mut W, token: &str, max_frame: u32) -> Handshake
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let hello = match read_hello(reader, MAX_HELLO_FRAME.min(max_frame)).await {
        Ok(Some(hello)) => hello,
        Ok(None) => return Handshake::Gone,
        Err(e) => return Handshake::Refused(e.to_string()),
    };
    match check_hello(hello, token) {
        Ok(peer) => Handshake::Done(peer),
        Err(e) => {
            let mut out = Vec::new();
            let refused = ServerMessage::Refused {
                reason: e.to_string(),
            };
            if encode_frame(&refused, max_frame, &mut out).is_ok() {
                let _ = writer.write_all(&out).await;
            }
            let _ = writer.shutdown().await;
            Handshake::Refused(e.to_string())
        }
    }
}

/// Reads exactly one frame of at most `max` bytes; `None` if the peer closes before a byte.
async fn read_hello(
    reader: &mut (impl AsyncRead + Unpin),
    max: u32,
) -> Result<Option<ClientMessage>, ReadError> {
    let mut header = [0u8; 4];
    let mut got = 0;
    while got < header.len() {
        let n = reader
            .read(&mut header[got..])
            .await
            .map_err(ReadError::Io)?;
        if n == 0 {
            return if got == 0 {
                Ok(None)
            } else {
                Err(ReadError::Truncated { buffered: got })
            };
        }
        got += n;
    }
    // The length is checked before anything is allocated for the payload.
    decode_frame::<ClientMessage>(&header, max)?;
    let len = u32::from_be_bytes(header);
    let mut frame = Vec::with_capacity(64);
    frame.extend_from_slice(&header);
    // Grows as bytes arrive: a peer that announces a frame and sends nothing costs nothing.
    (&mut *reader)
        .take(u64::from(len))
        .read_to_end(&mut frame)
        .await
        .map_err(ReadError::Io)?;
    match decode_frame(&frame, max)? {
        Some((hello, _)) => Ok(Some(hello)),
        None => Err(ReadError::Truncated {
            buffered: frame.len(),
        }),
    }
}

/// Serves a connection that passed the handshake: tells the run, then frames in, replies out.
async fn authenticated<R, W>(
    mut reader: R,
    writer: W,
    address: SocketAddr,
    conn: ConnId,
    peer: Peer,
    max_frame: u32,
    events: mpsc::UnboundedSender<ConnEvent>,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
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
    let backpressure = Arc::new(Backpressure::default());
    let writing = tokio::spawn(write_loop(
        writer,
        inbox,
        max_frame,
        Arc::clone(&backpressure),
    ));
    let mut buffer = Vec::new();
    let places = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let reason = loop {
        backpressure.writer_caught_up().await;
        let Ok(in_flight) = Arc::clone(&places).acquire_owned().await else {
            break None; // never closed
        };
        match read_messages(&mut reader, &mut buffer, max_frame).await {
            Ok(Some(messages)) => {
                let goodbye = messages.last() == Some(&ClientMessage::Goodbye);
                let event = ConnEvent::Messages {
                    conn,
                    messages,
                    in_flight: Some(in_flight),
                };
                if events.send(event).is_err() || goodbye {
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
        if buffer.is_empty() && buffer.capacity() > KEPT_BUFFER {
            buffer.shrink_to(READ_SIZE);
        }
        if !messages.is_empty() {
            return Ok(Some(messages));
        }
        if buffer.capacity() - buffer.len() < READ_SIZE / 4 {
            buffer.reserve(READ_SIZE);
        }
        let n = reader.read_buf(buffer).await.map_err(ReadError::Io)?;
        if n == 0 {
            return if buffer.is_empty() {
                Ok(None)
            } else {
                Err(ReadError::Truncated {
                    buffered: buffer.len(),
                })
            };
        }
    }
}

/// Whether a connection's writer is in the middle of a write: while it is (its peer does not
/// read its replies, so the socket is full), the reader reads nothing more, so the replies
/// queued for a peer that never reads stay as few as one read's worth of requests asks for.
#[derive(Default)]
struct Backpressure {
    writing: AtomicBool,
    done: Notify,
}

impl Backpressure {
    /// Resolves once the writer is not in the middle of a write.
    async fn writer_caught_up(&self) {
        loop {
            // Created before the check: a notification in between is not missed.
            let done = self.done.notified();
            if !self.writing.load(Ordering::Acquire) {
                return;
            }
            done.await;
        }
    }

    /// Marks a write in progress until the returned guard is dropped.
    fn writing(&self) -> Writing<'_> {
        self.writing.store(true, Ordering::Release);
        Writing(self)
    }
}

/// A write in progress ([`Backpressure::writing`]); dropped when it ends, however it ends.
struct Writing<'a>(&'a Backpressure);

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        self.0.writing.store(false, Ordering::Release);
        self.0.done.notify_waiters();
    }
}

/// Writes replies, coalescing everything queued into one write.
async fn write_loop(
    mut writer: impl AsyncWrite + Unpin,
    mut inbox: mpsc::UnboundedReceiver<Outgoing>,
    max_frame: u32,
    backpressure: Arc<Backpressure>,
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
        if !out.is_empty() {
            let _writing = backpressure.writing();
            if writer.write_all(&out).await.is_err() {
                return;
            }
        }
        if out.capacity() > KEPT_BUFFER {
            out = Vec::with_capacity(4096);
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

    use std::time::Duration;

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

    /// An authenticated connection serving `peer`'s requests, its replies going into a pipe
    /// of `reply_pipe` bytes that nobody reads; the run's end of its events.
    fn serve_peer(
        reply_pipe: usize,
    ) -> (
        tokio::io::DuplexStream,
        mpsc::UnboundedReceiver<ConnEvent>,
        tokio::task::JoinHandle<()>,
        tokio::io::DuplexStream,
    ) {
        let (peer, requests) = tokio::io::duplex(1024);
        let (replies, unread) = tokio::io::duplex(reply_pipe);
        let (events, run) = mpsc::unbounded_channel();
        let peer_is = Peer {
            task_id: "t".into(),
            worker_id: None,
        };
        let address = SocketAddr::from(([127, 0, 0, 1], 1));
        let serving = tokio::spawn(authenticated(
            requests, replies, address, 1, peer_is, 1024, events,
        ));
        (peer, run, serving, unread)
    }

    /// Sends acquire requests until the connection stops taking them (200 ms without
    /// progress); how many were sent.
    async fn send_until_held_back(peer: &mut tokio::io::DuplexStream, what: &str) -> usize {
        let mut frame = Vec::new();
        let request = ClientMessage::AcquireBlocks {
            task_id: "t".into(),
            max: 1,
        };
        encode_frame(&request, 1024, &mut frame).unwrap();
        let mut sent = 0;
        while let Ok(Ok(())) =
            tokio::time::timeout(Duration::from_millis(200), peer.write_all(&frame)).await
        {
            sent += 1;
            assert!(sent < 100_000, "the server reads on while {what}");
        }
        sent
    }

    #[tokio::test]
    async fn a_peer_that_never_reads_its_replies_is_not_read_from() {
        // Requests come in through a small pipe; replies go to one nobody reads.
        let (mut peer, mut run, serving, _unread) = serve_peer(64);
        let Some(ConnEvent::Opened { outbox, .. }) = run.recv().await else {
            panic!("no Opened event");
        };
        // The run answers every request.
        let answering = tokio::spawn(async move {
            while let Some(ConnEvent::Messages { messages, .. }) = run.recv().await {
                for _ in messages {
                    let _ = outbox.send(Outgoing::Message(ServerMessage::RequestShutdown));
                }
            }
        });
        let sent = send_until_held_back(&mut peer, "its replies pile up").await;
        // A few replies fill the unread pipe; then the reader stops, and the requests fill
        // theirs: the peer is held back after a few hundred requests.
        assert!(sent < 1000, "{sent} requests were read");
        serving.abort();
        answering.abort();
    }

    #[tokio::test]
    async fn a_peer_that_sends_faster_than_the_run_applies_is_not_read_from() {
        let (mut peer, mut run, serving, _unread) = serve_peer(1024);
        // The run is busy: it takes no event.
        send_until_held_back(&mut peer, "the run lags behind").await;
        // Reads waiting for the run hold at most MAX_IN_FLIGHT places; then the pipe fills.
        let mut waiting = 0;
        while let Ok(event) = run.try_recv() {
            waiting += usize::from(matches!(event, ConnEvent::Messages { .. }));
        }
        assert!(waiting <= MAX_IN_FLIGHT, "{waiting} reads wait for the run");
        serving.abort();
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
