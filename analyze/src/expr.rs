//! `expr`: rebuild the source-level Python expression that produced a
//! node — the seed's `repr` of a trace, offline — with Python's operator
//! precedence and minimal parentheses. Sub-expressions used more than once
//! are named once (`t1 = ...`) instead of repeated.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use crate::error::AnalyzeError;
use crate::session::Session;

/// Python precedence levels, loosest first.
const CMP: u8 = 4;
const BOR: u8 = 5;
const BXOR: u8 = 6;
const BAND: u8 = 7;
const SHIFT: u8 = 8;
const ADD: u8 = 9;
const MUL: u8 = 10;
const UNARY: u8 = 11;
const POW: u8 = 12;
const ATOM: u8 = 13;

/// A binary operator dunder: (symbol, precedence, reflected).
fn binary(name: &str) -> Option<(&'static str, u8, bool)> {
    let (base, reflected) = match name.strip_prefix("__r") {
        Some(rest) if binary(&format!("__{rest}")).is_some() => (format!("__{rest}"), true),
        _ => (name.to_string(), false),
    };
    let (symbol, precedence) = match base.as_str() {
        "__add__" => ("+", ADD),
        "__sub__" => ("-", ADD),
        "__mul__" => ("*", MUL),
        "__matmul__" => ("@", MUL),
        "__truediv__" => ("/", MUL),
        "__floordiv__" => ("//", MUL),
        "__mod__" => ("%", MUL),
        "__pow__" => ("**", POW),
        "__lshift__" => ("<<", SHIFT),
        "__rshift__" => (">>", SHIFT),
        "__and__" => ("&", BAND),
        "__or__" => ("|", BOR),
        "__xor__" => ("^", BXOR),
        "__lt__" => ("<", CMP),
        "__le__" => ("<=", CMP),
        "__eq__" => ("==", CMP),
        "__ne__" => ("!=", CMP),
        "__gt__" => (">", CMP),
        "__ge__" => (">=", CMP),
        _ => return None,
    };
    Some((symbol, precedence, reflected))
}

struct Node {
    kind: String,
    name: Option<String>,
    type_name: Option<String>,
    literal: Option<String>,
    inputs: Vec<(String, Option<String>, u64)>,
}

impl Node {
    fn input(&self, role: &str) -> Option<u64> {
        self.inputs
            .iter()
            .find(|(r, _, _)| r == role)
            .map(|(_, _, s)| *s)
    }
}

/// One trace's nodes, loaded for rendering.
pub struct Graph {
    nodes: HashMap<u64, Node>,
    /// The node a run ends with: the last top-level node nothing consumes.
    final_node: Option<u64>,
}

impl Graph {
    pub async fn load(session: &Session, trace: &str) -> Result<Graph, AnalyzeError> {
        let literal = format!("'{}'", trace.replace('\'', "''"));
        let rows = session
            .text_rows(&format!(
                "SELECT id, CAST(kind AS VARCHAR), name, CAST(type AS VARCHAR), \
                 CASE WHEN value_int IS NOT NULL THEN CAST(value_int AS VARCHAR) \
                      WHEN value_float IS NOT NULL THEN CAST(value_float AS VARCHAR) \
                      WHEN value_bool THEN 'True' WHEN NOT value_bool THEN 'False' \
                      WHEN value_str IS NOT NULL THEN '''' || replace(value_str, '''', '\\''') || '''' \
                      ELSE value_repr END, frame IS NULL \
                 FROM nodes WHERE trace = {literal}"
            ))
            .await?;
        let mut nodes = HashMap::new();
        let mut top_level = Vec::new();
        for row in rows {
            let id: u64 = row[0]
                .parse()
                .map_err(|_| AnalyzeError::Engine("bad id".into()))?;
            let some = |s: &String| (!s.is_empty()).then(|| s.clone());
            nodes.insert(
                id,
                Node {
                    kind: row[1].clone(),
                    name: some(&row[2]),
                    type_name: some(&row[3]),
                    literal: some(&row[4]),
                    inputs: Vec::new(),
                },
            );
            if row[5] == "true" {
                top_level.push(id);
            }
        }
        let edges = session
            .text_rows(&format!(
                "SELECT dst, role, key, src FROM edges WHERE trace = {literal}"
            ))
            .await?;
        let mut consumed = HashSet::new();
        for row in edges {
            let (dst, src): (u64, u64) = match (row[0].parse(), row[3].parse()) {
                (Ok(d), Ok(s)) => (d, s),
                _ => continue,
            };
            consumed.insert(src);
            if let Some(node) = nodes.get_mut(&dst) {
                let key = (!row[2].is_empty()).then(|| row[2].clone());
                node.inputs.push((row[1].clone(), key, src));
            }
        }
        let final_node = top_level
            .into_iter()
            .filter(|id| !consumed.contains(id))
            .filter(|id| {
                !matches!(
                    nodes.get(id).map(|n| n.kind.as_str()),
                    Some("Function" | "Class" | "Const")
                )
            })
            .max();
        Ok(Graph { nodes, final_node })
    }

    pub fn final_node(&self) -> Option<u64> {
        self.final_node
    }

    pub fn contains(&self, id: u64) -> bool {
        self.nodes.contains_key(&id)
    }
}

/// Renders node `root`, at most `depth` levels deep.
pub fn render(graph: &Graph, root: u64, depth: usize) -> String {
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
    matches!(
        graph.nodes.get(&id).map(|n| n.kind.as_str()),
        Some("Const" | "Function" | "Class") | None
    )
}

/// The node whose expression stands for `id` (an Argument or SetAttr
/// stands for the value that was passed or stored).
fn through(graph: &Graph, mut id: u64) -> u64 {
    for _ in 0..64 {
        match graph.nodes.get(&id) {
            Some(node) if node.kind == "Argument" || node.kind == "SetAttr" => {
                match node.input("value") {
                    Some(value) => id = value,
                    None => return id,
                }
            }
            _ => return id,
        }
    }
    id
}

fn count_uses(
    graph: &Graph,
    id: u64,
    depth: usize,
    uses: &mut HashMap<u64, usize>,
    seen: &mut HashSet<u64>,
) {
    let id = through(graph, id);
    *uses.entry(id).or_default() += 1;
    if depth == 0 || !seen.insert(id) {
        return;
    }
    if let Some(node) = graph.nodes.get(&id) {
        for (role, _, src) in &node.inputs {
            // Only inputs that are printed count as uses: not defaults,
            // read-back sources, a call's returned body value, or the class
            // and new object of a NewInit (printed as `Class(args)`).
            let hidden = matches!(role.as_str(), "default" | "source" | "return")
                || (matches!(node.kind.as_str(), "NewInit" | "Obj")
                    && matches!(role.as_str(), "class" | "object"));
            if !hidden {
                count_uses(graph, *src, depth - 1, uses, seen);
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
        let id = through(self.graph, id);
        if let Some(name) = self.names.get(&id) {
            return (name.clone(), ATOM);
        }
        if depth == 0 {
            return (format!("…#{id}"), ATOM);
        }
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
        let mut positional: Vec<(u64, u64)> = Vec::new();
        let mut keywords: Vec<(String, u64)> = Vec::new();
        for (role, key, src) in &node.inputs {
            match role.as_str() {
                "arg" => positional.push((
                    key.as_deref().and_then(|k| k.parse().ok()).unwrap_or(0),
                    *src,
                )),
                "kwarg" => keywords.push((key.clone().unwrap_or_default(), *src)),
                _ => {}
            }
        }
        positional.sort();
        let mut parts: Vec<String> = positional
            .into_iter()
            .map(|(_, src)| self.expr(src, depth - 1, false).0)
            .collect();
        for (key, src) in keywords {
            let value = self.expr(src, depth - 1, false).0;
            parts.push(format!("{key}={value}"));
        }
        parts.join(", ")
    }

    fn short(name: &Option<String>) -> String {
        let name = name.as_deref().unwrap_or("?");
        name.rsplit('.').next().unwrap_or(name).to_string()
    }

    fn node(&mut self, id: u64, depth: usize) -> (String, u8) {
        let graph = self.graph;
        let Some(node) = graph.nodes.get(&id) else {
            return (format!("#{id}"), ATOM);
        };
        let next = depth - 1;
        match node.kind.as_str() {
            "Const" => {
                let text = node.literal.clone().unwrap_or_else(|| "…".into());
                let precedence = if text.starts_with('-') { UNARY } else { ATOM };
                (text, precedence)
            }
            "Function" | "Class" => (Self::short(&node.name), ATOM),
            "Obj" => (format!("{}.__new__()", Self::short(&node.name)), ATOM),
            "NewInit" => (
                format!("{}({})", Self::short(&node.name), self.args(node, depth)),
                ATOM,
            ),
            "GetAttr" => {
                let object = node.input("object").unwrap_or(id);
                let object = self.operand(object, next, ATOM);
                (
                    format!("{object}.{}", node.name.as_deref().unwrap_or("?")),
                    ATOM,
                )
            }
            "GetItem" => {
                let container = self.operand(node.input("op1").unwrap_or(id), next, ATOM);
                let key = self.subscript(node.input("op2").unwrap_or(id), next);
                (format!("{container}[{key}]"), ATOM)
            }
            "Iterator" => (
                format!(
                    "iter({})",
                    self.expr(node.input("iterable").unwrap_or(id), next, false)
                        .0
                ),
                ATOM,
            ),
            "Iteration" => (
                format!(
                    "next({})",
                    self.expr(node.input("iterator").unwrap_or(id), next, false)
                        .0
                ),
                ATOM,
            ),
            "Generation" => (
                format!(
                    "next({})",
                    self.expr(node.input("generator").unwrap_or(id), next, false)
                        .0
                ),
                ATOM,
            ),
            "Deep" => self.deep(node, next),
            "Call" | "Dispatch" | "UCall" | "UDispatch" | "Generator" => self.call(node, depth),
            "SetItem" => (
                self.expr(node.input("value").unwrap_or(id), depth, false).0,
                ATOM,
            ),
            _ => (format!("{}#{id}", node.kind), ATOM),
        }
    }

    fn call(&mut self, node: &Node, depth: usize) -> (String, u8) {
        let next = depth - 1;
        let name = node.name.clone().unwrap_or_default();
        let receiver = node.input("self");
        let arg0 = node
            .inputs
            .iter()
            .find(|(role, key, _)| role == "arg" && key.as_deref() == Some("0"))
            .map(|(_, _, src)| *src);
        if let (Some(receiver), Some((symbol, precedence, reflected))) = (receiver, binary(&name)) {
            if let Some(other) = arg0 {
                let (left, right) = if reflected {
                    (other, receiver)
                } else {
                    (receiver, other)
                };
                // Left-associative: a right operand of equal precedence needs
                // parentheses; `**` is right-associative; comparisons chain.
                let (left_min, right_min) = match precedence {
                    POW => (POW + 1, POW),
                    CMP => (CMP + 1, CMP + 1),
                    p => (p, p + 1),
                };
                let left = self.operand(left, next, left_min);
                let right = self.operand(right, next, right_min);
                return (format!("{left} {symbol} {right}"), precedence);
            }
        }
        if let Some(receiver) = receiver {
            let unary = match name.as_str() {
                "__neg__" => Some("-"),
                "__pos__" => Some("+"),
                "__invert__" => Some("~"),
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
            return (format!("{object}.{name}({})", self.args(node, depth)), ATOM);
        }
        let callable = match node.input("callable") {
            Some(callable) => self.operand(callable, next, ATOM),
            None => Self::short(&node.name),
        };
        (format!("{callable}({})", self.args(node, depth)), ATOM)
    }

    fn deep(&mut self, node: &Node, depth: usize) -> (String, u8) {
        let items: Vec<(Option<String>, u64)> = node
            .inputs
            .iter()
            .filter(|(role, _, _)| role == "item")
            .map(|(_, key, src)| (key.clone(), *src))
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
                    .map(|((key, _), value)| format!("{}: {value}", key.as_deref().unwrap_or("?")))
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
        let key = through(self.graph, key);
        let (text, _) = self.expr(key, depth, false);
        slice_syntax(&text).unwrap_or(text)
    }
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
    use super::slice_syntax;

    #[test]
    fn slices_print_as_python_writes_them() {
        assert_eq!(slice_syntax("slice(1, -1, None)").as_deref(), Some("1:-1"));
        assert_eq!(slice_syntax("slice(None, 4, 2)").as_deref(), Some(":4:2"));
        assert_eq!(slice_syntax("(1, 2)"), None);
    }
}
