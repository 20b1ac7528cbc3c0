//! `hltpy-analyze`: parses the command line, runs one subcommand, reports.

use std::process::ExitCode;
use std::sync::Mutex;

use clap::{Parser, Subcommand};
use hltpy_analyze::commands::{
    check, compile, constraints, diff, eval, expr, infer, query, render, report, summary,
};
use hltpy_analyze::output::ExitStatus;
use hltpy_analyze::progress::ProgressMode;
use hltpy_analyze::tables;

/// Offline analysis of hltpy traces (Parquet files written by `hltpy.capture`).
///
/// A TRACE is a trace file, a directory of segments (one run), a directory
/// of trace files, or a glob such as 'traces/*.parquet'.
///
/// Exit status: 0 done and nothing found, 1 done and something found (a
/// trace that did not end cleanly, a value that re-evaluates differently),
/// 2 an error.
#[derive(Parser)]
#[command(name = "hltpy-analyze", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Show how much of the traces has been read, on stderr: `auto` on a
    /// terminal for reads longer than half a second.
    #[arg(long, global = true, value_enum, default_value_t = ProgressMode::Auto)]
    progress: ProgressMode,
}

#[derive(Subcommand)]
enum Command {
    /// Validate traces and count their nodes per kind
    ///
    /// Reads every row of every file. Exit code 0 when all traces are
    /// complete, 1 when one did not end cleanly, 2 when one is missing,
    /// not Parquet, not an hltpy trace, damaged or too new.
    ///
    /// Example: hltpy-analyze check samples/traces/*.parquet
    Check(check::Args),
    /// What was traced: kinds, calls, nesting, fan-in and fan-out
    ///
    /// Run metadata, nodes per kind, traced calls, the deepest call
    /// nesting, the largest fan-in and fan-out, and warnings.
    ///
    /// Exit code 1 when a trace did not end cleanly.
    ///
    /// Example: hltpy-analyze summary samples/traces/units.parquet
    Summary(summary::Args),
    /// Rebuild the Python expression that produced a node
    ///
    /// By default the node a run ends with (the last top-level result).
    /// Sub-expressions used more than once are named once (t1 = ...).
    ///
    /// Examples:
    ///   hltpy-analyze expr trace.parquet
    ///   hltpy-analyze expr trace.parquet --node 42 --depth 3
    #[command(verbatim_doc_comment)]
    Expr(expr::Args),
    /// Recompute traces and compare with the recording, or ask what if
    ///
    /// Recomputes every node from its inputs with CPython's semantics and
    /// compares with the recording; or asks what the results would be if
    /// an input had another value (--set).
    ///
    /// Leaves (Const, Function, Class) give their recorded values. What
    /// hltpy does not re-evaluate (untraced functions, objects' own
    /// methods, set iteration order, …) keeps its recorded value and is
    /// counted as opaque, with the reason. Floats compare bit for bit
    /// unless --rel-tol. Exit code 1 when a value differs.
    ///
    /// Examples:
    ///   hltpy-analyze eval samples/traces/*.parquet
    ///   hltpy-analyze eval trace.parquet --node 42
    ///   hltpy-analyze eval samples/traces/addx.parquet --set add_to.y=6
    #[command(verbatim_doc_comment)]
    Eval(eval::Args),
    /// List the seed's upstream constraints of traces
    ///
    /// What each node requires of the nodes it came from (HasInit,
    /// HasAttr, HasCallableMethod, IsCallableFunction, HasItem,
    /// Arg2Content), from plain SQL over `nodes` and `edges` that any
    /// Parquet-reading engine runs unchanged (also the view `constraints`).
    ///
    /// Examples:
    ///   hltpy-analyze constraints samples/traces/addx.parquet
    ///   hltpy-analyze constraints samples/traces --kind HasAttr --format csv
    #[command(verbatim_doc_comment)]
    Constraints(constraints::Args),
    /// Infer the types and structure traced code needed, and write stubs
    ///
    /// Per function and method, the types each parameter was given and the
    /// call returned or yielded, with how often, and what the body did with
    /// each parameter (attributes, items, operators, methods, iteration,
    /// calls); per class, the
    /// attributes its objects were given. Observations add up over all
    /// traces (a batch run's directory). Also the tables `signatures` and
    /// `requirements`.
    ///
    /// --stubs DIR writes one .pyi per traced module (a parameter given
    /// disagreeing types and used only structurally gets a Protocol);
    /// --dimension-attr ATTR reports dimension signatures and every `+`,
    /// `-` or comparison of two dimensions (exit code 1 if one is found).
    ///
    /// Examples:
    ///   hltpy-analyze infer samples/traces/addx.parquet
    ///   hltpy-analyze infer traces/ --stubs stubs/
    ///   hltpy-analyze infer samples/traces/units.parquet --dimension-attr unit
    #[command(verbatim_doc_comment)]
    Infer(infer::Args),
    /// Turn a trace into a Python function of its inputs
    ///
    /// One function per result (by default the run's final result): its
    /// parameters are a top-level traced call's arguments (the recorded
    /// values as defaults), its body the recorded computation as
    /// straight-line Python — traced calls inlined, operators as
    /// operators, objects made by calling their class, modules and
    /// functions imported. It is specialised to the recorded path: a
    /// comparison whose answer steered the run becomes a guard raising
    /// hltpy.GuardFailed. --check runs it in CPython on the recorded inputs
    /// (exit code 1 on a mismatch).
    ///
    /// Examples:
    ///   hltpy-analyze compile samples/traces/addx.parquet
    ///   hltpy-analyze compile trace.parquet --node 42 --name kernel -o kernel.py
    ///   hltpy-analyze compile samples/traces/units.parquet --check
    #[command(verbatim_doc_comment)]
    Compile(compile::Args),
    /// Compare the computations of two traces (two program versions)
    ///
    /// Nodes are matched without relying on ids or lines: identical
    /// upstream subgraphs first (largest first), then along the traced
    /// call tree, then by the similarity of their inputs. The report says
    /// whether the traces are equivalent, counts matched / changed / only
    /// in one, lists calls and operations per traced function before →
    /// after, names the first divergence (a node whose inputs agree but
    /// whose value differs) and groups the differences by traced call.
    /// With two directories, pairs their traces by file name. Exit code 0
    /// when equivalent, 1 when different, 2 on error. Also the table
    /// `diff` (query with two traces).
    ///
    /// Examples:
    ///   hltpy-analyze diff before.parquet after.parquet
    ///   hltpy-analyze diff before.parquet after.parquet --rel-tol 1e-9 --format json
    ///   hltpy-analyze diff traces-before/ traces-after/
    #[command(verbatim_doc_comment)]
    Diff(diff::Args),
    /// Draw a trace's computation with graphviz
    ///
    /// The upstream cone of the run's final result (or of --node IDs),
    /// each node a small table of its value over its kind and name, edges
    /// from a node to its inputs labelled by role and key, as in the
    /// seed's pictures. --depth bounds the cone (the cut is drawn as
    /// "… N more"); more than --max-nodes is refused. --frame ID draws one
    /// traced call's body; --cluster-calls boxes each call's body. DOT on standard
    /// output or -o FILE.dot; -o FILE.svg or FILE.png runs graphviz's dot.
    ///
    /// Examples:
    ///   hltpy-analyze render samples/traces/seed_graph.parquet -o graph.svg
    ///   hltpy-analyze render trace.parquet --node 42 --depth 3 --hide Const
    #[command(verbatim_doc_comment)]
    Render(render::Args),
    /// Write one self-contained HTML page of a run
    ///
    /// Run metadata, the summary tables, the first call of each traced
    /// function with the expression its result was computed by, the main
    /// computation drawn and coloured by eval (pan and zoom; needs
    /// graphviz's dot), eval's findings, the inferred signatures, and a
    /// searchable table of the first nodes. The page fetches nothing.
    ///
    /// Example: hltpy-analyze report samples/traces/units.parquet -o units.html
    #[command(verbatim_doc_comment)]
    Report(report::Args),
    /// Run SQL over traces
    ///
    /// input_of(inputs, 'role') is the id of a node's first input with that
    /// role (e.g. 'return', 'object'). Queries are read-only unless
    /// --allow-writes. DATAFUSION_* environment variables tune the engine.
    ///
    /// Examples:
    ///   hltpy-analyze query "SELECT kind, count(*) FROM nodes GROUP BY kind" trace.parquet
    ///   hltpy-analyze query "SELECT name, count(*) AS n FROM calls GROUP BY name ORDER BY n DESC" traces/
    ///   hltpy-analyze query "SELECT status, count(*) FROM eval GROUP BY status" trace.parquet
    ///   hltpy-analyze query --file fan_in.sql --format csv -o fan_in.csv trace.parquet
    #[command(verbatim_doc_comment, after_help = tables::help())]
    Query(query::Args),
    /// Run a Ballista cluster's processes (scheduler, executors)
    ///
    /// `cluster start --executors N` runs a scheduler and N executors on
    /// this machine and prints the address for `query --cluster`;
    /// `cluster scheduler` and `cluster executor --scheduler df://HOST:PORT`
    /// run one process each, for clusters of several hosts.
    #[cfg(feature = "cluster")]
    Cluster(hltpy_analyze::commands::cluster::Args),
}

/// The message of a panic, kept by the hook for `main` to report.
static PANIC: Mutex<Option<String>> = Mutex::new(None);

fn main() -> ExitCode {
    // The hook only remembers: the reader turns decoder panics on damaged
    // files into errors (no backtrace for those), and a panic that does
    // reach `main` is reported once, below, as an internal error.
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        if let Ok(mut slot) = PANIC.lock() {
            *slot = Some(format!("{message}{location}"));
        }
    }));
    let cli = Cli::parse();
    let outcome = std::panic::catch_unwind(|| run(cli));
    let status = match outcome {
        Ok(Ok(status)) => status,
        Ok(Err(err)) => {
            // No terminal control sequence from a file's text reaches the
            // terminal (line breaks the message has are kept).
            let message: Vec<String> = err
                .to_string()
                .split('\n')
                .map(|line| hltpy_graph::pysource::inert(line, false))
                .collect();
            let message = message.join("\n");
            eprintln!("hltpy-analyze: {message}");
            ExitStatus::Error
        }
        Err(_) => {
            let message = PANIC
                .lock()
                .ok()
                .and_then(|mut slot| slot.take())
                .unwrap_or_else(|| "a panic".into());
            eprintln!("hltpy-analyze: internal error: {message}; please report it");
            ExitStatus::Error
        }
    };
    status.into()
}

fn run(cli: Cli) -> Result<ExitStatus, hltpy_analyze::error::AnalyzeError> {
    let mode = cli.progress;
    match cli.command {
        Command::Check(args) => check::run(args, mode),
        Command::Summary(args) => summary::run(args, mode),
        Command::Expr(args) => expr::run(args, mode),
        Command::Eval(args) => eval::run(args, mode),
        Command::Constraints(args) => constraints::run(args, mode),
        Command::Infer(args) => infer::run(args, mode),
        Command::Compile(args) => compile::run(args, mode),
        Command::Diff(args) => diff::run(args, mode),
        Command::Render(args) => render::run(args, mode),
        Command::Report(args) => report::run(args, mode),
        Command::Query(args) => query::run(args, mode),
        #[cfg(feature = "cluster")]
        Command::Cluster(args) => hltpy_analyze::commands::cluster::run(args, mode),
    }
}
