//! `infer`: the types and structure traced code needed — per function and
//! parameter, per class attribute — from one trace or many, as a report,
//! as the tables `signatures` and `requirements`, as `.pyi` stubs, and
//! (with a dimension attribute) as dimension signatures and mismatches.
//! The pass itself is `hltpy_graph::infer`; stubs are `hltpy_graph::stubs`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use hltpy_graph::infer::{Function, FunctionKind, Inference, Param, Types};

use crate::error::AnalyzeError;
use crate::output::{self, ExitStatus};
use crate::progress::{Progress, ProgressMode, Unit};
use crate::sources::{self, trace_files, traced_modules};

/// Infer the types and structure traced code needed, and write stubs.
#[derive(clap::Args)]
pub struct Args {
    /// Traces (files, segment directories or directories of traces):
    /// observations add up across all of them.
    #[arg(required = true)]
    traces: Vec<String>,
    /// Write one `.pyi` stub per traced module into DIR.
    #[arg(long, value_name = "DIR")]
    stubs: Option<PathBuf>,
    /// With --stubs: keep the hand-written annotations (and declarations
    /// the traces did not see) of stubs already in DIR.
    #[arg(long, requires = "stubs")]
    merge: bool,
    /// Treat this attribute, set on a traced class's objects, as their
    /// dimension: report each function's dimension signature and every
    /// `+`, `-` or comparison of two different dimensions.
    #[arg(long, value_name = "ATTR")]
    dimension_attr: Option<String>,
}

pub fn run(args: Args, mode: ProgressMode) -> Result<ExitStatus, AnalyzeError> {
    if let Some(attr) = &args.dimension_attr {
        if attr.is_empty() || !attr.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return Err(AnalyzeError::Usage(format!(
                "--dimension-attr {attr:?} is not an attribute name; e.g. --dimension-attr unit"
            )));
        }
    }
    let sources = sources::resolve(&args.traces)?;
    let visited = Arc::new(AtomicU64::new(0));
    let progress = Progress::start(
        mode,
        "inferring",
        Unit::Rows,
        sources.iter().map(|s| s.rows).sum(),
        visited.clone(),
    );
    let inference = Inference::of_traces(
        &trace_files(&sources),
        args.dimension_attr.as_deref(),
        &visited,
    )
    .map_err(|err| AnalyzeError::Pass(err.to_string()))?;
    drop(progress);
    let mut text = render(&inference);
    if let Some(dir) = &args.stubs {
        let modules = traced_modules(&sources);
        let (written, left_out) = write_stubs(&inference, &modules, dir, args.merge)?;
        let _ = writeln!(text, "\nstubs written:");
        for path in written {
            let _ = writeln!(text, "  {}", path.display());
        }
        for module in left_out {
            let _ = writeln!(
                text,
                "  none for the module {module}: not a dotted Python name"
            );
        }
    }
    output::print(&text)?;
    Ok(ExitStatus::finding_if(!inference.mismatches.is_empty()))
}

/// Writes the stubs into `dir` (made if missing); gives the files written
/// and the modules left out (quoted). Module names are dotted Python
/// names, so every file is inside `dir`.
pub fn write_stubs(
    inference: &Inference,
    modules: &[String],
    dir: &Path,
    merge: bool,
) -> Result<(Vec<PathBuf>, Vec<String>), AnalyzeError> {
    let fail = |path: &Path, err: std::io::Error| AnalyzeError::Output {
        path: path.display().to_string(),
        detail: err.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|err| fail(dir, err))?;
    let path_of = |module: &str| dir.join(format!("{}.pyi", module.replace('.', "/")));
    let stubs = hltpy_graph::stubs::stubs(inference, modules, |module| {
        merge
            .then(|| std::fs::read_to_string(path_of(module)).ok())
            .flatten()
    });
    let mut written = Vec::new();
    for (module, text) in stubs.files {
        let path = path_of(&module);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|err| fail(parent, err))?;
        }
        // Written whole to a temporary name, then renamed: a failure
        // never leaves half a stub.
        let partial = path.with_extension("pyi.partial");
        std::fs::write(&partial, text).map_err(|err| fail(&partial, err))?;
        std::fs::rename(&partial, &path).map_err(|err| fail(&path, err))?;
        written.push(path);
    }
    Ok((written, stubs.left_out))
}

/// Observed types with their counts: `int  ×3`, or with several,
/// `float  (float 1, int 2)`.
fn types_text(types: &Types) -> String {
    let counts: Vec<(&str, u64)> = types.counts().collect();
    match counts.as_slice() {
        [(_, count)] => format!("{}  ×{count}", types.render()),
        _ => {
            let each: Vec<String> = counts.iter().map(|(n, c)| format!("{n} {c}")).collect();
            format!("{}  ({})", types.render(), each.join(", "))
        }
    }
}

fn write_param(out: &mut String, param: &Param) {
    let label = param.label();
    let defaulted = if param.defaulted > 0 {
        format!(", default used {}", param.defaulted)
    } else {
        String::new()
    };
    let _ = writeln!(out, "  {label}: {}{defaulted}", types_text(&param.types));
    for (need, facts) in &param.needs {
        let result = if facts.results.is_empty() {
            String::new()
        } else {
            format!(" -> {}", facts.results.render())
        };
        let _ = writeln!(
            out,
            "      needs {}{result}  ×{}",
            need.describe(&param.name),
            facts.count
        );
    }
}

fn write_function(out: &mut String, function: &Function) {
    let _ = writeln!(
        out,
        "{} ({}): {} call{} in {} trace{}",
        function.qualname,
        FunctionKind::as_str(function.kind),
        function.calls,
        if function.calls == 1 { "" } else { "s" },
        function.traces.len(),
        if function.traces.len() == 1 { "" } else { "s" },
    );
    if let Some(receiver) = &function.receiver {
        write_param(out, receiver);
    }
    for param in &function.params {
        write_param(out, param);
    }
    if !function.returns.is_empty() {
        let _ = writeln!(out, "  returns {}", types_text(&function.returns));
    }
    if !function.yields.is_empty() {
        let _ = writeln!(out, "  yields {}", types_text(&function.yields));
    }
    if !function.raises.is_empty() {
        let _ = writeln!(out, "  raises {}", types_text(&function.raises));
    }
}

/// The report: every function, every class, and the dimensions.
pub fn render(inference: &Inference) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} traced functions and methods, {} traced classes, from {} trace{}",
        inference.functions.len(),
        inference.classes.len(),
        inference.traces,
        if inference.traces == 1 { "" } else { "s" }
    );
    for class in inference.classes.values() {
        let _ = writeln!(out, "\nclass {}: {} objects", class.name, class.objects);
        for attribute in &class.attributes {
            let _ = writeln!(
                out,
                "  {}: {}{}",
                attribute.name,
                types_text(&attribute.types),
                if attribute.in_init {
                    ""
                } else {
                    "  (set outside __init__)"
                }
            );
        }
    }
    for function in inference.functions.values() {
        out.push('\n');
        write_function(&mut out, function);
    }
    if let Some(attr) = &inference.dimension_attr {
        render_dimensions(&mut out, inference, attr);
    }
    out
}

fn dimensions_text(types: &Types) -> String {
    if types.is_empty() {
        return "[?]".into();
    }
    types
        .names()
        .map(|d| format!("[{d}]"))
        .collect::<Vec<_>>()
        .join(" | ")
}

fn render_dimensions(out: &mut String, inference: &Inference, attr: &str) {
    let _ = writeln!(out, "\ndimensions (the attribute `{attr}`):");
    for function in inference.functions.values() {
        let params: Vec<&Param> = function.receiver.iter().chain(&function.params).collect();
        let any = !function.return_dimensions.is_empty()
            || params.iter().any(|p| !p.dimensions.is_empty());
        if !any {
            continue;
        }
        // A parameter without a dimension is shown by name alone.
        let params: Vec<String> = params
            .iter()
            .map(|p| match p.dimensions.is_empty() {
                true => p.label(),
                false => format!("{}: {}", p.label(), dimensions_text(&p.dimensions)),
            })
            .collect();
        let returns = match function.kind {
            FunctionKind::Init => String::new(),
            _ => format!(" -> {}", dimensions_text(&function.return_dimensions)),
        };
        let _ = writeln!(
            out,
            "  {}({}){returns}",
            function.qualname,
            params.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "\ndimension mismatches: {}",
        inference.mismatches.len()
    );
    for m in &inference.mismatches {
        let symbol =
            hltpy_graph::infer::operator_symbol(&m.dunder).map_or(m.dunder.as_str(), |(s, _)| s);
        let _ = writeln!(
            out,
            "  {} (#{} in {}): `{symbol}` of [{}] (made at {}, #{}) and [{}] (made at {}, #{})",
            m.location,
            m.id,
            m.trace,
            m.left.dimension,
            m.left.location,
            m.left.id,
            m.right.dimension,
            m.right.location,
            m.right.id
        );
    }
}
