//! Spatial graph stores: nodes with a position attribute and edges between them, written
//! block by block by many workers and read back by ROI, with the layouts of
//! funlib.persistence 0.7 (SQLite, PostgreSQL), daisy 1.x's `MongoDbGraphProvider` (MongoDB:
//! [`MongoGraphStore`]) and daisy 1.x's `FileGraphProvider` ([`FileGraphStore`]: a directory
//! of NumPy `.npz` files chunked in space, so that block-wise workers write disjoint files).
//!
//! [`GraphStore`] is what every backend implements; [`GraphMetadata`] is what a store records
//! about its graph (position attribute, directedness, attribute types, table names) and
//! checks on open.

mod attr;
mod error;
pub mod file;
mod graph;
mod metadata;
pub mod mongodb;
mod npy;
pub mod postgres;
mod query;
pub mod sqlite;
mod store;

#[cfg(feature = "tests")]
pub mod conformance;

pub use attr::{AttrType, AttrValue, ScalarType};
pub use error::GraphError;
pub use file::FileGraphStore;
pub use graph::{Attrs, Edge, Graph, Node, contains, position_of};
pub use metadata::{GraphMetadata, GraphOptions, Mode, is_identifier};
pub use mongodb::MongoGraphStore;
pub use postgres::PgGraphStore;
pub use query::{EdgeQuery, EdgeSelection, Filter, NodeQuery};
pub use sqlite::SqliteGraphStore;
pub use store::{GraphStore, checked_attrs};
