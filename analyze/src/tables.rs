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
use hltpy_graph::infer::Inference;

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
        name: "signatures",
        doc: "inferred per traced function: function, kind, class, parameter (self, name, *args, **kwargs, return, yield, raise; a class's attributes with kind `attribute`), position, types, observed, defaulted, calls, traces (computed when named)",
    },
    TableDoc {
        name: "requirements",
        doc: "what each body needed of each parameter: function, parameter, need (attribute, method, item, operator, right_operand, iterated, called, set_attribute, set_item, del_item), name, operand_type, result_type, count, use (computed when named)",
    },
    TableDoc {
        name: "diff",
        doc: "the query's two traces matched (old, then new): old_trace, old_id, new_trace, new_id, status (same/changed/only_old/only_new), kind, name (computed when named)",
    },
    TableDoc {
        name: "eval",
        doc: "re-evaluation of every node: trace, id, kind, status (input/matched/matched_type/differed/opaque: matched_type when the recording kept only the type to compare), recorded, recomputed, reason (computed when named)",
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

/// A pass's output as a table: computed when a query first reads it,
/// then kept for the session.
pub struct LazyTable {
    schema: SchemaRef,
    compute: Box<dyn Fn() -> Result<RecordBatch> + Send + Sync>,
    computed: Mutex<Option<RecordBatch>>,
}

impl std::fmt::Debug for LazyTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyTable")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl LazyTable {
    pub fn new(
        schema: SchemaRef,
        compute: impl Fn() -> Result<RecordBatch> + Send + Sync + 'static,
    ) -> LazyTable {
        LazyTable {
            schema,
            compute: Box::new(compute),
            computed: Mutex::new(None),
        }
    }

    fn batch(&self) -> Result<RecordBatch> {
        let mut computed = self
            .computed
            .lock()
            .map_err(|_| DataFusionError::Internal("a pass table's lock was poisoned".into()))?;
        if let Some(batch) = &*computed {
            return Ok(batch.clone());
        }
        let batch = (self.compute)()?;
        *computed = Some(batch.clone());
        Ok(batch)
    }
}

#[async_trait]
impl TableProvider for LazyTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
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

/// The `eval` table: every node of every trace re-evaluated.
pub fn eval_table(sources: &[TraceSource]) -> LazyTable {
    let traces = crate::infer::trace_files(sources);
    LazyTable::new(eval_schema(), move || {
        let mut trace = StringBuilder::new();
        let mut id = UInt64Builder::new();
        let mut kind = StringBuilder::new();
        let mut status = StringBuilder::new();
        let mut recorded = StringBuilder::new();
        let mut recomputed = StringBuilder::new();
        let mut reason = StringBuilder::new();
        for files in &traces {
            evaluate(files, &[], None, |outcome: &NodeOutcome| {
                trace.append_value(&files.name);
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
        Ok(RecordBatch::try_new(eval_schema(), columns)?)
    })
}

/// The `diff` table: the first trace matched against the second.
pub fn diff_table(sources: &[TraceSource]) -> LazyTable {
    let sources = sources.to_vec();
    LazyTable::new(crate::diff::diff_schema(), move || {
        crate::diff::diff_batch(&sources).map_err(|err| DataFusionError::External(Box::new(err)))
    })
}

/// The `signatures` and `requirements` tables: one inference over every
/// trace, run when the first of them is read.
pub fn inference_tables(sources: &[TraceSource]) -> (LazyTable, LazyTable) {
    let traces = crate::infer::trace_files(sources);
    let shared: Mutex<Option<Arc<Inference>>> = Mutex::new(None);
    let inference = Arc::new(move || -> Result<Arc<Inference>> {
        let mut slot = shared
            .lock()
            .map_err(|_| DataFusionError::Internal("the inference's lock was poisoned".into()))?;
        if let Some(done) = &*slot {
            return Ok(done.clone());
        }
        let done = Arc::new(
            crate::infer::infer_all(&traces, None, &std::sync::atomic::AtomicU64::new(0))
                .map_err(|err| DataFusionError::External(Box::new(err)))?,
        );
        *slot = Some(done.clone());
        Ok(done)
    });
    let run = inference.clone();
    let signatures = LazyTable::new(crate::infer::signatures_schema(), move || {
        let inference: Arc<Inference> = run()?;
        crate::infer::signatures_batch(&inference)
            .map_err(|err| DataFusionError::External(Box::new(err)))
    });
    let requirements = LazyTable::new(crate::infer::requirements_schema(), move || {
        let inference: Arc<Inference> = inference()?;
        crate::infer::requirements_batch(&inference)
            .map_err(|err| DataFusionError::External(Box::new(err)))
    });
    (signatures, requirements)
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
