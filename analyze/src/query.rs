//! `query`: run SQL over the session's tables, read-only unless asked.

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::execution::context::SQLOptions;

use crate::cli::{self, ExitStatus};
use crate::error::AnalyzeError;
use crate::output::{self, Format};
use crate::progress::ProgressMode;
use crate::session::Session;

/// Run SQL over traces.
#[derive(clap::Args)]
pub struct Args {
    /// The SQL (left out with --file).
    #[arg(required_unless_present = "file")]
    sql: Option<String>,
    /// Traces to query (at least one).
    traces: Vec<String>,
    /// Read the SQL from this file instead.
    #[arg(long)]
    file: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write the result to this file instead of standard output.
    #[arg(short, long)]
    output: Option<String>,
    /// Allow DDL, DML, COPY and statements.
    #[arg(long)]
    allow_writes: bool,
}

/// Runs the query and writes its result.
pub fn run(args: Args, mode: ProgressMode) -> Result<ExitStatus, AnalyzeError> {
    // With --file, every positional argument is a trace.
    let (sql, traces) = match (args.sql, args.file) {
        (first, Some(path)) => {
            let sql = std::fs::read_to_string(&path)
                .map_err(|err| AnalyzeError::Usage(format!("cannot read --file {path}: {err}")))?;
            (
                sql,
                first.into_iter().chain(args.traces).collect::<Vec<_>>(),
            )
        }
        (Some(sql), None) => (sql, args.traces),
        (None, None) => unreachable!("clap requires the SQL or --file"),
    };
    if traces.is_empty() {
        return Err(AnalyzeError::Usage(
            "give at least one trace to query, e.g. hltpy-analyze query \"SELECT count(*) FROM nodes\" trace.parquet".into(),
        ));
    }
    let batches = cli::runtime()?.block_on(async {
        let session = Session::open(&traces).await?;
        let _progress = cli::reading(mode, "query", &session);
        execute(&session, &sql, args.allow_writes).await
    })?;
    output::write(&batches, args.format, args.output.as_deref())?;
    Ok(ExitStatus::Success)
}

/// Runs `sql`; DDL, DML, `COPY` and statements are refused unless
/// `allow_writes`. A mistake in the SQL is answered with the engine's
/// message and the tables and columns there are.
pub async fn execute(
    session: &Session,
    sql: &str,
    allow_writes: bool,
) -> Result<Vec<RecordBatch>, AnalyzeError> {
    let options = SQLOptions::new()
        .with_allow_ddl(allow_writes)
        .with_allow_dml(allow_writes)
        .with_allow_statements(allow_writes);
    let planned = session.ctx.sql_with_options(sql, options).await;
    let frame = match planned {
        Ok(frame) => frame,
        Err(err) => {
            let message = err.to_string();
            let hint = if message.contains("not supported") {
                "queries are read-only; pass --allow-writes to run it anyway".to_string()
            } else {
                format!("tables and columns:\n{}", session.describe_tables().await)
            };
            return Err(AnalyzeError::Query(format!("bad query: {message}\n{hint}")));
        }
    };
    frame.collect().await.map_err(|err| session.read_error(err))
}
