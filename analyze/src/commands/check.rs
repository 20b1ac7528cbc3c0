//! `check`: validate traces and count their nodes per kind, reading every
//! row (so a damaged page is found, not only a damaged footer).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use arrow_array::cast::AsArray;
use arrow_schema::DataType;
use hltpy_schema::{TraceError, TraceFile};

use crate::error::AnalyzeError;
use crate::output::{self, ExitStatus};
use crate::progress::{Progress, ProgressMode, Unit};
use crate::sources::{self, TraceSource};

/// Validate traces and count their nodes per kind.
#[derive(clap::Args)]
pub struct Args {
    /// Traces to check.
    #[arg(required = true)]
    traces: Vec<String>,
}

/// Checks every trace; a finding when one did not end cleanly.
pub fn run(args: Args, mode: ProgressMode) -> Result<ExitStatus, AnalyzeError> {
    let mut all_complete = true;
    for source in sources::resolve(&args.traces)? {
        let progress = Progress::start(
            mode,
            format!("checking {}", source.name),
            Unit::Rows,
            source.rows,
            Default::default(),
        );
        let report = check(source, &progress)?;
        drop(progress);
        output::print(&report.render())?;
        all_complete &= report.source.complete;
    }
    Ok(ExitStatus::finding_if(!all_complete))
}

/// What `check` found in one trace (a file, or a directory of segments).
#[derive(Debug)]
pub struct Report {
    pub source: TraceSource,
    pub kinds: BTreeMap<String, u64>,
}

/// Reads every row of a trace. A trace that did not end cleanly is
/// reported, not refused: `check` is how a user finds out what it holds.
pub fn check(source: TraceSource, progress: &Progress) -> Result<Report, TraceError> {
    let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
    for file in &source.files {
        let trace = TraceFile::open_lenient(file)?;
        for batch in trace.batches()? {
            let batch = batch?;
            progress.add(batch.num_rows() as u64);
            let column = batch
                .column_by_name(hltpy_schema::column::KIND)
                .expect("validated by the reader");
            // Kinds are dictionary-encoded by hltpy, plain strings from other
            // writers: the cast reads both.
            let column =
                arrow_cast::cast(column, &DataType::Utf8).map_err(|err| TraceError::Corrupt {
                    path: file.clone(),
                    detail: err.to_string(),
                })?;
            for kind in column.as_string::<i32>().iter().flatten() {
                *kinds.entry(kind.to_string()).or_default() += 1;
            }
        }
    }
    Ok(Report { source, kinds })
}

impl Report {
    pub fn render(&self) -> String {
        let source = &self.source;
        let mut out = String::new();
        if source.files.len() > 1 || source.metadata.segment.is_some() {
            let count = source.files.len();
            let plural = if count == 1 { "" } else { "s" };
            let _ = writeln!(
                out,
                "{}: {} nodes in {count} segment{plural}",
                source.name, source.rows
            );
        } else {
            let _ = writeln!(out, "{}: {} nodes", source.name, source.rows);
        }
        if !source.metadata.traced_modules.is_empty() {
            let _ = writeln!(
                out,
                "  traced modules: {}",
                source.metadata.traced_modules.join(", ")
            );
        }
        let kinds: Vec<String> = self.kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let _ = writeln!(out, "  kinds: {}", kinds.join(", "));
        for line in source.warnings() {
            let _ = writeln!(out, "  warning: {line}");
        }
        out
    }
}
