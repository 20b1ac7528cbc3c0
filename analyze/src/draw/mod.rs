//! Every drawing and the markup it is written in: a trace's computation as
//! a graphviz graph ([`graph`]), a diff's changed regions ([`diff`]), the
//! escaping that keeps a trace's text inert in HTML and DOT ([`html`]),
//! and the one way graphviz's `dot` is run, for files and for the SVG a
//! page embeds.

pub mod diff;
pub mod graph;
pub mod html;

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::error::AnalyzeError;

/// What a drawing is written as, by the output file's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    /// graphviz's DOT, written as is (nothing needs to be installed).
    Dot,
    /// Laid out by graphviz's `dot`.
    Svg,
    Png,
}

impl FileFormat {
    /// The format a file's name asks for; `flag` (`-o`, `--render`) names
    /// the option in the refusal of another extension.
    pub fn of_path(path: &str, flag: &str) -> Result<FileFormat, AnalyzeError> {
        match Path::new(path).extension().and_then(|e| e.to_str()) {
            Some("dot" | "gv") => Ok(FileFormat::Dot),
            Some("svg") => Ok(FileFormat::Svg),
            Some("png") => Ok(FileFormat::Png),
            _ => Err(AnalyzeError::Usage(format!(
                "{flag} {path}: the file must end in .dot, .svg or .png"
            ))),
        }
    }
}

/// Writes the DOT text `dot` to `path` in `format`; `flag` names the
/// option in the hint given when graphviz is missing.
pub fn write_file(
    dot: &str,
    path: &str,
    format: FileFormat,
    flag: &str,
) -> Result<(), AnalyzeError> {
    let fail = |detail: String| AnalyzeError::Output {
        path: path.to_string(),
        detail,
    };
    let kind = match format {
        FileFormat::Dot => return std::fs::write(path, dot).map_err(|err| fail(err.to_string())),
        FileFormat::Svg => "svg",
        FileFormat::Png => "png",
    };
    run_dot(dot, &[&format!("-T{kind}"), "-o", path], flag)
        .map(|_| ())
        .map_err(fail)
}

/// The SVG of the DOT text `dot`, laid out by graphviz's `dot`, or why
/// there is none.
pub fn svg_text(dot: &str) -> Result<String, String> {
    let svg = run_dot(dot, &["-Tsvg"], "-o FILE.dot")?;
    String::from_utf8(svg).map_err(|err| format!("graphviz's dot wrote no UTF-8: {err}"))
}

/// Runs graphviz's `dot` with `args` on `dot`; its standard output, or
/// the one-line reason it failed.
fn run_dot(dot: &str, args: &[&str], flag: &str) -> Result<Vec<u8>, String> {
    let mut child = Command::new("dot")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| {
            if err.kind() == std::io::ErrorKind::NotFound {
                format!(
                    "graphviz's dot is not installed (apt-get install graphviz); \
                     {flag} FILE.dot writes the graph without it"
                )
            } else {
                format!("cannot run graphviz's dot: {err}")
            }
        })?;
    // A writer thread: dot may fill its output pipe before it has read all
    // of a large graph.
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let text = dot.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
    let done = child
        .wait_with_output()
        .map_err(|err| format!("graphviz's dot failed: {err}"))?;
    let written = writer.join();
    if !done.status.success() {
        let stderr = String::from_utf8_lossy(&done.stderr);
        return Err(format!(
            "graphviz's dot failed: {}",
            stderr.lines().next().unwrap_or("no message")
        ));
    }
    match written {
        Ok(Ok(())) => Ok(done.stdout),
        Ok(Err(err)) => Err(format!("cannot give dot the graph: {err}")),
        Err(_) => Err("cannot give dot the graph".into()),
    }
}
