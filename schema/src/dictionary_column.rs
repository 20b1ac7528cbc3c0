//! Parquet column chunks for the trace's dictionary columns (`kind`,
//! `file`, `type`, `inputs.role`), encoded from the Arrow dictionary keys
//! a batch already holds. The generic writer looked each row's string up
//! in a hash table, or wrote `file` and `type` out in full on every row:
//! a third of the writer thread's work per node. Here a row costs a table
//! lookup and a few bits; the strings are written once per row group, in
//! the dictionary page.

use std::collections::HashMap;

use arrow_array::types::ArrowDictionaryKeyType;
use arrow_array::{Array, DictionaryArray, StringArray};
use arrow_buffer::{ArrowNativeType, OffsetBuffer};
use bytes::Bytes;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::{ColumnChunkMetaData, OffsetIndexBuilder};
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;

/// Rows per data page: pages stay small however large a batch is.
const PAGE_ROWS: usize = 1 << 16;

/// One dictionary column's chunk in the row group being written.
pub struct DictionaryColumn {
    descr: ColumnDescPtr,
    shape: Shape,
    zstd_level: i32,
    compressor: zstd::bulk::Compressor<'static>,
    /// The chunk's dictionary: every distinct string its pages index.
    values: Vec<String>,
    positions: HashMap<String, u32>,
    /// Data pages written so far (headers included), and where each starts.
    pages: TrackedWrite<Vec<u8>>,
    offsets: Vec<(i64, i32, i64)>,
    uncompressed_size: i64,
    levels: i64,
    rows: i64,
    /// Scratch buffers of one page.
    repetition: Vec<u8>,
    definition: Vec<u8>,
    indices: Vec<u32>,
    body: Vec<u8>,
}

/// The levels of a leaf, which decide the layout of its pages.
#[derive(Clone, Copy, PartialEq)]
enum Shape {
    /// A required top-level column (`kind`).
    Required,
    /// An optional top-level column (`file`, `type`).
    Optional,
    /// A required field of the items of a required list (`inputs.role`):
    /// a row of n items is n entries, an empty list one entry with no value.
    ListItem,
}

impl DictionaryColumn {
    pub fn new(descr: ColumnDescPtr, zstd_level: i32) -> Result<Self> {
        let compressor = zstd::bulk::Compressor::new(zstd_level)
            .map_err(|err| ParquetError::General(format!("zstd: {err}")))?;
        let shape = match (descr.max_rep_level(), descr.max_def_level()) {
            (0, 0) => Shape::Required,
            (0, 1) => Shape::Optional,
            (1, 1) => Shape::ListItem,
            (rep, def) => {
                return Err(ParquetError::General(format!(
                    "column {} has repetition level {rep} and definition level {def}: \
                     not a layout the dictionary writer knows",
                    descr.path()
                )))
            }
        };
        Ok(DictionaryColumn {
            descr,
            shape,
            zstd_level,
            compressor,
            values: Vec::new(),
            positions: HashMap::new(),
            pages: TrackedWrite::new(Vec::new()),
            offsets: Vec::new(),
            uncompressed_size: 0,
            levels: 0,
            rows: 0,
            repetition: Vec::new(),
            definition: Vec::new(),
            indices: Vec::new(),
            body: Vec::new(),
        })
    }

    /// Each batch dictionary entry's position in the chunk's dictionary
    /// (new strings are added): a batch's keys are translated through it.
    fn translation<K: ArrowDictionaryKeyType>(
        &mut self,
        column: &DictionaryArray<K>,
    ) -> Result<Vec<u32>> {
        let values = column
            .values()
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| {
                ParquetError::General(format!(
                    "column {} has dictionary values of type {}, not strings",
                    self.descr.path(),
                    column.values().data_type()
                ))
            })?;
        if values.null_count() > 0 {
            return Err(ParquetError::General(format!(
                "column {} has a null in its dictionary values",
                self.descr.path()
            )));
        }
        Ok(values
            .iter()
            .map(|value| {
                let value = value.unwrap_or_default();
                match self.positions.get(value) {
                    Some(&position) => position,
                    None => {
                        let position = self.values.len() as u32;
                        self.values.push(value.to_string());
                        self.positions.insert(value.to_string(), position);
                        position
                    }
                }
            })
            .collect())
    }

    /// Writes a top-level column's rows.
    pub fn write_rows<K: ArrowDictionaryKeyType>(
        &mut self,
        column: &DictionaryArray<K>,
    ) -> Result<()> {
        let translation = self.translation(column)?;
        let optional = self.shape == Shape::Optional;
        if !optional && column.null_count() > 0 {
            return Err(ParquetError::General(format!(
                "column {} is required but has nulls",
                self.descr.path()
            )));
        }
        let keys = column.keys();
        let mut start = 0;
        while start < column.len() {
            let end = (start + PAGE_ROWS).min(column.len());
            self.definition.clear();
            self.indices.clear();
            let page_keys = &keys.values()[start..end];
            match keys.nulls() {
                // No nulls (always so for `kind`): one pass over the keys.
                None => {
                    if optional {
                        self.definition.resize(end - start, 1);
                    }
                    self.indices
                        .extend(page_keys.iter().map(|key| translation[key.as_usize()]));
                }
                Some(nulls) => {
                    for (row, key) in (start..end).zip(page_keys) {
                        let present = nulls.is_valid(row);
                        self.definition.push(u8::from(present));
                        if present {
                            self.indices.push(translation[key.as_usize()]);
                        }
                    }
                }
            }
            self.write_page(end - start, end - start)?;
            start = end;
        }
        Ok(())
    }

    /// Writes the rows of a list column's dictionary field: `offsets` are
    /// the list's, `items` the field's values of all rows' items.
    pub fn write_list_items<K: ArrowDictionaryKeyType>(
        &mut self,
        offsets: &OffsetBuffer<i32>,
        items: &DictionaryArray<K>,
    ) -> Result<()> {
        if self.shape != Shape::ListItem {
            return Err(ParquetError::General(format!(
                "column {} is not a field of list items",
                self.descr.path()
            )));
        }
        if items.null_count() > 0 {
            return Err(ParquetError::General(format!(
                "column {} is required but has nulls",
                self.descr.path()
            )));
        }
        let translation = self.translation(items)?;
        let keys = items.keys();
        let rows = offsets.len() - 1;
        let mut start = 0;
        while start < rows {
            let end = (start + PAGE_ROWS).min(rows);
            self.repetition.clear();
            self.definition.clear();
            self.indices.clear();
            // Each row is one entry with no value when its list is empty,
            // else its items: the first at repetition level 0, the rest at 1.
            for bounds in offsets[start..=end].windows(2) {
                let items = (bounds[1] - bounds[0]) as usize;
                self.repetition.push(0);
                self.definition.push(u8::from(items > 0));
                if items > 1 {
                    let levels = self.repetition.len() + items - 1;
                    self.repetition.resize(levels, 1);
                    self.definition.resize(levels, 1);
                }
            }
            let items = offsets[start] as usize..offsets[end] as usize;
            self.indices.extend(
                keys.values()[items]
                    .iter()
                    .map(|key| translation[key.as_usize()]),
            );
            let levels = self.definition.len();
            self.write_page(end - start, levels)?;
            start = end;
        }
        Ok(())
    }

    /// Encodes the page in the scratch buffers (v1 data page: repetition
    /// levels, definition levels, then the bit width and the indices).
    fn write_page(&mut self, rows: usize, levels: usize) -> Result<()> {
        if rows == 0 {
            return Ok(());
        }
        let shape = self.shape;
        self.body.clear();
        if shape == Shape::ListItem {
            encode_levels(&self.repetition, &mut self.body);
        }
        if shape != Shape::Required {
            encode_levels(&self.definition, &mut self.body);
        }
        let width = bit_width(self.values.len().saturating_sub(1) as u32);
        self.body.push(width);
        encode_hybrid(&self.indices, width, &mut self.body);
        let compressed = self
            .compressor
            .compress(&self.body)
            .map_err(|err| ParquetError::General(format!("zstd: {err}")))?;
        let page = Page::DataPage {
            buf: Bytes::from(compressed),
            num_values: levels as u32,
            encoding: Encoding::RLE_DICTIONARY,
            def_level_encoding: Encoding::RLE,
            rep_level_encoding: Encoding::RLE,
            statistics: None,
        };
        let spec = SerializedPageWriter::new(&mut self.pages)
            .write_page(CompressedPage::new(page, self.body.len()))?;
        self.offsets
            .push((spec.offset as i64, spec.compressed_size as i32, rows as i64));
        self.uncompressed_size += spec.uncompressed_size as i64;
        self.levels += levels as i64;
        self.rows += rows as i64;
        Ok(())
    }

    /// The chunk's bytes (dictionary page first, offsets from 0) and what
    /// the row group needs to know of it; the column is then empty again,
    /// ready for the next row group.
    pub fn close(&mut self) -> Result<(Bytes, ColumnCloseResult)> {
        let mut plain = Vec::new();
        for value in &self.values {
            plain.extend_from_slice(&(value.len() as u32).to_le_bytes());
            plain.extend_from_slice(value.as_bytes());
        }
        let compressed = self
            .compressor
            .compress(&plain)
            .map_err(|err| ParquetError::General(format!("zstd: {err}")))?;
        let dictionary = Page::DictionaryPage {
            buf: Bytes::from(compressed),
            num_values: self.values.len() as u32,
            encoding: Encoding::PLAIN,
            is_sorted: false,
        };
        let mut chunk = TrackedWrite::new(Vec::new());
        let dictionary_spec = SerializedPageWriter::new(&mut chunk)
            .write_page(CompressedPage::new(dictionary, plain.len()))?;
        let mut bytes = chunk.into_inner()?;
        let data_start = bytes.len() as i64;
        let pages = std::mem::replace(&mut self.pages, TrackedWrite::new(Vec::new()));
        bytes.extend_from_slice(&pages.into_inner()?);

        let metadata = ColumnChunkMetaData::builder(self.descr.clone())
            .set_compression(Compression::ZSTD(
                ZstdLevel::try_new(self.zstd_level).unwrap_or_default(),
            ))
            .set_encodings(vec![
                Encoding::PLAIN,
                Encoding::RLE,
                Encoding::RLE_DICTIONARY,
            ])
            .set_total_compressed_size(bytes.len() as i64)
            .set_total_uncompressed_size(
                dictionary_spec.uncompressed_size as i64 + self.uncompressed_size,
            )
            .set_num_values(self.levels)
            .set_dictionary_page_offset(Some(0))
            .set_data_page_offset(data_start)
            .build()?;
        let mut offset_index = OffsetIndexBuilder::new();
        for &(offset, size, rows) in &self.offsets {
            offset_index.append_offset_and_size(data_start + offset, size);
            offset_index.append_row_count(rows);
        }
        let close = ColumnCloseResult {
            bytes_written: bytes.len() as u64,
            rows_written: self.rows as u64,
            metadata,
            bloom_filter: None,
            column_index: None,
            offset_index: Some(offset_index.build()),
        };
        self.values.clear();
        self.positions.clear();
        self.offsets.clear();
        self.uncompressed_size = 0;
        self.levels = 0;
        self.rows = 0;
        Ok((Bytes::from(bytes), close))
    }
}

/// Bits needed for values up to `max`.
fn bit_width(max: u32) -> u8 {
    (u32::BITS - max.leading_zeros()).max(1) as u8
}

/// Levels of 0 and 1 as a v1 page stores them: a 4-byte length, then the
/// RLE/bit-packed hybrid at width 1.
fn encode_levels(levels: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    encode_hybrid(levels, 1, out);
    let length = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&length.to_le_bytes());
}

/// Parquet's RLE/bit-packed hybrid, decided per group of eight values: a
/// group of one repeated value extends (or starts) a run, any other group
/// is bit-packed. The last group may be short: as a run it is exact, as a
/// packed group it is padded (readers stop at the page's value count).
fn encode_hybrid<T: Copy + PartialEq + Into<u32>>(values: &[T], width: u8, out: &mut Vec<u8>) {
    let mut packed: Vec<u32> = Vec::new();
    let mut run: Option<(T, usize)> = None;
    let flush_packed = |packed: &mut Vec<u32>, out: &mut Vec<u8>| {
        if packed.is_empty() {
            return;
        }
        let groups = packed.len().div_ceil(8);
        write_varint(((groups as u64) << 1) | 1, out);
        packed.resize(groups * 8, 0);
        pack_bits(packed, width, out);
        packed.clear();
    };
    let flush_run = |run: &mut Option<(T, usize)>, out: &mut Vec<u8>| {
        if let Some((value, count)) = run.take() {
            write_varint((count as u64) << 1, out);
            let bytes = usize::from(width).div_ceil(8);
            out.extend_from_slice(&value.into().to_le_bytes()[..bytes]);
        }
    };
    for group in values.chunks(8) {
        let first = group[0];
        if group.iter().all(|&v| v == first) {
            match &mut run {
                Some((value, count)) if *value == first => *count += group.len(),
                _ => {
                    flush_packed(&mut packed, out);
                    flush_run(&mut run, out);
                    run = Some((first, group.len()));
                }
            }
        } else {
            flush_run(&mut run, out);
            packed.extend(group.iter().map(|&v| v.into()));
        }
    }
    flush_packed(&mut packed, out);
    flush_run(&mut run, out);
}

/// Values packed least significant bit first, `width` bits each.
fn pack_bits(values: &[u32], width: u8, out: &mut Vec<u8>) {
    let mut buffer: u64 = 0;
    let mut bits = 0u32;
    for &value in values {
        buffer |= u64::from(value) << bits;
        bits += u32::from(width);
        while bits >= 8 {
            out.push(buffer as u8);
            buffer >>= 8;
            bits -= 8;
        }
    }
    if bits > 0 {
        out.push(buffer as u8);
    }
}

fn write_varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}
