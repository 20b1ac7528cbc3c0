//! Writes a large synthetic trace with the schema crate's writer, for the
//! analyzer's benchmark (`bench/analyze_bench.py`).
//!
//! The trace has the shape of a real one: a program calls traced functions
//! (a few popular, many rare) and methods of traced objects; each call has
//! Argument nodes, reads attributes, does arithmetic through untraced
//! dunders and sometimes calls further in, so call nesting, fan-in and
//! fan-out look like those of a DSL run. Ids are given when an operation
//! starts and rows are written when it finishes, as capture does.
//!
//! Usage: synthetic_trace OUT.parquet [NODES]   (NODES defaults to 10,000,000)

mod common;

use std::process::ExitCode;

use hltpy_schema::{
    InputKey, NodeBuffer, NodeInput, NodeKind, NodeRow, NodeValue, Role, RunEnd, RunInfo,
    TraceError, TraceWriter, WriterOptions,
};

const FUNCTIONS: usize = 400;
const CLASSES: usize = 40;
const BATCH_ROWS: usize = 1 << 16;

/// xorshift64*: deterministic, so every run of the benchmark reads the same file.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// An index below `n` where small indices are much more likely, as a
    /// few functions of a real program get most of its calls.
    fn skewed(&mut self, n: usize) -> usize {
        ((self.unit().powi(3)) * n as f64) as usize
    }
}

struct Generator {
    writer: TraceWriter,
    buffer: NodeBuffer,
    random: Random,
    next_id: u64,
    file: u32,
    int_type: u32,
    float_type: u32,
    /// Id of each function's or class's node, once it has been made.
    functions: Vec<Option<u64>>,
    classes: Vec<Option<u64>>,
    function_names: Vec<String>,
    class_names: Vec<String>,
    target: u64,
}

impl Generator {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id - 1
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        id: u64,
        kind: NodeKind,
        name: Option<&str>,
        inputs: &[NodeInput<'_>],
        frame: Option<u64>,
        type_name: Option<u32>,
        value: NodeValue<'_>,
    ) -> Result<u64, TraceError> {
        let line = Some(1 + (self.random.next() % 400) as u32);
        self.buffer.push(&NodeRow {
            id,
            kind,
            name,
            inputs,
            frame,
            thread: 1,
            file: Some(self.file),
            line,
            type_name,
            value,
        });
        if self.buffer.len() == BATCH_ROWS {
            self.writer.write(&self.buffer.take_batch())?;
        }
        Ok(id)
    }

    fn constant(&mut self, frame: Option<u64>) -> Result<u64, TraceError> {
        let id = self.id();
        let value = (self.random.next() % 1000) as i64;
        let int_type = self.int_type;
        self.push(
            id,
            NodeKind::Const,
            None,
            &[],
            frame,
            Some(int_type),
            NodeValue::Int(value),
        )
    }

    fn function(&mut self, index: usize) -> Result<u64, TraceError> {
        if let Some(id) = self.functions[index] {
            return Ok(id);
        }
        let id = self.id();
        let name = self.function_names[index].clone();
        self.push(
            id,
            NodeKind::Function,
            Some(&name),
            &[],
            None,
            None,
            NodeValue::Repr(&format!("<function {name}>")),
        )?;
        self.functions[index] = Some(id);
        Ok(id)
    }

    fn class(&mut self, index: usize) -> Result<u64, TraceError> {
        if let Some(id) = self.classes[index] {
            return Ok(id);
        }
        let id = self.id();
        let name = self.class_names[index].clone();
        self.push(
            id,
            NodeKind::Class,
            Some(&name),
            &[],
            None,
            None,
            NodeValue::Repr(&format!("<class {name}>")),
        )?;
        self.classes[index] = Some(id);
        Ok(id)
    }

    /// `x * y.scale + c` on the traced values `x` and `y`.
    fn arithmetic(&mut self, x: u64, y: u64, frame: Option<u64>) -> Result<u64, TraceError> {
        let float_type = self.float_type;
        let scale = self.id();
        let factor = self.random.unit();
        self.push(
            scale,
            NodeKind::GetAttr,
            Some("scale"),
            &[NodeInput::new(Role::Object, y)],
            frame,
            Some(float_type),
            NodeValue::Float(factor),
        )?;
        let product = self.id();
        let value = self.random.unit() * 100.0;
        self.push(
            product,
            NodeKind::UDispatch,
            Some("__mul__"),
            &[
                NodeInput::new(Role::SelfValue, x),
                NodeInput::keyed(Role::Arg, InputKey::Index(0), scale),
            ],
            frame,
            Some(float_type),
            NodeValue::Float(value),
        )?;
        let c = self.constant(frame)?;
        let sum = self.id();
        self.push(
            sum,
            NodeKind::UDispatch,
            Some("__add__"),
            &[
                NodeInput::new(Role::SelfValue, product),
                NodeInput::keyed(Role::Arg, InputKey::Index(0), c),
            ],
            frame,
            Some(float_type),
            NodeValue::Float(value + 1.0),
        )
    }

    /// A call of a traced function with two arguments; its body does some
    /// arithmetic and, `depth` permitting, calls further in.
    fn call(&mut self, x: u64, y: u64, frame: Option<u64>, depth: u32) -> Result<u64, TraceError> {
        let index = self.random.skewed(FUNCTIONS);
        let callable = self.function(index)?;
        let call = self.id();
        let float_type = self.float_type;
        let inner = Some(call);
        let first = self.id();
        self.push(
            first,
            NodeKind::Argument,
            Some("x"),
            &[NodeInput::new(Role::Value, x)],
            inner,
            Some(float_type),
            NodeValue::Float(1.5),
        )?;
        let second = self.id();
        self.push(
            second,
            NodeKind::Argument,
            Some("y"),
            &[NodeInput::new(Role::Value, y)],
            inner,
            None,
            NodeValue::Repr("<units.Quantity object>"),
        )?;
        let mut result = self.arithmetic(first, second, inner)?;
        if depth < 12 && self.random.unit() < 0.45 {
            result = self.call(result, second, inner, depth + 1)?;
        } else if self.random.unit() < 0.3 {
            result = self.method(result, inner)?;
        }
        let name = self.function_names[index].clone();
        let value = self.random.unit();
        self.push(
            call,
            NodeKind::Call,
            Some(&name),
            &[
                NodeInput::new(Role::Callable, callable),
                NodeInput::keyed(Role::Arg, InputKey::Index(0), first),
                NodeInput::keyed(Role::Arg, InputKey::Index(1), second),
                NodeInput::new(Role::Return, result),
            ],
            frame,
            Some(float_type),
            NodeValue::Float(value),
        )
    }

    /// `Cls(v).norm()`: an object made, initialised and asked a method.
    fn method(&mut self, value: u64, frame: Option<u64>) -> Result<u64, TraceError> {
        let index = self.random.skewed(CLASSES);
        let class = self.class(index)?;
        let name = self.class_names[index].clone();
        let type_name = self.buffer.intern_type(&name);
        let object = self.id();
        let repr = format!("<{name} object>");
        self.push(
            object,
            NodeKind::Obj,
            Some(&name),
            &[NodeInput::new(Role::Class, class)],
            frame,
            Some(type_name),
            NodeValue::Repr(&repr),
        )?;
        let init = self.id();
        let argument = self.id();
        self.push(
            argument,
            NodeKind::Argument,
            Some("value"),
            &[NodeInput::new(Role::Value, value)],
            Some(init),
            Some(self.float_type),
            NodeValue::Float(2.0),
        )?;
        self.push(
            init,
            NodeKind::NewInit,
            Some(&name),
            &[
                NodeInput::new(Role::Class, class),
                NodeInput::new(Role::Object, object),
                NodeInput::keyed(Role::Arg, InputKey::Index(0), argument),
            ],
            frame,
            Some(type_name),
            NodeValue::Repr(&repr),
        )?;
        let method = self.id();
        self.push(
            method,
            NodeKind::GetAttr,
            Some("norm"),
            &[NodeInput::new(Role::Object, init)],
            frame,
            None,
            NodeValue::Absent,
        )?;
        let dispatch = self.id();
        let body = self.arithmetic(argument, init, Some(dispatch))?;
        self.push(
            dispatch,
            NodeKind::Dispatch,
            Some("norm"),
            &[
                NodeInput::new(Role::Callable, method),
                NodeInput::new(Role::Return, body),
            ],
            frame,
            Some(self.float_type),
            NodeValue::Float(3.0),
        )
    }

    fn run(mut self) -> Result<u64, TraceError> {
        let mut carried = self.constant(None)?;
        while self.next_id < self.target {
            let x = self.constant(None)?;
            carried = self.call(x, carried, None, 0)?;
        }
        if !self.buffer.is_empty() {
            self.writer.write(&self.buffer.take_batch())?;
        }
        self.writer.finish(&RunEnd {
            argv: vec!["synthetic_trace".into()],
            traced_modules: vec!["units".into(), "kernels".into()],
            closed_cleanly: true,
            end_reason: "synthetic trace finished".into(),
            segment: None,
        })
    }
}

fn main() -> ExitCode {
    let (path, target, _) = match common::command_line("synthetic_trace", "NODES", 10_000_000, &[])
    {
        Ok(command) => command,
        Err(code) => return code,
    };
    let run = RunInfo {
        hltpy_version: env!("CARGO_PKG_VERSION").into(),
        python_version: "synthetic".into(),
    };
    let writer = match TraceWriter::create(&path, &run, &WriterOptions::default()) {
        Ok(writer) => writer,
        Err(err) => {
            eprintln!("synthetic_trace: {err}");
            return ExitCode::from(2);
        }
    };
    let mut buffer = NodeBuffer::with_capacity(BATCH_ROWS);
    let file = buffer.intern_file("/home/user/project/model.py");
    let int_type = buffer.intern_type("int");
    let float_type = buffer.intern_type("float");
    let generator = Generator {
        writer,
        buffer,
        random: Random(0x9E37_79B9_7F4A_7C15),
        next_id: 0,
        file,
        int_type,
        float_type,
        functions: vec![None; FUNCTIONS],
        classes: vec![None; CLASSES],
        function_names: (0..FUNCTIONS)
            .map(|i| format!("model.step_{i:03}"))
            .collect(),
        class_names: (0..CLASSES).map(|i| format!("units.Unit{i:02}")).collect(),
        target,
    };
    common::report("synthetic_trace", &path, generator.run())
}
