#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The decoder against hostile and random input, round trips of every message, and the exact
//! bytes of the worked examples in `docs/protocol.md` (which must appear in the document
//! verbatim, so the two cannot drift apart).

use daisy_core::{Block, BlockId, BlockStatus};
use daisy_geometry::{Coordinate, Roi};
use daisy_protocol::{
    ClientMessage, DEFAULT_MAX_FRAME, MAGIC, PROTOCOL_VERSION, ProtocolError, Released,
    ServerMessage, decode_frame, encode_frame,
};
use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The protocol document; the worked examples below must appear in it byte for byte.
const DOC: &str = include_str!("../../../docs/protocol.md");

// ---- helpers ----

/// One frame holding `message`.
fn frame<M: Serialize>(message: &M) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(message, DEFAULT_MAX_FRAME, &mut out).unwrap();
    out
}

/// Lowercase hex, 16 bytes a line, bytes separated by one space (the document's format).
fn hex(bytes: &[u8]) -> String {
    bytes
        .chunks(16)
        .map(|line| {
            line.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts that `bytes` are `expected` (in the document's hex format) and that the document
/// shows them in a fenced block of their own.
fn assert_documented(name: &str, bytes: &[u8], expected: &str) {
    let got = hex(bytes);
    assert_eq!(got, expected, "{name}: the encoding changed:\n{got}");
    let fenced = format!("```text\n{expected}\n```");
    assert!(
        DOC.contains(&fenced),
        "{name}: docs/protocol.md does not show these bytes:\n{fenced}"
    );
}

/// Blocks compare by id only; this compares everything that goes on the wire (times bitwise).
fn same_block(a: &Block, b: &Block) -> bool {
    a.block_id == b.block_id
        && a.read_roi == b.read_roi
        && a.write_roi == b.write_roi
        && a.requested_write_roi == b.requested_write_roi
        && a.status == b.status
        && a.started_processing.map(f64::to_bits) == b.started_processing.map(f64::to_bits)
        && a.stopped_processing.map(f64::to_bits) == b.stopped_processing.map(f64::to_bits)
}

/// Decodes the one frame `bytes`, asserting it uses all of them.
fn decode_all<M: DeserializeOwned>(bytes: &[u8]) -> M {
    let (message, used) = decode_frame::<M>(bytes, DEFAULT_MAX_FRAME)
        .unwrap()
        .expect("a whole frame");
    assert_eq!(used, bytes.len());
    message
}

/// After a successful decode: the message re-encodes canonically (never longer than what was
/// decoded) and decodes to the same bytes again.
fn assert_re_encodes<M: Serialize + DeserializeOwned>(message: &M, used: usize) {
    let once = frame(message);
    assert!(once.len() <= used, "{} > {used}", once.len());
    let again: M = decode_all(&once);
    assert_eq!(frame(&again), once);
}

/// The block of the worked examples: task "A", spatial id 300, read ROI [-2:12], write ROI
/// [0:10], handed out at 1700000000.5 s (the server hands blocks out as CREATED).
fn example_block() -> Block {
    let mut block = Block::new(
        "A".into(),
        300,
        Roi::from_values(&[-2], &[14]).unwrap(),
        Roi::from_values(&[0], &[10]).unwrap(),
    );
    block.started_processing = Some(1_700_000_000.5);
    block
}

// ---- worked examples of docs/protocol.md ----

#[test]
fn example_hello() {
    let bytes = frame(&ClientMessage::hello("secret", "A", Some(3)));
    assert_documented(
        "Hello",
        &bytes,
        "00 00 00 11 00 44 53 59 31 01 06 73 65 63 72 65\n74 01 41 01 03",
    );
    let hello: ClientMessage = decode_all(&bytes);
    assert_eq!(
        hello,
        ClientMessage::Hello {
            magic: MAGIC,
            version: PROTOCOL_VERSION,
            token: "secret".into(),
            task_id: "A".into(),
            worker_id: Some(3),
        }
    );
}

#[test]
fn example_welcome_refused_shutdown_goodbye() {
    assert_documented(
        "Welcome",
        &frame(&ServerMessage::Welcome { version: 1 }),
        "00 00 00 02 00 01",
    );
    assert_documented(
        "Refused",
        &frame(&ServerMessage::Refused {
            reason: "wrong run token".into(),
        }),
        "00 00 00 11 01 0f 77 72 6f 6e 67 20 72 75 6e 20\n74 6f 6b 65 6e",
    );
    assert_documented(
        "RequestShutdown",
        &frame(&ServerMessage::RequestShutdown),
        "00 00 00 01 03",
    );
    assert_documented("Goodbye", &frame(&ClientMessage::Goodbye), "00 00 00 01 05");
}

#[test]
fn example_acquire_blocks() {
    let request = ClientMessage::AcquireBlocks {
        task_id: "A".into(),
        max: 4,
    };
    let bytes = frame(&request);
    assert_documented("AcquireBlocks", &bytes, "00 00 00 04 01 01 41 04");
    assert_eq!(decode_all::<ClientMessage>(&bytes), request);
}

#[test]
fn example_send_blocks() {
    let bytes = frame(&ServerMessage::SendBlocks {
        blocks: vec![example_block()],
    });
    assert_documented(
        "SendBlocks",
        &bytes,
        "00 00 00 23 02 01 01 41 ac 02 01 01 03 01 01 1c\n\
         01 01 00 01 01 14 01 01 00 01 01 14 00 01 00 00\n\
         20 40 fc 54 d9 41 00",
    );
    let ServerMessage::SendBlocks { blocks } = decode_all(&bytes) else {
        panic!("not SendBlocks");
    };
    assert_eq!(blocks.len(), 1);
    assert!(same_block(&blocks[0], &example_block()));
}

#[test]
fn example_release_coalesced_with_acquire() {
    let mut block = example_block();
    block.status = BlockStatus::Success;
    let mut bytes = frame(&ClientMessage::ReleaseBlock { block });
    bytes.extend(frame(&ClientMessage::AcquireBlocks {
        task_id: "A".into(),
        max: 4,
    }));
    assert_documented(
        "ReleaseBlock + AcquireBlocks",
        &bytes,
        "00 00 00 22 02 01 41 ac 02 01 01 03 01 01 1c 01\n\
         01 00 01 01 14 01 01 00 01 01 14 02 01 00 00 20\n\
         40 fc 54 d9 41 00 00 00 00 04 01 01 41 04",
    );
    let (first, n) = decode_frame::<ClientMessage>(&bytes, DEFAULT_MAX_FRAME)
        .unwrap()
        .unwrap();
    let ClientMessage::ReleaseBlock { block } = first else {
        panic!("not ReleaseBlock");
    };
    assert_eq!(block.status, BlockStatus::Success);
    let second: ClientMessage = decode_all(&bytes[n..]);
    assert!(matches!(
        second,
        ClientMessage::AcquireBlocks { max: 4, .. }
    ));
}

#[test]
fn example_block_failed_and_client_exception() {
    let mut block = example_block();
    block.status = BlockStatus::Failed;
    let bytes = frame(&ClientMessage::BlockFailed {
        block,
        error: "oops".into(),
    });
    assert_documented(
        "BlockFailed",
        &bytes,
        "00 00 00 27 03 01 41 ac 02 01 01 03 01 01 1c 01\n\
         01 00 01 01 14 01 01 00 01 01 14 03 01 00 00 20\n\
         40 fc 54 d9 41 00 04 6f 6f 70 73",
    );
    assert_documented(
        "ClientException",
        &frame(&ClientMessage::ClientException {
            error: "oops".into(),
        }),
        "00 00 00 06 04 04 6f 6f 70 73",
    );
}

// ---- hand-made payloads: what the decoder accepts and refuses ----

/// A frame around a hand-made payload.
fn raw_frame(payload: &[u8]) -> Vec<u8> {
    let mut out = u32::try_from(payload.len()).unwrap().to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

fn decode_error<M: DeserializeOwned + std::fmt::Debug>(payload: &[u8]) -> ProtocolError {
    decode_frame::<M>(&raw_frame(payload), DEFAULT_MAX_FRAME).unwrap_err()
}

#[test]
fn unknown_variants_are_refused() {
    assert!(matches!(
        decode_error::<ClientMessage>(&[6]),
        ProtocolError::Decode { .. }
    ));
    assert!(matches!(
        decode_error::<ServerMessage>(&[4]),
        ProtocolError::Decode { .. }
    ));
    // A discriminant is a varint: 0x80 alone is an unfinished one.
    assert!(matches!(
        decode_error::<ServerMessage>(&[0x80]),
        ProtocolError::Decode { .. }
    ));
}

#[test]
fn trailing_bytes_are_refused() {
    assert_eq!(
        decode_error::<ClientMessage>(&[5, 5]),
        ProtocolError::TrailingBytes { extra: 1 }
    );
    assert_eq!(
        decode_error::<ClientMessage>(&[1, 1, b'A', 4, 0, 0]),
        ProtocolError::TrailingBytes { extra: 2 }
    );
}

#[test]
fn malformed_fields_are_refused() {
    // An Option tag other than 0 or 1 (Hello's worker_id).
    let mut hello = frame(&ClientMessage::hello("t", "A", None));
    let last = hello.len() - 1;
    hello[last] = 2;
    assert!(matches!(
        decode_frame::<ClientMessage>(&hello, DEFAULT_MAX_FRAME),
        Err(ProtocolError::Decode { .. })
    ));
    // A string that is not UTF-8.
    assert!(matches!(
        decode_error::<ClientMessage>(&[4, 1, 0xff]),
        ProtocolError::Decode { .. }
    ));
    // A string longer than the payload.
    assert!(matches!(
        decode_error::<ClientMessage>(&[4, 9, b'a']),
        ProtocolError::Decode { .. }
    ));
    // A u16 varint that overflows (version = 0x1_0000).
    assert!(matches!(
        decode_error::<ServerMessage>(&[0, 0x80, 0x80, 0x04]),
        ProtocolError::Decode { .. }
    ));
}

/// A ReleaseBlock payload with the given ROI bytes for all three ROIs and status byte.
fn release_payload(roi: &[u8], status: u8) -> Vec<u8> {
    let mut payload = vec![2, 1, b'A', 0];
    for _ in 0..3 {
        payload.extend_from_slice(roi);
    }
    payload.extend_from_slice(&[status, 0, 0]);
    payload
}

#[test]
fn block_fields_are_validated() {
    let roi = [1, 1, 0, 1, 1, 2]; // offset [0], shape [1]
    let ok: ClientMessage = decode_all(&raw_frame(&release_payload(&roi, 2)));
    let ClientMessage::ReleaseBlock { block } = ok else {
        panic!("not ReleaseBlock");
    };
    assert_eq!(block.write_roi, Roi::from_values(&[0], &[1]).unwrap());
    assert_eq!(block.status, BlockStatus::Success);
    // Status 4 does not exist.
    assert!(matches!(
        decode_error::<ClientMessage>(&release_payload(&roi, 4)),
        ProtocolError::Decode { .. }
    ));
    // Offset and shape of different dimensions.
    assert!(matches!(
        decode_error::<ClientMessage>(&release_payload(&[1, 1, 0, 0], 2)),
        ProtocolError::Decode { .. }
    ));
    // Nine dimensions.
    let mut nine = vec![9];
    nine.extend([1, 0].repeat(9));
    nine.push(9);
    nine.extend([1, 2].repeat(9));
    assert!(matches!(
        decode_error::<ClientMessage>(&release_payload(&nine, 2)),
        ProtocolError::Decode { .. }
    ));
    // An end beyond i64: offset i64::MAX (zigzag u64::MAX - 1), shape 1.
    let mut huge = vec![1, 1];
    huge.extend([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    huge.extend([1, 1, 2]);
    assert!(matches!(
        decode_error::<ClientMessage>(&release_payload(&huge, 2)),
        ProtocolError::Decode { .. }
    ));
}

#[test]
fn non_canonical_input_is_accepted_and_normalised() {
    // An overlong varint (4 as 0x84 0x00) decodes; the re-encoding is canonical.
    let overlong = raw_frame(&[1, 1, b'A', 0x84, 0x00]);
    let message: ClientMessage = decode_all(&overlong);
    assert_eq!(
        frame(&message),
        frame(&ClientMessage::AcquireBlocks {
            task_id: "A".into(),
            max: 4
        })
    );
    // An offset where the shape is unbounded is dropped (consolidation).
    let roi = [1, 1, 10, 1, 0]; // offset [5], shape [None]
    let message: ClientMessage = decode_all(&raw_frame(&release_payload(&roi, 2)));
    let ClientMessage::ReleaseBlock { block } = message else {
        panic!("not ReleaseBlock");
    };
    assert_eq!(block.read_roi, Roi::unbounded(1).unwrap());
    assert_eq!(block.read_roi.offset(), Coordinate::none(1).unwrap());
}

#[test]
fn oversized_frames_are_refused_from_the_header_alone() {
    let header = (DEFAULT_MAX_FRAME + 1).to_be_bytes();
    assert_eq!(
        decode_frame::<ClientMessage>(&header, DEFAULT_MAX_FRAME),
        Err(ProtocolError::FrameTooLarge {
            len: DEFAULT_MAX_FRAME + 1,
            max: DEFAULT_MAX_FRAME
        })
    );
    assert_eq!(
        decode_frame::<ServerMessage>(&u32::MAX.to_be_bytes(), DEFAULT_MAX_FRAME),
        Err(ProtocolError::FrameTooLarge {
            len: u32::MAX,
            max: DEFAULT_MAX_FRAME
        })
    );
    // Exactly the limit is allowed: the decoder waits for the payload.
    assert_eq!(
        decode_frame::<ClientMessage>(&DEFAULT_MAX_FRAME.to_be_bytes(), DEFAULT_MAX_FRAME),
        Ok(None)
    );
    // A custom limit works the same way.
    assert_eq!(
        decode_frame::<ClientMessage>(&[0, 0, 0, 17], 16),
        Err(ProtocolError::FrameTooLarge { len: 17, max: 16 })
    );
    assert_eq!(
        decode_frame::<ClientMessage>(&[0, 0, 0, 0], 16),
        Err(ProtocolError::EmptyFrame)
    );
}

// ---- generators ----

fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[A-Za-z0-9_]{0,12}",
        1 => any::<String>(),
    ]
}

fn arb_i64() -> impl Strategy<Value = i64> {
    prop_oneof![3 => -1_000_000i64..1_000_000, 1 => any::<i64>()]
}

/// A ROI of 1 to 3 dimensions (some elements unbounded), built like the library builds them.
fn arb_roi() -> impl Strategy<Value = Roi> {
    (1usize..=3)
        .prop_flat_map(|dims| {
            (
                prop::collection::vec(prop::option::weighted(0.9, arb_i64()), dims),
                prop::collection::vec(prop::option::weighted(0.9, arb_i64()), dims),
            )
        })
        .prop_filter_map("end overflows", |(offset, shape)| {
            Roi::new(
                Coordinate::from_options(&offset).ok()?,
                Coordinate::from_options(&shape).ok()?,
            )
            .ok()
        })
}

fn arb_status() -> impl Strategy<Value = BlockStatus> {
    prop_oneof![
        Just(BlockStatus::Created),
        Just(BlockStatus::Processing),
        Just(BlockStatus::Success),
        Just(BlockStatus::Failed),
    ]
}

fn arb_block() -> impl Strategy<Value = Block> {
    (
        arb_text(),
        any::<u64>(),
        (arb_roi(), arb_roi(), arb_roi()),
        arb_status(),
        prop::option::of(any::<f64>()),
        prop::option::of(any::<f64>()),
    )
        .prop_map(
            |(task_id, spatial_id, (read_roi, write_roi, requested_write_roi), status, t0, t1)| {
                Block {
                    block_id: BlockId {
                        task_id: task_id.into(),
                        spatial_id,
                    },
                    read_roi,
                    write_roi,
                    requested_write_roi,
                    status,
                    started_processing: t0,
                    stopped_processing: t1,
                }
            },
        )
}

fn arb_client_message() -> impl Strategy<Value = ClientMessage> {
    prop_oneof![
        (
            any::<[u8; 4]>(),
            any::<u16>(),
            arb_text(),
            arb_text(),
            prop::option::of(any::<u64>())
        )
            .prop_map(|(magic, version, token, task_id, worker_id)| {
                ClientMessage::Hello {
                    magic,
                    version,
                    token,
                    task_id,
                    worker_id,
                }
            }),
        (arb_text(), any::<u32>())
            .prop_map(|(task_id, max)| ClientMessage::AcquireBlocks { task_id, max }),
        arb_block().prop_map(|block| ClientMessage::ReleaseBlock { block }),
        (arb_block(), arb_text())
            .prop_map(|(block, error)| ClientMessage::BlockFailed { block, error }),
        arb_text().prop_map(|error| ClientMessage::ClientException { error }),
        Just(ClientMessage::Goodbye),
        (
            arb_text(),
            prop::collection::vec((any::<u64>(), prop::option::of(arb_text())), 0..8)
        )
            .prop_map(|(task_id, released)| ClientMessage::ReleaseBlocks {
                task_id,
                released: released
                    .into_iter()
                    .map(|(spatial_id, error)| Released { spatial_id, error })
                    .collect(),
            }),
    ]
}

fn arb_server_message() -> impl Strategy<Value = ServerMessage> {
    prop_oneof![
        any::<u16>().prop_map(|version| ServerMessage::Welcome { version }),
        arb_text().prop_map(|reason| ServerMessage::Refused { reason }),
        prop::collection::vec(arb_block(), 0..4)
            .prop_map(|blocks| ServerMessage::SendBlocks { blocks }),
        Just(ServerMessage::RequestShutdown),
    ]
}

/// The blocks a message carries, to compare them field by field.
fn client_blocks(message: &ClientMessage) -> Vec<&Block> {
    match message {
        ClientMessage::ReleaseBlock { block } | ClientMessage::BlockFailed { block, .. } => {
            vec![block]
        }
        _ => Vec::new(),
    }
}

fn server_blocks(message: &ServerMessage) -> Vec<&Block> {
    match message {
        ServerMessage::SendBlocks { blocks } => blocks.iter().collect(),
        _ => Vec::new(),
    }
}

/// Any outcome but a panic is fine; a decoded message used no more than the input and
/// re-encodes canonically.
fn decode_anything(bytes: &[u8], max: u32) {
    decode_anything_as::<ClientMessage>(bytes, max);
    decode_anything_as::<ServerMessage>(bytes, max);
}

/// [`decode_anything`] for one message type.
fn decode_anything_as<M: Serialize + DeserializeOwned>(bytes: &[u8], max: u32) {
    if let Ok(Some((message, used))) = decode_frame::<M>(bytes, max) {
        assert!((5..=bytes.len()).contains(&used));
        assert_re_encodes(&message, used);
    }
}

/// A message decodes to itself (its blocks, listed by `blocks`, equal on everything that goes
/// on the wire) and re-encodes to the same bytes.
fn check_round_trip<M>(message: &M, blocks: fn(&M) -> Vec<&Block>) -> Result<(), TestCaseError>
where
    M: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let bytes = frame(message);
    let back: M = decode_all(&bytes);
    prop_assert_eq!(&back, message);
    let (ours, theirs) = (blocks(message), blocks(&back));
    prop_assert_eq!(ours.len(), theirs.len());
    for (a, b) in ours.iter().zip(&theirs) {
        prop_assert!(same_block(a, b), "{:?} != {:?}", a, b);
    }
    prop_assert_eq!(frame(&back), bytes);
    Ok(())
}

/// Every strict prefix of the frame of `message` needs more bytes.
fn check_prefixes_need_more<M>(message: &M) -> Result<(), TestCaseError>
where
    M: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let bytes = frame(message);
    for cut in 0..bytes.len() {
        prop_assert_eq!(
            decode_frame::<M>(&bytes[..cut], DEFAULT_MAX_FRAME),
            Ok(None)
        );
    }
    Ok(())
}

/// Random bytes, random payloads behind a correct header, and valid frames with bytes changed.
fn arb_hostile_bytes() -> impl Strategy<Value = Vec<u8>> {
    let valid = prop_oneof![
        arb_client_message().prop_map(|m| frame(&m)),
        arb_server_message().prop_map(|m| frame(&m)),
    ];
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        prop::collection::vec(any::<u8>(), 1..200).prop_map(|payload| raw_frame(&payload)),
        (
            valid,
            prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)
        )
            .prop_map(|(mut bytes, edits)| {
                for (at, value) in edits {
                    // Keep the header so that the payload is what gets exercised.
                    let i = 4 + at.index(bytes.len() - 4);
                    bytes[i] = value;
                }
                bytes
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn hostile_bytes_never_panic(bytes in arb_hostile_bytes()) {
        decode_anything(&bytes, DEFAULT_MAX_FRAME);
        decode_anything(&bytes, 32);
    }

    #[test]
    fn client_messages_round_trip(message in arb_client_message()) {
        check_round_trip(&message, client_blocks)?;
    }

    #[test]
    fn server_messages_round_trip(message in arb_server_message()) {
        check_round_trip(&message, server_blocks)?;
    }

    #[test]
    fn strict_prefixes_need_more_bytes(
        client in arb_client_message(),
        server in arb_server_message(),
    ) {
        check_prefixes_need_more(&client)?;
        check_prefixes_need_more(&server)?;
    }

    #[test]
    fn frames_split_anywhere_in_a_stream(
        messages in prop::collection::vec(arb_client_message(), 1..5),
    ) {
        let mut stream = Vec::new();
        for m in &messages {
            encode_frame(m, DEFAULT_MAX_FRAME, &mut stream).unwrap();
        }
        let mut decoded = Vec::new();
        let mut at = 0;
        while let Some((m, n)) =
            decode_frame::<ClientMessage>(&stream[at..], DEFAULT_MAX_FRAME).unwrap()
        {
            decoded.push(m);
            at += n;
        }
        prop_assert_eq!(at, stream.len());
        prop_assert_eq!(decoded, messages);
    }

    #[test]
    fn oversized_headers_are_refused(len in (DEFAULT_MAX_FRAME + 1)..=u32::MAX) {
        prop_assert_eq!(
            decode_frame::<ServerMessage>(&len.to_be_bytes(), DEFAULT_MAX_FRAME),
            Err(ProtocolError::FrameTooLarge { len, max: DEFAULT_MAX_FRAME })
        );
    }
}
