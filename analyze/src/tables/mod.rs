//! The table layer: every table a query can name — the trace's own
//! tables and views and one table per pass — in one list, [`CATALOG`],
//! which gives `query --help`'s table list, the list shown after a SQL
//! mistake, and what [`register_passes`] registers (a pass's table lazily:
//! its pass runs only when a query reads it). A new pass adds its row to
//! the list and a module with its table.

mod diff;
mod eval;
mod infer;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::Session as CatalogSession;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::context::SQLOptions;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;

use crate::error::AnalyzeError;
use crate::session::Session;
use crate::sources::TraceSource;

/// Where a table's rows come from.
pub enum Origin {
    /// The traces themselves: every session registers it.
    Trace,
    /// A pass over the traces: [`register_passes`] registers it, and it is
    /// computed when a query first reads it.
    Pass(fn(&PassInputs) -> LazyTable),
}

/// One table a query can name.
pub struct Table {
    pub name: &'static str,
    /// What a row is, one line.
    pub doc: &'static str,
    pub origin: Origin,
}

/// What the passes' tables are computed from: the session's traces, and
/// one inference shared by `signatures` and `requirements`.
pub struct PassInputs {
    sources: Vec<TraceSource>,
    inference: Arc<infer::SharedInference>,
}

/// Every table, in the order `query --help` lists them.
pub const CATALOG: &[Table] = &[
    Table {
        name: "nodes",
        doc: "one row per node: the columns of schema/FORMAT.md plus `trace`",
        origin: Origin::Trace,
    },
    Table {
        name: "edges",
        doc: "one row per input: trace, src, role, key, dst",
        origin: Origin::Trace,
    },
    Table {
        name: "calls",
        doc: "traced calls with the ids of their callable and returned node",
        origin: Origin::Trace,
    },
    Table {
        name: "values",
        doc: "a node's value as one printable column",
        origin: Origin::Trace,
    },
    Table {
        name: "traces",
        doc: "run metadata, one row per trace",
        origin: Origin::Trace,
    },
    Table {
        name: "constraints",
        doc: "upstream constraints (HasInit, HasAttr, HasCallableMethod, IsCallableFunction, HasItem, Arg2Content): trace, kind, from_id and to_id with kind, name, type, file, line of both ends",
        origin: Origin::Trace,
    },
    Table {
        name: "signatures",
        doc: "inferred per traced function: function, kind, class, parameter (self, name, *args, **kwargs, return, yield, raise; a class's attributes with kind `attribute`), position, types, observed, defaulted, calls, traces (computed when named)",
        origin: Origin::Pass(infer::signatures_table),
    },
    Table {
        name: "requirements",
        doc: "what each body needed of each parameter: function, parameter, need (attribute, method, item, operator, right_operand, iterated, called, set_attribute, set_item, del_item), name, operand_type, result_type, count, use (computed when named)",
        origin: Origin::Pass(infer::requirements_table),
    },
    Table {
        name: "diff",
        doc: "the query's two traces matched (old, then new): old_trace, old_id, new_trace, new_id, status (same/changed/only_old/only_new), kind, name (computed when named)",
        origin: Origin::Pass(diff::diff_table),
    },
    Table {
        name: "eval",
        doc: "re-evaluation of every node: trace, id, kind, status (input/matched/matched_type/differed/opaque: matched_type when the recording kept only the type to compare), recorded, recomputed, reason (computed when named)",
        origin: Origin::Pass(eval::eval_table),
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

/// Registers every pass's table in `session` (each computed when a
/// query first reads it).
pub fn register_passes(session: &Session) -> Result<(), AnalyzeError> {
    let inputs = PassInputs {
        sources: session.sources.clone(),
        inference: infer::SharedInference::new(&session.sources),
    };
    for table in CATALOG {
        if let Origin::Pass(build) = table.origin {
            session
                .ctx
                .register_table(table.name, Arc::new(build(&inputs)))
                .map_err(|err| AnalyzeError::Engine(err.to_string()))?;
        }
    }
    Ok(())
}

/// "table(col, col, ...)" for every table the session has, for error
/// messages.
pub async fn describe(session: &Session) -> String {
    let mut lines = Vec::new();
    for table in CATALOG.iter().map(|t| t.name) {
        if let Ok(provider) = session.ctx.table_provider(table).await {
            let columns: Vec<String> = provider
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            lines.push(format!("  {table}({})", columns.join(", ")));
        }
    }
    lines.join("\n")
}

/// Runs the user's `sql`; DDL, DML, `COPY` and statements are refused
/// unless `allow_writes`. A mistake in the SQL is answered with the
/// engine's message and the tables and columns there are.
pub async fn run_user_sql(
    session: &Session,
    sql: &str,
    allow_writes: bool,
) -> Result<(SchemaRef, Vec<RecordBatch>), AnalyzeError> {
    let options = SQLOptions::new()
        .with_allow_ddl(allow_writes)
        .with_allow_dml(allow_writes)
        .with_allow_statements(allow_writes);
    let planned = session.ctx.sql_with_options(sql, options).await;
    let frame = match planned {
        Ok(frame) => frame,
        Err(err) => {
            let message = err.to_string();
            let hint = if message.contains("not supported") {
                "queries are read-only; pass --allow-writes to run it anyway".to_string()
            } else {
                format!("tables and columns:\n{}", describe(session).await)
            };
            return Err(AnalyzeError::Query(format!("bad query: {message}\n{hint}")));
        }
    };
    session.collect_frame(frame).await
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
        computed_once(&self.computed, &self.compute)
    }
}

/// The value in `slot`, computed by `compute` the first time (a pass runs
/// once per session, whichever query or table asks first).
fn computed_once<T: Clone>(
    slot: &Mutex<Option<T>>,
    compute: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let mut slot = slot
        .lock()
        .map_err(|_| DataFusionError::Internal("a pass's lock was poisoned".into()))?;
    if let Some(done) = &*slot {
        return Ok(done.clone());
    }
    let done = compute()?;
    *slot = Some(done.clone());
    Ok(done)
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
