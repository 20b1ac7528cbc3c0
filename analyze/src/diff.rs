//! `diff OLD NEW`: compares the computations of two traces (two versions
//! of a program) — equivalent or not, counts, per traced function before
//! and after, the first divergence, the differences grouped by traced
//! call — as text or JSON; with two directories, pairs their traces by
//! file name. The matching is `hltpy_graph::diff`; the table `diff` is
//! its rows.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use datafusion::arrow::array::{ArrayRef, StringBuilder, UInt64Builder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use hltpy_graph::diff::{Diff, Difference, NodeInfo, Options, Region, Side, Status};
use hltpy_graph::TraceFiles;
use serde_json::{json, Value as Json};

use crate::cli::{self, ExitStatus};
use crate::error::AnalyzeError;
use crate::html::dot_string;
use crate::progress::ProgressMode;
use crate::session::{self, TraceSource};

/// Compare two traces, or two directories of traces.
#[derive(clap::Args)]
pub struct Args {
    /// The trace before (a file, a segment directory, or a directory of
    /// traces to pair by file name with NEW's).
    old: String,
    /// The trace after.
    new: String,
    /// Compare structure only: values may differ.
    #[arg(long)]
    ignore_values: bool,
    /// Leave source lines out of the matching's tie-breaks and the report.
    #[arg(long)]
    ignore_locations: bool,
    /// Floats within this relative tolerance are equal.
    #[arg(long, value_name = "TOL")]
    rel_tol: Option<f64>,
    /// The report's format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Traced calls listed, and differences per call (the counts cover
    /// all).
    #[arg(long, default_value_t = 12, value_name = "N")]
    limit: usize,
    /// Draw the changed regions of both versions: FILE.dot (graphviz's
    /// DOT, nothing needed), FILE.svg or FILE.png (runs graphviz's `dot`).
    #[arg(long, value_name = "FILE")]
    render: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

pub fn run(args: Args, _mode: ProgressMode) -> Result<ExitStatus, AnalyzeError> {
    if let Some(tol) = args.rel_tol {
        if !(tol.is_finite() && tol >= 0.0) {
            return Err(AnalyzeError::Usage(format!(
                "--rel-tol {tol} is not a tolerance; e.g. --rel-tol 1e-9"
            )));
        }
    }
    let options = Options {
        ignore_values: args.ignore_values,
        ignore_locations: args.ignore_locations,
        rel_tol: args.rel_tol,
    };
    let batch = [&args.old, &args.new].map(|input| is_directory_of_traces(Path::new(input)));
    match batch {
        [true, true] if args.render.is_some() => Err(AnalyzeError::Usage(
            "--render draws one pair of traces, not two directories".into(),
        )),
        [true, true] => batch_diff(&args, options),
        [false, false] => {
            let diff = diff_pair(&one_trace(&args.old)?, &one_trace(&args.new)?, options)?;
            if let Some(path) = &args.render {
                render(&diff, path)?;
            }
            let text = match args.format {
                Format::Text => report(&diff, args.limit),
                Format::Json => {
                    let mut text = serde_json::to_string_pretty(&as_json(&diff, args.limit))
                        .map_err(|err| AnalyzeError::Pass(err.to_string()))?;
                    text.push('\n');
                    text
                }
            };
            cli::print(&text)?;
            Ok(ExitStatus::finding_if(!diff.equivalent()))
        }
        _ => Err(AnalyzeError::Usage(format!(
            "diff compares a trace with a trace or a directory of traces with another; \
             {} is {} and {} is {}",
            args.old,
            if batch[0] {
                "a directory of traces"
            } else {
                "one trace"
            },
            args.new,
            if batch[1] {
                "a directory of traces"
            } else {
                "one trace"
            },
        ))),
    }
}

/// A directory holding traces (not the segments of one run).
fn is_directory_of_traces(path: &Path) -> bool {
    path.is_dir() && !path.join("part-00000.parquet").exists()
}

/// The one trace an argument names (a file or the segments of one run).
pub fn one_trace(input: &str) -> Result<TraceSource, AnalyzeError> {
    let mut sources = session::resolve(&[input.to_string()])?;
    if sources.len() != 1 {
        return Err(AnalyzeError::Usage(format!(
            "{input} holds {} traces; name one trace (a file or the segments of one run)",
            sources.len()
        )));
    }
    Ok(sources.remove(0))
}

/// Reads and matches two traces.
pub fn diff_pair(
    old: &TraceSource,
    new: &TraceSource,
    options: Options,
) -> Result<Diff, AnalyzeError> {
    let read = |source: &TraceSource| {
        Side::read(&TraceFiles {
            name: source.name.clone(),
            files: source.files.clone(),
        })
        .map_err(|err| AnalyzeError::Pass(err.to_string()))
    };
    Ok(Diff::new(read(old)?, read(new)?, options))
}

/// Two directories: traces paired by file name, one line each.
fn batch_diff(args: &Args, options: Options) -> Result<ExitStatus, AnalyzeError> {
    let by_name = |dir: &str| -> Result<BTreeMap<String, TraceSource>, AnalyzeError> {
        Ok(session::resolve(&[dir.to_string()])?
            .into_iter()
            .map(|s| {
                let name = s
                    .path
                    .file_name()
                    .map_or_else(|| s.name.clone(), |n| n.to_string_lossy().into_owned());
                (name, s)
            })
            .collect())
    };
    let (olds, news) = (by_name(&args.old)?, by_name(&args.new)?);
    let mut names: Vec<&String> = olds.keys().chain(news.keys()).collect();
    names.sort();
    names.dedup();
    let mut text = String::new();
    let mut entries = Vec::new();
    let (mut equivalent, mut different, mut missing) = (0, 0, 0);
    for name in names {
        match (olds.get(name), news.get(name)) {
            (Some(old), Some(new)) => {
                let diff = diff_pair(old, new, options)?;
                let counts = diff.counts();
                let same = diff.equivalent();
                if same {
                    equivalent += 1;
                    let _ = writeln!(text, "{name}: equivalent ({} nodes)", counts.matched);
                } else {
                    different += 1;
                    let first = diff
                        .first_divergence()
                        .and_then(|d| d.new.and_then(|n| n.location))
                        .map(|at| format!(", first divergence at {at}"))
                        .unwrap_or_default();
                    let _ = writeln!(
                        text,
                        "{name}: different ({} changed, {} only in old, {} only in new{first})",
                        counts.changed, counts.only_old, counts.only_new
                    );
                }
                entries.push(json!({
                    "name": name, "equivalent": same, "changed": counts.changed,
                    "only_old": counts.only_old, "only_new": counts.only_new,
                }));
            }
            (Some(_), None) => {
                missing += 1;
                let _ = writeln!(text, "{name}: only in {}", args.old);
                entries.push(json!({"name": name, "only_in": "old"}));
            }
            (None, Some(_)) => {
                missing += 1;
                let _ = writeln!(text, "{name}: only in {}", args.new);
                entries.push(json!({"name": name, "only_in": "new"}));
            }
            (None, None) => {}
        }
    }
    let _ = writeln!(
        text,
        "\n{} pairs: {equivalent} equivalent, {different} different; {missing} without a pair",
        equivalent + different
    );
    match args.format {
        Format::Text => cli::print(&text)?,
        Format::Json => {
            let document = json!({"pairs": entries, "equivalent": equivalent, "different": different, "unpaired": missing});
            cli::print(&format!(
                "{}\n",
                serde_json::to_string_pretty(&document).unwrap_or_default()
            ))?;
        }
    }
    Ok(ExitStatus::finding_if(different + missing > 0))
}

fn node_text(node: &NodeInfo) -> String {
    let mut text = node.kind.to_string();
    if !node.name.is_empty() {
        let _ = write!(text, " {}", node.name);
    }
    if !node.value.is_empty() {
        let _ = write!(text, " = {}", node.value);
    }
    text
}

fn where_text(node: &NodeInfo) -> String {
    match &node.location {
        Some(at) => format!("node {} at {at}", node.id),
        None => format!("node {}", node.id),
    }
}

/// One difference on one line.
fn difference_line(difference: &Difference) -> String {
    match (&difference.old, &difference.new) {
        (Some(old), Some(new)) => format!(
            "~ {}, was {} ({} → {})",
            node_text(new),
            if old.value.is_empty() {
                "nothing"
            } else {
                &old.value
            },
            where_text(old),
            where_text(new)
        ),
        (None, Some(new)) => format!("+ {} ({})", node_text(new), where_text(new)),
        (Some(old), None) => format!("- {} ({})", node_text(old), where_text(old)),
        (None, None) => String::new(),
    }
}

/// The traced call a difference is grouped under: NEW's call, or OLD's
/// (by its partner in NEW when it has one).
fn group_of(diff: &Diff, difference: &Difference) -> (Option<u64>, Option<u64>) {
    match (&difference.new, &difference.old) {
        (Some(new), _) => (None, new.call),
        (None, Some(old)) => match old.call {
            Some(call) => match diff.partner_of_old(call) {
                Some(partner) => (None, Some(partner)),
                None => (Some(call), None),
            },
            None => (None, None),
        },
        (None, None) => (None, None),
    }
}

/// The differences grouped by traced call, in the order of the calls' ids.
type Groups<'d> = BTreeMap<(Option<u64>, Option<u64>), Vec<&'d Difference>>;

fn by_call<'d>(diff: &Diff, differences: &'d [Difference]) -> Groups<'d> {
    let mut groups = Groups::new();
    for difference in differences {
        groups
            .entry(group_of(diff, difference))
            .or_default()
            .push(difference);
    }
    groups
}

fn group_title(diff: &Diff, group: (Option<u64>, Option<u64>)) -> String {
    match group {
        (None, None) => "top level".into(),
        (Some(old_call), _) => match diff.call_info(true, old_call) {
            Some((name, at)) => format!(
                "{name} (only in old{})",
                at.map(|a| format!(", at {a}")).unwrap_or_default()
            ),
            None => format!("call {old_call} of old"),
        },
        (None, Some(new_call)) => match diff.call_info(false, new_call) {
            Some((name, at)) => format!(
                "{name}{}",
                at.map(|a| format!(" at {a}")).unwrap_or_default()
            ),
            None => format!("call {new_call}"),
        },
    }
}

/// The text report: verdict, counts, functions, first divergence, the
/// differences by traced call.
pub fn report(diff: &Diff, limit: usize) -> String {
    let mut text = String::new();
    let counts = diff.counts();
    let _ = writeln!(text, "--- {} ({} nodes)", diff.old.name, diff.old.len());
    let _ = writeln!(text, "+++ {} ({} nodes)", diff.new.name, diff.new.len());
    if diff.equivalent() {
        let _ = writeln!(
            text,
            "equivalent: all {} nodes matched, same values",
            counts.matched
        );
        return text;
    }
    let _ = writeln!(
        text,
        "different: {} matched ({} same, {} with another value), {} only in old, {} only in new",
        counts.matched, counts.same, counts.changed, counts.only_old, counts.only_new
    );
    let functions = diff.functions();
    if !functions.is_empty() {
        let _ = writeln!(text, "\ntraced function | calls | operations | differing");
        for function in functions.iter().take(limit.max(1)) {
            let _ = writeln!(
                text,
                "{} | {} → {} | {} → {} | {}",
                function.name,
                function.calls.0,
                function.calls.1,
                function.operations.0,
                function.operations.1,
                function.differing
            );
        }
        if functions.len() > limit.max(1) {
            let _ = writeln!(text, "… {} more", functions.len() - limit.max(1));
        }
    }
    let differences = diff.differences();
    if let Some(first) = diff.first_divergence() {
        let downstream = differences
            .iter()
            .filter(|d| d.status == Status::Changed && !d.origin)
            .count();
        let _ = writeln!(text, "\nfirst divergence: {}", difference_line(&first));
        let _ = writeln!(
            text,
            "  its inputs agree; {downstream} value difference(s) follow from the divergences"
        );
    }
    let groups = by_call(diff, &differences);
    let _ = writeln!(text, "\ndifferences by traced call:");
    for (group, members) in groups.iter().take(limit) {
        let _ = writeln!(text, "  {}", group_title(diff, *group));
        // Where they start first: origins, then what follows from them.
        let mut members = members.clone();
        members.sort_by_key(|d| !d.origin);
        for difference in members.iter().take(limit) {
            let _ = writeln!(text, "    {}", difference_line(difference));
        }
        if members.len() > limit {
            let _ = writeln!(text, "    … {} more", members.len() - limit);
        }
    }
    if groups.len() > limit {
        let _ = writeln!(
            text,
            "  … {} more traced calls with differences (--limit N shows more)",
            groups.len() - limit
        );
    }
    text
}

fn node_json(node: &Option<NodeInfo>) -> Json {
    match node {
        None => Json::Null,
        Some(node) => json!({
            "id": node.id, "kind": node.kind.as_str(), "name": node.name,
            "value": node.value, "location": node.location, "call": node.call,
        }),
    }
}

/// The report as JSON, for tools.
pub fn as_json(diff: &Diff, limit: usize) -> Json {
    let counts = diff.counts();
    let differences = diff.differences();
    let groups = by_call(diff, &differences);
    let groups: Vec<Json> = groups
        .iter()
        .map(|(group, members)| {
            json!({
                "call": group_title(diff, *group),
                "count": members.len(),
                "differences": members.iter().take(limit).map(|d| json!({
                    "status": d.status.as_str(), "origin": d.origin,
                    "old": node_json(&d.old), "new": node_json(&d.new),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "old": {"trace": diff.old.name, "nodes": diff.old.len()},
        "new": {"trace": diff.new.name, "nodes": diff.new.len()},
        "equivalent": diff.equivalent(),
        "counts": {
            "matched": counts.matched, "same": counts.same, "changed": counts.changed,
            "only_old": counts.only_old, "only_new": counts.only_new,
        },
        "functions": diff.functions().iter().map(|f| json!({
            "name": f.name, "calls": [f.calls.0, f.calls.1],
            "operations": [f.operations.0, f.operations.1], "differing": f.differing,
        })).collect::<Vec<_>>(),
        "first_divergence": diff.first_divergence().map(|d| json!({
            "old": node_json(&d.old), "new": node_json(&d.new),
        })),
        "differences": groups,
    })
}

/// The `diff` table's columns.
pub fn diff_schema() -> SchemaRef {
    std::sync::Arc::new(Schema::new(vec![
        Field::new("old_trace", DataType::Utf8, false),
        Field::new("old_id", DataType::UInt64, true),
        Field::new("new_trace", DataType::Utf8, false),
        Field::new("new_id", DataType::UInt64, true),
        Field::new("status", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("name", DataType::Utf8, false),
    ]))
}

/// The `diff` table of the session's first two traces (old, then new).
pub fn diff_batch(sources: &[TraceSource]) -> Result<RecordBatch, AnalyzeError> {
    let [old, new] = sources else {
        return Err(AnalyzeError::Usage(format!(
            "the table diff compares two traces (old, then new); the query was given {}",
            sources.len()
        )));
    };
    let diff = diff_pair(old, new, Options::default())?;
    let rows = diff.rows();
    let mut old_trace = StringBuilder::new();
    let mut old_id = UInt64Builder::new();
    let mut new_trace = StringBuilder::new();
    let mut new_id = UInt64Builder::new();
    let mut status = StringBuilder::new();
    let mut kind = StringBuilder::new();
    let mut name = StringBuilder::new();
    for row in rows {
        old_trace.append_value(&old.name);
        old_id.append_option(row.old_id);
        new_trace.append_value(&new.name);
        new_id.append_option(row.new_id);
        status.append_value(row.status.as_str());
        kind.append_value(row.kind.as_str());
        name.append_value(row.name);
    }
    let columns: Vec<ArrayRef> = vec![
        std::sync::Arc::new(old_trace.finish()),
        std::sync::Arc::new(old_id.finish()),
        std::sync::Arc::new(new_trace.finish()),
        std::sync::Arc::new(new_id.finish()),
        std::sync::Arc::new(status.finish()),
        std::sync::Arc::new(kind.finish()),
        std::sync::Arc::new(name.finish()),
    ];
    RecordBatch::try_new(diff_schema(), columns).map_err(|err| AnalyzeError::Pass(err.to_string()))
}

/// The most differing nodes drawn per side.
const DRAWN: usize = 60;

/// Writes the drawing of the changed regions: DOT as is, SVG or PNG
/// through graphviz's `dot`.
fn render(diff: &Diff, path: &str) -> Result<(), AnalyzeError> {
    let format = match Path::new(path).extension().and_then(|e| e.to_str()) {
        Some("dot" | "gv") => None,
        Some(format @ ("svg" | "png")) => Some(format),
        _ => {
            return Err(AnalyzeError::Usage(format!(
                "--render {path}: the file must end in .dot, .svg or .png"
            )))
        }
    };
    let dot = region_dot(diff, &diff.region(DRAWN));
    let fail = |detail: String| AnalyzeError::Output {
        path: path.to_string(),
        detail,
    };
    let Some(format) = format else {
        return std::fs::write(path, dot).map_err(|err| fail(err.to_string()));
    };
    let mut child = std::process::Command::new("dot")
        .arg(format!("-T{format}"))
        .arg("-o")
        .arg(path)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|err| {
            fail(if err.kind() == std::io::ErrorKind::NotFound {
                "graphviz's dot is not installed (apt-get install graphviz); \
                 --render FILE.dot writes the graph without it"
                    .into()
            } else {
                format!("cannot run graphviz's dot: {err}")
            })
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write as _;
        stdin
            .write_all(dot.as_bytes())
            .map_err(|err| fail(format!("cannot give dot the graph: {err}")))?;
    }
    let done = child
        .wait_with_output()
        .map_err(|err| fail(format!("graphviz's dot failed: {err}")))?;
    if !done.status.success() {
        let stderr = String::from_utf8_lossy(&done.stderr);
        return Err(fail(format!(
            "graphviz's dot failed: {}",
            stderr.lines().next().unwrap_or("no message")
        )));
    }
    Ok(())
}

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
            let mut label = node_text(node);
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
