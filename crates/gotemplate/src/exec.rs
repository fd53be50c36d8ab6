//! Executor, a port of Go's `text/template/exec.go`: evaluation order,
//! argument type checking, method/field/map-key resolution and the exact
//! error texts (including which node an error is reported at).

use std::collections::HashMap;
use std::sync::Arc;

use crate::ast::{Arg, Command, Node, Number, Pipe, Tree};
use crate::error::ExecError;
use crate::fmt::format_value;
use crate::funcs::{ArgType, FuncDef, FuncImpl, Funcs};
use crate::strconv::quote;
use crate::value::{Object, Value};

/// What a missing map key evaluates to (Go's `missingkey` option).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MissingKey {
    /// `missingkey=default`/`invalid`: no value, printed as `<no value>`.
    #[default]
    Default,
    /// `missingkey=zero`: the zero value of the map's element type.
    Zero,
    /// `missingkey=error`: execution stops with an error.
    Error,
}

/// The node execution is at, for error messages.
#[derive(Clone, Copy)]
enum At<'a> {
    Node(&'a Node),
    Pipe(&'a Pipe),
    Cmd(&'a Command),
    Arg(&'a Arg),
}

impl At<'_> {
    fn pos(&self) -> usize {
        match self {
            At::Node(n) => n.pos(),
            At::Pipe(p) => p.pos,
            At::Cmd(c) => c.pos,
            At::Arg(a) => a.pos(),
        }
    }

    fn text(&self) -> String {
        match self {
            At::Node(n) => n.to_string(),
            At::Pipe(p) => p.to_string(),
            At::Cmd(c) => c.to_string(),
            At::Arg(a) => a.to_string(),
        }
    }
}

pub(crate) enum Flow {
    Error(ExecError),
    Break,
    Continue,
}

type EResult<T> = Result<T, Flow>;

enum Callee<'f> {
    Func(&'f FuncDef),
    Method(Arc<dyn Object>),
}

pub(crate) struct Limits {
    pub max_depth: usize,
    pub max_ops: u64,
}

/// Native stack an execution may use before it fails like Go's depth
/// limit: deep `{{template}}` recursion must end in an error, never in a
/// stack overflow, even on 2 MiB threads with unoptimised frames.
const MAX_STACK_BYTES: usize = 1 << 20;

fn stack_addr() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

pub(crate) struct State<'a> {
    stack_base: usize,
    templates: &'a HashMap<String, Arc<Tree>>,
    funcs: &'a Funcs,
    missing_key: MissingKey,
    limits: &'a Limits,
    tree: &'a Tree,
    node: Option<At<'a>>,
    vars: Vec<(&'a str, Value)>,
    depth: usize,
    ops: u64,
    out: String,
}

/// Runs `tree` over `data`.
pub(crate) fn execute(
    templates: &HashMap<String, Arc<Tree>>,
    funcs: &Funcs,
    missing_key: MissingKey,
    limits: &Limits,
    tree: &Tree,
    data: &Value,
) -> Result<String, ExecError> {
    let mut s = State {
        stack_base: stack_addr(),
        templates,
        funcs,
        missing_key,
        limits,
        tree,
        node: None,
        vars: vec![("$", data.clone())],
        depth: 0,
        ops: 0,
        out: String::new(),
    };
    match s.walk_list(data, &tree.root) {
        Ok(()) => Ok(s.out),
        Err(Flow::Error(e)) => Err(e),
        // The parser rejects break/continue outside range.
        Err(Flow::Break | Flow::Continue) => Ok(s.out),
    }
}

fn can_be_nil(t: &ArgType) -> bool {
    matches!(t, ArgType::Any | ArgType::StringList | ArgType::Named(_))
}

fn is_hex_int(s: &str) -> bool {
    s.len() > 2 && s.starts_with('0') && (s.as_bytes()[1] | 0x20) == b'x' && !s.contains(['p', 'P'])
}

impl<'a> State<'a> {
    fn at(&mut self, at: At<'a>) {
        self.node = Some(at);
    }

    fn err<T>(&self, msg: impl Into<String>) -> EResult<T> {
        Err(Flow::Error(self.make_error(msg.into())))
    }

    fn make_error(&self, msg: String) -> ExecError {
        let name = &self.tree.name;
        let message = match self.node {
            None => format!("template: {name}: {msg}"),
            Some(at) => {
                let (location, context) = self.tree.error_context(at.pos(), &at.text());
                format!("template: {location}: executing {} at <{context}>: {msg}", quote(name))
            }
        };
        ExecError {
            name: name.clone(),
            message,
        }
    }

    fn tick(&mut self) -> EResult<()> {
        if self.stack_base.abs_diff(stack_addr()) > MAX_STACK_BYTES {
            return self.err(format!("exceeded maximum template depth ({})", self.limits.max_depth));
        }
        self.ops += 1;
        if self.ops > self.limits.max_ops {
            return self.err(format!(
                "exceeded maximum number of operations ({})",
                self.limits.max_ops
            ));
        }
        Ok(())
    }

    fn var_value(&self, name: &str) -> EResult<Value> {
        match self.vars.iter().rev().find(|(n, _)| *n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => self.err(format!("undefined variable: {name}")),
        }
    }

    fn set_var(&mut self, name: &str, value: Value) -> EResult<()> {
        match self.vars.iter_mut().rev().find(|(n, _)| *n == name) {
            Some(slot) => {
                slot.1 = value;
                Ok(())
            }
            None => self.err(format!("undefined variable: {name}")),
        }
    }

    fn set_top_var(&mut self, n: usize, value: Value) {
        let len = self.vars.len();
        if let Some(slot) = len.checked_sub(n).and_then(|i| self.vars.get_mut(i)) {
            slot.1 = value;
        }
    }

    fn walk_list(&mut self, dot: &Value, list: &'a [Node]) -> EResult<()> {
        for node in list {
            self.walk(dot, node)?;
        }
        Ok(())
    }

    fn walk(&mut self, dot: &Value, node: &'a Node) -> EResult<()> {
        self.tick()?;
        self.at(At::Node(node));
        match node {
            Node::Text { text, .. } => {
                self.out.push_str(text);
                Ok(())
            }
            Node::Action { pipe, .. } => {
                let val = self.eval_pipeline(dot, Some(pipe))?;
                if pipe.decl.is_empty() {
                    self.print_value(node, &val)?;
                }
                Ok(())
            }
            Node::If(b) | Node::With(b) => {
                let mark = self.vars.len();
                let r = (|| {
                    let val = self.eval_pipeline(dot, Some(&b.pipe))?;
                    if val.is_true() {
                        let d = if matches!(node, Node::With(_)) { &val } else { dot };
                        self.walk_list(d, &b.list)
                    } else if let Some(e) = &b.else_list {
                        self.walk_list(dot, e)
                    } else {
                        Ok(())
                    }
                })();
                self.vars.truncate(mark);
                r
            }
            Node::Range(b) => {
                let mark = self.vars.len();
                let r = self.walk_range(dot, node, b);
                self.vars.truncate(mark);
                r
            }
            Node::Template { name, pipe, .. } => self.walk_template(dot, name, pipe.as_ref()),
            Node::Break { .. } => Err(Flow::Break),
            Node::Continue { .. } => Err(Flow::Continue),
        }
    }

    fn walk_range(&mut self, dot: &Value, node: &'a Node, b: &'a crate::ast::Branch) -> EResult<()> {
        self.at(At::Node(node));
        let val = self.eval_pipeline(dot, Some(&b.pipe))?;
        let mark = self.vars.len();
        let pipe = &b.pipe;
        let iterate = |s: &mut Self, index: Value, elem: &Value| -> EResult<bool> {
            if !pipe.decl.is_empty() {
                if pipe.is_assign {
                    if pipe.decl.len() > 1 {
                        s.set_var(&pipe.decl[0], index.clone())?;
                    } else {
                        s.set_var(&pipe.decl[0], elem.clone())?;
                    }
                } else {
                    s.set_top_var(1, elem.clone());
                }
            }
            if pipe.decl.len() > 1 {
                if pipe.is_assign {
                    s.set_var(&pipe.decl[1], elem.clone())?;
                } else {
                    s.set_top_var(2, index);
                }
            }
            let r = s.walk_list(elem, &b.list);
            s.vars.truncate(mark);
            match r {
                Ok(()) | Err(Flow::Continue) => Ok(true),
                Err(Flow::Break) => Ok(false),
                Err(e) => Err(e),
            }
        };
        let resolved = val.resolve().clone();
        let iterated = match &resolved {
            Value::List(items) if !items.is_empty() => {
                for (i, item) in items.iter().enumerate() {
                    if !iterate(self, Value::from(i), item)? {
                        break;
                    }
                }
                true
            }
            Value::Map(m) if !m.entries.is_empty() => {
                for (k, v) in &m.entries {
                    if !iterate(self, Value::from(k.as_str()), v)? {
                        break;
                    }
                }
                true
            }
            Value::List(_) | Value::Map(_) | Value::Nil => false,
            other => return self.err(format!("range can't iterate over {}", format_value(other))),
        };
        if !iterated {
            if let Some(e) = &b.else_list {
                return self.walk_list(dot, e);
            }
        }
        Ok(())
    }

    fn walk_template(&mut self, dot: &Value, name: &str, pipe: Option<&'a Pipe>) -> EResult<()> {
        let Some(tmpl) = self.templates.get(name) else {
            return self.err(format!("template {} not defined", quote(name)));
        };
        if self.depth >= self.limits.max_depth {
            return self.err(format!("exceeded maximum template depth ({})", self.limits.max_depth));
        }
        let new_dot = self.eval_pipeline(dot, pipe)?;
        let tree: &'a Tree = tmpl;
        let saved_tree = std::mem::replace(&mut self.tree, tree);
        let saved_vars = std::mem::replace(&mut self.vars, vec![("$", new_dot.clone())]);
        let saved_node = self.node.take();
        self.depth += 1;
        let r = self.walk_list(&new_dot, &tree.root);
        self.depth -= 1;
        self.tree = saved_tree;
        self.vars = saved_vars;
        if r.is_ok() {
            self.node = saved_node;
        }
        r
    }

    fn print_value(&mut self, node: &'a Node, v: &Value) -> EResult<()> {
        self.at(At::Node(node));
        match v {
            Value::Nil => self.out.push_str("<no value>"),
            Value::String(s) => self.out.push_str(s),
            Value::Func(_) => {
                return self.err(format!("can't print {node} of type {}", v.type_name()));
            }
            other => {
                let s = format_value(other);
                self.out.push_str(&s);
            }
        }
        Ok(())
    }

    fn eval_pipeline(&mut self, dot: &Value, pipe: Option<&'a Pipe>) -> EResult<Value> {
        let Some(pipe) = pipe else { return Ok(Value::Nil) };
        self.at(At::Pipe(pipe));
        let mut value: Option<Value> = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_command(dot, cmd, value)?);
        }
        let value = value.unwrap_or_default();
        for var in &pipe.decl {
            if pipe.is_assign {
                self.set_var(var, value.clone())?;
            } else {
                self.vars.push((var.as_str(), value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, args: &[Arg], final_: &Option<Value>) -> EResult<()> {
        if args.len() > 1 || final_.is_some() {
            let first = args.first().map(|a| a.to_string()).unwrap_or_default();
            return self.err(format!("can't give argument to non-function {first}"));
        }
        Ok(())
    }

    fn eval_command(&mut self, dot: &Value, cmd: &'a Command, final_: Option<Value>) -> EResult<Value> {
        self.tick()?;
        let Some(first) = cmd.args.first() else {
            return Ok(Value::Nil);
        };
        match first {
            Arg::Field { idents, .. } => return self.eval_field_node(dot, first, idents, &cmd.args, final_),
            Arg::Chain { node, fields, .. } => {
                return self.eval_chain_node(dot, first, node, fields, &cmd.args, final_)
            }
            Arg::Identifier { name, .. } => {
                return self.eval_function(dot, first, name, At::Cmd(cmd), &cmd.args, final_)
            }
            Arg::Pipe(p) => {
                self.not_a_function(&cmd.args, &final_)?;
                return self.eval_pipeline(dot, Some(p));
            }
            Arg::Variable { idents, .. } => return self.eval_variable_node(dot, first, idents, &cmd.args, final_),
            _ => {}
        }
        self.at(At::Arg(first));
        self.not_a_function(&cmd.args, &final_)?;
        match first {
            Arg::Bool { val, .. } => Ok(Value::Bool(*val)),
            Arg::Dot { .. } => Ok(dot.clone()),
            Arg::Nil { .. } => self.err("nil is not a command"),
            Arg::Number { text, num, .. } => self.ideal_constant(first, text, num),
            Arg::String { value, .. } => Ok(value.clone()),
            _ => self.err(format!("can't evaluate command {}", quote(&first.to_string()))),
        }
    }

    fn ideal_constant(&mut self, node: &'a Arg, text: &str, num: &Number) -> EResult<Value> {
        self.at(At::Arg(node));
        if num.is_complex {
            return self.err("complex numbers are not supported");
        }
        if num.is_float && !is_hex_int(text) && !text.starts_with('\'') && text.contains(['.', 'e', 'E', 'p', 'P']) {
            return Ok(Value::Float(num.float));
        }
        if num.is_int {
            return Ok(Value::Int(num.int));
        }
        if num.is_uint {
            return self.err(format!("{text} overflows int"));
        }
        Ok(Value::Nil)
    }

    fn eval_field_node(
        &mut self,
        dot: &Value,
        node: &'a Arg,
        idents: &'a [String],
        args: &'a [Arg],
        final_: Option<Value>,
    ) -> EResult<Value> {
        self.at(At::Arg(node));
        self.eval_field_chain(dot, dot.clone(), node, idents, args, final_)
    }

    fn eval_chain_node(
        &mut self,
        dot: &Value,
        chain: &'a Arg,
        inner: &'a Arg,
        fields: &'a [String],
        args: &'a [Arg],
        final_: Option<Value>,
    ) -> EResult<Value> {
        self.at(At::Arg(chain));
        if matches!(inner, Arg::Nil { .. }) {
            return self.err(format!("indirection through explicit nil in {chain}"));
        }
        let receiver = self.eval_arg(dot, &ArgType::Any, inner)?;
        self.eval_field_chain(dot, receiver, chain, fields, args, final_)
    }

    fn eval_variable_node(
        &mut self,
        dot: &Value,
        node: &'a Arg,
        idents: &'a [String],
        args: &'a [Arg],
        final_: Option<Value>,
    ) -> EResult<Value> {
        self.at(At::Arg(node));
        let value = self.var_value(&idents[0])?;
        if idents.len() == 1 {
            self.not_a_function(args, &final_)?;
            return Ok(value);
        }
        self.eval_field_chain(dot, value, node, &idents[1..], args, final_)
    }

    fn eval_field_chain(
        &mut self,
        dot: &Value,
        mut receiver: Value,
        node: &'a Arg,
        idents: &'a [String],
        args: &'a [Arg],
        final_: Option<Value>,
    ) -> EResult<Value> {
        let n = idents.len();
        for ident in &idents[..n.saturating_sub(1)] {
            receiver = self.eval_field(dot, ident, node, &[], None, &receiver)?;
        }
        match idents.last() {
            Some(last) => self.eval_field(dot, last, node, args, final_, &receiver),
            None => Ok(receiver),
        }
    }

    fn eval_field(
        &mut self,
        dot: &Value,
        name: &str,
        node: &'a Arg,
        args: &'a [Arg],
        final_: Option<Value>,
        receiver: &Value,
    ) -> EResult<Value> {
        if receiver.is_nil() {
            if self.missing_key == MissingKey::Error {
                return self.err(format!("nil data; no entry for key {}", quote(name)));
            }
            return Ok(Value::Nil);
        }
        let has_args = args.len() > 1 || final_.is_some();
        if let Value::Object(o) = receiver {
            if o.method_arity(name).is_some() {
                return self.eval_call(dot, Callee::Method(o.clone()), At::Arg(node), name, args, final_);
            }
            if let Some(f) = o.field(name) {
                if has_args {
                    return self.err(format!("{name} has arguments but cannot be invoked as function"));
                }
                return Ok(f);
            }
        }
        if let Value::Map(m) = receiver.resolve() {
            if has_args {
                return self.err(format!("{name} is not a method but has arguments"));
            }
            if let Some(v) = m.entries.get(name) {
                return Ok(v.clone());
            }
            return match self.missing_key {
                MissingKey::Default => Ok(Value::Nil),
                MissingKey::Zero => Ok(m.zero()),
                MissingKey::Error => self.err(format!("map has no entry for key {}", quote(name))),
            };
        }
        self.err(format!("can't evaluate field {name} in type {}", receiver.type_name()))
    }

    fn eval_function(
        &mut self,
        dot: &Value,
        node: &'a Arg,
        name: &str,
        cmd: At<'a>,
        args: &'a [Arg],
        final_: Option<Value>,
    ) -> EResult<Value> {
        self.at(At::Arg(node));
        let funcs = self.funcs;
        let Some(def) = funcs.get(name) else {
            return self.err(format!("{} is not a defined function", quote(name)));
        };
        self.eval_call(dot, Callee::Func(def), cmd, name, args, final_)
    }

    fn eval_call(
        &mut self,
        dot: &Value,
        callee: Callee<'a>,
        node: At<'a>,
        name: &str,
        args: &'a [Arg],
        final_: Option<Value>,
    ) -> EResult<Value> {
        let args = if args.is_empty() { args } else { &args[1..] };
        let any = ArgType::Any;
        let (params, variadic): (&[ArgType], Option<&ArgType>) = match &callee {
            Callee::Func(def) => (def.params, def.variadic.as_ref()),
            Callee::Method(o) => {
                let n = o.method_arity(name).unwrap_or(0);
                (&ANY_PARAMS[..n.min(ANY_PARAMS.len())], None)
            }
        };
        let num_in = args.len() + usize::from(final_.is_some());
        let num_fixed = if variadic.is_some() { params.len() } else { args.len() };
        if variadic.is_some() {
            if num_in < num_fixed {
                return self.err(format!(
                    "wrong number of args for {name}: want at least {} got {}",
                    params.len(),
                    args.len()
                ));
            }
        } else if num_in != params.len() {
            return self.err(format!(
                "wrong number of args for {name}: want {} got {num_in}",
                params.len()
            ));
        }

        if let Callee::Func(FuncDef {
            imp: imp @ (FuncImpl::And | FuncImpl::Or),
            ..
        }) = &callee
        {
            // and/or short-circuit (Go >= 1.18) and return the deciding operand.
            let want = matches!(imp, FuncImpl::Or);
            let mut v = Value::Nil;
            for arg in args {
                v = self.eval_arg(dot, &any, arg)?;
                if v.is_true() == want {
                    return Ok(v);
                }
            }
            if let Some(f) = final_ {
                v = f;
            }
            return Ok(v);
        }

        let mut argv = Vec::with_capacity(num_in);
        let mut i = 0;
        while i < num_fixed && i < args.len() {
            argv.push(self.eval_arg(dot, &params[i], &args[i])?);
            i += 1;
        }
        if let Some(vt) = variadic {
            while i < args.len() {
                argv.push(self.eval_arg(dot, vt, &args[i])?);
                i += 1;
            }
        }
        if let Some(f) = final_ {
            let t = match variadic {
                Some(vt) if num_in > num_fixed => vt,
                _ => params.get(num_in - 1).unwrap_or(&any),
            };
            argv.push(self.validate_type(f, t)?);
        }
        let result = match &callee {
            Callee::Func(def) => match &def.imp {
                FuncImpl::Native(f) => f(self.funcs, &argv),
                FuncImpl::Custom(f) => f(&argv),
                FuncImpl::Call => call_value(&argv),
                FuncImpl::And | FuncImpl::Or => Ok(Value::Nil),
            },
            Callee::Method(o) => o.call_method(name, &argv),
        };
        match result {
            Ok(v) => Ok(v),
            Err(e) => {
                self.at(node);
                self.err(format!("error calling {name}: {e}"))
            }
        }
    }

    fn validate_type(&self, value: Value, typ: &ArgType) -> EResult<Value> {
        if value.is_nil() {
            if can_be_nil(typ) {
                return Ok(Value::Nil);
            }
            return self.err(format!("invalid value; expected {}", typ.go_name()));
        }
        let ok = match typ {
            ArgType::Any => true,
            ArgType::String => matches!(value, Value::String(_)),
            ArgType::Float => matches!(value, Value::Float(_)),
            ArgType::Int => matches!(value, Value::Int(_)),
            ArgType::Bool => matches!(value, Value::Bool(_)),
            ArgType::StringList => match value.resolve() {
                Value::List(l) => l.iter().all(|v| matches!(v, Value::String(_))),
                _ => false,
            },
            ArgType::Named(t) => matches!(&value, Value::Object(o) if o.type_name() == *t),
        };
        if !ok {
            return self.err(format!(
                "wrong type for value; expected {}; got {}",
                typ.go_name(),
                value.type_name()
            ));
        }
        Ok(value)
    }

    fn eval_arg(&mut self, dot: &Value, typ: &ArgType, n: &'a Arg) -> EResult<Value> {
        self.at(At::Arg(n));
        let v = match n {
            Arg::Dot { .. } => dot.clone(),
            Arg::Nil { .. } => {
                if can_be_nil(typ) {
                    return Ok(Value::Nil);
                }
                return self.err(format!("cannot assign nil to {}", typ.go_name()));
            }
            Arg::Field { idents, .. } => self.eval_field_node(dot, n, idents, std::slice::from_ref(n), None)?,
            Arg::Variable { idents, .. } => self.eval_variable_node(dot, n, idents, &[], None)?,
            Arg::Pipe(p) => self.eval_pipeline(dot, Some(p))?,
            Arg::Identifier { name, .. } => self.eval_function(dot, n, name, At::Arg(n), &[], None)?,
            Arg::Chain { node, fields, .. } => self.eval_chain_node(dot, n, node, fields, &[], None)?,
            Arg::Bool { val, .. } => {
                return match typ {
                    ArgType::Bool | ArgType::Any => Ok(Value::Bool(*val)),
                    _ => self.literal_mismatch(typ, n),
                }
            }
            Arg::Number { text, num, .. } => {
                return match typ {
                    ArgType::Any => self.ideal_constant(n, text, num),
                    ArgType::Float if num.is_float => Ok(Value::Float(num.float)),
                    ArgType::Int if num.is_int => Ok(Value::Int(num.int)),
                    _ => self.literal_mismatch(typ, n),
                }
            }
            Arg::String { value, .. } => {
                return match typ {
                    ArgType::Any | ArgType::String => Ok(value.clone()),
                    _ => self.literal_mismatch(typ, n),
                }
            }
        };
        self.validate_type(v, typ)
    }

    fn literal_mismatch<T>(&self, typ: &ArgType, n: &Arg) -> EResult<T> {
        match typ {
            ArgType::Bool => self.err(format!("expected bool; found {n}")),
            ArgType::String => self.err(format!("expected string; found {n}")),
            ArgType::Int => self.err(format!("expected integer; found {n}")),
            ArgType::Float => self.err(format!("expected float; found {n}")),
            _ => self.err(format!("can't handle {n} for arg of type {}", typ.go_name())),
        }
    }
}

/// Parameter types of host-object methods: all `interface{}`.
static ANY_PARAMS: [ArgType; 8] = [
    ArgType::Any,
    ArgType::Any,
    ArgType::Any,
    ArgType::Any,
    ArgType::Any,
    ArgType::Any,
    ArgType::Any,
    ArgType::Any,
];

/// The `call` builtin.
fn call_value(argv: &[Value]) -> Result<Value, String> {
    match argv.first() {
        None | Some(Value::Nil) => Err("call of nil".into()),
        Some(Value::Func(f)) => f(&argv[1..]),
        Some(other) => Err(format!("non-function of type {}", other.type_name())),
    }
}
