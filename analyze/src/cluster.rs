//! Apache DataFusion Ballista (cargo feature `cluster`): the session's
//! queries on a cluster, and the cluster's processes run by this binary
//! (`cluster scheduler`, `cluster executor`), so that every process knows
//! hltpy's functions.
//!
//! Traces are read by the executors, at the paths the client resolved:
//! they must see the same files at the same paths (one machine, or a
//! shared directory mounted alike everywhere).

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use ballista::prelude::SessionContextExt;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_executor::executor_process::{start_executor_process, ExecutorProcessConfig};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use datafusion::execution::{FunctionRegistry, SessionStateBuilder};
use datafusion::logical_expr::ScalarUDF;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::error::AnalyzeError;
use crate::functions::InputOf;

/// The environment variable `query` reads the cluster's address from.
pub const CLUSTER_VARIABLE: &str = "HLTPY_CLUSTER";

/// How long reaching the scheduler may take before the address is refused.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The functions hltpy's SQL uses, which every process must know.
fn functions() -> Vec<Arc<ScalarUDF>> {
    vec![Arc::new(InputOf::udf())]
}

/// `df://HOST:PORT` → (host, port).
pub fn parse_address(url: &str) -> Result<(String, u16), AnalyzeError> {
    let refuse = || {
        AnalyzeError::Usage(format!(
            "--cluster {url:?} is not a cluster address: give df://HOST:PORT (e.g. df://127.0.0.1:50050)"
        ))
    };
    let rest = url.strip_prefix("df://").ok_or_else(refuse)?;
    let (host, port) = rest.rsplit_once(':').ok_or_else(refuse)?;
    let port: u16 = port.trim_end_matches('/').parse().map_err(|_| refuse())?;
    if host.is_empty() {
        return Err(refuse());
    }
    Ok((host.to_string(), port))
}

/// Fails fast, with the address, when nothing answers there.
pub fn check_reachable(url: &str) -> Result<(), AnalyzeError> {
    let (host, port) = parse_address(url)?;
    let unreachable = |detail: String| {
        AnalyzeError::Usage(format!(
            "cannot reach the cluster at {url}: {detail} (`hltpy-analyze cluster start` starts one)"
        ))
    };
    let addresses: Vec<SocketAddr> = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|err| unreachable(err.to_string()))?
        .collect();
    let mut last = String::from("no address");
    for address in addresses {
        match TcpStream::connect_timeout(&address, CONNECT_TIMEOUT) {
            Ok(_) => return Ok(()),
            Err(err) => last = err.to_string(),
        }
    }
    Err(unreachable(last))
}

/// A session whose queries run on the cluster at `url`.
pub async fn remote_context(
    url: &str,
    config: SessionConfig,
) -> Result<SessionContext, AnalyzeError> {
    check_reachable(url)?;
    // Ballista adds its options to the config (remote_with_state).
    let state = session_state(config).map_err(|err| AnalyzeError::Engine(err.to_string()))?;
    SessionContext::remote_with_state(url, state)
        .await
        .map_err(|err| AnalyzeError::Engine(format!("cannot use the cluster at {url}: {err}")))
}

/// A session state with hltpy's functions: the client's, the scheduler's
/// (which plans the stages) and, through [`function_registry`], the
/// executors'.
fn session_state(
    config: SessionConfig,
) -> datafusion::error::Result<datafusion::execution::SessionState> {
    let mut state = SessionStateBuilder::new()
        .with_default_features()
        .with_config(config)
        .build();
    for function in functions() {
        state.register_udf(function)?;
    }
    Ok(state)
}

/// The executors' function registry: DataFusion's and Ballista's, and
/// hltpy's.
fn function_registry() -> BallistaFunctionRegistry {
    let mut registry = BallistaFunctionRegistry::default();
    for function in functions() {
        registry
            .scalar_functions
            .insert(function.name().to_string(), function);
    }
    registry
}

/// Runs a scheduler on `bind:port` until it is stopped.
pub async fn run_scheduler(bind: &str, port: u16) -> Result<(), AnalyzeError> {
    let address: SocketAddr = format!("{bind}:{port}")
        .parse()
        .map_err(|err| AnalyzeError::Usage(format!("--bind {bind:?} --port {port}: {err}")))?;
    let config = SchedulerConfig {
        bind_host: bind.to_string(),
        bind_port: port,
        override_session_builder: Some(Arc::new(|config: SessionConfig| session_state(config))),
        ..SchedulerConfig::default()
    };
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(|err| AnalyzeError::Engine(format!("cannot start the scheduler: {err}")))?;
    start_server(cluster, address, Arc::new(config))
        .await
        .map_err(|err| AnalyzeError::Engine(format!("the scheduler stopped: {err}")))
}

/// What an executor is told at start.
pub struct ExecutorOptions {
    pub scheduler_host: String,
    pub scheduler_port: u16,
    pub bind: String,
    pub port: u16,
    pub grpc_port: u16,
    pub concurrent_tasks: usize,
}

/// Runs an executor until it is stopped.
pub async fn run_executor(options: ExecutorOptions) -> Result<(), AnalyzeError> {
    let config = ExecutorProcessConfig {
        bind_host: options.bind.clone(),
        external_host: Some(options.bind),
        port: options.port,
        grpc_port: options.grpc_port,
        scheduler_host: options.scheduler_host,
        scheduler_port: options.scheduler_port,
        vcores: options.concurrent_tasks,
        override_function_registry: Some(Arc::new(function_registry())),
        ..ExecutorProcessConfig::default()
    };
    start_executor_process(Arc::new(config))
        .await
        .map_err(|err| AnalyzeError::Engine(format!("the executor stopped: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_df_urls() {
        assert_eq!(
            parse_address("df://127.0.0.1:50050").unwrap(),
            ("127.0.0.1".to_string(), 50050)
        );
        for bad in ["127.0.0.1:50050", "df://host", "df://:1", "df://h:port"] {
            let err = parse_address(bad).unwrap_err().to_string();
            assert!(err.contains("df://HOST:PORT"), "{err}");
        }
    }
}
