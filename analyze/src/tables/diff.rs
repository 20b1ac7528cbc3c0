//! The `diff` table: the query's two traces (old, then new) matched node
//! for node (`hltpy_graph::diff`), one row per node of either.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, StringBuilder, UInt64Builder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::DataFusionError;
use hltpy_graph::diff::{Diff, Options};

use super::{LazyTable, PassInputs};
use crate::error::AnalyzeError;
use crate::sources::TraceSource;

/// The `diff` table: the first trace matched against the second.
pub fn diff_table(inputs: &PassInputs) -> LazyTable {
    let sources = inputs.sources.clone();
    LazyTable::new(diff_schema(), move || {
        diff_batch(&sources).map_err(|err| DataFusionError::External(Box::new(err)))
    })
}

/// The `diff` table's columns.
fn diff_schema() -> SchemaRef {
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

/// The `diff` table of the session's first two traces (old, then new).
fn diff_batch(sources: &[TraceSource]) -> Result<RecordBatch, AnalyzeError> {
    let [old, new] = sources else {
        return Err(AnalyzeError::Usage(format!(
            "the table diff compares two traces (old, then new); the query was given {}",
            sources.len()
        )));
    };
    let diff = Diff::of_traces(&old.trace_files(), &new.trace_files(), Options::default())
        .map_err(|err| AnalyzeError::Pass(err.to_string()))?;
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
    RecordBatch::try_new(diff_schema(), columns).map_err(|err| AnalyzeError::Pass(err.to_string()))
}
