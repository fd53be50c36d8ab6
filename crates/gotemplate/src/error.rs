//! Error types. Their Display output is byte-for-byte what Go's
//! `text/template` returns, since alert annotations embed these messages.

/// A template failed to parse: `template: NAME:LINE: MESSAGE`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template: {name}:{line}: {message}")]
pub struct ParseError {
    /// Name given to the parse call (Go's `ParseName`).
    pub name: String,
    pub line: usize,
    pub message: String,
}

/// Execution failed. `message` is the complete Go-formatted text, e.g.
/// `template: t:1:3: executing "t" at <.X>: can't evaluate field X in type int`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExecError {
    /// The template being executed when the error happened.
    pub name: String,
    pub message: String,
}

/// Either kind of template error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Exec(#[from] ExecError),
}
