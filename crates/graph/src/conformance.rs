//! The checks every graph store passes, run against a real store (feature `tests`).
//!
//! A backend's test file opens stores with one function and gets one `#[test]` per check:
//!
//! ```ignore
//! fn open(key: &str, mode: Mode, options: &GraphOptions) -> Result<Box<dyn GraphStore>, GraphError> {
//!     // `key` names the store: the same key opens the same store again, and no two checks
//!     // share a key (each starts from a store nobody wrote).
//!     Ok(Box::new(SqliteGraphStore::open(&dir().join(format!("{key}.db")), mode, options)?))
//! }
//! daisy_graph::conformance_tests!(open);
//! ```
//!
//! Every check panics with a message naming what differed.

use daisy_geometry::{Coordinate, Roi};

use crate::attr::{AttrType, AttrValue, ScalarType};
use crate::error::GraphError;
use crate::graph::{Attrs, Edge, Graph, Node};
use crate::metadata::{GraphOptions, Mode};
use crate::query::{EdgeQuery, EdgeSelection, NodeQuery};
use crate::store::GraphStore;

/// What opens a store: its key (the same key, the same store), the mode and the options.
pub type Open = dyn Fn(&str, Mode, &GraphOptions) -> Result<Box<dyn GraphStore>, GraphError>;

/// One `#[test]` per conformance check, each opening its stores with `$open` (a function
/// `fn(&str, Mode, &GraphOptions) -> Result<Box<dyn GraphStore>, GraphError>`); with
/// `$enabled` (a function `fn(&str) -> bool` given the check's name), a check returns at once
/// where it says no (a backend whose server is not running prints why and skips).
#[macro_export]
macro_rules! conformance_tests {
    ($open:path) => {
        $crate::conformance_tests!($open, $crate::conformance::always);
    };
    ($open:path, $enabled:path) => {
        $crate::conformance_tests!(@each $open, $enabled;
            create_and_reopen_checks_metadata,
            mode_w_replaces_the_graph,
            nodes_by_roi_are_half_open,
            unbounded_rois_select_every_position,
            two_and_one_dimensional_positions,
            attribute_filters_and_selection,
            attribute_types_round_trip,
            edges_by_roi_by_nodes_and_on_v,
            undirected_edges_are_stored_min_max,
            directed_edges_keep_their_direction,
            adjacent_blocks_write_everything_once,
            fail_if_exists_is_an_error,
            update_nodes_and_edges,
            num_nodes_and_has_edges,
            bulk_write_mode,
            read_only_mode_refuses_writes,
            wrong_roi_dimensions,
            unknown_attributes,
            wrong_value_types,
            ids_out_of_range_and_missing_endpoints,
            read_graph_with_a_node_filter_reads_edges_by_node_ids
        );
    };
    (@each $open:path, $enabled:path; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                if $enabled(stringify!($check)) {
                    $crate::conformance::$check(&$open);
                }
            }
        )*
    };
}

/// Every check runs (the default of [`conformance_tests!`]).
pub fn always(_check: &str) -> bool {
    true
}

fn float(v: f64) -> AttrValue {
    AttrValue::Float(v)
}

fn point(p: &[f64]) -> AttrValue {
    AttrValue::List(p.iter().map(|&v| AttrValue::Float(v)).collect())
}

fn roi(offset: &[i64], shape: &[i64]) -> Roi {
    Roi::from_values(offset, shape).unwrap_or_else(|e| panic!("roi {offset:?} {shape:?}: {e}"))
}

fn s(name: &str) -> String {
    name.to_owned()
}

/// The graph options of most checks: 3-D float positions, attributes of every kind.
fn options(directed: bool) -> GraphOptions {
    GraphOptions {
        directed: Some(directed),
        node_attrs: Some(vec![
            (s("position"), AttrType::Vec(ScalarType::Float, 3)),
            (s("score"), AttrType::Scalar(ScalarType::Float)),
            (s("label"), AttrType::Scalar(ScalarType::Str)),
            (s("flag"), AttrType::Scalar(ScalarType::Bool)),
            (s("size"), AttrType::Scalar(ScalarType::Int)),
            (s("tags"), AttrType::Vec(ScalarType::Int, 2)),
        ]),
        edge_attrs: Some(vec![
            (s("weight"), AttrType::Scalar(ScalarType::Float)),
            (s("kept"), AttrType::Scalar(ScalarType::Bool)),
        ]),
        ..GraphOptions::default()
    }
}

fn create(open: &Open, key: &str, options: &GraphOptions) -> Box<dyn GraphStore> {
    open(key, Mode::Write, options).unwrap_or_else(|e| panic!("creating {key}: {e}"))
}

fn at(p: &[f64]) -> Attrs {
    let mut attrs = Attrs::new();
    attrs.insert(s("position"), point(p));
    attrs
}

/// A node with every attribute set.
fn full(p: &[f64], id: u64) -> Attrs {
    let mut attrs = at(p);
    attrs.insert(s("score"), float(id as f64 / 2.0));
    attrs.insert(s("label"), AttrValue::Str(format!("n{id}")));
    attrs.insert(s("flag"), AttrValue::Bool(id.is_multiple_of(2)));
    attrs.insert(s("size"), AttrValue::Int(id as i64 * 10));
    attrs.insert(
        s("tags"),
        AttrValue::List(vec![AttrValue::Int(id as i64), AttrValue::Int(-1)]),
    );
    attrs
}

fn weight(w: f64) -> Attrs {
    let mut attrs = Attrs::new();
    attrs.insert(s("weight"), float(w));
    attrs.insert(s("kept"), AttrValue::Bool(w > 0.5));
    attrs
}

fn ids(nodes: &[Node]) -> Vec<u64> {
    let mut ids: Vec<u64> = nodes.iter().map(|n| n.id).collect();
    ids.sort_unstable();
    ids
}

fn pairs(edges: &[Edge]) -> Vec<(u64, u64)> {
    let mut pairs: Vec<(u64, u64)> = edges.iter().map(|e| (e.u, e.v)).collect();
    pairs.sort_unstable();
    pairs
}

fn nodes_in(store: &dyn GraphStore, roi: Option<Roi>) -> Vec<u64> {
    let query = NodeQuery {
        roi,
        ..NodeQuery::default()
    };
    ids(&store
        .read_nodes(&query)
        .unwrap_or_else(|e| panic!("read_nodes: {e}")))
}

fn edges_of(store: &dyn GraphStore, selection: EdgeSelection, fetch_on_v: bool) -> Vec<(u64, u64)> {
    let query = EdgeQuery {
        selection,
        fetch_on_v,
        ..EdgeQuery::default()
    };
    pairs(
        &store
            .read_edges(&query)
            .unwrap_or_else(|e| panic!("read_edges: {e}")),
    )
}

/// A chain of nodes 1..=n at x = 2.5 * i - 0.5 (y, z fixed), edges (i, i+1) with weight.
fn chain(n: u64, directed: bool) -> Graph {
    let mut g = Graph::new(directed);
    for i in 1..=n {
        g.add_node(i, full(&[2.5 * i as f64 - 0.5, 1.0, 1.0], i));
    }
    for i in 1..n {
        g.add_edge(i, i + 1, weight(i as f64 / n as f64));
    }
    g
}

/// The metadata with its attributes sorted by name (as dictionaries, their order does not
/// count).
fn without_attr_order(m: &crate::metadata::GraphMetadata) -> crate::metadata::GraphMetadata {
    let mut m = m.clone();
    m.node_attrs.sort_by(|a, b| a.0.cmp(&b.0));
    m.edge_attrs.sort_by(|a, b| a.0.cmp(&b.0));
    m
}

/// Creating records the options with their defaults; reopening reads them back and checks
/// what is given, errors naming the field that differs.
pub fn create_and_reopen_checks_metadata(open: &Open) {
    let key = "create_and_reopen";
    let created = create(open, key, &options(false));
    let m = created.metadata().clone();
    assert_eq!(m.position_attribute, "position");
    assert_eq!(m.ndims, 3);
    assert!(!m.directed);
    assert_eq!(
        m.total_roi,
        Roi::unbounded(3).unwrap_or_else(|e| panic!("{e}"))
    );
    assert_eq!(created.mode(), Mode::Write);
    drop(created);
    for mode in [Mode::Read, Mode::ReadWrite] {
        let store = open(key, mode, &GraphOptions::default())
            .unwrap_or_else(|e| panic!("reopening {mode:?}: {e}"));
        assert_eq!(
            without_attr_order(store.metadata()),
            without_attr_order(&m),
            "{mode:?} reads what was created"
        );
        assert_eq!(store.mode(), mode);
        drop(store);
        let again = open(key, mode, &options(false));
        assert!(again.is_ok(), "the same options: {:?}", again.err());
    }
    let mismatches: Vec<(GraphOptions, &str)> = vec![
        (
            GraphOptions {
                directed: Some(true),
                ..GraphOptions::default()
            },
            "directed",
        ),
        (
            GraphOptions {
                position_attribute: Some(s("center")),
                ..GraphOptions::default()
            },
            "position_attribute",
        ),
        (
            GraphOptions {
                node_attrs: Some(vec![(s("position"), AttrType::Vec(ScalarType::Float, 3))]),
                ..GraphOptions::default()
            },
            "node_attrs",
        ),
        (
            GraphOptions {
                edge_attrs: Some(vec![]),
                ..GraphOptions::default()
            },
            "edge_attrs",
        ),
        (
            GraphOptions {
                total_roi: Some(roi(&[0, 0, 0], &[10, 10, 10])),
                ..GraphOptions::default()
            },
            "total_roi",
        ),
    ];
    for (options, field) in mismatches {
        match open(key, Mode::Read, &options) {
            Err(GraphError::MetadataMismatch { field: f, .. }) => assert_eq!(f, field),
            Err(other) => panic!("{field}: expected MetadataMismatch, got {other}"),
            Ok(_) => panic!("{field}: a mismatch was accepted"),
        }
    }
    for mode in [Mode::Read, Mode::ReadWrite] {
        assert!(
            matches!(
                open(
                    "create_and_reopen_never_created",
                    mode,
                    &GraphOptions::default()
                ),
                Err(GraphError::NoMetadata { .. })
            ),
            "{mode:?} of a store never created"
        );
    }
    // Stores with typed columns refuse a graph without declared attributes; a schemaless
    // one (MongoDB, as daisy 1.x used it) creates an untyped graph: the position only.
    match open(
        "create_and_reopen_no_attrs",
        Mode::Write,
        &GraphOptions::default(),
    ) {
        Err(GraphError::InvalidOptions { .. }) => {}
        Ok(store) => assert_eq!(
            store.metadata().node_attrs.len(),
            1,
            "a graph created without node_attrs declares only its position"
        ),
        Err(e) => panic!("creating a graph without node_attrs: {e}"),
    }
}

/// Mode `w` drops what was there.
pub fn mode_w_replaces_the_graph(open: &Open) {
    let key = "mode_w_replaces";
    let mut store = create(open, key, &options(false));
    store
        .write_graph(&chain(4, false), None, false)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.num_nodes(None).unwrap_or_else(|e| panic!("{e}")), 4);
    drop(store);
    let store = create(open, key, &options(true));
    assert_eq!(store.num_nodes(None).unwrap_or_else(|e| panic!("{e}")), 0);
    assert!(!store.has_edges(None).unwrap_or_else(|e| panic!("{e}")));
    drop(store);
    let reopened =
        open(key, Mode::Read, &GraphOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    assert!(reopened.metadata().directed, "the new metadata is stored");
}

/// A ROI read takes `begin <= p < end` on float positions.
pub fn nodes_by_roi_are_half_open(open: &Open) {
    let mut store = create(open, "nodes_by_roi", &options(false));
    let mut g = Graph::new(false);
    g.add_node(1, at(&[0.0, 0.0, 0.0]));
    g.add_node(2, at(&[9.999, 5.0, 5.0]));
    g.add_node(3, at(&[10.0, 5.0, 5.0]));
    g.add_node(4, at(&[-0.001, 5.0, 5.0]));
    g.add_node(5, at(&[5.0, 5.0, 10.0]));
    g.add_node(6, at(&[5.5, 9.5, 0.25]));
    assert_eq!(
        store
            .write_nodes(&g, None, None, false)
            .unwrap_or_else(|e| panic!("{e}")),
        6
    );
    let cube = roi(&[0, 0, 0], &[10, 10, 10]);
    assert_eq!(nodes_in(&*store, Some(cube)), vec![1, 2, 6]);
    assert_eq!(
        nodes_in(&*store, Some(roi(&[10, 0, 0], &[5, 10, 10]))),
        vec![3]
    );
    assert_eq!(
        nodes_in(&*store, Some(roi(&[-1, 0, 0], &[1, 10, 10]))),
        vec![4]
    );
    assert_eq!(nodes_in(&*store, None), vec![1, 2, 3, 4, 5, 6]);
    let read = store
        .read_nodes(&NodeQuery {
            roi: Some(roi(&[5, 9, 0], &[1, 1, 1])),
            ..NodeQuery::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read.len(), 1);
    assert_eq!(
        read[0].attrs.get("position"),
        Some(&point(&[5.5, 9.5, 0.25]))
    );
}

/// A ROI unbounded in some dimensions restricts only the others.
pub fn unbounded_rois_select_every_position(open: &Open) {
    let mut store = create(open, "unbounded_rois", &options(false));
    let mut g = Graph::new(false);
    g.add_node(1, at(&[1.0, -1e9, 1e9]));
    g.add_node(2, at(&[20.0, 0.0, 0.0]));
    g.add_node(3, at(&[-5.0, 3.0, -3.0]));
    store
        .write_nodes(&g, None, None, false)
        .unwrap_or_else(|e| panic!("{e}"));
    let unbounded = Roi::unbounded(3).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(nodes_in(&*store, Some(unbounded)), vec![1, 2, 3]);
    let x = |o: i64, sh: i64| {
        let offset =
            Coordinate::from_options(&[Some(o), None, None]).unwrap_or_else(|e| panic!("{e}"));
        let shape =
            Coordinate::from_options(&[Some(sh), None, None]).unwrap_or_else(|e| panic!("{e}"));
        Roi::new(offset, shape).unwrap_or_else(|e| panic!("{e}"))
    };
    assert_eq!(nodes_in(&*store, Some(x(0, 10))), vec![1]);
    assert_eq!(nodes_in(&*store, Some(x(-10, 100))), vec![1, 2, 3]);
    assert_eq!(
        store
            .num_nodes(Some(&x(10, 20)))
            .unwrap_or_else(|e| panic!("{e}")),
        1
    );
    // An unbounded ROI writes every node with a position.
    let mut other = create(open, "unbounded_rois_write", &options(false));
    assert_eq!(
        other
            .write_nodes(&g, Some(&unbounded), None, false)
            .unwrap_or_else(|e| panic!("{e}")),
        3
    );
}

/// Positions of two dimensions (a `Vec(float, 2)`) and of one (a scalar `float`).
pub fn two_and_one_dimensional_positions(open: &Open) {
    let two = GraphOptions {
        node_attrs: Some(vec![(s("pos"), AttrType::Vec(ScalarType::Float, 2))]),
        position_attribute: Some(s("pos")),
        ..GraphOptions::default()
    };
    let mut store = create(open, "two_dimensional", &two);
    assert_eq!(store.metadata().ndims, 2);
    let mut g = Graph::new(false);
    for (id, p) in [(1, [0.5, 0.5]), (2, [3.0, 0.5]), (3, [0.5, 3.0])] {
        let mut attrs = Attrs::new();
        attrs.insert(s("pos"), point(&p));
        g.add_node(id, attrs);
    }
    g.add_edge(1, 2, Attrs::new());
    g.add_edge(3, 1, Attrs::new());
    store
        .write_graph(&g, None, false)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(nodes_in(&*store, Some(roi(&[0, 0], &[3, 3]))), vec![1]);
    assert_eq!(nodes_in(&*store, Some(roi(&[0, 0], &[4, 1]))), vec![1, 2]);
    assert_eq!(
        edges_of(&*store, EdgeSelection::Roi(roi(&[0, 0], &[1, 1])), false),
        vec![(1, 2), (1, 3)]
    );

    let one = GraphOptions {
        node_attrs: Some(vec![(s("t"), AttrType::Scalar(ScalarType::Float))]),
        position_attribute: Some(s("t")),
        ..GraphOptions::default()
    };
    let mut store = create(open, "one_dimensional", &one);
    assert_eq!(store.metadata().ndims, 1);
    let mut g = Graph::new(false);
    for (id, t) in [(1, 0.5), (2, 4.0), (3, 7.25)] {
        let mut attrs = Attrs::new();
        attrs.insert(s("t"), float(t));
        g.add_node(id, attrs);
    }
    store
        .write_nodes(&g, Some(&roi(&[0], &[5])), None, false)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(nodes_in(&*store, None), vec![1, 2]);
    let read = store
        .read_nodes(&NodeQuery {
            roi: Some(roi(&[4], &[1])),
            ..NodeQuery::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].attrs.get("t"), Some(&float(4.0)));
}

/// Reads filter on attribute values (all of them, vectors too) and return the attributes
/// asked for.
pub fn attribute_filters_and_selection(open: &Open) {
    let mut store = create(open, "filters", &options(false));
    store
        .write_graph(&chain(6, false), None, false)
        .unwrap_or_else(|e| panic!("{e}"));
    let query = |filter: Vec<(String, AttrValue)>| NodeQuery {
        filter,
        ..NodeQuery::default()
    };
    let read = |q: NodeQuery| ids(&store.read_nodes(&q).unwrap_or_else(|e| panic!("{e}")));
    assert_eq!(
        read(query(vec![(s("flag"), AttrValue::Bool(true))])),
        vec![2, 4, 6]
    );
    assert_eq!(
        read(query(vec![(s("label"), AttrValue::Str(s("n3")))])),
        vec![3]
    );
    assert_eq!(read(query(vec![(s("size"), AttrValue::Int(50))])), vec![5]);
    assert_eq!(read(query(vec![(s("score"), float(2.0))])), vec![4]);
    assert_eq!(
        read(query(vec![
            (s("flag"), AttrValue::Bool(false)),
            (s("size"), AttrValue::Int(30)),
        ])),
        vec![3]
    );
    assert_eq!(
        read(query(vec![(
            s("tags"),
            AttrValue::List(vec![AttrValue::Int(2), AttrValue::Int(-1)])
        )])),
        vec![2]
    );
    assert!(read(query(vec![(s("label"), AttrValue::Str(s("none")))])).is_empty());
    let mut with_roi = query(vec![(s("flag"), AttrValue::Bool(true))]);
    with_roi.roi = Some(roi(&[0, 0, 0], &[10, 10, 10]));
    assert_eq!(read(with_roi), vec![2, 4]);
    // Selection: only the attributes asked for.
    let selected = store
        .read_nodes(&NodeQuery {
            attrs: Some(vec![s("label")]),
            ..NodeQuery::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(selected.len(), 6);
    for node in &selected {
        let keys: Vec<&String> = node.attrs.keys().collect();
        assert_eq!(keys, vec!["label"], "node {}", node.id);
    }
    let edges = store
        .read_edges(&EdgeQuery {
            filter: vec![(s("kept"), AttrValue::Bool(true))],
            attrs: Some(vec![s("weight")]),
            ..EdgeQuery::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pairs(&edges), vec![(4, 5), (5, 6)]);
    for edge in &edges {
        let keys: Vec<&String> = edge.attrs.keys().collect();
        assert_eq!(keys, vec!["weight"]);
    }
    let in_roi = store
        .read_edges(&EdgeQuery {
            selection: EdgeSelection::Roi(roi(&[0, 0, 0], &[10, 10, 10])),
            filter: vec![(s("kept"), AttrValue::Bool(false))],
            ..EdgeQuery::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pairs(&in_roi), vec![(1, 2), (2, 3), (3, 4)]);
}

/// Every attribute type reads back as written; absent values read as `Null`.
pub fn attribute_types_round_trip(open: &Open) {
    let mut store = create(open, "round_trip", &options(false));
    let mut g = Graph::new(false);
    g.add_node(7, full(&[1.5, -2.25, 3.0], 7));
    g.add_node(8, at(&[0.0, 0.0, 0.0]));
    let mut ints = at(&[1.0, 1.0, 1.0]);
    ints.insert(s("score"), AttrValue::Int(3));
    g.add_node(9, ints);
    g.add_edge(7, 8, weight(0.75));
    g.add_edge(8, 9, Attrs::new());
    store
        .write_graph(&g, None, false)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut nodes = store
        .read_nodes(&NodeQuery::default())
        .unwrap_or_else(|e| panic!("{e}"));
    nodes.sort_by_key(|n| n.id);
    assert_eq!(nodes[0].attrs, full(&[1.5, -2.25, 3.0], 7));
    let empty = &nodes[1].attrs;
    assert_eq!(empty.get("position"), Some(&point(&[0.0, 0.0, 0.0])));
    for attr in ["score", "label", "flag", "size", "tags"] {
        assert_eq!(empty.get(attr), Some(&AttrValue::Null), "{attr}");
    }
    assert_eq!(
        nodes[2].attrs.get("score"),
        Some(&float(3.0)),
        "an int for a float"
    );
    let mut edges = store
        .read_edges(&EdgeQuery::default())
        .unwrap_or_else(|e| panic!("{e}"));
    edges.sort_by_key(|e| (e.u, e.v));
    assert_eq!(edges[0].attrs, weight(0.75));
    assert_eq!(edges[1].attrs.get("weight"), Some(&AttrValue::Null));
    assert_eq!(edges[1].attrs.get("kept"), Some(&AttrValue::Null));
}

/// Edges by ROI (on `u`; with `fetch_on_v` on `u` or `v`), by node ids, and all of them.
pub fn edges_by_roi_by_nodes_and_on_v(open: &Open) {
    let mut store = create(open, "edges_by", &options(false));
    // x = 2, 4.5, 7, 9.5, 12, 14.5
    let mut g = chain(6, false);
    g.add_edge(1, 6, weight(0.1));
    store
        .write_graph(&g, None, false)
        .unwrap_or_else(|e| panic!("{e}"));
    let left = roi(&[0, 0, 0], &[8, 10, 10]);
    assert_eq!(
        edges_of(&*store, EdgeSelection::Roi(left), false),
        vec![(1, 2), (1, 6), (2, 3), (3, 4)]
    );
    let right = roi(&[8, 0, 0], &[10, 10, 10]);
    assert_eq!(
        edges_of(&*store, EdgeSelection::Roi(right), false),
        vec![(4, 5), (5, 6)]
    );
    assert_eq!(
        edges_of(&*store, EdgeSelection::Roi(right), true),
        vec![(1, 6), (3, 4), (4, 5), (5, 6)]
    );
    assert_eq!(
        edges_of(&*store, EdgeSelection::Nodes(vec![2, 5]), false),
        vec![(2, 3), (5, 6)]
    );
    assert_eq!(
        edges_of(&*store, EdgeSelection::Nodes(vec![2, 5]), true),
        vec![(1, 2), (2, 3), (4, 5), (5, 6)]
    );
    assert_eq!(
        edges_of(&*store, EdgeSelection::Nodes(vec![1, 6]), true),
        vec![(1, 2), (1, 6), (5, 6)],
        "an edge between two of the nodes comes once"
    );
    assert!(edges_of(&*store, EdgeSelection::Nodes(vec![]), true).is_empty());
    assert!(edges_of(&*store, EdgeSelection::Nodes(vec![99]), false).is_empty());
    assert_eq!(edges_of(&*store, EdgeSelection::All, false).len(), 6);
    let nowhere = roi(&[100, 0, 0], &[1, 1, 1]);
    assert!(edges_of(&*store, EdgeSelection::Roi(nowhere), true).is_empty());
}

/// An undirected edge is stored as `(min, max)`, whichever way it was given.
pub fn undirected_edges_are_stored_min_max(open: &Open) {
    let mut store = create(open, "undirected", &options(false));
    let mut g = Graph::new(false);
    g.add_node(5, at(&[1.0, 1.0, 1.0]));
    g.add_node(2, at(&[2.0, 1.0, 1.0]));
    g.add_edge(5, 2, weight(0.5));
    assert_eq!(
        store
            .write_graph(&g, None, false)
            .unwrap_or_else(|e| panic!("{e}")),
        (2, 1)
    );
    assert_eq!(edges_of(&*store, EdgeSelection::All, false), vec![(2, 5)]);
    // Given the other way again: the same edge, not written twice.
    let mut again = g.clone();
    again.edges = vec![Edge {
        u: 2,
        v: 5,
        attrs: weight(0.9),
    }];
    assert_eq!(
        store
            .write_edges(&again, None, None, false)
            .unwrap_or_else(|e| panic!("{e}")),
        0
    );
    assert_eq!(
        edges_of(&*store, EdgeSelection::Nodes(vec![2]), false),
        vec![(2, 5)]
    );
    assert!(edges_of(&*store, EdgeSelection::Nodes(vec![5]), false).is_empty());
    let read = store
        .read_graph(&NodeQuery::default(), true, None, Vec::new(), false)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!read.directed);
    assert_eq!(pairs(&read.edges), vec![(2, 5)]);
}

/// A directed graph keeps `(u, v)` as given: both directions are two edges.
pub fn directed_edges_keep_their_direction(open: &Open) {
    let mut store = create(open, "directed", &options(true));
    let mut g = Graph::new(true);
    g.add_node(5, at(&[1.0, 1.0, 1.0]));
    g.add_node(2, at(&[12.0, 1.0, 1.0]));
    g.add_edge(5, 2, weight(0.5));
    g.add_edge(2, 5, weight(0.25));
    store
        .write_graph(&g, None, false)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        edges_of(&*store, EdgeSelection::All, false),
        vec![(2, 5), (5, 2)]
    );
    let near = roi(&[0, 0, 0], &[10, 10, 10]);
    assert_eq!(
        edges_of(&*store, EdgeSelection::Roi(near), false),
        vec![(5, 2)]
    );
    assert_eq!(
        edges_of(&*store, EdgeSelection::Roi(near), true),
        vec![(2, 5), (5, 2)]
    );
    let read = store
        .read_graph(&NodeQuery::default(), true, None, Vec::new(), false)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(read.directed);
}

/// Two adjacent blocks writing the same graph store every node and edge exactly once.
pub fn adjacent_blocks_write_everything_once(open: &Open) {
    for directed in [false, true] {
        let key = if directed {
            "blocks_directed"
        } else {
            "blocks_undirected"
        };
        let mut store = create(open, key, &options(directed));
        // x = 2, 4.5, ..., 19.5 over two blocks [0, 10) and [10, 20); edges cross them
        // in both directions.
        let mut g = chain(8, directed);
        g.add_edge(8, 1, weight(0.3));
        g.add_edge(2, 7, weight(0.6));
        let blocks = [
            roi(&[0, 0, 0], &[10, 10, 10]),
            roi(&[10, 0, 0], &[10, 10, 10]),
        ];
        let mut written = (0, 0);
        for block in &blocks {
            let (n, e) = store
                .write_graph(&g, Some(block), false)
                .unwrap_or_else(|e| panic!("{e}"));
            written = (written.0 + n, written.1 + e);
        }
        assert_eq!(written, (8, 9), "directed: {directed}");
        // Again: nothing new, nothing lost.
        for block in &blocks {
            assert_eq!(
                store
                    .write_graph(&g, Some(block), false)
                    .unwrap_or_else(|e| panic!("{e}")),
                (0, 0)
            );
        }
        assert_eq!(nodes_in(&*store, None), (1..=8).collect::<Vec<_>>());
        let mut expected: Vec<(u64, u64)> = g
            .edges
            .iter()
            .map(|e| store.metadata().stored_endpoints(e.u, e.v))
            .collect();
        expected.sort_unstable();
        assert_eq!(
            edges_of(&*store, EdgeSelection::All, false),
            expected,
            "directed: {directed}"
        );
    }
}

/// With `fail_if_exists` a node or edge already stored is an error (and nothing of the
/// call is written); without it, it is kept.
pub fn fail_if_exists_is_an_error(open: &Open) {
    let mut store = create(open, "fail_if_exists", &options(false));
    let g = chain(3, false);
    store
        .write_graph(&g, None, true)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut more = g.clone();
    more.add_node(10, at(&[1.0, 1.0, 1.0]));
    match store.write_nodes(&more, None, None, true) {
        Err(GraphError::AlreadyExists { what, .. }) => assert!(what.contains('1'), "{what}"),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert_eq!(
        nodes_in(&*store, None),
        vec![1, 2, 3],
        "the failed call wrote nothing"
    );
    assert!(matches!(
        store.write_edges(&g, None, None, true),
        Err(GraphError::AlreadyExists { .. })
    ));
    assert_eq!(
        store
            .write_nodes(&more, None, None, false)
            .unwrap_or_else(|e| panic!("{e}")),
        1
    );
    assert_eq!(
        store
            .write_edges(&g, None, None, false)
            .unwrap_or_else(|e| panic!("{e}")),
        0
    );
}

/// Updates set the attributes asked for of stored nodes and edges in the ROI.
pub fn update_nodes_and_edges(open: &Open) {
    let mut store = create(open, "update", &options(false));
    let g = chain(4, false); // x = 2, 4.5, 7, 9.5
    store
        .write_graph(&g, None, false)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut changed = g.clone();
    for attrs in changed.nodes.values_mut() {
        attrs.insert(s("label"), AttrValue::Str(s("new")));
        attrs.insert(s("score"), float(-1.0));
        attrs.insert(
            s("tags"),
            AttrValue::List(vec![AttrValue::Int(0), AttrValue::Int(0)]),
        );
    }
    for edge in &mut changed.edges {
        edge.attrs.insert(s("weight"), float(9.0));
        edge.attrs.insert(s("kept"), AttrValue::Bool(false));
    }
    changed.add_node(99, at(&[1.0, 1.0, 1.0])); // not stored: not created by an update
    let left = roi(&[0, 0, 0], &[5, 10, 10]);
    let n = store
        .update_nodes(&changed, Some(&left), &[s("label"), s("tags")])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(n, 2);
    let e = store
        .update_edges(&changed, Some(&left), &[s("weight")])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(e, 2);
    let mut nodes = store
        .read_nodes(&NodeQuery::default())
        .unwrap_or_else(|e| panic!("{e}"));
    nodes.sort_by_key(|n| n.id);
    assert_eq!(ids(&nodes), vec![1, 2, 3, 4]);
    for node in &nodes {
        let updated = node.id <= 2;
        let label = node.attrs.get("label");
        assert_eq!(
            label == Some(&AttrValue::Str(s("new"))),
            updated,
            "node {}",
            node.id
        );
        assert_eq!(
            node.attrs.get("score"),
            g.nodes[&node.id].get("score"),
            "score not asked for"
        );
        if updated {
            assert_eq!(
                node.attrs.get("tags"),
                Some(&AttrValue::List(vec![AttrValue::Int(0), AttrValue::Int(0)]))
            );
        }
    }
    let mut edges = store
        .read_edges(&EdgeQuery::default())
        .unwrap_or_else(|e| panic!("{e}"));
    edges.sort_by_key(|e| (e.u, e.v));
    for edge in &edges {
        let updated = edge.u <= 2;
        assert_eq!(
            edge.attrs.get("weight") == Some(&float(9.0)),
            updated,
            "edge {}",
            edge.u
        );
        let before = g.edges.iter().find(|e| (e.u, e.v) == (edge.u, edge.v));
        assert_eq!(
            edge.attrs.get("kept"),
            before.and_then(|e| e.attrs.get("kept")),
            "kept not asked for"
        );
    }
    // Without a ROI: every node of the graph.
    let all = store
        .update_nodes(&changed, None, &[s("score")])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(all, 4);
    assert_eq!(
        store
            .update_nodes(&changed, None, &[])
            .unwrap_or_else(|e| panic!("{e}")),
        0
    );
}

/// `num_nodes` counts the nodes in a ROI; `has_edges` looks for an edge whose `u` is there.
pub fn num_nodes_and_has_edges(open: &Open) {
    let mut store = create(open, "counts", &options(false));
    assert_eq!(store.num_nodes(None).unwrap_or_else(|e| panic!("{e}")), 0);
    assert!(!store.has_edges(None).unwrap_or_else(|e| panic!("{e}")));
    let mut g = chain(4, false); // x = 2, 4.5, 7, 9.5
    g.add_node(5, at(&[30.0, 1.0, 1.0]));
    store
        .write_graph(&g, None, false)
        .unwrap_or_else(|e| panic!("{e}"));
    let count = |r: Option<Roi>| {
        store
            .num_nodes(r.as_ref())
            .unwrap_or_else(|e| panic!("{e}"))
    };
    assert_eq!(count(None), 5);
    assert_eq!(count(Some(roi(&[0, 0, 0], &[5, 10, 10]))), 2);
    assert_eq!(count(Some(roi(&[0, 0, 0], &[2, 10, 10]))), 0);
    let has = |r: Roi| store.has_edges(Some(&r)).unwrap_or_else(|e| panic!("{e}"));
    assert!(store.has_edges(None).unwrap_or_else(|e| panic!("{e}")));
    assert!(has(roi(&[0, 0, 0], &[3, 10, 10])));
    assert!(!has(roi(&[9, 0, 0], &[1, 10, 10])), "node 4 is only a v");
    assert!(!has(roi(&[20, 0, 0], &[20, 10, 10])));
}

/// Writes in bulk write mode (as the one writer, and as a worker) are all there, and reads
/// by ROI work after it.
pub fn bulk_write_mode(open: &Open) {
    for worker in [false, true] {
        let key = if worker { "bulk_worker" } else { "bulk" };
        let mut store = create(open, key, &options(false));
        store
            .begin_bulk_write(worker)
            .unwrap_or_else(|e| panic!("{e}"));
        let g = chain(10, false); // x = 2 .. 24.5
        for x in [0, 10, 20] {
            store
                .write_graph(&g, Some(&roi(&[x, 0, 0], &[10, 10, 10])), false)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        store.end_bulk_write().unwrap_or_else(|e| panic!("{e}"));
        store
            .end_bulk_write()
            .unwrap_or_else(|e| panic!("ending twice: {e}"));
        assert_eq!(nodes_in(&*store, None), (1..=10).collect::<Vec<_>>());
        assert_eq!(
            nodes_in(&*store, Some(roi(&[10, 0, 0], &[10, 10, 10]))),
            vec![5, 6, 7, 8]
        );
        assert_eq!(edges_of(&*store, EdgeSelection::All, false).len(), 9);
        drop(store);
        let reopened =
            open(key, Mode::Read, &GraphOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            reopened.num_nodes(None).unwrap_or_else(|e| panic!("{e}")),
            10
        );
    }
}

/// A store opened with `r` refuses every write and still reads.
pub fn read_only_mode_refuses_writes(open: &Open) {
    let key = "read_only";
    let mut store = create(open, key, &options(false));
    let g = chain(3, false);
    store
        .write_graph(&g, None, false)
        .unwrap_or_else(|e| panic!("{e}"));
    drop(store);
    let mut store =
        open(key, Mode::Read, &GraphOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let attrs = [s("score")];
    let results = [
        (
            "write_nodes",
            store.write_nodes(&g, None, None, false).map(|_| ()),
        ),
        (
            "write_edges",
            store.write_edges(&g, None, None, false).map(|_| ()),
        ),
        (
            "update_nodes",
            store.update_nodes(&g, None, &attrs).map(|_| ()),
        ),
        (
            "update_edges",
            store.update_edges(&g, None, &[s("weight")]).map(|_| ()),
        ),
        (
            "write_graph",
            store.write_graph(&g, None, false).map(|_| ()),
        ),
        ("begin_bulk_write", store.begin_bulk_write(false)),
    ];
    for (what, result) in results {
        assert!(
            matches!(result, Err(GraphError::ReadOnly { .. })),
            "{what}: {result:?}"
        );
    }
    assert_eq!(nodes_in(&*store, None), vec![1, 2, 3]);
    assert_eq!(
        edges_of(&*store, EdgeSelection::All, false),
        vec![(1, 2), (2, 3)]
    );
}

/// A ROI of other dimensions than the positions is an error everywhere.
pub fn wrong_roi_dimensions(open: &Open) {
    let mut store = create(open, "roi_dims", &options(false));
    let g = chain(2, false);
    store
        .write_graph(&g, None, false)
        .unwrap_or_else(|e| panic!("{e}"));
    let flat = roi(&[0, 0], &[10, 10]);
    let is_dims = |r: &Result<(), GraphError>| {
        matches!(
            r,
            Err(GraphError::RoiDims {
                dims: 2,
                ndims: 3,
                ..
            })
        )
    };
    let results = [
        (
            "write_nodes",
            store.write_nodes(&g, Some(&flat), None, false).map(|_| ()),
        ),
        (
            "write_edges",
            store.write_edges(&g, Some(&flat), None, false).map(|_| ()),
        ),
        (
            "update_nodes",
            store
                .update_nodes(&g, Some(&flat), &[s("score")])
                .map(|_| ()),
        ),
        (
            "read_nodes",
            store
                .read_nodes(&NodeQuery {
                    roi: Some(flat),
                    ..NodeQuery::default()
                })
                .map(|_| ()),
        ),
        (
            "read_edges",
            store
                .read_edges(&EdgeQuery {
                    selection: EdgeSelection::Roi(flat),
                    ..EdgeQuery::default()
                })
                .map(|_| ()),
        ),
        ("num_nodes", store.num_nodes(Some(&flat)).map(|_| ())),
        ("has_edges", store.has_edges(Some(&flat)).map(|_| ())),
    ];
    for (what, result) in results {
        assert!(is_dims(&result), "{what}: {result:?}");
    }
}

/// An attribute the graph does not declare is an error in writes, reads and filters.
pub fn unknown_attributes(open: &Open) {
    let mut store = create(open, "unknown_attrs", &options(false));
    let g = chain(2, false);
    store
        .write_graph(&g, None, false)
        .unwrap_or_else(|e| panic!("{e}"));
    let nope = vec![s("nope")];
    let results = [
        (
            "write_nodes",
            store.write_nodes(&g, None, Some(&nope), false).map(|_| ()),
        ),
        (
            "write_edges",
            store.write_edges(&g, None, Some(&nope), false).map(|_| ()),
        ),
        (
            "update_edges",
            store.update_edges(&g, None, &nope).map(|_| ()),
        ),
        (
            "read_nodes attrs",
            store
                .read_nodes(&NodeQuery {
                    attrs: Some(nope.clone()),
                    ..NodeQuery::default()
                })
                .map(|_| ()),
        ),
        (
            "read_nodes filter",
            store
                .read_nodes(&NodeQuery {
                    filter: vec![(s("nope"), AttrValue::Int(1))],
                    ..NodeQuery::default()
                })
                .map(|_| ()),
        ),
        (
            "read_edges filter",
            store
                .read_edges(&EdgeQuery {
                    filter: vec![(s("nope"), AttrValue::Int(1))],
                    ..EdgeQuery::default()
                })
                .map(|_| ()),
        ),
    ];
    for (what, result) in results {
        match result {
            Err(GraphError::UnknownAttribute { attr, .. }) => assert_eq!(attr, "nope", "{what}"),
            other => panic!("{what}: expected UnknownAttribute, got {other:?}"),
        }
    }
}

/// A value of another type than declared is an error naming the attribute; nothing of the
/// call is written.
pub fn wrong_value_types(open: &Open) {
    let mut store = create(open, "wrong_types", &options(false));
    let cases: Vec<(&str, AttrValue)> = vec![
        ("score", AttrValue::Str(s("high"))),
        ("size", float(1.5)),
        ("flag", AttrValue::Int(1)),
        ("label", AttrValue::Int(3)),
        ("position", point(&[1.0, 2.0])),
        ("tags", AttrValue::Int(1)),
    ];
    for (attr, value) in cases {
        let mut g = chain(2, false);
        if let Some(node) = g.nodes.get_mut(&2) {
            node.insert(s(attr), value.clone());
        }
        match store.write_nodes(&g, None, None, false) {
            Err(GraphError::WrongType { attr: a, .. }) => assert_eq!(a, attr),
            other => panic!("{attr} = {value}: expected WrongType, got {other:?}"),
        }
    }
    assert_eq!(store.num_nodes(None).unwrap_or_else(|e| panic!("{e}")), 0);
    let mut g = chain(2, false);
    g.edges[0].attrs.insert(s("weight"), AttrValue::Str(s("x")));
    assert!(matches!(
        store.write_edges(&g, None, None, false),
        Err(GraphError::WrongType { .. })
    ));
    assert!(matches!(
        store.read_nodes(&NodeQuery {
            filter: vec![(s("size"), AttrValue::Str(s("x")))],
            ..NodeQuery::default()
        }),
        Err(GraphError::WrongType { .. })
    ));
}

/// Ids beyond the signed 64-bit range, and edges of a ROI whose `u` is not in the graph,
/// are errors.
pub fn ids_out_of_range_and_missing_endpoints(open: &Open) {
    let mut store = create(open, "ids", &options(false));
    let mut g = Graph::new(false);
    g.add_node(u64::MAX, at(&[1.0, 1.0, 1.0]));
    // A store refuses ids above `i64::MAX`, or (MongoDB, as daisy 1.x) keeps them as their
    // two's-complement `i64` and returns them unchanged.
    let kept = match store.write_nodes(&g, None, None, false) {
        Err(GraphError::IdOutOfRange { id: u64::MAX, .. }) => false,
        Ok(1) => {
            assert_eq!(
                nodes_in(&*store, None),
                vec![u64::MAX],
                "ids above i64::MAX"
            );
            true
        }
        other => panic!("expected IdOutOfRange or one node written, got {other:?}"),
    };
    let mut g = Graph::new(false);
    g.add_node(1, at(&[1.0, 1.0, 1.0]));
    g.add_edge(1, 1 << 63, Attrs::new());
    if kept {
        assert_eq!(
            store
                .write_edges(&g, None, None, false)
                .unwrap_or_else(|e| panic!("{e}")),
            1
        );
        assert_eq!(
            edges_of(&*store, EdgeSelection::All, false),
            vec![(1, 1 << 63)]
        );
    } else {
        assert!(matches!(
            store.write_edges(&g, None, None, false),
            Err(GraphError::IdOutOfRange { .. })
        ));
    }
    let mut g = Graph::new(true);
    g.add_node(1, at(&[1.0, 1.0, 1.0]));
    g.add_edge(7, 1, Attrs::new());
    let mut directed = create(open, "ids_directed", &options(true));
    assert!(matches!(
        directed.write_edges(&g, Some(&roi(&[0, 0, 0], &[10, 10, 10])), None, false),
        Err(GraphError::MissingEndpoint { missing: 7, .. })
    ));
    assert_eq!(
        store.num_nodes(None).unwrap_or_else(|e| panic!("{e}")),
        u64::from(kept)
    );
}

/// `read_graph` with a node filter reads the edges of the nodes that pass it (by id);
/// without one, the edges of the ROI.
pub fn read_graph_with_a_node_filter_reads_edges_by_node_ids(open: &Open) {
    let mut store = create(open, "read_graph", &options(false));
    let g = chain(6, false); // x = 2 .. 14.5; flag on even ids
    store
        .write_graph(&g, None, false)
        .unwrap_or_else(|e| panic!("{e}"));
    let near = NodeQuery {
        roi: Some(roi(&[0, 0, 0], &[10, 10, 10])),
        ..NodeQuery::default()
    };
    let read = store
        .read_graph(&near, true, None, Vec::new(), false)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        read.nodes.keys().copied().collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert_eq!(pairs(&read.edges), vec![(1, 2), (2, 3), (3, 4), (4, 5)]);
    assert_eq!(read.nodes[&3], g.nodes[&3]);
    let filtered = NodeQuery {
        filter: vec![(s("flag"), AttrValue::Bool(true))],
        ..near.clone()
    };
    let read = store
        .read_graph(&filtered, true, Some(vec![s("weight")]), Vec::new(), false)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read.nodes.keys().copied().collect::<Vec<_>>(), vec![2, 4]);
    assert_eq!(pairs(&read.edges), vec![(2, 3), (4, 5)]);
    assert!(read.edges.iter().all(|e| e.attrs.keys().eq([&s("weight")])));
    let read = store
        .read_graph(&filtered, true, None, Vec::new(), true)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pairs(&read.edges), vec![(1, 2), (2, 3), (3, 4), (4, 5)]);
    let read = store
        .read_graph(
            &near,
            true,
            None,
            vec![(s("kept"), AttrValue::Bool(true))],
            false,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pairs(&read.edges), vec![(4, 5)]);
    let no_edges = store
        .read_graph(&NodeQuery::default(), false, None, Vec::new(), false)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(no_edges.nodes.len(), 6);
    assert!(no_edges.edges.is_empty());
}
