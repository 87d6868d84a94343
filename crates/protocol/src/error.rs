//! The error type of the protocol crate.

/// Everything that can be wrong with bytes on the wire or a `DAISY_CONTEXT`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A frame announced more bytes than allowed.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge {
        /// The announced length.
        len: u32,
        /// The limit.
        max: u32,
    },
    /// A frame announced zero bytes.
    #[error("empty frame")]
    EmptyFrame,
    /// A frame's payload is not a valid message.
    #[error("undecodable message: {reason}")]
    Decode {
        /// What the decoder said.
        reason: String,
    },
    /// A frame's payload has bytes left over after the message.
    #[error("{extra} trailing bytes after a message")]
    TrailingBytes {
        /// How many.
        extra: usize,
    },
    /// The first message of a connection does not start with daisy's magic bytes.
    #[error(
        "not a daisy peer: bad magic {:02x} {:02x} {:02x} {:02x}",
        magic[0],
        magic[1],
        magic[2],
        magic[3]
    )]
    BadMagic {
        /// What was received.
        magic: [u8; 4],
    },
    /// The peer speaks another protocol version.
    #[error("protocol version mismatch: we speak {ours}, the peer {theirs}")]
    VersionMismatch {
        /// Our version.
        ours: u16,
        /// The peer's.
        theirs: u16,
    },
    /// The peer presented the wrong run token.
    #[error("wrong run token")]
    WrongToken,
    /// A message that is not allowed at this point.
    #[error("unexpected message: {message}")]
    UnexpectedMessage {
        /// A description of the message.
        message: String,
    },
    /// `DAISY_CONTEXT` is not set.
    #[error("DAISY_CONTEXT environment variable not found")]
    MissingContext,
    /// A `DAISY_CONTEXT` item is neither `key=value` (exactly one `=`) nor `key==value`.
    #[error(
        "DAISY_CONTEXT item {position} '{entry}' is not of the form key=value \
         (items are separated by ':', each has exactly one '=', or '==' before a \
         percent-escaped value)"
    )]
    MalformedContext {
        /// The item.
        entry: String,
        /// Its position in the text, from 1.
        position: usize,
    },
    /// A `DAISY_CONTEXT` item of the escaped form `key==value` has a bad escape.
    #[error("DAISY_CONTEXT item {position} '{entry}' has a bad escape: {reason}")]
    ContextEscape {
        /// The item.
        entry: String,
        /// Its position in the text, from 1.
        position: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A context entry the caller needs is missing or malformed.
    #[error("DAISY_CONTEXT has no valid {key}{}", found_text(.found.as_deref()))]
    ContextField {
        /// The key.
        key: &'static str,
        /// What was there, if anything.
        found: Option<String>,
    },
}

/// `: '<found>'` for a context value that was there but invalid, nothing for a missing one.
fn found_text(found: Option<&str>) -> String {
    found.map(|f| format!(": '{f}'")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_magic_is_shown_as_bytes() {
        assert_eq!(
            ProtocolError::BadMagic { magic: *b"GET " }.to_string(),
            "not a daisy peer: bad magic 47 45 54 20"
        );
    }
}
