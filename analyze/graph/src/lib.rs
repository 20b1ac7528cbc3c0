//! hltpy-graph: the typed graph of a trace and the passes' foundation,
//! without DataFusion (so its tests build and run in seconds).
//!
//! - [`graph`]: [`Graph`] of [`Node`]s decoded from record batches, whole
//!   or as the upstream cone of some nodes ([`ConeLoader`]).
//! - [`interp`]: the [`Interpreter`] trait (one method per node kind) and
//!   the [`Runner`] that feeds it nodes in data order, dropping values
//!   once their last reader ran; [`stream`] runs it over trace files.
//! - [`value`], [`literal`], [`python`]: the Python value domain, a reader
//!   of the literals traces record as text, and CPython's semantics.
//! - [`eval`]: re-evaluation and what-if, the first pass on the trait.
//! - [`diff`]: two traces matched node for node (fingerprints, call
//!   tree, similarity) and what changed between them.
//! - [`infer`]: types and structure per traced function and class (and
//!   dimensions), streamed; [`stubs`] writes them as `.pyi` files.
//!
//! The format's own rules (which kinds are traced calls, which roles only
//! say where a value came from) live on `hltpy_schema::{NodeKind, Role}`.

pub mod compile;
pub mod diff;
pub mod eval;
pub mod expr;
pub mod graph;
pub mod infer;
pub mod interp;
pub mod literal;
pub mod pymath;
pub mod pysource;
pub mod python;
pub mod stream;
pub mod stubs;
pub mod text;
mod unicode_printable;
pub mod value;

pub use graph::{ConeLoader, Decoder, Graph, GraphError, Input, Node, Recorded, Topology};
pub use interp::{run, Args, InterpretError, Interpreter, Runner, UseCounts};
pub use stream::{RunError, TraceFiles};
pub use value::{Int, Object, Value};
