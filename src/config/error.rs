//! Config problems written for the operator: where (line/column or a path) and what.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Where {
    /// 1-based line and column in the YAML file.
    Position { line: usize, column: usize },
    /// A path such as `routes[2].auth.roles`.
    Path(String),
    /// The file as a whole (unreadable, empty...).
    File,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub at: Where,
    pub message: String,
}

impl ConfigError {
    pub fn at(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            at: Where::Path(path.into()),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.at {
            Where::Position { line, column } => {
                write!(f, "line {line}, column {column}: {}", self.message)
            }
            Where::Path(p) => write!(f, "{p}: {}", self.message),
            Where::File => write!(f, "{}", self.message),
        }
    }
}

/// Every problem found in one pass, so the operator fixes them all at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    pub source: String,
    pub errors: Vec<ConfigError>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {} problem(s) in the configuration:",
            self.source,
            self.errors.len()
        )?;
        for e in &self.errors {
            writeln!(f, "  - {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}
