//! Writes traces described as JSON, through the real writer: every text
//! column and metadata value is whatever the description says. The
//! untrusted-trace fuzz test (`tests/test_untrusted.py`) describes traces
//! whose text comes from a hostile corpus; nothing here checks that a
//! trace makes sense, as nothing stops anyone writing such a file.
//!
//! Usage: trace_from_json < DESCRIPTIONS.jsonl — one trace per line:
//! `{"path", "hltpy_version", "python_version", "argv", "traced_modules",
//! "end_reason", "nodes": [{"id", "kind", "name", "inputs": [[role, key,
//! src]], "frame", "thread", "file", "line", "type", "value": {"int" |
//! "float" | "bool" | "str" | "repr": v}}]}` (a key is null, a number or a
//! string; absent fields are null). Prints each path written.

use std::io::BufRead;
use std::process::ExitCode;

use hltpy_schema::{
    InputKey, NodeBuffer, NodeInput, NodeKind, NodeRow, NodeValue, Role, RunEnd, RunInfo,
    TraceWriter, WriterOptions,
};
use serde_json::Value;

fn text(value: &Value, field: &str) -> Option<String> {
    value.get(field).and_then(Value::as_str).map(String::from)
}

fn texts(value: &Value, field: &str) -> Vec<String> {
    value
        .get(field)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

fn number(value: &Value, field: &str) -> Option<u64> {
    value.get(field).and_then(Value::as_u64)
}

/// Writes one described trace.
fn write(description: &Value) -> Result<String, String> {
    let path = text(description, "path").ok_or("a description without its path")?;
    let run = RunInfo {
        hltpy_version: text(description, "hltpy_version").unwrap_or_default(),
        python_version: text(description, "python_version").unwrap_or_default(),
    };
    let mut writer = TraceWriter::create(&path, &run, &WriterOptions::default())
        .map_err(|err| format!("{path}: {err}"))?;
    let mut buffer = NodeBuffer::new();
    let nodes = description
        .get("nodes")
        .and_then(Value::as_array)
        .ok_or("a description without nodes")?;
    for node in nodes {
        let kind = text(node, "kind").unwrap_or_default();
        let kind = NodeKind::parse(&kind).ok_or_else(|| format!("unknown kind {kind:?}"))?;
        let mut keys = Vec::new();
        let mut roles = Vec::new();
        for input in node
            .get("inputs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let role = input[0].as_str().unwrap_or_default();
            let role = Role::parse(role).ok_or_else(|| format!("unknown role {role:?}"))?;
            roles.push((role, input[2].as_u64().unwrap_or(0)));
            keys.push(input[1].clone());
        }
        let inputs: Vec<NodeInput<'_>> = roles
            .iter()
            .zip(&keys)
            .map(|((role, src), key)| {
                let key = match key {
                    Value::Number(n) => InputKey::Index(n.as_u64().unwrap_or(0)),
                    Value::String(s) => InputKey::Name(s),
                    _ => InputKey::None,
                };
                NodeInput::keyed(*role, key, *src)
            })
            .collect();
        let file = text(node, "file").map(|f| buffer.intern_file(&f));
        let type_name = text(node, "type").map(|t| buffer.intern_type(&t));
        let value = node.get("value").unwrap_or(&Value::Null);
        let value = if let Some(v) = value.get("int").and_then(Value::as_i64) {
            NodeValue::Int(v)
        } else if let Some(v) = value.get("float").and_then(Value::as_f64) {
            NodeValue::Float(v)
        } else if let Some(v) = value.get("bool").and_then(Value::as_bool) {
            NodeValue::Bool(v)
        } else if let Some(v) = value.get("str").and_then(Value::as_str) {
            NodeValue::Str(v)
        } else if let Some(v) = value.get("repr").and_then(Value::as_str) {
            NodeValue::Repr(v)
        } else {
            NodeValue::Absent
        };
        let name = text(node, "name");
        buffer.push(&NodeRow {
            id: number(node, "id").ok_or("a node without its id")?,
            kind,
            name: name.as_deref(),
            inputs: &inputs,
            frame: number(node, "frame"),
            thread: number(node, "thread").unwrap_or(1),
            file,
            line: number(node, "line").map(|l| l as u32),
            type_name,
            value,
        });
        if buffer.at_limit() {
            writer
                .write(&buffer.take_batch())
                .map_err(|err| format!("{path}: {err}"))?;
        }
    }
    if !buffer.is_empty() {
        writer
            .write(&buffer.take_batch())
            .map_err(|err| format!("{path}: {err}"))?;
    }
    writer
        .finish(&RunEnd {
            argv: texts(description, "argv"),
            traced_modules: texts(description, "traced_modules"),
            closed_cleanly: true,
            end_reason: text(description, "end_reason").unwrap_or_default(),
            segment: None,
        })
        .map_err(|err| format!("{path}: {err}"))?;
    Ok(path)
}

fn main() -> ExitCode {
    for (number, line) in std::io::stdin().lock().lines().enumerate() {
        let written = line
            .map_err(|err| err.to_string())
            .and_then(|line| serde_json::from_str::<Value>(&line).map_err(|err| err.to_string()))
            .and_then(|description| write(&description));
        match written {
            Ok(path) => println!("{path}"),
            Err(err) => {
                eprintln!("trace_from_json: line {}: {err}", number + 1);
                return ExitCode::from(2);
            }
        }
    }
    ExitCode::SUCCESS
}
