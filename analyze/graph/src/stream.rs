//! Runs a pass over trace files without holding the trace: one light pass
//! reads only `id`, `kind`, `name` and `inputs` (how often each node is
//! read, and what a pass must know in advance), then the files stream
//! through the [`Runner`] batch by batch in row order, which the format
//! guarantees is a data order (inputs first).

use std::path::PathBuf;

use arrow_array::RecordBatch;
use hltpy_schema::{column, TraceError, TraceFile};

use crate::graph::{Decoder, GraphError};
use crate::interp::{InterpretError, Interpreter, Runner, UseCounts};

/// A failure of a pass over files: reading them, or the pass itself.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Trace(#[from] TraceError),
    #[error("{path}: {source}")]
    Graph { path: String, source: GraphError },
    #[error("{path}: {source}")]
    Interpret {
        path: String,
        source: InterpretError,
    },
}

/// The files of one trace (one file, or the segments of one run, in order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceFiles {
    pub name: String,
    pub files: Vec<PathBuf>,
}

impl TraceFiles {
    fn batches(
        &self,
        columns: Option<&[&str]>,
        mut visit: impl FnMut(&RecordBatch) -> Result<(), RunError>,
    ) -> Result<(), RunError> {
        for path in &self.files {
            let trace = TraceFile::open_lenient(path)?;
            for batch in trace.columns(columns)? {
                visit(&batch?)?;
            }
        }
        Ok(())
    }

    /// The CPython version that recorded the trace (its first file's
    /// metadata); the newest hltpy knows when it does not say.
    pub fn python_version(&self) -> Result<crate::pymath::PythonVersion, RunError> {
        let Some(first) = self.files.first() else {
            return Ok(Default::default());
        };
        let trace = TraceFile::open_lenient(first)?;
        Ok(crate::pymath::PythonVersion::parse(
            &trace.metadata().python_version,
        ))
    }

    /// The light pass: how often each node is read. Only the inputs'
    /// `src` ids are decoded.
    pub fn count_uses(&self) -> Result<UseCounts, RunError> {
        let mut uses = UseCounts::default();
        self.batches(Some(&[column::INPUTS]), |batch| {
            let srcs =
                crate::graph::input_sources(batch).map_err(|source| self.graph_error(source))?;
            for src in srcs.values() {
                uses.add(*src);
            }
            Ok(())
        })?;
        Ok(uses)
    }

    /// The light pass when a pass must also know nodes ahead (which
    /// parameters a what-if names): every node's id, kind, name and inputs.
    pub fn scan(&self, mut visit: impl FnMut(&crate::graph::Node)) -> Result<UseCounts, RunError> {
        let mut uses = UseCounts::default();
        let mut decoder = Decoder::default();
        let columns = [column::ID, column::KIND, column::NAME, column::INPUTS];
        self.batches(Some(&columns), |batch| {
            let nodes = decoder
                .decode(batch)
                .map_err(|source| self.graph_error(source))?;
            for node in &nodes {
                for input in &node.inputs {
                    uses.add(input.src);
                }
                visit(node);
            }
            Ok(())
        })?;
        Ok(uses)
    }

    /// Every node with all its columns, in row order, one batch decoded
    /// at a time.
    pub fn each_node(&self, mut visit: impl FnMut(&crate::graph::Node)) -> Result<(), RunError> {
        let mut decoder = Decoder::default();
        self.batches(None, |batch| {
            let nodes = decoder
                .decode(batch)
                .map_err(|source| self.graph_error(source))?;
            nodes.iter().for_each(&mut visit);
            Ok(())
        })
    }

    /// The whole trace as a [`Graph`](crate::Graph), in row order (a data
    /// order: what a pass that walks rows, as `compile` does, needs; a
    /// query engine's parallel scan gives batches in any order).
    pub fn graph(&self) -> Result<crate::Graph, RunError> {
        let mut graph = crate::Graph::default();
        let mut decoder = Decoder::default();
        self.batches(None, |batch| {
            let nodes = decoder
                .decode(batch)
                .map_err(|source| self.graph_error(source))?;
            for node in nodes {
                graph
                    .insert(node)
                    .map_err(|source| self.graph_error(source))?;
            }
            Ok(())
        })?;
        Ok(graph)
    }

    /// Streams every node through `interpreter` in row order; gives the
    /// most values that were held at once. A second thread reads and
    /// decompresses the next batches while this one evaluates (a pass's
    /// values are not shared across threads; record batches are).
    pub fn run<I: Interpreter>(
        &self,
        uses: UseCounts,
        interpreter: &mut I,
    ) -> Result<usize, RunError> {
        let files = self.files.clone();
        let (sender, receiver) =
            std::sync::mpsc::sync_channel::<Result<RecordBatch, TraceError>>(2);
        let reader = std::thread::spawn(move || {
            for path in &files {
                let batches = TraceFile::open_lenient(path).and_then(|trace| trace.columns(None));
                let batches = match batches {
                    Ok(batches) => batches,
                    Err(err) => {
                        let _ = sender.send(Err(err));
                        return;
                    }
                };
                for batch in batches {
                    // A closed channel: the pass stopped early (an error).
                    if sender.send(batch).is_err() {
                        return;
                    }
                }
            }
        });
        let mut runner = Runner::new(interpreter, uses);
        let mut decoder = Decoder::default();
        let mut evaluate = || -> Result<(), RunError> {
            for batch in &receiver {
                let nodes = decoder
                    .decode(&batch?)
                    .map_err(|source| self.graph_error(source))?;
                for node in &nodes {
                    runner
                        .feed(node, true)
                        .map_err(|source| RunError::Interpret {
                            path: self.name.clone(),
                            source,
                        })?;
                }
            }
            Ok(())
        };
        let outcome = evaluate();
        drop(receiver);
        if let Err(panic) = reader.join() {
            std::panic::resume_unwind(panic);
        }
        outcome?;
        Ok(runner.peak_live)
    }

    fn graph_error(&self, source: GraphError) -> RunError {
        RunError::Graph {
            path: self.name.clone(),
            source,
        }
    }
}
