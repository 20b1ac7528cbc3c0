//! `summary`: what was traced and when, node counts per kind, the traced
//! functions and classes with their call counts, the deepest call nesting,
//! the nodes with the largest fan-in and fan-out, and anything odd.

use std::collections::HashMap;
use std::fmt::Write as _;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, UInt64Type};

use crate::error::AnalyzeError;
use crate::session::Session;

/// The deepest nesting of traced calls in each trace: a call's depth is one
/// more than the depth of the call it runs inside (its `frame`). A call's
/// id is given when it starts, after the call it runs in, so one pass in id
/// order knows every parent's depth before its children.
async fn deepest_nesting(session: &Session) -> Result<HashMap<String, u64>, AnalyzeError> {
    let batches = session
        .collect(
            "SELECT trace, id, frame FROM nodes \
             WHERE kind IN ('Call', 'Dispatch', 'NewInit', 'Generation')",
        )
        .await?;
    let mut frames: HashMap<String, Vec<(u64, Option<u64>)>> = HashMap::new();
    for batch in &batches {
        let traces = cast(batch.column(0), &DataType::Utf8)
            .map_err(|e| AnalyzeError::Engine(e.to_string()))?;
        let traces = traces.as_string::<i32>();
        let ids = batch.column(1).as_primitive::<UInt64Type>();
        let parents = batch.column(2).as_primitive::<UInt64Type>();
        for row in 0..batch.num_rows() {
            let parent = (!parents.is_null(row)).then(|| parents.value(row));
            let trace = traces.value(row);
            match frames.get_mut(trace) {
                Some(calls) => calls.push((ids.value(row), parent)),
                None => {
                    frames.insert(trace.to_string(), vec![(ids.value(row), parent)]);
                }
            }
        }
    }
    let mut deepest = HashMap::new();
    for (trace, mut calls) in frames {
        calls.sort_unstable();
        let mut depth: HashMap<u64, u64> = HashMap::with_capacity(calls.len());
        let mut max = 0;
        for (id, parent) in calls {
            // A frame that is not a call of this trace (damaged or foreign
            // input) counts as the top level.
            let d = parent.and_then(|p| depth.get(&p)).copied().unwrap_or(0) + 1;
            depth.insert(id, d);
            max = max.max(d);
        }
        deepest.insert(trace, max);
    }
    Ok(deepest)
}

/// Items separated by commas, or "none".
fn listing(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// The summary report, and whether every trace ended cleanly.
pub async fn summarize(session: &Session) -> Result<(String, bool), AnalyzeError> {
    let mut out = String::new();
    let nesting = deepest_nesting(session).await?;
    let mut all_complete = true;
    for source in &session.sources {
        let name = &source.name;
        let literal = format!("'{}'", name.replace('\'', "''"));
        let meta = &source.metadata;
        let _ = writeln!(out, "trace {name}");
        let _ = writeln!(
            out,
            "  {} nodes{}, format {}, hltpy {}, Python {}",
            source.rows,
            if source.files.len() > 1 {
                format!(" in {} segments", source.files.len())
            } else {
                String::new()
            },
            meta.format_version,
            meta.hltpy_version,
            meta.python_version
        );
        let _ = writeln!(out, "  run: {}", meta.argv.join(" "));
        let _ = writeln!(
            out,
            "  from {} to {} ({})",
            meta.start_time,
            meta.end_time.as_deref().unwrap_or("?"),
            meta.end_reason.as_deref().unwrap_or("no end reason")
        );
        if !meta.traced_modules.is_empty() {
            let _ = writeln!(out, "  traced modules: {}", meta.traced_modules.join(", "));
        }
        let kinds = session.text_rows(
            &format!(
                "SELECT CAST(kind AS VARCHAR) AS k, count(*) AS n FROM nodes WHERE trace = {literal} \
                 GROUP BY k ORDER BY n DESC, k"
            ),
        )
        .await?;
        let kinds: Vec<String> = kinds.iter().map(|r| format!("{} {}", r[0], r[1])).collect();
        let _ = writeln!(out, "  kinds: {}", listing(&kinds));
        let callables = session
            .text_rows(&format!(
                "SELECT kind, name, count(*) AS n FROM calls WHERE trace = {literal} \
                 GROUP BY kind, name ORDER BY n DESC, name LIMIT 15"
            ))
            .await?;
        if !callables.is_empty() {
            let _ = writeln!(out, "  traced calls (kind, name, count):");
            for row in &callables {
                let _ = writeln!(out, "    {:<10} {:<30} {}", row[0], row[1], row[2]);
            }
        }
        let _ = writeln!(
            out,
            "  deepest call nesting: {}",
            nesting.get(name).copied().unwrap_or(0)
        );
        for (label, column) in [("fan-in", "dst"), ("fan-out", "src")] {
            // Degrees first, then the three largest joined to their nodes:
            // joining every edge to its node would cost a join per input.
            let top = session
                .text_rows(&format!(
                    "WITH ranked AS (SELECT {column} AS node, count(*) AS degree FROM edges \
                     WHERE trace = {literal} GROUP BY {column} ORDER BY degree DESC, node LIMIT 3) \
                     SELECT ranked.node, CAST(n.kind AS VARCHAR), n.name, ranked.degree FROM ranked \
                     JOIN nodes n ON n.id = ranked.node WHERE n.trace = {literal} \
                     ORDER BY ranked.degree DESC, ranked.node"
                ))
                .await?;
            let top: Vec<String> = top
                .iter()
                .map(|r| {
                    let name = if r[2].is_empty() {
                        String::new()
                    } else {
                        format!(" {}", r[2])
                    };
                    format!("#{} {}{} ({})", r[0], r[1], name, r[3])
                })
                .collect();
            let _ = writeln!(out, "  largest {label}: {}", listing(&top));
        }
        let mut odd = Vec::new();
        if !source.complete {
            odd.push(format!(
                "not closed cleanly: {}",
                meta.end_reason.as_deref().unwrap_or("no reason recorded")
            ));
        }
        if !source.extra_columns.is_empty() {
            odd.push(format!(
                "columns from a newer format: {}",
                source.extra_columns.join(", ")
            ));
        }
        if source.rows == 0 {
            odd.push("the trace is empty".into());
        }
        for line in &odd {
            let _ = writeln!(out, "  warning: {line}");
        }
        all_complete &= source.complete;
    }
    Ok((out, all_complete))
}
