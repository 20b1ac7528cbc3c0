//! Re-evaluation: recompute every node of a trace from its inputs with
//! CPython's semantics ([`crate::python`]), compare with what the program
//! recorded, and answer "what if" an input had another value.
//!
//! Leaves (Const, Function, Class) give their recorded values; what hltpy
//! cannot recompute keeps its recorded value and is counted as opaque with
//! its reason. In a what-if run, a node downstream of an opaque node whose
//! inputs changed "cannot follow": it is reported with that node.

use std::collections::HashMap;
use std::rc::Rc;

use hltpy_schema::{BinOp, Form, NodeKind, Operator, Role};

use crate::graph::{Node, Recorded};
use crate::interp::{Args, IdBits, InterpretError, Interpreter};
use crate::literal;
use crate::pymath::PythonVersion;
use crate::python::{self, Outcome, Unknown};
use crate::value::{Int, Object, Value, WeakValue};

/// What became of one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// A leaf: its value entered the trace there.
    Input,
    /// Recomputed, and equal to the recording: the value was compared.
    Matched,
    /// Recomputed, and of the recorded type; the recording kept nothing
    /// more to compare with (`values="types"`, an object's own repr, a
    /// value hltpy cannot compare).
    MatchedType,
    /// Recomputed, and not equal to the recording.
    Differed,
    /// Not recomputed: the recorded value stands.
    Opaque,
    /// What-if: the value was set by the user.
    Set,
    /// What-if: recomputed, and no longer the recorded value.
    Changed,
}

impl Status {
    /// Every status, in `Report::counts` order.
    pub const ALL: [Status; 7] = [
        Status::Input,
        Status::Matched,
        Status::MatchedType,
        Status::Differed,
        Status::Opaque,
        Status::Set,
        Status::Changed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Input => "input",
            Status::Matched => "matched",
            Status::MatchedType => "matched_type",
            Status::Differed => "differed",
            Status::Opaque => "opaque",
            Status::Set => "set",
            Status::Changed => "changed",
        }
    }
}

/// A node's value during re-evaluation.
#[derive(Clone, Debug)]
pub struct Slot {
    pub value: Value,
    /// Does the value differ from the recording (what-if)?
    pub changed: bool,
    /// An opaque node on the path whose inputs changed: this value could
    /// not follow them (what-if).
    pub stuck_at: Option<u64>,
}

/// One node's outcome, as handed to [`Evaluator::on_node`].
pub struct NodeOutcome<'a> {
    pub node: &'a Node,
    pub status: Status,
    pub value: &'a Value,
    /// Why the node is opaque.
    pub reason: Option<&'a str>,
    pub stuck_at: Option<u64>,
    pub readers: u32,
}

/// Options of a run.
#[derive(Clone, Debug, Default)]
pub struct EvalOptions {
    /// Floats compare within this relative tolerance (exactly when None).
    pub rel_tol: Option<f64>,
    /// What-if: node id → the value it takes instead.
    pub overrides: HashMap<u64, Value>,
    /// The CPython that recorded the trace: builtins compute as it does.
    pub python: PythonVersion,
}

/// The re-evaluating interpreter. `on_node` sees every node's outcome.
pub struct Evaluator<F: FnMut(&NodeOutcome)> {
    options: EvalOptions,
    on_node: F,
    /// The reason the node being visited is opaque (set by `opaque`).
    reason: Option<String>,
    /// How the node being visited agrees with its recording, when
    /// computing it already asked (a SetAttr): `observe` reuses it.
    agreement: Option<Agreement>,
    /// Mutable values (by identity) an opaque operation was given: it may
    /// have changed them in place, so what is computed from them later is
    /// opaque too, never a stale value taken for a difference. Kept with
    /// the kind of that operation, for the reason. The weak reference
    /// keeps the identity from being reused by a new value while marked
    /// (results would depend on the allocator); dead entries are dropped
    /// as the table grows.
    changed: HashMap<usize, (NodeKind, WeakValue)>,
    /// Entries `changed` had after its last sweep.
    swept_at: usize,
}

impl<F: FnMut(&NodeOutcome)> Evaluator<F> {
    pub fn new(options: EvalOptions, on_node: F) -> Self {
        crate::value::print_as(options.python);
        Evaluator {
            options,
            on_node,
            reason: None,
            agreement: None,
            changed: HashMap::new(),
            swept_at: 0,
        }
    }

    fn what_if(&self) -> bool {
        !self.options.overrides.is_empty()
    }
}

/// The value a node recorded, as a [`Value`]: scalars as they are, a
/// complete literal read back, anything else opaque.
pub fn recorded_value(node: &Node) -> Value {
    let type_name = node.type_name.as_deref().unwrap_or("?");
    match &node.recorded {
        Recorded::Int(v) if type_name == "int" => Value::int(*v),
        Recorded::Float(v) if type_name == "float" => Value::Float(*v),
        Recorded::Bool(v) if type_name == "bool" => Value::Bool(*v),
        Recorded::Str(v) if type_name == "str" => Value::Str(Rc::from(&**v)),
        Recorded::Repr(text) if !text.starts_with("raised ") => match literal::parse(text) {
            Some(value) if value.type_name() == type_name => value,
            _ => Value::opaque(type_name, Some(text)),
        },
        Recorded::Absent => Value::opaque(type_name, None),
        other => Value::opaque(type_name, Some(&recorded_text(other))),
    }
}

/// The recorded value as text, for reports.
pub fn recorded_text(recorded: &Recorded) -> String {
    match recorded {
        Recorded::Absent => String::new(),
        Recorded::Int(v) => v.to_string(),
        Recorded::Float(v) => crate::value::float_repr(*v),
        Recorded::Bool(true) => "True".into(),
        Recorded::Bool(false) => "False".into(),
        Recorded::Str(v) => crate::value::str_repr(v),
        Recorded::Repr(v) => v.to_string(),
    }
}

/// Two values are the same: same types all the way down, equal values
/// (floats bit for bit or within `rel_tol`, NaN equal to NaN), sets in any
/// order. `None` when one holds something hltpy cannot compare.
pub fn same(a: &Value, b: &Value, rel_tol: Option<f64>) -> Option<bool> {
    if a.type_name() != b.type_name() {
        return Some(false);
    }
    let all = |x: &[Value], y: &[Value]| -> Option<bool> {
        if x.len() != y.len() {
            return Some(false);
        }
        for (p, q) in x.iter().zip(y) {
            if !same(p, q, rel_tol)? {
                return Some(false);
            }
        }
        Some(true)
    };
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => Some(floats_same(*x, *y, rel_tol)),
        (Value::Complex(a, b), Value::Complex(c, d)) => {
            Some(floats_same(*a, *c, rel_tol) && floats_same(*b, *d, rel_tol))
        }
        (Value::Tuple(x), Value::Tuple(y)) | (Value::View(_, x), Value::View(_, y)) => all(x, y),
        (Value::List(x), Value::List(y)) => {
            if Rc::ptr_eq(x, y) {
                return Some(true);
            }
            all(&x.try_borrow().ok()?, &y.try_borrow().ok()?)
        }
        (Value::Dict(x), Value::Dict(y)) => {
            if Rc::ptr_eq(x, y) {
                return Some(true);
            }
            let (x, y) = (x.try_borrow().ok()?, y.try_borrow().ok()?);
            if x.len() != y.len() {
                return Some(false);
            }
            for ((k1, v1), (k2, v2)) in x.iter().zip(y.iter()) {
                if !same(k1, k2, rel_tol)? || !same(v1, v2, rel_tol)? {
                    return Some(false);
                }
            }
            Some(true)
        }
        (Value::Set(x) | Value::FrozenSet(x), Value::Set(y) | Value::FrozenSet(y)) => {
            if x.len() != y.len() {
                return Some(false);
            }
            for p in x.iter() {
                let mut found = false;
                for q in y.iter() {
                    if same(p, q, rel_tol)? {
                        found = true;
                        break;
                    }
                }
                if !found {
                    return Some(false);
                }
            }
            Some(true)
        }
        (Value::Slice(x), Value::Slice(y)) => all(&x[..], &y[..]),
        (Value::Object(x), Value::Object(y)) => Some(Rc::ptr_eq(x, y) || x.class == y.class),
        (Value::Opaque(x), Value::Opaque(y)) => Some(x == y),
        (Value::Raised(x), Value::Raised(y)) => Some(x == y),
        (Value::Opaque(_) | Value::Iter(_) | Value::Method(_), _)
        | (_, Value::Opaque(_) | Value::Iter(_) | Value::Method(_)) => None,
        _ => python::eq(a, b),
    }
}

fn floats_same(x: f64, y: f64, rel_tol: Option<f64>) -> bool {
    if x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()) {
        return true;
    }
    match rel_tol {
        Some(tol) if x.is_finite() && y.is_finite() => (x - y).abs() <= tol * x.abs().max(y.abs()),
        _ => false,
    }
}

/// How far a recomputed value agrees with what the node recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agreement {
    /// The recorded value was compared, and is equal.
    Value,
    /// Only the type could be compared, and it is the same.
    Type,
    /// Not the recorded value.
    No,
}

impl Agreement {
    pub fn agrees(self) -> bool {
        self != Agreement::No
    }
}

/// Does a recomputed value agree with what the node recorded?
pub fn agrees(node: &Node, value: &Value, rel_tol: Option<f64>) -> bool {
    agreement(node, value, rel_tol).agrees()
}

/// How far a recomputed value agrees with what the node recorded: by
/// value wherever the recording allows it, by type where it kept no more.
pub fn agreement(node: &Node, value: &Value, rel_tol: Option<f64>) -> Agreement {
    let type_name = node.type_name.as_deref();
    if let Some(recorded_type) = type_name {
        if recorded_type != value.type_name() {
            return Agreement::No;
        }
    }
    let compared = |equal: bool| {
        if equal {
            Agreement::Value
        } else {
            Agreement::No
        }
    };
    match &node.recorded {
        Recorded::Absent => Agreement::Type, // only the type was kept
        Recorded::Int(v) => compared(matches!(value, Value::Int(Int::Small(x)) if x == v)),
        Recorded::Float(v) => {
            compared(matches!(value, Value::Float(x) if floats_same(*x, *v, rel_tol)))
        }
        Recorded::Bool(v) => compared(matches!(value, Value::Bool(x) if x == v)),
        Recorded::Str(v) => compared(matches!(value, Value::Str(x) if **x == **v)),
        Recorded::Repr(text) => {
            if text.starts_with("raised ") {
                // The message of an exception is compared as capture wrote
                // it; one cut short, as far as it was kept.
                return compared(
                    matches!(value, Value::Raised(_))
                        && (value.repr() == **text || literal::cut_short(text).is_some()),
                );
            }
            // An object's repr is its class's own `__repr__`, which hltpy
            // does not run: an object agrees by value when its state does
            // (every write to its attributes agreed, see
            // `Object::state_agrees`), a value holding objects on its type.
            if let Value::Object(object) = value {
                if object.state_agrees() {
                    return Agreement::Value;
                }
            }
            if value.holds_object() {
                return Agreement::Type;
            }
            if let Some(recorded) = literal::parse(text) {
                return match same(&recorded, value, rel_tol) {
                    Some(equal) => compared(equal),
                    None => Agreement::Type,
                };
            }
            if let Some(bits) = text
                .strip_prefix("<int of ")
                .and_then(|t| t.strip_suffix(" bits>"))
                .and_then(|t| t.parse::<u64>().ok())
            {
                // Capture summarises ints too wide to print by their size:
                // that is all there is to compare.
                return match value {
                    Value::Int(i) if i.bits() == bits => Agreement::Type,
                    _ => Agreement::No,
                };
            }
            if let Some(cut) = literal::cut_short(text) {
                if matches!(value, Value::Set(_) | Value::FrozenSet(_)) {
                    // A set prints in hash order, which the cut-off part
                    // of its repr does not let hltpy reproduce.
                    return Agreement::Type;
                }
                // As far as the capture kept it, the repr is compared.
                return compared(value.bounded_repr(cut.len()) == **text);
            }
            // A dict view prints its items: that is its value.
            if matches!(value, Value::View(..)) {
                return compared(value.repr() == **text);
            }
            // A repr that is not a literal (an object's own __repr__): its
            // type was compared above, and that is all there is to compare.
            Agreement::Type
        }
    }
}

/// The positional and keyword arguments of a call, as values.
type CallArgs<'a> = (Vec<&'a Value>, Vec<(&'a str, &'a Value)>);

fn positional_and_keywords<'a>(args: &Args<'a, Slot>) -> Result<CallArgs<'a>, Unknown> {
    let positional = args
        .positional()
        .ok_or_else(|| Unknown("an argument whose value is not known".into()))?;
    let keywords = args
        .keywords()
        .ok_or_else(|| Unknown("a keyword argument whose value is not known".into()))?;
    Ok((
        positional.into_iter().map(|s| &s.value).collect(),
        keywords.into_iter().map(|(k, s)| (k, &s.value)).collect(),
    ))
}

fn input<'a>(args: &Args<'a, Slot>, role: Role) -> Result<&'a Value, Unknown> {
    args.get(role)
        .map(|slot| &slot.value)
        .ok_or_else(|| Unknown(format!("its {role} input is not in the trace")))
}

/// A dunder applied to a receiver, as the proxy recorded it.
fn operator(name: &str, receiver: &Value, args: &[&Value]) -> Outcome {
    match (Operator::parse(name), args) {
        (Some(Operator::Binary(op, Form::Plain)), [other]) => python::binary(op, receiver, other),
        (Some(Operator::Binary(op, Form::Reflected)), [other]) => {
            python::binary(op, other, receiver)
        }
        (Some(Operator::Binary(BinOp::Pow, Form::Plain)), [exponent, modulo]) => {
            python::call_builtin("pow", &[receiver, exponent, modulo], &[])
        }
        (Some(Operator::Compare(op)), [other]) => python::compare(op, receiver, other),
        (Some(Operator::Unary(op)), []) => python::unary(op, receiver),
        // An in-place dunder changes a mutable receiver (`list.__iadd__`
        // extends it): not the binary operator's value.
        _ => named_dunder(name, receiver, args),
    }
}

/// A dunder that is not an operator (`__len__`, `__contains__`, the
/// conversions), applied to a receiver.
fn named_dunder(name: &str, receiver: &Value, args: &[&Value]) -> Outcome {
    match (name, args) {
        ("__len__", []) => python::len(receiver),
        ("__contains__", [item]) => python::contains(receiver, item),
        ("__bool__", []) => python::call_builtin("bool", &[receiver], &[]),
        ("__int__" | "__index__", []) => python::call_builtin("int", &[receiver], &[]),
        ("__float__", []) => python::call_builtin("float", &[receiver], &[]),
        // `os.fspath` of a traced path (recorded with `conversions=True`).
        ("__fspath__", []) if matches!(receiver, Value::Str(_) | Value::Bytes(_)) => {
            Ok(receiver.clone())
        }
        ("__round__", []) => python::call_builtin("round", &[receiver], &[]),
        ("__round__", [digits]) => python::call_builtin("round", &[receiver, digits], &[]),
        ("__trunc__", []) => python::call_builtin("math.trunc", &[receiver], &[]),
        ("__floor__", []) => python::call_builtin("math.floor", &[receiver], &[]),
        ("__ceil__", []) => python::call_builtin("math.ceil", &[receiver], &[]),
        _ => Err(Unknown(format!(
            "{name} on {} is not re-evaluated",
            receiver.type_name()
        ))),
    }
}

/// Applies a callable value hltpy knows (a builtin, a method of a builtin
/// value) to arguments.
fn apply(
    python: PythonVersion,
    callable: &Value,
    args: &[&Value],
    keywords: &[(&str, &Value)],
) -> Outcome {
    match callable {
        Value::Builtin(name) => python::call_builtin_in(python, name, args, keywords),
        Value::Method(method) => {
            let (receiver, name) = &**method;
            if let Value::Object(object) = receiver {
                return Err(Unknown(format!(
                    "an untraced call of method {name} of {}",
                    object.class
                )));
            }
            python::call_method(receiver, name, args, keywords)
        }
        other => Err(Unknown(format!(
            "a call of {} (not a builtin hltpy re-evaluates)",
            other.type_name()
        ))),
    }
}

impl<F: FnMut(&NodeOutcome)> Evaluator<F> {
    /// A read of a value stored earlier (its SetAttr/SetItem is the read's
    /// `source`): that value, as this pass holds it. A read computes
    /// nothing, so when what it recorded is not that value, the stored
    /// object was changed in place by code whose effect this pass did not
    /// follow (an array's items, a set's `add`, a list that went through
    /// an opaque call): opaque, not a difference.
    fn stored(&self, node: &Node, value: &Value) -> Outcome {
        if !self.what_if() && !agrees(node, value, self.options.rel_tol) {
            return Err(Unknown(format!(
                "a stored {} changed in place by code eval does not follow",
                value.type_name()
            )));
        }
        Ok(value.clone())
    }

    /// Recomputes a node's value: `Ok` with the value, or the reason it
    /// stays opaque.
    fn compute(&mut self, args: &Args<Slot>) -> Outcome {
        let node = args.node;
        match node.kind {
            NodeKind::Const | NodeKind::Function | NodeKind::Class => Ok(recorded_value(node)),
            NodeKind::Deep => deep(args),
            NodeKind::Obj => Ok(Value::Object(Rc::new(Object::new(Rc::from(
                node.name
                    .as_deref()
                    .or(node.type_name.as_deref())
                    .unwrap_or("?"),
            ))))),
            NodeKind::NewInit => input(args, Role::Object).cloned(),
            NodeKind::SetAttr => {
                let object = match input(args, Role::Object) {
                    Ok(Value::Object(object)) => Some(object),
                    _ => None,
                };
                let value = match input(args, Role::Value) {
                    Ok(value) => value.clone(),
                    Err(unknown) => {
                        // The attribute now holds what eval does not know.
                        if let Some(object) = object {
                            object.writes_agreed.set(false);
                        }
                        return Err(unknown);
                    }
                };
                if let Some(object) = object {
                    let agreed = agreement(node, &value, self.options.rel_tol);
                    if agreed != Agreement::Value {
                        object.writes_agreed.set(false);
                    }
                    self.agreement = Some(agreed);
                    object.set_attr(Rc::from(node.name()), value.clone());
                }
                Ok(value)
            }
            NodeKind::GetAttr => {
                if let Some(source) = args.get(Role::Source) {
                    return self.stored(node, &source.value);
                }
                let object = input(args, Role::Object)?;
                if let (Value::Object(object), "__dict__") = (object, node.name()) {
                    // Its attributes may now change without a SetAttr.
                    object.writes_agreed.set(false);
                }
                match python::get_attr(object, node.name()) {
                    Ok(value) => Ok(value),
                    // A traced class's method: the object and the name are
                    // all a bound method is.
                    Err(_)
                        if matches!(object, Value::Object(_))
                            && node.type_name.as_deref() == Some("method") =>
                    {
                        Ok(Value::Method(Rc::new((
                            object.clone(),
                            Rc::from(node.name()),
                        ))))
                    }
                    Err(reason) => Err(reason),
                }
            }
            NodeKind::GetItem => {
                if let Some(source) = args.get(Role::Source) {
                    return self.stored(node, &source.value);
                }
                python::get_item(input(args, Role::Op1)?, input(args, Role::Op2)?)
            }
            NodeKind::Argument => input(args, Role::Value).cloned(),
            NodeKind::SetItem => {
                let value = input(args, Role::Value)?.clone();
                let container = input(args, Role::Op1)?;
                let key = input(args, Role::Op2)?;
                match python::set_item(container, key, Some(value.clone()))? {
                    Value::Raised(raised) => Ok(Value::Raised(raised)),
                    _ => Ok(value),
                }
            }
            NodeKind::DelItem => {
                python::set_item(input(args, Role::Op1)?, input(args, Role::Op2)?, None)
            }
            NodeKind::Call | NodeKind::Dispatch => match args.get(Role::Return) {
                Some(returned) => Ok(returned.value.clone()),
                None => Err(Unknown(
                    "the traced call returned an untraced value or raised".into(),
                )),
            },
            NodeKind::UCall => {
                let callable = input(args, Role::Callable)?;
                let (positional, keywords) = positional_and_keywords(args)?;
                apply(self.options.python, callable, &positional, &keywords)
            }
            NodeKind::UDispatch => {
                let (positional, keywords) = positional_and_keywords(args)?;
                if let Some(receiver) = args.get(Role::SelfValue) {
                    if !keywords.is_empty() {
                        return Err(Unknown(format!("{} with keywords", node.name())));
                    }
                    return operator(node.name(), &receiver.value, &positional);
                }
                apply(
                    self.options.python,
                    input(args, Role::Callable)?,
                    &positional,
                    &keywords,
                )
            }
            NodeKind::Iterator => {
                let iterable = input(args, Role::Iterable)?;
                python::items_of(iterable)?;
                let type_name = node.type_name.as_deref().unwrap_or("iterator");
                Ok(Value::Iter(Rc::new((
                    iterable.clone(),
                    Rc::from(type_name),
                ))))
            }
            NodeKind::Iteration => {
                if let Some(source) = args.get(Role::Source) {
                    return Ok(source.value.clone());
                }
                let iterator_input = node
                    .inputs
                    .iter()
                    .find(|i| i.role == Role::Iterator)
                    .ok_or_else(|| Unknown("it has no iterator input".into()))?;
                let count: u64 = iterator_input
                    .key
                    .as_deref()
                    .and_then(|k| k.parse().ok())
                    .ok_or_else(|| Unknown("its iterator input has no count".into()))?;
                match input(args, Role::Iterator)? {
                    Value::Iter(iter) => python::nth_item(&iter.0, count),
                    other => Err(Unknown(format!("next() of {}", other.type_name()))),
                }
            }
            NodeKind::Generator => Err(Unknown("a generator object".into())),
            NodeKind::Generation => match args.get(Role::Source) {
                Some(source) => Ok(source.value.clone()),
                None => Err(Unknown("a generator yielded an untraced value".into())),
            },
            NodeKind::Coroutine => Err(Unknown("a coroutine object".into())),
            NodeKind::Awaited => match args.get(Role::Return) {
                Some(returned) => Ok(returned.value.clone()),
                None => Err(Unknown(
                    "the coroutine returned an untraced value or raised".into(),
                )),
            },
        }
    }
}

fn deep(args: &Args<Slot>) -> Outcome {
    let node = args.node;
    let mut items: Vec<(&str, &Value)> = Vec::with_capacity(node.inputs.len());
    for (input, slot) in node.inputs.iter().zip(&args.values) {
        if input.role != Role::Item {
            continue;
        }
        let slot = slot.ok_or_else(|| Unknown("an item that is not in the trace".into()))?;
        items.push((input.key.as_deref().unwrap_or(""), &slot.value));
    }
    let ordered = |items: &[(&str, &Value)]| -> Result<Vec<Value>, Unknown> {
        let mut indexed: Vec<(usize, Value)> = Vec::with_capacity(items.len());
        for (key, value) in items {
            let index = key
                .parse()
                .map_err(|_| Unknown(format!("an item keyed {key:?}, not by position")))?;
            indexed.push((index, (*value).clone()));
        }
        indexed.sort_by_key(|(i, _)| *i);
        Ok(indexed.into_iter().map(|(_, v)| v).collect())
    };
    match node.type_name.as_deref() {
        Some("tuple") => Ok(Value::Tuple(ordered(&items)?.into())),
        Some("list") => Ok(Value::list(ordered(&items)?)),
        Some("set") => Ok(Value::Set(ordered(&items)?.into())),
        Some("frozenset") => Ok(Value::FrozenSet(ordered(&items)?.into())),
        Some("dict") => {
            let mut pairs = Vec::with_capacity(items.len());
            for (key, value) in items {
                let key = literal::parse(key)
                    .ok_or_else(|| Unknown(format!("a dict key {key:?} that is not a literal")))?;
                pairs.push((key, value.clone()));
            }
            Ok(Value::dict(pairs))
        }
        Some("slice") => {
            let part = |name: &str| {
                items
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, v)| (*v).clone())
                    .unwrap_or(Value::None)
            };
            Ok(Value::Slice(Rc::new([
                part("start"),
                part("stop"),
                part("step"),
            ])))
        }
        other => Err(Unknown(format!(
            "a Deep value of type {}",
            other.unwrap_or("?")
        ))),
    }
}

impl<F: FnMut(&NodeOutcome)> Interpreter for Evaluator<F> {
    type Value = Slot;

    fn fallback(&mut self, args: &Args<Slot>) -> Result<Slot, InterpretError> {
        let node = args.node;
        let upstream_stuck = args.values.iter().flatten().find_map(|s| s.stuck_at);
        let inputs_changed = args.values.iter().flatten().any(|s| s.changed);
        if let Some(value) = self.options.overrides.get(&node.id) {
            return Ok(Slot {
                changed: !agrees(node, value, self.options.rel_tol),
                value: value.clone(),
                stuck_at: None,
            });
        }
        self.reason = None;
        self.agreement = None;
        // The inputs a node's value is read from: a call's is what it
        // returned, whatever became of its arguments or coroutine.
        let value_roles: Option<&[Role]> = match node.kind {
            NodeKind::Call | NodeKind::Dispatch | NodeKind::Awaited => Some(&[Role::Return]),
            NodeKind::Generation => Some(&[Role::Source]),
            _ => None,
        };
        let changed_input = (!self.changed.is_empty())
            .then(|| {
                node.inputs
                    .iter()
                    .zip(&args.values)
                    .filter(|(input, _)| {
                        value_roles.is_none_or(|roles| roles.contains(&input.role))
                    })
                    .find_map(|(_, slot)| {
                        let (kind, _) = self.changed.get(&slot.as_ref()?.value.identity()?)?;
                        Some(*kind)
                    })
            })
            .flatten();
        let computed = match changed_input {
            Some(kind) => Err(Unknown(format!(
                "an input an opaque {kind} may have changed in place"
            ))),
            None => {
                let computed = self.compute(args);
                // Calls and item assignments change what they are given; a
                // method read opaquely will change its object when called.
                let may_change = matches!(
                    node.kind,
                    NodeKind::UCall | NodeKind::UDispatch | NodeKind::SetItem | NodeKind::DelItem
                ) || (node.kind == NodeKind::GetAttr
                    && matches!(
                        node.type_name.as_deref(),
                        Some("builtin_function_or_method" | "method")
                    ));
                if computed.is_err() && may_change {
                    for slot in args.values.iter().flatten() {
                        if let Value::Object(object) = &slot.value {
                            object.writes_agreed.set(false);
                        }
                        if let (Some(identity), Some(weak)) =
                            (slot.value.identity(), slot.value.downgrade())
                        {
                            self.changed.entry(identity).or_insert((node.kind, weak));
                        }
                    }
                    if self.changed.len() > 2 * self.swept_at.max(1024) {
                        self.changed.retain(|_, (_, weak)| weak.is_alive());
                        self.swept_at = self.changed.len();
                    }
                }
                computed
            }
        };
        let (value, stuck_at) = match computed {
            Ok(value) => (value, upstream_stuck),
            Err(Unknown(reason)) => {
                // An input whose recorded text the capture cut short
                // (`max_repr`) cannot be read back: the reason says so,
                // with the fix.
                let cut_short = changed_input.is_none()
                    && !node.kind.is_traced_call()
                    && args.values.iter().flatten().any(|slot| {
                        matches!(&slot.value, Value::Opaque(opaque)
                        if opaque.repr.as_deref().and_then(literal::cut_short).is_some())
                    });
                self.reason = Some(if cut_short {
                    format!("{reason}: an input's recorded value was cut short (capture with a larger max_repr)")
                } else {
                    reason
                });
                let stuck =
                    upstream_stuck.or((self.what_if() && inputs_changed).then_some(node.id));
                (recorded_value(node), stuck)
            }
        };
        let changed = self.what_if() && !agrees(node, &value, self.options.rel_tol);
        Ok(Slot {
            value,
            changed,
            stuck_at,
        })
    }

    fn observe(&mut self, node: &Node, slot: &Slot, readers: u32) -> Result<(), InterpretError> {
        let status = if self.options.overrides.contains_key(&node.id) {
            Status::Set
        } else if self.reason.is_some() {
            Status::Opaque
        } else if node.kind.is_leaf() {
            Status::Input
        } else if self.what_if() {
            if slot.changed {
                Status::Changed
            } else {
                Status::Matched
            }
        } else {
            let agreed = self.agreement.take();
            match agreed.unwrap_or_else(|| agreement(node, &slot.value, self.options.rel_tol)) {
                Agreement::Value => Status::Matched,
                Agreement::Type => Status::MatchedType,
                Agreement::No => Status::Differed,
            }
        };
        (self.on_node)(&NodeOutcome {
            node,
            status,
            value: &slot.value,
            reason: self.reason.as_deref(),
            stuck_at: slot.stuck_at,
            readers,
        });
        self.reason = None;
        self.agreement = None;
        Ok(())
    }
}

/// One `--set` of a what-if run: a node id or a parameter name, and the
/// value (a Python literal).
#[derive(Clone, Debug)]
pub struct Setting {
    pub target: Target,
    pub value: Value,
    /// As the user wrote it, for messages.
    pub text: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    Node(u64),
    /// `param` or `function.param`.
    Parameter {
        function: Option<String>,
        name: String,
    },
}

impl std::str::FromStr for Setting {
    type Err = String;

    /// `ID=VALUE`, `PARAM=VALUE` or `FUNC.PARAM=VALUE`.
    fn from_str(text: &str) -> Result<Setting, String> {
        let (target, value) = text.split_once('=').ok_or_else(|| {
            format!("--set {text:?} needs the form ID=VALUE or PARAM=VALUE, e.g. --set y=6")
        })?;
        let target = target.trim();
        let value = literal::parse(value.trim()).ok_or_else(|| {
            format!(
                "--set {text:?}: {:?} is not a Python literal (a number, a quoted string, True/False/None, or a tuple/list/dict of those)",
                value.trim()
            )
        })?;
        let target = if let Ok(id) = target.parse::<u64>() {
            Target::Node(id)
        } else {
            let (function, name) = match target.rsplit_once('.') {
                Some((function, name)) => (Some(function.to_string()), name),
                None => (None, target),
            };
            let valid = |s: &str| {
                !s.is_empty()
                    && !s.starts_with(|c: char| c.is_ascii_digit())
                    && s.chars()
                        .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
            };
            if !valid(name) || function.as_deref().is_some_and(|f| !valid(f)) {
                return Err(format!(
                    "--set {text:?}: {target:?} is neither a node id nor a parameter name"
                ));
            }
            Target::Parameter {
                function,
                name: name.to_string(),
            }
        };
        Ok(Setting {
            target,
            value,
            text: text.to_string(),
        })
    }
}

/// What the light pass learns for `--set PARAM=…`: the Argument nodes that
/// took a value entering the trace (a leaf), by the traced function that
/// received them.
#[derive(Default)]
pub struct ParameterIndex {
    /// The leaves seen.
    leaves: IdBits,
    /// Arguments that took a leaf's value, by id → their name, until the
    /// traced call that received them is seen.
    arguments: HashMap<u64, Rc<str>>,
    /// (function, parameter) → Argument ids.
    pub parameters: Vec<(String, String, Vec<u64>)>,
    /// Every node seen.
    ids: IdBits,
}

impl ParameterIndex {
    /// Learns from one node of the light pass (nodes in file order).
    pub fn visit(&mut self, node: &Node) {
        // Ids as dense as the nodes seen so far (the trace's size is not
        // known ahead here).
        let dense_below = crate::interp::dense_limit(self.ids.len() as u64);
        self.ids.insert(node.id, dense_below);
        if node.kind.is_leaf() {
            self.leaves.insert(node.id, dense_below);
        }
        if node.kind == NodeKind::Argument {
            let from_outside = node
                .input(Role::Value)
                .is_some_and(|v| self.leaves.contains(v));
            if from_outside {
                self.arguments.insert(
                    node.id,
                    node.name
                        .clone()
                        .map(|n| Rc::from(&*n))
                        .unwrap_or_else(|| Rc::from("")),
                );
            }
        }
        if node.kind.is_traced_call() {
            let function = node.name().rsplit('.').next().unwrap_or("").to_string();
            for input in node.inputs.iter().filter(|i| i.role.is_argument()) {
                if let Some(name) = self.arguments.remove(&input.src) {
                    let name = name.to_string();
                    match self
                        .parameters
                        .iter_mut()
                        .find(|(f, p, _)| *f == function && *p == name)
                    {
                        Some((_, _, ids)) => ids.push(input.src),
                        None => self
                            .parameters
                            .push((function.clone(), name, vec![input.src])),
                    }
                }
            }
        }
    }

    /// The node ids each setting targets, or a message saying why not.
    pub fn resolve(&self, settings: &[Setting]) -> Result<HashMap<u64, Value>, String> {
        let mut overrides = HashMap::new();
        for setting in settings {
            match &setting.target {
                Target::Node(id) => {
                    if !self.ids.contains(*id) {
                        return Err(format!(
                            "--set {}: there is no node {id} in the trace",
                            setting.text
                        ));
                    }
                    overrides.insert(*id, setting.value.clone());
                }
                Target::Parameter { function, name } => {
                    let matching: Vec<&(String, String, Vec<u64>)> = self
                        .parameters
                        .iter()
                        .filter(|(f, p, _)| {
                            p == name
                                && function.as_deref().is_none_or(|wanted| {
                                    f == wanted.rsplit('.').next().unwrap_or(wanted)
                                })
                        })
                        .collect();
                    let all: Vec<String> = {
                        let mut all: Vec<String> = self
                            .parameters
                            .iter()
                            .map(|(f, p, _)| format!("{f}.{p}"))
                            .collect();
                        all.sort();
                        all
                    };
                    match matching.as_slice() {
                        [] => {
                            return Err(format!(
                                "--set {}: no traced call has a parameter {} that took a value from outside the trace; parameters: {}",
                                setting.text,
                                function.as_ref().map(|f| format!("{f}.{name}")).unwrap_or(name.clone()),
                                if all.is_empty() { "none".into() } else { all.join(", ") }
                            ))
                        }
                        [(_, _, ids)] => {
                            for id in ids {
                                overrides.insert(*id, setting.value.clone());
                            }
                        }
                        many => {
                            let names: Vec<String> =
                                many.iter().map(|(f, p, _)| format!("{f}.{p}")).collect();
                            return Err(format!(
                                "--set {}: {name} is a parameter of several functions; say which: {}",
                                setting.text,
                                names.join(", ")
                            ));
                        }
                    }
                }
            }
        }
        Ok(overrides)
    }
}

/// A node whose recomputed value is not the recorded one.
#[derive(Clone, Debug)]
pub struct Difference {
    pub id: u64,
    pub kind: NodeKind,
    pub name: String,
    pub location: String,
    pub recorded: String,
    pub recomputed: String,
    /// What-if: the opaque node that kept this result from following.
    pub stuck_at: Option<u64>,
}

/// Everything a re-evaluation of one trace found.
#[derive(Debug, Default)]
pub struct Report {
    pub nodes: u64,
    /// Nodes per status, indexed by `Status as usize`.
    pub counts: [u64; Status::ALL.len()],
    /// The first differences (eval) in file order.
    pub differences: Vec<Difference>,
    /// Opaque nodes by reason, most frequent first after `finish`.
    pub opaque_reasons: Vec<(String, u64)>,
    /// What-if: results (nodes no one reads) whose value changed or
    /// could not follow.
    pub results: Vec<Difference>,
    /// The most values held at once.
    pub peak_live: usize,
    /// Set nodes of a what-if run.
    pub set: Vec<(u64, String)>,
}

/// How many differences a report keeps.
pub const MAX_LISTED: usize = 20;

impl Report {
    pub fn count(&self, status: Status) -> u64 {
        self.counts[status as usize]
    }

    /// Collects one node's outcome.
    pub fn add(
        &mut self,
        outcome: &NodeOutcome,
        reasons: &mut HashMap<String, u64>,
        what_if: bool,
    ) {
        self.nodes += 1;
        self.counts[outcome.status as usize] += 1;
        let node = outcome.node;
        let difference = || Difference {
            id: node.id,
            kind: node.kind,
            name: node.name().to_string(),
            location: node.location(),
            recorded: recorded_text(&node.recorded),
            recomputed: outcome.value.bounded_repr(200),
            stuck_at: outcome.stuck_at,
        };
        match outcome.status {
            Status::Differed if self.differences.len() < MAX_LISTED => {
                self.differences.push(difference())
            }
            Status::Opaque => {
                let reason = outcome.reason.unwrap_or("?");
                match reasons.get_mut(reason) {
                    Some(count) => *count += 1,
                    None => {
                        reasons.insert(reason.to_string(), 1);
                    }
                }
            }
            Status::Set => self.set.push((node.id, outcome.value.repr())),
            _ => {}
        }
        let result = outcome.readers == 0 && !node.kind.is_leaf();
        let moved =
            matches!(outcome.status, Status::Changed | Status::Set) || outcome.stuck_at.is_some();
        if what_if && result && moved {
            self.results.push(difference());
        }
    }

    fn finish(&mut self, reasons: HashMap<String, u64>) {
        let mut reasons: Vec<(String, u64)> = reasons.into_iter().collect();
        reasons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        self.opaque_reasons = reasons;
    }
}

/// Re-evaluates one trace (what-if when `settings` is not empty);
/// `on_node` also sees every node's outcome (for the `eval` table).
pub fn evaluate(
    trace: &crate::stream::TraceFiles,
    settings: &[Setting],
    rel_tol: Option<f64>,
    mut on_node: impl FnMut(&NodeOutcome),
) -> Result<Report, EvalError> {
    let mut index = ParameterIndex::default();
    let uses = if settings.is_empty() {
        trace.count_uses()?
    } else {
        trace.scan(|node| index.visit(node))?
    };
    let overrides = index.resolve(settings).map_err(EvalError::Usage)?;
    let what_if = !overrides.is_empty();
    let mut report = Report::default();
    let mut reasons = HashMap::new();
    let python = trace.python_version()?;
    let options = EvalOptions {
        rel_tol,
        overrides,
        python,
    };
    let mut evaluator = Evaluator::new(options, |outcome: &NodeOutcome| {
        report.add(outcome, &mut reasons, what_if);
        on_node(outcome);
    });
    let peak = trace.run(uses, &mut evaluator)?;
    drop(evaluator);
    report.peak_live = peak;
    report.finish(reasons);
    Ok(report)
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Run(#[from] crate::stream::RunError),
    #[error("{0}")]
    Usage(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(type_name: &str, recorded: Recorded) -> Node {
        Node {
            id: 0,
            kind: NodeKind::Dispatch,
            name: None,
            type_name: Some(type_name.into()),
            file: None,
            line: None,
            frame: None,
            recorded,
            inputs: Default::default(),
        }
    }

    fn repr(text: &str) -> Recorded {
        Recorded::Repr(text.into())
    }

    #[test]
    fn values_are_compared_where_the_recording_kept_them() {
        let list = Value::list(vec![Value::int(1), Value::Float(2.5)]);
        let object = Value::Object(Rc::new(Object::new("units.Unit".into())));
        let keys = Value::View("dict_keys", Rc::from(vec![Value::Str("a".into())]));
        for (node, value, expected) in [
            (
                node("int", Recorded::Int(3)),
                Value::int(3),
                Agreement::Value,
            ),
            (node("int", Recorded::Int(3)), Value::int(4), Agreement::No),
            (
                node("float", Recorded::Float(-0.0)),
                Value::Float(0.0),
                Agreement::No,
            ),
            (
                node("list", repr("[1, 2.5]")),
                list.clone(),
                Agreement::Value,
            ),
            (node("list", repr("[1, 2.6]")), list.clone(), Agreement::No),
            (
                node("dict_keys", repr("dict_keys(['a'])")),
                keys.clone(),
                Agreement::Value,
            ),
            (
                node("dict_keys", repr("dict_keys(['b'])")),
                keys,
                Agreement::No,
            ),
            // What the recording kept no value of: its type alone.
            (
                node("list", Recorded::Absent),
                list.clone(),
                Agreement::Type,
            ),
            (
                node("units.Unit", repr("m*s^-1")),
                object.clone(),
                Agreement::Type,
            ),
            (
                node("int", repr("<int of 300 bits>")),
                Value::int(1),
                Agreement::No,
            ),
            // Another type is never an agreement.
            (node("tuple", repr("(1, 2.5)")), list, Agreement::No),
            (node("units.Quantity", repr("1 m")), object, Agreement::No),
        ] {
            assert_eq!(
                agreement(&node, &value, None),
                expected,
                "{:?} vs {}",
                node.recorded,
                value.repr()
            );
        }
        // An object agrees by value once its state is known: attributes
        // whose every write agreed, holding immutable values.
        let built = Rc::new(Object::new("units.Unit".into()));
        let unit = node("units.Unit", repr("m*s^-1"));
        assert_eq!(
            agreement(&unit, &Value::Object(built.clone()), None),
            Agreement::Type
        );
        built.set_attr(
            "exponents".into(),
            Value::Tuple(Rc::from(vec![Value::int(1)])),
        );
        assert_eq!(
            agreement(&unit, &Value::Object(built.clone()), None),
            Agreement::Value
        );
        built.set_attr("cache".into(), Value::list(vec![]));
        assert_eq!(
            agreement(&unit, &Value::Object(built.clone()), None),
            Agreement::Type
        );
        let disagreed = Rc::new(Object::new("units.Unit".into()));
        disagreed.set_attr("exponents".into(), Value::int(1));
        disagreed.writes_agreed.set(false);
        assert_eq!(
            agreement(&unit, &Value::Object(disagreed), None),
            Agreement::Type
        );
        let wide = Value::Int(Int::Big(Rc::new(num_bigint::BigInt::from(1) << 299)));
        assert_eq!(
            agreement(&node("int", repr("<int of 300 bits>")), &wide, None),
            Agreement::Type
        );
    }
}
