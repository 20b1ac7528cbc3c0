//! `render`: a trace's computation as a graphviz graph (built with
//! graphviz-rust) in the seed's style — each node a small table of its
//! value and its kind and name, edges from a node to its inputs labelled
//! by role and key. It draws a chosen part: the upstream cone of some
//! nodes (by default the run's final result), bounded by `--depth` (the
//! cut shown as "… N more" nodes), refused beyond `--max-nodes`. DOT needs
//! nothing installed; SVG and PNG run graphviz's `dot`. The drawing is
//! [`crate::draw::graph`]; this loads the part asked for and colours it.

use std::collections::HashMap;

use graphviz_rust::printer::{DotPrinter, PrinterContext};
use hltpy_graph::diff::Diff;
use hltpy_graph::eval::{evaluate, NodeOutcome};
use hltpy_graph::Graph;
use hltpy_schema::NodeKind;

use crate::draw::graph::{
    diff_colour, diff_legend, drawing, eval_colour, ranks_crossed, EVAL_LEGEND, LAYOUT_BUDGET,
};
use crate::draw::{self, FileFormat};
use crate::error::AnalyzeError;
use crate::load::{load_bounded, load_frame, one_trace_and_roots};
use crate::output::{self, ExitStatus};
use crate::progress::ProgressMode;
use crate::session::Session;
use crate::sources::one_trace;

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
    let target = match &args.output {
        None => None,
        Some(path) => Some((path, FileFormat::of_path(path, "-o")?)),
    };
    let (graph, roots) = crate::session::runtime()?.block_on(async {
        let session = Session::open(std::slice::from_ref(&args.trace)).await?;
        let _progress = session.progress(mode, "render");
        if let Some(frame) = args.frame {
            let [source] = session.sources.as_slice() else {
                return Err(AnalyzeError::Usage(
                    "render takes one trace; name one".into(),
                ));
            };
            let graph = load_frame(&session, &source.name, frame, args.max_nodes).await?;
            if !graph.contains(frame) {
                return Err(source.missing_node(frame));
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
                return Err(source.missing_node(*root));
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
    let dot = format!("{}\n", drawn.print(&mut PrinterContext::default()));
    match target {
        None => output::print(&dot)?,
        Some((path, format)) => {
            if format != FileFormat::Dot {
                let crossed = ranks_crossed(&graph);
                if crossed > LAYOUT_BUDGET {
                    eprintln!(
                        "note: the drawing's edges cross {crossed} ranks; graphviz may take \
                         minutes to lay it out (--depth N draws less; -o FILE.dot writes it at \
                         once)"
                    );
                }
            }
            draw::write_file(&dot, path, format, "-o")?
        }
    }
    Ok(ExitStatus::Success)
}

/// The colour of each drawn node by eval's status (the whole trace is
/// re-evaluated, streamed), and the legend.
fn eval_colours(
    trace: &str,
    graph: &Graph,
) -> Result<(HashMap<u64, &'static str>, Option<String>), AnalyzeError> {
    let source = one_trace(trace)?;
    let files = source.trace_files();
    let mut colours = HashMap::new();
    evaluate(&files, &[], None, |outcome: &NodeOutcome| {
        if graph.contains(outcome.node.id) {
            colours.insert(outcome.node.id, eval_colour(outcome.status));
        }
    })
    .map_err(|err| AnalyzeError::Pass(err.to_string()))?;
    Ok((colours, Some(EVAL_LEGEND.into())))
}

/// The colour of each drawn node of NEW by diff's status against OLD.
fn diff_colours(
    old: &str,
    new: &str,
    graph: &Graph,
) -> Result<(HashMap<u64, &'static str>, Option<String>), AnalyzeError> {
    let diff = Diff::of_traces(
        &one_trace(old)?.trace_files(),
        &one_trace(new)?.trace_files(),
        Default::default(),
    )
    .map_err(|err| AnalyzeError::Pass(err.to_string()))?;
    let colours = diff
        .rows()
        .into_iter()
        .filter_map(|row| Some((row.new_id?, row.status)))
        .filter(|(id, _)| graph.contains(*id))
        .map(|(id, status)| (id, diff_colour(status)))
        .collect();
    Ok((colours, Some(diff_legend(old))))
}
