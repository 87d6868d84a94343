//! The wire protocol between daisy's server and its workers.
//!
//! Every message travels in a frame: a 4-byte big-endian payload length, then the message
//! encoded with [postcard](https://docs.rs/postcard). A connection starts with a
//! [`ClientMessage::Hello`] carrying [`MAGIC`], [`PROTOCOL_VERSION`] and the run's secret token;
//! nothing is served before the server answers [`ServerMessage::Welcome`]. Workers learn where
//! the server is, and the token, from the `DAISY_CONTEXT` environment variable ([`Context`]).
//! The byte-level layout is documented in `docs/protocol.md`.
//!
//! On untrusted networks the connection is TLS ([`TlsIdentity`]: a self-signed certificate per
//! run, pinned by the fingerprint in `DAISY_CONTEXT`).
//!
//! The messages, the framing and the TLS configuration are runtime-agnostic: they turn
//! messages into bytes and back; the server and the client move the bytes. The feature
//! `tokio` adds the connection [`Stream`] (plain or TLS) they move them over.
//!
//! ```
//! use daisy_protocol::{ClientMessage, DEFAULT_MAX_FRAME, decode_frame, encode_frame};
//!
//! let mut wire = Vec::new();
//! encode_frame(&ClientMessage::AcquireBlocks { task_id: "A".into(), max: 8 }, DEFAULT_MAX_FRAME, &mut wire).unwrap();
//! let (message, used): (ClientMessage, usize) = decode_frame(&wire, DEFAULT_MAX_FRAME).unwrap().unwrap();
//! assert_eq!(used, wire.len());
//! assert_eq!(message, ClientMessage::AcquireBlocks { task_id: "A".into(), max: 8 });
//! ```

mod context;
mod error;
mod frame;
mod handshake;
mod message;
mod tls;
#[cfg(feature = "tokio")]
mod transport;

pub use context::{Context, ENV_VARIABLE, TLS_FINGERPRINT_KEY};
pub use error::ProtocolError;
pub use frame::{DEFAULT_MAX_FRAME, decode_frame, encode_frame};
pub use handshake::{Peer, check_hello};
pub use message::{
    ClientMessage, MAGIC, PROTOCOL_VERSION, RELEASED_AS_FAILED, Released, ServerMessage,
};
pub use tls::{PinnedConfig, TlsError, TlsIdentity, fingerprint};
#[cfg(feature = "tokio")]
pub use transport::{ReadHalf, Stream, WriteHalf};
