//! Errors of the analyzer, each one line for stderr; `main` reports any of
//! them with exit status 2.

use hltpy_schema::TraceError;

#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    /// The command line asks for something impossible.
    #[error("{0}")]
    Usage(String),
    /// A trace file is missing, not a trace, damaged or too new.
    #[error(transparent)]
    Input(#[from] TraceError),
    /// A query the user wrote is wrong; the message lists the tables.
    #[error("{0}")]
    Query(String),
    /// Writing the output failed.
    #[error("cannot write {path}: {detail}")]
    Output { path: String, detail: String },
    /// The query engine failed on valid input.
    #[error("{0}")]
    Engine(String),
    /// What was asked would be larger than its bound (a drawing past
    /// --max-nodes); the message says how to narrow it.
    #[error("{0}")]
    TooMany(String),
    /// A pass could not go over a trace (a cycle, a misordered or
    /// damaged file); the message names the trace and the node.
    #[error("{0}")]
    Pass(String),
}
