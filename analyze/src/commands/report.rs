//! `report`: one self-contained HTML page of a run — its metadata, the
//! summary, the traced calls with their rebuilt expressions, a drawing of
//! the main computation coloured by eval (inline SVG with pan and zoom),
//! eval's findings, the inferred signatures, and a searchable table of the
//! first nodes. Styles and script are inline: the page fetches nothing.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use graphviz_rust::printer::{DotPrinter, PrinterContext};
use hltpy_graph::eval::{evaluate, recorded_text, NodeOutcome, Report, Status};
use hltpy_graph::expr::rebuilt;
use hltpy_graph::infer::Inference;
use hltpy_graph::Graph;

use crate::draw::graph::{drawing, eval_colour, ranks_crossed, EVAL_LEGEND, LAYOUT_BUDGET};
use crate::draw::html::{cut, escape};
use crate::draw::svg_text;
use crate::error::AnalyzeError;
use crate::load::{load_bounded, unread_nodes, GRAPH_COLUMNS};
use crate::output::ExitStatus;
use crate::progress::{Progress, ProgressMode, Unit};
use crate::session::{sql_string, Session};
use crate::sources::{trace_files, traced_modules, TraceSource};
use crate::summary::{summarize_trace, TraceSummary};

/// Write one self-contained HTML page of a run.
#[derive(clap::Args)]
pub struct Args {
    /// The trace (one).
    trace: String,
    /// The page to write (FILE.html).
    #[arg(short, long, value_name = "FILE.html")]
    output: String,
    /// Nodes in the page's searchable table (the first ones by id).
    #[arg(long, default_value_t = 2000, value_name = "N")]
    table_nodes: usize,
    /// The most nodes drawn; a larger computation is drawn less deep.
    #[arg(long, default_value_t = 300, value_name = "N")]
    max_nodes: usize,
}

/// Distinct traced functions listed with their first call.
const CALLS_LISTED: usize = 40;
/// Operations deep a call's rebuilt expressions go.
const EXPRESSION_DEPTH: usize = 6;
/// The most nodes read to rebuild the calls' expressions.
const EXPRESSION_BUDGET: usize = 50_000;
/// The longest value shown in a table cell.
const CELL: usize = 120;

pub fn run(args: Args, mode: ProgressMode) -> Result<ExitStatus, AnalyzeError> {
    let output = Path::new(&args.output);
    if !matches!(
        output.extension().and_then(|e| e.to_str()),
        Some("html" | "htm")
    ) {
        return Err(AnalyzeError::Usage(format!(
            "-o {}: the report is HTML; name a file ending in .html",
            args.output
        )));
    }
    let (source, summary, calls, picture, nodes) = crate::session::runtime()?.block_on(async {
        let session = Session::open(std::slice::from_ref(&args.trace)).await?;
        let _progress = session.progress(mode, "report");
        let [source] = session.sources.as_slice() else {
            return Err(AnalyzeError::Usage(
                "report takes one trace; name one".into(),
            ));
        };
        let summary = summarize_trace(&session, source).await?;
        let calls = traced_calls(&session, source).await?;
        let picture = main_computation(&session, source, args.max_nodes).await?;
        let nodes = first_nodes(&session, source, args.table_nodes).await?;
        Ok((source.clone(), summary, calls, picture, nodes))
    })?;
    let passes = Passes::run(&source, &picture, mode);
    let page = Page {
        source,
        summary,
        calls,
        picture,
        nodes,
        passes,
    };
    // Written beside, then renamed: a failed run leaves no half page.
    let partial = output.with_extension("html.partial");
    let written =
        std::fs::write(&partial, page.html()).and_then(|()| std::fs::rename(&partial, output));
    if let Err(err) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(AnalyzeError::Output {
            path: args.output.clone(),
            detail: err.to_string(),
        });
    }
    Ok(ExitStatus::Success)
}

/// The first call of a traced function: the call as written, its result
/// and the expression its result was computed by.
struct CallShown {
    id: u64,
    kind: String,
    name: String,
    count: u64,
    location: String,
    call: String,
    result: String,
    expression: Option<String>,
}

/// What the drawing shows, or why there is none.
enum Picture {
    Drawn {
        graph: Graph,
        roots: Vec<u64>,
        /// Operations deep, when the whole cone was too large.
        depth: Option<usize>,
        /// The results found (more than `roots` when their cones were too
        /// large together).
        results: usize,
    },
    Missing(String),
}

struct Page {
    source: TraceSource,
    summary: TraceSummary,
    calls: Vec<CallShown>,
    picture: Picture,
    nodes: Graph,
    passes: Passes,
}

/// What the passes say: eval's report (or why there is none), the
/// drawing's colours by eval status, and the inferred stubs by module.
/// A pass that fails says so in its section; the rest of the page stands.
struct Passes {
    eval: Result<Report, String>,
    colours: HashMap<u64, &'static str>,
    stubs: Result<Vec<(String, String)>, String>,
}

impl Passes {
    /// Eval (its report and the drawing's colours in one streamed pass)
    /// and inference, each a read of the whole trace.
    fn run(source: &TraceSource, picture: &Picture, mode: ProgressMode) -> Passes {
        let done = Arc::new(AtomicU64::new(0));
        let _progress = Progress::start(
            mode,
            format!("re-evaluating and inferring {}", source.name),
            Unit::Rows,
            2 * source.rows,
            done.clone(),
        );
        let files = source.trace_files();
        let drawn = match picture {
            Picture::Drawn { graph, .. } => Some(graph),
            Picture::Missing(_) => None,
        };
        let mut colours = HashMap::new();
        let eval = evaluate(&files, &[], None, |outcome: &NodeOutcome| {
            done.fetch_add(1, Ordering::Relaxed);
            if drawn.is_some_and(|g| g.contains(outcome.node.id)) {
                colours.insert(outcome.node.id, eval_colour(outcome.status));
            }
        })
        .map_err(|err| err.to_string());
        let sources = std::slice::from_ref(source);
        let stubs = Inference::of_traces(&trace_files(sources), None, &done)
            .map(|inference| {
                hltpy_graph::stubs::stubs(&inference, &traced_modules(sources), |_| None)
                    .files
                    .into_iter()
                    .collect()
            })
            .map_err(|err| err.to_string());
        Passes {
            eval,
            colours,
            stubs,
        }
    }
}

/// The first call of each traced function (up to [`CALLS_LISTED`]), with
/// expressions rebuilt from one bounded read of their cones.
async fn traced_calls(
    session: &Session,
    source: &TraceSource,
) -> Result<Vec<CallShown>, AnalyzeError> {
    // The `calls` view holds every traced call.
    let rows = session
        .text_rows(&format!(
            "SELECT min(id), kind, name, count(*) FROM calls WHERE trace = {} \
             GROUP BY kind, name ORDER BY min(id) LIMIT {CALLS_LISTED}",
            sql_string(&source.name)
        ))
        .await?;
    let ids: Vec<u64> = rows.iter().filter_map(|r| r[0].parse().ok()).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // The calls with their arguments, then what each returned, as deep as
    // the budget allows (a call of `main` reaches the whole run).
    let depths = [EXPRESSION_DEPTH + 1, 3, 1];
    let loaded = match load_bounded(
        session,
        &source.name,
        &ids,
        &depths,
        EXPRESSION_BUDGET,
        |_| Ok(()),
    )
    .await
    {
        Ok(loaded) => Some(loaded),
        Err(AnalyzeError::TooMany(_)) => None,
        Err(err) => return Err(err),
    };
    let mut shown = Vec::new();
    for (row, id) in rows.iter().zip(&ids) {
        let found = loaded
            .as_ref()
            .and_then(|(graph, depth)| Some((graph, *depth, graph.get(*id)?)));
        let (call, result, expression, location) = match found {
            Some((graph, depth, node)) => (
                rebuilt(graph, *id, 2),
                recorded_text(&node.recorded),
                node.input(hltpy_schema::Role::Return)
                    .filter(|_| depth > 1)
                    .map(|returned| rebuilt(graph, returned, depth - 1)),
                node.location(),
            ),
            None => (row[2].clone(), String::new(), None, String::new()),
        };
        shown.push(CallShown {
            id: *id,
            kind: row[1].clone(),
            name: row[2].clone(),
            count: row[3].parse().unwrap_or(0),
            location,
            call,
            result,
            expression,
        });
    }
    Ok(shown)
}

/// The results drawn: at most this many, the last made.
const RESULTS_DRAWN: usize = 20;

/// The upstream cones of the run's results — the operations no other node
/// reads: what the run returned, and values it computed and dropped (a
/// result turned into text by untraced code leaves its cone behind) — as
/// deep as fits `most` nodes.
async fn main_computation(
    session: &Session,
    source: &TraceSource,
    most: usize,
) -> Result<Picture, AnalyzeError> {
    let mut roots = unread_nodes(session, &source.name, false, RESULTS_DRAWN).await?;
    let results = roots.len();
    if roots.is_empty() {
        return Ok(Picture::Missing(
            "the run has no traced result to draw".into(),
        ));
    }
    // The whole cone if it fits, else as deep as fits; when even one
    // operation up is too much, the later half of the results.
    let depths = [usize::MAX, 64, 32, 16, 12, 8, 5, 3, 2, 1];
    let quick_to_lay_out = |graph: &Graph| {
        let crossed = ranks_crossed(graph);
        if crossed <= LAYOUT_BUDGET {
            Ok(())
        } else {
            Err(AnalyzeError::TooMany(format!(
                "its edges cross {crossed} ranks, more than graphviz lays out in seconds"
            )))
        }
    };
    loop {
        match load_bounded(
            session,
            &source.name,
            &roots,
            &depths,
            most,
            quick_to_lay_out,
        )
        .await
        {
            Ok((graph, depth)) => {
                return Ok(Picture::Drawn {
                    graph,
                    roots,
                    depth: (depth != usize::MAX).then_some(depth),
                    results,
                })
            }
            Err(AnalyzeError::TooMany(_)) if roots.len() > 1 => {
                roots.drain(..roots.len() / 2);
            }
            Err(AnalyzeError::TooMany(why)) => {
                return Ok(Picture::Missing(format!(
                    "node {} is too large to draw even one operation up ({why}); \
                     draw a part with hltpy-analyze render --node {} --depth 1",
                    roots[0], roots[0]
                )))
            }
            Err(err) => return Err(err),
        }
    }
}

/// The first `count` nodes by id.
async fn first_nodes(
    session: &Session,
    source: &TraceSource,
    count: usize,
) -> Result<Graph, AnalyzeError> {
    let batches = session
        .collect(&format!(
            "SELECT {GRAPH_COLUMNS} FROM nodes WHERE trace = {} ORDER BY id LIMIT {count}",
            sql_string(&source.name)
        ))
        .await?;
    Graph::from_batches(&batches)
        .map_err(|err| AnalyzeError::Usage(format!("{}: {err}", source.name)))
}

impl Page {
    fn html(&self) -> String {
        let mut out = String::with_capacity(1 << 20);
        let title = format!("hltpy report: {}", self.source.name);
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<header><h1>{}</h1>\n\
             <nav><a href=\"#run\">Run</a> <a href=\"#summary\">Summary</a> \
             <a href=\"#calls\">Calls</a> <a href=\"#graph\">Graph</a> <a href=\"#eval\">Eval</a> \
             <a href=\"#signatures\">Signatures</a> <a href=\"#nodes\">Nodes</a></nav></header>\n<main>\n",
            escape(&title),
            escape(&title)
        );
        self.run_section(&mut out);
        self.summary_section(&mut out);
        self.calls_section(&mut out);
        self.graph_section(&mut out);
        self.eval_section(&mut out);
        self.signatures_section(&mut out);
        self.nodes_section(&mut out);
        let _ = write!(
            out,
            "</main>\n<footer>Written by hltpy-analyze {}.</footer>\n<script>{SCRIPT}</script>\n</body>\n</html>\n",
            env!("CARGO_PKG_VERSION")
        );
        out
    }

    fn run_section(&self, out: &mut String) {
        let meta = &self.source.metadata;
        let mut rows = vec![
            ("trace", self.source.name.clone()),
            ("nodes", self.source.rows.to_string()),
            ("segments", self.source.files.len().to_string()),
            ("program", meta.argv.join(" ")),
            ("Python", meta.python_version.clone()),
            ("hltpy", meta.hltpy_version.clone()),
            ("format", meta.format_version.clone()),
            ("started", meta.start_time.clone()),
            ("ended", meta.end_time.clone().unwrap_or_else(|| "?".into())),
            (
                "end",
                meta.end_reason
                    .clone()
                    .unwrap_or_else(|| "no end reason".into()),
            ),
        ];
        if !meta.traced_modules.is_empty() {
            rows.push(("traced modules", meta.traced_modules.join(", ")));
        }
        out.push_str("<section id=\"run\"><h2>Run</h2>\n<table class=\"facts\">\n");
        fact_rows(out, rows);
        out.push_str("</table>\n");
        for text in self.source.warnings() {
            warning(out, &text);
        }
        out.push_str("</section>\n");
    }

    fn summary_section(&self, out: &mut String) {
        let summary = &self.summary;
        out.push_str("<section id=\"summary\"><h2>Summary</h2>\n<div class=\"columns\">\n");
        let most = summary.kinds.first().map_or(1, |(_, n)| *n).max(1);
        out.push_str("<table id=\"kinds\"><caption>Nodes per kind</caption>\n<tr><th>kind</th><th>nodes</th><th></th></tr>\n");
        for (kind, count) in &summary.kinds {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td class=\"number\">{count}</td>\
                 <td><span class=\"bar\" style=\"width:{}px\"></span></td></tr>",
                escape(kind),
                (count * 160).div_ceil(most)
            );
        }
        out.push_str(
            "</table>\n<table id=\"traced-calls\"><caption>Traced calls</caption>\n\
                      <tr><th>kind</th><th>name</th><th>calls</th></tr>\n",
        );
        for (kind, name, count) in summary.calls.iter().take(30) {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td class=\"number\">{count}</td></tr>",
                escape(kind),
                escape(name)
            );
        }
        if summary.calls.len() > 30 {
            let _ = writeln!(
                out,
                "<tr><td colspan=\"3\">… {} more</td></tr>",
                summary.calls.len() - 30
            );
        }
        out.push_str("</table>\n</div>\n<table class=\"facts\">\n");
        let listing = |items: &[String]| {
            if items.is_empty() {
                "none".to_string()
            } else {
                items.join(", ")
            }
        };
        fact_rows(
            out,
            [
                ("deepest call nesting", summary.deepest_nesting.to_string()),
                ("largest fan-in", listing(&summary.fan_in)),
                ("largest fan-out", listing(&summary.fan_out)),
            ],
        );
        out.push_str("</table>\n</section>\n");
    }

    fn calls_section(&self, out: &mut String) {
        out.push_str("<section id=\"calls\"><h2>Traced calls</h2>\n");
        if self.calls.is_empty() {
            out.push_str("<p>No traced function was called.</p>\n</section>\n");
            return;
        }
        out.push_str(
            "<p>The first call of each traced function, and the expression its result \
             was computed by (rebuilt from the trace).</p>\n<table id=\"call-table\">\n\
             <tr><th>node</th><th>call</th><th>calls</th><th>at</th><th>result</th><th>computed as</th></tr>\n",
        );
        for call in &self.calls {
            let expression = call.expression.as_deref().unwrap_or("");
            let _ = writeln!(
                out,
                "<tr><td class=\"number\">{}</td><td><pre title=\"{} {}\">{}</pre></td>\
                 <td class=\"number\">{}</td><td>{}</td><td><code>{}</code></td><td><pre>{}</pre></td></tr>",
                call.id,
                escape(&call.kind),
                escape(&call.name),
                escape(&cut(&call.call, CELL)),
                call.count,
                escape(&call.location),
                escape(&cut(&call.result, CELL)),
                escape(&cut(expression, 4 * CELL)),
            );
        }
        out.push_str("</table>\n</section>\n");
    }

    fn graph_section(&self, out: &mut String) {
        out.push_str("<section id=\"graph\"><h2>The main computation</h2>\n");
        let (graph, roots, depth, results) = match &self.picture {
            Picture::Drawn {
                graph,
                roots,
                depth,
                results,
            } => (graph, roots, depth, *results),
            Picture::Missing(why) => {
                warning(out, why);
                out.push_str("</section>\n");
                return;
            }
        };
        let roots_text: Vec<String> = roots.iter().map(|r| format!("#{r}")).collect();
        let _ = writeln!(
            out,
            "<p>Where the run's results (nodes {}{}, which no other node reads) came from{}: {} nodes. \
             Colours: {}. Scroll to zoom, drag to pan; a click on a node finds it in the node table.</p>",
            roots_text.join(", "),
            if results > roots.len() {
                format!(", the last {} of {results}", roots.len())
            } else {
                String::new()
            },
            match depth {
                Some(1) => ", one operation deep (the whole cone is larger or slow to lay out)".into(),
                Some(d) => format!(", {d} operations deep (the whole cone is larger or slow to lay out)"),
                None => String::new(),
            },
            graph.len(),
            escape(EVAL_LEGEND.trim_start_matches("eval: ")),
        );
        let drawn = drawing(graph, roots, &[], false, &self.passes.colours, None);
        match svg_text(&drawn.print(&mut PrinterContext::default())) {
            Ok(svg) => {
                // The SVG element only: dot's XML prologue and doctype do
                // not belong inside an HTML page.
                let start = svg.find("<svg").unwrap_or(0);
                out.push_str(
                    "<div class=\"toolbar\"><button type=\"button\" id=\"zoom-in\">+</button>\
                              <button type=\"button\" id=\"zoom-out\">−</button>\
                              <button type=\"button\" id=\"zoom-fit\">fit</button></div>\n\
                              <div id=\"graph-view\">",
                );
                out.push_str(&svg[start..]);
                out.push_str("</div>\n");
            }
            Err(why) => warning(out, &format!("No drawing: {why}")),
        }
        out.push_str("</section>\n");
    }

    fn eval_section(&self, out: &mut String) {
        out.push_str("<section id=\"eval\"><h2>Re-evaluation</h2>\n");
        match &self.passes.eval {
            Err(why) => warning(out, &format!("eval could not go over the trace: {why}")),
            Ok(report) => {
                out.push_str("<table id=\"eval-counts\" class=\"facts\">\n");
                for (label, status) in [
                    ("recomputed equal", Status::Matched),
                    ("recomputed, type only compared", Status::MatchedType),
                    ("recomputed different", Status::Differed),
                    ("not recomputed (opaque)", Status::Opaque),
                    ("inputs", Status::Input),
                ] {
                    let _ = writeln!(
                        out,
                        "<tr><th>{label}</th><td class=\"number\">{}</td></tr>",
                        report.count(status)
                    );
                }
                out.push_str("</table>\n");
                if !report.differences.is_empty() {
                    out.push_str("<table id=\"differences\"><caption>Differences</caption>\n\
                                  <tr><th>node</th><th>kind</th><th>name</th><th>at</th><th>recorded</th><th>recomputed</th></tr>\n");
                    for d in &report.differences {
                        let _ = writeln!(
                            out,
                            "<tr><td class=\"number\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                            d.id,
                            escape(&d.kind.to_string()),
                            escape(&d.name),
                            escape(&d.location),
                            escape(&cut(&d.recorded, CELL)),
                            escape(&cut(&d.recomputed, CELL))
                        );
                    }
                    out.push_str("</table>\n");
                }
                if !report.opaque_reasons.is_empty() {
                    out.push_str(
                        "<table id=\"opaque\"><caption>Not recomputed, by reason</caption>\n\
                                  <tr><th>nodes</th><th>reason</th></tr>\n",
                    );
                    for (reason, count) in report.opaque_reasons.iter().take(15) {
                        let _ = writeln!(
                            out,
                            "<tr><td class=\"number\">{count}</td><td>{}</td></tr>",
                            escape(reason)
                        );
                    }
                    out.push_str("</table>\n");
                }
            }
        }
        out.push_str("</section>\n");
    }

    fn signatures_section(&self, out: &mut String) {
        out.push_str("<section id=\"signatures\"><h2>Inferred signatures</h2>\n");
        let stubs = match &self.passes.stubs {
            Ok(stubs) => stubs,
            Err(why) => {
                warning(
                    out,
                    &format!("inference could not go over the trace: {why}"),
                );
                out.push_str("</section>\n");
                return;
            }
        };
        if stubs.is_empty() {
            out.push_str("<p>No traced function or class to describe.</p>\n");
        }
        for (module, stub) in stubs {
            let _ = writeln!(
                out,
                "<h3>{}</h3>\n<pre class=\"stub\">{}</pre>",
                escape(module),
                escape(stub)
            );
        }
        out.push_str("</section>\n");
    }

    fn nodes_section(&self, out: &mut String) {
        let shown = self.nodes.len();
        let _ = writeln!(
            out,
            "<section id=\"nodes\"><h2>Nodes</h2>\n<p>The first {shown} of {} nodes. \
             <input type=\"search\" id=\"node-search\" placeholder=\"filter: kind, name, value, file…\" \
             aria-label=\"filter the nodes\"> <span id=\"node-count\">{shown} shown</span></p>\n\
             <table id=\"node-table\">\n<thead><tr><th>id</th><th>kind</th><th>name</th><th>type</th>\
             <th>value</th><th>inputs</th><th>at</th><th>in call</th></tr></thead>\n<tbody>",
            self.source.rows
        );
        for node in self.nodes.nodes() {
            let inputs: Vec<String> = node
                .inputs
                .iter()
                .map(|i| match i.key.as_deref() {
                    Some(key) if !key.is_empty() => format!("{}:{key} ← {}", i.role, i.src),
                    _ => format!("{} ← {}", i.role, i.src),
                })
                .collect();
            let _ = writeln!(
                out,
                "<tr id=\"node-{}\"><td class=\"number\">{}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"number\">{}</td></tr>",
                node.id,
                node.id,
                node.kind,
                escape(node.name()),
                escape(node.type_name.as_deref().unwrap_or("")),
                escape(&cut(&recorded_text(&node.recorded), CELL)),
                escape(&inputs.join(", ")),
                escape(&node.location()),
                node.frame.map_or(String::new(), |f| f.to_string()),
            );
        }
        out.push_str("</tbody>\n</table>\n</section>\n");
    }
}

/// Rows of a table of facts: a heading and its value each.
fn fact_rows<'a>(out: &mut String, rows: impl IntoIterator<Item = (&'a str, String)>) {
    for (key, value) in rows {
        let _ = writeln!(
            out,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(key),
            escape(&value)
        );
    }
}

/// A paragraph saying what is missing or went wrong.
fn warning(out: &mut String, text: &str) {
    let _ = writeln!(out, "<p class=\"warning\">{}</p>", escape(text));
}

const STYLE: &str = include_str!("report.css");
const SCRIPT: &str = include_str!("report.js");
