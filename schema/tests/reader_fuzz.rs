//! Property test over the reader: any truncation or corruption of a real
//! trace gives either a trace that reads or an error naming the file, never
//! a panic.

use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use hltpy_schema::{
    InputKey, NodeBuffer, NodeInput, NodeKind, NodeRow, NodeValue, Role, RunEnd, RunInfo,
    TraceFile, TraceWriter, WriterOptions,
};
use proptest::prelude::*;

/// A trace with several row groups and every column in use.
fn trace_bytes() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seed.parquet");
    let options = WriterOptions {
        row_group_rows: 150,
        ..WriterOptions::default()
    };
    let mut writer = TraceWriter::create(&path, &RunInfo::default(), &options).unwrap();
    let mut buffer = NodeBuffer::new();
    let file = buffer.intern_file("prog.py");
    let types = [buffer.intern_type("int"), buffer.intern_type("str")];
    for id in 0..400u64 {
        let inputs = [
            NodeInput::new(Role::SelfValue, id.saturating_sub(1)),
            NodeInput::keyed(Role::Kwarg, InputKey::Name("scale"), id / 2),
        ];
        let text = format!("value {id}");
        buffer.push(&NodeRow {
            id,
            kind: if id % 3 == 0 {
                NodeKind::Const
            } else {
                NodeKind::UDispatch
            },
            name: (id % 3 != 0).then_some("__mul__"),
            inputs: if id % 3 == 0 { &[] } else { &inputs },
            frame: (id % 5 == 0).then_some(id / 5),
            thread: 7,
            file: Some(file),
            line: Some(id as u32),
            type_name: Some(types[(id % 2) as usize]),
            value: match id % 4 {
                0 => NodeValue::Int(id as i64),
                1 => NodeValue::Float(id as f64 / 3.0),
                2 => NodeValue::Str(&text),
                _ => NodeValue::Repr("<obj>"),
            },
        });
        if buffer.len() == 64 {
            writer.write(&buffer.take_batch()).unwrap();
        }
    }
    writer.write(&buffer.take_batch()).unwrap();
    writer
        .finish(&RunEnd {
            closed_cleanly: true,
            end_reason: "stopped".into(),
            ..RunEnd::default()
        })
        .unwrap();
    fs::read(&path).unwrap()
}

/// Opens and reads every row; Err(message) for a refused file.
fn read_all(path: &Path) -> Result<u64, String> {
    let trace = TraceFile::open_lenient(path).map_err(|e| e.to_string())?;
    let mut rows = 0;
    for batch in trace.batches().map_err(|e| e.to_string())? {
        rows += batch.map_err(|e| e.to_string())?.num_rows() as u64;
    }
    Ok(rows)
}

#[derive(Debug, Clone)]
enum Damage {
    /// Keep only the first `keep` bytes (as a fraction of the file).
    Truncate(f64),
    /// XOR `mask` into the byte at `at` (a fraction of the file), `count` times
    /// at `stride` apart.
    Flip {
        at: f64,
        mask: u8,
        count: usize,
        stride: usize,
    },
    /// Overwrite a run of bytes with one value.
    Overwrite { at: f64, len: usize, value: u8 },
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (0.0..1.0f64).prop_map(Damage::Truncate),
        (0.0..1.0f64, 1..=255u8, 1..8usize, 1..512usize).prop_map(|(at, mask, count, stride)| {
            Damage::Flip {
                at,
                mask,
                count,
                stride,
            }
        }),
        (0.0..1.0f64, 1..64usize, any::<u8>()).prop_map(|(at, len, value)| Damage::Overwrite {
            at,
            len,
            value
        }),
    ]
}

fn apply(bytes: &[u8], damage: &Damage) -> Vec<u8> {
    let position = |fraction: f64| ((bytes.len() as f64 * fraction) as usize).min(bytes.len() - 1);
    let mut out = bytes.to_vec();
    match *damage {
        Damage::Truncate(keep) => out.truncate(position(keep)),
        Damage::Flip {
            at,
            mask,
            count,
            stride,
        } => {
            for i in 0..count {
                let index = (position(at) + i * stride) % out.len();
                out[index] ^= mask;
            }
        }
        Damage::Overwrite { at, len, value } => {
            let start = position(at);
            let end = (start + len).min(out.len());
            out[start..end].fill(value);
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn damaged_traces_read_or_fail_with_a_named_error(damage in damage()) {
        let seed = SEED.with(|seed| seed.clone());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("damaged.parquet");
        fs::write(&path, apply(&seed, &damage)).unwrap();
        let outcome = catch_unwind(AssertUnwindSafe(|| read_all(&path)));
        prop_assert!(outcome.is_ok(), "the reader panicked on {:?}", damage);
        match outcome.unwrap() {
            // Damage in a value can go unnoticed (no checksums); the rows
            // that read back are then all of them.
            Ok(rows) => prop_assert_eq!(rows, 400),
            Err(message) => {
                prop_assert!(message.contains("damaged.parquet"), "{}", message);
                prop_assert_eq!(message.lines().count(), 1, "{}", message);
            }
        }
    }
}

thread_local! {
    static SEED: Vec<u8> = trace_bytes();
}
