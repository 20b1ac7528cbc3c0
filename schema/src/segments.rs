//! Traces rolled into segments: a directory of complete Parquet files
//! `part-00000.parquet`, `part-00001.parquet`, … of one run, so a process
//! killed without warning loses at most the segment it was writing.

use std::fs;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;

use crate::reader::TraceError;
use crate::writer::{RunEnd, RunInfo, TraceWriter, WriterOptions};

/// The file of segment `index` in directory `dir`.
pub fn segment_path(dir: &Path, index: u32) -> PathBuf {
    dir.join(format!("part-{index:05}.parquet"))
}

/// The finished segment files in `dir`, in order (partial files excluded).
pub fn segment_files(dir: &Path) -> Result<Vec<PathBuf>, TraceError> {
    let entries = fs::read_dir(dir).map_err(|source| TraceError::Io {
        path: dir.to_path_buf(),
        action: "list the segments in",
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("part-") && n.ends_with(".parquet"))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Writes one run either to a single file or, with `segment_rows`, to a
/// directory of segments of about that many rows each.
pub struct RunWriter {
    current: TraceWriter,
    segments: Option<Segments>,
}

struct Segments {
    dir: PathBuf,
    rows: u64,
    index: u32,
    /// Rows in the segments already finished.
    rows_before: u64,
    run: RunInfo,
    options: WriterOptions,
    /// What intermediate segments record as their end (the run goes on).
    rolling_end: RunEnd,
}

impl RunWriter {
    /// Opens the output now, so an unwritable path fails before tracing.
    pub fn create(
        path: &Path,
        run: &RunInfo,
        options: &WriterOptions,
        segment_rows: Option<u64>,
        rolling_end: RunEnd,
    ) -> Result<Self, TraceError> {
        let Some(rows) = segment_rows else {
            return Ok(RunWriter {
                current: TraceWriter::create(path, run, options)?,
                segments: None,
            });
        };
        if path.is_file() {
            return Err(TraceError::Write {
                path: path.to_path_buf(),
                detail: "segments go into a directory, and this is a file; give a directory name"
                    .into(),
            });
        }
        fs::create_dir_all(path).map_err(|source| TraceError::Io {
            path: path.to_path_buf(),
            action: "create the segment directory",
            source,
        })?;
        if !segment_files(path)?.is_empty() {
            return Err(TraceError::Write {
                path: path.to_path_buf(),
                detail: "it already holds segments of another run; give an empty or new directory"
                    .into(),
            });
        }
        Ok(RunWriter {
            current: TraceWriter::create(segment_path(path, 0), run, options)?,
            segments: Some(Segments {
                dir: path.to_path_buf(),
                rows: rows.max(1),
                index: 0,
                rows_before: 0,
                run: run.clone(),
                options: options.clone(),
                rolling_end,
            }),
        })
    }

    /// The file or directory the run is written to.
    pub fn output(&self) -> PathBuf {
        match &self.segments {
            Some(segments) => segments.dir.clone(),
            None => self.current.path().to_path_buf(),
        }
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), TraceError> {
        self.current.write(batch)?;
        let Some(segments) = &mut self.segments else {
            return Ok(());
        };
        if self.current.rows() < segments.rows {
            return Ok(());
        }
        let next = TraceWriter::create(
            segment_path(&segments.dir, segments.index + 1),
            &segments.run,
            &segments.options,
        )?;
        let full = std::mem::replace(&mut self.current, next);
        let end = RunEnd {
            segment: Some((segments.index, false)),
            ..segments.rolling_end.clone()
        };
        segments.rows_before += full.finish(&end)?;
        segments.index += 1;
        Ok(())
    }

    /// Rows written in the whole run so far.
    pub fn rows(&self) -> u64 {
        self.current.rows() + self.segments.as_ref().map_or(0, |s| s.rows_before)
    }

    /// Drops a run that wrote nothing: no file (or segment directory) is left.
    pub fn discard(self) -> Result<(), TraceError> {
        let dir = self.segments.as_ref().map(|s| s.dir.clone());
        self.current.discard()?;
        if let Some(dir) = dir {
            // Only removes the directory if it is empty, as it is here.
            let _ = fs::remove_dir(dir);
        }
        Ok(())
    }

    /// Finishes the last file; returns the rows written in the whole run.
    pub fn finish(self, end: &RunEnd) -> Result<u64, TraceError> {
        let Some(segments) = &self.segments else {
            return self.current.finish(end);
        };
        let end = RunEnd {
            segment: Some((segments.index, true)),
            ..end.clone()
        };
        let before = segments.rows_before;
        Ok(before + self.current.finish(&end)?)
    }
}
