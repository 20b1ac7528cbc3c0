//! The subcommands, one module each: its clap `Args` and a `run` that
//! loads the traces, runs a pass and formats the pass's value. A command
//! uses the layers below it (sources, session, load, tables, draw,
//! output) and the graph crate's passes, never another command.

pub mod check;
#[cfg(feature = "cluster")]
pub mod cluster;
pub mod compile;
pub mod constraints;
pub mod diff;
pub mod eval;
pub mod expr;
pub mod infer;
pub mod query;
pub mod render;
pub mod report;
pub mod summary;
