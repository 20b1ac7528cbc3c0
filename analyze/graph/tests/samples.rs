//! Every committed sample trace re-evaluates with no difference, and
//! what-if runs answer as the programs would.

use std::path::PathBuf;

use hltpy_graph::eval::{evaluate, Report, Setting, Status};
use hltpy_graph::TraceFiles;

fn sample(name: &str) -> TraceFiles {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../samples/traces")
        .join(format!("{name}.parquet"));
    TraceFiles {
        name: name.to_string(),
        files: vec![path],
    }
}

fn eval(name: &str, settings: &[&str]) -> Report {
    let settings: Vec<Setting> = settings.iter().map(|s| s.parse().unwrap()).collect();
    evaluate(&sample(name), &settings, None, |_| {}).unwrap()
}

#[test]
fn every_sample_re_evaluates_without_a_difference() {
    for name in ["addx", "seed_graph", "units", "kernels"] {
        let report = eval(name, &[]);
        assert_eq!(report.count(Status::Differed), 0, "{name}: {report:#?}");
        // Most recomputed nodes are compared by value; those compared by
        // type alone (objects with their own repr) are the rest.
        assert!(
            report.count(Status::Matched) > report.count(Status::MatchedType),
            "{name}: {report:#?}"
        );
    }
}

#[test]
fn what_if_follows_a_parameter_to_the_results() {
    let report = eval("addx", &["add_to.y=6"]);
    let results: Vec<(String, String)> = report
        .results
        .iter()
        .map(|r| (r.recorded.clone(), r.recomputed.clone()))
        .collect();
    assert_eq!(
        results,
        vec![("[17, 7, 42]".to_string(), "[18, 7, 42]".to_string())]
    );
}
