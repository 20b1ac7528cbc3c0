//! `hltpy-analyze`: parses the command line, runs one subcommand, reports.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hltpy_analyze::{check, Outcome};

/// Offline analysis of hltpy traces (Parquet files written by `hltpy.capture`).
#[derive(Parser)]
#[command(name = "hltpy-analyze", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate traces and count their nodes per kind.
    ///
    /// Reads every row of every file. A directory of segments
    /// (part-00000.parquet, ...) written with segment_nodes is one trace. Exit code 0 when all files are
    /// complete traces, 1 when one was not closed cleanly, 2 when one is
    /// missing, not Parquet, not an hltpy trace, damaged or too new.
    ///
    /// Example: hltpy-analyze check samples/traces/*.parquet
    Check {
        /// Trace files, or directories of segments, to check.
        #[arg(required = true)]
        traces: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    // A damaged file is an error message, never a backtrace: the reader
    // turns decoder panics into errors, and the hook keeps them quiet.
    std::panic::set_hook(Box::new(|_| {}));
    let cli = Cli::parse();
    match cli.command {
        Command::Check { traces } => {
            let mut outcome = Outcome::Ok;
            let mut failed = false;
            for path in &traces {
                match check::check(path) {
                    Ok(report) => {
                        print!("{}", report.render());
                        if !report.closed_cleanly {
                            outcome = Outcome::Problem;
                        }
                    }
                    Err(err) => {
                        eprintln!("hltpy-analyze: {err}");
                        failed = true;
                    }
                }
            }
            if failed {
                ExitCode::from(2)
            } else if outcome == Outcome::Problem {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}
