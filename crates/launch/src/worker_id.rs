//! The process-global worker id counter (docs/semantics.md#workers-and-daisy_context).

use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_WORKER_ID: AtomicU64 = AtomicU64::new(0);

/// Takes the next worker id of this process: 0 for the first worker ever started, then 1, 2, …
///
/// The counter is shared by every task, pool and replacement, and is not reset between runs in
/// the same process, as in daisy.
#[must_use]
pub fn next_worker_id() -> u64 {
    NEXT_WORKER_ID.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_increase() {
        let a = next_worker_id();
        let b = next_worker_id();
        assert!(b > a);
    }
}
