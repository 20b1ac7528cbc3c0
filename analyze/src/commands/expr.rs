//! `expr`: rebuild the source-level Python expression that produced a
//! node — the seed's `repr` of a trace, offline — with Python's operator
//! precedence and minimal parentheses. Sub-expressions used more than once
//! are named once (`t1 = ...`) instead of repeated. The rebuilding is
//! `hltpy_graph::expr`; this loads the node's cone and prints it.

use hltpy_graph::expr::rebuilt;

use crate::error::AnalyzeError;
use crate::load::{final_node, load_cone};
use crate::output::{self, ExitStatus};
use crate::progress::ProgressMode;
use crate::session::Session;

/// Rebuild the Python expression that produced a node.
#[derive(clap::Args)]
pub struct Args {
    /// The trace (one).
    trace: String,
    /// Id of the node to rebuild.
    #[arg(long)]
    node: Option<u64>,
    /// How many levels of operations to print before eliding with …#id.
    #[arg(long, default_value_t = 50)]
    depth: usize,
}

/// Prints the expression.
pub fn run(args: Args, mode: ProgressMode) -> Result<ExitStatus, AnalyzeError> {
    let text = crate::session::runtime()?.block_on(async {
        let session = Session::open(std::slice::from_ref(&args.trace)).await?;
        let _progress = session.progress(mode, "expr");
        expression(&session, args.node, args.depth).await
    })?;
    output::print(&format!("{text}\n"))?;
    Ok(ExitStatus::Success)
}

/// The expression behind `node` (by default the run's final result) of the
/// session's one trace, `depth` operations deep.
async fn expression(
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
        None => final_node(session, &source.name).await?.ok_or_else(|| {
            AnalyzeError::Usage(format!(
                "{} has no top-level result to show; pick a node with --node ID",
                source.name
            ))
        })?,
    };
    let depth = depth.max(1);
    let graph = load_cone(session, &source.name, &[root], depth).await?;
    if !graph.contains(root) {
        return Err(source.missing_node(root));
    }
    Ok(rebuilt(&graph, root, depth))
}
