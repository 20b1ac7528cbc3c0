//! Validating reader: opens a Parquet file and checks that it is a complete
//! hltpy trace of a format version this build understands, before any
//! caller looks at a row. Every failure names the file and what is wrong.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::ops::Range;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_schema::{ArrowError, DataType, Field, Schema};
use parquet::arrow::arrow_reader::{
    ArrowReaderOptions, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;
use parquet::errors::ParquetError;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData};

use crate::model::{column, meta, COLUMNS, FORMAT_NAME, FORMAT_VERSION_MAJOR};

/// Everything that can go wrong reading or writing a trace.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        source: std::io::Error,
    },
    #[error("{} is not a Parquet file ({detail}); hltpy traces are written by hltpy.capture", path.display())]
    NotParquet { path: PathBuf, detail: String },
    #[error("{} is a Parquet file but not an hltpy trace: {reason}", path.display())]
    NotATrace { path: PathBuf, reason: String },
    #[error(
        "{} uses trace format {found}, newer than this build reads ({FORMAT_VERSION_MAJOR}.x); upgrade hltpy to read it",
        path.display()
    )]
    NewerFormat { path: PathBuf, found: String },
    #[error(
        "{} was not closed cleanly ({reason}); the run that wrote it ended before its capture finished, so the trace may be incomplete",
        path.display()
    )]
    NotClosedCleanly { path: PathBuf, reason: String },
    #[error("{} is damaged: {detail}", path.display())]
    Corrupt { path: PathBuf, detail: String },
    #[error("cannot write trace {}: {detail}", path.display())]
    Write { path: PathBuf, detail: String },
}

/// The run metadata stored in a trace's Parquet footer.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceMetadata {
    pub format_version: String,
    pub hltpy_version: String,
    pub python_version: String,
    pub argv: Vec<String>,
    pub traced_modules: Vec<String>,
    pub start_time: String,
    pub end_time: Option<String>,
    pub node_count: Option<u64>,
    pub closed_cleanly: bool,
    pub end_reason: Option<String>,
    /// (index, is last) for a file that is one segment of a run.
    pub segment: Option<(u32, bool)>,
}

/// An opened, validated trace file.
#[derive(Debug)]
pub struct TraceFile {
    path: PathBuf,
    metadata: TraceMetadata,
    rows: u64,
    row_groups: usize,
    extra_columns: Vec<String>,
}

impl TraceFile {
    /// Opens and validates a trace; a file that was not closed cleanly is an error.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, TraceError> {
        let trace = Self::open_lenient(path)?;
        if !trace.metadata.closed_cleanly {
            return Err(TraceError::NotClosedCleanly {
                path: trace.path,
                reason: trace
                    .metadata
                    .end_reason
                    .unwrap_or_else(|| "no end reason recorded".into()),
            });
        }
        Ok(trace)
    }

    /// Like [`TraceFile::open`], but accepts a file whose capture did not end
    /// cleanly (its `closed_cleanly` is false); callers should say so.
    pub fn open_lenient(path: impl AsRef<Path>) -> Result<Self, TraceError> {
        let path = path.as_ref().to_path_buf();
        // With the page index: readers that use it (DataFusion) trust its
        // page locations, so `check_page_index` sees it first.
        let builder = open_builder(&path, PageIndexPolicy::Optional)?;
        let file_meta = builder.metadata().file_metadata();
        let rows = file_meta.num_rows() as u64;
        let key_values: HashMap<&str, &str> = file_meta
            .key_value_metadata()
            .map(|kvs| {
                kvs.iter()
                    .filter_map(|kv| kv.value.as_deref().map(|v| (kv.key.as_str(), v)))
                    .collect()
            })
            .unwrap_or_default();
        let metadata = parse_metadata(&path, &key_values)?;
        let extra_columns = check_columns(&path, builder.schema())?;
        check_page_index(&path, builder.metadata())?;
        if metadata.closed_cleanly {
            if let Some(count) = metadata.node_count {
                if count != rows {
                    return Err(TraceError::Corrupt {
                        path,
                        detail: format!(
                            "its metadata promises {count} nodes but it holds {rows} rows"
                        ),
                    });
                }
            }
        }
        let row_groups = builder.metadata().num_row_groups();
        Ok(TraceFile {
            path,
            metadata,
            rows,
            row_groups,
            extra_columns,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn metadata(&self) -> &TraceMetadata {
        &self.metadata
    }

    /// Number of nodes (rows) in the file.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// How many row groups the file has: the parts [`TraceFile::input_sources`]
    /// can read apart.
    pub fn row_groups(&self) -> usize {
        self.row_groups
    }

    /// Columns this build does not know (written by a newer minor version).
    pub fn extra_columns(&self) -> &[String] {
        &self.extra_columns
    }

    /// Reads every row, batch by batch, in file (completion) order.
    pub fn batches(&self) -> Result<TraceBatches, TraceError> {
        self.columns(None)
    }

    /// Reads only the top-level columns named (all when `None`), batch by
    /// batch, in file order: a pass that needs `id` and `inputs` does not
    /// decode the values.
    pub fn columns(&self, names: Option<&[&str]>) -> Result<TraceBatches, TraceError> {
        self.projected(|schema| {
            names.map(|names| ProjectionMask::columns(schema, names.iter().copied()))
        })
    }

    /// Reads only each input's `src` (the `inputs` column as a list of
    /// structs of that one field) of the row groups in `row_groups`: all
    /// that counting a node's readers needs, without decoding the roles'
    /// and keys' pages; parts of a file can be counted on several threads.
    pub fn input_sources(&self, row_groups: Range<usize>) -> Result<TraceBatches, TraceError> {
        let row_groups = row_groups.start.min(self.row_groups)..row_groups.end.min(self.row_groups);
        self.projected_in(Some(row_groups.collect()), |schema| {
            let src = (0..schema.num_columns()).find(|&leaf| {
                let descriptor = schema.column(leaf);
                let path = descriptor.path().parts();
                path.first().map(String::as_str) == Some(column::INPUTS)
                    && path.last().map(String::as_str) == Some(column::INPUT_SRC)
            });
            // Not found: the whole column, and the decoder says what is amiss.
            Some(match src {
                Some(leaf) => ProjectionMask::leaves(schema, [leaf]),
                None => ProjectionMask::columns(schema, [column::INPUTS]),
            })
        })
    }

    fn projected(
        &self,
        mask: impl FnOnce(&parquet::schema::types::SchemaDescriptor) -> Option<ProjectionMask>,
    ) -> Result<TraceBatches, TraceError> {
        self.projected_in(None, mask)
    }

    /// [`TraceFile::projected`] of some row groups only (all when `None`).
    fn projected_in(
        &self,
        row_groups: Option<Vec<usize>>,
        mask: impl FnOnce(&parquet::schema::types::SchemaDescriptor) -> Option<ProjectionMask>,
    ) -> Result<TraceBatches, TraceError> {
        // Batches in file order need no page index (checked at open).
        let mut builder = open_builder(&self.path, PageIndexPolicy::Skip)?;
        if let Some(mask) = mask(builder.parquet_schema()) {
            builder = builder.with_projection(mask);
        }
        if let Some(row_groups) = row_groups {
            builder = builder.with_row_groups(row_groups);
        }
        // Larger than the reader's default of 1024 rows: a pass pays a
        // fixed cost per batch (casts, dictionaries interned).
        let reader = builder
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(|err| corrupt(&self.path, err))?;
        Ok(TraceBatches {
            path: self.path.clone(),
            reader,
            failed: false,
        })
    }
}

/// Iterator over a trace's record batches; a damaged page is an error item.
pub struct TraceBatches {
    path: PathBuf,
    reader: ParquetRecordBatchReader,
    failed: bool,
}

impl Iterator for TraceBatches {
    type Item = Result<RecordBatch, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        // The parquet decoder panics on some damaged pages instead of
        // returning an error; a damaged file must be an error, not a crash.
        if self.failed {
            return None;
        }
        let reader = &mut self.reader;
        let next = panic::catch_unwind(AssertUnwindSafe(|| reader.next()))
            .unwrap_or_else(|_| Some(Err(ArrowError::ParquetError("page decoding failed".into()))));
        // After a damaged page the reader's position is unknown: stop there.
        self.failed = matches!(next, Some(Err(_)));
        next.map(|batch| batch.map_err(|err| corrupt(&self.path, err)))
    }
}

/// Rows per batch a trace is read in.
const BATCH_ROWS: usize = 8192;

fn open_builder(
    path: &Path,
    page_index: PageIndexPolicy,
) -> Result<ParquetRecordBatchReaderBuilder<File>, TraceError> {
    let file = File::open(path).map_err(|source| TraceError::Io {
        path: path.to_path_buf(),
        action: "open",
        source,
    })?;
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(TraceError::NotParquet {
            path: path.to_path_buf(),
            detail: "it is a directory".into(),
        });
    }
    let opened = panic::catch_unwind(AssertUnwindSafe(|| {
        ParquetRecordBatchReaderBuilder::try_new_with_options(
            file,
            ArrowReaderOptions::new().with_page_index_policy(page_index),
        )
    }))
    .unwrap_or_else(|_| Err(ParquetError::General("footer decoding failed".into())));
    opened.map_err(|err| match err {
        // A footer that is missing or unreadable means "not Parquet" to a user,
        // whether the file is text, empty or cut short.
        ParquetError::General(_) | ParquetError::EOF(_) | ParquetError::NeedMoreData(_) => {
            // A file that starts like Parquet but has no footer was cut
            // short (or overwritten), which is worth saying as such.
            if starts_like_parquet(path) {
                TraceError::Corrupt {
                    path: path.to_path_buf(),
                    detail: format!(
                        "it starts as Parquet but its footer is missing or unreadable, so it was cut short or overwritten ({})",
                        one_line(&err)
                    ),
                }
            } else {
                TraceError::NotParquet {
                    path: path.to_path_buf(),
                    detail: one_line(&err),
                }
            }
        }
        other => corrupt(path, other),
    })
}

/// The page index's page locations lie inside their column chunks, in
/// order: DataFusion reads pages where the index says and the Parquet
/// crate panics on a location past the chunk's bytes (a damaged index
/// went unnoticed by readers that ignore it).
fn check_page_index(path: &Path, metadata: &ParquetMetaData) -> Result<(), TraceError> {
    let Some(offset_index) = metadata.offset_index() else {
        return Ok(());
    };
    for (group, columns) in offset_index.iter().enumerate() {
        let Some(row_group) = metadata.row_groups().get(group) else {
            return Err(corrupt(
                path,
                "its page index has more row groups than the file",
            ));
        };
        for (column, index) in columns.iter().enumerate() {
            let Some(chunk) = row_group.columns().get(column) else {
                return Err(corrupt(
                    path,
                    "its page index has more columns than the file",
                ));
            };
            // `byte_range()` asserts what a damaged footer need not hold
            // (a start and length that are not negative): checked here.
            let start = chunk
                .dictionary_page_offset()
                .unwrap_or_else(|| chunk.data_page_offset());
            let (Ok(start), Ok(length)) =
                (u64::try_from(start), u64::try_from(chunk.compressed_size()))
            else {
                return Err(corrupt(
                    path,
                    format!(
                        "column {} (row group {group}) has a negative offset or size",
                        chunk.column_path()
                    ),
                ));
            };
            let end = start.saturating_add(length);
            let mut previous_row = -1;
            for page in index.page_locations() {
                let page_end =
                    (page.offset as u64).saturating_add(page.compressed_page_size as u64);
                let inside = page.offset >= 0
                    && page.compressed_page_size > 0
                    && page.offset as u64 >= start
                    && page_end <= end;
                if !inside
                    || page.first_row_index <= previous_row
                    || page.first_row_index >= row_group.num_rows()
                {
                    return Err(corrupt(
                        path,
                        format!(
                            "its page index puts a page of column {} (row group {group}) at bytes {}..{page_end}, row {}, outside the column's bytes {start}..{end} and {} rows",
                            chunk.column_path(),
                            page.offset,
                            page.first_row_index,
                            row_group.num_rows()
                        ),
                    ));
                }
                previous_row = page.first_row_index;
            }
        }
    }
    Ok(())
}

fn starts_like_parquet(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    File::open(path)
        .and_then(|mut file| file.read_exact(&mut magic))
        .is_ok()
        && &magic == b"PAR1"
}

fn corrupt(path: &Path, err: impl std::fmt::Display) -> TraceError {
    TraceError::Corrupt {
        path: path.to_path_buf(),
        detail: one_line(err),
    }
}

/// `text` with its control characters escaped: a message quoting a damaged
/// file (a field name whose byte became a newline) stays one line.
fn one_line(text: impl std::fmt::Display) -> String {
    text.to_string()
        .chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

fn parse_metadata(path: &Path, kv: &HashMap<&str, &str>) -> Result<TraceMetadata, TraceError> {
    let not_a_trace = |reason: String| TraceError::NotATrace {
        path: path.to_path_buf(),
        reason,
    };
    match kv.get(meta::FORMAT) {
        Some(&FORMAT_NAME) => {}
        Some(other) => {
            return Err(not_a_trace(format!(
                "metadata key {} is {other:?}, expected {FORMAT_NAME:?}",
                meta::FORMAT
            )))
        }
        None => {
            return Err(not_a_trace(format!(
                "its footer has no {:?} metadata key",
                meta::FORMAT
            )))
        }
    }
    let version = kv
        .get(meta::FORMAT_VERSION)
        .ok_or_else(|| not_a_trace(format!("metadata key {} is missing", meta::FORMAT_VERSION)))?;
    let major: u32 = version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| {
            not_a_trace(format!(
                "metadata key {} is {version:?}, expected MAJOR.MINOR",
                meta::FORMAT_VERSION
            ))
        })?;
    if major > FORMAT_VERSION_MAJOR {
        return Err(TraceError::NewerFormat {
            path: path.to_path_buf(),
            found: version.to_string(),
        });
    }
    let text = |key: &str| kv.get(key).map(|v| v.to_string());
    let list = |key: &str| -> Result<Vec<String>, TraceError> {
        match kv.get(key) {
            None => Ok(Vec::new()),
            Some(json) => serde_json::from_str(json).map_err(|err| {
                not_a_trace(format!(
                    "metadata key {key} should be a JSON list of strings: {err}"
                ))
            }),
        }
    };
    let node_count = match kv.get(meta::NODE_COUNT) {
        None => None,
        Some(n) => Some(n.parse().map_err(|_| {
            not_a_trace(format!(
                "metadata key {} is {n:?}, expected a whole number",
                meta::NODE_COUNT
            ))
        })?),
    };
    Ok(TraceMetadata {
        format_version: version.to_string(),
        hltpy_version: text(meta::HLTPY_VERSION).unwrap_or_default(),
        python_version: text(meta::PYTHON_VERSION).unwrap_or_default(),
        argv: list(meta::ARGV)?,
        traced_modules: list(meta::TRACED_MODULES)?,
        start_time: text(meta::START_TIME).unwrap_or_default(),
        end_time: text(meta::END_TIME),
        node_count,
        closed_cleanly: kv.get(meta::CLOSED_CLEANLY) == Some(&"true"),
        end_reason: text(meta::END_REASON),
        segment: kv
            .get(meta::SEGMENT)
            .and_then(|index| index.parse().ok())
            .map(|index| (index, kv.get(meta::LAST_SEGMENT) == Some(&"true"))),
    })
}

fn is_string(data_type: &DataType) -> bool {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, values) => is_string(values),
        _ => false,
    }
}

fn is_input_list(data_type: &DataType) -> bool {
    let item = match data_type {
        DataType::List(item) | DataType::LargeList(item) => item,
        _ => return false,
    };
    let DataType::Struct(fields) = item.data_type() else {
        return false;
    };
    let field = |name: &str| fields.iter().find(|f| f.name() == name);
    matches!(field(column::INPUT_ROLE), Some(f) if is_string(f.data_type()))
        && matches!(field(column::INPUT_KEY), Some(f) if is_string(f.data_type()))
        && matches!(field(column::INPUT_SRC), Some(f) if f.data_type() == &DataType::UInt64)
}

fn type_fits(name: &str, field: &Field) -> bool {
    let data_type = field.data_type();
    match name {
        column::ID | column::FRAME | column::THREAD => data_type == &DataType::UInt64,
        column::LINE => data_type == &DataType::UInt32,
        column::VALUE_INT => data_type == &DataType::Int64,
        column::VALUE_FLOAT => data_type == &DataType::Float64,
        column::VALUE_BOOL => data_type == &DataType::Boolean,
        column::INPUTS => is_input_list(data_type),
        _ => is_string(data_type),
    }
}

/// Checks every required column; returns the names of unknown extra columns.
fn check_columns(path: &Path, schema: &Schema) -> Result<Vec<String>, TraceError> {
    for spec in COLUMNS {
        let field = schema
            .field_with_name(spec.name)
            .map_err(|_| TraceError::NotATrace {
                path: path.to_path_buf(),
                reason: format!("column `{}` is missing", spec.name),
            })?;
        if !type_fits(spec.name, field) {
            return Err(TraceError::NotATrace {
                path: path.to_path_buf(),
                reason: format!(
                    "column `{}` has type {}, expected {}",
                    spec.name,
                    field.data_type(),
                    spec.expected
                ),
            });
        }
    }
    Ok(schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .filter(|name| COLUMNS.iter().all(|spec| spec.name != name))
        .collect())
}
