//! The typed graph of a trace: nodes with their kind, name, recorded value
//! and inputs, decoded once from record batches (from a file, or from the
//! analyzer's DataFusion session), whole or as the upstream cone of some
//! nodes.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowPrimitiveType, Float64Type, Int32Type, Int64Type, Int8Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, PrimitiveArray, RecordBatch, StringArray};
use arrow_buffer::NullBuffer;
use arrow_cast::cast;
use arrow_schema::DataType;
use hltpy_schema::{column, NodeKind, Role};
use smallvec::SmallVec;

use crate::text::Text;

/// A problem with the trace itself (not with a pass over it).
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("the trace has no column {0:?} (is it an hltpy trace?)")]
    MissingColumn(&'static str),
    #[error("column {column} is {found}, not {expected}")]
    BadColumn {
        column: &'static str,
        found: String,
        expected: &'static str,
    },
    #[error(
        "node {id} has kind {kind:?}, which this version does not know (a newer trace format?)"
    )]
    UnknownKind { id: u64, kind: String },
    #[error("node {id} has an input with role {role:?}, which this version does not know (a newer trace format?)")]
    UnknownRole { id: u64, role: String },
    #[error("node {id} appears twice in the trace")]
    DuplicateId { id: u64 },
    #[error("the inputs of node {id} form a cycle (through node {through}): a trace is a DAG")]
    Cycle { id: u64, through: u64 },
    #[error("node {id} reads node {src} as its {role} input, but node {src} is not before it in the trace (missing, or in a later row: rows are in completion order, inputs first)")]
    InputNotBefore { id: u64, src: u64, role: Role },
    #[error("cannot select rows of the trace: {0}")]
    Select(String),
    #[error("the trace has over 4,294,967,295 nodes: too many to hold at once (query it instead)")]
    TooLarge,
}

/// The value a node recorded (at most one `value_*` column is set).
#[derive(Clone, Debug, PartialEq)]
pub enum Recorded {
    Absent,
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(Box<str>),
    Repr(Box<str>),
}

/// One input of a node: its role, its key (position, keyword, dict key's
/// repr, iteration count) and the id of the node whose value flows in.
#[derive(Clone, Debug, PartialEq)]
pub struct Input {
    pub role: Role,
    pub key: Option<Text>,
    pub src: u64,
}

/// One node of a trace.
#[derive(Clone, Debug)]
pub struct Node {
    pub id: u64,
    pub kind: NodeKind,
    pub name: Option<Text>,
    pub type_name: Option<Text>,
    pub file: Option<Text>,
    pub line: Option<u32>,
    pub frame: Option<u64>,
    pub recorded: Recorded,
    /// Inline up to three: one allocation fewer for most nodes.
    pub inputs: SmallVec<[Input; 3]>,
}

impl Node {
    /// The first input with `role`.
    pub fn input(&self, role: Role) -> Option<u64> {
        self.inputs.iter().find(|i| i.role == role).map(|i| i.src)
    }

    /// `file:line` of the operation, or `?` when not recorded.
    pub fn location(&self) -> String {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => format!("{file}:{line}"),
            (Some(file), None) => file.to_string(),
            _ => "?".into(),
        }
    }

    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }
}

/// A string column of any of the encodings a trace or a query gives
/// (plain, view, dictionary), read row by row without copying per row.
enum Strings {
    Plain(StringArray),
    /// The dictionary's values, its keys, and (for the columns a node
    /// keeps: [`Strings::shared_column`]) each value interned once.
    Dictionary(StringArray, Keys, Vec<Option<Text>>),
}

/// Validity bits read in place (`Array::is_null` is a call per row).
#[derive(Clone, Copy)]
struct Validity<'a> {
    bits: Option<(&'a [u8], usize)>,
}

impl<'a> Validity<'a> {
    fn of(nulls: Option<&'a NullBuffer>) -> Self {
        Validity {
            bits: nulls.map(|n| (n.validity(), n.offset())),
        }
    }

    #[inline(always)]
    fn is_valid(self, row: usize) -> bool {
        match self.bits {
            None => true,
            Some((bits, offset)) => {
                let bit = offset + row;
                bits[bit >> 3] & (1 << (bit & 7)) != 0
            }
        }
    }
}

/// A dictionary's keys, as the file typed them (copying them to one type
/// per batch cost an allocation per column, and the allocator's
/// consolidation with it).
enum Keys {
    Int8(PrimitiveArray<Int8Type>),
    Int32(PrimitiveArray<Int32Type>),
    UInt32(PrimitiveArray<UInt32Type>),
}

impl Keys {
    /// Row `row`'s key; `usize::MAX` for null (and a negative key, of an
    /// invalid dictionary): out of every dictionary's range.
    #[inline(always)]
    fn get(&self, row: usize) -> usize {
        fn key<T: ArrowPrimitiveType>(keys: &PrimitiveArray<T>, row: usize) -> usize
        where
            T::Native: TryInto<usize>,
        {
            if Validity::of(keys.nulls()).is_valid(row) {
                keys.values()[row].try_into().unwrap_or(usize::MAX)
            } else {
                usize::MAX
            }
        }
        match self {
            Keys::Int8(keys) => key(keys, row),
            Keys::Int32(keys) => key(keys, row),
            Keys::UInt32(keys) => key(keys, row),
        }
    }
}

/// A primitive column read by row straight from its buffers: a call per
/// value through `PrimitiveArray::value` (out of line, bounds-checked) was
/// a tenth of decoding a node.
struct Numbers<'a, T: ArrowPrimitiveType> {
    values: &'a [T::Native],
    validity: Validity<'a>,
}

impl<'a, T: ArrowPrimitiveType> Numbers<'a, T> {
    fn of(array: &'a PrimitiveArray<T>) -> Self {
        Numbers {
            values: array.values(),
            validity: Validity::of(array.nulls()),
        }
    }

    /// An optional column, cast to `T` already.
    fn in_column(column: Option<&'a ArrayRef>) -> Option<Self> {
        column.map(|c| Numbers::of(c.as_primitive()))
    }

    #[inline(always)]
    fn get(&self, row: usize) -> Option<T::Native> {
        self.validity.is_valid(row).then(|| self.values[row])
    }
}

impl Strings {
    /// A column only read (kinds, roles, recorded strings).
    fn new(array: &ArrayRef, column: &'static str) -> Result<Strings, GraphError> {
        Strings::decode(array, column, None)
    }

    /// A column whose strings nodes keep (names, types, files, keys): a
    /// dictionary's values are interned once per batch, not per row.
    fn shared_column(
        array: &ArrayRef,
        column: &'static str,
        interner: &mut Interner,
    ) -> Result<Strings, GraphError> {
        Strings::decode(array, column, Some(interner))
    }

    fn decode(
        array: &ArrayRef,
        column: &'static str,
        interner: Option<&mut Interner>,
    ) -> Result<Strings, GraphError> {
        let bad = |found: &DataType| GraphError::BadColumn {
            column,
            found: found.to_string(),
            expected: "a string",
        };
        if let DataType::Dictionary(key, _) = array.data_type() {
            let (values, keys) = match **key {
                DataType::Int8 => {
                    let d = array.as_dictionary::<Int8Type>();
                    (d.values().clone(), Keys::Int8(d.keys().clone()))
                }
                DataType::Int32 => {
                    let d = array.as_dictionary::<Int32Type>();
                    (d.values().clone(), Keys::Int32(d.keys().clone()))
                }
                DataType::UInt32 => {
                    let d = array.as_dictionary::<UInt32Type>();
                    (d.values().clone(), Keys::UInt32(d.keys().clone()))
                }
                _ => {
                    let plain = cast(array, &DataType::Utf8).map_err(|_| bad(array.data_type()))?;
                    return Ok(Strings::Plain(plain.as_string::<i32>().clone()));
                }
            };
            let values = cast(&values, &DataType::Utf8).map_err(|_| bad(array.data_type()))?;
            let values = values.as_string::<i32>().clone();
            let interned = match interner {
                Some(interner) => (0..values.len())
                    .map(|i| values.is_valid(i).then(|| interner.intern(values.value(i))))
                    .collect(),
                None => Vec::new(),
            };
            return Ok(Strings::Dictionary(values, keys, interned));
        }
        let plain = cast(array, &DataType::Utf8).map_err(|_| bad(array.data_type()))?;
        Ok(Strings::Plain(plain.as_string::<i32>().clone()))
    }

    fn get(&self, row: usize) -> Option<&str> {
        match self {
            Strings::Plain(array) => array.is_valid(row).then(|| array.value(row)),
            Strings::Dictionary(values, keys, _) => {
                let key = keys.get(row);
                (key < values.len() && values.is_valid(key)).then(|| values.value(key))
            }
        }
    }

    /// Row `row`'s string as a node keeps it (a column made by
    /// [`Strings::shared_column`]).
    fn shared(&self, row: usize, interner: &mut Interner) -> Option<Text> {
        match self {
            Strings::Dictionary(_, keys, interned) => {
                interned.get(keys.get(row)).and_then(Clone::clone)
            }
            Strings::Plain(_) => self.get(row).map(|text| interner.intern(text)),
        }
    }
}

/// A column of one of the format's vocabularies (kinds, roles): a
/// dictionary's values parsed once per batch, a plain column per row.
struct Vocabulary<T> {
    strings: Strings,
    parsed: Vec<Option<T>>,
    parse: fn(&str) -> Option<T>,
}

impl<T: Copy> Vocabulary<T> {
    fn new(
        array: &ArrayRef,
        column: &'static str,
        parse: fn(&str) -> Option<T>,
    ) -> Result<Vocabulary<T>, GraphError> {
        let strings = Strings::new(array, column)?;
        let parsed = match &strings {
            Strings::Dictionary(values, _, _) => values.iter().map(|v| v.and_then(parse)).collect(),
            Strings::Plain(_) => Vec::new(),
        };
        Ok(Vocabulary {
            strings,
            parsed,
            parse,
        })
    }

    /// Row `row`'s word; `None` for null or a word this version does not
    /// know (then [`Vocabulary::text`] says what it was).
    #[inline(always)]
    fn get(&self, row: usize) -> Option<T> {
        match &self.strings {
            Strings::Dictionary(_, keys, _) => self.parsed.get(keys.get(row)).copied().flatten(),
            Strings::Plain(_) => self.strings.get(row).and_then(self.parse),
        }
    }

    fn text(&self, row: usize) -> String {
        self.strings.get(row).unwrap_or("").to_string()
    }
}

/// Names, types and files repeat on almost every node: one allocation each.
/// Short strings hash with FNV-1a (SipHash was a tenth of eval's time).
struct Interner {
    table: HashMap<Box<str>, Text, BuildHasherDefault<Fnv>>,
    /// The strings met last, by a cheap hash of their length and three of
    /// their bytes: most rows repeat one of a handful of names and keys,
    /// found here without hashing the whole string (a third of decoding).
    recent: [Option<Text>; RECENT],
}

const RECENT: usize = 64;

impl Default for Interner {
    fn default() -> Self {
        Interner {
            table: HashMap::default(),
            recent: [const { None }; RECENT],
        }
    }
}

#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for byte in bytes {
            hash = (hash ^ u64::from(*byte)).wrapping_mul(0x100_0000_01b3);
        }
        self.0 = hash;
    }
}

impl Interner {
    fn intern(&mut self, text: &str) -> Text {
        let bytes = text.as_bytes();
        let slot = match bytes {
            [] => 0,
            [first, ..] => {
                (bytes.len() * 31
                    + usize::from(*first) * 7
                    + usize::from(bytes[bytes.len() / 2]) * 13
                    + usize::from(bytes[bytes.len() - 1]))
                    % RECENT
            }
        };
        if let Some(recent) = &self.recent[slot] {
            if **recent == *text {
                return recent.clone();
            }
        }
        let shared = match self.table.get(text) {
            Some(shared) => shared.clone(),
            None => {
                // Bounded: a trace with millions of distinct names
                // (generated attribute names, say) must not grow the
                // table without end, nor the process's store of texts.
                if self.table.len() < 1 << 16 {
                    let shared = Text::kept(text);
                    self.table.insert(Box::from(text), shared.clone());
                    shared
                } else {
                    Text::from(text)
                }
            }
        };
        self.recent[slot] = Some(shared.clone());
        shared
    }
}

/// A batch's `inputs` column as list offsets (row `r`'s inputs are
/// entries `offsets[r]..offsets[r + 1]`; a sliced batch's start past 0)
/// and the entries (structs of role, key, src).
fn input_lists(batch: &RecordBatch) -> Result<(Vec<usize>, ArrayRef), GraphError> {
    let inputs = required(batch, column::INPUTS)?;
    match inputs.data_type() {
        DataType::List(_) => {
            let list = inputs.as_list::<i32>();
            let offsets = list.value_offsets().iter().map(|o| *o as usize);
            Ok((offsets.collect(), list.values().clone()))
        }
        DataType::LargeList(_) => {
            let list = inputs.as_list::<i64>();
            let offsets = list.value_offsets().iter().map(|o| *o as usize);
            Ok((offsets.collect(), list.values().clone()))
        }
        other => Err(GraphError::BadColumn {
            column: column::INPUTS,
            found: other.to_string(),
            expected: "a list of (role, key, src)",
        }),
    }
}

/// The `src` of every input entry of a batch (with a sliced batch's,
/// entries outside its rows too): all a pass needs to count how often
/// each node is read.
pub fn input_sources(
    batch: &RecordBatch,
) -> Result<arrow_array::PrimitiveArray<UInt64Type>, GraphError> {
    sources_of(&input_lists(batch)?.1)
}

/// The `src` field of input entries, as u64.
fn sources_of(entries: &ArrayRef) -> Result<arrow_array::PrimitiveArray<UInt64Type>, GraphError> {
    let srcs = entries
        .as_struct_opt()
        .and_then(|s| s.column_by_name(column::INPUT_SRC))
        .ok_or(GraphError::MissingColumn(column::INPUT_SRC))?;
    Ok(u64_column(srcs, column::INPUT_SRC)?
        .as_primitive::<UInt64Type>()
        .clone())
}

/// The columns a [`Node`] holds: what a pass reads (not `thread`, nor a
/// newer minor version's columns, whose pages need not be decoded). The
/// recorded scalars last, so [`NODE_COLUMNS_BUT_SCALARS`] is a prefix.
pub const NODE_COLUMNS: &[&str] = &[
    column::ID,
    column::KIND,
    column::NAME,
    column::INPUTS,
    column::FRAME,
    column::FILE,
    column::LINE,
    column::TYPE,
    column::VALUE_REPR,
    column::VALUE_INT,
    column::VALUE_FLOAT,
    column::VALUE_BOOL,
    column::VALUE_STR,
];

/// [`NODE_COLUMNS`] but the recorded ints, floats, bools and strings: for
/// a pass that reads values only as reprs (infer without
/// `--dimension-attr`). Those columns read as null.
pub const NODE_COLUMNS_BUT_SCALARS: &[&str] = NODE_COLUMNS.split_at(9).0;

/// Decodes record batches with the trace's columns into [`Node`]s.
#[derive(Default)]
pub struct Decoder {
    names: Interner,
}

fn required<'b>(batch: &'b RecordBatch, name: &'static str) -> Result<&'b ArrayRef, GraphError> {
    batch
        .column_by_name(name)
        .ok_or(GraphError::MissingColumn(name))
}

fn u64_column(array: &ArrayRef, column: &'static str) -> Result<ArrayRef, GraphError> {
    cast(array, &DataType::UInt64).map_err(|_| GraphError::BadColumn {
        column,
        found: array.data_type().to_string(),
        expected: "an unsigned integer",
    })
}

impl Decoder {
    /// The nodes of one batch, in its row order. Every column but `id`,
    /// `kind` and `inputs` may be missing (then it reads as null).
    pub fn decode(&mut self, batch: &RecordBatch) -> Result<Vec<Node>, GraphError> {
        let mut nodes = Vec::with_capacity(batch.num_rows());
        self.decode_into(batch, &mut nodes)?;
        Ok(nodes)
    }

    /// [`Decoder::decode`] appending to `nodes` (a vector reused from
    /// batch to batch keeps its allocation).
    pub fn decode_into(
        &mut self,
        batch: &RecordBatch,
        nodes: &mut Vec<Node>,
    ) -> Result<(), GraphError> {
        let rows = batch.num_rows();
        let ids = u64_column(required(batch, column::ID)?, column::ID)?;
        let ids = ids.as_primitive::<UInt64Type>();
        let kinds = Vocabulary::new(
            required(batch, column::KIND)?,
            column::KIND,
            NodeKind::parse,
        )?;
        let mut optional_shared = |name: &'static str| -> Result<Option<Strings>, GraphError> {
            batch
                .column_by_name(name)
                .map(|c| Strings::shared_column(c, name, &mut self.names))
                .transpose()
        };
        let names = optional_shared(column::NAME)?;
        let types = optional_shared(column::TYPE)?;
        let files = optional_shared(column::FILE)?;
        let optional_strings = |name: &'static str| -> Result<Option<Strings>, GraphError> {
            batch
                .column_by_name(name)
                .map(|c| Strings::new(c, name))
                .transpose()
        };
        let value_str = optional_strings(column::VALUE_STR)?;
        let value_repr = optional_strings(column::VALUE_REPR)?;
        let optional = |name: &'static str, to: DataType| -> Result<Option<ArrayRef>, GraphError> {
            batch
                .column_by_name(name)
                .map(|c| {
                    cast(c, &to).map_err(|_| GraphError::BadColumn {
                        column: name,
                        found: c.data_type().to_string(),
                        expected: "a number",
                    })
                })
                .transpose()
        };
        let frames = optional(column::FRAME, DataType::UInt64)?;
        let lines = optional(column::LINE, DataType::UInt32)?;
        let ints = optional(column::VALUE_INT, DataType::Int64)?;
        let floats = optional(column::VALUE_FLOAT, DataType::Float64)?;
        let bools = optional(column::VALUE_BOOL, DataType::Boolean)?;

        let (offsets, entries) = input_lists(batch)?;
        let entries = entries.as_struct_opt().ok_or(GraphError::BadColumn {
            column: column::INPUTS,
            found: entries.data_type().to_string(),
            expected: "a list of (role, key, src)",
        })?;
        let field = |name: &'static str| {
            entries
                .column_by_name(name)
                .ok_or(GraphError::MissingColumn(name))
        };
        let roles = Vocabulary::new(field(column::INPUT_ROLE)?, column::INPUT_ROLE, Role::parse)?;
        let keys = Strings::shared_column(
            field(column::INPUT_KEY)?,
            column::INPUT_KEY,
            &mut self.names,
        )?;
        let srcs = u64_column(field(column::INPUT_SRC)?, column::INPUT_SRC)?;
        let srcs = srcs.as_primitive::<UInt64Type>();

        let ids = Numbers::<UInt64Type>::of(ids);
        let srcs = Numbers::<UInt64Type>::of(srcs);
        let frames = Numbers::<UInt64Type>::in_column(frames.as_ref());
        let lines = Numbers::<UInt32Type>::in_column(lines.as_ref());
        let ints = Numbers::<Int64Type>::in_column(ints.as_ref());
        let floats = Numbers::<Float64Type>::in_column(floats.as_ref());
        let bools = bools.as_ref().map(|c| c.as_boolean());
        nodes.reserve(rows);
        for row in 0..rows {
            let id = ids.values[row];
            let kind = kinds.get(row).ok_or_else(|| GraphError::UnknownKind {
                id,
                kind: kinds.text(row),
            })?;
            let mut node_inputs = SmallVec::new();
            for entry in offsets[row]..offsets[row + 1] {
                let role = roles.get(entry).ok_or_else(|| GraphError::UnknownRole {
                    id,
                    role: roles.text(entry),
                })?;
                node_inputs.push(Input {
                    role,
                    key: keys.shared(entry, &mut self.names),
                    src: srcs.values[entry],
                });
            }
            let recorded = if let Some(v) = ints.as_ref().and_then(|c| c.get(row)) {
                Recorded::Int(v)
            } else if let Some(v) = floats.as_ref().and_then(|c| c.get(row)) {
                Recorded::Float(v)
            } else if let Some(v) = bools.filter(|c| c.is_valid(row)) {
                Recorded::Bool(v.value(row))
            } else if let Some(text) = value_str.as_ref().and_then(|c| c.get(row)) {
                Recorded::Str(Box::from(text))
            } else if let Some(text) = value_repr.as_ref().and_then(|c| c.get(row)) {
                Recorded::Repr(Box::from(text))
            } else {
                Recorded::Absent
            };
            nodes.push(Node {
                id,
                kind,
                name: names.as_ref().and_then(|c| c.shared(row, &mut self.names)),
                type_name: types.as_ref().and_then(|c| c.shared(row, &mut self.names)),
                file: files.as_ref().and_then(|c| c.shared(row, &mut self.names)),
                line: lines.as_ref().and_then(|c| c.get(row)),
                frame: frames.as_ref().and_then(|c| c.get(row)),
                recorded,
                inputs: node_inputs,
            });
        }
        Ok(())
    }
}

/// The nodes of a trace (or of a part of one), indexed by id.
#[derive(Default)]
pub struct Graph {
    nodes: Vec<Node>,
    index: crate::interp::IdPositions,
}

impl Graph {
    /// The whole graph of some batches, in their row order.
    pub fn from_batches<'a>(
        batches: impl IntoIterator<Item = &'a RecordBatch>,
    ) -> Result<Graph, GraphError> {
        let mut decoder = Decoder::default();
        let mut graph = Graph::default();
        for batch in batches {
            for node in decoder.decode(batch)? {
                graph.insert(node)?;
            }
        }
        Ok(graph)
    }

    pub fn insert(&mut self, node: Node) -> Result<(), GraphError> {
        if self.index.get(node.id).is_some() {
            return Err(GraphError::DuplicateId { id: node.id });
        }
        let at = u32::try_from(self.nodes.len()).map_err(|_| GraphError::TooLarge)?;
        self.index.insert(node.id, at);
        self.nodes.push(node);
        Ok(())
    }

    pub fn get(&self, id: u64) -> Option<&Node> {
        self.index.get(id).map(|at| &self.nodes[at as usize])
    }

    pub fn contains(&self, id: u64) -> bool {
        self.index.get(id).is_some()
    }

    /// Where a node is in [`Graph::nodes`] (its row, for a whole trace).
    pub fn position(&self, id: u64) -> Option<usize> {
        self.index.get(id).map(|at| at as usize)
    }

    /// The nodes in the order they were added (file order for a whole trace).
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Who reads each node: for every id, the ids of the nodes that have it
    /// as an input (computed on demand; the graph does not keep it).
    pub fn users(&self) -> HashMap<u64, Vec<u64>> {
        let mut users: HashMap<u64, Vec<u64>> = HashMap::new();
        for node in &self.nodes {
            for input in &node.inputs {
                users.entry(input.src).or_default().push(node.id);
            }
        }
        users
    }

    /// The node an Argument or SetAttr stands for: follows `value` inputs
    /// through them (a bounded number of steps, so a cycle cannot hang).
    pub fn through(&self, mut id: u64) -> u64 {
        for _ in 0..1024 {
            match self.get(id) {
                Some(node) if node.kind.stands_for_its_value() => match node.input(Role::Value) {
                    Some(value) => id = value,
                    None => return id,
                },
                _ => return id,
            }
        }
        id
    }

    /// The nodes in data-dependency order: every input present in the
    /// graph before the node that reads it. Iterative (a chain of a
    /// million nodes needs no deep stack); a cycle is an error.
    pub fn data_order(&self) -> Result<Vec<usize>, GraphError> {
        const NEW: u8 = 0;
        const OPEN: u8 = 1;
        const DONE: u8 = 2;
        let mut state = vec![NEW; self.nodes.len()];
        let mut order = Vec::with_capacity(self.nodes.len());
        let mut stack: Vec<(usize, usize)> = Vec::new();
        for start in 0..self.nodes.len() {
            if state[start] != NEW {
                continue;
            }
            state[start] = OPEN;
            stack.push((start, 0));
            while let Some((at, next_input)) = stack.last_mut() {
                let node = &self.nodes[*at];
                if let Some(input) = node.inputs.get(*next_input) {
                    *next_input += 1;
                    if let Some(src) = self.position(input.src) {
                        match state[src] {
                            NEW => {
                                state[src] = OPEN;
                                stack.push((src, 0));
                            }
                            OPEN => {
                                return Err(GraphError::Cycle {
                                    id: node.id,
                                    through: input.src,
                                })
                            }
                            _ => {}
                        }
                    }
                } else {
                    state[*at] = DONE;
                    order.push(*at);
                    stack.pop();
                }
            }
        }
        Ok(order)
    }
}

/// Loads the upstream cone of some nodes level by level, for a trace too
/// large to hold: the caller fetches the ids [`ConeLoader::wanted`] names
/// (with a query, or from a file) and hands the nodes back with
/// [`ConeLoader::add`], until nothing more is wanted.
pub struct ConeLoader {
    graph: Graph,
    /// The most levels left with which each node has been expanded: one
    /// reached again with more levels left is expanded again.
    expanded: HashMap<u64, usize>,
    frontier: HashMap<u64, usize>,
}

impl ConeLoader {
    /// The cone of `roots`, `depth` operations deep (`usize::MAX`: all of it).
    /// Argument and SetAttr nodes stand for their value and use no level.
    pub fn new(roots: &[u64], depth: usize) -> ConeLoader {
        ConeLoader {
            graph: Graph::default(),
            expanded: HashMap::new(),
            frontier: roots.iter().map(|r| (*r, depth)).collect(),
        }
    }

    /// The ids to fetch next; empty when the cone is complete.
    pub fn wanted(&mut self) -> Vec<u64> {
        loop {
            let missing: Vec<u64> = self
                .frontier
                .keys()
                .filter(|id| !self.graph.contains(**id))
                .copied()
                .collect();
            if !missing.is_empty() || self.frontier.is_empty() {
                let mut missing = missing;
                missing.sort_unstable();
                return missing;
            }
            self.advance();
        }
    }

    /// Adds a fetched node (one that was wanted: the caller may have
    /// read more around it, and keeps those out).
    pub fn add(&mut self, node: Node) -> Result<(), GraphError> {
        if !self.graph.contains(node.id) {
            self.graph.insert(node)?;
        }
        Ok(())
    }

    /// Expands the current frontier by one level. Ids that were asked for
    /// and not found are dropped (they are not in the trace).
    fn advance(&mut self) {
        let mut next: HashMap<u64, usize> = HashMap::new();
        for (id, remaining) in std::mem::take(&mut self.frontier) {
            self.expanded.insert(id, remaining);
            let Some(node) = self.graph.get(id) else {
                continue;
            };
            let passes_through = node.kind.stands_for_its_value();
            if remaining == 0 && !passes_through {
                continue;
            }
            let below = if passes_through || remaining == usize::MAX {
                remaining
            } else {
                remaining - 1
            };
            for input in &node.inputs {
                let entry = next.entry(input.src).or_default();
                *entry = (*entry).max(below);
            }
        }
        next.retain(|id, left| self.expanded.get(id).is_none_or(|done| *left > *done));
        self.frontier = next;
    }

    /// Marks the wanted ids as fetched (whether or not they were found)
    /// and moves to the next level.
    pub fn fetched(&mut self) {
        self.advance();
    }

    /// How many nodes are loaded so far.
    pub fn loaded(&self) -> usize {
        self.graph.len()
    }

    pub fn finish(self) -> Graph {
        self.graph
    }
}

/// A whole trace's shape held compactly — each row's id, whether it stands
/// for its value, and its inputs' ids — so a cone is found without
/// decoding every node; then [`Topology::decode`] decodes only its rows.
pub struct Topology {
    passes: Vec<bool>,
    /// Row `r`'s inputs are `sources[offsets[r]..offsets[r + 1]]`.
    offsets: Vec<usize>,
    sources: Vec<u64>,
    rows: RowsById,
}

/// From an id to its row: a vector when ids are dense (as capture writes
/// them), a map otherwise.
enum RowsById {
    Dense(Vec<u32>),
    Sparse(crate::interp::IdMap<usize>),
}

impl Topology {
    pub fn from_batches(batches: &[RecordBatch]) -> Result<Topology, GraphError> {
        let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
        let mut ids = Vec::with_capacity(total);
        let mut passes = Vec::with_capacity(total);
        let mut offsets = Vec::with_capacity(total + 1);
        let mut sources = Vec::with_capacity(total);
        offsets.push(0);
        for batch in batches {
            let id_column = u64_column(required(batch, column::ID)?, column::ID)?;
            ids.extend_from_slice(id_column.as_primitive::<UInt64Type>().values());
            let kinds = Vocabulary::new(
                required(batch, column::KIND)?,
                column::KIND,
                NodeKind::parse,
            )?;
            for row in 0..batch.num_rows() {
                let kind = kinds.get(row);
                passes.push(kind.is_some_and(NodeKind::stands_for_its_value));
            }
            let (list_offsets, entries) = input_lists(batch)?;
            let srcs = sources_of(&entries)?;
            let base = sources.len();
            // A sliced batch's list offsets start past 0 and its entries
            // run past its last row: take its own.
            let first = list_offsets.first().copied().unwrap_or(0);
            let last = list_offsets.last().copied().unwrap_or(0);
            sources.extend_from_slice(&srcs.values()[first..last]);
            offsets.extend(list_offsets.iter().skip(1).map(|o| base + o - first));
        }
        let most = ids.iter().copied().max().unwrap_or(0);
        let rows = if ids.len() < u32::MAX as usize && most < 2 * ids.len() as u64 + 1024 {
            let mut dense = vec![u32::MAX; most as usize + 1];
            for (row, id) in ids.iter().enumerate() {
                dense[*id as usize] = row as u32;
            }
            RowsById::Dense(dense)
        } else {
            RowsById::Sparse(ids.iter().enumerate().map(|(row, id)| (*id, row)).collect())
        };
        Ok(Topology {
            passes,
            offsets,
            sources,
            rows,
        })
    }

    fn row(&self, id: u64) -> Option<usize> {
        match &self.rows {
            RowsById::Dense(rows) => rows
                .get(usize::try_from(id).ok()?)
                .filter(|r| **r != u32::MAX)
                .map(|r| *r as usize),
            RowsById::Sparse(rows) => rows.get(&id).copied(),
        }
    }

    /// The rows of the upstream cone of `roots`, `depth` operations deep
    /// (Argument and SetAttr nodes use no level), in row order; `Err` with
    /// the count as soon as it holds more than `most`. A breadth-first
    /// walk where level-free nodes cost nothing (0-1 BFS): each node is
    /// settled once, at the fewest levels from a root.
    pub fn cone(&self, roots: &[u64], depth: usize, most: usize) -> Result<Vec<usize>, usize> {
        let mut level_of: crate::interp::IdMap<usize> = Default::default();
        let mut work: std::collections::VecDeque<(u64, usize)> =
            roots.iter().map(|r| (*r, 0)).collect();
        let mut rows = Vec::new();
        while let Some((id, level)) = work.pop_front() {
            if level_of.get(&id).is_some_and(|done| *done <= level) {
                continue;
            }
            let Some(row) = self.row(id) else {
                continue;
            };
            if level_of.insert(id, level).is_none() {
                rows.push(row);
                if rows.len() > most {
                    return Err(rows.len());
                }
            }
            let passes = self.passes[row];
            if level >= depth && !passes {
                continue;
            }
            for src in &self.sources[self.offsets[row]..self.offsets[row + 1]] {
                if passes {
                    work.push_front((*src, level));
                } else {
                    work.push_back((*src, level + 1));
                }
            }
        }
        rows.sort_unstable();
        Ok(rows)
    }

    /// The nodes at `rows` (sorted, as [`Topology::cone`] gives them) of
    /// the batches this topology was built from.
    pub fn decode(&self, batches: &[RecordBatch], rows: &[usize]) -> Result<Graph, GraphError> {
        let mut decoder = Decoder::default();
        let mut graph = Graph::default();
        let mut wanted = rows.iter().copied().peekable();
        let mut base = 0;
        for batch in batches {
            let end = base + batch.num_rows();
            let mut mask = vec![false; batch.num_rows()];
            let mut any = false;
            while let Some(row) = wanted.next_if(|row| *row < end) {
                mask[row - base] = true;
                any = true;
            }
            if any {
                let kept = arrow_select::filter::filter_record_batch(
                    batch,
                    &arrow_array::BooleanArray::from(mask),
                )
                .map_err(|err| GraphError::Select(err.to_string()))?;
                for node in decoder.decode(&kept)? {
                    graph.insert(node)?;
                }
            }
            base = end;
        }
        Ok(graph)
    }
}

/// A node for tests: its id, kind and inputs (by role, no keys), nothing
/// recorded.
#[cfg(test)]
pub(crate) fn test_node(id: u64, kind: NodeKind, inputs: &[(Role, u64)]) -> Node {
    Node {
        id,
        kind,
        name: None,
        type_name: None,
        file: None,
        line: None,
        frame: None,
        recorded: Recorded::Absent,
        inputs: inputs
            .iter()
            .map(|(role, src)| Input {
                role: *role,
                key: None,
                src: *src,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: u64, kind: NodeKind, inputs: &[(Role, u64)]) -> Node {
        test_node(id, kind, inputs)
    }

    /// The prefix leaves out exactly the recorded scalars: a column added
    /// to nodes (or moved) fails here until it is placed.
    #[test]
    fn node_columns_but_scalars_leave_out_the_scalars_alone() {
        let scalars = [
            column::VALUE_INT,
            column::VALUE_FLOAT,
            column::VALUE_BOOL,
            column::VALUE_STR,
        ];
        let expected: Vec<&str> = NODE_COLUMNS
            .iter()
            .copied()
            .filter(|name| !scalars.contains(name))
            .collect();
        assert_eq!(NODE_COLUMNS_BUT_SCALARS, expected);
    }

    #[test]
    fn users_order_and_through_follow_the_inputs() {
        let mut graph = Graph::default();
        // A call (id 1) whose return (id 4) comes later in id order.
        graph.insert(node(0, NodeKind::Const, &[])).unwrap();
        graph
            .insert(node(2, NodeKind::Argument, &[(Role::Value, 0)]))
            .unwrap();
        graph
            .insert(node(4, NodeKind::UDispatch, &[(Role::SelfValue, 2)]))
            .unwrap();
        graph
            .insert(node(
                1,
                NodeKind::Call,
                &[(Role::Arg, 2), (Role::Return, 4)],
            ))
            .unwrap();
        let users = graph.users();
        assert_eq!(users[&2], vec![4, 1]);
        assert_eq!(graph.through(2), 0);
        let order: Vec<u64> = graph
            .data_order()
            .unwrap()
            .into_iter()
            .map(|i| graph.nodes()[i].id)
            .collect();
        assert_eq!(order, vec![0, 2, 4, 1]);
        assert!(matches!(
            graph.insert(node(4, NodeKind::Const, &[])),
            Err(GraphError::DuplicateId { id: 4 })
        ));
    }
}
