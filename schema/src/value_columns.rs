//! The encodings of the trace's columns that are not dictionaries: delta
//! for the mostly increasing integers (ids, lines), PLAIN for the
//! rest, byte stream split for input sources when asked for. Each collects
//! the present values of the page being filled straight from the batch's
//! Arrow array.

use std::ops::Range;

use arrow_array::types::{Float64Type, Int64Type, UInt32Type, UInt64Type};
use arrow_array::{Array, ArrowPrimitiveType, BooleanArray, PrimitiveArray, StringArray};
use arrow_buffer::{NullBuffer, ToByteSlice};
use arrow_schema::DataType;
use parquet::basic::{BoundaryOrder, Encoding, Type};
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::ColumnIndexBuilder;
use parquet::file::statistics::Statistics;

use crate::column_chunk::{pack_bits, write_varint, ChunkExtras, LeafValues};

fn primitive<T: ArrowPrimitiveType>(values: &dyn Array) -> Result<&PrimitiveArray<T>> {
    values
        .as_any()
        .downcast_ref::<PrimitiveArray<T>>()
        .ok_or_else(|| unexpected_type(T::DATA_TYPE, values.data_type()))
}

fn unexpected_type(expected: impl std::fmt::Display, got: &DataType) -> ParquetError {
    ParquetError::General(format!("expected a {expected} column, got {got}"))
}

/// Calls `add` with each value of `entries` that `nulls` does not mark
/// absent.
fn for_each_present<T: Copy>(
    values: &[T],
    entries: Range<usize>,
    nulls: Option<&NullBuffer>,
    mut add: impl FnMut(T),
) {
    match nulls {
        None => values[entries].iter().for_each(|&value| add(value)),
        Some(nulls) => {
            for entry in entries {
                if nulls.is_valid(entry) {
                    add(values[entry]);
                }
            }
        }
    }
}

/// DELTA_BINARY_PACKED integers (`UInt64` or `UInt32` arrays).
/// For an `id` column it also keeps each page's smallest and largest
/// value: a page index, so looking nodes up by id reads a few pages
/// instead of whole row groups.
pub(crate) struct DeltaValues {
    /// A 32-bit physical column: deltas wrap at 32 bits, as readers add
    /// them.
    int32: bool,
    pending: Vec<i64>,
    /// Per page (min, max), compared unsigned; `None` when not kept.
    page_ranges: Option<Vec<(u64, u64)>>,
}

impl DeltaValues {
    pub(crate) fn new(int32: bool, page_index: bool) -> Self {
        DeltaValues {
            int32,
            pending: Vec::new(),
            page_ranges: page_index.then(Vec::new),
        }
    }
}

impl LeafValues for DeltaValues {
    fn append(
        &mut self,
        values: &dyn Array,
        entries: Range<usize>,
        nulls: Option<&NullBuffer>,
    ) -> Result<()> {
        let pending = &mut self.pending;
        match values.data_type() {
            DataType::UInt64 => {
                let values = primitive::<UInt64Type>(values)?.values();
                for_each_present(values, entries, nulls, |v| pending.push(v as i64));
            }
            DataType::UInt32 => {
                let values = primitive::<UInt32Type>(values)?.values();
                for_each_present(values, entries, nulls, |v| {
                    pending.push(i64::from(v as i32))
                });
            }
            other => return Err(unexpected_type("UInt64 or UInt32", other)),
        }
        Ok(())
    }

    fn encode_page(&mut self, out: &mut Vec<u8>) -> Result<Encoding> {
        if let Some(ranges) = &mut self.page_ranges {
            let unsigned = self.pending.iter().map(|&v| v as u64);
            if let (Some(min), Some(max)) = (unsigned.clone().min(), unsigned.max()) {
                ranges.push((min, max));
            }
        }
        encode_delta(&self.pending, self.int32, out);
        self.pending.clear();
        Ok(Encoding::DELTA_BINARY_PACKED)
    }

    fn close(&mut self) -> Result<ChunkExtras> {
        let mut extras = ChunkExtras::default();
        let Some(ranges) = &mut self.page_ranges else {
            return Ok(extras);
        };
        // Only `id` (required, so no page is all nulls) keeps ranges.
        if let (Some(min), Some(max)) = (
            ranges.iter().map(|r| r.0).min(),
            ranges.iter().map(|r| r.1).max(),
        ) {
            let mut index = ColumnIndexBuilder::new(Type::INT64);
            for &(low, high) in ranges.iter() {
                index.append(
                    false,
                    low.to_le_bytes().to_vec(),
                    high.to_le_bytes().to_vec(),
                    0,
                );
            }
            let ascending = ranges
                .windows(2)
                .all(|pair| pair[0].0 <= pair[1].0 && pair[0].1 <= pair[1].1);
            index.set_boundary_order(if ascending {
                BoundaryOrder::ASCENDING
            } else {
                BoundaryOrder::UNORDERED
            });
            extras.column_index = Some(index.build()?);
            extras.statistics = Some(Statistics::int64(
                Some(min as i64),
                Some(max as i64),
                None,
                Some(0),
                false,
            ));
        }
        ranges.clear();
        Ok(extras)
    }
}

/// Values per block, miniblocks per block, values per miniblock.
const DELTA_BLOCK: usize = 128;
const DELTA_MINIBLOCKS: usize = 4;
const DELTA_MINIBLOCK: usize = DELTA_BLOCK / DELTA_MINIBLOCKS;

fn write_zigzag(value: i64, out: &mut Vec<u8>) {
    write_varint(((value << 1) ^ (value >> 63)) as u64, out);
}

/// Parquet's DELTA_BINARY_PACKED: a header (block size, miniblocks per
/// block, value count, first value), then per block of 128 deltas the
/// smallest delta and each miniblock's deltas above it, bit-packed at the
/// miniblock's width.
fn encode_delta(values: &[i64], int32: bool, out: &mut Vec<u8>) {
    write_varint(DELTA_BLOCK as u64, out);
    write_varint(DELTA_MINIBLOCKS as u64, out);
    write_varint(values.len() as u64, out);
    write_zigzag(values.first().copied().unwrap_or(0), out);
    let delta = |pair: &[i64]| {
        if int32 {
            i64::from((pair[1] as i32).wrapping_sub(pair[0] as i32))
        } else {
            pair[1].wrapping_sub(pair[0])
        }
    };
    let mut deltas = [0i64; DELTA_BLOCK];
    let mut packed = [0u64; DELTA_BLOCK];
    for block_start in (0..values.len().saturating_sub(1)).step_by(DELTA_BLOCK) {
        let block = &values[block_start..values.len().min(block_start + DELTA_BLOCK + 1)];
        let count = block.len() - 1;
        for (slot, pair) in deltas.iter_mut().zip(block.windows(2)) {
            *slot = delta(pair);
        }
        let min = deltas[..count].iter().copied().min().unwrap_or(0);
        write_zigzag(min, out);
        for (slot, &d) in packed.iter_mut().zip(&deltas[..count]) {
            *slot = if int32 {
                u64::from((d as i32).wrapping_sub(min as i32) as u32)
            } else {
                d.wrapping_sub(min) as u64
            };
        }
        // A short last block: its last miniblock is padded with zeros,
        // miniblocks past its end have width 0 and no bytes.
        packed[count..].fill(0);
        let widths_at = out.len();
        out.resize(widths_at + DELTA_MINIBLOCKS, 0);
        for (miniblock, values) in packed.chunks(DELTA_MINIBLOCK).enumerate() {
            if miniblock * DELTA_MINIBLOCK >= count {
                break;
            }
            let largest = values.iter().fold(0, |all, &v| all | v);
            let width = (u64::BITS - largest.leading_zeros()) as u8;
            out[widths_at + miniblock] = width;
            if width > 0 {
                pack_bits(values, width, out);
            }
        }
    }
}

// PLAIN is little-endian: fixed-width values are copied as they lie in
// memory.
const _: () = assert!(
    cfg!(target_endian = "little"),
    "the trace writer copies PLAIN values from memory: little-endian targets only"
);

/// Appends the little-endian bytes of the present values of `entries`:
/// one copy when none is absent.
fn append_fixed<T: ArrowPrimitiveType>(
    pending: &mut Vec<u8>,
    values: &dyn Array,
    entries: Range<usize>,
    nulls: Option<&NullBuffer>,
) -> Result<()> {
    let values = primitive::<T>(values)?.values();
    match nulls {
        None => pending.extend_from_slice(values[entries].to_byte_slice()),
        Some(_) => for_each_present(values, entries, nulls, |v| {
            pending.extend_from_slice(v.to_byte_slice())
        }),
    }
    Ok(())
}

/// PLAIN values: fixed-width ones (`UInt64`, `Int64`, `Float64`) as
/// little-endian bytes, strings each as a 4-byte length and its bytes.
#[derive(Default)]
pub(crate) struct PlainValues {
    pending: Vec<u8>,
}

impl LeafValues for PlainValues {
    fn append(
        &mut self,
        values: &dyn Array,
        entries: Range<usize>,
        nulls: Option<&NullBuffer>,
    ) -> Result<()> {
        let pending = &mut self.pending;
        match values.data_type() {
            DataType::UInt64 => append_fixed::<UInt64Type>(pending, values, entries, nulls)?,
            DataType::Int64 => append_fixed::<Int64Type>(pending, values, entries, nulls)?,
            DataType::Float64 => append_fixed::<Float64Type>(pending, values, entries, nulls)?,
            DataType::Utf8 => {
                let values = values
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .ok_or_else(|| unexpected_type(DataType::Utf8, values.data_type()))?;
                let offsets = values.value_offsets();
                let bytes = values.value_data();
                let text = offsets[entries.end] - offsets[entries.start];
                pending.reserve(text as usize + 4 * entries.len());
                for entry in entries {
                    if nulls.is_none_or(|nulls| nulls.is_valid(entry)) {
                        let text = &bytes[offsets[entry] as usize..offsets[entry + 1] as usize];
                        pending.extend_from_slice(&(text.len() as u32).to_le_bytes());
                        pending.extend_from_slice(text);
                    }
                }
            }
            other => return Err(unexpected_type("UInt64, Int64, Float64 or Utf8", other)),
        }
        Ok(())
    }

    fn encode_page(&mut self, out: &mut Vec<u8>) -> Result<Encoding> {
        out.extend_from_slice(&self.pending);
        self.pending.clear();
        Ok(Encoding::PLAIN)
    }
}

/// BYTE_STREAM_SPLIT `UInt64`s: all first bytes, then all second bytes...
/// An input's source alternates between recent ids and a few old ones
/// (Consts, the object a loop reads): deltas between neighbours are as
/// wide as the ids, but split into byte streams the high bytes are runs
/// zstd packs away.
#[derive(Default)]
pub(crate) struct SplitValues {
    pending: Vec<u64>,
}

impl LeafValues for SplitValues {
    fn append(
        &mut self,
        values: &dyn Array,
        entries: Range<usize>,
        nulls: Option<&NullBuffer>,
    ) -> Result<()> {
        let values = primitive::<UInt64Type>(values)?.values();
        for_each_present(values, entries, nulls, |v| self.pending.push(v));
        Ok(())
    }

    fn encode_page(&mut self, out: &mut Vec<u8>) -> Result<Encoding> {
        // One pass per byte plane: sequential writes.
        for byte in 0..8 {
            let shift = byte * 8;
            out.extend(self.pending.iter().map(|&value| (value >> shift) as u8));
        }
        self.pending.clear();
        Ok(Encoding::BYTE_STREAM_SPLIT)
    }
}

/// PLAIN booleans: one bit each, least significant first.
#[derive(Default)]
pub(crate) struct BooleanValues {
    pending: Vec<u64>,
}

impl LeafValues for BooleanValues {
    fn append(
        &mut self,
        values: &dyn Array,
        entries: Range<usize>,
        nulls: Option<&NullBuffer>,
    ) -> Result<()> {
        let values = values
            .as_any()
            .downcast_ref::<BooleanArray>()
            .ok_or_else(|| unexpected_type(DataType::Boolean, values.data_type()))?;
        for entry in entries {
            if nulls.is_none_or(|nulls| nulls.is_valid(entry)) {
                self.pending.push(u64::from(values.value(entry)));
            }
        }
        Ok(())
    }

    fn encode_page(&mut self, out: &mut Vec<u8>) -> Result<Encoding> {
        pack_bits(&self.pending, 1, out);
        self.pending.clear();
        Ok(Encoding::PLAIN)
    }
}
