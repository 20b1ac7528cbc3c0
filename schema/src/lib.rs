//! The hltpy trace file format, defined once for both sides.
//!
//! `capture` writes traces with [`NodeBuffer`] and [`TraceWriter`]; `analyze`
//! (and any tool in Rust) opens them with [`TraceFile`], which validates that a
//! file really is a complete hltpy trace of a version it understands. The
//! human-readable specification of the same format is `schema/FORMAT.md`;
//! the two must stay in step.

mod buffer;
mod column_chunk;
mod dictionary_column;
mod model;
mod reader;
mod segments;
mod time;
mod value_columns;
mod writer;

pub use buffer::{InputKey, NodeBuffer, NodeInput, NodeRow, NodeValue, PendingBatch, Storage};
pub use model::{
    arrow_schema, column, meta, ColumnSpec, NodeKind, Role, COLUMNS, FORMAT_NAME,
    FORMAT_VERSION_MAJOR, FORMAT_VERSION_MINOR,
};
pub use reader::{TraceError, TraceFile, TraceMetadata};
pub use segments::{segment_files, segment_path, RunWriter};
pub use time::utc_now_rfc3339;
pub use writer::{RunEnd, RunInfo, TraceWriter, WriterOptions};
