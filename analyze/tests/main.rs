//! The analyzer's integration tests, as one binary (see Cargo.toml).

mod cli;
mod compile;
mod constraints;
mod damaged;
mod eval;
mod infer;
mod snapshots;
mod support;
