//! `constraints`: the seed's upstream constraints of the samples, row by row.

use crate::support::analyze;

/// (kind, from kind, from name, to kind, to name) of each constraint with
/// both ends on the line `AddX(10).add_to(5, z=2)` runs on or in AddX's
/// methods, in the order `constraints` prints them.
fn add_to_rows() -> Vec<(String, String, String, String, String)> {
    let (code, stdout, stderr) = analyze(&[
        "constraints",
        "samples/traces/addx.parquet",
        "--format",
        "csv",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let mut lines = stdout.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    let column = |name: &str| header.iter().position(|c| *c == name).expect(name);
    let (kind, from_id, from_kind, from_name, to_kind, to_name) = (
        column("kind"),
        column("from_id"),
        column("from_kind"),
        column("from_name"),
        column("to_kind"),
        column("to_name"),
    );
    lines
        .map(|line| line.split(',').map(str::to_string).collect::<Vec<_>>())
        // AddX(10).add_to(5, z=2): the nodes up to its Dispatch (id 9) and
        // the body's read of self.x (id 14).
        .filter(|row| {
            let id: u64 = row[from_id].parse().unwrap();
            (2..=14).contains(&id)
        })
        .map(|row| {
            (
                row[kind].clone(),
                row[from_kind].clone(),
                row[from_name].clone(),
                row[to_kind].clone(),
                row[to_name].clone(),
            )
        })
        .collect()
}

#[test]
fn the_seeds_add_to_example_gives_the_seeds_constraints() {
    let row = |k: &str, fk: &str, fname: &str, tk: &str, tname: &str| {
        (
            k.to_string(),
            fk.to_string(),
            fname.to_string(),
            tk.to_string(),
            tname.to_string(),
        )
    };
    assert_eq!(
        add_to_rows(),
        vec![
            // The object has its __init__ and the attribute it sets.
            row("HasAttr", "Obj", "addx.AddX", "SetAttr", "x"),
            row("HasInit", "Obj", "addx.AddX", "NewInit", "addx.AddX"),
            // x=10 into __init__.
            row("Arg2Content", "Argument", "x", "Const", ""),
            // .add_to is read from the object, and called.
            row("HasAttr", "GetAttr", "add_to", "NewInit", "addx.AddX"),
            row(
                "HasCallableMethod",
                "Dispatch",
                "add_to",
                "GetAttr",
                "add_to"
            ),
            // y=5 and z=2.
            row("Arg2Content", "Argument", "y", "Const", ""),
            row("Arg2Content", "Argument", "z", "Const", ""),
            // The body reads self.x: the other direction of HasAttr x.
            row("HasAttr", "GetAttr", "x", "NewInit", "addx.AddX"),
        ]
    );
}

#[test]
fn constraints_are_a_table_too_and_filter_by_kind() {
    let sql = "SELECT kind, count(*) AS n FROM constraints GROUP BY kind ORDER BY kind";
    let (code, stdout, stderr) = analyze(&["query", sql, "samples/traces", "--format", "csv"]);
    assert_eq!(code, 0, "{stderr}");
    let kinds: Vec<&str> = stdout
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    // Every kind occurs in the samples (HasItem in kernels' list reads).
    assert_eq!(
        kinds,
        [
            "Arg2Content",
            "HasAttr",
            "HasCallableMethod",
            "HasInit",
            "HasItem",
            "IsCallableFunction"
        ]
    );
    let (code, stdout, _) = analyze(&[
        "constraints",
        "samples/traces/units.parquet",
        "--kind",
        "HasInit",
        "--format",
        "csv",
    ]);
    assert_eq!(code, 0);
    let rows: Vec<&str> = stdout.lines().skip(1).collect();
    assert!(!rows.is_empty() && rows.iter().all(|r| r.contains(",HasInit,")));
}

#[test]
fn an_unknown_kind_is_refused_with_the_kinds() {
    let (code, _, stderr) = analyze(&[
        "constraints",
        "samples/traces/addx.parquet",
        "--kind",
        "HasColour",
    ]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr.trim(),
        "hltpy-analyze: no constraint kind \"HasColour\"; the kinds are HasInit, HasAttr, \
         HasCallableMethod, IsCallableFunction, HasItem, Arg2Content"
    );
}
