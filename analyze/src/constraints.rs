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

#[cfg(test)]
mod tests {
    use hltpy_schema::{column, NodeKind, Role};

    use super::{KINDS, SQL};

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
