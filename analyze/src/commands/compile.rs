//! `compile`: a trace as a Python module — one function per requested
//! result, whose parameters are the computation's inputs and whose body is
//! the recorded computation as straight-line Python (traced calls inlined,
//! operators as operators, objects of traced classes made by calling their
//! class, untraced callables imported by module and name). The function is
//! specialised to the path the run took: comparisons whose answer steered
//! it become guards that raise `hltpy.GuardFailed` on another answer.
//! The compiler is `hltpy_graph::compile`; this loads the trace, writes
//! the module, and with `--check` runs it in CPython on the recorded
//! inputs.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use hltpy_graph::compile;
use hltpy_graph::literal;
use hltpy_graph::pysource::{self, inert, is_identifier};

use crate::error::AnalyzeError;
use crate::load::one_trace_and_roots;
use crate::output::{self, ExitStatus};
use crate::progress::ProgressMode;
use crate::session::Session;

/// Turn a trace into a Python function of its inputs.
#[derive(clap::Args)]
pub struct Args {
    /// The trace (one).
    trace: String,
    /// The result to compile (repeatable; default: the run's final result).
    #[arg(long = "node", value_name = "ID")]
    nodes: Vec<u64>,
    /// The function's name (with one result; default `compiled`).
    #[arg(long)]
    name: Option<String>,
    /// Write the module here instead of standard output.
    #[arg(short, long, value_name = "FILE.py")]
    output: Option<String>,
    /// Values that cannot be written as Python become parameters instead
    /// of failing the compile.
    #[arg(long)]
    allow_constants: bool,
    /// Run each function in CPython on the recorded inputs and compare with
    /// the recorded result (exit code 1 on a mismatch).
    #[arg(long)]
    check: bool,
    /// The Python that --check runs (default: the active virtualenv's,
    /// else pythonX.Y of the trace's version, else python3).
    #[arg(long, value_name = "PATH", requires = "check")]
    python: Option<String>,
    /// A module --check may import although it is not a file under the
    /// trace's source directories or PYTHONPATH (repeatable).
    #[arg(long = "allow-import", value_name = "MODULE", requires = "check")]
    allow_imports: Vec<String>,
    /// With several --node: a node that cannot be compiled is named on
    /// stderr and left out, the others are compiled (exit code 1 when one
    /// was left out).
    #[arg(long)]
    skip_refused: bool,
}

pub fn run(args: Args, mode: ProgressMode) -> Result<ExitStatus, AnalyzeError> {
    if args.name.is_some() && args.nodes.len() > 1 {
        return Err(AnalyzeError::Usage(
            "--name names one function; with several --node each is named compiled_<id>".into(),
        ));
    }
    if let Some(name) = &args.name {
        if !is_identifier(name) {
            return Err(AnalyzeError::Usage(format!(
                "--name {name:?} is not a Python identifier"
            )));
        }
    }
    let mut refused = 0;
    let (module, checks, python, source_dirs) = crate::session::runtime()?.block_on(async {
        let session = Session::open(std::slice::from_ref(&args.trace)).await?;
        let _progress = session.progress(mode, "compile");
        let (source, roots) = one_trace_and_roots(&session, &args.nodes, "compile").await?;
        // Read in file order, not through the query engine, whose
        // parallel scan gives batches in any order: compile emits rows in
        // their order, which the format guarantees puts inputs first.
        let graph = source
            .trace_files()
            .graph()
            .map_err(|err| AnalyzeError::Pass(err.to_string()))?;
        let compilation = compile::Compilation::new(
            &graph,
            &source.metadata.traced_modules,
            args.allow_constants,
        );
        let mut functions = Vec::new();
        let mut checks = Vec::new();
        for root in &roots {
            if !graph.contains(*root) {
                return Err(source.missing_node(*root));
            }
            let name = match (&args.name, roots.len()) {
                (Some(name), _) => name.clone(),
                (None, 1) => "compiled".to_string(),
                (None, _) => format!("compiled_{root}"),
            };
            let function = compilation.function(*root, &name).map_err(|message| {
                // One line, whatever names and values of the trace it quotes.
                AnalyzeError::Usage(format!(
                    "{}: cannot compile node {root}: {}",
                    source.name,
                    inert(&message, false)
                ))
            });
            let function = match function {
                Ok(function) => function,
                Err(refusal) if args.skip_refused && roots.len() > 1 => {
                    eprintln!("hltpy-analyze: {refusal}");
                    refused += 1;
                    continue;
                }
                Err(refusal) => return Err(refusal),
            };
            checks.push((name, function.expected.clone()));
            functions.push(function);
        }
        if functions.is_empty() {
            return Err(AnalyzeError::Usage(format!(
                "{}: none of the {} nodes could be compiled",
                source.name,
                roots.len()
            )));
        }
        let python = source.metadata.python_version.clone();
        let module = compile::module(&source.name, &python, &roots, &functions);
        Ok((module, checks, python, compile::source_dirs(&graph)))
    })?;
    match &args.output {
        Some(path) => std::fs::write(path, &module.text).map_err(|err| AnalyzeError::Output {
            path: path.clone(),
            detail: err.to_string(),
        })?,
        None if !args.check => output::print(&module.text)?,
        None => {}
    }
    if !args.check {
        return Ok(ExitStatus::finding_if(refused > 0));
    }
    let search = search_path(&source_dirs);
    let imported = resolve_imports(&module.imports, &search, &args.allow_imports)?;
    let interpreter = interpreter(args.python.as_deref(), &python)?;
    eprintln!("compile --check imports {imported}");
    let failed = check(&module.text, &checks, &interpreter, &search)?;
    Ok(ExitStatus::finding_if(failed || refused > 0))
}

/// Standard modules a compiled function may use (for `<built-in
/// math.hypot>`, `operator.index`) that do nothing when imported but
/// define names: --check imports them without asking.
const QUIET_STANDARD_MODULES: &[&str] = &[
    "array",
    "bisect",
    "builtins",
    "cmath",
    "collections",
    "copy",
    "decimal",
    "fractions",
    "functools",
    "heapq",
    "itertools",
    "math",
    "numbers",
    "operator",
    "statistics",
    "string",
];

/// Where --check's Python finds the program's modules: the directories of
/// the trace's files, then the user's PYTHONPATH.
fn search_path(source_dirs: &BTreeSet<String>) -> Vec<String> {
    let mut search: Vec<String> = source_dirs.iter().cloned().collect();
    if let Ok(path) = std::env::var("PYTHONPATH") {
        search.extend(path.split(':').filter(|p| !p.is_empty()).map(String::from));
    }
    search
}

/// What --check will import, each with the file it is (`kernels
/// (/src/kernels.py)`). A trace names its modules, and importing one runs
/// it: a module must be a file under `search`, a quiet standard module, or
/// named by --allow-import; anything else is refused before Python runs.
fn resolve_imports(
    imports: &BTreeSet<String>,
    search: &[String],
    allowed: &[String],
) -> Result<String, AnalyzeError> {
    let mut shown = Vec::new();
    for module in imports {
        let parts: Vec<&str> = module.split('.').collect();
        let file = search.iter().find_map(|dir| {
            let base = parts
                .iter()
                .fold(std::path::PathBuf::from(dir), |path, part| path.join(part));
            [base.with_extension("py"), base.join("__init__.py")]
                .into_iter()
                .find(|file| file.is_file())
        });
        match file {
            Some(file) => shown.push(format!("{module} ({})", file.display())),
            None if QUIET_STANDARD_MODULES.contains(&module.as_str()) => {
                shown.push(format!("{module} (standard library)"))
            }
            None if allowed.contains(module) => shown.push(format!("{module} (--allow-import)")),
            None => {
                return Err(AnalyzeError::Usage(format!(
                    "compile --check would import the module {}, which is not a file under the \
                     trace's source directories or PYTHONPATH ({}); --allow-import {} imports it \
                     anyway",
                    pysource::string(module),
                    inert(&search.join(":"), false),
                    inert(module, false)
                )))
            }
        }
    }
    Ok(if shown.is_empty() {
        "nothing".to_string()
    } else {
        shown.join(", ")
    })
}

/// The CPython --check runs: the one asked for, else the virtualenv's,
/// the recording's version, or `python3`, the first that runs.
fn interpreter(chosen: Option<&str>, python: &str) -> Result<String, AnalyzeError> {
    let version: Vec<&str> = python.split('.').take(2).collect();
    let preferred = format!("python{}", version.join("."));
    let virtualenv = std::env::var("VIRTUAL_ENV")
        .ok()
        .map(|v| format!("{v}/bin/python"));
    let candidates: Vec<String> = match chosen {
        Some(path) => vec![path.to_string()],
        None => virtualenv
            .into_iter()
            .chain([preferred, "python3".to_string()])
            .collect(),
    };
    candidates
        .iter()
        .find(|candidate| {
            std::process::Command::new(candidate)
                .arg("-c")
                .arg("pass")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .cloned()
        .ok_or_else(|| {
            AnalyzeError::Usage(format!(
                "--check runs the module in CPython, and none of {} runs",
                candidates.join(", ")
            ))
        })
}

/// Runs each function with its defaults (the recorded inputs) in CPython
/// and compares what it returns, printed as the trace prints values, with
/// the recorded result. True when one differs.
fn check(
    module: &str,
    checks: &[(String, String)],
    interpreter: &str,
    search: &[String],
) -> Result<bool, AnalyzeError> {
    let path = std::env::temp_dir().join(format!("hltpy-compiled-{}.py", std::process::id()));
    std::fs::write(&path, module).map_err(|err| AnalyzeError::Output {
        path: path.display().to_string(),
        detail: err.to_string(),
    })?;
    // The traced modules import from where the program ran.
    let outcome = run_checks(interpreter, &path, checks, &search.join(":"));
    let _ = std::fs::remove_file(&path);
    let (failed, report) = outcome?;
    output::print(&report)?;
    Ok(failed)
}

fn run_checks(
    interpreter: &str,
    path: &std::path::Path,
    checks: &[(String, String)],
    python_path: &str,
) -> Result<(bool, String), AnalyzeError> {
    let mut failed = false;
    let mut report = String::new();
    for (name, expected) in checks {
        // The module's path and the function's name are arguments, not
        // part of the program.
        // Printed as the capture records it: classes, functions and
        // modules by name (capture's `named_repr`), no addresses.
        let program = "import importlib.util, re, sys, types\n\
             spec = importlib.util.spec_from_file_location('compiled_trace', sys.argv[1])\n\
             module = importlib.util.module_from_spec(spec)\n\
             spec.loader.exec_module(module)\n\
             value = getattr(module, sys.argv[2])()\n\
             if isinstance(value, type):\n\
             \x20   where = '' if value.__module__ == 'builtins' else value.__module__ + '.'\n\
             \x20   result = f'<class {where}{value.__qualname__}>'\n\
             elif isinstance(value, types.FunctionType):\n\
             \x20   result = f'<function {value.__qualname__}>'\n\
             elif isinstance(value, types.ModuleType):\n\
             \x20   result = f'<module {value.__name__}>'\n\
             else:\n\
             \x20   result = repr(value)\n\
             print(re.sub(r'<([\\w.]+) object at 0x[0-9a-fA-F]+>', r'<\\1 object>', result))\n";
        let output = std::process::Command::new(interpreter)
            .env("PYTHONPATH", python_path)
            .arg("-c")
            .arg(program)
            .arg(path)
            .arg(name)
            .output()
            .map_err(|err| AnalyzeError::Usage(format!("cannot run {interpreter}: {err}")))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let got = stdout.trim_end();
        if !output.status.success() {
            failed = true;
            let stderr = String::from_utf8_lossy(&output.stderr);
            let last = stderr.lines().last().unwrap_or("");
            let _ = writeln!(report, "{name}: raised {last}");
        } else if got == expected || shortened_from(expected, got) {
            let _ = writeln!(report, "{name}: {got} (as recorded)");
        } else {
            failed = true;
            let _ = writeln!(report, "{name}: {got}, recorded {expected}: MISMATCH");
        }
    }
    Ok((failed, report))
}

/// Is `recorded` a long value's repr cut short by the capture (its
/// first bytes and `…`) of what was printed?
fn shortened_from(recorded: &str, printed: &str) -> bool {
    literal::cut_short(recorded)
        .is_some_and(|start| printed.len() > start.len() && printed.starts_with(start))
}
