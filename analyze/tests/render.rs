//! `render`: the DOT of the seed's examples (snapshots: the same nodes and
//! edges by role as the seed's picture), depth cuts and refusals. SVG,
//! escaping of hostile strings and `dot` itself: `tests/test_render.py`.

use crate::support::{analyze, succeeded};

#[test]
fn the_seeds_examples_as_dot() {
    for sample in ["addx", "seed_graph"] {
        let trace = format!("samples/traces/{sample}.parquet");
        insta::assert_snapshot!(format!("render_{sample}"), succeeded(&["render", &trace]));
    }
}

#[test]
fn a_depth_cut_is_drawn_and_too_many_nodes_are_refused() {
    let dot = succeeded(&[
        "render",
        "samples/traces/units.parquet",
        "--node",
        "125",
        "--depth",
        "1",
    ]);
    assert!(dot.contains("more82[label=\"… 3 more\""), "{dot}");
    assert!(dot.matches("[label=<").count() < 20, "{dot}");
    let hidden = succeeded(&[
        "render",
        "samples/traces/addx.parquet",
        "--hide",
        "Const,Function,Class",
    ]);
    assert!(!hidden.contains("shape=box"), "{hidden}");
    let (code, _, stderr) = analyze(&[
        "render",
        "samples/traces/units.parquet",
        "--node",
        "125",
        "--max-nodes",
        "20",
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("more than 20 nodes") && stderr.contains("--depth"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    for (args, expected) in [
        (
            vec!["render", "samples/traces/addx.parquet", "--hide", "Nope"],
            "--hide \"Nope\" is not a node kind",
        ),
        (
            vec!["render", "samples/traces/addx.parquet", "-o", "x.txt"],
            "must end in .dot, .svg or .png",
        ),
        (
            vec!["render", "samples/traces/addx.parquet", "--node", "99999"],
            "node 99999 is not in",
        ),
    ] {
        let (code, _, stderr) = analyze(&args);
        assert_eq!(code, 2, "{args:?}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn calls_as_nested_clusters_and_one_frame() {
    let dot = succeeded(&["render", "samples/traces/addx.parquet", "--cluster-calls"]);
    // add_twice's body holds the two add_to calls' clusters.
    let twice = dot
        .find("label=\"add_twice(y) at addx.py:31\"")
        .expect("add_twice's cluster");
    let inner = dot
        .find("label=\"add_to(y, z) at addx.py:23\"")
        .expect("add_to's cluster");
    assert!(twice < inner, "{dot}");
    assert_eq!(dot.matches("subgraph cluster_").count(), 9, "{dot}");
    // units' Quantity.__truediv__ call (node 29): its body and what it read.
    let body = succeeded(&["render", "samples/traces/units.parquet", "--frame", "29"]);
    assert!(
        body.contains("n29[label=") && body.contains("color=\"#1f5fbf\""),
        "{body}"
    );
    assert!(
        body.contains("<TD>UDispatch</TD><TD>__truediv__</TD>"),
        "{body}"
    );
    assert!(
        !body.contains("n26[label="),
        "the caller is not drawn: {body}"
    );
    let (code, _, stderr) = analyze(&[
        "render",
        "samples/traces/units.parquet",
        "--frame",
        "29",
        "--depth",
        "2",
    ]);
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn colours_from_eval_and_diff() {
    // Every operation of addx recomputes to its recorded value: green.
    let dot = succeeded(&[
        "render",
        "samples/traces/addx.parquet",
        "--color-by",
        "eval",
    ]);
    assert!(
        dot.contains("label=\"eval: blue input, green recomputed equal"),
        "{dot}"
    );
    assert!(
        dot.contains("<TD>Dispatch</TD><TD>add_to</TD>") && dot.contains("BGCOLOR=\"#c8e6c9\""),
        "{dot}"
    );
    assert!(!dot.contains("#f4a0a0"), "nothing differs: {dot}");
    // The sample pair: the changed velocity orange, the helper's call green.
    let dot = succeeded(&[
        "render",
        "samples/traces/diff/after.parquet",
        "--color-by",
        "diff",
        "--against",
        "samples/traces/diff/before.parquet",
    ]);
    assert_eq!(
        dot.matches("BGCOLOR=\"#f4b860\"").count() + dot.matches("fillcolor=\"#f4b860\"").count(),
        35
    );
    assert!(dot.contains("BGCOLOR=\"#90d890\"><TR><TD COLSPAN=\"2\">&lt;shapes.Vec object&gt;</TD></TR><TR><TD>Call</TD><TD>advance</TD>"), "{dot}");
    let (code, _, stderr) = analyze(&[
        "render",
        "samples/traces/addx.parquet",
        "--color-by",
        "diff",
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("add --against OLD.parquet"), "{stderr}");
}
