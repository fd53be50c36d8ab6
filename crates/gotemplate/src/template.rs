//! [`TemplateSet`]: named templates parsed once, executed many times.

use std::collections::HashMap;
use std::sync::Arc;

use crate::ast::{is_empty_list, Tree};
use crate::error::{ExecError, ParseError};
use crate::exec::{self, Limits, MissingKey};
use crate::funcs::Funcs;
use crate::parse;
use crate::value::Value;

/// Go's limit is 100000 nested `{{template}}` calls; execution here
/// recurses on the native stack, so the bound is lower.
pub const DEFAULT_MAX_DEPTH: usize = 1000;

/// Upper bound on evaluated nodes per execution, so hostile templates
/// (exponential `{{template}}` fan-out) terminate with an error.
pub const DEFAULT_MAX_OPS: u64 = 10_000_000;

/// A set of associated templates sharing one function table, like a Go
/// `*template.Template` and the templates it defines.
#[derive(Clone)]
pub struct TemplateSet {
    templates: HashMap<String, Arc<Tree>>,
    funcs: Funcs,
    missing_key: MissingKey,
    limits: Arc<Limits>,
}

impl TemplateSet {
    pub fn new(funcs: Funcs) -> TemplateSet {
        TemplateSet {
            templates: HashMap::new(),
            funcs,
            missing_key: MissingKey::Default,
            limits: Arc::new(Limits {
                max_depth: DEFAULT_MAX_DEPTH,
                max_ops: DEFAULT_MAX_OPS,
            }),
        }
    }

    /// Go's `Option("missingkey=...")`.
    pub fn missing_key(mut self, mk: MissingKey) -> TemplateSet {
        self.missing_key = mk;
        self
    }

    /// Overrides the `{{template}}` nesting and operation-count limits.
    pub fn limits(mut self, max_depth: usize, max_ops: u64) -> TemplateSet {
        self.limits = Arc::new(Limits { max_depth, max_ops });
        self
    }

    pub fn funcs(&self) -> &Funcs {
        &self.funcs
    }

    /// Parses `text` as template `name`; `{{define}}`/`{{block}}` bodies are
    /// added under their own names. Like Go, an empty body never replaces an
    /// existing non-empty template, and a later definition replaces an
    /// earlier one.
    pub fn parse(&mut self, name: &str, text: &str) -> Result<(), ParseError> {
        let funcs = &self.funcs;
        let trees = parse::parse(name, text, &|f| funcs.contains(f))?;
        for (tname, tree) in trees {
            if let Some(old) = self.templates.get(&tname) {
                if is_empty_list(&tree.root) && !is_empty_list(&old.root) {
                    continue;
                }
            }
            self.templates.insert(tname, Arc::new(tree));
        }
        Ok(())
    }

    /// Whether a template called `name` exists.
    pub fn contains(&self, name: &str) -> bool {
        self.templates.contains_key(name)
    }

    /// Names of all templates, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.templates.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }

    /// Executes template `name` with `data` as dot.
    pub fn execute(&self, name: &str, data: &Value) -> Result<String, ExecError> {
        let Some(tree) = self.templates.get(name) else {
            return Err(ExecError {
                name: name.to_string(),
                message: format!(
                    "template: no template {} associated with template {}",
                    crate::strconv::quote(name),
                    crate::strconv::quote(name)
                ),
            });
        };
        exec::execute(&self.templates, &self.funcs, self.missing_key, &self.limits, tree, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str, data: &Value) -> String {
        let mut set = TemplateSet::new(Funcs::builtins());
        if let Err(e) = set.parse("t", text) {
            return e.to_string();
        }
        match set.execute("t", data) {
            Ok(s) => s,
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn basic_execution() {
        let data = Value::map([
            ("A", Value::Int(3)),
            ("L", Value::list(vec![Value::from("x"), Value::from("y")])),
        ]);
        assert_eq!(
            run("{{.A}} {{range $i, $e := .L}}{{$i}}={{$e}};{{end}}", &data),
            "3 0=x;1=y;"
        );
        assert_eq!(run("{{.Missing}}", &data), "<no value>");
        assert_eq!(run("{{if and .A .L}}yes{{end}}", &data), "yes");
        assert_eq!(
            run("{{.A.B}}", &data),
            "template: t:1:4: executing \"t\" at <.A.B>: can't evaluate field B in type int"
        );
    }

    #[test]
    fn break_continue() {
        let data = Value::list((1..=5).map(Value::Int));
        assert_eq!(
            run(
                "{{range .}}{{if eq . 2}}{{continue}}{{end}}{{if eq . 4}}{{break}}{{end}}{{.}}{{end}}",
                &data
            ),
            "13"
        );
    }

    #[test]
    fn empty_redefinition_keeps_old() {
        let mut set = TemplateSet::new(Funcs::builtins());
        set.parse("a", "{{define \"x\"}}X{{end}}").expect("parse");
        set.parse("b", "{{define \"x\"}}  {{end}}").expect("parse");
        assert_eq!(set.execute("x", &Value::Nil).as_deref(), Ok("X"));
        set.parse("c", "{{define \"x\"}}Y{{end}}").expect("parse");
        assert_eq!(set.execute("x", &Value::Nil).as_deref(), Ok("Y"));
    }

    #[test]
    fn recursion_is_bounded() {
        let out = run(
            "{{define \"r\"}}{{template \"r\" .}}{{end}}{{template \"r\" .}}",
            &Value::Nil,
        );
        assert!(out.contains("exceeded maximum template depth (1000)"), "{out}");
    }
}
