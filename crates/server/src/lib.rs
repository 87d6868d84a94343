//! The scheduler server of daisy.
//!
//! [`Server`] drives a [`daisy_core::Scheduler`] for many workers at once over TCP: workers
//! connect with the run's token (from `DAISY_CONTEXT`), ask for one or several blocks at a
//! time, and give them back. Requests that cannot be served yet are parked and answered the
//! moment a block becomes ready. Check functions run on blocking threads, never on the event
//! loop. Blocks whose connection drops or that stay out past their task's timeout are lost and
//! retried; workers the server started are replaced when they crash, within each task's
//! restart budget, and a task nobody can work on any more is abandoned instead of hanging.
//!
//! Workers are started per task, when it first has ready blocks, by a
//! [`daisy_launch::Launcher`]: threads, local processes, or a command template for a cluster.
//! [`Observer`]s see every event: progress bars, status lines and the JSON event stream are
//! observers. The facade crate `daisy` wraps all of this in `run_blockwise`.

mod admission;
mod checks;
mod connection;
mod descriptor_limit;
mod dispatch;
mod error;
mod local;
mod observer;
mod options;
mod progress;
mod report;
mod reporting;
mod server;
mod supervision;
#[cfg(test)]
mod test_values;
mod token;

pub use error::ServerError;
pub use local::{LocalClient, LocalConnector, LocalEndpoint, local_transport};
pub use observer::{Observer, ObserverThread, RunEvent};
pub use options::{Launchers, ServerOptions};
pub use progress::{JsonEvents, Progress};
pub use report::{BlockFailure, RunReport, TaskReport, WorkerFailure};
pub use server::Server;
pub use token::generate as generate_token;
