//! `compile`: the emitted source for the samples (the tests that run it in
//! CPython are `tests/test_compile.py`).

use crate::support::{analyze, succeeded};

#[test]
fn the_samples_emitted_source() {
    // Not units' whole run: its main returned a value untraced code built,
    // so the run compiles to a call of main (its functions are below).
    for sample in ["addx", "seed_graph"] {
        let trace = format!("samples/traces/{sample}.parquet");
        insta::assert_snapshot!(format!("compile_{sample}"), succeeded(&["compile", &trace]));
    }
    // A kernel with a loop over a parameter (a length guard) and one with
    // an untraced range(steps) (a value guard).
    // Units of module globals rebuilt from what the run read; a Unit made
    // from a generator expression built in place.
    for (sample, node, name) in [
        ("kernels", "3", "horner"),
        ("kernels", "20", "euler_decay"),
        ("units", "26", "speed"),
    ] {
        let source = succeeded(&[
            "compile",
            &format!("samples/traces/{sample}.parquet"),
            "--node",
            node,
            "--name",
            name,
        ]);
        insta::assert_snapshot!(format!("compile_{sample}_{name}"), source);
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

/// A recording that CPython does not reproduce (here written by hand:
/// `2 + 3` recorded as 6) is a finding of `--check`: exit code 1.
#[test]
fn check_reports_a_result_that_differs_from_the_recording() {
    use crate::support::int_node;
    use hltpy_schema::{
        InputKey, NodeBuffer, NodeInput, NodeKind, Role, TraceWriter, WriterOptions,
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wrong.parquet");
    let mut writer = TraceWriter::create(
        &path,
        &crate::support::run_info(),
        &WriterOptions::default(),
    )
    .unwrap();
    let mut buffer = NodeBuffer::new();
    let int = buffer.intern_type("int");
    let inputs = [
        NodeInput {
            role: Role::SelfValue,
            key: InputKey::None,
            src: 0,
        },
        NodeInput {
            role: Role::Arg,
            key: InputKey::Index(0),
            src: 1,
        },
    ];
    for (id, kind, name, inputs, value) in [
        (0, NodeKind::Const, None, &[][..], 2),
        (1, NodeKind::Const, None, &[][..], 3),
        (2, NodeKind::UDispatch, Some("__add__"), &inputs[..], 6),
    ] {
        buffer.push(&int_node(id, kind, name, inputs, int, value));
    }
    writer.write(&buffer.take_batch()).unwrap();
    writer.finish(&crate::support::end(true, None)).unwrap();
    let trace = path.to_str().unwrap();
    let source = succeeded(&["compile", trace]);
    assert!(
        source.contains("def compiled(in0=2, in1=3):\n    return in0 + in1\n"),
        "{source}"
    );
    let (code, stdout, stderr) = analyze(&["compile", trace, "--check"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert_eq!(stdout.trim(), "compiled: 5, recorded 6: MISMATCH");
}

/// Functions compiled from one trace together share what compile knows of
/// the whole graph (built once): each is the function compiled alone, and
/// a refusal among them is the refusal alone.
#[test]
fn functions_compiled_together_are_each_as_compiled_alone() {
    let trace = "samples/traces/units.parquet";
    // Every traced function's first call; 43 is refused (a default that
    // cannot be written).
    let roots = [
        "1", "3", "7", "15", "26", "29", "43", "68", "79", "82", "94", "125", "261", "355", "395",
    ];
    let mut together = vec!["compile", trace, "--skip-refused"];
    for root in &roots {
        together.extend(["--node", root]);
    }
    let (code, module, refusals) = analyze(&together);
    assert_eq!(code, 1, "one refused: {refusals}");
    let functions: Vec<&str> = module.split("\n\n\ndef ").skip(1).collect();
    assert_eq!(functions.len(), roots.len() - 1, "{module}");
    for root in roots {
        let name = format!("compiled_{root}");
        let (code, alone, stderr) = analyze(&["compile", trace, "--node", root, "--name", &name]);
        if root == "43" {
            assert_eq!(code, 2, "{alone}");
            let refusal = stderr.trim().trim_start_matches("hltpy-analyze: ");
            assert!(refusals.contains(refusal), "{refusals}\nalone: {stderr}");
            continue;
        }
        assert_eq!(code, 0, "{stderr}");
        let own = alone
            .split("\n\n\ndef ")
            .nth(1)
            .unwrap_or_else(|| panic!("a function in {alone}"));
        let own = own.split("\n\n\n").next().unwrap().trim_end();
        assert!(
            functions
                .iter()
                .any(|f| f.split("\n\n\n").next().unwrap().trim_end() == own),
            "{name} differs when compiled with the others:\n{own}\n\n{module}"
        );
    }
}
