//! The conformance suite on the file store, and what only it has: daisy 1.x's directory
//! layout, NumPy files numpy reads (and files numpy wrote, read back), threads writing
//! adjacent blocks that share chunks, and malformed files named in errors.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use daisy_geometry::Roi;
use daisy_graph::{
    AttrType, AttrValue, Attrs, EdgeQuery, FileGraphStore, Graph, GraphError, GraphOptions,
    GraphStore, Mode, NodeQuery, ScalarType,
};

fn dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")))
        .path()
}

/// Chunks of 4 in every dimension of the positions (so the suite's graphs span chunks).
fn open(key: &str, mode: Mode, options: &GraphOptions) -> Result<Box<dyn GraphStore>, GraphError> {
    let chunk_size = (mode == Mode::Write).then(|| {
        let position = options.position_attribute.as_deref().unwrap_or("position");
        let ndims = options
            .node_attrs
            .iter()
            .flatten()
            .find(|(n, _)| n == position)
            .map_or(3, |(_, t)| match t {
                AttrType::Vec(_, k) => *k,
                AttrType::Scalar(_) => 1,
            });
        vec![4; ndims]
    });
    let store = FileGraphStore::open(&dir().join(key), chunk_size.as_deref(), mode, options)?;
    Ok(Box::new(store))
}

daisy_graph::conformance_tests!(open);

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn options() -> GraphOptions {
    GraphOptions {
        node_attrs: Some(vec![
            ("position".into(), AttrType::Vec(ScalarType::Float, 3)),
            ("score".into(), AttrType::Scalar(ScalarType::Float)),
            ("label".into(), AttrType::Scalar(ScalarType::Str)),
        ]),
        edge_attrs: Some(vec![("weight".into(), AttrType::Scalar(ScalarType::Float))]),
        ..GraphOptions::default()
    }
}

fn node(x: f64, y: f64, score: Option<f64>) -> Attrs {
    let mut attrs = Attrs::new();
    attrs.insert(
        "position".into(),
        AttrValue::List(vec![
            AttrValue::Float(x),
            AttrValue::Float(y),
            AttrValue::Float(0.5),
        ]),
    );
    if let Some(s) = score {
        attrs.insert("score".into(), AttrValue::Float(s));
    }
    attrs
}

fn weight(w: f64) -> Attrs {
    let mut attrs = Attrs::new();
    attrs.insert("weight".into(), AttrValue::Float(w));
    attrs
}

fn json(path: &Path) -> serde_json::Value {
    ok(serde_json::from_str(&ok(std::fs::read_to_string(path))))
}

/// The entries of a zip archive (name, compression method).
fn entries(path: &Path) -> Vec<(String, String)> {
    let mut archive = ok(zip::ZipArchive::new(ok(std::fs::File::open(path))));
    (0..archive.len())
        .map(|i| {
            let entry = ok(archive.by_index(i));
            (
                ok(entry.name()).into_owned(),
                format!("{:?}", entry.compression()),
            )
        })
        .collect()
}

#[test]
fn the_layout_is_daisys_file_graph_provider() {
    let root = dir().join("layout");
    let mut store = ok(FileGraphStore::open(
        &root,
        Some(&[10, 10, 10]),
        Mode::Write,
        &options(),
    ));
    let mut g = Graph::new(false);
    g.add_node(7, node(1.0, 2.0, Some(0.5)));
    g.add_node(3, node(12.0, -3.0, None));
    g.add_edge(7, 3, weight(0.25)); // stored (3, 7): in the chunk of node 3
    ok(store.write_graph(&g, None, false));
    drop(store);

    let meta = json(&root.join(".meta.json"));
    assert_eq!(meta["directed"], false);
    assert_eq!(meta["total_roi_offset"], serde_json::json!([0, 0, 0]));
    assert_eq!(
        meta["total_roi_shape"],
        serde_json::json!([null, null, null])
    );
    assert_eq!(meta["chunk_size"], serde_json::json!([10, 10, 10]));
    assert_eq!(meta["node_attrs"]["position"], "Vec(float, 3)");
    let text = ok(std::fs::read_to_string(root.join(".meta.json")));
    let at = |key: &str| {
        text.find(key)
            .unwrap_or_else(|| panic!("{key} not in {text}"))
    };
    assert!(
        at("\"position\"") < at("\"score\"") && at("\"score\"") < at("\"label\""),
        "attributes in declaration order: {text}"
    );

    let a = root.join("nodes/0/0/0");
    let b = root.join("nodes/1/-1/0");
    for chunk in [&a, &b] {
        assert_eq!(
            json(&chunk.join(".meta.json"))["attributes"],
            serde_json::json!(["id", "position", "score", "label"]),
            "{}",
            chunk.display()
        );
        for attr in ["id", "position", "score", "label"] {
            let file = chunk.join(format!("{attr}.npz"));
            let names = entries(&file);
            assert_eq!(
                names[0],
                ("nodes.npy".to_owned(), "Deflated".to_owned()),
                "{attr}"
            );
        }
    }
    // Node 3 has no score: its column holds a mask next to the values.
    let names: Vec<String> = entries(&b.join("score.npz"))
        .into_iter()
        .map(|e| e.0)
        .collect();
    assert_eq!(names, vec!["nodes.npy", "mask.npy"]);
    let edges = root.join("edges/1/-1/0");
    assert_eq!(
        json(&edges.join(".meta.json"))["attributes"],
        serde_json::json!(["u", "v", "weight"])
    );
    assert_eq!(entries(&edges.join("u.npz"))[0].0, "edges.npy");
    assert!(
        !root.join("edges/0/0/0").exists(),
        "the edge lives in the chunk of u = 3"
    );

    let store = ok(FileGraphStore::open(
        &root,
        None,
        Mode::Read,
        &GraphOptions::default(),
    ));
    let mut nodes = ok(store.read_nodes(&NodeQuery::default()));
    nodes.sort_by_key(|n| n.id);
    assert_eq!(nodes[0].attrs.get("score"), Some(&AttrValue::Null));
    assert_eq!(nodes[1].attrs.get("score"), Some(&AttrValue::Float(0.5)));
    let edges = ok(store.read_edges(&EdgeQuery::default()));
    assert_eq!((edges[0].u, edges[0].v), (3, 7));
    assert!(matches!(
        FileGraphStore::open(
            &root,
            Some(&[5, 5, 5]),
            Mode::Read,
            &GraphOptions::default()
        ),
        Err(GraphError::MetadataMismatch {
            field: "chunk_size",
            ..
        })
    ));
    assert!(matches!(
        FileGraphStore::open(&dir().join("bad_chunks"), Some(&[10, 0, 10]), Mode::Write, &options()),
        Err(GraphError::InvalidOptions { reason }) if reason.contains("[10, 0, 10]")
    ));
}

#[test]
fn reads_by_roi_visit_only_the_chunks_the_roi_meets() {
    let root = dir().join("visits");
    let mut store = ok(FileGraphStore::open(
        &root,
        Some(&[10, 10, 10]),
        Mode::Write,
        &options(),
    ));
    let mut g = Graph::new(false);
    g.add_node(1, node(5.0, 5.0, None));
    g.add_node(2, node(25.0, 5.0, None));
    ok(store.write_graph(&g, None, false));
    // A chunk the ROI does not meet, broken: reading the ROI does not touch it.
    ok(std::fs::write(root.join("nodes/2/0/0/id.npz"), b"broken"));
    let roi = ok(Roi::from_values(&[0, 0, 0], &[20, 10, 10]));
    let read = ok(store.read_nodes(&NodeQuery {
        roi: Some(roi),
        ..NodeQuery::default()
    }));
    assert_eq!(read.len(), 1);
    // All nodes visit it, and the error names the file.
    match store.read_nodes(&NodeQuery::default()) {
        Err(e) => {
            let text = e.to_string();
            assert!(text.contains("nodes/2/0/0/id.npz"), "{text}");
        }
        Ok(nodes) => panic!("read {} nodes from a broken file", nodes.len()),
    }
}

#[test]
fn a_malformed_npz_is_an_error_naming_the_file() {
    let root = dir().join("malformed");
    let mut store = ok(FileGraphStore::open(
        &root,
        Some(&[10, 10, 10]),
        Mode::Write,
        &options(),
    ));
    let mut g = Graph::new(false);
    g.add_node(1, node(5.0, 5.0, Some(1.0)));
    ok(store.write_graph(&g, None, false));
    let file = root.join("nodes/0/0/0/score.npz");
    for bytes in [
        &b"not a zip"[..],
        &ok(std::fs::read(root.join("nodes/0/0/0/label.npz"))),
    ] {
        ok(std::fs::write(&file, bytes));
        match store.read_nodes(&NodeQuery::default()) {
            Err(GraphError::Io { path, source }) => {
                assert_eq!(path, file);
                assert_eq!(source.kind(), std::io::ErrorKind::InvalidData, "{source}");
            }
            other => panic!(
                "expected an i/o error naming {}, got {other:?}",
                file.display()
            ),
        }
    }
}

const THREADS: i64 = 4;
const PER_THREAD: i64 = 250;

#[test]
fn threads_writing_adjacent_blocks_that_share_chunks_write_everything_once() {
    let root = dir().join("concurrent");
    // Chunks of 7 along x, blocks of 25: every block boundary cuts a chunk.
    drop(ok(FileGraphStore::open(
        &root,
        Some(&[7, 100, 100]),
        Mode::Write,
        &options(),
    )));
    let total = THREADS * PER_THREAD;
    let mut g = Graph::new(false);
    for i in 0..total {
        g.add_node(i as u64, node(i as f64 / 10.0 * 2.0, 1.0, Some(i as f64)));
        if i + 1 < total {
            g.add_edge(i as u64 + 1, i as u64, weight(i as f64));
        }
    }
    let g = std::sync::Arc::new(g);
    let blocks: Vec<i64> = (0..(total * 2 / 10 / 25 + 1)).collect();
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (g, root) = (g.clone(), root.clone());
            let mine: Vec<i64> = blocks
                .iter()
                .copied()
                .filter(|b| b % THREADS == t)
                .collect();
            std::thread::spawn(move || -> Result<(), GraphError> {
                let mut store =
                    FileGraphStore::open(&root, None, Mode::ReadWrite, &GraphOptions::default())?;
                for b in mine {
                    let roi = Roi::from_values(&[b * 25, 0, 0], &[25, 10, 10]).map_err(|e| {
                        GraphError::InvalidOptions {
                            reason: e.to_string(),
                        }
                    })?;
                    store.write_graph(&g, Some(&roi), true)?;
                }
                Ok(())
            })
        })
        .collect();
    for h in handles {
        ok(h.join().unwrap_or_else(|_| panic!("a writer panicked")));
    }
    let store = ok(FileGraphStore::open(
        &root,
        None,
        Mode::Read,
        &GraphOptions::default(),
    ));
    let mut ids: Vec<u64> = ok(store.read_nodes(&NodeQuery::default()))
        .iter()
        .map(|n| n.id)
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..total as u64).collect::<Vec<_>>());
    let mut edges: Vec<(u64, u64)> = ok(store.read_edges(&EdgeQuery::default()))
        .iter()
        .map(|e| (e.u, e.v))
        .collect();
    edges.sort_unstable();
    let expected: Vec<(u64, u64)> = (0..total as u64 - 1).map(|i| (i, i + 1)).collect();
    assert_eq!(edges, expected);
    let leftovers: Vec<PathBuf> = walk(&root)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

/// The project's Python with numpy, if `./scripts/python-env.sh` made it.
fn python() -> Option<PathBuf> {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    let ok = python.exists()
        && std::process::Command::new(&python)
            .args(["-c", "import numpy"])
            .output()
            .is_ok_and(|o| o.status.success());
    if !ok {
        println!(
            "skipped: no Python with numpy at {} (run ./scripts/python-env.sh)",
            python.display()
        );
    }
    ok.then_some(python)
}

fn run_python(python: &Path, script: &str) -> String {
    let out = ok(std::process::Command::new(python)
        .args(["-c", script])
        .output());
    assert!(
        out.status.success(),
        "python failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn numpy_reads_our_files() {
    let Some(python) = python() else { return };
    let root = dir().join("numpy_reads");
    let mut store = ok(FileGraphStore::open(
        &root,
        Some(&[10, 10, 10]),
        Mode::Write,
        &options(),
    ));
    let mut g = Graph::new(false);
    let mut a = node(1.0, 2.0, Some(0.5));
    a.insert("label".into(), AttrValue::Str("über".into()));
    g.add_node(7, a);
    g.add_node(3, node(4.0, 5.0, Some(1.5)));
    g.add_edge(7, 3, weight(0.25));
    ok(store.write_graph(&g, None, false));
    let script = format!(
        r#"
import numpy as np
c = {root:?} + "/nodes/0/0/0/"
ids = np.load(c + "id.npz")["nodes"]
pos = np.load(c + "position.npz")["nodes"]
score = np.load(c + "score.npz")["nodes"]
label = np.load(c + "label.npz")["nodes"]
u = np.load({root:?} + "/edges/0/0/0/u.npz")["edges"]
print(ids.dtype, ids.tolist(), pos.dtype, pos.shape, pos[1].tolist(), score.tolist(), label.dtype.kind, label[1], u.tolist())
"#,
        root = root.display().to_string()
    );
    assert_eq!(
        run_python(&python, &script).trim(),
        "uint64 [3, 7] float64 (2, 3) [1.0, 2.0, 0.5] [1.5, 0.5] U über [3]"
    );
}

#[test]
fn our_store_reads_what_numpy_wrote_in_daisys_layout() {
    let Some(python) = python() else { return };
    let root = dir().join("numpy_wrote");
    // As daisy 1.x's FileGraphProvider writes: .meta.json with three keys, one
    // np.savez_compressed file per attribute, a chunk .meta.json listing them.
    let script = format!(
        r#"
import json, os
import numpy as np
root = {root:?}
os.makedirs(root + "/nodes/0/1", exist_ok=True)
os.makedirs(root + "/edges/0/1", exist_ok=True)
json.dump({{"directed": True, "total_roi_offset": [0, 0, 0, 0], "total_roi_shape": [None, None, None, None]}}, open(root + "/.meta.json", "w"))
n = root + "/nodes/0/1/"
json.dump({{"attributes": ["id", "position", "size", "name", "seen"]}}, open(n + ".meta.json", "w"))
np.savez_compressed(n + "id", nodes=np.array([1, 2], dtype=np.uint64))
np.savez_compressed(n + "position", nodes=np.array([[1.5, 12.0], [3.0, 19.5]]))
np.savez_compressed(n + "size", nodes=np.array([10, 20]))
np.savez_compressed(n + "name", nodes=np.array(["a", "bc"]))
np.savez_compressed(n + "seen", nodes=np.array([True, False]))
e = root + "/edges/0/1/"
json.dump({{"attributes": ["u", "v", "score"]}}, open(e + ".meta.json", "w"))
np.savez_compressed(e + "u", edges=np.array([1], dtype=np.uint64))
np.savez_compressed(e + "v", edges=np.array([2], dtype=np.uint64))
np.savez_compressed(e + "score", edges=np.array([0.75], dtype=np.float32))
"#,
        root = root.display().to_string()
    );
    run_python(&python, &script);
    // daisy 1.x records no chunk size: it is required.
    assert!(matches!(
        FileGraphStore::open(&root, None, Mode::Read, &GraphOptions::default()),
        Err(GraphError::InvalidOptions { reason }) if reason.contains("chunk_size")
    ));
    let store = ok(FileGraphStore::open(
        &root,
        Some(&[10, 10]),
        Mode::Read,
        &GraphOptions::default(),
    ));
    let m = store.metadata();
    assert!(m.directed);
    assert_eq!(m.ndims, 2);
    assert_eq!(m.total_roi, ok(Roi::unbounded(2)));
    let mut attrs = m.node_attrs.clone();
    attrs.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        attrs,
        vec![
            ("name".to_owned(), AttrType::Scalar(ScalarType::Str)),
            ("position".to_owned(), AttrType::Vec(ScalarType::Float, 2)),
            ("seen".to_owned(), AttrType::Scalar(ScalarType::Bool)),
            ("size".to_owned(), AttrType::Scalar(ScalarType::Int)),
        ]
    );
    let roi = ok(Roi::from_values(&[0, 10], &[2, 5]));
    let nodes = ok(store.read_nodes(&NodeQuery {
        roi: Some(roi),
        ..NodeQuery::default()
    }));
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0].id, 1);
    assert_eq!(
        nodes[0].attrs.get("name"),
        Some(&AttrValue::Str("a".into()))
    );
    assert_eq!(nodes[0].attrs.get("size"), Some(&AttrValue::Int(10)));
    assert_eq!(nodes[0].attrs.get("seen"), Some(&AttrValue::Bool(true)));
    let edges = ok(store.read_edges(&EdgeQuery::default()));
    assert_eq!((edges[0].u, edges[0].v), (1, 2));
    assert_eq!(edges[0].attrs.get("score"), Some(&AttrValue::Float(0.75)));
    // The stored directedness is checked.
    assert!(matches!(
        FileGraphStore::open(
            &root,
            Some(&[10, 10]),
            Mode::Read,
            &GraphOptions {
                directed: Some(false),
                ..GraphOptions::default()
            }
        ),
        Err(GraphError::MetadataMismatch {
            field: "directed",
            ..
        })
    ));
}
