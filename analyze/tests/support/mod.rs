//! Small traces written with the schema crate's writer, shared by the
//! analyzer's integration tests.

use std::path::{Path, PathBuf};
use std::process::Command;

use hltpy_schema::{
    NodeBuffer, NodeInput, NodeKind, NodeRow, NodeValue, RunEnd, RunInfo, TraceWriter,
    WriterOptions,
};

pub fn run_info() -> RunInfo {
    RunInfo {
        hltpy_version: "0.1.0".into(),
        python_version: "3.11.7".into(),
    }
}

/// The end of a run of `prog.py` tracing `dsl`; `segment` for a segmented run.
pub fn end(clean: bool, segment: Option<(u32, bool)>) -> RunEnd {
    RunEnd {
        argv: vec!["prog.py".into()],
        traced_modules: vec!["dsl".into()],
        closed_cleanly: clean,
        end_reason: if clean { "stopped" } else { "killed" }.into(),
        segment,
    }
}

/// A trace with one input-less node per kind in `kinds`, ids from `first`,
/// each holding its id as an int.
pub fn write_kinds(path: &Path, first: u64, kinds: &[NodeKind], end: RunEnd) {
    let mut writer = TraceWriter::create(path, &run_info(), &WriterOptions::default()).unwrap();
    let mut buffer = NodeBuffer::new();
    for (id, kind) in (first..).zip(kinds) {
        buffer.push(&NodeRow {
            id,
            kind: *kind,
            name: None,
            inputs: &[],
            frame: None,
            thread: 1,
            file: None,
            line: None,
            type_name: None,
            value: NodeValue::Int(id as i64),
        });
    }
    if !buffer.is_empty() {
        writer.write(&buffer.take_batch()).unwrap();
    }
    writer.finish(&end).unwrap();
}

/// A node of type `int_type` (from `NodeBuffer::intern_type`) holding
/// the int `value`, without a location.
pub fn int_node<'a>(
    id: u64,
    kind: NodeKind,
    name: Option<&'a str>,
    inputs: &'a [NodeInput<'a>],
    int_type: u32,
    value: i64,
) -> NodeRow<'a> {
    NodeRow {
        id,
        kind,
        name,
        inputs,
        frame: None,
        thread: 1,
        file: None,
        line: None,
        type_name: Some(int_type),
        value: NodeValue::Int(value),
    }
}

/// A trace of `nodes` Const nodes, ids from `first`.
#[allow(dead_code)] // not every test file writes Const-only traces
pub fn write_consts(path: &Path, first: u64, nodes: usize, end: RunEnd) {
    write_kinds(path, first, &vec![NodeKind::Const; nodes], end);
}

/// The workspace root, where the binary runs in tests (so sample paths
/// print as `samples/traces/...`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs hltpy-analyze in the workspace root: (exit code, stdout, stderr).
/// The analyzer's stdout for `args`, which must succeed (exit 0).
pub fn succeeded(args: &[&str]) -> String {
    let (code, stdout, stderr) = analyze(args);
    assert_eq!(code, 0, "{args:?}: {stderr}");
    stdout
}

pub fn analyze<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_hltpy-analyze"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}
