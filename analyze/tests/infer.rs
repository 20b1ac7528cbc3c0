//! `infer`: signatures, requirements, stubs and dimensions of the samples.

use crate::support::analyze;

fn csv_rows(args: &[&str]) -> Vec<Vec<String>> {
    let (code, stdout, stderr) = analyze(args);
    assert_eq!(code, 0, "{stderr}");
    stdout
        .lines()
        .map(|line| line.split(',').map(str::to_string).collect())
        .collect()
}

#[test]
fn the_samples_stubs_and_add_to_gets_the_seeds_stub() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let (code, stdout, stderr) = analyze(&["infer", "samples/traces", "--stubs", out]);
    assert_eq!(code, 0, "{stderr}");
    let stub = |module: &str| {
        assert!(stdout.contains(&format!("{module}.pyi")), "{stdout}");
        std::fs::read_to_string(dir.path().join(format!("{module}.pyi"))).unwrap()
    };
    let addx = stub("addx");
    let class: Vec<&str> = addx
        .lines()
        .skip_while(|l| *l != "class AddX:")
        .take_while(|l| !l.is_empty())
        .collect();
    assert_eq!(
        class,
        [
            "class AddX:",
            "    x: int",
            "    def __init__(self, x: int) -> None: ...",
            "    def add_to(self, y: int, z: int = ...) -> int: ...",
        ]
    );
    for module in ["addx", "kernels", "seed_graph", "units"] {
        insta::assert_snapshot!(format!("stub_{module}"), stub(module));
    }
}

#[test]
fn add_to_requirements_name_what_the_body_did() {
    let rows = csv_rows(&[
        "query",
        "SELECT parameter, need, name, operand_type, result_type, count FROM requirements \
         WHERE function = 'addx.AddX.add_to' ORDER BY parameter, need, name",
        "samples/traces/addx.parquet",
        "--format",
        "csv",
    ]);
    assert_eq!(
        rows,
        [
            "parameter,need,name,operand_type,result_type,count",
            "self,attribute,x,,int,3",
            "y,right_operand,__add__,int,int,3",
            "z,right_operand,__add__,int,int,3",
        ]
        .map(|line| line.split(',').map(str::to_string).collect::<Vec<_>>())
    );
}

#[test]
fn observations_add_up_over_several_traces() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["first", "second", "third"] {
        std::fs::copy(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/traces/addx.parquet"),
            dir.path().join(format!("{name}.parquet")),
        )
        .unwrap();
    }
    let traces = dir.path().to_str().unwrap();
    let rows = csv_rows(&[
        "query",
        "SELECT function, parameter, types, observed, defaulted, calls, traces FROM signatures \
         WHERE function IN ('addx.AddX.add_to', 'addx.AddX') ORDER BY function, parameter",
        traces,
        "--format",
        "csv",
    ]);
    // One trace: add_to called 3 times (z defaulted twice), 2 AddX objects.
    assert_eq!(
        rows,
        [
            "function,parameter,types,observed,defaulted,calls,traces",
            "addx.AddX,x,int,6,0,6,0",
            "addx.AddX.add_to,return,int,9,0,9,3",
            "addx.AddX.add_to,self,addx.AddX,9,0,9,3",
            "addx.AddX.add_to,y,int,9,0,9,3",
            "addx.AddX.add_to,z,int,9,6,9,3",
        ]
        .map(|line| line.split(',').map(str::to_string).collect::<Vec<_>>())
    );
}

#[test]
fn the_units_report_finds_the_deliberate_mistake_and_nothing_else() {
    let (code, stdout, stderr) = analyze(&[
        "infer",
        "samples/traces/units.parquet",
        "--dimension-attr",
        "unit",
    ]);
    assert_eq!(code, 1, "a mismatch is a finding: {stderr}");
    let report = stdout
        .split("\ndimensions (the attribute `unit`):\n")
        .nth(1)
        .expect("a dimension section");
    assert!(
        report.contains("  units.speed(distance: [m], time: [s]) -> [m*s^-1]\n"),
        "{report}"
    );
    assert!(
        report.contains(
            "  units.stopping_distance(velocity: [m*s^-1], reaction_time: [s]) -> [m*s^-1]\n"
        ),
        "{report}"
    );
    let mismatches: Vec<&str> = report
        .split("dimension mismatches: ")
        .nth(1)
        .unwrap()
        .lines()
        .collect();
    assert_eq!(mismatches[0], "1", "{report}");
    assert_eq!(mismatches.len(), 2, "{report}");
    // The `+` in stopping_distance (units.py line 98): a speed and a distance.
    assert!(
        mismatches[1].contains("units.py:98 (")
            && mismatches[1].contains("`+` of [m*s^-1]")
            && mismatches[1].contains("and [m] (made at"),
        "{}",
        mismatches[1]
    );
    // Without the attribute there is no dimension report, and no finding.
    let (code, stdout, _) = analyze(&["infer", "samples/traces/units.parquet"]);
    assert_eq!(code, 0);
    assert!(!stdout.contains("dimension"));
}

#[test]
fn a_bad_dimension_attribute_is_refused() {
    let (code, _, stderr) = analyze(&[
        "infer",
        "samples/traces/units.parquet",
        "--dimension-attr",
        "unit.x",
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("\"unit.x\" is not an attribute name"),
        "{stderr}"
    );
}
