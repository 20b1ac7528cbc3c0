//! Apache DataFusion Ballista (cargo feature `cluster`): the session's
//! queries on a cluster, and the cluster's processes run by this binary
//! (`cluster scheduler`, `cluster executor`), so that every process knows
//! hltpy's functions.
//!
//! Traces are read by the executors, at the paths the client resolved:
//! they must see the same files at the same paths (one machine, or a
//! shared directory mounted alike everywhere).
//!
//! The passes' tables run on the executors too: [`LogicalCodec`] and
//! [`PhysicalCodec`] write a pass's table and plan as which pass, the
//! traces' names and files and the projection, and every process of the
//! cluster (client, scheduler, executors) reads them back; whatever else a
//! plan holds is Ballista's codecs' to write.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ballista::prelude::{SessionConfigExt, SessionContextExt};
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use ballista_executor::executor_process::{start_executor_process, ExecutorProcessConfig};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::temporal_conversions::timestamp_ms_to_datetime;
use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::config::TableOptions;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{FunctionRegistry, SessionStateBuilder, TaskContext};
use datafusion::logical_expr::{Extension, LogicalPlan, ScalarUDF};
use datafusion::object_store::path::Path as StorePath;
use datafusion::object_store::ObjectMeta;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use hltpy_graph::TraceFiles;
use serde_json::{json, Value};

use crate::error::AnalyzeError;
use crate::functions::InputOf;
use crate::scan::{TraceObjects, TraceScan};
use crate::tables::pass::{Pass, PassExec, PassTable};

/// The environment variable `query` reads the cluster's address from.
pub const CLUSTER_VARIABLE: &str = "HLTPY_CLUSTER";

/// Seconds without a heartbeat after which the scheduler takes an
/// executor for dead and runs its tasks elsewhere (Ballista's default, 180,
/// leaves a query waiting three minutes on a killed executor).
pub const EXECUTOR_TIMEOUT_SECONDS: u64 = 15;

/// Seconds between an executor's heartbeats: three fit in the timeout.
pub const HEARTBEAT_SECONDS: u64 = 5;

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
    let config = config
        .with_ballista_logical_extension_codec(Arc::new(LogicalCodec::default()))
        .with_ballista_physical_extension_codec(Arc::new(PhysicalCodec::default()));
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

/// Runs a scheduler on `bind:port` until it is stopped; an executor
/// silent for `executor_timeout` seconds is taken for dead.
pub async fn run_scheduler(
    bind: &str,
    port: u16,
    executor_timeout: u64,
) -> Result<(), AnalyzeError> {
    let address: SocketAddr = format!("{bind}:{port}")
        .parse()
        .map_err(|err| AnalyzeError::Usage(format!("--bind {bind:?} --port {port}: {err}")))?;
    let config = SchedulerConfig {
        bind_host: bind.to_string(),
        bind_port: port,
        executor_timeout_seconds: executor_timeout,
        // Look for dead executors several times per timeout.
        expire_dead_executor_interval_seconds: (executor_timeout / 3).max(1),
        // With no executor left, running queries fail after as long.
        no_executors_grace_period_seconds: executor_timeout,
        override_session_builder: Some(Arc::new(|config: SessionConfig| session_state(config))),
        override_logical_codec: Some(Arc::new(LogicalCodec::default())),
        override_physical_codec: Some(Arc::new(PhysicalCodec::default())),
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
    pub heartbeat_seconds: u64,
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
        executor_heartbeat_interval_seconds: options.heartbeat_seconds,
        override_function_registry: Some(Arc::new(function_registry())),
        override_logical_codec: Some(Arc::new(LogicalCodec::default())),
        override_physical_codec: Some(Arc::new(PhysicalCodec::default())),
        ..ExecutorProcessConfig::default()
    };
    start_executor_process(Arc::new(config))
        .await
        .map_err(|err| AnalyzeError::Engine(format!("the executor stopped: {err}")))
}

/// What starts an encoded pass table or plan, so that decoding tells
/// hltpy's from Ballista's: no protobuf message of Ballista's starts with
/// `{` (0x7b is wire type 3, a group, which proto3 never writes).
const PASS_MARK: &[u8] = b"{\"hltpy_pass\":";

/// A pass's table (with its traces) or plan (with its projection; its
/// input, the trace list, is DataFusion's to write) as JSON:
/// `{"hltpy_pass": TABLE, "traces": [{"name", "files"}], "projection": [..]}`.
fn encode_pass(
    pass: Pass,
    traces: &[TraceFiles],
    projection: Option<&[usize]>,
    buf: &mut Vec<u8>,
) -> Result<()> {
    let mut listed = Vec::new();
    for trace in traces {
        let files = trace
            .files
            .iter()
            .map(|file| {
                file.to_str().map(str::to_string).ok_or_else(|| {
                    DataFusionError::Plan(format!(
                        "{} is not a UTF-8 path, which a cluster cannot be sent",
                        file.display()
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        listed.push(json!({"name": trace.name, "files": files}));
    }
    let encoded = json!({
        "hltpy_pass": pass.table_name(),
        "traces": listed,
        "projection": projection,
    });
    serde_json::to_writer(buf, &encoded).map_err(|err| DataFusionError::External(Box::new(err)))
}

/// A decoded pass table or plan.
#[derive(Debug)]
struct DecodedPass {
    pass: Pass,
    traces: Vec<TraceFiles>,
    projection: Option<Vec<usize>>,
}

/// The pass `buf` holds, or `None` when it holds something else.
fn decode_pass(buf: &[u8]) -> Option<Result<DecodedPass>> {
    buf.starts_with(PASS_MARK).then(|| {
        decode_pass_json(buf).map_err(|what| {
            DataFusionError::Internal(format!("a pass's plan arrived damaged: {what}"))
        })
    })
}

fn decode_pass_json(buf: &[u8]) -> Result<DecodedPass, String> {
    let value: Value = serde_json::from_slice(buf).map_err(|err| err.to_string())?;
    let name = value["hltpy_pass"].as_str().ok_or("no table")?;
    let pass = Pass::of_table(name).ok_or_else(|| format!("{name:?} is not a pass's table"))?;
    let mut traces = Vec::new();
    for trace in value["traces"].as_array().ok_or("no traces")? {
        let name = trace["name"].as_str().ok_or("a trace without a name")?;
        let files = trace["files"]
            .as_array()
            .and_then(|files| {
                files
                    .iter()
                    .map(|file| file.as_str().map(PathBuf::from))
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| format!("the files of {name}"))?;
        traces.push(TraceFiles {
            name: name.to_string(),
            files,
        });
    }
    let projection = match &value["projection"] {
        Value::Null => None,
        columns => Some(
            columns
                .as_array()
                .and_then(|columns| {
                    columns
                        .iter()
                        .map(|c| c.as_u64().and_then(|c| usize::try_from(c).ok()))
                        .collect::<Option<Vec<_>>>()
                })
                .ok_or("the projection")?,
        ),
    };
    Ok(DecodedPass {
        pass,
        traces,
        projection,
    })
}

/// What starts an encoded trace table ([`TraceScan`]).
const TRACES_MARK: &[u8] = b"{\"hltpy_traces\":";

/// A trace table as JSON: `{"hltpy_traces": [{"name", "files": [{"path",
/// "size", "modified_ms"}]}]}`; its schema travels beside it.
fn encode_traces(scan: &TraceScan, buf: &mut Vec<u8>) -> Result<()> {
    let traces: Vec<Value> = scan
        .traces()
        .iter()
        .map(|trace| {
            let files: Vec<Value> = trace
                .files
                .iter()
                .map(|file| {
                    json!({
                        "path": file.location.as_ref(),
                        "size": file.size,
                        "modified_ms": file.last_modified.timestamp_millis(),
                    })
                })
                .collect();
            json!({"name": trace.name, "files": files})
        })
        .collect();
    serde_json::to_writer(buf, &json!({ "hltpy_traces": traces }))
        .map_err(|err| DataFusionError::External(Box::new(err)))
}

/// The trace table `buf` holds, or `None` when it holds something else.
fn decode_traces(buf: &[u8], schema: SchemaRef, ctx: &TaskContext) -> Option<Result<TraceScan>> {
    buf.starts_with(TRACES_MARK).then(|| {
        let traces = decode_traces_json(buf).map_err(|what| {
            DataFusionError::Internal(format!("a trace table arrived damaged: {what}"))
        })?;
        let options = TableOptions::default_from_session_config(ctx.session_config().options());
        TraceScan::from_parts(
            traces,
            schema,
            ParquetFormat::default().with_options(options.parquet),
        )
    })
}

fn decode_traces_json(buf: &[u8]) -> Result<Vec<TraceObjects>, String> {
    let value: Value = serde_json::from_slice(buf).map_err(|err| err.to_string())?;
    let mut traces = Vec::new();
    for trace in value["hltpy_traces"].as_array().ok_or("no traces")? {
        let name = trace["name"].as_str().ok_or("a trace without a name")?;
        let mut files = Vec::new();
        for file in trace["files"].as_array().ok_or("a trace without files")? {
            let damaged = || format!("a file of {name}");
            let path = file["path"].as_str().ok_or_else(damaged)?;
            let size = file["size"].as_u64().ok_or_else(damaged)?;
            let modified = file["modified_ms"]
                .as_i64()
                .and_then(timestamp_ms_to_datetime)
                .ok_or_else(damaged)?;
            files.push(ObjectMeta {
                location: StorePath::from(path),
                last_modified: modified.and_utc(),
                size,
                e_tag: None,
                version: None,
            });
        }
        traces.push(TraceObjects {
            name: name.to_string(),
            files,
        });
    }
    Ok(traces)
}

/// Ballista's logical codec, and the passes' tables.
#[derive(Debug, Default)]
pub struct LogicalCodec {
    ballista: BallistaLogicalExtensionCodec,
}

impl LogicalExtensionCodec for LogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        self.ballista.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        self.ballista.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        if let Some(scan) = decode_traces(buf, schema.clone(), ctx) {
            return Ok(Arc::new(scan?));
        }
        match decode_pass(buf) {
            Some(decoded) => {
                let decoded = decoded?;
                Ok(Arc::new(PassTable {
                    pass: decoded.pass,
                    traces: decoded.traces.into(),
                    inference: Arc::default(),
                }))
            }
            None => self
                .ballista
                .try_decode_table_provider(buf, table_ref, schema, ctx),
        }
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        if let Some(scan) = node.downcast_ref::<TraceScan>() {
            return encode_traces(scan, buf);
        }
        match node.downcast_ref::<PassTable>() {
            Some(table) => encode_pass(table.pass, &table.traces, None, buf),
            None => self
                .ballista
                .try_encode_table_provider(table_ref, node, buf),
        }
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn FileFormatFactory>> {
        self.ballista.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> Result<()> {
        self.ballista.try_encode_file_format(buf, node)
    }
}

/// Ballista's physical codec, and the passes' plans.
#[derive(Debug, Default)]
pub struct PhysicalCodec {
    ballista: BallistaPhysicalExtensionCodec,
}

impl PhysicalExtensionCodec for PhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match decode_pass(buf) {
            Some(decoded) => {
                let decoded = decoded?;
                let [input] = inputs else {
                    return Err(DataFusionError::Internal(format!(
                        "a pass's plan arrived with {} inputs",
                        inputs.len()
                    )));
                };
                Ok(Arc::new(PassExec::new(
                    decoded.pass,
                    input.clone(),
                    decoded.projection,
                    Arc::default(),
                )?))
            }
            None => self.ballista.try_decode(buf, inputs, ctx, converter),
        }
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        match node.downcast_ref::<PassExec>() {
            Some(plan) => encode_pass(plan.pass(), &[], plan.projection(), buf),
            None => self.ballista.try_encode(node, buf, converter),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pass_table_or_plan_survives_its_encoding() {
        let traces = crate::tables::pass::two_traces();
        for (pass, traces, projection) in [
            (Pass::Eval, traces.clone(), None),
            (Pass::Signatures, traces, None),
            (Pass::Eval, vec![], Some(vec![3, 0])),
        ] {
            let mut buf = Vec::new();
            encode_pass(pass, &traces, projection.as_deref(), &mut buf).unwrap();
            let decoded = decode_pass(&buf).expect("a pass").unwrap();
            assert_eq!(decoded.pass, pass);
            assert_eq!(decoded.traces, traces);
            assert_eq!(decoded.projection, projection);
        }
        // Ballista's own bytes are left to Ballista's codecs.
        assert!(decode_pass(b"\x0a\x02ab").is_none());
        let damaged = decode_pass(b"{\"hltpy_pass\": \"nope\"}").unwrap();
        let message = damaged.unwrap_err().to_string();
        assert!(
            message.contains("arrived damaged: \"nope\" is not a pass's table"),
            "{message}"
        );
    }

    #[test]
    fn a_trace_table_survives_its_encoding() {
        use datafusion::arrow::datatypes::{DataType, Field, Schema};
        use datafusion::arrow::temporal_conversions::timestamp_ms_to_datetime;

        let file = |path: &str, size: u64| ObjectMeta {
            location: StorePath::from(path),
            last_modified: timestamp_ms_to_datetime(1_765_000_000_123)
                .unwrap()
                .and_utc(),
            size,
            e_tag: None,
            version: None,
        };
        let traces = vec![
            TraceObjects {
                name: "runs/a \"b\".parquet".to_string(),
                files: vec![file("data/a.parquet", 10)],
            },
            TraceObjects {
                name: "runs/segments".to_string(),
                files: vec![file("data/s/0.parquet", 7), file("data/s/1.parquet", 8)],
            },
        ];
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::UInt64, false),
            Field::new(crate::scan::TRACE_COLUMN, DataType::Utf8, false),
        ]));
        let scan = TraceScan::from_parts(traces.clone(), schema.clone(), ParquetFormat::default())
            .unwrap();
        let mut buf = Vec::new();
        encode_traces(&scan, &mut buf).unwrap();
        let decoded = decode_traces(&buf, schema.clone(), &TaskContext::default())
            .expect("a trace table")
            .unwrap();
        assert_eq!(decoded.traces(), traces.as_slice());
        assert_eq!(decoded.schema(), schema);
        assert!(decode_traces(b"\x0a\x02ab", schema, &TaskContext::default()).is_none());
    }

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
