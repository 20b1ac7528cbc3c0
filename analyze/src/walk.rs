//! One streaming pass over a trace's nodes, for passes that look at every
//! node: the batches are handed over as DataFusion decodes them, so a pass
//! holds only what it keeps, and several passes share one read of the file
//! instead of running a query each.

use datafusion::arrow::record_batch::RecordBatch;
use futures::StreamExt;

use crate::error::AnalyzeError;
use crate::session::{sql_string, Session};

/// Streams the columns `columns` (SQL, e.g. `id, kind, inputs`) of every
/// node of `trace` through `visit`, in no particular order.
pub async fn walk(
    session: &Session,
    trace: &str,
    columns: &str,
    mut visit: impl FnMut(&RecordBatch) -> Result<(), AnalyzeError>,
) -> Result<(), AnalyzeError> {
    let frame = session
        .plan(&format!(
            "SELECT {columns} FROM nodes WHERE trace = {}",
            sql_string(trace)
        ))
        .await?;
    let mut stream = frame
        .execute_stream()
        .await
        .map_err(|err| session.read_error(err))?;
    while let Some(batch) = stream.next().await {
        visit(&batch.map_err(|err| session.read_error(err))?)?;
    }
    Ok(())
}
