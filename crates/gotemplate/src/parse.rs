//! Parser, a port of Go's `text/template/parse/parse.go`: same grammar,
//! variable scoping, function-existence checks and error texts.

use std::collections::HashMap;
use std::sync::Arc;

use crate::ast::{is_empty_list, Arg, Branch, Command, Node, Number, Pipe, Tree};
use crate::error::ParseError;
use crate::lexer::{lex, Item, ItemType};
use crate::strconv;
use crate::value::Value;

/// Nesting limit for control structures and parenthesised pipelines: Go has
/// none, but unbounded recursion would overflow the stack on hostile input.
const MAX_NESTING: usize = 200;

type PResult<T> = Result<T, ParseError>;

struct Parser<'a> {
    items: Vec<Item>,
    idx: usize,
    last_line: usize,
    parse_name: Arc<str>,
    text: Arc<str>,
    has_func: &'a dyn Fn(&str) -> bool,
    vars: Vec<String>,
    range_depth: usize,
    action_line: usize,
    nesting: usize,
    trees: HashMap<String, Tree>,
}

/// Parses `text` as template `name`; returns every tree it defines (the
/// top-level one under `name`).
pub(crate) fn parse(name: &str, text: &str, has_func: &dyn Fn(&str) -> bool) -> PResult<HashMap<String, Tree>> {
    let text: Arc<str> = Arc::from(text);
    let mut p = Parser {
        items: lex(&text),
        idx: 0,
        last_line: 1,
        parse_name: Arc::from(name),
        text: text.clone(),
        has_func,
        vars: vec!["$".into()],
        range_depth: 0,
        action_line: 0,
        nesting: 0,
        trees: HashMap::new(),
    };
    let mut root = Vec::new();
    while p.peek().typ != ItemType::Eof {
        if p.peek().typ == ItemType::LeftDelim {
            let save = p.idx;
            p.next();
            if p.next_non_space().typ == ItemType::Define {
                p.parse_definition()?;
                continue;
            }
            p.idx = save;
        }
        match p.text_or_action()? {
            Parsed::End => return Err(p.error("unexpected {{end}}")),
            Parsed::Else { .. } => return Err(p.error("unexpected {{else}}")),
            Parsed::Node(n) => root.push(n),
        }
    }
    p.add(name.to_string(), root)?;
    Ok(p.trees)
}

enum Parsed {
    Node(Node),
    End,
    Else { else_if: Option<ElseKind> },
}

#[derive(Clone, Copy, PartialEq)]
enum ElseKind {
    If,
    With,
}

impl<'a> Parser<'a> {
    fn error(&self, msg: impl Into<String>) -> ParseError {
        ParseError {
            name: self.parse_name.to_string(),
            line: self.last_line,
            message: msg.into(),
        }
    }

    fn next(&mut self) -> Item {
        let item = match self.items.get(self.idx) {
            Some(it) => it.clone(),
            None => self.items.last().cloned().unwrap_or(Item {
                typ: ItemType::Eof,
                pos: 0,
                val: String::new(),
                line: 1,
            }),
        };
        if self.idx < self.items.len() {
            self.idx += 1;
        }
        self.last_line = item.line;
        item
    }

    fn backup(&mut self) {
        self.idx = self.idx.saturating_sub(1);
    }

    fn peek(&mut self) -> Item {
        let it = self.next();
        self.backup_if_consumed(&it);
        it
    }

    fn backup_if_consumed(&mut self, it: &Item) {
        if self.idx > 0 && self.items.get(self.idx - 1).map(|i| i.pos) == Some(it.pos) {
            self.idx -= 1;
        }
    }

    fn next_non_space(&mut self) -> Item {
        loop {
            let it = self.next();
            if it.typ != ItemType::Space {
                return it;
            }
        }
    }

    fn peek_non_space(&mut self) -> Item {
        let it = self.next_non_space();
        self.backup_if_consumed(&it);
        it
    }

    fn unexpected(&self, item: &Item, context: &str) -> ParseError {
        if item.typ == ItemType::Error {
            let mut extra = String::new();
            if self.action_line != 0 && self.action_line != item.line {
                extra = format!(" in action started at {}:{}", self.parse_name, self.action_line);
                if item.val.ends_with(" action") {
                    extra = extra[" in action".len()..].to_string();
                }
            }
            let mut e = self.error(format!("{}{}", item.val, extra));
            e.line = item.line;
            return e;
        }
        self.error(format!("unexpected {item} in {context}"))
    }

    fn expect(&mut self, typ: ItemType, context: &str) -> PResult<Item> {
        let tok = self.next_non_space();
        if tok.typ != typ {
            return Err(self.unexpected(&tok, context));
        }
        Ok(tok)
    }

    fn add(&mut self, name: String, root: Vec<Node>) -> PResult<()> {
        match self.trees.get(&name) {
            Some(existing) if !is_empty_list(&existing.root) => {
                if !is_empty_list(&root) {
                    return Err(self.error(format!(
                        "template: multiple definition of template {}",
                        strconv::quote(&name)
                    )));
                }
                Ok(())
            }
            _ => {
                let tree = Tree {
                    name: name.clone(),
                    parse_name: self.parse_name.clone(),
                    text: self.text.clone(),
                    root,
                };
                self.trees.insert(name, tree);
                Ok(())
            }
        }
    }

    /// Parses `{{define "name"}}...{{end}}` after the `define` keyword.
    fn parse_definition(&mut self) -> PResult<()> {
        const CONTEXT: &str = "define clause";
        let tok = self.next_non_space();
        if !matches!(tok.typ, ItemType::String | ItemType::RawString) {
            return Err(self.unexpected(&tok, CONTEXT));
        }
        let name = strconv::unquote(&tok.val).map_err(|e| self.error(e))?;
        self.expect(ItemType::RightDelim, CONTEXT)?;
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let saved_range = std::mem::replace(&mut self.range_depth, 0);
        let (list, end) = self.item_list()?;
        self.vars = saved_vars;
        self.range_depth = saved_range;
        if !matches!(end, Parsed::End) {
            return Err(self.error(format!("unexpected {} in {CONTEXT}", parsed_name(&end))));
        }
        self.add(name, list)
    }

    fn item_list(&mut self) -> PResult<(Vec<Node>, Parsed)> {
        let mut list = Vec::new();
        while self.peek_non_space().typ != ItemType::Eof {
            match self.text_or_action()? {
                Parsed::Node(n) => list.push(n),
                other => return Ok((list, other)),
            }
        }
        Err(self.error("unexpected EOF"))
    }

    fn text_or_action(&mut self) -> PResult<Parsed> {
        let tok = self.next_non_space();
        match tok.typ {
            ItemType::Text => Ok(Parsed::Node(Node::Text {
                pos: tok.pos,
                text: Arc::from(tok.val.as_str()),
            })),
            ItemType::LeftDelim => {
                let saved = self.action_line;
                self.action_line = tok.line;
                let r = self.action();
                self.action_line = saved;
                r
            }
            _ => Err(self.unexpected(&tok, "input")),
        }
    }

    fn action(&mut self) -> PResult<Parsed> {
        let tok = self.next_non_space();
        match tok.typ {
            ItemType::Block => return self.block_control().map(Parsed::Node),
            ItemType::Break | ItemType::Continue => {
                let word = if tok.typ == ItemType::Break {
                    "break"
                } else {
                    "continue"
                };
                let t = self.next_non_space();
                if t.typ != ItemType::RightDelim {
                    return Err(self.unexpected(&t, &format!("{{{{{word}}}}}")));
                }
                if self.range_depth == 0 {
                    return Err(self.error(format!("{{{{{word}}}}} outside {{{{range}}}}")));
                }
                return Ok(Parsed::Node(if word == "break" {
                    Node::Break { pos: tok.pos }
                } else {
                    Node::Continue { pos: tok.pos }
                }));
            }
            ItemType::Else => return self.else_control(),
            ItemType::End => {
                self.expect(ItemType::RightDelim, "end")?;
                return Ok(Parsed::End);
            }
            ItemType::If => return self.branch_control("if").map(Parsed::Node),
            ItemType::Range => return self.branch_control("range").map(Parsed::Node),
            ItemType::With => return self.branch_control("with").map(Parsed::Node),
            ItemType::Template => return self.template_control().map(Parsed::Node),
            _ => {}
        }
        self.backup();
        let pos = self.peek().pos;
        let pipe = self.pipeline("command", ItemType::RightDelim)?;
        Ok(Parsed::Node(Node::Action { pos, pipe }))
    }

    fn else_control(&mut self) -> PResult<Parsed> {
        let peek = self.peek_non_space();
        let kind = match peek.typ {
            ItemType::If => Some(ElseKind::If),
            ItemType::With => Some(ElseKind::With),
            _ => None,
        };
        if kind.is_some() {
            // "{{else if ...": the if is parsed by the enclosing control.
            return Ok(Parsed::Else { else_if: kind });
        }
        self.expect(ItemType::RightDelim, "else")?;
        Ok(Parsed::Else { else_if: None })
    }

    fn branch_control(&mut self, context: &'static str) -> PResult<Node> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(self.error(format!("max nesting depth of {MAX_NESTING} exceeded")));
        }
        let vars_len = self.vars.len();
        let r = self.parse_control(context);
        self.vars.truncate(vars_len);
        self.nesting -= 1;
        let branch = r?;
        Ok(match context {
            "if" => Node::If(branch),
            "range" => Node::Range(branch),
            _ => Node::With(branch),
        })
    }

    fn parse_control(&mut self, context: &'static str) -> PResult<Branch> {
        let pipe = self.pipeline(context, ItemType::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let r = self.item_list();
        if context == "range" {
            self.range_depth -= 1;
        }
        let (list, next) = r?;
        let mut else_list = None;
        match next {
            Parsed::End => {}
            Parsed::Else { else_if, .. } => {
                let chained = match (context, else_if) {
                    ("if", Some(ElseKind::If)) => Some("if"),
                    ("with", Some(ElseKind::With)) => Some("with"),
                    _ => None,
                };
                if let Some(kw) = chained {
                    // {{if a}}_{{else if b}}_{{end}} is {{if a}}_{{else}}{{if b}}_{{end}}{{end}}:
                    // the nested control consumes the single {{end}}.
                    self.next_non_space();
                    let nested = self.branch_control(kw)?;
                    else_list = Some(vec![nested]);
                } else {
                    if else_if.is_some() {
                        // "else if" under range/with: Go reports the stray keyword.
                        let tok = self.next_non_space();
                        return Err(self.unexpected(&tok, "input"));
                    }
                    let (elist, next) = self.item_list()?;
                    if !matches!(next, Parsed::End) {
                        return Err(self.error(format!("expected end; found {}", parsed_name(&next))));
                    }
                    else_list = Some(elist);
                }
            }
            Parsed::Node(_) => {}
        }
        Ok(Branch {
            pos: pipe.pos,
            pipe,
            list,
            else_list,
        })
    }

    fn parse_template_name(&mut self, tok: &Item, context: &str) -> PResult<String> {
        match tok.typ {
            ItemType::String | ItemType::RawString => strconv::unquote(&tok.val).map_err(|e| self.error(e)),
            _ => Err(self.unexpected(tok, context)),
        }
    }

    fn template_control(&mut self) -> PResult<Node> {
        const CONTEXT: &str = "template clause";
        let tok = self.next_non_space();
        let name = self.parse_template_name(&tok, CONTEXT)?;
        let mut pipe = None;
        if self.next_non_space().typ != ItemType::RightDelim {
            self.backup();
            pipe = Some(self.pipeline(CONTEXT, ItemType::RightDelim)?);
        }
        Ok(Node::Template {
            pos: tok.pos,
            name,
            pipe,
        })
    }

    fn block_control(&mut self) -> PResult<Node> {
        const CONTEXT: &str = "block clause";
        let tok = self.next_non_space();
        let name = self.parse_template_name(&tok, CONTEXT)?;
        let pipe = self.pipeline(CONTEXT, ItemType::RightDelim)?;
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let saved_range = std::mem::replace(&mut self.range_depth, 0);
        self.nesting += 1;
        let r = self.item_list();
        self.nesting -= 1;
        self.vars = saved_vars;
        self.range_depth = saved_range;
        let (list, end) = r?;
        if !matches!(end, Parsed::End) {
            return Err(self.error(format!("unexpected {} in {CONTEXT}", parsed_name(&end))));
        }
        self.add(name.clone(), list)?;
        Ok(Node::Template {
            pos: tok.pos,
            name,
            pipe: Some(pipe),
        })
    }

    fn pipeline(&mut self, context: &str, end: ItemType) -> PResult<Pipe> {
        let start = self.peek_non_space();
        let mut pipe = Pipe {
            pos: start.pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        // Declarations: "$x :=", "$x =", "$i, $v :=".
        loop {
            let v = self.peek_non_space();
            if v.typ != ItemType::Variable {
                break;
            }
            let save = self.idx;
            let v = self.next_non_space();
            let next = self.peek_non_space();
            if next.typ == ItemType::Assign || next.typ == ItemType::Declare {
                pipe.is_assign = next.typ == ItemType::Assign;
                self.next_non_space();
                pipe.decl.push(v.val.clone());
                self.vars.push(v.val.clone());
                break;
            } else if next.typ == ItemType::Char && next.val == "," {
                self.next_non_space();
                pipe.decl.push(v.val.clone());
                self.vars.push(v.val.clone());
                if context == "range" && pipe.decl.len() < 2 {
                    match self.peek_non_space().typ {
                        ItemType::Variable | ItemType::RightDelim | ItemType::RightParen => continue,
                        _ => return Err(self.error("range can only initialize variables")),
                    }
                }
                return Err(self.error(format!("too many declarations in {context}")));
            } else {
                // Not a declaration: put the variable back.
                self.idx = save;
                break;
            }
        }
        loop {
            let tok = self.next_non_space();
            if tok.typ == end {
                self.check_pipeline(&pipe, context)?;
                return Ok(pipe);
            }
            match tok.typ {
                ItemType::Bool
                | ItemType::CharConstant
                | ItemType::Complex
                | ItemType::Dot
                | ItemType::Field
                | ItemType::Identifier
                | ItemType::Number
                | ItemType::Nil
                | ItemType::RawString
                | ItemType::String
                | ItemType::Variable
                | ItemType::LeftParen => {
                    self.backup();
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return Err(self.unexpected(&tok, context)),
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str) -> PResult<()> {
        if pipe.cmds.is_empty() {
            return Err(self.error(format!("missing value for {context}")));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if let Some(
                Arg::Bool { .. } | Arg::Dot { .. } | Arg::Nil { .. } | Arg::Number { .. } | Arg::String { .. },
            ) = c.args.first()
            {
                return Err(self.error(format!("non executable command in pipeline stage {}", i + 1)));
            }
        }
        Ok(())
    }

    fn command(&mut self) -> PResult<Command> {
        let pos = self.peek_non_space().pos;
        let mut cmd = Command { pos, args: Vec::new() };
        loop {
            self.peek_non_space();
            if let Some(op) = self.operand()? {
                cmd.args.push(op);
            }
            let tok = self.next();
            match tok.typ {
                ItemType::Space => continue,
                ItemType::RightDelim | ItemType::RightParen => self.backup(),
                ItemType::Pipe => {}
                _ => return Err(self.unexpected(&tok, "operand")),
            }
            break;
        }
        if cmd.args.is_empty() {
            return Err(self.error("empty command"));
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(node) = self.term()? else { return Ok(None) };
        if self.peek().typ != ItemType::Field {
            return Ok(Some(node));
        }
        let chain_pos = self.peek().pos;
        let mut fields = Vec::new();
        while self.peek().typ == ItemType::Field {
            let f = self.next();
            fields.push(f.val[1..].to_string());
        }
        Ok(Some(match node {
            // Go rebuilds these from the chain, so they take the chain's
            // position (that of the second field), which error columns show.
            Arg::Field { mut idents, .. } => {
                idents.extend(fields);
                Arg::Field { pos: chain_pos, idents }
            }
            Arg::Variable { mut idents, .. } => {
                idents.extend(fields);
                Arg::Variable { pos: chain_pos, idents }
            }
            n @ (Arg::Bool { .. } | Arg::String { .. } | Arg::Number { .. } | Arg::Nil { .. } | Arg::Dot { .. }) => {
                return Err(self.error(format!("unexpected . after term {}", strconv::quote(&n.to_string()))));
            }
            n => Arg::Chain {
                pos: chain_pos,
                node: Box::new(n),
                fields,
            },
        }))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let tok = self.next_non_space();
        let pos = tok.pos;
        Ok(Some(match tok.typ {
            ItemType::Identifier => {
                if !(self.has_func)(&tok.val) {
                    return Err(self.error(format!("function {} not defined", strconv::quote(&tok.val))));
                }
                Arg::Identifier { pos, name: tok.val }
            }
            ItemType::Dot => Arg::Dot { pos },
            ItemType::Nil => Arg::Nil { pos },
            ItemType::Variable => {
                let idents: Vec<String> = tok.val.split('.').map(str::to_string).collect();
                if !self.vars.iter().any(|v| *v == idents[0]) {
                    return Err(self.error(format!("undefined variable {}", strconv::quote(&idents[0]))));
                }
                Arg::Variable { pos, idents }
            }
            ItemType::Field => Arg::Field {
                pos,
                idents: tok.val[1..].split('.').map(str::to_string).collect(),
            },
            ItemType::Bool => Arg::Bool {
                pos,
                val: tok.val == "true",
            },
            ItemType::CharConstant | ItemType::Complex | ItemType::Number => {
                let num = self.number(&tok)?;
                Arg::Number {
                    pos,
                    text: tok.val,
                    num,
                }
            }
            ItemType::LeftParen => {
                self.nesting += 1;
                if self.nesting > MAX_NESTING {
                    return Err(self.error(format!("max nesting depth of {MAX_NESTING} exceeded")));
                }
                let p = self.pipeline("parenthesized pipeline", ItemType::RightParen);
                self.nesting -= 1;
                Arg::Pipe(Box::new(p?))
            }
            ItemType::String | ItemType::RawString => {
                let s = strconv::unquote(&tok.val).map_err(|e| self.error(e))?;
                Arg::String {
                    pos,
                    quoted: tok.val,
                    value: Value::from(s),
                }
            }
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }

    fn number(&self, tok: &Item) -> PResult<Number> {
        let text = tok.val.as_str();
        let mut n = Number {
            is_int: false,
            is_uint: false,
            is_float: false,
            is_complex: false,
            int: 0,
            float: 0.0,
        };
        match tok.typ {
            ItemType::CharConstant => {
                let inner = &text[1..];
                let unit = match inner.as_bytes().first() {
                    Some(b'\\') => match inner.as_bytes().get(1) {
                        Some(b'x') => 4,
                        Some(b'u') => 6,
                        Some(b'U') => 10,
                        Some(b'0'..=b'7') => 4,
                        _ => 2,
                    },
                    _ => inner.chars().next().map_or(0, char::len_utf8),
                };
                let unit = unit.min(inner.len());
                let s = strconv::unquote(&format!("'{}'", &inner[..unit])).map_err(|e| self.error(e))?;
                if &inner[unit..] != "'" {
                    return Err(self.error(format!("malformed character constant: {text}")));
                }
                let Some(c) = s.chars().next() else {
                    return Err(self.error("invalid syntax"));
                };
                n.int = c as i64;
                n.is_int = true;
                n.is_uint = true;
                n.float = c as u32 as f64;
                n.is_float = true;
                return Ok(n);
            }
            ItemType::Complex => return Err(self.error(format!("complex numbers are not supported: {text}"))),
            _ => {}
        }
        if text.ends_with('i') {
            return Err(self.error(format!("complex numbers are not supported: {text}")));
        }
        let u = strconv::parse_uint(text);
        if u.is_some() {
            n.is_uint = true;
        }
        if let Some(i) = strconv::parse_int(text) {
            n.is_int = true;
            n.int = i;
            if i == 0 {
                n.is_uint = true;
            }
        }
        if n.is_int {
            n.is_float = true;
            n.float = n.int as f64;
        } else if let Some(u) = u {
            n.is_float = true;
            n.float = u as f64;
        } else if let Ok(f) = strconv::parse_float(text) {
            if !text.contains(['.', 'e', 'E', 'p', 'P']) {
                return Err(self.error(format!("integer overflow: {}", strconv::quote(text))));
            }
            n.is_float = true;
            n.float = f;
            if f.fract() == 0.0 && (-9.223372036854776e18..9.223372036854776e18).contains(&f) {
                n.is_int = true;
                n.int = f as i64;
            }
            if f.fract() == 0.0 && (0.0..1.8446744073709552e19).contains(&f) {
                n.is_uint = true;
            }
        }
        if !n.is_int && !n.is_uint && !n.is_float {
            return Err(self.error(format!("illegal number syntax: {}", strconv::quote(text))));
        }
        Ok(n)
    }
}

fn parsed_name(p: &Parsed) -> &'static str {
    match p {
        Parsed::End => "{{end}}",
        Parsed::Else { .. } => "{{else}}",
        Parsed::Node(_) => "node",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn funcs(name: &str) -> bool {
        matches!(name, "printf" | "len" | "eq")
    }

    fn err(text: &str) -> String {
        match parse("t", text, &funcs) {
            Ok(_) => "ok".into(),
            Err(e) => e.to_string(),
        }
    }

    fn round_trip(text: &str) -> String {
        let trees = parse("t", text, &funcs).expect("parse");
        trees["t"].root.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn node_strings() {
        assert_eq!(round_trip("{{.A.B | printf \"%d\" 3}}"), "{{.A.B | printf \"%d\" 3}}");
        assert_eq!(round_trip("{{$x := (len .)}}{{$x}}"), "{{$x := (len .)}}{{$x}}");
        assert_eq!(
            round_trip("{{if .}}a{{else if $}}b{{else}}c{{end}}"),
            "{{if .}}a{{else}}{{if $}}b{{else}}c{{end}}{{end}}"
        );
        assert_eq!(
            round_trip("{{range $i, $v := .}}{{$i}}{{end}}"),
            "{{range $i, $v := .}}{{$i}}{{end}}"
        );
        assert_eq!(round_trip("{{(.).X}}"), "{{(.).X}}");
    }

    #[test]
    fn errors_match_go() {
        assert_eq!(
            err("{{humanise 1}}"),
            "template: t:1: function \"humanise\" not defined"
        );
        assert_eq!(err("a\n{{$x}}"), "template: t:2: undefined variable \"$x\"");
        assert_eq!(err("{{if .}}"), "template: t:1: unexpected EOF");
        assert_eq!(err("{{end}}"), "template: t:1: unexpected {{end}}");
        assert_eq!(err("{{}}"), "template: t:1: missing value for command");
        assert_eq!(
            err("{{ . | 3 }}"),
            "template: t:1: non executable command in pipeline stage 2"
        );
        assert_eq!(
            err("{{ \"x\".y }}"),
            "template: t:1: unexpected . after term \"\\\"x\\\"\""
        );
        assert_eq!(err("{{"), "template: t:1: unclosed action");
        assert_eq!(err("{{break}}"), "template: t:1: {{break}} outside {{range}}");
        assert_eq!(err("{{range .}}{{break}}{{end}}"), "ok");
        assert_eq!(
            err("{{define \"a\"}}x{{end}}{{define \"a\"}}y{{end}}"),
            "template: t:1: template: multiple definition of template \"a\""
        );
        assert_eq!(err("{{ 1x }}"), "template: t:1: bad number syntax: \"1x\"");
        assert_eq!(
            err("{{ 99999999999999999999 }}"),
            "template: t:1: integer overflow: \"99999999999999999999\""
        );
        assert_eq!(err("{{ .X ) }}"), "template: t:1: unexpected \")\" in command");
        assert_eq!(err("{{ (.X }}"), "template: t:1: unclosed left paren");
        assert_eq!(
            err("{{with $x := 1}}{{end}}{{$x}}"),
            "template: t:1: undefined variable \"$x\""
        );
        assert_eq!(
            err("{{$x, $y := 1}}"),
            "template: t:1: too many declarations in command"
        );
        assert_eq!(
            err("{{if 1}}{{else}}{{else}}{{end}}"),
            "template: t:1: expected end; found {{else}}"
        );
        assert_eq!(
            err("{{template .X}}"),
            "template: t:1: unexpected \".X\" in template clause"
        );
    }

    #[test]
    fn defines_are_separate_trees() {
        let trees = parse("t", "{{define \"a\"}}A{{end}}x{{block \"b\" .}}B{{end}}", &funcs).expect("parse");
        assert!(trees.contains_key("a"));
        assert!(trees.contains_key("b"));
        assert_eq!(trees["t"].root.len(), 2);
    }
}
