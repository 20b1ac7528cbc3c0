//! Stub files (`.pyi`) from an [`Inference`]: one per traced module, with
//! its classes (attributes and methods) and functions typed as observed.
//! A parameter given disagreeing types whose uses are all structural gets
//! a `typing.Protocol` naming exactly what its body needed. An existing
//! stub's hand-written annotations, and what it has that the traces did
//! not see, are kept (`merge`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::infer::{
    split_outside_brackets, Function, FunctionKind, Inference, Need, NeedFacts, Param, Star,
};
use crate::pysource::{self, comment, is_dotted_name, is_identifier};

/// Builtin type names a stub can use as they are.
const BUILTIN_TYPES: &[&str] = &[
    "int",
    "float",
    "complex",
    "bool",
    "str",
    "bytes",
    "bytearray",
    "memoryview",
    "list",
    "tuple",
    "dict",
    "set",
    "frozenset",
    "range",
    "slice",
    "type",
    "object",
    "enumerate",
    "zip",
    "map",
    "filter",
    "reversed",
    "property",
    "Any",
];

/// The `Any` arguments a bare generic builtin takes.
fn generic_arguments(name: &str) -> Option<&'static str> {
    Some(match name {
        "list" | "set" | "frozenset" | "type" | "enumerate" | "map" | "filter" | "reversed" => {
            "[Any]"
        }
        "tuple" => "[Any, ...]",
        "dict" => "[Any, Any]",
        "zip" => "[Any]",
        _ => return None,
    })
}

/// The module a qualified name belongs to (the longest traced module
/// that prefixes it; else its first component) and the rest.
pub fn split_module<'q>(qualname: &'q str, modules: &[String]) -> (&'q str, &'q str) {
    let best = modules
        .iter()
        .filter(|m| {
            qualname.len() > m.len()
                && qualname.starts_with(m.as_str())
                && qualname.as_bytes()[m.len()] == b'.'
        })
        .max_by_key(|m| m.len());
    match best {
        Some(m) => (&qualname[..m.len()], &qualname[m.len() + 1..]),
        None => qualname.split_once('.').unwrap_or(("", qualname)),
    }
}

/// Is `rest` a name a stub can declare at the top of its module (not
/// nested, not local to a function: an identifier)?
fn top_level(rest: &str) -> bool {
    is_identifier(rest)
}

/// The line a stub has in place of a declaration it leaves out: the
/// trace's name for it is not a Python identifier.
fn left_out(what: &str, name: &str) -> String {
    comment(&format!(
        "left out: {what} {}, not a Python identifier",
        pysource::string(name)
    ))
}

/// What every module's stub may refer to: the classes each declares.
struct World<'a> {
    modules: &'a [String],
    classes: BTreeSet<(String, String)>,
}

/// One module's stub as it is written: the names it needs imported.
#[derive(Default)]
struct Imports {
    typing: BTreeSet<&'static str>,
    modules: BTreeSet<String>,
}

impl World<'_> {
    /// A type as the trace names it (`list[int] | mod.C | NoneType`) as
    /// an annotation in `module`'s stub: builtins as they are, `NoneType`
    /// as `None`, traced classes by name (imported from their module's
    /// stub), callables and generators by their protocol, anything else
    /// `Any`.
    fn annotation(&self, ty: &str, module: &str, imports: &mut Imports) -> String {
        // A type the trace names that is not a well-formed type
        // expression is not one a stub can write.
        if !well_formed(ty) {
            imports.typing.insert("Any");
            return "Any".into();
        }
        let mut out = String::new();
        let mut token = String::new();
        let mut flush = |token: &mut String, next: Option<char>, out: &mut String| {
            if token.is_empty() {
                return;
            }
            out.push_str(&self.name(token, module, imports));
            // A bare generic gets `Any` arguments (mypy --strict wants them).
            if next != Some('[') {
                if let Some(arguments) = generic_arguments(token) {
                    imports.typing.insert("Any");
                    out.push_str(arguments);
                }
            }
            token.clear();
        };
        for c in ty.chars() {
            if c.is_alphanumeric() || c == '_' || c == '.' {
                token.push(c);
            } else {
                flush(&mut token, Some(c), &mut out);
                out.push(c);
            }
        }
        flush(&mut token, None, &mut out);
        out
    }

    fn name(&self, token: &str, module: &str, imports: &mut Imports) -> String {
        if token == "..." {
            return token.to_string();
        }
        if BUILTIN_TYPES.contains(&token) {
            if token == "Any" {
                imports.typing.insert("Any");
            }
            return token.to_string();
        }
        match token {
            "NoneType" => return "None".into(),
            "function" | "builtin_function_or_method" | "method" | "method-wrapper" => {
                imports.typing.insert("Callable");
                imports.typing.insert("Any");
                return "Callable[..., Any]".into();
            }
            "generator" => {
                imports.typing.insert("Iterator");
                imports.typing.insert("Any");
                return "Iterator[Any]".into();
            }
            _ => {}
        }
        let exception = ["Error", "Exception", "Warning"]
            .iter()
            .any(|end| token.ends_with(end));
        if exception && is_identifier(token) {
            return token.to_string();
        }
        let (owner, rest) = split_module(token, self.modules);
        if top_level(rest)
            && self
                .classes
                .contains(&(owner.to_string(), rest.to_string()))
        {
            if owner == module {
                return rest.to_string();
            }
            imports.modules.insert(owner.to_string());
            return token.to_string();
        }
        imports.typing.insert("Any");
        "Any".into()
    }
}

/// Is `ty` a type expression: dotted names, `...`, subscripts and unions
/// (`dict[str, list[int]] | None`), with spaces only after `,` and
/// around `|`?
fn well_formed(ty: &str) -> bool {
    let mut tokens = Vec::new();
    let mut name = String::new();
    let text = ty.replace(" | ", "|").replace(", ", ",");
    for c in text.chars() {
        if c.is_alphanumeric() || c == '_' || c == '.' {
            name.push(c);
            continue;
        }
        if !name.is_empty() {
            tokens.push(std::mem::take(&mut name));
        }
        if !"[]|,".contains(c) {
            return false;
        }
        tokens.push(c.to_string());
    }
    if !name.is_empty() {
        tokens.push(name);
    }
    let mut at = 0;
    union(&tokens, &mut at, 0) && at == tokens.len()
}

/// `atom ('|' atom)*`, from `tokens[*at]`.
fn union(tokens: &[String], at: &mut usize, depth: usize) -> bool {
    if depth > 32 || !atom(tokens, at, depth) {
        return false;
    }
    while tokens.get(*at).is_some_and(|t| t == "|") {
        *at += 1;
        if !atom(tokens, at, depth) {
            return false;
        }
    }
    true
}

/// `...`, or a dotted name with an optional `[union (, union)*]`.
fn atom(tokens: &[String], at: &mut usize, depth: usize) -> bool {
    let Some(token) = tokens.get(*at) else {
        return false;
    };
    if token != "..." && !is_dotted_name(token) {
        return false;
    }
    *at += 1;
    if tokens.get(*at).is_some_and(|t| t == "[") {
        *at += 1;
        loop {
            if !union(tokens, at, depth + 1) {
                return false;
            }
            match tokens.get(*at).map(String::as_str) {
                Some(",") => *at += 1,
                Some("]") => {
                    *at += 1;
                    break;
                }
                _ => return false,
            }
        }
    }
    true
}

/// Can a `def` take these parameters in this order: names unique, at
/// most one `*args` and one `**kwargs`, nothing after `**kwargs`?
fn python_order(params: &[Param]) -> bool {
    let mut names = BTreeSet::new();
    let mut stars = 0;
    let mut after_kwargs = false;
    for param in params {
        if after_kwargs || !names.insert(param.name.as_str()) {
            return false;
        }
        match param.star {
            Star::Args => stars += 1,
            Star::Kwargs => after_kwargs = true,
            Star::Plain => {}
        }
    }
    stars <= 1
}

/// `snake_case` or `name` as `CamelCase`.
fn camel(text: &str) -> String {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}

/// Should this parameter be typed by a Protocol of its uses?
fn wants_protocol(param: &Param) -> bool {
    param.types.disagree() && !param.needs.is_empty() && param.needs.keys().all(Need::structural)
}

/// The members of a Protocol that names what a body needed.
fn protocol_body(
    world: &World,
    needs: &BTreeMap<Need, NeedFacts>,
    module: &str,
    imports: &mut Imports,
) -> Vec<String> {
    // Uses of one member (an operator with several operand types, an
    // item read with several key types) become one member.
    let mut attributes: BTreeMap<&str, crate::infer::Types> = BTreeMap::new();
    let mut methods: BTreeMap<String, (Vec<String>, crate::infer::Types)> = BTreeMap::new();
    for (need, facts) in needs {
        match need {
            Need::Attribute(name) | Need::SetAttribute(name) => {
                attributes.entry(name).or_default().merge(&facts.results);
            }
            other => {
                let entry = methods.entry(other.name().to_string()).or_default();
                if let Some(operand) = other.operand() {
                    entry.0.push(operand.to_string());
                }
                if !matches!(other, Need::SetItem(_)) {
                    entry.1.merge(&facts.results);
                }
            }
        }
    }
    let mut lines = Vec::new();
    for (name, types) in attributes {
        if !is_identifier(name) {
            lines.push(left_out("attribute", name));
            continue;
        }
        let ty = world.annotation(&types.render(), module, imports);
        lines.push(format!("{name}: {ty}"));
    }
    for (name, (operands, results)) in methods {
        if !is_identifier(&name) {
            lines.push(left_out("method", &name));
            continue;
        }
        let result = |imports: &mut Imports| {
            if results.is_empty() {
                imports.typing.insert("Any");
                "Any".to_string()
            } else {
                world.annotation(&results.render(), module, imports)
            }
        };
        let operand = |imports: &mut Imports| {
            world.annotation(
                &crate::infer::union(operands.iter().map(String::as_str)),
                module,
                imports,
            )
        };
        let line = match name.as_str() {
            "__iter__" => {
                imports.typing.insert("Iterator");
                imports.typing.insert("Any");
                "def __iter__(self) -> Iterator[Any]: ...".to_string()
            }
            "__setitem__" => format!(
                "def __setitem__(self, key: {}, value: {}) -> None: ...",
                operand(imports),
                result(imports)
            ),
            "__delitem__" => format!(
                "def __delitem__(self, key: {}) -> None: ...",
                operand(imports)
            ),
            "__getitem__" => format!(
                "def __getitem__(self, key: {}) -> {}: ...",
                operand(imports),
                result(imports)
            ),
            _ if !operands.is_empty() => format!(
                "def {name}(self, other: {}, /) -> {}: ...",
                operand(imports),
                result(imports)
            ),
            _ if name.starts_with("__") && name.ends_with("__") && name != "__call__" => {
                format!("def {name}(self) -> {}: ...", result(imports))
            }
            _ => {
                imports.typing.insert("Any");
                format!(
                    "def {name}(self, *args: Any, **kwargs: Any) -> {}: ...",
                    result(imports)
                )
            }
        };
        lines.push(line);
    }
    lines
}

/// Hand-written parts of an existing stub, by scope (`""` for the
/// module, else the class name).
#[derive(Default)]
struct Existing {
    imports: Vec<String>,
    /// (scope, member name) -> the member's source lines, in file order.
    members: Vec<(String, String, Vec<String>)>,
    /// (scope, function, parameter or `return`) -> annotation.
    annotations: BTreeMap<(String, String, String), String>,
    /// (scope, attribute) -> annotation.
    attributes: BTreeMap<(String, String), String>,
}

impl Existing {
    /// Reads the top-level and class-level `def`s, attributes, classes
    /// and imports of a stub (the shape stubs have; anything else at the
    /// top level is kept as a member of its own).
    fn parse(text: &str) -> Existing {
        let mut existing = Existing::default();
        let lines: Vec<&str> = text.lines().collect();
        let mut at = 0;
        let mut scope = String::new();
        let mut pending_decorators: Vec<String> = Vec::new();
        while at < lines.len() {
            let line = lines[at];
            let indent = line.len() - line.trim_start().len();
            let trimmed = line.trim();
            at += 1;
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if indent == 0 {
                scope.clear();
            }
            if indent == 0 && (trimmed.starts_with("import ") || trimmed.starts_with("from ")) {
                existing.imports.push(trimmed.to_string());
                continue;
            }
            if trimmed.starts_with('@') {
                pending_decorators.push(line.to_string());
                continue;
            }
            // A statement: join continuation lines until brackets close.
            let mut statement = vec![line.to_string()];
            let balance = |s: &str| {
                s.chars().filter(|c| "([{".contains(*c)).count() as i32
                    - s.chars().filter(|c| ")]}".contains(*c)).count() as i32
            };
            let mut open = balance(line);
            while open > 0 && at < lines.len() {
                statement.push(lines[at].to_string());
                open += balance(lines[at]);
                at += 1;
            }
            let joined = statement
                .iter()
                .map(|s| s.trim())
                .collect::<Vec<_>>()
                .join(" ");
            let mut source = std::mem::take(&mut pending_decorators);
            source.extend(statement);
            if let Some(rest) = joined.strip_prefix("class ") {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                // The class's own body lines are its members'; the class
                // line itself is kept for a class the traces did not see.
                existing.members.push((String::new(), name.clone(), source));
                scope = name;
                continue;
            }
            let member_scope = if indent == 0 {
                String::new()
            } else {
                scope.clone()
            };
            if let Some(rest) = joined
                .strip_prefix("def ")
                .or_else(|| joined.strip_prefix("async def "))
            {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if let (Some(open), Some(close)) = (rest.find('('), rest.rfind(')')) {
                    for param in split_outside_brackets(&rest[open + 1..close], ',') {
                        let param = param.trim_start_matches('*');
                        if let Some((pname, annotation)) = param.split_once(':') {
                            let annotation = annotation.split('=').next().unwrap_or("").trim();
                            existing.annotations.insert(
                                (member_scope.clone(), name.clone(), pname.trim().to_string()),
                                annotation.to_string(),
                            );
                        }
                    }
                    if let Some((_, ret)) = rest[close..].split_once("->") {
                        let ret = ret
                            .trim()
                            .trim_end_matches("...")
                            .trim()
                            .trim_end_matches(':');
                        existing.annotations.insert(
                            (member_scope.clone(), name.clone(), "return".into()),
                            ret.trim().to_string(),
                        );
                    }
                }
                existing.members.push((member_scope, name, source));
                continue;
            }
            if let Some((name, annotation)) = joined.split_once(':') {
                let name = name.trim();
                if name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                    let annotation = annotation.split('=').next().unwrap_or("").trim();
                    existing.attributes.insert(
                        (member_scope.clone(), name.to_string()),
                        annotation.to_string(),
                    );
                    existing
                        .members
                        .push((member_scope, name.to_string(), source));
                    continue;
                }
            }
            existing.members.push((member_scope, String::new(), source));
        }
        existing
    }

    fn annotation(&self, scope: &str, function: &str, name: &str) -> Option<&str> {
        self.annotations
            .get(&(scope.to_string(), function.to_string(), name.to_string()))
            .map(String::as_str)
            .filter(|a| !a.is_empty())
    }
}

/// Writes one module's stub.
struct Writer<'a> {
    world: &'a World<'a>,
    module: &'a str,
    imports: Imports,
    protocols: Vec<String>,
    existing: Existing,
}

impl Writer<'_> {
    /// The `def` line of a function, or the comment that leaves it out
    /// (its name or a parameter's is not an identifier).
    fn signature(&mut self, scope: &str, function: &Function) -> String {
        let name = function.short_name();
        if !is_identifier(name) {
            return left_out("function", name);
        }
        if let Some(param) = function.params.iter().find(|p| !is_identifier(&p.name)) {
            return left_out(&format!("function {name}, whose parameter"), &param.name);
        }
        if !python_order(&function.params) {
            return comment(&format!(
                "left out: function {name}, whose parameters are not in an order Python allows"
            ));
        }
        let mut parts = Vec::new();
        if function.receiver.is_some() {
            parts.push("self".to_string());
        }
        let mut after_default = false;
        let mut after_star = false;
        for param in &function.params {
            let annotation = match self.existing.annotation(scope, name, &param.name) {
                Some(hand) => hand.to_string(),
                None if wants_protocol(param) => self.protocol(function, param),
                None if param.types.is_empty() => {
                    self.imports.typing.insert("Any");
                    "Any".into()
                }
                None => {
                    self.world
                        .annotation(&param.types.render(), self.module, &mut self.imports)
                }
            };
            let text = match param.star {
                Star::Args => {
                    after_star = true;
                    format!("*{}: {annotation}", param.name)
                }
                Star::Kwargs => format!("**{}: {annotation}", param.name),
                Star::Plain => {
                    // A parameter always passed that follows one with a
                    // default must show one too (or the stub is not Python).
                    let default = param.defaulted > 0 || (after_default && !after_star);
                    after_default |= default;
                    if default {
                        format!("{}: {annotation} = ...", param.name)
                    } else {
                        format!("{}: {annotation}", param.name)
                    }
                }
            };
            parts.push(text);
        }
        let returns = match self.existing.annotation(scope, name, "return") {
            Some(hand) => hand.to_string(),
            None => match function.kind {
                FunctionKind::Init => "None".into(),
                FunctionKind::Generator | FunctionKind::AsyncGenerator => {
                    let iterator = match function.kind {
                        FunctionKind::Generator => "Iterator",
                        _ => "AsyncIterator",
                    };
                    self.imports.typing.insert(iterator);
                    let yields = if function.yields.is_empty() {
                        self.imports.typing.insert("Any");
                        "Any".to_string()
                    } else {
                        self.world.annotation(
                            &function.yields.render(),
                            self.module,
                            &mut self.imports,
                        )
                    };
                    format!("{iterator}[{yields}]")
                }
                _ if function.returns.is_empty() && !function.raises.is_empty() => {
                    self.imports.typing.insert("NoReturn");
                    "NoReturn".into()
                }
                _ if function.returns.is_empty() => {
                    self.imports.typing.insert("Any");
                    "Any".into()
                }
                _ => self.world.annotation(
                    &function.returns.render(),
                    self.module,
                    &mut self.imports,
                ),
            },
        };
        let keyword = match function.kind {
            FunctionKind::Coroutine => "async def",
            _ => "def",
        };
        format!("{keyword} {name}({}) -> {returns}: ...", parts.join(", "))
    }

    /// Declares the Protocol for `param` of `function`; gives its name.
    fn protocol(&mut self, function: &Function, param: &Param) -> String {
        let (_, rest) = split_module(&function.qualname, self.world.modules);
        let name = format!("_{}{}", camel(rest), camel(&param.name));
        self.imports.typing.insert("Protocol");
        let mut members = protocol_body(self.world, &param.needs, self.module, &mut self.imports);
        if members.iter().all(|m| m.starts_with('#')) {
            members.push("...".into());
        }
        let mut text = format!("class {name}(Protocol):\n");
        for member in members {
            let _ = writeln!(text, "    {member}");
        }
        self.protocols.push(text);
        name
    }

    /// Members of `scope` in the existing stub that the traces did not
    /// give, as they were written.
    fn kept(&self, scope: &str, written: &BTreeSet<String>) -> Vec<String> {
        self.existing
            .members
            .iter()
            .filter(|(s, name, _)| s == scope && (name.is_empty() || !written.contains(name)))
            .flat_map(|(_, _, lines)| lines.iter().cloned())
            .collect()
    }
}

/// The stubs of the traced modules, and what could not have one.
#[derive(Debug, Default)]
pub struct Stubs {
    /// Each module's stub text, by module name.
    pub files: BTreeMap<String, String>,
    /// Modules left out: their names are not dotted Python names (nor
    /// file names a stub may have), quoted.
    pub left_out: Vec<String>,
}

/// The stubs of every traced module the inference saw, by module name.
/// `existing` gives a module's current stub text, whose hand-written
/// annotations win and whose other declarations are kept. A name the
/// trace gives that is not a Python identifier is never written as code:
/// its declaration is left out, with a comment.
pub fn stubs(
    inference: &Inference,
    modules: &[String],
    existing: impl Fn(&str) -> Option<String>,
) -> Stubs {
    // Classes: those that made objects, and the owners of methods.
    let mut classes: BTreeMap<(String, String), Vec<&Function>> = BTreeMap::new();
    let mut functions: BTreeMap<String, Vec<&Function>> = BTreeMap::new();
    // Top-level names left out, by module.
    let mut omitted: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut left_out_modules: BTreeSet<String> = BTreeSet::new();
    let mut sort = |module: &str, rest: &str, what: &str| -> bool {
        if !is_dotted_name(module) {
            if !module.is_empty() {
                left_out_modules.insert(pysource::string(module));
            }
            return false;
        }
        if is_identifier(rest) {
            return true;
        }
        // Nested and local names (`f.<locals>.g`) have no place in a stub.
        if !rest.contains(['.', '<', '>']) && !rest.is_empty() {
            omitted
                .entry(module.to_string())
                .or_default()
                .insert(left_out(what, rest));
        }
        false
    };
    for name in inference.classes.keys() {
        let (module, rest) = split_module(name, modules);
        if sort(module, rest, "class") {
            classes.entry((module.into(), rest.into())).or_default();
        }
    }
    for function in inference.functions.values() {
        match &function.owner {
            Some(owner) => {
                let (module, rest) = split_module(owner, modules);
                if sort(module, rest, "class") {
                    classes
                        .entry((module.into(), rest.into()))
                        .or_default()
                        .push(function);
                }
            }
            None => {
                let (module, rest) = split_module(&function.qualname, modules);
                if sort(module, rest, "function") {
                    functions.entry(module.into()).or_default().push(function);
                }
            }
        }
    }
    let world = World {
        modules,
        classes: classes.keys().cloned().collect(),
    };
    let mut names: BTreeSet<String> = functions.keys().cloned().collect();
    names.extend(classes.keys().map(|(m, _)| m.clone()));
    names.extend(omitted.keys().cloned());
    names.retain(|m| !m.is_empty());
    let mut out = BTreeMap::new();
    for module in names {
        let mut writer = Writer {
            world: &world,
            module: &module,
            imports: Imports::default(),
            protocols: Vec::new(),
            existing: existing(&module)
                .map(|text| Existing::parse(&text))
                .unwrap_or_default(),
        };
        let mut body = String::new();
        let mut written_top: BTreeSet<String> = BTreeSet::new();
        for ((_, class_name), methods) in classes.range((module.clone(), String::new())..) {
            if !classes.contains_key(&(module.clone(), class_name.clone())) {
                break;
            }
            written_top.insert(class_name.clone());
            let _ = writeln!(body, "\nclass {class_name}:");
            let mut members = Vec::new();
            let mut written: BTreeSet<String> = BTreeSet::new();
            let qualified = if module.is_empty() {
                class_name.clone()
            } else {
                format!("{module}.{class_name}")
            };
            if let Some(class) = inference.classes.get(&qualified) {
                for attribute in &class.attributes {
                    if !is_identifier(&attribute.name) {
                        members.push(format!("    {}", left_out("attribute", &attribute.name)));
                        continue;
                    }
                    let annotation = match writer
                        .existing
                        .attributes
                        .get(&(class_name.clone(), attribute.name.clone()))
                    {
                        Some(hand) if !hand.is_empty() => hand.clone(),
                        _ => world.annotation(
                            &attribute.types.render(),
                            &module,
                            &mut writer.imports,
                        ),
                    };
                    written.insert(attribute.name.clone());
                    members.push(format!("    {}: {annotation}", attribute.name));
                }
            }
            let mut methods = methods.clone();
            // __init__ first, then in name order.
            methods.sort_by_key(|f| (f.kind != FunctionKind::Init, f.short_name().to_string()));
            for method in methods {
                written.insert(method.short_name().to_string());
                let signature = writer.signature(class_name, method);
                members.push(format!("    {signature}"));
            }
            members.extend(writer.kept(class_name, &written));
            // A class whose every member was left out (a comment) still
            // needs a body.
            if members.iter().all(|m| m.trim_start().starts_with('#')) {
                members.push("    ...".into());
            }
            for member in members {
                let _ = writeln!(body, "{member}");
            }
        }
        let mut top_functions: Vec<&&Function> =
            functions.get(&module).into_iter().flatten().collect();
        top_functions.sort_by_key(|f| f.short_name().to_string());
        if !top_functions.is_empty() {
            body.push('\n');
        }
        for function in top_functions {
            written_top.insert(function.short_name().to_string());
            let signature = writer.signature("", function);
            let _ = writeln!(body, "{signature}");
        }
        if let Some(omitted) = omitted.get(&module) {
            body.push('\n');
            for line in omitted {
                let _ = writeln!(body, "{line}");
            }
        }
        let kept = writer.kept("", &written_top);
        if !kept.is_empty() {
            let _ = writeln!(body, "\n# Kept from the existing stub:");
            for line in kept {
                let _ = writeln!(body, "{line}");
            }
        }
        let mut text = format!(
            "# Inferred by hltpy-analyze from {} trace(s): the types the runs showed.\n",
            inference.traces
        );
        let mut import_lines: BTreeSet<String> = writer.existing.imports.iter().cloned().collect();
        if !writer.imports.typing.is_empty() {
            let names: Vec<&str> = writer.imports.typing.iter().copied().collect();
            import_lines.insert(format!("from typing import {}", names.join(", ")));
        }
        for imported in &writer.imports.modules {
            import_lines.insert(format!("import {imported}"));
        }
        for line in import_lines {
            let _ = writeln!(text, "{line}");
        }
        for protocol in &writer.protocols {
            let _ = write!(text, "\n{protocol}");
        }
        text.push_str(&body);
        out.insert(module, text);
    }
    Stubs {
        files: out,
        left_out: left_out_modules.into_iter().collect(),
    }
}
