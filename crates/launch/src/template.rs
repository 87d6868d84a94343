//! Command templates: `{placeholder}` parsing, validation, rendering and shell quoting.

use std::fmt::Write as _;
use std::path::Path;

use crate::LaunchError;

/// The placeholders a command template may use.
pub(crate) const PLACEHOLDERS: [&str; 5] =
    ["task_id", "worker_id", "context", "log_out", "log_err"];

/// A value that can stand in a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placeholder {
    TaskId,
    WorkerId,
    Context,
    LogOut,
    LogErr,
}

impl Placeholder {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "task_id" => Self::TaskId,
            "worker_id" => Self::WorkerId,
            "context" => Self::Context,
            "log_out" => Self::LogOut,
            "log_err" => Self::LogErr,
            _ => return None,
        })
    }
}

/// A piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Value(Placeholder),
}

/// What a template's placeholders are replaced by (unquoted).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Values<'a> {
    pub task_id: &'a str,
    pub worker_id: u64,
    pub context: &'a str,
    /// The `.out` and `.err` files, or None when output is not redirected.
    pub log_files: Option<(&'a Path, &'a Path)>,
}

/// A validated command template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    source: String,
    pieces: Vec<Piece>,
}

impl Template {
    /// Parses `source`: `{name}` is a placeholder, `{{` and `}}` are literal braces.
    pub(crate) fn parse(source: &str) -> Result<Self, LaunchError> {
        let problem = |problem: String| LaunchError::Template {
            template: source.to_owned(),
            problem,
        };
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut chars = source.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match c {
                '{' if chars.peek().is_some_and(|&(_, n)| n == '{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek().is_some_and(|&(_, n)| n == '}') => {
                    chars.next();
                    text.push('}');
                }
                '{' => {
                    let rest = &source[at + 1..];
                    let Some(len) = rest.find('}') else {
                        return Err(problem(format!(
                            "unclosed '{{' at byte {at} (write '{{{{' for a literal brace)"
                        )));
                    };
                    let name = &rest[..len];
                    let Some(placeholder) = Placeholder::parse(name) else {
                        return Err(problem(format!(
                            "unknown placeholder {{{name}}} (known: {}; write '{{{{' for a literal brace)",
                            PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(", ")
                        )));
                    };
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    pieces.push(Piece::Value(placeholder));
                    // Skip the name and the closing brace.
                    for _ in 0..=name.chars().count() {
                        chars.next();
                    }
                }
                '}' => {
                    return Err(problem(format!(
                        "unmatched '}}' at byte {at} (write '}}}}' for a literal brace)"
                    )));
                }
                _ => text.push(c),
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Self {
            source: source.to_owned(),
            pieces,
        })
    }

    /// The template as given.
    pub(crate) fn source(&self) -> &str {
        &self.source
    }

    /// The command line: placeholders replaced by shell-quoted values.
    pub(crate) fn render(&self, values: &Values<'_>) -> String {
        let mut out = String::with_capacity(self.source.len() + values.context.len());
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Value(Placeholder::TaskId) => out.push_str(&shell_quote(values.task_id)),
                Piece::Value(Placeholder::WorkerId) => {
                    let _ = write!(out, "{}", values.worker_id);
                }
                Piece::Value(Placeholder::Context) => out.push_str(&shell_quote(values.context)),
                Piece::Value(Placeholder::LogOut) => {
                    out.push_str(&quote_path(values.log_files.map(|(out, _)| out)))
                }
                Piece::Value(Placeholder::LogErr) => {
                    out.push_str(&quote_path(values.log_files.map(|(_, err)| err)))
                }
            }
        }
        out
    }
}

fn quote_path(path: Option<&Path>) -> String {
    shell_quote(
        &path
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default(),
    )
}

/// Quotes `text` as one word for `sh`: unchanged if it has only characters the shell leaves
/// alone, else in single quotes (a `'` inside becomes `'\''`); the empty string is `''`.
pub(crate) fn shell_quote(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./=:,+@%".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        return text.to_owned();
    }
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values<'a>(context: &'a str, log: Option<(&'a Path, &'a Path)>) -> Values<'a> {
        Values {
            task_id: "A",
            worker_id: 7,
            context,
            log_files: log,
        }
    }

    #[test]
    fn renders_all_placeholders() {
        let template = Template::parse(
            "bsub -K -o {log_out} -e {log_err} -J {task_id}_{worker_id} run {context}",
        )
        .unwrap();
        let out = Path::new("/logs/A/worker_7.out");
        let err = Path::new("/logs/my logs/worker_7.err");
        assert_eq!(
            template.render(&values("port=1:host=h", Some((out, err)))),
            "bsub -K -o /logs/A/worker_7.out -e '/logs/my logs/worker_7.err' -J A_7 run port=1:host=h"
        );
        assert_eq!(
            template.render(&values("logdir=my logs:port=1", None)),
            "bsub -K -o '' -e '' -J A_7 run 'logdir=my logs:port=1'"
        );
    }

    #[test]
    fn braces_escape() {
        let template = Template::parse("awk '{{print $1}}' {worker_id}}}{{").unwrap();
        assert_eq!(template.render(&values("c", None)), "awk '{print $1}' 7}{");
        assert_eq!(template.source(), "awk '{{print $1}}' {worker_id}}}{{");
    }

    #[test]
    fn bad_templates_are_refused() {
        let err = Template::parse("run {job_name} now").unwrap_err();
        assert!(
            err.to_string().contains("unknown placeholder {job_name}"),
            "{err}"
        );
        let err = Template::parse("run {worker_id").unwrap_err();
        assert!(err.to_string().contains("unclosed '{'"), "{err}");
        let err = Template::parse("run }").unwrap_err();
        assert!(err.to_string().contains("unmatched '}'"), "{err}");
        assert!(Template::parse("{}").is_err());
        // A multi-byte name is skipped as a whole.
        assert!(Template::parse("{wörker}").is_err());
        assert_eq!(
            Template::parse("é{worker_id}é")
                .unwrap()
                .render(&values("c", None)),
            "é7é"
        );
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("abc-1.2/x=y:z"), "abc-1.2/x=y:z");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
    }
}
