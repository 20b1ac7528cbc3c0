//! The `eval` table: every node of every trace re-evaluated
//! (`hltpy_graph::eval`), one row per node, computed trace by trace.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, StringBuilder, UInt64Builder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::{DataFusionError, Result};
use hltpy_graph::eval::{evaluate, recorded_text, NodeOutcome};
use hltpy_graph::TraceFiles;

/// One trace's rows of the `eval` table: every node re-evaluated.
pub fn eval_batch(files: &TraceFiles) -> Result<RecordBatch> {
    let mut trace = StringBuilder::new();
    let mut id = UInt64Builder::new();
    let mut kind = StringBuilder::new();
    let mut status = StringBuilder::new();
    let mut recorded = StringBuilder::new();
    let mut recomputed = StringBuilder::new();
    let mut reason = StringBuilder::new();
    evaluate(files, &[], None, |outcome: &NodeOutcome| {
        trace.append_value(&files.name);
        id.append_value(outcome.node.id);
        kind.append_value(outcome.node.kind.as_str());
        status.append_value(outcome.status.as_str());
        recorded.append_value(recorded_text(&outcome.node.recorded));
        recomputed.append_value(outcome.value.bounded_repr(200));
        reason.append_option(outcome.reason);
    })
    .map_err(|err| DataFusionError::External(Box::new(err)))?;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(trace.finish()),
        Arc::new(id.finish()),
        Arc::new(kind.finish()),
        Arc::new(status.finish()),
        Arc::new(recorded.finish()),
        Arc::new(recomputed.finish()),
        Arc::new(reason.finish()),
    ];
    Ok(RecordBatch::try_new(eval_schema(), columns)?)
}

/// The `eval` table's columns.
pub fn eval_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("trace", DataType::Utf8, false),
        Field::new("id", DataType::UInt64, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("recorded", DataType::Utf8, false),
        Field::new("recomputed", DataType::Utf8, false),
        Field::new("reason", DataType::Utf8, true),
    ]))
}
