//! The hand-written encoder fenced by the Parquet crate: the same batches
//! written by hltpy's [`TraceWriter`] and by the crate's `ArrowWriter`
//! decode to identical Arrow data, and to what was written, for batches
//! proptest draws (sizes, row groups, null densities, extreme values and
//! both encodings of `inputs.src`).

mod common;

use std::fs::File;
use std::path::Path;

use arrow_array::RecordBatch;
use hltpy_schema::{
    arrow_schema, InputKey, NodeBuffer, NodeInput, NodeKind, NodeRow, NodeValue, Role, RunEnd,
    RunInfo, TraceWriter, WriterOptions,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use proptest::prelude::*;

/// What proptest chooses; the rows themselves come from `seed`.
#[derive(Debug, Clone)]
struct Case {
    seed: u64,
    rows: usize,
    /// Batch sizes, cycled through.
    batches: Vec<usize>,
    row_group_rows: usize,
    /// Out of 8: how often a nullable value is present (0 all null, 8 none).
    presence: u64,
    byte_stream_split: bool,
}

fn cases() -> impl Strategy<Value = Case> {
    (
        any::<u64>(),
        prop_oneof![4 => 0usize..600, 1 => 16_000usize..40_000],
        prop::collection::vec(prop_oneof![1usize..10, 10usize..5_000, Just(16_384)], 1..4),
        prop_oneof![1usize..300, Just(1 << 18)],
        prop_oneof![Just(0u64), Just(8u64), 1u64..8],
        any::<bool>(),
    )
        .prop_map(
            |(seed, rows, batches, row_group_rows, presence, byte_stream_split)| Case {
                seed,
                rows,
                batches,
                row_group_rows,
                presence,
                byte_stream_split,
            },
        )
}

/// splitmix64: the rows of a case, deterministically.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

const TEXTS: [&str; 6] = ["", "x", "größe", "名前 🐍", "line\nbreak\0nul", "__add__"];

/// The batches of a case, as capture's buffer builds them.
fn batches_of(case: &Case) -> Vec<RecordBatch> {
    let mut random = Random(case.seed);
    let mut buffer = NodeBuffer::new();
    let files: Vec<u32> = ["a.py", "/tmp/ü.py"]
        .iter()
        .map(|f| buffer.intern_file(f))
        .collect();
    let types: Vec<u32> = ["int", "float", "m.Typé"]
        .iter()
        .map(|t| buffer.intern_type(t))
        .collect();
    let long = "ψ".repeat(5_000);
    let mut batches = Vec::new();
    let mut batch = 0;
    let mut id = random.below(1 << 20);
    for _ in 0..case.rows {
        let present = |random: &mut Random| random.below(8) < case.presence;
        id = match random.below(20) {
            0 => id.wrapping_add(1 << 63),
            1 => id.saturating_sub(random.below(500)),
            _ => id.wrapping_add(1),
        };
        let text = |random: &mut Random| {
            if random.below(50) == 0 {
                long.as_str()
            } else {
                random.pick(&TEXTS)
            }
        };
        let keys: Vec<&str> = (0..4).map(|_| text(&mut random)).collect();
        let inputs: Vec<NodeInput> = (0..match random.below(10) {
            0 => 40 + random.below(300),
            n => n % 4,
        })
            .map(|position| {
                let key = if !present(&mut random) {
                    InputKey::None
                } else if position % 2 == 0 {
                    InputKey::Index(random.next() >> random.below(64))
                } else {
                    InputKey::Name(keys[position as usize % keys.len()])
                };
                let src = match random.below(4) {
                    0 => random.next(),
                    1 => 3,
                    _ => id.wrapping_sub(1 + random.below(5)),
                };
                NodeInput::keyed(random.pick(Role::ALL), key, src)
            })
            .collect();
        let value_text = text(&mut random);
        // Drawn before `pick`, which holds the generator.
        let (any_int, any_bits, any_line) = (random.next(), random.next(), random.next());
        let value = if !present(&mut random) {
            NodeValue::Absent
        } else {
            match random.below(5) {
                0 => NodeValue::Int(random.pick(&[i64::MIN, i64::MAX, 0, -1, any_int as i64])),
                1 => NodeValue::Float(random.pick(&[
                    f64::NAN,
                    -0.0,
                    f64::NEG_INFINITY,
                    f64::from_bits(any_bits),
                ])),
                2 => NodeValue::Bool(random.below(2) == 0),
                3 => NodeValue::Str(value_text),
                _ => NodeValue::Repr(value_text),
            }
        };
        let name = present(&mut random).then(|| text(&mut random));
        buffer.push(&NodeRow {
            id,
            kind: random.pick(NodeKind::ALL),
            name,
            inputs: &inputs,
            frame: present(&mut random).then(|| random.next()),
            thread: random.pick(&[1, u64::MAX, 140_000_000_000_000]),
            file: present(&mut random).then(|| random.pick(&files)),
            line: present(&mut random).then(|| random.pick(&[0, 1, u32::MAX, any_line as u32])),
            type_name: present(&mut random).then(|| random.pick(&types)),
            value,
        });
        if buffer.len() == case.batches[batch % case.batches.len()] {
            batches.push(buffer.take_batch());
            batch += 1;
        }
    }
    if !buffer.is_empty() || batches.is_empty() {
        batches.push(buffer.take_batch());
    }
    batches
}

fn read_back(path: &Path) -> Vec<RecordBatch> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap())
        .unwrap()
        .build()
        .unwrap();
    reader.map(Result::unwrap).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn hltpy_encoder_and_the_parquet_crate_decode_alike(case in cases()) {
        let batches = batches_of(&case);
        let dir = tempfile::tempdir().unwrap();

        let ours = dir.path().join("hltpy.parquet");
        let options = WriterOptions {
            row_group_rows: case.row_group_rows,
            byte_stream_split: case.byte_stream_split,
            ..WriterOptions::default()
        };
        let mut writer = TraceWriter::create(&ours, &RunInfo::default(), &options).unwrap();
        for batch in &batches {
            writer.write(batch).unwrap();
        }
        writer.finish(&RunEnd::default()).unwrap();

        let theirs = dir.path().join("arrow.parquet");
        let mut writer = ArrowWriter::try_new(File::create(&theirs).unwrap(), arrow_schema(), None).unwrap();
        for batch in &batches {
            writer.write(batch).unwrap();
        }
        writer.close().unwrap();

        let (ours, theirs) = (read_back(&ours), read_back(&theirs));
        if case.rows == 0 {
            prop_assert!(ours.iter().chain(&theirs).all(|b| b.num_rows() == 0));
        } else {
            common::assert_same_columns(&batches, &theirs, "the Parquet crate's ArrowWriter");
            common::assert_same_columns(&batches, &ours, "hltpy's TraceWriter");
            common::assert_same_columns(&theirs, &ours, "hltpy's TraceWriter against ArrowWriter");
        }
    }
}
