//! Options no other test gives, each checked by what it changes: repeated
//! and node-id `--set`, `--table-nodes`, PNG drawings, every output format
//! of `constraints` with `-o`, `query --format parquet` read back, and
//! `summary`'s exit status on a trace whose run did not end cleanly.

use std::fs;

use datafusion::arrow::util::display::array_value_to_string;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use hltpy_schema::NodeKind;

use crate::support::{analyze, end, succeeded, write_kinds};

const ADDX: &str = "samples/traces/addx.parquet";

#[test]
fn set_takes_node_ids_and_repeats() {
    // AddX(10).add_to(5, z=2) == 17: its argument 5 is node #11.
    let by_id = succeeded(&["eval", ADDX, "--set", "11=7"]);
    assert!(by_id.contains("[17, 7, 42] -> [19, 7, 42]"), "{by_id}");
    // Both parameters of add_to: 10 + 6 + 3, and add_twice's z default.
    let both = succeeded(&["eval", ADDX, "--set", "add_to.y=6", "--set", "add_to.z=3"]);
    assert!(both.contains("[17, 7, 42] -> [19, 13, 42]"), "{both}");
    let one = succeeded(&["eval", ADDX, "--set", "add_to.y=6"]);
    assert!(one.contains("[17, 7, 42] -> [18, 7, 42]"), "{one}");
}

#[test]
fn rel_tol_accepts_what_bit_for_bit_does_not() {
    // kernels recomputes its floats exactly: a tolerance changes no
    // count, and the JSON report says so per status.
    let exact = succeeded(&["eval", "samples/traces/kernels.parquet", "--format", "json"]);
    let tolerant = succeeded(&[
        "eval",
        "samples/traces/kernels.parquet",
        "--format",
        "json",
        "--rel-tol",
        "1e-9",
    ]);
    let counts =
        |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap()[0]["counts"].clone();
    assert_eq!(counts(&exact), counts(&tolerant));
    assert!(counts(&exact)["matched"].as_u64().unwrap() > 400, "{exact}");
}

#[test]
fn table_nodes_bounds_the_reports_node_table() {
    let dir = tempfile::tempdir().unwrap();
    let rows = |n: &str| {
        let path = dir.path().join(format!("r{n}.html"));
        succeeded(&[
            "report",
            ADDX,
            "--table-nodes",
            n,
            "-o",
            path.to_str().unwrap(),
        ]);
        let html = fs::read_to_string(path).unwrap();
        let table = &html[html.find("id=\"nodes\"").expect("a node table")..];
        table[..table.find("</table>").unwrap()]
            .matches("<tr")
            .count()
    };
    let (few, all) = (rows("5"), rows("1000"));
    assert_eq!(few, 5 + 1, "five nodes and the header");
    assert_eq!(all, 56 + 1, "every node of addx and the header");
}

#[test]
fn a_png_drawing_is_a_png() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("addx.png");
    succeeded(&["render", ADDX, "-o", path.to_str().unwrap()]);
    let bytes = fs::read(&path).unwrap();
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "not a PNG: {:?}",
        &bytes[..8.min(bytes.len())]
    );
    assert!(bytes.len() > 1000);
}

#[test]
fn constraints_in_every_format_and_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let csv = succeeded(&["constraints", ADDX, "--format", "csv"]);
    let rows = csv.lines().count() - 1;
    assert!(rows > 5, "{csv}");
    let json: serde_json::Value =
        serde_json::from_str(&succeeded(&["constraints", ADDX, "--format", "json"])).unwrap();
    assert_eq!(json.as_array().unwrap().len(), rows);
    let ndjson = succeeded(&["constraints", ADDX, "--format", "ndjson"]);
    assert_eq!(ndjson.lines().count(), rows);
    let table = succeeded(&["constraints", ADDX, "--format", "table"]);
    assert!(table.lines().count() > rows, "rows and a border: {table}");
    let path = dir.path().join("c.parquet");
    let written = succeeded(&[
        "constraints",
        ADDX,
        "--format",
        "parquet",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert_eq!(written, "");
    let reader = ParquetRecordBatchReaderBuilder::try_new(fs::File::open(&path).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let read: usize = reader.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(read, rows);
    let csv_file = dir.path().join("c.csv");
    succeeded(&[
        "constraints",
        ADDX,
        "--format",
        "csv",
        "-o",
        csv_file.to_str().unwrap(),
    ]);
    assert_eq!(fs::read_to_string(csv_file).unwrap(), csv);
}

#[test]
fn a_parquet_query_result_reads_back_with_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.parquet");
    let sql = "SELECT id, name FROM nodes WHERE kind = 'Dispatch' ORDER BY id";
    succeeded(&[
        "query",
        sql,
        ADDX,
        "--format",
        "parquet",
        "-o",
        path.to_str().unwrap(),
    ]);
    let reader = ParquetRecordBatchReaderBuilder::try_new(fs::File::open(&path).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        for i in 0..batch.num_rows() {
            let cell = |column: usize| array_value_to_string(batch.column(column), i).unwrap();
            rows.push(format!("{},{}", cell(0), cell(1)));
        }
    }
    let csv = succeeded(&["query", sql, ADDX, "--format", "csv"]);
    assert_eq!(rows, csv.lines().skip(1).collect::<Vec<_>>());
    assert_eq!(rows.len(), 4);
}

#[test]
fn summary_exits_1_on_a_run_that_did_not_end_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    for (clean, expected) in [(true, 0), (false, 1)] {
        let path = dir.path().join(format!("{clean}.parquet"));
        write_kinds(
            &path,
            0,
            &[NodeKind::Const, NodeKind::UDispatch],
            end(clean, None),
        );
        let (code, stdout, stderr) = analyze(&["summary", path.to_str().unwrap()]);
        assert_eq!(code, expected, "{stdout}{stderr}");
        assert!(stdout.contains("2 nodes"), "{stdout}");
    }
}
