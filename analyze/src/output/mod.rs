//! What commands print through: the exit status, standard output that a
//! closed pipe (`hltpy-analyze … | head`) ends quietly, and ([`results`])
//! query results as a table, CSV, JSON, NDJSON or Parquet.

pub mod results;

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::AnalyzeError;

/// How a run ended, as ruff and ripgrep report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: the work was done and found nothing wrong.
    Success,
    /// 1: the work was done and found something: a trace that did not end
    /// cleanly, a value that re-evaluates differently.
    Finding,
    /// 2: the work could not be done: bad usage, bad input, an internal error.
    Error,
}

impl ExitStatus {
    pub fn finding_if(found: bool) -> ExitStatus {
        if found {
            ExitStatus::Finding
        } else {
            ExitStatus::Success
        }
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> ExitCode {
        ExitCode::from(match status {
            ExitStatus::Success => 0,
            ExitStatus::Finding => 1,
            ExitStatus::Error => 2,
        })
    }
}

/// Set once a write to standard output found the reader gone.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Standard output where a closed pipe is not an error: once the reader is
/// gone, the rest of the output is dropped and the run ends as it would
/// have (`… | head` exits 0, with nothing on stderr).
pub struct Stdout;

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if STDOUT_CLOSED.load(Ordering::Relaxed) {
            return Ok(buf.len());
        }
        match std::io::stdout().lock().write(buf) {
            Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => {
                STDOUT_CLOSED.store(true, Ordering::Relaxed);
                Ok(buf.len())
            }
            other => other,
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match std::io::stdout().lock().flush() {
            Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => {
                STDOUT_CLOSED.store(true, Ordering::Relaxed);
                Ok(())
            }
            other => other,
        }
    }
}

/// Prints `text` to standard output.
pub fn print(text: &str) -> Result<(), AnalyzeError> {
    let mut out = Stdout;
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|err| AnalyzeError::Output {
            path: "standard output".into(),
            detail: err.to_string(),
        })
}
