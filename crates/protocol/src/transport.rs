//! The byte stream of a connection, on tokio: plain TCP, or TLS over TCP (`docs/protocol.md`).
//!
//! The server wraps every accepted socket with [`Stream::accept`], the client every connected
//! one with [`Stream::connect`]; both then read and write the [`Stream`] (or its halves,
//! [`Stream::into_split`]) as they would the socket.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use daisy_protocol::{Stream, TlsIdentity};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! use tokio::net::{TcpListener, TcpStream};
//!
//! let identity = TlsIdentity::generate().unwrap();
//! let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
//! let address = listener.local_addr().unwrap();
//! let fingerprint = identity.fingerprint().to_owned();
//! let client = tokio::spawn(async move {
//!     let tcp = TcpStream::connect(address).await.unwrap();
//!     let mut stream = Stream::connect(tcp, Some(&fingerprint), "the server").await.unwrap();
//!     stream.write_all(b"hi").await.unwrap();
//!     stream.flush().await.unwrap();
//! });
//! let (tcp, _) = listener.accept().await.unwrap();
//! let mut stream = Stream::accept(tcp, Some(&identity)).await.unwrap();
//! let mut text = [0u8; 2];
//! stream.read_exact(&mut text).await.unwrap();
//! assert_eq!((&text, stream.is_tls()), (b"hi", true));
//! client.await.unwrap();
//! # }
//! ```

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::{TlsAcceptor, TlsConnector, client, server};

use crate::{DEFAULT_MAX_FRAME, PinnedConfig, ServerMessage, TlsError, TlsIdentity, encode_frame};

/// The first byte of a TLS handshake record (content type 22).
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// A connection: plain TCP or TLS over TCP.
#[derive(Debug)]
pub enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS, the client's side.
    TlsClient(Box<client::TlsStream<TcpStream>>),
    /// TLS, the server's side.
    TlsServer(Box<server::TlsStream<TcpStream>>),
}

impl Stream {
    /// The client's side: plain TCP if `fingerprint` is `None`, else TLS accepting only the
    /// certificate with that SHA-256 fingerprint. `address` names the server in errors.
    ///
    /// Not bounded in time: the caller puts its handshake deadline around it.
    ///
    /// # Errors
    ///
    /// [`TlsError::Fingerprint`] for a fingerprint that is not 64 hex digits,
    /// [`TlsError::Mismatch`] if the server presents another certificate,
    /// [`TlsError::Closed`] if it closes the connection during the handshake (as a server
    /// without TLS does), [`TlsError::Handshake`] for any other failure.
    pub async fn connect(
        tcp: TcpStream,
        fingerprint: Option<&str>,
        address: &str,
    ) -> Result<Self, TlsError> {
        let Some(fingerprint) = fingerprint else {
            return Ok(Self::Plain(tcp));
        };
        let pinned = PinnedConfig::new(fingerprint)?;
        match TlsConnector::from(pinned.config())
            .connect(server_name(), tcp)
            .await
        {
            Ok(stream) => Ok(Self::TlsClient(Box::new(stream))),
            Err(source) => Err(match pinned.refused() {
                Some(found) => TlsError::Mismatch {
                    address: address.to_owned(),
                    expected: pinned.expected().to_owned(),
                    found: found.to_owned(),
                },
                None if is_closed(&source) => TlsError::Closed {
                    address: address.to_owned(),
                },
                None => TlsError::Handshake {
                    address: address.to_owned(),
                    source,
                },
            }),
        }
    }

    /// The server's side: plain TCP if `identity` is `None`, else TLS presenting its
    /// certificate. A peer whose first byte is not a TLS handshake record is sent a plain
    /// `Refused` frame that says the server speaks TLS only, and is closed.
    ///
    /// Not bounded in time: the caller puts its handshake deadline around it.
    ///
    /// # Errors
    ///
    /// [`TlsError::PlainPeer`] for a peer that does not speak TLS, [`TlsError::Accept`] if
    /// the handshake fails (including the peer closing before its first byte).
    pub async fn accept(tcp: TcpStream, identity: Option<&TlsIdentity>) -> Result<Self, TlsError> {
        let Some(identity) = identity else {
            return Ok(Self::Plain(tcp));
        };
        let mut tcp = tcp;
        let mut first = [0u8; 1];
        let peeked = tcp
            .peek(&mut first)
            .await
            .map_err(|source| TlsError::Accept { source })?;
        if peeked == 0 {
            return Err(TlsError::Accept {
                source: io::Error::from(io::ErrorKind::UnexpectedEof),
            });
        }
        if first[0] != TLS_HANDSHAKE_RECORD {
            refuse_plain(&mut tcp).await;
            return Err(TlsError::PlainPeer { first: first[0] });
        }
        TlsAcceptor::from(identity.server_config())
            .accept(tcp)
            .await
            .map(|stream| Self::TlsServer(Box::new(stream)))
            .map_err(|source| TlsError::Accept { source })
    }

    /// The TCP socket underneath (for socket options).
    #[must_use]
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain(tcp) => tcp,
            Self::TlsClient(tls) => tls.get_ref().0,
            Self::TlsServer(tls) => tls.get_ref().0,
        }
    }

    /// Whether the connection is encrypted.
    #[must_use]
    pub fn is_tls(&self) -> bool {
        !matches!(self, Self::Plain(_))
    }

    /// Splits into a read and a write half that can be used from different tasks (a plain
    /// socket without locking, a TLS stream with tokio's split).
    #[must_use]
    pub fn into_split(self) -> (ReadHalf, WriteHalf) {
        match self {
            Self::Plain(tcp) => {
                let (read, write) = tcp.into_split();
                (ReadHalf::Plain(read), WriteHalf::Plain(write))
            }
            tls => {
                let (read, write) = tokio::io::split(tls);
                (ReadHalf::Tls(read), WriteHalf::Tls(write))
            }
        }
    }
}

/// The name a client gives rustls for the server (not sent, not checked: the fingerprint
/// names the server).
fn server_name() -> ServerName<'static> {
    ServerName::from(std::net::IpAddr::from(std::net::Ipv4Addr::LOCALHOST))
}

/// Whether a handshake error means the peer closed the connection.
fn is_closed(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// Tells a plain peer (a worker without the fingerprint) why it is turned away, in its own
/// protocol, then closes. Errors are ignored: the peer may be gone already.
async fn refuse_plain(tcp: &mut TcpStream) {
    let refused = ServerMessage::Refused {
        reason: "this daisy server accepts TLS connections only: give the worker the run's \
                 DAISY_CONTEXT, whose tls_sha256 entry makes it connect with TLS"
            .to_owned(),
    };
    let mut out = Vec::new();
    if encode_frame(&refused, DEFAULT_MAX_FRAME, &mut out).is_ok() {
        let _ = tcp.write_all(&out).await;
    }
    let _ = tcp.shutdown().await;
}

/// The read half of a [`Stream`].
#[derive(Debug)]
pub enum ReadHalf {
    /// Of a plain socket.
    Plain(OwnedReadHalf),
    /// Of a TLS stream.
    Tls(tokio::io::ReadHalf<Stream>),
}

/// The write half of a [`Stream`].
#[derive(Debug)]
pub enum WriteHalf {
    /// Of a plain socket.
    Plain(OwnedWriteHalf),
    /// Of a TLS stream.
    Tls(tokio::io::WriteHalf<Stream>),
}

/// Forwards a poll to whichever variant `$self` is.
macro_rules! each {
    ($self:expr, $inner:ident => $call:expr) => {
        match $self.get_mut() {
            Stream::Plain($inner) => {
                let $inner = Pin::new($inner);
                $call
            }
            Stream::TlsClient($inner) => {
                let $inner = Pin::new($inner.as_mut());
                $call
            }
            Stream::TlsServer($inner) => {
                let $inner = Pin::new($inner.as_mut());
                $call
            }
        }
    };
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        each!(self, s => s.poll_read(cx, buf))
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        each!(self, s => s.poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, s => s.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, s => s.poll_shutdown(cx))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        each!(self, s => s.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(s) => s.is_write_vectored(),
            Self::TlsClient(s) => s.is_write_vectored(),
            Self::TlsServer(s) => s.is_write_vectored(),
        }
    }
}

impl AsyncRead for ReadHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(r) => Pin::new(r).poll_read(cx, buf),
            Self::Tls(r) => Pin::new(r).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for WriteHalf {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(w) => Pin::new(w).poll_write(cx, buf),
            Self::Tls(w) => Pin::new(w).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(w) => Pin::new(w).poll_flush(cx),
            Self::Tls(w) => Pin::new(w).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(w) => Pin::new(w).poll_shutdown(cx),
            Self::Tls(w) => Pin::new(w).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(w) => Pin::new(w).poll_write_vectored(cx, bufs),
            Self::Tls(w) => Pin::new(w).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(w) => w.is_write_vectored(),
            Self::Tls(w) => w.is_write_vectored(),
        }
    }
}
