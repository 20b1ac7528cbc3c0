//! `summary`: what was traced and when, node counts per kind, the traced
//! functions and classes with their call counts, the deepest call nesting,
//! the nodes with the largest fan-in and fan-out, and anything odd.
//!
//! The counting is [`crate::summary`]; this prints it with the metadata.

use std::fmt::Write as _;

use crate::error::AnalyzeError;
use crate::output::{self, ExitStatus};
use crate::progress::ProgressMode;
use crate::session::Session;
use crate::sources::TraceSource;
use crate::summary::summarize_trace;

/// What was traced: run metadata, nodes per kind, traced calls, the
/// deepest call nesting, the largest fan-in and fan-out, and warnings.
#[derive(clap::Args)]
pub struct Args {
    /// Traces to summarize.
    #[arg(required = true)]
    traces: Vec<String>,
}

/// Summarizes the traces; a finding when one did not end cleanly.
pub fn run(args: Args, mode: ProgressMode) -> Result<ExitStatus, AnalyzeError> {
    let (text, complete) = crate::session::runtime()?.block_on(async {
        let session = Session::open(&args.traces).await?;
        let _progress = session.progress(mode, "summary");
        summarize(&session).await
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

/// The summary report, and whether every trace ended cleanly.
pub async fn summarize(session: &Session) -> Result<(String, bool), AnalyzeError> {
    let mut out = String::new();
    let mut all_complete = true;
    for source in &session.sources {
        header(&mut out, source);
        let summary = summarize_trace(session, source).await?;
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
        all_complete &= source.complete;
    }
    Ok((out, all_complete))
}
