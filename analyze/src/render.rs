//! `render`: a trace's computation as a graphviz graph (built with
//! graphviz-rust) in the seed's style — each node a small table of its
//! value and its kind and name, edges from a node to its inputs labelled
//! by role and key. It draws a chosen part: the upstream cone of some
//! nodes (by default the run's final result), bounded by `--depth` (the
//! cut shown as "… N more" nodes), refused beyond `--max-nodes`. DOT needs
//! nothing installed; SVG and PNG run graphviz's `dot`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use graphviz_rust::cmd::{CommandArg, Format};
use graphviz_rust::dot_structures::{
    Attribute, Edge, EdgeTy, Graph as DotGraph, GraphAttributes, Id, Node as DotNode, NodeId, Stmt,
    Subgraph, Vertex,
};
use graphviz_rust::printer::{DotPrinter, PrinterContext};
use hltpy_graph::diff::Status as DiffStatus;
use hltpy_graph::eval::{evaluate, recorded_text, NodeOutcome, Status as EvalStatus};
use hltpy_graph::{Graph, Node, Topology};
use hltpy_schema::NodeKind;

use crate::cli::{self, ExitStatus};
use crate::diff::one_trace;
use crate::error::AnalyzeError;
use crate::expr::{load_cone_within, missing_node, one_trace_and_roots};
use crate::html::{cut, dot_string, escape};
use crate::progress::ProgressMode;
use crate::session::{sql_string, Session, GRAPH_COLUMNS};

/// Draw a trace's computation with graphviz.
#[derive(clap::Args)]
pub struct Args {
    /// The trace (one).
    trace: String,
    /// Draw the upstream cone of this node (repeatable; default: the
    /// run's final result).
    #[arg(long = "node", value_name = "ID")]
    nodes: Vec<u64>,
    /// Operations drawn upstream of each chosen node (default: all).
    #[arg(long, value_name = "N")]
    depth: Option<usize>,
    /// Refuse to draw more nodes than this.
    #[arg(long, default_value_t = 500, value_name = "N")]
    max_nodes: usize,
    /// Draw the body of this traced call (the nodes made while it ran, and
    /// what they read from outside) instead of a cone.
    #[arg(long, value_name = "ID", conflicts_with_all = ["nodes", "depth"])]
    frame: Option<u64>,
    /// Draw each traced call's body as a box titled `name(parameters) at
    /// file:line`, nested as the calls were.
    #[arg(long)]
    cluster_calls: bool,
    /// Colour the nodes by what a pass says of them: `eval` (matched,
    /// differed, opaque when recomputed) or `diff` (against --against OLD:
    /// the same, another value, new).
    #[arg(long, value_enum, value_name = "PASS")]
    color_by: Option<ColorBy>,
    /// The older trace `--color-by diff` compares with.
    #[arg(long, value_name = "OLD", requires = "color_by")]
    against: Option<String>,
    /// Kinds left out of the drawing (comma-separated, e.g. Const,Function).
    #[arg(long, value_delimiter = ',', value_name = "KIND,...")]
    hide: Vec<String>,
    /// Write FILE.dot, FILE.svg or FILE.png (default: DOT on standard
    /// output). SVG and PNG run graphviz's `dot`.
    #[arg(short, long, value_name = "FILE")]
    output: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ColorBy {
    Eval,
    Diff,
}

/// The longest value shown in a node (longer ones are cut).
const SHOWN: usize = 40;

pub fn run(args: Args, mode: ProgressMode) -> Result<ExitStatus, AnalyzeError> {
    let hidden = args
        .hide
        .iter()
        .map(|kind| {
            NodeKind::parse(kind.trim()).ok_or_else(|| {
                AnalyzeError::Usage(format!(
                    "--hide {kind:?} is not a node kind; kinds are {}",
                    NodeKind::ALL
                        .iter()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
        })
        .collect::<Result<Vec<NodeKind>, _>>()?;
    let format = match args.output.as_deref().map(Path::new) {
        None => None,
        Some(path) => match path.extension().and_then(|e| e.to_str()) {
            Some("dot" | "gv") => None,
            Some("svg") => Some(Format::Svg),
            Some("png") => Some(Format::Png),
            _ => {
                return Err(AnalyzeError::Usage(format!(
                    "-o {}: the file must end in .dot, .svg or .png",
                    path.display()
                )))
            }
        },
    };
    let (graph, roots) = cli::runtime()?.block_on(async {
        let session = Session::open(std::slice::from_ref(&args.trace)).await?;
        let _progress = cli::reading(mode, "render", &session);
        if let Some(frame) = args.frame {
            let [source] = session.sources.as_slice() else {
                return Err(AnalyzeError::Usage(
                    "render takes one trace; name one".into(),
                ));
            };
            let graph = load_frame(&session, &source.name, frame, args.max_nodes).await?;
            if !graph.contains(frame) {
                return Err(missing_node(source, frame));
            }
            return Ok((graph, vec![frame]));
        }
        let (source, roots) = one_trace_and_roots(&session, &args.nodes, "draw").await?;
        let (graph, _) = load_bounded(
            &session,
            &source.name,
            &roots,
            &[args.depth.unwrap_or(usize::MAX)],
            args.max_nodes,
            |_| Ok(()),
        )
        .await?;
        for root in &roots {
            if !graph.contains(*root) {
                return Err(missing_node(source, *root));
            }
        }
        Ok((graph, roots))
    })?;
    let (colours, legend) = match args.color_by {
        None => (HashMap::new(), None),
        Some(ColorBy::Eval) => eval_colours(&args.trace, &graph)?,
        Some(ColorBy::Diff) => {
            let old = args.against.as_deref().ok_or_else(|| {
                AnalyzeError::Usage(
                    "--color-by diff compares with an older trace: add --against OLD.parquet"
                        .into(),
                )
            })?;
            diff_colours(old, &args.trace, &graph)?
        }
    };
    let drawn = drawing(
        &graph,
        &roots,
        &hidden,
        args.cluster_calls,
        &colours,
        legend.as_deref(),
    );
    let dot = drawn.print(&mut PrinterContext::default());
    match (&args.output, format) {
        (None, _) => cli::print(&format!("{dot}\n"))?,
        (Some(path), None) => {
            std::fs::write(path, format!("{dot}\n")).map_err(|err| AnalyzeError::Output {
                path: path.clone(),
                detail: err.to_string(),
            })?
        }
        (Some(path), Some(format)) => {
            let crossed = ranks_crossed(&graph);
            if crossed > LAYOUT_BUDGET {
                eprintln!(
                    "note: the drawing's edges cross {crossed} ranks; graphviz may take minutes \
                     to lay it out (--depth N draws less; -o FILE.dot writes it at once)"
                );
            }
            run_dot(drawn, format, path)?
        }
    }
    Ok(ExitStatus::Success)
}

/// The cone of `roots` at the first of `depths` that fits `most` nodes
/// and that `accept` takes, and that depth; else the refusal of the last.
/// Reading stops as soon as a cone holds more than `most` (a trace of
/// millions is never read further than that).
pub(crate) async fn load_bounded(
    session: &Session,
    trace: &str,
    roots: &[u64],
    depths: &[usize],
    most: usize,
    accept: impl Fn(&Graph) -> Result<(), AnalyzeError>,
) -> Result<(Graph, usize), AnalyzeError> {
    let quoted = sql_string(trace);
    let rows = session.sources.iter().map(|s| s.rows).sum::<u64>();
    let mut refused = too_many(most, 0);
    if rows <= WHOLE {
        // One read of the whole trace beats a query per level; only the
        // cone's rows are decoded into nodes.
        let batches = session
            .collect(&format!(
                "SELECT {GRAPH_COLUMNS} FROM nodes WHERE trace = {quoted}"
            ))
            .await?;
        let bad = |err: hltpy_graph::GraphError| AnalyzeError::Usage(format!("{trace}: {err}"));
        let topology = Topology::from_batches(&batches).map_err(bad)?;
        for depth in depths {
            match topology.cone(roots, *depth, most) {
                Ok(rows) => {
                    let graph = topology.decode(&batches, &rows).map_err(bad)?;
                    match accept(&graph) {
                        Ok(()) => return Ok((graph, *depth)),
                        Err(err) => refused = err,
                    }
                }
                Err(seen) => refused = too_many(most, seen),
            }
        }
        return Err(refused);
    }
    for depth in depths {
        match load_cone_within(session, trace, roots, *depth, most, |seen| {
            too_many(most, seen)
        })
        .await
        {
            Ok(graph) => match accept(&graph) {
                Ok(()) => return Ok((graph, *depth)),
                Err(err) => refused = err,
            },
            Err(err @ AnalyzeError::TooMany(_)) => refused = err,
            Err(err) => return Err(err),
        }
    }
    Err(refused)
}

/// The most ranks a drawing's edges may cross (see [`ranks_crossed`]) for
/// graphviz to lay it out in a few seconds.
pub(crate) const LAYOUT_BUDGET: usize = 3000;

/// How many ranks the drawing's edges cross in all, ranking each node
/// one below the lowest of its drawn users (graphviz's `dot` ranks no
/// tighter). Each rank an edge crosses is a node of `dot`'s layout, and
/// placing those is what makes it slow: 13,000 of them took 25 s.
pub(crate) fn ranks_crossed(graph: &Graph) -> usize {
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

/// The colour of each drawn node by eval's status (the whole trace is
/// re-evaluated, streamed), and the legend.
fn eval_colours(
    trace: &str,
    graph: &Graph,
) -> Result<(HashMap<u64, &'static str>, Option<String>), AnalyzeError> {
    let source = one_trace(trace)?;
    let files = hltpy_graph::TraceFiles {
        name: source.name,
        files: source.files,
    };
    let mut colours = HashMap::new();
    evaluate(&files, &[], None, |outcome: &NodeOutcome| {
        if graph.contains(outcome.node.id) {
            colours.insert(outcome.node.id, eval_colour(outcome.status));
        }
    })
    .map_err(|err| AnalyzeError::Pass(err.to_string()))?;
    Ok((colours, Some(EVAL_LEGEND.into())))
}

/// What the colours of [`eval_colour`] mean.
pub(crate) const EVAL_LEGEND: &str =
    "eval: blue input, green recomputed equal, pale green recomputed of the recorded type (no value to compare), red recomputed different, yellow not recomputed";

/// A node's fill colour by its eval status.
pub(crate) fn eval_colour(status: EvalStatus) -> &'static str {
    match status {
        EvalStatus::Input => "#dde6f0",
        EvalStatus::Matched => "#c8e6c9",
        EvalStatus::MatchedType => "#e6f2d9",
        EvalStatus::Differed => "#f4a0a0",
        EvalStatus::Opaque => "#fff2b3",
        EvalStatus::Set | EvalStatus::Changed => "#f4b860",
    }
}

/// The colour of each drawn node of NEW by diff's status against OLD.
fn diff_colours(
    old: &str,
    new: &str,
    graph: &Graph,
) -> Result<(HashMap<u64, &'static str>, Option<String>), AnalyzeError> {
    let diff = crate::diff::diff_pair(&one_trace(old)?, &one_trace(new)?, Default::default())?;
    let colours = diff
        .rows()
        .into_iter()
        .filter_map(|row| Some((row.new_id?, row.status)))
        .filter(|(id, _)| graph.contains(*id))
        .map(|(id, status)| {
            let colour = match status {
                DiffStatus::Same => "#e8e8e8",
                DiffStatus::Changed => "#f4b860",
                DiffStatus::OnlyNew | DiffStatus::OnlyOld => "#90d890",
            };
            (id, colour)
        })
        .collect();
    Ok((
        colours,
        Some(format!(
            "diff against {old}: grey the same, orange another value, green new"
        )),
    ))
}

/// A traced call, the nodes made while it ran, and the nodes those read
/// from outside it.
async fn load_frame(
    session: &Session,
    trace: &str,
    frame: u64,
    most: usize,
) -> Result<Graph, AnalyzeError> {
    let quoted = sql_string(trace);
    let batches = session
        .collect(&format!(
            "SELECT {GRAPH_COLUMNS} FROM nodes WHERE trace = {quoted} AND (frame = {frame} OR id = {frame})"
        ))
        .await?;
    let decode = |batches: &[_]| {
        Graph::from_batches(batches).map_err(|err| AnalyzeError::Usage(format!("{trace}: {err}")))
    };
    let mut graph = decode(&batches)?;
    let outside: BTreeSet<u64> = graph
        .nodes()
        .iter()
        .flat_map(|n| n.inputs.iter().map(|i| i.src))
        .filter(|src| !graph.contains(*src))
        .collect();
    if graph.len() + outside.len() > most {
        return Err(too_many(most, graph.len() + outside.len()));
    }
    if !outside.is_empty() {
        let ids: Vec<String> = outside.iter().map(u64::to_string).collect();
        let read = session
            .collect(&format!(
                "SELECT {GRAPH_COLUMNS} FROM nodes WHERE trace = {quoted} AND id IN ({})",
                ids.join(", ")
            ))
            .await?;
        for node in decode(&read)?.nodes() {
            graph
                .insert(node.clone())
                .map_err(|err| AnalyzeError::Usage(format!("{trace}: {err}")))?;
        }
    }
    Ok(graph)
}

/// Traces up to this many nodes are read whole; larger ones one level of
/// the cone at a time.
const WHOLE: u64 = 2_000_000;

fn too_many(most: usize, seen: usize) -> AnalyzeError {
    AnalyzeError::TooMany(format!(
        "the drawing would hold more than {most} nodes (at least {seen} so far); \
         bound it with --depth N, pick nodes with --node ID, or raise --max-nodes"
    ))
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
pub(crate) fn drawing(
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

/// SVG or PNG through graphviz's `dot`.
fn run_dot(drawn: DotGraph, format: Format, path: &str) -> Result<(), AnalyzeError> {
    graphviz_rust::exec(
        drawn,
        &mut PrinterContext::default(),
        vec![
            CommandArg::Format(format),
            CommandArg::Output(path.to_string()),
        ],
    )
    .map_err(|err| AnalyzeError::Output {
        path: path.to_string(),
        detail: dot_failure(&err),
    })?;
    Ok(())
}

/// The SVG text of a drawing (graphviz's `dot`), or why there is none.
pub(crate) fn svg_text(drawn: DotGraph) -> Result<String, String> {
    let svg = graphviz_rust::exec(
        drawn,
        &mut PrinterContext::default(),
        vec![CommandArg::Format(Format::Svg)],
    )
    .map_err(|err| dot_failure(&err))?;
    String::from_utf8(svg).map_err(|err| format!("graphviz's dot wrote no UTF-8: {err}"))
}

fn dot_failure(err: &std::io::Error) -> String {
    if err.kind() == std::io::ErrorKind::NotFound {
        "graphviz's dot is not installed (apt-get install graphviz); \
         -o FILE.dot writes the graph without it"
            .into()
    } else {
        format!("graphviz's dot failed: {err}")
    }
}
