//! Helpers the schema's integration tests share.

use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Fields};

/// `batch` with its dictionary columns (top-level and the inputs' role)
/// cast to plain strings, so batches with different dictionaries compare.
pub fn undictionary(batch: &RecordBatch) -> Vec<ArrayRef> {
    let plain = |data_type: &DataType| match data_type {
        DataType::Dictionary(_, _) => DataType::Utf8,
        other => other.clone(),
    };
    batch
        .schema()
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(field, column)| {
            let target = match field.data_type() {
                DataType::List(item) => {
                    let DataType::Struct(fields) = item.data_type() else {
                        panic!("inputs items are structs")
                    };
                    let fields: Fields = fields
                        .iter()
                        .map(|f| Field::new(f.name(), plain(f.data_type()), f.is_nullable()))
                        .collect();
                    DataType::List(std::sync::Arc::new(Field::new(
                        item.name(),
                        DataType::Struct(fields),
                        item.is_nullable(),
                    )))
                }
                other => plain(other),
            };
            arrow_cast::cast(column, &target).unwrap()
        })
        .collect()
}

/// The batches' columns, each concatenated into one plain array.
/// Dictionaries differ between batches (and i8 keys of many batches
/// overflow if concatenated): columns are compared as plain arrays.
pub fn whole(batches: &[RecordBatch]) -> Vec<ArrayRef> {
    let plain: Vec<_> = batches.iter().map(undictionary).collect();
    (0..plain[0].len())
        .map(|column| {
            let parts: Vec<&dyn Array> = plain.iter().map(|b| b[column].as_ref()).collect();
            arrow_select::concat::concat(&parts).unwrap()
        })
        .collect()
}

/// Asserts that two sequences of trace batches hold the same rows, naming
/// the first column and row that differ (and `what` read `got`).
pub fn assert_same_columns(want: &[RecordBatch], got: &[RecordBatch], what: &str) {
    let schema = want[0].schema();
    let rows: usize = want.iter().map(RecordBatch::num_rows).sum();
    for ((field, want), got) in schema.fields().iter().zip(whole(want)).zip(whole(got)) {
        assert_eq!(got.len(), rows, "{what}: rows of column {}", field.name());
        if want.to_data() != got.to_data() {
            let first = (0..want.len())
                .find(|&row| want.slice(row, 1) != got.slice(row, 1))
                .unwrap_or(0);
            panic!(
                "{what}: column {} differs first at row {first}: wrote {:?}, read {:?}",
                field.name(),
                want.slice(first, 1),
                got.slice(first, 1)
            );
        }
    }
}
