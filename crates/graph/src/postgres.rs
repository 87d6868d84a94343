//! A graph store in a PostgreSQL database, in funlib.persistence 0.7's `PgSQLGraphDatabase`
//! layout, so that funlib.persistence reads what it writes and the other way round:
//!
//! * the metadata JSON in the single row of table `metadata (value VARCHAR)`;
//! * a nodes table `id BIGINT not null PRIMARY KEY` with one column per attribute (`BIGINT`,
//!   `REAL`, `VARCHAR`, `BOOLEAN`, or a native array such as `REAL[3]` for a vector), and the
//!   index `pos_index` on the position column; tables this store creates also get the index
//!   `<nodes>_pos_dims` on a vector position's coordinates, which ROI queries use (funlib
//!   ignores it);
//! * an edges table `u BIGINT not null, v BIGINT not null`, the attribute columns, and
//!   `PRIMARY KEY (u, v)`.
//!
//! Every value is bound, never formatted into SQL. A write is one transaction: a binary
//! `COPY` when it has many rows, else (or if one of its rows exists) multi-row
//! `INSERT ... ON CONFLICT DO NOTHING` statements, so many processes may write at once;
//! tables are created under an advisory lock, so concurrent opens do not collide.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use daisy_geometry::Roi;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::error::SqlState;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, Config, NoTls, Row, Transaction};

use crate::attr::{AttrType, AttrValue, ScalarType};
use crate::error::GraphError;
use crate::graph::{Edge, Graph, Node};
use crate::metadata::{GraphMetadata, GraphOptions, Mode, is_identifier};
use crate::query::{EdgeQuery, EdgeSelection, Filter, NodeQuery};
use crate::store::GraphStore;

const BACKEND: &str = "postgresql";
/// PostgreSQL binds at most 65535 parameters per statement.
const MAX_PARAMS: usize = 60_000;
/// From how many rows a write is a binary `COPY` rather than `INSERT`s (a `COPY` costs
/// three more round trips, and saves parsing, planning and a conflict check per row).
const COPY_FROM_ROWS: usize = 64;
/// The advisory lock key under which tables are created.
const CREATE_LOCK: i64 = 0x6461_6973_7967;

/// A graph store in a PostgreSQL database, in funlib.persistence 0.7's layout.
pub struct PgGraphStore {
    client: Mutex<Client>,
    db_name: String,
    host: String,
    port: u16,
    metadata: GraphMetadata,
    mode: Mode,
    /// In bulk write mode: whether as a worker.
    bulk: Option<bool>,
}

/// One bound value, typed by its column even when NULL.
#[derive(Debug, Clone)]
enum PgValue {
    Int(Option<i64>),
    Float(Option<f32>),
    Str(Option<String>),
    Bool(Option<bool>),
    Ints(Option<Vec<Option<i64>>>),
    Floats(Option<Vec<Option<f32>>>),
    Strs(Option<Vec<Option<String>>>),
    Bools(Option<Vec<Option<bool>>>),
    /// A ROI bound, compared as `double precision`.
    Bound(f64),
    /// Node ids, as `BIGINT[]`.
    Ids(Vec<i64>),
}

impl ToSql for PgValue {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            PgValue::Int(v) => v.to_sql(ty, out),
            PgValue::Float(v) => v.to_sql(ty, out),
            PgValue::Str(v) => v.to_sql(ty, out),
            PgValue::Bool(v) => v.to_sql(ty, out),
            PgValue::Ints(v) => v.to_sql(ty, out),
            PgValue::Floats(v) => v.to_sql(ty, out),
            PgValue::Strs(v) => v.to_sql(ty, out),
            PgValue::Bools(v) => v.to_sql(ty, out),
            PgValue::Bound(v) => v.to_sql(ty, out),
            PgValue::Ids(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(_ty: &Type) -> bool {
        // Checked per value in `to_sql` by the delegate.
        true
    }

    to_sql_checked!();
}

/// funlib's `__sql_type`.
fn sql_type(t: AttrType) -> String {
    let scalar = |s: ScalarType| match s {
        ScalarType::Bool => "BOOLEAN",
        ScalarType::Int => "BIGINT",
        ScalarType::Str => "VARCHAR",
        ScalarType::Float => "REAL",
    };
    match t {
        AttrType::Scalar(s) => scalar(s).to_owned(),
        AttrType::Vec(s, size) => format!("{}[{size}]", scalar(s)),
    }
}

/// The type a bound value is cast to (arrays without their size).
fn cast_type(t: AttrType) -> String {
    match t {
        AttrType::Scalar(_) => sql_type(t),
        AttrType::Vec(s, _) => format!("{}[]", sql_type(AttrType::Scalar(s))),
    }
}

/// The `udt_name` information_schema reports for a column of type `t`.
fn udt_name(t: AttrType) -> &'static str {
    let (s, array) = match t {
        AttrType::Scalar(s) => (s, false),
        AttrType::Vec(s, _) => (s, true),
    };
    match (s, array) {
        (ScalarType::Bool, false) => "bool",
        (ScalarType::Int, false) => "int8",
        (ScalarType::Str, false) => "varchar",
        (ScalarType::Float, false) => "float4",
        (ScalarType::Bool, true) => "_bool",
        (ScalarType::Int, true) => "_int8",
        (ScalarType::Str, true) => "_varchar",
        (ScalarType::Float, true) => "_float4",
    }
}

fn scalar_int(v: &AttrValue) -> Option<i64> {
    match v {
        AttrValue::Int(i) => Some(*i),
        AttrValue::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

fn scalar_float(v: &AttrValue) -> Option<f32> {
    v.as_f64().map(|f| f as f32)
}

fn scalar_str(v: &AttrValue) -> Option<String> {
    match v {
        AttrValue::Str(s) => Some(s.clone()),
        _ => None,
    }
}

fn scalar_bool(v: &AttrValue) -> Option<bool> {
    match v {
        AttrValue::Bool(b) => Some(*b),
        _ => None,
    }
}

/// The bound value of `value` for a column of type `t`.
fn to_pg(t: AttrType, value: &AttrValue) -> PgValue {
    fn list<T>(value: &AttrValue, f: fn(&AttrValue) -> Option<T>) -> Option<Vec<Option<T>>> {
        match value {
            AttrValue::List(items) => Some(items.iter().map(f).collect()),
            _ => None,
        }
    }
    match t {
        AttrType::Scalar(ScalarType::Int) => PgValue::Int(scalar_int(value)),
        AttrType::Scalar(ScalarType::Float) => PgValue::Float(scalar_float(value)),
        AttrType::Scalar(ScalarType::Str) => PgValue::Str(scalar_str(value)),
        AttrType::Scalar(ScalarType::Bool) => PgValue::Bool(scalar_bool(value)),
        AttrType::Vec(ScalarType::Int, _) => PgValue::Ints(list(value, scalar_int)),
        AttrType::Vec(ScalarType::Float, _) => PgValue::Floats(list(value, scalar_float)),
        AttrType::Vec(ScalarType::Str, _) => PgValue::Strs(list(value, scalar_str)),
        AttrType::Vec(ScalarType::Bool, _) => PgValue::Bools(list(value, scalar_bool)),
    }
}

/// The attribute value in column `index` of `row`, by declared type.
fn from_pg(row: &Row, index: usize, t: AttrType) -> Result<AttrValue, postgres::Error> {
    fn list<T>(items: Option<Vec<Option<T>>>, f: fn(T) -> AttrValue) -> AttrValue {
        match items {
            Some(items) => AttrValue::List(
                items
                    .into_iter()
                    .map(|v| v.map_or(AttrValue::Null, f))
                    .collect(),
            ),
            None => AttrValue::Null,
        }
    }
    let or_null = |v: Option<AttrValue>| v.unwrap_or(AttrValue::Null);
    Ok(match t {
        AttrType::Scalar(ScalarType::Int) => {
            or_null(row.try_get::<_, Option<i64>>(index)?.map(AttrValue::Int))
        }
        AttrType::Scalar(ScalarType::Float) => or_null(
            row.try_get::<_, Option<f32>>(index)?
                .map(|f| AttrValue::Float(f64::from(f))),
        ),
        AttrType::Scalar(ScalarType::Str) => {
            or_null(row.try_get::<_, Option<String>>(index)?.map(AttrValue::Str))
        }
        AttrType::Scalar(ScalarType::Bool) => {
            or_null(row.try_get::<_, Option<bool>>(index)?.map(AttrValue::Bool))
        }
        AttrType::Vec(ScalarType::Int, _) => list(row.try_get(index)?, AttrValue::Int),
        AttrType::Vec(ScalarType::Float, _) => {
            list(row.try_get::<_, Option<Vec<Option<f32>>>>(index)?, |f| {
                AttrValue::Float(f64::from(f))
            })
        }
        AttrType::Vec(ScalarType::Str, _) => list(row.try_get(index)?, AttrValue::Str),
        AttrType::Vec(ScalarType::Bool, _) => list(row.try_get(index)?, AttrValue::Bool),
    })
}

fn stored_id(id: u64) -> Result<i64, GraphError> {
    i64::try_from(id).map_err(|_| GraphError::IdOutOfRange {
        id,
        backend: BACKEND,
    })
}

fn where_sql(clauses: &[String]) -> String {
    if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    }
}

/// Why a step failed.
enum Failure {
    Sql(postgres::Error),
    Graph(GraphError),
    Row(String),
}

impl From<postgres::Error> for Failure {
    fn from(e: postgres::Error) -> Failure {
        Failure::Sql(e)
    }
}

/// The connection settings: the arguments given, else `PGHOST`, `PGPORT`, `PGUSER`,
/// `PGPASSWORD`, else `localhost:5432` as the current user.
fn settings(
    db_host: Option<&str>,
    db_user: Option<&str>,
    db_password: Option<&str>,
    db_port: Option<u16>,
) -> Result<(String, u16, String, Option<String>), GraphError> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let host = db_host
        .map(str::to_owned)
        .or_else(|| env("PGHOST"))
        .unwrap_or_else(|| "localhost".into());
    let port = match db_port {
        Some(p) => p,
        None => match env("PGPORT") {
            Some(p) => p.parse().map_err(|_| GraphError::InvalidOptions {
                reason: format!("PGPORT {p:?} is not a port number"),
            })?,
            None => 5432,
        },
    };
    let user = db_user
        .map(str::to_owned)
        .or_else(|| env("PGUSER"))
        .or_else(|| env("USER"))
        .unwrap_or_else(|| "postgres".into());
    let password = db_password.map(str::to_owned).or_else(|| env("PGPASSWORD"));
    Ok((host, port, user, password))
}

/// A size in bytes for people (`812 B`, `1.5 MB`).
fn human_bytes(bytes: i64) -> String {
    let mut value = bytes as f64;
    for unit in ["B", "KB", "MB", "GB", "TB"] {
        if value < 1024.0 {
            return if unit == "B" {
                format!("{bytes} B")
            } else {
                format!("{value:.1} {unit}")
            };
        }
        value /= 1024.0;
    }
    format!("{value:.1} PB")
}

/// The text of [`GraphStore::summary`]: database, user and server, then one line per table
/// (kind, estimated rows, size on disk).
fn summary_text(head: &(String, String, String), tables: &[(String, String, i64, i64)]) -> String {
    let (db, user, version) = head;
    let rule = "-".repeat(80);
    let mut out = format!(
        "DB: {db} | User: {user}\n{}\n{rule}\n",
        version.lines().next().unwrap_or_default()
    );
    if tables.is_empty() {
        out.push_str("No tables found\n");
        return out;
    }
    let width = tables
        .iter()
        .map(|t| t.0.len())
        .max()
        .unwrap_or(5)
        .clamp(5, 60);
    let header = format!(
        "{:<width$}  {:<4}  {:>12}  {:>10}",
        "table", "kind", "est_rows", "size"
    );
    out.push_str(&format!("{header}\n{}\n", "-".repeat(header.len())));
    for (name, kind, rows, bytes) in tables {
        let kind = if kind == "p" { "part" } else { "tbl" };
        out.push_str(&format!(
            "{name:<width$}  {kind:<4}  {rows:>12}  {:>10}\n",
            human_bytes(*bytes)
        ));
    }
    out.push_str(&format!("{rule}\nTables shown: {}\n", tables.len()));
    out
}

/// Whether connecting failed because the database does not exist.
fn missing_database(error: &GraphError) -> bool {
    match error {
        GraphError::Backend { source, .. } => source
            .downcast_ref::<postgres::Error>()
            .and_then(postgres::Error::code)
            .is_some_and(|c| *c == SqlState::INVALID_CATALOG_NAME),
        _ => false,
    }
}

fn connect(
    host: &str,
    port: u16,
    user: &str,
    password: Option<&str>,
    db_name: &str,
) -> Result<Client, GraphError> {
    let mut config = Config::new();
    config
        .host(host)
        .port(port)
        .user(user)
        .dbname(db_name)
        .connect_timeout(Duration::from_secs(10))
        .application_name("daisy-graph")
        // Plans for block-sized reads: index probes of data in cache (or on SSD) cost about
        // what a sequential page read does, and no query takes parallel workers (many workers
        // read at once already). Large ROIs still get hash joins and sequential scans.
        .options("-c random_page_cost=1.1 -c max_parallel_workers_per_gather=0");
    if let Some(p) = password {
        config.password(p);
    }
    config.connect(NoTls).map_err(|e| GraphError::Backend {
        backend: BACKEND,
        action: format!("connecting to the PostgreSQL server at {host}:{port} as user {user:?}"),
        store: format!("database {db_name}"),
        source: Box::new(e),
    })
}

impl PgGraphStore {
    /// Opens the graph in database `db_name` (created if missing, as funlib does), with
    /// funlib's `PgSQLGraphDatabase` arguments; `None` falls back to `PGHOST`, `PGUSER`,
    /// `PGPASSWORD`, `PGPORT`, then `localhost:5432` as the current user. Mode `w` replaces
    /// any graph there by a new one from `options`; `r` and `r+` read the stored metadata and
    /// check every option given against it.
    ///
    /// # Errors
    /// [`GraphError::InvalidOptions`] for a bad database name or `PGPORT`;
    /// [`GraphError::NoMetadata`], [`GraphError::MetadataMismatch`],
    /// [`GraphError::InvalidMetadata`] (from the options and the stored metadata);
    /// [`GraphError::SchemaMismatch`] if a table exists with other columns;
    /// [`GraphError::Backend`] if the server cannot be reached (naming host and port) or
    /// fails.
    pub fn open(
        db_name: &str,
        db_host: Option<&str>,
        db_user: Option<&str>,
        db_password: Option<&str>,
        db_port: Option<u16>,
        mode: Mode,
        options: &GraphOptions,
    ) -> Result<PgGraphStore, GraphError> {
        if !is_identifier(db_name) {
            return Err(GraphError::InvalidOptions {
                reason: format!("db_name {db_name:?} is not an SQL identifier"),
            });
        }
        let (host, port, user, password) = settings(db_host, db_user, db_password, db_port)?;
        let store = format!("database {db_name} at {host}:{port}");
        let backend = |action: &str, e: postgres::Error| GraphError::Backend {
            backend: BACKEND,
            action: action.to_owned(),
            store: store.clone(),
            source: Box::new(e),
        };
        // Most opens find the database: connect to it first, and only when it is missing
        // create it through the server's `postgres` database (one connection fewer per open).
        let mut client = match connect(&host, port, &user, password.as_deref(), db_name) {
            Ok(client) => client,
            Err(e) if missing_database(&e) => {
                let mut admin = connect(&host, port, &user, password.as_deref(), "postgres")?;
                if let Err(e) = admin.batch_execute(&format!("CREATE DATABASE {db_name}")) {
                    // Another process may have created it meanwhile.
                    let raced = matches!(
                        e.code(),
                        Some(c) if *c == SqlState::DUPLICATE_DATABASE || *c == SqlState::UNIQUE_VIOLATION
                    );
                    if !raced {
                        return Err(backend("creating the database", e));
                    }
                }
                connect(&host, port, &user, password.as_deref(), db_name)?
            }
            Err(e) => return Err(e),
        };
        let stored = match mode {
            Mode::Write => None,
            Mode::Read | Mode::ReadWrite => read_metadata(&mut client, &store)?,
        };
        let metadata = GraphMetadata::open(stored, options, mode, &store)?;
        let mut this = PgGraphStore {
            client: Mutex::new(client),
            db_name: db_name.to_owned(),
            host,
            port,
            metadata,
            mode,
            bulk: None,
        };
        if mode == Mode::Write {
            let m = &this.metadata;
            let json = m.to_json_text();
            let sql = format!(
                "DROP TABLE IF EXISTS {}; DROP TABLE IF EXISTS {}; DROP TABLE IF EXISTS metadata;\
                 CREATE TABLE metadata (value VARCHAR);",
                m.nodes_table, m.edges_table
            );
            this.with_client("replacing the graph", |c| {
                let mut tx = c.transaction()?;
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CREATE_LOCK])?;
                tx.batch_execute(&sql)?;
                tx.execute("INSERT INTO metadata(value) VALUES ($1)", &[&json])?;
                tx.commit()?;
                Ok(())
            })?;
        }
        let complete = this.check_schema()?;
        if mode != Mode::Read && !complete {
            this.create_tables()?;
        }
        Ok(this)
    }

    /// The database name.
    #[must_use]
    pub fn db_name(&self) -> &str {
        &self.db_name
    }

    /// The server's host and port.
    #[must_use]
    pub fn server(&self) -> (&str, u16) {
        (&self.host, self.port)
    }

    fn backend_error(
        &self,
        action: &str,
        source: Box<dyn std::error::Error + Send + Sync>,
    ) -> GraphError {
        GraphError::backend(BACKEND, action, self.describe(), source)
    }

    /// Runs `f` on the connection, mapping its failure to a [`GraphError`].
    fn with_client<T>(
        &self,
        action: &str,
        f: impl FnOnce(&mut Client) -> Result<T, Failure>,
    ) -> Result<T, GraphError> {
        let mut client = match self.client.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        match f(&mut client) {
            Ok(v) => Ok(v),
            Err(Failure::Graph(e)) => Err(e),
            Err(Failure::Sql(e)) => Err(self.backend_error(action, Box::new(e))),
            Err(Failure::Row(reason)) => Err(self.backend_error(action, reason.into())),
        }
    }

    /// As funlib's `_create_tables` (`IF NOT EXISTS`), under an advisory lock.
    fn create_tables(&mut self) -> Result<(), GraphError> {
        let m = &self.metadata;
        let columns = |attrs: &[(String, AttrType)]| -> Vec<String> {
            attrs
                .iter()
                .map(|(n, t)| format!("{n} {}", sql_type(*t)))
                .collect()
        };
        let mut nodes = vec!["id BIGINT not null PRIMARY KEY".to_owned()];
        nodes.extend(columns(&m.node_attrs));
        let [u, v] = &m.endpoint_names;
        let edge_columns: String = columns(&m.edge_attrs)
            .iter()
            .map(|c| format!("{c}, "))
            .collect();
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {}({});\n{};\n\
             CREATE TABLE IF NOT EXISTS {}({u} BIGINT not null, {v} BIGINT not null, \
             {edge_columns}PRIMARY KEY ({u}, {v}));",
            m.nodes_table,
            nodes.join(", "),
            self.position_indexes().join(";\n"),
            m.edges_table,
        );
        self.with_client("creating the tables", |c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CREATE_LOCK])?;
            tx.batch_execute(&sql)?;
            tx.commit()?;
            Ok(())
        })
    }

    /// Checks that existing tables have the graph's columns and types (a missing table is
    /// only an error when reading); whether both tables exist.
    fn check_schema(&mut self) -> Result<bool, GraphError> {
        let m = &self.metadata;
        let mut nodes = vec![("id".to_owned(), "int8")];
        nodes.extend(m.node_attrs.iter().map(|(n, t)| (n.clone(), udt_name(*t))));
        let mut edges: Vec<(String, &str)> = m
            .endpoint_names
            .iter()
            .map(|n| (n.clone(), "int8"))
            .collect();
        edges.extend(m.edge_attrs.iter().map(|(n, t)| (n.clone(), udt_name(*t))));
        let tables = vec![m.nodes_table.to_lowercase(), m.edges_table.to_lowercase()];
        // The catalog directly: information_schema's views take milliseconds per query.
        let rows: Vec<(String, String, String)> =
            self.with_client("reading the table schema", |c| {
                Ok(c.query(
                    "SELECT c.relname::text, a.attname::text, t.typname::text \
                     FROM pg_attribute a JOIN pg_class c ON a.attrelid = c.oid \
                     JOIN pg_type t ON a.atttypid = t.oid \
                     WHERE c.relname = ANY($1) AND c.relkind IN ('r', 'p') \
                     AND c.relnamespace = current_schema()::regnamespace \
                     AND a.attnum > 0 AND NOT a.attisdropped ORDER BY c.relname, a.attnum",
                    &[&tables],
                )?
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect())
            })?;
        let mut complete = true;
        for (table, expected) in [
            (m.nodes_table.clone(), nodes),
            (m.edges_table.clone(), edges),
        ] {
            let lower = table.to_lowercase();
            let found: Vec<(String, String)> = rows
                .iter()
                .filter(|(t, _, _)| *t == lower)
                .map(|(_, n, t)| (n.clone(), t.clone()))
                .collect();
            if found.is_empty() {
                if self.mode == Mode::Read {
                    return Err(self.schema_mismatch(&table, "the table does not exist".into()));
                }
                complete = false;
                continue;
            }
            let mut expected: Vec<(String, String)> = expected
                .into_iter()
                .map(|(n, t)| (n.to_lowercase(), t.to_owned()))
                .collect();
            let mut sorted = found.clone();
            sorted.sort();
            expected.sort();
            if sorted != expected {
                return Err(self.schema_mismatch(
                    &table,
                    format!("it has columns {found:?}, the graph needs {expected:?}"),
                ));
            }
        }
        Ok(complete)
    }

    fn schema_mismatch(&self, table: &str, reason: String) -> GraphError {
        GraphError::SchemaMismatch {
            table: table.to_owned(),
            store: self.describe(),
            reason,
        }
    }

    /// funlib's ROI condition: `pos[d] >= begin AND pos[d] < end` (of table alias `prefix`).
    /// The name of the index on the position's coordinates.
    fn dims_index(&self) -> String {
        format!("{}_pos_dims", self.metadata.nodes_table)
    }

    /// The `CREATE INDEX` statements of the nodes table: funlib's `pos_index` on the
    /// position column, and, for a vector position, one on its coordinates (`position[1]`,
    /// `position[2]`, ...), which the ROI queries use.
    fn position_indexes(&self) -> Vec<String> {
        let (nodes, name) = (
            &self.metadata.nodes_table,
            &self.metadata.position_attribute,
        );
        let mut sql = vec![format!(
            "CREATE INDEX IF NOT EXISTS pos_index ON {nodes}({name})"
        )];
        if let Ok(AttrType::Vec(_, dims)) = self.metadata.node_attr(name) {
            let coordinates: Vec<String> = (1..=dims).map(|d| format!("({name}[{d}])")).collect();
            sql.push(format!(
                "CREATE INDEX IF NOT EXISTS {} ON {nodes}({})",
                self.dims_index(),
                coordinates.join(", ")
            ));
        }
        sql
    }

    fn roi_sql(
        &self,
        roi: &Roi,
        prefix: &str,
        clauses: &mut Vec<String>,
        params: &mut Vec<PgValue>,
    ) -> Result<(), GraphError> {
        self.metadata.check_roi(roi)?;
        let name = &self.metadata.position_attribute;
        // A scalar position (one dimension) has no subscript.
        let scalar = matches!(self.metadata.node_attr(name), Ok(AttrType::Scalar(_)));
        let column = |d: usize| {
            if scalar {
                name.clone()
            } else {
                format!("{name}[{}]", d + 1)
            }
        };
        let (begin, end) = (roi.begin(), roi.end());
        for d in 0..roi.dims() {
            if let Some(b) = begin.get(d) {
                params.push(PgValue::Bound(b as f64));
                clauses.push(format!(
                    "{prefix}{} >= ${}::float8",
                    column(d),
                    params.len()
                ));
            }
            if let Some(e) = end.get(d) {
                params.push(PgValue::Bound(e as f64));
                clauses.push(format!("{prefix}{} < ${}::float8", column(d), params.len()));
            }
        }
        Ok(())
    }

    fn filter_sql(
        &self,
        filter: &Filter,
        edges: bool,
        prefix: &str,
        clauses: &mut Vec<String>,
        params: &mut Vec<PgValue>,
    ) -> Result<(), GraphError> {
        for (name, value) in filter {
            let t = if edges {
                self.metadata.edge_attr(name)?
            } else {
                self.metadata.node_attr(name)?
            };
            if !t.admits(value) {
                return Err(GraphError::WrongType {
                    kind: if edges { "edge" } else { "node" },
                    id: "filter".into(),
                    attr: name.clone(),
                    expected: t,
                    value: value.to_string(),
                });
            }
            params.push(to_pg(t, value));
            clauses.push(format!(
                "{prefix}{name} IS NOT DISTINCT FROM ${}::{}",
                params.len(),
                cast_type(t)
            ));
        }
        Ok(())
    }

    fn attr_types(
        &self,
        attrs: Option<&[String]>,
        edges: bool,
    ) -> Result<Vec<(String, AttrType)>, GraphError> {
        let m = &self.metadata;
        match attrs {
            None if edges => Ok(m.edge_attrs.clone()),
            None => Ok(m.node_attrs.clone()),
            Some(names) => names
                .iter()
                .map(|n| {
                    let t = if edges {
                        m.edge_attr(n)
                    } else {
                        m.node_attr(n)
                    };
                    t.map(|t| (n.clone(), t))
                })
                .collect(),
        }
    }

    /// Inserts `rows` into `table` (`columns`) in one transaction ([`copy_or_insert`]); a
    /// row that exists is skipped, or with `fail_if_exists` is an error naming it.
    fn insert(
        &mut self,
        table: &str,
        columns: &[String],
        rows: Vec<Vec<PgValue>>,
        fail_if_exists: bool,
    ) -> Result<usize, GraphError> {
        if rows.is_empty() {
            return Ok(0);
        }
        let store = self.describe();
        self.with_client("inserting rows", |c| {
            let mut tx = c.transaction()?;
            let written = match copy_or_insert(&mut tx, table, columns, &rows, fail_if_exists) {
                Ok(n) => n,
                Err(e) if fail_if_exists && e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                    let detail = e.as_db_error().and_then(|d| d.detail()).unwrap_or("a row");
                    return Err(Failure::Graph(GraphError::AlreadyExists {
                        what: format!("{table}: {detail}"),
                        store,
                    }));
                }
                Err(e) => return Err(e.into()),
            };
            tx.commit()?;
            Ok(written)
        })
    }

    /// Runs `UPDATE` statement `sql` once per row of values in one transaction.
    fn update(&mut self, sql: &str, rows: Vec<Vec<PgValue>>) -> Result<usize, GraphError> {
        if rows.is_empty() {
            return Ok(0);
        }
        self.with_client("updating rows", |c| {
            let mut tx = c.transaction()?;
            let stmt = tx.prepare(sql)?;
            let mut updated = 0;
            for values in &rows {
                let params: Vec<&(dyn ToSql + Sync)> =
                    values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
                updated += tx.execute(&stmt, &params)? as usize;
            }
            tx.commit()?;
            Ok(updated)
        })
    }

    fn query_rows<T>(
        &self,
        action: &str,
        sql: &str,
        params: &[PgValue],
        mut f: impl FnMut(&Row) -> Result<T, Failure>,
    ) -> Result<Vec<T>, GraphError> {
        self.with_client(action, |c| {
            let params: Vec<&(dyn ToSql + Sync)> =
                params.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
            c.query(sql, &params)?.iter().map(&mut f).collect()
        })
    }
}

/// Writes `rows` into `table` (`columns`): many by one binary `COPY` in a savepoint, falling
/// back to [`insert_rows`] if a row exists (unless `fail_if_exists`: then that is the error);
/// few by [`insert_rows`]. The number written.
fn copy_or_insert(
    tx: &mut Transaction<'_>,
    table: &str,
    columns: &[String],
    rows: &[Vec<PgValue>],
    fail_if_exists: bool,
) -> Result<usize, postgres::Error> {
    if rows.len() >= COPY_FROM_ROWS {
        let mut attempt = tx.savepoint("daisy_copy")?;
        match copy_rows(&mut attempt, table, columns, rows) {
            Ok(n) => {
                attempt.commit()?;
                return Ok(n);
            }
            Err(e) if fail_if_exists || e.code() != Some(&SqlState::UNIQUE_VIOLATION) => {
                return Err(e);
            }
            Err(_) => attempt.rollback()?,
        }
    }
    insert_rows(tx, table, columns, rows, fail_if_exists)
}

/// Writes `rows` into `table` (`columns`) with one binary `COPY`; the number written.
fn copy_rows(
    tx: &mut Transaction<'_>,
    table: &str,
    columns: &[String],
    rows: &[Vec<PgValue>],
) -> Result<usize, postgres::Error> {
    let list = columns.join(", ");
    // The column types, as the server has them (a vector's type is an array without size).
    let types: Vec<Type> = tx
        .prepare(&format!("SELECT {list} FROM {table} LIMIT 0"))?
        .columns()
        .iter()
        .map(|c| c.type_().clone())
        .collect();
    let sink = tx.copy_in(&format!("COPY {table}({list}) FROM STDIN BINARY"))?;
    let mut writer = BinaryCopyInWriter::new(sink, &types);
    let mut values: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(columns.len());
    for row in rows {
        values.clear();
        values.extend(row.iter().map(|v| v as &(dyn ToSql + Sync)));
        writer.write(&values)?;
    }
    Ok(writer.finish()? as usize)
}

/// Inserts `rows` into `table` (`columns`) with multi-row `INSERT`s (rows that exist are
/// skipped unless `fail_if_exists`); the number written.
fn insert_rows(
    tx: &mut Transaction<'_>,
    table: &str,
    columns: &[String],
    rows: &[Vec<PgValue>],
    fail_if_exists: bool,
) -> Result<usize, postgres::Error> {
    let width = columns.len().max(1);
    let per_statement = (MAX_PARAMS / width).max(1);
    let build = |n: usize| {
        let mut sql = format!("INSERT INTO {table}({}) VALUES ", columns.join(", "));
        for r in 0..n {
            sql.push_str(if r > 0 { ", (" } else { "(" });
            for c in 0..width {
                if c > 0 {
                    sql.push_str(", ");
                }
                let _ = write!(sql, "${}", r * width + c + 1);
            }
            sql.push(')');
        }
        if !fail_if_exists {
            sql.push_str(" ON CONFLICT DO NOTHING");
        }
        sql
    };
    let mut written = 0;
    let mut full = None;
    for chunk in rows.chunks(per_statement) {
        let stmt = if chunk.len() == per_statement {
            match &full {
                Some(s) => s,
                None => full.insert(tx.prepare(&build(per_statement))?),
            }
            .clone()
        } else {
            tx.prepare(&build(chunk.len()))?
        };
        let params: Vec<&(dyn ToSql + Sync)> = chunk
            .iter()
            .flatten()
            .map(|v| v as &(dyn ToSql + Sync))
            .collect();
        written += tx.execute(&stmt, &params)? as usize;
    }
    Ok(written)
}

fn read_id(row: &Row, index: usize) -> Result<u64, Failure> {
    let id: i64 = row.try_get(index)?;
    u64::try_from(id).map_err(|_| Failure::Row(format!("node id {id} is negative")))
}

fn read_attrs(
    row: &Row,
    first: usize,
    types: &[(String, AttrType)],
) -> Result<crate::graph::Attrs, Failure> {
    let mut attrs = crate::graph::Attrs::new();
    for (i, (name, t)) in types.iter().enumerate() {
        attrs.insert(name.clone(), from_pg(row, first + i, *t)?);
    }
    Ok(attrs)
}

fn read_metadata(client: &mut Client, store: &str) -> Result<Option<GraphMetadata>, GraphError> {
    let row = match client.query_opt("SELECT value FROM metadata LIMIT 1", &[]) {
        Ok(row) => row,
        Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => return Ok(None),
        Err(e) => {
            return Err(GraphError::Backend {
                backend: BACKEND,
                action: "reading the metadata".into(),
                store: store.to_owned(),
                source: Box::new(e),
            });
        }
    };
    let Some(row) = row else { return Ok(None) };
    let text: Option<String> = row.try_get(0).map_err(|e| GraphError::Backend {
        backend: BACKEND,
        action: "reading the metadata".into(),
        store: store.to_owned(),
        source: Box::new(e),
    })?;
    let Some(text) = text else { return Ok(None) };
    GraphMetadata::from_json_text(&text, store, "table metadata").map(Some)
}

impl GraphStore for PgGraphStore {
    fn metadata(&self) -> &GraphMetadata {
        &self.metadata
    }

    fn mode(&self) -> Mode {
        self.mode
    }

    fn describe(&self) -> String {
        format!("database {} at {}:{}", self.db_name, self.host, self.port)
    }

    fn summary(&self) -> Result<Option<String>, GraphError> {
        let (head, tables) = self.with_client("summarising the database", |c| {
            let row = c.query_one(
                "SELECT current_database()::text, current_user::text, version()",
                &[],
            )?;
            let head: (String, String, String) = (row.get(0), row.get(1), row.get(2));
            let tables: Vec<(String, String, i64, i64)> = c
                .query(
                    "SELECT c.relname::text, c.relkind::text, \
                     GREATEST(COALESCE(c.reltuples::bigint, 0), 0), pg_total_relation_size(c.oid) \
                     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') \
                     ORDER BY pg_total_relation_size(c.oid) DESC, c.relname",
                    &[],
                )?
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
                .collect();
            Ok((head, tables))
        })?;
        Ok(Some(summary_text(&head, &tables)))
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
        let rows = nodes
            .iter()
            .map(|n| {
                let mut row = vec![PgValue::Int(Some(stored_id(n.id)?))];
                row.extend(
                    types
                        .iter()
                        .map(|(a, t)| to_pg(*t, n.attrs.get(a).unwrap_or(&AttrValue::Null))),
                );
                Ok(row)
            })
            .collect::<Result<Vec<_>, GraphError>>()?;
        let mut columns = vec!["id".to_owned()];
        columns.extend(names);
        let table = self.metadata.nodes_table.clone();
        self.insert(&table, &columns, rows, fail_if_exists)
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
        let rows = edges
            .iter()
            .map(|e| {
                let mut row = vec![
                    PgValue::Int(Some(stored_id(e.u)?)),
                    PgValue::Int(Some(stored_id(e.v)?)),
                ];
                row.extend(
                    types
                        .iter()
                        .map(|(a, t)| to_pg(*t, e.attrs.get(a).unwrap_or(&AttrValue::Null))),
                );
                Ok(row)
            })
            .collect::<Result<Vec<_>, GraphError>>()?;
        let mut columns = self.metadata.endpoint_names.to_vec();
        columns.extend(names);
        let table = self.metadata.edges_table.clone();
        self.insert(&table, &columns, rows, fail_if_exists)
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
        let setters: Vec<String> = names
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = ${}", i + 1))
            .collect();
        let sql = format!(
            "UPDATE {} SET {} WHERE id = ${}",
            self.metadata.nodes_table,
            setters.join(", "),
            names.len() + 1
        );
        let rows = nodes
            .iter()
            .map(|n| {
                let mut row: Vec<PgValue> = types
                    .iter()
                    .map(|(a, t)| to_pg(*t, n.attrs.get(a).unwrap_or(&AttrValue::Null)))
                    .collect();
                row.push(PgValue::Int(Some(stored_id(n.id)?)));
                Ok(row)
            })
            .collect::<Result<Vec<_>, GraphError>>()?;
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
        let setters: Vec<String> = names
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = ${}", i + 1))
            .collect();
        let [u, v] = &self.metadata.endpoint_names;
        let sql = format!(
            "UPDATE {} SET {} WHERE {u} = ${} AND {v} = ${}",
            self.metadata.edges_table,
            setters.join(", "),
            names.len() + 1,
            names.len() + 2
        );
        let rows = edges
            .iter()
            .map(|e| {
                let mut row: Vec<PgValue> = types
                    .iter()
                    .map(|(a, t)| to_pg(*t, e.attrs.get(a).unwrap_or(&AttrValue::Null)))
                    .collect();
                row.push(PgValue::Int(Some(stored_id(e.u)?)));
                row.push(PgValue::Int(Some(stored_id(e.v)?)));
                Ok(row)
            })
            .collect::<Result<Vec<_>, GraphError>>()?;
        self.update(&sql, rows)
    }

    fn read_nodes(&self, query: &NodeQuery) -> Result<Vec<Node>, GraphError> {
        let types = self.attr_types(query.attrs.as_deref(), false)?;
        let mut clauses = Vec::new();
        let mut params = Vec::new();
        if let Some(roi) = &query.roi {
            self.roi_sql(roi, "", &mut clauses, &mut params)?;
        }
        self.filter_sql(&query.filter, false, "", &mut clauses, &mut params)?;
        let mut columns = vec!["id".to_owned()];
        columns.extend(types.iter().map(|(n, _)| n.clone()));
        let sql = format!(
            "SELECT {} FROM {}{}",
            columns.join(", "),
            self.metadata.nodes_table,
            where_sql(&clauses)
        );
        self.query_rows("reading nodes", &sql, &params, |row| {
            Ok(Node {
                id: read_id(row, 0)?,
                attrs: read_attrs(row, 1, &types)?,
            })
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
                params.push(PgValue::Ids(ids));
                let n = params.len();
                if query.fetch_on_v {
                    clauses.push(format!("(T1.{u} = ANY(${n}) OR T1.{v} = ANY(${n}))"));
                } else {
                    clauses.push(format!("T1.{u} = ANY(${n})"));
                }
            }
            EdgeSelection::Roi(roi) => {
                let mut roi_clauses = Vec::new();
                self.roi_sql(roi, "T2.", &mut roi_clauses, &mut params)?;
                if query.fetch_on_v {
                    let inner = format!(
                        "(SELECT T2.id FROM {} AS T2{})",
                        m.nodes_table,
                        where_sql(&roi_clauses)
                    );
                    clauses.push(format!("(T1.{u} IN {inner} OR T1.{v} IN {inner})"));
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
        self.filter_sql(&query.filter, true, "T1.", &mut clauses, &mut params)?;
        let mut columns = vec![format!("T1.{u}"), format!("T1.{v}")];
        columns.extend(types.iter().map(|(c, _)| format!("T1.{c}")));
        let sql = format!(
            "SELECT {} FROM {from}{}",
            columns.join(", "),
            where_sql(&clauses)
        );
        self.query_rows("reading edges", &sql, &params, |row| {
            Ok(Edge {
                u: read_id(row, 0)?,
                v: read_id(row, 1)?,
                attrs: read_attrs(row, 2, &types)?,
            })
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
        let counts = self.query_rows("counting nodes", &sql, &params, |r| {
            Ok(r.try_get::<_, i64>(0)?)
        })?;
        Ok(counts.first().map_or(0, |&c| u64::try_from(c).unwrap_or(0)))
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
        let found = self.query_rows("looking for edges", &sql, &params, |r| {
            Ok(r.try_get::<_, bool>(0)?)
        })?;
        Ok(found.first().copied().unwrap_or(false))
    }

    fn begin_bulk_write(&mut self, worker: bool) -> Result<(), GraphError> {
        self.check_writable("bulk write to")?;
        if self.bulk.is_some() {
            return Ok(());
        }
        let drop = format!(
            "DROP INDEX IF EXISTS pos_index; DROP INDEX IF EXISTS {}",
            self.dims_index()
        );
        self.with_client("starting bulk write mode", |c| {
            if !worker {
                c.batch_execute(&drop)?;
            }
            c.batch_execute("SET synchronous_commit TO OFF")?;
            Ok(())
        })?;
        self.bulk = Some(worker);
        Ok(())
    }

    fn end_bulk_write(&mut self) -> Result<(), GraphError> {
        let Some(worker) = self.bulk else {
            return Ok(());
        };
        let indexes = self.position_indexes().join(";\n");
        self.with_client("ending bulk write mode", |c| {
            c.batch_execute("SET synchronous_commit TO ON")?;
            if !worker {
                c.batch_execute(&indexes)?;
            }
            Ok(())
        })?;
        self.bulk = None;
        Ok(())
    }
}
