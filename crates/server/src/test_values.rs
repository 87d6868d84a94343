//! Tasks for the unit tests of this crate.

use daisy_core::{Task, TaskBuilder};
use daisy_geometry::Roi;

use crate::supervision::PoolConfig;

/// Task `t` of `n` independent blocks of one element each (`[0:n]`, read and write `[0:1]`).
pub(crate) fn independent_blocks(n: i64) -> TaskBuilder {
    Task::builder(
        "t",
        Roi::from_values(&[0], &[n]).unwrap(),
        Roi::from_values(&[0], &[1]).unwrap(),
        Roi::from_values(&[0], &[1]).unwrap(),
    )
}

/// Workers connect to `127.0.0.1:1` with `token`, no logs, one block at a time, no TLS.
pub(crate) fn pool_config(token: &str) -> PoolConfig {
    PoolConfig {
        hostname: "127.0.0.1".into(),
        port: 1,
        token: token.into(),
        logdir: None,
        prefetch: 1,
        tls_fingerprint: None,
    }
}
