//! The errors of graph stores: each names what was wrong and where.

use std::path::PathBuf;

use daisy_geometry::Roi;

use crate::attr::AttrType;

/// What went wrong in a graph store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// A stored or given attribute type that is not `int`, `float`, `str`, `bool` or
    /// `Vec(<one of them>, <size>)`.
    #[error(
        "invalid attribute type {text:?}: expected int, float, str, bool or Vec(<type>, <size>)"
    )]
    InvalidAttrType {
        /// The text.
        text: String,
    },

    /// Opening for reading (mode `r` or `r+`) a store that holds no graph metadata.
    #[error("{store} holds no graph metadata: create it with mode \"w\" first")]
    NoMetadata {
        /// The store (file, database and table).
        store: String,
    },

    /// A value given on open that differs from what the store recorded.
    #[error("{field} was given as {given}, but {store} records {stored}")]
    MetadataMismatch {
        /// The field (`directed`, `position_attribute`, `node_attrs`, ...).
        field: &'static str,
        /// What was given.
        given: String,
        /// What is stored.
        stored: String,
        /// The store.
        store: String,
    },

    /// Stored metadata that cannot be read.
    #[error("invalid graph metadata in {store}: {reason}")]
    InvalidMetadata {
        /// The store.
        store: String,
        /// What is wrong.
        reason: String,
    },

    /// Options that do not describe a graph (no type for the position attribute, a position
    /// of one element, a bad table name, ...).
    #[error("invalid graph options: {reason}")]
    InvalidOptions {
        /// What is wrong.
        reason: String,
    },

    /// A write to a store opened read-only.
    #[error("cannot {action} {store}: it was opened in read-only mode \"r\"")]
    ReadOnly {
        /// What was attempted.
        action: &'static str,
        /// The store.
        store: String,
    },

    /// An attribute the graph does not declare.
    #[error("unknown {kind} attribute {attr:?}: the graph declares {declared:?}")]
    UnknownAttribute {
        /// `node` or `edge`.
        kind: &'static str,
        /// The attribute.
        attr: String,
        /// The declared attributes.
        declared: Vec<String>,
    },

    /// A value of the wrong type for its attribute.
    #[error("{kind} {id}: attribute {attr:?} is declared {expected}, got {value}")]
    WrongType {
        /// `node` or `edge`.
        kind: &'static str,
        /// The node id, or the edge `(u, v)`.
        id: String,
        /// The attribute.
        attr: String,
        /// Its declared type.
        expected: AttrType,
        /// The value given.
        value: String,
    },

    /// A ROI whose dimensions differ from the graph's positions.
    #[error("roi {roi} has {dims} dimensions, but the positions of the graph have {ndims}")]
    RoiDims {
        /// The ROI.
        roi: Box<Roi>,
        /// Its dimensions.
        dims: usize,
        /// The graph's.
        ndims: usize,
    },

    /// A node id a backend cannot store (SQL integers are signed 64-bit).
    #[error("node id {id} does not fit the {backend} store's signed 64-bit ids")]
    IdOutOfRange {
        /// The id.
        id: u64,
        /// The backend.
        backend: &'static str,
    },

    /// An edge whose endpoint is not in the graph given, where its position is needed.
    #[error("edge ({u}, {v}): node {missing} is not in the graph, so its position is unknown")]
    MissingEndpoint {
        /// The edge's `u`.
        u: u64,
        /// The edge's `v`.
        v: u64,
        /// The endpoint missing.
        missing: u64,
    },

    /// A table or collection that exists with another layout than the graph needs.
    #[error("{table} in {store} exists with another schema: {reason}")]
    SchemaMismatch {
        /// The table.
        table: String,
        /// The store.
        store: String,
        /// What differs.
        reason: String,
    },

    /// A node or edge written again with `fail_if_exists`.
    #[error("{what} already exists in {store}")]
    AlreadyExists {
        /// The node or edge.
        what: String,
        /// The store.
        store: String,
    },

    /// A file could not be read or written.
    #[error("i/o error at {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },

    /// The database or server failed.
    #[error("{backend} error while {action} ({store}): {source}")]
    Backend {
        /// `sqlite`, `postgresql`, `mongodb`.
        backend: &'static str,
        /// What was being done.
        action: String,
        /// The store.
        store: String,
        /// The driver's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl GraphError {
    /// A failure of `backend` (its driver's error `source`) while doing `action` on `store`.
    #[must_use]
    pub fn backend(
        backend: &'static str,
        action: &str,
        store: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    ) -> GraphError {
        GraphError::Backend {
            backend,
            action: action.to_owned(),
            store,
            source,
        }
    }
}
