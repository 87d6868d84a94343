//! A graph store in one SQLite file, in funlib.persistence 0.7's `SQLiteGraphDataBase` layout,
//! so that funlib.persistence reads what it writes and the other way round:
//!
//! * the metadata in the sidecar `<dir>/<stem>-meta.json` next to the database file;
//! * a nodes table `id INTEGER not null PRIMARY KEY` with one (untyped) column per scalar
//!   attribute and one per element of a vector attribute (`position_0`, `position_1`, ...),
//!   and the index `pos_index` on the position columns;
//! * an edges table `u INTEGER not null, v INTEGER not null`, the attribute columns, and
//!   `PRIMARY KEY (u, v)`.
//!
//! Booleans are stored as 0/1 integers (as Python's `sqlite3` does) and read back by declared
//! type. Many processes may write one database at once: it runs in WAL journal mode, every
//! write is one `BEGIN IMMEDIATE` transaction, and a write or read that finds the database
//! busy or locked waits and is retried with backoff, so none fails with "database is locked".

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use daisy_geometry::Roi;
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior, params_from_iter};

use crate::attr::{AttrType, AttrValue, ScalarType};
use crate::error::GraphError;
use crate::graph::{Attrs, Edge, Graph, Node};
use crate::metadata::{GraphMetadata, GraphOptions, Mode};
use crate::query::{EdgeQuery, EdgeSelection, Filter, NodeQuery};
use crate::store::GraphStore;

/// How a declared attribute type is looked up.
type Lookup = fn(&GraphMetadata, &str) -> Result<AttrType, GraphError>;

const BACKEND: &str = "sqlite";
/// How long SQLite itself waits for a lock before returning `SQLITE_BUSY`.
/// The page cache of a connection, in KiB.
const CACHE_KIB: u32 = 256 * 1024;
/// How much of the file a connection maps for reading, in bytes.
const MMAP_BYTES: u64 = 1 << 30;
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a busy or locked database is retried before the error reaches the caller.
const RETRY_FOR: Duration = Duration::from_secs(600);

/// A graph store in an SQLite file, in funlib.persistence 0.7's layout.
pub struct SqliteGraphStore {
    conn: Connection,
    db_file: PathBuf,
    meta_file: PathBuf,
    metadata: GraphMetadata,
    mode: Mode,
    /// In bulk write mode: whether as a worker, and the `synchronous` setting to restore.
    bulk: Option<(bool, i64)>,
}

/// Why a step inside a retried operation failed.
enum Failure {
    Sql(rusqlite::Error),
    Graph(GraphError),
    /// A stored value the graph's types cannot hold.
    Row(String),
}

impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Failure {
        Failure::Sql(e)
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

fn is_constraint(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(ErrorCode::ConstraintViolation))
}

/// The columns of attribute `name`: one per element of a vector.
fn columns_of(name: &str, t: AttrType) -> Vec<String> {
    match t {
        AttrType::Vec(_, size) => (0..size).map(|d| format!("{name}_{d}")).collect(),
        AttrType::Scalar(_) => vec![name.to_owned()],
    }
}

fn all_columns(attrs: &[(String, AttrType)]) -> Vec<String> {
    attrs.iter().flat_map(|(n, t)| columns_of(n, *t)).collect()
}

/// The SQL value of one scalar.
fn scalar_to_sql(t: ScalarType, value: &AttrValue) -> Value {
    match value {
        AttrValue::Null | AttrValue::List(_) => Value::Null,
        AttrValue::Bool(b) => Value::Integer(i64::from(*b)),
        AttrValue::Int(i) if t == ScalarType::Float => Value::Real(*i as f64),
        AttrValue::Int(i) => Value::Integer(*i),
        AttrValue::Float(f) => Value::Real(*f),
        AttrValue::Str(s) => Value::Text(s.clone()),
    }
}

/// Appends the SQL values of `value` (one per column of its type) to `out`.
fn push_values(t: AttrType, value: &AttrValue, out: &mut Vec<Value>) {
    match (t, value) {
        (AttrType::Scalar(s), v) => out.push(scalar_to_sql(s, v)),
        (AttrType::Vec(s, size), AttrValue::List(items)) => {
            out.extend(
                (0..size).map(|d| items.get(d).map_or(Value::Null, |v| scalar_to_sql(s, v))),
            );
        }
        (AttrType::Vec(_, size), _) => out.extend((0..size).map(|_| Value::Null)),
    }
}

/// The attribute value of a stored scalar, by declared type.
fn scalar_from_sql(t: ScalarType, value: ValueRef<'_>, column: &str) -> Result<AttrValue, String> {
    Ok(match (t, value) {
        (_, ValueRef::Null) => AttrValue::Null,
        (ScalarType::Bool, ValueRef::Integer(i)) => AttrValue::Bool(i != 0),
        (ScalarType::Float, ValueRef::Integer(i)) => AttrValue::Float(i as f64),
        (ScalarType::Str, ValueRef::Integer(i)) => AttrValue::Str(i.to_string()),
        (_, ValueRef::Integer(i)) => AttrValue::Int(i),
        (ScalarType::Str, ValueRef::Real(f)) => AttrValue::Str(f.to_string()),
        (_, ValueRef::Real(f)) => AttrValue::Float(f),
        (_, ValueRef::Text(bytes)) => AttrValue::Str(
            std::str::from_utf8(bytes)
                .map_err(|e| format!("column {column} holds text that is not UTF-8: {e}"))?
                .to_owned(),
        ),
        (_, ValueRef::Blob(_)) => {
            return Err(format!("column {column} holds a blob, not a {}", t.name()));
        }
    })
}

/// Reads the attributes `attrs` from the row, starting at column `first`.
fn attrs_from_row(
    row: &rusqlite::Row<'_>,
    first: usize,
    attrs: &[(String, AttrType)],
) -> Result<Attrs, Failure> {
    let mut out = Attrs::new();
    let mut index = first;
    for (name, t) in attrs {
        let value = match *t {
            AttrType::Scalar(s) => {
                let v = scalar_from_sql(s, row.get_ref(index)?, name).map_err(invalid_row)?;
                index += 1;
                v
            }
            AttrType::Vec(s, size) => {
                let mut items = Vec::with_capacity(size);
                for d in 0..size {
                    items.push(
                        scalar_from_sql(s, row.get_ref(index)?, &format!("{name}_{d}"))
                            .map_err(invalid_row)?,
                    );
                    index += 1;
                }
                if items.iter().all(|v| *v == AttrValue::Null) {
                    AttrValue::Null
                } else {
                    AttrValue::List(items)
                }
            }
        };
        out.insert(name.clone(), value);
    }
    Ok(out)
}

fn invalid_row(reason: String) -> Failure {
    Failure::Row(reason)
}

fn stored_id(id: u64) -> Result<i64, GraphError> {
    i64::try_from(id).map_err(|_| GraphError::IdOutOfRange {
        id,
        backend: BACKEND,
    })
}

fn read_id(row: &rusqlite::Row<'_>, index: usize) -> Result<u64, Failure> {
    let id: i64 = row.get(index)?;
    u64::try_from(id).map_err(|_| invalid_row(format!("node id {id} is negative")))
}

/// `col IS ?` conditions (NULL matching NULL) for a filter, with their values.
fn filter_sql(
    filter: &Filter,
    declared: &dyn Fn(&str) -> Result<AttrType, GraphError>,
    kind: &'static str,
    prefix: &str,
    clauses: &mut Vec<String>,
    params: &mut Vec<Value>,
) -> Result<(), GraphError> {
    for (name, value) in filter {
        let t = declared(name)?;
        if !t.admits(value) {
            return Err(GraphError::WrongType {
                kind,
                id: "filter".into(),
                attr: name.clone(),
                expected: t,
                value: value.to_string(),
            });
        }
        for column in columns_of(name, t) {
            clauses.push(format!("{prefix}{column} IS ?"));
        }
        push_values(t, value, params);
    }
    Ok(())
}

impl SqliteGraphStore {
    /// Opens the graph in `db_file` (its metadata in `<dir>/<stem>-meta.json`): mode `w`
    /// replaces any graph there by a new one from `options`; `r` and `r+` read the metadata
    /// and check every option given against it.
    ///
    /// # Errors
    /// [`GraphError::NoMetadata`], [`GraphError::MetadataMismatch`],
    /// [`GraphError::InvalidOptions`], [`GraphError::InvalidMetadata`] (from the options and
    /// the sidecar); [`GraphError::SchemaMismatch`] if a table exists with other columns;
    /// [`GraphError::Io`] for the sidecar; [`GraphError::Backend`].
    pub fn open(
        db_file: &Path,
        mode: Mode,
        options: &GraphOptions,
    ) -> Result<SqliteGraphStore, GraphError> {
        let dir = db_file.parent().unwrap_or(Path::new(""));
        let stem = db_file
            .file_stem()
            .ok_or_else(|| GraphError::InvalidOptions {
                reason: format!("db_file {} has no file name", db_file.display()),
            })?;
        let mut meta_name = stem.to_os_string();
        meta_name.push("-meta.json");
        let meta_file = dir.join(meta_name);
        let store = db_file.display().to_string();

        let stored = match mode {
            Mode::Write => None,
            Mode::Read | Mode::ReadWrite => read_sidecar(&meta_file, &store)?,
        };
        let metadata = GraphMetadata::open(stored, options, mode, &store)?;
        let flags = match mode {
            Mode::Read => OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            Mode::ReadWrite | Mode::Write => {
                OpenFlags::SQLITE_OPEN_READ_WRITE
                    | OpenFlags::SQLITE_OPEN_CREATE
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX
            }
        };
        let conn =
            Connection::open_with_flags(db_file, flags).map_err(|e| GraphError::Backend {
                backend: BACKEND,
                action: "opening the database".into(),
                store: store.clone(),
                source: Box::new(e),
            })?;
        let mut this = SqliteGraphStore {
            conn,
            db_file: db_file.to_owned(),
            meta_file,
            metadata,
            mode,
            bulk: None,
        };
        this.retry("configuring the connection", |s| {
            s.conn.busy_timeout(BUSY_TIMEOUT)?;
            // SQLite's default page cache is 2 MB: a graph of millions of rows then rereads
            // its index pages from the file on every insert into the (u, v) key and every
            // ROI join. Up to CACHE_KIB per connection (allocated only as pages are read).
            // Reads map the file instead of copying each page through a system call.
            s.conn.execute_batch(&format!(
                "PRAGMA cache_size=-{CACHE_KIB}; PRAGMA mmap_size={MMAP_BYTES}"
            ))?;
            if mode != Mode::Read {
                // Persistent: every later connection (Python's too) uses WAL.
                let _: String = s
                    .conn
                    .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
            }
            Ok(())
        })?;
        if mode == Mode::Write {
            this.drop_tables()?;
            let json = this.metadata.to_json_text();
            std::fs::write(&this.meta_file, json).map_err(|source| GraphError::Io {
                path: this.meta_file.clone(),
                source,
            })?;
        }
        this.check_schema()?;
        if mode != Mode::Read {
            this.create_tables()?;
        } else {
            this.retry("making the connection read-only", |s| {
                s.conn.execute_batch("PRAGMA query_only=ON")?;
                Ok(())
            })?;
        }
        Ok(this)
    }

    /// The database file.
    #[must_use]
    pub fn db_file(&self) -> &Path {
        &self.db_file
    }

    /// The metadata sidecar file (`<dir>/<stem>-meta.json`).
    #[must_use]
    pub fn meta_file(&self) -> &Path {
        &self.meta_file
    }

    fn backend_error(
        &self,
        action: &str,
        source: Box<dyn std::error::Error + Send + Sync>,
    ) -> GraphError {
        GraphError::backend(BACKEND, action, self.describe(), source)
    }

    /// Runs `f`, again with backoff while the database is busy or locked.
    fn retry<T>(
        &mut self,
        action: &str,
        mut f: impl FnMut(&mut Self) -> Result<T, Failure>,
    ) -> Result<T, GraphError> {
        let start = Instant::now();
        let mut wait = Duration::from_millis(1);
        loop {
            match f(self) {
                Ok(v) => return Ok(v),
                Err(Failure::Graph(e)) => return Err(e),
                Err(Failure::Sql(e)) if is_busy(&e) && start.elapsed() < RETRY_FOR => {
                    std::thread::sleep(jittered(wait));
                    wait = (wait * 2).min(Duration::from_millis(250));
                }
                Err(Failure::Sql(e)) => return Err(self.backend_error(action, Box::new(e))),
                Err(Failure::Row(reason)) => {
                    return Err(self.backend_error(action, reason.into()));
                }
            }
        }
    }

    /// [`SqliteGraphStore::retry`] for reads (`&self`).
    fn retry_read<T>(
        &self,
        action: &str,
        mut f: impl FnMut(&Connection) -> Result<T, Failure>,
    ) -> Result<T, GraphError> {
        let start = Instant::now();
        let mut wait = Duration::from_millis(1);
        loop {
            match f(&self.conn) {
                Ok(v) => return Ok(v),
                Err(Failure::Graph(e)) => return Err(e),
                Err(Failure::Sql(e)) if is_busy(&e) && start.elapsed() < RETRY_FOR => {
                    std::thread::sleep(jittered(wait));
                    wait = (wait * 2).min(Duration::from_millis(250));
                }
                Err(Failure::Sql(e)) => return Err(self.backend_error(action, Box::new(e))),
                Err(Failure::Row(reason)) => {
                    return Err(self.backend_error(action, reason.into()));
                }
            }
        }
    }

    /// As funlib's `_drop_tables`: both tables and its old `edge_index` table.
    fn drop_tables(&mut self) -> Result<(), GraphError> {
        let sql = format!(
            "DROP TABLE IF EXISTS {}; DROP TABLE IF EXISTS {}; DROP TABLE IF EXISTS edge_index;",
            self.metadata.nodes_table, self.metadata.edges_table
        );
        self.retry("dropping the tables", |s| {
            s.conn.execute_batch(&sql)?;
            Ok(())
        })
    }

    fn position_columns(&self) -> Vec<String> {
        let m = &self.metadata;
        m.node_attr(&m.position_attribute)
            .map(|t| columns_of(&m.position_attribute, t))
            .unwrap_or_else(|_| vec![m.position_attribute.clone()])
    }

    fn node_columns(&self) -> Vec<String> {
        let mut columns = vec!["id".to_owned()];
        columns.extend(all_columns(&self.metadata.node_attrs));
        columns
    }

    fn edge_columns(&self) -> Vec<String> {
        let mut columns = self.metadata.endpoint_names.to_vec();
        columns.extend(all_columns(&self.metadata.edge_attrs));
        columns
    }

    /// As funlib's `_create_tables` (`IF NOT EXISTS`).
    fn create_tables(&mut self) -> Result<(), GraphError> {
        let m = &self.metadata;
        let mut nodes = vec!["id INTEGER not null PRIMARY KEY".to_owned()];
        nodes.extend(all_columns(&m.node_attrs));
        let [u, v] = &m.endpoint_names;
        let mut edges = vec![
            format!("{u} INTEGER not null"),
            format!("{v} INTEGER not null"),
        ];
        edges.extend(all_columns(&m.edge_attrs));
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {}({});\n\
             CREATE INDEX IF NOT EXISTS pos_index ON {}({});\n\
             CREATE TABLE IF NOT EXISTS {}({}, PRIMARY KEY ({u}, {v}));",
            m.nodes_table,
            nodes.join(", "),
            m.nodes_table,
            self.position_columns().join(","),
            m.edges_table,
            edges.join(", "),
        );
        self.retry("creating the tables", |s| {
            s.conn.execute_batch(&sql)?;
            Ok(())
        })
    }

    /// Checks that existing tables have the graph's columns and primary keys (a missing
    /// table is only an error when reading).
    fn check_schema(&mut self) -> Result<(), GraphError> {
        let nodes = (
            self.metadata.nodes_table.clone(),
            self.node_columns(),
            vec!["id".to_owned()],
        );
        let edges = (
            self.metadata.edges_table.clone(),
            self.edge_columns(),
            self.metadata.endpoint_names.to_vec(),
        );
        for (table, expected, key) in [nodes, edges] {
            let sql = format!("PRAGMA table_info({table})");
            let found: Vec<(String, i64)> = self.retry("reading the table schema", |s| {
                let mut stmt = s.conn.prepare(&sql)?;
                let rows = stmt
                    .query_map([], |r| Ok((r.get::<_, String>(1)?, r.get::<_, i64>(5)?)))?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })?;
            if found.is_empty() {
                if self.mode == Mode::Read {
                    return Err(self.schema_mismatch(&table, "the table does not exist".into()));
                }
                continue;
            }
            let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
            let missing: Vec<&String> = expected
                .iter()
                .filter(|c| !names.contains(&c.as_str()))
                .collect();
            let extra: Vec<&str> = names
                .iter()
                .copied()
                .filter(|n| !expected.iter().any(|c| c == n))
                .collect();
            if !missing.is_empty() || !extra.is_empty() {
                let mut reason = format!("it has columns {names:?}, the graph needs {expected:?}");
                if !missing.is_empty() {
                    let _ = write!(reason, " (missing {missing:?})");
                }
                if !extra.is_empty() {
                    let _ = write!(reason, " (not declared {extra:?})");
                }
                return Err(self.schema_mismatch(&table, reason));
            }
            let mut pk: Vec<(i64, &str)> = found
                .iter()
                .filter(|(_, pk)| *pk > 0)
                .map(|(n, pk)| (*pk, n.as_str()))
                .collect();
            pk.sort_unstable();
            let pk: Vec<&str> = pk.into_iter().map(|(_, n)| n).collect();
            if pk != key.iter().map(String::as_str).collect::<Vec<_>>() {
                return Err(self.schema_mismatch(
                    &table,
                    format!("its primary key is {pk:?}, the graph needs {key:?}"),
                ));
            }
        }
        Ok(())
    }

    fn schema_mismatch(&self, table: &str, reason: String) -> GraphError {
        GraphError::SchemaMismatch {
            table: table.to_owned(),
            store: self.describe(),
            reason,
        }
    }

    /// `pos >= begin AND pos < end` on the position columns (of table alias `prefix`).
    fn roi_sql(
        &self,
        roi: &Roi,
        prefix: &str,
        clauses: &mut Vec<String>,
        params: &mut Vec<Value>,
    ) -> Result<(), GraphError> {
        self.metadata.check_roi(roi)?;
        let (begin, end) = (roi.begin(), roi.end());
        for (d, column) in self.position_columns().iter().enumerate() {
            if let Some(b) = begin.get(d) {
                clauses.push(format!("{prefix}{column} >= ?"));
                params.push(Value::Integer(b));
            }
            if let Some(e) = end.get(d) {
                clauses.push(format!("{prefix}{column} < ?"));
                params.push(Value::Integer(e));
            }
        }
        Ok(())
    }

    fn attr_types(
        &self,
        attrs: Option<&[String]>,
        edges: bool,
    ) -> Result<Vec<(String, AttrType)>, GraphError> {
        let (declared, lookup): (_, Lookup) = if edges {
            (&self.metadata.edge_attrs, GraphMetadata::edge_attr)
        } else {
            (&self.metadata.node_attrs, GraphMetadata::node_attr)
        };
        match attrs {
            None => Ok(declared.clone()),
            Some(names) => names
                .iter()
                .map(|n| lookup(&self.metadata, n).map(|t| (n.clone(), t)))
                .collect(),
        }
    }

    /// Inserts `rows` (each: key values, then attribute values) into `table`.
    fn insert(
        &mut self,
        table: &str,
        key_columns: &[String],
        attrs: &[(String, AttrType)],
        rows: Vec<Vec<Value>>,
        fail_if_exists: bool,
    ) -> Result<usize, GraphError> {
        if rows.is_empty() {
            return Ok(0);
        }
        let mut columns = key_columns.to_vec();
        columns.extend(attrs.iter().flat_map(|(n, t)| columns_of(n, *t)));
        let sql = format!(
            "INSERT{} INTO {table} ({}) VALUES ({})",
            if fail_if_exists { "" } else { " OR IGNORE" },
            columns.join(", "),
            vec!["?"; columns.len()].join(", ")
        );
        let store = self.describe();
        self.retry("inserting rows", |s| {
            let tx = s
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut written = 0;
            {
                let mut stmt = tx.prepare_cached(&sql)?;
                for values in &rows {
                    match stmt.execute(params_from_iter(values)) {
                        Ok(n) => written += n,
                        Err(e) if fail_if_exists && is_constraint(&e) => {
                            return Err(Failure::Graph(GraphError::AlreadyExists {
                                what: row_name(&values[..key_columns.len()]),
                                store: store.clone(),
                            }));
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            tx.commit()?;
            Ok(written)
        })
    }

    /// Runs `UPDATE` statement `sql` once per row of values in one transaction.
    fn update(&mut self, sql: &str, rows: Vec<Vec<Value>>) -> Result<usize, GraphError> {
        if rows.is_empty() {
            return Ok(0);
        }
        self.retry("updating rows", |s| {
            let tx = s
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut updated = 0;
            {
                let mut stmt = tx.prepare_cached(sql)?;
                for values in &rows {
                    updated += stmt.execute(params_from_iter(values))?;
                }
            }
            tx.commit()?;
            Ok(updated)
        })
    }
}

fn read_sidecar(meta_file: &Path, store: &str) -> Result<Option<GraphMetadata>, GraphError> {
    let text = match std::fs::read_to_string(meta_file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(GraphError::Io {
                path: meta_file.to_owned(),
                source,
            });
        }
    };
    GraphMetadata::from_json_text(&text, store, &meta_file.display().to_string()).map(Some)
}

/// `wait` plus up to half of it again, varying between processes and calls.
fn jittered(wait: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let seed = u64::from(nanos ^ std::process::id().rotate_left(16));
    let half = wait.as_micros().max(2) as u64 / 2;
    wait + Duration::from_micros(seed % half)
}

impl GraphStore for SqliteGraphStore {
    fn metadata(&self) -> &GraphMetadata {
        &self.metadata
    }

    fn mode(&self) -> Mode {
        self.mode
    }

    fn describe(&self) -> String {
        self.db_file.display().to_string()
    }

    fn write_nodes(
        &mut self,
        graph: &Graph,
        roi: Option<&Roi>,
        attrs: Option<&[String]>,
        fail_if_exists: bool,
    ) -> Result<usize, GraphError> {
        let (nodes, names) = self.nodes_to_write("write nodes to", graph, roi, attrs)?;
        let types = self.attr_types(Some(&names), false)?;
        let rows = node_rows(&nodes, &types)?;
        let table = self.metadata.nodes_table.clone();
        self.insert(&table, &["id".to_owned()], &types, rows, fail_if_exists)
    }

    fn write_edges(
        &mut self,
        graph: &Graph,
        roi: Option<&Roi>,
        attrs: Option<&[String]>,
        fail_if_exists: bool,
    ) -> Result<usize, GraphError> {
        let (edges, names) = self.edges_to_write("write edges to", graph, roi, attrs)?;
        let types = self.attr_types(Some(&names), true)?;
        let rows = edge_rows(&edges, &types, false)?;
        let table = self.metadata.edges_table.clone();
        let keys = self.metadata.endpoint_names.to_vec();
        self.insert(&table, &keys, &types, rows, fail_if_exists)
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
        let types = self.attr_types(Some(&names), false)?;
        let setters: Vec<String> = all_columns(&types)
            .iter()
            .map(|c| format!("{c} = ?"))
            .collect();
        let sql = format!(
            "UPDATE {} SET {} WHERE id = ?",
            self.metadata.nodes_table,
            setters.join(", ")
        );
        let rows = node_rows(&nodes, &types)?
            .into_iter()
            .map(|mut values| {
                // The id goes last, for the WHERE.
                let id = values.remove(0);
                values.push(id);
                values
            })
            .collect();
        self.update(&sql, rows)
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
        let types = self.attr_types(Some(&names), true)?;
        let setters: Vec<String> = all_columns(&types)
            .iter()
            .map(|c| format!("{c} = ?"))
            .collect();
        let [u, v] = &self.metadata.endpoint_names;
        let sql = format!(
            "UPDATE {} SET {} WHERE {u} = ? AND {v} = ?",
            self.metadata.edges_table,
            setters.join(", ")
        );
        let rows = edge_rows(&edges, &types, true)?;
        self.update(&sql, rows)
    }

    fn read_nodes(&self, query: &NodeQuery) -> Result<Vec<Node>, GraphError> {
        let types = self.attr_types(query.attrs.as_deref(), false)?;
        let mut clauses = Vec::new();
        let mut params = Vec::new();
        if let Some(roi) = &query.roi {
            self.roi_sql(roi, "", &mut clauses, &mut params)?;
        }
        let m = &self.metadata;
        filter_sql(
            &query.filter,
            &|n| m.node_attr(n),
            "node",
            "",
            &mut clauses,
            &mut params,
        )?;
        let mut columns = vec!["id".to_owned()];
        columns.extend(all_columns(&types));
        let sql = format!(
            "SELECT {} FROM {}{}",
            columns.join(", "),
            m.nodes_table,
            where_sql(&clauses)
        );
        self.retry_read("reading nodes", |conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params_from_iter(&params))?;
            let mut nodes = Vec::new();
            while let Some(row) = rows.next()? {
                nodes.push(Node {
                    id: read_id(row, 0)?,
                    attrs: attrs_from_row(row, 1, &types)?,
                });
            }
            Ok(nodes)
        })
    }

    fn read_edges(&self, query: &EdgeQuery) -> Result<Vec<Edge>, GraphError> {
        let types = self.attr_types(query.attrs.as_deref(), true)?;
        let m = &self.metadata;
        let [u, v] = &m.endpoint_names;
        let mut clauses = Vec::new();
        let mut params = Vec::new();
        let mut from = format!("{} AS T1", m.edges_table);
        match &query.selection {
            EdgeSelection::All => {}
            EdgeSelection::Nodes(ids) => {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let ids = ids
                    .iter()
                    .map(|&id| stored_id(id))
                    .collect::<Result<Vec<_>, _>>()?;
                let list = serde_json::Value::from(ids).to_string();
                let set = "(SELECT value FROM json_each(?))";
                if query.fetch_on_v {
                    clauses.push(format!("(T1.{u} IN {set} OR T1.{v} IN {set})"));
                    params.push(Value::Text(list.clone()));
                    params.push(Value::Text(list));
                } else {
                    clauses.push(format!("T1.{u} IN {set}"));
                    params.push(Value::Text(list));
                }
            }
            EdgeSelection::Roi(roi) => {
                let mut roi_clauses = Vec::new();
                self.roi_sql(roi, "T2.", &mut roi_clauses, &mut params)?;
                if query.fetch_on_v {
                    // The edges with u or v among the nodes in the ROI, each once: the
                    // ids in the ROI as a set (an OR in the join would scan the edges once
                    // per node, v having no index).
                    let inner = format!(
                        "(SELECT T2.id FROM {} AS T2{})",
                        m.nodes_table,
                        where_sql(&roi_clauses)
                    );
                    clauses.push(format!("(T1.{u} IN {inner} OR T1.{v} IN {inner})"));
                    let roi_params = params.clone();
                    params.extend(roi_params);
                } else {
                    // Each edge meets at most one node (`id` is the key): no DISTINCT needed.
                    from = format!(
                        "{} AS T1 INNER JOIN {} AS T2 ON T1.{u} = T2.id",
                        m.edges_table, m.nodes_table
                    );
                    clauses.extend(roi_clauses);
                }
            }
        }
        filter_sql(
            &query.filter,
            &|n| m.edge_attr(n),
            "edge",
            "T1.",
            &mut clauses,
            &mut params,
        )?;
        let mut columns = vec![format!("T1.{u}"), format!("T1.{v}")];
        columns.extend(all_columns(&types).iter().map(|c| format!("T1.{c}")));
        let sql = format!(
            "SELECT {} FROM {from}{}",
            columns.join(", "),
            where_sql(&clauses)
        );
        self.retry_read("reading edges", |conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params_from_iter(&params))?;
            let mut edges = Vec::new();
            while let Some(row) = rows.next()? {
                edges.push(Edge {
                    u: read_id(row, 0)?,
                    v: read_id(row, 1)?,
                    attrs: attrs_from_row(row, 2, &types)?,
                });
            }
            Ok(edges)
        })
    }

    fn num_nodes(&self, roi: Option<&Roi>) -> Result<u64, GraphError> {
        let mut clauses = Vec::new();
        let mut params = Vec::new();
        if let Some(roi) = roi {
            self.roi_sql(roi, "", &mut clauses, &mut params)?;
        }
        let sql = format!(
            "SELECT COUNT(*) FROM {}{}",
            self.metadata.nodes_table,
            where_sql(&clauses)
        );
        let count: i64 = self.retry_read("counting nodes", |conn| {
            Ok(conn
                .prepare_cached(&sql)?
                .query_row(params_from_iter(&params), |r| r.get(0))?)
        })?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    fn has_edges(&self, roi: Option<&Roi>) -> Result<bool, GraphError> {
        let m = &self.metadata;
        let mut clauses = Vec::new();
        let mut params = Vec::new();
        let sql = match roi {
            None => format!("SELECT EXISTS(SELECT 1 FROM {})", m.edges_table),
            Some(roi) => {
                self.roi_sql(roi, "T2.", &mut clauses, &mut params)?;
                format!(
                    "SELECT EXISTS(SELECT 1 FROM {} AS T1 INNER JOIN {} AS T2 ON T1.{} = T2.id{})",
                    m.edges_table,
                    m.nodes_table,
                    m.endpoint_names[0],
                    where_sql(&clauses)
                )
            }
        };
        self.retry_read("looking for edges", |conn| {
            Ok(conn
                .prepare_cached(&sql)?
                .query_row(params_from_iter(&params), |r| r.get(0))?)
        })
    }

    fn begin_bulk_write(&mut self, worker: bool) -> Result<(), GraphError> {
        self.check_writable("bulk write to")?;
        if self.bulk.is_some() {
            return Ok(());
        }
        let prev: i64 = self.retry("starting bulk write mode", |s| {
            let prev: i64 = s.conn.query_row("PRAGMA synchronous", [], |r| r.get(0))?;
            s.conn.execute_batch("PRAGMA synchronous=OFF")?;
            let _: String = s
                .conn
                .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
            if !worker {
                s.conn.execute_batch("DROP INDEX IF EXISTS pos_index")?;
            }
            Ok(prev)
        })?;
        self.bulk = Some((worker, prev));
        Ok(())
    }

    fn end_bulk_write(&mut self) -> Result<(), GraphError> {
        let Some((worker, prev)) = self.bulk else {
            return Ok(());
        };
        let index = format!(
            "CREATE INDEX IF NOT EXISTS pos_index ON {}({})",
            self.metadata.nodes_table,
            self.position_columns().join(",")
        );
        self.retry("ending bulk write mode", |s| {
            if !worker {
                s.conn.execute_batch(&index)?;
            }
            s.conn
                .execute_batch(&format!("PRAGMA synchronous={prev}"))?;
            Ok(())
        })?;
        self.bulk = None;
        Ok(())
    }
}

fn where_sql(clauses: &[String]) -> String {
    if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    }
}

/// A row named by its key values (`id`, or `u, v`), for an error.
fn row_name(keys: &[Value]) -> String {
    let id = |v: &Value| match v {
        Value::Integer(i) => i.to_string(),
        other => format!("{other:?}"),
    };
    match keys {
        [node] => format!("node {}", id(node)),
        [u, v] => format!("edge ({}, {})", id(u), id(v)),
        other => format!("row {other:?}"),
    }
}

/// For each node: `id, attribute values...`.
fn node_rows(nodes: &[Node], types: &[(String, AttrType)]) -> Result<Vec<Vec<Value>>, GraphError> {
    let width = 1 + all_columns(types).len();
    nodes
        .iter()
        .map(|n| {
            let mut values = Vec::with_capacity(width);
            values.push(Value::Integer(stored_id(n.id)?));
            for (name, t) in types {
                push_values(
                    *t,
                    n.attrs.get(name).unwrap_or(&AttrValue::Null),
                    &mut values,
                );
            }
            Ok(values)
        })
        .collect()
}

/// For each edge: its description and `u, v, attribute values...` (with `keys_last`:
/// `attribute values..., u, v`, for an `UPDATE`).
fn edge_rows(
    edges: &[Edge],
    types: &[(String, AttrType)],
    keys_last: bool,
) -> Result<Vec<Vec<Value>>, GraphError> {
    let width = 2 + all_columns(types).len();
    edges
        .iter()
        .map(|e| {
            let keys = [
                Value::Integer(stored_id(e.u)?),
                Value::Integer(stored_id(e.v)?),
            ];
            let mut values = Vec::with_capacity(width);
            if !keys_last {
                values.extend(keys.iter().cloned());
            }
            for (name, t) in types {
                push_values(
                    *t,
                    e.attrs.get(name).unwrap_or(&AttrValue::Null),
                    &mut values,
                );
            }
            if keys_last {
                values.extend(keys);
            }
            Ok(values)
        })
        .collect()
}
