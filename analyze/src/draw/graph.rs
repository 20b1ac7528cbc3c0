//! A trace's computation as a graphviz graph (built with graphviz-rust) in
//! the seed's style: each node a small table of its value over its kind
//! and name, edges from a node to its inputs labelled by role and key, the
//! cut of a depth bound as "… N more" nodes, optionally coloured by a pass
//! and with each traced call's body boxed. `render` and `report` draw it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use graphviz_rust::dot_structures::{
    Attribute, Edge, EdgeTy, Graph as DotGraph, GraphAttributes, Id, Node as DotNode, NodeId, Stmt,
    Subgraph, Vertex,
};
use hltpy_graph::diff::Status as DiffStatus;
use hltpy_graph::eval::{recorded_text, Status as EvalStatus};
use hltpy_graph::{Graph, Node};
use hltpy_schema::NodeKind;

use super::html::{cut, dot_string, escape};

/// The longest value shown in a node (longer ones are cut).
const SHOWN: usize = 40;

/// The most ranks a drawing's edges may cross (see [`ranks_crossed`]) for
/// graphviz to lay it out in a few seconds.
pub const LAYOUT_BUDGET: usize = 3000;

/// How many ranks the drawing's edges cross in all, ranking each node
/// one below the lowest of its drawn users (graphviz's `dot` ranks no
/// tighter). Each rank an edge crosses is a node of `dot`'s layout, and
/// placing those is what makes it slow: 13,000 of them took 25 s.
pub fn ranks_crossed(graph: &Graph) -> usize {
    let mut rank: HashMap<u64, usize> = HashMap::with_capacity(graph.len());
    let mut crossed = 0;
    // Users come after their inputs in a trace: walk from the last.
    for node in graph.nodes().iter().rev() {
        let own = rank.get(&node.id).copied().unwrap_or(0);
        for input in &node.inputs {
            if graph.contains(input.src) {
                let below = rank.entry(input.src).or_insert(own + 1);
                *below = (*below).max(own + 1);
            }
        }
    }
    for node in graph.nodes() {
        let own = rank.get(&node.id).copied().unwrap_or(0);
        for input in &node.inputs {
            if let Some(theirs) = rank.get(&input.src) {
                crossed += theirs.saturating_sub(own);
            }
        }
    }
    crossed
}

/// What the colours of [`eval_colour`] mean.
pub const EVAL_LEGEND: &str =
    "eval: blue input, green recomputed equal, pale green recomputed of the recorded type (no value to compare), red recomputed different, yellow not recomputed";

/// A node's fill colour by its eval status.
pub fn eval_colour(status: EvalStatus) -> &'static str {
    match status {
        EvalStatus::Input => "#dde6f0",
        EvalStatus::Matched => "#c8e6c9",
        EvalStatus::MatchedType => "#e6f2d9",
        EvalStatus::Differed => "#f4a0a0",
        EvalStatus::Opaque => "#fff2b3",
        EvalStatus::Set | EvalStatus::Changed => "#f4b860",
    }
}

/// A node's fill colour by its diff status (against an older trace).
pub fn diff_colour(status: DiffStatus) -> &'static str {
    match status {
        DiffStatus::Same => "#e8e8e8",
        DiffStatus::Changed => "#f4b860",
        DiffStatus::OnlyNew | DiffStatus::OnlyOld => "#90d890",
    }
}

/// What the colours of [`diff_colour`] mean.
pub fn diff_legend(old: &str) -> String {
    format!("diff against {old}: grey the same, orange another value, green new")
}

/// Text for an HTML-like label: cut at [`SHOWN`] characters, line breaks
/// shown as ↵ and other control characters as ·, markup as entities.
fn html(text: &str) -> String {
    let shown: String = cut(text, SHOWN)
        .chars()
        .map(|c| match c {
            '\n' | '\r' => '↵',
            c if c.is_control() => '·',
            c => c,
        })
        .collect();
    escape(&shown)
}

/// A node's label in the seed's style: a leaf is its value in a plain
/// box; an operation a double-bordered table of its value over its kind
/// and name (a Deep value's container type instead of a name).
fn label(node: &Node, colour: Option<&str>) -> String {
    let value = recorded_text(&node.recorded);
    if node.kind.is_leaf() {
        let shown = if value.is_empty() {
            node.name().to_string()
        } else {
            value
        };
        // Graphviz refuses an empty HTML-like label (`<>`).
        let shown = if shown.is_empty() {
            "…".into()
        } else {
            shown
        };
        return format!("<{}>", html(&shown));
    }
    let detail = match node.kind {
        NodeKind::Deep => node.type_name.as_deref().unwrap_or(""),
        _ => node.name(),
    };
    let second = if detail.is_empty() {
        format!("<TD>{}</TD>", node.kind)
    } else {
        format!("<TD>{}</TD><TD>{}</TD>", node.kind, html(detail))
    };
    let first = if value.is_empty() {
        String::new()
    } else {
        let span = if detail.is_empty() { 1 } else { 2 };
        format!("<TR><TD COLSPAN=\"{span}\">{}</TD></TR>", html(&value))
    };
    let background = colour.map_or(String::new(), |c| format!(" BGCOLOR=\"{c}\""));
    format!(
        "<<TABLE BORDER=\"1\" CELLBORDER=\"1\" CELLSPACING=\"2\"{background}>{first}<TR>{second}</TR></TABLE>>"
    )
}

fn node_id(id: u64) -> NodeId {
    NodeId(Id::Plain(format!("n{id}")), None)
}

fn attr(key: &str, value: Id) -> Attribute {
    Attribute(Id::Plain(key.to_string()), value)
}

/// A DOT string.
fn quoted(text: &str) -> Id {
    Id::Escaped(dot_string(text))
}

/// The graph: every loaded node not hidden, edges to its inputs, and one
/// "… N more" node per node whose inputs were cut by the depth; the
/// legend (what the colours mean) as the graph's label.
pub fn drawing(
    graph: &Graph,
    roots: &[u64],
    hidden: &[NodeKind],
    cluster_calls: bool,
    colours: &HashMap<u64, &'static str>,
    legend: Option<&str>,
) -> DotGraph {
    let mut stmts = Vec::new();
    if let Some(legend) = legend {
        stmts.push(Stmt::Attribute(attr("label", quoted(legend))));
    }
    stmts.extend([
        Stmt::GAttribute(GraphAttributes::Node(vec![
            attr("shape", Id::Plain("plaintext".into())),
            attr("fontname", quoted("Helvetica")),
            attr("fontsize", Id::Plain("10".into())),
        ])),
        Stmt::GAttribute(GraphAttributes::Edge(vec![
            attr("fontname", quoted("Helvetica")),
            attr("fontsize", Id::Plain("8".into())),
        ])),
    ]);
    let shown = |node: &Node| !hidden.contains(&node.kind);
    let collapsed = long_chains(graph, &shown);
    let mut chains_drawn: BTreeSet<u64> = BTreeSet::new();
    let mut chain_edges: BTreeSet<(u64, u64)> = BTreeSet::new();
    // With --cluster-calls, node statements go to their call's cluster and
    // edges after all of them (a node belongs where it is first named).
    let mut bodies: BTreeMap<Option<u64>, Vec<Stmt>> = BTreeMap::new();
    let mut edges = Vec::new();
    for node in graph.nodes().iter().filter(|n| shown(n)) {
        let frame = if cluster_calls { node.frame } else { None };
        let (stmts, edges) = (bodies.entry(frame).or_default(), &mut edges);
        if let Some((source, role, count)) = collapsed.get(&node.id) {
            // One node for the middle of a long chain of steps.
            if chains_drawn.insert(*source) {
                let chain = NodeId(Id::Plain(format!("chain{source}")), None);
                stmts.push(Stmt::Node(DotNode::new(
                    chain.clone(),
                    vec![
                        attr("label", quoted(&format!("… {count} more {}", node.kind))),
                        attr("shape", Id::Plain("box".into())),
                        attr("style", quoted("dashed")),
                    ],
                )));
                edges.push(Stmt::Edge(Edge {
                    ty: EdgeTy::Pair(Vertex::N(chain), Vertex::N(node_id(*source))),
                    attributes: vec![attr("label", quoted(role))],
                }));
            }
            continue;
        }
        let colour = colours.get(&node.id).copied();
        let mut attributes = vec![attr("label", Id::Html(label(node, colour)))];
        if node.kind.is_leaf() {
            attributes.push(attr("shape", Id::Plain("box".into())));
            if let Some(colour) = colour {
                attributes.push(attr("style", quoted("filled")));
                attributes.push(attr("fillcolor", quoted(colour)));
            }
        }
        if roots.contains(&node.id) {
            attributes.push(attr("color", quoted("#1f5fbf")));
        }
        stmts.push(Stmt::Node(DotNode::new(node_id(node.id), attributes)));
        let mut cut = 0;
        for input in &node.inputs {
            let Some(src) = graph.get(input.src) else {
                cut += 1;
                continue;
            };
            if !shown(src) {
                continue;
            }
            let role = match input.key.as_deref() {
                Some(key) if !key.is_empty() => format!("{}:{key}", input.role),
                _ => input.role.to_string(),
            };
            let target = match collapsed.get(&src.id) {
                Some((source, ..)) if chain_edges.insert((node.id, *source)) => {
                    NodeId(Id::Plain(format!("chain{source}")), None)
                }
                Some(_) => continue,
                None => node_id(src.id),
            };
            edges.push(Stmt::Edge(Edge {
                ty: EdgeTy::Pair(Vertex::N(node_id(node.id)), Vertex::N(target)),
                attributes: vec![attr("label", quoted(&role))],
            }));
        }
        if cut > 0 {
            let more = NodeId(Id::Plain(format!("more{}", node.id)), None);
            stmts.push(Stmt::Node(DotNode::new(
                more.clone(),
                vec![
                    attr("label", quoted(&format!("… {cut} more"))),
                    attr("shape", Id::Plain("note".into())),
                    attr("fontsize", Id::Plain("8".into())),
                    attr("color", quoted("#999999")),
                ],
            )));
            edges.push(Stmt::Edge(Edge {
                ty: EdgeTy::Pair(Vertex::N(node_id(node.id)), Vertex::N(more)),
                attributes: vec![attr("style", Id::Plain("dashed".into()))],
            }));
        }
    }
    let top = bodies.remove(&None).unwrap_or_default();
    stmts.extend(top);
    // Each call's cluster inside its own caller's (top level when the
    // caller is not drawn).
    let frames: Vec<u64> = bodies.keys().flatten().copied().collect();
    let parent = |frame: u64| {
        graph
            .get(frame)
            .and_then(|call| call.frame)
            .filter(|up| bodies.contains_key(&Some(*up)))
    };
    let mut children: BTreeMap<Option<u64>, Vec<u64>> = BTreeMap::new();
    for frame in &frames {
        children.entry(parent(*frame)).or_default().push(*frame);
    }
    for frame in children.get(&None).cloned().unwrap_or_default() {
        stmts.push(Stmt::Subgraph(cluster(
            graph,
            frame,
            &mut bodies,
            &children,
        )));
    }
    stmts.extend(edges);
    DotGraph::DiGraph {
        id: Id::Plain("trace".into()),
        strict: false,
        stmts,
    }
}

/// Chains of more steps than this (Iterations of one iterator,
/// Generations of one generator) show their first three and their last.
const CHAIN: usize = 8;

/// The steps drawn as one "… N more" node: by step, its iterator or
/// generator, the role label for the chain's edge, and how many it hides.
fn long_chains(
    graph: &Graph,
    shown: &impl Fn(&Node) -> bool,
) -> HashMap<u64, (u64, String, usize)> {
    let mut chains: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for node in graph.nodes().iter().filter(|n| shown(n)) {
        let role = match node.kind {
            NodeKind::Iteration => hltpy_schema::Role::Iterator,
            NodeKind::Generation => hltpy_schema::Role::Generator,
            _ => continue,
        };
        if let Some(source) = node.input(role).filter(|s| graph.contains(*s)) {
            chains.entry(source).or_default().push(node.id);
        }
    }
    let mut collapsed = HashMap::new();
    for (source, mut steps) in chains {
        if steps.len() <= CHAIN {
            continue;
        }
        steps.sort_unstable();
        let middle = &steps[3..steps.len() - 1];
        let kind = graph.get(middle[0]).map_or(NodeKind::Iteration, |n| n.kind);
        let role = match kind {
            NodeKind::Generation => format!("generator:3…{}", steps.len() - 2),
            _ => format!("iterator:3…{}", steps.len() - 2),
        };
        for step in middle {
            collapsed.insert(*step, (source, role.clone(), middle.len()));
        }
    }
    collapsed
}

/// A traced call's body as a cluster titled `name(parameters) at
/// file:line`, with the clusters of the calls made inside it.
fn cluster(
    graph: &Graph,
    frame: u64,
    bodies: &mut BTreeMap<Option<u64>, Vec<Stmt>>,
    children: &BTreeMap<Option<u64>, Vec<u64>>,
) -> Subgraph {
    let title = match graph.get(frame) {
        Some(call) => {
            let parameters: Vec<&str> = call
                .inputs
                .iter()
                .filter(|i| i.role.is_argument())
                .filter_map(|i| graph.get(i.src).map(Node::name))
                .collect();
            let location = call.location();
            let short = location.rsplit('/').next().unwrap_or(&location);
            format!("{}({}) at {short}", call.name(), parameters.join(", "))
        }
        None => format!("call {frame}"),
    };
    let mut stmts = vec![
        Stmt::Attribute(attr("label", quoted(&title))),
        Stmt::Attribute(attr("style", quoted("rounded"))),
        Stmt::Attribute(attr("color", quoted("#8888aa"))),
    ];
    stmts.extend(bodies.remove(&Some(frame)).unwrap_or_default());
    for inner in children.get(&Some(frame)).cloned().unwrap_or_default() {
        stmts.push(Stmt::Subgraph(cluster(graph, inner, bodies, children)));
    }
    Subgraph {
        id: Id::Plain(format!("cluster_{frame}")),
        stmts,
    }
}
