//! `query`: run SQL over the session's tables, read-only unless asked.

use crate::error::AnalyzeError;
use crate::output::results::Format;
use crate::output::{self, ExitStatus};
use crate::progress::ProgressMode;
use crate::session::Session;
use crate::tables;

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
    /// Run on the Ballista cluster at this address (default:
    /// $HLTPY_CLUSTER); its executors must see the traces at the same paths.
    #[cfg(feature = "cluster")]
    #[arg(long, value_name = "df://HOST:PORT")]
    cluster: Option<String>,
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
    #[cfg(feature = "cluster")]
    let cluster = args.cluster.clone().or_else(|| {
        std::env::var(crate::cluster::CLUSTER_VARIABLE)
            .ok()
            .filter(|url| !url.is_empty())
    });
    let (schema, batches) = crate::session::runtime()?.block_on(async {
        #[cfg(feature = "cluster")]
        let session = match &cluster {
            Some(url) => {
                let config = crate::session::engine_config()?;
                let ctx = crate::cluster::remote_context(url, config).await?;
                Session::open_on_cluster(ctx, &traces, url).await?
            }
            None => Session::open(&traces).await?,
        };
        #[cfg(not(feature = "cluster"))]
        let session = Session::open(&traces).await?;
        tables::register_passes(&session)?;
        let _progress = session.progress(mode, "query");
        tables::run_user_sql(&session, &sql, args.allow_writes).await
    })?;
    output::results::write(&schema, &batches, args.format, args.output.as_deref())?;
    Ok(ExitStatus::Success)
}
