//! The analyzer's integration tests, as one binary (see Cargo.toml).

mod cli;
#[cfg(feature = "cluster")]
mod cluster;
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
