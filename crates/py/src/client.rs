//! `Client`: the blocking worker client (docs/semantics.md#workers-and-daisy_context); daisy.Client wraps it.
//! `parse_context`, `format_context`: the one parser and writer of `DAISY_CONTEXT` ([`Context`]).
//!
//! Blocks handed to Python are held here by spatial id until Python releases or fails them, so
//! what goes back to the server is the engine's own block. Every call that may wait on the
//! network releases the GIL.

use std::collections::HashMap;

use daisy_client::Client;
use daisy_core::{Block, BlockStatus};
use daisy_protocol::Context;
use pyo3::exceptions::PyConnectionError;
use pyo3::prelude::*;

use crate::block::PyBlock;
use crate::errors::{DaisyError, client_error};

/// The `(key, value)` items of a `DAISY_CONTEXT` text, in order, by the engine's rule
/// ([`Context::from_env_str`]): a `ContextError` (a `ValueError`) names the first item that is
/// not `key=value`.
#[pyfunction]
pub(crate) fn parse_context(text: &str) -> PyResult<Vec<(String, String)>> {
    let context =
        Context::from_env_str(text).map_err(|e| DaisyError::Context.new_err(e.to_string()))?;
    Ok(context
        .entries()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}

/// The `DAISY_CONTEXT` text of `(key, value)` items, in order, by the engine's rule
/// ([`Context::to_env`]): `key=value` as daisy 1.x writes it, or `key==value` percent-escaped
/// for an item with `:`, `=` or NUL in it.
#[pyfunction]
pub(crate) fn format_context(items: Vec<(String, String)>) -> String {
    let mut context = Context::new();
    for (key, value) in &items {
        context.set(key, value);
    }
    context.to_env()
}

/// A worker's connection to the daisy server.
#[pyclass(module = "daisy._daisy", name = "Client")]
pub struct PyClient {
    /// `None` once disconnected.
    client: Option<Client>,
    /// Blocks handed out and not yet returned, by spatial id.
    held: HashMap<u64, Block>,
}

impl PyClient {
    fn connected(&mut self) -> PyResult<&mut Client> {
        self.client
            .as_mut()
            .ok_or_else(|| PyConnectionError::new_err("the client is disconnected"))
    }

    /// The engine block to return for a Python block: the one handed out, or (for a block this
    /// client did not hand out) the block as Python has it.
    fn take(&mut self, block: &PyBlock) -> Block {
        self.held
            .remove(&block.block.block_id.spatial_id)
            .unwrap_or_else(|| block.block.clone())
    }
}

#[pymethods]
impl PyClient {
    /// Connects to the server named by the `DAISY_CONTEXT` string, asking for up to `prefetch`
    /// blocks at a time (None: the context's `prefetch` entry, 1 if it has none).
    #[new]
    #[pyo3(signature = (daisy_context, prefetch = None))]
    fn new(py: Python<'_>, daisy_context: &str, prefetch: Option<u32>) -> PyResult<Self> {
        let context = Context::from_env_str(daisy_context)
            .map_err(|e| DaisyError::Context.new_err(format!("daisy_context: {e}")))?;
        let client = py
            .detach(|| match prefetch {
                Some(n) => Client::new(&context, n),
                None => Client::from_context(&context),
            })
            .map_err(client_error)?;
        Ok(Self {
            client: Some(client),
            held: HashMap::new(),
        })
    }

    /// The next block (status PROCESSING), or None when there is no more work.
    fn acquire(&mut self, py: Python<'_>) -> PyResult<Option<PyBlock>> {
        let Some(client) = self.client.as_mut() else {
            return Ok(None);
        };
        let block = py
            .detach(|| {
                client
                    .acquire_block()
                    .map(|guard| guard.map(|g| g.into_block()))
            })
            .map_err(client_error)?;
        Ok(block.map(|block| {
            self.held.insert(block.spatial_id(), block.clone());
            PyBlock::from_core(block)
        }))
    }

    /// Returns a block: as SUCCESS if its status is SUCCESS, else as FAILED. It goes out with the
    /// next request (or at disconnect).
    fn release(&mut self, block: PyRef<'_, PyBlock>) -> PyResult<()> {
        let mut returned = self.take(&block);
        returned.status = if block.block.status == BlockStatus::Success {
            BlockStatus::Success
        } else {
            BlockStatus::Failed
        };
        self.connected()?.release_block(returned);
        Ok(())
    }

    /// Returns a block as FAILED with an error text.
    fn fail(&mut self, block: PyRef<'_, PyBlock>, error: &str) -> PyResult<()> {
        let returned = self.take(&block);
        self.connected()?.fail_block(returned, error);
        Ok(())
    }

    /// Reports a failure of the worker's own code outside any block: the server aborts the run.
    fn client_exception(&mut self, py: Python<'_>, error: &str) -> PyResult<()> {
        let client = self.connected()?;
        py.detach(|| client.client_exception(error))
            .map_err(client_error)
    }

    /// Sends what is queued, says goodbye and closes the connection; later calls to `acquire`
    /// return None.
    fn disconnect(&mut self, py: Python<'_>) -> PyResult<()> {
        self.held.clear();
        match self.client.take() {
            Some(client) => py.detach(|| client.disconnect()).map_err(client_error),
            None => Ok(()),
        }
    }
}

impl Drop for PyClient {
    fn drop(&mut self) {
        // Dropping the engine client flushes and says goodbye (best effort). Python may be
        // tearing down: do it without the GIL if we can get at it, else as is.
        if let Some(client) = self.client.take() {
            Python::try_attach(|py| py.detach(|| drop(client)));
        }
    }
}
