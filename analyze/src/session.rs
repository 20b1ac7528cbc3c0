//! The DataFusion session over one or more traces: the resolved traces
//! ([`crate::sources`]) registered in one context as the trace's own
//! tables and views — `nodes` (FORMAT.md's columns plus `trace`), `edges`
//! (one row per input), `traces` (run metadata), and the views `calls`,
//! `values` and `constraints` — and the query helpers every loader uses.
//! The passes' tables are the table layer's ([`crate::tables`]): only a
//! command that runs the user's SQL registers them.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::DataFusionError;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext};
use hltpy_schema::NodeKind;

use crate::error::AnalyzeError;
use crate::functions::InputOf;
use crate::progress::{CountingStore, Progress, ProgressMode, Unit};
use crate::scan::{TraceScan, TRACE_COLUMN};
use crate::sources::{resolve, TraceSource};

/// The seed's upstream constraints as shipped: plain SQL over `nodes` and
/// `edges` that any Parquet-reading engine runs (the view `constraints`).
pub const CONSTRAINTS_SQL: &str = include_str!("constraints.sql");

/// The constraint kinds [`CONSTRAINTS_SQL`] produces.
pub const CONSTRAINT_KINDS: [&str; 6] = [
    "HasInit",
    "HasAttr",
    "HasCallableMethod",
    "IsCallableFunction",
    "HasItem",
    "Arg2Content",
];

/// The table of every trace file, which the view `nodes` reads.
const TRACE_FILES: &str = "__trace_files";

/// The runtime the engine's queries run on.
pub fn runtime() -> Result<tokio::runtime::Runtime, AnalyzeError> {
    tokio::runtime::Runtime::new()
        .map_err(|err| AnalyzeError::Engine(format!("cannot start the query runtime: {err}")))
}

/// Escapes a string for a SQL literal.
pub fn sql_string(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The engine's configuration. DATAFUSION_* environment variables tune
/// it, as in datafusion-cli (e.g. DATAFUSION_EXECUTION_TARGET_PARTITIONS=8).
pub fn engine_config() -> Result<SessionConfig, AnalyzeError> {
    let mut config = SessionConfig::from_env()
        .map_err(|err| AnalyzeError::Usage(format!("bad DATAFUSION_* setting: {err}")))?
        .with_information_schema(true);
    // When a partial aggregation keeps more than half of its rows (as
    // grouping by node id does), skip it: measured 20% faster on the
    // fan-in benchmark, and no slower elsewhere.
    if std::env::var_os("DATAFUSION_EXECUTION_SKIP_PARTIAL_AGGREGATION_PROBE_RATIO_THRESHOLD")
        .is_none()
    {
        config
            .options_mut()
            .execution
            .skip_partial_aggregation_probe_ratio_threshold = 0.5;
    }
    Ok(config)
}

/// A DataFusion context with the traces registered.
pub struct Session {
    pub ctx: SessionContext,
    pub sources: Vec<TraceSource>,
    /// Bytes of trace files the engine has read so far, and their total
    /// size: what the progress line shows.
    pub bytes_read: Arc<AtomicU64>,
    pub bytes_total: u64,
    /// The address of the cluster the queries run on (None: this process).
    pub cluster: Option<String>,
}

/// A node's value as one printable column (the first `value_*` set).
macro_rules! value_text {
    () => {
        "COALESCE(CAST(value_int AS VARCHAR), CAST(value_float AS VARCHAR), \
         CAST(value_bool AS VARCHAR), value_str, value_repr)"
    };
}

/// The views every session has, in the order they are created.
fn views() -> [(&'static str, String); 4] {
    [
        // One row per input, as portable SQL.
        ("edges", include_str!("edges.sql").to_string()),
        (
            "values",
            concat!(
                "SELECT trace, id, kind, name, type, ",
                value_text!(),
                " AS value FROM nodes"
            )
            .to_string(),
        ),
        (
            "calls",
            // Every traced call with the ids of what was called and of what
            // it returned (input_of reads them off the node's own inputs: no
            // join); which kinds are traced calls is the format's rule. Read
            // from the files' table, not `nodes`: the filter then tests the
            // kind's dictionary (a test per distinct kind) instead of each
            // row's kind cast to a string (top-20 callables over 10M nodes
            // 0.16 -> 0.12 s).
            format!(
                concat!(
                    "SELECT arrow_cast({}, 'Utf8View') AS trace, id, CAST(kind AS VARCHAR) AS kind, \
                     name, frame, file, line, \
                     input_of(inputs, 'callable') AS callable, input_of(inputs, 'return') AS returned, ",
                    value_text!(),
                    " AS value FROM {} WHERE kind IN ({})"
                ),
                TRACE_COLUMN,
                TRACE_FILES,
                NodeKind::sql_list(NodeKind::is_traced_call)
            ),
        ),
        ("constraints", CONSTRAINTS_SQL.to_string()),
    ]
}

impl Session {
    /// Opens the traces and registers `nodes`, `edges`, `traces`, `calls`,
    /// `values`, `constraints`.
    pub async fn open(inputs: &[String]) -> Result<Session, AnalyzeError> {
        let sources = resolve(inputs)?;
        let ctx = SessionContext::new_with_config(engine_config()?);
        Session::register(ctx, sources, None).await
    }

    /// [`Session::open`] in `ctx`, a context whose queries run on the
    /// Ballista cluster at `url` (df://HOST:PORT; `cluster::remote_context`
    /// makes it), whose executors read the traces.
    #[cfg(feature = "cluster")]
    pub async fn open_on_cluster(
        ctx: SessionContext,
        inputs: &[String],
        url: &str,
    ) -> Result<Session, AnalyzeError> {
        let sources = resolve(inputs)?;
        Session::register(ctx, sources, Some(url.to_string())).await
    }

    async fn register(
        ctx: SessionContext,
        sources: Vec<TraceSource>,
        cluster: Option<String>,
    ) -> Result<Session, AnalyzeError> {
        ctx.register_udf(InputOf::udf());
        let bytes_read = Arc::new(AtomicU64::new(0));
        // Locally, reads go through a counter (the progress line); on a
        // cluster the executors read.
        if cluster.is_none() {
            ctx.register_object_store(
                ObjectStoreUrl::local_filesystem().as_ref(),
                Arc::new(CountingStore::new(Arc::clone(&bytes_read))),
            );
        }
        let scan = TraceScan::new(&ctx.state(), &sources)
            .await
            .map_err(|err| AnalyzeError::Engine(format!("cannot read the traces: {err}")))?;
        let bytes_total = scan.bytes();
        ctx.register_table(TRACE_FILES, Arc::new(scan))
            .map_err(|err| AnalyzeError::Engine(err.to_string()))?;
        let session = Session {
            ctx,
            sources,
            bytes_read,
            bytes_total,
            cluster,
        };
        session
            .create_view(
                "nodes",
                // kind as a plain (view) string: grouping by a dictionary
                // column costs DataFusion several times more. trace as a
                // view string too: a join keyed on it (constraints) builds
                // its hash table from 16-byte views instead of a copy of
                // the path per row (measured: 40% less memory, 10-20%
                // faster on the 10M-node trace).
                &format!(
                    "SELECT arrow_cast({TRACE_COLUMN}, 'Utf8View') AS trace, id, \
                     arrow_cast(kind, 'Utf8View') AS kind, name, inputs, frame, thread, file, \
                     line, type, value_int, value_float, value_bool, value_str, value_repr \
                     FROM {TRACE_FILES}"
                ),
            )
            .await?;
        for (name, sql) in views() {
            session.create_view(name, &sql).await?;
        }
        session.register_traces().await?;
        Ok(session)
    }

    async fn create_view(&self, name: &str, sql: &str) -> Result<(), AnalyzeError> {
        let frame = self
            .ctx
            .sql(sql)
            .await
            .map_err(|err| AnalyzeError::Engine(format!("cannot define view {name}: {err}")))?;
        self.ctx
            .register_table(name, frame.into_view())
            .map_err(|err| AnalyzeError::Engine(err.to_string()))?;
        Ok(())
    }

    /// `traces`: one row per trace with its run metadata, as a view of
    /// literal rows — a plan of values, which a cluster can ship to its
    /// executors (an in-memory table it cannot).
    async fn register_traces(&self) -> Result<(), AnalyzeError> {
        let text = |value: Option<&str>| {
            format!(
                "CAST({} AS VARCHAR)",
                value.map_or("NULL".to_string(), sql_string)
            )
        };
        let rows: Vec<String> = self
            .sources
            .iter()
            .map(|s| {
                let meta = &s.metadata;
                format!(
                    "({}, CAST({} AS BIGINT UNSIGNED), CAST({} AS BIGINT UNSIGNED), {}, {}, {}, {}, {}, {}, {}, {}, {})",
                    text(Some(&s.name)),
                    s.rows,
                    s.files.len(),
                    s.complete,
                    text(meta.end_reason.as_deref()),
                    text(Some(&meta.start_time)),
                    text(meta.end_time.as_deref()),
                    text(Some(&meta.traced_modules.join(","))),
                    text(Some(&meta.argv.join(" "))),
                    text(Some(&meta.hltpy_version)),
                    text(Some(&meta.python_version)),
                    text(Some(&meta.format_version)),
                )
            })
            .collect();
        self.create_view(
            "traces",
            &format!(
                "SELECT * FROM (VALUES {}) AS t(trace, nodes, segments, complete, end_reason, \
                 start_time, end_time, traced_modules, argv, hltpy_version, python_version, \
                 format_version)",
                rows.join(", ")
            ),
        )
        .await
    }

    /// Plans SQL that hltpy itself wrote (so a failure is hltpy's bug).
    pub async fn plan(&self, sql: &str) -> Result<DataFrame, AnalyzeError> {
        self.ctx
            .sql(sql)
            .await
            .map_err(|err| AnalyzeError::Engine(format!("internal query failed: {err}")))
    }

    /// Runs `sql` and collects its result. A failure while reading is
    /// reported against the traces, as damage is the likely cause.
    pub async fn collect(&self, sql: &str) -> Result<Vec<RecordBatch>, AnalyzeError> {
        let frame = self.plan(sql).await?;
        frame.collect().await.map_err(|err| self.read_error(err))
    }

    /// [`Session::collect`] with the result's schema, which an empty
    /// result (no batch) still has: what a table of rows prints.
    pub async fn collect_with_schema(
        &self,
        sql: &str,
    ) -> Result<(SchemaRef, Vec<RecordBatch>), AnalyzeError> {
        self.collect_frame(self.plan(sql).await?).await
    }

    /// Runs a planned query: its schema and its batches.
    pub async fn collect_frame(
        &self,
        frame: DataFrame,
    ) -> Result<(SchemaRef, Vec<RecordBatch>), AnalyzeError> {
        let schema = Arc::new(frame.schema().as_arrow().clone());
        let batches = frame.collect().await.map_err(|err| self.read_error(err))?;
        Ok((schema, batches))
    }

    /// The one-line error for a query that failed while it ran: when the
    /// engine failed to read or decode a file, it names the traces.
    pub fn read_error(&self, err: DataFusionError) -> AnalyzeError {
        let message = err.to_string().replace('\n', " ");
        // A cluster's failures come back as text, whatever their cause
        // (a damaged file, a lost executor): say where it failed.
        if let Some(url) = &self.cluster {
            return AnalyzeError::Query(format!("query failed on the cluster at {url}: {message}"));
        }
        let reading = matches!(
            err.find_root(),
            DataFusionError::ArrowError(..)
                | DataFusionError::ParquetError(_)
                | DataFusionError::ObjectStore(_)
                | DataFusionError::IoError(_)
                | DataFusionError::ExecutionJoin(_)
                | DataFusionError::External(_)
        );
        if !reading {
            return AnalyzeError::Query(format!("query failed: {message}"));
        }
        // A decoder that panicked on damaged bytes inside one of the
        // engine's tasks: say what failed, not how the task ended.
        let message = match message.split_once("panicked with message ") {
            Some((_, detail)) => format!("the Parquet decoder failed: {detail}"),
            None => message,
        };
        let names: Vec<&str> = self.sources.iter().map(|s| s.name.as_str()).collect();
        let which = match names.as_slice() {
            [one] => one.to_string(),
            many => format!("one of {} ({})", many.len(), many.join(", ")),
        };
        AnalyzeError::Query(format!(
            "cannot read {which}: {message}; the file may be damaged (`hltpy-analyze check` reads every row)"
        ))
    }

    /// Runs `sql` and gives every row with each column as text ("" for
    /// NULL): for passes that read small results.
    pub async fn text_rows(&self, sql: &str) -> Result<Vec<Vec<String>>, AnalyzeError> {
        let batches = self.collect(sql).await?;
        let mut rows = Vec::new();
        for batch in &batches {
            let columns = batch
                .columns()
                .iter()
                .map(|c| cast(c, &DataType::Utf8))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|err| AnalyzeError::Engine(err.to_string()))?;
            for row in 0..batch.num_rows() {
                rows.push(
                    columns
                        .iter()
                        .map(|c| {
                            let strings = c.as_string::<i32>();
                            if strings.is_null(row) {
                                String::new()
                            } else {
                                strings.value(row).to_string()
                            }
                        })
                        .collect(),
                );
            }
        }
        Ok(rows)
    }

    /// The progress line for work over the session's files.
    /// On a cluster the executors read, and there is nothing to count.
    pub fn progress(&self, mode: ProgressMode, label: &str) -> Progress {
        let mode = match self.cluster {
            Some(_) => ProgressMode::Never,
            None => mode,
        };
        Progress::start(
            mode,
            label,
            Unit::Bytes,
            self.bytes_total,
            self.bytes_read.clone(),
        )
    }
}

#[cfg(test)]
mod tests {
    use hltpy_schema::{column, NodeKind, Role};

    use super::{CONSTRAINTS_SQL as SQL, CONSTRAINT_KINDS as KINDS};

    /// The quoted words of the SQL (comments left out).
    fn quoted() -> Vec<&'static str> {
        SQL.lines()
            .filter(|line| !line.trim_start().starts_with("--"))
            .flat_map(|line| line.split('\'').skip(1).step_by(2))
            .collect()
    }

    #[test]
    fn the_sql_names_only_the_formats_kinds_and_roles_and_the_listed_constraints() {
        let words = quoted();
        let known = |w: &&str| {
            [column::INPUT_SRC, column::INPUT_ROLE].contains(w)
                || NodeKind::ALL.iter().any(|k| k.as_str() == *w)
                || Role::ALL.iter().any(|r| r.as_str() == *w)
                || KINDS.contains(w)
        };
        let unknown: Vec<_> = words.iter().filter(|w| !known(w)).collect();
        assert!(
            unknown.is_empty(),
            "not a kind, role, input field or constraint: {unknown:?}"
        );
        // Every constraint kind the SQL can produce is listed, and back.
        let produced: Vec<&str> = SQL
            .split("THEN '")
            .skip(1)
            .map(|rest| rest.split('\'').next().unwrap())
            .collect();
        let mut listed = KINDS.to_vec();
        let mut made = produced;
        listed.sort();
        made.sort();
        made.dedup();
        assert_eq!(made, listed);
    }
}
