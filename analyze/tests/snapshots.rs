//! Snapshots of every subcommand on the samples' committed traces
//! (`samples/traces`, refreshed by `make samples`; `tests/test_samples.py`
//! checks that capture still writes them so) and of every kind of bad
//! input. Each snapshot is a transcript: command, exit code, stdout, stderr.
//!
//! After an intended change of output: `cargo insta review`, or rerun with
//! `INSTA_UPDATE=always` and read the diff before committing it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use crate::support::{analyze, end, write_consts};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::file::metadata::KeyValue;
use datafusion::parquet::file::properties::WriterProperties;
use hltpy_schema::{meta, segment_path};

/// The workspace root: commands run there, so paths print as
/// `samples/traces/...` whoever runs the tests, wherever.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("analyze/ is inside the workspace")
        .to_path_buf()
}

/// Runs hltpy-analyze and gives a transcript of what a user would see.
fn transcript(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_hltpy-analyze"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("the binary runs");
    let mut text = format!(
        "$ hltpy-analyze {}\nexit: {}\n",
        args.join(" "),
        output.status.code().expect("exited, not killed")
    );
    for (label, bytes) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
        let body = String::from_utf8_lossy(bytes);
        if !body.is_empty() {
            text.push_str(&format!("--- {label}\n{body}"));
        }
    }
    text
}

/// Snapshots a transcript with the parts that change from run to run
/// (temporary directories, times) replaced by placeholders.
macro_rules! snapshot {
    ($name:expr, $args:expr) => {{
        let mut settings = insta::Settings::clone_current();
        settings.add_filter(r#"(/[^\s/"]+)*/\.tmp[A-Za-z0-9]+"#, "[TMP]");
        settings.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[TIME]");
        settings.set_prepend_module_to_snapshot(false);
        settings.bind(|| insta::assert_snapshot!($name, transcript($args)));
    }};
}

const SAMPLES: [&str; 4] = ["addx", "seed_graph", "units", "kernels"];

fn sample(name: &str) -> String {
    format!("samples/traces/{name}.parquet")
}

#[test]
fn check_every_sample() {
    snapshot!("check_samples", &["check", "samples/traces/*.parquet"]);
}

#[test]
fn summary_of_each_sample() {
    for name in SAMPLES {
        snapshot!(format!("summary_{name}"), &["summary", &sample(name)]);
    }
}

/// The id of the node main() returned in a sample trace (ids move when a
/// capture change records more or fewer nodes).
fn main_result(name: &str) -> String {
    let sql = "SELECT returned FROM calls WHERE name = 'main'";
    let (code, stdout, stderr) = analyze(&["query", sql, &sample(name), "--format", "csv"]);
    assert_eq!(code, 0, "{stderr}");
    stdout.lines().nth(1).expect("one row").trim().to_string()
}

#[test]
fn expr_of_the_samples_results() {
    // By default: the run's last top-level node, here the call of main().
    snapshot!("expr_addx", &["expr", &sample("addx")]);
    // What each main() returned (the `returned` column of `calls`).
    for name in ["addx", "seed_graph", "kernels"] {
        let returned = main_result(name);
        snapshot!(
            format!("expr_{name}_main_result").as_str(),
            &["expr", &sample(name), "--node", &returned]
        );
    }
    // The first add_to Dispatch: the seed's `AddX(10).add_to(5, z=2)`.
    snapshot!(
        "expr_addx_add_to",
        &["expr", &sample("addx"), "--node", "9"]
    );
    // What kinetic_energy() returned, whole and cut at two levels.
    snapshot!(
        "expr_units_kinetic_energy",
        &["expr", &sample("units"), "--node", "125"]
    );
    snapshot!(
        "expr_units_kinetic_energy_depth_2",
        &["expr", &sample("units"), "--node", "125", "--depth", "2"]
    );
}

#[test]
fn eval_of_the_samples_and_what_if() {
    // Every sample re-evaluates with no difference; the opaque counts and
    // their reasons are part of the snapshot.
    snapshot!("eval_samples", &["eval", "samples/traces"]);
    snapshot!(
        "eval_what_if_addx",
        &["eval", &sample("addx"), "--set", "add_to.y=6"]
    );
    snapshot!(
        "eval_what_if_units",
        &["eval", &sample("units"), "--set", "kilograms.v=47.0"]
    );
    snapshot!(
        "eval_node_units",
        &["eval", &sample("units"), "--node", "125"]
    );
    snapshot!(
        "eval_table",
        &[
            "query",
            "SELECT status, count(*) AS nodes FROM eval GROUP BY status ORDER BY status",
            "samples/traces",
        ]
    );
    snapshot!(
        "bad_eval_ambiguous_parameter",
        &["eval", &sample("addx"), "--set", "y=6"]
    );
    snapshot!(
        "bad_eval_unknown_parameter",
        &["eval", &sample("addx"), "--set", "nope=1"]
    );
    snapshot!(
        "bad_eval_not_a_literal",
        &["eval", &sample("addx"), "--set", "add_to.y=six"]
    );
    snapshot!(
        "bad_eval_unknown_node",
        &["eval", &sample("addx"), "--node", "9999"]
    );
}

/// A trace written before the reader matrix (format 1.2, `inputs.src` as
/// BYTE_STREAM_SPLIT: the committed `units` sample as of commit f2e65ad)
/// reads as it did; the opt-in encoding writes such files still.
#[test]
fn a_trace_written_by_an_earlier_version_still_reads() {
    let fixture = "analyze/tests/fixtures/units-1.2-byte-stream-split.parquet";
    snapshot!("earlier_version_check", &["check", fixture]);
    snapshot!("earlier_version_summary", &["summary", fixture]);
    snapshot!("earlier_version_eval", &["eval", fixture]);
}

#[test]
fn queries_over_the_samples_directory_in_every_format() {
    let by_kind = "SELECT trace, kind, count(*) AS n FROM nodes \
                   WHERE kind IN ('Call', 'Dispatch', 'NewInit') \
                   GROUP BY trace, kind ORDER BY trace, kind";
    snapshot!("query_table", &["query", by_kind, "samples/traces"]);
    snapshot!(
        "query_csv",
        &["query", by_kind, "samples/traces", "--format", "csv"]
    );
    let calls = "SELECT id, kind, name, callable, returned, value FROM calls \
                 WHERE trace LIKE '%addx%' ORDER BY id LIMIT 4";
    snapshot!(
        "query_json",
        &["query", calls, "samples/traces", "--format", "json"]
    );
    snapshot!(
        "query_ndjson",
        &["query", calls, "samples/traces", "--format", "ndjson"]
    );
    let edges = "SELECT e.src, s.kind AS src_kind, e.role, e.key, e.dst, d.kind AS dst_kind \
                 FROM edges e JOIN nodes s ON s.id = e.src JOIN nodes d ON d.id = e.dst \
                 WHERE e.dst = 9 ORDER BY e.role, e.key";
    snapshot!("query_edges", &["query", edges, &sample("addx")]);
    snapshot!(
        "query_traces",
        &[
            "query",
            "SELECT trace, nodes, segments, complete, end_reason, traced_modules FROM traces ORDER BY trace",
            "samples/traces",
        ]
    );
}

fn write_plain_parquet(path: &Path, schema: SchemaRef, metadata: &[(&str, &str)]) {
    let properties = WriterProperties::builder()
        .set_key_value_metadata(Some(
            metadata
                .iter()
                .map(|(k, v)| KeyValue::new(k.to_string(), v.to_string()))
                .collect(),
        ))
        .build();
    let file = std::fs::File::create(path).unwrap();
    ArrowWriter::try_new(file, schema, Some(properties))
        .unwrap()
        .close()
        .unwrap();
}

#[test]
fn bad_input_is_one_line_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).display().to_string();

    std::fs::write(path("notes.parquet"), "just some text\n").unwrap();
    std::fs::write(path("zero.parquet"), "").unwrap();
    let other = Arc::new(Schema::new(vec![Field::new("a", DataType::Int32, false)]));
    write_plain_parquet(&dir.path().join("other.parquet"), other, &[]);
    write_plain_parquet(
        &dir.path().join("newer.parquet"),
        hltpy_schema::arrow_schema(),
        &[(meta::FORMAT, "hltpy-trace"), (meta::FORMAT_VERSION, "2.0")],
    );
    write_consts(&dir.path().join("good.parquet"), 0, 3, end(true, None));
    let good = std::fs::read(path("good.parquet")).unwrap();
    std::fs::write(path("cut.parquet"), &good[..good.len() * 2 / 3]).unwrap();
    write_consts(&dir.path().join("empty.parquet"), 0, 0, end(true, None));
    write_consts(&dir.path().join("unclean.parquet"), 0, 2, end(false, None));
    std::fs::create_dir(path("nothing")).unwrap();

    let cases: &[(&str, Vec<String>)] = &[
        ("bad_missing", vec!["check".into(), path("missing.parquet")]),
        ("bad_text", vec!["summary".into(), path("notes.parquet")]),
        ("bad_zero_bytes", vec!["check".into(), path("zero.parquet")]),
        (
            "bad_not_a_trace",
            vec!["check".into(), path("other.parquet")],
        ),
        (
            "bad_newer_format",
            vec!["check".into(), path("newer.parquet")],
        ),
        ("bad_truncated", vec!["expr".into(), path("cut.parquet")]),
        (
            "bad_empty_dir",
            vec!["query".into(), "SELECT 1".into(), path("nothing")],
        ),
        (
            "bad_glob",
            vec!["check".into(), format!("{}/*.trace", path("nothing"))],
        ),
        (
            "bad_unknown_node",
            vec![
                "expr".into(),
                path("good.parquet"),
                "--node".into(),
                "99".into(),
            ],
        ),
        (
            "empty_trace_summary",
            vec!["summary".into(), path("empty.parquet")],
        ),
        (
            "empty_trace_expr",
            vec!["expr".into(), path("empty.parquet")],
        ),
        (
            "unclean_check",
            vec!["check".into(), path("unclean.parquet")],
        ),
        (
            "bad_sql_column",
            vec![
                "query".into(),
                "SELECT nope FROM nodes".into(),
                path("good.parquet"),
            ],
        ),
        (
            "bad_sql_syntax",
            vec!["query".into(), "SELEC 1".into(), path("good.parquet")],
        ),
        (
            "bad_sql_write",
            vec![
                "query".into(),
                "CREATE TABLE t AS SELECT 1".into(),
                path("good.parquet"),
            ],
        ),
        (
            "bad_parquet_to_stdout",
            vec![
                "query".into(),
                "SELECT 1".into(),
                path("good.parquet"),
                "--format".into(),
                "parquet".into(),
            ],
        ),
        (
            "bad_output_path",
            vec![
                "query".into(),
                "SELECT 1".into(),
                path("good.parquet"),
                "-o".into(),
                path("no/such/dir/out.csv"),
            ],
        ),
        (
            "bad_expr_of_many",
            vec!["expr".into(), "samples/traces".into()],
        ),
    ];
    for (name, args) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        snapshot!(*name, &args);
    }
}

#[test]
fn segments_of_a_run_read_as_one_trace() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    write_consts(&segment_path(&run, 0), 0, 3, end(true, Some((0, false))));
    write_consts(&segment_path(&run, 1), 3, 2, end(true, Some((1, true))));
    let run = run.display().to_string();
    snapshot!("segments_check", &["check", &run]);
    snapshot!(
        "segments_query",
        &[
            "query",
            "SELECT count(*) AS nodes, min(id), max(id), count(DISTINCT trace) AS traces FROM nodes",
            &run,
        ]
    );
    // The process died before its last segment: what is there is read and
    // the run is reported incomplete.
    std::fs::remove_file(segment_path(Path::new(&run), 1)).unwrap();
    snapshot!("segments_missing_last", &["check", &run]);
}
