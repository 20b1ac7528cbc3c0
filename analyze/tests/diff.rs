//! `diff`: the report on the committed pair samples/traces/diff/{before,after}
//! (text and JSON snapshots), a trace against itself, the `diff` table,
//! and refusals. Pairs captured from real program edits are tested in
//! `tests/test_diff.py`.

use crate::support::analyze;

const BEFORE: &str = "samples/traces/diff/before.parquet";
const AFTER: &str = "samples/traces/diff/after.parquet";

#[test]
fn the_sample_pairs_report() {
    let (code, text, stderr) = analyze(&["diff", BEFORE, AFTER]);
    assert_eq!(code, 1, "{stderr}");
    insta::assert_snapshot!("diff_text", text);
    let (code, json, stderr) =
        analyze(&["diff", BEFORE, AFTER, "--format", "json", "--limit", "3"]);
    assert_eq!(code, 1, "{stderr}");
    insta::assert_snapshot!("diff_json", json);
}

#[test]
fn a_trace_is_equivalent_to_itself_and_structure_ignores_values() {
    let (code, text, _) = analyze(&["diff", AFTER, AFTER]);
    assert_eq!(code, 0);
    assert!(text.contains("equivalent: all 126 nodes matched"), "{text}");
    // The velocity changed, a helper and a damping term were added: with
    // values ignored, only the added nodes differ.
    let (code, text, _) = analyze(&[
        "diff",
        BEFORE,
        AFTER,
        "--ignore-values",
        "--ignore-locations",
    ]);
    assert_eq!(code, 1);
    assert!(
        text.contains(
            "111 matched (111 same, 0 with another value), 0 only in old, 15 only in new"
        ),
        "{text}"
    );
    assert!(!text.contains("shapes.py:"), "{text}");
}

#[test]
fn the_diff_table_counts_what_the_report_counts() {
    let (code, csv, stderr) = analyze(&[
        "query",
        "SELECT status, count(*) AS n FROM diff GROUP BY status ORDER BY status",
        BEFORE,
        AFTER,
        "--format",
        "csv",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(csv, "status,n\nchanged,35\nonly_new,15\nsame,76\n");
    let (code, _, stderr) = analyze(&["query", "SELECT * FROM diff", BEFORE]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("the table diff compares two traces"),
        "{stderr}"
    );
}

#[test]
fn bad_requests_are_refused_with_one_line() {
    for (args, expected) in [
        (
            vec!["diff", BEFORE, "samples/traces"],
            "compares a trace with a trace or a directory",
        ),
        (
            vec!["diff", BEFORE, AFTER, "--rel-tol=-1"],
            "--rel-tol -1 is not a tolerance",
        ),
        (vec!["diff", BEFORE, "missing.parquet"], "missing.parquet"),
    ] {
        let (code, _, stderr) = analyze(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}
