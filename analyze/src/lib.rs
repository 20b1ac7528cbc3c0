//! hltpy-analyze: offline analysis of hltpy traces.
//!
//! [`session`] opens traces (files, segment directories, directories and
//! globs of them), validates them with the schema crate's reader and
//! registers them in one DataFusion context as the tables `nodes`, `edges`,
//! `traces` and the views `calls` and `values`. Each subcommand is a
//! module that works on that session; passes added later register their
//! outputs as tables in the same context, so SQL can join them.

pub mod check;
pub mod error;
pub mod expr;
pub mod functions;
pub mod output;
pub mod progress;
pub mod query;
pub mod session;
pub mod summary;
pub mod walk;
