//! `eval`: re-run a trace in Rust — recompute every node from its inputs
//! with CPython's semantics and compare with the recording — and answer
//! "what if" an input had another value (`--set`). The pass itself is
//! `hltpy_graph::eval`; this module reads the traces and reports.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use hltpy_graph::eval::{
    evaluate, recorded_text, Difference, EvalError, EvalOptions, Evaluator, NodeOutcome, Report,
    Setting, Status,
};
use hltpy_graph::pymath::PythonVersion;
use hltpy_graph::Graph;
use serde_json::{json, Value as Json};

use crate::error::AnalyzeError;
use crate::load::load_cone;
use crate::output::{self, ExitStatus};
use crate::progress::{Progress, ProgressMode, Unit};
use crate::session::Session;
use crate::sources;

/// Re-evaluate traces and compare with what was recorded, or ask what if.
#[derive(clap::Args)]
pub struct Args {
    /// Traces to re-evaluate.
    #[arg(required = true)]
    traces: Vec<String>,
    /// Only these nodes (and what they are computed from), with their values.
    #[arg(long = "node", value_name = "ID")]
    nodes: Vec<u64>,
    /// Floats agree within this relative tolerance (default: bit for bit).
    #[arg(long, value_name = "X")]
    rel_tol: Option<f64>,
    /// What if node ID, or traced parameter PARAM (FUNC.PARAM when several
    /// functions have one), had VALUE (a Python literal)? Repeatable.
    #[arg(long = "set", value_name = "ID=VALUE|PARAM=VALUE")]
    settings: Vec<String>,
    /// Exit code 1 when anything is opaque too (not recomputed), not only
    /// when a value differs.
    #[arg(long)]
    strict: bool,
    /// The report's format: text, or JSON (an array, one object per trace
    /// or per `--node`).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

pub fn run(args: Args, mode: ProgressMode) -> Result<ExitStatus, AnalyzeError> {
    let settings = args
        .settings
        .iter()
        .map(|text| text.parse::<Setting>().map_err(AnalyzeError::Usage))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(tol) = args.rel_tol {
        if !(tol.is_finite() && tol >= 0.0) {
            return Err(AnalyzeError::Usage(format!(
                "--rel-tol {tol} must be a finite number >= 0, e.g. --rel-tol 1e-9"
            )));
        }
    }
    if !args.nodes.is_empty() {
        if !settings.is_empty() {
            return Err(AnalyzeError::Usage(
                "--node and --set do not combine: --set follows a change to every result".into(),
            ));
        }
        return nodes(&args, mode);
    }
    let mut found = false;
    let mut documents = Vec::new();
    for source in sources::resolve(&args.traces)? {
        let files = source.trace_files();
        let done = Arc::new(AtomicU64::new(0));
        let progress = Progress::start(
            mode,
            format!("re-evaluating {}", source.name),
            Unit::Rows,
            source.rows,
            done.clone(),
        );
        let count = |_: &NodeOutcome| {
            done.fetch_add(1, Ordering::Relaxed);
        };
        let report = evaluate(&files, &settings, args.rel_tol, count).map_err(|err| match err {
            EvalError::Usage(message) => AnalyzeError::Usage(format!("{}: {message}", source.name)),
            EvalError::Run(err) => AnalyzeError::Pass(err.to_string()),
        })?;
        drop(progress);
        if settings.is_empty() {
            found |= report.count(Status::Differed) > 0
                || (args.strict && report.count(Status::Opaque) > 0);
        }
        match args.format {
            Format::Text if settings.is_empty() => output::print(&render(&source.name, &report))?,
            Format::Text => output::print(&render_what_if(&source.name, &settings, &report))?,
            Format::Json => documents.push(as_json(&source.name, &settings, &report)),
        }
    }
    if args.format == Format::Json {
        print_json(&Json::Array(documents))?;
    }
    Ok(ExitStatus::finding_if(found))
}

fn print_json(document: &Json) -> Result<(), AnalyzeError> {
    let mut text = serde_json::to_string_pretty(document)
        .map_err(|err| AnalyzeError::Pass(err.to_string()))?;
    text.push('\n');
    output::print(&text)
}

fn difference_json(d: &Difference) -> Json {
    json!({
        "id": d.id, "kind": d.kind.as_str(), "name": d.name, "location": d.location,
        "recorded": d.recorded, "recomputed": d.recomputed, "stuck_at": d.stuck_at,
    })
}

/// A re-evaluation's report as JSON, for tools: the counts by status
/// (`matched` compared values, `matched_type` types only), the first
/// differences and the opaque reasons; for a what-if run the settings and
/// the results that changed or could not follow.
pub fn as_json(name: &str, settings: &[Setting], report: &Report) -> Json {
    let counts: serde_json::Map<String, Json> = Status::ALL
        .iter()
        .map(|status| (status.as_str().to_string(), json!(report.count(*status))))
        .collect();
    let mut document = json!({
        "trace": name,
        "nodes": report.nodes,
        "counts": counts,
        "differences": report.differences.iter().map(difference_json).collect::<Vec<_>>(),
        "opaque_reasons": report.opaque_reasons.iter()
            .map(|(reason, nodes)| json!({"reason": reason, "nodes": nodes}))
            .collect::<Vec<_>>(),
    });
    if !settings.is_empty() {
        document["settings"] = json!(settings.iter().map(|s| &s.text).collect::<Vec<_>>());
        document["set"] = json!(report
            .set
            .iter()
            .map(|(id, value)| json!({"id": id, "value": value}))
            .collect::<Vec<_>>());
        document["results"] = json!(report
            .results
            .iter()
            .map(difference_json)
            .collect::<Vec<_>>());
    }
    document
}

/// The report of a re-evaluation.
pub fn render(name: &str, report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{name}: {} nodes: {} matched by value, {} by type only, {} differed, {} opaque, {} inputs",
        report.nodes,
        report.count(Status::Matched),
        report.count(Status::MatchedType),
        report.count(Status::Differed),
        report.count(Status::Opaque),
        report.count(Status::Input),
    );
    if !report.differences.is_empty() {
        let _ = writeln!(out, "differences (first {}):", report.differences.len());
        for d in &report.differences {
            let _ = writeln!(
                out,
                "  #{} {} {} at {}: recorded {}, recomputed {}",
                d.id, d.kind, d.name, d.location, d.recorded, d.recomputed
            );
        }
    }
    if !report.opaque_reasons.is_empty() {
        let _ = writeln!(out, "opaque, by reason:");
        for (reason, count) in &report.opaque_reasons {
            let _ = writeln!(out, "  {count:>8}  {reason}");
        }
    }
    out
}

/// The report of a what-if run: the results that changed, and those that
/// could not follow (with the opaque node in the way).
pub fn render_what_if(name: &str, settings: &[Setting], report: &Report) -> String {
    let mut out = String::new();
    let asked: Vec<&str> = settings.iter().map(|s| s.text.as_str()).collect();
    let set: Vec<String> = report
        .set
        .iter()
        .map(|(id, v)| format!("#{id} = {v}"))
        .collect();
    let _ = writeln!(
        out,
        "{name}: what if {} ({})",
        asked.join(", "),
        set.join(", ")
    );
    let _ = writeln!(
        out,
        "  {} nodes changed, {} opaque",
        report.count(Status::Changed),
        report.count(Status::Opaque)
    );
    let (stuck, followed): (Vec<_>, Vec<_>) =
        report.results.iter().partition(|r| r.stuck_at.is_some());
    if followed.is_empty() && stuck.is_empty() {
        let _ = writeln!(out, "no result changed");
    }
    if !followed.is_empty() {
        let _ = writeln!(out, "results:");
        for r in followed {
            let _ = writeln!(
                out,
                "  #{} {} {} at {}: {} -> {}",
                r.id, r.kind, r.name, r.location, r.recorded, r.recomputed
            );
        }
    }
    if !stuck.is_empty() {
        let _ = writeln!(out, "could not follow (the recorded value is kept):");
        for r in stuck {
            let _ = writeln!(
                out,
                "  #{} {} {} at {}: {} (opaque node #{} lies on the path)",
                r.id,
                r.kind,
                r.name,
                r.location,
                r.recorded,
                r.stuck_at.unwrap_or_default()
            );
        }
    }
    out
}

/// `--node`: the cone of the named nodes, loaded by id through the
/// session, re-evaluated in data order, each named node with its values.
fn nodes(args: &Args, mode: ProgressMode) -> Result<ExitStatus, AnalyzeError> {
    let text_and_found = crate::session::runtime()?.block_on(async {
        let session = Session::open(&args.traces).await?;
        let _progress = session.progress(mode, "eval");
        let [source] = session.sources.as_slice() else {
            return Err(AnalyzeError::Usage(
                "eval --node reads one trace; name one".into(),
            ));
        };
        let graph: Graph = load_cone(&session, &source.name, &args.nodes, usize::MAX).await?;
        let mut out = String::new();
        let mut documents = Vec::new();
        let mut found = false;
        let mut outcomes = std::collections::HashMap::new();
        {
            let mut evaluator = Evaluator::new(
                EvalOptions {
                    rel_tol: args.rel_tol,
                    overrides: Default::default(),
                    python: PythonVersion::parse(&source.metadata.python_version),
                },
                |outcome: &NodeOutcome| {
                    outcomes.insert(
                        outcome.node.id,
                        (
                            outcome.status,
                            outcome.value.bounded_repr(200),
                            outcome.reason.map(str::to_string),
                        ),
                    );
                },
            );
            hltpy_graph::run(&graph, &mut evaluator)
                .map_err(|err| AnalyzeError::Pass(format!("{}: {err}", source.name)))?;
        }
        for id in &args.nodes {
            let Some(node) = graph.get(*id) else {
                return Err(AnalyzeError::Usage(format!(
                    "node {id} is not in {}; its ids run from 0 to {}",
                    source.name,
                    source.rows.saturating_sub(1)
                )));
            };
            let (status, value, reason) = &outcomes[id];
            found |= *status == Status::Differed || (args.strict && *status == Status::Opaque);
            if args.format == Format::Json {
                documents.push(json!({
                    "trace": source.name, "id": id, "kind": node.kind.as_str(),
                    "name": node.name(), "location": node.location(),
                    "status": status.as_str(), "recorded": recorded_text(&node.recorded),
                    "recomputed": value, "reason": reason,
                }));
                continue;
            }
            let _ = write!(
                out,
                "#{id} {} {} at {}: {}: recorded {}, recomputed {}",
                node.kind,
                node.name(),
                node.location(),
                status.as_str(),
                recorded_text(&node.recorded),
                value
            );
            match reason {
                Some(reason) => {
                    let _ = writeln!(out, " ({reason})");
                }
                None => out.push('\n'),
            }
        }
        if args.format == Format::Json {
            out = serde_json::to_string_pretty(&Json::Array(documents))
                .map_err(|err| AnalyzeError::Pass(err.to_string()))?;
            out.push('\n');
        }
        Ok((out, found))
    })?;
    output::print(&text_and_found.0)?;
    Ok(ExitStatus::finding_if(text_and_found.1))
}
