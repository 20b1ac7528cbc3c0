//! The drawing of a diff: the changed regions of both versions side by
//! side, as DOT.

use std::fmt::Write as _;

use hltpy_graph::diff::{Diff, Region, Status};

use super::html::dot_string;

/// The region as DOT: one cluster per version, nodes coloured by state
/// (changed orange, only in old red, only in new green, unchanged context
/// grey), edges by role, dashed links between a changed node's versions.
pub fn region_dot(diff: &Diff, region: &Region) -> String {
    let mut dot = String::from(
        "digraph diff {\n  rankdir=BT;\n  node [shape=box, style=filled, fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=8];\n",
    );
    for (old, trace) in [(true, &diff.old.name), (false, &diff.new.name)] {
        let prefix = if old { "o" } else { "n" };
        let _ = writeln!(
            dot,
            "  subgraph cluster_{} {{\n    label={};",
            if old { "old" } else { "new" },
            dot_string(&format!("{} {trace}", if old { "OLD" } else { "NEW" }))
        );
        for (_, node, status) in region.nodes.iter().filter(|(side, _, _)| *side == old) {
            let colour = match status {
                Status::Same => "#e8e8e8",
                Status::Changed => "#f4b860",
                Status::OnlyOld => "#f08080",
                Status::OnlyNew => "#90d890",
            };
            let mut label = node.text();
            if let Some(at) = &node.location {
                let _ = write!(label, "\n{at}");
            }
            let _ = writeln!(
                dot,
                "    {prefix}{} [label={}, fillcolor=\"{colour}\"];",
                node.id,
                dot_string(&label)
            );
        }
        for (_, src, dst, role) in region.edges.iter().filter(|(side, ..)| *side == old) {
            let _ = writeln!(
                dot,
                "    {prefix}{src} -> {prefix}{dst} [label={}];",
                dot_string(role)
            );
        }
        dot.push_str("  }\n");
    }
    let changed: std::collections::HashSet<u64> = region
        .nodes
        .iter()
        .filter(|(old, _, status)| !old && *status == Status::Changed)
        .map(|(_, node, _)| node.id)
        .collect();
    for (old, new) in &region.matches {
        if changed.contains(new) {
            let _ = writeln!(
                dot,
                "  o{old} -> n{new} [style=dashed, color=\"#b07000\", arrowhead=none, constraint=false];"
            );
        }
    }
    dot.push_str("}\n");
    dot
}
