//! Type and structure inference: for every traced function and method,
//! the types each parameter was given and the call returned or yielded,
//! and what the body needed of each parameter (attributes, items,
//! operators, methods, iteration, calls); for every traced class, the
//! attributes its objects were given. With a dimension attribute, also
//! the dimension each value carried and every `+`, `-` or comparison that
//! mixed two. Observations from many traces add up in one [`Inference`].
//!
//! A body's nodes come before its call node (rows are in completion
//! order), so the uses a body makes of values from outside its frame wait
//! in that frame's table until the call node names its parameters. The
//! tables hold one entry per distinct (outside value, need), and frames
//! close as calls return: memory follows the traced functions and the
//! nesting depth, not the number of nodes.

use crate::text::Text;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

use hltpy_schema::{BinOp, Form, NodeKind, Operator, Role, UnOp};

use crate::graph::{Node, Recorded, NODE_COLUMNS, NODE_COLUMNS_BUT_SCALARS};
use crate::interp::{Args, IdMap, InterpretError, Interpreter};
use crate::literal;
use crate::stream::{RunError, TraceFiles};
use crate::value::Value;

/// Observed types (as the trace names them, containers with their element
/// types: `list[int]`) and how often each was seen.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Types(BTreeMap<Text, u64>);

impl Types {
    pub fn add(&mut self, name: &Text, count: u64) {
        *self.0.entry(name.clone()).or_default() += count;
    }

    pub fn merge(&mut self, other: &Types) {
        for (name, count) in &other.0 {
            self.add(name, *count);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many observations in all.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// Each type with how often it was seen, in name order.
    pub fn counts(&self) -> impl Iterator<Item = (&str, u64)> {
        self.0.iter().map(|(name, count)| (&**name, *count))
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(|name| &**name)
    }

    /// The union as a type (see [`union`]).
    pub fn render(&self) -> String {
        union(self.names())
    }

    /// Do the types disagree (more than one once numbers and `None` are
    /// folded)?
    pub fn disagree(&self) -> bool {
        let rendered = self.render();
        let members = split_outside_brackets(&rendered, '|');
        members.iter().filter(|m| **m != "NoneType").count() > 1 || rendered == "Any"
    }
}

/// `text` split at `separator` where it stands outside brackets and
/// quotes, each part trimmed (empty parts dropped): the members of a union
/// (`|`), the items of an argument list (`,`).
pub fn split_outside_brackets(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    let (mut quote, mut escaped) = (None::<char>, false);
    for (at, c) in text.char_indices() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' => quote = Some(c),
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth -= 1,
                c if c == separator && depth == 0 => {
                    parts.push(text[start..at].trim());
                    start = at + c.len_utf8();
                }
                _ => {}
            },
        }
    }
    parts.push(text[start..].trim());
    parts.retain(|p| !p.is_empty());
    parts
}

/// Unions kept small and readable, as MonkeyType's rewriters do: `int`
/// with `float` is `float` (and `bool` with `int` is `int`), one container
/// seen with several element types is the bare container, more than five
/// members are `Any`; `NoneType` comes last.
pub fn union<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let mut members: BTreeSet<&str> = BTreeSet::new();
    for name in names {
        members.extend(split_outside_brackets(name, '|'));
    }
    if members.contains("float") {
        members.remove("int");
    }
    if members.contains("int") || members.contains("float") {
        members.remove("bool");
    }
    // One container with several parameterizations: the bare container.
    let mut by_base: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for member in &members {
        let base = member.split('[').next().unwrap_or(member);
        by_base.entry(base).or_default().push(member);
    }
    let mut kept: Vec<&str> = Vec::new();
    for (base, forms) in by_base {
        match forms.as_slice() {
            [one] => kept.push(one),
            _ => kept.push(base),
        }
    }
    if kept.contains(&"Any") {
        return "Any".into();
    }
    let none = kept.contains(&"NoneType");
    kept.retain(|m| *m != "NoneType");
    if kept.len() > 5 {
        return "Any".into();
    }
    if none {
        kept.push("NoneType");
    }
    if kept.is_empty() {
        return "Any".into();
    }
    kept.join(" | ")
}

/// The type of a value read back from a repr, with its elements' types:
/// `list[int]`, `dict[str, float]`, `tuple[int, str]` (an empty container
/// says nothing about its elements: bare).
fn literal_type(value: &Value) -> String {
    let members = |items: &mut dyn Iterator<Item = &Value>| {
        let types: Vec<String> = items.map(literal_type).collect();
        union(types.iter().map(String::as_str))
    };
    match value {
        Value::List(items) if !items.borrow().is_empty() => {
            format!("list[{}]", members(&mut items.borrow().iter()))
        }
        Value::Set(items) if !items.is_empty() => format!("set[{}]", members(&mut items.iter())),
        Value::FrozenSet(items) if !items.is_empty() => {
            format!("frozenset[{}]", members(&mut items.iter()))
        }
        Value::Tuple(items) if !items.is_empty() && items.len() <= 6 => {
            let types: Vec<String> = items.iter().map(literal_type).collect();
            format!("tuple[{}]", types.join(", "))
        }
        Value::Tuple(items) if !items.is_empty() => {
            format!("tuple[{}, ...]", members(&mut items.iter()))
        }
        Value::Dict(items) if !items.borrow().is_empty() => {
            let items = items.borrow();
            format!(
                "dict[{}, {}]",
                members(&mut items.iter().map(|(k, _)| k)),
                members(&mut items.iter().map(|(_, v)| v))
            )
        }
        other => other.type_name().to_string(),
    }
}

/// What a body did with a value it was given.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Need {
    /// `p.name` read (not called).
    Attribute(Text),
    /// `p.name = v`.
    SetAttribute(Text),
    /// `p.name(...)`.
    Method(Text),
    /// `p[k]`, with the key's type.
    Item(Text),
    /// `p[k] = v`, with the key's type.
    SetItem(Text),
    /// `del p[k]`, with the key's type.
    DelItem(Text),
    /// An operator or protocol dunder with `p` as its receiver (`p + 1`,
    /// `1 + p` as `__radd__`, `len(p)`, `p < q`), with the other operand's
    /// type when there is one.
    Operator(Text, Option<Text>),
    /// `q OP p` where `q`'s own operator handled it: `p` was the right
    /// operand, with `q`'s type.
    RightOperand(Text, Text),
    /// `for _ in p`, `iter(p)`.
    Iterated,
    /// `p(...)`.
    Called,
}

impl Need {
    /// The `need` column: what kind of use.
    pub fn kind(&self) -> &'static str {
        match self {
            Need::Attribute(_) => "attribute",
            Need::SetAttribute(_) => "set_attribute",
            Need::Method(_) => "method",
            Need::Item(_) => "item",
            Need::SetItem(_) => "set_item",
            Need::DelItem(_) => "del_item",
            Need::Operator(..) => "operator",
            Need::RightOperand(..) => "right_operand",
            Need::Iterated => "iterated",
            Need::Called => "called",
        }
    }

    /// The `name` column: the attribute, method or dunder.
    pub fn name(&self) -> &str {
        match self {
            Need::Attribute(name)
            | Need::SetAttribute(name)
            | Need::Method(name)
            | Need::Operator(name, _)
            | Need::RightOperand(name, _) => name,
            Need::Item(_) => "__getitem__",
            Need::SetItem(_) => "__setitem__",
            Need::DelItem(_) => "__delitem__",
            Need::Iterated => "__iter__",
            Need::Called => "__call__",
        }
    }

    /// The other operand's or the key's type.
    pub fn operand(&self) -> Option<&str> {
        match self {
            Need::Item(key) | Need::SetItem(key) | Need::DelItem(key) => Some(key),
            Need::Operator(_, other) => other.as_deref(),
            Need::RightOperand(_, other) => Some(other),
            _ => None,
        }
    }

    /// How a reader would write the use, with `value` for the value
    /// (`y.x`, `int + y`, `len(y)`).
    pub fn describe(&self, value: &str) -> String {
        let operand = self.operand().unwrap_or("?");
        match self {
            Need::Attribute(name) => format!("{value}.{name}"),
            Need::SetAttribute(name) => format!("{value}.{name} = …"),
            Need::Method(name) => format!("{value}.{name}(…)"),
            Need::Item(_) => format!("{value}[{operand}]"),
            Need::SetItem(_) => format!("{value}[{operand}] = …"),
            Need::DelItem(_) => format!("del {value}[{operand}]"),
            Need::Operator(dunder, other) => match (operator_symbol(dunder), other) {
                (Some((symbol, false)), Some(other)) => format!("{value} {symbol} {other}"),
                (Some((symbol, true)), Some(other)) => format!("{other} {symbol} {value}"),
                (Some((symbol, _)), None) => match symbol.strip_suffix('x') {
                    Some(head) => format!("{head}{value}"),
                    None => symbol.replace("(x)", &format!("({value})")),
                },
                (None, Some(other)) => format!("{value}.{dunder}({other})"),
                (None, None) => format!("{value}.{dunder}()"),
            },
            Need::RightOperand(dunder, other) => match operator_symbol(dunder) {
                Some((symbol, _)) => format!("{other} {symbol} {value}"),
                None => format!("{other}.{dunder}({value})"),
            },
            Need::Iterated => format!("iter({value})"),
            Need::Called => format!("{value}(…)"),
        }
    }

    /// Can a `typing.Protocol` member say it (the uses a Protocol names)?
    pub fn structural(&self) -> bool {
        !matches!(self, Need::RightOperand(..))
    }
}

/// The symbol of an operator dunder, and whether it is the reflected form
/// (`__radd__`: the value is on the right). Unary and protocol dunders are
/// written with `x` for the value (`-x`, `len(x)`).
pub fn operator_symbol(dunder: &str) -> Option<(&'static str, bool)> {
    if let Some(op) = Operator::parse(dunder) {
        return Some(match op {
            Operator::Binary(op, form) => {
                let symbol = op.symbol().unwrap_or("divmod");
                match form {
                    Form::Plain => (symbol, false),
                    Form::Reflected => (symbol, true),
                    Form::InPlace => (op.augmented().unwrap_or(symbol), false),
                }
            }
            Operator::Compare(op) => (op.symbol(), false),
            Operator::Unary(UnOp::Neg) => ("-x", false),
            Operator::Unary(UnOp::Pos) => ("+x", false),
            Operator::Unary(UnOp::Invert) => ("~x", false),
            Operator::Unary(UnOp::Abs) => ("abs(x)", false),
        });
    }
    Some(match dunder.strip_prefix("__")?.strip_suffix("__")? {
        "contains" => ("in", true),
        "len" => ("len(x)", false),
        "bool" => ("bool(x)", false),
        "hash" => ("hash(x)", false),
        "int" => ("int(x)", false),
        "float" => ("float(x)", false),
        "index" => ("operator.index(x)", false),
        "round" => ("round(x)", false),
        "str" => ("str(x)", false),
        "repr" => ("repr(x)", false),
        _ => return None,
    })
}

/// Does this dunder need its two operands in the same dimension (`+`,
/// `-`, comparisons)?
fn needs_same_dimension(dunder: &str) -> bool {
    matches!(
        Operator::parse(dunder),
        Some(Operator::Binary(BinOp::Add | BinOp::Sub, _) | Operator::Compare(_))
    )
}

/// One use of a parameter: how often, and the types it gave back (an
/// attribute's or item's value, an operator's or call's result, the value
/// stored).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NeedFacts {
    pub count: u64,
    pub results: Types,
}

/// `*args` and `**kwargs` parameters collect the entries the trace names
/// `args[0]`, `kwargs[key]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Star {
    Plain,
    Args,
    Kwargs,
}

/// One parameter (or `self`) of a traced function.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub name: String,
    pub star: Star,
    pub types: Types,
    /// Calls that filled it from its default.
    pub defaulted: u64,
    pub needs: BTreeMap<Need, NeedFacts>,
    /// Dimensions of the values it was given (with `--dimension-attr`).
    pub dimensions: Types,
}

impl Param {
    /// The name as a signature writes it: `x`, `*args`, `**kwargs`.
    pub fn label(&self) -> String {
        match self.star {
            Star::Plain => self.name.clone(),
            Star::Args => format!("*{}", self.name),
            Star::Kwargs => format!("**{}", self.name),
        }
    }
}

impl Param {
    fn new(name: &str, star: Star) -> Param {
        Param {
            name: name.to_string(),
            star,
            types: Types::default(),
            defaulted: 0,
            needs: BTreeMap::new(),
            dimensions: Types::default(),
        }
    }

    fn merge(&mut self, other: &Param) {
        self.types.merge(&other.types);
        self.defaulted += other.defaulted;
        self.dimensions.merge(&other.dimensions);
        merge_needs(&mut self.needs, &other.needs);
    }
}

fn merge_needs(into: &mut BTreeMap<Need, NeedFacts>, from: &BTreeMap<Need, NeedFacts>) {
    for (need, facts) in from {
        add_need(into, need, facts);
    }
}

fn add_need(into: &mut BTreeMap<Need, NeedFacts>, need: &Need, facts: &NeedFacts) {
    let entry = into.entry(need.clone()).or_default();
    entry.count += facts.count;
    entry.results.merge(&facts.results);
}

/// What kind of callable a traced function is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FunctionKind {
    Function,
    Method,
    Init,
    Generator,
    /// An `async def`: its calls give coroutines, its returns are awaited.
    Coroutine,
    /// An `async def` that yields: its items are produced by `async for`.
    AsyncGenerator,
}

impl FunctionKind {
    /// The kind as the `signatures` table and the report write it.
    pub fn as_str(self) -> &'static str {
        match self {
            FunctionKind::Function => "function",
            FunctionKind::Method => "method",
            FunctionKind::Init => "init",
            FunctionKind::Generator => "generator",
            FunctionKind::Coroutine => "coroutine",
            FunctionKind::AsyncGenerator => "async generator",
        }
    }
}

/// Everything observed of one traced function or method.
#[derive(Clone, Debug, PartialEq)]
pub struct Function {
    /// `module.qualname`; a method under the class of its receiver
    /// (`module.Class.method`).
    pub qualname: String,
    pub kind: FunctionKind,
    /// The receiver's class (methods, `__init__`).
    pub owner: Option<String>,
    pub calls: u64,
    /// In the order the calls bound them.
    pub params: Vec<Param>,
    /// The receiver (methods, `__init__`).
    pub receiver: Option<Param>,
    pub returns: Types,
    pub raises: Types,
    pub yields: Types,
    pub return_dimensions: Types,
    /// Traces it was observed in.
    pub traces: BTreeSet<String>,
}

impl Function {
    fn new(qualname: &str, kind: FunctionKind, owner: Option<&str>) -> Function {
        Function {
            qualname: qualname.to_string(),
            kind,
            owner: owner.map(str::to_string),
            calls: 0,
            params: Vec::new(),
            receiver: owner.map(|_| Param::new("self", Star::Plain)),
            returns: Types::default(),
            raises: Types::default(),
            yields: Types::default(),
            return_dimensions: Types::default(),
            traces: BTreeSet::new(),
        }
    }

    /// The parameter named `name`, added after `after` (the one the call
    /// bound before it) when first seen.
    fn param(&mut self, name: &str, star: Star, after: Option<usize>) -> usize {
        if let Some(at) = self.params.iter().position(|p| p.name == name) {
            return at;
        }
        let at = after.map_or(0, |a| a + 1).min(self.params.len());
        self.params.insert(at, Param::new(name, star));
        at
    }

    /// The simple name (after the module and class).
    pub fn short_name(&self) -> &str {
        self.qualname.rsplit('.').next().unwrap_or(&self.qualname)
    }
}

/// An attribute of a traced class's objects.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    pub name: String,
    pub types: Types,
    /// Set by `__init__` (rather than only by other methods).
    pub in_init: bool,
}

/// Everything observed of one traced class.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Class {
    pub name: String,
    /// Objects made (NewInit nodes).
    pub objects: u64,
    /// In the order first set.
    pub attributes: Vec<Attribute>,
}

impl Class {
    fn attribute(&mut self, name: &str, in_init: bool) -> &mut Attribute {
        let at = match self.attributes.iter().position(|a| a.name == name) {
            Some(at) => at,
            None => {
                self.attributes.push(Attribute {
                    name: name.to_string(),
                    types: Types::default(),
                    in_init,
                });
                self.attributes.len() - 1
            }
        };
        let attribute = &mut self.attributes[at];
        attribute.in_init |= in_init;
        attribute
    }
}

/// One operand of a dimension mismatch: its dimension and where the value
/// came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Operand {
    pub dimension: String,
    pub id: u64,
    pub location: String,
}

/// An operation that needs equal dimensions and was given two different ones.
#[derive(Clone, Debug, PartialEq)]
pub struct Mismatch {
    pub trace: String,
    pub id: u64,
    pub dunder: String,
    pub location: String,
    pub left: Operand,
    pub right: Operand,
}

/// What inference found, over one trace or many.
#[derive(Debug, Default, PartialEq)]
pub struct Inference {
    pub traces: u64,
    pub functions: BTreeMap<String, Function>,
    pub classes: BTreeMap<String, Class>,
    pub mismatches: Vec<Mismatch>,
    /// The attribute that holds a value's dimension, if asked.
    pub dimension_attr: Option<String>,
}

impl Inference {
    pub fn new(dimension_attr: Option<&str>) -> Inference {
        Inference {
            dimension_attr: dimension_attr.map(str::to_string),
            ..Inference::default()
        }
    }

    fn function(
        &mut self,
        qualname: &str,
        kind: FunctionKind,
        owner: Option<&str>,
    ) -> &mut Function {
        if !self.functions.contains_key(qualname) {
            self.functions
                .insert(qualname.to_string(), Function::new(qualname, kind, owner));
        }
        self.functions.get_mut(qualname).expect("inserted above")
    }

    fn class(&mut self, name: &str) -> &mut Class {
        self.classes
            .entry(name.to_string())
            .or_insert_with(|| Class {
                name: name.to_string(),
                ..Class::default()
            })
    }

    /// Runs the pass over one trace's files and adds what it saw; gives
    /// the most values held at once.
    /// `visited` counts the nodes as they go by (for a progress line).
    pub fn add_trace(
        &mut self,
        trace: &TraceFiles,
        visited: &AtomicU64,
    ) -> Result<usize, RunError> {
        let uses = trace.count_uses()?;
        let mut pass = Infer::new(self, &trace.name, visited);
        trace.run(uses, &mut pass)
    }

    /// Runs the pass over every trace and adds up what it saw; `visited`
    /// counts the nodes as they go by.
    pub fn of_traces(
        traces: &[TraceFiles],
        dimension_attr: Option<&str>,
        visited: &AtomicU64,
    ) -> Result<Inference, RunError> {
        let mut inference = Inference::new(dimension_attr);
        for trace in traces {
            inference.add_trace(trace, visited)?;
        }
        Ok(inference)
    }

    /// Adds another inference's observations (e.g. of another trace).
    pub fn merge(&mut self, other: Inference) {
        self.traces += other.traces;
        for (name, theirs) in other.functions {
            let ours = self.function(&name, theirs.kind, theirs.owner.as_deref());
            ours.calls += theirs.calls;
            ours.returns.merge(&theirs.returns);
            ours.raises.merge(&theirs.raises);
            ours.yields.merge(&theirs.yields);
            ours.return_dimensions.merge(&theirs.return_dimensions);
            ours.traces.extend(theirs.traces);
            if let (Some(ours), Some(theirs)) = (&mut ours.receiver, &theirs.receiver) {
                ours.merge(theirs);
            }
            let mut after = None;
            for param in &theirs.params {
                let at = ours.param(&param.name, param.star, after);
                ours.params[at].merge(param);
                after = Some(at);
            }
        }
        for (name, theirs) in other.classes {
            let ours = self.class(&name);
            ours.objects += theirs.objects;
            for attribute in theirs.attributes {
                ours.attribute(&attribute.name, attribute.in_init)
                    .types
                    .merge(&attribute.types);
            }
        }
        self.mismatches.extend(other.mismatches);
    }
}

/// Where a value's dimension lives: an object's cell, filled when its
/// dimension attribute is set, and where the value was produced.
#[derive(Clone, Debug)]
struct Dimension {
    cell: Rc<RefCell<Option<Text>>>,
    id: u64,
    location: Rc<str>,
}

impl Dimension {
    fn get(&self) -> Option<Text> {
        self.cell.borrow().clone()
    }

    /// The same dimension, produced at `node`.
    fn at(&self, node: &Node) -> Dimension {
        Dimension {
            cell: self.cell.clone(),
            id: node.id,
            location: Rc::from(node.location()),
        }
    }
}

/// A traced generator's (coroutine's) function and parameters, for its
/// Generations (its Awaited).
#[derive(Debug)]
struct Callee {
    qualname: Text,
    /// The receiver node of a method.
    receiver: Option<u64>,
    /// Argument node ids, in parameter order, with the parameter index.
    params: Vec<(u64, usize)>,
}

/// What the pass knows of a node's value.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    frame: Option<u64>,
    /// The value's type, containers with their elements' types.
    ty: Option<Text>,
    /// An Argument's parameter name.
    name: Option<Text>,
    /// A Function or Class: its qualified name; a method looked up on a
    /// value: `Owner.method` (kept through Arguments).
    qualname: Option<Text>,
    /// A GetAttr: the object it read, and whether that object came from
    /// outside the GetAttr's frame (a parameter, the receiver).
    object: Option<u64>,
    object_outside: bool,
    generator: Option<Rc<Callee>>,
    dimension: Option<Dimension>,
}

/// A use a body made of a value from outside its frame, waiting for the
/// call node to say whether the value is a parameter.
type Pending = HashMap<(u64, Need), NeedFacts>;

/// The inference pass over one trace.
pub struct Infer<'a> {
    into: &'a mut Inference,
    visited: &'a AtomicU64,
    trace: String,
    frames: IdMap<Pending>,
    dimension_attr: Option<Text>,
}

fn is_method_type(ty: &str) -> bool {
    matches!(
        ty,
        "method" | "builtin_function_or_method" | "method-wrapper" | "method_descriptor"
    )
}

/// A parameter's name and kind from an Argument's name (`args[0]` is an
/// entry of `*args`, `kwargs[key]` of `**kwargs`).
fn parameter_of(argument: &str) -> (&str, Star) {
    match argument.split_once('[') {
        Some((name, rest)) => {
            let key = rest.trim_end_matches(']');
            if key.parse::<usize>().is_ok() {
                (name, Star::Args)
            } else {
                (name, Star::Kwargs)
            }
        }
        None => (argument, Star::Plain),
    }
}

impl<'a> Infer<'a> {
    pub fn new(into: &'a mut Inference, trace: &str, visited: &'a AtomicU64) -> Infer<'a> {
        into.traces += 1;
        let dimension_attr = into.dimension_attr.as_deref().map(Text::from);
        Infer {
            into,
            visited,
            trace: trace.to_string(),
            frames: IdMap::default(),
            dimension_attr,
        }
    }

    /// The type of a node's value: its recorded type, or for a Deep its
    /// container with the element types.
    fn type_of(args: &Args<Seen>) -> Option<Text> {
        let node = args.node;
        let own = node.type_name.clone();
        if node.kind != NodeKind::Deep {
            // A container the program made itself was recorded as a repr:
            // its elements' types come from reading it back.
            return match (own.as_deref(), &node.recorded) {
                (Some("list" | "tuple" | "dict" | "set" | "frozenset"), Recorded::Repr(text)) => {
                    literal::parse(text)
                        .map(|value| Text::from(literal_type(&value)))
                        .or(own)
                }
                _ => own,
            };
        }
        let base = own.as_deref()?;
        let items: Vec<(&Option<Text>, Option<&Seen>)> = node
            .inputs
            .iter()
            .zip(&args.values)
            .filter(|(input, _)| input.role == Role::Item)
            .map(|(input, seen)| (&input.key, *seen))
            .collect();
        let item_types = || {
            union(
                items
                    .iter()
                    .map(|(_, seen)| seen.and_then(|s| s.ty.as_deref()).unwrap_or("Any")),
            )
        };
        let text = match base {
            "list" | "set" | "frozenset" => format!("{base}[{}]", item_types()),
            "tuple" if !items.is_empty() && items.len() <= 6 => {
                let members: Vec<&str> = items
                    .iter()
                    .map(|(_, seen)| seen.and_then(|s| s.ty.as_deref()).unwrap_or("Any"))
                    .collect();
                format!("tuple[{}]", members.join(", "))
            }
            "tuple" => format!("tuple[{}, ...]", item_types()),
            "dict" => {
                let keys = union(items.iter().map(|(key, _)| {
                    key.as_deref()
                        .and_then(literal::parse)
                        .map_or("Any", |v| match v.type_name() {
                            "int" => "int",
                            "str" => "str",
                            "float" => "float",
                            "bool" => "bool",
                            "tuple" => "tuple",
                            "bytes" => "bytes",
                            _ => "Any",
                        })
                }));
                format!("dict[{keys}, {}]", item_types())
            }
            _ => return own,
        };
        Some(Text::from(text))
    }

    /// Records the uses this node makes of values from outside its frame.
    fn record_uses(&mut self, args: &Args<Seen>, own: &Seen) {
        let node = args.node;
        let Some(frame) = node.frame else {
            return;
        };
        let outside = |seen: &Seen| seen.frame != Some(frame);
        let ty = |seen: Option<&Seen>| -> Text {
            seen.and_then(|s| s.ty.clone())
                .unwrap_or_else(|| Text::from("Any"))
        };
        let own_type = own.ty.clone();
        let mut uses: Vec<(u64, Need, Option<Text>)> = Vec::new();
        let name = || -> Text { node.name.clone().unwrap_or_else(|| Text::from("")) };
        for (input, seen) in node.inputs.iter().zip(&args.values) {
            let Some(seen) = seen else { continue };
            if input.role.is_provenance() {
                continue;
            }
            let x = input.src;
            match (node.kind, input.role) {
                // A method looked up is recorded where it is called.
                (NodeKind::GetAttr, Role::Object)
                    if outside(seen) && !own_type.as_deref().is_some_and(is_method_type) =>
                {
                    uses.push((x, Need::Attribute(name()), own_type.clone()));
                }
                (NodeKind::SetAttr, Role::Object) if outside(seen) => {
                    uses.push((
                        x,
                        Need::SetAttribute(name()),
                        Some(ty(args.get(Role::Value))),
                    ));
                }
                (NodeKind::GetItem, Role::Op1) if outside(seen) => {
                    uses.push((x, Need::Item(ty(args.get(Role::Op2))), own_type.clone()));
                }
                (NodeKind::SetItem, Role::Op1) if outside(seen) => {
                    uses.push((
                        x,
                        Need::SetItem(ty(args.get(Role::Op2))),
                        Some(ty(args.get(Role::Value))),
                    ));
                }
                (NodeKind::DelItem, Role::Op1) if outside(seen) => {
                    uses.push((x, Need::DelItem(ty(args.get(Role::Op2))), None));
                }
                (NodeKind::Iterator, Role::Iterable) if outside(seen) => {
                    uses.push((x, Need::Iterated, None));
                }
                (NodeKind::UDispatch | NodeKind::Dispatch, Role::SelfValue) if outside(seen) => {
                    let other = node
                        .inputs
                        .iter()
                        .position(|i| i.role == Role::Arg)
                        .map(|i| ty(args.values[i]));
                    // `Base.f(self)` and `super().f()` dispatch with a
                    // `self` input too: a method, not an operator.
                    let name = name();
                    let need = if name.starts_with("__") && name.ends_with("__") {
                        Need::Operator(name, other)
                    } else {
                        Need::Method(name)
                    };
                    uses.push((x, need, own_type.clone()));
                }
                (NodeKind::UDispatch | NodeKind::Dispatch, Role::Arg)
                    if outside(seen) && args.get(Role::SelfValue).is_some() =>
                {
                    let other = ty(args.get(Role::SelfValue));
                    uses.push((x, Need::RightOperand(name(), other), own_type.clone()));
                }
                (
                    NodeKind::UDispatch | NodeKind::Dispatch | NodeKind::UCall | NodeKind::Call,
                    Role::Callable,
                ) => {
                    // `p.m(...)`: the callable is a method looked up on p.
                    if let (Some(object), Some(method)) = (seen.object, &seen.name) {
                        if seen.object_outside {
                            uses.push((object, Need::Method(method.clone()), own_type.clone()));
                        }
                    } else if outside(seen) {
                        uses.push((x, Need::Called, own_type.clone()));
                    }
                }
                _ => {}
            }
        }
        if uses.is_empty() {
            return;
        }
        let pending = self.frames.entry(frame).or_default();
        for (x, need, result) in uses {
            let facts = pending.entry((x, need)).or_default();
            facts.count += 1;
            if let Some(result) = result {
                facts.results.add(&result, 1);
            }
        }
    }

    /// The parameters a call bound, in order: (Argument id, name, star,
    /// defaulted, its Seen).
    fn bound<'s, 'v: 's>(args: &'s Args<'v, Seen>) -> Vec<(u64, &'s str, Star, bool, &'s Seen)> {
        args.node
            .inputs
            .iter()
            .zip(&args.values)
            .filter(|(input, _)| input.role.is_argument())
            .filter_map(|(input, seen)| {
                let seen = (*seen)?;
                let (name, star) = parameter_of(seen.name.as_deref()?);
                Some((input.src, name, star, input.role == Role::Default, seen))
            })
            .collect()
    }

    /// A traced call's node arrived: count the call, its parameters' and
    /// result's types, and settle what its body needed of them.
    #[allow(clippy::too_many_arguments)]
    fn settle_call(
        &mut self,
        args: &Args<Seen>,
        qualname: &str,
        kind: FunctionKind,
        owner: Option<&str>,
        receiver: Option<(u64, Option<Text>)>,
        result: Option<&Seen>,
    ) -> Vec<(u64, usize)> {
        let node = args.node;
        let trace = self.trace.clone();
        let (receiver, receiver_type) = match receiver {
            Some((id, ty)) => (Some(id), ty),
            None => (None, None),
        };
        let receiver_seen = receiver.and_then(|id| {
            node.inputs
                .iter()
                .position(|i| i.src == id)
                .and_then(|i| args.values[i])
        });
        let function = self.into.function(qualname, kind, owner);
        function.calls += 1;
        function.traces.insert(trace);
        let receiver_type = receiver_seen
            .and_then(|seen| seen.ty.clone())
            .or(receiver_type);
        let receiver_dimension = receiver_seen
            .or_else(|| args.get(Role::Callable))
            .and_then(|seen| seen.dimension.as_ref())
            .and_then(Dimension::get);
        if let Some(param) = &mut function.receiver {
            if let Some(ty) = receiver_type {
                param.types.add(&ty, 1);
            }
            if let Some(dimension) = receiver_dimension {
                param.dimensions.add(&dimension, 1);
            }
        }
        let mut positions = Vec::new();
        let mut after = None;
        let mut counted_star: Vec<usize> = Vec::new();
        for (argument, name, star, defaulted, seen) in Self::bound(args) {
            let at = function.param(name, star, after);
            after = Some(at);
            positions.push((argument, at));
            let param = &mut function.params[at];
            if let Some(ty) = &seen.ty {
                param.types.add(ty, 1);
            }
            if defaulted && !counted_star.contains(&at) {
                param.defaulted += 1;
            }
            counted_star.push(at);
            if let Some(dimension) = seen.dimension.as_ref().and_then(Dimension::get) {
                param.dimensions.add(&dimension, 1);
            }
        }
        let raised = matches!(&node.recorded, Recorded::Repr(text) if text.starts_with("raised "))
            && node.input(Role::Return).is_none();
        match (kind, raised) {
            (_, true) => {
                if let Some(ty) = &node.type_name {
                    function.raises.add(ty, 1);
                }
            }
            // A generator's or coroutine's call gives the object that runs
            // the body later: its results are settled by the steps.
            (
                FunctionKind::Init
                | FunctionKind::Generator
                | FunctionKind::AsyncGenerator
                | FunctionKind::Coroutine,
                false,
            ) => {}
            (_, false) => {
                let ty = result
                    .and_then(|s| s.ty.clone())
                    .or_else(|| node.type_name.clone());
                if let Some(ty) = ty {
                    function.returns.add(&ty, 1);
                }
                if let Some(dimension) = result
                    .and_then(|s| s.dimension.as_ref())
                    .and_then(Dimension::get)
                {
                    function.return_dimensions.add(&dimension, 1);
                }
            }
        }
        positions
    }

    /// A method call's class, `class.method` name, receiver node and the
    /// receiver's type.
    fn method_site(args: &Args<Seen>) -> (Text, String, Option<u64>, Option<Text>) {
        let node = args.node;
        // Since format 1.2 the callable or self input's key names the
        // function that ran: its class defined the method (a base of the
        // receiver's class, for an inherited method or `super().f()`).
        let defined_by = Self::defined_by(node).map(|(class, _)| Text::from(class));
        // The receiver and its class: the `self` input, or the object the
        // callable (a GetAttr `x.f`) was looked up on.
        let (receiver, receiver_type) = match node.input(Role::SelfValue) {
            Some(id) => (
                Some(id),
                args.get(Role::SelfValue).and_then(|s| s.ty.clone()),
            ),
            None => {
                let callable = args.get(Role::Callable);
                let receiver = callable.and_then(|c| c.object);
                let owner = callable
                    .and_then(|c| c.qualname.as_deref())
                    .and_then(|q| q.rsplit_once('.'))
                    .map(|(owner, _)| Text::from(owner));
                (receiver, owner)
            }
        };
        let owner = defined_by
            .or_else(|| receiver_type.clone())
            .unwrap_or_else(|| Text::from("?"));
        let qualname = format!("{owner}.{}", node.name());
        (owner, qualname, receiver, receiver_type)
    }

    /// The (class, method) a traced method call's key names (format 1.2).
    fn defined_by(node: &Node) -> Option<(&str, &str)> {
        node.inputs
            .iter()
            .find(|i| matches!(i.role, Role::Callable | Role::SelfValue))
            .and_then(|i| i.key.as_deref())
            .and_then(|qualname| qualname.rsplit_once('.'))
    }

    /// A call that gives an object running the body later (a generator,
    /// a coroutine): its arguments are settled now, its body by the steps.
    fn deferred_call(
        &mut self,
        args: &Args<Seen>,
        kind: FunctionKind,
    ) -> Result<Seen, InterpretError> {
        let node = args.node;
        let (callee, receiver) = if Self::defined_by(node).is_some() {
            let (owner, qualname, receiver, receiver_type) = Self::method_site(args);
            let params = self.settle_call(
                args,
                &qualname,
                kind,
                Some(&owner),
                receiver.map(|id| (id, receiver_type)),
                None,
            );
            (Text::from(qualname), (receiver, params))
        } else {
            let qualname: Text = args
                .get(Role::Callable)
                .and_then(|c| c.qualname.clone())
                .or_else(|| node.name.clone())
                .unwrap_or_else(|| Text::from("?"));
            let params = self.settle_call(args, &qualname, kind, None, None, None);
            (qualname, (None, params))
        };
        let (receiver, params) = receiver;
        self.done(
            args,
            Seen {
                generator: Some(Rc::new(Callee {
                    qualname: callee,
                    receiver,
                    params,
                })),
                ..Self::plain(args)
            },
        )
    }

    /// The body of frame `frame` is complete: its uses of the receiver and
    /// of the parameters (by Argument id) become the function's needs; an
    /// `__init__`'s attribute writes become its class's attributes.
    fn settle_body(
        &mut self,
        frame: u64,
        qualname: &str,
        receiver: Option<u64>,
        positions: &[(u64, usize)],
    ) {
        let Some(pending) = self.frames.remove(&frame) else {
            return;
        };
        let Some(function) = self.into.functions.get_mut(qualname) else {
            return;
        };
        let (kind, owner) = (function.kind, function.owner.clone());
        let mut attributes: Vec<(Text, Types)> = Vec::new();
        for ((x, need), facts) in pending {
            if Some(x) == receiver {
                if let (Need::SetAttribute(name), Some(_)) = (&need, &owner) {
                    attributes.push((name.clone(), facts.results.clone()));
                    if kind == FunctionKind::Init {
                        continue;
                    }
                }
                if let Some(param) = &mut function.receiver {
                    add_need(&mut param.needs, &need, &facts);
                }
            }
            for (argument, at) in positions {
                if *argument == x {
                    add_need(&mut function.params[*at].needs, &need, &facts);
                }
            }
        }
        if let Some(owner) = owner {
            let class = self.into.class(&owner);
            attributes.sort_by(|a, b| a.0.cmp(&b.0));
            for (name, types) in attributes {
                class
                    .attribute(&name, kind == FunctionKind::Init)
                    .types
                    .merge(&types);
            }
        }
    }

    fn plain(args: &Args<Seen>) -> Seen {
        Seen {
            frame: args.node.frame,
            ty: Self::type_of(args),
            ..Seen::default()
        }
    }

    /// A value that stands for another (an Argument, a SetAttr, a read
    /// with a known source, a call's return): that value's type and
    /// dimension, seen here.
    fn through(args: &Args<Seen>, role: Role) -> Seen {
        let mut seen = Self::plain(args);
        if let Some(behind) = args.get(role) {
            if behind.ty.is_some() {
                seen.ty = behind.ty.clone();
            }
            seen.qualname = behind.qualname.clone();
            seen.dimension = behind.dimension.as_ref().map(|d| d.at(args.node));
        }
        seen
    }

    /// A node's value is known: record its uses of outside values.
    fn done(&mut self, args: &Args<Seen>, seen: Seen) -> Result<Seen, InterpretError> {
        self.visited.fetch_add(1, Ordering::Relaxed);
        self.record_uses(args, &seen);
        Ok(seen)
    }

    fn check_dimensions(&mut self, args: &Args<Seen>) {
        let node = args.node;
        let name = node.name();
        if self.dimension_attr.is_none() || !needs_same_dimension(name) {
            return;
        }
        let operand = |seen: Option<&Seen>| -> Option<Operand> {
            let dimension = seen?.dimension.as_ref()?;
            Some(Operand {
                dimension: dimension.get()?.to_string(),
                id: dimension.id,
                location: dimension.location.to_string(),
            })
        };
        let (Some(left), Some(right)) = (
            operand(args.get(Role::SelfValue)),
            operand(args.get(Role::Arg)),
        ) else {
            return;
        };
        if left.dimension != right.dimension {
            self.into.mismatches.push(Mismatch {
                trace: self.trace.clone(),
                id: node.id,
                dunder: name.to_string(),
                location: node.location(),
                left,
                right,
            });
        }
    }
}

impl Interpreter for Infer<'_> {
    type Value = Seen;

    /// Recorded numbers, bools and strings only for `--dimension-attr`
    /// (the unit an attribute write stores); otherwise only reprs
    /// (containers read back, exceptions raised). infer waits for the
    /// reading thread; not decoding the rest took infer of a 10M-node
    /// trace from 2.28 s to 2.12 s.
    fn columns(&self) -> &'static [&'static str] {
        if self.dimension_attr.is_some() {
            NODE_COLUMNS
        } else {
            NODE_COLUMNS_BUT_SCALARS
        }
    }

    fn fallback(&mut self, args: &Args<Seen>) -> Result<Seen, InterpretError> {
        self.done(args, Self::plain(args))
    }

    fn function(&mut self, args: &Args<Seen>) -> Result<Seen, InterpretError> {
        self.done(
            args,
            Seen {
                qualname: args.node.name.clone(),
                ..Self::plain(args)
            },
        )
    }

    fn class(&mut self, args: &Args<Seen>) -> Result<Seen, InterpretError> {
        self.function(args)
    }

    fn obj(&mut self, args: &Args<Seen>) -> Result<Seen, InterpretError> {
        let mut seen = Self::plain(args);
        if self.dimension_attr.is_some() {
            seen.dimension = Some(Dimension {
                cell: Rc::new(RefCell::new(None)),
                id: args.node.id,
                location: Rc::from(args.node.location()),
            });
        }
        self.done(args, seen)
    }

    fn argument(&mut self, args: &Args<Seen>) -> Result<Seen, InterpretError> {
        self.done(
            args,
            Seen {
                name: args.node.name.clone(),
                ..Self::through(args, Role::Value)
            },
        )
    }

    fn set_attr(&mut self, args: &Args<Seen>) -> Result<Seen, InterpretError> {
        if let (Some(attr), Some(object)) = (&self.dimension_attr, args.get(Role::Object)) {
            if args.node.name.as_ref() == Some(attr) {
                if let Some(dimension) = &object.dimension {
                    let text = match &args.node.recorded {
                        Recorded::Str(text) | Recorded::Repr(text) => Some(Text::from(&**text)),
                        Recorded::Int(v) => Some(Text::from(v.to_string())),
                        Recorded::Float(v) => Some(Text::from(v.to_string())),
                        Recorded::Bool(v) => Some(Text::from(if *v { "True" } else { "False" })),
                        Recorded::Absent => None,
                    };
                    *dimension.cell.borrow_mut() = text;
                }
            }
        }
        self.done(args, Self::through(args, Role::Value))
    }

    fn get_attr(&mut self, args: &Args<Seen>) -> Result<Seen, InterpretError> {
        let node = args.node;
        let mut seen = Self::through(args, Role::Source);
        seen.object = node.input(Role::Object);
        seen.object_outside = node.frame.is_some()
            && args
                .get(Role::Object)
                .is_some_and(|object| object.frame != node.frame);
        if node.type_name.as_deref().is_some_and(is_method_type) {
            seen.name = node.name.clone();
            let owner = args.get(Role::Object).and_then(|o| o.ty.clone());
            seen.qualname = owner.map(|owner| Text::from(format!("{owner}.{}", node.name())));
            // A bound method carries its receiver's dimension to the call.
            seen.dimension = args
                .get(Role::Object)
                .and_then(|o| o.dimension.as_ref())
                .map(|d| d.at(node));
        }
        self.done(args, seen)
    }

    fn new_init(&mut self, args: &Args<Seen>) -> Result<Seen, InterpretError> {
        let node = args.node;
        let class = args
            .get(Role::Class)
            .and_then(|c| c.qualname.clone())
            .or_else(|| node.name.clone())
            .unwrap_or_else(|| Text::from("?"));
        let receiver = node.input(Role::Object);
        let qualname = format!("{class}.__init__");
        let positions = self.settle_call(
            args,
            &qualname,
            FunctionKind::Init,
            Some(&class),
            receiver.map(|id| (id, Some(class.clone()))),
            None,
        );
        self.settle_body(node.id, &qualname, receiver, &positions);
        self.into.class(&class).objects += 1;
        let mut seen = Self::plain(args);
        seen.dimension = args
            .get(Role::Object)
            .and_then(|o| o.dimension.as_ref())
            .map(|d| d.at(node));
        self.done(args, seen)
    }

    fn call(&mut self, args: &Args<Seen>) -> Result<Seen, InterpretError> {
        let node = args.node;
        let qualname = args
            .get(Role::Callable)
            .and_then(|c| c.qualname.clone())
            .or_else(|| node.name.clone())
            .unwrap_or_else(|| Text::from("?"));
        let result = args.get(Role::Return);
        let positions =
            self.settle_call(args, &qualname, FunctionKind::Function, None, None, result);
        self.settle_body(node.id, &qualname, None, &positions);
        self.done(args, Self::through(args, Role::Return))
    }

    fn dispatch(&mut self, args: &Args<Seen>) -> Result<Seen, InterpretError> {
        self.check_dimensions(args);
        let node = args.node;
        let (owner, qualname, receiver, receiver_type) = Self::method_site(args);
        let result = args.get(Role::Return);
        let positions = self.settle_call(
            args,
            &qualname,
            FunctionKind::Method,
            Some(&owner),
            receiver.map(|id| (id, receiver_type)),
            result,
        );
        self.settle_body(node.id, &qualname, receiver, &positions);
        self.done(args, Self::through(args, Role::Return))
    }

    fn udispatch(&mut self, args: &Args<Seen>) -> Result<Seen, InterpretError> {
        self.check_dimensions(args);
        self.done(args, Self::plain(args))
    }

    fn generator(&mut self, args: &Args<Seen>) -> Result<Seen, InterpretError> {
        let kind = match args.node.type_name.as_deref() {
            Some("async_generator") => FunctionKind::AsyncGenerator,
            _ => FunctionKind::Generator,
        };
        self.deferred_call(args, kind)
    }

    fn coroutine(&mut self, args: &Args<Seen>) -> Result<Seen, InterpretError> {
        self.deferred_call(args, FunctionKind::Coroutine)
    }

    /// A coroutine ran to its end: its body is settled, its result (or
    /// what it raised) is the function's.
    fn awaited(&mut self, args: &Args<Seen>) -> Result<Seen, InterpretError> {
        let node = args.node;
        if let Some(callee) = args.get(Role::Coroutine).and_then(|c| c.generator.clone()) {
            self.settle_body(node.id, &callee.qualname, callee.receiver, &callee.params);
            let raised = matches!(&node.recorded, Recorded::Repr(text) if text.starts_with("raised "))
                && node.input(Role::Return).is_none();
            let result = args
                .get(Role::Return)
                .and_then(|s| s.ty.clone())
                .or_else(|| node.type_name.clone());
            if let (Some(function), Some(ty)) =
                (self.into.functions.get_mut(&*callee.qualname), result)
            {
                if raised {
                    function.raises.add(&ty, 1);
                } else {
                    function.returns.add(&ty, 1);
                }
            }
        }
        self.done(args, Self::through(args, Role::Return))
    }

    fn generation(&mut self, args: &Args<Seen>) -> Result<Seen, InterpretError> {
        let node = args.node;
        if let Some(callee) = args.get(Role::Generator).and_then(|g| g.generator.clone()) {
            self.settle_body(node.id, &callee.qualname, callee.receiver, &callee.params);
            let yielded = args
                .get(Role::Source)
                .and_then(|s| s.ty.clone())
                .or_else(|| node.type_name.clone());
            let raised =
                matches!(&node.recorded, Recorded::Repr(text) if text.starts_with("raised "));
            if let (Some(function), Some(ty)) =
                (self.into.functions.get_mut(&*callee.qualname), yielded)
            {
                if raised {
                    if ty.as_ref() != "StopIteration" {
                        function.raises.add(&ty, 1);
                    }
                } else {
                    function.yields.add(&ty, 1);
                }
            }
        }
        self.done(args, Self::through(args, Role::Source))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unions_stay_small_and_readable() {
        assert_eq!(union(["int", "float"]), "float");
        assert_eq!(union(["bool", "int"]), "int");
        assert_eq!(union(["NoneType", "str"]), "str | NoneType");
        assert_eq!(union(["list[int]", "list[str]"]), "list");
        assert_eq!(
            union(["list[int]", "list[int]", "tuple"]),
            "list[int] | tuple"
        );
        assert_eq!(
            union(["a.A", "a.B", "a.C", "a.D", "a.E"])
                .matches('|')
                .count(),
            4
        );
        assert_eq!(union(["a.A", "a.B", "a.C", "a.D", "a.E", "a.F"]), "Any");
        let mut types = Types::default();
        types.add(&Text::from("int"), 2);
        types.add(&Text::from("float"), 1);
        assert!(!types.disagree());
        types.add(&Text::from("str"), 1);
        assert!(types.disagree());
    }

    #[test]
    fn needs_read_as_the_code_that_made_them() {
        let int: Text = Text::from("int");
        assert_eq!(
            Need::Operator("__add__".into(), Some(int.clone())).describe("y"),
            "y + int"
        );
        assert_eq!(
            Need::Operator("__radd__".into(), Some(int.clone())).describe("y"),
            "int + y"
        );
        assert_eq!(
            Need::RightOperand("__mul__".into(), int.clone()).describe("k"),
            "int * k"
        );
        assert_eq!(Need::Operator("__neg__".into(), None).describe("v"), "-v");
        assert_eq!(
            Need::Operator("__len__".into(), None).describe("xs"),
            "len(xs)"
        );
        assert_eq!(
            Need::Operator("__index__".into(), None).describe("i"),
            "operator.index(i)"
        );
        assert_eq!(Need::Item(int).describe("xs"), "xs[int]");
        assert_eq!(parameter_of("rest[0]"), ("rest", Star::Args));
        assert_eq!(parameter_of("kw[extra]"), ("kw", Star::Kwargs));
    }
}
