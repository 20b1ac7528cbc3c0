//! Python source of a node: the expression that produced it, rebuilt with
//! Python's operator precedence and minimal parentheses, sub-expressions
//! used more than once named once (`t1 = ...`) — the seed's `repr` of a
//! trace, offline. Used by `expr`, `compile`, `eval` and `report`.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use hltpy_schema::{Form, NodeKind, Operator, Role};

use crate::eval::recorded_text;
use crate::pysource::{self, attribute};
use crate::{Graph, Node};

pub use hltpy_schema::operators::precedence::{
    ADD, ATOM, BAND, BOR, BXOR, CMP, MUL, POW, SHIFT, UNARY,
};

/// An infix operator dunder: (symbol, precedence, reflected). In-place
/// dunders and divmod print as calls.
pub fn binary(name: &str) -> Option<(&'static str, u8, bool)> {
    match Operator::parse(name)? {
        Operator::Binary(op, form @ (Form::Plain | Form::Reflected)) => {
            Some((op.symbol()?, op.precedence(), form == Form::Reflected))
        }
        Operator::Binary(_, Form::InPlace) | Operator::Unary(_) => None,
        Operator::Compare(op) => Some((op.symbol(), CMP, false)),
    }
}

/// The node passed as a call's first positional argument.
pub fn first_argument(node: &Node) -> Option<u64> {
    node.inputs
        .iter()
        .find(|i| i.role == Role::Arg && i.key.as_deref() == Some("0"))
        .map(|i| i.src)
}

/// An operator node as `left SYMBOL right`.
pub struct BinaryForm {
    pub symbol: &'static str,
    pub precedence: u8,
    /// Each operand's node and the least precedence it may have without
    /// parentheses.
    pub left: (u64, u8),
    pub right: (u64, u8),
}

/// The binary form of an operator dunder with a receiver and one operand
/// (`__radd__` with the operands swapped back). Left-associative: a right
/// operand of equal precedence needs parentheses; `**` is
/// right-associative; a comparison inside another is parenthesised.
pub fn binary_form(node: &Node) -> Option<BinaryForm> {
    let (symbol, precedence, reflected) = binary(node.name())?;
    let receiver = node.input(Role::SelfValue)?;
    let other = first_argument(node)?;
    let (left, right) = if reflected {
        (other, receiver)
    } else {
        (receiver, other)
    };
    let (left_min, right_min) = match precedence {
        POW => (POW + 1, POW),
        CMP => (CMP + 1, CMP + 1),
        p => (p, p + 1),
    };
    Some(BinaryForm {
        symbol,
        precedence,
        left: (left, left_min),
        right: (right, right_min),
    })
}

/// The arguments of a call node as the call site wrote them: positional
/// ones in position order, then keywords with their names.
pub fn call_arguments(node: &Node) -> (Vec<u64>, Vec<(String, u64)>) {
    let mut positional: Vec<(u64, u64)> = Vec::new();
    let mut keywords: Vec<(String, u64)> = Vec::new();
    for input in &node.inputs {
        match input.role {
            Role::Arg => positional.push((
                input
                    .key
                    .as_deref()
                    .and_then(|k| k.parse().ok())
                    .unwrap_or(0),
                input.src,
            )),
            Role::Kwarg => {
                keywords.push((input.key.as_deref().unwrap_or("").to_string(), input.src))
            }
            _ => {}
        }
    }
    positional.sort();
    (
        positional.into_iter().map(|(_, src)| src).collect(),
        keywords,
    )
}

/// Rebuild the Python expression that produced a node.
/// Renders node `root`, at most `depth` levels deep.
pub fn rebuilt(graph: &Graph, root: u64, depth: usize) -> String {
    let mut uses: HashMap<u64, usize> = HashMap::new();
    count_uses(graph, root, depth, &mut uses, &mut HashSet::new());
    let shared: HashSet<u64> = uses
        .iter()
        .filter(|(id, count)| **count > 1 && **id != root && !is_leaf(graph, **id))
        .map(|(id, _)| *id)
        .collect();
    let mut renderer = Renderer {
        graph,
        shared,
        names: HashMap::new(),
        lets: Vec::new(),
    };
    let (text, _) = renderer.expr(root, depth, true);
    let mut out = String::new();
    for line in &renderer.lets {
        let _ = writeln!(out, "{line}");
    }
    out.push_str(&text);
    out
}

fn is_leaf(graph: &Graph, id: u64) -> bool {
    graph.get(id).is_none_or(|n| n.kind.is_leaf())
}

fn count_uses(
    graph: &Graph,
    id: u64,
    depth: usize,
    uses: &mut HashMap<u64, usize>,
    seen: &mut HashSet<u64>,
) {
    let id = graph.through(id);
    *uses.entry(id).or_default() += 1;
    if depth == 0 || !seen.insert(id) {
        return;
    }
    if let Some(node) = graph.get(id) {
        for input in &node.inputs {
            // Only inputs that are printed count as uses: not defaults,
            // read-back sources, a call's returned body value (provenance),
            // or the class and new object of a NewInit (printed as
            // `Class(args)`).
            let hidden = input.role.is_provenance()
                || (matches!(node.kind, NodeKind::NewInit | NodeKind::Obj)
                    && matches!(input.role, Role::Class | Role::Object));
            if !hidden {
                count_uses(graph, input.src, depth - 1, uses, seen);
            }
        }
    }
}

struct Renderer<'g> {
    graph: &'g Graph,
    shared: HashSet<u64>,
    names: HashMap<u64, String>,
    lets: Vec<String>,
}

impl Renderer<'_> {
    /// (text, precedence) of node `id`.
    fn expr(&mut self, id: u64, depth: usize, root: bool) -> (String, u8) {
        let id = self.graph.through(id);
        if let Some(name) = self.names.get(&id) {
            return (name.clone(), ATOM);
        }
        // At the depth limit, leaves still print: a constant or a name is
        // as short as the elision mark and says more.
        let loaded_leaf = self.graph.get(id).is_some_and(|n| n.kind.is_leaf());
        if depth == 0 && !loaded_leaf {
            return (format!("…#{id}"), ATOM);
        }
        let depth = depth.max(1);
        let rendered = self.node(id, depth);
        if !root && self.shared.contains(&id) {
            let name = format!("t{}", self.names.len() + 1);
            self.lets.push(format!("{name} = {}", rendered.0));
            self.names.insert(id, name.clone());
            return (name, ATOM);
        }
        rendered
    }

    /// Renders `id` and wraps it in parentheses when its precedence is
    /// below `at_least`.
    fn operand(&mut self, id: u64, depth: usize, at_least: u8) -> String {
        let (text, precedence) = self.expr(id, depth, false);
        if precedence < at_least {
            format!("({text})")
        } else {
            text
        }
    }

    fn args(&mut self, node: &Node, depth: usize) -> String {
        let (positional, keywords) = call_arguments(node);
        let mut parts: Vec<String> = positional
            .into_iter()
            .map(|src| self.expr(src, depth - 1, false).0)
            .collect();
        for (key, src) in keywords {
            let value = self.expr(src, depth - 1, false).0;
            parts.push(pysource::keyword(&key, &value));
        }
        parts.join(", ")
    }

    /// A function's or class's own name (without its module); one that is
    /// not an identifier is shown as the string it is.
    fn short(node: &Node) -> String {
        let name = node.name.as_deref().unwrap_or("?");
        let short = name.rsplit('.').next().unwrap_or(name);
        if pysource::is_identifier(short) {
            short.to_string()
        } else {
            format!("globals()[{}]", pysource::string(short))
        }
    }

    fn node(&mut self, id: u64, depth: usize) -> (String, u8) {
        let graph = self.graph;
        let Some(node) = graph.get(id) else {
            return (format!("#{id}"), ATOM);
        };
        let next = depth - 1;
        match node.kind {
            NodeKind::Const => {
                let text = recorded_text(&node.recorded);
                let text = if text.is_empty() {
                    "…".to_string()
                } else {
                    shown_value(&text)
                };
                let precedence = if text.starts_with('-') { UNARY } else { ATOM };
                (text, precedence)
            }
            NodeKind::Function | NodeKind::Class => (Self::short(node), ATOM),
            NodeKind::Obj => (format!("{}.__new__()", Self::short(node)), ATOM),
            NodeKind::NewInit => (
                format!("{}({})", Self::short(node), self.args(node, depth)),
                ATOM,
            ),
            NodeKind::GetAttr => {
                let object = node.input(Role::Object).unwrap_or(id);
                let object = self.operand(object, next, ATOM);
                (
                    attribute(&object, node.name.as_deref().unwrap_or("?")),
                    ATOM,
                )
            }
            NodeKind::GetItem => {
                let container = self.operand(node.input(Role::Op1).unwrap_or(id), next, ATOM);
                let key = self.subscript(node.input(Role::Op2).unwrap_or(id), next);
                (format!("{container}[{key}]"), ATOM)
            }
            NodeKind::Iterator => (
                format!(
                    "iter({})",
                    self.expr(node.input(Role::Iterable).unwrap_or(id), next, false)
                        .0
                ),
                ATOM,
            ),
            NodeKind::Iteration => (
                format!(
                    "next({})",
                    self.expr(node.input(Role::Iterator).unwrap_or(id), next, false)
                        .0
                ),
                ATOM,
            ),
            NodeKind::Generation => (
                format!(
                    "next({})",
                    self.expr(node.input(Role::Generator).unwrap_or(id), next, false)
                        .0
                ),
                ATOM,
            ),
            // `await` binds tighter than every operator but looser than
            // a call or an attribute: `(await f(x)).y`, `await f(x) ** 2`.
            NodeKind::Awaited => {
                let coroutine = node.input(Role::Coroutine).unwrap_or(id);
                (
                    format!("await {}", self.operand(coroutine, next, ATOM)),
                    POW,
                )
            }
            NodeKind::Deep => self.deep(node, next),
            NodeKind::Call
            | NodeKind::Dispatch
            | NodeKind::UCall
            | NodeKind::UDispatch
            | NodeKind::Generator
            | NodeKind::Coroutine => self.call(node, depth),
            NodeKind::SetItem => (
                self.expr(node.input(Role::Value).unwrap_or(id), depth, false)
                    .0,
                ATOM,
            ),
            NodeKind::Argument | NodeKind::SetAttr | NodeKind::DelItem => {
                (format!("{}#{id}", node.kind), ATOM)
            }
        }
    }

    fn call(&mut self, node: &Node, depth: usize) -> (String, u8) {
        let next = depth - 1;
        let name = node.name().to_string();
        let receiver = node.input(Role::SelfValue);
        let arg0 = first_argument(node);
        if let Some(form) = binary_form(node) {
            let left = self.operand(form.left.0, next, form.left.1);
            let right = self.operand(form.right.0, next, form.right.1);
            return (format!("{left} {} {right}", form.symbol), form.precedence);
        }
        if let Some(receiver) = receiver {
            let unary = match Operator::parse(&name) {
                Some(Operator::Unary(op)) => op.symbol(),
                _ => None,
            };
            if let Some(symbol) = unary {
                return (
                    format!("{symbol}{}", self.operand(receiver, next, UNARY)),
                    UNARY,
                );
            }
            let function = match name.as_str() {
                "__abs__" => Some("abs"),
                "__len__" => Some("len"),
                "__divmod__" => Some("divmod"),
                "__round__" => Some("round"),
                "__int__" => Some("int"),
                "__float__" => Some("float"),
                "__bool__" => Some("bool"),
                "__index__" => Some("operator.index"),
                "__fspath__" => Some("os.fspath"),
                _ => None,
            };
            if let Some(function) = function {
                let subject = self.expr(receiver, next, false).0;
                let rest = self.args(node, depth);
                let args = if rest.is_empty() {
                    subject
                } else {
                    format!("{subject}, {rest}")
                };
                return (format!("{function}({args})"), ATOM);
            }
            if name == "__contains__" {
                let item = arg0
                    .map(|a| self.operand(a, next, CMP + 1))
                    .unwrap_or_default();
                return (
                    format!("{item} in {}", self.operand(receiver, next, CMP + 1)),
                    CMP,
                );
            }
            let object = self.operand(receiver, next, ATOM);
            return (
                format!("{}({})", attribute(&object, &name), self.args(node, depth)),
                ATOM,
            );
        }
        let callable = match node.input(Role::Callable) {
            Some(callable) => self.operand(callable, next, ATOM),
            None => Self::short(node),
        };
        (format!("{callable}({})", self.args(node, depth)), ATOM)
    }

    fn deep(&mut self, node: &Node, depth: usize) -> (String, u8) {
        let items: Vec<(Option<String>, u64)> = node
            .inputs
            .iter()
            .filter(|i| i.role == Role::Item)
            .map(|i| (i.key.as_deref().map(str::to_string), i.src))
            .collect();
        let rendered: Vec<String> = items
            .iter()
            .map(|(_, src)| self.expr(*src, depth, false).0)
            .collect();
        let text = match node.type_name.as_deref() {
            Some("list") => format!("[{}]", rendered.join(", ")),
            Some("dict") => {
                let pairs: Vec<String> = items
                    .iter()
                    .zip(&rendered)
                    .map(|((key, _), value)| {
                        let key = key.as_deref().unwrap_or("?");
                        let key = shown_value(key);
                        format!("{key}: {value}")
                    })
                    .collect();
                format!("{{{}}}", pairs.join(", "))
            }
            Some("set") => format!("{{{}}}", rendered.join(", ")),
            Some("frozenset") => format!("frozenset({{{}}})", rendered.join(", ")),
            Some("slice") => {
                let part = |name: &str| {
                    items
                        .iter()
                        .zip(&rendered)
                        .find(|((key, _), _)| key.as_deref() == Some(name))
                        .map(|(_, text)| text.clone())
                        .unwrap_or_else(|| "None".into())
                };
                format!(
                    "slice({}, {}, {})",
                    part("start"),
                    part("stop"),
                    part("step")
                )
            }
            _ if rendered.len() == 1 => format!("({},)", rendered[0]),
            _ => format!("({})", rendered.join(", ")),
        };
        (text, ATOM)
    }

    /// A subscript: slices print as `a:b:c`, tuples without parentheses.
    fn subscript(&mut self, key: u64, depth: usize) -> String {
        let key = self.graph.through(key);
        let (text, _) = self.expr(key, depth, false);
        slice_syntax(&text).unwrap_or(text)
    }
}

/// A recorded value as `expr` prints it: a literal written anew; any other
/// text (an object's repr) on one line, inert, and in angle brackets as
/// capture's own reprs are (`<mod.C object>`) — no operand starts with
/// `<`, so the line cannot be pasted and run as code.
fn shown_value(text: &str) -> String {
    pysource::literal_of(text).unwrap_or_else(|| {
        let text = pysource::inert(text, false);
        if text.starts_with('<') {
            text
        } else {
            format!("<{text}>")
        }
    })
}

/// `slice(1, -1, None)` -> `1:-1`; `slice(None, 4, 2)` -> `:4:2`.
fn slice_syntax(text: &str) -> Option<String> {
    let inner = text.strip_prefix("slice(")?.strip_suffix(')')?;
    let parts: Vec<&str> = inner.split(", ").collect();
    if parts.len() != 3 {
        return None;
    }
    let show = |p: &str| {
        if p == "None" {
            String::new()
        } else {
            p.to_string()
        }
    };
    let mut out = format!("{}:{}", show(parts[0]), show(parts[1]));
    if parts[2] != "None" {
        out.push(':');
        out.push_str(parts[2]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::{shown_value, slice_syntax};

    #[test]
    fn values_that_are_not_literals_cannot_be_pasted_as_code() {
        assert_eq!(shown_value("'a\\nb'"), "'a\\nb'");
        assert_eq!(shown_value("<units.Unit object>"), "<units.Unit object>");
        assert_eq!(
            shown_value("v if __import__('os').system('x') else v"),
            "<v if __import__('os').system('x') else v>"
        );
        assert_eq!(shown_value("Fraction(1, 3)\nx"), "<Fraction(1, 3)\\x0ax>");
    }

    #[test]
    fn slices_print_as_python_writes_them() {
        assert_eq!(slice_syntax("slice(1, -1, None)").as_deref(), Some("1:-1"));
        assert_eq!(slice_syntax("slice(None, 4, 2)").as_deref(), Some(":4:2"));
        assert_eq!(slice_syntax("(1, 2)"), None);
    }
}
