//! `GraphStore`: a spatial graph store of `daisy-graph` (SQLite, PostgreSQL, MongoDB, files),
//! for `daisy.persistence`'s graph databases and daisy 1.x's graph providers.
//!
//! networkx graphs cross the boundary in bulk: a write walks the graph's own dictionaries
//! (`Graph._node`, `Graph._adj`) once, taking only the attributes being written, and hands the
//! engine a [`Graph`]; a read fills a new networkx graph's dictionaries directly. Every query,
//! the ROI rules (which nodes and edges a write of a ROI covers), type checks and the row
//! conversion run in the engine, with the GIL released.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Mutex;

use daisy_graph::{
    AttrType, AttrValue, Attrs, Edge, EdgeQuery, EdgeSelection, FileGraphStore, Filter, Graph,
    GraphError, GraphMetadata, GraphOptions, GraphStore, Mode, MongoGraphStore, Node, NodeQuery,
    PgGraphStore, SqliteGraphStore,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::convert::{optional_roi_from_py, repr, roi_to_tuples, type_name};
use crate::errors::DaisyError;

/// A graph store the engine opened, by backend (MongoDB has calls of its own).
enum Store {
    /// An SQLite file.
    Sqlite(SqliteGraphStore),
    /// A PostgreSQL database.
    Postgres(PgGraphStore),
    /// A MongoDB database.
    Mongo(MongoGraphStore),
    /// A directory of chunk files.
    File(FileGraphStore),
}

impl Store {
    /// The store behind the backend.
    fn get(&mut self) -> &mut dyn GraphStore {
        match self {
            Store::Sqlite(s) => s,
            Store::Postgres(s) => s,
            Store::Mongo(s) => s,
            Store::File(s) => s,
        }
    }
}

/// A spatial graph store (`daisy._daisy.GraphStore`).
#[pyclass(name = "GraphStore", module = "daisy._daisy", frozen)]
pub(crate) struct PyGraphStore {
    /// The store, `None` once closed.
    store: Mutex<Option<Store>>,
    /// Whether `Vec` attributes are returned as tuples (SQLite, as funlib's sqlite3 rows) or
    /// lists (PostgreSQL, as psycopg2's arrays).
    vec_as_tuple: bool,
    /// The store's name for messages.
    name: String,
    /// The store's metadata (fixed once open).
    meta: GraphMetadata,
    /// The mode it was opened in.
    mode: Mode,
    /// A graph without declared attributes (a MongoDB graph daisy 1.x wrote): writes take
    /// every attribute a node or edge has.
    untyped: bool,
}

/// Why a call on the store did not run or failed.
enum CallError {
    /// The store was closed.
    Closed,
    /// An earlier call panicked while holding the store.
    Poisoned,
    /// The store failed.
    Graph(GraphError),
}

/// A [`GraphError`] as the `daisy.errors` exception it is documented to be.
pub(crate) fn graph_error(error: GraphError) -> PyErr {
    let class = match &error {
        GraphError::NoMetadata { .. } | GraphError::ReadOnly { .. } => DaisyError::GraphStore,
        GraphError::MetadataMismatch { .. }
        | GraphError::SchemaMismatch { .. }
        | GraphError::InvalidMetadata { .. } => DaisyError::GraphMetadataMismatch,
        GraphError::MissingEndpoint { .. } => DaisyError::GraphMissingNode,
        GraphError::Io { .. } | GraphError::Backend { .. } => DaisyError::GraphStore,
        _ => DaisyError::Graph,
    };
    class.new_err(error.to_string())
}

/// An attribute type from its funlib text (`"float"`, `"Vec(float, 3)"`).
fn attr_type(text: &str) -> PyResult<AttrType> {
    AttrType::parse(text).map_err(graph_error)
}

/// Declared attributes from `[(name, type text), ...]`.
fn declared(attrs: Option<Vec<(String, String)>>) -> PyResult<Option<Vec<(String, AttrType)>>> {
    attrs
        .map(|list| {
            list.into_iter()
                .map(|(name, t)| Ok((name, attr_type(&t)?)))
                .collect()
        })
        .transpose()
}

/// The options of an open, from a dict with the keyword arguments funlib's constructors
/// take (`position_attribute`, `directed`, `total_roi`, `nodes_table`, `edges_table`,
/// `endpoint_names`, `node_attrs` / `edge_attrs` as `[(name, type text)]`; missing or `None`:
/// not given).
fn options_from_py(options: Option<&Bound<'_, PyDict>>) -> PyResult<GraphOptions> {
    let Some(options) = options else {
        return Ok(GraphOptions::default());
    };
    fn get<'py, T: FromPyObjectOwned<'py>>(
        options: &Bound<'py, PyDict>,
        key: &str,
    ) -> PyResult<Option<T>> {
        match options.get_item(key)? {
            Some(v) if !v.is_none() => v.extract::<T>().map(Some).map_err(|e| {
                let e: PyErr = e.into();
                PyTypeError::new_err(format!("{key} = {}: {e}", repr(&v)))
            }),
            _ => Ok(None),
        }
    }
    let endpoint_names = get::<Vec<String>>(options, "endpoint_names")?
        .map(|names| {
            <[String; 2]>::try_from(names).map_err(|names| {
                DaisyError::Graph
                    .new_err(format!("endpoint_names must be two names, got {names:?}"))
            })
        })
        .transpose()?;
    let total_roi = options.get_item("total_roi")?;
    Ok(GraphOptions {
        position_attribute: get(options, "position_attribute")?,
        directed: get(options, "directed")?,
        total_roi: optional_roi_from_py(total_roi.as_ref(), "total_roi")?,
        nodes_table: get(options, "nodes_table")?,
        edges_table: get(options, "edges_table")?,
        endpoint_names,
        node_attrs: declared(get(options, "node_attrs")?)?,
        edge_attrs: declared(get(options, "edge_attrs")?)?,
    })
}

/// A mode string (`r`, `r+`, `w`).
fn mode_arg(mode: &str) -> PyResult<Mode> {
    Mode::parse(mode).map_err(graph_error)
}

/// The value of attribute `attr` of `what` (a node or edge), from Python: None, bool, int,
/// float, str, a sequence of them, or a numpy scalar or array.
fn value_from_py(
    value: &Bound<'_, PyAny>,
    attr: &str,
    what: &dyn Fn() -> String,
) -> PyResult<AttrValue> {
    if value.is_none() {
        return Ok(AttrValue::Null);
    }
    if let Ok(b) = value.cast::<PyBool>() {
        return Ok(AttrValue::Bool(b.is_true()));
    }
    if value.is_instance_of::<PyInt>() {
        return value.extract::<i64>().map(AttrValue::Int).map_err(|_| {
            DaisyError::Graph.new_err(format!(
                "attribute {attr:?} of {} is {}, outside the 64-bit integers a store holds",
                what(),
                repr(value)
            ))
        });
    }
    if let Ok(f) = value.cast::<PyFloat>() {
        return Ok(AttrValue::Float(f.value()));
    }
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(AttrValue::Str(s.to_str()?.to_owned()));
    }
    if let Ok(t) = value.cast::<PyTuple>() {
        return t
            .iter()
            .map(|item| value_from_py(&item, attr, what))
            .collect::<PyResult<_>>()
            .map(AttrValue::List);
    }
    if let Ok(l) = value.cast::<PyList>() {
        return l
            .iter()
            .map(|item| value_from_py(&item, attr, what))
            .collect::<PyResult<_>>()
            .map(AttrValue::List);
    }
    // numpy scalars and arrays (and funlib Coordinates, which are tuples) become Python values.
    let py = value.py();
    if let Ok(tolist) = value.getattr(intern!(py, "tolist")) {
        let plain = tolist.call0()?;
        if !plain.is(value) {
            return value_from_py(&plain, attr, what);
        }
    }
    Err(PyTypeError::new_err(format!(
        "attribute {attr:?} of {} is a {} ({}): a store holds None, bool, int, float, str and \
         sequences of them",
        what(),
        type_name(value),
        repr(value)
    )))
}

/// A node or edge id: an int from 0 to 2^64 - 1.
fn id_from_py(value: &Bound<'_, PyAny>, what: &str) -> PyResult<u64> {
    value.extract::<u64>().map_err(|_| {
        DaisyError::Graph.new_err(format!(
            "{what} {} is not an id: ids are integers from 0 to 2^64 - 1",
            repr(value)
        ))
    })
}

/// The attributes `names` of one node's or edge's data dictionary (those it has; all of
/// them without a list).
fn attrs_from_py(
    data: &Bound<'_, PyAny>,
    names: Option<&[Py<PyString>]>,
    what: &dyn Fn() -> String,
) -> PyResult<Attrs> {
    let py = data.py();
    let data = data.cast::<PyDict>().map_err(|_| {
        PyTypeError::new_err(format!(
            "the data of {} is a {}, not a dict",
            what(),
            type_name(data)
        ))
    })?;
    let mut attrs = Attrs::new();
    let Some(names) = names else {
        for (key, value) in data.iter() {
            let key: String = key.extract().map_err(|_| {
                PyTypeError::new_err(format!(
                    "the attribute names of {} must be strings, got {}",
                    what(),
                    repr(&key)
                ))
            })?;
            let value = value_from_py(&value, &key, what)?;
            attrs.insert(key, value);
        }
        return Ok(attrs);
    };
    for name in names {
        let name = name.bind(py);
        if let Some(value) = data.get_item(name)? {
            let key = name.to_str()?;
            attrs.insert(key.to_owned(), value_from_py(&value, key, what)?);
        }
    }
    Ok(attrs)
}

/// Interned attribute names, for dictionary lookups (`None`: every attribute).
fn names_py(py: Python<'_>, names: Option<&[String]>) -> Option<Vec<Py<PyString>>> {
    names.map(|names| {
        names
            .iter()
            .map(|n| PyString::intern(py, n).unbind())
            .collect()
    })
}

/// The nodes of a `{id: data}` dictionary with the attributes `names`.
fn nodes_from_py(
    nodes: &Bound<'_, PyDict>,
    names: Option<&[String]>,
) -> PyResult<BTreeMap<u64, Attrs>> {
    let names = names_py(nodes.py(), names);
    let mut out = BTreeMap::new();
    for (id, data) in nodes.iter() {
        let node = id_from_py(&id, "node")?;
        let attrs = attrs_from_py(&data, names.as_deref(), &|| format!("node {node}"))?;
        out.insert(node, attrs);
    }
    Ok(out)
}

/// The edges of a networkx adjacency `{u: {v: data}}` with the attributes `names`: every
/// entry of a directed graph, each edge of an undirected one once (`u <= v`).
fn edges_from_adjacency(
    adjacency: &Bound<'_, PyDict>,
    directed: bool,
    names: Option<&[String]>,
) -> PyResult<Vec<Edge>> {
    let names = names_py(adjacency.py(), names);
    let mut out = Vec::new();
    for (u, neighbours) in adjacency.iter() {
        let u = id_from_py(&u, "edge endpoint")?;
        let neighbours = neighbours.cast::<PyDict>().map_err(|_| {
            PyTypeError::new_err(format!("the adjacency of node {u} is not a dict"))
        })?;
        for (v, data) in neighbours.iter() {
            let v = id_from_py(&v, "edge endpoint")?;
            if !directed && v < u {
                continue;
            }
            let attrs = attrs_from_py(&data, names.as_deref(), &|| format!("edge ({u}, {v})"))?;
            out.push(Edge { u, v, attrs });
        }
    }
    Ok(out)
}

/// The edges of an iterable of `(u, v, data)` with the attributes `names`.
fn edges_from_triples(edges: &Bound<'_, PyAny>, names: Option<&[String]>) -> PyResult<Vec<Edge>> {
    let names = names_py(edges.py(), names);
    let mut out = Vec::new();
    for item in edges.try_iter()? {
        let item = item?;
        let (u, v, data): (Bound<'_, PyAny>, Bound<'_, PyAny>, Bound<'_, PyAny>) =
            item.extract().map_err(|_| {
                PyTypeError::new_err(format!("an edge must be (u, v, data), got {}", repr(&item)))
            })?;
        let u = id_from_py(&u, "edge endpoint")?;
        let v = id_from_py(&v, "edge endpoint")?;
        let attrs = attrs_from_py(&data, names.as_deref(), &|| format!("edge ({u}, {v})"))?;
        out.push(Edge { u, v, attrs });
    }
    Ok(out)
}

/// A stored value as Python.
fn value_to_py<'py>(
    py: Python<'py>,
    value: &AttrValue,
    vec_as_tuple: bool,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        AttrValue::Null => py.None().into_bound(py),
        AttrValue::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        AttrValue::Int(i) => i.into_pyobject(py)?.into_any(),
        AttrValue::Float(f) => PyFloat::new(py, *f).into_any(),
        AttrValue::Str(s) => PyString::new(py, s).into_any(),
        AttrValue::List(items) => {
            let items = items
                .iter()
                .map(|item| value_to_py(py, item, vec_as_tuple))
                .collect::<PyResult<Vec<_>>>()?;
            if vec_as_tuple {
                PyTuple::new(py, items)?.into_any()
            } else {
                PyList::new(py, items)?.into_any()
            }
        }
    })
}

/// Attribute names as Python strings, made once per read (a read has few names and many
/// rows).
struct Names<'py> {
    py: Python<'py>,
    made: HashMap<String, Bound<'py, PyString>>,
}

impl<'py> Names<'py> {
    fn new(py: Python<'py>) -> Names<'py> {
        Names {
            py,
            made: HashMap::new(),
        }
    }

    /// The Python string `name`.
    fn get(&mut self, name: &str) -> Bound<'py, PyString> {
        if let Some(s) = self.made.get(name) {
            return s.clone();
        }
        let s = PyString::intern(self.py, name);
        self.made.insert(name.to_owned(), s.clone());
        s
    }
}

/// The cyclic garbage collector switched off while a read's rows become Python objects, and
/// back on (if it was) when dropped. A read makes a dictionary per node and edge: each
/// thousand of them would trigger a collection that walks every object the process holds
/// (gigabytes of graphs in a block-wise job), none of which the new, acyclic rows can free.
struct GcPaused<'py> {
    gc: Option<Bound<'py, PyModule>>,
}

impl<'py> GcPaused<'py> {
    /// Pauses the collector if it runs.
    fn new(py: Python<'py>) -> PyResult<GcPaused<'py>> {
        let gc = py.import(intern!(py, "gc"))?;
        if gc.call_method0(intern!(py, "isenabled"))?.is_truthy()? {
            gc.call_method0(intern!(py, "disable"))?;
            Ok(GcPaused { gc: Some(gc) })
        } else {
            Ok(GcPaused { gc: None })
        }
    }
}

impl Drop for GcPaused<'_> {
    fn drop(&mut self) {
        if let Some(gc) = &self.gc {
            // Enabling cannot fail; if it did, the collector would stay off, which is safe.
            let _ = gc.call_method0(intern!(gc.py(), "enable"));
        }
    }
}

/// Attributes as a new dictionary, after `first` entries (the id or endpoints).
fn attrs_to_py<'py>(
    names: &mut Names<'py>,
    first: &[(&str, u64)],
    attrs: &Attrs,
    vec_as_tuple: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let py = names.py;
    let dict = PyDict::new(py);
    for (key, id) in first {
        dict.set_item(names.get(key), id)?;
    }
    for (name, value) in attrs {
        dict.set_item(names.get(name), value_to_py(py, value, vec_as_tuple)?)?;
    }
    Ok(dict)
}

/// A filter from `{attr: value}`.
fn filter_from_py(filter: Option<&Bound<'_, PyDict>>) -> PyResult<Filter> {
    let Some(filter) = filter else {
        return Ok(Filter::new());
    };
    filter
        .iter()
        .map(|(name, value)| {
            let name: String = name.extract().map_err(|_| {
                PyTypeError::new_err(format!(
                    "filter keys are attribute names, got {}",
                    repr(&name)
                ))
            })?;
            let v = value_from_py(&value, &name, &|| "the filter".to_owned())?;
            Ok((name, v))
        })
        .collect()
}

/// An attribute type as `(scalar type name, size or None)`.
fn type_to_py(t: AttrType) -> (&'static str, Option<usize>) {
    match t {
        AttrType::Scalar(s) => (s.name(), None),
        AttrType::Vec(s, n) => (s.name(), Some(n)),
    }
}

impl PyGraphStore {
    /// Wraps an opened store.
    fn new(mut store: Store, vec_as_tuple: bool) -> PyGraphStore {
        let untyped = matches!(&store, Store::Mongo(m) if m.untyped());
        let inner = store.get();
        PyGraphStore {
            name: inner.describe(),
            meta: inner.metadata().clone(),
            mode: inner.mode(),
            store: Mutex::new(Some(store)),
            vec_as_tuple,
            untyped,
        }
    }

    /// Runs `f` on the store with the GIL released.
    fn with<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut dyn GraphStore) -> Result<T, GraphError> + Send,
    ) -> PyResult<T> {
        self.with_backend(py, |store| f(store.get()))
    }

    /// Runs `f` on the MongoDB store (`what` names the call for the error elsewhere).
    fn with_mongo<T: Send>(
        &self,
        py: Python<'_>,
        what: &str,
        f: impl FnOnce(&mut MongoGraphStore) -> Result<T, GraphError> + Send,
    ) -> PyResult<T> {
        self.with_backend(py, |store| match store {
            Store::Mongo(m) => f(m),
            _ => Err(GraphError::InvalidOptions {
                reason: format!("{what} needs a MongoDB graph, and {} is not one", self.name),
            }),
        })
    }

    /// Runs `f` on the backend with the GIL released.
    fn with_backend<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut Store) -> Result<T, GraphError> + Send,
    ) -> PyResult<T> {
        let result = py.detach(|| {
            let mut guard = self.store.lock().map_err(|_| CallError::Poisoned)?;
            let store = guard.as_mut().ok_or(CallError::Closed)?;
            f(store).map_err(CallError::Graph)
        });
        result.map_err(|e| match e {
            CallError::Closed => DaisyError::GraphStore.new_err(format!("{} is closed", self.name)),
            CallError::Poisoned => DaisyError::GraphStore.new_err(format!(
                "{}: an earlier call panicked while using it",
                self.name
            )),
            CallError::Graph(e) => graph_error(e),
        })
    }

    /// The attributes a write takes from the graph: `attrs`, or every declared one (every
    /// one the graph has, for an untyped graph); `None` for every one.
    fn write_names(&self, edges: bool, attrs: Option<&[String]>) -> Option<Vec<String>> {
        let declared = if edges {
            &self.meta.edge_attrs
        } else {
            &self.meta.node_attrs
        };
        match attrs {
            Some(a) => Some(a.to_vec()),
            None if self.untyped => None,
            None => Some(declared.iter().map(|(n, _)| n.clone()).collect()),
        }
    }

    /// The engine's graph for a write: the nodes' attributes `node_names` (the position
    /// always, for the ROI rule) and the edges' `edge_names` (`None`: all they have).
    fn graph_from_py(
        &self,
        nodes: &Bound<'_, PyDict>,
        edges: Option<&Bound<'_, PyAny>>,
        node_names: Option<Vec<String>>,
        edge_names: Option<Vec<String>>,
    ) -> PyResult<Graph> {
        let position = &self.meta.position_attribute;
        let node_names = node_names.map(|mut names| {
            if !names.contains(position) {
                names.push(position.clone());
            }
            names
        });
        let mut graph = Graph::new(self.meta.directed);
        graph.nodes = nodes_from_py(nodes, node_names.as_deref())?;
        if let Some(edges) = edges {
            graph.edges =
                if let Ok((adjacency, directed)) = edges.extract::<(Bound<'_, PyDict>, bool)>() {
                    edges_from_adjacency(&adjacency, directed, edge_names.as_deref())?
                } else {
                    edges_from_triples(edges, edge_names.as_deref())?
                };
        }
        Ok(graph)
    }

    /// Nodes as a list of dicts with their `id`.
    fn nodes_to_py<'py>(&self, py: Python<'py>, nodes: &[Node]) -> PyResult<Bound<'py, PyList>> {
        let _gc = GcPaused::new(py)?;
        let mut names = Names::new(py);
        let list = PyList::empty(py);
        for node in nodes {
            let first = [("id", node.id)];
            list.append(attrs_to_py(
                &mut names,
                &first,
                &node.attrs,
                self.vec_as_tuple,
            )?)?;
        }
        Ok(list)
    }

    /// Fills a new networkx graph's dictionaries with `graph`.
    fn fill_networkx<'py>(&self, target: &Bound<'py, PyAny>, graph: &Graph) -> PyResult<()> {
        /// A node's id and adjacency dictionaries, made once per node.
        struct Entry<'py> {
            id: Bound<'py, PyAny>,
            succ: Bound<'py, PyDict>,
            pred: Option<Bound<'py, PyDict>>,
        }
        let py = target.py();
        fn dict<'py>(
            target: &Bound<'py, PyAny>,
            name: &Bound<'py, PyString>,
        ) -> PyResult<Bound<'py, PyDict>> {
            Ok(target.getattr(name)?.cast_into::<PyDict>()?)
        }
        let node_dict = dict(target, intern!(py, "_node"))?;
        let adjacency = dict(target, intern!(py, "_adj"))?;
        let predecessors = if graph.directed {
            Some(dict(target, intern!(py, "_pred"))?)
        } else {
            None
        };
        let _gc = GcPaused::new(py)?;
        let mut names = Names::new(py);
        let mut entries: HashMap<u64, Entry<'py>> = HashMap::with_capacity(graph.nodes.len());
        let add_node = |entries: &mut HashMap<u64, Entry<'py>>,
                        id: u64,
                        attrs: Bound<'py, PyDict>|
         -> PyResult<()> {
            let key = id.into_pyobject(py)?.into_any();
            let succ = PyDict::new(py);
            node_dict.set_item(&key, attrs)?;
            adjacency.set_item(&key, &succ)?;
            let pred = match &predecessors {
                Some(p) => {
                    let d = PyDict::new(py);
                    p.set_item(&key, &d)?;
                    Some(d)
                }
                None => None,
            };
            entries.insert(
                id,
                Entry {
                    id: key,
                    succ,
                    pred,
                },
            );
            Ok(())
        };
        for (id, attrs) in &graph.nodes {
            let attrs = attrs_to_py(&mut names, &[], attrs, self.vec_as_tuple)?;
            add_node(&mut entries, *id, attrs)?;
        }
        for edge in &graph.edges {
            for id in [edge.u, edge.v] {
                if !entries.contains_key(&id) {
                    add_node(&mut entries, id, PyDict::new(py))?;
                }
            }
            let data = attrs_to_py(&mut names, &[], &edge.attrs, self.vec_as_tuple)?;
            if let (Some(u), Some(v)) = (entries.get(&edge.u), entries.get(&edge.v)) {
                u.succ.set_item(&v.id, &data)?;
                v.pred.as_ref().unwrap_or(&v.succ).set_item(&u.id, &data)?;
            }
        }
        Ok(())
    }
}

#[pymethods]
impl PyGraphStore {
    /// Opens (mode `r`, `r+`) or creates (`w`) a graph in an SQLite file.
    #[staticmethod]
    #[pyo3(signature = (db_file, mode, options=None))]
    fn sqlite(
        py: Python<'_>,
        db_file: PathBuf,
        mode: &str,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<PyGraphStore> {
        let mode = mode_arg(mode)?;
        let options = options_from_py(options)?;
        let store = py
            .detach(|| SqliteGraphStore::open(&db_file, mode, &options))
            .map_err(graph_error)?;
        Ok(PyGraphStore::new(Store::Sqlite(store), true))
    }

    /// Opens (mode `r`, `r+`) or creates (`w`) a graph in a PostgreSQL database (created if
    /// missing); unset connection settings come from the `PG*` variables.
    #[staticmethod]
    #[pyo3(signature = (db_name, mode, db_host=None, db_user=None, db_password=None, db_port=None, options=None))]
    #[allow(clippy::too_many_arguments)]
    fn postgres(
        py: Python<'_>,
        db_name: &str,
        mode: &str,
        db_host: Option<String>,
        db_user: Option<String>,
        db_password: Option<String>,
        db_port: Option<u16>,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<PyGraphStore> {
        let mode = mode_arg(mode)?;
        let options = options_from_py(options)?;
        let store = py
            .detach(|| {
                PgGraphStore::open(
                    db_name,
                    db_host.as_deref(),
                    db_user.as_deref(),
                    db_password.as_deref(),
                    db_port,
                    mode,
                    &options,
                )
            })
            .map_err(graph_error)?;
        Ok(PyGraphStore::new(Store::Postgres(store), false))
    }

    /// Opens (mode `r`, `r+`) or creates (`w`) a graph in a MongoDB database in daisy 1.x's
    /// layout; `host` is a `mongodb://` URI or `host[:port]` (default `MONGODB_URI`, then
    /// `localhost:27017`).
    #[staticmethod]
    #[pyo3(signature = (db_name, mode, host=None, meta_collection=None, options=None))]
    fn mongodb(
        py: Python<'_>,
        db_name: &str,
        mode: &str,
        host: Option<String>,
        meta_collection: Option<String>,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<PyGraphStore> {
        let mode = mode_arg(mode)?;
        let options = options_from_py(options)?;
        let store = py
            .detach(|| {
                MongoGraphStore::open(
                    db_name,
                    host.as_deref(),
                    mode,
                    &options,
                    meta_collection.as_deref(),
                )
            })
            .map_err(graph_error)?;
        Ok(PyGraphStore::new(Store::Mongo(store), false))
    }

    /// Opens (mode `r`, `r+`) or creates (`w`) a graph in a directory of chunk files in
    /// daisy 1.x's `FileGraphProvider` layout, chunked in space by `chunk_size`.
    #[staticmethod]
    #[pyo3(signature = (directory, mode, chunk_size=None, options=None))]
    fn file(
        py: Python<'_>,
        directory: PathBuf,
        mode: &str,
        chunk_size: Option<Vec<i64>>,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<PyGraphStore> {
        let mode = mode_arg(mode)?;
        let options = options_from_py(options)?;
        let store = py
            .detach(|| FileGraphStore::open(&directory, chunk_size.as_deref(), mode, &options))
            .map_err(graph_error)?;
        Ok(PyGraphStore::new(Store::File(store), false))
    }

    /// The nodes in `roi`, each left-joined on `id` with its document in the MongoDB
    /// collection `join_collection`, with the values `attr_filter` (which may name joined
    /// fields) and the attributes `read_attrs`, as dicts with their `id`.
    #[pyo3(signature = (join_collection, roi=None, attr_filter=None, read_attrs=None))]
    fn read_nodes_joined<'py>(
        &self,
        py: Python<'py>,
        join_collection: &str,
        roi: Option<&Bound<'_, PyAny>>,
        attr_filter: Option<&Bound<'_, PyDict>>,
        read_attrs: Option<Vec<String>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let query = NodeQuery {
            roi: optional_roi_from_py(roi, "roi")?,
            filter: filter_from_py(attr_filter)?,
            attrs: read_attrs,
        };
        let nodes = self.with_mongo(py, "join_collection", |m| {
            m.read_nodes_joined(&query, join_collection)
        })?;
        self.nodes_to_py(py, &nodes)
    }

    /// Writes the features of `{id: data}` (every attribute each has) to the MongoDB
    /// collection `collection`; the number written.
    #[pyo3(signature = (collection, nodes, fail_if_exists=false))]
    fn write_node_features(
        &self,
        py: Python<'_>,
        collection: &str,
        nodes: &Bound<'_, PyDict>,
        fail_if_exists: bool,
    ) -> PyResult<usize> {
        let features: Vec<Node> = nodes_from_py(nodes, None)?
            .into_iter()
            .map(|(id, attrs)| Node { id, attrs })
            .collect();
        self.with_mongo(py, "write_node_features", |m| {
            m.write_node_features(collection, &features, fail_if_exists)
        })
    }

    /// Whether the graph has no declared attributes (any may be written; values as stored).
    #[getter]
    fn untyped(&self) -> bool {
        self.untyped
    }

    /// The recorded metadata: a dict with funlib's keys (`node_attrs` / `edge_attrs` as lists
    /// of `(name, scalar type name, size or None)`; `total_roi` as `(offset, shape)`).
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let meta = &self.meta;
        let dict = PyDict::new(py);
        dict.set_item("position_attribute", &meta.position_attribute)?;
        dict.set_item("directed", meta.directed)?;
        dict.set_item("total_roi", roi_to_tuples(py, &meta.total_roi)?)?;
        dict.set_item("nodes_table_name", &meta.nodes_table)?;
        dict.set_item("edges_table_name", &meta.edges_table)?;
        dict.set_item("endpoint_names", meta.endpoint_names.to_vec())?;
        let attrs = |list: &[(String, AttrType)]| -> Vec<(String, &'static str, Option<usize>)> {
            list.iter()
                .map(|(n, t)| {
                    let (s, size) = type_to_py(*t);
                    (n.clone(), s, size)
                })
                .collect()
        };
        dict.set_item("node_attrs", attrs(&meta.node_attrs))?;
        dict.set_item("edge_attrs", attrs(&meta.edge_attrs))?;
        dict.set_item("ndims", meta.ndims)?;
        Ok(dict)
    }

    /// The mode the store was opened in.
    #[getter]
    fn mode(&self) -> &'static str {
        self.mode.as_str()
    }

    /// Writes the nodes of `{id: data}` (in `roi`, with attributes `node_attrs`) and, if
    /// `edges` is given (`(adjacency, directed)` of a networkx graph, or `(u, v, data)`
    /// triples), the edges whose `u` is in `roi`; the numbers written.
    #[pyo3(signature = (nodes, edges=None, roi=None, node_attrs=None, edge_attrs=None,
        write_nodes=true, fail_if_exists=false))]
    #[allow(clippy::too_many_arguments)]
    fn write(
        &self,
        py: Python<'_>,
        nodes: &Bound<'_, PyDict>,
        edges: Option<&Bound<'_, PyAny>>,
        roi: Option<&Bound<'_, PyAny>>,
        node_attrs: Option<Vec<String>>,
        edge_attrs: Option<Vec<String>>,
        write_nodes: bool,
        fail_if_exists: bool,
    ) -> PyResult<(usize, usize)> {
        let roi = optional_roi_from_py(roi, "roi")?;
        let node_names = if write_nodes {
            self.write_names(false, node_attrs.as_deref())
        } else {
            Some(Vec::new())
        };
        let edge_names = self.write_names(true, edge_attrs.as_deref());
        let graph = self.graph_from_py(nodes, edges, node_names, edge_names)?;
        let has_edges = edges.is_some();
        self.with(py, |store| {
            let n = if write_nodes {
                store.write_nodes(&graph, roi.as_ref(), node_attrs.as_deref(), fail_if_exists)?
            } else {
                0
            };
            let e = if has_edges {
                store.write_edges(&graph, roi.as_ref(), edge_attrs.as_deref(), fail_if_exists)?
            } else {
                0
            };
            Ok((n, e))
        })
    }

    /// Sets the attributes `node_attrs` of the stored nodes of `{id: data}` in `roi` and, if
    /// `edges` is given, `edge_attrs` of the stored edges whose `u` is in `roi`; the numbers
    /// updated.
    #[pyo3(signature = (nodes, edges=None, roi=None, node_attrs=None, edge_attrs=None))]
    fn update(
        &self,
        py: Python<'_>,
        nodes: &Bound<'_, PyDict>,
        edges: Option<&Bound<'_, PyAny>>,
        roi: Option<&Bound<'_, PyAny>>,
        node_attrs: Option<Vec<String>>,
        edge_attrs: Option<Vec<String>>,
    ) -> PyResult<(usize, usize)> {
        let roi = optional_roi_from_py(roi, "roi")?;
        let node_attrs = node_attrs.unwrap_or_default();
        let edge_attrs = edge_attrs.unwrap_or_default();
        let graph = self.graph_from_py(
            nodes,
            edges,
            Some(node_attrs.clone()),
            Some(edge_attrs.clone()),
        )?;
        let has_edges = edges.is_some();
        self.with(py, |store| {
            let n = if node_attrs.is_empty() {
                0
            } else {
                store.update_nodes(&graph, roi.as_ref(), &node_attrs)?
            };
            let e = if has_edges && !edge_attrs.is_empty() {
                store.update_edges(&graph, roi.as_ref(), &edge_attrs)?
            } else {
                0
            };
            Ok((n, e))
        })
    }

    /// How many nodes of `{id: data}` and edges of `edges` a write of `roi` covers (the
    /// nodes whose position lies in it, the edges whose `u` does).
    #[pyo3(signature = (nodes, edges=None, roi=None))]
    fn covered(
        &self,
        nodes: &Bound<'_, PyDict>,
        edges: Option<&Bound<'_, PyAny>>,
        roi: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<(usize, usize)> {
        let roi = optional_roi_from_py(roi, "roi")?;
        let graph = self.graph_from_py(nodes, edges, Some(Vec::new()), Some(Vec::new()))?;
        let n = graph
            .nodes_in(roi.as_ref(), &self.meta)
            .map_err(graph_error)?;
        let e = if edges.is_some() {
            graph
                .edges_in(roi.as_ref(), &self.meta)
                .map_err(graph_error)?
                .len()
        } else {
            0
        };
        Ok((n.len(), e))
    }

    /// Reads the graph in `roi` into `graph` (a new, empty networkx `Graph` or `DiGraph`).
    #[pyo3(signature = (graph, roi=None, read_edges=true, node_attrs=None, edge_attrs=None,
        nodes_filter=None, edges_filter=None, fetch_on_v=false))]
    #[allow(clippy::too_many_arguments)]
    fn read_graph(
        &self,
        py: Python<'_>,
        graph: &Bound<'_, PyAny>,
        roi: Option<&Bound<'_, PyAny>>,
        read_edges: bool,
        node_attrs: Option<Vec<String>>,
        edge_attrs: Option<Vec<String>>,
        nodes_filter: Option<&Bound<'_, PyDict>>,
        edges_filter: Option<&Bound<'_, PyDict>>,
        fetch_on_v: bool,
    ) -> PyResult<()> {
        let query = NodeQuery {
            roi: optional_roi_from_py(roi, "roi")?,
            filter: filter_from_py(nodes_filter)?,
            attrs: node_attrs,
        };
        let edges_filter = filter_from_py(edges_filter)?;
        let read = self.with(py, |store| {
            store.read_graph(&query, read_edges, edge_attrs, edges_filter, fetch_on_v)
        })?;
        self.fill_networkx(graph, &read)
    }

    /// The nodes in `roi` with the values `attr_filter` and the attributes `read_attrs`, as
    /// dicts with their `id`.
    #[pyo3(signature = (roi=None, attr_filter=None, read_attrs=None))]
    fn read_nodes<'py>(
        &self,
        py: Python<'py>,
        roi: Option<&Bound<'_, PyAny>>,
        attr_filter: Option<&Bound<'_, PyDict>>,
        read_attrs: Option<Vec<String>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let query = NodeQuery {
            roi: optional_roi_from_py(roi, "roi")?,
            filter: filter_from_py(attr_filter)?,
            attrs: read_attrs,
        };
        let nodes = self.with(py, |store| store.read_nodes(&query))?;
        self.nodes_to_py(py, &nodes)
    }

    /// The edges whose `u` (with `fetch_on_v`: or `v`) is in `roi` or among `nodes` (ids), or
    /// all edges, with the values `attr_filter` and the attributes `read_attrs`, as dicts with
    /// their endpoints.
    #[pyo3(signature = (roi=None, nodes=None, attr_filter=None, read_attrs=None, fetch_on_v=false))]
    fn read_edges<'py>(
        &self,
        py: Python<'py>,
        roi: Option<&Bound<'_, PyAny>>,
        nodes: Option<Vec<u64>>,
        attr_filter: Option<&Bound<'_, PyDict>>,
        read_attrs: Option<Vec<String>>,
        fetch_on_v: bool,
    ) -> PyResult<Bound<'py, PyList>> {
        let roi = optional_roi_from_py(roi, "roi")?;
        let selection = match (roi, nodes) {
            (Some(_), Some(_)) => {
                return Err(PyValueError::new_err(
                    "read_edges does not support both roi and nodes at the same time. Pass \
                     one or the other.",
                ));
            }
            (Some(roi), None) => EdgeSelection::Roi(roi),
            (None, Some(nodes)) => EdgeSelection::Nodes(nodes),
            (None, None) => EdgeSelection::All,
        };
        let query = EdgeQuery {
            selection,
            fetch_on_v,
            filter: filter_from_py(attr_filter)?,
            attrs: read_attrs,
        };
        let edges = self.with(py, |store| store.read_edges(&query))?;
        let [u, v] = &self.meta.endpoint_names;
        let _gc = GcPaused::new(py)?;
        let mut names = Names::new(py);
        let list = PyList::empty(py);
        for edge in &edges {
            let first = [(u.as_str(), edge.u), (v.as_str(), edge.v)];
            list.append(attrs_to_py(
                &mut names,
                &first,
                &edge.attrs,
                self.vec_as_tuple,
            )?)?;
        }
        Ok(list)
    }

    /// The number of nodes in `roi` (all without one).
    #[pyo3(signature = (roi=None))]
    fn num_nodes(&self, py: Python<'_>, roi: Option<&Bound<'_, PyAny>>) -> PyResult<u64> {
        let roi = optional_roi_from_py(roi, "roi")?;
        self.with(py, |store| store.num_nodes(roi.as_ref()))
    }

    /// Whether an edge has its `u` in `roi` (any edge without one).
    #[pyo3(signature = (roi=None))]
    fn has_edges(&self, py: Python<'_>, roi: Option<&Bound<'_, PyAny>>) -> PyResult<bool> {
        let roi = optional_roi_from_py(roi, "roi")?;
        self.with(py, |store| store.has_edges(roi.as_ref()))
    }

    /// Starts bulk writing (indexes dropped unless `worker`, durability relaxed).
    #[pyo3(signature = (worker=false))]
    fn begin_bulk_write(&self, py: Python<'_>, worker: bool) -> PyResult<()> {
        self.with(py, |store| store.begin_bulk_write(worker))
    }

    /// Ends bulk writing: everything durable and indexed again.
    fn end_bulk_write(&self, py: Python<'_>) -> PyResult<()> {
        self.with(py, |store| store.end_bulk_write())
    }

    /// Closes the store (later calls raise); closing twice is allowed.
    fn close(&self, py: Python<'_>) {
        py.detach(|| match self.store.lock() {
            Ok(mut guard) => drop(guard.take()),
            Err(poisoned) => drop(poisoned.into_inner().take()),
        });
    }

    /// A printable summary of the store's tables, or `None` where the backend has none.
    fn summary(&self, py: Python<'_>) -> PyResult<Option<String>> {
        self.with(py, |store| store.summary())
    }

    /// The store's name (file, or database and tables).
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn __repr__(&self) -> String {
        format!("GraphStore({})", self.name)
    }
}

/// Adds the class to the module.
pub(crate) fn add_to_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyGraphStore>()
}
