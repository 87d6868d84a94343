//! The error type of the server crate.

use std::io;

use daisy_core::{BoxError, CoreError};

/// Why a run could not start or had to stop.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The scheduler refused the tasks.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The listening socket could not be set up.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The address.
        address: String,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// TLS is on and the run's certificate could not be made.
    #[error(transparent)]
    Tls(#[from] daisy_protocol::TlsError),
    /// A client reported a failure outside any block (daisy's `ClientException`): the run aborted.
    #[error("{} of task {task_id} failed: {error}", worker_text(*worker_id))]
    ClientException {
        /// The task.
        task_id: String,
        /// The worker, if the server started it.
        worker_id: Option<u64>,
        /// What went wrong.
        error: String,
    },
    /// A task's init callback failed: the run aborted before its workers started.
    #[error("the init callback of task {task_id} failed: {source}")]
    InitCallback {
        /// The task.
        task_id: String,
        /// The callback's error (or why its context could not be built).
        #[source]
        source: BoxError,
    },
    /// No launcher is configured for a task.
    #[error("no launcher for task {task_id}: give one for the task or a default")]
    NoLauncher {
        /// The task.
        task_id: String,
    },
    /// The random run token could not be generated.
    #[error("cannot generate a run token: {source}")]
    Token {
        /// What the operating system said.
        #[source]
        source: getrandom::Error,
    },
}

/// "worker 14", or "an unknown worker" for a connection whose worker the server did not start.
pub(crate) fn worker_text(worker_id: Option<u64>) -> String {
    worker_id.map_or_else(|| "an unknown worker".to_owned(), |w| format!("worker {w}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_workers_without_debug_formatting() {
        let known = ServerError::ClientException {
            task_id: "crashy".into(),
            worker_id: Some(14),
            error: "RuntimeError('x')".into(),
        };
        assert_eq!(
            known.to_string(),
            "worker 14 of task crashy failed: RuntimeError('x')"
        );
        let unknown = ServerError::ClientException {
            task_id: "crashy".into(),
            worker_id: None,
            error: "e".into(),
        };
        assert_eq!(
            unknown.to_string(),
            "an unknown worker of task crashy failed: e"
        );
    }

    #[test]
    fn listen_errors_keep_their_source() {
        let error = ServerError::Listen {
            address: "127.0.0.1:1".into(),
            source: io::Error::from(io::ErrorKind::AddrInUse),
        };
        let source = std::error::Error::source(&error).unwrap();
        assert_eq!(
            source.downcast_ref::<io::Error>().map(io::Error::kind),
            Some(io::ErrorKind::AddrInUse)
        );
        assert!(
            error
                .to_string()
                .starts_with("cannot listen on 127.0.0.1:1: ")
        );
    }
}
