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
/// more than the depth of the call it runs inside (its `frame`).
async fn deepest_nesting(session: &Session) -> Result<HashMap<String, u64>, AnalyzeError> {
    let batches = session
        .ctx
        .sql(
            "SELECT trace, id, frame FROM nodes \
             WHERE kind IN ('Call', 'Dispatch', 'NewInit', 'Generation')",
        )
        .await
        .map_err(|err| AnalyzeError::Engine(err.to_string()))?
        .collect()
        .await
        .map_err(|err| AnalyzeError::Engine(err.to_string()))?;
    let mut frames: HashMap<(String, u64), Option<u64>> = HashMap::new();
    for batch in &batches {
        let traces = cast(batch.column(0), &DataType::Utf8)
            .map_err(|e| AnalyzeError::Engine(e.to_string()))?;
        let traces = traces.as_string::<i32>();
        let ids = batch.column(1).as_primitive::<UInt64Type>();
        let parents = batch.column(2).as_primitive::<UInt64Type>();
        for row in 0..batch.num_rows() {
            let parent = (!parents.is_null(row)).then(|| parents.value(row));
            frames.insert((traces.value(row).to_string(), ids.value(row)), parent);
        }
    }
    let mut depth: HashMap<(String, u64), u64> = HashMap::new();
    let mut deepest: HashMap<String, u64> = HashMap::new();
    let keys: Vec<(String, u64)> = frames.keys().cloned().collect();
    for key in keys {
        // Walk up to a known depth (or the top), then fill in downwards.
        let mut chain = vec![key.clone()];
        let mut base = 0;
        while let Some(Some(parent)) = frames.get(chain.last().expect("non-empty")) {
            let parent_key = (key.0.clone(), *parent);
            if let Some(known) = depth.get(&parent_key) {
                base = *known;
                break;
            }
            if !frames.contains_key(&parent_key) || chain.len() > frames.len() {
                break;
            }
            chain.push(parent_key);
        }
        for (offset, node) in chain.iter().rev().enumerate() {
            let d = base + offset as u64 + 1;
            depth.insert(node.clone(), d);
            let entry = deepest.entry(key.0.clone()).or_default();
            *entry = (*entry).max(d);
        }
    }
    Ok(deepest)
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
        let _ = writeln!(out, "  kinds: {}", kinds.join(", "));
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
            let top = session.text_rows(&format!(
                    "SELECT e.{column} AS node, CAST(n.kind AS VARCHAR) AS k, n.name AS name, count(*) AS degree \
                     FROM edges e JOIN nodes n ON n.trace = e.trace AND n.id = e.{column} \
                     WHERE e.trace = {literal} \
                     GROUP BY node, k, name ORDER BY degree DESC, node LIMIT 3"
                ),
            )
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
            let _ = writeln!(out, "  largest {label}: {}", top.join(", "));
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
