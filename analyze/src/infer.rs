//! `infer`: the types and structure traced code needed — per function and
//! parameter, per class attribute — from one trace or many, as a report,
//! as the tables `signatures` and `requirements`, as `.pyi` stubs, and
//! (with a dimension attribute) as dimension signatures and mismatches.
//! The pass itself is `hltpy_graph::infer`; stubs are `hltpy_graph::stubs`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, StringBuilder, UInt64Builder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use hltpy_graph::infer::{Function, FunctionKind, Inference, Param, Star, Types};
use hltpy_graph::TraceFiles;

use crate::cli::{self, ExitStatus};
use crate::error::AnalyzeError;
use crate::progress::{Progress, ProgressMode, Unit};
use crate::session::{self, TraceSource};

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

/// The traces' files, as the pass reads them.
pub fn trace_files(sources: &[TraceSource]) -> Vec<TraceFiles> {
    sources
        .iter()
        .map(|s| TraceFiles {
            name: s.name.clone(),
            files: s.files.clone(),
        })
        .collect()
}

/// Runs inference over every trace.
/// Runs inference over every trace; `visited` counts the nodes done.
pub fn infer_all(
    traces: &[TraceFiles],
    dimension_attr: Option<&str>,
    visited: &AtomicU64,
) -> Result<Inference, AnalyzeError> {
    let mut inference = Inference::new(dimension_attr);
    for trace in traces {
        inference
            .add_trace(trace, visited)
            .map_err(|err| AnalyzeError::Pass(err.to_string()))?;
    }
    Ok(inference)
}

pub fn run(args: Args, mode: ProgressMode) -> Result<ExitStatus, AnalyzeError> {
    if let Some(attr) = &args.dimension_attr {
        if attr.is_empty() || !attr.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return Err(AnalyzeError::Usage(format!(
                "--dimension-attr {attr:?} is not an attribute name; e.g. --dimension-attr unit"
            )));
        }
    }
    let sources = session::resolve(&args.traces)?;
    let visited = Arc::new(AtomicU64::new(0));
    let progress = Progress::start(
        mode,
        "inferring",
        Unit::Rows,
        sources.iter().map(|s| s.rows).sum(),
        visited.clone(),
    );
    let inference = infer_all(
        &trace_files(&sources),
        args.dimension_attr.as_deref(),
        &visited,
    )?;
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
    cli::print(&text)?;
    Ok(ExitStatus::finding_if(!inference.mismatches.is_empty()))
}

/// The modules the traces' runs traced (to tell a module from a class in
/// `pkg.mod.Class`).
pub fn traced_modules(sources: &[TraceSource]) -> Vec<String> {
    let modules: BTreeSet<String> = sources
        .iter()
        .flat_map(|s| s.metadata.traced_modules.iter().cloned())
        .collect();
    modules.into_iter().collect()
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

fn param_label(param: &Param) -> String {
    match param.star {
        Star::Plain => param.name.clone(),
        Star::Args => format!("*{}", param.name),
        Star::Kwargs => format!("**{}", param.name),
    }
}

fn kind_text(kind: FunctionKind) -> &'static str {
    match kind {
        FunctionKind::Function => "function",
        FunctionKind::Method => "method",
        FunctionKind::Init => "init",
        FunctionKind::Generator => "generator",
        FunctionKind::Coroutine => "coroutine",
        FunctionKind::AsyncGenerator => "async generator",
    }
}

fn write_param(out: &mut String, param: &Param) {
    let label = param_label(param);
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
        kind_text(function.kind),
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
                true => param_label(p),
                false => format!("{}: {}", param_label(p), dimensions_text(&p.dimensions)),
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

/// Columns of the `signatures` table.
pub fn signatures_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("function", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("class", DataType::Utf8, true),
        Field::new("parameter", DataType::Utf8, false),
        Field::new("position", DataType::UInt64, true),
        Field::new("types", DataType::Utf8, false),
        Field::new("observed", DataType::UInt64, false),
        Field::new("defaulted", DataType::UInt64, false),
        Field::new("calls", DataType::UInt64, false),
        Field::new("traces", DataType::UInt64, false),
    ]))
}

/// One row per parameter, return, yield and raise of every traced
/// function, and per attribute of every traced class (kind `attribute`).
pub fn signatures_batch(inference: &Inference) -> Result<RecordBatch, AnalyzeError> {
    let mut function = StringBuilder::new();
    let mut kind = StringBuilder::new();
    let mut class = StringBuilder::new();
    let mut parameter = StringBuilder::new();
    let mut position = UInt64Builder::new();
    let mut types = StringBuilder::new();
    let mut observed = UInt64Builder::new();
    let mut defaulted = UInt64Builder::new();
    let mut calls = UInt64Builder::new();
    let mut traces = UInt64Builder::new();
    let mut row = |f: &str,
                   k: &str,
                   c: Option<&str>,
                   p: &str,
                   at: Option<u64>,
                   t: &Types,
                   d: u64,
                   n: u64,
                   tr: u64| {
        function.append_value(f);
        kind.append_value(k);
        class.append_option(c);
        parameter.append_value(p);
        position.append_option(at);
        types.append_value(t.render());
        observed.append_value(t.total());
        defaulted.append_value(d);
        calls.append_value(n);
        traces.append_value(tr);
    };
    for c in inference.classes.values() {
        for a in &c.attributes {
            row(
                &c.name,
                "attribute",
                Some(&c.name),
                &a.name,
                None,
                &a.types,
                0,
                c.objects,
                0,
            );
        }
    }
    for f in inference.functions.values() {
        let k = kind_text(f.kind);
        let owner = f.owner.as_deref();
        let n = f.calls;
        let tr = f.traces.len() as u64;
        if let Some(receiver) = &f.receiver {
            row(
                &f.qualname,
                k,
                owner,
                "self",
                Some(0),
                &receiver.types,
                0,
                n,
                tr,
            );
        }
        let offset = u64::from(f.receiver.is_some());
        for (at, p) in f.params.iter().enumerate() {
            let label = param_label(p);
            row(
                &f.qualname,
                k,
                owner,
                &label,
                Some(at as u64 + offset),
                &p.types,
                p.defaulted,
                n,
                tr,
            );
        }
        for (label, t) in [
            ("return", &f.returns),
            ("yield", &f.yields),
            ("raise", &f.raises),
        ] {
            if !t.is_empty() {
                row(&f.qualname, k, owner, label, None, t, 0, n, tr);
            }
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(function.finish()),
        Arc::new(kind.finish()),
        Arc::new(class.finish()),
        Arc::new(parameter.finish()),
        Arc::new(position.finish()),
        Arc::new(types.finish()),
        Arc::new(observed.finish()),
        Arc::new(defaulted.finish()),
        Arc::new(calls.finish()),
        Arc::new(traces.finish()),
    ];
    RecordBatch::try_new(signatures_schema(), columns)
        .map_err(|err| AnalyzeError::Engine(err.to_string()))
}

/// Columns of the `requirements` table.
pub fn requirements_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("function", DataType::Utf8, false),
        Field::new("parameter", DataType::Utf8, false),
        Field::new("need", DataType::Utf8, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("operand_type", DataType::Utf8, true),
        Field::new("result_type", DataType::Utf8, true),
        Field::new("count", DataType::UInt64, false),
        Field::new("use", DataType::Utf8, false),
    ]))
}

/// One row per use a body made of a parameter (or of `self`).
pub fn requirements_batch(inference: &Inference) -> Result<RecordBatch, AnalyzeError> {
    let mut function = StringBuilder::new();
    let mut parameter = StringBuilder::new();
    let mut need_kind = StringBuilder::new();
    let mut name = StringBuilder::new();
    let mut operand = StringBuilder::new();
    let mut result = StringBuilder::new();
    let mut count = UInt64Builder::new();
    let mut use_text = StringBuilder::new();
    for f in inference.functions.values() {
        for p in f.receiver.iter().chain(&f.params) {
            for (need, facts) in &p.needs {
                function.append_value(&f.qualname);
                parameter.append_value(param_label(p));
                need_kind.append_value(need.kind());
                name.append_value(need.name());
                operand.append_option(need.operand());
                result.append_option((!facts.results.is_empty()).then(|| facts.results.render()));
                count.append_value(facts.count);
                use_text.append_value(need.describe(&p.name));
            }
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(function.finish()),
        Arc::new(parameter.finish()),
        Arc::new(need_kind.finish()),
        Arc::new(name.finish()),
        Arc::new(operand.finish()),
        Arc::new(result.finish()),
        Arc::new(count.finish()),
        Arc::new(use_text.finish()),
    ];
    RecordBatch::try_new(requirements_schema(), columns)
        .map_err(|err| AnalyzeError::Engine(err.to_string()))
}
