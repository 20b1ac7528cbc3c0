//! A pass's table as a plan: [`PassExec`] runs the pass over the traces
//! its input lists, one row per trace (name and files) — an in-memory scan
//! with one partition per piece of work: a trace for `eval`, the whole
//! collection for the passes that add traces up or compare them. The pass
//! runs when the engine executes the plan. A cluster ships the plan to
//! executors that link the passes: the scan is DataFusion's own (which
//! Ballista writes, and narrows to each task's partitions), and a
//! `PassExec` is just the pass and its projection (`crate::cluster`'s
//! codecs).

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, AsArray, ListBuilder, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::Session as CatalogSession;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, Partitioning,
    PlanProperties, SendableRecordBatchStream,
};
use futures::TryStreamExt;
use hltpy_graph::infer::Inference;
use hltpy_graph::TraceFiles;
use tokio::sync::Semaphore;

use super::{diff, eval, infer, Origin, CATALOG};

/// The passes that are tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    Eval,
    Signatures,
    Requirements,
    Diff,
}

impl Pass {
    /// The pass's table name (its row in [`CATALOG`]).
    pub fn table_name(self) -> &'static str {
        CATALOG
            .iter()
            .find(|table| matches!(table.origin, Origin::Pass(pass) if pass == self))
            .map(|table| table.name)
            .expect("every pass has a row in the catalog")
    }

    /// The pass whose table is `name`.
    pub fn of_table(name: &str) -> Option<Pass> {
        CATALOG.iter().find_map(|table| match table.origin {
            Origin::Pass(pass) if table.name == name => Some(pass),
            _ => None,
        })
    }

    /// The table's columns.
    pub fn schema(self) -> SchemaRef {
        match self {
            Pass::Eval => eval::eval_schema(),
            Pass::Signatures => infer::signatures_schema(),
            Pass::Requirements => infer::requirements_schema(),
            Pass::Diff => diff::diff_schema(),
        }
    }

    /// Whether the pass runs on each trace alone (re-evaluation), or on
    /// the whole collection at once (inference adds the traces up, the
    /// diff matches two).
    fn per_trace(self) -> bool {
        self == Pass::Eval
    }

    /// The pass's rows over `traces` (one partition's).
    fn compute(
        self,
        traces: &[TraceFiles],
        inference: &SharedInference,
    ) -> Result<Vec<RecordBatch>> {
        if traces.is_empty() {
            return Ok(Vec::new());
        }
        Ok(match self {
            Pass::Eval => traces.iter().map(eval::eval_batch).collect::<Result<_>>()?,
            Pass::Signatures => vec![infer::signatures_batch(&*inference.get(traces)?)?],
            Pass::Requirements => vec![infer::requirements_batch(&*inference.get(traces)?)?],
            Pass::Diff => vec![diff::diff_batch(traces)?],
        })
    }
}

/// The one inference `signatures` and `requirements` read, run by
/// whichever is computed first (a query that reads both runs it once).
/// The session's tables share one; a cluster's decoded plan has its own.
#[derive(Debug, Default)]
pub struct SharedInference(Mutex<Option<Arc<Inference>>>);

impl SharedInference {
    /// The inference over `traces` (both tables list the same traces).
    fn get(&self, traces: &[TraceFiles]) -> Result<Arc<Inference>> {
        let mut slot = self
            .0
            .lock()
            .map_err(|_| DataFusionError::Internal("the inference's lock was poisoned".into()))?;
        if let Some(done) = &*slot {
            return Ok(done.clone());
        }
        let done = Arc::new(infer::inference(traces)?);
        *slot = Some(done.clone());
        Ok(done)
    }
}

/// The columns of a pass's input: one row per trace.
fn trace_list_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("trace", DataType::Utf8, false),
        Field::new(
            "files",
            DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, false))),
            false,
        ),
    ]))
}

/// `traces` as rows of a pass's input.
fn trace_list(traces: &[TraceFiles]) -> Result<RecordBatch> {
    let mut names = StringBuilder::new();
    let mut files = ListBuilder::new(StringBuilder::new())
        .with_field(Arc::new(Field::new_list_field(DataType::Utf8, false)));
    for trace in traces {
        names.append_value(&trace.name);
        for file in &trace.files {
            let path = file.to_str().ok_or_else(|| {
                DataFusionError::Plan(format!(
                    "{} is not a UTF-8 path, which a pass's plan cannot hold",
                    file.display()
                ))
            })?;
            files.values().append_value(path);
        }
        files.append(true);
    }
    let columns: Vec<ArrayRef> = vec![Arc::new(names.finish()), Arc::new(files.finish())];
    Ok(RecordBatch::try_new(trace_list_schema(), columns)?)
}

/// The traces a pass's input lists.
fn listed_traces(batch: &RecordBatch) -> Result<Vec<TraceFiles>> {
    let wrong = || DataFusionError::Internal("a pass's input is not a trace list".into());
    let names = batch.column(0).as_string_opt::<i32>().ok_or_else(wrong)?;
    let files = batch.column(1).as_list_opt::<i32>().ok_or_else(wrong)?;
    let mut traces = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        let paths = files.value(row);
        let paths = paths.as_string_opt::<i32>().ok_or_else(wrong)?;
        traces.push(TraceFiles {
            name: names.value(row).to_string(),
            files: paths.iter().flatten().map(PathBuf::from).collect(),
        });
    }
    Ok(traces)
}

/// A pass's table over a session's traces.
#[derive(Debug)]
pub struct PassTable {
    pub pass: Pass,
    pub traces: Arc<[TraceFiles]>,
    pub inference: Arc<SharedInference>,
}

#[async_trait]
impl TableProvider for PassTable {
    fn schema(&self) -> SchemaRef {
        self.pass.schema()
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
        if self.pass == Pass::Diff && self.traces.len() != 2 {
            return Err(diff::not_a_pair(self.traces.len()));
        }
        let partitions: Vec<Vec<RecordBatch>> = if self.pass.per_trace() {
            self.traces
                .chunks(1)
                .map(|one| trace_list(one).map(|batch| vec![batch]))
                .collect::<Result<_>>()?
        } else {
            vec![vec![trace_list(&self.traces)?]]
        };
        let input = MemorySourceConfig::try_new_exec(&partitions, trace_list_schema(), None)?;
        Ok(Arc::new(PassExec::new(
            self.pass,
            input,
            projection.cloned(),
            self.inference.clone(),
        )?))
    }
}

/// The plan that runs a pass over the traces its input lists, partition
/// by partition.
#[derive(Debug)]
pub struct PassExec {
    pass: Pass,
    input: Arc<dyn ExecutionPlan>,
    projection: Option<Vec<usize>>,
    inference: Arc<SharedInference>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl PassExec {
    pub fn new(
        pass: Pass,
        input: Arc<dyn ExecutionPlan>,
        projection: Option<Vec<usize>>,
        inference: Arc<SharedInference>,
    ) -> Result<PassExec> {
        if input.schema() != trace_list_schema() {
            return Err(DataFusionError::Internal(format!(
                "the {} pass was given {} instead of a trace list",
                pass.table_name(),
                input.schema()
            )));
        }
        let schema = match &projection {
            Some(columns) => Arc::new(pass.schema().project(columns)?),
            None => pass.schema(),
        };
        let partitions = input.output_partitioning().partition_count();
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        Ok(PassExec {
            pass,
            input,
            projection,
            inference,
            schema,
            properties: Arc::new(properties),
        })
    }

    pub fn pass(&self) -> Pass {
        self.pass
    }

    pub fn projection(&self) -> Option<&[usize]> {
        self.projection.as_deref()
    }
}

impl DisplayAs for PassExec {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "PassExec: pass={}", self.pass.table_name())
    }
}

/// At most one pass per core runs at once in this process: the engine
/// starts every partition together, and a pass holds a whole trace's
/// values.
fn workers() -> Arc<Semaphore> {
    static WORKERS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    WORKERS
        .get_or_init(|| {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            Arc::new(Semaphore::new(cores))
        })
        .clone()
}

impl ExecutionPlan for PassExec {
    fn name(&self) -> &str {
        "PassExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    /// The trace list is never worth spreading out: its partitions are the
    /// pass's pieces of work.
    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let [input] = <[_; 1]>::try_from(children).map_err(|children| {
            DataFusionError::Internal(format!("PassExec takes one input, not {}", children.len()))
        })?;
        Ok(Arc::new(PassExec::new(
            self.pass,
            input,
            self.projection.clone(),
            self.inference.clone(),
        )?))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let listed = self.input.execute(partition, context)?;
        let (pass, projection) = (self.pass, self.projection.clone());
        let inference = self.inference.clone();
        let rows = async move {
            let mut traces = Vec::new();
            for batch in listed.try_collect::<Vec<_>>().await? {
                traces.extend(listed_traces(&batch)?);
            }
            let _permit = workers()
                .acquire_owned()
                .await
                .map_err(|err| DataFusionError::Internal(err.to_string()))?;
            let batches = tokio::task::spawn_blocking(move || pass.compute(&traces, &inference))
                .await
                .map_err(|err| DataFusionError::ExecutionJoin(Box::new(err)))??;
            let projected = batches.into_iter().map(move |batch| match &projection {
                Some(columns) => Ok(batch.project(columns)?),
                None => Ok(batch),
            });
            Ok::<_, DataFusionError>(futures::stream::iter(projected))
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema.clone(),
            futures::stream::once(rows).try_flatten(),
        )))
    }
}

/// A one-file trace with quotes in its name and a run of two segments:
/// what a trace list must carry through.
#[cfg(test)]
pub(crate) fn two_traces() -> Vec<TraceFiles> {
    vec![
        TraceFiles {
            name: "a \"quoted\" trace".to_string(),
            files: vec![PathBuf::from("/data/a.parquet")],
        },
        TraceFiles {
            name: "segments".to_string(),
            files: vec![
                PathBuf::from("/data/s/0.parquet"),
                PathBuf::from("/data/s/1.parquet"),
            ],
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pass_has_its_row_in_the_catalog_and_back() {
        for pass in [Pass::Eval, Pass::Signatures, Pass::Requirements, Pass::Diff] {
            assert_eq!(Pass::of_table(pass.table_name()), Some(pass));
        }
        assert_eq!(Pass::of_table("nodes"), None);
    }

    #[test]
    fn a_trace_list_reads_back_as_it_was_written() {
        let traces = two_traces();
        let batch = trace_list(&traces).unwrap();
        assert_eq!(listed_traces(&batch).unwrap(), traces);
    }
}
