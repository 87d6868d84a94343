//! The blocking client for worker code.

use std::collections::VecDeque;

use daisy_core::{Block, BlockStatus};
use daisy_protocol::{Context, ProtocolError};
use tokio::runtime::{Builder, Runtime};

use crate::prefetch::Prefetch;
use crate::{AsyncClient, BlockGuard, ClientError, Timeouts};

/// The context key that sets how many blocks a [`Client`] asks for at a time.
pub const PREFETCH_KEY: &str = "prefetch";

/// A worker's blocking connection to the daisy server (daisy's `Client`).
///
/// It wraps an [`AsyncClient`] with its own single-threaded tokio runtime, so worker code
/// needs no async. Blocks are handed out one at a time by [`acquire_block`](Self::acquire_block)
/// from a local buffer that is refilled with up to `prefetch` blocks per request, and the
/// whole block loop is [`run`](Self::run).
///
/// Releases are sent together with the next request to the server. Dropping the client sends
/// what is still queued and says `Goodbye` (best effort). Prefetched blocks that were never
/// handed out are then lost: the server retries them as it does for a crashed worker.
///
/// ```no_run
/// use daisy_client::Client;
///
/// let mut client = Client::from_env()?;
/// while let Some(block) = client.acquire_block()? {
///     // ... read block.read_roi, write block.write_roi ...
///     block.succeed();
/// }
/// # Ok::<(), daisy_client::ClientError>(())
/// ```
#[derive(Debug)]
pub struct Client {
    /// The connection; `None` once disconnected. Declared before the runtime so the socket
    /// is dropped while the runtime still exists.
    inner: Option<AsyncClient>,
    /// The runtime that drives `inner`.
    runtime: Runtime,
    /// The most blocks asked for per request (at least 1).
    prefetch: Prefetch,
    /// Blocks received but not yet handed out.
    buffer: VecDeque<Block>,
    /// The context the client was made from.
    context: Context,
}

impl Client {
    /// Connects to the server named by `context`, asking for up to `prefetch` blocks per
    /// request (0 counts as 1).
    ///
    /// # Errors
    ///
    /// As [`with_timeouts`](Self::with_timeouts) with the default [`Timeouts`].
    pub fn new(context: &Context, prefetch: u32) -> Result<Self, ClientError> {
        Self::with_timeouts(context, prefetch, Timeouts::DEFAULT)
    }

    /// Connects as [`new`](Self::new) does, with the bounds `timeouts` for this and every
    /// later wait on the server.
    ///
    /// # Errors
    ///
    /// [`ClientError::InsideRuntime`] if called on a thread that runs a tokio runtime, a
    /// [`ClientError::Io`] if the runtime cannot be created, else as
    /// [`AsyncClient::connect_with`].
    pub fn with_timeouts(
        context: &Context,
        prefetch: u32,
        timeouts: Timeouts,
    ) -> Result<Self, ClientError> {
        ensure_outside_runtime()?;
        let runtime = Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(ClientError::Io)?;
        let inner = runtime.block_on(AsyncClient::connect_with(context, timeouts))?;
        Ok(Self {
            inner: Some(inner),
            runtime,
            prefetch: Prefetch::new(prefetch),
            buffer: VecDeque::new(),
            context: context.clone(),
        })
    }

    /// Connects with the prefetch count from the context's `prefetch` key, 1 if absent.
    ///
    /// # Errors
    ///
    /// [`ClientError::Context`] if `prefetch` is not a number, else as [`Client::new`].
    pub fn from_context(context: &Context) -> Result<Self, ClientError> {
        Self::new(context, prefetch_of(context)?)
    }

    /// Connects with the context in the `DAISY_CONTEXT` environment variable, as a worker
    /// started by the server does.
    ///
    /// # Errors
    ///
    /// [`ClientError::Context`] if `DAISY_CONTEXT` is not set or malformed, else as
    /// [`Client::from_context`].
    pub fn from_env() -> Result<Self, ClientError> {
        let context = Context::from_env().map_err(|e| {
            if e == ProtocolError::MissingContext {
                tracing::error!("DAISY_CONTEXT environment variable not found!");
            }
            ClientError::Context(e)
        })?;
        Self::from_context(&context)
    }

    /// The context the client was made from.
    #[must_use]
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// The task this client works for.
    #[must_use]
    pub fn task_id(&self) -> &str {
        self.context.task_id().unwrap_or_default()
    }

    /// The worker id from the context, if any.
    #[must_use]
    pub fn worker_id(&self) -> Option<u64> {
        self.inner.as_ref().and_then(AsyncClient::worker_id)
    }

    /// The most blocks asked for per request.
    #[must_use]
    pub fn prefetch(&self) -> u32 {
        self.prefetch.max()
    }

    /// The next block to process, with status PROCESSING, or `None` when there is no more
    /// work (the server requested shutdown or closed the connection; prefetched blocks are
    /// then dropped, as the server counts them as lost).
    ///
    /// Served from the local buffer when it holds blocks (queued releases are then sent right
    /// away); otherwise asks the server for blocks (one while blocks take long, up to
    /// `prefetch` while they are quick: [`Prefetch`]), sending queued releases in
    /// the same write, and waits for as long as the server keeps the request (a live
    /// server with no block ready yet), watched by TCP keepalive ([`Timeouts`]). Return the block with
    /// [`BlockGuard::succeed`] or [`BlockGuard::fail`]; a guard dropped without either
    /// returns the block as FAILED.
    ///
    /// # Errors
    ///
    /// As [`AsyncClient::acquire_blocks`] and [`AsyncClient::flush`], plus
    /// [`ClientError::InsideRuntime`].
    pub fn acquire_block(&mut self) -> Result<Option<BlockGuard<'_>>, ClientError> {
        ensure_outside_runtime()?;
        self.prefetch.block_started();
        if self.buffer.is_empty() {
            let Some(inner) = self.inner.as_mut() else {
                return Ok(None);
            };
            match self
                .runtime
                .block_on(inner.acquire_blocks(self.prefetch.request()))?
            {
                Some(blocks) => self.buffer.extend(blocks),
                None => return Ok(None),
            }
        } else {
            match self.flush() {
                Ok(()) => {}
                Err(ClientError::ConnectionClosed { .. }) => {
                    // The server is gone and counts these blocks as lost: no point in them.
                    tracing::debug!(
                        "the daisy server closed the connection; dropping {} prefetched blocks",
                        self.buffer.len()
                    );
                    self.buffer.clear();
                    return Ok(None);
                }
                Err(e) => return Err(e),
            }
        }
        let Some(mut block) = self.buffer.pop_front() else {
            return Ok(None);
        };
        block.status = BlockStatus::Processing;
        Ok(Some(BlockGuard::new(self, block)))
    }

    /// Returns a block to the server; a status other than SUCCESS is sent as FAILED. It goes
    /// out with the next request or flush.
    pub fn release_block(&mut self, mut block: Block) {
        if block.status != BlockStatus::Success {
            block.status = BlockStatus::Failed;
        }
        if let Some(inner) = self.inner.as_mut() {
            inner.queue_release(&block);
        }
    }

    /// Returns a block as FAILED with an error text. It goes out with the next request or
    /// flush. (Logging the failure is the caller's: [`Client::run`] does.)
    pub fn fail_block(&mut self, mut block: Block, error: &str) {
        block.status = BlockStatus::Failed;
        if let Some(inner) = self.inner.as_mut() {
            inner.queue_block_failed(&block, error);
        }
    }

    /// Sends queued releases now.
    ///
    /// # Errors
    ///
    /// As [`AsyncClient::flush`], plus [`ClientError::InsideRuntime`].
    pub fn flush(&mut self) -> Result<(), ClientError> {
        ensure_outside_runtime()?;
        match self.inner.as_mut() {
            Some(inner) if inner.has_queued() => self.runtime.block_on(inner.flush()),
            _ => Ok(()),
        }
    }

    /// Reports a failure of the worker's own code outside any block; the server aborts the run.
    ///
    /// # Errors
    ///
    /// As [`AsyncClient::client_exception`], plus [`ClientError::InsideRuntime`].
    pub fn client_exception(&mut self, error: &str) -> Result<(), ClientError> {
        ensure_outside_runtime()?;
        match self.inner.as_mut() {
            Some(inner) => self.runtime.block_on(inner.client_exception(error)),
            None => Err(ClientError::ConnectionClosed {
                address: address_of(&self.context),
                during: "a client exception report",
            }),
        }
    }

    /// Sends queued releases, says `Goodbye` and closes the connection, reporting errors that
    /// dropping the client would ignore.
    ///
    /// # Errors
    ///
    /// As [`AsyncClient::disconnect`], plus [`ClientError::InsideRuntime`].
    pub fn disconnect(mut self) -> Result<(), ClientError> {
        ensure_outside_runtime()?;
        self.close()
    }

    /// Disconnects if still connected.
    fn close(&mut self) -> Result<(), ClientError> {
        let Some(inner) = self.inner.take() else {
            return Ok(());
        };
        if !self.buffer.is_empty() && !inner.is_closed() {
            tracing::warn!(
                "disconnecting with {} prefetched blocks never processed; the server will \
                 treat them as lost",
                self.buffer.len()
            );
        }
        self.runtime.block_on(inner.disconnect())
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if ensure_outside_runtime().is_err() {
            tracing::warn!("daisy Client dropped inside an async runtime: not saying goodbye");
            return;
        }
        if let Err(e) = self.close() {
            tracing::debug!("disconnecting from the daisy server failed: {e}");
        }
    }
}

/// The prefetch count in a context: its `prefetch` key, 1 if absent, 0 counting as 1.
fn prefetch_of(context: &Context) -> Result<u32, ClientError> {
    match context.get(PREFETCH_KEY) {
        None => Ok(1),
        Some(text) => text.parse::<u32>().map(|n| n.max(1)).map_err(|_| {
            ClientError::Context(ProtocolError::ContextField {
                key: PREFETCH_KEY,
                found: Some(text.to_owned()),
            })
        }),
    }
}

/// The server's `host:port` in a context, for errors.
fn address_of(context: &Context) -> String {
    let host = context.hostname().unwrap_or("?");
    context
        .port()
        .map_or_else(|_| format!("{host}:?"), |port| format!("{host}:{port}"))
}

/// Fails if the current thread runs a tokio runtime, where `block_on` would panic.
fn ensure_outside_runtime() -> Result<(), ClientError> {
    match tokio::runtime::Handle::try_current() {
        Ok(_) => Err(ClientError::InsideRuntime),
        Err(_) => Ok(()),
    }
}

/// A worker for logs: "worker 3", or "an unknown worker" for one the server did not start.
pub(crate) fn worker_label(worker_id: Option<u64>) -> String {
    worker_id.map_or_else(
        || "an unknown worker".to_owned(),
        |id| format!("worker {id}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefetch_from_the_context() {
        let mut context = Context::new();
        assert_eq!(prefetch_of(&context).unwrap(), 1);
        context.set(PREFETCH_KEY, "8");
        assert_eq!(prefetch_of(&context).unwrap(), 8);
        context.set(PREFETCH_KEY, "0");
        assert_eq!(prefetch_of(&context).unwrap(), 1);
        context.set(PREFETCH_KEY, "many");
        assert_eq!(
            prefetch_of(&context).unwrap_err().to_string(),
            "invalid worker context: DAISY_CONTEXT has no valid prefetch: 'many'"
        );
    }

    #[test]
    fn worker_labels() {
        assert_eq!(worker_label(Some(3)), "worker 3");
        assert_eq!(worker_label(None), "an unknown worker");
    }

    #[tokio::test]
    async fn refuses_to_block_inside_a_runtime() {
        let context = Context::for_worker(None, "127.0.0.1", 9, "A", 0, "t");
        assert!(matches!(
            Client::new(&context, 1),
            Err(ClientError::InsideRuntime)
        ));
    }
}
