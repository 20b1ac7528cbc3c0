//! Every file of a session's traces as one table, [`TraceScan`]: one
//! Parquet scan whose rows carry their trace's name in a column `trace`
//! (each file's value of a partition column, as a hive-partitioned table's
//! would be, without the directory layout). One scan rather than one per
//! trace: a plan's size, and the work of planning and of shipping it to a
//! cluster's tasks, no longer grows with the number of traces.

use std::path::Path as FilePath;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field, SchemaRef};
use datafusion::catalog::Session as CatalogSession;
use datafusion::common::ScalarValue;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{
    wrap_partition_type_in_dict, wrap_partition_value_in_dict, FileGroup, FileScanConfigBuilder,
};
use datafusion::datasource::table_schema::TableSchemaBuilder;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::Expr;
use datafusion::object_store::path::Path as StorePath;
use datafusion::object_store::{ObjectMeta, ObjectStoreExt};
use datafusion::physical_plan::ExecutionPlan;

use crate::sources::TraceSource;

/// The name of the column that says which trace a row is from.
pub const TRACE_COLUMN: &str = "trace";

/// One trace's files, as the scan reads them.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceObjects {
    pub name: String,
    pub files: Vec<ObjectMeta>,
}

impl TraceObjects {
    fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// The files of every trace of a session, as one table: the files'
/// columns and `trace`.
#[derive(Debug)]
pub struct TraceScan {
    traces: Vec<TraceObjects>,
    file_schema: SchemaRef,
    schema: SchemaRef,
    format: ParquetFormat,
}

impl TraceScan {
    /// The table of `sources`' files, with the columns their schemas
    /// merge to.
    pub async fn new(state: &dyn CatalogSession, sources: &[TraceSource]) -> Result<TraceScan> {
        let url = ObjectStoreUrl::local_filesystem();
        let store = state.runtime_env().object_store(&url)?;
        let mut traces = Vec::with_capacity(sources.len());
        for source in sources {
            let mut files = Vec::with_capacity(source.files.len());
            for file in &source.files {
                let location = store_path(file)?;
                files.push(store.head(&location).await.map_err(|err| {
                    DataFusionError::Plan(format!("cannot read {}: {err}", file.display()))
                })?);
            }
            traces.push(TraceObjects {
                name: source.name.clone(),
                files,
            });
        }
        let format = ParquetFormat::default().with_options(state.table_options().parquet.clone());
        let objects: Vec<ObjectMeta> = traces.iter().flat_map(|t| t.files.clone()).collect();
        let file_schema = format.infer_schema(state, &store, &objects).await?;
        let table_schema = TableSchemaBuilder::from(&file_schema)
            .with_table_partition_cols(vec![trace_field()])
            .build();
        Ok(TraceScan {
            traces,
            schema: table_schema.table_schema().clone(),
            file_schema,
            format,
        })
    }

    /// The size of every file it reads.
    pub fn bytes(&self) -> u64 {
        self.traces.iter().map(TraceObjects::bytes).sum()
    }

    /// The traces it reads.
    pub fn traces(&self) -> &[TraceObjects] {
        &self.traces
    }

    /// The table again from its traces and its schema (as a cluster's
    /// plan carries them), reading Parquet with `format`.
    pub fn from_parts(
        traces: Vec<TraceObjects>,
        schema: SchemaRef,
        format: ParquetFormat,
    ) -> Result<TraceScan> {
        let columns = schema.fields().len();
        if schema.fields().last().map(|f| f.name().as_str()) != Some(TRACE_COLUMN) {
            return Err(DataFusionError::Internal(format!(
                "a trace table's schema ends with {TRACE_COLUMN}: {schema}"
            )));
        }
        let file_schema = Arc::new(schema.project(&(0..columns - 1).collect::<Vec<_>>())?);
        Ok(TraceScan {
            traces,
            file_schema,
            schema,
            format,
        })
    }

    /// The traces in `groups` groups of about equal bytes, whole traces
    /// each (a trace's segments stay in order in one group).
    fn file_groups(&self, groups: usize) -> Vec<FileGroup> {
        let groups = groups.clamp(1, self.traces.len().max(1));
        let mut by_size: Vec<&TraceObjects> = self.traces.iter().collect();
        by_size.sort_by_key(|trace| std::cmp::Reverse(trace.bytes()));
        let mut bins: Vec<(u64, Vec<PartitionedFile>)> = vec![(0, Vec::new()); groups];
        for trace in by_size {
            let lightest = bins
                .iter_mut()
                .min_by_key(|(bytes, _)| *bytes)
                .expect("at least one group");
            lightest.0 += trace.bytes();
            for meta in &trace.files {
                let mut file = PartitionedFile::new_from_meta(meta.clone());
                file.partition_values = vec![wrap_partition_value_in_dict(ScalarValue::Utf8(
                    Some(trace.name.clone()),
                ))];
                lightest.1.push(file);
            }
        }
        bins.into_iter()
            .filter(|(_, files)| !files.is_empty())
            .map(|(_, files)| FileGroup::new(files))
            .collect()
    }
}

/// `trace`, dictionary-encoded as DataFusion's partition columns are: a
/// batch holds the name once (a plain string column would copy it into
/// every row; measured: +40% memory on the constraints' join).
fn trace_field() -> Arc<Field> {
    Arc::new(Field::new(
        TRACE_COLUMN,
        wrap_partition_type_in_dict(DataType::Utf8),
        false,
    ))
}

/// A file's location in the local file system's object store: its
/// canonical path (the store refuses `..` segments, which a path given
/// relative to another directory has).
fn store_path(file: &FilePath) -> Result<StorePath> {
    let absolute = std::fs::canonicalize(file).map_err(|err| {
        DataFusionError::Plan(format!("cannot resolve {}: {err}", file.display()))
    })?;
    StorePath::from_absolute_path(&absolute)
        .map_err(|err| DataFusionError::Plan(format!("cannot read {}: {err}", file.display())))
}

#[async_trait]
impl TableProvider for TraceScan {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn CatalogSession,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let table_schema = TableSchemaBuilder::from(&self.file_schema)
            .with_table_partition_cols(vec![trace_field()])
            .build();
        let source = self.format.file_source(table_schema);
        let groups = self.file_groups(state.config().target_partitions());
        let config = FileScanConfigBuilder::new(ObjectStoreUrl::local_filesystem(), source)
            .with_file_groups(groups)
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .build();
        self.format.create_physical_plan(state, config).await
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::datatypes::Schema;

    use super::*;

    fn object(path: &str, size: u64) -> ObjectMeta {
        ObjectMeta {
            location: StorePath::from(path),
            last_modified: Default::default(),
            size,
            e_tag: None,
            version: None,
        }
    }

    #[test]
    fn groups_hold_whole_traces_in_order_and_balance_bytes() {
        let traces = vec![
            TraceObjects {
                name: "big".into(),
                files: vec![object("big.parquet", 100)],
            },
            TraceObjects {
                name: "run".into(),
                files: vec![object("run/0.parquet", 30), object("run/1.parquet", 30)],
            },
            TraceObjects {
                name: "small".into(),
                files: vec![object("small.parquet", 20)],
            },
        ];
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::UInt64, false),
            Arc::unwrap_or_clone(trace_field()),
        ]));
        let scan = TraceScan::from_parts(traces, schema, ParquetFormat::default()).unwrap();
        let listing = |groups: usize| -> Vec<Vec<(String, String)>> {
            scan.file_groups(groups)
                .iter()
                .map(|group| {
                    group
                        .iter()
                        .map(|file| {
                            let trace = match &file.partition_values[0] {
                                ScalarValue::Dictionary(_, value) => value.to_string(),
                                other => panic!("{other:?}"),
                            };
                            (trace, file.object_meta.location.to_string())
                        })
                        .collect()
                })
                .collect()
        };
        let pair = |trace: &str, path: &str| (trace.to_string(), path.to_string());
        // Two groups: the big trace alone, the others together (80 bytes),
        // the run's segments in order.
        assert_eq!(
            listing(2),
            [
                vec![pair("big", "big.parquet")],
                vec![
                    pair("run", "run/0.parquet"),
                    pair("run", "run/1.parquet"),
                    pair("small", "small.parquet")
                ],
            ]
        );
        // Never more groups than traces, never none.
        assert_eq!(listing(8).len(), 3);
        assert_eq!(listing(0).len(), 1);
    }
}
