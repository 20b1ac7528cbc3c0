//! `summary`: what was traced and when, node counts per kind, the traced
//! functions and classes with their call counts, the deepest call nesting,
//! the nodes with the largest fan-in and fan-out, and anything odd.
//!
//! The counting is [`crate::summary`]; this prints it with the metadata,
//! as text or (`--format json`) as one object per trace for programs.

use std::fmt::Write as _;

use serde_json::{json, Value as Json};

use crate::error::AnalyzeError;
use crate::output::{self, ExitStatus};
use crate::progress::ProgressMode;
use crate::session::Session;
use crate::sources::TraceSource;
use crate::summary::{summarize_trace, TraceSummary};

/// What was traced: run metadata, nodes per kind, traced calls, the
/// deepest call nesting, the largest fan-in and fan-out, and warnings.
#[derive(clap::Args)]
pub struct Args {
    /// Traces to summarize.
    #[arg(required = true)]
    traces: Vec<String>,
    /// Output format: text for people, JSON (an array, one object per
    /// trace) for programs.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Summarizes the traces; a finding when one did not end cleanly.
pub fn run(args: Args, mode: ProgressMode) -> Result<ExitStatus, AnalyzeError> {
    let (text, complete) = crate::session::runtime()?.block_on(async {
        let session = Session::open(&args.traces).await?;
        let _progress = session.progress(mode, "summary");
        summarize(&session, args.format).await
    })?;
    output::print(&text)?;
    Ok(ExitStatus::finding_if(!complete))
}

/// Items separated by commas, or "none".
fn listing(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

fn header(out: &mut String, source: &TraceSource) {
    let meta = &source.metadata;
    let _ = writeln!(out, "trace {}", source.name);
    let segments = if source.files.len() > 1 {
        format!(" in {} segments", source.files.len())
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "  {} nodes{segments}, format {}, hltpy {}, Python {}",
        source.rows, meta.format_version, meta.hltpy_version, meta.python_version
    );
    let _ = writeln!(out, "  run: {}", meta.argv.join(" "));
    let _ = writeln!(
        out,
        "  from {} to {} ({})",
        meta.start_time,
        meta.end_time.as_deref().unwrap_or("?"),
        meta.end_reason.as_deref().unwrap_or("no end reason")
    );
    if !meta.traced_modules.is_empty() {
        let _ = writeln!(out, "  traced modules: {}", meta.traced_modules.join(", "));
    }
}

/// The summary report in `format`, and whether every trace ended cleanly.
pub async fn summarize(session: &Session, format: Format) -> Result<(String, bool), AnalyzeError> {
    let mut out = String::new();
    let mut documents = Vec::new();
    let mut all_complete = true;
    for source in &session.sources {
        let summary = summarize_trace(session, source).await?;
        match format {
            Format::Text => write_text(&mut out, source, &summary),
            Format::Json => documents.push(as_json(source, &summary)),
        }
        all_complete &= source.complete;
    }
    if format == Format::Json {
        out = serde_json::to_string_pretty(&Json::Array(documents))
            .map_err(|err| AnalyzeError::Pass(err.to_string()))?;
        out.push('\n');
    }
    Ok((out, all_complete))
}

fn write_text(out: &mut String, source: &TraceSource, summary: &TraceSummary) {
    header(out, source);
    let kinds: Vec<String> = summary
        .kinds
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    let _ = writeln!(out, "  kinds: {}", listing(&kinds));
    if !summary.calls.is_empty() {
        let _ = writeln!(out, "  traced calls (kind, name, count):");
        for (kind, name, count) in summary.calls.iter().take(15) {
            let _ = writeln!(out, "    {kind:<10} {name:<30} {count}");
        }
    }
    let _ = writeln!(out, "  deepest call nesting: {}", summary.deepest_nesting);
    let _ = writeln!(out, "  largest fan-in: {}", listing(&summary.fan_in));
    let _ = writeln!(out, "  largest fan-out: {}", listing(&summary.fan_out));
    for line in source.warnings() {
        let _ = writeln!(out, "  warning: {line}");
    }
}

/// One trace's summary for programs: the text's facts, every traced call
/// (not only the first 15) and the metadata as recorded.
fn as_json(source: &TraceSource, summary: &TraceSummary) -> Json {
    let meta = &source.metadata;
    json!({
        "trace": source.name,
        "nodes": source.rows,
        "segments": source.files.len(),
        "complete": source.complete,
        "format_version": meta.format_version,
        "hltpy_version": meta.hltpy_version,
        "python_version": meta.python_version,
        "argv": meta.argv,
        "traced_modules": meta.traced_modules,
        "start_time": meta.start_time,
        "end_time": meta.end_time,
        "end_reason": meta.end_reason,
        "kinds": summary.kinds.iter().map(|(kind, count)| json!({"kind": kind, "count": count})).collect::<Vec<_>>(),
        "calls": summary.calls.iter().map(|(kind, name, count)| json!({"kind": kind, "name": name, "count": count})).collect::<Vec<_>>(),
        "deepest_nesting": summary.deepest_nesting,
        "largest_fan_in": summary.fan_in,
        "largest_fan_out": summary.fan_out,
        "warnings": source.warnings(),
    })
}
