//! `cluster`: a Ballista cluster's processes from this binary — a
//! scheduler, an executor, or a whole local cluster for trying it and for
//! tests (`cluster start`: a scheduler and N executors on loopback, child
//! processes stopped with it).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::cluster::{self, ExecutorOptions};
use crate::error::AnalyzeError;
use crate::output::{self, ExitStatus};
use crate::progress::ProgressMode;

/// A Ballista cluster's processes.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// A scheduler and N executors on this machine, until Ctrl-C
    ///
    /// Prints the cluster's address (df://HOST:PORT) for `query --cluster`
    /// or HLTPY_CLUSTER once every process answers.
    Start {
        /// How many executors.
        #[arg(long, default_value_t = 2)]
        executors: usize,
        /// The address every process listens on.
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        /// The scheduler's port (0: a free one).
        #[arg(long, default_value_t = 50050)]
        port: u16,
        /// Tasks each executor runs at once (0: one per core). The
        /// scheduler packs up to this many partitions into one task, which
        /// saves a plan's trip per partition (measured: `eval` over 200
        /// traces on one executor, 2.4 s at 1, 1.5 s at 2).
        #[arg(long, default_value_t = 0)]
        concurrent_tasks: usize,
    },
    /// A scheduler, until stopped
    Scheduler {
        #[arg(long, default_value = "0.0.0.0")]
        bind: String,
        #[arg(long, default_value_t = 50050)]
        port: u16,
        /// Seconds without a heartbeat after which an executor is taken
        /// for dead and its tasks are run elsewhere.
        #[arg(long, value_name = "SECONDS", default_value_t = cluster::EXECUTOR_TIMEOUT_SECONDS)]
        executor_timeout: u64,
        /// Stop when the process with this id is no longer the parent
        /// (`cluster start` gives its own, so that its processes end with
        /// it even when it is killed outright).
        #[arg(long, value_name = "PID", hide = true)]
        parent: Option<u32>,
    },
    /// An executor working for the scheduler at df://HOST:PORT, until stopped
    Executor {
        /// The scheduler's address, df://HOST:PORT.
        #[arg(long, value_name = "df://HOST:PORT")]
        scheduler: String,
        /// The address it listens on (and is reached at).
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        /// Its Arrow Flight port (results and shuffles).
        #[arg(long, default_value_t = 50051)]
        port: u16,
        /// Its gRPC port.
        #[arg(long, default_value_t = 50052)]
        grpc_port: u16,
        /// Tasks it runs at once (0: one per core).
        #[arg(long, default_value_t = 0)]
        concurrent_tasks: usize,
        /// Seconds between its heartbeats to the scheduler (keep it well
        /// under the scheduler's --executor-timeout).
        #[arg(long, value_name = "SECONDS", default_value_t = cluster::HEARTBEAT_SECONDS)]
        heartbeat: u64,
        #[arg(long, value_name = "PID", hide = true)]
        parent: Option<u32>,
    },
}

/// Ends this process once `parent` is no longer its parent (it died, and
/// the process was handed to another).
fn stop_with(parent: Option<u32>) {
    if let Some(parent) = parent {
        std::thread::spawn(move || loop {
            if std::os::unix::process::parent_id() != parent {
                std::process::exit(0);
            }
            std::thread::sleep(Duration::from_millis(250));
        });
    }
}

pub fn run(args: Args, _mode: ProgressMode) -> Result<ExitStatus, AnalyzeError> {
    match args.action {
        Action::Start {
            executors,
            bind,
            port,
            concurrent_tasks,
        } => start(executors, &bind, port, concurrent_tasks),
        Action::Scheduler {
            bind,
            port,
            executor_timeout,
            parent,
        } => {
            stop_with(parent);
            crate::session::runtime()?.block_on(cluster::run_scheduler(
                &bind,
                port,
                executor_timeout,
            ))?;
            Ok(ExitStatus::Success)
        }
        Action::Executor {
            scheduler,
            bind,
            port,
            grpc_port,
            concurrent_tasks,
            heartbeat,
            parent,
        } => {
            stop_with(parent);
            let (scheduler_host, scheduler_port) = cluster::parse_address(&scheduler)?;
            crate::session::runtime()?.block_on(cluster::run_executor(ExecutorOptions {
                scheduler_host,
                scheduler_port,
                bind,
                port,
                grpc_port,
                concurrent_tasks,
                heartbeat_seconds: heartbeat,
            }))?;
            Ok(ExitStatus::Success)
        }
    }
}

/// A port nobody listens on now.
fn free_port(bind: &str) -> Result<u16, AnalyzeError> {
    TcpListener::bind((bind, 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|err| AnalyzeError::Usage(format!("cannot listen on {bind}: {err}")))
}

/// The child processes of a local cluster, killed when dropped.
struct Processes(Vec<(String, Child)>);

impl Drop for Processes {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
        }
        for (_, child) in &mut self.0 {
            let _ = child.wait();
        }
    }
}

impl Processes {
    fn spawn(&mut self, name: String, args: &[String]) -> Result<(), AnalyzeError> {
        let program = std::env::current_exe()
            .map_err(|err| AnalyzeError::Engine(format!("cannot find this program: {err}")))?;
        let child = Command::new(program)
            .args(args)
            .args(["--parent".to_string(), std::process::id().to_string()])
            .stdin(Stdio::null())
            .spawn()
            .map_err(|err| AnalyzeError::Engine(format!("cannot start the {name}: {err}")))?;
        self.0.push((name, child));
        Ok(())
    }

    /// Takes out the processes that have ended: (name, how it ended).
    fn reap(&mut self) -> Vec<(String, String)> {
        let mut ended = Vec::new();
        self.0.retain_mut(|(name, child)| {
            let how = match child.try_wait() {
                Ok(None) => return true,
                Ok(Some(status)) => format!("the {name} ended ({status})"),
                Err(err) => format!("the {name} cannot be watched: {err}"),
            };
            ended.push((name.clone(), how));
            false
        });
        ended
    }

    /// Forgets the executors that have ended, each reported on stderr (the
    /// scheduler gives their work to the others); says why the cluster is
    /// over when the scheduler or the last executor has ended.
    fn watch(&mut self) -> Option<String> {
        let ended = self.reap();
        let executors = self.0.iter().filter(|(name, _)| name != SCHEDULER).count();
        for (name, how) in ended {
            if name == SCHEDULER || executors == 0 {
                return Some(how);
            }
            eprintln!("hltpy-analyze: {how}; {executors} executors remain");
        }
        None
    }
}

/// The name the scheduler's process goes by.
const SCHEDULER: &str = "scheduler";

/// Waits until `bind:port` answers, or a process has ended, or 60 s.
fn wait_for(processes: &mut Processes, bind: &str, port: u16) -> Result<(), AnalyzeError> {
    let start = Instant::now();
    let url = format!("df://{bind}:{port}");
    loop {
        if cluster::check_reachable(&url).is_ok() {
            return Ok(());
        }
        // While starting, any process that ends is fatal.
        if let Some((_, how)) = processes.reap().into_iter().next() {
            return Err(AnalyzeError::Engine(format!(
                "the cluster did not start: {how}"
            )));
        }
        if start.elapsed() > Duration::from_secs(60) {
            return Err(AnalyzeError::Engine(format!(
                "the cluster did not start: nothing answered at {bind}:{port} within 60 s"
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn start(
    executors: usize,
    bind: &str,
    port: u16,
    concurrent_tasks: usize,
) -> Result<ExitStatus, AnalyzeError> {
    if executors == 0 {
        return Err(AnalyzeError::Usage(
            "--executors 0: a cluster needs at least one executor".into(),
        ));
    }
    let port = if port == 0 { free_port(bind)? } else { port };
    let mut processes = Processes(Vec::new());
    let scheduler = format!("df://{bind}:{port}");
    processes.spawn(
        SCHEDULER.into(),
        &[
            "cluster".into(),
            "scheduler".into(),
            "--bind".into(),
            bind.into(),
            "--port".into(),
            port.to_string(),
        ],
    )?;
    wait_for(&mut processes, bind, port)?;
    let mut flight_ports = Vec::new();
    for index in 0..executors {
        let (flight, grpc) = (free_port(bind)?, free_port(bind)?);
        processes.spawn(
            format!("executor {index}"),
            &[
                "cluster".into(),
                "executor".into(),
                "--scheduler".into(),
                scheduler.clone(),
                "--bind".into(),
                bind.into(),
                "--port".into(),
                flight.to_string(),
                "--grpc-port".into(),
                grpc.to_string(),
                "--concurrent-tasks".into(),
                concurrent_tasks.to_string(),
            ],
        )?;
        flight_ports.push(flight);
    }
    for flight in flight_ports {
        wait_for(&mut processes, bind, flight)?;
    }
    let pids: Vec<String> = processes
        .0
        .iter()
        .map(|(_, child)| child.id().to_string())
        .collect();
    output::print(&format!(
        "{scheduler}\na scheduler (pid {}) and {executors} executors (pids {}); Ctrl-C stops them\n",
        pids[0],
        pids[1..].join(", ")
    ))?;
    let runtime = crate::session::runtime()?;
    let ended = runtime.block_on(async {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => return None,
                _ = async {
                    match terminate.as_mut() {
                        Some(signal) => { signal.recv().await; }
                        None => std::future::pending::<()>().await,
                    }
                } => return None,
                _ = tokio::time::sleep(Duration::from_millis(200)) => {
                    if let Some(over) = processes.watch() {
                        return Some(over);
                    }
                }
            }
        }
    });
    drop(processes);
    match ended {
        None => Ok(ExitStatus::Success),
        Some(ended) => Err(AnalyzeError::Engine(format!(
            "the cluster stopped: {ended}"
        ))),
    }
}
