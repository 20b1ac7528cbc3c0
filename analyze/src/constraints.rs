//! `constraints`: the seed's upstream constraints of each trace, from the
//! portable SQL in `constraints.sql` (also the view `constraints`).

use crate::cli::{self, ExitStatus};
use crate::error::AnalyzeError;
use crate::output::{self, Format};
use crate::progress::ProgressMode;
use crate::query::execute;
use crate::session::Session;

/// The extraction, as shipped: plain SQL over `nodes` and `edges`.
pub const SQL: &str = include_str!("constraints.sql");

/// List the upstream constraints of traces.
#[derive(clap::Args)]
pub struct Args {
    /// Traces (files, segment directories or directories of traces).
    #[arg(required = true)]
    traces: Vec<String>,
    /// Only constraints of this kind (HasInit, HasAttr, HasCallableMethod,
    /// IsCallableFunction, HasItem, Arg2Content).
    #[arg(long)]
    kind: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write the result to this file instead of standard output.
    #[arg(short, long)]
    output: Option<String>,
}

const KINDS: [&str; 6] = [
    "HasInit",
    "HasAttr",
    "HasCallableMethod",
    "IsCallableFunction",
    "HasItem",
    "Arg2Content",
];

pub fn run(args: Args, mode: ProgressMode) -> Result<ExitStatus, AnalyzeError> {
    let filter = match &args.kind {
        None => String::new(),
        Some(kind) if KINDS.contains(&kind.as_str()) => format!(" WHERE kind = '{kind}'"),
        Some(kind) => {
            return Err(AnalyzeError::Usage(format!(
                "no constraint kind {kind:?}; the kinds are {}",
                KINDS.join(", ")
            )))
        }
    };
    let sql = format!("SELECT * FROM constraints{filter} ORDER BY trace, from_id, kind, to_id");
    let batches = cli::runtime()?.block_on(async {
        let session = Session::open(&args.traces).await?;
        let _progress = cli::reading(mode, "constraints", &session);
        execute(&session, &sql, false).await
    })?;
    output::write(&batches, args.format, args.output.as_deref())?;
    Ok(ExitStatus::Success)
}
