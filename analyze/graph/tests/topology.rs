//! `Topology`: the cone found on a trace's compact shape is the cone a
//! plain walk over the decoded graph finds, for every sample, root and
//! depth, whatever the batches' sizes; only its rows are decoded.

use std::collections::HashMap;
use std::path::PathBuf;

use arrow_array::RecordBatch;
use hltpy_graph::{Graph, Topology};
use hltpy_schema::TraceFile;

fn batches(name: &str, rows_per_batch: usize) -> Vec<RecordBatch> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../samples/traces")
        .join(format!("{name}.parquet"));
    let mut out = Vec::new();
    for batch in TraceFile::open(&path).unwrap().batches().unwrap() {
        let batch = batch.unwrap();
        let mut start = 0;
        while start < batch.num_rows() {
            let length = rows_per_batch.min(batch.num_rows() - start);
            out.push(batch.slice(start, length));
            start += length;
        }
    }
    out
}

/// The cone by its definition: a node is in it when some path from a root
/// reaches it using at most `depth` levels, where Argument and SetAttr
/// nodes use none. Walked naively: a node is walked again whenever it is
/// reached with more levels left.
fn reference(graph: &Graph, roots: &[u64], depth: usize) -> Vec<u64> {
    let mut left_at: HashMap<u64, usize> = HashMap::new();
    let mut work: Vec<(u64, usize)> = roots.iter().map(|r| (*r, depth)).collect();
    while let Some((id, left)) = work.pop() {
        if left_at.get(&id).is_some_and(|done| *done >= left) {
            continue;
        }
        let Some(node) = graph.get(id) else { continue };
        left_at.insert(id, left);
        let passes = node.kind.stands_for_its_value();
        if left == 0 && !passes {
            continue;
        }
        let below = if passes { left } else { left - 1 };
        work.extend(node.inputs.iter().map(|i| (i.src, below)));
    }
    let mut ids: Vec<u64> = left_at.into_keys().collect();
    ids.sort_unstable();
    ids
}

#[test]
fn cones_match_the_definition_on_every_sample() {
    for name in ["addx", "seed_graph", "units", "kernels"] {
        for rows_per_batch in [usize::MAX, 7] {
            let batches = batches(name, rows_per_batch);
            let graph = Graph::from_batches(&batches).unwrap();
            let topology = Topology::from_batches(&batches).unwrap();
            let last = graph.nodes().iter().map(|n| n.id).max().unwrap();
            for roots in [vec![last], vec![last / 2, last / 3, last]] {
                for depth in [0, 1, 2, 5, 40, usize::MAX] {
                    let rows = topology.cone(&roots, depth, usize::MAX).unwrap();
                    let cone = topology.decode(&batches, &rows).unwrap();
                    let ids: Vec<u64> = cone.nodes().iter().map(|n| n.id).collect();
                    let mut sorted = ids.clone();
                    sorted.sort_unstable();
                    assert_eq!(
                        sorted,
                        reference(&graph, &roots, depth),
                        "{name}, batches of {rows_per_batch}, roots {roots:?}, depth {depth}"
                    );
                    // Decoded in full, as a whole read decodes them.
                    for node in cone.nodes() {
                        let whole = graph.get(node.id).unwrap();
                        assert_eq!(format!("{node:?}"), format!("{whole:?}"));
                    }
                }
            }
        }
    }
}

#[test]
fn a_cone_past_its_bound_is_refused_with_the_count_so_far() {
    let batches = batches("units", usize::MAX);
    let topology = Topology::from_batches(&batches).unwrap();
    let whole = topology
        .cone(&[1, 79, 261, 355], usize::MAX, usize::MAX)
        .unwrap();
    assert!(whole.len() > 50);
    assert_eq!(topology.cone(&[1, 79, 261, 355], usize::MAX, 50), Err(51));
    assert_eq!(
        topology.cone(&[1, 79, 261, 355], usize::MAX, whole.len()),
        Ok(whole)
    );
    // An id the trace does not hold adds nothing.
    assert_eq!(topology.cone(&[1_000_000], 3, 10), Ok(vec![]));
}
