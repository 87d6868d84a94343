//! The layout hash of a task: which task layout a done marker belongs to.
//!
//! Two tasks with the same ROIs and fit have the same blocks and the same hash, whatever their
//! names or options; a marker written for another layout is refused. Which task a marker
//! belongs to is recorded next to the hash (`daisy_task_id`), not in it, so that daisy 2.0's
//! hash stays the same.

use daisy_geometry::Roi;
use sha2::{Digest, Sha256};

use crate::Task;

/// The canonical serialization of a task's layout, the input of [`layout_hash`].
///
/// The UTF-8 bytes of compact JSON with sorted keys and no whitespace:
///
/// ```text
/// {"fit":F,"read_roi":R,"total_roi":R,"write_roi":R}
/// R = {"offset":[o_0,...,o_{n-1}],"shape":[s_0,...,s_{n-1}]}
/// ```
///
/// `F` is `"valid"`, `"overhang"` or `"shrink"`; `read_roi` and `write_roi` are the
/// block-relative templates and `total_roi` the total read ROI; the numbers are decimal
/// integers (`-` for negatives, no leading zeros or `+`), one per dimension; an unbounded
/// component (impossible in a built task) is `null`.
#[must_use]
pub(super) fn canonical_layout(task: &Task) -> String {
    format!(
        r#"{{"fit":"{}","read_roi":{},"total_roi":{},"write_roi":{}}}"#,
        task.fit(),
        canonical_roi(task.read_roi()),
        canonical_roi(task.total_roi()),
        canonical_roi(task.write_roi()),
    )
}

/// The layout hash of a task: lowercase hex SHA-256 of [`canonical_layout`].
///
/// Stored as the array attribute `daisy_task_hash`; two tasks with the same ROIs and fit
/// have the same hash, whatever their names or options.
#[must_use]
pub(super) fn layout_hash(task: &Task) -> String {
    let digest = Sha256::digest(canonical_layout(task).as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// One canonical ROI: `{"offset":[...],"shape":[...]}`.
fn canonical_roi(roi: Roi) -> String {
    let list = |values: Vec<Option<i64>>| {
        values
            .iter()
            .map(|v| v.map_or_else(|| "null".to_owned(), |v| v.to_string()))
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        r#"{{"offset":[{}],"shape":[{}]}}"#,
        list(roi.offset().to_vec()),
        list(roi.shape().to_vec())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Fit;
    use crate::test_values::{example_1d, task};

    #[test]
    fn canonical_layout_is_exact() {
        let (total, read, write) = example_1d();
        let t = task(total, read, write, Fit::Overhang);
        assert_eq!(
            canonical_layout(&t),
            r#"{"fit":"overhang","read_roi":{"offset":[0],"shape":[5]},"total_roi":{"offset":[0],"shape":[12]},"write_roi":{"offset":[1],"shape":[3]}}"#
        );
        let hash = layout_hash(&t);
        assert_eq!(hash.len(), 64);
        assert!(
            hash.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        let expected: String = Sha256::digest(canonical_layout(&t))
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hash, expected);
    }

    #[test]
    fn sha256_hex_matches_the_known_vector() {
        // Guards the hex encoding against the published test vector of SHA-256("abc").
        let hex: String = Sha256::digest(b"abc")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
