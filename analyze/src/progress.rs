//! A progress line on stderr for long reads: how much of the traces has
//! been read and for how long. Shown only on a terminal (or when asked
//! with `--progress always`) and only once the work has taken longer than
//! a moment, so pipes and quick commands stay silent. `--progress json`
//! writes the same facts as JSON lines for a program that shows progress
//! its own way (the Python API's notebook bar).
//!
//! DataFusion reads the files through [`CountingStore`], the local file
//! system with a byte counter, so the line reports real reads.

use std::fmt;
use std::io::{IsTerminal, Write};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use datafusion::object_store::local::LocalFileSystem;
use datafusion::object_store::path::Path;
use datafusion::object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};
use futures::stream::BoxStream;

/// When the progress line is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressMode {
    /// On a terminal, for reads longer than half a second.
    Auto,
    /// Always, from the start (for logs).
    Always,
    Never,
    /// One JSON object per line, from the start and every tenth of a
    /// second, the last with `"finished": true` (for programs).
    Json,
}

/// What the counter counts.
#[derive(Clone, Copy, Debug)]
pub enum Unit {
    Bytes,
    Rows,
}

struct Shared {
    json: bool,
    label: String,
    unit: Unit,
    total: u64,
    done: Arc<AtomicU64>,
    start: Instant,
    /// Has a line been drawn (so it must be erased at the end)?
    shown: AtomicBool,
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl Shared {
    fn draw(&self) {
        let mut err = std::io::stderr().lock();
        if self.json {
            let _ = writeln!(err, "{}", self.json_line(false));
        } else {
            let line = render(self, self.start.elapsed());
            let _ = write!(err, "\r\x1b[K{line}");
        }
        let _ = err.flush();
        self.shown.store(true, Ordering::Relaxed);
    }

    fn json_line(&self, finished: bool) -> serde_json::Value {
        let unit = match self.unit {
            Unit::Bytes => "bytes",
            Unit::Rows => "nodes",
        };
        serde_json::json!({
            "progress": self.label,
            "unit": unit,
            "done": self.done.load(Ordering::Relaxed),
            "total": self.total,
            "seconds": self.start.elapsed().as_secs_f64(),
            "finished": finished,
        })
    }
}

/// A running progress line; cleared when finished or dropped.
pub struct Progress {
    shared: Arc<Shared>,
    ticker: Option<JoinHandle<()>>,
}

impl Progress {
    /// Starts reporting `done` (out of `total`) under `label`.
    pub fn start(
        mode: ProgressMode,
        label: impl Into<String>,
        unit: Unit,
        total: u64,
        done: Arc<AtomicU64>,
    ) -> Progress {
        let shared = Arc::new(Shared {
            json: mode == ProgressMode::Json,
            label: label.into(),
            unit,
            total,
            done,
            start: Instant::now(),
            shown: AtomicBool::new(false),
            stopped: Mutex::new(false),
            wake: Condvar::new(),
        });
        let delay = match mode {
            ProgressMode::Never => None,
            ProgressMode::Auto if !std::io::stderr().is_terminal() => None,
            ProgressMode::Auto => Some(Duration::from_millis(500)),
            ProgressMode::Always | ProgressMode::Json => Some(Duration::ZERO),
        };
        if matches!(mode, ProgressMode::Always | ProgressMode::Json) {
            // Drawn at once, so even an instant command shows one line.
            shared.draw();
        }
        let ticker = delay.map(|delay| {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || tick(&shared, delay))
        });
        Progress { shared, ticker }
    }

    /// Counts `n` more units done.
    pub fn add(&self, n: u64) {
        self.shared.done.fetch_add(n, Ordering::Relaxed);
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Ok(mut stopped) = self.shared.stopped.lock() {
            *stopped = true;
        }
        self.shared.wake.notify_all();
        if let Some(ticker) = self.ticker.take() {
            let _ = ticker.join();
        }
        let mut err = std::io::stderr().lock();
        if self.shared.json {
            let _ = writeln!(err, "{}", self.shared.json_line(true));
        } else if self.shared.shown.load(Ordering::Relaxed) {
            let _ = write!(err, "\r\x1b[K");
        }
        let _ = err.flush();
    }
}

/// Redraws the line every tenth of a second, after `delay`, until stopped.
fn tick(shared: &Shared, delay: Duration) {
    let Ok(mut stopped) = shared.stopped.lock() else {
        return;
    };
    let mut wait = delay.max(Duration::from_millis(100));
    while !*stopped {
        stopped = match shared.wake.wait_timeout(stopped, wait) {
            Ok((guard, _)) => guard,
            Err(_) => return,
        };
        if !*stopped {
            shared.draw();
        }
        wait = Duration::from_millis(100);
    }
}

fn render(shared: &Shared, elapsed: Duration) -> String {
    let done = shared.done.load(Ordering::Relaxed);
    let amount = match shared.unit {
        // A query reads only the columns it needs, so bytes are shown
        // against the files' size without pretending to a percentage.
        Unit::Bytes => format!("read {} of {}", Size(done), Size(shared.total)),
        Unit::Rows => {
            let percent = (done.min(shared.total) * 100)
                .checked_div(shared.total)
                .unwrap_or(100);
            format!("{percent:>3}% ({done} of {} nodes)", shared.total)
        }
    };
    format!("{}: {amount}, {:.1} s", shared.label, elapsed.as_secs_f64())
}

/// A byte count for people: 1.2 GiB.
struct Size(u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
        let mut value = self.0 as f64;
        let mut unit = 0;
        while value >= 1024.0 && unit < UNITS.len() - 1 {
            value /= 1024.0;
            unit += 1;
        }
        if unit == 0 {
            write!(f, "{} B", self.0)
        } else {
            write!(f, "{value:.1} {}", UNITS[unit])
        }
    }
}

/// The local file system, counting the bytes handed to the query engine.
#[derive(Debug)]
pub struct CountingStore {
    inner: LocalFileSystem,
    read: Arc<AtomicU64>,
}

impl CountingStore {
    pub fn new(read: Arc<AtomicU64>) -> CountingStore {
        CountingStore {
            inner: LocalFileSystem::new(),
            read,
        }
    }
}

impl fmt::Display for CountingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Counting({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for CountingStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let result = self.inner.get_opts(location, options).await?;
        self.read
            .fetch_add(result.range.end - result.range.start, Ordering::Relaxed);
        Ok(result)
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let parts = self.inner.get_ranges(location, ranges).await?;
        let bytes: usize = parts.iter().map(Bytes::len).sum();
        self.read.fetch_add(bytes as u64, Ordering::Relaxed);
        Ok(parts)
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_lines_read_well() {
        assert_eq!(Size(512).to_string(), "512 B");
        assert_eq!(Size(3 * 1024 * 1024 / 2).to_string(), "1.5 MiB");
        let shared = Shared {
            json: false,
            label: "summary".into(),
            unit: Unit::Rows,
            total: 200,
            done: Arc::new(AtomicU64::new(50)),
            start: Instant::now(),
            shown: AtomicBool::new(false),
            stopped: Mutex::new(false),
            wake: Condvar::new(),
        };
        assert_eq!(
            render(&shared, Duration::from_millis(1500)),
            "summary:  25% (50 of 200 nodes), 1.5 s"
        );
        let line = shared.json_line(true);
        assert_eq!(line["progress"], "summary");
        assert_eq!(
            (line["done"].as_u64(), line["total"].as_u64()),
            (Some(50), Some(200))
        );
        assert_eq!(
            (line["unit"].as_str(), line["finished"].as_bool()),
            (Some("nodes"), Some(true))
        );
    }
}
