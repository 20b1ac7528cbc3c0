//! Trace writer: record batches to a compressed Parquet file with the run
//! metadata in its footer. It writes to `PATH.partial` and renames to `PATH`
//! only when finished, so a run that dies never leaves a half-written trace
//! under the name the user asked for.

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Int8Type, UInt32Type};
use arrow_array::{Array, ArrayRef, DictionaryArray, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::arrow_writer::{compute_leaves, ArrowColumnWriter, ArrowRowGroupWriterFactory};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;

use crate::dictionary_column::DictionaryColumn;

use crate::model::{
    arrow_schema, column, meta, FORMAT_NAME, FORMAT_VERSION_MAJOR, FORMAT_VERSION_MINOR,
};
use crate::reader::TraceError;
use crate::time::utc_now_rfc3339;

/// Tuning of the Parquet output.
#[derive(Clone, Debug)]
pub struct WriterOptions {
    /// Rows per row group: large enough for good compression and scans,
    /// small enough that readers can stream.
    pub row_group_rows: usize,
    pub zstd_level: i32,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            row_group_rows: 1 << 20,
            zstd_level: 1,
        }
    }
}

/// What is known about a run when its trace is opened.
#[derive(Clone, Debug, Default)]
pub struct RunInfo {
    pub hltpy_version: String,
    pub python_version: String,
}

/// What is known about a run when its trace (or one segment of it) ends.
/// argv is only final here: a capture may start before `sys.argv` is set.
#[derive(Clone, Debug, Default)]
pub struct RunEnd {
    pub argv: Vec<String>,
    pub traced_modules: Vec<String>,
    pub closed_cleanly: bool,
    pub end_reason: String,
    /// For a trace rolled into segments: this segment's index and whether
    /// it is the last one of the run.
    pub segment: Option<(u32, bool)>,
}

/// Streams batches into one trace file.
pub struct TraceWriter {
    path: PathBuf,
    partial: PathBuf,
    file: SerializedFileWriter<BufWriter<File>>,
    columns: ArrowRowGroupWriterFactory,
    /// Per leaf column: the encoder of a dictionary column (see
    /// [`DictionaryColumn`]); the other leaves go through the Parquet
    /// crate's Arrow column writers.
    dictionaries: Vec<Option<DictionaryColumn>>,
    /// The first leaf of each top-level field.
    first_leaf: Vec<usize>,
    open: Option<OpenRowGroup>,
    row_group_rows: usize,
    rows: u64,
}

/// The row group being filled.
struct OpenRowGroup {
    /// One per leaf column, in schema order (a dictionary leaf's is unused).
    writers: Vec<ArrowColumnWriter>,
    rows: usize,
}

/// The leaf columns written by [`DictionaryColumn`].
fn is_dictionary_leaf(path: &[String]) -> bool {
    match path {
        [name] => [column::KIND, column::FILE, column::TYPE].contains(&name.as_str()),
        [inputs, .., leaf] => inputs == column::INPUTS && leaf == column::INPUT_ROLE,
        [] => false,
    }
}

fn json_list(items: &[String]) -> String {
    serde_json::to_string(items).expect("a list of strings always serialises")
}

impl TraceWriter {
    /// Creates `PATH.partial` now, so that an unwritable path fails before
    /// any tracing starts.
    pub fn create(
        path: impl AsRef<Path>,
        run: &RunInfo,
        options: &WriterOptions,
    ) -> Result<Self, TraceError> {
        let path = path.as_ref().to_path_buf();
        if path.is_dir() {
            return Err(TraceError::Write {
                path,
                detail: "it is a directory; give a file name such as trace.parquet".into(),
            });
        }
        let mut partial = path.clone().into_os_string();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let file = File::create(&partial).map_err(|source| TraceError::Io {
            path: path.clone(),
            action: "create trace file",
            source,
        })?;
        let start = utc_now_rfc3339();
        let version = format!("{FORMAT_VERSION_MAJOR}.{FORMAT_VERSION_MINOR}");
        let key_values = [
            (meta::FORMAT, FORMAT_NAME.to_string()),
            (meta::FORMAT_VERSION, version),
            (meta::HLTPY_VERSION, run.hltpy_version.clone()),
            (meta::PYTHON_VERSION, run.python_version.clone()),
            (meta::START_TIME, start),
        ]
        .into_iter()
        .map(|(k, v)| KeyValue::new(k.to_string(), v))
        .collect();
        // Measured on capture's benchmark: dictionary pages and string
        // statistics cost the writer thread more than they save; delta
        // encoding halves the file for the mostly increasing id columns.
        // `kind`, `file`, `type` and `inputs.role` are dictionaries in
        // Arrow already and are written as Parquet dictionaries by
        // `DictionaryColumn`, from their keys: readers decode them without
        // materialising a string per row (a count by kind over 10M nodes
        // went from 0.31 s to 0.15 s).
        // `id` keeps page-level statistics (a page index), so looking nodes
        // up by id reads a few pages instead of whole row groups: `expr` on
        // a 10M-node trace went from 6.1 s to 0.3 s.
        let input_leaf = |leaf: &str| {
            ColumnPath::new(
                [column::INPUTS, "list", "item", leaf]
                    .map(String::from)
                    .to_vec(),
            )
        };
        let mut builder = WriterProperties::builder()
            .set_dictionary_enabled(false)
            .set_statistics_enabled(EnabledStatistics::None)
            .set_column_statistics_enabled(ColumnPath::from(column::ID), EnabledStatistics::Page);
        for path in [column::ID, column::FRAME, column::LINE, column::VALUE_INT] {
            builder =
                builder.set_column_encoding(ColumnPath::from(path), Encoding::DELTA_BINARY_PACKED);
        }
        // An input's source alternates between recent ids and a few old
        // ones (Consts, the object a loop reads): deltas between neighbours
        // are as wide as the ids. Split into byte streams, the high bytes
        // are runs zstd packs away: `x = x + 1` went from 3.0 to 0.1 bytes
        // per node, and the writer spends less on it.
        builder =
            builder.set_column_encoding(input_leaf(column::INPUT_SRC), Encoding::BYTE_STREAM_SPLIT);
        let properties = builder
            .set_max_row_group_row_count(Some(options.row_group_rows))
            .set_compression(Compression::ZSTD(
                ZstdLevel::try_new(options.zstd_level).unwrap_or_default(),
            ))
            .set_key_value_metadata(Some(key_values))
            .build();
        let write_error = |err: ParquetError| TraceError::Write {
            path: partial.clone(),
            detail: err.to_string(),
        };
        // The Arrow writer sets up the file (schema, the Arrow schema in
        // the footer, properties); row groups are then written here.
        let (file, columns) =
            ArrowWriter::try_new(BufWriter::new(file), arrow_schema(), Some(properties))
                .and_then(ArrowWriter::into_serialized_writer)
                .map_err(write_error)?;
        let leaves = file.schema_descr().columns().to_vec();
        let dictionaries = leaves
            .iter()
            .map(|leaf| {
                is_dictionary_leaf(leaf.path().parts())
                    .then(|| DictionaryColumn::new(leaf.clone(), options.zstd_level))
                    .transpose()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(write_error)?;
        let first_leaf = (0..arrow_schema().fields().len())
            .map(|field| {
                (0..leaves.len())
                    .find(|&leaf| file.schema_descr().get_column_root_idx(leaf) == field)
                    .expect("every field has a leaf column")
            })
            .collect();
        Ok(TraceWriter {
            path,
            partial,
            file,
            columns,
            dictionaries,
            first_leaf,
            open: None,
            row_group_rows: options.row_group_rows.max(1),
            rows: 0,
        })
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The path the finished trace will have.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), TraceError> {
        if batch.schema().fields() != arrow_schema().fields() {
            return Err(self.error(format!(
                "the batch's columns are not the trace schema's: {:?}",
                batch.schema().fields()
            )));
        }
        let mut start = 0;
        while start < batch.num_rows() {
            let open_rows = self.open.as_ref().map_or(0, |open| open.rows);
            let rows = (self.row_group_rows - open_rows).min(batch.num_rows() - start);
            self.write_rows(&batch.slice(start, rows))
                .map_err(|err| self.error(err.to_string()))?;
            start += rows;
            if open_rows + rows == self.row_group_rows {
                self.close_row_group()
                    .map_err(|err| self.error(err.to_string()))?;
            }
        }
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    fn error(&self, detail: String) -> TraceError {
        TraceError::Write {
            path: self.partial.clone(),
            detail,
        }
    }

    /// Adds rows that fit in the open row group (opening one if needed).
    fn write_rows(&mut self, batch: &RecordBatch) -> Result<(), ParquetError> {
        if self.open.is_none() {
            let index = self.file.flushed_row_groups().len();
            self.open = Some(OpenRowGroup {
                writers: self.columns.create_column_writers(index)?,
                rows: 0,
            });
        }
        let open = self.open.as_mut().expect("opened above");
        let schema = batch.schema();
        for (field_index, field) in schema.fields().iter().enumerate() {
            let array = batch.column(field_index);
            let first = self.first_leaf[field_index];
            // A top-level dictionary column needs none of the levels the
            // crate would compute for it.
            if field.name() != column::INPUTS {
                if let Some(dictionary) = &mut self.dictionaries[first] {
                    match array.data_type() {
                        DataType::Dictionary(key, _) if **key == DataType::Int8 => {
                            dictionary.write_rows(dictionary_of::<Int8Type>(array)?)?
                        }
                        _ => dictionary.write_rows(dictionary_of::<UInt32Type>(array)?)?,
                    }
                    continue;
                }
            }
            let leaves = compute_leaves(field, array)?;
            for (offset, leaf) in leaves.iter().enumerate() {
                match &mut self.dictionaries[first + offset] {
                    Some(dictionary) => {
                        let list = array.as_list::<i32>();
                        let role = list
                            .values()
                            .as_struct()
                            .column_by_name(column::INPUT_ROLE)
                            .ok_or_else(|| {
                                ParquetError::General("inputs have no role field".into())
                            })?;
                        let role = dictionary_of::<Int8Type>(role)?;
                        dictionary.write_list_items(list.offsets(), role)?;
                    }
                    None => open.writers[first + offset].write(leaf)?,
                }
            }
        }
        open.rows += batch.num_rows();
        Ok(())
    }

    /// Writes the open row group to the file, its columns in schema order.
    fn close_row_group(&mut self) -> Result<(), ParquetError> {
        let Some(open) = self.open.take() else {
            return Ok(());
        };
        let mut group = self.file.next_row_group()?;
        for (writer, dictionary) in open.writers.into_iter().zip(&mut self.dictionaries) {
            match dictionary {
                Some(dictionary) => {
                    let (bytes, close) = dictionary.close()?;
                    group.append_column(&bytes, close)?;
                }
                None => writer.close()?.append_to_row_group(&mut group)?,
            }
        }
        group.close()?;
        Ok(())
    }

    /// Removes the unfinished file: nothing is left under the trace's name.
    pub fn discard(self) -> Result<(), TraceError> {
        let partial = self.partial.clone();
        drop(self.file);
        fs::remove_file(&partial).map_err(|source| TraceError::Io {
            path: partial,
            action: "remove",
            source,
        })
    }

    /// Writes the footer with the end-of-run metadata and moves the file to
    /// its final name. Returns the number of rows written.
    pub fn finish(mut self, end: &RunEnd) -> Result<u64, TraceError> {
        let mut keys = vec![
            (meta::ARGV, json_list(&end.argv)),
            (meta::TRACED_MODULES, json_list(&end.traced_modules)),
            (meta::END_TIME, utc_now_rfc3339()),
            (meta::NODE_COUNT, self.rows.to_string()),
            (meta::CLOSED_CLEANLY, end.closed_cleanly.to_string()),
            (meta::END_REASON, end.end_reason.clone()),
        ];
        if let Some((index, last)) = end.segment {
            keys.push((meta::SEGMENT, index.to_string()));
            keys.push((meta::LAST_SEGMENT, last.to_string()));
        }
        self.close_row_group()
            .map_err(|err| self.error(err.to_string()))?;
        for (key, value) in keys {
            self.file
                .append_key_value_metadata(KeyValue::new(key.to_string(), value));
        }
        let write_error = |detail: String| TraceError::Write {
            path: self.partial.clone(),
            detail,
        };
        let inner = self
            .file
            .into_inner()
            .map_err(|err| write_error(err.to_string()))?;
        let file = inner
            .into_inner()
            .map_err(|err| write_error(err.error().to_string()))?;
        file.sync_all()
            .map_err(|err| write_error(err.to_string()))?;
        fs::rename(&self.partial, &self.path).map_err(|source| TraceError::Io {
            path: self.path.clone(),
            action: "move the finished trace to",
            source,
        })?;
        Ok(self.rows)
    }
}

/// `array` as a dictionary array with keys `K`, or an error naming its type.
fn dictionary_of<K: arrow_array::types::ArrowDictionaryKeyType>(
    array: &ArrayRef,
) -> Result<&DictionaryArray<K>, ParquetError> {
    array
        .as_any()
        .downcast_ref::<DictionaryArray<K>>()
        .ok_or_else(|| {
            ParquetError::General(format!(
                "expected a dictionary column, got {}",
                array.data_type()
            ))
        })
}
