//! TRIAL (issue 24, item 3): a leaf column written by the Parquet crate's
//! typed column writer, fed the levels hltpy computes and the present
//! values gathered from the batch, to measure against hltpy's own
//! encoders. Which leaves take this path is chosen by
//! `HLTPY_CRATE_LEAVES` (delta, plain, dictionary, split, or all).

use std::ops::Range;
use std::sync::{Arc, Mutex};

use arrow_array::cast::AsArray;
use arrow_array::types::{ArrowDictionaryKeyType, Int8Type, UInt32Type};
use arrow_array::{Array, DictionaryArray, StringArray};
use arrow_buffer::{ArrowNativeType, NullBuffer};
use arrow_schema::DataType;
use bytes::Bytes;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::column::page::{CompressedPage, PageWriteSpec, PageWriter};
use parquet::column::writer::{get_column_writer, ColumnCloseResult, ColumnWriter};
use parquet::data_type::ByteArray;
use parquet::errors::{ParquetError, Result};
use parquet::file::properties::{
    EnabledStatistics, WriterProperties, WriterPropertiesPtr, WriterVersion,
};
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::{ColumnDescPtr, ColumnPath};

use crate::column_chunk::{append_levels, ChunkWriter, LeafData, Shape, PAGE_ROWS};

/// How the crate should encode a leaf.
#[derive(Clone, Copy, PartialEq, Debug)]
pub(crate) enum CrateEncoding {
    Delta { page_index: bool },
    Plain,
    Dictionary,
    Split,
}

/// A page writer that owns its sink, shared with the column so the chunk's
/// bytes can be taken when the crate's writer is closed.
struct SharedSink(Arc<Mutex<TrackedWrite<Vec<u8>>>>);

impl PageWriter for SharedSink {
    fn write_page(&mut self, page: CompressedPage) -> Result<PageWriteSpec> {
        let mut sink = self.0.lock().expect("one writer at a time");
        SerializedPageWriter::new(&mut sink).write_page(page)
    }

    fn close(&mut self) -> Result<()> {
        Ok(())
    }
}

pub(crate) struct CrateColumn {
    descr: ColumnDescPtr,
    shape: Shape,
    properties: WriterPropertiesPtr,
    sink: Arc<Mutex<TrackedWrite<Vec<u8>>>>,
    writer: Option<ColumnWriter<'static>>,
    repetition: Vec<u8>,
    definition: Vec<u8>,
    repetition16: Vec<i16>,
    definition16: Vec<i16>,
}

impl CrateColumn {
    pub(crate) fn new(
        descr: ColumnDescPtr,
        encoding: CrateEncoding,
        zstd_level: i32,
    ) -> Result<Self> {
        let path = ColumnPath::new(descr.path().parts().to_vec());
        let mut builder = WriterProperties::builder()
            .set_writer_version(WriterVersion::PARQUET_1_0)
            .set_compression(Compression::ZSTD(
                ZstdLevel::try_new(zstd_level).unwrap_or_default(),
            ))
            .set_data_page_row_count_limit(PAGE_ROWS)
            .set_data_page_size_limit(usize::MAX)
            .set_dictionary_enabled(false)
            .set_statistics_enabled(EnabledStatistics::None);
        builder = match encoding {
            CrateEncoding::Delta { page_index } => {
                let builder =
                    builder.set_column_encoding(path.clone(), Encoding::DELTA_BINARY_PACKED);
                if page_index {
                    builder.set_column_statistics_enabled(path, EnabledStatistics::Page)
                } else {
                    builder
                }
            }
            CrateEncoding::Plain => builder,
            CrateEncoding::Dictionary => builder
                .set_column_dictionary_enabled(path, true)
                .set_dictionary_page_size_limit(usize::MAX),
            CrateEncoding::Split => builder.set_column_encoding(path, Encoding::BYTE_STREAM_SPLIT),
        };
        let mut column = CrateColumn {
            shape: Shape::of(&descr)?,
            descr,
            properties: Arc::new(builder.build()),
            sink: Arc::new(Mutex::new(TrackedWrite::new(Vec::new()))),
            writer: None,
            repetition: Vec::new(),
            definition: Vec::new(),
            repetition16: Vec::new(),
            definition16: Vec::new(),
        };
        column.writer = Some(column.new_writer());
        Ok(column)
    }

    fn new_writer(&self) -> ColumnWriter<'static> {
        get_column_writer(
            self.descr.clone(),
            self.properties.clone(),
            Box::new(SharedSink(Arc::clone(&self.sink))),
        )
    }
}

/// The present values of `entries` of a primitive array, converted.
fn present<T: Copy, U>(
    values: &[T],
    entries: Range<usize>,
    nulls: Option<&NullBuffer>,
    convert: impl Fn(T) -> U,
) -> Vec<U> {
    match nulls {
        None => values[entries].iter().map(|&v| convert(v)).collect(),
        Some(nulls) => entries
            .filter(|&entry| nulls.is_valid(entry))
            .map(|entry| convert(values[entry]))
            .collect(),
    }
}

fn strings(
    values: &StringArray,
    entries: Range<usize>,
    nulls: Option<&NullBuffer>,
) -> Vec<ByteArray> {
    let data = Bytes::copy_from_slice(values.value_data());
    let offsets = values.value_offsets();
    entries
        .filter(|&entry| nulls.is_none_or(|nulls| nulls.is_valid(entry)))
        .map(|entry| {
            ByteArray::from(data.slice(offsets[entry] as usize..offsets[entry + 1] as usize))
        })
        .collect()
}

fn dictionary_strings<K: ArrowDictionaryKeyType>(
    column: &DictionaryArray<K>,
    entries: Range<usize>,
    nulls: Option<&NullBuffer>,
) -> Result<Vec<ByteArray>> {
    let values = column
        .values()
        .as_string_opt::<i32>()
        .ok_or_else(|| ParquetError::General("dictionary values are not strings".into()))?;
    let all = strings(values, 0..values.len(), None);
    let keys = column.keys().values();
    Ok(entries
        .filter(|&entry| nulls.is_none_or(|nulls| nulls.is_valid(entry)))
        .map(|entry| all[keys[entry].as_usize()].clone())
        .collect())
}

fn unexpected(writer: &str, got: &DataType) -> ParquetError {
    ParquetError::General(format!("a {writer} writer cannot take a {got} column"))
}

impl ChunkWriter for CrateColumn {
    fn descr(&self) -> &ColumnDescPtr {
        &self.descr
    }

    fn write(&mut self, data: LeafData<'_>) -> Result<()> {
        let rows = match data.offsets {
            Some(offsets) => offsets.len().saturating_sub(1),
            None => data.values.len(),
        };
        if rows == 0 {
            return Ok(());
        }
        let entries = match data.offsets {
            Some(offsets) => offsets[0] as usize..offsets[rows] as usize,
            None => 0..rows,
        };
        let nulls = data.values.nulls().filter(|nulls| nulls.null_count() > 0);
        let any_present = nulls.is_none_or(|n| n.null_count() < n.len());
        self.repetition.clear();
        self.definition.clear();
        append_levels(
            self.shape,
            &mut self.repetition,
            &mut self.definition,
            data.offsets,
            nulls.filter(|_| any_present),
            0..rows,
            any_present,
        );
        self.repetition16.clear();
        self.repetition16
            .extend(self.repetition.iter().map(|&l| i16::from(l)));
        self.definition16.clear();
        self.definition16
            .extend(self.definition.iter().map(|&l| i16::from(l)));
        let repetition =
            matches!(self.shape, Shape::ListItem { .. }).then_some(&self.repetition16[..]);
        let definition = (self.shape != Shape::Required).then_some(&self.definition16[..]);
        let values = data.values.as_ref();
        let writer = self.writer.as_mut().expect("a writer between row groups");
        match writer {
            ColumnWriter::Int64ColumnWriter(w) => {
                let gathered = match values.data_type() {
                    DataType::UInt64 => present(
                        values
                            .as_primitive::<arrow_array::types::UInt64Type>()
                            .values(),
                        entries,
                        nulls,
                        |v| v as i64,
                    ),
                    DataType::Int64 => present(
                        values
                            .as_primitive::<arrow_array::types::Int64Type>()
                            .values(),
                        entries,
                        nulls,
                        |v| v,
                    ),
                    other => return Err(unexpected("INT64", other)),
                };
                w.write_batch(&gathered, definition, repetition)?;
            }
            ColumnWriter::Int32ColumnWriter(w) => {
                let gathered = match values.data_type() {
                    DataType::UInt32 => present(
                        values.as_primitive::<UInt32Type>().values(),
                        entries,
                        nulls,
                        |v| v as i32,
                    ),
                    other => return Err(unexpected("INT32", other)),
                };
                w.write_batch(&gathered, definition, repetition)?;
            }
            ColumnWriter::DoubleColumnWriter(w) => {
                let gathered = present(
                    values
                        .as_primitive_opt::<arrow_array::types::Float64Type>()
                        .ok_or_else(|| unexpected("DOUBLE", values.data_type()))?
                        .values(),
                    entries,
                    nulls,
                    |v| v,
                );
                w.write_batch(&gathered, definition, repetition)?;
            }
            ColumnWriter::BoolColumnWriter(w) => {
                let booleans = values
                    .as_boolean_opt()
                    .ok_or_else(|| unexpected("BOOLEAN", values.data_type()))?;
                let gathered: Vec<bool> = entries
                    .filter(|&entry| nulls.is_none_or(|nulls| nulls.is_valid(entry)))
                    .map(|entry| booleans.value(entry))
                    .collect();
                w.write_batch(&gathered, definition, repetition)?;
            }
            ColumnWriter::ByteArrayColumnWriter(w) => {
                let gathered = match values.data_type() {
                    DataType::Utf8 => strings(values.as_string::<i32>(), entries, nulls),
                    DataType::Dictionary(key, _) if **key == DataType::Int8 => {
                        dictionary_strings(values.as_dictionary::<Int8Type>(), entries, nulls)?
                    }
                    DataType::Dictionary(key, _) if **key == DataType::UInt32 => {
                        dictionary_strings(values.as_dictionary::<UInt32Type>(), entries, nulls)?
                    }
                    other => return Err(unexpected("BYTE_ARRAY", other)),
                };
                w.write_batch(&gathered, definition, repetition)?;
            }
            _ => {
                return Err(ParquetError::General(format!(
                    "column {}: no trial path for its physical type",
                    self.descr.path()
                )))
            }
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(Bytes, ColumnCloseResult)> {
        let writer = self.writer.take().expect("a writer between row groups");
        let close = writer.close()?;
        let bytes = std::mem::replace(
            &mut *self.sink.lock().expect("one writer at a time"),
            TrackedWrite::new(Vec::new()),
        )
        .into_inner()?;
        self.writer = Some(self.new_writer());
        Ok((Bytes::from(bytes), close))
    }
}
