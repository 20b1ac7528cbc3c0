//! One leaf column's chunk of a row group, encoded by hltpy itself: levels
//! from the Arrow arrays a batch already holds, values by the leaf's
//! encoder ([`LeafValues`]), v1 data pages of up to [`PAGE_ROWS`] rows,
//! zstd, an offset index. The Parquet crate's generic column writers cost
//! the writer thread more per node than everything else it does together
//! (a level computation through the Arrow nesting, a level encoder fed one
//! value at a time, dynamic dispatch per value): a trace has one fixed
//! schema whose levels are simple.

use std::ops::Range;

use arrow_array::{Array, ArrayRef};
use arrow_buffer::NullBuffer;
use bytes::Bytes;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::{ColumnChunkMetaData, OffsetIndexBuilder};
use parquet::file::page_index::column_index::ColumnIndexMetaData;
use parquet::file::statistics::Statistics;
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;

/// Rows per data page: pages stay small however large a batch is, and
/// large however small the batches are. Small enough that the last pages,
/// encoded when a capture stops (the program waiting), are little work.
pub(crate) const PAGE_ROWS: usize = 1 << 14;

/// The levels of a leaf, which decide the layout of its pages.
#[derive(Clone, Copy, PartialEq, Debug)]
pub(crate) enum Shape {
    /// A required top-level column (`id`, `kind`): no levels.
    Required,
    /// An optional top-level column (`file`, `value_int`): one definition
    /// level per row.
    Optional,
    /// A field of the items of a required list of required structs
    /// (`inputs.role`, `inputs.key`): a row of n items is n entries, an
    /// empty list one entry with no value; an optional field's null item
    /// is an entry one definition level short of a value.
    ListItem { optional: bool },
}

impl Shape {
    pub(crate) fn of(descr: &ColumnDescPtr) -> Result<Shape> {
        match (descr.max_rep_level(), descr.max_def_level()) {
            (0, 0) => Ok(Shape::Required),
            (0, 1) => Ok(Shape::Optional),
            (1, 1) => Ok(Shape::ListItem { optional: false }),
            (1, 2) => Ok(Shape::ListItem { optional: true }),
            (rep, def) => Err(ParquetError::General(format!(
                "column {} has repetition level {rep} and definition level {def}: \
                 not a layout the trace writer knows",
                descr.path()
            ))),
        }
    }

    fn max_definition(self) -> u8 {
        match self {
            Shape::Required => 0,
            Shape::Optional | Shape::ListItem { optional: false } => 1,
            Shape::ListItem { optional: true } => 2,
        }
    }
}

/// One batch's data for a leaf: its entries (rows, or for a list field
/// the items of all rows) and, for a list field, the list's offsets.
pub(crate) struct LeafData<'a> {
    pub values: &'a ArrayRef,
    pub offsets: Option<&'a [i32]>,
}

/// A leaf's value encoding: collects the present values of the page being
/// filled, then writes them as the page's value section.
pub(crate) trait LeafValues: Send {
    /// Adds the values of `entries` that `nulls` does not mark absent.
    fn append(
        &mut self,
        values: &dyn Array,
        entries: Range<usize>,
        nulls: Option<&NullBuffer>,
    ) -> Result<()>;

    /// Writes the collected values (and empties the collection).
    fn encode_page(&mut self, out: &mut Vec<u8>) -> Result<Encoding>;

    /// What the chunk adds besides its data pages, taken when it closes
    /// (most encodings add nothing).
    fn close(&mut self) -> Result<ChunkExtras> {
        Ok(ChunkExtras::default())
    }
}

/// What an encoding adds to its chunk when the chunk closes.
#[derive(Default)]
pub(crate) struct ChunkExtras {
    /// PLAIN-encoded dictionary and its number of values.
    pub dictionary: Option<(Vec<u8>, u32)>,
    pub statistics: Option<Statistics>,
    pub column_index: Option<ColumnIndexMetaData>,
}

/// A leaf column's chunk in the row group being written.
pub(crate) struct LeafColumn {
    descr: ColumnDescPtr,
    shape: Shape,
    zstd_level: i32,
    compressor: zstd::bulk::Compressor<'static>,
    values: Box<dyn LeafValues>,
    /// Levels of the page being filled, and its rows.
    repetition: Vec<u8>,
    definition: Vec<u8>,
    page_rows: usize,
    /// Data pages written so far (headers included), where each starts,
    /// and the encodings of their values.
    pages: TrackedWrite<Vec<u8>>,
    page_encodings: Vec<Encoding>,
    offsets: Vec<(i64, i32, i64)>,
    uncompressed_size: i64,
    levels: i64,
    rows: i64,
    body: Vec<u8>,
}

impl LeafColumn {
    pub(crate) fn new(
        descr: ColumnDescPtr,
        values: Box<dyn LeafValues>,
        zstd_level: i32,
    ) -> Result<Self> {
        let compressor = zstd::bulk::Compressor::new(zstd_level)
            .map_err(|err| ParquetError::General(format!("zstd: {err}")))?;
        Ok(LeafColumn {
            shape: Shape::of(&descr)?,
            descr,
            zstd_level,
            compressor,
            values,
            repetition: Vec::new(),
            definition: Vec::new(),
            page_rows: 0,
            pages: TrackedWrite::new(Vec::new()),
            page_encodings: Vec::new(),
            offsets: Vec::new(),
            uncompressed_size: 0,
            levels: 0,
            rows: 0,
            body: Vec::new(),
        })
    }

    pub(crate) fn descr(&self) -> &ColumnDescPtr {
        &self.descr
    }

    /// Adds a batch's rows; full pages are written as they fill.
    pub(crate) fn write(&mut self, data: LeafData<'_>) -> Result<()> {
        let is_list = matches!(self.shape, Shape::ListItem { .. });
        if is_list != data.offsets.is_some() {
            return Err(ParquetError::General(format!(
                "column {} was given {} data",
                self.descr.path(),
                if is_list { "top-level" } else { "list" }
            )));
        }
        let nulls = data.values.nulls().filter(|nulls| nulls.null_count() > 0);
        if nulls.is_some()
            && matches!(
                self.shape,
                Shape::Required | Shape::ListItem { optional: false }
            )
        {
            return Err(ParquetError::General(format!(
                "column {} is required but has nulls",
                self.descr.path()
            )));
        }
        let rows = match data.offsets {
            Some(offsets) => offsets.len().saturating_sub(1),
            None => data.values.len(),
        };
        let mut start = 0;
        while start < rows {
            let end = rows.min(start + PAGE_ROWS - self.page_rows);
            let entries = match data.offsets {
                Some(offsets) => offsets[start] as usize..offsets[end] as usize,
                None => start..end,
            };
            // Most batches have a column all present or all null (a kind
            // of node has a name or not, a value of one type): such a
            // stretch is one run of levels and its values need no test.
            let present = match nulls {
                None => entries.len(),
                Some(nulls) => nulls
                    .inner()
                    .slice(entries.start, entries.len())
                    .count_set_bits(),
            };
            let mixed = (present > 0 && present < entries.len())
                .then_some(nulls)
                .flatten();
            self.append_levels(data.offsets, mixed, start..end, present > 0);
            if present > 0 {
                self.values
                    .append(data.values.as_ref(), entries, mixed)
                    .map_err(|err| {
                        ParquetError::General(format!("column {}: {err}", self.descr.path()))
                    })?;
            }
            self.page_rows += end - start;
            if self.page_rows == PAGE_ROWS {
                self.write_page()?;
            }
            start = end;
        }
        Ok(())
    }

    /// Appends the levels of `rows` to the page being filled. `nulls` is
    /// given when some entries are present and some not; else all are
    /// present or (`any_present` false) none are.
    fn append_levels(
        &mut self,
        offsets: Option<&[i32]>,
        nulls: Option<&NullBuffer>,
        rows: Range<usize>,
        any_present: bool,
    ) {
        let max = self.shape.max_definition();
        // The level of an entry whose list item (if any) exists.
        let uniform = if any_present {
            max
        } else {
            max.saturating_sub(1)
        };
        match (self.shape, offsets) {
            (Shape::Required, _) => {}
            (Shape::Optional, _) => match nulls {
                None => self
                    .definition
                    .resize(self.definition.len() + rows.len(), uniform),
                Some(nulls) => self
                    .definition
                    .extend(rows.map(|row| u8::from(nulls.is_valid(row)))),
            },
            (Shape::ListItem { .. }, Some(offsets)) => {
                // Each row is one entry with no value when its list is
                // empty, else its items: the first at repetition level 0,
                // the rest at 1; a present value one definition level
                // deeper than a null one.
                let offsets = &offsets[rows.start..=rows.end];
                let first_item = offsets[0] as usize;
                let items = offsets[offsets.len() - 1] as usize - first_item;
                let empty = offsets.windows(2).filter(|b| b[0] == b[1]).count();
                // All levels at the common value first, then each row's
                // first entry (and each null or empty entry) set apart.
                let base = self.repetition.len();
                self.repetition.resize(base + items + empty, 1);
                let mut entry = base;
                for bounds in offsets.windows(2) {
                    self.repetition[entry] = 0;
                    entry += ((bounds[1] - bounds[0]) as usize).max(1);
                }
                let base = self.definition.len();
                let short = max.saturating_sub(1);
                match nulls {
                    None => self.definition.resize(base + items + empty, uniform),
                    // Items null by default; the present ones found by
                    // their bits.
                    Some(_) => self.definition.resize(base + items + empty, short),
                }
                if empty == 0 {
                    if let Some(nulls) = nulls {
                        let present = nulls.inner().slice(first_item, items);
                        for item in present.set_indices() {
                            self.definition[base + item] = max;
                        }
                    }
                } else {
                    let mut entry = base;
                    for bounds in offsets.windows(2) {
                        let row_items = bounds[0] as usize..bounds[1] as usize;
                        if row_items.is_empty() {
                            self.definition[entry] = 0;
                            entry += 1;
                            continue;
                        }
                        if let Some(nulls) = nulls {
                            for (level, item) in row_items.enumerate() {
                                if nulls.is_valid(item) {
                                    self.definition[entry + level] = max;
                                }
                            }
                        }
                        entry += (bounds[1] - bounds[0]) as usize;
                    }
                }
            }
            (Shape::ListItem { .. }, None) => unreachable!("checked in write"),
        }
    }

    /// Encodes the page being filled (v1 data page: repetition levels,
    /// definition levels, values) and adds it to the chunk.
    fn write_page(&mut self) -> Result<()> {
        if self.page_rows == 0 {
            return Ok(());
        }
        let levels = match self.shape {
            Shape::Required => self.page_rows,
            _ => self.definition.len(),
        };
        self.body.clear();
        if matches!(self.shape, Shape::ListItem { .. }) {
            encode_levels(&self.repetition, 1, &mut self.body);
        }
        if self.shape != Shape::Required {
            encode_levels(
                &self.definition,
                bit_width(self.shape.max_definition().into()),
                &mut self.body,
            );
        }
        let encoding = self.values.encode_page(&mut self.body)?;
        if !self.page_encodings.contains(&encoding) {
            self.page_encodings.push(encoding);
        }
        let compressed = self
            .compressor
            .compress(&self.body)
            .map_err(|err| ParquetError::General(format!("zstd: {err}")))?;
        let page = Page::DataPage {
            buf: Bytes::from(compressed),
            num_values: levels as u32,
            encoding,
            def_level_encoding: Encoding::RLE,
            rep_level_encoding: Encoding::RLE,
            statistics: None,
        };
        let spec = SerializedPageWriter::new(&mut self.pages)
            .write_page(CompressedPage::new(page, self.body.len()))?;
        self.offsets.push((
            spec.offset as i64,
            spec.compressed_size as i32,
            self.page_rows as i64,
        ));
        self.uncompressed_size += spec.uncompressed_size as i64;
        self.levels += levels as i64;
        self.rows += self.page_rows as i64;
        self.page_rows = 0;
        self.repetition.clear();
        self.definition.clear();
        Ok(())
    }

    /// The chunk's bytes (a dictionary page first if the encoding has one,
    /// offsets from 0) and what the row group needs to know of it; the
    /// column is then empty again, ready for the next row group.
    pub(crate) fn close(&mut self) -> Result<(Bytes, ColumnCloseResult)> {
        self.write_page()?;
        let extras = self.values.close()?;
        let mut chunk = TrackedWrite::new(Vec::new());
        let mut dictionary_size = 0;
        if let Some((plain, count)) = &extras.dictionary {
            let compressed = self
                .compressor
                .compress(plain)
                .map_err(|err| ParquetError::General(format!("zstd: {err}")))?;
            let page = Page::DictionaryPage {
                buf: Bytes::from(compressed),
                num_values: *count,
                encoding: Encoding::PLAIN,
                is_sorted: false,
            };
            let spec = SerializedPageWriter::new(&mut chunk)
                .write_page(CompressedPage::new(page, plain.len()))?;
            dictionary_size = spec.uncompressed_size as i64;
        }
        let mut bytes = chunk.into_inner()?;
        let data_start = bytes.len() as i64;
        let pages = std::mem::replace(&mut self.pages, TrackedWrite::new(Vec::new()));
        bytes.extend_from_slice(&pages.into_inner()?);

        // The values' encodings, RLE for levels, PLAIN for a dictionary.
        let mut encodings = std::mem::take(&mut self.page_encodings);
        if self.shape != Shape::Required {
            encodings.push(Encoding::RLE);
        }
        if extras.dictionary.is_some() {
            encodings.push(Encoding::PLAIN);
        }
        let mut metadata = ColumnChunkMetaData::builder(self.descr.clone())
            .set_compression(Compression::ZSTD(
                ZstdLevel::try_new(self.zstd_level).unwrap_or_default(),
            ))
            .set_encodings(encodings)
            .set_total_compressed_size(bytes.len() as i64)
            .set_total_uncompressed_size(dictionary_size + self.uncompressed_size)
            .set_num_values(self.levels)
            .set_dictionary_page_offset(extras.dictionary.is_some().then_some(0))
            .set_data_page_offset(data_start);
        if let Some(statistics) = extras.statistics {
            metadata = metadata.set_statistics(statistics);
        }
        let mut offset_index = OffsetIndexBuilder::new();
        for &(offset, size, rows) in &self.offsets {
            offset_index.append_offset_and_size(data_start + offset, size);
            offset_index.append_row_count(rows);
        }
        let close = ColumnCloseResult {
            bytes_written: bytes.len() as u64,
            rows_written: self.rows as u64,
            metadata: metadata.build()?,
            bloom_filter: None,
            column_index: extras.column_index,
            offset_index: Some(offset_index.build()),
        };
        self.offsets.clear();
        self.uncompressed_size = 0;
        self.levels = 0;
        self.rows = 0;
        Ok((Bytes::from(bytes), close))
    }
}

/// Bits needed for values up to `max`.
pub(crate) fn bit_width(max: u64) -> u8 {
    (u64::BITS - max.leading_zeros()).max(1) as u8
}

/// Levels as a v1 page stores them: a 4-byte length, then the RLE/bit-
/// packed hybrid.
fn encode_levels(levels: &[u8], width: u8, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    encode_hybrid(levels, width, out);
    let length = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&length.to_le_bytes());
}

/// Values an RLE/bit-packed hybrid can hold: levels (`u8`) and dictionary
/// indices (`u32`).
pub(crate) trait HybridValue: Copy + PartialEq + Into<u64> {
    /// How many values from the start of `values` equal the first.
    fn run_length(values: &[Self]) -> usize {
        let first = values[0];
        values
            .iter()
            .position(|&v| v != first)
            .unwrap_or(values.len())
    }

    /// How many leading values cannot start a run of eight (0 when the
    /// first eight are one run): they are skipped at once.
    fn no_run_within(values: &[Self]) -> usize {
        if values.len() < 8 {
            return values.len();
        }
        (0..7)
            .rev()
            .find(|&j| values[j] != values[j + 1])
            .map_or(0, |j| j + 1)
    }

    /// Packs a multiple of eight values at `width` bits each.
    fn pack(values: &[Self], width: u8, out: &mut Vec<u8>) {
        pack_narrow(values.iter().map(|&v| v.into()), width, out);
    }
}

impl HybridValue for u32 {}

impl HybridValue for u8 {
    /// Eight levels at a time: pages are mostly long runs of one level.
    fn run_length(values: &[u8]) -> usize {
        let splat = u64::from_ne_bytes([values[0]; 8]);
        let mut length = 0;
        for chunk in values.chunks_exact(8) {
            let differs = u64::from_ne_bytes(chunk.try_into().expect("eight bytes")) ^ splat;
            if differs != 0 {
                return length + (differs.to_le().trailing_zeros() / 8) as usize;
            }
            length += 8;
        }
        let rest = &values[length..];
        length
            + rest
                .iter()
                .position(|&v| v != values[0])
                .unwrap_or(rest.len())
    }

    fn no_run_within(values: &[u8]) -> usize {
        let Some(chunk) = values.first_chunk::<8>() else {
            return values.len();
        };
        // Byte j of `differs` is nonzero where value j differs from j + 1.
        let bytes = u64::from_le_bytes(*chunk);
        let differs = (bytes ^ (bytes >> 8)) & 0x00ff_ffff_ffff_ffff;
        if differs == 0 {
            0
        } else {
            (63 - differs.leading_zeros()) as usize / 8 + 1
        }
    }

    fn pack(values: &[u8], width: u8, out: &mut Vec<u8>) {
        if width != 1 {
            pack_narrow(values.iter().map(|&v| u64::from(v)), width, out);
            return;
        }
        // Eight 0/1 bytes to one byte, first value in the lowest bit.
        for chunk in values.chunks_exact(8) {
            let bytes = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
            out.push((bytes.wrapping_mul(0x0102_0408_1020_4080) >> 56) as u8);
        }
    }
}

/// Parquet's RLE/bit-packed hybrid: a run of eight or more equal values
/// is one RLE run; the values between runs are bit-packed in groups of
/// eight (a group may borrow the start of the next run to fill up). The
/// last group is padded by repeating a value (readers stop at the page's
/// value count).
pub(crate) fn encode_hybrid<T: HybridValue>(values: &[T], width: u8, out: &mut Vec<u8>) {
    let flush_packed = |packed: &[T], out: &mut Vec<u8>| {
        if packed.is_empty() {
            return;
        }
        let groups = packed.len().div_ceil(8);
        write_varint(((groups as u64) << 1) | 1, out);
        let whole = packed.len() / 8 * 8;
        T::pack(&packed[..whole], width, out);
        if whole < packed.len() {
            let mut last = [packed[0]; 8];
            last[..packed.len() - whole].copy_from_slice(&packed[whole..]);
            T::pack(&last, width, out);
        }
    };
    let mut literal_start = 0;
    let mut position = 0;
    while position < values.len() {
        let skip = T::no_run_within(&values[position..]);
        if skip > 0 {
            position += skip;
            continue;
        }
        let mut run = T::run_length(&values[position..]);
        // Fill the pending packed values up to a whole group from the run.
        let pending = position - literal_start;
        if pending > 0 {
            let borrow = (8 - pending % 8) % 8;
            flush_packed(&values[literal_start..position + borrow], out);
            position += borrow;
            run -= borrow;
        }
        write_varint((run as u64) << 1, out);
        let bytes = usize::from(width).div_ceil(8);
        out.extend_from_slice(&values[position].into().to_le_bytes()[..bytes]);
        position += run;
        literal_start = position;
    }
    flush_packed(&values[literal_start..], out);
}

/// Levels and dictionary indices (up to 32 bits each) packed least
/// significant bit first. Apart from [`pack_bits`] because a 64-bit buffer
/// is enough for them: with the 128-bit one the writer spent 2% more per
/// node.
fn pack_narrow(values: impl Iterator<Item = u64>, width: u8, out: &mut Vec<u8>) {
    let width = u32::from(width);
    let mut buffer: u64 = 0;
    let mut bits = 0u32;
    for value in values {
        buffer |= value << bits;
        bits += width;
        if bits >= 32 {
            out.extend_from_slice(&(buffer as u32).to_le_bytes());
            buffer >>= 32;
            bits -= 32;
        }
    }
    let tail = bits.div_ceil(8) as usize;
    out.extend_from_slice(&buffer.to_le_bytes()[..tail]);
}

/// Values packed least significant bit first, `width` (up to 64) bits each.
pub(crate) fn pack_bits(values: &[u64], width: u8, out: &mut Vec<u8>) {
    let width = u32::from(width);
    let mut buffer: u128 = 0;
    let mut bits = 0u32;
    for &value in values {
        buffer |= u128::from(value) << bits;
        bits += width;
        if bits >= 64 {
            out.extend_from_slice(&(buffer as u64).to_le_bytes());
            buffer >>= 64;
            bits -= 64;
        }
    }
    let tail = bits.div_ceil(8) as usize;
    out.extend_from_slice(&buffer.to_le_bytes()[..tail]);
}

pub(crate) fn write_varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parquet's reading of the hybrid, written from the specification.
    fn decode_hybrid(mut bytes: &[u8], width: u8, count: usize) -> Vec<u64> {
        let mut out = Vec::new();
        let varint = |bytes: &mut &[u8]| {
            let mut value = 0u64;
            for shift in (0..).step_by(7) {
                let byte = bytes[0];
                *bytes = &bytes[1..];
                value |= u64::from(byte & 0x7f) << shift;
                if byte < 0x80 {
                    break;
                }
            }
            value
        };
        while out.len() < count {
            let header = varint(&mut bytes);
            if header & 1 == 1 {
                let values = (header >> 1) as usize * 8;
                let size = values * usize::from(width) / 8;
                for index in 0..values {
                    let bit = index * usize::from(width);
                    let mut value = 0u64;
                    for b in 0..usize::from(width) {
                        let at = bit + b;
                        value |= u64::from((bytes[at / 8] >> (at % 8)) & 1) << b;
                    }
                    out.push(value);
                }
                bytes = &bytes[size..];
            } else {
                let size = usize::from(width).div_ceil(8);
                let mut value = [0u8; 8];
                value[..size].copy_from_slice(&bytes[..size]);
                bytes = &bytes[size..];
                out.extend(std::iter::repeat_n(
                    u64::from_le_bytes(value),
                    (header >> 1) as usize,
                ));
            }
        }
        assert!(bytes.is_empty(), "{} bytes left over", bytes.len());
        out.truncate(count);
        out
    }

    #[test]
    fn hybrid_encoding_reads_back_for_runs_and_mixes_of_every_length() {
        let mut state = 7u64;
        let mut next = |modulo: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % modulo
        };
        for case in 0..400 {
            let max = [1u64, 2, 3, 200, 70_000][case % 5];
            let mut values = Vec::new();
            while values.len() < 300 + case {
                // Runs of 1 to 40 equal values.
                let value = next(max + 1);
                values.extend(std::iter::repeat_n(value, 1 + next(40) as usize));
            }
            values.truncate(300 + case);
            let width = bit_width(max);
            let mut encoded = Vec::new();
            if max <= u64::from(u8::MAX) {
                let levels: Vec<u8> = values.iter().map(|&v| v as u8).collect();
                encode_hybrid(&levels, width, &mut encoded);
            } else {
                let indices: Vec<u32> = values.iter().map(|&v| v as u32).collect();
                encode_hybrid(&indices, width, &mut encoded);
            }
            assert_eq!(
                decode_hybrid(&encoded, width, values.len()),
                values,
                "case {case}"
            );
        }
    }

    #[test]
    fn bits_pack_least_significant_first_at_any_width() {
        for width in 1..=64u8 {
            let values: Vec<u64> = (0..16u64)
                .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - u32::from(width)))
                .collect();
            let mut packed = Vec::new();
            pack_bits(&values, width, &mut packed);
            assert_eq!(packed.len(), 16 * usize::from(width) / 8);
            for (index, &value) in values.iter().enumerate() {
                let mut got = 0u64;
                for b in 0..usize::from(width) {
                    let at = index * usize::from(width) + b;
                    got |= u64::from((packed[at / 8] >> (at % 8)) & 1) << b;
                }
                assert_eq!(got, value, "width {width}, value {index}");
            }
        }
    }
}
