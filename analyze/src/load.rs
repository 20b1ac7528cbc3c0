//! How a command reads a trace: the one place that decides between the
//! whole trace, the upstream cone of some nodes (read in windows of ids
//! below the ones wanted, so a trace of millions is never held whole),
//! one traced call's body, and a stream of batches. The streaming passes
//! (eval, infer, diff) read the files themselves through
//! `hltpy_graph::TraceFiles`, in file order.

use std::collections::BTreeSet;

use datafusion::arrow::record_batch::RecordBatch;
use futures::StreamExt;
use hltpy_graph::interp::{IdMap, IdSet};
use hltpy_graph::{ConeLoader, Decoder, Graph, Node, Topology};
use hltpy_schema::NodeKind;

use crate::error::AnalyzeError;
use crate::session::{sql_string, Session};
use crate::sources::TraceSource;

/// The `nodes` columns `hltpy_graph::Graph` decodes, for a SELECT.
pub const GRAPH_COLUMNS: &str = "id, kind, name, type, file, line, frame, value_int, value_float, \
                                 value_bool, value_str, value_repr, inputs";

/// `SELECT` of the decoded columns of `trace`'s nodes with ids `ids`: the
/// cone's query, written once.
fn nodes_with_ids(quoted_trace: &str, ids: impl Iterator<Item = u64>) -> String {
    let ids: Vec<String> = ids.map(|id| id.to_string()).collect();
    format!(
        "SELECT {GRAPH_COLUMNS} FROM nodes WHERE trace = {quoted_trace} AND id IN ({})",
        ids.join(", ")
    )
}

/// The node a run ends with: the last top-level node that no other node
/// consumes.
pub async fn final_node(session: &Session, trace: &str) -> Result<Option<u64>, AnalyzeError> {
    Ok(unread_nodes(session, trace, true, 1).await?.pop())
}

/// The last `most` nodes no other node consumes (not a Function, Class or
/// Const, which only name things), in id order: the run's results and the
/// values it computed and dropped. `top_level`: only those made outside
/// every traced call.
pub async fn unread_nodes(
    session: &Session,
    trace: &str,
    top_level: bool,
    most: usize,
) -> Result<Vec<u64>, AnalyzeError> {
    let trace = sql_string(trace);
    let leaves = NodeKind::sql_list(NodeKind::is_leaf);
    let outside = if top_level { "AND n.frame IS NULL" } else { "" };
    let rows = session
        .text_rows(&format!(
            "SELECT n.id FROM nodes n WHERE n.trace = {trace} {outside} \
             AND n.kind NOT IN ({leaves}) \
             AND NOT EXISTS (SELECT 1 FROM edges e WHERE e.trace = {trace} AND e.src = n.id) \
             ORDER BY n.id DESC LIMIT {most}"
        ))
        .await?;
    let mut ids: Vec<u64> = rows
        .iter()
        .filter_map(|r| r.first()?.parse().ok())
        .collect();
    ids.reverse();
    Ok(ids)
}

/// Loads the upstream cone of `roots`, `depth` operations deep (all of it
/// with `usize::MAX`), level by level from reads of the ids around the
/// ones wanted: a trace of millions of nodes is never held whole.
pub async fn load_cone(
    session: &Session,
    trace: &str,
    roots: &[u64],
    depth: usize,
) -> Result<Graph, AnalyzeError> {
    let mut reads = ConeReads::default();
    load_cone_within(session, trace, roots, depth, usize::MAX, &mut reads).await
}

/// [`load_cone`], refused as too many as soon as more than `most` nodes
/// are loaded (nothing further is read), reusing the rows
/// earlier reads fetched (of the same trace): a cone tried again at a
/// smaller depth reads nothing again.
async fn load_cone_within(
    session: &Session,
    trace: &str,
    roots: &[u64],
    depth: usize,
    most: usize,
    reads: &mut ConeReads,
) -> Result<Graph, AnalyzeError> {
    let quoted = sql_string(trace);
    let mut loader = ConeLoader::new(roots, depth);
    let bad = |err: hltpy_graph::GraphError| {
        AnalyzeError::Usage(format!("{}: {err}", session_name(session)))
    };
    loop {
        let wanted = loader.wanted();
        if wanted.is_empty() {
            return Ok(loader.finish());
        }
        let mut missing: Vec<u64> = wanted
            .iter()
            .copied()
            .filter(|id| !reads.covers(*id))
            .collect();
        if !missing.is_empty() && reads.nodes.len() > READS_KEPT {
            // Starting afresh: what was covered must be read again.
            *reads = ConeReads::default();
            missing.clone_from(&wanted);
        }
        if let Some(&highest) = missing.iter().max() {
            let lowest = highest.saturating_sub(READ_AHEAD);
            let outside: Vec<u64> = missing.iter().copied().filter(|id| *id < lowest).collect();
            let also = if outside.is_empty() {
                String::new()
            } else {
                let ids: Vec<String> = outside.iter().map(u64::to_string).collect();
                format!(" OR id IN ({})", ids.join(", "))
            };
            let batches = session
                .collect(&format!(
                    "SELECT {GRAPH_COLUMNS} FROM nodes WHERE trace = {quoted} \
                     AND (id BETWEEN {lowest} AND {highest}{also})"
                ))
                .await?;
            let mut decoder = Decoder::default();
            for batch in &batches {
                for node in decoder.decode(batch).map_err(bad)? {
                    let arrival = reads.arrived;
                    reads.arrived += 1;
                    reads.nodes.insert(node.id, (arrival, node));
                }
            }
            reads.ranges.push(lowest..=highest);
            reads.asked.extend(outside);
        }
        // In the order they were read (row order within a read, as a
        // query of the wanted ids alone gives them).
        let mut found: Vec<&(usize, Node)> =
            wanted.iter().filter_map(|id| reads.nodes.get(id)).collect();
        found.sort_unstable_by_key(|(arrival, _)| *arrival);
        for (_, node) in found {
            loader.add(node.clone()).map_err(bad)?;
        }
        if loader.loaded() > most {
            return Err(too_many(most, loader.loaded()));
        }
        loader.fetched();
    }
}

/// The rows a cone's reads fetched: each read takes the ids wanted and
/// the READ_AHEAD ids below the highest of them. A node's inputs were
/// made shortly before it, so one read serves many levels of a deep,
/// narrow cone (one query per level was 71 s of a report on a 4.2M-node
/// trace).
#[derive(Default)]
struct ConeReads {
    /// By id: the node, and when it arrived.
    nodes: IdMap<(usize, Node)>,
    arrived: usize,
    /// The id ranges read, and the ids asked for outside them: an id in
    /// neither was not read; one in either but not in `nodes` is not in
    /// the trace (and is not asked for again).
    ranges: Vec<std::ops::RangeInclusive<u64>>,
    asked: IdSet,
}

impl ConeReads {
    fn covers(&self, id: u64) -> bool {
        self.nodes.contains_key(&id)
            || self.asked.contains(&id)
            || self.ranges.iter().any(|range| range.contains(&id))
    }
}

/// How many ids below the highest one wanted a cone's read takes along.
const READ_AHEAD: u64 = 16_384;

/// The most nodes kept from earlier reads (about 30 MiB) before the next
/// read starts afresh.
const READS_KEPT: usize = 1 << 17;

/// The one trace of a session and the nodes a subcommand starts from:
/// those named with --node, else the run's final result. `verb` says what
/// the subcommand does (`compile`, `draw`) in its messages.
pub async fn one_trace_and_roots<'s>(
    session: &'s Session,
    nodes: &[u64],
    verb: &str,
) -> Result<(&'s TraceSource, Vec<u64>), AnalyzeError> {
    let [source] = session.sources.as_slice() else {
        return Err(AnalyzeError::Usage(format!(
            "{verb} takes one trace; name one"
        )));
    };
    if !nodes.is_empty() {
        return Ok((source, nodes.to_vec()));
    }
    let root = final_node(session, &source.name).await?.ok_or_else(|| {
        AnalyzeError::Usage(format!(
            "{} has no top-level result to {verb}; pick a node with --node ID",
            source.name
        ))
    })?;
    Ok((source, vec![root]))
}

fn session_name(session: &Session) -> String {
    session
        .sources
        .iter()
        .map(|s| s.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The cone of `roots` at the first of `depths` that fits `most` nodes
/// and that `accept` takes, and that depth; else the refusal of the last.
/// Reading stops as soon as a cone holds more than `most` (a trace of
/// millions is never read further than that).
pub async fn load_bounded(
    session: &Session,
    trace: &str,
    roots: &[u64],
    depths: &[usize],
    most: usize,
    accept: impl Fn(&Graph) -> Result<(), AnalyzeError>,
) -> Result<(Graph, usize), AnalyzeError> {
    let quoted = sql_string(trace);
    let rows = session.sources.iter().map(|s| s.rows).sum::<u64>();
    let mut refused = too_many(most, 0);
    if rows <= WHOLE {
        // One read of the whole trace beats a query per level; only the
        // cone's rows are decoded into nodes.
        let batches = session
            .collect(&format!(
                "SELECT {GRAPH_COLUMNS} FROM nodes WHERE trace = {quoted}"
            ))
            .await?;
        let bad = |err: hltpy_graph::GraphError| AnalyzeError::Usage(format!("{trace}: {err}"));
        let topology = Topology::from_batches(&batches).map_err(bad)?;
        for depth in depths {
            match topology.cone(roots, *depth, most) {
                Ok(rows) => {
                    let graph = topology.decode(&batches, &rows).map_err(bad)?;
                    match accept(&graph) {
                        Ok(()) => return Ok((graph, *depth)),
                        Err(err) => refused = err,
                    }
                }
                Err(seen) => refused = too_many(most, seen),
            }
        }
        return Err(refused);
    }
    let mut reads = ConeReads::default();
    for depth in depths {
        match load_cone_within(session, trace, roots, *depth, most, &mut reads).await {
            Ok(graph) => match accept(&graph) {
                Ok(()) => return Ok((graph, *depth)),
                Err(err) => refused = err,
            },
            Err(err @ AnalyzeError::TooMany(_)) => refused = err,
            Err(err) => return Err(err),
        }
    }
    Err(refused)
}

/// A traced call, the nodes made while it ran, and the nodes those read
/// from outside it.
pub async fn load_frame(
    session: &Session,
    trace: &str,
    frame: u64,
    most: usize,
) -> Result<Graph, AnalyzeError> {
    let quoted = sql_string(trace);
    let batches = session
        .collect(&format!(
            "SELECT {GRAPH_COLUMNS} FROM nodes WHERE trace = {quoted} AND (frame = {frame} OR id = {frame})"
        ))
        .await?;
    let decode = |batches: &[_]| {
        Graph::from_batches(batches).map_err(|err| AnalyzeError::Usage(format!("{trace}: {err}")))
    };
    let mut graph = decode(&batches)?;
    let outside: BTreeSet<u64> = graph
        .nodes()
        .iter()
        .flat_map(|n| n.inputs.iter().map(|i| i.src))
        .filter(|src| !graph.contains(*src))
        .collect();
    if graph.len() + outside.len() > most {
        return Err(too_many(most, graph.len() + outside.len()));
    }
    if !outside.is_empty() {
        let read = session
            .collect(&nodes_with_ids(&quoted, outside.iter().copied()))
            .await?;
        for node in decode(&read)?.nodes() {
            graph
                .insert(node.clone())
                .map_err(|err| AnalyzeError::Usage(format!("{trace}: {err}")))?;
        }
    }
    Ok(graph)
}

/// Traces up to this many nodes are read whole; larger ones a window of
/// ids at a time (`load_cone_within`).
const WHOLE: u64 = 2_000_000;

fn too_many(most: usize, seen: usize) -> AnalyzeError {
    AnalyzeError::TooMany(format!(
        "the drawing would hold more than {most} nodes (at least {seen} so far); \
         bound it with --depth N, pick nodes with --node ID, or raise --max-nodes"
    ))
}

/// Streams the columns `columns` (SQL, e.g. `id, kind, inputs`) of every
/// node of `trace` through `visit`, in no particular order.
pub async fn walk(
    session: &Session,
    trace: &str,
    columns: &str,
    mut visit: impl FnMut(&RecordBatch) -> Result<(), AnalyzeError>,
) -> Result<(), AnalyzeError> {
    let frame = session
        .plan(&format!(
            "SELECT {columns} FROM nodes WHERE trace = {}",
            sql_string(trace)
        ))
        .await?;
    let mut stream = frame
        .execute_stream()
        .await
        .map_err(|err| session.read_error(err))?;
    while let Some(batch) = stream.next().await {
        visit(&batch.map_err(|err| session.read_error(err))?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An id a read covered but did not find is not in the trace: not
    /// asked for again. One outside every read is.
    #[test]
    fn reads_cover_their_ranges_and_the_ids_asked_outside_them() {
        let mut reads = ConeReads::default();
        reads.ranges.push(100..=200);
        reads.asked.extend([5, 7]);
        for id in [100, 150, 200, 5, 7] {
            assert!(reads.covers(id), "{id}");
        }
        for id in [99, 201, 6, 0, u64::MAX] {
            assert!(!reads.covers(id), "{id}");
        }
    }
}
