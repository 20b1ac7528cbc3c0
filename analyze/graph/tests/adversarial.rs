//! Traces no capture writes — a cycle, a dangling input, a role on the
//! wrong kind, a power too large to compute, a chain a million nodes
//! deep — end in a clear error or an opaque result, quickly, without a
//! panic or a stack overflow.

use std::path::Path;

use hltpy_graph::eval::{evaluate, Report, Status};
use hltpy_graph::{Graph, TraceFiles};
use hltpy_schema::{
    InputKey, NodeBuffer, NodeInput, NodeKind, NodeRow, NodeValue, Role, RunEnd, RunInfo,
    TraceFile, TraceWriter, WriterOptions,
};

/// One node to write: id, kind, name, inputs, type, value.
type Row<'a> = (
    u64,
    NodeKind,
    Option<&'a str>,
    Vec<NodeInput<'a>>,
    &'a str,
    NodeValue<'a>,
);

fn write(path: &Path, rows: &[Row]) {
    let info = RunInfo {
        hltpy_version: "0.1.0".into(),
        python_version: "3.11.7".into(),
    };
    let mut writer = TraceWriter::create(path, &info, &WriterOptions::default()).unwrap();
    let mut buffer = NodeBuffer::new();
    for (id, kind, name, inputs, type_name, value) in rows {
        let type_name = buffer.intern_type(type_name);
        buffer.push(&NodeRow {
            id: *id,
            kind: *kind,
            name: *name,
            inputs,
            frame: None,
            thread: 1,
            file: None,
            line: None,
            type_name: Some(type_name),
            value: *value,
        });
        if buffer.len() >= 100_000 {
            writer.write(&buffer.take_batch()).unwrap();
        }
    }
    if !buffer.is_empty() {
        writer.write(&buffer.take_batch()).unwrap();
    }
    writer
        .finish(&RunEnd {
            argv: vec!["prog.py".into()],
            traced_modules: vec![],
            closed_cleanly: true,
            end_reason: "stopped".into(),
            segment: None,
        })
        .unwrap();
}

/// The whole trace at `path`, held as a graph.
fn graph_of(path: &Path) -> Graph {
    let batches: Vec<_> = TraceFile::open(path)
        .unwrap()
        .batches()
        .unwrap()
        .map(Result::unwrap)
        .collect();
    Graph::from_batches(&batches).unwrap()
}

fn eval_rows(rows: &[Row]) -> Result<Report, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    write(&path, rows);
    let files = TraceFiles {
        name: "t.parquet".into(),
        files: vec![path],
    };
    evaluate(&files, &[], None, |_| {}).map_err(|err| err.to_string())
}

fn arg0(src: u64) -> NodeInput<'static> {
    NodeInput::keyed(Role::Arg, InputKey::Index(0), src)
}

#[test]
fn a_cycle_is_an_error_naming_the_nodes() {
    let rows: Vec<Row> = vec![
        (
            0,
            NodeKind::UDispatch,
            Some("__neg__"),
            vec![NodeInput::new(Role::SelfValue, 1)],
            "int",
            NodeValue::Int(1),
        ),
        (
            1,
            NodeKind::UDispatch,
            Some("__neg__"),
            vec![NodeInput::new(Role::SelfValue, 0)],
            "int",
            NodeValue::Int(-1),
        ),
    ];
    let err = eval_rows(&rows).unwrap_err();
    assert!(err.contains("node 0 reads node 1"), "{err}");

    // The same cycle held as a graph, in any order, is found as a cycle.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cycle.parquet");
    write(&path, &rows);
    let graph = graph_of(&path);
    let err = graph.data_order().unwrap_err().to_string();
    assert!(err.contains("form a cycle"), "{err}");
}

#[test]
fn a_dangling_input_is_an_error() {
    let rows: Vec<Row> = vec![(
        0,
        NodeKind::UDispatch,
        Some("__neg__"),
        vec![NodeInput::new(Role::SelfValue, 99)],
        "int",
        NodeValue::Int(1),
    )];
    let err = eval_rows(&rows).unwrap_err();
    assert!(
        err.contains("node 0 reads node 99 as its self input"),
        "{err}"
    );
}

#[test]
fn a_role_on_the_wrong_kind_is_opaque() {
    let rows: Vec<Row> = vec![
        (0, NodeKind::Const, None, vec![], "int", NodeValue::Int(3)),
        (
            1,
            NodeKind::GetAttr,
            Some("real"),
            vec![NodeInput::new(Role::Iterable, 0)],
            "int",
            NodeValue::Int(3),
        ),
    ];
    let report = eval_rows(&rows).unwrap();
    assert_eq!(report.count(Status::Opaque), 1, "{report:?}");
    assert_eq!(
        report.opaque_reasons[0].0,
        "its object input is not in the trace"
    );
}

#[test]
fn a_power_too_large_is_opaque_and_quick() {
    let rows: Vec<Row> = vec![
        (0, NodeKind::Const, None, vec![], "int", NodeValue::Int(2)),
        (
            1,
            NodeKind::Const,
            None,
            vec![],
            "int",
            NodeValue::Int(1_000_000_000_000),
        ),
        (
            2,
            NodeKind::UDispatch,
            Some("__pow__"),
            vec![NodeInput::new(Role::SelfValue, 0), arg0(1)],
            "int",
            NodeValue::Repr("<int of 1000000000001 bits>"),
        ),
    ];
    let started = std::time::Instant::now();
    let report = eval_rows(&rows).unwrap();
    assert_eq!(report.count(Status::Opaque), 1, "{report:?}");
    assert!(report.opaque_reasons[0]
        .0
        .contains("larger than hltpy recomputes"));
    assert!(started.elapsed().as_secs() < 10);
}

#[test]
fn a_chain_a_million_deep_runs_in_bounded_memory() {
    const DEPTH: u64 = 1_000_000;
    let mut rows: Vec<Row> = vec![(0, NodeKind::Const, None, vec![], "int", NodeValue::Int(0))];
    rows.push((1, NodeKind::Const, None, vec![], "int", NodeValue::Int(1)));
    for id in 2..DEPTH {
        let previous = if id == 2 { 0 } else { id - 1 };
        rows.push((
            id,
            NodeKind::UDispatch,
            Some("__add__"),
            vec![NodeInput::new(Role::SelfValue, previous), arg0(1)],
            "int",
            NodeValue::Int(id as i64 - 1),
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chain.parquet");
    write(&path, &rows);
    let files = TraceFiles {
        name: "chain".into(),
        files: vec![path.clone()],
    };
    let report = evaluate(&files, &[], None, |_| {}).unwrap();
    assert_eq!(report.count(Status::Matched), DEPTH - 2, "{report:?}");
    // Only the chain's head and the constant 1 are ever held.
    assert!(report.peak_live <= 3, "{}", report.peak_live);

    // Held whole as a graph, the chain orders without deep recursion.
    let graph = graph_of(&path);
    assert_eq!(graph.data_order().unwrap().len() as u64, DEPTH);
}

/// What a pass is fed, in order: each node's id, name, first key and
/// how many nodes read it.
#[derive(Default)]
struct Fed(Vec<(u64, String, Option<String>, u32)>);

impl hltpy_graph::Interpreter for Fed {
    type Value = ();

    fn fallback(&mut self, _: &hltpy_graph::Args<()>) -> Result<(), hltpy_graph::InterpretError> {
        Ok(())
    }

    fn observe(
        &mut self,
        node: &hltpy_graph::Node,
        _: &(),
        readers: u32,
    ) -> Result<(), hltpy_graph::InterpretError> {
        let key = node.inputs.first().and_then(|i| i.key.as_deref());
        self.0.push((
            node.id,
            node.name().to_string(),
            key.map(str::to_string),
            readers,
        ));
        Ok(())
    }
}

#[test]
fn many_batches_and_segments_reach_a_pass_whole_and_in_order() {
    // Two segments of 30,000 nodes each (several batches and row groups
    // apiece): names and keys that collide in the decoder's cache of
    // recent strings (same length and first, middle and last bytes),
    // nodes read by 0, 1 or 2 later nodes, across the segment border.
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..40).map(|i| format!("f{:02}_x_{}g", i, i % 3)).collect();
    let mut segments = Vec::new();
    let mut expected = Vec::new();
    let mut readers = vec![0u32; 60_000];
    for segment in 0..2u64 {
        let mut rows: Vec<Row> = Vec::new();
        for i in 0..30_000u64 {
            let id = segment * 30_000 + i;
            let name = names[(id * 7 % 40) as usize].as_str();
            let inputs = if id < 2 || id % 5 == 0 {
                vec![]
            } else {
                let key = InputKey::Index(id % 4);
                readers[(id - 1) as usize] += 1;
                readers[(id / 2) as usize] += 1;
                vec![
                    NodeInput::keyed(Role::Arg, key, id - 1),
                    NodeInput::keyed(Role::Arg, InputKey::Index(9), id / 2),
                ]
            };
            let key = inputs.first().map(|_| (id % 4).to_string());
            expected.push((id, name.to_string(), key));
            rows.push((
                id,
                NodeKind::UCall,
                Some(name),
                inputs,
                "int",
                NodeValue::Int(id as i64),
            ));
        }
        let path = dir.path().join(format!("t.{segment}.parquet"));
        write(&path, &rows);
        segments.push(path);
    }
    let files = TraceFiles {
        name: "t".into(),
        files: segments,
    };
    let expected: Vec<_> = expected
        .into_iter()
        .map(|(id, name, key)| (id, name, key, readers[id as usize]))
        .collect();

    // The light pass (the inputs' `src` only) counts what the full
    // decode does.
    let mut fed = Fed::default();
    files.run(files.count_uses().unwrap(), &mut fed).unwrap();
    assert_eq!(fed.0.len(), expected.len());
    assert_eq!(fed.0, expected);

    let mut ids = Vec::new();
    let uses = files.scan(|node| ids.push(node.id)).unwrap();
    assert_eq!(ids, (0..60_000).collect::<Vec<_>>());
    let mut fed = Fed::default();
    files.run(uses, &mut fed).unwrap();
    assert_eq!(fed.0, expected);

    let graph = files.graph().unwrap();
    let mut names_seen = Vec::new();
    files
        .each_node(|node| names_seen.push(node.name().to_string()))
        .unwrap();
    assert_eq!(graph.len(), 60_000);
    for (row, node) in graph.nodes().iter().enumerate() {
        assert_eq!(
            (node.id, node.name()),
            (row as u64, names_seen[row].as_str())
        );
        assert_eq!(node.name(), expected[row].1);
    }
}

#[test]
fn a_pass_error_mid_trace_stops_the_reader() {
    // A node that reads a later one, in the second of many batches: the
    // error, not a hang or a "stopped" note from the reading thread.
    let mut rows: Vec<Row> = (0..20_000u64)
        .map(|id| (id, NodeKind::Const, None, vec![], "int", NodeValue::Int(1)))
        .collect();
    rows[10_000].3 = vec![NodeInput::new(Role::SelfValue, 19_999)];
    rows[10_000].1 = NodeKind::UDispatch;
    rows[10_000].2 = Some("__neg__");
    let err = eval_rows(&rows).unwrap_err();
    assert!(err.contains("node 10000 reads node 19999"), "{err}");
}
