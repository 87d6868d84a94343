//! Spatial graph stores: nodes with a position attribute and edges between them, written
//! block by block by many workers and read back by ROI, with the layouts of
//! funlib.persistence 0.7 (SQLite, PostgreSQL) and daisy's `MongoDbGraphProvider` (MongoDB).
//!
//! [`GraphStore`] is what every backend implements; [`GraphMetadata`] is what a store records
//! about its graph (position attribute, directedness, attribute types, table names) and
//! checks on open.

mod attr;
mod error;
mod graph;
mod metadata;
pub mod postgres;
mod query;
pub mod sqlite;
mod store;

#[cfg(feature = "tests")]
pub mod conformance;

pub use attr::{AttrType, AttrValue, ScalarType};
pub use error::GraphError;
pub use graph::{Attrs, Edge, Graph, Node, contains, position_of};
pub use metadata::{GraphMetadata, GraphOptions, Mode, is_identifier};
pub use postgres::PgGraphStore;
pub use query::{EdgeQuery, EdgeSelection, Filter, NodeQuery};
pub use sqlite::SqliteGraphStore;
pub use store::{GraphStore, checked_attrs};
