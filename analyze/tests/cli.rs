//! The `hltpy-analyze` binary on real trace files and on bad input.

use std::path::Path;

use crate::support::{analyze, end, int_node, succeeded, write_kinds};

use hltpy_schema::{
    InputKey, NodeBuffer, NodeInput, NodeKind, NodeRow, Role, RunEnd, RunInfo, TraceWriter,
    WriterOptions,
};

fn run(args: &[&Path]) -> (i32, String, String) {
    let mut all: Vec<&std::ffi::OsStr> = vec!["check".as_ref()];
    all.extend(args.iter().map(|p| p.as_os_str()));
    analyze(&all)
}

#[test]
fn check_counts_kinds_of_a_good_trace() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("good.parquet");
    write_kinds(
        &path,
        0,
        &[NodeKind::Const, NodeKind::Const, NodeKind::UDispatch],
        end(true, None),
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
    write_kinds(&path, 0, &[NodeKind::Const], end(false, None));
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
    write_kinds(&good, 0, &[NodeKind::Const], end(true, None));
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

/// `x = trace(3); y = x + 1` as capture would write it.
fn write_add_trace(path: &Path) {
    let mut writer =
        TraceWriter::create(path, &RunInfo::default(), &WriterOptions::default()).unwrap();
    let mut buffer = NodeBuffer::new();
    let file = buffer.intern_file("prog.py");
    let int = buffer.intern_type("int");
    let row = |id, kind, name, inputs, value| NodeRow {
        file: Some(file),
        line: Some(id as u32 + 1),
        ..int_node(id, kind, name, inputs, int, value)
    };
    buffer.push(&row(0, NodeKind::Const, None, &[], 3));
    buffer.push(&row(1, NodeKind::Const, None, &[], 1));
    let inputs = [
        NodeInput::new(Role::SelfValue, 0),
        NodeInput::keyed(Role::Arg, InputKey::Index(0), 1),
    ];
    buffer.push(&row(2, NodeKind::UDispatch, Some("__add__"), &inputs, 4));
    writer.write(&buffer.take_batch()).unwrap();
    writer
        .finish(&RunEnd {
            closed_cleanly: true,
            end_reason: "stopped".into(),
            ..RunEnd::default()
        })
        .unwrap();
}

#[test]
fn query_counts_kinds_as_an_aligned_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("add.parquet");
    write_add_trace(&path);
    let sql = "SELECT kind, count(*) AS n FROM nodes GROUP BY kind ORDER BY kind";
    let (code, stdout, stderr) = analyze(&["query".as_ref(), sql.as_ref(), path.as_os_str()]);
    assert_eq!(code, 0, "{stderr}");
    let expected = "\
+-----------+---+
| kind      | n |
+-----------+---+
| Const     | 2 |
| UDispatch | 1 |
+-----------+---+
";
    assert_eq!(stdout, expected);
}

/// A path through `..` (a trace given relative to another directory)
/// reads as any other: the engine's file store refuses `..` segments.
#[test]
fn a_path_through_dot_dot_is_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    write_add_trace(&dir.path().join("add.parquet"));
    let through = dir.path().join("sub").join("..").join("add.parquet");
    let sql = "SELECT count(*) AS n FROM nodes";
    let (code, stdout, stderr) = analyze(&["query".as_ref(), sql.as_ref(), through.as_os_str()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("| 3 |"), "{stdout}");
    let (code, stdout, stderr) = analyze(&["summary".as_ref(), through.as_os_str()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("3 nodes"), "{stdout}");
}

#[test]
fn edges_and_values_views_show_the_graph() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("add.parquet");
    write_add_trace(&path);
    let sql = "SELECT src, role, key, dst FROM edges ORDER BY src";
    let (code, stdout, stderr) =
        analyze(&["query", sql, path.to_str().unwrap(), "--format", "csv"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "src,role,key,dst\n0,self,,2\n1,arg,0,2\n");
    let sql = "SELECT id, value FROM values ORDER BY id";
    let (_, stdout, _) = analyze(&["query", sql, path.to_str().unwrap(), "--format", "ndjson"]);
    assert_eq!(
        stdout,
        "{\"id\":0,\"value\":\"3\"}\n{\"id\":1,\"value\":\"1\"}\n{\"id\":2,\"value\":\"4\"}\n"
    );
}

#[test]
fn several_traces_in_a_directory_are_told_apart_by_the_trace_column() {
    let dir = tempfile::tempdir().unwrap();
    write_add_trace(&dir.path().join("a.parquet"));
    write_add_trace(&dir.path().join("b.parquet"));
    std::fs::write(dir.path().join("notes.txt"), "not a trace").unwrap();
    let sql = "SELECT count(DISTINCT trace) AS traces, count(*) AS nodes FROM nodes";
    let (code, stdout, stderr) = analyze(&[
        "query",
        sql,
        dir.path().to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), "[{\"traces\":2,\"nodes\":6}]");
    let pattern = format!("{}/*.parquet", dir.path().display());
    let (code, stdout, _) = analyze(&[
        "query",
        "SELECT trace, nodes FROM traces ORDER BY trace",
        &pattern,
        "--format",
        "csv",
    ]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("a.parquet,3") && stdout.contains("b.parquet,3"),
        "{stdout}"
    );
}

#[test]
fn query_from_a_file_to_a_parquet_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("add.parquet");
    write_add_trace(&path);
    let sql_file = dir.path().join("q.sql");
    std::fs::write(
        &sql_file,
        "SELECT id, name FROM nodes WHERE kind = 'UDispatch'",
    )
    .unwrap();
    let out = dir.path().join("out.parquet");
    let (code, _, stderr) = analyze(&[
        "query",
        "--file",
        sql_file.to_str().unwrap(),
        path.to_str().unwrap(),
        "--format",
        "parquet",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let (_, stdout, _) = analyze(&[
        "query",
        "SELECT 1 AS one",
        path.to_str().unwrap(),
        "--format",
        "csv",
    ]);
    assert_eq!(stdout, "one\n1\n");
    assert!(std::fs::metadata(&out).unwrap().len() > 0);
    let (code, _, stderr) = analyze(&[
        "query",
        "SELECT 1",
        path.to_str().unwrap(),
        "--format",
        "parquet",
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("-o FILE"), "{stderr}");
}

#[test]
fn queries_are_read_only_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("add.parquet");
    write_add_trace(&path);
    let copy_target = dir.path().join("copy.csv");
    let copy = format!("COPY (SELECT * FROM values) TO '{}'", copy_target.display());
    for sql in [
        "CREATE TABLE t AS SELECT 1",
        copy.as_str(),
        "SET datafusion.execution.batch_size = 1",
    ] {
        let (code, _, stderr) = analyze(&["query", sql, path.to_str().unwrap()]);
        assert_eq!(code, 2, "{sql}: {stderr}");
        assert!(
            stderr.contains("read-only") && stderr.contains("--allow-writes"),
            "{stderr}"
        );
    }
    assert!(!copy_target.exists());
    let (code, _, stderr) = analyze(&[
        "query",
        copy.as_str(),
        path.to_str().unwrap(),
        "--allow-writes",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(copy_target.exists());
}

#[test]
fn sql_mistakes_point_at_the_problem_and_list_tables() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("add.parquet");
    write_add_trace(&path);
    let (code, _, stderr) = analyze(&["query", "SELECT nope FROM nodes", path.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("nope"), "{stderr}");
    assert!(
        stderr.contains("edges(trace, src, role, key, dst)"),
        "{stderr}"
    );
    let (code, _, stderr) = analyze(&["query", "SELEC 1", path.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("SELEC"), "{stderr}");
}

#[test]
fn bad_trace_arguments_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let pattern = format!("{}/*.parquet", dir.path().display());
    let (code, _, stderr) = analyze(&["query", "SELECT 1", &pattern]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no file matches"), "{stderr}");
    let missing = dir.path().join("missing.parquet");
    let (code, _, stderr) = analyze(&["query", "SELECT 1", missing.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("missing.parquet"), "{stderr}");
}

#[test]
fn expr_rebuilds_the_final_expression_and_summary_reports_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("add.parquet");
    write_add_trace(&path);
    let (code, stdout, stderr) = analyze(&["expr", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "3 + 1\n");
    let (code, _, stderr) = analyze(&["expr", path.to_str().unwrap(), "--node", "99"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("node 99 is not in"), "{stderr}");
    let (code, stdout, stderr) = analyze(&["summary", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("kinds: Const 2, UDispatch 1"), "{stdout}");
    assert!(
        stdout.contains("largest fan-out: #0 Const (1), #1 Const (1)"),
        "{stdout}"
    );
}

#[test]
fn progress_goes_to_stderr_only_when_asked_or_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("add.parquet");
    write_add_trace(&path);
    let path = path.to_str().unwrap();
    let sql = "SELECT count(*) AS n FROM nodes";
    // Tests run with stderr piped: `auto` stays silent.
    let (code, stdout, stderr) = analyze(&["query", sql, path, "--format", "csv"]);
    assert_eq!((code, stdout.as_str(), stderr.as_str()), (0, "n\n3\n", ""));
    let (code, stdout, stderr) = analyze(&[
        "--progress",
        "always",
        "query",
        sql,
        path,
        "--format",
        "csv",
    ]);
    assert_eq!((code, stdout.as_str()), (0, "n\n3\n"));
    assert!(stderr.starts_with("\r\x1b[Kquery: read "), "{stderr:?}");
    assert!(stderr.ends_with("\r\x1b[K"), "{stderr:?}");
    let (_, _, stderr) = analyze(&["check", "--progress", "always", path]);
    assert!(
        stderr.contains("checking ") && stderr.contains("(0 of 3 nodes)"),
        "{stderr:?}"
    );
    // For programs: JSON lines, from the start, the last one finished.
    let (code, _, stderr) = analyze(&["--progress", "json", "check", path]);
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(lines.len() >= 2, "{stderr}");
    assert_eq!(lines[0]["finished"], false);
    let last = lines.last().unwrap();
    assert_eq!(last["progress"], format!("checking {path}"));
    assert_eq!(last["unit"], "nodes");
    assert_eq!(
        (last["done"].as_u64(), last["total"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(last["finished"], true);
}

#[test]
fn query_writes_an_arrow_stream_and_summary_writes_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("add.parquet");
    write_add_trace(&path);
    let out = dir.path().join("kinds.arrow");
    let (code, _, stderr) = analyze(&[
        "query",
        "SELECT kind, count(*) AS n FROM nodes GROUP BY kind ORDER BY kind",
        path.to_str().unwrap(),
        "--format",
        "arrow",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let reader = datafusion::arrow::ipc::reader::StreamReader::try_new(
        std::fs::File::open(&out).unwrap(),
        None,
    )
    .unwrap();
    let batches: Vec<_> = reader.map(Result::unwrap).collect();
    // Plain strings, not the views DataFusion reads (old pyarrow, pandas).
    assert_eq!(
        batches[0].schema().field(0).data_type(),
        &datafusion::arrow::datatypes::DataType::Utf8
    );
    let table = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
        .unwrap()
        .to_string();
    assert!(table.contains("| Const     | 2 |"), "{table}");
    assert!(table.contains("| UDispatch | 1 |"), "{table}");
    let (code, stdout, stderr) = analyze(&["summary", "--format", "json", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let trace = &summary[0];
    assert_eq!(trace["nodes"], 3);
    assert_eq!(trace["complete"], true);
    assert_eq!(trace["traced_modules"], serde_json::json!([]));
    assert!(trace["argv"].is_array() && trace["format_version"].is_string());
    assert_eq!(
        trace["kinds"],
        serde_json::json!([{"kind": "Const", "count": 2}, {"kind": "UDispatch", "count": 1}])
    );
    assert_eq!(
        trace["largest_fan_out"],
        serde_json::json!(["#0 Const (1)", "#1 Const (1)"])
    );
}

#[test]
fn an_empty_query_result_still_has_its_columns() {
    let sql = "SELECT id, kind FROM nodes WHERE id < 0";
    let trace = "samples/traces/addx.parquet";
    let table = crate::support::succeeded(&["query", sql, trace]);
    assert_eq!(
        table,
        "+----+------+\n| id | kind |\n+----+------+\n+----+------+\n"
    );
    let csv = crate::support::succeeded(&["query", sql, trace, "--format", "csv"]);
    assert_eq!(csv, "id,kind\n");
    let json = crate::support::succeeded(&["query", sql, trace, "--format", "json"]);
    assert_eq!(json.trim(), "[]");
    // A Parquet file with no rows, readable back with its columns.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("empty.parquet");
    let out = out.to_str().unwrap();
    crate::support::succeeded(&["query", sql, trace, "--format", "parquet", "-o", out]);
    let file = std::fs::File::open(out).unwrap();
    let reader = datafusion::parquet::file::reader::SerializedFileReader::new(file).unwrap();
    let metadata = datafusion::parquet::file::reader::FileReader::metadata(&reader);
    assert_eq!(metadata.file_metadata().num_rows(), 0);
    let columns: Vec<&str> = metadata
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .map(|c| c.name())
        .collect();
    assert_eq!(columns, ["id", "kind"]);
}

#[test]
fn the_command_list_gives_one_line_to_each_command() {
    let (code, help, stderr) = analyze(&["--help"]);
    assert_eq!(code, 0, "{stderr}");
    let commands: Vec<&str> = help
        .split("Commands:\n")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next())
        .expect("a command list")
        .lines()
        .collect();
    // Eleven commands and `help`, and `cluster` in a build with it.
    let expected = if cfg!(feature = "cluster") { 13 } else { 12 };
    assert_eq!(commands.len(), expected, "{help}");
    for line in commands {
        // Each line is `  name  summary`: no continuation lines, and a
        // summary short enough for an 80-column terminal.
        assert!(
            line.starts_with("  ") && !line.starts_with("   "),
            "{line:?}"
        );
        assert!(line.chars().count() <= 80, "{line:?}");
        assert!(!line.ends_with('.'), "{line:?}");
    }
}

#[test]
fn every_table_query_help_lists_can_be_queried() {
    let (code, help, stderr) = analyze(&["query", "--help"]);
    assert_eq!(code, 0, "{stderr}");
    let tables: Vec<&str> = help
        .split("Tables:\n")
        .nth(1)
        .expect("a table list")
        .lines()
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert_eq!(tables.len(), 10, "{help}");
    // Two traces of the same program: `diff` compares exactly two.
    let old = "samples/traces/diff/before.parquet";
    let new = "samples/traces/diff/after.parquet";
    for table in tables {
        let sql = format!("SELECT count(*) AS n FROM {table}");
        let out = crate::support::succeeded(&["query", &sql, old, new, "--format", "csv"]);
        let rows: u64 = out.lines().nth(1).unwrap().parse().unwrap();
        assert!(rows > 0, "{table} is empty");
    }
}

/// Writes `constants` Const nodes (ids from 0, each holding its id as an
/// int), then what `more` pushes, given the buffer and the int type.
fn write_constants_then(path: &Path, constants: u64, more: impl FnOnce(&mut NodeBuffer, u32)) {
    let mut writer =
        TraceWriter::create(path, &RunInfo::default(), &WriterOptions::default()).unwrap();
    let mut buffer = NodeBuffer::new();
    let int = buffer.intern_type("int");
    for id in 0..constants {
        buffer.push(&int_node(id, NodeKind::Const, None, &[], int, id as i64));
    }
    more(&mut buffer, int);
    writer.write(&buffer.take_batch()).unwrap();
    writer.finish(&end(true, None)).unwrap();
}

#[test]
fn expr_finds_operands_far_below_the_ids_it_reads_around() {
    // `a + b` at the end of 60,000 constants: `a` is node 5 (far below
    // any window of ids read around the sum) and `b` node 59,990 (just
    // below it); `(a + b) * c` with `c` node 30,000 between them.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("far.parquet");
    write_constants_then(&path, 60_000, |buffer, int| {
        let sum = [
            NodeInput::new(Role::SelfValue, 5),
            NodeInput::keyed(Role::Arg, InputKey::Index(0), 59_990),
        ];
        let add = Some("__add__");
        buffer.push(&int_node(
            60_000,
            NodeKind::UDispatch,
            add,
            &sum,
            int,
            59_995,
        ));
        let product = [
            NodeInput::new(Role::SelfValue, 60_000),
            NodeInput::keyed(Role::Arg, InputKey::Index(0), 30_000),
        ];
        let (mul, value) = (Some("__mul__"), 59_995 * 30_000);
        buffer.push(&int_node(
            60_001,
            NodeKind::UDispatch,
            mul,
            &product,
            int,
            value,
        ));
    });
    let path = path.to_str().unwrap();
    assert_eq!(succeeded(&["expr", path]), "(5 + 59990) * 30000\n");
    assert_eq!(succeeded(&["expr", path, "--node", "60000"]), "5 + 59990\n");
    let stdout = succeeded(&["eval", path, "--node", "60001"]);
    let recomputed = "matched: recorded 1799850000, recomputed 1799850000";
    assert!(stdout.contains(recomputed), "{stdout}");
}

#[test]
fn a_cone_read_in_many_windows_keeps_every_operand() {
    // 300,000 constants, then a chain of 14 sums, each adding a constant
    // 20,000 ids below the last: each level of the cone reads a new
    // window of ids, and after eight of them the reads start afresh (the
    // sums read earlier must be read again, not taken as missing).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chain.parquet");
    let mut expected = "280000".to_string();
    write_constants_then(&path, 300_000, |buffer, int| {
        let (mut last, mut total) = (280_000u64, 280_000i64);
        for step in 1..=14u64 {
            let constant = 280_000 - 20_000 * step;
            let inputs = [
                NodeInput::new(Role::SelfValue, last),
                NodeInput::keyed(Role::Arg, InputKey::Index(0), constant),
            ];
            total += constant as i64;
            let sum = 300_000 + step;
            let add = Some("__add__");
            buffer.push(&int_node(
                sum,
                NodeKind::UDispatch,
                add,
                &inputs,
                int,
                total,
            ));
            expected = format!("{expected} + {constant}");
            last = sum;
        }
    });
    let path = path.to_str().unwrap();
    assert_eq!(succeeded(&["expr", path]), format!("{expected}\n"));
}
