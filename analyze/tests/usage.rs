//! Every usage error the analyzer gives: exit code 2 and one line on
//! stderr that names what was wrong (no help page, no backtrace).

use crate::support::analyze;

#[test]
fn each_usage_error_is_one_line_naming_the_mistake() {
    let empty = tempfile::tempdir().unwrap();
    let empty = empty.path().to_str().unwrap().to_string();
    let addx = "samples/traces/addx.parquet";
    let units = "samples/traces/units.parquet";
    let traces = "samples/traces";
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["render", addx, "--color-by", "diff"],
            "--color-by diff compares with an older trace",
        ),
        (
            vec!["query", "SELECT 1", "samples/traces/[a"],
            "bad glob pattern",
        ),
        (
            vec!["query", "--file", "/nonexistent/q.sql", addx],
            "cannot read --file /nonexistent/q.sql",
        ),
        (
            vec!["diff", addx, traces],
            "diff compares a trace with a trace or a directory",
        ),
        (
            vec!["diff", traces, traces, "--render", "x.dot"],
            "--render draws one pair of traces",
        ),
        (
            vec!["diff", addx, units, "--render", "x.txt"],
            "--render x.txt: the file must end in .dot",
        ),
        (
            vec!["diff", addx, units, "--rel-tol", "NaN"],
            "--rel-tol NaN is not a tolerance",
        ),
        (
            vec!["eval", addx, "--node", "9", "--set", "y=6"],
            "--node and --set do not combine",
        ),
        (
            vec!["eval", traces, "--node", "9"],
            "eval --node reads one trace",
        ),
        (
            vec!["eval", addx, "--rel-tol=-1"],
            "--rel-tol -1 must be a finite number >= 0",
        ),
        (vec!["eval", addx, "--set", "y"], "needs the form ID=VALUE"),
        (
            vec!["eval", addx, "--set", "y=nope"],
            "is not a Python literal",
        ),
        (
            vec!["eval", addx, "--set", "1x=3"],
            "is neither a node id nor a parameter name",
        ),
        (vec!["render", traces], "draw takes one trace; name one"),
        (
            vec!["render", addx, "-o", "x.txt"],
            "the file must end in .dot, .svg or .png",
        ),
        (
            vec!["render", addx, "--hide", "Nope"],
            "\"Nope\" is not a node kind",
        ),
        (
            vec!["report", traces, "-o", "x.html"],
            "report takes one trace; name one",
        ),
        (vec!["report", addx, "-o", "x.txt"], "the report is HTML"),
        (vec!["expr", traces], "expr reads one trace"),
        (
            vec!["compile", addx, "--node", "1", "--node", "9", "--name", "f"],
            "--name names one function",
        ),
        (
            vec!["compile", addx, "--name", "not a name"],
            "is not a Python identifier",
        ),
        (
            vec![
                "compile",
                addx,
                "--check",
                "--python",
                "/nonexistent/python",
            ],
            "none of /nonexistent/python runs",
        ),
        (
            vec!["compile", addx, "--node", "999999"],
            "node 999999 is not in",
        ),
        (
            vec!["infer", addx, "--dimension-attr", "a b"],
            "is not an attribute name",
        ),
        (
            vec!["constraints", addx, "--kind", "nope"],
            "no constraint kind \"nope\"",
        ),
        (
            vec!["query", "SELECT 1", addx, "--format", "parquet"],
            "add -o FILE.parquet",
        ),
        (
            vec!["query", "SELECT * FROM diff", addx],
            "the table diff compares two traces",
        ),
        (
            vec!["query", "SELECT 1", "/nonexistent/*.parquet"],
            "no file matches",
        ),
        (
            vec!["summary", &empty],
            "is a directory with no trace in it",
        ),
    ];
    let mut wrong = Vec::new();
    for (args, expected) in cases {
        let (code, _, stderr) = analyze(&args);
        if code != 2 || stderr.lines().count() != 1 || !stderr.contains(expected) {
            wrong.push(format!(
                "{args:?}: exit {code}, stderr {stderr:?}, expected {expected:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
