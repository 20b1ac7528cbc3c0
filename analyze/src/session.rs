//! The DataFusion session over one or more traces: resolves the user's
//! paths (files, directories, segment directories, globs), validates every
//! file with the schema crate's reader, and registers the tables and views
//! that every subcommand and pass queries.
//!
//! Tables: `nodes` (FORMAT.md's columns plus `trace`), `edges` (one row per
//! input), `traces` (run metadata), and the views `calls`, `values` and
//! `constraints`.
//! Passes register their own outputs in the same context.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, StringArray, UInt64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::DataFusionError;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::prelude::{DataFrame, ParquetReadOptions, SessionConfig, SessionContext};
use hltpy_schema::{segment_files, NodeKind, TraceError, TraceFile, TraceMetadata};

use crate::error::AnalyzeError;
use crate::functions::InputOf;
use crate::progress::CountingStore;
use crate::tables::{diff_table, eval_table, inference_tables, CATALOG};

/// The `nodes` columns `hltpy_graph::Graph` decodes, for a SELECT.
pub const GRAPH_COLUMNS: &str = "id, kind, name, type, file, line, frame, value_int, value_float, \
                                 value_bool, value_str, value_repr, inputs";

/// One trace: a file, or the segment files of one run.
#[derive(Debug, Clone)]
pub struct TraceSource {
    /// The value of the `trace` column: the path as the user gave it.
    pub name: String,
    pub path: PathBuf,
    pub files: Vec<PathBuf>,
    pub metadata: TraceMetadata,
    pub rows: u64,
    /// Did the run end cleanly (for segments: is the last one there)?
    pub complete: bool,
    pub extra_columns: Vec<String>,
}

impl TraceSource {
    /// What is odd about this trace, one line each, for reports.
    pub fn warnings(&self) -> Vec<String> {
        let mut odd = Vec::new();
        if !self.complete {
            odd.push(format!(
                "not closed cleanly: {}",
                self.metadata
                    .end_reason
                    .as_deref()
                    .unwrap_or("no reason recorded")
            ));
        }
        if !self.extra_columns.is_empty() {
            odd.push(format!(
                "columns from a newer format: {}",
                self.extra_columns.join(", ")
            ));
        }
        if self.rows == 0 {
            odd.push("the trace is empty".into());
        }
        odd
    }
}

/// Expands the user's arguments into traces, validating every file.
pub fn resolve(inputs: &[String]) -> Result<Vec<TraceSource>, AnalyzeError> {
    let mut sources = Vec::new();
    for input in inputs {
        let paths = if input.contains(['*', '?', '[']) {
            let matches: Vec<PathBuf> = glob::glob(input)
                .map_err(|err| AnalyzeError::Usage(format!("bad glob pattern {input:?}: {err}")))?
                .filter_map(Result::ok)
                .collect();
            if matches.is_empty() {
                return Err(AnalyzeError::Usage(format!("no file matches {input:?}")));
            }
            matches
        } else {
            vec![PathBuf::from(input)]
        };
        for path in paths {
            sources.extend(open_path(&path)?);
        }
    }
    if sources.is_empty() {
        return Err(AnalyzeError::Usage("no trace given".into()));
    }
    Ok(sources)
}

fn open_path(path: &Path) -> Result<Vec<TraceSource>, AnalyzeError> {
    if !path.is_dir() {
        return Ok(vec![open_file(path)?]);
    }
    let segments = segment_files(path)?;
    if !segments.is_empty() {
        return Ok(vec![open_segments(path, segments)?]);
    }
    // A directory of traces: every finished .parquet file in it.
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|source| TraceError::Io {
            path: path.to_path_buf(),
            action: "list",
            source,
        })?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|e| e == "parquet") || p.join("part-00000.parquet").exists()
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(AnalyzeError::Usage(format!(
            "{} is a directory with no trace in it (no .parquet file, no segments of a run)",
            path.display()
        )));
    }
    files
        .iter()
        .map(|f| open_path(f))
        .collect::<Result<Vec<_>, _>>()
        .map(|v| v.concat())
}

fn open_file(path: &Path) -> Result<TraceSource, AnalyzeError> {
    let trace = TraceFile::open_lenient(path)?;
    Ok(TraceSource {
        name: path.display().to_string(),
        path: path.to_path_buf(),
        files: vec![path.to_path_buf()],
        metadata: trace.metadata().clone(),
        rows: trace.rows(),
        complete: trace.metadata().closed_cleanly,
        extra_columns: trace.extra_columns().to_vec(),
    })
}

fn open_segments(dir: &Path, files: Vec<PathBuf>) -> Result<TraceSource, AnalyzeError> {
    let mut rows = 0;
    let mut last = None;
    let mut extra_columns = Vec::new();
    for (expected, file) in files.iter().enumerate() {
        let trace = TraceFile::open(file)?;
        let index = trace.metadata().segment.map(|(index, _)| index as usize);
        if index != Some(expected) {
            return Err(AnalyzeError::Input(TraceError::NotATrace {
                path: file.clone(),
                reason: format!(
                    "expected segment {expected} of the run in {}, found {index:?}",
                    dir.display()
                ),
            }));
        }
        rows += trace.rows();
        extra_columns.extend(trace.extra_columns().iter().cloned());
        last = Some(trace);
    }
    let last = last.expect("segment_files found at least one");
    let mut metadata = last.metadata().clone();
    let ended = metadata.segment.is_some_and(|(_, is_last)| is_last);
    if !ended {
        metadata.closed_cleanly = false;
        metadata.end_reason =
            Some("the run's last segment is missing: the process ended before finishing it".into());
    }
    metadata.node_count = Some(rows);
    Ok(TraceSource {
        name: dir.display().to_string(),
        path: dir.to_path_buf(),
        files,
        complete: ended && metadata.closed_cleanly,
        metadata,
        rows,
        extra_columns,
    })
}

/// Escapes a string for a SQL literal.
pub fn sql_string(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A DataFusion context with the traces registered.
pub struct Session {
    pub ctx: SessionContext,
    pub sources: Vec<TraceSource>,
    /// Bytes of trace files the engine has read so far, and their total
    /// size: what the progress line shows.
    pub bytes_read: Arc<AtomicU64>,
    pub bytes_total: u64,
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
            // join); which kinds are traced calls is the format's rule.
            format!(
                concat!(
                    "SELECT trace, id, CAST(kind AS VARCHAR) AS kind, name, frame, file, line, \
                     input_of(inputs, 'callable') AS callable, input_of(inputs, 'return') AS returned, ",
                    value_text!(),
                    " AS value FROM nodes WHERE kind IN ({})"
                ),
                NodeKind::sql_list(NodeKind::is_traced_call)
            ),
        ),
        ("constraints", crate::constraints::SQL.to_string()),
    ]
}

impl Session {
    /// Opens the traces and registers `nodes`, `edges`, `traces`, `calls`,
    /// `values`, `constraints`.
    pub async fn open(inputs: &[String]) -> Result<Session, AnalyzeError> {
        let sources = resolve(inputs)?;
        // DATAFUSION_* environment variables tune the engine, as in
        // datafusion-cli (e.g. DATAFUSION_EXECUTION_TARGET_PARTITIONS=8).
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
        let ctx = SessionContext::new_with_config(config);
        ctx.register_udf(InputOf::udf());
        let bytes_read = Arc::new(AtomicU64::new(0));
        ctx.register_object_store(
            ObjectStoreUrl::local_filesystem().as_ref(),
            Arc::new(CountingStore::new(Arc::clone(&bytes_read))),
        );
        let bytes_total = sources
            .iter()
            .flat_map(|s| &s.files)
            .filter_map(|f| std::fs::metadata(f).ok())
            .map(|m| m.len())
            .sum();
        let mut parts = Vec::new();
        for (index, source) in sources.iter().enumerate() {
            let table = format!("__trace_{index}");
            let paths: Vec<String> = source
                .files
                .iter()
                .map(|f| f.display().to_string())
                .collect();
            let frame = ctx
                .read_parquet(paths, ParquetReadOptions::default())
                .await
                .map_err(|err| {
                    AnalyzeError::Engine(format!("cannot read {}: {err}", source.name))
                })?;
            ctx.register_table(table.as_str(), frame.into_view())
                .map_err(|err| AnalyzeError::Engine(err.to_string()))?;
            parts.push(format!(
                // kind as a plain (view) string: grouping by a dictionary
                // column costs DataFusion several times more. trace as a
                // view string too: a join keyed on it (constraints) builds
                // its hash table from 16-byte views of one shared buffer
                // instead of a copy of the path per row (measured: 40% less
                // memory, 10-20% faster on the 10M-node trace).
                "SELECT arrow_cast({}, 'Utf8View') AS trace, id, arrow_cast(kind, 'Utf8View') AS kind, name, inputs, \
                 frame, thread, file, line, type, \
                 value_int, value_float, value_bool, value_str, value_repr FROM {table}",
                sql_string(&source.name)
            ));
        }
        let session = Session {
            ctx,
            sources,
            bytes_read,
            bytes_total,
        };
        session
            .create_view("nodes", &parts.join(" UNION ALL "))
            .await?;
        for (name, sql) in views() {
            session.create_view(name, &sql).await?;
        }
        let (signatures, requirements) = inference_tables(&session.sources);
        for (name, table) in [
            ("eval", eval_table(&session.sources)),
            ("diff", diff_table(&session.sources)),
            ("signatures", signatures),
            ("requirements", requirements),
        ] {
            session
                .ctx
                .register_table(name, Arc::new(table))
                .map_err(|err| AnalyzeError::Engine(err.to_string()))?;
        }
        session.register_traces_table()?;
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

    /// `traces`: one row per trace with its run metadata.
    fn register_traces_table(&self) -> Result<(), AnalyzeError> {
        let text = |f: &dyn Fn(&TraceSource) -> Option<String>| -> ArrayRef {
            Arc::new(StringArray::from(
                self.sources.iter().map(f).collect::<Vec<_>>(),
            ))
        };
        let schema = Arc::new(Schema::new(vec![
            Field::new("trace", DataType::Utf8, false),
            Field::new("nodes", DataType::UInt64, false),
            Field::new("segments", DataType::UInt64, false),
            Field::new("complete", DataType::Boolean, false),
            Field::new("end_reason", DataType::Utf8, true),
            Field::new("start_time", DataType::Utf8, true),
            Field::new("end_time", DataType::Utf8, true),
            Field::new("traced_modules", DataType::Utf8, true),
            Field::new("argv", DataType::Utf8, true),
            Field::new("hltpy_version", DataType::Utf8, true),
            Field::new("python_version", DataType::Utf8, true),
            Field::new("format_version", DataType::Utf8, true),
        ]));
        let columns: Vec<ArrayRef> = vec![
            text(&|s| Some(s.name.clone())),
            Arc::new(UInt64Array::from_iter_values(
                self.sources.iter().map(|s| s.rows),
            )),
            Arc::new(UInt64Array::from_iter_values(
                self.sources.iter().map(|s| s.files.len() as u64),
            )),
            Arc::new(BooleanArray::from(
                self.sources.iter().map(|s| s.complete).collect::<Vec<_>>(),
            )),
            text(&|s| s.metadata.end_reason.clone()),
            text(&|s| Some(s.metadata.start_time.clone())),
            text(&|s| s.metadata.end_time.clone()),
            text(&|s| Some(s.metadata.traced_modules.join(","))),
            text(&|s| Some(s.metadata.argv.join(" "))),
            text(&|s| Some(s.metadata.hltpy_version.clone())),
            text(&|s| Some(s.metadata.python_version.clone())),
            text(&|s| Some(s.metadata.format_version.clone())),
        ];
        let batch = RecordBatch::try_new(schema, columns)
            .map_err(|err| AnalyzeError::Engine(err.to_string()))?;
        self.ctx
            .register_batch("traces", batch)
            .map_err(|err| AnalyzeError::Engine(err.to_string()))?;
        Ok(())
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

    /// The one-line error for a query that failed while it ran: when the
    /// engine failed to read or decode a file, it names the traces.
    pub fn read_error(&self, err: DataFusionError) -> AnalyzeError {
        let message = err.to_string().replace('\n', " ");
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

    /// "table(col, col, ...)" for every user-facing table, for error messages.
    pub async fn describe_tables(&self) -> String {
        let mut lines = Vec::new();
        for table in CATALOG.iter().map(|t| t.name) {
            if let Ok(provider) = self.ctx.table_provider(table).await {
                let columns: Vec<String> = provider
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .collect();
                lines.push(format!("  {table}({})", columns.join(", ")));
            }
        }
        lines.join("\n")
    }
}
