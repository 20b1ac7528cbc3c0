//! hltpy-analyze: offline analysis of hltpy traces.
//!
//! For now one subcommand, `check`, which validates traces with the schema
//! crate's reader and counts their nodes per kind. The DataFusion session
//! (`query`, `summary`, `expr`, and the analysis passes) comes next and
//! will register its tables over the same validated files.

pub mod check;

/// How a command ended, mapped to the process exit code by `main`.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Everything asked for was done and found fine.
    Ok,
    /// The command ran but found a problem it reports (exit 1).
    Problem,
}
