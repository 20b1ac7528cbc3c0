//! Writing query results: an aligned table for people, CSV, JSON, NDJSON,
//! Arrow IPC or Parquet for programs, to stdout or a file.

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::sync::Arc;

use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::parquet::arrow::ArrowWriter;

use crate::error::AnalyzeError;

/// Output formats of `query`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned table with a border (the default on a terminal).
    Table,
    Csv,
    /// One JSON array of objects.
    Json,
    /// One JSON object per line.
    Ndjson,
    /// A Parquet file (needs -o FILE).
    Parquet,
    /// An Arrow IPC stream (what `hltpy.open_trace(...).query` reads; not
    /// to a terminal).
    Arrow,
}

/// Writes `batches` (of `schema`) in `format` to `out` (stdout when
/// None). An empty result still has its columns: the table's header, the
/// CSV's header line, a Parquet file with no rows.
pub fn write(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    format: Format,
    out: Option<&str>,
) -> Result<(), AnalyzeError> {
    let empty;
    let batches = if batches.is_empty() {
        empty = [RecordBatch::new_empty(schema.clone())];
        &empty[..]
    } else {
        batches
    };
    let target = out.unwrap_or("standard output").to_string();
    let fail = |detail: String| AnalyzeError::Output {
        path: target.clone(),
        detail,
    };
    let mut sink: Box<dyn Write + Send> = match out {
        Some(path) => Box::new(File::create(path).map_err(|e| fail(e.to_string()))?),
        None => {
            if format == Format::Parquet {
                return Err(AnalyzeError::Usage(
                    "--format parquet writes a file: add -o FILE.parquet".into(),
                ));
            }
            if format == Format::Arrow && std::io::stdout().is_terminal() {
                return Err(AnalyzeError::Usage(
                    "--format arrow is binary: add -o FILE.arrow or pipe it to a reader".into(),
                ));
            }
            Box::new(super::Stdout)
        }
    };
    match format {
        Format::Table => {
            let table = pretty_format_batches(batches).map_err(|e| fail(e.to_string()))?;
            writeln!(sink, "{table}").map_err(|e| fail(e.to_string()))?;
        }
        Format::Csv => {
            let mut writer = datafusion::arrow::csv::Writer::new(&mut sink);
            for batch in batches {
                writer.write(batch).map_err(|e| fail(e.to_string()))?;
            }
        }
        Format::Json => {
            let mut writer = datafusion::arrow::json::ArrayWriter::new(&mut sink);
            let refs: Vec<&RecordBatch> = batches.iter().collect();
            writer
                .write_batches(&refs)
                .map_err(|e| fail(e.to_string()))?;
            writer.finish().map_err(|e| fail(e.to_string()))?;
            writeln!(sink).map_err(|e| fail(e.to_string()))?;
        }
        Format::Ndjson => {
            let mut writer = datafusion::arrow::json::LineDelimitedWriter::new(&mut sink);
            let refs: Vec<&RecordBatch> = batches.iter().collect();
            writer
                .write_batches(&refs)
                .map_err(|e| fail(e.to_string()))?;
            writer.finish().map_err(|e| fail(e.to_string()))?;
        }
        Format::Parquet => {
            let mut writer = ArrowWriter::try_new(&mut sink, schema.clone(), None)
                .map_err(|e| fail(e.to_string()))?;
            for batch in batches {
                writer.write(batch).map_err(|e| fail(e.to_string()))?;
            }
            writer.close().map_err(|e| fail(e.to_string()))?;
        }
        Format::Arrow => {
            let plain = Arc::new(Schema::new_with_metadata(
                schema
                    .fields()
                    .iter()
                    .map(|field| plain_field(field))
                    .collect::<Vec<_>>(),
                schema.metadata().clone(),
            ));
            let mut writer =
                datafusion::arrow::ipc::writer::StreamWriter::try_new(&mut sink, &plain)
                    .map_err(|e| fail(e.to_string()))?;
            for batch in batches {
                let columns = batch
                    .columns()
                    .iter()
                    .zip(plain.fields())
                    .map(|(column, field)| cast(column, field.data_type()))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| fail(e.to_string()))?;
                let batch = RecordBatch::try_new(plain.clone(), columns)
                    .map_err(|e| fail(e.to_string()))?;
                writer.write(&batch).map_err(|e| fail(e.to_string()))?;
            }
            writer.finish().map_err(|e| fail(e.to_string()))?;
        }
    }
    sink.flush().map_err(|e| fail(e.to_string()))
}

/// `field` as every Arrow reader converts it, nested fields too: the view
/// types DataFusion reads strings as (`Utf8View`, `BinaryView`) made plain
/// (`Utf8`, `Binary`; pyarrow before 16 cannot turn views into pandas or
/// NumPy), and dictionaries given signed keys (no pyarrow turns unsigned
/// dictionary keys, the trace's `file` and `type`, into pandas).
fn plain_field(field: &Field) -> Field {
    field.clone().with_data_type(plain_type(field.data_type()))
}

fn plain_type(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Utf8View => DataType::Utf8,
        DataType::BinaryView => DataType::Binary,
        DataType::List(item) => DataType::List(Arc::new(plain_field(item))),
        DataType::LargeList(item) => DataType::LargeList(Arc::new(plain_field(item))),
        DataType::Struct(fields) => {
            DataType::Struct(fields.iter().map(|field| plain_field(field)).collect())
        }
        DataType::Dictionary(key, value) => {
            let signed = match key.as_ref() {
                DataType::UInt8 => DataType::Int16,
                DataType::UInt16 => DataType::Int32,
                DataType::UInt32 | DataType::UInt64 => DataType::Int64,
                other => other.clone(),
            };
            DataType::Dictionary(Box::new(signed), Box::new(plain_type(value)))
        }
        other => other.clone(),
    }
}
