//! `expr`: rebuild the source-level Python expression that produced a
//! node — the seed's `repr` of a trace, offline — with Python's operator
//! precedence and minimal parentheses. Sub-expressions used more than once
//! are named once (`t1 = ...`) instead of repeated.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, UInt64Type};

use crate::error::AnalyzeError;
use crate::session::{sql_string, Session};

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

/// The nodes of one trace that rendering a node can reach.
pub struct Graph {
    nodes: HashMap<u64, Node>,
}

/// A node's value as a Python literal, in SQL (strings quoted as Python would).
const LITERAL: &str = "CASE WHEN value_int IS NOT NULL THEN CAST(value_int AS VARCHAR) \
     WHEN value_float IS NOT NULL THEN CAST(value_float AS VARCHAR) \
     WHEN value_bool THEN 'True' WHEN NOT value_bool THEN 'False' \
     WHEN value_str IS NOT NULL THEN '''' || replace(value_str, '''', '\\''') || '''' \
     ELSE value_repr END";

impl Graph {
    /// The node a run ends with: the last top-level node that no other node
    /// consumes (not a Function, Class or Const, which only name things).
    pub async fn final_node(session: &Session, trace: &str) -> Result<Option<u64>, AnalyzeError> {
        let trace = sql_string(trace);
        let rows = session
            .text_rows(&format!(
                "SELECT max(n.id) FROM nodes n WHERE n.trace = {trace} AND n.frame IS NULL \
                 AND n.kind NOT IN ('Function', 'Class', 'Const') \
                 AND NOT EXISTS (SELECT 1 FROM edges e WHERE e.trace = {trace} AND e.src = n.id)"
            ))
            .await?;
        Ok(rows
            .first()
            .and_then(|row| row.first())
            .and_then(|id| id.parse().ok()))
    }

    /// Loads `root` and what it is built from, `depth` operations deep, one
    /// level per query: a trace of millions of nodes is never held whole.
    /// Argument and SetAttr nodes stand for their value, so they do not
    /// use up a level (as in rendering). None when `root` is not there.
    pub async fn load(
        session: &Session,
        trace: &str,
        root: u64,
        depth: usize,
    ) -> Result<Option<Graph>, AnalyzeError> {
        let trace = sql_string(trace);
        let mut nodes: HashMap<u64, Node> = HashMap::new();
        // The most levels left with which each node has been expanded: a
        // node reached again with more levels left is expanded again.
        let mut expanded: HashMap<u64, usize> = HashMap::new();
        let mut frontier: HashMap<u64, usize> = HashMap::from([(root, depth)]);
        while !frontier.is_empty() {
            let missing: Vec<String> = frontier
                .keys()
                .filter(|id| !nodes.contains_key(id))
                .map(u64::to_string)
                .collect();
            if !missing.is_empty() {
                nodes.extend(fetch(session, &trace, &missing.join(", ")).await?);
            }
            let mut next: HashMap<u64, usize> = HashMap::new();
            for (id, remaining) in frontier {
                expanded.insert(id, remaining);
                let Some(node) = nodes.get(&id) else {
                    continue;
                };
                let passes_through = stands_for_its_value(&node.kind);
                if remaining == 0 && !passes_through {
                    continue;
                }
                let below = if passes_through {
                    remaining
                } else {
                    remaining - 1
                };
                for (_, _, src) in &node.inputs {
                    let entry = next.entry(*src).or_default();
                    *entry = (*entry).max(below);
                }
            }
            next.retain(|id, left| expanded.get(id).is_none_or(|done| *left > *done));
            frontier = next;
        }
        Ok(nodes.contains_key(&root).then_some(Graph { nodes }))
    }
}

/// The nodes `ids` (a comma-separated list) of a trace, with their inputs.
async fn fetch(
    session: &Session,
    trace: &str,
    ids: &str,
) -> Result<Vec<(u64, Node)>, AnalyzeError> {
    let batches = session
        .collect(&format!(
            "SELECT id, CAST(kind AS VARCHAR), name, CAST(type AS VARCHAR), {LITERAL}, inputs \
             FROM nodes WHERE trace = {trace} AND id IN ({ids})"
        ))
        .await?;
    let text = |column: &ArrayRef| -> Result<ArrayRef, AnalyzeError> {
        cast(column, &DataType::Utf8).map_err(|err| AnalyzeError::Engine(err.to_string()))
    };
    let mut out = Vec::new();
    for batch in &batches {
        let ids = batch.column(0).as_primitive::<UInt64Type>();
        let columns = (1..5)
            .map(|i| text(batch.column(i)))
            .collect::<Result<Vec<_>, _>>()?;
        let strings: Vec<&StringArray> = columns.iter().map(|c| c.as_string::<i32>()).collect();
        let inputs = batch.column(5).as_list::<i32>();
        for row in 0..batch.num_rows() {
            let value = |column: usize| {
                let array = strings[column];
                (!array.is_null(row)).then(|| array.value(row).to_string())
            };
            let entries = inputs.value(row);
            let entries = entries.as_struct();
            let roles = text(entries.column(0))?;
            let roles = roles.as_string::<i32>();
            let keys = text(entries.column(1))?;
            let keys = keys.as_string::<i32>();
            let srcs = cast(entries.column(2), &DataType::UInt64)
                .map_err(|err| AnalyzeError::Engine(err.to_string()))?;
            let srcs = srcs.as_primitive::<UInt64Type>();
            let node_inputs = (0..entries.len())
                .map(|i| {
                    let key = (!keys.is_null(i)).then(|| keys.value(i).to_string());
                    (roles.value(i).to_string(), key, srcs.value(i))
                })
                .collect();
            out.push((
                ids.value(row),
                Node {
                    kind: value(0).unwrap_or_default(),
                    name: value(1),
                    type_name: value(2),
                    literal: value(3),
                    inputs: node_inputs,
                },
            ));
        }
    }
    Ok(out)
}

/// The expression behind `node` (by default the run's final result) of the
/// session's one trace, `depth` operations deep.
pub async fn run(
    session: &Session,
    node: Option<u64>,
    depth: usize,
) -> Result<String, AnalyzeError> {
    let [source] = session.sources.as_slice() else {
        let names: Vec<&str> = session.sources.iter().map(|s| s.name.as_str()).collect();
        return Err(AnalyzeError::Usage(format!(
            "expr reads one trace, and this holds {}: {}; name one of them",
            names.len(),
            names.join(", ")
        )));
    };
    let root = match node {
        Some(id) => id,
        None => Graph::final_node(session, &source.name)
            .await?
            .ok_or_else(|| {
                AnalyzeError::Usage(format!(
                    "{} has no top-level result to show; pick a node with --node ID",
                    source.name
                ))
            })?,
    };
    let depth = depth.max(1);
    let graph = Graph::load(session, &source.name, root, depth)
        .await?
        .ok_or_else(|| {
            AnalyzeError::Usage(format!(
                "node {root} is not in {}; its ids run from 0 to {}",
                source.name,
                source.rows.saturating_sub(1)
            ))
        })?;
    Ok(render(&graph, root, depth))
}

/// Renders node `root`, at most `depth` levels deep.
fn render(graph: &Graph, root: u64, depth: usize) -> String {
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

/// An Argument or SetAttr node prints as the value passed or stored.
fn stands_for_its_value(kind: &str) -> bool {
    kind == "Argument" || kind == "SetAttr"
}

/// The node whose expression stands for `id` (an Argument or SetAttr
/// stands for the value that was passed or stored).
fn through(graph: &Graph, mut id: u64) -> u64 {
    for _ in 0..64 {
        match graph.nodes.get(&id) {
            Some(node) if stands_for_its_value(&node.kind) => match node.input("value") {
                Some(value) => id = value,
                None => return id,
            },
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
        // At the depth limit, leaves still print: a constant or a name is
        // as short as the elision mark and says more.
        let loaded_leaf = matches!(
            self.graph.nodes.get(&id).map(|n| n.kind.as_str()),
            Some("Const" | "Function" | "Class")
        );
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
