//! Function tables. A [`Funcs`] is what a template may call: Go's builtins
//! plus one of the Prometheus / Alertmanager sets plus host closures.

pub(crate) mod alertmanager;
pub(crate) mod builtin;
pub(crate) mod prometheus;
pub(crate) mod regex_cache;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use crate::value::{Function, Value};

pub use prometheus::{QueryFn, QuerySample};

/// Declared Go parameter type of a template function; the executor checks
/// arguments against it the way Go's reflection-based calls do (literal
/// conversions, `wrong type for value; expected string; got int`, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArgType {
    /// `interface{}`: anything.
    Any,
    String,
    Float,
    Int,
    Bool,
    /// `[]string`.
    StringList,
    /// A host object whose [`crate::Object::type_name`] equals this.
    Named(&'static str),
}

impl ArgType {
    pub(crate) fn go_name(&self) -> &'static str {
        match self {
            ArgType::Any => "interface {}",
            ArgType::String => "string",
            ArgType::Float => "float64",
            ArgType::Int => "int",
            ArgType::Bool => "bool",
            ArgType::StringList => "[]string",
            ArgType::Named(n) => n,
        }
    }
}

pub(crate) type NativeFn = fn(&Funcs, &[Value]) -> Result<Value, String>;

#[derive(Clone)]
pub(crate) enum FuncImpl {
    /// Short-circuiting builtins, evaluated by the executor itself.
    And,
    Or,
    Call,
    Native(NativeFn),
    Custom(Function),
}

#[derive(Clone)]
pub(crate) struct FuncDef {
    pub params: &'static [ArgType],
    pub variadic: Option<ArgType>,
    pub imp: FuncImpl,
}

pub(crate) const fn native(params: &'static [ArgType], variadic: Option<ArgType>, f: NativeFn) -> FuncDef {
    FuncDef {
        params,
        variadic,
        imp: FuncImpl::Native(f),
    }
}

/// The functions available to a [`crate::TemplateSet`].
#[derive(Clone)]
pub struct Funcs {
    table: Arc<HashMap<&'static str, FuncDef>>,
    custom: HashMap<String, FuncDef>,
    pub(crate) query: Option<QueryFn>,
    pub(crate) external_url: Option<Arc<str>>,
}

fn table(defs: &[&[(&'static str, FuncDef)]]) -> HashMap<&'static str, FuncDef> {
    let mut m = HashMap::new();
    for set in defs {
        for (name, def) in set.iter() {
            m.insert(*name, def.clone());
        }
    }
    m
}

impl Funcs {
    fn with_table(table: Arc<HashMap<&'static str, FuncDef>>) -> Funcs {
        Funcs {
            table,
            custom: HashMap::new(),
            query: None,
            external_url: None,
        }
    }

    /// Go's builtins only (`and`, `or`, `not`, `len`, `index`, `slice`,
    /// `print`, `printf`, `println`, `eq`..`ge`, `html`, `js`, `urlquery`, `call`).
    pub fn builtins() -> Funcs {
        static T: OnceLock<Arc<HashMap<&'static str, FuncDef>>> = OnceLock::new();
        Funcs::with_table(T.get_or_init(|| Arc::new(table(&[&builtin::defs()]))).clone())
    }

    /// Builtins plus Prometheus 2.42's alert/console template functions.
    /// `query` backs the `query` function; without it `query` fails.
    pub fn prometheus(query: Option<QueryFn>) -> Funcs {
        static T: OnceLock<Arc<HashMap<&'static str, FuncDef>>> = OnceLock::new();
        let mut f = Funcs::with_table(
            T.get_or_init(|| Arc::new(table(&[&builtin::defs(), &prometheus::defs()])))
                .clone(),
        );
        f.query = query;
        f
    }

    /// Builtins plus Alertmanager 0.25's notification template functions.
    pub fn alertmanager() -> Funcs {
        static T: OnceLock<Arc<HashMap<&'static str, FuncDef>>> = OnceLock::new();
        Funcs::with_table(
            T.get_or_init(|| Arc::new(table(&[&builtin::defs(), &alertmanager::defs()])))
                .clone(),
        )
    }

    /// Sets what Prometheus' `externalURL` and `pathPrefix` return. Without
    /// it they fail like Prometheus does with a nil URL (as in `promtool`).
    pub fn with_external_url(mut self, url: &str) -> Funcs {
        self.external_url = Some(Arc::from(url));
        self
    }

    /// Registers (or overrides) a function taking any number of arguments of
    /// any type.
    pub fn register(&mut self, name: &str, f: impl Fn(&[Value]) -> Result<Value, String> + Send + Sync + 'static) {
        self.register_typed(name, &[], Some(ArgType::Any), f);
    }

    /// Registers a function with declared parameter types, so arity and
    /// argument errors read like Go's for a typed Go function.
    pub fn register_typed(
        &mut self,
        name: &str,
        params: &'static [ArgType],
        variadic: Option<ArgType>,
        f: impl Fn(&[Value]) -> Result<Value, String> + Send + Sync + 'static,
    ) {
        self.custom.insert(
            name.to_string(),
            FuncDef {
                params,
                variadic,
                imp: FuncImpl::Custom(Arc::new(f)),
            },
        );
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub(crate) fn get(&self, name: &str) -> Option<&FuncDef> {
        self.custom.get(name).or_else(|| self.table.get(name))
    }
}

impl Default for Funcs {
    fn default() -> Self {
        Funcs::builtins()
    }
}

/// Go's `strings.ToUpper`/`ToLower` map rune to rune; Rust's full case
/// mapping can change length ('ß' → "SS"), which Go never does.
pub(crate) fn simple_case(s: &str, upper: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if upper {
            let mut it = c.to_uppercase();
            match (it.next(), it.next()) {
                (Some(u), None) => out.push(u),
                _ => out.push(c),
            }
        } else {
            let mut it = c.to_lowercase();
            match (it.next(), it.next()) {
                (Some(u), None) => out.push(u),
                _ => out.push(c),
            }
        }
    }
    out
}

pub(crate) fn arg_str(args: &[Value], i: usize) -> &str {
    args.get(i).and_then(Value::as_str).unwrap_or("")
}

/// `[]string` argument (already type-checked by the executor).
pub(crate) fn arg_strings(v: Option<&Value>) -> Vec<String> {
    match v.map(Value::resolve) {
        Some(Value::List(l)) => l.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}
