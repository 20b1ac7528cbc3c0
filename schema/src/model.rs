//! The trace model: node kinds, input roles, the columns with their Arrow
//! types, and the Parquet key-value metadata keys.

use std::sync::{Arc, OnceLock};

use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};

/// Value of the `hltpy.format` metadata key: what marks a Parquet file as a trace.
pub const FORMAT_NAME: &str = "hltpy-trace";
/// Readers refuse files whose major version is larger than theirs.
pub const FORMAT_VERSION_MAJOR: u32 = 1;
/// Minor versions only add optional columns, kinds, roles or keys; readers accept any.
pub const FORMAT_VERSION_MINOR: u32 = 3;

macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(i8)]
        pub enum $name { $($(#[$vdoc])* $variant,)* }

        impl $name {
            /// Every value, in the order of their codes (the dictionary order in files).
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The name written in trace files.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }

            /// The dictionary code of this value in trace files.
            pub const fn code(self) -> i8 {
                self as i8
            }

            /// Parses the name written in trace files.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)* _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// What operation made a node (see FORMAT.md for when each is made).
    NodeKind {
        /// A raw value entered the trace.
        Const = "Const",
        /// A tuple/list/dict/set/frozenset/slice holding traced values.
        Deep = "Deep",
        /// A traced module's function.
        Function = "Function",
        /// A traced module's class.
        Class = "Class",
        /// A traced class made a new object (before `__init__`).
        Obj = "Obj",
        /// The new object's `__init__` returned.
        NewInit = "NewInit",
        /// An attribute was set on a traced object.
        SetAttr = "SetAttr",
        /// An attribute was read from a traced value.
        GetAttr = "GetAttr",
        /// `t[k]` on a traced value.
        GetItem = "GetItem",
        /// `t[k] = v` on a traced container (mutation opted in).
        SetItem = "SetItem",
        /// `del t[k]` on a traced container (mutation opted in).
        DelItem = "DelItem",
        /// One bound parameter of a traced call.
        Argument = "Argument",
        /// A traced function returned.
        Call = "Call",
        /// A traced method returned.
        Dispatch = "Dispatch",
        /// An untraced callable returned.
        UCall = "UCall",
        /// An untraced method (or operator dunder) returned.
        UDispatch = "UDispatch",
        /// `iter()` on a traced value.
        Iterator = "Iterator",
        /// `next()` on a traced iterator.
        Iteration = "Iteration",
        /// A traced generator function was called.
        Generator = "Generator",
        /// `next()` on a traced generator.
        Generation = "Generation",
        /// A traced coroutine function (`async def`) was called (1.3).
        Coroutine = "Coroutine",
        /// That coroutine ran to its end: awaited, or stepped by a task (1.3).
        Awaited = "Awaited",
    }
}

string_enum! {
    /// The role an input plays for the node that consumes it.
    Role {
        /// The class of an Obj, or the class called for a NewInit.
        Class = "class",
        /// The object of an attribute/item access or of a NewInit.
        Object = "object",
        /// The value given to an Argument, SetAttr or SetItem.
        Value = "value",
        /// The earlier traced value a read gave back (e.g. the SetAttr that set it).
        Source = "source",
        /// The first operand of a GetItem/SetItem/DelItem (the container).
        Op1 = "op1",
        /// The second operand of a GetItem/SetItem/DelItem (the key).
        Op2 = "op2",
        /// An element of a Deep value; the key says which.
        Item = "item",
        /// What was called.
        Callable = "callable",
        /// The receiver of a method or operator.
        SelfValue = "self",
        /// An argument passed by position; the key is its index.
        Arg = "arg",
        /// An argument passed by keyword; the key is the keyword.
        Kwarg = "kwarg",
        /// A parameter filled from its default; the key is its name.
        Default = "default",
        /// The value a traced call returned.
        Return = "return",
        /// What `iter()` was applied to.
        Iterable = "iterable",
        /// The iterator `next()` was applied to; the key is the 0-based count.
        Iterator = "iterator",
        /// The generator `next()` was applied to; the key is the 0-based count.
        Generator = "generator",
        /// The Coroutine node whose run an Awaited ends (1.3).
        Coroutine = "coroutine",
    }
}

impl NodeKind {
    /// Kinds that are a traced call: their body ran inside them (a frame)
    /// and they have Argument inputs and a `return`.
    pub const fn is_traced_call(self) -> bool {
        matches!(
            self,
            NodeKind::Call
                | NodeKind::Dispatch
                | NodeKind::NewInit
                | NodeKind::Generator
                | NodeKind::Coroutine
        )
    }

    /// Kinds whose id is the `frame` of the nodes made while they ran.
    pub const fn opens_frame(self) -> bool {
        matches!(
            self,
            NodeKind::Call
                | NodeKind::Dispatch
                | NodeKind::NewInit
                | NodeKind::Generation
                | NodeKind::Awaited
        )
    }

    /// Kinds that stand for the value flowing through them (a parameter
    /// bound to what was passed, an attribute set to what was stored): a
    /// reader of the computation looks through them to their `value`.
    pub const fn stands_for_its_value(self) -> bool {
        matches!(self, NodeKind::Argument | NodeKind::SetAttr)
    }

    /// Kinds that only name something that entered the trace, with no
    /// operation behind them.
    pub const fn is_leaf(self) -> bool {
        matches!(self, NodeKind::Const | NodeKind::Function | NodeKind::Class)
    }

    /// The SQL list of the kinds for which `keep` holds, e.g. `'Call', 'Dispatch'`.
    pub fn sql_list(keep: impl Fn(NodeKind) -> bool) -> String {
        NodeKind::ALL
            .iter()
            .filter(|kind| keep(**kind))
            .map(|kind| format!("'{kind}'"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Role {
    /// Roles whose input only says where a value came from (the write a
    /// read gave back, a call's returned body value, a parameter's
    /// default): the node's operation did not consume it. Every other role
    /// is an operand of the operation.
    pub const fn is_provenance(self) -> bool {
        matches!(self, Role::Source | Role::Return | Role::Default)
    }

    /// Roles of the arguments of a call (position, keyword or default).
    pub const fn is_argument(self) -> bool {
        matches!(self, Role::Arg | Role::Kwarg | Role::Default)
    }
}

/// Column names, as constants so that both sides spell them the same way.
pub mod column {
    pub const ID: &str = "id";
    pub const KIND: &str = "kind";
    pub const NAME: &str = "name";
    pub const INPUTS: &str = "inputs";
    pub const FRAME: &str = "frame";
    pub const THREAD: &str = "thread";
    pub const FILE: &str = "file";
    pub const LINE: &str = "line";
    pub const TYPE: &str = "type";
    pub const VALUE_INT: &str = "value_int";
    pub const VALUE_FLOAT: &str = "value_float";
    pub const VALUE_BOOL: &str = "value_bool";
    pub const VALUE_STR: &str = "value_str";
    pub const VALUE_REPR: &str = "value_repr";
    /// Fields of the struct inside the `inputs` list.
    pub const INPUT_ROLE: &str = "role";
    pub const INPUT_KEY: &str = "key";
    pub const INPUT_SRC: &str = "src";
}

/// Parquet key-value metadata keys.
pub mod meta {
    pub const FORMAT: &str = "hltpy.format";
    pub const FORMAT_VERSION: &str = "hltpy.format_version";
    pub const HLTPY_VERSION: &str = "hltpy.version";
    pub const PYTHON_VERSION: &str = "hltpy.python_version";
    pub const ARGV: &str = "hltpy.argv";
    pub const TRACED_MODULES: &str = "hltpy.traced_modules";
    pub const START_TIME: &str = "hltpy.start_time";
    pub const END_TIME: &str = "hltpy.end_time";
    pub const NODE_COUNT: &str = "hltpy.node_count";
    pub const CLOSED_CLEANLY: &str = "hltpy.closed_cleanly";
    pub const END_REASON: &str = "hltpy.end_reason";
    /// Since 1.1: index of this file among the segments of one run.
    pub const SEGMENT: &str = "hltpy.segment";
    /// Since 1.1: "true" on the last segment of a run that ended.
    pub const LAST_SEGMENT: &str = "hltpy.last_segment";
}

/// One column of the trace table, as the reader checks it.
#[derive(Debug)]
pub struct ColumnSpec {
    pub name: &'static str,
    pub nullable: bool,
    /// Human description of the accepted Arrow type(s), for error messages.
    pub expected: &'static str,
}

/// The columns every trace has, in file order.
pub const COLUMNS: &[ColumnSpec] = &[
    spec(column::ID, false, "UInt64"),
    spec(column::KIND, false, "string (Utf8 or dictionary of Utf8)"),
    spec(column::NAME, true, "string"),
    spec(
        column::INPUTS,
        false,
        "List<Struct<role: string, key: string, src: UInt64>>",
    ),
    spec(column::FRAME, true, "UInt64"),
    spec(column::THREAD, false, "UInt64"),
    spec(column::FILE, true, "string"),
    spec(column::LINE, true, "UInt32"),
    spec(column::TYPE, true, "string"),
    spec(column::VALUE_INT, true, "Int64"),
    spec(column::VALUE_FLOAT, true, "Float64"),
    spec(column::VALUE_BOOL, true, "Boolean"),
    spec(column::VALUE_STR, true, "string"),
    spec(column::VALUE_REPR, true, "string"),
];

const fn spec(name: &'static str, nullable: bool, expected: &'static str) -> ColumnSpec {
    ColumnSpec {
        name,
        nullable,
        expected,
    }
}

fn dictionary(key: DataType) -> DataType {
    DataType::Dictionary(Box::new(key), Box::new(DataType::Utf8))
}

/// The struct type of one entry of the `inputs` list.
pub(crate) fn input_fields() -> Fields {
    Fields::from(vec![
        Field::new(column::INPUT_ROLE, dictionary(DataType::Int8), false),
        Field::new(column::INPUT_KEY, DataType::Utf8, true),
        Field::new(column::INPUT_SRC, DataType::UInt64, false),
    ])
}

pub(crate) fn input_item_field() -> Arc<Field> {
    Arc::new(Field::new("item", DataType::Struct(input_fields()), false))
}

/// The Arrow schema hltpy writes. Kinds, roles, files and type names are
/// dictionary-encoded because they repeat on almost every row.
pub fn arrow_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            Arc::new(Schema::new(vec![
                Field::new(column::ID, DataType::UInt64, false),
                Field::new(column::KIND, dictionary(DataType::Int8), false),
                Field::new(column::NAME, DataType::Utf8, true),
                Field::new(column::INPUTS, DataType::List(input_item_field()), false),
                Field::new(column::FRAME, DataType::UInt64, true),
                Field::new(column::THREAD, DataType::UInt64, false),
                Field::new(column::FILE, dictionary(DataType::UInt32), true),
                Field::new(column::LINE, DataType::UInt32, true),
                Field::new(column::TYPE, dictionary(DataType::UInt32), true),
                Field::new(column::VALUE_INT, DataType::Int64, true),
                Field::new(column::VALUE_FLOAT, DataType::Float64, true),
                Field::new(column::VALUE_BOOL, DataType::Boolean, true),
                Field::new(column::VALUE_STR, DataType::Utf8, true),
                Field::new(column::VALUE_REPR, DataType::Utf8, true),
            ]))
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_round_trip_and_codes_follow_dictionary_order() {
        for (index, kind) in NodeKind::ALL.iter().enumerate() {
            assert_eq!(NodeKind::parse(kind.as_str()), Some(*kind));
            assert_eq!(kind.code() as usize, index);
        }
        assert_eq!(NodeKind::parse("Nope"), None);
        assert_eq!(Role::parse("self"), Some(Role::SelfValue));
    }

    #[test]
    fn rules_name_the_kinds_the_format_describes() {
        assert_eq!(
            NodeKind::sql_list(NodeKind::is_traced_call),
            "'NewInit', 'Call', 'Dispatch', 'Generator', 'Coroutine'"
        );
        assert!(NodeKind::Generation.opens_frame() && !NodeKind::Generator.opens_frame());
        assert!(NodeKind::Awaited.opens_frame() && !NodeKind::Coroutine.opens_frame());
        assert!(Role::Return.is_provenance() && !Role::Value.is_provenance());
    }

    #[test]
    fn schema_lists_every_column_spec_in_order() {
        let schema = arrow_schema();
        let names: Vec<_> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        let specs: Vec<_> = COLUMNS.iter().map(|c| c.name).collect();
        assert_eq!(names, specs);
        for (field, spec) in schema.fields().iter().zip(COLUMNS) {
            assert_eq!(field.is_nullable(), spec.nullable, "{}", spec.name);
        }
    }
}
