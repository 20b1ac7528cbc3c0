//! `check`: validate traces and count their nodes per kind, reading every
//! row (so a damaged page is found, not only a damaged footer).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_schema::DataType;
use hltpy_schema::{segment_files, TraceError, TraceFile};

/// What `check` found in one trace (a file, or a directory of segments).
#[derive(Debug)]
pub struct Report {
    pub path: PathBuf,
    pub rows: u64,
    /// Segment files read, for a directory of segments.
    pub segments: Option<usize>,
    pub kinds: BTreeMap<String, u64>,
    pub closed_cleanly: bool,
    pub end_reason: Option<String>,
    pub traced_modules: Vec<String>,
    pub extra_columns: Vec<String>,
}

/// Reads a whole trace: a file, or a directory of segments read as one
/// trace. A trace that did not end cleanly is reported, not refused:
/// `check` is how a user finds out what such a trace holds.
pub fn check(path: &PathBuf) -> Result<Report, TraceError> {
    if path.is_dir() {
        return check_segments(path);
    }
    let trace = TraceFile::open_lenient(path)?;
    let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
    count_kinds(&trace, &mut kinds)?;
    let metadata = trace.metadata();
    Ok(Report {
        path: path.clone(),
        rows: trace.rows(),
        segments: None,
        kinds,
        closed_cleanly: metadata.closed_cleanly,
        end_reason: metadata.end_reason.clone(),
        traced_modules: metadata.traced_modules.clone(),
        extra_columns: trace.extra_columns().to_vec(),
    })
}

/// The segments of one run, in order: each must be a complete trace file,
/// numbered without gaps; the run ended cleanly if the last says so.
fn check_segments(dir: &Path) -> Result<Report, TraceError> {
    let files = segment_files(dir)?;
    if files.is_empty() {
        return Err(TraceError::NotATrace {
            path: dir.to_path_buf(),
            reason: "it is a directory without segment files (part-NNNNN.parquet)".into(),
        });
    }
    let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
    let mut rows = 0;
    let mut last = None;
    let mut extra_columns = Vec::new();
    for (expected, file) in files.iter().enumerate() {
        let trace = TraceFile::open(file)?;
        let index = trace.metadata().segment.map(|(index, _)| index as usize);
        if index != Some(expected) {
            return Err(TraceError::NotATrace {
                path: file.clone(),
                reason: format!(
                    "expected segment {expected} of the run in {}, found {index:?}",
                    dir.display()
                ),
            });
        }
        count_kinds(&trace, &mut kinds)?;
        rows += trace.rows();
        extra_columns.extend(trace.extra_columns().iter().cloned());
        last = Some(trace);
    }
    let last = last.expect("at least one segment");
    let metadata = last.metadata();
    let ended = metadata.segment.is_some_and(|(_, is_last)| is_last);
    Ok(Report {
        path: dir.to_path_buf(),
        rows,
        segments: Some(files.len()),
        kinds,
        closed_cleanly: ended && metadata.closed_cleanly,
        end_reason: if ended {
            metadata.end_reason.clone()
        } else {
            Some("the run's last segment is missing: the process ended before finishing it".into())
        },
        traced_modules: metadata.traced_modules.clone(),
        extra_columns,
    })
}

fn count_kinds(trace: &TraceFile, kinds: &mut BTreeMap<String, u64>) -> Result<(), TraceError> {
    let path = trace.path().to_path_buf();
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
    Ok(())
}

impl Report {
    pub fn render(&self) -> String {
        let mut out = String::new();
        match self.segments {
            Some(count) => {
                let _ = writeln!(
                    out,
                    "{}: {} nodes in {count} segments",
                    self.path.display(),
                    self.rows
                );
            }
            None => {
                let _ = writeln!(out, "{}: {} nodes", self.path.display(), self.rows);
            }
        }
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
