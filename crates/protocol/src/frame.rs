//! Length-prefixed frames: a 4-byte big-endian payload length, then a postcard payload.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ProtocolError;

/// The largest payload accepted by default (64 MiB), as daisy 2.0.
pub const DEFAULT_MAX_FRAME: u32 = 64 << 20;

/// Appends one frame holding `message` to `out`, so several messages can go out in one write.
///
/// # Errors
///
/// [`ProtocolError::FrameTooLarge`] if the encoded message exceeds `max` bytes, or
/// [`ProtocolError::Decode`] if it cannot be encoded.
pub fn encode_frame<M: Serialize>(
    message: &M,
    max: u32,
    out: &mut Vec<u8>,
) -> Result<(), ProtocolError> {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    if let Err(e) = postcard::to_io(message, &mut *out) {
        out.truncate(start);
        return Err(ProtocolError::Decode {
            reason: e.to_string(),
        });
    }
    let len = u32::try_from(out.len() - start - 4).unwrap_or(u32::MAX);
    if len > max {
        out.truncate(start);
        return Err(ProtocolError::FrameTooLarge { len, max });
    }
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

/// Decodes the first frame of `buf`: `Ok(None)` if more bytes are needed, else the message and
/// the number of bytes it took. The length is checked against `max` before anything else, so
/// an oversized frame is refused without allocating.
///
/// # Errors
///
/// [`ProtocolError::EmptyFrame`], [`ProtocolError::FrameTooLarge`], [`ProtocolError::Decode`]
/// or [`ProtocolError::TrailingBytes`]: the connection should be closed.
pub fn decode_frame<M: DeserializeOwned>(
    buf: &[u8],
    max: u32,
) -> Result<Option<(M, usize)>, ProtocolError> {
    let Some(header) = buf.get(..4) else {
        return Ok(None);
    };
    let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    if len == 0 {
        return Err(ProtocolError::EmptyFrame);
    }
    if len > max {
        return Err(ProtocolError::FrameTooLarge { len, max });
    }
    let end = 4 + len as usize;
    let Some(payload) = buf.get(4..end) else {
        return Ok(None);
    };
    let (message, rest) =
        postcard::take_from_bytes(payload).map_err(|e| ProtocolError::Decode {
            reason: e.to_string(),
        })?;
    if !rest.is_empty() {
        return Err(ProtocolError::TrailingBytes { extra: rest.len() });
    }
    Ok(Some((message, end)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClientMessage, ServerMessage};

    #[test]
    fn round_trip_and_coalescing() {
        let mut out = Vec::new();
        encode_frame(
            &ClientMessage::hello("tok", "A", Some(3)),
            DEFAULT_MAX_FRAME,
            &mut out,
        )
        .unwrap();
        encode_frame(
            &ClientMessage::AcquireBlocks {
                task_id: "A".into(),
                max: 4,
            },
            DEFAULT_MAX_FRAME,
            &mut out,
        )
        .unwrap();
        let (first, n): (ClientMessage, usize) =
            decode_frame(&out, DEFAULT_MAX_FRAME).unwrap().unwrap();
        assert_eq!(first, ClientMessage::hello("tok", "A", Some(3)));
        let (second, m): (ClientMessage, usize) =
            decode_frame(&out[n..], DEFAULT_MAX_FRAME).unwrap().unwrap();
        assert_eq!(
            second,
            ClientMessage::AcquireBlocks {
                task_id: "A".into(),
                max: 4
            }
        );
        assert_eq!(n + m, out.len());
    }

    #[test]
    fn partial_frames_need_more_bytes() {
        let mut out = Vec::new();
        encode_frame(&ServerMessage::RequestShutdown, DEFAULT_MAX_FRAME, &mut out).unwrap();
        for cut in 0..out.len() {
            assert!(
                decode_frame::<ServerMessage>(&out[..cut], DEFAULT_MAX_FRAME)
                    .unwrap()
                    .is_none()
            );
        }
    }

    #[test]
    fn bad_frames_are_errors() {
        assert_eq!(
            decode_frame::<ServerMessage>(&[0, 0, 0, 0], 10),
            Err(ProtocolError::EmptyFrame)
        );
        assert_eq!(
            decode_frame::<ServerMessage>(&[0xff, 0xff, 0xff, 0xff], 10),
            Err(ProtocolError::FrameTooLarge {
                len: u32::MAX,
                max: 10
            })
        );
        assert!(matches!(
            decode_frame::<ServerMessage>(&[0, 0, 0, 1, 0xee], 10),
            Err(ProtocolError::Decode { .. })
        ));
        // RequestShutdown is one byte; a second byte is trailing garbage.
        assert_eq!(
            decode_frame::<ServerMessage>(&[0, 0, 0, 2, 3, 0], 10),
            Err(ProtocolError::TrailingBytes { extra: 1 })
        );
        let mut out = vec![7];
        let big = ServerMessage::Refused {
            reason: "x".repeat(100),
        };
        assert!(matches!(
            encode_frame(&big, 50, &mut out),
            Err(ProtocolError::FrameTooLarge { .. })
        ));
        assert_eq!(out, [7], "a refused frame leaves the buffer as it was");
    }
}
