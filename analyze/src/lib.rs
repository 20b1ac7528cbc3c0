//! hltpy-analyze: offline analysis of hltpy traces.
//!
//! [`session`] opens traces (files, segment directories, directories and
//! globs of them), validates them with the schema crate's reader and
//! registers them in one DataFusion context as the tables `nodes`, `edges`,
//! `traces` and the views `calls`, `values` and `constraints`. Each subcommand is a
//! module (its clap arguments and its `run`); `main.rs` only parses, runs
//! and reports. Passes are built on `hltpy_graph` (the typed graph and the
//! `Interpreter` trait, without DataFusion) and their outputs are tables
//! of the same session ([`tables`]: `eval`, `signatures`, `requirements`),
//! computed when a query names them. [`compile`] writes a trace as Python;
//! [`diff`] compares two traces (also the table `diff`); [`render`] draws
//! a trace with graphviz; [`report`] writes one HTML page of a run.

pub mod check;
pub mod cli;
pub mod compile;
pub mod constraints;
pub mod diff;
pub mod error;
pub mod eval;
pub mod expr;
pub mod functions;
mod html;
pub mod infer;
pub mod output;
pub mod progress;
pub mod query;
pub mod render;
pub mod report;
pub mod session;
pub mod summary;
pub mod tables;
pub mod walk;
