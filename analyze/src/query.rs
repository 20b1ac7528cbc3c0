//! `query`: run SQL over the session's tables, read-only unless asked.

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::execution::context::SQLOptions;

use crate::error::AnalyzeError;
use crate::session::Session;

/// Runs `sql`; DDL, DML, `COPY` and statements are refused unless
/// `allow_writes`. A mistake in the SQL is answered with the engine's
/// message and the tables and columns there are.
pub async fn run(
    session: &Session,
    sql: &str,
    allow_writes: bool,
) -> Result<Vec<RecordBatch>, AnalyzeError> {
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
                format!("tables and columns:\n{}", session.describe_tables().await)
            };
            return Err(AnalyzeError::Query(format!("bad query: {message}\n{hint}")));
        }
    };
    frame.collect().await.map_err(|err| session.read_error(err))
}
