//! hltpy-analyze: offline analysis of hltpy traces.
//!
//! The crate is layered; each layer uses only those above it:
//!
//! - [`sources`] resolves the user's arguments into traces (files, segment
//!   directories, directories and globs of them), each validated by the
//!   schema crate's reader; [`session`] registers them in one DataFusion
//!   context ([`scan`]: one Parquet scan over every file) as the trace's
//!   own tables and views (`nodes`, `edges`,
//!   `traces`, `calls`, `values`, `constraints`) with [`functions`]'
//!   `input_of`; [`progress`] shows how much has been read.
//! - [`load`] is the one place that decides how a trace is read: whole,
//!   as the upstream cone of some nodes, one call's body, or streamed.
//! - The passes are `hltpy_graph`'s (eval, infer, diff, expr, compile:
//!   typed values, no DataFusion); [`summary`] is the one pass that runs
//!   as queries. [`tables`] turns passes into tables of the session
//!   (`eval`, `signatures`, `requirements`, `diff`) from one list.
//! - [`draw`] holds every drawing (graphviz DOT, the diff's regions, the
//!   escaping of a trace's text into markup); [`output`] the exit status,
//!   standard output and the query result formats.
//! - [`commands`]: one module per subcommand — its clap arguments and
//!   `run`: load, run a pass, format its value. No command imports
//!   another; `main.rs` parses, runs one, and reports.
//! - With the cargo feature `cluster`, [`cluster`] runs a session's
//!   queries on an Apache DataFusion Ballista cluster, and the cluster's
//!   processes from this binary.

#[cfg(feature = "cluster")]
pub mod cluster;
pub mod commands;
pub mod draw;
pub mod error;
pub mod functions;
pub mod load;
pub mod output;
pub mod progress;
pub mod scan;
pub mod session;
pub mod sources;
pub mod summary;
pub mod tables;
