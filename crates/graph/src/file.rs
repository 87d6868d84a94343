//! A graph store in a directory of NumPy files chunked in space, in daisy 1.x's
//! `FileGraphProvider` layout, so that block-wise workers write disjoint files:
//!
//! ```text
//! <directory>/.meta.json                       {"directed", "total_roi_offset", "total_roi_shape", ...}
//! <directory>/<nodes>/<i>/<j>/<k>/.meta.json    {"attributes": ["id", "position", ...]}
//! <directory>/<nodes>/<i>/<j>/<k>/id.npz        uint64 ids, under the key "nodes"
//! <directory>/<nodes>/<i>/<j>/<k>/position.npz  float positions, shape (n, ndims)
//! <directory>/<nodes>/<i>/<j>/<k>/<attr>.npz    one per further attribute
//! <directory>/<edges>/<i>/<j>/<k>/u.npz, v.npz  uint64 endpoints, under the key "edges"
//! ```
//!
//! A node lives in the chunk `floor(position / chunk_size)` (one path component per
//! dimension), an edge in the chunk of its `u`. Each `.npz` is what `np.savez_compressed`
//! writes: a deflated zip archive of one `nodes.npy` (or `edges.npy`). Attributes are stored
//! by declared type: `int` as `<i8`, `float` as `<f8`, `bool` as `|b1`, `str` as `<U{n}`,
//! `Vec(t, k)` as a 2-D `(n, k)` array; a column with absent values (`None`) also holds a
//! `mask.npy` entry (`|b1`, true where a value is present), which numpy's
//! `np.load(f)["nodes"]` ignores.
//!
//! `<directory>/.meta.json` holds daisy's three keys and, next to them, the rest of
//! [`GraphMetadata`] in funlib.persistence's form plus `chunk_size`, so that reopening checks
//! them. A `.meta.json` written by daisy 1.x (only the three keys) opens too: the attribute
//! types are then the `node_attrs`/`edge_attrs` given on open (nothing is stored to check them
//! against) or, without them, what the first chunk found holds (its dtypes and shapes: an
//! integer dtype is `int`, a float `float`, `|b1` `bool`, `<U` `str`, a 2-D array a `Vec`);
//! such a file is never rewritten except by mode `w`. daisy 1.x's own writer replaced a
//! chunk's files on every write; this store merges instead (rows already stored are kept).
//!
//! What the layout implies: every node needs a position (it decides the chunk), and an edge
//! needs its `u` in the graph written, even without a ROI (a missing `u` is
//! [`GraphError::MissingEndpoint`]); an update finds a node in the chunk of the position the
//! graph gives it. Ids are kept within the signed 64-bit range, as in the SQL stores.
//!
//! Concurrency: a chunk is read, merged and rewritten under an exclusive lock on its
//! `.lock` file, and every file is written to a temporary name and renamed into place; readers
//! take the lock shared, so they never see a chunk half updated.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use daisy_geometry::Roi;
use serde_json::{Value, json};

use crate::attr::{AttrType, AttrValue, ScalarType};
use crate::error::GraphError;
use crate::graph::{Attrs, Edge, Graph, Node, contains, position_of};
use crate::metadata::{GraphMetadata, GraphOptions, Mode};
use crate::npy::{NpyArray, NpyData, npz_bytes, read_npz};
use crate::query::{EdgeQuery, EdgeSelection, Filter, NodeQuery};
use crate::store::GraphStore;

const BACKEND: &str = "file";
const META: &str = ".meta.json";
const LOCK: &str = ".lock";

/// A graph store in a directory of chunked NumPy files, in daisy 1.x's `FileGraphProvider`
/// layout.
pub struct FileGraphStore {
    directory: PathBuf,
    chunk_size: Vec<i64>,
    metadata: GraphMetadata,
    mode: Mode,
}

/// Nodes or edges: which collection, which key columns, which `.npz` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Nodes,
    Edges,
}

impl Kind {
    fn key(self) -> &'static str {
        match self {
            Kind::Nodes => "nodes",
            Kind::Edges => "edges",
        }
    }
}

/// Rows to write or update (key, attributes) by chunk index.
type ByChunk = BTreeMap<Vec<i64>, Vec<((u64, u64), Attrs)>>;

/// An array and its mask (true where a value is present), if it has one.
type Masked = (NpyArray, Option<Vec<bool>>);

/// The rows of one chunk: keys (`(id, 0)` for nodes, `(u, v)` for edges) and attributes.
#[derive(Debug, Default)]
struct Chunk {
    keys: Vec<(u64, u64)>,
    rows: Vec<Attrs>,
}

fn io(path: &Path, source: std::io::Error) -> GraphError {
    GraphError::Io {
        path: path.to_owned(),
        source,
    }
}

fn malformed(path: &Path, reason: String) -> GraphError {
    io(
        path,
        std::io::Error::new(std::io::ErrorKind::InvalidData, reason),
    )
}

/// Ids are kept within the signed 64-bit range, as in the SQL stores, so that a graph moves
/// between backends (and Python's `int` attributes) unchanged.
fn check_id(id: u64) -> Result<(), GraphError> {
    if i64::try_from(id).is_ok() {
        Ok(())
    } else {
        Err(GraphError::IdOutOfRange {
            id,
            backend: BACKEND,
        })
    }
}

impl FileGraphStore {
    /// Opens the graph in `directory`, chunked by `chunk_size` (one size per dimension of the
    /// positions; `None` means "as stored", and is an error when creating a graph or opening
    /// one that daisy 1.x wrote): mode `w` removes everything under `directory` and creates a
    /// new graph from `options`; `r` and `r+` read `<directory>/.meta.json` and check every
    /// option given (and `chunk_size`) against it.
    ///
    /// # Errors
    /// [`GraphError::NoMetadata`], [`GraphError::MetadataMismatch`] naming the field,
    /// [`GraphError::InvalidOptions`] (a bad `chunk_size` among them),
    /// [`GraphError::InvalidMetadata`], [`GraphError::Io`].
    pub fn open(
        directory: &Path,
        chunk_size: Option<&[i64]>,
        mode: Mode,
        options: &GraphOptions,
    ) -> Result<FileGraphStore, GraphError> {
        let store = directory.display().to_string();
        let meta_file = directory.join(META);
        let (metadata, stored_chunks) = match mode {
            Mode::Write => {
                if directory.exists() {
                    std::fs::remove_dir_all(directory).map_err(|e| io(directory, e))?;
                }
                (GraphMetadata::open(None, options, mode, &store)?, None)
            }
            Mode::Read | Mode::ReadWrite => {
                let value = read_json(&meta_file)?;
                match value {
                    None => return Err(GraphError::NoMetadata { store }),
                    Some(value) if value.get("node_attrs").is_some() => {
                        let text =
                            std::fs::read_to_string(&meta_file).map_err(|e| io(&meta_file, e))?;
                        let what = meta_file.display().to_string();
                        let stored = GraphMetadata::from_json_text(&text, &store, &what)?;
                        let chunks = stored_chunk_size(&value, &store)?;
                        (
                            GraphMetadata::open(Some(stored), options, mode, &store)?,
                            Some(chunks),
                        )
                    }
                    Some(value) => {
                        let chunks = chunk_size.ok_or_else(|| GraphError::InvalidOptions {
                            reason: format!(
                                "{store} was written by daisy 1.x, which records no chunk \
                                 size: give chunk_size"
                            ),
                        })?;
                        let stored = legacy_metadata(&value, directory, chunks, options, &store)?;
                        (
                            GraphMetadata::open(Some(stored), options, mode, &store)?,
                            None,
                        )
                    }
                }
            }
        };
        let chunk_size = match (chunk_size, stored_chunks) {
            (Some(given), Some(stored)) if given != stored.as_slice() => {
                return Err(GraphError::MetadataMismatch {
                    field: "chunk_size",
                    given: format!("{given:?}"),
                    stored: format!("{stored:?}"),
                    store,
                });
            }
            (_, Some(stored)) => stored,
            (Some(given), None) => given.to_vec(),
            (None, None) => {
                return Err(GraphError::InvalidOptions {
                    reason: "chunk_size is required to create a file graph store".into(),
                });
            }
        };
        if chunk_size.len() != metadata.ndims || chunk_size.iter().any(|&c| c <= 0) {
            return Err(GraphError::InvalidOptions {
                reason: format!(
                    "chunk_size {chunk_size:?} must hold {} positive sizes, one per dimension \
                     of the positions",
                    metadata.ndims
                ),
            });
        }
        let this = FileGraphStore {
            directory: directory.to_owned(),
            chunk_size,
            metadata,
            mode,
        };
        if mode == Mode::Write {
            for dir in [this.collection(Kind::Nodes), this.collection(Kind::Edges)] {
                std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
            }
            write_atomic(&meta_file, this.meta_text().as_bytes())?;
        }
        Ok(this)
    }

    /// The text of `<directory>/.meta.json`: the metadata in funlib.persistence's form
    /// (attributes in declaration order), daisy 1.x's offsets of 0 for an unbounded total
    /// ROI, and `chunk_size`.
    fn meta_text(&self) -> String {
        let mut text = self.metadata.to_json_text();
        let offset = self.metadata.to_json()["total_roi_offset"].clone();
        let zeros: Vec<Value> = offset
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| if v.is_null() { json!(0) } else { v.clone() })
            .collect();
        text = text.replacen(
            &format!("\"total_roi_offset\": {offset}"),
            &format!("\"total_roi_offset\": {}", Value::from(zeros)),
            1,
        );
        text.pop(); // the closing brace
        format!("{text}, \"chunk_size\": {}}}", json!(self.chunk_size))
    }

    /// The directory.
    #[must_use]
    pub fn directory(&self) -> &Path {
        &self.directory
    }

    /// The chunk size, one per dimension.
    #[must_use]
    pub fn chunk_size(&self) -> &[i64] {
        &self.chunk_size
    }

    fn collection(&self, kind: Kind) -> PathBuf {
        self.directory.join(match kind {
            Kind::Nodes => &self.metadata.nodes_table,
            Kind::Edges => &self.metadata.edges_table,
        })
    }

    /// The chunk index of a position: `floor(position / chunk_size)` per dimension.
    fn chunk_of(&self, position: &[f64]) -> Vec<i64> {
        position
            .iter()
            .zip(&self.chunk_size)
            .map(|(&p, &c)| (p / c as f64).floor() as i64)
            .collect()
    }

    fn chunk_dir(&self, kind: Kind, index: &[i64]) -> PathBuf {
        let mut dir = self.collection(kind);
        dir.extend(index.iter().map(ToString::to_string));
        dir
    }

    /// The key column names of `kind`.
    fn key_names(&self, kind: Kind) -> Vec<String> {
        match kind {
            Kind::Nodes => vec!["id".into()],
            Kind::Edges => self.metadata.endpoint_names.to_vec(),
        }
    }

    fn declared(&self, kind: Kind) -> &[(String, AttrType)] {
        match kind {
            Kind::Nodes => &self.metadata.node_attrs,
            Kind::Edges => &self.metadata.edge_attrs,
        }
    }

    /// The attributes `names` with their types (all declared ones without a list).
    fn attr_types(
        &self,
        names: Option<&[String]>,
        kind: Kind,
    ) -> Result<Vec<(String, AttrType)>, GraphError> {
        match names {
            None => Ok(self.declared(kind).to_vec()),
            Some(names) => names
                .iter()
                .map(|n| {
                    let t = match kind {
                        Kind::Nodes => self.metadata.node_attr(n),
                        Kind::Edges => self.metadata.edge_attr(n),
                    }?;
                    Ok((n.clone(), t))
                })
                .collect(),
        }
    }

    /// The chunk directories of `kind` that `roi` meets (all of them without one): those of
    /// index `floor(begin / c) <= i < ceil(end / c)` in each bounded dimension.
    fn chunk_dirs(&self, kind: Kind, roi: Option<&Roi>) -> Result<Vec<PathBuf>, GraphError> {
        let ranges: Vec<(Option<i64>, Option<i64>)> = (0..self.metadata.ndims)
            .map(|d| {
                let c = self.chunk_size[d];
                match roi {
                    None => (None, None),
                    Some(roi) => (
                        roi.begin().get(d).map(|b| b.div_euclid(c)),
                        roi.end().get(d).map(|e| -(-e).div_euclid(c)),
                    ),
                }
            })
            .collect();
        let mut level = vec![self.collection(kind)];
        for (lo, hi) in ranges {
            let mut next = Vec::new();
            for dir in level {
                let entries = match std::fs::read_dir(&dir) {
                    Ok(entries) => entries,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(io(&dir, e)),
                };
                for entry in entries {
                    let entry = entry.map_err(|e| io(&dir, e))?;
                    let Some(i) = entry
                        .file_name()
                        .to_str()
                        .and_then(|n| n.parse::<i64>().ok())
                    else {
                        continue;
                    };
                    if lo.is_some_and(|lo| i < lo) || hi.is_some_and(|hi| i >= hi) {
                        continue;
                    }
                    next.push(entry.path());
                }
            }
            level = next;
        }
        level.sort();
        Ok(level)
    }

    /// Reads the keys and the attributes `types` of the chunk in `dir` (none if it does not
    /// exist), under a shared lock.
    fn read_chunk(
        &self,
        dir: &Path,
        kind: Kind,
        types: &[(String, AttrType)],
    ) -> Result<Chunk, GraphError> {
        let _lock = lock(dir, false)?;
        self.read_chunk_unlocked(dir, kind, types)
    }

    fn read_chunk_unlocked(
        &self,
        dir: &Path,
        kind: Kind,
        types: &[(String, AttrType)],
    ) -> Result<Chunk, GraphError> {
        let meta_file = dir.join(META);
        let Some(meta) = read_json(&meta_file)? else {
            return Ok(Chunk::default());
        };
        let stored: HashSet<&str> = meta
            .get("attributes")
            .and_then(Value::as_array)
            .ok_or_else(|| malformed(&meta_file, "no \"attributes\" list".into()))?
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let names = self.key_names(kind);
        let mut key_columns = Vec::new();
        for name in &names {
            let file = dir.join(format!("{name}.npz"));
            let Some((array, _)) = read_column(&file, kind)? else {
                return Ok(Chunk::default());
            };
            key_columns.push(ids_of(&array, &file)?);
        }
        let n = key_columns[0].len();
        let keys: Vec<(u64, u64)> = match key_columns.as_slice() {
            [u, v] if v.len() == n => u.iter().copied().zip(v.iter().copied()).collect(),
            [ids] => ids.iter().map(|&id| (id, 0)).collect(),
            _ => {
                return Err(malformed(
                    dir,
                    format!("the key columns {names:?} differ in length"),
                ));
            }
        };
        let mut rows = vec![Attrs::new(); n];
        for (name, t) in types {
            let file = dir.join(format!("{name}.npz"));
            let column = if stored.contains(name.as_str()) {
                read_column(&file, kind)?
            } else {
                None
            };
            match column {
                None => rows
                    .iter_mut()
                    .for_each(|r| drop(r.insert(name.clone(), AttrValue::Null))),
                Some((array, mask)) => {
                    let values = values_of(&array, mask, *t, &file)?;
                    if values.len() != n {
                        return Err(malformed(
                            &file,
                            format!("{} rows, but the chunk has {n} keys", values.len()),
                        ));
                    }
                    for (row, value) in rows.iter_mut().zip(values) {
                        row.insert(name.clone(), value);
                    }
                }
            }
        }
        Ok(Chunk { keys, rows })
    }

    /// Writes every column of `chunk` into `dir` (already locked), then its `.meta.json`.
    fn write_chunk(&self, dir: &Path, kind: Kind, chunk: &Chunk) -> Result<(), GraphError> {
        let mut attributes = Vec::new();
        let names = self.key_names(kind);
        for (i, name) in names.iter().enumerate() {
            let ids: Vec<u64> = chunk
                .keys
                .iter()
                .map(|k| if i == 0 { k.0 } else { k.1 })
                .collect();
            let array = NpyArray {
                shape: vec![ids.len()],
                data: NpyData::U64(ids),
            };
            let file = dir.join(format!("{name}.npz"));
            write_atomic(&file, &npz_bytes(&[(kind.key(), &array)], &file)?)?;
            attributes.push(name.clone());
        }
        for (name, t) in self.declared(kind) {
            let file = dir.join(format!("{name}.npz"));
            let (array, mask) = column_of(&chunk.rows, name, *t);
            let bytes = match &mask {
                Some(mask) => npz_bytes(&[(kind.key(), &array), ("mask", mask)], &file)?,
                None => npz_bytes(&[(kind.key(), &array)], &file)?,
            };
            write_atomic(&file, &bytes)?;
            attributes.push(name.clone());
        }
        let meta = json!({ "attributes": attributes });
        write_atomic(&dir.join(META), meta.to_string().as_bytes())
    }

    /// `rows` grouped by the chunk of their position.
    fn group_by_chunk<T>(
        &self,
        rows: Vec<T>,
        position: impl Fn(&T) -> Result<Vec<f64>, GraphError>,
    ) -> Result<BTreeMap<Vec<i64>, Vec<T>>, GraphError> {
        let mut out: BTreeMap<Vec<i64>, Vec<T>> = BTreeMap::new();
        for row in rows {
            let index = self.chunk_of(&position(&row)?);
            out.entry(index).or_default().push(row);
        }
        Ok(out)
    }

    fn node_position(&self, id: u64, attrs: &Attrs) -> Result<Vec<f64>, GraphError> {
        let m = &self.metadata;
        position_of(attrs, m).ok_or_else(|| GraphError::WrongType {
            kind: "node",
            id: id.to_string(),
            attr: m.position_attribute.clone(),
            expected: m
                .node_attr(&m.position_attribute)
                .unwrap_or(AttrType::Scalar(ScalarType::Float)),
            value: format!(
                "{} (a file store keeps a node in the chunk of its position)",
                attrs
                    .get(&m.position_attribute)
                    .map_or_else(|| "None".to_owned(), ToString::to_string)
            ),
        })
    }

    fn edge_position(&self, graph: &Graph, edge: &Edge) -> Result<Vec<f64>, GraphError> {
        let attrs = graph
            .nodes
            .get(&edge.u)
            .ok_or(GraphError::MissingEndpoint {
                u: edge.u,
                v: edge.v,
                missing: edge.u,
            })?;
        self.node_position(edge.u, attrs)
    }

    /// Inserts `rows` (by chunk) into the chunks of `kind`, keeping rows already stored (an
    /// error with `fail_if_exists`, checked in every chunk before any is written).
    fn insert(
        &self,
        kind: Kind,
        by_chunk: ByChunk,
        fail_if_exists: bool,
    ) -> Result<usize, GraphError> {
        let describe = |k: (u64, u64)| match kind {
            Kind::Nodes => format!("node {}", k.0),
            Kind::Edges => format!("edge ({}, {})", k.0, k.1),
        };
        if fail_if_exists {
            for (index, rows) in &by_chunk {
                let chunk = self.read_chunk(&self.chunk_dir(kind, index), kind, &[])?;
                let stored: HashSet<(u64, u64)> = chunk.keys.into_iter().collect();
                let mut seen = HashSet::new();
                if let Some((key, _)) = rows
                    .iter()
                    .find(|(k, _)| stored.contains(k) || !seen.insert(*k))
                {
                    return Err(GraphError::AlreadyExists {
                        what: describe(*key),
                        store: self.describe(),
                    });
                }
            }
        }
        let declared = self.declared(kind).to_vec();
        let mut written = 0;
        for (index, rows) in by_chunk {
            let dir = self.chunk_dir(kind, &index);
            let _lock = lock(&dir, true)?;
            let mut chunk = self.read_chunk_unlocked(&dir, kind, &declared)?;
            let mut stored: HashSet<(u64, u64)> = chunk.keys.iter().copied().collect();
            let before = chunk.keys.len();
            for (key, attrs) in rows {
                if !stored.insert(key) {
                    if fail_if_exists {
                        return Err(GraphError::AlreadyExists {
                            what: describe(key),
                            store: self.describe(),
                        });
                    }
                    continue;
                }
                chunk.keys.push(key);
                chunk.rows.push(attrs);
            }
            if chunk.keys.len() > before {
                written += chunk.keys.len() - before;
                self.write_chunk(&dir, kind, &chunk)?;
            }
        }
        Ok(written)
    }

    /// Sets the attributes of the stored rows among `rows` (by chunk); the number updated.
    fn update(&self, kind: Kind, by_chunk: ByChunk) -> Result<usize, GraphError> {
        let declared = self.declared(kind).to_vec();
        let mut updated = 0;
        for (index, rows) in by_chunk {
            let dir = self.chunk_dir(kind, &index);
            if !dir.join(META).exists() {
                continue;
            }
            let _lock = lock(&dir, true)?;
            let mut chunk = self.read_chunk_unlocked(&dir, kind, &declared)?;
            let at: HashMap<(u64, u64), usize> = chunk
                .keys
                .iter()
                .enumerate()
                .map(|(i, k)| (*k, i))
                .collect();
            let mut changed = false;
            for (key, attrs) in rows {
                if let Some(&i) = at.get(&key) {
                    chunk.rows[i].extend(attrs);
                    updated += 1;
                    changed = true;
                }
            }
            if changed {
                self.write_chunk(&dir, kind, &chunk)?;
            }
        }
        Ok(updated)
    }

    /// The nodes in `roi` passing `filter`, with the attributes `types` (and what the ROI and
    /// filter need, removed again unless asked for).
    fn select_nodes(
        &self,
        roi: Option<&Roi>,
        filter: &Filter,
        types: &[(String, AttrType)],
    ) -> Result<Vec<Node>, GraphError> {
        if let Some(roi) = roi {
            self.metadata.check_roi(roi)?;
        }
        let checks = self.filter_types(filter, Kind::Nodes)?;
        let m = &self.metadata;
        let mut load = types.to_vec();
        let mut extra = Vec::new();
        let mut need = |name: &str, t: AttrType| {
            if !load.iter().any(|(n, _)| n == name) {
                load.push((name.to_owned(), t));
                extra.push(name.to_owned());
            }
        };
        if roi.is_some() {
            need(&m.position_attribute, m.node_attr(&m.position_attribute)?);
        }
        for (name, t, _) in &checks {
            need(name, *t);
        }
        let mut out = Vec::new();
        for dir in self.chunk_dirs(Kind::Nodes, roi)? {
            let chunk = self.read_chunk(&dir, Kind::Nodes, &load)?;
            for ((id, _), mut attrs) in chunk.keys.into_iter().zip(chunk.rows) {
                if let Some(roi) = roi
                    && !position_of(&attrs, m).is_some_and(|p| contains(roi, &p))
                {
                    continue;
                }
                if !passes(&attrs, &checks) {
                    continue;
                }
                for name in &extra {
                    attrs.remove(name);
                }
                out.push(Node { id, attrs });
            }
        }
        Ok(out)
    }

    /// The filter's attributes with their types, each value checked against its type.
    fn filter_types(
        &self,
        filter: &Filter,
        kind: Kind,
    ) -> Result<Vec<(String, AttrType, AttrValue)>, GraphError> {
        filter
            .iter()
            .map(|(name, value)| {
                let t = self
                    .attr_types(Some(std::slice::from_ref(name)), kind)?
                    .remove(0)
                    .1;
                if !t.admits(value) {
                    return Err(GraphError::WrongType {
                        kind: kind.key().trim_end_matches('s'),
                        id: "filter".into(),
                        attr: name.clone(),
                        expected: t,
                        value: value.to_string(),
                    });
                }
                Ok((name.clone(), t, normalized(t, value)))
            })
            .collect()
    }
}

/// `value` as a store of type `t` reads it back (an `int` given for a `float` as a float).
fn normalized(t: AttrType, value: &AttrValue) -> AttrValue {
    let scalar = |s: ScalarType, v: &AttrValue| match (s, v) {
        (ScalarType::Float, AttrValue::Int(i)) => AttrValue::Float(*i as f64),
        (_, v) => v.clone(),
    };
    match (t, value) {
        (AttrType::Scalar(s), v) => scalar(s, v),
        (AttrType::Vec(s, _), AttrValue::List(items)) => {
            AttrValue::List(items.iter().map(|v| scalar(s, v)).collect())
        }
        (_, v) => v.clone(),
    }
}

fn passes(attrs: &Attrs, checks: &[(String, AttrType, AttrValue)]) -> bool {
    checks
        .iter()
        .all(|(name, _, value)| attrs.get(name).unwrap_or(&AttrValue::Null) == value)
}

/// The stored chunk size of our own `.meta.json`.
fn stored_chunk_size(value: &Value, store: &str) -> Result<Vec<i64>, GraphError> {
    value
        .get("chunk_size")
        .and_then(Value::as_array)
        .and_then(|a| a.iter().map(Value::as_i64).collect::<Option<Vec<_>>>())
        .ok_or_else(|| GraphError::InvalidMetadata {
            store: store.to_owned(),
            reason: "\"chunk_size\" is not a list of integers".into(),
        })
}

/// The metadata of a graph daisy 1.x wrote (`directed` and the total ROI only): attribute
/// types as given, else as the first chunk found holds them.
fn legacy_metadata(
    value: &Value,
    directory: &Path,
    chunk_size: &[i64],
    options: &GraphOptions,
    store: &str,
) -> Result<GraphMetadata, GraphError> {
    let ndims = chunk_size.len();
    let nodes = options
        .nodes_table
        .clone()
        .unwrap_or_else(|| "nodes".into());
    let edges = options
        .edges_table
        .clone()
        .unwrap_or_else(|| "edges".into());
    let endpoints = options
        .endpoint_names
        .clone()
        .unwrap_or_else(|| ["u".into(), "v".into()]);
    let position = options
        .position_attribute
        .clone()
        .unwrap_or_else(|| "position".into());
    let node_attrs = match &options.node_attrs {
        Some(attrs) => attrs.clone(),
        None => {
            let mut attrs = infer_types(&directory.join(&nodes), ndims, &["id"], Kind::Nodes)?;
            if !attrs.iter().any(|(n, _)| *n == position) {
                let t = if ndims == 1 {
                    AttrType::Scalar(ScalarType::Float)
                } else {
                    AttrType::Vec(ScalarType::Float, ndims)
                };
                attrs.insert(0, (position.clone(), t));
            }
            attrs
        }
    };
    let edge_attrs = match &options.edge_attrs {
        Some(attrs) => attrs.clone(),
        None => infer_types(
            &directory.join(&edges),
            ndims,
            &[endpoints[0].as_str(), endpoints[1].as_str()],
            Kind::Edges,
        )?,
    };
    // daisy 1.x wrote an unbounded total ROI as offsets 0 (of 4 dimensions) and null shapes.
    let coordinate = |name: &str| -> Vec<Value> {
        value
            .get(name)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let (mut offset, mut shape) = (
        coordinate("total_roi_offset"),
        coordinate("total_roi_shape"),
    );
    if shape.iter().all(Value::is_null) {
        offset = vec![Value::Null; ndims];
        shape = vec![Value::Null; ndims];
    }
    for (i, s) in shape.iter().enumerate() {
        if s.is_null()
            && let Some(o) = offset.get_mut(i)
        {
            *o = Value::Null;
        }
    }
    let full = json!({
        "position_attribute": position,
        "directed": value.get("directed").cloned().unwrap_or(Value::Bool(false)),
        "total_roi_offset": offset,
        "total_roi_shape": shape,
        "nodes_table_name": nodes,
        "edges_table_name": edges,
        "endpoint_names": endpoints,
        "node_attrs": node_attrs.iter().map(|(n, t)| (n.clone(), Value::from(t.to_funlib()))).collect::<serde_json::Map<_, _>>(),
        "edge_attrs": edge_attrs.iter().map(|(n, t)| (n.clone(), Value::from(t.to_funlib()))).collect::<serde_json::Map<_, _>>(),
        "ndims": ndims,
    });
    GraphMetadata::from_json(&full, store)
}

/// The attribute types the first chunk (depth `ndims`) under `collection` holds.
fn infer_types(
    collection: &Path,
    ndims: usize,
    keys: &[&str],
    kind: Kind,
) -> Result<Vec<(String, AttrType)>, GraphError> {
    let mut dir = collection.to_owned();
    for _ in 0..ndims {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(Vec::new());
        };
        let mut next: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .filter(|e| {
                e.file_name()
                    .to_str()
                    .is_some_and(|n| n.parse::<i64>().is_ok())
            })
            .map(|e| e.path())
            .collect();
        next.sort();
        match next.into_iter().next() {
            Some(d) => dir = d,
            None => return Ok(Vec::new()),
        }
    }
    let meta_file = dir.join(META);
    let Some(meta) = read_json(&meta_file)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for name in meta
        .get("attributes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if keys.contains(&name) {
            continue;
        }
        let file = dir.join(format!("{name}.npz"));
        let Some((array, _)) = read_column(&file, kind)? else {
            continue;
        };
        let scalar = match array.data {
            NpyData::U64(_) | NpyData::I64(_) => ScalarType::Int,
            NpyData::F64(_) | NpyData::F32(_) => ScalarType::Float,
            NpyData::Bool(_) => ScalarType::Bool,
            NpyData::Str(_) => ScalarType::Str,
        };
        let t = if array.shape.len() == 2 {
            AttrType::Vec(scalar, array.columns())
        } else {
            AttrType::Scalar(scalar)
        };
        out.push((name.to_owned(), t));
    }
    Ok(out)
}

/// The array under `kind`'s key in `file` and its mask (true where a value is present), if
/// it has one; `None` if the file does not exist.
fn read_column(file: &Path, kind: Kind) -> Result<Option<Masked>, GraphError> {
    let bytes = match std::fs::read(file) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(file, e)),
    };
    let mut entries = read_npz(&bytes, file)?;
    let array = entries.remove(kind.key()).ok_or_else(|| {
        malformed(
            file,
            format!(
                "no {:?} array (it holds {:?})",
                kind.key(),
                entries.keys().collect::<Vec<_>>()
            ),
        )
    })?;
    let mask = match entries.remove("mask") {
        None => None,
        Some(NpyArray {
            data: NpyData::Bool(mask),
            ..
        }) if mask.len() == array.rows() => Some(mask),
        Some(other) => {
            return Err(malformed(
                file,
                format!(
                    "its mask ({}, {} rows) is not a boolean per row of the {} rows",
                    other.descr(),
                    other.rows(),
                    array.rows()
                ),
            ));
        }
    };
    Ok(Some((array, mask)))
}

/// Node ids or endpoints of a key column.
fn ids_of(array: &NpyArray, file: &Path) -> Result<Vec<u64>, GraphError> {
    match &array.data {
        NpyData::U64(v) => Ok(v.clone()),
        NpyData::I64(v) => v
            .iter()
            .map(|&i| u64::try_from(i).map_err(|_| malformed(file, format!("id {i} is negative"))))
            .collect(),
        _ => Err(malformed(
            file,
            format!("ids of dtype {}, not an integer", array.descr()),
        )),
    }
}

/// The values of a column as attributes of type `t`.
fn values_of(
    array: &NpyArray,
    mask: Option<Vec<bool>>,
    t: AttrType,
    file: &Path,
) -> Result<Vec<AttrValue>, GraphError> {
    let (scalar, width) = match t {
        AttrType::Scalar(s) => (s, None),
        AttrType::Vec(s, k) => (s, Some(k)),
    };
    match (width, array.shape.len()) {
        (None, 1) => {}
        (Some(k), 2) if array.columns() == k => {}
        _ => {
            return Err(malformed(
                file,
                format!("shape {:?} does not hold values of type {t}", array.shape),
            ));
        }
    }
    let wrong = || {
        malformed(
            file,
            format!("dtype {} does not hold values of type {t}", array.descr()),
        )
    };
    let elements: Vec<AttrValue> = match (scalar, &array.data) {
        (ScalarType::Int, NpyData::I64(v)) => v.iter().map(|&x| AttrValue::Int(x)).collect(),
        (ScalarType::Int, NpyData::U64(v)) => v
            .iter()
            .map(|&x| i64::try_from(x).map(AttrValue::Int).map_err(|_| wrong()))
            .collect::<Result<_, _>>()?,
        (ScalarType::Float, NpyData::F64(v)) => v.iter().map(|&x| AttrValue::Float(x)).collect(),
        (ScalarType::Float, NpyData::F32(v)) => {
            v.iter().map(|&x| AttrValue::Float(f64::from(x))).collect()
        }
        (ScalarType::Float, NpyData::I64(v)) => {
            v.iter().map(|&x| AttrValue::Float(x as f64)).collect()
        }
        (ScalarType::Float, NpyData::U64(v)) => {
            v.iter().map(|&x| AttrValue::Float(x as f64)).collect()
        }
        (ScalarType::Bool, NpyData::Bool(v)) => v.iter().map(|&x| AttrValue::Bool(x)).collect(),
        (ScalarType::Str, NpyData::Str(v)) => v.iter().map(|x| AttrValue::Str(x.clone())).collect(),
        _ => return Err(wrong()),
    };
    let mut values: Vec<AttrValue> = match width {
        None => elements,
        Some(k) => elements
            .chunks(k.max(1))
            .map(|row| AttrValue::List(row.to_vec()))
            .collect(),
    };
    if let Some(mask) = mask {
        for (value, present) in values.iter_mut().zip(mask) {
            if !present {
                *value = AttrValue::Null;
            }
        }
    }
    Ok(values)
}

/// The array of attribute `name` of `rows` (absent values as zeros) and, if any is absent,
/// the mask of present ones.
fn column_of(rows: &[Attrs], name: &str, t: AttrType) -> (NpyArray, Option<NpyArray>) {
    let n = rows.len();
    let (scalar, width) = match t {
        AttrType::Scalar(s) => (s, 1),
        AttrType::Vec(s, k) => (s, k),
    };
    let mut mask = Vec::with_capacity(n);
    let mut elements: Vec<&AttrValue> = Vec::with_capacity(n * width);
    const NULL: AttrValue = AttrValue::Null;
    for row in rows {
        let value = row.get(name).unwrap_or(&NULL);
        mask.push(*value != AttrValue::Null);
        match (t, value) {
            (AttrType::Vec(..), AttrValue::List(items)) => {
                elements.extend((0..width).map(|d| items.get(d).unwrap_or(&NULL)));
            }
            (AttrType::Vec(..), _) => elements.extend(std::iter::repeat_n(&NULL, width)),
            (AttrType::Scalar(_), v) => elements.push(v),
        }
    }
    let data = match scalar {
        ScalarType::Int => NpyData::I64(
            elements
                .iter()
                .map(|v| match v {
                    AttrValue::Int(i) => *i,
                    _ => 0,
                })
                .collect(),
        ),
        ScalarType::Float => {
            NpyData::F64(elements.iter().map(|v| v.as_f64().unwrap_or(0.0)).collect())
        }
        ScalarType::Bool => NpyData::Bool(
            elements
                .iter()
                .map(|v| matches!(v, AttrValue::Bool(true)))
                .collect(),
        ),
        ScalarType::Str => NpyData::Str(
            elements
                .iter()
                .map(|v| match v {
                    AttrValue::Str(s) => s.clone(),
                    _ => String::new(),
                })
                .collect(),
        ),
    };
    let shape = match t {
        AttrType::Scalar(_) => vec![n],
        AttrType::Vec(_, k) => vec![n, k],
    };
    let mask = (!mask.iter().all(|&m| m)).then(|| NpyArray {
        shape: vec![n],
        data: NpyData::Bool(mask),
    });
    (NpyArray { shape, data }, mask)
}

fn read_json(file: &Path) -> Result<Option<Value>, GraphError> {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(file, e)),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| malformed(file, format!("not JSON: {e}")))
}

/// Writes `bytes` to a temporary file next to `file` and renames it into place, so that
/// readers see the old file or the new one, never a part.
fn write_atomic(file: &Path, bytes: &[u8]) -> Result<(), GraphError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = file.with_file_name(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&tmp, bytes).map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, file).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(file, e)
    })
}

/// Locks the chunk in `dir` through its `.lock` file (creating the directory for an
/// exclusive lock); released when the file is dropped. A reader that cannot create the lock
/// file (a read-only copy) reads without it.
fn lock(dir: &Path, exclusive: bool) -> Result<Option<File>, GraphError> {
    let path = dir.join(LOCK);
    if exclusive {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    } else if !dir.exists() {
        return Ok(None);
    }
    let file = match OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
    {
        Ok(file) => file,
        Err(_) if !exclusive => return Ok(None),
        Err(e) => return Err(io(&path, e)),
    };
    if exclusive {
        file.lock().map_err(|e| io(&path, e))?;
    } else {
        file.lock_shared().map_err(|e| io(&path, e))?;
    }
    Ok(Some(file))
}

impl GraphStore for FileGraphStore {
    fn metadata(&self) -> &GraphMetadata {
        &self.metadata
    }

    fn mode(&self) -> Mode {
        self.mode
    }

    fn describe(&self) -> String {
        self.directory.display().to_string()
    }

    fn write_nodes(
        &mut self,
        graph: &Graph,
        roi: Option<&Roi>,
        attrs: Option<&[String]>,
        fail_if_exists: bool,
    ) -> Result<usize, GraphError> {
        let (nodes, names) = self.nodes_to_write("write nodes to", graph, roi, attrs)?;
        let mut rows = Vec::with_capacity(nodes.len());
        for node in nodes {
            check_id(node.id)?;
            let mut kept: Attrs = names
                .iter()
                .map(|n| {
                    (
                        n.clone(),
                        node.attrs.get(n).cloned().unwrap_or(AttrValue::Null),
                    )
                })
                .collect();
            // The position decides the chunk: it is stored even if not asked for.
            let p = &self.metadata.position_attribute;
            kept.insert(
                p.clone(),
                node.attrs.get(p).cloned().unwrap_or(AttrValue::Null),
            );
            rows.push(((node.id, 0), kept));
        }
        let by_chunk =
            self.group_by_chunk(rows, |((id, _), attrs)| self.node_position(*id, attrs))?;
        self.insert(Kind::Nodes, by_chunk, fail_if_exists)
    }

    fn write_edges(
        &mut self,
        graph: &Graph,
        roi: Option<&Roi>,
        attrs: Option<&[String]>,
        fail_if_exists: bool,
    ) -> Result<usize, GraphError> {
        let (edges, names) = self.edges_to_write("write edges to", graph, roi, attrs)?;
        let mut rows = Vec::with_capacity(edges.len());
        for edge in &edges {
            check_id(edge.u)?;
            check_id(edge.v)?;
            let position = self.edge_position(graph, edge)?;
            let kept: Attrs = names
                .iter()
                .map(|n| {
                    (
                        n.clone(),
                        edge.attrs.get(n).cloned().unwrap_or(AttrValue::Null),
                    )
                })
                .collect();
            rows.push((self.chunk_of(&position), ((edge.u, edge.v), kept)));
        }
        let mut by_chunk: BTreeMap<Vec<i64>, Vec<_>> = BTreeMap::new();
        for (index, row) in rows {
            by_chunk.entry(index).or_default().push(row);
        }
        self.insert(Kind::Edges, by_chunk, fail_if_exists)
    }

    fn update_nodes(
        &mut self,
        graph: &Graph,
        roi: Option<&Roi>,
        attrs: &[String],
    ) -> Result<usize, GraphError> {
        let (nodes, names) = self.nodes_to_write("update nodes in", graph, roi, Some(attrs))?;
        if names.is_empty() {
            return Ok(0);
        }
        let mut rows = Vec::with_capacity(nodes.len());
        for node in nodes {
            // The chunk of the position stored (a node whose position moves to another
            // chunk is not found there, and not updated).
            let Some(position) = position_of(&node.attrs, &self.metadata) else {
                continue;
            };
            let kept: Attrs = names
                .iter()
                .map(|n| {
                    (
                        n.clone(),
                        node.attrs.get(n).cloned().unwrap_or(AttrValue::Null),
                    )
                })
                .collect();
            rows.push((self.chunk_of(&position), ((node.id, 0), kept)));
        }
        let mut by_chunk: BTreeMap<Vec<i64>, Vec<_>> = BTreeMap::new();
        for (index, row) in rows {
            by_chunk.entry(index).or_default().push(row);
        }
        self.update(Kind::Nodes, by_chunk)
    }

    fn update_edges(
        &mut self,
        graph: &Graph,
        roi: Option<&Roi>,
        attrs: &[String],
    ) -> Result<usize, GraphError> {
        let (edges, names) = self.edges_to_write("update edges in", graph, roi, Some(attrs))?;
        if names.is_empty() {
            return Ok(0);
        }
        let mut by_chunk: BTreeMap<Vec<i64>, Vec<_>> = BTreeMap::new();
        for edge in &edges {
            let position = self.edge_position(graph, edge)?;
            let kept: Attrs = names
                .iter()
                .map(|n| {
                    (
                        n.clone(),
                        edge.attrs.get(n).cloned().unwrap_or(AttrValue::Null),
                    )
                })
                .collect();
            by_chunk
                .entry(self.chunk_of(&position))
                .or_default()
                .push(((edge.u, edge.v), kept));
        }
        self.update(Kind::Edges, by_chunk)
    }

    fn read_nodes(&self, query: &NodeQuery) -> Result<Vec<Node>, GraphError> {
        let types = self.attr_types(query.attrs.as_deref(), Kind::Nodes)?;
        self.select_nodes(query.roi.as_ref(), &query.filter, &types)
    }

    fn read_edges(&self, query: &EdgeQuery) -> Result<Vec<Edge>, GraphError> {
        let types = self.attr_types(query.attrs.as_deref(), Kind::Edges)?;
        let checks = self.filter_types(&query.filter, Kind::Edges)?;
        let mut load = types.clone();
        let mut extra = Vec::new();
        for (name, t, _) in &checks {
            if !load.iter().any(|(n, _)| n == name) {
                load.push((name.clone(), *t));
                extra.push(name.clone());
            }
        }
        // Which chunks to visit, and which endpoints select an edge.
        let (dirs, ids): (Vec<PathBuf>, Option<BTreeSet<u64>>) = match &query.selection {
            EdgeSelection::All => (self.chunk_dirs(Kind::Edges, None)?, None),
            EdgeSelection::Nodes(ids) => {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                (
                    self.chunk_dirs(Kind::Edges, None)?,
                    Some(ids.iter().copied().collect()),
                )
            }
            EdgeSelection::Roi(roi) => {
                let ids: BTreeSet<u64> = self
                    .select_nodes(Some(roi), &Vec::new(), &[])?
                    .iter()
                    .map(|n| n.id)
                    .collect();
                // On u only: the chunks of the ROI hold every such edge.
                let dirs = if query.fetch_on_v {
                    self.chunk_dirs(Kind::Edges, None)?
                } else {
                    self.chunk_dirs(Kind::Edges, Some(roi))?
                };
                (dirs, Some(ids))
            }
        };
        let mut out = Vec::new();
        for dir in dirs {
            let chunk = self.read_chunk(&dir, Kind::Edges, &load)?;
            for ((u, v), mut attrs) in chunk.keys.into_iter().zip(chunk.rows) {
                if let Some(ids) = &ids
                    && !(ids.contains(&u) || (query.fetch_on_v && ids.contains(&v)))
                {
                    continue;
                }
                if !passes(&attrs, &checks) {
                    continue;
                }
                for name in &extra {
                    attrs.remove(name);
                }
                out.push(Edge { u, v, attrs });
            }
        }
        Ok(out)
    }

    fn num_nodes(&self, roi: Option<&Roi>) -> Result<u64, GraphError> {
        Ok(self.select_nodes(roi, &Vec::new(), &[])?.len() as u64)
    }

    fn has_edges(&self, roi: Option<&Roi>) -> Result<bool, GraphError> {
        match roi {
            None => {
                for dir in self.chunk_dirs(Kind::Edges, None)? {
                    if !self.read_chunk(&dir, Kind::Edges, &[])?.keys.is_empty() {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Some(roi) => Ok(!self
                .read_edges(&EdgeQuery {
                    selection: EdgeSelection::Roi(*roi),
                    attrs: Some(Vec::new()),
                    ..EdgeQuery::default()
                })?
                .is_empty()),
        }
    }

    /// Nothing to do: there is no index to drop, and every write already is one locked,
    /// atomic rewrite per chunk it touches.
    fn begin_bulk_write(&mut self, _worker: bool) -> Result<(), GraphError> {
        self.check_writable("bulk write to")
    }

    /// Nothing to do (see [`FileGraphStore::begin_bulk_write`]).
    fn end_bulk_write(&mut self) -> Result<(), GraphError> {
        Ok(())
    }
}
