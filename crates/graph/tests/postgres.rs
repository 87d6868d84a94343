//! The conformance suite on PostgreSQL, and what only PostgreSQL has: funlib.persistence's
//! layout, schema checks on open, errors naming the server, and many threads writing one graph
//! at once. Runs against the server in the PG*
//! variables when `DAISY_TEST_POSTGRES=1` (scripts/test.sh starts one); skips otherwise.

use std::sync::atomic::{AtomicUsize, Ordering};

use daisy_geometry::Roi;
use daisy_graph::{
    AttrType, AttrValue, Attrs, GraphError, GraphOptions, GraphStore, Mode, NodeQuery,
    PgGraphStore, ScalarType,
};

fn enabled(test: &str) -> bool {
    let on = std::env::var("DAISY_TEST_POSTGRES").is_ok_and(|v| v == "1");
    if !on {
        println!("skipping {test}: set DAISY_TEST_POSTGRES=1 and PGHOST/PGPORT/PGUSER to run it");
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
    Ok(Box::new(PgGraphStore::open(
        &db, None, None, None, None, mode, options,
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

fn open(db: &str, mode: Mode) -> Result<PgGraphStore, GraphError> {
    PgGraphStore::open(db, None, None, None, None, mode, &options())
}

fn raw(db: &str) -> postgres::Client {
    let host = std::env::var("PGHOST").unwrap_or_else(|_| "localhost".into());
    let port = std::env::var("PGPORT").unwrap_or_else(|_| "5432".into());
    let user = std::env::var("PGUSER").unwrap_or_else(|_| "postgres".into());
    postgres::Client::connect(
        &format!("host={host} port={port} user={user} dbname={db}"),
        postgres::NoTls,
    )
    .unwrap_or_else(|e| panic!("raw connection to {db}: {e}"))
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

#[test]
fn funlib_layout() {
    if !enabled("funlib_layout") {
        return;
    }
    let db = fresh_db("layout");
    let mut store = open(&db, Mode::Write).unwrap_or_else(|e| panic!("{e}"));
    let mut g = daisy_graph::Graph::new(false);
    g.add_node(1, node(1.5, 0.25));
    g.add_node(2, node(2.5, 0.75));
    g.add_edge(
        2,
        1,
        Attrs::from([("weight".into(), AttrValue::Float(0.5))]),
    );
    let written = store
        .write_graph(&g, None, false)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(written, (2, 1));
    let mut c = raw(&db);
    let cols = |c: &mut postgres::Client, t: &str| -> Vec<(String, String)> {
        c.query(
            "SELECT column_name::text, udt_name::text FROM information_schema.columns \
             WHERE table_name = $1 ORDER BY ordinal_position",
            &[&t],
        )
        .unwrap_or_else(|e| panic!("{e}"))
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
    };
    let s = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    assert_eq!(
        cols(&mut c, "nodes"),
        vec![
            s("id", "int8"),
            s("position", "_float4"),
            s("score", "float4")
        ]
    );
    assert_eq!(
        cols(&mut c, "edges"),
        vec![s("u", "int8"), s("v", "int8"), s("weight", "float4")]
    );
    assert_eq!(cols(&mut c, "metadata"), vec![s("value", "varchar")]);
    let index: i64 = c
        .query_one(
            "SELECT COUNT(*) FROM pg_indexes WHERE indexname = 'pos_index'",
            &[],
        )
        .unwrap_or_else(|e| panic!("{e}"))
        .get(0);
    assert_eq!(index, 1);
    let row = c
        .query_one("SELECT position, score FROM nodes WHERE id = 2", &[])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(row.get::<_, Vec<f32>>(0), vec![2.5, 0.5, 0.5]);
    let edge = c
        .query_one("SELECT u, v FROM edges", &[])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((edge.get::<_, i64>(0), edge.get::<_, i64>(1)), (1, 2));
    let meta: String = c
        .query_one("SELECT value FROM metadata", &[])
        .unwrap_or_else(|e| panic!("{e}"))
        .get(0);
    assert!(meta.contains("\"position_attribute\""), "{meta}");
    let read = open(&db, Mode::Read).unwrap_or_else(|e| panic!("{e}"));
    let roi = Roi::from_values(&[2, 0, 0], &[1, 1, 1]).unwrap_or_else(|e| panic!("{e}"));
    let nodes = read
        .read_nodes(&NodeQuery {
            roi: Some(roi),
            ..NodeQuery::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0].id, 2);
}

#[test]
fn another_schema_is_a_schema_mismatch() {
    if !enabled("another_schema_is_a_schema_mismatch") {
        return;
    }
    let db = fresh_db("schema");
    drop(open(&db, Mode::Write).unwrap_or_else(|e| panic!("{e}")));
    raw(&db)
        .batch_execute("DROP TABLE nodes; CREATE TABLE nodes (id BIGINT PRIMARY KEY, other TEXT)")
        .unwrap_or_else(|e| panic!("{e}"));
    match open(&db, Mode::ReadWrite) {
        Err(GraphError::SchemaMismatch { table, .. }) => assert_eq!(table, "nodes"),
        Err(e) => panic!("expected SchemaMismatch, got {e}"),
        Ok(_) => panic!("expected SchemaMismatch, the store opened"),
    }
}

#[test]
fn unreachable_server_names_host_and_port() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    match PgGraphStore::open(
        "nowhere",
        Some("127.0.0.1"),
        Some("u"),
        None,
        Some(port),
        Mode::Write,
        &options(),
    ) {
        Err(e @ GraphError::Backend { .. }) => {
            let text = e.to_string();
            assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
        }
        Err(e) => panic!("expected a backend error, got {e}"),
        Ok(_) => panic!("connected to a closed port"),
    }
}

#[test]
fn concurrent_writers() {
    if !enabled("concurrent_writers") {
        return;
    }
    let db = fresh_db("concurrent");
    drop(open(&db, Mode::Write).unwrap_or_else(|e| panic!("{e}")));
    let threads: Vec<_> = (0..8i64)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                let mut store = open(&db, Mode::ReadWrite).unwrap_or_else(|e| panic!("{e}"));
                let mut g = daisy_graph::Graph::new(false);
                // Every thread writes the whole graph; each writes its own block of it.
                for i in 0..800u64 {
                    g.add_node(i, node(i as f64 / 100.0, 1.0));
                }
                let roi =
                    Roi::from_values(&[t, 0, 0], &[1, 1, 1]).unwrap_or_else(|e| panic!("{e}"));
                store
                    .write_nodes(&g, Some(&roi), None, false)
                    .unwrap_or_else(|e| panic!("{e}"));
                store
                    .write_nodes(&g, None, None, false)
                    .unwrap_or_else(|e| panic!("{e}"))
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap_or_else(|_| panic!("a writer panicked"));
    }
    let store = open(&db, Mode::Read).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.num_nodes(None).unwrap_or_else(|e| panic!("{e}")), 800);
}

#[test]
fn large_writes_copy_and_fall_back_to_inserts_when_rows_exist() {
    if !enabled("large_writes_copy_and_fall_back_to_inserts_when_rows_exist") {
        return;
    }
    let db = fresh_db("copy");
    let mut store = open(&db, Mode::Write).unwrap_or_else(|e| panic!("{e}"));
    let graph = |n: u64| {
        let mut g = daisy_graph::Graph::new(false);
        for i in 0..n {
            g.add_node(i, node(i as f64, i as f64 / 2.0));
            if i > 0 {
                let mut a = Attrs::new();
                a.insert("weight".into(), AttrValue::Float(i as f64));
                g.add_edge(i - 1, i, a);
            }
        }
        g
    };
    let count = |store: &PgGraphStore| store.num_nodes(None).unwrap_or_else(|e| panic!("{e}"));
    // New rows: one COPY per table.
    let written = store
        .write_graph(&graph(300), None, false)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(written, (300, 299));
    // 300 of 500 rows exist: the COPY fails on them and the INSERTs write the other 200.
    let written = store
        .write_graph(&graph(500), None, false)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(written, (200, 200));
    assert_eq!(count(&store), 500);
    // With fail_if_exists, a COPY that meets a stored row is an error and writes nothing.
    match store.write_graph(&graph(600), None, true) {
        Err(GraphError::AlreadyExists { what, .. }) => {
            assert!(what.contains("nodes") && what.contains("(id)=("), "{what}");
        }
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert_eq!(count(&store), 500);
    // Every value came through the binary COPY as written.
    let read = store
        .read_nodes(&NodeQuery::default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read.len(), 500);
    for n in read {
        assert_eq!(
            n.attrs,
            node(n.id as f64, n.id as f64 / 2.0),
            "node {}",
            n.id
        );
    }
    let edges = store
        .read_edges(&daisy_graph::EdgeQuery::default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(edges.len(), 499);
    assert!(edges.iter().all(|e| e.v == e.u + 1
        && e.attrs.get("weight") == Some(&AttrValue::Float(e.v as f64))));
}

#[test]
fn roi_reads_use_the_index_on_the_coordinates() {
    if !enabled("roi_reads_use_the_index_on_the_coordinates") {
        return;
    }
    let db = fresh_db("dims");
    let mut store = open(&db, Mode::Write).unwrap_or_else(|e| panic!("{e}"));
    let mut g = daisy_graph::Graph::new(false);
    for i in 0..5000 {
        g.add_node(i, node(i as f64, 0.0));
    }
    store
        .write_graph(&g, None, false)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut c = raw(&db);
    let definition = |c: &mut postgres::Client| -> Option<String> {
        c.query_opt(
            "SELECT indexdef::text FROM pg_indexes WHERE indexname = 'nodes_pos_dims'",
            &[],
        )
        .unwrap_or_else(|e| panic!("{e}"))
        .map(|r| r.get(0))
    };
    let made = definition(&mut c).expect("no index nodes_pos_dims");
    assert!(
        made.contains(r#"("position"[1]), ("position"[2]), ("position"[3])"#),
        "{made}"
    );
    // The ROI query's predicates (REAL coordinates against float8 bounds) can use it.
    c.batch_execute("ANALYZE nodes; SET random_page_cost = 1.1")
        .unwrap_or_else(|e| panic!("{e}"));
    let plan: Vec<String> = c
        .query(
            "EXPLAIN SELECT id, position FROM nodes WHERE position[1] >= $1::float8 AND \
             position[1] < $2::float8 AND position[2] >= $3::float8 AND position[2] < $4::float8 \
             AND position[3] >= $3::float8 AND position[3] < $4::float8",
            &[&10.0f64, &20.0f64, &0.0f64, &1.0f64],
        )
        .unwrap_or_else(|e| panic!("{e}"))
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        plan.iter().any(|l| l.contains("nodes_pos_dims")),
        "{plan:#?}"
    );
    let nodes = store
        .read_nodes(&NodeQuery {
            roi: Some(Roi::from_values(&[10, 0, 0], &[10, 1, 1]).unwrap_or_else(|e| panic!("{e}"))),
            ..NodeQuery::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(nodes.len(), 10);
    // Bulk write mode drops the position indexes and builds them again at its end.
    store
        .begin_bulk_write(false)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(definition(&mut c), None);
    store.end_bulk_write().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(definition(&mut c), Some(made));
}
