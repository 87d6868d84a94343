//! Arbitrary bytes against `decode_frame`, for both message types: no panic, and whatever
//! decodes re-encodes to a frame that decodes to the same message and the same bytes.

#![no_main]

use daisy_protocol::{ClientMessage, DEFAULT_MAX_FRAME, ServerMessage, decode_frame, encode_frame};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A small limit as well, so that the length check is exercised with frames that fit the input.
const SMALL_MAX: u32 = 64;

fuzz_target!(|data: &[u8]| {
    for max in [DEFAULT_MAX_FRAME, SMALL_MAX] {
        check::<ClientMessage>(data, max);
        check::<ServerMessage>(data, max);
    }
});

fn check<M>(data: &[u8], max: u32)
where
    M: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let Ok(Some((message, used))) = decode_frame::<M>(data, max) else {
        return;
    };
    assert!(
        used >= 5 && used <= data.len(),
        "used {used} of {}",
        data.len()
    );
    assert!(used - 4 <= max as usize);

    // Re-encoding is canonical: never longer than what was decoded (non-minimal varints and
    // unconsolidated ROIs only shrink), and stable from then on.
    let mut once = Vec::new();
    encode_frame(&message, DEFAULT_MAX_FRAME, &mut once).expect("a decoded message re-encodes");
    assert!(
        once.len() <= used,
        "re-encoded {} > decoded {used}",
        once.len()
    );
    let (again, n) = decode_frame::<M>(&once, DEFAULT_MAX_FRAME)
        .expect("a re-encoded message decodes")
        .expect("a re-encoded frame is whole");
    assert_eq!(n, once.len());
    // Blocks compare by id only; the bytes below cover every field.
    assert_eq!(again, message);
    let mut twice = Vec::new();
    encode_frame(&again, DEFAULT_MAX_FRAME, &mut twice).expect("a decoded message re-encodes");
    assert_eq!(once, twice);
}
