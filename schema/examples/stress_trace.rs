//! Writes a trace that tries every corner of the file layout, for the
//! Parquet reader matrix (`tests/interop`): several row groups of many
//! pages, batches of odd sizes, nulls in every nullable column (whole
//! pages of them, none at all, and mixed within a page), non-ASCII and very
//! long strings, the extremes of every integer column (unsigned ones past
//! the signed range), NaN, ±0.0 and ±infinity, empty and long input lists.
//! The rows need not make a sensible program: readers are being tested,
//! not the analyzer.
//!
//! Usage: stress_trace OUT.parquet [ROWS] [--byte-stream-split]
//! (ROWS defaults to 600,000: three row groups.)

mod common;

use std::process::ExitCode;

use hltpy_schema::{
    InputKey, NodeBuffer, NodeInput, NodeKind, NodeRow, NodeValue, Role, RunEnd, RunInfo,
    TraceError, TraceWriter, WriterOptions,
};

/// Batch sizes cycled through: single rows, page-sized and larger batches,
/// so pages fill across batch boundaries.
const BATCH_SIZES: [usize; 6] = [1, 7, 1000, 16_384, 70_000, 333];
/// Rows per stretch of one null pattern (see [`Regime`]).
const REGIME_ROWS: u64 = 20_000;

const NAMES: [&str; 6] = [
    "x",
    "__add__",
    "π_ŝum",
    "名前",
    "🐍 snake",
    "a\u{0}b\nc\"'\\",
];
const FILES: [&str; 3] = [
    "/home/user/project/model.py",
    "/tmp/Ünïcödé/ファイル.py",
    "C:\\Users\\me\\prog.py",
];

/// xorshift64*: every run writes the same file.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }
}

/// Which columns are null over a stretch of rows: readers take different
/// paths for a page with no nulls, one of only nulls and a mixed one.
#[derive(Clone, Copy)]
enum Regime {
    Mixed,
    AllPresent,
    AllNull,
}

impl Regime {
    fn of(row: u64) -> Regime {
        match (row / REGIME_ROWS) % 4 {
            1 => Regime::AllPresent,
            3 => Regime::AllNull,
            _ => Regime::Mixed,
        }
    }

    fn present(self, random: &mut Random) -> bool {
        match self {
            Regime::Mixed => !random.chance(3),
            Regime::AllPresent => true,
            Regime::AllNull => false,
        }
    }
}

const INTS: [i64; 7] = [0, -1, 1, i64::MIN, i64::MAX, 1 << 53, -(1 << 40)];
const FLOATS: [f64; 8] = [
    f64::NAN,
    -0.0,
    0.0,
    f64::INFINITY,
    f64::NEG_INFINITY,
    5e-324,
    f64::MAX,
    -1.5,
];

struct Stress {
    random: Random,
    long_text: String,
    files: Vec<u32>,
    types: Vec<u32>,
}

impl Stress {
    fn text(&mut self) -> String {
        match self.random.below(5000) {
            0..=99 => String::new(),
            // Very long: 70,000 characters of two to four bytes each.
            100 => self.long_text.clone(),
            n => format!(
                "{}-{n}",
                NAMES[self.random.below(NAMES.len() as u64) as usize]
            ),
        }
    }

    fn write(&mut self, writer: &mut TraceWriter, rows: u64) -> Result<(), TraceError> {
        let mut buffer = NodeBuffer::with_capacity(1 << 16);
        self.files = FILES.iter().map(|f| buffer.intern_file(f)).collect();
        self.types = (0..300)
            .map(|i| buffer.intern_type(&format!("mod_{i}.Typé{i}")))
            .collect();
        let mut batch = 0;
        let mut in_batch = 0;
        for row in 0..rows {
            let regime = Regime::of(row);
            // Ids unique but not in row order: neighbours swapped.
            let id = row ^ 1;
            let kind = NodeKind::ALL[self.random.below(NodeKind::ALL.len() as u64) as usize];
            let name = regime.present(&mut self.random).then(|| self.text());
            let input_count = match self.random.below(200) {
                0..=59 => 0,
                60 => 300 + self.random.below(200),
                n => n % 4,
            };
            let keys: Vec<Option<String>> = (0..input_count)
                .map(|_| regime.present(&mut self.random).then(|| self.text()))
                .collect();
            let inputs: Vec<NodeInput<'_>> = keys
                .iter()
                .enumerate()
                .map(|(position, key)| {
                    let role = Role::ALL[(row as usize + position) % Role::ALL.len()];
                    let key = match key {
                        None => InputKey::None,
                        Some(_) if position % 3 == 0 => InputKey::Index(position as u64),
                        Some(text) => InputKey::Name(text),
                    };
                    let src = match position % 5 {
                        0 => row.saturating_sub(1),
                        1 => 3,
                        _ => self.random.below(row + 1),
                    };
                    NodeInput::keyed(role, key, src)
                })
                .collect();
            let frame = regime.present(&mut self.random).then(|| {
                if self.random.chance(50) {
                    u64::MAX - self.random.below(10)
                } else {
                    self.random.below(row + 1)
                }
            });
            let thread = if row % 100_000 < 10 {
                u64::MAX - row % 7
            } else {
                140_000_000_000_000 + row / 50_000
            };
            let file = regime
                .present(&mut self.random)
                .then(|| self.files[self.random.below(self.files.len() as u64) as usize]);
            let line = regime.present(&mut self.random).then(|| {
                if self.random.chance(40) {
                    u32::MAX - self.random.below(3) as u32
                } else {
                    1 + self.random.below(5000) as u32
                }
            });
            let type_name = regime
                .present(&mut self.random)
                .then(|| self.types[self.random.below(self.types.len() as u64) as usize]);
            let text;
            let value = if !regime.present(&mut self.random) {
                NodeValue::Absent
            } else {
                match self.random.below(5) {
                    0 if self.random.chance(4) => {
                        NodeValue::Int(INTS[self.random.below(INTS.len() as u64) as usize])
                    }
                    0 => NodeValue::Int(self.random.next() as i64 >> self.random.below(64)),
                    1 if self.random.chance(3) => {
                        NodeValue::Float(FLOATS[self.random.below(FLOATS.len() as u64) as usize])
                    }
                    1 => NodeValue::Float(f64::from_bits(self.random.next() >> 2)),
                    2 => NodeValue::Bool(self.random.chance(2)),
                    3 => {
                        text = self.text();
                        NodeValue::Str(&text)
                    }
                    _ => {
                        text = format!("<{} object>", self.text());
                        NodeValue::Repr(&text)
                    }
                }
            };
            buffer.push(&NodeRow {
                id,
                kind,
                name: name.as_deref(),
                inputs: &inputs,
                frame,
                thread,
                file,
                line,
                type_name,
                value,
            });
            in_batch += 1;
            if in_batch == BATCH_SIZES[batch % BATCH_SIZES.len()] || buffer.at_limit() {
                writer.write(&buffer.take_batch())?;
                batch += 1;
                in_batch = 0;
            }
        }
        if !buffer.is_empty() {
            writer.write(&buffer.take_batch())?;
        }
        Ok(())
    }
}

fn main() -> ExitCode {
    let (path, rows, flags) =
        match common::command_line("stress_trace", "ROWS", 600_000, &["--byte-stream-split"]) {
            Ok(command) => command,
            Err(code) => return code,
        };
    let run = RunInfo {
        hltpy_version: env!("CARGO_PKG_VERSION").into(),
        python_version: "stress".into(),
    };
    let options = WriterOptions {
        byte_stream_split: flags.iter().any(|f| f == "--byte-stream-split"),
        ..WriterOptions::default()
    };
    let written = TraceWriter::create(&path, &run, &options).and_then(|mut writer| {
        let mut stress = Stress {
            random: Random(0x5DEE_CE66_D1CE_5EED),
            long_text: "ψ€😀".repeat(70_000 / 3),
            files: Vec::new(),
            types: Vec::new(),
        };
        stress.write(&mut writer, rows)?;
        writer.finish(&RunEnd {
            argv: vec!["stress_trace".into(), "ünïcödé argv".into()],
            traced_modules: vec!["stress".into()],
            closed_cleanly: true,
            end_reason: "stress trace finished".into(),
            segment: None,
        })
    });
    common::report("stress_trace", &path, written)
}
