//! The summary pass: what one trace holds — nodes per kind, the traced
//! calls with their counts, the deepest call nesting, the nodes with the
//! largest fan-in and fan-out — from one streaming [`walk`] over it and
//! one query naming its busiest nodes. `summary` prints it, `report`
//! shows it as HTML.

use std::collections::HashMap;

use datafusion::arrow::array::{Array, AsArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, UInt64Type};
use datafusion::arrow::record_batch::RecordBatch;
use hltpy_graph::UseCounts;
use hltpy_schema::NodeKind;

use crate::error::AnalyzeError;
use crate::load::walk;
use crate::session::{sql_string, Session};
use crate::sources::TraceSource;

/// What one pass over a trace counts.
struct Tally {
    kinds: HashMap<String, u64>,
    calls: HashMap<(String, String), u64>,
    /// (id, frame) of every node that opens a frame.
    frames: Vec<(u64, Option<u64>)>,
    /// (inputs, id) of the nodes with the most inputs, best first.
    fan_in: Vec<(u64, u64)>,
    /// How often each node is an input (a byte per id, as the passes count).
    fan_out: UseCounts,
}

fn engine(err: impl std::fmt::Display) -> AnalyzeError {
    AnalyzeError::Engine(err.to_string())
}

impl Tally {
    fn visit(&mut self, batch: &RecordBatch) -> Result<(), AnalyzeError> {
        let ids = batch.column(0).as_primitive::<UInt64Type>();
        let kinds = cast(batch.column(1), &DataType::Utf8).map_err(engine)?;
        let kinds: &StringArray = kinds.as_string::<i32>();
        let names = cast(batch.column(2), &DataType::Utf8).map_err(engine)?;
        let names: &StringArray = names.as_string::<i32>();
        let frames = batch.column(3).as_primitive::<UInt64Type>();
        let inputs = batch.column(4).as_list::<i32>();
        let srcs = inputs
            .values()
            .as_struct()
            .column_by_name("src")
            .ok_or_else(|| engine("inputs have no src field"))?;
        let srcs = cast(srcs, &DataType::UInt64).map_err(engine)?;
        for &src in srcs.as_primitive::<UInt64Type>().values() {
            self.fan_out.add(src);
        }
        let offsets = inputs.value_offsets();
        for row in 0..batch.num_rows() {
            let id = ids.value(row);
            let kind = kinds.value(row);
            match self.kinds.get_mut(kind) {
                Some(count) => *count += 1,
                None => {
                    self.kinds.insert(kind.to_string(), 1);
                }
            }
            let typed = NodeKind::parse(kind);
            if typed.is_some_and(NodeKind::is_traced_call) {
                let name = if names.is_null(row) {
                    ""
                } else {
                    names.value(row)
                };
                *self
                    .calls
                    .entry((kind.to_string(), name.to_string()))
                    .or_default() += 1;
            }
            if typed.is_some_and(NodeKind::opens_frame) {
                let frame = (!frames.is_null(row)).then(|| frames.value(row));
                self.frames.push((id, frame));
            }
            let degree = (offsets[row + 1] - offsets[row]) as u64;
            keep_top(&mut self.fan_in, (degree, id));
        }
        Ok(())
    }

    /// The deepest nesting of traced calls: a call's depth is one more than
    /// the depth of the call it runs inside (its `frame`). A call's id is
    /// given when it starts, after the call it runs in, so one pass in id
    /// order knows every parent's depth before its children.
    fn deepest_nesting(&mut self) -> u64 {
        self.frames.sort_unstable();
        let mut depth: HashMap<u64, u64> = HashMap::with_capacity(self.frames.len());
        let mut deepest = 0;
        for (id, parent) in &self.frames {
            // A frame that is not a call of this trace counts as the top level.
            let d = parent.and_then(|p| depth.get(&p)).copied().unwrap_or(0) + 1;
            depth.insert(*id, d);
            deepest = deepest.max(d);
        }
        deepest
    }

    fn top_fan_out(&self) -> Vec<(u64, u64)> {
        let mut top = Vec::new();
        for (id, count) in self.fan_out.read_ids() {
            keep_top(&mut top, (u64::from(count), id));
        }
        top
    }
}

/// Keeps the three largest (degree, id) pairs with a degree above zero,
/// largest first, the smaller id first among equals.
fn keep_top(top: &mut Vec<(u64, u64)>, candidate: (u64, u64)) {
    let better = |a: &(u64, u64), b: &(u64, u64)| a.0 > b.0 || (a.0 == b.0 && a.1 < b.1);
    if candidate.0 == 0 || (top.len() == 3 && !better(&candidate, &top[2])) {
        return;
    }
    let at = top
        .iter()
        .position(|t| better(&candidate, t))
        .unwrap_or(top.len());
    top.insert(at, candidate);
    top.truncate(3);
}

/// "#id Kind name (degree)" for each of `top`, looked up in one query.
async fn describe_nodes(
    session: &Session,
    trace: &str,
    top: &[(u64, u64)],
) -> Result<Vec<String>, AnalyzeError> {
    if top.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = top.iter().map(|(_, id)| id.to_string()).collect();
    let rows = session
        .text_rows(&format!(
            "SELECT id, kind, name FROM nodes WHERE trace = {} AND id IN ({})",
            sql_string(trace),
            ids.join(", ")
        ))
        .await?;
    let described: HashMap<&str, String> = rows
        .iter()
        .map(|r| {
            let name = if r[2].is_empty() {
                String::new()
            } else {
                format!(" {}", r[2])
            };
            (r[0].as_str(), format!("{}{name}", r[1]))
        })
        .collect();
    Ok(top
        .iter()
        .map(|(degree, id)| {
            let what = described
                .get(id.to_string().as_str())
                .cloned()
                .unwrap_or_else(|| "(not in the trace)".into());
            format!("#{id} {what} ({degree})")
        })
        .collect())
}

/// What one trace holds, as `summary` and `report` show it.
pub struct TraceSummary {
    /// Nodes per kind, most first.
    pub kinds: Vec<(String, u64)>,
    /// Traced calls as (kind, name, count), most first.
    pub calls: Vec<(String, String, u64)>,
    pub deepest_nesting: u64,
    /// "#id Kind name (degree)" of the nodes with the most inputs.
    pub fan_in: Vec<String>,
    /// The same for the nodes used most often.
    pub fan_out: Vec<String>,
}

/// One [`walk`] over `source`, and a query naming its busiest nodes.
pub async fn summarize_trace(
    session: &Session,
    source: &TraceSource,
) -> Result<TraceSummary, AnalyzeError> {
    let mut tally = Tally {
        kinds: HashMap::new(),
        calls: HashMap::new(),
        frames: Vec::new(),
        fan_in: Vec::new(),
        fan_out: UseCounts::for_trace(source.rows),
    };
    walk(
        session,
        &source.name,
        "id, kind, name, frame, inputs",
        |batch| tally.visit(batch),
    )
    .await?;
    let mut kinds: Vec<(String, u64)> = tally.kinds.drain().collect();
    kinds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut calls: Vec<(String, String, u64)> = tally
        .calls
        .drain()
        .map(|((kind, name), count)| (kind, name, count))
        .collect();
    calls.sort_by(|a, b| b.2.cmp(&a.2).then(a.1.cmp(&b.1)));
    Ok(TraceSummary {
        kinds,
        calls,
        deepest_nesting: tally.deepest_nesting(),
        fan_in: describe_nodes(session, &source.name, &tally.fan_in).await?,
        fan_out: describe_nodes(session, &source.name, &tally.top_fan_out()).await?,
    })
}

#[cfg(test)]
mod tests {
    use super::keep_top;

    #[test]
    fn keeps_the_three_largest_smaller_ids_first() {
        let mut top = Vec::new();
        for candidate in [(2, 9), (5, 4), (0, 1), (5, 2), (1, 7), (3, 3), (2, 1)] {
            keep_top(&mut top, candidate);
        }
        assert_eq!(top, vec![(5, 2), (5, 4), (3, 3)]);
    }
}
