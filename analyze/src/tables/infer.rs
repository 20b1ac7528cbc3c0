//! The tables `signatures` and `requirements`: one inference
//! (`hltpy_graph::infer`) over every trace, as one row per parameter and
//! one per need.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, StringBuilder, UInt64Builder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::{DataFusionError, Result};
use hltpy_graph::infer::{Inference, Types};
use hltpy_graph::TraceFiles;

/// One inference over every trace.
pub fn inference(traces: &[TraceFiles]) -> Result<Inference> {
    Inference::of_traces(traces, None, &AtomicU64::new(0))
        .map_err(|err| DataFusionError::External(Box::new(err)))
}

/// Columns of the `signatures` table.
pub fn signatures_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("function", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("class", DataType::Utf8, true),
        Field::new("parameter", DataType::Utf8, false),
        Field::new("position", DataType::UInt64, true),
        Field::new("types", DataType::Utf8, false),
        Field::new("observed", DataType::UInt64, false),
        Field::new("defaulted", DataType::UInt64, false),
        Field::new("calls", DataType::UInt64, false),
        Field::new("traces", DataType::UInt64, false),
    ]))
}

/// One row per parameter, return, yield and raise of every traced
/// function, and per attribute of every traced class (kind `attribute`).
pub fn signatures_batch(inference: &Inference) -> Result<RecordBatch> {
    let mut function = StringBuilder::new();
    let mut kind = StringBuilder::new();
    let mut class = StringBuilder::new();
    let mut parameter = StringBuilder::new();
    let mut position = UInt64Builder::new();
    let mut types = StringBuilder::new();
    let mut observed = UInt64Builder::new();
    let mut defaulted = UInt64Builder::new();
    let mut calls = UInt64Builder::new();
    let mut traces = UInt64Builder::new();
    let mut row = |f: &str,
                   k: &str,
                   c: Option<&str>,
                   p: &str,
                   at: Option<u64>,
                   t: &Types,
                   d: u64,
                   n: u64,
                   tr: u64| {
        function.append_value(f);
        kind.append_value(k);
        class.append_option(c);
        parameter.append_value(p);
        position.append_option(at);
        types.append_value(t.render());
        observed.append_value(t.total());
        defaulted.append_value(d);
        calls.append_value(n);
        traces.append_value(tr);
    };
    for c in inference.classes.values() {
        for a in &c.attributes {
            row(
                &c.name,
                "attribute",
                Some(&c.name),
                &a.name,
                None,
                &a.types,
                0,
                c.objects,
                0,
            );
        }
    }
    for f in inference.functions.values() {
        let k = f.kind.as_str();
        let owner = f.owner.as_deref();
        let n = f.calls;
        let tr = f.traces.len() as u64;
        if let Some(receiver) = &f.receiver {
            row(
                &f.qualname,
                k,
                owner,
                "self",
                Some(0),
                &receiver.types,
                0,
                n,
                tr,
            );
        }
        let offset = u64::from(f.receiver.is_some());
        for (at, p) in f.params.iter().enumerate() {
            let label = p.label();
            row(
                &f.qualname,
                k,
                owner,
                &label,
                Some(at as u64 + offset),
                &p.types,
                p.defaulted,
                n,
                tr,
            );
        }
        for (label, t) in [
            ("return", &f.returns),
            ("yield", &f.yields),
            ("raise", &f.raises),
        ] {
            if !t.is_empty() {
                row(&f.qualname, k, owner, label, None, t, 0, n, tr);
            }
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(function.finish()),
        Arc::new(kind.finish()),
        Arc::new(class.finish()),
        Arc::new(parameter.finish()),
        Arc::new(position.finish()),
        Arc::new(types.finish()),
        Arc::new(observed.finish()),
        Arc::new(defaulted.finish()),
        Arc::new(calls.finish()),
        Arc::new(traces.finish()),
    ];
    Ok(RecordBatch::try_new(signatures_schema(), columns)?)
}

/// Columns of the `requirements` table.
pub fn requirements_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("function", DataType::Utf8, false),
        Field::new("parameter", DataType::Utf8, false),
        Field::new("need", DataType::Utf8, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("operand_type", DataType::Utf8, true),
        Field::new("result_type", DataType::Utf8, true),
        Field::new("count", DataType::UInt64, false),
        Field::new("use", DataType::Utf8, false),
    ]))
}

/// One row per use a body made of a parameter (or of `self`).
pub fn requirements_batch(inference: &Inference) -> Result<RecordBatch> {
    let mut function = StringBuilder::new();
    let mut parameter = StringBuilder::new();
    let mut need_kind = StringBuilder::new();
    let mut name = StringBuilder::new();
    let mut operand = StringBuilder::new();
    let mut result = StringBuilder::new();
    let mut count = UInt64Builder::new();
    let mut use_text = StringBuilder::new();
    for f in inference.functions.values() {
        for p in f.receiver.iter().chain(&f.params) {
            for (need, facts) in &p.needs {
                function.append_value(&f.qualname);
                parameter.append_value(p.label());
                need_kind.append_value(need.kind());
                name.append_value(need.name());
                operand.append_option(need.operand());
                result.append_option((!facts.results.is_empty()).then(|| facts.results.render()));
                count.append_value(facts.count);
                use_text.append_value(need.describe(&p.name));
            }
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(function.finish()),
        Arc::new(parameter.finish()),
        Arc::new(need_kind.finish()),
        Arc::new(name.finish()),
        Arc::new(operand.finish()),
        Arc::new(result.finish()),
        Arc::new(count.finish()),
        Arc::new(use_text.finish()),
    ];
    Ok(RecordBatch::try_new(requirements_schema(), columns)?)
}
