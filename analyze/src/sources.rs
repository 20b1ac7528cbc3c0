//! Trace sources: the user's arguments (files, segment directories,
//! directories of traces, globs) resolved into traces, each validated by
//! the schema crate's reader before anything reads its rows.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use hltpy_graph::TraceFiles;
use hltpy_schema::{segment_files, TraceError, TraceFile, TraceMetadata};

use crate::error::AnalyzeError;

/// One trace: a file, or the segment files of one run.
#[derive(Debug, Clone)]
pub struct TraceSource {
    /// The value of the `trace` column: the path as the user gave it.
    pub name: String,
    pub path: PathBuf,
    pub files: Vec<PathBuf>,
    pub metadata: TraceMetadata,
    pub rows: u64,
    /// Did the run end cleanly (for segments: is the last one there)?
    pub complete: bool,
    pub extra_columns: Vec<String>,
}

impl TraceSource {
    /// The files as the streaming passes read them.
    pub fn trace_files(&self) -> TraceFiles {
        TraceFiles {
            name: self.name.clone(),
            files: self.files.clone(),
        }
    }

    /// The refusal of a node id the trace does not hold.
    pub fn missing_node(&self, id: u64) -> AnalyzeError {
        AnalyzeError::Usage(format!(
            "node {id} is not in {}; its ids run from 0 to {}",
            self.name,
            self.rows.saturating_sub(1)
        ))
    }

    /// What is odd about this trace, one line each, for reports.
    pub fn warnings(&self) -> Vec<String> {
        let mut odd = Vec::new();
        if !self.complete {
            odd.push(format!(
                "not closed cleanly: {}",
                self.metadata
                    .end_reason
                    .as_deref()
                    .unwrap_or("no reason recorded")
            ));
        }
        if !self.extra_columns.is_empty() {
            odd.push(format!(
                "columns from a newer format: {}",
                self.extra_columns.join(", ")
            ));
        }
        if self.rows == 0 {
            odd.push("the trace is empty".into());
        }
        odd
    }
}

/// Expands the user's arguments into traces, validating every file.
pub fn resolve(inputs: &[String]) -> Result<Vec<TraceSource>, AnalyzeError> {
    let mut sources = Vec::new();
    for input in inputs {
        let paths = if input.contains(['*', '?', '[']) {
            let matches: Vec<PathBuf> = glob::glob(input)
                .map_err(|err| AnalyzeError::Usage(format!("bad glob pattern {input:?}: {err}")))?
                .filter_map(Result::ok)
                .collect();
            if matches.is_empty() {
                return Err(AnalyzeError::Usage(format!("no file matches {input:?}")));
            }
            matches
        } else {
            vec![PathBuf::from(input)]
        };
        for path in paths {
            sources.extend(open_path(&path)?);
        }
    }
    if sources.is_empty() {
        return Err(AnalyzeError::Usage("no trace given".into()));
    }
    Ok(sources)
}

fn open_path(path: &Path) -> Result<Vec<TraceSource>, AnalyzeError> {
    if !path.is_dir() {
        return Ok(vec![open_file(path)?]);
    }
    let segments = segment_files(path)?;
    if !segments.is_empty() {
        return Ok(vec![open_segments(path, segments)?]);
    }
    // A directory of traces: every finished .parquet file in it.
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|source| TraceError::Io {
            path: path.to_path_buf(),
            action: "list",
            source,
        })?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|e| e == "parquet") || p.join("part-00000.parquet").exists()
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(AnalyzeError::Usage(format!(
            "{} is a directory with no trace in it (no .parquet file, no segments of a run)",
            path.display()
        )));
    }
    files
        .iter()
        .map(|f| open_path(f))
        .collect::<Result<Vec<_>, _>>()
        .map(|v| v.concat())
}

fn open_file(path: &Path) -> Result<TraceSource, AnalyzeError> {
    let trace = TraceFile::open_lenient(path)?;
    Ok(TraceSource {
        name: path.display().to_string(),
        path: path.to_path_buf(),
        files: vec![path.to_path_buf()],
        metadata: trace.metadata().clone(),
        rows: trace.rows(),
        complete: trace.metadata().closed_cleanly,
        extra_columns: trace.extra_columns().to_vec(),
    })
}

fn open_segments(dir: &Path, files: Vec<PathBuf>) -> Result<TraceSource, AnalyzeError> {
    let mut rows = 0;
    let mut last = None;
    let mut extra_columns = Vec::new();
    for (expected, file) in files.iter().enumerate() {
        let trace = TraceFile::open(file)?;
        let index = trace.metadata().segment.map(|(index, _)| index as usize);
        if index != Some(expected) {
            return Err(AnalyzeError::Input(TraceError::NotATrace {
                path: file.clone(),
                reason: format!(
                    "expected segment {expected} of the run in {}, found {index:?}",
                    dir.display()
                ),
            }));
        }
        rows += trace.rows();
        extra_columns.extend(trace.extra_columns().iter().cloned());
        last = Some(trace);
    }
    let last = last.expect("segment_files found at least one");
    let mut metadata = last.metadata().clone();
    let ended = metadata.segment.is_some_and(|(_, is_last)| is_last);
    if !ended {
        metadata.closed_cleanly = false;
        metadata.end_reason =
            Some("the run's last segment is missing: the process ended before finishing it".into());
    }
    metadata.node_count = Some(rows);
    Ok(TraceSource {
        name: dir.display().to_string(),
        path: dir.to_path_buf(),
        files,
        complete: ended && metadata.closed_cleanly,
        metadata,
        rows,
        extra_columns,
    })
}

/// The one trace an argument names (a file or the segments of one run).
pub fn one_trace(input: &str) -> Result<TraceSource, AnalyzeError> {
    let mut sources = resolve(&[input.to_string()])?;
    if sources.len() != 1 {
        return Err(AnalyzeError::Usage(format!(
            "{input} holds {} traces; name one trace (a file or the segments of one run)",
            sources.len()
        )));
    }
    Ok(sources.remove(0))
}

/// Every trace's files, as the streaming passes read them.
pub fn trace_files(sources: &[TraceSource]) -> Vec<TraceFiles> {
    sources.iter().map(TraceSource::trace_files).collect()
}

/// The modules the traces' runs traced (to tell a module from a class in
/// `pkg.mod.Class`).
pub fn traced_modules(sources: &[TraceSource]) -> Vec<String> {
    let modules: BTreeSet<String> = sources
        .iter()
        .flat_map(|s| s.metadata.traced_modules.iter().cloned())
        .collect();
    modules.into_iter().collect()
}
