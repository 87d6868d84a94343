//! The error type of the client crate.

use std::io;

use daisy_protocol::ProtocolError;

/// Everything that can go wrong between a worker and the daisy server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The TCP connection to the server could not be opened.
    #[error("cannot connect to the daisy server at {address}: {source}")]
    Connect {
        /// The `host:port` that was dialled.
        address: String,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// TLS refused the server: it presents another certificate than the one in the context, or
    /// does not speak TLS.
    #[error(transparent)]
    Tls(#[from] daisy_protocol::TlsError),
    /// The server refused the handshake (wrong token, other protocol version, ...).
    #[error("the daisy server refused the connection: {reason}")]
    Refused {
        /// The server's reason.
        reason: String,
    },
    /// The server sent bytes that are not a valid message, or speaks another version.
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    /// The server closed the connection where a reply was required.
    #[error("the daisy server at {address} closed the connection during {during}")]
    ConnectionClosed {
        /// The server's `host:port`.
        address: String,
        /// What the client was waiting for.
        during: &'static str,
    },
    /// The server did not answer within its bound ([`Timeouts`](crate::Timeouts)).
    #[error(
        "no answer from the daisy server at {address} during {during} within {}; \
         giving the server up",
        crate::timeouts::seconds(*.after)
    )]
    Timeout {
        /// The server's `host:port`.
        address: String,
        /// What the client was waiting for.
        during: &'static str,
        /// The bound that passed.
        after: std::time::Duration,
    },
    /// The connection failed under the client (reset, keepalive probes unanswered, ...).
    #[error("lost the connection to the daisy server at {address} during {during}: {source}")]
    Lost {
        /// The server's `host:port`.
        address: String,
        /// What the client was doing.
        during: &'static str,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The server sent a valid message that makes no sense at this point.
    #[error("unexpected message from the daisy server: {message}")]
    UnexpectedMessage {
        /// A description of the message and of what was expected.
        message: String,
    },
    /// Reading from or writing to the connection failed.
    #[error("i/o error on the connection to the daisy server: {0}")]
    Io(#[source] io::Error),
    /// The worker's context (`DAISY_CONTEXT`) is missing or lacks a field.
    #[error("invalid worker context: {0}")]
    Context(#[source] ProtocolError),
    /// The blocking [`Client`](crate::Client) was used on a thread that runs an async runtime.
    #[error(
        "the blocking daisy Client cannot be used inside an async runtime; use AsyncClient there"
    )]
    InsideRuntime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_the_values() {
        let connect = ClientError::Connect {
            address: "10.1.2.3:4567".into(),
            source: io::Error::from_raw_os_error(111),
        };
        assert_eq!(
            connect.to_string(),
            "cannot connect to the daisy server at 10.1.2.3:4567: Connection refused (os error 111)"
        );
        let refused = ClientError::Refused {
            reason: "wrong run token".into(),
        };
        assert_eq!(
            refused.to_string(),
            "the daisy server refused the connection: wrong run token"
        );
        let protocol = ClientError::from(ProtocolError::EmptyFrame);
        assert_eq!(protocol.to_string(), "protocol error: empty frame");
        let context = ClientError::Context(ProtocolError::MissingContext);
        assert_eq!(
            context.to_string(),
            "invalid worker context: DAISY_CONTEXT environment variable not found"
        );
        let closed = ClientError::ConnectionClosed {
            address: "10.1.2.3:4567".into(),
            during: "the handshake",
        };
        assert_eq!(
            closed.to_string(),
            "the daisy server at 10.1.2.3:4567 closed the connection during the handshake"
        );
        let timeout = ClientError::Timeout {
            address: "10.1.2.3:4567".into(),
            during: "the handshake",
            after: std::time::Duration::from_secs(15),
        };
        assert_eq!(
            timeout.to_string(),
            "no answer from the daisy server at 10.1.2.3:4567 during the handshake within \
             15 s; giving the server up"
        );
        let lost = ClientError::Lost {
            address: "10.1.2.3:4567".into(),
            during: "an acquire",
            source: io::Error::from_raw_os_error(110),
        };
        assert_eq!(
            lost.to_string(),
            "lost the connection to the daisy server at 10.1.2.3:4567 during an acquire: \
             Connection timed out (os error 110)"
        );
    }

    #[test]
    fn io_errors_keep_their_source() {
        let error = ClientError::Io(io::Error::new(io::ErrorKind::TimedOut, "too slow"));
        assert_eq!(
            error.to_string(),
            "i/o error on the connection to the daisy server: too slow"
        );
        let source = std::error::Error::source(&error).and_then(|s| s.downcast_ref::<io::Error>());
        assert_eq!(source.map(io::Error::kind), Some(io::ErrorKind::TimedOut));
    }
}
