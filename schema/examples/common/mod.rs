//! What the example trace writers share: their command line
//! (`PROGRAM OUT.parquet [COUNT] [FLAG...]`) and how they end.

use std::process::ExitCode;

use hltpy_schema::TraceError;

/// The command line's path, count (or `default_count`) and flags, of
/// those in `known_flags`; a mistake is said on stderr (exit code 2).
pub fn command_line(
    program: &str,
    count_name: &str,
    default_count: u64,
    known_flags: &[&str],
) -> Result<(String, u64, Vec<String>), ExitCode> {
    let usage = || {
        let flags: String = known_flags.iter().map(|f| format!(" [{f}]")).collect();
        eprintln!("usage: {program} OUT.parquet [{count_name}]{flags}");
        ExitCode::from(2)
    };
    let (flags, args): (Vec<String>, Vec<String>) =
        std::env::args().skip(1).partition(|a| a.starts_with("--"));
    if let Some(unknown) = flags.iter().find(|f| !known_flags.contains(&f.as_str())) {
        eprintln!("{program}: unknown option {unknown:?}");
        return Err(usage());
    }
    let (path, count) = match args.as_slice() {
        [path] => (path.clone(), default_count),
        [path, count] => match count.replace('_', "").parse::<u64>() {
            Ok(count) => (path.clone(), count),
            Err(_) => {
                eprintln!("{program}: {count_name} must be a number, got {count:?}");
                return Err(ExitCode::from(2));
            }
        },
        _ => return Err(usage()),
    };
    Ok((path, count, flags))
}

/// Says how many nodes were written to `path`, or why not.
pub fn report(program: &str, path: &str, written: Result<u64, TraceError>) -> ExitCode {
    match written {
        Ok(rows) => {
            println!("{path}: {rows} nodes");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{program}: {err}");
            ExitCode::from(2)
        }
    }
}
