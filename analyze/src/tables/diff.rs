//! The `diff` table: the query's two traces (old, then new) matched node
//! for node (`hltpy_graph::diff`), one row per node of either.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, StringBuilder, UInt64Builder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::{DataFusionError, Result};
use hltpy_graph::diff::{Diff, Options};
use hltpy_graph::TraceFiles;

/// The `diff` table's columns.
pub fn diff_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("old_trace", DataType::Utf8, false),
        Field::new("old_id", DataType::UInt64, true),
        Field::new("new_trace", DataType::Utf8, false),
        Field::new("new_id", DataType::UInt64, true),
        Field::new("status", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("name", DataType::Utf8, false),
    ]))
}

/// The refusal of a session without exactly two traces (given when the
/// query is planned, and again by the pass).
pub fn not_a_pair(traces: usize) -> DataFusionError {
    DataFusionError::Plan(format!(
        "the table diff compares two traces (old, then new); the query was given {traces}"
    ))
}

/// The `diff` table of the session's two traces (old, then new).
pub fn diff_batch(traces: &[TraceFiles]) -> Result<RecordBatch> {
    let [old, new] = traces else {
        return Err(not_a_pair(traces.len()));
    };
    let diff = Diff::of_traces(old, new, Options::default())
        .map_err(|err| DataFusionError::External(Box::new(err)))?;
    let rows = diff.rows();
    let mut old_trace = StringBuilder::new();
    let mut old_id = UInt64Builder::new();
    let mut new_trace = StringBuilder::new();
    let mut new_id = UInt64Builder::new();
    let mut status = StringBuilder::new();
    let mut kind = StringBuilder::new();
    let mut name = StringBuilder::new();
    for row in rows {
        old_trace.append_value(&old.name);
        old_id.append_option(row.old_id);
        new_trace.append_value(&new.name);
        new_id.append_option(row.new_id);
        status.append_value(row.status.as_str());
        kind.append_value(row.kind.as_str());
        name.append_value(row.name);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(old_trace.finish()),
        Arc::new(old_id.finish()),
        Arc::new(new_trace.finish()),
        Arc::new(new_id.finish()),
        Arc::new(status.finish()),
        Arc::new(kind.finish()),
        Arc::new(name.finish()),
    ];
    Ok(RecordBatch::try_new(diff_schema(), columns)?)
}
