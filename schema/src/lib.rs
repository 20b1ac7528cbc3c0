//! The hltpy trace file format, defined once for both sides.
//!
//! `capture` writes traces with [`NodeBuffer`] and [`TraceWriter`]; `analyze`
//! (and any tool in Rust) opens them with [`TraceFile`], which validates that a
//! file really is a complete hltpy trace of a version it understands. The
//! human-readable specification of the same format is `schema/FORMAT.md`;
//! the two must stay in step.
//!
//! Every leaf column is encoded here (`column_chunk`, `value_columns`,
//! `dictionary_column`), not by the `parquet` crate's column writers: a
//! trial fed the crate's typed writers with the levels hltpy computes, one
//! group of leaves at a time, and counted the writer thread's instructions
//! per iteration (`make bench-instructions`, one build; `value_int` was
//! still delta-encoded then, in the delta group):
//!
//! | leaves given to the crate | (a) `x = x + 1` | (b) method call | (c) kernel |
//! | --- | ---: | ---: | ---: |
//! | none (hltpy's encoders) | 1,160 | 6,684 | 4,706 |
//! | delta (`id`, `frame`, `line`, `value_int`) | 1,413 (+22%) | 8,004 (+20%) | 5,394 (+15%) |
//! | PLAIN (strings, floats, bools, `thread`, `inputs.src`) | 2,014 (+74%) | 10,327 (+55%) | 7,001 (+49%) |
//! | dictionary (`kind`, `file`, `type`, `inputs.role`) | 2,624 (+126%) | 13,804 (+107%) | 8,473 (+80%) |
//! | all | 3,419 (+195%) | 17,531 (+162%) | 11,166 (+137%) |
//! | byte stream split, against hltpy's (967 / 5,437 / 3,727) | 1,205 (+25%) | 6,728 (+24%) | 4,488 (+20%) |
//!
//! No group came within 5% of hltpy's encoders, so all are kept. The crate
//! spends its extra on per-value work hltpy's fixed schema does not need:
//! a `ByteArray` per string, a hash lookup per dictionary value (hltpy
//! translates Arrow's dictionary keys once per batch), levels re-encoded
//! value by value. The trial's code is commit 4980da3 in the
//! history (`HLTPY_CRATE_LEAVES=delta|plain|dictionary|split|all`).
//! `tests/differential.rs` fences the hand-written encoders: proptest-drawn
//! batches written by them and by the crate's `ArrowWriter` decode alike.

pub mod bounded_repr;
mod buffer;
mod column_chunk;
mod dictionary_column;
mod model;
pub mod operators;
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
pub use operators::{BinOp, CmpOp, Form, Operator, UnOp};
pub use reader::{TraceBatches, TraceError, TraceFile, TraceMetadata};
pub use segments::{segment_files, segment_path, RunWriter};
pub use time::utc_now_rfc3339;
pub use writer::{RunEnd, RunInfo, TraceWriter, WriterOptions};
