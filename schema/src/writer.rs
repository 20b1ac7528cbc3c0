//! Trace writer: record batches to a compressed Parquet file with the run
//! metadata in its footer. It writes to `PATH.partial` and renames to `PATH`
//! only when finished, so a run that dies never leaves a half-written trace
//! under the name the user asked for.

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;

use crate::column_chunk::{LeafColumn, LeafData, LeafValues};
use crate::dictionary_column::DictionaryValues;
use crate::value_columns::{BooleanValues, DeltaValues, PlainValues, SplitValues};

use crate::model::{
    arrow_schema, column, input_fields, meta, FORMAT_NAME, FORMAT_VERSION_MAJOR,
    FORMAT_VERSION_MINOR,
};
use crate::reader::TraceError;
use crate::time::utc_now_rfc3339;

/// Tuning of the Parquet output.
#[derive(Clone, Debug)]
pub struct WriterOptions {
    /// Rows per row group: large enough for good compression and scans,
    /// small enough that readers can stream, and that a capture's last
    /// row group (written while the program waits for the file) is small.
    pub row_group_rows: usize,
    pub zstd_level: i32,
    /// `inputs.src` as BYTE_STREAM_SPLIT: much smaller files (a loop's
    /// inputs alternate between recent ids and a few old ones; split into
    /// byte planes the high bytes are runs zstd packs away), but integer
    /// BYTE_STREAM_SPLIT is a 2024 addition to Parquet that pyarrow < 16,
    /// DuckDB < 2.0 and Spark 3.5 refuse (FORMAT.md, "Readers").
    pub byte_stream_split: bool,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            row_group_rows: 1 << 18,
            zstd_level: 1,
            byte_stream_split: false,
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
    /// One per leaf column, in schema order, each with the row group
    /// being filled's chunk of that column.
    leaves: Vec<Leaf>,
    /// Rows in the row group being filled.
    open_rows: usize,
    row_group_rows: usize,
    rows: u64,
}

/// A leaf column and where its data is in a batch.
struct Leaf {
    column: LeafColumn,
    /// The batch column it belongs to.
    field: usize,
    /// For a field of the `inputs` items: its position in the item struct.
    item_field: Option<usize>,
}

/// How each leaf column is encoded (see `TraceWriter::create`).
fn leaf_values(leaf: &str, options: &WriterOptions) -> Option<Box<dyn LeafValues>> {
    Some(match leaf {
        column::KIND | column::FILE | column::TYPE | column::INPUT_ROLE => {
            Box::new(DictionaryValues::default())
        }
        column::ID => Box::new(DeltaValues::new(false, true)),
        column::LINE => Box::new(DeltaValues::new(true, false)),
        column::INPUT_SRC if options.byte_stream_split => Box::new(SplitValues::default()),
        // PLAIN beat DELTA_BINARY_PACKED for input ids (which jump back
        // and forth) in every capture benchmark case: 1.1 against 2.8
        // bytes per node for `x = x + 1`, 6.1 against 6.3 for a kernel.
        // Ints are PLAIN too: a user's ints may span all 64 bits (hashes,
        // random bits), and fastparquet 2026.9 crashes on delta
        // miniblocks wider than 56 bits, while DuckDB before 1.3 cannot
        // read a chunk that mixes delta and PLAIN pages. Costs 1 byte per
        // node for `x = x + 1` (2.1 against 1.1), nothing for a kernel.
        // Frames are PLAIN too: the ids of the few calls running repeat
        // in long runs that zstd finds (0.3 bytes per node smaller than
        // delta on pyperformance's go, pyflate and float), and a frame
        // column may span 64 bits (a trace written by another tool),
        // where fastparquet's delta decoder reads past its buffer.
        column::INPUT_SRC
        | column::FRAME
        | column::VALUE_INT
        | column::THREAD
        | column::VALUE_FLOAT
        | column::NAME
        | column::INPUT_KEY
        | column::VALUE_STR
        | column::VALUE_REPR => Box::new(PlainValues::default()),
        column::VALUE_BOOL => Box::new(BooleanValues::default()),
        _ => return None,
    })
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
        // Every leaf is encoded here (`LeafColumn`), not by the Parquet
        // crate's column writers, which cost the writer thread more per
        // node than all the rest of its work. The encodings:
        // - `kind`, `file`, `type` and `inputs.role` are dictionaries in
        //   Arrow already and are written as Parquet dictionaries from
        //   their keys: readers decode them without materialising a
        //   string per row (a count by kind over 10M nodes went from
        //   0.31 s to 0.15 s).
        // - Delta encoding for the mostly increasing integers (ids,
        //   frames, lines) halves the file.
        // - Only encodings every mainstream reader knows (FORMAT.md,
        //   "Readers", and `leaf_values`); `inputs.src` split into byte
        //   streams (2.1 to 1.1 bytes per node for `x = x + 1`) only when
        //   asked for.
        // - `id` has a page index (each page's smallest and largest id),
        //   so looking nodes up by id reads a few pages instead of whole
        //   row groups: `expr` on a 10M-node trace went from 6.1 s to
        //   0.3 s.
        let properties = WriterProperties::builder()
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
        // A row group's chunks are written out when it closes (at the end
        // of a capture, while the program waits): in 1 MiB writes, not
        // the default 8 KiB (a 4 MB trace took 500 system calls, ~20 ms).
        let file = BufWriter::with_capacity(1 << 20, file);
        let (file, _) = ArrowWriter::try_new(file, arrow_schema(), Some(properties))
            .and_then(ArrowWriter::into_serialized_writer)
            .map_err(write_error)?;
        let schema = file.schema_descr();
        let item_fields = input_fields();
        let leaves = schema
            .columns()
            .iter()
            .enumerate()
            .map(|(index, descr)| {
                let parts = descr.path().parts();
                let name = parts.last().map(String::as_str).unwrap_or_default();
                let values = leaf_values(name, options).ok_or_else(|| {
                    ParquetError::General(format!("no encoding for column {}", descr.path()))
                })?;
                let item_field = (parts.len() > 1)
                    .then(|| item_fields.iter().position(|field| field.name() == name))
                    .flatten();
                Ok(Leaf {
                    column: LeafColumn::new(descr.clone(), values, options.zstd_level)?,
                    field: schema.get_column_root_idx(index),
                    item_field,
                })
            })
            .collect::<Result<Vec<_>, ParquetError>>()
            .map_err(write_error)?;
        Ok(TraceWriter {
            path,
            partial,
            file,
            leaves,
            open_rows: 0,
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
            let rows = (self.row_group_rows - self.open_rows).min(batch.num_rows() - start);
            self.write_rows(&batch.slice(start, rows))
                .map_err(|err| self.error(err.to_string()))?;
            start += rows;
            self.open_rows += rows;
            if self.open_rows == self.row_group_rows {
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

    /// Adds rows that fit in the row group being filled.
    fn write_rows(&mut self, batch: &RecordBatch) -> Result<(), ParquetError> {
        for leaf in &mut self.leaves {
            let array = batch.column(leaf.field);
            let data = match leaf.item_field {
                None => LeafData {
                    values: array,
                    offsets: None,
                },
                Some(item_field) => {
                    let list = array.as_list_opt::<i32>().ok_or_else(|| {
                        ParquetError::General(format!(
                            "column {} is not a list",
                            leaf.column.descr().path()
                        ))
                    })?;
                    let items = list.values().as_struct_opt().ok_or_else(|| {
                        ParquetError::General(format!(
                            "the items of column {} are not structs",
                            leaf.column.descr().path()
                        ))
                    })?;
                    if items.null_count() > 0 {
                        return Err(ParquetError::General(format!(
                            "column {} has a null item",
                            leaf.column.descr().path()
                        )));
                    }
                    LeafData {
                        values: items.column(item_field),
                        offsets: Some(&list.offsets()[..]),
                    }
                }
            };
            leaf.column.write(data)?;
        }
        Ok(())
    }

    /// Writes the row group being filled to the file, its columns in
    /// schema order.
    fn close_row_group(&mut self) -> Result<(), ParquetError> {
        if self.open_rows == 0 {
            return Ok(());
        }
        let mut group = self.file.next_row_group()?;
        for leaf in &mut self.leaves {
            let (bytes, close) = leaf.column.close()?;
            group.append_column(&bytes, close)?;
        }
        group.close()?;
        self.open_rows = 0;
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
