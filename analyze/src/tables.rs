//! The catalog of every table a query can name: the trace's own tables
//! and views, and one table per pass. It gives the table list of
//! `query --help` and the list shown after a SQL mistake; the session
//! registers each one (a pass's table lazily: its pass runs only when a
//! query reads it). A new pass adds its row here and its provider below.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, StringBuilder, UInt64Builder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::Session as CatalogSession;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use hltpy_graph::eval::{evaluate, recorded_text, NodeOutcome};
use hltpy_graph::TraceFiles;

use crate::session::TraceSource;

/// One table a query can name.
pub struct TableDoc {
    pub name: &'static str,
    /// What a row is, one line.
    pub doc: &'static str,
}

/// Every table, in the order `query --help` lists them.
pub const CATALOG: &[TableDoc] = &[
    TableDoc {
        name: "nodes",
        doc: "one row per node: the columns of schema/FORMAT.md plus `trace`",
    },
    TableDoc {
        name: "edges",
        doc: "one row per input: trace, src, role, key, dst",
    },
    TableDoc {
        name: "calls",
        doc: "traced calls with the ids of their callable and returned node",
    },
    TableDoc {
        name: "values",
        doc: "a node's value as one printable column",
    },
    TableDoc {
        name: "traces",
        doc: "run metadata, one row per trace",
    },
    TableDoc {
        name: "constraints",
        doc: "upstream constraints (HasInit, HasAttr, HasCallableMethod, IsCallableFunction, HasItem, Arg2Content): trace, kind, from_id and to_id with kind, name, type, file, line of both ends",
    },
    TableDoc {
        name: "eval",
        doc: "re-evaluation of every node: trace, id, kind, status (input/matched/differed/opaque), recorded, recomputed, reason (computed when named)",
    },
];

/// The table list for `query --help`.
pub fn help() -> String {
    let mut text = String::from("Tables:\n");
    for table in CATALOG {
        text.push_str(&format!("  {:<8} {}\n", table.name, table.doc));
    }
    text
}

/// The `eval` table: computed on first use, then kept for the session.
#[derive(Debug)]
pub struct EvalTable {
    sources: Vec<(String, Vec<std::path::PathBuf>)>,
    computed: Mutex<Option<RecordBatch>>,
}

impl EvalTable {
    pub fn new(sources: &[TraceSource]) -> EvalTable {
        EvalTable {
            sources: sources
                .iter()
                .map(|s| (s.name.clone(), s.files.clone()))
                .collect(),
            computed: Mutex::new(None),
        }
    }

    fn batch(&self) -> Result<RecordBatch> {
        let mut computed = self
            .computed
            .lock()
            .map_err(|_| DataFusionError::Internal("the eval table's lock was poisoned".into()))?;
        if let Some(batch) = &*computed {
            return Ok(batch.clone());
        }
        let mut trace = StringBuilder::new();
        let mut id = UInt64Builder::new();
        let mut kind = StringBuilder::new();
        let mut status = StringBuilder::new();
        let mut recorded = StringBuilder::new();
        let mut recomputed = StringBuilder::new();
        let mut reason = StringBuilder::new();
        for (name, files) in &self.sources {
            let files = TraceFiles {
                name: name.clone(),
                files: files.clone(),
            };
            evaluate(&files, &[], None, |outcome: &NodeOutcome| {
                trace.append_value(name);
                id.append_value(outcome.node.id);
                kind.append_value(outcome.node.kind.as_str());
                status.append_value(outcome.status.as_str());
                recorded.append_value(recorded_text(&outcome.node.recorded));
                recomputed.append_value(outcome.value.bounded_repr(200));
                reason.append_option(outcome.reason);
            })
            .map_err(|err| DataFusionError::External(Box::new(err)))?;
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(trace.finish()),
            Arc::new(id.finish()),
            Arc::new(kind.finish()),
            Arc::new(status.finish()),
            Arc::new(recorded.finish()),
            Arc::new(recomputed.finish()),
            Arc::new(reason.finish()),
        ];
        let batch = RecordBatch::try_new(eval_schema(), columns)?;
        *computed = Some(batch.clone());
        Ok(batch)
    }
}

fn eval_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("trace", DataType::Utf8, false),
        Field::new("id", DataType::UInt64, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("recorded", DataType::Utf8, false),
        Field::new("recomputed", DataType::Utf8, false),
        Field::new("reason", DataType::Utf8, true),
    ]))
}

#[async_trait]
impl TableProvider for EvalTable {
    fn schema(&self) -> SchemaRef {
        eval_schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        _state: &dyn CatalogSession,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let batch = self.batch()?;
        let plan =
            MemorySourceConfig::try_new_exec(&[vec![batch]], self.schema(), projection.cloned())?;
        Ok(plan)
    }
}
