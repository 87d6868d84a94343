//! The conformance suite on SQLite, and what only SQLite has: funlib.persistence's file
//! layout, schema checks on open, and many processes writing one database at once.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use daisy_graph::{
    AttrType, AttrValue, Attrs, EdgeQuery, GraphError, GraphOptions, GraphStore, Mode, NodeQuery,
    ScalarType, SqliteGraphStore,
};

fn dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")))
        .path()
}

fn open(key: &str, mode: Mode, options: &GraphOptions) -> Result<Box<dyn GraphStore>, GraphError> {
    let store = SqliteGraphStore::open(&dir().join(format!("{key}.db")), mode, options)?;
    Ok(Box::new(store))
}

daisy_graph::conformance_tests!(open);

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

fn columns(conn: &rusqlite::Connection, table: &str) -> Vec<(String, String, i64, i64)> {
    let mut stmt = conn
        .prepare(&format!("PRAGMA table_info({table})"))
        .unwrap_or_else(|e| panic!("{e}"));
    stmt.query_map([], |r| Ok((r.get(1)?, r.get(2)?, r.get(3)?, r.get(5)?)))
        .unwrap_or_else(|e| panic!("{e}"))
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn node(id: u64, x: f64) -> (u64, Attrs) {
    let mut attrs = Attrs::new();
    attrs.insert(
        "position".into(),
        AttrValue::List(vec![
            AttrValue::Float(x),
            AttrValue::Float(1.0),
            AttrValue::Float(2.0),
        ]),
    );
    attrs.insert("score".into(), AttrValue::Float(0.5));
    (id, attrs)
}

#[test]
fn the_layout_is_funlibs() {
    let db = dir().join("layout.db");
    let mut store =
        SqliteGraphStore::open(&db, Mode::Write, &options()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.meta_file(), dir().join("layout-meta.json"));
    let mut g = daisy_graph::Graph::new(false);
    let (id, attrs) = node(3, 1.5);
    g.add_node(id, attrs);
    let (id, attrs) = node(1, 2.5);
    g.add_node(id, attrs);
    let mut w = Attrs::new();
    w.insert("weight".into(), AttrValue::Float(0.25));
    g.add_edge(3, 1, w);
    store
        .write_graph(&g, None, false)
        .unwrap_or_else(|e| panic!("{e}"));
    drop(store);

    let conn = rusqlite::Connection::open(&db).unwrap_or_else(|e| panic!("{e}"));
    let t = |n: &str, ty: &str, nn: i64, pk: i64| (n.to_owned(), ty.to_owned(), nn, pk);
    assert_eq!(
        columns(&conn, "nodes"),
        vec![
            t("id", "INTEGER", 1, 1),
            t("position_0", "", 0, 0),
            t("position_1", "", 0, 0),
            t("position_2", "", 0, 0),
            t("score", "", 0, 0),
        ]
    );
    assert_eq!(
        columns(&conn, "edges"),
        vec![
            t("u", "INTEGER", 1, 1),
            t("v", "INTEGER", 1, 2),
            t("weight", "", 0, 0)
        ]
    );
    let index: String = conn
        .query_row(
            "SELECT sql FROM sqlite_master WHERE name = 'pos_index'",
            [],
            |r| r.get(0),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        index.contains("nodes(position_0,position_1,position_2)"),
        "{index}"
    );
    let edge: (i64, i64, f64) = conn
        .query_row("SELECT u, v, weight FROM edges", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(edge, (1, 3, 0.25));
    let x: f64 = conn
        .query_row("SELECT position_0 FROM nodes WHERE id = 3", [], |r| {
            r.get(0)
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(x, 1.5);
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir().join("layout-meta.json")).unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(meta["node_attrs"]["position"], "Vec(float, 3)");
    assert_eq!(meta["nodes_table_name"], "nodes");
    assert_eq!(meta["endpoint_names"], serde_json::json!(["u", "v"]));
    assert_eq!(
        meta["total_roi_offset"],
        serde_json::json!([null, null, null])
    );
}

#[test]
fn a_table_with_another_schema_is_a_schema_mismatch() {
    let db = dir().join("schema.db");
    drop(SqliteGraphStore::open(&db, Mode::Write, &options()).unwrap_or_else(|e| panic!("{e}")));
    let conn = rusqlite::Connection::open(&db).unwrap_or_else(|e| panic!("{e}"));
    conn.execute_batch("DROP TABLE nodes; CREATE TABLE nodes(id INTEGER not null PRIMARY KEY, position_0, position_1, other)")
        .unwrap_or_else(|e| panic!("{e}"));
    drop(conn);
    for mode in [Mode::Read, Mode::ReadWrite] {
        match SqliteGraphStore::open(&db, mode, &GraphOptions::default()) {
            Err(GraphError::SchemaMismatch { table, reason, .. }) => {
                assert_eq!(table, "nodes");
                assert!(
                    reason.contains("position_2") && reason.contains("other"),
                    "{reason}"
                );
            }
            Err(e) => panic!("{mode:?}: expected SchemaMismatch, got {e}"),
            Ok(_) => panic!("{mode:?}: opened"),
        }
    }
    let conn = rusqlite::Connection::open(&db).unwrap_or_else(|e| panic!("{e}"));
    conn.execute_batch(
        "DROP TABLE nodes; CREATE TABLE nodes(id INTEGER not null PRIMARY KEY, position_0, position_1, position_2, score); \
         DROP TABLE edges; CREATE TABLE edges(u INTEGER not null, v INTEGER not null, weight, PRIMARY KEY (v, u))",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    drop(conn);
    match SqliteGraphStore::open(&db, Mode::Read, &GraphOptions::default()) {
        Err(GraphError::SchemaMismatch { table, reason, .. }) => {
            assert_eq!(table, "edges");
            assert!(reason.contains("primary key"), "{reason}");
        }
        other => panic!("expected SchemaMismatch, got {:?}", other.err()),
    }
}

const WRITER_ENV: &str = "DAISY_GRAPH_SQLITE_WRITER";
const WRITERS: u64 = 4;
const PER_WRITER: u64 = 3000;

/// Writer `k` writes nodes k*N..(k+1)*N along x and the chain edges between them, in
/// blocks of 100 nodes, each block one write call.
fn write_as(db: &Path, k: u64) -> Result<(), GraphError> {
    let mut store = SqliteGraphStore::open(db, Mode::ReadWrite, &GraphOptions::default())?;
    let mut g = daisy_graph::Graph::new(false);
    for i in k * PER_WRITER..(k + 1) * PER_WRITER {
        let (id, attrs) = node(i, i as f64);
        g.add_node(id, attrs);
        if i + 1 < (k + 1) * PER_WRITER {
            let mut w = Attrs::new();
            w.insert("weight".into(), AttrValue::Float(i as f64));
            g.add_edge(i, i + 1, w);
        }
    }
    let start = (k * PER_WRITER) as i64;
    for b in 0..(PER_WRITER as i64 / 100) {
        let roi = daisy_geometry::Roi::from_values(&[start + b * 100, 0, 0], &[100, 10, 10])
            .map_err(|e| GraphError::InvalidOptions {
                reason: e.to_string(),
            })?;
        store.write_graph(&g, Some(&roi), false)?;
    }
    Ok(())
}

#[test]
fn many_processes_write_one_database_at_once() {
    if let Ok(spec) = std::env::var(WRITER_ENV) {
        // The child: "<db>|<k>".
        let (db, k) = spec
            .rsplit_once('|')
            .unwrap_or_else(|| panic!("bad {WRITER_ENV}"));
        let k: u64 = k.parse().unwrap_or_else(|e| panic!("{e}"));
        if let Err(e) = write_as(Path::new(db), k) {
            eprintln!("writer {k} failed: {e}");
            std::process::exit(3);
        }
        return;
    }
    let db: PathBuf = dir().join("concurrent.db");
    drop(SqliteGraphStore::open(&db, Mode::Write, &options()).unwrap_or_else(|e| panic!("{e}")));
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    let running: Vec<_> = (0..WRITERS)
        .map(|k| {
            std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "many_processes_write_one_database_at_once",
                    "--nocapture",
                ])
                .env(WRITER_ENV, format!("{}|{k}", db.display()))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("spawning writer {k}: {e}"))
        })
        .collect();
    for (k, child) in running.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
        assert!(
            out.status.success(),
            "writer {k}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let store = SqliteGraphStore::open(&db, Mode::Read, &GraphOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let total = WRITERS * PER_WRITER;
    let mut ids: Vec<u64> = store
        .read_nodes(&NodeQuery::default())
        .unwrap_or_else(|e| panic!("{e}"))
        .iter()
        .map(|n| n.id)
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..total).collect::<Vec<_>>());
    let mut edges: Vec<(u64, u64)> = store
        .read_edges(&EdgeQuery::default())
        .unwrap_or_else(|e| panic!("{e}"))
        .iter()
        .map(|e| (e.u, e.v))
        .collect();
    edges.sort_unstable();
    let expected: Vec<(u64, u64)> = (0..total)
        .filter(|i| (i + 1) % PER_WRITER != 0)
        .map(|i| (i, i + 1))
        .collect();
    assert_eq!(edges, expected);
}
