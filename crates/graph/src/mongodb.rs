//! A graph store in a MongoDB database, in daisy 1.x's `MongoDbGraphProvider` layout, so that
//! databases daisy 1.x wrote open here and the other way round:
//!
//! * node documents `{id: int64, position: [z, y, x], ...attrs}` in collection `nodes`, with
//!   an ascending index `position` on the position (a multikey index: it covers each
//!   element) and a unique index `id`;
//! * edge documents `{u, v, ...attrs}` in collection `edges`, with the unique compound index
//!   `incident` on `(u, v)`;
//! * one meta document `{directed, total_roi_offset, total_roi_shape}` in collection `meta`,
//!   checked on open. This store adds the rest of its metadata (position attribute, `ndims`,
//!   attribute types, collection and endpoint names) as further fields of that document.
//!
//! A meta document daisy 1.x wrote (its three fields only) opens too. Its graph is then
//! *typed* if `node_attrs` is given on open (those types are used, as for a graph this store
//! created), and *untyped* otherwise: any attribute may be written, filtered and selected,
//! and values are returned as stored (a BSON integer as an int, a double as a float, an
//! embedded document as its JSON text).
//!
//! Ids are int64: an id above `i64::MAX` is stored as its two's-complement `i64` (as daisy
//! did) and returned as the `u64` it was. A write sends unordered bulk inserts and keeps
//! documents already stored (duplicate-key errors, code 11000, only), so many processes may
//! write at once.

use std::collections::HashSet;
use std::future::IntoFuture;
use std::time::Duration;

use daisy_geometry::{Coordinate, Roi};
use mongodb::IndexModel;
use mongodb::bson::{Bson, Document, doc};
use mongodb::options::{ClientOptions, IndexOptions};
use mongodb::{Client, Collection, Cursor, Database};
use tokio::runtime::Runtime;

use crate::attr::{AttrType, AttrValue, ScalarType};
use crate::error::GraphError;
use crate::graph::{Attrs, Edge, Graph, Node};
use crate::metadata::{GraphMetadata, GraphOptions, Mode};
use crate::query::{EdgeQuery, EdgeSelection, Filter, NodeQuery};
use crate::store::GraphStore;

const BACKEND: &str = "mongodb";
/// How long an operation waits for a server to answer before it fails.
pub const DEFAULT_SERVER_SELECTION_TIMEOUT: Duration = Duration::from_secs(3);
/// Documents per insert or update command (well below the 16 MB message limit).
const BATCH: usize = 5_000;
/// Ids per `$in` query, as daisy queried edges of a ROI's nodes in chunks.
const ID_CHUNK: usize = 10_000;
/// The name of the position index (daisy 1.x's).
const POSITION_INDEX: &str = "position";
/// The duplicate-key error code.
const DUPLICATE_KEY: i32 = 11000;

/// An attribute a read returns, and its type (`None` where untyped).
type Selected = (String, Option<AttrType>);

/// A graph store in a MongoDB database, in daisy 1.x's `MongoDbGraphProvider` layout.
pub struct MongoGraphStore {
    db: Database,
    /// The runtime the driver runs on (dropped after the database handle).
    rt: Runtime,
    db_name: String,
    server: String,
    metadata: GraphMetadata,
    mode: Mode,
    /// A daisy 1.x graph opened without `node_attrs`: any attribute, values as stored.
    untyped: bool,
    /// In bulk write mode: whether as a worker.
    bulk: Option<bool>,
}

/// The connection string of `host`: a `mongodb://` URI as it is, `host[:port]` made one;
/// without a host, `MONGODB_URI`, else `mongodb://localhost:27017`.
fn uri_of(host: Option<&str>) -> String {
    let given = host
        .map(str::to_owned)
        .or_else(|| std::env::var("MONGODB_URI").ok().filter(|v| !v.is_empty()));
    match given {
        Some(h) if h.starts_with("mongodb://") || h.starts_with("mongodb+srv://") => h,
        Some(h) => format!("mongodb://{h}"),
        None => "mongodb://localhost:27017".into(),
    }
}

/// The stored form of an id: its two's-complement `i64`.
fn stored_id(id: u64) -> i64 {
    id as i64
}

/// The id a stored integer stands for.
fn read_id(value: Option<&Bson>) -> Result<u64, String> {
    match value {
        Some(Bson::Int64(i)) => Ok(*i as u64),
        Some(Bson::Int32(i)) => Ok(i64::from(*i) as u64),
        Some(Bson::Double(f)) if f.fract() == 0.0 => Ok(*f as i64 as u64),
        other => Err(format!("id {other:?} is not an integer")),
    }
}

/// The BSON form of `value` (for an attribute of type `t`, where declared: an int stored as a
/// double for a float).
fn to_bson(value: &AttrValue, t: Option<AttrType>) -> Bson {
    let float = match t {
        Some(AttrType::Scalar(s) | AttrType::Vec(s, _)) => s == ScalarType::Float,
        None => false,
    };
    fn scalar(value: &AttrValue, float: bool) -> Bson {
        match value {
            AttrValue::Null => Bson::Null,
            AttrValue::Bool(b) => Bson::Boolean(*b),
            AttrValue::Int(i) if float => Bson::Double(*i as f64),
            AttrValue::Int(i) => Bson::Int64(*i),
            AttrValue::Float(f) => Bson::Double(*f),
            AttrValue::Str(s) => Bson::String(s.clone()),
            AttrValue::List(items) => Bson::Array(items.iter().map(|v| scalar(v, float)).collect()),
        }
    }
    scalar(value, float)
}

/// The attribute value of a stored BSON value (an integer as a float for a float attribute).
fn from_bson(value: &Bson, t: Option<AttrType>) -> AttrValue {
    let float = match t {
        Some(AttrType::Scalar(s) | AttrType::Vec(s, _)) => s == ScalarType::Float,
        None => false,
    };
    fn scalar(value: &Bson, float: bool) -> AttrValue {
        match value {
            Bson::Null | Bson::Undefined => AttrValue::Null,
            Bson::Boolean(b) => AttrValue::Bool(*b),
            Bson::Int32(i) if float => AttrValue::Float(f64::from(*i)),
            Bson::Int64(i) if float => AttrValue::Float(*i as f64),
            Bson::Int32(i) => AttrValue::Int(i64::from(*i)),
            Bson::Int64(i) => AttrValue::Int(*i),
            Bson::Double(f) => AttrValue::Float(*f),
            Bson::String(s) => AttrValue::Str(s.clone()),
            Bson::Array(items) => AttrValue::List(items.iter().map(|v| scalar(v, float)).collect()),
            other => AttrValue::Str(other.clone().into_relaxed_extjson().to_string()),
        }
    }
    scalar(value, float)
}

/// A document as JSON text with its keys in their stored order.
fn json_text(document: &Document) -> String {
    let items: Vec<String> = document
        .iter()
        .filter(|(k, _)| k.as_str() != "_id")
        .map(|(k, v)| {
            let value = match v {
                Bson::Document(d) => json_text(d),
                other => other.clone().into_relaxed_extjson().to_string(),
            };
            format!("{}: {value}", serde_json::Value::from(k.as_str()))
        })
        .collect();
    format!("{{{}}}", items.join(", "))
}

/// A coordinate of a daisy 1.x meta document: a list of integers (or nulls).
fn coordinate(value: &Bson, name: &str, store: &str) -> Result<Coordinate, GraphError> {
    let invalid = |reason: String| GraphError::InvalidMetadata {
        store: store.to_owned(),
        reason,
    };
    let Bson::Array(items) = value else {
        return Err(invalid(format!("{name:?} is {value}, not a list")));
    };
    let values = items
        .iter()
        .map(|v| match v {
            Bson::Null => Ok(None),
            Bson::Int32(i) => Ok(Some(i64::from(*i))),
            Bson::Int64(i) => Ok(Some(*i)),
            Bson::Double(f) if f.fract() == 0.0 => Ok(Some(*f as i64)),
            other => Err(invalid(format!("{name:?} holds {other}, not an integer"))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Coordinate::from_options(&values).map_err(|e| invalid(format!("{name:?}: {e}")))
}

/// Every document of a cursor.
async fn drain(mut cursor: Cursor<Document>) -> Result<Vec<Document>, mongodb::error::Error> {
    let mut documents = Vec::new();
    while cursor.advance().await? {
        documents.push(Document::try_from(cursor.current())?);
    }
    Ok(documents)
}

/// The meta document daisy 1.x writes for a new graph: `directed` and the total ROI (`null`
/// where it is not given).
fn legacy_meta(options: &GraphOptions) -> Document {
    let values = |c: &Coordinate| -> Bson {
        Bson::Array(
            c.to_vec()
                .into_iter()
                .map(|v| v.map_or(Bson::Null, Bson::Int64))
                .collect(),
        )
    };
    let (offset, shape) = match &options.total_roi {
        Some(roi) => (values(&roi.offset()), values(&roi.shape())),
        None => (Bson::Null, Bson::Null),
    };
    doc! {
        "directed": options.directed.unwrap_or(false),
        "total_roi_offset": offset,
        "total_roi_shape": shape,
    }
}

/// The metadata of a meta document daisy 1.x wrote (`directed` and, optionally, the total
/// ROI), completed from `options`; whether it is untyped.
fn legacy_metadata(
    meta: &Document,
    options: &GraphOptions,
    store: &str,
) -> Result<(GraphMetadata, bool), GraphError> {
    let invalid = |reason: String| GraphError::InvalidMetadata {
        store: store.to_owned(),
        reason,
    };
    let directed = meta
        .get_bool("directed")
        .map_err(|_| invalid("\"directed\" is missing or not a boolean".into()))?;
    let position_attribute = options
        .position_attribute
        .clone()
        .unwrap_or_else(|| "position".into());
    let stored_roi = match (meta.get("total_roi_offset"), meta.get("total_roi_shape")) {
        (Some(o), Some(s)) if *o != Bson::Null && *s != Bson::Null => Some(
            Roi::new(
                coordinate(o, "total_roi_offset", store)?,
                coordinate(s, "total_roi_shape", store)?,
            )
            .map_err(|e| invalid(format!("total_roi: {e}")))?,
        ),
        _ => None,
    };
    let declared_position = options.node_attrs.as_ref().and_then(|attrs| {
        attrs
            .iter()
            .find(|(n, _)| *n == position_attribute)
            .map(|(_, t)| *t)
    });
    let ndims = match (stored_roi, declared_position, options.total_roi) {
        (Some(roi), _, _) => roi.dims(),
        (None, Some(AttrType::Vec(_, n)), _) => n,
        (None, Some(AttrType::Scalar(_)), _) => 1,
        (None, None, Some(roi)) => roi.dims(),
        (None, None, None) => 3,
    };
    let total_roi = match stored_roi.or(options.total_roi) {
        Some(roi) => roi,
        None => Roi::unbounded(ndims).map_err(|e| invalid(format!("total_roi: {e}")))?,
    };
    let untyped = options.node_attrs.is_none();
    let position_type = if ndims == 1 {
        AttrType::Scalar(ScalarType::Float)
    } else {
        AttrType::Vec(ScalarType::Float, ndims)
    };
    let metadata = GraphMetadata {
        position_attribute: position_attribute.clone(),
        directed,
        total_roi,
        nodes_table: options
            .nodes_table
            .clone()
            .unwrap_or_else(|| "nodes".into()),
        edges_table: options
            .edges_table
            .clone()
            .unwrap_or_else(|| "edges".into()),
        endpoint_names: options
            .endpoint_names
            .clone()
            .unwrap_or_else(|| ["u".into(), "v".into()]),
        node_attrs: options
            .node_attrs
            .clone()
            .unwrap_or_else(|| vec![(position_attribute, position_type)]),
        edge_attrs: options.edge_attrs.clone().unwrap_or_default(),
        ndims,
    };
    Ok((metadata, untyped))
}

impl MongoGraphStore {
    /// Opens the graph in database `db_name` with daisy 1.x's `MongoDbGraphProvider`
    /// arguments (`options` carries `directed`, `total_roi`, the collection and endpoint
    /// names, and the attribute types); `host` is a `mongodb://` URI or `host[:port]`
    /// (`None`: `MONGODB_URI`, else `mongodb://localhost:27017`); `meta_collection` defaults
    /// to `meta`. Mode `w` drops the three collections and creates the graph from `options`;
    /// `r` and `r+` read the meta document and check every option given against it. An
    /// unreachable server fails after [`DEFAULT_SERVER_SELECTION_TIMEOUT`].
    ///
    /// # Errors
    /// As [`MongoGraphStore::open_with_timeout`].
    pub fn open(
        db_name: &str,
        host: Option<&str>,
        mode: Mode,
        options: &GraphOptions,
        meta_collection: Option<&str>,
    ) -> Result<MongoGraphStore, GraphError> {
        MongoGraphStore::open_with_timeout(
            db_name,
            host,
            mode,
            options,
            meta_collection,
            DEFAULT_SERVER_SELECTION_TIMEOUT,
        )
    }

    /// [`MongoGraphStore::open`], waiting at most `timeout` for a server to answer.
    ///
    /// # Errors
    /// [`GraphError::InvalidOptions`] for a bad database name or host;
    /// [`GraphError::NoMetadata`], [`GraphError::MetadataMismatch`] naming the field,
    /// [`GraphError::InvalidMetadata`]; [`GraphError::Backend`] if the server cannot be
    /// reached (naming host and port) or fails.
    pub fn open_with_timeout(
        db_name: &str,
        host: Option<&str>,
        mode: Mode,
        options: &GraphOptions,
        meta_collection: Option<&str>,
        timeout: Duration,
    ) -> Result<MongoGraphStore, GraphError> {
        if db_name.is_empty() || db_name.contains(['/', '\\', '.', ' ', '"', '$', '\0']) {
            return Err(GraphError::InvalidOptions {
                reason: format!("db_name {db_name:?} is not a MongoDB database name"),
            });
        }
        let uri = uri_of(host);
        // A runtime of the store's own (one worker thread for the driver's monitors and
        // pools), not the driver's global one: a process forked after another store was
        // opened (daisy's workers) starts a fresh runtime instead of one whose threads the
        // fork did not copy.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("daisy-mongodb")
            .enable_all()
            .build()
            .map_err(|e| GraphError::Backend {
                backend: BACKEND,
                action: "starting the MongoDB driver's runtime".into(),
                store: format!("database {db_name}"),
                source: Box::new(e),
            })?;
        let mut client_options = rt
            .block_on(ClientOptions::parse(&uri).into_future())
            .map_err(|e| GraphError::InvalidOptions {
                reason: format!("host {uri:?} is not a MongoDB connection string: {e}"),
            })?;
        client_options.server_selection_timeout = Some(timeout);
        client_options.connect_timeout = Some(timeout);
        client_options.app_name = Some("daisy-graph".into());
        let server = client_options
            .hosts
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let client = {
            let _context = rt.enter();
            Client::with_options(client_options)
        }
        .map_err(|e| GraphError::Backend {
            backend: BACKEND,
            action: format!("connecting to the MongoDB server at {server}"),
            store: format!("database {db_name}"),
            source: Box::new(e),
        })?;
        let db = client.database(db_name);
        let store = format!("database {db_name} at {server}");
        let meta_name = meta_collection.unwrap_or("meta").to_owned();
        let connect_error = |e: mongodb::error::Error| GraphError::Backend {
            backend: BACKEND,
            action: format!("reading the metadata from the MongoDB server at {server}"),
            store: store.clone(),
            source: Box::new(e),
        };
        let meta: Collection<Document> = db.collection(&meta_name);
        let (metadata, untyped) = match mode {
            Mode::Write => {
                // Reach the server before dropping anything.
                rt.block_on(db.run_command(doc! {"ping": 1}).into_future())
                    .map_err(connect_error)?;
                if options.node_attrs.is_none() {
                    // daisy 1.x declared no types: an untyped graph, in its meta layout.
                    let (m, _) = legacy_metadata(&legacy_meta(options), options, &store)?;
                    (m, true)
                } else {
                    (GraphMetadata::open(None, options, mode, &store)?, false)
                }
            }
            Mode::Read | Mode::ReadWrite => {
                let stored = rt
                    .block_on(meta.find_one(doc! {}).into_future())
                    .map_err(connect_error)?;
                match stored {
                    None => (GraphMetadata::open(None, options, mode, &store)?, false),
                    Some(d) if d.contains_key("node_attrs") => {
                        let m = GraphMetadata::from_json_text(
                            &json_text(&d),
                            &store,
                            &format!("collection {meta_name}"),
                        )?;
                        (GraphMetadata::open(Some(m), options, mode, &store)?, false)
                    }
                    Some(d) => {
                        let (m, untyped) = legacy_metadata(&d, options, &store)?;
                        (
                            GraphMetadata::open(Some(m), options, mode, &store)?,
                            untyped,
                        )
                    }
                }
            }
        };
        let this = MongoGraphStore {
            db,
            rt,
            db_name: db_name.to_owned(),
            server,
            metadata,
            mode,
            untyped,
            bulk: None,
        };
        if mode == Mode::Write {
            let m = &this.metadata;
            let document: Document = if this.untyped {
                legacy_meta(options)
            } else {
                serde_json::from_str(&m.to_json_text())
                    .map_err(|e| this.backend_error("writing the metadata", Box::new(e)))?
            };
            this.run("replacing the graph", async {
                this.nodes().drop().await?;
                this.edges().drop().await?;
                meta.drop().await?;
                meta.insert_one(document).await?;
                Ok(())
            })?;
        }
        if mode != Mode::Read {
            this.create_indexes(true)?;
        }
        Ok(this)
    }

    /// The database name.
    #[must_use]
    pub fn db_name(&self) -> &str {
        &self.db_name
    }

    /// The server's `host:port` (comma-separated for several).
    #[must_use]
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Whether the graph is a daisy 1.x one opened without attribute types (any attribute,
    /// values as stored).
    #[must_use]
    pub fn untyped(&self) -> bool {
        self.untyped
    }

    fn nodes(&self) -> Collection<Document> {
        self.db.collection(&self.metadata.nodes_table)
    }

    fn edges(&self) -> Collection<Document> {
        self.db.collection(&self.metadata.edges_table)
    }

    fn backend_error(
        &self,
        action: &str,
        source: Box<dyn std::error::Error + Send + Sync>,
    ) -> GraphError {
        GraphError::backend(BACKEND, action, self.describe(), source)
    }

    /// Runs `f`, mapping a driver error to a [`GraphError`].
    fn run<T>(
        &self,
        action: &str,
        f: impl Future<Output = Result<T, mongodb::error::Error>>,
    ) -> Result<T, GraphError> {
        self.rt
            .block_on(f)
            .map_err(|e| self.backend_error(action, Box::new(e)))
    }

    /// daisy 1.x's indexes: `position` and the unique `id` on the nodes, the unique
    /// `incident` on the edges (`position` left out in bulk write mode).
    fn create_indexes(&self, position: bool) -> Result<(), GraphError> {
        let [u, v] = &self.metadata.endpoint_names;
        let named = |name: &str, unique: bool| {
            IndexOptions::builder()
                .name(name.to_owned())
                .unique(unique.then_some(true))
                .build()
        };
        self.run("creating the indexes", async {
            if position {
                self.nodes()
                    .create_index(
                        IndexModel::builder()
                            .keys(doc! {&self.metadata.position_attribute: 1})
                            .options(named(POSITION_INDEX, false))
                            .build(),
                    )
                    .await?;
            }
            self.nodes()
                .create_index(
                    IndexModel::builder()
                        .keys(doc! {"id": 1})
                        .options(named("id", true))
                        .build(),
                )
                .await?;
            self.edges()
                .create_index(
                    IndexModel::builder()
                        .keys(doc! {u: 1, v: 1})
                        .options(named("incident", true))
                        .build(),
                )
                .await?;
            Ok(())
        })
    }

    /// The ROI condition: `begin <= position.d < end` per bounded side.
    fn roi_filter(&self, roi: &Roi, filter: &mut Document) -> Result<(), GraphError> {
        self.metadata.check_roi(roi)?;
        let (begin, end) = (roi.begin(), roi.end());
        let p = &self.metadata.position_attribute;
        for d in 0..self.metadata.ndims {
            let mut range = Document::new();
            if let Some(b) = begin.get(d) {
                range.insert("$gte", b);
            }
            if let Some(e) = end.get(d) {
                range.insert("$lt", e);
            }
            if range.is_empty() {
                continue;
            }
            // A 1-D position is a scalar, compared without a subscript.
            let key = if self.metadata.ndims == 1 {
                p.clone()
            } else {
                format!("{p}.{d}")
            };
            filter.insert(key, range);
        }
        Ok(())
    }

    /// The type of attribute `name` (`None` where untyped).
    fn attr_type(&self, name: &str, edges: bool) -> Result<Option<AttrType>, GraphError> {
        let declared = if edges {
            self.metadata.edge_attr(name)
        } else {
            self.metadata.node_attr(name)
        };
        match declared {
            Ok(t) => Ok(Some(t)),
            Err(_) if self.untyped => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Equality conditions on attribute values.
    fn attr_filter(
        &self,
        filter: &Filter,
        edges: bool,
        out: &mut Document,
    ) -> Result<(), GraphError> {
        for (name, value) in filter {
            let t = self.attr_type(name, edges)?;
            if let Some(t) = t
                && !t.admits(value)
            {
                return Err(GraphError::WrongType {
                    kind: if edges { "edge" } else { "node" },
                    id: "filter".into(),
                    attr: name.clone(),
                    expected: t,
                    value: value.to_string(),
                });
            }
            out.insert(name.clone(), to_bson(value, t));
        }
        Ok(())
    }

    /// The attributes a read returns: the selection, else every declared one (`None` where
    /// untyped: every stored field).
    fn selection(
        &self,
        attrs: Option<&[String]>,
        edges: bool,
    ) -> Result<Option<Vec<Selected>>, GraphError> {
        match attrs {
            Some(names) => names
                .iter()
                .map(|n| Ok((n.clone(), self.attr_type(n, edges)?)))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            None if self.untyped => Ok(None),
            None => {
                let declared = if edges {
                    &self.metadata.edge_attrs
                } else {
                    &self.metadata.node_attrs
                };
                Ok(Some(
                    declared
                        .iter()
                        .map(|(n, t)| (n.clone(), Some(*t)))
                        .collect(),
                ))
            }
        }
    }

    /// The attributes of a stored document: the selected ones (absent ones as null), or
    /// every field but `skip`.
    fn attrs_of(
        &self,
        document: &Document,
        selection: Option<&[Selected]>,
        skip: &[&str],
        edges: bool,
    ) -> Attrs {
        match selection {
            Some(selection) => selection
                .iter()
                .map(|(n, t)| {
                    let value = document
                        .get(n)
                        .map_or(AttrValue::Null, |v| from_bson(v, *t));
                    (n.clone(), value)
                })
                .collect(),
            None => document
                .iter()
                .filter(|(k, _)| k.as_str() != "_id" && !skip.contains(&k.as_str()))
                .map(|(k, v)| {
                    let t = self.attr_type(k, edges).ok().flatten();
                    (k.clone(), from_bson(v, t))
                })
                .collect(),
        }
    }

    /// A projection of the selected attributes and the fields `keep`.
    fn projection(selection: Option<&[Selected]>, keep: &[&str]) -> Document {
        let mut projection = doc! {"_id": 0};
        if let Some(selection) = selection {
            for k in keep {
                projection.insert(*k, 1);
            }
            for (n, _) in selection {
                projection.insert(n.clone(), 1);
            }
        }
        projection
    }

    /// The nodes a write (or update, by `action`) of `roi` stores and the attributes to
    /// store: [`GraphStore::nodes_to_write`], or, untyped, the attributes as given (`None`:
    /// every attribute each node has).
    fn nodes_for(
        &self,
        action: &'static str,
        graph: &Graph,
        roi: Option<&Roi>,
        attrs: Option<&[String]>,
    ) -> Result<(Vec<Node>, Option<Vec<String>>), GraphError> {
        if self.untyped {
            self.check_writable(action)?;
            let nodes = graph.nodes_in(roi, &self.metadata)?;
            return Ok((nodes, attrs.map(<[String]>::to_vec)));
        }
        let (nodes, names) = self.nodes_to_write(action, graph, roi, attrs)?;
        Ok((nodes, Some(names)))
    }

    /// [`MongoGraphStore::nodes_for`] for edges ([`GraphStore::edges_to_write`]).
    fn edges_for(
        &self,
        action: &'static str,
        graph: &Graph,
        roi: Option<&Roi>,
        attrs: Option<&[String]>,
    ) -> Result<(Vec<Edge>, Option<Vec<String>>), GraphError> {
        if self.untyped {
            self.check_writable(action)?;
            let edges = graph.edges_in(roi, &self.metadata)?;
            return Ok((edges, attrs.map(<[String]>::to_vec)));
        }
        let (edges, names) = self.edges_to_write(action, graph, roi, attrs)?;
        Ok((edges, Some(names)))
    }

    /// The document fields of `attrs` (`names`, else all of them), nulls left out.
    fn fields(
        &self,
        attrs: &Attrs,
        names: Option<&[String]>,
        edges: bool,
        out: &mut Document,
        keep_nulls: bool,
    ) {
        let mut put = |name: &str, value: &AttrValue| {
            if keep_nulls || *value != AttrValue::Null {
                let t = self.attr_type(name, edges).ok().flatten();
                out.insert(name.to_owned(), to_bson(value, t));
            }
        };
        match names {
            Some(names) => {
                for n in names {
                    put(n, attrs.get(n).unwrap_or(&AttrValue::Null));
                }
            }
            None => {
                for (n, v) in attrs {
                    put(n, v);
                }
            }
        }
    }

    /// Inserts `documents` unordered in batches, keeping stored ones (duplicate keys); the
    /// number inserted. With `fail_if_exists`, a duplicate is [`GraphError::AlreadyExists`]
    /// naming `what` of it.
    fn insert(
        &self,
        collection: &str,
        documents: Vec<Document>,
        fail_if_exists: bool,
        what: impl Fn(&Document) -> String,
    ) -> Result<usize, GraphError> {
        let mut written = 0;
        for batch in documents.chunks(BATCH) {
            let command = doc! {
                "insert": collection,
                "documents": batch.iter().cloned().map(Bson::Document).collect::<Vec<_>>(),
                "ordered": false,
            };
            let reply = self.run("inserting documents", async {
                self.db.run_command(command).await
            })?;
            written += count(&reply, "n");
            if let Ok(errors) = reply.get_array("writeErrors") {
                for error in errors {
                    let Bson::Document(error) = error else {
                        continue;
                    };
                    let code = error.get("code").and_then(Bson::as_i32_like);
                    let index = error.get("index").and_then(Bson::as_i32_like);
                    if code == Some(DUPLICATE_KEY) {
                        if fail_if_exists {
                            let doc = index
                                .and_then(|i| usize::try_from(i).ok())
                                .and_then(|i| batch.get(i));
                            return Err(GraphError::AlreadyExists {
                                what: doc.map_or_else(|| "a document".into(), &what),
                                store: self.describe(),
                            });
                        }
                    } else {
                        return Err(self.backend_error(
                            &format!("inserting into collection {collection}"),
                            format!("write error {error}").into(),
                        ));
                    }
                }
            }
        }
        Ok(written)
    }

    /// Runs `$set` updates `(query, fields)` unordered in batches; the number matched.
    fn update(
        &self,
        collection: &str,
        updates: Vec<(Document, Document)>,
    ) -> Result<usize, GraphError> {
        let mut matched = 0;
        for batch in updates.chunks(BATCH) {
            let statements: Vec<Bson> = batch
                .iter()
                .map(|(q, set)| Bson::Document(doc! {"q": q.clone(), "u": {"$set": set.clone()}}))
                .collect();
            let command = doc! {"update": collection, "updates": statements, "ordered": false};
            let reply = self.run("updating documents", async {
                self.db.run_command(command).await
            })?;
            if let Ok(errors) = reply.get_array("writeErrors")
                && !errors.is_empty()
            {
                return Err(self.backend_error(
                    &format!("updating collection {collection}"),
                    format!("write errors {errors:?}").into(),
                ));
            }
            matched += count(&reply, "n");
        }
        Ok(matched)
    }

    /// The ids of the stored nodes among `ids`.
    fn existing(
        &self,
        collection: &Collection<Document>,
        ids: &[i64],
    ) -> Result<Vec<i64>, GraphError> {
        let mut found = Vec::new();
        for chunk in ids.chunks(ID_CHUNK) {
            let docs = self.run("looking for stored nodes", async {
                let cursor = collection
                    .find(doc! {"id": {"$in": chunk}})
                    .projection(doc! {"_id": 0, "id": 1})
                    .await?;
                drain(cursor).await
            })?;
            for d in docs {
                if let Some(id) = d.get("id").and_then(Bson::as_i64_like) {
                    found.push(id);
                }
            }
        }
        Ok(found)
    }

    /// The ids of the nodes in `roi`.
    fn ids_in(&self, roi: &Roi) -> Result<Vec<i64>, GraphError> {
        let mut filter = Document::new();
        self.roi_filter(roi, &mut filter)?;
        let docs = self.find(
            &self.nodes(),
            filter,
            doc! {"_id": 0, "id": 1},
            "reading node ids",
        )?;
        Ok(docs
            .iter()
            .filter_map(|d| d.get("id").and_then(Bson::as_i64_like))
            .collect())
    }

    fn find(
        &self,
        collection: &Collection<Document>,
        filter: Document,
        projection: Document,
        action: &str,
    ) -> Result<Vec<Document>, GraphError> {
        self.run(action, async {
            drain(collection.find(filter).projection(projection).await?).await
        })
    }

    fn node_of(
        &self,
        document: &Document,
        selection: Option<&[Selected]>,
    ) -> Result<Node, GraphError> {
        let id = read_id(document.get("id"))
            .map_err(|reason| self.backend_error("reading nodes", reason.into()))?;
        Ok(Node {
            id,
            attrs: self.attrs_of(document, selection, &["id"], false),
        })
    }

    /// The nodes a query selects, each left-joined on `id` with its document in collection
    /// `join_collection` (daisy 1.x's `read_nodes(..., join_collection=...)`): the node has
    /// the joined document's fields too (its own win where both have one), and the query's
    /// filter may name them. The joined fields are untyped: returned as stored.
    ///
    /// # Errors
    /// [`GraphError::RoiDims`], [`GraphError::Backend`] (the filter and the selection may
    /// name any attribute: a joined one is not declared).
    pub fn read_nodes_joined(
        &self,
        query: &NodeQuery,
        join_collection: &str,
    ) -> Result<Vec<Node>, GraphError> {
        let mut matched = Document::new();
        if let Some(roi) = &query.roi {
            self.roi_filter(roi, &mut matched)?;
        }
        let mut filter = Document::new();
        for (name, value) in &query.filter {
            let t = self.attr_type(name, false).ok().flatten();
            filter.insert(name.clone(), to_bson(value, t));
        }
        let pipeline = vec![
            doc! {"$match": matched},
            doc! {"$lookup": {
                "from": join_collection, "localField": "id", "foreignField": "id",
                "as": "__features",
            }},
            doc! {"$unwind": {"path": "$__features", "preserveNullAndEmptyArrays": true}},
            doc! {"$replaceRoot": {"newRoot": {"$mergeObjects": ["$__features", "$$ROOT"]}}},
            doc! {"$project": {"__features": 0, "_id": 0}},
            doc! {"$match": filter},
        ];
        let action = format!("reading nodes joined with collection {join_collection}");
        let documents = self.run(&action, async {
            drain(self.nodes().aggregate(pipeline).await?).await
        })?;
        let mut nodes = Vec::new();
        for d in documents {
            let mut node = self.node_of(&d, None)?;
            if let Some(names) = &query.attrs {
                node.attrs = names
                    .iter()
                    .map(|n| {
                        (
                            n.clone(),
                            node.attrs.get(n).cloned().unwrap_or(AttrValue::Null),
                        )
                    })
                    .collect();
            } else if !self.untyped {
                for (n, _) in &self.metadata.node_attrs {
                    node.attrs.entry(n.clone()).or_insert(AttrValue::Null);
                }
            }
            nodes.push(node);
        }
        Ok(nodes)
    }

    /// Writes `features` (per node id, any attributes, stored as given) to collection
    /// `collection`, with a unique index `id` there; the number written. Stored ids are kept
    /// (with `fail_if_exists`: an error).
    ///
    /// # Errors
    /// [`GraphError::ReadOnly`], [`GraphError::InvalidOptions`] for the collection of the
    /// graph's own nodes, edges; [`GraphError::AlreadyExists`], [`GraphError::Backend`].
    pub fn write_node_features(
        &mut self,
        collection: &str,
        features: &[Node],
        fail_if_exists: bool,
    ) -> Result<usize, GraphError> {
        self.check_writable("write node features to")?;
        if collection == self.metadata.nodes_table || collection == self.metadata.edges_table {
            return Err(GraphError::InvalidOptions {
                reason: format!("collection {collection:?} holds the graph, not features"),
            });
        }
        let target: Collection<Document> = self.db.collection(collection);
        self.run("creating the feature index", async {
            target
                .create_index(
                    IndexModel::builder()
                        .keys(doc! {"id": 1})
                        .options(
                            IndexOptions::builder()
                                .name("id".to_owned())
                                .unique(true)
                                .build(),
                        )
                        .build(),
                )
                .await
        })?;
        let documents: Vec<Document> = features
            .iter()
            .map(|n| {
                let mut d = doc! {"id": stored_id(n.id)};
                for (k, v) in &n.attrs {
                    if k != "id" && k != "_id" {
                        d.insert(k.clone(), to_bson(v, None));
                    }
                }
                d
            })
            .collect();
        self.insert(collection, documents, fail_if_exists, node_what)
    }
}

fn node_what(d: &Document) -> String {
    match read_id(d.get("id")) {
        Ok(id) => format!("node {id}"),
        Err(_) => "a node".into(),
    }
}

/// A count field of a command reply.
fn count(reply: &Document, field: &str) -> usize {
    reply
        .get(field)
        .and_then(Bson::as_i64_like)
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0)
}

/// Integer BSON values as `i32` / `i64`, whatever width the server replied with.
trait IntLike {
    fn as_i64_like(&self) -> Option<i64>;
    fn as_i32_like(&self) -> Option<i32> {
        self.as_i64_like().and_then(|i| i32::try_from(i).ok())
    }
}

impl IntLike for Bson {
    fn as_i64_like(&self) -> Option<i64> {
        match self {
            Bson::Int32(i) => Some(i64::from(*i)),
            Bson::Int64(i) => Some(*i),
            Bson::Double(f) if f.fract() == 0.0 => Some(*f as i64),
            _ => None,
        }
    }
}

impl GraphStore for MongoGraphStore {
    fn metadata(&self) -> &GraphMetadata {
        &self.metadata
    }

    fn mode(&self) -> Mode {
        self.mode
    }

    fn describe(&self) -> String {
        format!("database {} at {}", self.db_name, self.server)
    }

    fn write_nodes(
        &mut self,
        graph: &Graph,
        roi: Option<&Roi>,
        attrs: Option<&[String]>,
        fail_if_exists: bool,
    ) -> Result<usize, GraphError> {
        let (nodes, names) = self.nodes_for("write nodes to", graph, roi, attrs)?;
        let documents: Vec<Document> = nodes
            .iter()
            .map(|n| {
                let mut d = doc! {"id": stored_id(n.id)};
                self.fields(&n.attrs, names.as_deref(), false, &mut d, false);
                d
            })
            .collect();
        if fail_if_exists {
            // Refuse before writing anything (a concurrent writer is caught by the index).
            let ids: Vec<i64> = nodes.iter().map(|n| stored_id(n.id)).collect();
            if let Some(&id) = self.existing(&self.nodes(), &ids)?.first() {
                return Err(GraphError::AlreadyExists {
                    what: format!("node {}", id as u64),
                    store: self.describe(),
                });
            }
        }
        let collection = self.metadata.nodes_table.clone();
        self.insert(&collection, documents, fail_if_exists, node_what)
    }

    fn write_edges(
        &mut self,
        graph: &Graph,
        roi: Option<&Roi>,
        attrs: Option<&[String]>,
        fail_if_exists: bool,
    ) -> Result<usize, GraphError> {
        let (edges, names) = self.edges_for("write edges to", graph, roi, attrs)?;
        let [u, v] = self.metadata.endpoint_names.clone();
        let documents: Vec<Document> = edges
            .iter()
            .map(|e| {
                let mut d = doc! {&u: stored_id(e.u), &v: stored_id(e.v)};
                self.fields(&e.attrs, names.as_deref(), true, &mut d, false);
                d
            })
            .collect();
        if fail_if_exists {
            for chunk in edges.chunks(ID_CHUNK) {
                let pairs: Vec<Bson> = chunk
                    .iter()
                    .map(|e| Bson::Document(doc! {&u: stored_id(e.u), &v: stored_id(e.v)}))
                    .collect();
                let found = self.run("looking for stored edges", async {
                    self.edges().find_one(doc! {"$or": pairs}).await
                })?;
                if let Some(d) = found {
                    return Err(GraphError::AlreadyExists {
                        what: edge_what(&d, &u, &v),
                        store: self.describe(),
                    });
                }
            }
        }
        let collection = self.metadata.edges_table.clone();
        self.insert(&collection, documents, fail_if_exists, |d| {
            edge_what(d, &u, &v)
        })
    }

    fn update_nodes(
        &mut self,
        graph: &Graph,
        roi: Option<&Roi>,
        attrs: &[String],
    ) -> Result<usize, GraphError> {
        let (nodes, names) = self.nodes_for("update nodes in", graph, roi, Some(attrs))?;
        let names = names.unwrap_or_else(|| attrs.to_vec());
        if names.is_empty() {
            return Ok(0);
        }
        let updates = nodes
            .iter()
            .map(|n| {
                let mut set = Document::new();
                self.fields(&n.attrs, Some(&names), false, &mut set, true);
                (doc! {"id": stored_id(n.id)}, set)
            })
            .collect();
        let collection = self.metadata.nodes_table.clone();
        self.update(&collection, updates)
    }

    fn update_edges(
        &mut self,
        graph: &Graph,
        roi: Option<&Roi>,
        attrs: &[String],
    ) -> Result<usize, GraphError> {
        let (edges, names) = self.edges_for("update edges in", graph, roi, Some(attrs))?;
        let names = names.unwrap_or_else(|| attrs.to_vec());
        if names.is_empty() {
            return Ok(0);
        }
        let [u, v] = &self.metadata.endpoint_names;
        let updates = edges
            .iter()
            .map(|e| {
                let mut set = Document::new();
                self.fields(&e.attrs, Some(&names), true, &mut set, true);
                (doc! {u: stored_id(e.u), v: stored_id(e.v)}, set)
            })
            .collect();
        let collection = self.metadata.edges_table.clone();
        self.update(&collection, updates)
    }

    fn read_nodes(&self, query: &NodeQuery) -> Result<Vec<Node>, GraphError> {
        let selection = self.selection(query.attrs.as_deref(), false)?;
        let mut filter = Document::new();
        if let Some(roi) = &query.roi {
            self.roi_filter(roi, &mut filter)?;
        }
        self.attr_filter(&query.filter, false, &mut filter)?;
        let projection = Self::projection(selection.as_deref(), &["id"]);
        self.find(&self.nodes(), filter, projection, "reading nodes")?
            .iter()
            .map(|d| self.node_of(d, selection.as_deref()))
            .collect()
    }

    fn read_edges(&self, query: &EdgeQuery) -> Result<Vec<Edge>, GraphError> {
        let selection = self.selection(query.attrs.as_deref(), true)?;
        let [u, v] = &self.metadata.endpoint_names;
        let mut filter = Document::new();
        self.attr_filter(&query.filter, true, &mut filter)?;
        let ids: Option<Vec<i64>> = match &query.selection {
            EdgeSelection::All => None,
            EdgeSelection::Nodes(ids) => Some(ids.iter().map(|&id| stored_id(id)).collect()),
            EdgeSelection::Roi(roi) => Some(self.ids_in(roi)?),
        };
        let projection = Self::projection(selection.as_deref(), &[u.as_str(), v.as_str()]);
        let documents = match ids {
            None => self.find(&self.edges(), filter, projection, "reading edges")?,
            Some(ids) => {
                let mut documents = Vec::new();
                for chunk in ids.chunks(ID_CHUNK) {
                    let mut f = filter.clone();
                    if query.fetch_on_v {
                        f.insert(
                            "$or",
                            vec![doc! {u: {"$in": chunk}}, doc! {v: {"$in": chunk}}],
                        );
                    } else {
                        f.insert(u, doc! {"$in": chunk});
                    }
                    documents.extend(self.find(
                        &self.edges(),
                        f,
                        projection.clone(),
                        "reading edges",
                    )?);
                }
                documents
            }
        };
        let mut seen = HashSet::new();
        let mut edges = Vec::with_capacity(documents.len());
        for d in &documents {
            let endpoints = read_id(d.get(u))
                .and_then(|a| read_id(d.get(v)).map(|b| (a, b)))
                .map_err(|reason| self.backend_error("reading edges", reason.into()))?;
            // With `fetch_on_v`, an edge may match in two chunks.
            if !seen.insert(endpoints) {
                continue;
            }
            edges.push(Edge {
                u: endpoints.0,
                v: endpoints.1,
                attrs: self.attrs_of(d, selection.as_deref(), &[u.as_str(), v.as_str()], true),
            });
        }
        Ok(edges)
    }

    fn num_nodes(&self, roi: Option<&Roi>) -> Result<u64, GraphError> {
        let mut filter = Document::new();
        if let Some(roi) = roi {
            self.roi_filter(roi, &mut filter)?;
        }
        self.run("counting nodes", async {
            self.nodes().count_documents(filter).await
        })
    }

    fn has_edges(&self, roi: Option<&Roi>) -> Result<bool, GraphError> {
        let Some(roi) = roi else {
            let found = self.run("looking for edges", async {
                self.edges().find_one(doc! {}).await
            })?;
            return Ok(found.is_some());
        };
        let u = &self.metadata.endpoint_names[0];
        for chunk in self.ids_in(roi)?.chunks(ID_CHUNK) {
            let found = self.run("looking for edges", async {
                self.edges().find_one(doc! {u: {"$in": chunk}}).await
            })?;
            if found.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn begin_bulk_write(&mut self, worker: bool) -> Result<(), GraphError> {
        self.check_writable("bulk write to")?;
        if self.bulk.is_some() {
            return Ok(());
        }
        if !worker {
            let indexes = self.run("listing the indexes", async {
                self.nodes().list_index_names().await
            })?;
            if indexes.iter().any(|n| n == POSITION_INDEX) {
                self.run("dropping the position index", async {
                    self.nodes().drop_index(POSITION_INDEX).await
                })?;
            }
        }
        self.bulk = Some(worker);
        Ok(())
    }

    fn end_bulk_write(&mut self) -> Result<(), GraphError> {
        let Some(worker) = self.bulk else {
            return Ok(());
        };
        if !worker {
            self.create_indexes(true)?;
        }
        self.bulk = None;
        Ok(())
    }
}

fn edge_what(d: &Document, u: &str, v: &str) -> String {
    match (read_id(d.get(u)), read_id(d.get(v))) {
        (Ok(a), Ok(b)) => format!("edge ({a}, {b})"),
        _ => "an edge".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_above_i64_max_round_trip_as_twos_complement() {
        let id = u64::MAX - 5;
        let stored = stored_id(id);
        assert_eq!(stored, -6);
        assert_eq!(read_id(Some(&Bson::Int64(stored))), Ok(id));
        assert_eq!(read_id(Some(&Bson::Int32(7))), Ok(7));
        assert!(read_id(Some(&Bson::String("x".into()))).is_err());
        assert!(read_id(None).is_err());
    }

    #[test]
    fn values_convert_by_declared_type() {
        let float = Some(AttrType::Scalar(ScalarType::Float));
        assert_eq!(to_bson(&AttrValue::Int(3), float), Bson::Double(3.0));
        assert_eq!(to_bson(&AttrValue::Int(3), None), Bson::Int64(3));
        assert_eq!(from_bson(&Bson::Int32(3), float), AttrValue::Float(3.0));
        assert_eq!(from_bson(&Bson::Int32(3), None), AttrValue::Int(3));
        let list = AttrValue::List(vec![AttrValue::Int(1), AttrValue::Float(2.5)]);
        let vec = Some(AttrType::Vec(ScalarType::Float, 2));
        assert_eq!(
            from_bson(&to_bson(&list, vec), vec),
            AttrValue::List(vec![AttrValue::Float(1.0), AttrValue::Float(2.5)])
        );
    }

    #[test]
    fn hosts_become_connection_strings() {
        assert_eq!(uri_of(Some("db:1234")), "mongodb://db:1234");
        assert_eq!(uri_of(Some("mongodb://a:1/?x=y")), "mongodb://a:1/?x=y");
    }

    #[test]
    fn the_meta_document_keeps_its_key_order_as_json() {
        let d = doc! {"_id": 1, "b": {"z": "int", "a": "float"}, "a": [1_i64, Bson::Null]};
        assert_eq!(
            json_text(&d),
            r#"{"b": {"z": "int", "a": "float"}, "a": [1,null]}"#
        );
    }
}
