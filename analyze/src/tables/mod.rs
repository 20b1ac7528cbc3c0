//! The table layer: every table a query can name — the trace's own
//! tables and views and one table per pass — in one list, [`CATALOG`],
//! which gives `query --help`'s table list, the list shown after a SQL
//! mistake, and what [`register_passes`] registers (a pass's table as a
//! plan, [`pass::PassExec`]: its pass runs only when a query reads it,
//! locally or on a cluster's executors). A new pass adds its row to the
//! list, a [`pass::Pass`] and a module with its rows.

mod diff;
mod eval;
mod infer;
pub mod pass;

use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::execution::context::SQLOptions;

use crate::error::AnalyzeError;
use crate::session::Session;
use crate::sources::trace_files;
use pass::{Pass, PassTable, SharedInference};

/// Where a table's rows come from.
pub enum Origin {
    /// The traces themselves: every session registers it.
    Trace,
    /// A pass over the traces: [`register_passes`] registers it, and it is
    /// computed when a query reads it.
    Pass(Pass),
}

/// One table a query can name.
pub struct Table {
    pub name: &'static str,
    /// What a row is, one line.
    pub doc: &'static str,
    pub origin: Origin,
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
        origin: Origin::Pass(Pass::Signatures),
    },
    Table {
        name: "requirements",
        doc: "what each body needed of each parameter: function, parameter, need (attribute, method, item, operator, right_operand, iterated, called, set_attribute, set_item, del_item), name, operand_type, result_type, count, use (computed when named)",
        origin: Origin::Pass(Pass::Requirements),
    },
    Table {
        name: "diff",
        doc: "the query's two traces matched (old, then new): old_trace, old_id, new_trace, new_id, status (same/changed/only_old/only_new), kind, name (computed when named)",
        origin: Origin::Pass(Pass::Diff),
    },
    Table {
        name: "eval",
        doc: "re-evaluation of every node: trace, id, kind, status (input/matched/matched_type/differed/opaque: matched_type when the recording kept only the type to compare), recorded, recomputed, reason (computed when named)",
        origin: Origin::Pass(Pass::Eval),
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
/// query reads it).
pub fn register_passes(session: &Session) -> Result<(), AnalyzeError> {
    let traces: Arc<[_]> = trace_files(&session.sources).into();
    let inference = Arc::new(SharedInference::default());
    for table in CATALOG {
        if let Origin::Pass(pass) = table.origin {
            let provider = PassTable {
                pass,
                traces: traces.clone(),
                inference: inference.clone(),
            };
            session
                .ctx
                .register_table(table.name, Arc::new(provider))
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
