//! `eval` through the binary: the samples re-evaluate cleanly, what-if
//! answers, the `eval` table is queryable, and mistakes are clear.

use std::process::Command;

use crate::support::{analyze, root};

#[test]
fn what_if_a_parameter_changes_the_results() {
    let (code, stdout, stderr) =
        analyze(&["eval", "samples/traces/addx.parquet", "--set", "add_to.y=6"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("[17, 7, 42] -> [18, 7, 42]"), "{stdout}");
}

#[test]
fn an_ambiguous_parameter_lists_the_candidates() {
    let (code, _, stderr) = analyze(&["eval", "samples/traces/addx.parquet", "--set", "y=6"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("y is a parameter of several functions; say which: add_to.y, add_twice.y"),
        "{stderr}"
    );
    let (code, _, stderr) = analyze(&["eval", "samples/traces/addx.parquet", "--set", "y=6 +"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("is not a Python literal"), "{stderr}");
}

#[test]
fn the_eval_table_counts_statuses() {
    let (code, stdout, stderr) = analyze(&[
        "query",
        "--format",
        "csv",
        "SELECT status, count(*) AS n FROM eval GROUP BY status ORDER BY status",
        "samples/traces",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("status,n\n"), "{stdout}");
    assert!(!stdout.contains("differed"), "{stdout}");
    assert!(stdout.contains("\nmatched,"), "{stdout}");
    assert!(stdout.contains("\nmatched_type,"), "{stdout}");
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hltpy-analyze"))
        .args(["query", "SELECT * FROM nodes", "samples/traces"])
        .current_dir(root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Close our end of the pipe before the analyzer writes its table.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}
