//! Checking a connection's first message.

use crate::{ClientMessage, MAGIC, PROTOCOL_VERSION, ProtocolError};

/// Who connected, after a successful handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// The task the worker works for.
    pub task_id: String,
    /// The worker id, if the server started the worker.
    pub worker_id: Option<u64>,
}

/// Checks a connection's first message against the run's token.
///
/// # Errors
///
/// [`ProtocolError::UnexpectedMessage`] if it is not a `Hello`, [`ProtocolError::BadMagic`],
/// [`ProtocolError::VersionMismatch`] or [`ProtocolError::WrongToken`].
pub fn check_hello(message: ClientMessage, token: &str) -> Result<Peer, ProtocolError> {
    let ClientMessage::Hello {
        magic,
        version,
        token: presented,
        task_id,
        worker_id,
    } = message
    else {
        return Err(ProtocolError::UnexpectedMessage {
            message: format!("{} before Hello", message.describe()),
        });
    };
    if magic != MAGIC {
        return Err(ProtocolError::BadMagic { magic });
    }
    if version != PROTOCOL_VERSION {
        return Err(ProtocolError::VersionMismatch {
            ours: PROTOCOL_VERSION,
            theirs: version,
        });
    }
    if !constant_time_eq(presented.as_bytes(), token.as_bytes()) {
        return Err(ProtocolError::WrongToken);
    }
    Ok(Peer { task_id, worker_id })
}

/// Compares without an early exit, so the token cannot be guessed byte by byte from timing.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_is_checked() {
        let ok = check_hello(ClientMessage::hello("secret", "A", Some(2)), "secret").unwrap();
        assert_eq!(
            ok,
            Peer {
                task_id: "A".into(),
                worker_id: Some(2)
            }
        );
        assert_eq!(
            check_hello(ClientMessage::hello("guess", "A", None), "secret"),
            Err(ProtocolError::WrongToken)
        );
        let mut bad = ClientMessage::hello("secret", "A", None);
        if let ClientMessage::Hello { version, .. } = &mut bad {
            *version = 99;
        }
        assert_eq!(
            check_hello(bad, "secret"),
            Err(ProtocolError::VersionMismatch {
                ours: 1,
                theirs: 99
            })
        );
        let err = check_hello(ClientMessage::Goodbye, "secret").unwrap_err();
        assert_eq!(err.to_string(), "unexpected message: Goodbye before Hello");
    }
}
