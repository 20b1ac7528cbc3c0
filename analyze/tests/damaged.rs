//! Damaged traces through the whole analyzer: each of the 11 subcommands on a sample
//! trace cut short or with bytes flipped (in the footer, the page headers
//! and the data) ends with exit code 0, 1 or 2 and, when it refuses the
//! file, one line naming it — never a crash or a backtrace.

use std::path::Path;
use std::process::Command;

fn analyze(args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_hltpy-analyze"))
        .args(args)
        .output()
        .unwrap();
    let code = output
        .status
        .code()
        .unwrap_or_else(|| panic!("{args:?} was killed by a signal"));
    (code, String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn every_subcommand_survives_damage() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/traces/units.parquet");
    let bytes = std::fs::read(&sample).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.parquet");
    let name = path.to_str().unwrap();
    let good = sample.to_str().unwrap();
    let outputs = [".py", ".dot", ".html"].map(|suffix| dir.path().join(format!("out{suffix}")));
    let [out_py, out_dot, out_html] = outputs.each_ref().map(|p| p.to_str().unwrap());
    let step = bytes.len() / 24;
    let mut refused = 0;
    for (round, position) in (0..bytes.len()).step_by(step).enumerate() {
        let mut damaged = bytes.clone();
        if round % 5 == 4 {
            damaged.truncate(position);
        } else {
            damaged[position] ^= 0x5A << (round % 2);
        }
        std::fs::write(&path, &damaged).unwrap();
        for args in [
            vec!["check", name],
            vec!["summary", name],
            vec!["expr", name],
            vec![
                "query",
                "SELECT kind, count(*), max(line), max(value_repr) FROM nodes GROUP BY kind",
                name,
            ],
            vec!["eval", name],
            vec!["constraints", name],
            vec!["infer", name],
            vec!["compile", name, "-o", out_py],
            vec!["diff", good, name],
            vec!["render", name, "-o", out_dot],
            vec!["report", name, "-o", out_html],
        ] {
            let (code, stderr) = analyze(&args);
            let context = format!("{args:?} with byte {position} damaged (round {round})");
            assert!(matches!(code, 0..=2), "{context}: exit {code}\n{stderr}");
            assert!(
                !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
                "{context}: {stderr}"
            );
            if code == 2 {
                refused += 1;
                assert_eq!(stderr.lines().count(), 1, "{context}: {stderr}");
                assert!(stderr.contains("damaged.parquet"), "{context}: {stderr}");
            }
        }
    }
    assert!(refused > 0, "no damage was noticed at all");
}
