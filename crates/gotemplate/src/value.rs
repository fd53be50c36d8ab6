//! The data model templates execute over.
//!
//! Go templates walk arbitrary Go values through reflection; here the host
//! builds a [`Value`] tree instead. Plain data uses the scalar, list and map
//! variants; anything that needs Go methods or a Go type name in error
//! messages (Alertmanager's `KV`, `time.Time`, Prometheus query samples) is an
//! [`Object`].

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// A host function callable from templates (registered with
/// [`crate::Funcs::register`] or stored in data for the `call` builtin).
pub type Function = Arc<dyn Fn(&[Value]) -> Result<Value, String> + Send + Sync>;

/// A value templates operate on. Cloning is cheap: compound variants are
/// reference counted.
#[derive(Clone, Default)]
pub enum Value {
    /// Go's untyped nil / missing value; prints as `<no value>` in actions.
    #[default]
    Nil,
    Bool(bool),
    /// Go `int`.
    Int(i64),
    /// Go `float64`.
    Float(f64),
    String(Arc<str>),
    /// Go `[]interface{}` (or `[]string`: element types are not tracked).
    List(Arc<Vec<Value>>),
    /// Go `map[string]T`; ranged and printed in key order.
    Map(Arc<Map>),
    /// A host value with Go methods and/or struct fields.
    Object(Arc<dyn Object>),
    /// A function value, for the `call` builtin.
    Func(Function),
}

/// Element type of a [`Map`]: decides what a missing key yields under
/// `missingkey=zero` and what `index` returns for a missing key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MapKind {
    /// `map[string]interface{}`: missing keys are nil.
    #[default]
    Any,
    /// `map[string]string`: missing keys are `""` (Prometheus labels).
    Strings,
}

/// A string-keyed map.
#[derive(Clone, Debug, Default)]
pub struct Map {
    pub entries: BTreeMap<String, Value>,
    pub kind: MapKind,
}

impl Map {
    /// The zero value of the element type.
    pub fn zero(&self) -> Value {
        match self.kind {
            MapKind::Any => Value::Nil,
            MapKind::Strings => Value::from(""),
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self.kind {
            MapKind::Any => "map[string]interface {}",
            MapKind::Strings => "map[string]string",
        }
    }
}

/// A host value with Go-like methods and fields.
///
/// Lookup order for `.Name` follows Go: methods first, then the keys of the
/// underlying map (for named map types) or struct fields.
pub trait Object: Send + Sync {
    /// Go type name used in error messages and `%T`, e.g. `template.Data`.
    fn type_name(&self) -> &str;

    /// Number of arguments of method `name`, if there is such a method.
    fn method_arity(&self, _name: &str) -> Option<usize> {
        None
    }

    /// Calls a method previously reported by [`Object::method_arity`]; the
    /// argument count has been checked already.
    fn call_method(&self, name: &str, _args: &[Value]) -> Result<Value, String> {
        Err(format!("can't call method {name}"))
    }

    /// A struct field.
    fn field(&self, _name: &str) -> Option<Value> {
        None
    }

    /// The map or list a named Go map/slice type is built on: keys, `len`,
    /// `index`, `range` and truthiness use it.
    fn underlying(&self) -> Option<&Value> {
        None
    }

    /// What Go's fmt prints for `%v`/`%s` (the type's `String()` method or
    /// its struct formatting). `None` prints the underlying value.
    fn format(&self) -> Option<String> {
        None
    }

    /// Whether `format` comes from a `String()` method (fmt then uses it for
    /// `%s`/`%q`/`%x` too), as opposed to plain struct formatting.
    fn is_stringer(&self) -> bool {
        false
    }

    /// Downcasting hook for functions that take a specific host type.
    fn as_any(&self) -> &dyn Any;
}

impl Value {
    /// A `map[string]string`, as Prometheus label sets are.
    pub fn string_map<K: Into<String>, V: AsRef<str>>(entries: impl IntoIterator<Item = (K, V)>) -> Value {
        Value::Map(Arc::new(Map {
            entries: entries
                .into_iter()
                .map(|(k, v)| (k.into(), Value::from(v.as_ref())))
                .collect(),
            kind: MapKind::Strings,
        }))
    }

    /// A `map[string]interface{}`.
    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(Arc::new(Map {
            entries: entries.into_iter().map(|(k, v)| (k.into(), v)).collect(),
            kind: MapKind::Any,
        }))
    }

    pub fn list(items: impl IntoIterator<Item = Value>) -> Value {
        Value::List(Arc::new(items.into_iter().collect()))
    }

    pub fn object(o: impl Object + 'static) -> Value {
        Value::Object(Arc::new(o))
    }

    pub fn func(f: impl Fn(&[Value]) -> Result<Value, String> + Send + Sync + 'static) -> Value {
        Value::Func(Arc::new(f))
    }

    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The map or list behind a named type, or the value itself.
    pub fn resolve(&self) -> &Value {
        match self {
            Value::Object(o) => o.underlying().unwrap_or(self),
            _ => self,
        }
    }

    /// Go's truthiness: zero values and empty containers are false.
    pub fn is_true(&self) -> bool {
        match self.resolve() {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::String(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.entries.is_empty(),
            Value::Object(_) | Value::Func(_) => true,
        }
    }

    /// Go type name (`reflect.Type.String()`), used in error messages.
    pub fn type_name(&self) -> String {
        match self {
            Value::Nil => "<nil>".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "int".into(),
            Value::Float(_) => "float64".into(),
            Value::String(_) => "string".into(),
            Value::List(_) => "[]interface {}".into(),
            Value::Map(m) => m.type_name().into(),
            Value::Object(o) => o.type_name().into(),
            Value::Func(_) => "func(...interface {}) (interface {}, error)".into(),
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => write!(f, "Nil"),
            Value::Bool(b) => write!(f, "Bool({b})"),
            Value::Int(i) => write!(f, "Int({i})"),
            Value::Float(x) => write!(f, "Float({x})"),
            Value::String(s) => write!(f, "String({s:?})"),
            Value::List(l) => f.debug_list().entries(l.iter()).finish(),
            Value::Map(m) => f.debug_map().entries(m.entries.iter()).finish(),
            Value::Object(o) => write!(f, "Object({})", o.type_name()),
            Value::Func(_) => write!(f, "Func"),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(Arc::from(s))
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(Arc::from(s))
    }
}
impl From<&String> for Value {
    fn from(s: &String) -> Self {
        Value::String(Arc::from(s.as_str()))
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<i32> for Value {
    fn from(i: i32) -> Self {
        Value::Int(i64::from(i))
    }
}
impl From<usize> for Value {
    fn from(i: usize) -> Self {
        Value::Int(i64::try_from(i).unwrap_or(i64::MAX))
    }
}
impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}
impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Self {
        Value::List(Arc::new(v))
    }
}
impl From<Vec<String>> for Value {
    fn from(v: Vec<String>) -> Self {
        Value::List(Arc::new(v.into_iter().map(Value::from).collect()))
    }
}
impl From<BTreeMap<String, Value>> for Value {
    fn from(entries: BTreeMap<String, Value>) -> Self {
        Value::Map(Arc::new(Map {
            entries,
            kind: MapKind::Any,
        }))
    }
}
impl From<BTreeMap<String, String>> for Value {
    fn from(entries: BTreeMap<String, String>) -> Self {
        Value::string_map(entries)
    }
}
impl From<&BTreeMap<String, String>> for Value {
    fn from(entries: &BTreeMap<String, String>) -> Self {
        Value::string_map(entries.iter().map(|(k, v)| (k.clone(), v)))
    }
}

/// A plain Go struct: named fields, no methods. Printed like Go's `%v` of a
/// struct (`{v1 v2 ...}`).
pub struct GoStruct {
    pub type_name: String,
    pub fields: Vec<(String, Value)>,
}

impl Object for GoStruct {
    fn type_name(&self) -> &str {
        &self.type_name
    }

    fn field(&self, name: &str) -> Option<Value> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    }

    fn format(&self) -> Option<String> {
        Some(format_struct(self.fields.iter().map(|(_, v)| v)))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `{a b c}`: Go's `%v` of a struct, fields formatted as nested values
/// (Stringers use their `String()`).
pub(crate) fn format_struct<'v>(fields: impl Iterator<Item = &'v Value>) -> String {
    let mut out = String::from("{");
    for (i, v) in fields.enumerate() {
        if i > 0 {
            out.push(' ');
        }
        match v {
            Value::Nil => out.push_str("<nil>"),
            other => out.push_str(&crate::fmt::format_value(other)),
        }
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truthiness_follows_go() {
        assert!(!Value::Nil.is_true());
        assert!(!Value::from("").is_true());
        assert!(Value::from("x").is_true());
        assert!(!Value::Int(0).is_true());
        assert!(!Value::Float(0.0).is_true());
        assert!(Value::Float(-0.5).is_true());
        assert!(!Value::list(vec![]).is_true());
        assert!(!Value::string_map(Vec::<(String, String)>::new()).is_true());
        assert!(Value::Bool(true).is_true());
    }

    #[test]
    fn map_zero_depends_on_kind() {
        let m = Map {
            entries: BTreeMap::new(),
            kind: MapKind::Strings,
        };
        assert_eq!(m.zero().as_str(), Some(""));
        let m = Map::default();
        assert!(m.zero().is_nil());
    }
}
