//! `query --cluster` on a real local Ballista cluster (`cluster start`):
//! the same rows as the local session — the trace's tables and the passes'
//! — over a directory of traces made by `python -m hltpy run`; an executor
//! killed in the middle of a query; a bad address. Built with `--features
//! cluster` only (`make test-cluster`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{analyze, root};

/// A local cluster, stopped when dropped.
struct Cluster {
    process: Child,
    url: String,
    executors: Vec<u32>,
}

impl Cluster {
    fn start(executors: usize) -> Cluster {
        let mut process = Command::new(env!("CARGO_BIN_EXE_hltpy-analyze"))
            .args(["cluster", "start", "--port", "0", "--executors"])
            .arg(executors.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(process.stdout.take().unwrap()).lines();
        let url = lines.next().unwrap().unwrap();
        assert!(url.starts_with("df://127.0.0.1:"), "{url:?}");
        // "a scheduler (pid S) and N executors (pids A, B); ..."
        let processes = lines.next().unwrap().unwrap();
        let pids = processes
            .split_once("(pids ")
            .and_then(|(_, rest)| rest.split_once(')'))
            .map(|(pids, _)| pids)
            .unwrap_or_else(|| panic!("no executor pids in {processes:?}"));
        let executors: Vec<u32> = pids.split(", ").map(|p| p.parse().unwrap()).collect();
        Cluster {
            process,
            url,
            executors,
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // SIGTERM, as a service manager stops it: `cluster start` then
        // stops its scheduler and executors (SIGKILL would orphan them).
        let _ = Command::new("kill")
            .args(["-TERM", &self.process.id().to_string()])
            .status();
        let _ = self.process.wait();
    }
}

/// The project's Python, with hltpy installed (`make build`).
fn python() -> PathBuf {
    let python = root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: `make build` makes it",
        python.display()
    );
    python
}

/// Runs the batch job (tests/fixtures/batch) under `python -m hltpy run`
/// once per seed, a few at a time: `dir/job-SEED.parquet`, with `items`
/// line items each (None: as many as the seed says).
fn batch_traces(dir: &Path, seeds: std::ops::Range<u32>, items: Option<u32>) {
    let job = root().join("analyze/tests/fixtures/batch/job.py");
    let seeds: Vec<u32> = seeds.collect();
    for some in seeds.chunks(4) {
        let runs: Vec<(u32, Child)> = some
            .iter()
            .map(|&seed| {
                let mut command = Command::new(python());
                command
                    .args(["-m", "hltpy", "run", "-t", "pricing", "-o"])
                    .arg(dir.join(format!("job-{seed:03}.parquet")))
                    .arg(&job)
                    .arg(seed.to_string())
                    .stdout(Stdio::null());
                if let Some(items) = items {
                    command.arg(items.to_string());
                }
                (seed, command.spawn().unwrap())
            })
            .collect();
        for (seed, mut run) in runs {
            assert!(run.wait().unwrap().success(), "the job with seed {seed}");
        }
    }
}

/// CSV rows in a stable order (a cluster may return them in another).
fn sorted_rows(csv: &str) -> Vec<String> {
    let mut lines: Vec<String> = csv.lines().map(str::to_string).collect();
    let header = lines.remove(0);
    lines.sort();
    lines.insert(0, header);
    lines
}

/// `sql` over `traces`, here and on the cluster at `url`: the CSV rows of
/// both, sorted.
fn here_and_there(sql: &str, traces: &[&str], url: &str) -> (Vec<String>, Vec<String>) {
    let mut args = vec!["query", sql];
    args.extend(traces);
    args.extend(["--format", "csv"]);
    let (code, local, stderr) = analyze(&args);
    assert_eq!(code, 0, "{sql}: {stderr}");
    args.extend(["--cluster", url]);
    let (code, remote, stderr) = analyze(&args);
    assert_eq!(code, 0, "{sql} on the cluster: {stderr}");
    (sorted_rows(&local), sorted_rows(&remote))
}

#[test]
fn a_cluster_gives_the_rows_of_the_local_session() {
    let dir = tempfile::tempdir().unwrap();
    batch_traces(dir.path(), 0..60, None);
    // And the samples, which the snapshot queries read.
    for sample in ["addx", "kernels", "seed_graph", "units"] {
        let name = format!("{sample}.parquet");
        std::fs::copy(
            root().join("samples/traces").join(&name),
            dir.path().join(&name),
        )
        .unwrap();
    }
    let traces = dir.path().to_str().unwrap();
    let cluster = Cluster::start(3);
    let queries = [
        // The snapshot tests' queries.
        "SELECT trace, kind, count(*) AS n FROM nodes WHERE kind IN ('Call', 'Dispatch', 'NewInit') GROUP BY trace, kind ORDER BY trace, kind",
        "SELECT count(*) AS nodes, min(id), max(id), count(DISTINCT trace) AS traces FROM nodes",
        "SELECT id, kind, name, callable, returned, value FROM calls WHERE trace LIKE '%addx%' ORDER BY id",
        "SELECT e.src, s.kind AS src_kind, e.role, e.key, e.dst, d.kind AS dst_kind FROM edges e JOIN nodes s ON s.trace = e.trace AND s.id = e.src JOIN nodes d ON d.trace = e.trace AND d.id = e.dst WHERE e.dst = 9 ORDER BY e.role, e.key, e.src",
        "SELECT trace, nodes, segments, complete, end_reason, traced_modules FROM traces ORDER BY trace",
        "SELECT name, count(*) AS n FROM values WHERE type = 'float' GROUP BY name ORDER BY n DESC, name LIMIT 10",
        "SELECT status, count(*) AS nodes FROM eval GROUP BY status ORDER BY status",
        // Whole tables, the passes' too.
        "SELECT * FROM constraints",
        "SELECT * FROM eval",
        "SELECT * FROM signatures",
        "SELECT * FROM requirements",
    ];
    for sql in queries {
        let (local, remote) = here_and_there(sql, &[traces], &cluster.url);
        assert!(local.len() > 1, "{sql}: no rows");
        assert_eq!(remote, local, "{sql}");
    }
    // The batch job's runs differ: its traces are not copies.
    let (distinct, _) = here_and_there(
        "SELECT count(DISTINCT nodes) FROM traces",
        &[traces],
        &cluster.url,
    );
    let distinct: usize = distinct[1].parse().unwrap();
    assert!(distinct >= 5, "{distinct} sizes of trace");
    // The diff of two runs.
    let old = dir.path().join("job-003.parquet").display().to_string();
    let new = dir.path().join("job-004.parquet").display().to_string();
    let (local, remote) = here_and_there("SELECT * FROM diff", &[&old, &new], &cluster.url);
    assert!(
        local.iter().any(|row| row.contains(",changed,")),
        "{local:?}"
    );
    assert_eq!(remote, local);
    // `eval` ran on the executors, one task per trace.
    let (code, plan, stderr) = analyze(&[
        "query",
        "EXPLAIN SELECT status, count(*) FROM eval GROUP BY status",
        traces,
        "--cluster",
        &cluster.url,
    ]);
    assert_eq!(code, 0, "{stderr}");
    let first_stage = plan
        .split("=========")
        .skip_while(|part| !part.contains("stage_id=1"))
        .take(2)
        .collect::<String>();
    assert!(first_stage.contains("partitions=64"), "{plan}");
    assert!(first_stage.contains("PassExec: pass=eval"), "{plan}");
    // Stopped, the whole cluster is gone: nothing answers at its address.
    let url = cluster.url.clone();
    drop(cluster);
    let (code, _, stderr) = analyze(&["query", "SELECT 1", traces, "--cluster", &url]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot reach the cluster"), "{stderr}");
}

#[test]
fn a_query_outlives_an_executor_killed_in_its_middle() {
    let dir = tempfile::tempdir().unwrap();
    // 400 traces of 14 000 nodes: copies of one run, enough work for the
    // query to be under way when the executor is killed.
    batch_traces(dir.path(), 4..5, Some(800));
    let run = dir.path().join("job-004.parquet");
    for copy in 0..400 {
        std::fs::copy(&run, dir.path().join(format!("copy-{copy:03}.parquet"))).unwrap();
    }
    std::fs::remove_file(&run).unwrap();
    let traces = dir.path().to_str().unwrap();
    let sql = "SELECT status, count(*) AS nodes FROM eval GROUP BY status";
    let (code, local, stderr) = analyze(&["query", sql, traces, "--format", "csv"]);
    assert_eq!(code, 0, "{stderr}");
    let cluster = Cluster::start(2);
    let mut query = Command::new(env!("CARGO_BIN_EXE_hltpy-analyze"))
        .args(["query", sql, traces, "--format", "csv", "--cluster"])
        .arg(&cluster.url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        query.try_wait().unwrap().is_none(),
        "the query ended before an executor was killed: give it more traces"
    );
    let killed = Command::new("kill")
        .args(["-KILL", &cluster.executors[0].to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // The scheduler takes the executor for dead after its timeout (15 s)
    // and runs its tasks on the other; the query must end either way.
    // Not a speed figure: a guard against a query that never ends.
    let start = Instant::now();
    while query.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(120) {
            query.kill().unwrap();
            panic!("the query still runs 120 s after an executor was killed");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let output = query.wait_with_output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    if output.status.success() {
        // Survived: the same rows.
        assert_eq!(sorted_rows(&stdout), sorted_rows(&local));
    } else {
        // Or reported: one line that says where it failed.
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(&format!("query failed on the cluster at {}", cluster.url)),
            "{stderr}"
        );
    }
}

#[test]
fn a_cluster_killed_outright_leaves_no_process_behind() {
    let mut cluster = Cluster::start(1);
    let url = cluster.url.clone();
    cluster.process.kill().unwrap();
    cluster.process.wait().unwrap();
    // Its scheduler and executor notice they were orphaned and stop.
    let start = Instant::now();
    loop {
        let (code, _, stderr) = analyze(&[
            "query",
            "SELECT 1",
            "samples/traces/addx.parquet",
            "--cluster",
            &url,
        ]);
        if code == 2 && stderr.contains("cannot reach the cluster") {
            break;
        }
        // Not a speed figure: a guard against processes that never stop.
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{url} still answers"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn a_bad_cluster_address_fails_fast_on_one_line() {
    let start = Instant::now();
    for (url, expected) in [
        (
            "df://127.0.0.1:1",
            "cannot reach the cluster at df://127.0.0.1:1",
        ),
        (
            "127.0.0.1:50050",
            "is not a cluster address: give df://HOST:PORT",
        ),
    ] {
        let (code, _, stderr) = analyze(&[
            "query",
            "SELECT 1",
            "samples/traces/addx.parquet",
            "--cluster",
            url,
        ]);
        assert_eq!(code, 2, "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
    }
    // Not a speed figure: a guard against waiting on a dead address.
    assert!(start.elapsed() < Duration::from_secs(30));
}
