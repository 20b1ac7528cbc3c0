//! The analyzer's integration tests, as one binary (see Cargo.toml).

mod cli;
mod compile;
mod constraints;
mod damaged;
mod diff;
mod eval;
mod infer;
mod options;
mod render;
mod snapshots;
mod support;
mod usage;
