//! `compile`: the emitted source for the samples (the tests that run it in
//! CPython are `tests/test_compile.py`).

use crate::support::analyze;

fn compiled(args: &[&str]) -> String {
    let (code, stdout, stderr) = analyze(args);
    assert_eq!(code, 0, "{stderr}");
    stdout
}

#[test]
fn the_samples_emitted_source() {
    for sample in ["addx", "seed_graph", "units"] {
        let trace = format!("samples/traces/{sample}.parquet");
        insta::assert_snapshot!(format!("compile_{sample}"), compiled(&["compile", &trace]));
    }
    // A kernel with a loop over a parameter (a length guard) and one with
    // an untraced range(steps) (a value guard).
    for (node, name) in [("3", "horner"), ("20", "euler_decay")] {
        let source = compiled(&[
            "compile",
            "samples/traces/kernels.parquet",
            "--node",
            node,
            "--name",
            name,
        ]);
        insta::assert_snapshot!(format!("compile_kernels_{name}"), source);
    }
}

#[test]
fn bad_requests_are_refused_with_one_line() {
    for (args, expected) in [
        (
            vec!["compile", "samples/traces/addx.parquet", "--node", "999999"],
            "node 999999 is not in samples/traces/addx.parquet",
        ),
        (
            vec![
                "compile",
                "samples/traces/addx.parquet",
                "--name",
                "not a name",
            ],
            "--name \"not a name\" is not a Python identifier",
        ),
    ] {
        let (code, _, stderr) = analyze(&args);
        assert_eq!(code, 2, "{args:?}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}
