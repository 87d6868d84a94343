//! The process's limit on open file descriptors (`RLIMIT_NOFILE`): raised to the hard limit
//! once per process when a server starts, and the share of it that connections which have not
//! shaken hands may hold.

use std::sync::OnceLock;

use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// The fewest connections that may wait for their handshake at once, however low the limit.
const MIN_WAITING: usize = 16;

/// The most connections that may wait for their handshake at once, however high the limit: a
/// worker's handshake takes one round trip, so even a thousand workers starting together
/// rarely have this many waiting.
const MAX_WAITING: usize = 1024;

/// What the limit is after [`raise`] (the soft limit, which is what the kernel enforces).
static LIMIT: OnceLock<u64> = OnceLock::new();

/// Raises the soft descriptor limit to the hard one, the first time a server of this process
/// starts; returns the soft limit now in force (the old one if it cannot be raised).
pub(crate) fn raise() -> u64 {
    *LIMIT.get_or_init(|| match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => {
                tracing::debug!("raised the open file limit from {soft} to {hard}");
                hard
            }
            Err(e) => {
                tracing::debug!("cannot raise the open file limit from {soft} to {hard}: {e}");
                soft
            }
        },
        Ok((soft, _)) => {
            tracing::debug!("the open file limit is {soft}, already the hard limit");
            soft
        }
        Err(e) => {
            tracing::debug!("cannot read the open file limit: {e}");
            // Linux's default soft limit: the cap below then stays small.
            1024
        }
    })
}

/// How many connections may wait for their handshake at once under a descriptor limit of
/// `limit`: a quarter of it, so that three quarters stay for the run itself (worker
/// connections, worker log files, launched processes' pipes), between 16 and 1,024.
pub(crate) fn waiting_cap(limit: u64) -> usize {
    usize::try_from(limit / 4).map_or(MAX_WAITING, |share| share.clamp(MIN_WAITING, MAX_WAITING))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_most_descriptors_to_the_run() {
        assert_eq!(waiting_cap(1024), 256);
        assert_eq!(waiting_cap(64), MIN_WAITING);
        assert_eq!(waiting_cap(1 << 20), MAX_WAITING);
        assert_eq!(waiting_cap(u64::MAX), MAX_WAITING);
    }

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let limit = raise();
        let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        assert_eq!((limit, soft), (hard, hard));
        assert_eq!(raise(), limit, "raised once, then remembered");
    }
}
