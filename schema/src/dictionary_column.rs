//! The dictionary encoding of the trace's dictionary columns (`kind`,
//! `file`, `type`, `inputs.role`), from the Arrow dictionary keys a batch
//! already holds. The generic writer looked each row's string up in a
//! hash table, or wrote `file` and `type` out in full on every row: a
//! third of the writer thread's work per node. Here a row costs a table
//! lookup and a few bits; the strings are written once per row group, in
//! the dictionary page.

use std::collections::HashMap;
use std::ops::Range;

use arrow_array::cast::AsArray;
use arrow_array::types::{ArrowDictionaryKeyType, Int8Type, UInt32Type};
use arrow_array::{Array, DictionaryArray, StringArray};
use arrow_buffer::{ArrowNativeType, NullBuffer};
use arrow_schema::DataType;
use parquet::basic::Encoding;
use parquet::errors::{ParquetError, Result};

use crate::column_chunk::{bit_width, encode_hybrid, ChunkExtras, LeafValues};

/// A chunk's dictionary, and the indices into it of the page being filled.
#[derive(Default)]
pub(crate) struct DictionaryValues {
    /// Every distinct string the chunk's pages index.
    values: Vec<String>,
    positions: HashMap<String, u32>,
    indices: Vec<u32>,
}

impl DictionaryValues {
    /// Each batch dictionary entry's position in the chunk's dictionary
    /// (new strings are added): a batch's keys are translated through it.
    fn translation(&mut self, dictionary: &dyn Array) -> Result<Vec<u32>> {
        let values = dictionary
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| {
                ParquetError::General(format!(
                    "dictionary values of type {}, not strings",
                    dictionary.data_type()
                ))
            })?;
        if values.null_count() > 0 {
            return Err(ParquetError::General(
                "a null in the dictionary values".into(),
            ));
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

    fn append_keys<K: ArrowDictionaryKeyType>(
        &mut self,
        column: &DictionaryArray<K>,
        entries: Range<usize>,
        nulls: Option<&NullBuffer>,
    ) -> Result<()> {
        let translation = self.translation(column.values().as_ref())?;
        let keys = &column.keys().values()[entries.clone()];
        match nulls {
            None => self
                .indices
                .extend(keys.iter().map(|key| translation[key.as_usize()])),
            Some(nulls) => self.indices.extend(
                entries
                    .zip(keys)
                    .filter(|&(entry, _)| nulls.is_valid(entry))
                    .map(|(_, key)| translation[key.as_usize()]),
            ),
        }
        Ok(())
    }
}

impl LeafValues for DictionaryValues {
    fn append(
        &mut self,
        values: &dyn Array,
        entries: Range<usize>,
        nulls: Option<&NullBuffer>,
    ) -> Result<()> {
        match values.data_type() {
            DataType::Dictionary(key, _) if **key == DataType::Int8 => {
                self.append_keys(values.as_dictionary::<Int8Type>(), entries, nulls)
            }
            DataType::Dictionary(key, _) if **key == DataType::UInt32 => {
                self.append_keys(values.as_dictionary::<UInt32Type>(), entries, nulls)
            }
            other => Err(ParquetError::General(format!(
                "expected a dictionary column with Int8 or UInt32 keys, got {other}"
            ))),
        }
    }

    /// The bit width, then the indices in the hybrid encoding.
    fn encode_page(&mut self, out: &mut Vec<u8>) -> Result<Encoding> {
        let width = bit_width(self.values.len().saturating_sub(1) as u64);
        out.push(width);
        encode_hybrid(&self.indices, width, out);
        self.indices.clear();
        Ok(Encoding::RLE_DICTIONARY)
    }

    fn close(&mut self) -> Result<ChunkExtras> {
        let mut plain = Vec::new();
        for value in &self.values {
            plain.extend_from_slice(&(value.len() as u32).to_le_bytes());
            plain.extend_from_slice(value.as_bytes());
        }
        let count = self.values.len() as u32;
        self.values.clear();
        self.positions.clear();
        Ok(ChunkExtras {
            dictionary: Some((plain, count)),
            ..ChunkExtras::default()
        })
    }
}
