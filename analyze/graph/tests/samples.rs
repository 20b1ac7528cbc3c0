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

/// The light pass counts readers over row groups on two threads: over a
/// trace rewritten as many small row groups in two segment files, the
/// counts are those of the decoded nodes, and re-evaluation reports the
/// same as over the original file.
#[test]
fn readers_counted_in_parts_are_the_whole_counts() {
    use hltpy_graph::graph::Decoder;
    use hltpy_graph::interp::UseCounts;
    use hltpy_schema::{RunEnd, RunInfo, TraceFile, TraceWriter, WriterOptions};

    let dir = tempfile::tempdir().unwrap();
    for name in ["addx", "seed_graph", "units", "kernels"] {
        let original = sample(name);
        let batches: Vec<_> = TraceFile::open(&original.files[0])
            .unwrap()
            .batches()
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let nodes: Vec<_> = batches
            .iter()
            .flat_map(|batch| Decoder::default().decode(batch).unwrap())
            .collect();
        let options = WriterOptions {
            row_group_rows: 7,
            ..WriterOptions::default()
        };
        let rows: Vec<_> = batches
            .iter()
            .flat_map(|batch| (0..batch.num_rows()).map(|row| batch.slice(row, 1)))
            .collect();
        let (first, second) = rows.split_at(rows.len() / 3);
        let mut files = Vec::new();
        for (segment, part) in [first, second].into_iter().enumerate() {
            let path = dir.path().join(format!("{name}-{segment}.parquet"));
            let mut writer = TraceWriter::create(&path, &RunInfo::default(), &options).unwrap();
            part.iter().for_each(|row| writer.write(row).unwrap());
            let end = RunEnd {
                closed_cleanly: true,
                ..RunEnd::default()
            };
            writer.finish(&end).unwrap();
            assert!(TraceFile::open(&path).unwrap().row_groups() > 1, "{name}");
            files.push(path);
        }
        let parts = TraceFiles {
            name: name.to_string(),
            files,
        };
        let sorted = |counts: UseCounts| {
            let mut read: Vec<(u64, u32)> = counts.read_ids().collect();
            read.sort_unstable();
            read
        };
        assert_eq!(
            sorted(parts.count_uses().unwrap()),
            sorted(UseCounts::of(&nodes)),
            "{name}"
        );
        let whole = evaluate(&original, &[], None, |_| {}).unwrap();
        let in_parts = evaluate(&parts, &[], None, |_| {}).unwrap();
        for status in [Status::Matched, Status::MatchedType, Status::Differed] {
            assert_eq!(
                whole.count(status),
                in_parts.count(status),
                "{name} {status:?}"
            );
        }
    }
}

/// The decoder reads columns from their buffers, validity bits included:
/// slices of a batch (their rows start mid-buffer, mid-byte of the
/// validity bits) decode to the nodes the whole batch gives.
#[test]
fn slices_of_a_batch_decode_as_the_whole() {
    use hltpy_graph::graph::Decoder;
    use hltpy_schema::TraceFile;

    for name in ["addx", "seed_graph", "units", "kernels"] {
        for batch in TraceFile::open(&sample(name).files[0])
            .unwrap()
            .batches()
            .unwrap()
        {
            let batch = batch.unwrap();
            let whole = format!("{:?}", Decoder::default().decode(&batch).unwrap());
            for size in [1, 3, 7] {
                let mut decoder = Decoder::default();
                let mut nodes = Vec::new();
                for start in (0..batch.num_rows()).step_by(size) {
                    let slice = batch.slice(start, size.min(batch.num_rows() - start));
                    nodes.extend(decoder.decode(&slice).unwrap());
                }
                assert_eq!(format!("{nodes:?}"), whole, "{name}, slices of {size}");
            }
        }
    }
}
