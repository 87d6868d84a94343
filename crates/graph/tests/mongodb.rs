//! The conformance suite on MongoDB, and what only MongoDB has: daisy 1.x's
//! `MongoDbGraphProvider` layout (checked with raw driver queries), databases daisy 1.x wrote,
//! feature collections joined on id, errors naming the server, and threads writing adjacent
//! blocks at once. Runs against the server in `MONGODB_URI` when `DAISY_TEST_MONGODB=1`
//! (scripts/test.sh starts one); skips otherwise.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use daisy_geometry::Roi;
use daisy_graph::{
    AttrType, AttrValue, Attrs, EdgeQuery, Graph, GraphError, GraphOptions, GraphStore, Mode,
    MongoGraphStore, Node, NodeQuery, ScalarType,
};
use mongodb::bson::{Bson, Document, doc};
use mongodb::sync::{Client, Database};

fn enabled(test: &str) -> bool {
    let on = std::env::var("DAISY_TEST_MONGODB").is_ok_and(|v| v == "1");
    if !on {
        println!("skipping {test}: set DAISY_TEST_MONGODB=1 and MONGODB_URI to run it");
    }
    on
}

/// A database name no other test or run uses.
fn fresh_db(test: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "daisy_{test}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The conformance suite's stores: one database per key, named after the test process.
fn open_conformance(
    key: &str,
    mode: Mode,
    options: &GraphOptions,
) -> Result<Box<dyn GraphStore>, GraphError> {
    let db = format!("daisy_conformance_{}_{key}", std::process::id());
    Ok(Box::new(MongoGraphStore::open(
        &db, None, mode, options, None,
    )?))
}

daisy_graph::conformance_tests!(open_conformance, enabled);

fn options() -> GraphOptions {
    GraphOptions {
        node_attrs: Some(vec![
            ("position".into(), AttrType::Vec(ScalarType::Float, 3)),
            ("score".into(), AttrType::Scalar(ScalarType::Float)),
        ]),
        edge_attrs: Some(vec![("weight".into(), AttrType::Scalar(ScalarType::Float))]),
        ..GraphOptions::default()
    }
}

fn open(db: &str, mode: Mode) -> Result<MongoGraphStore, GraphError> {
    MongoGraphStore::open(db, None, mode, &options(), None)
}

fn raw(db: &str) -> Database {
    let uri = std::env::var("MONGODB_URI").unwrap_or_else(|_| "mongodb://localhost:27017".into());
    Client::with_uri_str(&uri)
        .unwrap_or_else(|e| panic!("raw connection to {uri}: {e}"))
        .database(db)
}

fn node(x: f64, score: f64) -> Attrs {
    let mut a = Attrs::new();
    a.insert(
        "position".into(),
        AttrValue::List(vec![
            AttrValue::Float(x),
            AttrValue::Float(0.5),
            AttrValue::Float(0.5),
        ]),
    );
    a.insert("score".into(), AttrValue::Float(score));
    a
}

fn ok<T>(r: Result<T, GraphError>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// The documents of a collection, without `_id`, sorted by their JSON text.
fn documents(db: &Database, collection: &str) -> Vec<Document> {
    let mut docs: Vec<Document> = db
        .collection::<Document>(collection)
        .find(doc! {})
        .projection(doc! {"_id": 0})
        .run()
        .unwrap_or_else(|e| panic!("{e}"))
        .map(|d| d.unwrap_or_else(|e| panic!("{e}")))
        .collect();
    docs.sort_by_key(|d| d.to_string());
    docs
}

/// The indexes of a collection: (name, keys, unique).
fn indexes(db: &Database, collection: &str) -> Vec<(String, Document, bool)> {
    let mut found: Vec<(String, Document, bool)> = db
        .collection::<Document>(collection)
        .list_indexes()
        .run()
        .unwrap_or_else(|e| panic!("{e}"))
        .map(|i| {
            let i = i.unwrap_or_else(|e| panic!("{e}"));
            let options = i.options.unwrap_or_default();
            (
                options.name.unwrap_or_default(),
                i.keys,
                options.unique.unwrap_or(false),
            )
        })
        .filter(|(name, _, _)| name != "_id_")
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

#[test]
fn daisy_layout() {
    if !enabled("daisy_layout") {
        return;
    }
    let db = fresh_db("layout");
    let mut store = ok(open(&db, Mode::Write));
    let mut g = Graph::new(false);
    g.add_node(1, node(1.5, 0.25));
    g.add_node(2, node(2.5, 0.75));
    g.add_edge(
        2,
        1,
        Attrs::from([("weight".into(), AttrValue::Float(0.5))]),
    );
    assert_eq!(ok(store.write_graph(&g, None, false)), (2, 1));
    let raw = raw(&db);
    assert_eq!(
        indexes(&raw, "nodes"),
        vec![
            ("id".into(), doc! {"id": 1}, true),
            ("position".into(), doc! {"position": 1}, false),
        ]
    );
    assert_eq!(
        indexes(&raw, "edges"),
        vec![("incident".into(), doc! {"u": 1, "v": 1}, true)]
    );
    assert_eq!(
        documents(&raw, "nodes"),
        vec![
            doc! {"id": 1_i64, "position": [1.5, 0.5, 0.5], "score": 0.25},
            doc! {"id": 2_i64, "position": [2.5, 0.5, 0.5], "score": 0.75},
        ]
    );
    // Undirected: stored as (min, max).
    assert_eq!(
        documents(&raw, "edges"),
        vec![doc! {"u": 1_i64, "v": 2_i64, "weight": 0.5}]
    );
    let meta = documents(&raw, "meta");
    assert_eq!(meta.len(), 1, "{meta:?}");
    let meta = &meta[0];
    assert_eq!(meta.get_bool("directed"), Ok(false));
    assert_eq!(
        meta.get("total_roi_offset"),
        Some(&Bson::Array(vec![Bson::Null; 3]))
    );
    assert_eq!(
        meta.get("total_roi_shape"),
        Some(&Bson::Array(vec![Bson::Null; 3]))
    );
    assert_eq!(meta.get_str("position_attribute"), Ok("position"));
    assert_eq!(
        meta.get_document("node_attrs").map(ToString::to_string),
        Ok(doc! {"position": "Vec(float, 3)", "score": "float"}.to_string())
    );
    // Bulk write mode drops the position index and rebuilds it; a worker keeps it.
    ok(store.begin_bulk_write(false));
    assert_eq!(indexes(&raw, "nodes").len(), 1, "position index dropped");
    ok(store.end_bulk_write());
    assert_eq!(indexes(&raw, "nodes").len(), 2, "position index rebuilt");
    ok(store.begin_bulk_write(true));
    assert_eq!(indexes(&raw, "nodes").len(), 2, "a worker keeps the index");
    ok(store.end_bulk_write());
    // Mode w drops the three collections.
    drop(ok(open(&db, Mode::Write)));
    assert!(documents(&raw, "nodes").is_empty());
    assert!(documents(&raw, "edges").is_empty());
    assert_eq!(documents(&raw, "meta").len(), 1);
}

/// A database as daisy 1.x's `MongoDbGraphProvider` wrote it: three meta fields, int64 ids
/// (one above `i64::MAX`, as its two's complement), attributes without declared types.
fn write_daisy_1x(db: &str, directed: bool) -> Database {
    let raw = raw(db);
    raw.collection::<Document>("meta")
        .insert_one(doc! {
            "directed": directed, "total_roi_offset": [0_i64, 0_i64, 0_i64],
            "total_roi_shape": [100_i64, 100_i64, 100_i64],
        })
        .run()
        .unwrap_or_else(|e| panic!("{e}"));
    let big = (u64::MAX - 1) as i64;
    raw.collection::<Document>("nodes")
        .insert_many(vec![
            doc! {"id": 1_i64, "position": [10.0, 10.0, 10.0], "size": 3_i64, "label": "a"},
            doc! {"id": big, "position": [20.0, 10.0, 10.0], "size": 5_i64},
            doc! {"id": 3_i64, "position": [90.0, 10.0, 10.0], "size": 8_i64},
        ])
        .run()
        .unwrap_or_else(|e| panic!("{e}"));
    raw.collection::<Document>("edges")
        .insert_many(vec![
            doc! {"u": 1_i64, "v": big, "score": 0.5},
            doc! {"u": 3_i64, "v": 1_i64, "score": 0.25},
        ])
        .run()
        .unwrap_or_else(|e| panic!("{e}"));
    raw
}

#[test]
fn reads_a_database_daisy_1x_wrote() {
    if !enabled("reads_a_database_daisy_1x_wrote") {
        return;
    }
    let db = fresh_db("daisy1x");
    write_daisy_1x(&db, false);
    let store = ok(MongoGraphStore::open(
        &db,
        None,
        Mode::Read,
        &GraphOptions::default(),
        None,
    ));
    assert!(store.untyped());
    assert_eq!(
        store.metadata().total_roi,
        ok(Roi::from_values(&[0, 0, 0], &[100, 100, 100]).map_err(|e| {
            GraphError::InvalidOptions {
                reason: e.to_string(),
            }
        }))
    );
    let big = u64::MAX - 1;
    let roi = Roi::from_values(&[0, 0, 0], &[50, 50, 50]).unwrap_or_else(|e| panic!("{e}"));
    let mut nodes = ok(store.read_nodes(&NodeQuery {
        roi: Some(roi),
        ..NodeQuery::default()
    }));
    nodes.sort_by_key(|n| n.id);
    assert_eq!(nodes.iter().map(|n| n.id).collect::<Vec<_>>(), vec![1, big]);
    // Untyped: every stored field, as stored.
    assert_eq!(nodes[0].attrs.get("size"), Some(&AttrValue::Int(3)));
    assert_eq!(
        nodes[0].attrs.get("label"),
        Some(&AttrValue::Str("a".into()))
    );
    assert_eq!(nodes[1].attrs.get("label"), None);
    // Filters and selections on any attribute.
    let filtered = ok(store.read_nodes(&NodeQuery {
        filter: vec![("size".into(), AttrValue::Int(8))],
        attrs: Some(vec!["size".into()]),
        ..NodeQuery::default()
    }));
    assert_eq!(filtered.len(), 1);
    assert_eq!(filtered[0].id, 3);
    assert_eq!(
        filtered[0].attrs,
        Attrs::from([("size".into(), AttrValue::Int(8))])
    );
    let mut edges = ok(store.read_edges(&EdgeQuery {
        selection: daisy_graph::EdgeSelection::Roi(roi),
        ..EdgeQuery::default()
    }));
    edges.sort_by_key(|e| e.u);
    assert_eq!(edges.len(), 1, "only the edge whose u lies in the ROI");
    assert_eq!((edges[0].u, edges[0].v), (1, big));
    assert_eq!(edges[0].attrs.get("score"), Some(&AttrValue::Float(0.5)));
    let on_v = ok(store.read_edges(&EdgeQuery {
        selection: daisy_graph::EdgeSelection::Roi(roi),
        fetch_on_v: true,
        ..EdgeQuery::default()
    }));
    assert_eq!(on_v.len(), 2);
    // Writing to it (r+): untyped attributes are written as given.
    let mut store = ok(MongoGraphStore::open(
        &db,
        None,
        Mode::ReadWrite,
        &GraphOptions::default(),
        None,
    ));
    let mut g = Graph::new(false);
    let mut attrs = node(30.0, 1.0);
    attrs.insert("colour".into(), AttrValue::Str("red".into()));
    g.add_node(4, attrs);
    assert_eq!(ok(store.write_nodes(&g, None, None, false)), 1);
    let raw = raw(&db);
    let four = documents(&raw, "nodes")
        .into_iter()
        .find(|d| d.get("id") == Some(&Bson::Int64(4)))
        .unwrap_or_else(|| panic!("node 4 was not written"));
    assert_eq!(four.get_str("colour"), Ok("red"));
    // Typed on open: the types given are used.
    let typed = ok(MongoGraphStore::open(
        &db,
        None,
        Mode::Read,
        &options(),
        None,
    ));
    assert!(!typed.untyped());
    assert!(matches!(
        typed.read_nodes(&NodeQuery {
            attrs: Some(vec!["size".into()]),
            ..NodeQuery::default()
        }),
        Err(GraphError::UnknownAttribute { .. })
    ));
}

#[test]
fn directed_against_undirected_is_a_metadata_mismatch() {
    if !enabled("directed_against_undirected_is_a_metadata_mismatch") {
        return;
    }
    let db = fresh_db("mismatch");
    write_daisy_1x(&db, false);
    let directed = GraphOptions {
        directed: Some(true),
        ..GraphOptions::default()
    };
    match MongoGraphStore::open(&db, None, Mode::Read, &directed, None) {
        Err(GraphError::MetadataMismatch { field, .. }) => assert_eq!(field, "directed"),
        Err(e) => panic!("expected MetadataMismatch, got {e}"),
        Ok(_) => panic!("a directed open of an undirected graph succeeded"),
    }
    let db = fresh_db("mismatch_ours");
    drop(ok(open(&db, Mode::Write)));
    let directed = GraphOptions {
        directed: Some(true),
        ..options()
    };
    assert!(matches!(
        MongoGraphStore::open(&db, None, Mode::ReadWrite, &directed, None),
        Err(GraphError::MetadataMismatch {
            field: "directed",
            ..
        })
    ));
    let roi = GraphOptions {
        total_roi: Some(Roi::from_values(&[0, 0, 0], &[1, 2, 3]).unwrap_or_else(|e| panic!("{e}"))),
        ..GraphOptions::default()
    };
    assert!(matches!(
        MongoGraphStore::open(&db, None, Mode::Read, &roi, None),
        Err(GraphError::MetadataMismatch {
            field: "total_roi",
            ..
        })
    ));
    assert!(matches!(
        MongoGraphStore::open(&fresh_db("missing"), None, Mode::Read, &options(), None),
        Err(GraphError::NoMetadata { .. })
    ));
}

#[test]
fn features_in_a_joined_collection() {
    if !enabled("features_in_a_joined_collection") {
        return;
    }
    let db = fresh_db("features");
    let mut store = ok(open(&db, Mode::Write));
    let mut g = Graph::new(false);
    for i in 1..=4u64 {
        g.add_node(i, node(i as f64, 0.5));
    }
    ok(store.write_nodes(&g, None, None, false));
    let features: Vec<Node> = (1..=3u64)
        .map(|i| Node {
            id: i,
            attrs: Attrs::from([
                ("volume".into(), AttrValue::Int(i as i64 * 10)),
                (
                    "kind".into(),
                    AttrValue::Str(if i == 2 { "b" } else { "a" }.into()),
                ),
            ]),
        })
        .collect();
    assert_eq!(
        ok(store.write_node_features("features", &features, false)),
        3
    );
    assert_eq!(
        ok(store.write_node_features("features", &features, false)),
        0
    );
    assert!(matches!(
        store.write_node_features("features", &features, true),
        Err(GraphError::AlreadyExists { .. })
    ));
    assert!(matches!(
        store.write_node_features("nodes", &features, false),
        Err(GraphError::InvalidOptions { .. })
    ));
    let roi = Roi::from_values(&[2, 0, 0], &[10, 1, 1]).unwrap_or_else(|e| panic!("{e}"));
    // A left join: node 4 has no features, and is still there.
    let mut joined = ok(store.read_nodes_joined(
        &NodeQuery {
            roi: Some(roi),
            ..NodeQuery::default()
        },
        "features",
    ));
    joined.sort_by_key(|n| n.id);
    assert_eq!(
        joined.iter().map(|n| n.id).collect::<Vec<_>>(),
        vec![2, 3, 4]
    );
    assert_eq!(joined[0].attrs.get("volume"), Some(&AttrValue::Int(20)));
    assert_eq!(joined[0].attrs.get("score"), Some(&AttrValue::Float(0.5)));
    assert_eq!(joined[2].attrs.get("volume"), None);
    // A filter on a feature value, and a selection.
    let filtered = ok(store.read_nodes_joined(
        &NodeQuery {
            roi: Some(roi),
            filter: vec![("kind".into(), AttrValue::Str("a".into()))],
            attrs: Some(vec!["volume".into(), "position".into()]),
        },
        "features",
    ));
    assert_eq!(filtered.len(), 1);
    assert_eq!(filtered[0].id, 3);
    assert_eq!(
        filtered[0].attrs.keys().collect::<Vec<_>>(),
        vec!["position", "volume"]
    );
    assert_eq!(filtered[0].attrs.get("volume"), Some(&AttrValue::Int(30)));
}

#[test]
fn unreachable_server_names_host_and_port_fast() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let host = format!("127.0.0.1:{port}");
    let start = Instant::now();
    match MongoGraphStore::open_with_timeout(
        "nowhere",
        Some(&host),
        Mode::Write,
        &options(),
        None,
        Duration::from_millis(500),
    ) {
        Err(e @ GraphError::Backend { .. }) => {
            let text = e.to_string();
            assert!(text.contains(&host), "{text}");
        }
        Err(e) => panic!("expected a backend error, got {e}"),
        Ok(_) => panic!("connected to a closed port"),
    }
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "took {:?}",
        start.elapsed()
    );
    assert!(matches!(
        MongoGraphStore::open("a.b", Some(&host), Mode::Write, &options(), None),
        Err(GraphError::InvalidOptions { .. })
    ));
}

#[test]
fn four_threads_write_adjacent_blocks() {
    if !enabled("four_threads_write_adjacent_blocks") {
        return;
    }
    let db = fresh_db("blocks");
    drop(ok(open(&db, Mode::Write)));
    // One graph over x in [0, 40): a chain whose edges cross every block boundary.
    let n = 400u64;
    let mut g = Graph::new(false);
    for i in 0..n {
        g.add_node(i, node(i as f64 / 10.0, 1.0));
    }
    for i in 0..n - 1 {
        // Both directions of the chain: undirected, each is stored once as (min, max).
        let (u, v) = if i % 2 == 0 { (i, i + 1) } else { (i + 1, i) };
        g.add_edge(
            u,
            v,
            Attrs::from([("weight".into(), AttrValue::Float(1.0))]),
        );
    }
    let start = Instant::now();
    let threads: Vec<_> = (0..4i64)
        .map(|t| {
            let db = db.clone();
            let g = g.clone();
            std::thread::spawn(move || {
                let mut store = ok(open(&db, Mode::ReadWrite));
                let roi = Roi::from_values(&[t * 10, 0, 0], &[10, 1, 1])
                    .unwrap_or_else(|e| panic!("{e}"));
                let written = ok(store.write_graph(&g, Some(&roi), false));
                // Writing again keeps what is stored.
                assert_eq!(ok(store.write_graph(&g, Some(&roi), false)), (0, 0));
                written
            })
        })
        .collect();
    let mut total = (0, 0);
    for t in threads {
        let (nodes, edges) = t.join().unwrap_or_else(|_| panic!("a writer panicked"));
        assert_eq!(nodes, 100, "each block has 100 nodes");
        total = (total.0 + nodes, total.1 + edges);
    }
    println!(
        "4 threads wrote {} nodes and {} edges in {:?}",
        total.0,
        total.1,
        start.elapsed()
    );
    assert_eq!(total, (n as usize, n as usize - 1));
    let raw = raw(&db);
    let nodes = documents(&raw, "nodes");
    let edges = documents(&raw, "edges");
    assert_eq!(nodes.len(), n as usize, "every node exactly once");
    assert_eq!(edges.len(), n as usize - 1, "every edge exactly once");
    for e in &edges {
        let (u, v) = (e.get_i64("u"), e.get_i64("v"));
        assert!(
            matches!((u, v), (Ok(u), Ok(v)) if v == u + 1),
            "edge {e} is not (min, max) of the chain"
        );
    }
}
