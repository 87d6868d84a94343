//! The async client: one TCP connection to the server, on tokio.

use std::io::ErrorKind;
use std::sync::Arc;

use daisy_core::{Block, BlockStatus};
use daisy_protocol::{
    ClientMessage, Context, DEFAULT_MAX_FRAME, PROTOCOL_VERSION, ProtocolError, Released,
    ServerMessage, Stream, TLS_FINGERPRINT_KEY, decode_frame, encode_frame,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::ClientError;
use crate::timeouts::Timeouts;

/// How many bytes the read buffer grows by at least before a read.
const READ_CHUNK: usize = 8 * 1024;

/// The longest error text sent to the server; longer texts are cut (the server only logs them).
const MAX_ERROR_TEXT: usize = 64 * 1024;

/// A worker's connection to the daisy server, on tokio.
///
/// Releases are buffered ([`queue_release`](Self::queue_release),
/// [`queue_block_failed`](Self::queue_block_failed)) and go out together with the next
/// [`acquire_blocks`](Self::acquire_blocks) request in a single write, or on
/// [`flush`](Self::flush) / [`disconnect`](Self::disconnect). Dropping an `AsyncClient`
/// closes the socket without sending what is still queued: call
/// [`disconnect`](Self::disconnect) when done.
///
/// No wait on the server is unbounded ([`Timeouts`]): connect, handshake and writes have
/// deadlines, and the wait for blocks (which a healthy server may keep open for long) is
/// watched by TCP keepalive probes, so a worker whose server is gone gets an error or the
/// end of its work within seconds, with a log line naming the server.
///
/// ```no_run
/// # async fn work() -> Result<(), daisy_client::ClientError> {
/// use daisy_client::AsyncClient;
/// use daisy_core::BlockStatus;
/// use daisy_protocol::Context;
///
/// let context = Context::from_env().map_err(daisy_client::ClientError::Context)?;
/// let mut client = AsyncClient::connect(&context).await?;
/// while let Some(blocks) = client.acquire_blocks(4).await? {
///     for mut block in blocks {
///         // ... process block.write_roi ...
///         block.status = BlockStatus::Success;
///         client.queue_release(&block);
///     }
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct AsyncClient {
    /// The connection: TLS when the context has the server's certificate fingerprint.
    stream: Stream,
    /// The server's `host:port`, for errors and logs.
    address: String,
    /// The bounds of every wait on the server.
    timeouts: Timeouts,
    /// The task this worker works for, sent with every acquire.
    task_id: String,
    /// The worker's id, if the server started this worker.
    worker_id: Option<u64>,
    /// Frames waiting to be written, possibly several.
    output: Vec<u8>,
    /// Blocks returned but not yet encoded: they go out as one `ReleaseBlocks` per task,
    /// before the next frame.
    released: Vec<(Arc<str>, Released)>,
    /// Bytes read but not yet decoded; reused across reads.
    input: Vec<u8>,
    /// Whether the connection is finished (shutdown requested, closed by the server, or
    /// disconnected); acquires then return `None` and nothing more is written.
    closed: bool,
}

/// What reading from the connection gave.
enum Incoming {
    /// A complete message.
    Message(ServerMessage),
    /// The server closed the connection.
    Closed,
}

impl AsyncClient {
    /// Connects to the server named by `context` (`hostname`, `port`) and performs the handshake
    /// with the context's `token`, `task_id` and `worker_id`, within the default
    /// [`Timeouts`].
    ///
    /// # Errors
    ///
    /// As [`connect_with`](Self::connect_with).
    pub async fn connect(context: &Context) -> Result<Self, ClientError> {
        Self::connect_with(context, Timeouts::DEFAULT).await
    }

    /// Connects as [`connect`](Self::connect) does, with the bounds `timeouts` for this and
    /// every later wait on the server.
    ///
    /// # Errors
    ///
    /// [`ClientError::Context`] if the context lacks `hostname`, `port` or `task_id` (or
    /// `worker_id` is not a number), [`ClientError::Connect`] if the server cannot be reached,
    /// [`ClientError::Timeout`] if connecting or the handshake takes longer than its bound,
    /// [`ClientError::Tls`] if the context has a `tls_sha256` fingerprint and the server
    /// does not speak TLS or presents another certificate,
    /// [`ClientError::Refused`] if the server refuses the handshake,
    /// [`ClientError::ConnectionClosed`] if it closes the connection before answering, or a
    /// protocol or I/O error.
    pub async fn connect_with(context: &Context, timeouts: Timeouts) -> Result<Self, ClientError> {
        let host = context.hostname().map_err(ClientError::Context)?;
        let port = context.port().map_err(ClientError::Context)?;
        let task_id = context.task_id().map_err(ClientError::Context)?.to_owned();
        let worker_id = context.worker_id().map_err(ClientError::Context)?;
        // An IPv6 literal in brackets, so the port stays readable.
        let address = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let stream =
            match tokio::time::timeout(timeouts.connect, TcpStream::connect((host, port))).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(source)) => return Err(ClientError::Connect { address, source }),
                Err(_) => {
                    return Err(ClientError::Timeout {
                        address,
                        during: "connect",
                        after: timeouts.connect,
                    });
                }
            };
        stream.set_nodelay(true).map_err(ClientError::Io)?;
        timeouts.watch(&stream).map_err(ClientError::Io)?;
        // TLS (docs/protocol.md) when the server gave its certificate's fingerprint.
        let fingerprint = context.get(TLS_FINGERPRINT_KEY);
        let stream = match tokio::time::timeout(
            timeouts.handshake,
            Stream::connect(stream, fingerprint, &address),
        )
        .await
        {
            Ok(Ok(stream)) => stream,
            Ok(Err(source)) => return Err(ClientError::Tls(source)),
            Err(_) => {
                return Err(ClientError::Timeout {
                    address,
                    during: "the TLS handshake",
                    after: timeouts.handshake,
                });
            }
        };
        let mut client = Self {
            stream,
            address,
            timeouts,
            task_id,
            worker_id,
            output: Vec::new(),
            released: Vec::new(),
            input: Vec::with_capacity(READ_CHUNK),
            closed: false,
        };
        client.handshake(context.token()).await?;
        match client.worker_id {
            Some(w) => tracing::debug!(
                "connected to the daisy server at {host}:{port} for task {} as worker {w}",
                client.task_id
            ),
            None => tracing::debug!(
                "connected to the daisy server at {host}:{port} for task {} (a worker the \
                 server did not start)",
                client.task_id
            ),
        }
        Ok(client)
    }

    /// Sends `Hello` and waits for `Welcome`, at most the handshake bound.
    async fn handshake(&mut self, token: &str) -> Result<(), ClientError> {
        const DURING: &str = "the handshake";
        let hello = ClientMessage::hello(token, &self.task_id, self.worker_id);
        encode_frame(&hello, DEFAULT_MAX_FRAME, &mut self.output)?;
        self.write_output(DURING).await?;
        let bound = self.timeouts.handshake;
        let reply = tokio::time::timeout(bound, self.read_message(DURING))
            .await
            .map_err(|_| ClientError::Timeout {
                address: self.address.clone(),
                during: DURING,
                after: bound,
            })?;
        match reply? {
            Incoming::Message(ServerMessage::Welcome { version })
                if version == PROTOCOL_VERSION =>
            {
                Ok(())
            }
            Incoming::Message(ServerMessage::Welcome { version }) => {
                Err(ProtocolError::VersionMismatch {
                    ours: PROTOCOL_VERSION,
                    theirs: version,
                }
                .into())
            }
            Incoming::Message(ServerMessage::Refused { reason }) => {
                Err(ClientError::Refused { reason })
            }
            Incoming::Message(other) => Err(ClientError::UnexpectedMessage {
                message: format!("{} before Welcome", describe(&other)),
            }),
            Incoming::Closed => Err(ClientError::ConnectionClosed {
                address: self.address.clone(),
                during: DURING,
            }),
        }
    }

    /// The task this client works for.
    #[must_use]
    pub fn task_id(&self) -> &str {
        &self.task_id
    }

    /// The worker id from the context, if any.
    #[must_use]
    pub fn worker_id(&self) -> Option<u64> {
        self.worker_id
    }

    /// The server's `host:port`.
    #[must_use]
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The bounds of this client's waits on the server.
    #[must_use]
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// Whether the connection is finished: shutdown was requested, the server closed it, or
    /// it was disconnected.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Asks for up to `max` blocks (0 counts as 1) and waits for the answer, sending queued
    /// releases in the same write.
    ///
    /// The wait for the answer has no deadline: the server keeps a request it cannot serve
    /// yet until blocks are ready. It is watched by TCP keepalive instead ([`Timeouts`]), so a
    /// vanished server is a [`ClientError::Lost`] within seconds. `Ok(None)` means there is
    /// no more work: the server requested shutdown (the client then says `Goodbye` and
    /// closes) or closed the connection (logged as a warning naming the server, since the
    /// server ended or was killed). Once closed, every further call returns `Ok(None)` at
    /// once.
    ///
    /// Not cancel-safe: if the returned future is dropped before it completes (e.g. by a
    /// timeout), the server may still answer the request, and that answer would be taken as
    /// the reply to the next one. Disconnect after cancelling.
    ///
    /// # Errors
    ///
    /// [`ClientError::Protocol`] if the server sends bytes that are not a valid frame,
    /// [`ClientError::UnexpectedMessage`] for a valid message other than `SendBlocks` (with at
    /// least one block) or `RequestShutdown`, [`ClientError::Refused`] if the server sends
    /// `Refused`, [`ClientError::Timeout`] if the request cannot be written within its bound,
    /// or [`ClientError::Lost`].
    pub async fn acquire_blocks(&mut self, max: u32) -> Result<Option<Vec<Block>>, ClientError> {
        const DURING: &str = "an acquire";
        if self.closed {
            return Ok(None);
        }
        let request = ClientMessage::AcquireBlocks {
            task_id: self.task_id.clone(),
            max: max.max(1),
        };
        self.frame(&request)?;
        match self.write_output(DURING).await {
            Ok(()) => {}
            Err(ClientError::ConnectionClosed { .. }) => return Ok(self.closed_by_server(DURING)),
            Err(e) => return Err(e),
        }
        match self.read_message(DURING).await? {
            Incoming::Message(ServerMessage::SendBlocks { blocks }) if !blocks.is_empty() => {
                Ok(Some(blocks))
            }
            Incoming::Message(ServerMessage::RequestShutdown) => {
                tracing::debug!("the daisy server requested shutdown");
                if let Err(e) = self.goodbye().await {
                    tracing::debug!("saying goodbye after shutdown request failed: {e}");
                }
                Ok(None)
            }
            Incoming::Message(ServerMessage::Refused { reason }) => {
                Err(ClientError::Refused { reason })
            }
            Incoming::Message(other) => Err(ClientError::UnexpectedMessage {
                message: format!("{} in reply to AcquireBlocks", describe(&other)),
            }),
            Incoming::Closed => Ok(self.closed_by_server(DURING)),
        }
    }

    /// Marks the connection as closed by the server; the value an acquire returns then.
    fn closed_by_server(&mut self, during: &str) -> Option<Vec<Block>> {
        tracing::warn!(
            "the daisy server at {} closed the connection during {during} without asking this \
             worker to stop (the run ended or the server was killed): no more blocks for \
             {} of task {}",
            self.address,
            crate::client::worker_label(self.worker_id),
            self.task_id
        );
        self.closed = true;
        self.output.clear();
        self.released.clear();
        None
    }

    /// Queues the return of a processed block; it goes out with the next request or flush.
    ///
    /// A block whose status is not SUCCESS is returned as FAILED (the server accepts nothing
    /// else). Nothing is sent once the connection is closed.
    pub fn queue_release(&mut self, block: &Block) {
        let error = (block.status != BlockStatus::Success)
            .then(|| daisy_protocol::RELEASED_AS_FAILED.to_owned());
        self.queue_released(block, error);
    }

    /// Queues the report of a failed block with its error text (the block is returned as
    /// FAILED); it goes out with the next request or flush.
    ///
    /// Texts longer than 64 KiB are cut. Nothing is sent once the connection is closed.
    pub fn queue_block_failed(&mut self, block: &Block, error: &str) {
        self.queue_released(block, Some(truncate(error, MAX_ERROR_TEXT).to_owned()));
    }

    fn queue_released(&mut self, block: &Block, error: Option<String>) {
        if self.closed {
            tracing::debug!("not returning {}: the connection is closed", block.block_id);
            return;
        }
        self.released.push((
            Arc::clone(&block.block_id.task_id),
            Released {
                spatial_id: block.spatial_id(),
                error,
            },
        ));
    }

    /// Encodes the returned blocks (one `ReleaseBlocks` per run of one task), then `message`.
    fn frame(&mut self, message: &ClientMessage) -> Result<(), ClientError> {
        self.encode_released()?;
        encode_frame(message, DEFAULT_MAX_FRAME, &mut self.output)?;
        Ok(())
    }

    fn encode_released(&mut self) -> Result<(), ClientError> {
        let mut released = std::mem::take(&mut self.released).into_iter().peekable();
        while let Some((task_id, first)) = released.next() {
            let mut batch = vec![first];
            while let Some((_, next)) = released.next_if(|(t, _)| *t == task_id) {
                batch.push(next);
            }
            let message = ClientMessage::ReleaseBlocks {
                task_id: task_id.to_string(),
                released: batch,
            };
            encode_frame(&message, DEFAULT_MAX_FRAME, &mut self.output)?;
        }
        Ok(())
    }

    /// Whether releases are queued but not yet sent.
    #[must_use]
    pub fn has_queued(&self) -> bool {
        !self.output.is_empty() || !self.released.is_empty()
    }

    /// Sends everything queued now.
    ///
    /// # Errors
    ///
    /// [`ClientError::ConnectionClosed`] if the server has closed the connection,
    /// [`ClientError::Timeout`] if the write takes longer than its bound, or
    /// [`ClientError::Lost`].
    pub async fn flush(&mut self) -> Result<(), ClientError> {
        if self.closed {
            self.output.clear();
            self.released.clear();
            return Ok(());
        }
        self.write_output("a release").await
    }

    /// Reports a failure of the worker's own code outside any block (daisy's
    /// `ClientException`); the server aborts the run. Queued releases go out first.
    ///
    /// # Errors
    ///
    /// [`ClientError::ConnectionClosed`] if the connection is closed, or as
    /// [`flush`](Self::flush).
    pub async fn client_exception(&mut self, error: &str) -> Result<(), ClientError> {
        const DURING: &str = "a client exception report";
        if self.closed {
            return Err(ClientError::ConnectionClosed {
                address: self.address.clone(),
                during: DURING,
            });
        }
        let message = ClientMessage::ClientException {
            error: truncate(error, MAX_ERROR_TEXT).to_owned(),
        };
        self.frame(&message)?;
        self.write_output(DURING).await
    }

    /// Sends what is queued, says `Goodbye` and closes the connection.
    ///
    /// # Errors
    ///
    /// As [`flush`](Self::flush) if the last bytes cannot be written (within the write
    /// bound); the connection is closed anyway.
    pub async fn disconnect(mut self) -> Result<(), ClientError> {
        if self.closed {
            return Ok(());
        }
        self.goodbye().await
    }

    /// Sends what is queued plus `Goodbye` in one write, then shuts the connection down.
    async fn goodbye(&mut self) -> Result<(), ClientError> {
        self.closed = true;
        let result = match self.frame(&ClientMessage::Goodbye) {
            Ok(()) => self.write_output("the goodbye").await,
            Err(e) => Err(e),
        };
        self.output.clear();
        self.released.clear();
        if let Err(e) = self.stream.shutdown().await {
            tracing::debug!("shutting the connection down failed: {e}");
        }
        match result {
            // The server went first; nothing was lost that it still wanted.
            Err(ClientError::ConnectionClosed { .. }) => Ok(()),
            other => other,
        }
    }

    /// Writes the output buffer in one write, at most the write bound, and empties it.
    async fn write_output(&mut self, during: &'static str) -> Result<(), ClientError> {
        self.encode_released()?;
        if self.output.is_empty() {
            return Ok(());
        }
        let bound = self.timeouts.write;
        let result = tokio::time::timeout(bound, self.stream.write_all(&self.output)).await;
        self.output.clear();
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) if is_closed(e.kind()) => {
                self.closed = true;
                Err(ClientError::ConnectionClosed {
                    address: self.address.clone(),
                    during,
                })
            }
            Ok(Err(source)) => Err(self.lost(during, source)),
            Err(_) => {
                // Part of a frame may have gone out: nothing more can be said on this stream.
                self.closed = true;
                Err(ClientError::Timeout {
                    address: self.address.clone(),
                    during,
                    after: bound,
                })
            }
        }
    }

    /// The error of a connection that failed under the client; nothing more is sent on it.
    fn lost(&mut self, during: &'static str, source: std::io::Error) -> ClientError {
        self.closed = true;
        ClientError::Lost {
            address: self.address.clone(),
            during,
            source,
        }
    }

    /// Reads until one complete message is buffered, or the connection closes.
    async fn read_message(&mut self, during: &'static str) -> Result<Incoming, ClientError> {
        loop {
            if let Some((message, used)) = decode_frame(&self.input, DEFAULT_MAX_FRAME)? {
                self.input.drain(..used);
                return Ok(Incoming::Message(message));
            }
            self.input.reserve(READ_CHUNK);
            match self.stream.read_buf(&mut self.input).await {
                Ok(0) => {
                    if !self.input.is_empty() {
                        tracing::debug!(
                            "the connection closed in the middle of a frame ({} bytes buffered)",
                            self.input.len()
                        );
                    }
                    self.input.clear();
                    return Ok(Incoming::Closed);
                }
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if is_closed(e.kind()) => {
                    self.input.clear();
                    return Ok(Incoming::Closed);
                }
                Err(e) => return Err(self.lost(during, e)),
            }
        }
    }
}

/// Whether an I/O error means that the peer has closed the connection.
fn is_closed(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
            | ErrorKind::UnexpectedEof
            | ErrorKind::NotConnected
    )
}

/// A short description of a server message for errors, without payloads.
fn describe(message: &ServerMessage) -> String {
    match message {
        ServerMessage::Welcome { version } => format!("Welcome(version {version})"),
        ServerMessage::Refused { reason } => format!("Refused: {reason}"),
        ServerMessage::SendBlocks { blocks } => format!("SendBlocks({} blocks)", blocks.len()),
        ServerMessage::RequestShutdown => "RequestShutdown".to_owned(),
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_kinds() {
        assert!(is_closed(ErrorKind::ConnectionReset));
        assert!(is_closed(ErrorKind::BrokenPipe));
        assert!(!is_closed(ErrorKind::TimedOut));
        assert!(!is_closed(ErrorKind::PermissionDenied));
    }

    #[test]
    fn descriptions_name_the_message() {
        assert_eq!(
            describe(&ServerMessage::Welcome { version: 1 }),
            "Welcome(version 1)"
        );
        assert_eq!(
            describe(&ServerMessage::Refused {
                reason: "no".into()
            }),
            "Refused: no"
        );
        assert_eq!(
            describe(&ServerMessage::SendBlocks { blocks: vec![] }),
            "SendBlocks(0 blocks)"
        );
        assert_eq!(describe(&ServerMessage::RequestShutdown), "RequestShutdown");
    }

    #[test]
    fn truncation_keeps_whole_characters() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("abcdef", 3), "abc");
        // 'é' is two bytes: cutting inside it backs off to before it.
        assert_eq!(truncate("aé", 2), "a");
        assert_eq!(truncate("aé", 3), "aé");
    }
}
