//! The `hltpy-analyze` binary on real trace files and on bad input.

use std::path::Path;
use std::process::Command;

use hltpy_schema::{
    NodeBuffer, NodeKind, NodeRow, NodeValue, RunEnd, RunInfo, TraceWriter, WriterOptions,
};

fn write_trace(path: &Path, kinds: &[NodeKind], clean: bool) {
    let mut writer =
        TraceWriter::create(path, &RunInfo::default(), &WriterOptions::default()).unwrap();
    let mut buffer = NodeBuffer::new();
    for (id, kind) in kinds.iter().enumerate() {
        buffer.push(&NodeRow {
            id: id as u64,
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
    writer.write(&buffer.take_batch()).unwrap();
    writer
        .finish(&RunEnd {
            traced_modules: vec!["dsl".into()],
            closed_cleanly: clean,
            end_reason: "stopped".into(),
            ..RunEnd::default()
        })
        .unwrap();
}

fn run(args: &[&Path]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_hltpy-analyze"))
        .arg("check")
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn check_counts_kinds_of_a_good_trace() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("good.parquet");
    write_trace(
        &path,
        &[NodeKind::Const, NodeKind::Const, NodeKind::UDispatch],
        true,
    );
    let (code, stdout, stderr) = run(&[&path]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("good.parquet: 3 nodes"), "{stdout}");
    assert!(stdout.contains("kinds: Const 2, UDispatch 1"), "{stdout}");
    assert!(stdout.contains("traced modules: dsl"), "{stdout}");
}

#[test]
fn check_reports_unclean_trace_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("unclean.parquet");
    write_trace(&path, &[NodeKind::Const], false);
    let (code, stdout, _) = run(&[&path]);
    assert_eq!(code, 1);
    assert!(stdout.contains("warning: not closed cleanly"), "{stdout}");
}

#[test]
fn check_names_bad_files_on_one_line_with_exit_2_and_no_backtrace() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.parquet");
    std::fs::write(&text, "not parquet").unwrap();
    let missing = dir.path().join("missing.parquet");
    let good = dir.path().join("good.parquet");
    write_trace(&good, &[NodeKind::Const], true);
    let bytes = std::fs::read(&good).unwrap();
    let cut = dir.path().join("cut.parquet");
    std::fs::write(&cut, &bytes[..bytes.len() - 10]).unwrap();
    for bad in [&text, &missing, &cut] {
        let (code, _, stderr) = run(&[bad.as_path()]);
        assert_eq!(code, 2, "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(bad.file_name().unwrap().to_str().unwrap()),
            "{stderr}"
        );
        assert!(
            !stderr.contains("panicked") && !stderr.contains("backtrace"),
            "{stderr}"
        );
    }
}
