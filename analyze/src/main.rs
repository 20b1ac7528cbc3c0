//! `hltpy-analyze`: parses the command line, runs one subcommand, reports.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hltpy_analyze::error::AnalyzeError;
use hltpy_analyze::output::Format;
use hltpy_analyze::progress::{Progress, ProgressMode, Unit};
use hltpy_analyze::session::{self, Session};
use hltpy_analyze::{check, expr, output, query, summary};

/// Offline analysis of hltpy traces (Parquet files written by `hltpy.capture`).
///
/// A TRACE is a trace file, a directory of segments (one run), a directory
/// of trace files, or a glob such as 'traces/*.parquet'.
#[derive(Parser)]
#[command(name = "hltpy-analyze", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Show how much of the traces has been read, on stderr: `auto` on a
    /// terminal for reads longer than half a second.
    #[arg(long, global = true, value_enum, default_value_t = ProgressMode::Auto)]
    progress: ProgressMode,
}

#[derive(Subcommand)]
enum Command {
    /// Validate traces and count their nodes per kind.
    ///
    /// Reads every row of every file. Exit code 0 when all traces are
    /// complete, 1 when one did not end cleanly, 2 when one is missing,
    /// not Parquet, not an hltpy trace, damaged or too new.
    ///
    /// Example: hltpy-analyze check samples/traces/*.parquet
    Check {
        /// Traces to check.
        #[arg(required = true)]
        traces: Vec<String>,
    },
    /// What was traced: run metadata, nodes per kind, traced calls, the
    /// deepest call nesting, the largest fan-in and fan-out, and warnings.
    ///
    /// Exit code 1 when a trace did not end cleanly.
    ///
    /// Example: hltpy-analyze summary samples/traces/units.parquet
    Summary {
        /// Traces to summarize.
        #[arg(required = true)]
        traces: Vec<String>,
    },
    /// Rebuild the Python expression that produced a node.
    ///
    /// By default the node a run ends with (the last top-level result).
    /// Sub-expressions used more than once are named once (t1 = ...).
    ///
    /// Examples:
    ///   hltpy-analyze expr trace.parquet
    ///   hltpy-analyze expr trace.parquet --node 42 --depth 3
    #[command(verbatim_doc_comment)]
    Expr {
        /// The trace (one).
        trace: String,
        /// Id of the node to rebuild.
        #[arg(long)]
        node: Option<u64>,
        /// How many levels of operations to print before eliding with …#id.
        #[arg(long, default_value_t = 50)]
        depth: usize,
    },
    /// Run SQL over traces.
    ///
    /// Tables: nodes (one row per node, columns as in schema/FORMAT.md plus
    /// `trace`), edges (trace, src, role, key, dst: one row per input),
    /// calls (traced calls with their callable and returned node), values
    /// (a node's value as one printable column), traces (run metadata).
    /// input_of(inputs, 'role') is the id of a node's first input with that
    /// role (e.g. 'return', 'object'). Queries are read-only unless
    /// --allow-writes. DATAFUSION_* environment variables tune the engine.
    ///
    /// Examples:
    ///   hltpy-analyze query "SELECT kind, count(*) FROM nodes GROUP BY kind" trace.parquet
    ///   hltpy-analyze query "SELECT name, count(*) AS n FROM calls GROUP BY name ORDER BY n DESC" traces/
    ///   hltpy-analyze query --file fan_in.sql --format csv -o fan_in.csv trace.parquet
    #[command(verbatim_doc_comment)]
    Query {
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
    },
}

fn main() -> ExitCode {
    // A damaged file is an error message, never a backtrace: the reader
    // turns decoder panics into errors, and the hook keeps them quiet.
    std::panic::set_hook(Box::new(|_| {}));
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("hltpy-analyze: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, AnalyzeError> {
    tokio::runtime::Runtime::new()
        .map_err(|err| AnalyzeError::Engine(format!("cannot start the query runtime: {err}")))
}

/// The progress line for work over `session`'s files.
fn reading(mode: ProgressMode, label: &str, session: &Session) -> Progress {
    Progress::start(
        mode,
        label,
        Unit::Bytes,
        session.bytes_total,
        session.bytes_read.clone(),
    )
}

fn run(cli: Cli) -> Result<ExitCode, AnalyzeError> {
    let mode = cli.progress;
    match cli.command {
        Command::Check { traces } => {
            let mut all_complete = true;
            for source in session::resolve(&traces)? {
                let progress = Progress::start(
                    mode,
                    format!("checking {}", source.name),
                    Unit::Rows,
                    source.rows,
                    Default::default(),
                );
                let report = check::check(source, &progress)?;
                drop(progress);
                print!("{}", report.render());
                all_complete &= report.source.complete;
            }
            Ok(if all_complete {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Summary { traces } => {
            let (text, complete) = runtime()?.block_on(async {
                let session = Session::open(&traces).await?;
                let _progress = reading(mode, "summary", &session);
                summary::summarize(&session).await
            })?;
            print!("{text}");
            Ok(if complete {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Expr { trace, node, depth } => {
            let text = runtime()?.block_on(async {
                let session = Session::open(std::slice::from_ref(&trace)).await?;
                let _progress = reading(mode, "expr", &session);
                expr::run(&session, node, depth).await
            })?;
            println!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Query {
            sql,
            traces,
            file,
            format,
            output: out,
            allow_writes,
        } => {
            // With --file, every positional argument is a trace.
            let (sql, traces) = match (sql, file) {
                (first, Some(path)) => {
                    let sql = std::fs::read_to_string(&path).map_err(|err| {
                        AnalyzeError::Usage(format!("cannot read --file {path}: {err}"))
                    })?;
                    (sql, first.into_iter().chain(traces).collect::<Vec<_>>())
                }
                (Some(sql), None) => (sql, traces),
                (None, None) => unreachable!("clap requires the SQL or --file"),
            };
            if traces.is_empty() {
                return Err(AnalyzeError::Usage(
                    "give at least one trace to query, e.g. hltpy-analyze query \"SELECT count(*) FROM nodes\" trace.parquet".into(),
                ));
            }
            let batches = runtime()?.block_on(async {
                let session = Session::open(&traces).await?;
                let _progress = reading(mode, "query", &session);
                query::run(&session, &sql, allow_writes).await
            })?;
            output::write(&batches, format, out.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
