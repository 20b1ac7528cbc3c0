//! Writing query results: an aligned table for people, CSV, JSON, NDJSON,
//! Arrow IPC or Parquet for programs, to stdout or a file.

use std::fs::File;
use std::io::{IsTerminal, Write};

use datafusion::arrow::datatypes::SchemaRef;
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
            let mut writer =
                datafusion::arrow::ipc::writer::StreamWriter::try_new(&mut sink, schema)
                    .map_err(|e| fail(e.to_string()))?;
            for batch in batches {
                writer.write(batch).map_err(|e| fail(e.to_string()))?;
            }
            writer.finish().map_err(|e| fail(e.to_string()))?;
        }
    }
    sink.flush().map_err(|e| fail(e.to_string()))
}
