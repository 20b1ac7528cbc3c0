//! Columnar buffer of nodes: rows are appended one at a time (capture's hot
//! path) and taken out as an Arrow `RecordBatch` of the trace schema.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, UInt32Builder, UInt64Builder,
};
use arrow_array::types::{Int8Type, UInt32Type};
use arrow_array::{
    ArrayRef, DictionaryArray, Int8Array, ListArray, RecordBatch, StringArray, StructArray,
    UInt32Array, UInt64Array,
};
use arrow_buffer::{OffsetBuffer, ScalarBuffer};

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

    fn dictionary(&self) -> ArrayRef {
        Arc::new(StringArray::from_iter_values(self.values.iter()))
    }
}

/// Append-only columnar buffer of nodes in the trace schema.
pub struct NodeBuffer {
    ids: Vec<u64>,
    kinds: Vec<i8>,
    names: StringBuilder,
    input_offsets: Vec<i32>,
    input_roles: Vec<i8>,
    input_keys: StringBuilder,
    input_srcs: Vec<u64>,
    frames: UInt64Builder,
    threads: Vec<u64>,
    files: UInt32Builder,
    lines: UInt32Builder,
    types: UInt32Builder,
    value_int: Int64Builder,
    value_float: Float64Builder,
    value_bool: BooleanBuilder,
    value_str: StringBuilder,
    value_repr: StringBuilder,
    file_table: InternTable,
    type_table: InternTable,
    key_scratch: String,
    /// Rows to reserve room for after each batch is taken.
    capacity: usize,
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
    /// [`NodeBuffer::take_batch`]), so appending never reallocates when
    /// batches are taken every `rows` rows.
    pub fn with_capacity(rows: usize) -> Self {
        let mut buffer = NodeBuffer {
            ids: Vec::new(),
            kinds: Vec::new(),
            names: StringBuilder::new(),
            input_offsets: Vec::new(),
            input_roles: Vec::new(),
            input_keys: StringBuilder::new(),
            input_srcs: Vec::new(),
            frames: UInt64Builder::new(),
            threads: Vec::new(),
            files: UInt32Builder::new(),
            lines: UInt32Builder::new(),
            types: UInt32Builder::new(),
            value_int: Int64Builder::new(),
            value_float: Float64Builder::new(),
            value_bool: BooleanBuilder::new(),
            value_str: StringBuilder::new(),
            value_repr: StringBuilder::new(),
            file_table: InternTable::default(),
            type_table: InternTable::default(),
            key_scratch: String::new(),
            capacity: rows,
        };
        buffer.reserve();
        buffer
    }

    /// Fresh columns with room for `capacity` rows (about two inputs and
    /// a short name per row).
    fn reserve(&mut self) {
        let rows = self.capacity;
        self.ids = Vec::with_capacity(rows);
        self.kinds = Vec::with_capacity(rows);
        self.names = StringBuilder::with_capacity(rows, rows * 8);
        self.input_offsets = Vec::with_capacity(rows + 1);
        self.input_offsets.push(0);
        self.input_roles = Vec::with_capacity(rows * 2);
        self.input_keys = StringBuilder::with_capacity(rows * 2, rows * 2);
        self.input_srcs = Vec::with_capacity(rows * 2);
        self.frames = UInt64Builder::with_capacity(rows);
        self.threads = Vec::with_capacity(rows);
        self.files = UInt32Builder::with_capacity(rows);
        self.lines = UInt32Builder::with_capacity(rows);
        self.types = UInt32Builder::with_capacity(rows);
        self.value_int = Int64Builder::with_capacity(rows);
        self.value_float = Float64Builder::with_capacity(rows);
        self.value_bool = BooleanBuilder::with_capacity(rows);
        self.value_str = StringBuilder::with_capacity(rows, rows);
        self.value_repr = StringBuilder::with_capacity(rows, rows * 4);
    }

    /// Number of rows appended since the last [`NodeBuffer::take_batch`].
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
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

    pub fn push(&mut self, row: &NodeRow<'_>) {
        self.ids.push(row.id);
        self.kinds.push(row.kind.code());
        self.names.append_option(row.name);
        for input in row.inputs {
            self.input_roles.push(input.role.code());
            self.input_srcs.push(input.src);
            match input.key {
                InputKey::None => self.input_keys.append_null(),
                InputKey::Name(name) => self.input_keys.append_value(name),
                // Small positions are by far the most common keys.
                InputKey::Index(index) if index < 10 => {
                    self.input_keys.append_value(&DIGITS[index as usize..][..1])
                }
                InputKey::Index(index) => {
                    self.key_scratch.clear();
                    let _ = write!(self.key_scratch, "{index}");
                    self.input_keys.append_value(&self.key_scratch);
                }
            }
        }
        self.input_offsets.push(self.input_srcs.len() as i32);
        self.frames.append_option(row.frame);
        self.threads.push(row.thread);
        self.files.append_option(row.file);
        self.lines.append_option(row.line);
        self.types.append_option(row.type_name);
        let (mut int, mut float, mut boolean, mut string, mut repr) =
            (None, None, None, None, None);
        match row.value {
            NodeValue::Absent => {}
            NodeValue::Int(v) => int = Some(v),
            NodeValue::Float(v) => float = Some(v),
            NodeValue::Bool(v) => boolean = Some(v),
            NodeValue::Str(v) => string = Some(v),
            NodeValue::Repr(v) => repr = Some(v),
        }
        self.value_int.append_option(int);
        self.value_float.append_option(float);
        self.value_bool.append_option(boolean);
        self.value_str.append_option(string);
        self.value_repr.append_option(repr);
    }

    /// Takes every row appended so far as one batch and empties the buffer
    /// (the intern tables are kept, so indices stay valid).
    pub fn take_batch(&mut self) -> RecordBatch {
        let kind_values: ArrayRef = Arc::new(StringArray::from_iter_values(
            NodeKind::ALL.iter().map(|k| k.as_str()),
        ));
        let role_values: ArrayRef = Arc::new(StringArray::from_iter_values(
            Role::ALL.iter().map(|r| r.as_str()),
        ));
        let kinds = DictionaryArray::<Int8Type>::try_new(
            Int8Array::from(std::mem::take(&mut self.kinds)),
            kind_values,
        )
        .expect("kind codes come from NodeKind and are in range");
        let roles = DictionaryArray::<Int8Type>::try_new(
            Int8Array::from(std::mem::take(&mut self.input_roles)),
            role_values,
        )
        .expect("role codes come from Role and are in range");
        let entries = StructArray::new(
            input_fields(),
            vec![
                Arc::new(roles),
                Arc::new(self.input_keys.finish()),
                Arc::new(UInt64Array::from(std::mem::take(&mut self.input_srcs))),
            ],
            None,
        );
        let offsets = std::mem::take(&mut self.input_offsets);
        let inputs = ListArray::new(
            input_item_field(),
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            Arc::new(entries),
            None,
        );
        let files = DictionaryArray::<UInt32Type>::try_new(
            UInt32Array::from(self.files.finish()),
            self.file_table.dictionary(),
        )
        .expect("file indices come from intern_file");
        let types = DictionaryArray::<UInt32Type>::try_new(
            UInt32Array::from(self.types.finish()),
            self.type_table.dictionary(),
        )
        .expect("type indices come from intern_type");
        let columns: Vec<ArrayRef> = vec![
            Arc::new(UInt64Array::from(std::mem::take(&mut self.ids))),
            Arc::new(kinds),
            Arc::new(self.names.finish()),
            Arc::new(inputs),
            Arc::new(self.frames.finish()),
            Arc::new(UInt64Array::from(std::mem::take(&mut self.threads))),
            Arc::new(files),
            Arc::new(self.lines.finish()),
            Arc::new(types),
            Arc::new(self.value_int.finish()),
            Arc::new(self.value_float.finish()),
            Arc::new(self.value_bool.finish()),
            Arc::new(self.value_str.finish()),
            Arc::new(self.value_repr.finish()),
        ];
        self.reserve();
        RecordBatch::try_new(arrow_schema(), columns)
            .expect("NodeBuffer columns match the trace schema")
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
}
