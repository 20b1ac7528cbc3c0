//! `constraints`: the seed's upstream constraints of each trace, from the
//! portable SQL of the session's view `constraints` (`constraints.sql`).

use crate::error::AnalyzeError;
use crate::output::results::Format;
use crate::output::{self, ExitStatus};
use crate::progress::ProgressMode;
use crate::session::{Session, CONSTRAINT_KINDS};

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

pub fn run(args: Args, mode: ProgressMode) -> Result<ExitStatus, AnalyzeError> {
    let filter = match &args.kind {
        None => String::new(),
        Some(kind) if CONSTRAINT_KINDS.contains(&kind.as_str()) => {
            format!(" WHERE kind = '{kind}'")
        }
        Some(kind) => {
            return Err(AnalyzeError::Usage(format!(
                "no constraint kind {kind:?}; the kinds are {}",
                CONSTRAINT_KINDS.join(", ")
            )))
        }
    };
    let sql = format!("SELECT * FROM constraints{filter} ORDER BY trace, from_id, kind, to_id");
    let (schema, batches) = crate::session::runtime()?.block_on(async {
        let session = Session::open(&args.traces).await?;
        let _progress = session.progress(mode, "constraints");
        session.collect_with_schema(&sql).await
    })?;
    output::results::write(&schema, &batches, args.format, args.output.as_deref())?;
    Ok(ExitStatus::Success)
}
