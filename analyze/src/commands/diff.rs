//! `diff OLD NEW`: compares the computations of two traces (two versions
//! of a program) — equivalent or not, counts, per traced function before
//! and after, the first divergence, the differences grouped by traced
//! call — as text or JSON; with two directories, pairs their traces by
//! file name. The matching and its report are `hltpy_graph::diff`
//! ([`Diff::report`]); this formats the report.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use hltpy_graph::diff::{Diff, DiffReport, Difference, NodeInfo, Options};
use serde_json::json;

use crate::draw::{self, FileFormat};
use crate::error::AnalyzeError;
use crate::output::{self, ExitStatus};
use crate::progress::ProgressMode;
use crate::sources::{self, one_trace, TraceSource};

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
            let drawing = match &args.render {
                Some(path) => Some((path, FileFormat::of_path(path, "--render")?)),
                None => None,
            };
            let diff = diff_pair(&one_trace(&args.old)?, &one_trace(&args.new)?, options)?;
            if let Some((path, format)) = drawing {
                let dot = draw::diff::region_dot(&diff, &diff.region(DRAWN));
                draw::write_file(&dot, path, format, "--render")?;
            }
            let report = diff.report_shown(args.limit);
            let equivalent = report.equivalent;
            let text = match args.format {
                Format::Text => text(&report, args.limit),
                Format::Json => {
                    // Through a JSON value: its keys print sorted.
                    let document = serde_json::to_value(&report)
                        .and_then(|value| serde_json::to_string_pretty(&value))
                        .map_err(|err| AnalyzeError::Pass(err.to_string()))?;
                    format!("{document}\n")
                }
            };
            output::print(&text)?;
            Ok(ExitStatus::finding_if(!equivalent))
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

/// Reads and matches two traces.
fn diff_pair(old: &TraceSource, new: &TraceSource, options: Options) -> Result<Diff, AnalyzeError> {
    Diff::of_traces(&old.trace_files(), &new.trace_files(), options)
        .map_err(|err| AnalyzeError::Pass(err.to_string()))
}

/// Two directories: traces paired by file name, one line each.
fn batch_diff(args: &Args, options: Options) -> Result<ExitStatus, AnalyzeError> {
    let by_name = |dir: &str| -> Result<BTreeMap<String, TraceSource>, AnalyzeError> {
        Ok(sources::resolve(&[dir.to_string()])?
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
        Format::Text => output::print(&text)?,
        Format::Json => {
            let document = json!({"pairs": entries, "equivalent": equivalent, "different": different, "unpaired": missing});
            output::print(&format!(
                "{}\n",
                serde_json::to_string_pretty(&document).unwrap_or_default()
            ))?;
        }
    }
    Ok(ExitStatus::finding_if(different + missing > 0))
}

fn where_text(node: &NodeInfo) -> String {
    match &node.location {
        Some(at) => format!("node {} at {at}", node.id),
        None => format!("node {}", node.id),
    }
}

/// One difference (the node in either version) on one line.
fn difference_line(old: Option<&NodeInfo>, new: Option<&NodeInfo>) -> String {
    match (old, new) {
        (Some(old), Some(new)) => format!(
            "~ {}, was {} ({} → {})",
            new.text(),
            if old.value.is_empty() {
                "nothing"
            } else {
                &old.value
            },
            where_text(old),
            where_text(new)
        ),
        (None, Some(new)) => format!("+ {} ({})", new.text(), where_text(new)),
        (Some(old), None) => format!("- {} ({})", old.text(), where_text(old)),
        (None, None) => String::new(),
    }
}

/// The text report: verdict, counts, functions, first divergence, the
/// differences by traced call (`limit` of each list).
fn text(report: &DiffReport, limit: usize) -> String {
    let mut text = String::new();
    let counts = &report.counts;
    let _ = writeln!(
        text,
        "--- {} ({} nodes)",
        report.old.trace, report.old.nodes
    );
    let _ = writeln!(
        text,
        "+++ {} ({} nodes)",
        report.new.trace, report.new.nodes
    );
    if report.equivalent {
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
    let functions = &report.functions;
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
    if let Some(first) = &report.first_divergence {
        let _ = writeln!(
            text,
            "\nfirst divergence: {}",
            difference_line(first.old.as_ref(), first.new.as_ref())
        );
        let _ = writeln!(
            text,
            "  its inputs agree; {} value difference(s) follow from the divergences",
            report.downstream
        );
    }
    let _ = writeln!(text, "\ndifferences by traced call:");
    let groups = report.groups().len();
    for group in report.groups().take(limit) {
        let _ = writeln!(text, "  {}", group.call);
        // Where they start first: origins, then what follows from them.
        let mut members: Vec<&Difference> = group.differences.iter().collect();
        members.sort_by_key(|d| !d.origin);
        for difference in members.iter().take(limit) {
            let _ = writeln!(
                text,
                "    {}",
                difference_line(difference.old.as_ref(), difference.new.as_ref())
            );
        }
        if group.count > limit {
            let _ = writeln!(text, "    … {} more", group.count - limit);
        }
    }
    if groups > limit {
        let _ = writeln!(
            text,
            "  … {} more traced calls with differences (--limit N shows more)",
            groups - limit
        );
    }
    text
}

/// The most differing nodes drawn per side.
const DRAWN: usize = 60;
