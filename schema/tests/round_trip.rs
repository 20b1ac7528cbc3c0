//! Writer → reader round trips, and the reader's answer to every kind of bad file.

mod common;

use std::fs;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::Array;
use hltpy_schema::{
    meta, InputKey, NodeBuffer, NodeInput, NodeKind, NodeRow, NodeValue, Role, RunEnd, RunInfo,
    TraceError, TraceFile, TraceWriter, WriterOptions,
};

fn clean_end() -> RunEnd {
    RunEnd {
        closed_cleanly: true,
        end_reason: "stopped".into(),
        ..RunEnd::default()
    }
}

fn run_info() -> RunInfo {
    RunInfo {
        hltpy_version: "0.1.0".into(),
        python_version: "3.11.7".into(),
    }
}

/// Writes `count` nodes: a Const followed by UDispatch nodes that each add 1.
fn write_trace(path: &Path, count: u64, batch_rows: usize) -> u64 {
    let mut writer = TraceWriter::create(path, &run_info(), &WriterOptions::default()).unwrap();
    let mut buffer = NodeBuffer::new();
    let file = buffer.intern_file("prog.py");
    let int_type = buffer.intern_type("int");
    for id in 1..=count {
        let inputs = [
            NodeInput::new(Role::SelfValue, id - 1),
            NodeInput::keyed(Role::Arg, InputKey::Index(0), id - 1),
        ];
        buffer.push(&NodeRow {
            id,
            kind: if id == 1 {
                NodeKind::Const
            } else {
                NodeKind::UDispatch
            },
            name: (id > 1).then_some("__add__"),
            inputs: if id == 1 { &[] } else { &inputs },
            frame: None,
            thread: 1,
            file: Some(file),
            line: Some(id as u32),
            type_name: Some(int_type),
            value: NodeValue::Int(id as i64),
        });
        if buffer.len() == batch_rows {
            writer.write(&buffer.take_batch()).unwrap();
        }
    }
    if !buffer.is_empty() {
        writer.write(&buffer.take_batch()).unwrap();
    }
    writer
        .finish(&RunEnd {
            argv: vec!["prog.py".into(), "--flag=\"x\"".into()],
            traced_modules: vec!["mydsl".into()],
            closed_cleanly: true,
            end_reason: "stopped".into(),
            segment: None,
        })
        .unwrap()
}

#[test]
fn written_trace_reads_back_with_metadata_and_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    assert_eq!(write_trace(&path, 2500, 1000), 2500);
    assert!(!dir.path().join("t.parquet.partial").exists());
    let trace = TraceFile::open(&path).unwrap();
    assert_eq!(trace.rows(), 2500);
    let metadata = trace.metadata();
    assert_eq!(metadata.node_count, Some(2500));
    assert!(metadata.closed_cleanly);
    assert_eq!(metadata.argv, vec!["prog.py", "--flag=\"x\""]);
    assert_eq!(metadata.traced_modules, vec!["mydsl"]);
    assert_eq!(metadata.format_version, "1.3");
    assert!(trace.extra_columns().is_empty());
    let mut seen = 0;
    for batch in trace.batches().unwrap() {
        let batch = batch.unwrap();
        let kinds = batch.column_by_name("kind").unwrap().as_any_dictionary();
        let kind_names = kinds.values().as_string::<i32>();
        let first_kind = kind_names.value(kinds.normalized_keys()[0]);
        assert_eq!(first_kind, if seen == 0 { "Const" } else { "UDispatch" });
        seen += batch.num_rows();
    }
    assert_eq!(seen, 2500);
}

#[test]
fn empty_trace_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.parquet");
    let writer = TraceWriter::create(&path, &run_info(), &WriterOptions::default()).unwrap();
    assert_eq!(writer.finish(&clean_end()).unwrap(), 0);
    let trace = TraceFile::open(&path).unwrap();
    assert_eq!(trace.rows(), 0);
}

#[test]
fn unwritable_path_fails_at_create_and_names_it() {
    let err = TraceWriter::create(
        "/nonexistent-dir/x/trace.parquet",
        &run_info(),
        &WriterOptions::default(),
    )
    .err()
    .unwrap();
    let text = err.to_string();
    assert!(text.contains("/nonexistent-dir/x/trace.parquet"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let err = TraceWriter::create(dir.path(), &run_info(), &WriterOptions::default())
        .err()
        .unwrap();
    assert!(err.to_string().contains("is a directory"), "{err}");
}

#[test]
fn reader_rejects_missing_and_non_parquet_files() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.parquet");
    let err = TraceFile::open(&missing).unwrap_err();
    assert!(matches!(err, TraceError::Io { .. }), "{err}");
    assert!(err.to_string().contains("missing.parquet"));

    let text = dir.path().join("notes.parquet");
    fs::write(&text, "hello, this is text and not parquet at all").unwrap();
    let err = TraceFile::open(&text).unwrap_err();
    assert!(matches!(err, TraceError::NotParquet { .. }), "{err}");
    assert!(err.to_string().contains("notes.parquet"));

    let empty = dir.path().join("empty.parquet");
    fs::write(&empty, "").unwrap();
    let err = TraceFile::open(&empty).unwrap_err();
    assert!(matches!(err, TraceError::NotParquet { .. }), "{err}");
}

#[test]
fn reader_rejects_truncated_trace() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    write_trace(&path, 1000, 300);
    let bytes = fs::read(&path).unwrap();
    for cut in [bytes.len() / 2, bytes.len() - 3, 10] {
        let truncated = dir.path().join(format!("cut{cut}.parquet"));
        fs::write(&truncated, &bytes[..cut]).unwrap();
        let err = TraceFile::open(&truncated).unwrap_err();
        assert!(
            matches!(
                err,
                TraceError::NotParquet { .. } | TraceError::Corrupt { .. }
            ),
            "{err}"
        );
    }
}

fn write_plain_parquet(path: &Path, schema: arrow_schema::SchemaRef, kv: Vec<(&str, &str)>) {
    use parquet::arrow::ArrowWriter;
    use parquet::file::metadata::KeyValue;
    use parquet::file::properties::WriterProperties;
    let props = WriterProperties::builder()
        .set_key_value_metadata(Some(
            kv.into_iter()
                .map(|(k, v)| KeyValue::new(k.into(), v.to_string()))
                .collect(),
        ))
        .build();
    let file = fs::File::create(path).unwrap();
    let writer = ArrowWriter::try_new(file, schema, Some(props)).unwrap();
    writer.close().unwrap();
}

#[test]
fn reader_rejects_parquet_that_is_not_a_trace() {
    use arrow_schema::{DataType, Field, Schema};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();

    let other = dir.path().join("other.parquet");
    let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int32, false)]));
    write_plain_parquet(&other, schema, vec![]);
    let err = TraceFile::open(&other).unwrap_err();
    assert!(matches!(err, TraceError::NotATrace { .. }), "{err}");
    assert!(err.to_string().contains("hltpy.format"), "{err}");

    // Right metadata, but a column is missing.
    let base = hltpy_schema::arrow_schema();
    let without_line: Vec<_> = base
        .fields()
        .iter()
        .filter(|f| f.name() != "line")
        .map(|f| f.as_ref().clone())
        .collect();
    let missing_column = dir.path().join("missing_column.parquet");
    let trace_meta = vec![(meta::FORMAT, "hltpy-trace"), (meta::FORMAT_VERSION, "1.0")];
    write_plain_parquet(
        &missing_column,
        Arc::new(Schema::new(without_line)),
        trace_meta.clone(),
    );
    let err = TraceFile::open_lenient(&missing_column).unwrap_err();
    assert!(
        err.to_string().contains("column `line` is missing"),
        "{err}"
    );

    // A column of the wrong type.
    let mistyped: Vec<_> = base
        .fields()
        .iter()
        .map(|f| {
            if f.name() == "id" {
                Field::new("id", DataType::Utf8, false)
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    let mistyped_path = dir.path().join("mistyped.parquet");
    write_plain_parquet(&mistyped_path, Arc::new(Schema::new(mistyped)), trace_meta);
    let err = TraceFile::open_lenient(&mistyped_path).unwrap_err();
    assert!(
        err.to_string()
            .contains("column `id` has type Utf8, expected UInt64"),
        "{err}"
    );
}

#[test]
fn reader_rejects_newer_major_version_and_unclean_files() {
    let dir = tempfile::tempdir().unwrap();
    let newer = dir.path().join("newer.parquet");
    write_plain_parquet(
        &newer,
        hltpy_schema::arrow_schema(),
        vec![(meta::FORMAT, "hltpy-trace"), (meta::FORMAT_VERSION, "2.0")],
    );
    let err = TraceFile::open(&newer).unwrap_err();
    assert!(matches!(err, TraceError::NewerFormat { .. }), "{err}");
    assert!(err.to_string().contains("2.0"));

    let unclean = dir.path().join("unclean.parquet");
    write_plain_parquet(
        &unclean,
        hltpy_schema::arrow_schema(),
        vec![
            (meta::FORMAT, "hltpy-trace"),
            (meta::FORMAT_VERSION, "1.3"),
            (meta::CLOSED_CLEANLY, "false"),
            (meta::END_REASON, "interpreter exit"),
        ],
    );
    let err = TraceFile::open(&unclean).unwrap_err();
    assert!(matches!(err, TraceError::NotClosedCleanly { .. }), "{err}");
    assert!(err.to_string().contains("interpreter exit"));
    let lenient = TraceFile::open_lenient(&unclean).unwrap();
    assert!(!lenient.metadata().closed_cleanly);
}

#[test]
fn node_count_mismatch_is_reported_as_damage() {
    let dir = tempfile::tempdir().unwrap();
    let lying = dir.path().join("lying.parquet");
    write_plain_parquet(
        &lying,
        hltpy_schema::arrow_schema(),
        vec![
            (meta::FORMAT, "hltpy-trace"),
            (meta::FORMAT_VERSION, "1.0"),
            (meta::CLOSED_CLEANLY, "true"),
            (meta::NODE_COUNT, "5"),
        ],
    );
    let err = TraceFile::open(&lying).unwrap_err();
    assert!(
        err.to_string().contains("promises 5 nodes but it holds 0"),
        "{err}"
    );
}

#[test]
fn bit_flipped_files_give_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    write_trace(&path, 500, 100);
    let bytes = fs::read(&path).unwrap();
    // Deterministic spread of positions over the whole file, footer included.
    let step = (bytes.len() / 97).max(1);
    let mut refused = 0;
    for (round, position) in (0..bytes.len()).step_by(step).enumerate() {
        let mut flipped = bytes.clone();
        flipped[position] ^= 1 << (round % 8);
        let candidate = dir.path().join("flipped.parquet");
        fs::write(&candidate, &flipped).unwrap();
        // The rows read, or None when the reader refused the file.
        let outcome = std::panic::catch_unwind(|| {
            let batches = TraceFile::open(&candidate).ok()?.batches().ok()?;
            let mut rows = 0;
            for batch in batches {
                rows += batch.ok()?.num_rows();
            }
            Some(rows)
        });
        match outcome {
            Err(_) => panic!("reader panicked on a flip at byte {position}"),
            Ok(None) => refused += 1,
            // A flip in a value may go unnoticed; one in the structure may
            // not lose or invent rows.
            Ok(Some(rows)) => {
                assert_eq!(rows, 500, "a flip at byte {position} read as {rows} rows")
            }
        }
    }
    assert!(refused > 0, "no flip was noticed at all");
}

#[test]
fn arrays_have_expected_nulls() {
    let mut buffer = NodeBuffer::new();
    buffer.push(&NodeRow {
        id: 0,
        kind: NodeKind::Const,
        name: None,
        inputs: &[],
        frame: None,
        thread: 1,
        file: None,
        line: None,
        type_name: None,
        value: NodeValue::Float(f64::NAN),
    });
    let batch = buffer.take_batch();
    assert!(batch.column_by_name("file").unwrap().is_null(0));
    assert!(batch.column_by_name("value_int").unwrap().is_null(0));
    let floats = batch
        .column_by_name("value_float")
        .unwrap()
        .as_primitive::<arrow_array::types::Float64Type>();
    assert!(floats.value(0).is_nan());
}

/// A writer whose row groups hold `rows` rows, so a test's trace has
/// several.
fn writer_with_row_groups_of(rows: usize, path: &Path) -> TraceWriter {
    let options = WriterOptions {
        row_group_rows: rows,
        ..WriterOptions::default()
    };
    TraceWriter::create(path, &run_info(), &options).unwrap()
}

/// A repeatable stream of numbers: `next(m)` is in `0..m`.
fn numbers(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut state = seed;
    move |modulo| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) % modulo
    }
}

/// What one generated row holds in the dictionary columns.
struct DictionaryRow {
    kind: &'static str,
    file: Option<String>,
    type_name: Option<String>,
    roles: Vec<&'static str>,
}

/// Strings of `column` (a dictionary or plain string column) per row.
fn strings_of(column: &dyn Array) -> Vec<Option<String>> {
    let column = arrow_cast::cast(column, &arrow_schema::DataType::Utf8).unwrap();
    let column = column.as_string::<i32>();
    (0..column.len())
        .map(|row| column.is_valid(row).then(|| column.value(row).to_string()))
        .collect()
}

#[test]
fn dictionary_columns_read_back_exactly_across_pages_batches_and_row_groups() {
    // kind, file, type and inputs.role are written from their dictionary
    // keys: runs and mixed groups of keys, nulls (and a batch without),
    // empty input lists, files first seen in a later batch, a batch larger
    // than a page (16,384 rows) that is also split between two row groups.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    let mut writer = writer_with_row_groups_of(100_000, &path);
    let mut buffer = NodeBuffer::new();
    let mut expected = Vec::new();
    let mut next = numbers(12345);
    let total = 160_000u64;
    for id in 0..total {
        // Long runs of one kind in the first half, a mix in the second.
        let kind = if id < total / 2 {
            NodeKind::ALL[(id / 1000) as usize % NodeKind::ALL.len()]
        } else {
            NodeKind::ALL[next(NodeKind::ALL.len() as u64) as usize]
        };
        // One batch (rows 23,331..31,108) has a file and a type on every row.
        let complete = (23_331..31_108).contains(&id);
        let file = match next(4) {
            0 if !complete => None,
            _ => Some(format!("module_{}.py", next(1 + id / 20_000))),
        };
        let type_name = (complete || next(3) != 0)
            .then(|| ["int", "float", "str"][next(3) as usize].to_string());
        let inputs: Vec<NodeInput> = (0..next(4))
            .map(|_| NodeInput::new(Role::ALL[next(Role::ALL.len() as u64) as usize], id))
            .collect();
        let file_index = file.as_deref().map(|f| buffer.intern_file(f));
        let type_index = type_name.as_deref().map(|t| buffer.intern_type(t));
        buffer.push(&NodeRow {
            id,
            kind,
            name: None,
            inputs: &inputs,
            frame: None,
            thread: 1,
            file: file_index,
            line: None,
            type_name: type_index,
            value: NodeValue::Absent,
        });
        expected.push(DictionaryRow {
            kind: kind.as_str(),
            file,
            type_name,
            roles: inputs.iter().map(|input| input.role.as_str()).collect(),
        });
        // Batches of 7,777 rows, then one of 70,000 (rows 90,000..160,000).
        let batch_end = if id < 90_000 {
            buffer.len() == 7_777 || id == 89_999
        } else {
            id == total - 1
        };
        if batch_end {
            writer.write(&buffer.take_batch()).unwrap();
        }
    }
    assert_eq!(writer.finish(&clean_end()).unwrap(), total);

    let trace = TraceFile::open(&path).unwrap();
    let mut row = 0;
    for batch in trace.batches().unwrap() {
        let batch = batch.unwrap();
        let kinds = strings_of(batch.column_by_name("kind").unwrap());
        let files = strings_of(batch.column_by_name("file").unwrap());
        let types = strings_of(batch.column_by_name("type").unwrap());
        let inputs = batch.column_by_name("inputs").unwrap().as_list::<i32>();
        let roles = strings_of(inputs.values().as_struct().column_by_name("role").unwrap());
        for index in 0..batch.num_rows() {
            let want = &expected[row];
            assert_eq!(
                kinds[index].as_deref(),
                Some(want.kind),
                "kind of row {row}"
            );
            assert_eq!(files[index], want.file, "file of row {row}");
            assert_eq!(types[index], want.type_name, "type of row {row}");
            let range =
                inputs.value_offsets()[index] as usize..inputs.value_offsets()[index + 1] as usize;
            let got: Vec<&str> = roles[range].iter().map(|r| r.as_deref().unwrap()).collect();
            assert_eq!(got, want.roles, "roles of row {row}");
            row += 1;
        }
    }
    assert_eq!(row, total as usize);
}

#[test]
fn every_column_reads_back_exactly_whatever_the_batch_sizes() {
    // Every column with the values that stress its encoding: ids that jump
    // back and by more than 2^63 (delta wraps), lines near u32::MAX (32-bit
    // deltas), i64::MIN/MAX ints, NaN/-0.0/infinite floats, empty and
    // non-ASCII strings, inputs with and without keys, nulls everywhere a
    // column allows them; in batches of 1 row, a few rows, thousands, and
    // one of 70,000 that crosses pages (16,384 rows) and a row group.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    let mut writer = writer_with_row_groups_of(100_000, &path);
    let mut buffer = NodeBuffer::new();
    let mut written = Vec::new();
    let mut next = numbers(987654321);
    let names = ["__add__", "", "größe", "x", "a longer attribute name"];
    let texts = ["", "hé", "line\nbreak", "snowman ☃", "plain"];
    let total = 150_000u64;
    let mut id = 5u64;
    let mut batch_rows = 1;
    for row in 0..total {
        id = match next(50) {
            0 => id.wrapping_add(1 << 63) ^ next(1000),
            1 => id.saturating_sub(next(1_000)),
            _ => id + 1,
        };
        let value = match next(9) {
            0 => NodeValue::Absent,
            1 => NodeValue::Int([i64::MIN, i64::MAX, -1, 0][next(4) as usize]),
            2 => NodeValue::Int(next(1 << 40) as i64 - (1 << 39)),
            3 => NodeValue::Float([f64::NAN, -0.0, f64::INFINITY, 1.5e-300][next(4) as usize]),
            4 => NodeValue::Float(next(1 << 20) as f64 / 7.0),
            5 => NodeValue::Bool(next(2) == 1),
            6 => NodeValue::Str(texts[next(5) as usize]),
            7 => NodeValue::Repr(texts[next(5) as usize]),
            _ => NodeValue::Int(row as i64),
        };
        let key_names: Vec<String> = (0..4).map(|k| format!("k{k}_{}", next(3))).collect();
        let inputs: Vec<NodeInput> = (0..next(5))
            .map(|position| {
                let key = match next(3) {
                    0 => InputKey::None,
                    1 => InputKey::Index(next(1 << 33)),
                    _ => InputKey::Name(&key_names[position as usize]),
                };
                let src = if next(2) == 0 {
                    id.wrapping_sub(1)
                } else {
                    next(u64::MAX)
                };
                NodeInput::keyed(Role::ALL[next(Role::ALL.len() as u64) as usize], key, src)
            })
            .collect();
        let file = (next(5) != 0).then(|| buffer.intern_file(&format!("f{}.py", next(3))));
        let type_name = (next(5) != 0).then(|| buffer.intern_type("int"));
        buffer.push(&NodeRow {
            id,
            kind: NodeKind::ALL[next(NodeKind::ALL.len() as u64) as usize],
            name: (next(3) != 0).then(|| names[next(5) as usize]),
            inputs: &inputs,
            frame: (next(3) != 0).then(|| next(1 << 50)),
            thread: [1, u64::MAX - 1, 140_000_000_000_000][next(3) as usize],
            file,
            line: match next(4) {
                0 => None,
                1 => Some(u32::MAX - 1 - next(3) as u32),
                _ => Some(next(5_000) as u32),
            },
            type_name,
            value,
        });
        if buffer.len() == batch_rows || row == total - 1 {
            let batch = buffer.take_batch();
            writer.write(&batch).unwrap();
            written.push(batch);
            // 1, 2, 4 ... 4,096 rows, again and again; then 70,000.
            batch_rows = if row >= 75_000 {
                70_000
            } else if batch_rows >= 4_096 {
                1
            } else {
                batch_rows * 2
            };
        }
    }
    assert_eq!(writer.finish(&clean_end()).unwrap(), total);

    let trace = TraceFile::open(&path).unwrap();
    let read: Vec<_> = trace.batches().unwrap().map(Result::unwrap).collect();
    common::assert_same_columns(&written, &read, "hltpy's reader");
}

#[test]
fn ids_have_a_page_index_and_chunk_statistics() {
    // `expr` finds a node by id through the page index: each page's
    // smallest and largest id (pages of 16,384 rows, written in batches
    // of 10,000).
    use parquet::file::page_index::column_index::ColumnIndexMetaData;
    use parquet::file::reader::FileReader;
    use parquet::file::serialized_reader::{ReadOptionsBuilder, SerializedFileReader};
    const PAGE: i64 = 16_384;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    let count = 200_000;
    write_trace(&path, count, 10_000);
    let options = ReadOptionsBuilder::new().with_page_index().build();
    let reader =
        SerializedFileReader::new_with_options(fs::File::open(&path).unwrap(), options).unwrap();
    let metadata = reader.metadata();
    let id_column = 0;
    let chunk = metadata.row_group(0).column(id_column);
    assert_eq!(chunk.column_path().string(), "id");
    // The chunk lists the encodings its pages use: delta for the ids, no
    // levels (a required column); a dictionary column adds RLE for its
    // indices' levels and PLAIN for its dictionary page.
    let encodings = |column: usize| {
        let mut names: Vec<String> = metadata
            .row_group(0)
            .column(column)
            .encodings()
            .map(|e| e.to_string())
            .collect();
        names.sort();
        names
    };
    assert_eq!(encodings(id_column), ["DELTA_BINARY_PACKED"]);
    let file_column = (0..metadata.row_group(0).num_columns())
        .find(|&c| metadata.row_group(0).column(c).column_path().string() == "file")
        .unwrap();
    assert_eq!(encodings(file_column), ["PLAIN", "RLE", "RLE_DICTIONARY"]);
    let statistics = chunk.statistics().expect("id has chunk statistics");
    assert_eq!(statistics.min_bytes_opt(), Some(&1i64.to_le_bytes()[..]));
    assert_eq!(
        statistics.max_bytes_opt(),
        Some(&(count as i64).to_le_bytes()[..])
    );
    let index = &metadata.column_index().expect("a page index")[0][id_column];
    let ColumnIndexMetaData::INT64(index) = index else {
        panic!("id's page index is {index:?}")
    };
    // write_trace's ids are 1..=count, in the first (only) row group.
    let pages = count.div_ceil(PAGE as u64) as usize;
    let got: Vec<(i64, i64)> = (0..pages)
        .map(|page| {
            (
                *index.min_value(page).unwrap(),
                *index.max_value(page).unwrap(),
            )
        })
        .collect();
    let want: Vec<(i64, i64)> = (0..pages as i64)
        .map(|page| (page * PAGE + 1, ((page + 1) * PAGE).min(count as i64)))
        .collect();
    assert_eq!(got, want);
    assert_eq!(index.min_values().len(), pages, "one entry per page");
    let locations = &metadata.offset_index().unwrap()[0][id_column];
    let first_rows: Vec<i64> = locations
        .page_locations()
        .iter()
        .map(|page| page.first_row_index)
        .collect();
    let want: Vec<i64> = (0..pages as i64).map(|page| page * PAGE).collect();
    assert_eq!(first_rows, want);
}

/// The widest delta miniblock (bits per delta) of each column that has
/// DELTA_BINARY_PACKED pages, read from the file's pages.
fn widest_delta_miniblocks(path: &Path) -> Vec<(String, u8)> {
    use parquet::basic::Encoding;
    use parquet::column::page::Page;
    use parquet::file::reader::FileReader;
    use parquet::file::serialized_reader::SerializedFileReader;

    fn varint(bytes: &[u8], at: &mut usize) -> u64 {
        let mut value = 0;
        for shift in (0..64).step_by(7) {
            let byte = bytes[*at];
            *at += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                break;
            }
        }
        value
    }
    let reader = SerializedFileReader::new(fs::File::open(path).unwrap()).unwrap();
    let mut widest: Vec<(String, u8)> = Vec::new();
    for group in 0..reader.num_row_groups() {
        let group = reader.get_row_group(group).unwrap();
        for column in 0..group.num_columns() {
            let descr = group.metadata().column(column).column_descr_ptr();
            let mut pages = group.get_column_page_reader(column).unwrap();
            while let Some(page) = pages.get_next_page().unwrap() {
                let Page::DataPage {
                    buf,
                    encoding: Encoding::DELTA_BINARY_PACKED,
                    ..
                } = page
                else {
                    continue;
                };
                // v1 page: each level section is its length (u32) and RLE runs.
                let mut at = 0;
                let level_sections =
                    usize::from(descr.max_rep_level() > 0) + usize::from(descr.max_def_level() > 0);
                for _ in 0..level_sections {
                    at += 4 + u32::from_le_bytes(buf[at..at + 4].try_into().unwrap()) as usize;
                }
                let block = varint(&buf, &mut at) as usize;
                let miniblocks = varint(&buf, &mut at) as usize;
                let mut deltas_left = (varint(&buf, &mut at) as usize).saturating_sub(1);
                varint(&buf, &mut at); // the first value
                let mut page_widest = 0;
                while deltas_left > 0 {
                    varint(&buf, &mut at); // the block's smallest delta
                    let widths = buf[at..at + miniblocks].to_vec();
                    at += miniblocks;
                    for &width in &widths {
                        if deltas_left == 0 {
                            break;
                        }
                        page_widest = page_widest.max(width);
                        at += usize::from(width) * block / miniblocks / 8;
                        deltas_left = deltas_left.saturating_sub(block / miniblocks);
                    }
                }
                let name = descr.path().string();
                match widest.iter_mut().find(|(column, _)| *column == name) {
                    Some((_, width)) => *width = (*width).max(page_widest),
                    None => widest.push((name, page_widest)),
                }
            }
        }
    }
    widest
}

#[test]
fn delta_pages_stay_narrow_enough_for_fastparquet_whatever_the_values() {
    // fastparquet (2026.9) decodes a delta miniblock wider than 56 bits by
    // reading past its buffer: a reader that crashes now and then. Frames,
    // threads, ints and input ids spanning 64 bits, lines near u32::MAX
    // (32-bit deltas), ids as capture writes them (rising, a few back):
    // no delta miniblock of the file is wider than 56 bits.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    let mut writer = writer_with_row_groups_of(20_000, &path);
    let mut buffer = NodeBuffer::new();
    let mut next = numbers(42);
    // `numbers` gives 53 bits at most: two halves make any u64.
    let mut any_u64 = numbers(43);
    let mut any_u64 = move || (any_u64(1 << 32) << 32) | any_u64(1 << 32);
    let mut id = 0u64;
    for _ in 0..50_000 {
        id = if next(10) == 0 {
            id.saturating_sub(next(100))
        } else {
            id + 1 + next(3)
        };
        let inputs = [NodeInput::new(Role::Arg, any_u64())];
        buffer.push(&NodeRow {
            id,
            kind: NodeKind::UDispatch,
            name: Some("__add__"),
            inputs: &inputs,
            frame: (next(4) != 0).then(&mut any_u64),
            thread: any_u64(),
            file: None,
            line: (next(4) != 0).then(|| [0, u32::MAX - 1, any_u64() as u32][next(3) as usize]),
            type_name: None,
            value: NodeValue::Int(any_u64() as i64),
        });
        if buffer.len() == 7_000 {
            writer.write(&buffer.take_batch()).unwrap();
        }
    }
    writer.write(&buffer.take_batch()).unwrap();
    writer.finish(&clean_end()).unwrap();
    let widest = widest_delta_miniblocks(&path);
    for (column, width) in &widest {
        assert!(*width <= 56, "{column} has a {width}-bit delta miniblock");
    }
    let columns: Vec<&str> = widest.iter().map(|(column, _)| column.as_str()).collect();
    assert_eq!(columns, ["id", "line"], "the columns written with delta");
}
