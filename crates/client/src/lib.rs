//! The worker side of daisy: connect to the scheduler server, acquire blocks, release them.
//!
//! A worker started by daisy finds the server's address and the run's secret token in the
//! `DAISY_CONTEXT` environment variable ([`Context`]). It connects, then repeatedly asks for
//! blocks, processes them and returns them as SUCCESS or FAILED, until the server has no more
//! work for it. Two clients do this:
//!
//! - [`Client`], blocking, for worker code: [`Client::run`] is the whole block loop, and
//!   [`Client::acquire_block`] hands out one [`BlockGuard`] at a time for code that drives the
//!   loop itself. A guard that is dropped without [`BlockGuard::succeed`] or
//!   [`BlockGuard::fail`] returns its block as FAILED, so no block is ever left out.
//! - [`AsyncClient`], on tokio, which the blocking client wraps.
//!
//! No wait on the server is unbounded ([`Timeouts`]): a worker whose server is gone gets an
//! error, or the end of its work, within seconds, with a log line naming the server.
//!
//! Both ask for several blocks at a time when told to (`prefetch`), and send the releases of
//! processed blocks together with the next request in a single write. The wire protocol is the
//! `daisy-protocol` crate's.
//!
//! ```no_run
//! use daisy_client::Client;
//!
//! // In a worker process started by daisy:
//! let mut client = Client::from_env()?;
//! let summary = client.run(|block| {
//!     // ... read block.read_roi, write block.write_roi ...
//!     if block.write_roi.is_empty() {
//!         return Err("nothing to write".into()); // reported to the server, the loop goes on
//!     }
//!     Ok(())
//! })?;
//! eprintln!("{} blocks done, {} failed", summary.succeeded, summary.failed);
//! # Ok::<(), daisy_client::ClientError>(())
//! ```

mod async_client;
mod block_guard;
mod client;
mod error;
mod prefetch;
mod run;
mod timeouts;

pub use async_client::AsyncClient;
pub use block_guard::{BlockGuard, DROPPED_WITHOUT_RELEASE};
pub use client::{Client, PREFETCH_KEY};
pub use daisy_core::{Block, BlockStatus};
pub use daisy_protocol::Context;
pub use error::ClientError;
pub use prefetch::Prefetch;
pub use run::{Outcome, RunSummary, process_block};
pub use timeouts::Timeouts;
