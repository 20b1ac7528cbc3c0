//! `check`: validate traces and count their nodes per kind, reading every
//! row (so a damaged page is found, not only a damaged footer).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use arrow_array::cast::AsArray;
use arrow_schema::DataType;
use hltpy_schema::{TraceError, TraceFile};

/// What `check` found in one file.
#[derive(Debug)]
pub struct Report {
    pub path: PathBuf,
    pub rows: u64,
    pub kinds: BTreeMap<String, u64>,
    pub closed_cleanly: bool,
    pub end_reason: Option<String>,
    pub traced_modules: Vec<String>,
    pub extra_columns: Vec<String>,
}

/// Reads a whole trace. A file that was not closed cleanly is reported, not
/// refused: `check` is how a user finds out what such a file holds.
pub fn check(path: &PathBuf) -> Result<Report, TraceError> {
    let trace = TraceFile::open_lenient(path)?;
    let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
    for batch in trace.batches()? {
        let batch = batch?;
        let column = batch
            .column_by_name(hltpy_schema::column::KIND)
            .expect("validated by the reader");
        // Kinds are dictionary-encoded by hltpy, plain strings from other
        // writers: the cast reads both.
        let column =
            arrow_cast::cast(column, &DataType::Utf8).map_err(|err| TraceError::Corrupt {
                path: path.clone(),
                detail: err.to_string(),
            })?;
        for kind in column.as_string::<i32>().iter().flatten() {
            *kinds.entry(kind.to_string()).or_default() += 1;
        }
    }
    let metadata = trace.metadata();
    Ok(Report {
        path: path.clone(),
        rows: trace.rows(),
        kinds,
        closed_cleanly: metadata.closed_cleanly,
        end_reason: metadata.end_reason.clone(),
        traced_modules: metadata.traced_modules.clone(),
        extra_columns: trace.extra_columns().to_vec(),
    })
}

impl Report {
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}: {} nodes", self.path.display(), self.rows);
        if !self.traced_modules.is_empty() {
            let _ = writeln!(out, "  traced modules: {}", self.traced_modules.join(", "));
        }
        let kinds: Vec<String> = self.kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let _ = writeln!(out, "  kinds: {}", kinds.join(", "));
        if !self.closed_cleanly {
            let _ = writeln!(
                out,
                "  warning: not closed cleanly ({})",
                self.end_reason.as_deref().unwrap_or("no reason recorded")
            );
        }
        if !self.extra_columns.is_empty() {
            let _ = writeln!(
                out,
                "  note: columns from a newer format: {}",
                self.extra_columns.join(", ")
            );
        }
        out
    }
}
