//! Buffer of nodes: rows are appended one at a time (capture's hot path)
//! and taken out as an Arrow `RecordBatch` of the trace schema, built from
//! the rows when they are taken out (possibly on another thread).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use arrow_array::types::{Int8Type, UInt32Type};
use arrow_array::{
    ArrayRef, BooleanArray, DictionaryArray, Float64Array, Int64Array, Int8Array, ListArray,
    RecordBatch, StringArray, StructArray, UInt32Array, UInt64Array,
};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};

use crate::model::{arrow_schema, input_fields, input_item_field, NodeKind, Role};

/// How an input is told apart from its siblings of the same role.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum InputKey<'a> {
    None,
    /// A position: argument index, tuple index, iteration count.
    Index(u64),
    /// A name or printed key: keyword, parameter name, dict key.
    Name(&'a str),
}

/// One input of a node: `src` is the id of the node that flows in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NodeInput<'a> {
    pub role: Role,
    pub key: InputKey<'a>,
    pub src: u64,
}

impl<'a> NodeInput<'a> {
    pub fn new(role: Role, src: u64) -> Self {
        NodeInput {
            role,
            key: InputKey::None,
            src,
        }
    }

    pub fn keyed(role: Role, key: InputKey<'a>, src: u64) -> Self {
        NodeInput { role, key, src }
    }
}

/// The value a node stands for, in the column that fits it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NodeValue<'a> {
    /// No value recorded (e.g. a node whose value is not kept).
    Absent,
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(&'a str),
    /// A bounded printable form, for values that are none of the above.
    Repr(&'a str),
}

/// One node, borrowed for the time of [`NodeBuffer::push`].
#[derive(Clone, Copy, Debug)]
pub struct NodeRow<'a> {
    pub id: u64,
    pub kind: NodeKind,
    pub name: Option<&'a str>,
    pub inputs: &'a [NodeInput<'a>],
    pub frame: Option<u64>,
    pub thread: u64,
    /// Index returned by [`NodeBuffer::intern_file`].
    pub file: Option<u32>,
    pub line: Option<u32>,
    /// Index returned by [`NodeBuffer::intern_type`].
    pub type_name: Option<u32>,
    pub value: NodeValue<'a>,
}

const DIGITS: &str = "0123456789";

/// Strings that repeat on most rows (file paths, type names) are stored once
/// and referred to by index; every batch carries the whole table as its
/// dictionary, so batches stay independent of each other.
#[derive(Default)]
struct InternTable {
    values: Vec<String>,
    index: HashMap<String, u32>,
}

impl InternTable {
    fn intern(&mut self, text: &str) -> u32 {
        if let Some(&index) = self.index.get(text) {
            return index;
        }
        let index = self.values.len() as u32;
        self.values.push(text.to_owned());
        self.index.insert(text.to_owned(), index);
        index
    }
}

/// A run of text in a buffer's arena. 32-bit: a batch's text is flushed
/// before it reaches [`NodeBuffer::MAX_BATCH_ITEMS`], and small rows are
/// cheaper to write on the program's thread.
#[derive(Clone, Copy)]
struct Span {
    start: u32,
    len: u32,
}

/// Stands for "none" in a row's 32-bit fields (a file or type index, a
/// line, a name): no real one reaches it. Sentinels instead of `Option`
/// keep a row at 72 bytes instead of 120; rows are written once per
/// operation on the program's thread.
const NONE_U32: u32 = u32::MAX;
/// "No frame": frames are node ids, far below it.
const NONE_U64: u64 = u64::MAX;
const NO_SPAN: Span = Span {
    start: 0,
    len: NONE_U32,
};

fn from_option(value: Option<u32>) -> u32 {
    value.unwrap_or(NONE_U32)
}

#[derive(Clone, Copy)]
enum RowValue {
    Absent,
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(Span),
    Repr(Span),
}

#[derive(Clone, Copy)]
enum RowKey {
    None,
    Index(u32),
    /// A position too large for 32 bits, printed.
    Name(Span),
}

/// One appended node: fixed-size, its strings in the arena. Appending a
/// row is one struct write and a copy of its text; the Arrow columns are
/// built from rows later ([`PendingBatch::build`]), which capture does
/// on its writer thread, off the traced program's path.
struct Row {
    id: u64,
    thread: u64,
    /// [`NONE_U64`] at top level.
    frame: u64,
    value: RowValue,
    /// [`NO_SPAN`] for none.
    name: Span,
    /// End of this row's inputs in the inputs vector.
    inputs_end: u32,
    /// These three are [`NONE_U32`] for none.
    file: u32,
    line: u32,
    type_name: u32,
    kind: i8,
}

struct InputEntry {
    src: u64,
    key: RowKey,
    role: i8,
}

/// The most rows a buffer reserves room for ahead of time.
const MAX_RESERVED_ROWS: usize = 1 << 20;

/// Append-only buffer of nodes in the trace schema.
pub struct NodeBuffer {
    rows: Vec<Row>,
    inputs: Vec<InputEntry>,
    text: String,
    file_table: InternTable,
    type_table: InternTable,
    /// Rows to reserve room for after each batch is taken.
    capacity: usize,
    /// Storage of an earlier batch, emptied, to take the next rows.
    spare: Option<Storage>,
}

/// The emptied vectors of a batch whose columns were built, handed back to
/// a [`NodeBuffer`] ([`NodeBuffer::recycle`]) so the next rows are written
/// into memory that is already paged in. Fresh vectors of a batch's size
/// are fresh pages from the kernel: faulting them in cost capture about a
/// tenth of its time per node.
pub struct Storage {
    rows: Vec<Row>,
    inputs: Vec<InputEntry>,
    text: String,
}

/// Rows taken out of a [`NodeBuffer`], not yet turned into Arrow columns
/// (it can be sent to another thread to do that).
pub struct PendingBatch {
    rows: Vec<Row>,
    inputs: Vec<InputEntry>,
    text: String,
    files: Vec<String>,
    types: Vec<String>,
}

impl Default for NodeBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl NodeBuffer {
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// A buffer that reserves room for `rows` rows (and again after each
    /// batch is taken), so appending never reallocates when batches are
    /// taken every `rows` rows — up to a million rows; beyond, it
    /// grows as rows come (`flush_every=10**9` must not ask for 100 GB).
    pub fn with_capacity(rows: usize) -> Self {
        let mut buffer = NodeBuffer {
            rows: Vec::new(),
            inputs: Vec::new(),
            text: String::new(),
            file_table: InternTable::default(),
            type_table: InternTable::default(),
            capacity: rows,
            spare: None,
        };
        buffer.reserve();
        buffer
    }

    /// Storage for the next rows: the spare if there is one, else fresh
    /// with room for `capacity` rows (about two inputs and a short name
    /// per row).
    fn reserve(&mut self) {
        if let Some(spare) = self.spare.take() {
            self.rows = spare.rows;
            self.inputs = spare.inputs;
            self.text = spare.text;
            return;
        }
        let rows = self.capacity.min(MAX_RESERVED_ROWS);
        self.rows = Vec::with_capacity(rows);
        self.inputs = Vec::with_capacity(rows * 2);
        self.text = String::with_capacity(rows * 8);
    }

    /// Keeps `storage` to take the rows after the next batch is taken.
    pub fn recycle(&mut self, storage: Storage) {
        self.spare.get_or_insert(storage);
    }

    /// Number of rows appended since the last batch was taken.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Index of a source file path, for [`NodeRow::file`].
    pub fn intern_file(&mut self, path: &str) -> u32 {
        self.file_table.intern(path)
    }

    /// The path interned as `index` by [`NodeBuffer::intern_file`].
    pub fn file_name(&self, index: u32) -> &str {
        &self.file_table.values[index as usize]
    }

    /// Index of a type name, for [`NodeRow::type_name`].
    pub fn intern_type(&mut self, name: &str) -> u32 {
        self.type_table.intern(name)
    }

    /// Bytes of text (names, keys, values) or inputs after which a batch
    /// is full whatever its number of rows: Arrow's 32-bit offsets (string
    /// columns, the inputs list) and spans address at most 2 GiB, and the
    /// largest row stays well below the remaining 1 GiB.
    pub const MAX_BATCH_ITEMS: usize = 1 << 30;

    /// Whether the rows appended so far are as much as one batch can take
    /// (see [`NodeBuffer::MAX_BATCH_ITEMS`]): a batch must be taken before
    /// more rows are appended.
    #[inline]
    pub fn at_limit(&self) -> bool {
        self.text.len().max(self.inputs.len()) >= Self::MAX_BATCH_ITEMS
    }

    fn keep(&mut self, text: &str) -> Span {
        let start = self.text.len() as u32;
        self.text.push_str(text);
        Span {
            start,
            len: text.len() as u32,
        }
    }

    pub fn push(&mut self, row: &NodeRow<'_>) {
        for input in row.inputs {
            let key = match input.key {
                InputKey::None => RowKey::None,
                InputKey::Index(index) => match u32::try_from(index) {
                    Ok(index) => RowKey::Index(index),
                    Err(_) => RowKey::Name(self.keep(&index.to_string())),
                },
                InputKey::Name(name) => RowKey::Name(self.keep(name)),
            };
            self.inputs.push(InputEntry {
                src: input.src,
                key,
                role: input.role.code(),
            });
        }
        let name = match row.name {
            Some(name) => self.keep(name),
            None => NO_SPAN,
        };
        let value = match row.value {
            NodeValue::Absent => RowValue::Absent,
            NodeValue::Int(v) => RowValue::Int(v),
            NodeValue::Float(v) => RowValue::Float(v),
            NodeValue::Bool(v) => RowValue::Bool(v),
            NodeValue::Str(v) => RowValue::Str(self.keep(v)),
            NodeValue::Repr(v) => RowValue::Repr(self.keep(v)),
        };
        self.rows.push(Row {
            id: row.id,
            thread: row.thread,
            frame: row.frame.unwrap_or(NONE_U64),
            value,
            name,
            inputs_end: self.inputs.len() as u32,
            file: from_option(row.file),
            line: from_option(row.line),
            type_name: from_option(row.type_name),
            kind: row.kind.code(),
        });
    }

    /// Takes every row appended so far and empties the buffer (the intern
    /// tables are kept, so indices stay valid; the batch carries a copy).
    pub fn take_pending(&mut self) -> PendingBatch {
        let pending = PendingBatch {
            rows: std::mem::take(&mut self.rows),
            inputs: std::mem::take(&mut self.inputs),
            text: std::mem::take(&mut self.text),
            files: self.file_table.values.clone(),
            types: self.type_table.values.clone(),
        };
        self.reserve();
        pending
    }

    /// Takes every row appended so far as one Arrow batch.
    pub fn take_batch(&mut self) -> RecordBatch {
        let (batch, storage) = self.take_pending().build();
        self.recycle(storage);
        batch
    }
}

impl PendingBatch {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn text(&self, span: Span) -> &str {
        let start = span.start as usize;
        &self.text[start..start + span.len as usize]
    }

    fn optional_text(&self, span: Span) -> Option<&str> {
        (span.len != NONE_U32).then(|| self.text(span))
    }

    /// The rows as one record batch of the trace schema, and their storage
    /// emptied for [`NodeBuffer::recycle`].
    pub fn build(mut self) -> (RecordBatch, Storage) {
        let batch = self.columns();
        self.rows.clear();
        self.inputs.clear();
        self.text.clear();
        let storage = Storage {
            rows: self.rows,
            inputs: self.inputs,
            text: self.text,
        };
        (batch, storage)
    }

    fn columns(&self) -> RecordBatch {
        let rows = self.rows.len();
        let mut ids = Vec::with_capacity(rows);
        let mut threads = Vec::with_capacity(rows);
        let mut kind_codes = Vec::with_capacity(rows);
        let mut frames = Vec::with_capacity(rows);
        let mut files = Vec::with_capacity(rows);
        let mut lines = Vec::with_capacity(rows);
        let mut types = Vec::with_capacity(rows);
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0i32);
        let mut names = TextColumn::with_capacity(rows, self.text.len());
        // The number columns share one vector of 64-bit payloads (an int,
        // a float's bits, a bool as 0/1), told apart by each row's tag:
        // one write per row instead of one per value column.
        let mut payloads = Vec::with_capacity(rows);
        let mut tags = Vec::with_capacity(rows);
        // Strings and reprs are rare: only their rows are listed.
        let mut strings = Vec::new();
        let mut reprs = Vec::new();
        // One pass over the rows fills every column: a batch of rows is
        // larger than the cache, and each extra pass reads it again.
        for (index, row) in self.rows.iter().enumerate() {
            ids.push(row.id);
            threads.push(row.thread);
            kind_codes.push(row.kind);
            frames.push(row.frame);
            files.push(row.file);
            lines.push(row.line);
            types.push(row.type_name);
            offsets.push(row.inputs_end as i32);
            names.push(self.optional_text(row.name));
            let (tag, payload) = match row.value {
                RowValue::Absent => (ValueTag::Absent, 0),
                RowValue::Int(v) => (ValueTag::Int, v as u64),
                RowValue::Float(v) => (ValueTag::Float, v.to_bits()),
                RowValue::Bool(v) => (ValueTag::Bool, u64::from(v)),
                RowValue::Str(span) => {
                    strings.push((index, span));
                    (ValueTag::Str, 0)
                }
                RowValue::Repr(span) => {
                    reprs.push((index, span));
                    (ValueTag::Repr, 0)
                }
            };
            tags.push(tag);
            payloads.push(payload);
        }
        let inputs = self.inputs.len();
        let mut input_keys = TextColumn::with_capacity(inputs, inputs);
        let mut role_codes = Vec::with_capacity(inputs);
        let mut sources = Vec::with_capacity(inputs);
        let mut scratch = String::new();
        for input in &self.inputs {
            role_codes.push(input.role);
            sources.push(input.src);
            match input.key {
                RowKey::None => input_keys.push(None),
                RowKey::Name(span) => input_keys.push(Some(self.text(span))),
                // Small positions are by far the most common keys.
                RowKey::Index(index) if index < 10 => {
                    input_keys.push(Some(&DIGITS[index as usize..][..1]))
                }
                RowKey::Index(index) => {
                    scratch.clear();
                    let _ = write!(scratch, "{index}");
                    input_keys.push(Some(&scratch));
                }
            }
        }
        let kind_values: ArrayRef = Arc::new(StringArray::from_iter_values(
            NodeKind::ALL.iter().map(|k| k.as_str()),
        ));
        let role_values: ArrayRef = Arc::new(StringArray::from_iter_values(
            Role::ALL.iter().map(|r| r.as_str()),
        ));
        let kinds = DictionaryArray::<Int8Type>::try_new(Int8Array::from(kind_codes), kind_values)
            .expect("kind codes come from NodeKind and are in range");
        let roles = DictionaryArray::<Int8Type>::try_new(Int8Array::from(role_codes), role_values)
            .expect("role codes come from Role and are in range");
        let entries = StructArray::new(
            input_fields(),
            vec![
                Arc::new(roles),
                Arc::new(input_keys.finish()),
                Arc::new(UInt64Array::from(sources)),
            ],
            None,
        );
        let inputs = ListArray::new(
            input_item_field(),
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            Arc::new(entries),
            None,
        );
        let file_nulls = present(&files, NONE_U32);
        let type_nulls = present(&types, NONE_U32);
        let files = DictionaryArray::<UInt32Type>::try_new(
            UInt32Array::new(ScalarBuffer::from(files), file_nulls),
            Arc::new(StringArray::from_iter_values(self.files.iter())),
        )
        .expect("file indices come from intern_file");
        let types = DictionaryArray::<UInt32Type>::try_new(
            UInt32Array::new(ScalarBuffer::from(types), type_nulls),
            Arc::new(StringArray::from_iter_values(self.types.iter())),
        )
        .expect("type indices come from intern_type");
        let frame_nulls = present(&frames, NONE_U64);
        let line_nulls = present(&lines, NONE_U32);
        let tagged = |tag: ValueTag| {
            let bits = BooleanBuffer::collect_bool(rows, |i| tags[i] == tag);
            Some(NullBuffer::new(bits))
        };
        let payloads = Buffer::from_vec(payloads);
        let value_int = Int64Array::new(
            ScalarBuffer::new(payloads.clone(), 0, rows),
            tagged(ValueTag::Int),
        );
        let value_float = Float64Array::new(
            ScalarBuffer::new(payloads.clone(), 0, rows),
            tagged(ValueTag::Float),
        );
        let bools = ScalarBuffer::<u64>::new(payloads, 0, rows);
        let value_bool = BooleanArray::new(
            BooleanBuffer::collect_bool(rows, |i| bools[i] != 0),
            tagged(ValueTag::Bool),
        );
        let columns: Vec<ArrayRef> = vec![
            Arc::new(UInt64Array::from(ids)),
            Arc::new(kinds),
            Arc::new(names.finish()),
            Arc::new(inputs),
            Arc::new(UInt64Array::new(ScalarBuffer::from(frames), frame_nulls)),
            Arc::new(UInt64Array::from(threads)),
            Arc::new(files),
            Arc::new(UInt32Array::new(ScalarBuffer::from(lines), line_nulls)),
            Arc::new(types),
            Arc::new(value_int),
            Arc::new(value_float),
            Arc::new(value_bool),
            Arc::new(self.sparse_text(rows, &strings)),
            Arc::new(self.sparse_text(rows, &reprs)),
        ];
        RecordBatch::try_new(arrow_schema(), columns)
            .expect("NodeBuffer columns match the trace schema")
    }

    /// A string column of `rows` rows that holds text only at the listed
    /// (row, span) places, in row order; null elsewhere.
    fn sparse_text(&self, rows: usize, listed: &[(usize, Span)]) -> StringArray {
        if listed.is_empty() {
            return StringArray::new_null(rows);
        }
        let mut column = TextColumn::with_capacity(rows, 0);
        for &(index, span) in listed {
            column.nulls_until(index);
            column.push(Some(self.text(span)));
        }
        column.nulls_until(rows);
        column.finish()
    }
}

/// Which value column a row's value goes to.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum ValueTag {
    Absent,
    Int,
    Float,
    Bool,
    Str,
    Repr,
}

/// The validity of a column whose absent entries hold `none`; no buffer
/// at all when every entry is present.
fn present<T: PartialEq + Copy>(values: &[T], none: T) -> Option<NullBuffer> {
    let bits = BooleanBuffer::collect_bool(values.len(), |i| values[i] != none);
    let nulls = NullBuffer::new(bits);
    (nulls.null_count() > 0).then_some(nulls)
}

/// A Utf8 column built from pieces of text: offsets, bytes and a
/// validity byte per entry (packed into bits once, at the end).
struct TextColumn {
    offsets: Vec<i32>,
    bytes: Vec<u8>,
    valid: Vec<bool>,
}

impl TextColumn {
    fn with_capacity(entries: usize, bytes: usize) -> Self {
        let mut offsets = Vec::with_capacity(entries + 1);
        offsets.push(0);
        TextColumn {
            offsets,
            bytes: Vec::with_capacity(bytes),
            valid: Vec::with_capacity(entries),
        }
    }

    fn push(&mut self, text: Option<&str>) {
        if let Some(text) = text {
            self.bytes.extend_from_slice(text.as_bytes());
        }
        self.offsets.push(self.bytes.len() as i32);
        self.valid.push(text.is_some());
    }

    /// Null entries up to `entries` entries in all.
    fn nulls_until(&mut self, entries: usize) {
        self.offsets.resize(entries + 1, self.bytes.len() as i32);
        self.valid.resize(entries, false);
    }

    fn finish(self) -> StringArray {
        let nulls = NullBuffer::from(self.valid);
        let nulls = (nulls.null_count() > 0).then_some(nulls);
        // SAFETY: offsets start at 0, never decrease and end at bytes.len();
        // the bytes are whole &str pieces, so valid UTF-8.
        unsafe {
            StringArray::new_unchecked(
                OffsetBuffer::new_unchecked(ScalarBuffer::from(self.offsets)),
                Buffer::from_vec(self.bytes),
                nulls,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::UInt64Type;
    use arrow_array::Array;

    #[test]
    fn rows_come_back_as_one_batch_with_inputs_and_values() {
        let mut buffer = NodeBuffer::new();
        let file = buffer.intern_file("prog.py");
        let int_type = buffer.intern_type("int");
        buffer.push(&NodeRow {
            id: 1,
            kind: NodeKind::Const,
            name: None,
            inputs: &[],
            frame: None,
            thread: 7,
            file: Some(file),
            line: Some(3),
            type_name: Some(int_type),
            value: NodeValue::Int(41),
        });
        buffer.push(&NodeRow {
            id: 2,
            kind: NodeKind::UDispatch,
            name: Some("__add__"),
            inputs: &[
                NodeInput::new(Role::SelfValue, 1),
                NodeInput::keyed(Role::Arg, InputKey::Index(0), 1),
            ],
            frame: Some(0),
            thread: 7,
            file: Some(file),
            line: Some(3),
            type_name: Some(int_type),
            value: NodeValue::Int(82),
        });
        assert_eq!(buffer.len(), 2);
        let batch = buffer.take_batch();
        assert!(buffer.is_empty());
        assert_eq!(batch.num_rows(), 2);
        let inputs = batch.column(3).as_list::<i32>();
        assert_eq!(inputs.value(0).len(), 0);
        let second = inputs.value(1);
        let second = second.as_struct();
        let srcs = second.column(2).as_primitive::<UInt64Type>();
        assert_eq!(srcs.values().to_vec(), vec![1, 1]);
        let keys = second.column(1).as_string::<i32>();
        assert!(keys.is_null(0));
        assert_eq!(keys.value(1), "0");
        let ints = batch
            .column(9)
            .as_primitive::<arrow_array::types::Int64Type>();
        assert_eq!((ints.value(0), ints.value(1)), (41, 82));
    }

    #[test]
    fn each_value_lands_in_its_own_column_whatever_its_neighbours() {
        let values = [
            NodeValue::Int(-7),
            NodeValue::Str("héllo"),
            NodeValue::Absent,
            NodeValue::Float(2.5),
            NodeValue::Repr("<obj>"),
            NodeValue::Bool(true),
            NodeValue::Str(""),
            NodeValue::Bool(false),
        ];
        let mut buffer = NodeBuffer::new();
        for (id, value) in values.iter().enumerate() {
            buffer.push(&NodeRow {
                id: id as u64,
                kind: NodeKind::Const,
                name: (id % 2 == 0).then_some("n"),
                inputs: &[],
                frame: (id % 3 == 0).then_some(id as u64),
                thread: 1,
                file: None,
                line: Some(id as u32),
                type_name: None,
                value: *value,
            });
        }
        let batch = buffer.take_batch();
        let column = |name: &str| batch.column_by_name(name).unwrap().clone();
        let (ints, floats, bools) = (
            column("value_int"),
            column("value_float"),
            column("value_bool"),
        );
        let (strs, reprs) = (column("value_str"), column("value_repr"));
        for (row, value) in values.iter().enumerate() {
            let set: Vec<&str> = [
                ("int", &ints),
                ("float", &floats),
                ("bool", &bools),
                ("str", &strs),
                ("repr", &reprs),
            ]
            .iter()
            .filter(|(_, array)| array.is_valid(row))
            .map(|(name, _)| *name)
            .collect();
            let expected: &[&str] = match value {
                NodeValue::Absent => &[],
                NodeValue::Int(_) => &["int"],
                NodeValue::Float(_) => &["float"],
                NodeValue::Bool(_) => &["bool"],
                NodeValue::Str(_) => &["str"],
                NodeValue::Repr(_) => &["repr"],
            };
            assert_eq!(set, expected, "row {row}");
        }
        assert_eq!(
            ints.as_primitive::<arrow_array::types::Int64Type>()
                .value(0),
            -7
        );
        assert_eq!(
            floats
                .as_primitive::<arrow_array::types::Float64Type>()
                .value(3),
            2.5
        );
        let bools = bools.as_boolean();
        assert!(bools.value(5) && !bools.value(7));
        let strs = strs.as_string::<i32>();
        assert_eq!((strs.value(1), strs.value(6)), ("héllo", ""));
        assert_eq!(reprs.as_string::<i32>().value(4), "<obj>");
        let names = column("name");
        assert_eq!(names.null_count(), 4);
        assert_eq!(names.as_string::<i32>().value(2), "n");
        let frames = column("frame");
        let frames = frames.as_primitive::<UInt64Type>();
        assert_eq!((frames.value(3), frames.is_null(4)), (3, true));
    }

    #[test]
    fn absent_fields_stay_null_and_wide_positions_keep_every_digit() {
        let mut buffer = NodeBuffer::new();
        let wide = 5_000_000_007u64;
        buffer.push(&NodeRow {
            id: 9,
            kind: NodeKind::GetItem,
            name: Some(""),
            inputs: &[
                NodeInput::keyed(Role::Item, InputKey::Index(wide), 3),
                NodeInput::keyed(Role::Item, InputKey::Index(u64::from(u32::MAX)), 4),
            ],
            frame: None,
            thread: 1,
            file: None,
            line: Some(u32::MAX - 1),
            type_name: None,
            value: NodeValue::Absent,
        });
        let batch = buffer.take_batch();
        let inputs = batch.column(3).as_list::<i32>().value(0);
        let keys = inputs.as_struct().column(1).as_string::<i32>();
        assert_eq!(keys.value(0), wide.to_string());
        assert_eq!(keys.value(1), u32::MAX.to_string());
        // An empty name is a name, not a missing one.
        assert_eq!(batch.column(2).as_string::<i32>().value(0), "");
        for column in [4, 6, 8, 9, 10, 11, 12, 13] {
            assert!(batch.column(column).is_null(0), "column {column}");
        }
        let lines = batch
            .column(7)
            .as_primitive::<arrow_array::types::UInt32Type>();
        assert_eq!(lines.value(0), u32::MAX - 1);
    }
}
