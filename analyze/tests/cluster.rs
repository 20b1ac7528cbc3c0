//! `query --cluster` on a real local Ballista cluster (`cluster start
//! --executors 3`): the same rows as the local session, over a directory
//! of 60 traces; a bad address fails fast. Built with `--features
//! cluster` only (`make test-cluster`).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{analyze, root};

/// A local cluster, stopped when dropped.
struct Cluster {
    process: Child,
    url: String,
}

impl Cluster {
    fn start(executors: usize) -> Cluster {
        let mut process = Command::new(env!("CARGO_BIN_EXE_hltpy-analyze"))
            .args(["cluster", "start", "--port", "0", "--executors"])
            .arg(executors.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(process.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let url = first.trim().to_string();
        assert!(url.starts_with("df://127.0.0.1:"), "{url:?}");
        Cluster { process, url }
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

/// 60 traces: the committed samples copied ten times each.
fn collection(dir: &Path) -> String {
    let samples: Vec<_> = std::fs::read_dir(root().join("samples/traces"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "parquet"))
        .collect();
    assert!(samples.len() >= 4);
    let mut written = 0;
    for copy in 0..15 {
        for sample in &samples {
            let name = sample.file_stem().unwrap().to_str().unwrap();
            std::fs::copy(sample, dir.join(format!("{name}-{copy:02}.parquet"))).unwrap();
            written += 1;
        }
    }
    assert!(written >= 50);
    dir.to_str().unwrap().to_string()
}

/// CSV rows in a stable order (a cluster may return them in another).
fn sorted_rows(csv: &str) -> Vec<String> {
    let mut lines: Vec<String> = csv.lines().map(str::to_string).collect();
    let header = lines.remove(0);
    lines.sort();
    lines.insert(0, header);
    lines
}

#[test]
fn a_cluster_gives_the_rows_of_the_local_session() {
    let dir = tempfile::tempdir().unwrap();
    let traces = collection(dir.path());
    let cluster = Cluster::start(3);
    let queries = [
        "SELECT trace, kind, count(*) AS n FROM nodes WHERE kind IN ('Call', 'Dispatch', 'NewInit') GROUP BY trace, kind ORDER BY trace, kind",
        "SELECT count(*) AS nodes, min(id), max(id), count(DISTINCT trace) AS traces FROM nodes",
        "SELECT id, kind, name, callable, returned, value FROM calls WHERE trace LIKE '%addx-03%' ORDER BY id",
        "SELECT e.src, s.kind AS src_kind, e.role, e.key, e.dst, d.kind AS dst_kind FROM edges e JOIN nodes s ON s.trace = e.trace AND s.id = e.src JOIN nodes d ON d.trace = e.trace AND d.id = e.dst WHERE e.dst = 9 ORDER BY e.role, e.key, e.src",
        "SELECT trace, nodes, segments, complete, end_reason, traced_modules FROM traces ORDER BY trace",
        "SELECT kind, from_kind, count(*) AS n FROM constraints GROUP BY kind, from_kind ORDER BY kind, from_kind",
        "SELECT name, count(*) AS n FROM values WHERE type = 'float' GROUP BY name ORDER BY n DESC, name LIMIT 10",
    ];
    for sql in queries {
        let (code, local, stderr) = analyze(&["query", sql, &traces, "--format", "csv"]);
        assert_eq!(code, 0, "{sql}: {stderr}");
        let (code, remote, stderr) = analyze(&[
            "query",
            sql,
            &traces,
            "--format",
            "csv",
            "--cluster",
            &cluster.url,
        ]);
        assert_eq!(code, 0, "{sql} on the cluster: {stderr}");
        assert!(local.lines().count() > 1, "{sql}: no rows");
        assert_eq!(sorted_rows(&remote), sorted_rows(&local), "{sql}");
    }
    // The passes' tables are refused by name on a cluster (for now).
    let (code, _, stderr) = analyze(&[
        "query",
        "SELECT status, count(*) FROM eval GROUP BY status",
        &traces,
        "--cluster",
        &cluster.url,
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("the passes' tables (eval) do not run on a cluster yet"),
        "{stderr}"
    );
    // Stopped, the whole cluster is gone: nothing answers at its address.
    let url = cluster.url.clone();
    drop(cluster);
    let (code, _, stderr) = analyze(&["query", "SELECT 1", &traces, "--cluster", &url]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot reach the cluster"), "{stderr}");
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
