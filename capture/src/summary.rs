//! What a node records of a value — its type, a typed scalar or a
//! bounded printed form ([`Summary`]) — and the inputs of an operation
//! before its Const operands have ids ([`OpInput`]): the types the
//! recorder takes. Making a summary of a live value is `values.rs`'s (it
//! may run the value's `__repr__`); this module needs nothing above it.

use hltpy_schema::{InputKey, NodeValue, Role};
use pyo3::prelude::*;
use pyo3::types::{PyString, PyType};

pub(crate) enum Scalar<'py> {
    Absent,
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A str known to encode as UTF-8 and to be short enough.
    Str(Bound<'py, PyString>),
    Repr(String),
}

/// A number as recorded, comparable for equality (see
/// [`Summary::const_value`]).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ConstValue {
    Int(i64),
    Float(u64),
    Bool(bool),
}

/// The recorded form of one value, and the value itself for `on_node`.
pub struct Summary<'py> {
    pub(crate) ty: Option<Bound<'py, PyType>>,
    pub(crate) scalar: Scalar<'py>,
    pub(crate) object: Option<Bound<'py, PyAny>>,
}

impl<'py> Summary<'py> {
    /// A node that records no value (e.g. a call that raised records the
    /// exception through [`Summary::raised`] instead).
    pub fn absent() -> Self {
        Summary {
            ty: None,
            scalar: Scalar::Absent,
            object: None,
        }
    }

    /// The number this summary records, when it is one (how equal Const
    /// nodes are told apart; floats by their bits, so `0.0` and `-0.0`
    /// and NaNs stay distinct).
    pub fn const_value(&self) -> Option<ConstValue> {
        match self.scalar {
            Scalar::Int(v) => Some(ConstValue::Int(v)),
            Scalar::Float(v) => Some(ConstValue::Float(v.to_bits())),
            Scalar::Bool(v) => Some(ConstValue::Bool(v)),
            _ => None,
        }
    }

    /// The value itself (None for a node that records no value).
    pub fn object(&self) -> Option<&Bound<'py, PyAny>> {
        self.object.as_ref()
    }

    pub fn type_object(&self) -> Option<&Bound<'py, PyType>> {
        self.ty.as_ref()
    }

    pub fn as_node_value(&self) -> NodeValue<'_> {
        match &self.scalar {
            Scalar::Absent => NodeValue::Absent,
            Scalar::Int(v) => NodeValue::Int(*v),
            Scalar::Float(v) => NodeValue::Float(*v),
            Scalar::Bool(v) => NodeValue::Bool(*v),
            // Checked to encode when the summary was made.
            Scalar::Str(s) => NodeValue::Str(s.to_str().unwrap_or_default()),
            Scalar::Repr(text) => NodeValue::Repr(text),
        }
    }
}

/// `module.QualName` of a type (just `QualName` for builtins).
pub fn type_name(ty: &Bound<'_, PyType>) -> String {
    let qualname = ty
        .qualname()
        .map(|q| q.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "?".into());
    match ty.module().map(|m| m.to_string_lossy().into_owned()) {
        Ok(module) if module != "builtins" => format!("{module}.{qualname}"),
        _ => qualname,
    }
}

/// An operand of a traced operation, ready to be linked as an input.
pub enum Operand<'py> {
    /// Already a node of this trace.
    Node(u64),
    /// A raw value: becomes a Const node in the same lock as the operation.
    Const(Summary<'py>),
}

/// One input of an operation before Const operands have ids.
pub struct OpInput<'a, 'py> {
    pub role: Role,
    pub key: InputKey<'a>,
    pub operand: Operand<'py>,
}

impl OpInput<'_, '_> {
    /// An unkeyed input from a node that is already in the trace.
    pub fn node(role: Role, src: u64) -> Self {
        OpInput {
            role,
            key: InputKey::None,
            operand: Operand::Node(src),
        }
    }
}
