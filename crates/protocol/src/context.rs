//! `Context` and the `DAISY_CONTEXT` environment variable (docs/semantics.md#workers-and-daisy_context).

use std::fmt;

use crate::ProtocolError;

/// The environment variable that carries a worker's context.
pub const ENV_VARIABLE: &str = "DAISY_CONTEXT";

/// What a worker needs to connect: `key=value` pairs in insertion order, printed as
/// `k=v:k=v:…`.
///
/// daisy's keys come first, in daisy's order: `logdir`, `hostname`, `port`, `task_id`,
/// `worker_id`; the run's secret `token` follows.
///
/// ```
/// use daisy_protocol::Context;
///
/// let mut ctx = Context::new();
/// ctx.set("logdir", "daisy_logs").unwrap();
/// ctx.set("hostname", "h").unwrap();
/// ctx.set("port", "1234").unwrap();
/// assert_eq!(ctx.to_env(), "logdir=daisy_logs:hostname=h:port=1234");
/// let parsed = Context::from_env_str(&ctx.to_env()).unwrap();
/// assert_eq!(parsed.port().unwrap(), 1234);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    entries: Vec<(String, String)>,
}

impl Context {
    /// An empty context.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The context of a worker started by a server.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::InvalidContextText`] if a value contains `:` or `=` (e.g. a log directory).
    pub fn for_worker(
        logdir: Option<&str>,
        hostname: &str,
        port: u16,
        task_id: &str,
        worker_id: u64,
        token: &str,
    ) -> Result<Self, ProtocolError> {
        let mut ctx = Self::new();
        ctx.set("logdir", logdir.unwrap_or("None"))?;
        ctx.set("hostname", hostname)?;
        ctx.set("port", &port.to_string())?;
        ctx.set("task_id", task_id)?;
        ctx.set("worker_id", &worker_id.to_string())?;
        ctx.set("token", token)?;
        Ok(ctx)
    }

    /// Sets a value, appending new keys.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::InvalidContextText`] if the key or value contains `:` or `=`.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ProtocolError> {
        for (what, text) in [("key", key), ("value", value)] {
            if text.contains([':', '=']) {
                return Err(ProtocolError::InvalidContextText {
                    what,
                    text: text.to_owned(),
                });
            }
        }
        match self.entries.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value.to_owned(),
            None => self.entries.push((key.to_owned(), value.to_owned())),
        }
        Ok(())
    }

    /// A value, if set.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// All entries in order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The `k=v:k=v` form.
    #[must_use]
    pub fn to_env(&self) -> String {
        self.to_string()
    }

    /// Parses the `k=v:k=v` form, daisy's rule (the one parser of `DAISY_CONTEXT`):
    ///
    /// - the text is split at every `:` into items;
    /// - every item, an empty one too, holds exactly one `=`: the key is the text before it,
    ///   the value the text after it (either may be empty);
    /// - any key is accepted and kept in order (daisy's, the engine's `token` and `prefetch`,
    ///   anything a user added); a repeated key keeps its first position and its last value.
    ///
    /// ```
    /// use daisy_protocol::Context;
    ///
    /// let ctx = Context::from_env_str("hostname=h:port=1:mine=:hostname=g").unwrap();
    /// assert_eq!(ctx.to_env(), "hostname=g:port=1:mine=");
    /// assert!(Context::from_env_str("hostname=h:").is_err()); // an empty item
    /// assert!(Context::from_env_str("a=b=c").is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// [`ProtocolError::MalformedContext`], naming the first item that is not `key=value`.
    pub fn from_env_str(text: &str) -> Result<Self, ProtocolError> {
        let mut ctx = Self::new();
        for (i, entry) in text.split(':').enumerate() {
            let malformed = || ProtocolError::MalformedContext {
                entry: entry.to_owned(),
                position: i + 1,
            };
            let (key, value) = entry.split_once('=').ok_or_else(malformed)?;
            if value.contains('=') {
                return Err(malformed());
            }
            match ctx.entries.iter_mut().find(|(k, _)| k == key) {
                Some(existing) => existing.1 = value.to_owned(),
                None => ctx.entries.push((key.to_owned(), value.to_owned())),
            }
        }
        Ok(ctx)
    }

    /// Reads `DAISY_CONTEXT` from the environment.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::MissingContext`] if it is not set, or a parse error.
    pub fn from_env() -> Result<Self, ProtocolError> {
        let text = std::env::var(ENV_VARIABLE).map_err(|_| ProtocolError::MissingContext)?;
        Self::from_env_str(&text)
    }

    fn field(&self, key: &'static str) -> Result<&str, ProtocolError> {
        self.get(key)
            .ok_or(ProtocolError::ContextField { key, found: None })
    }

    /// The server's host name or address.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::ContextField`] if missing.
    pub fn hostname(&self) -> Result<&str, ProtocolError> {
        self.field("hostname")
    }

    /// The server's port.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::ContextField`] if missing or not a port number.
    pub fn port(&self) -> Result<u16, ProtocolError> {
        let text = self.field("port")?;
        text.parse().map_err(|_| ProtocolError::ContextField {
            key: "port",
            found: Some(text.to_owned()),
        })
    }

    /// The task id.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::ContextField`] if missing.
    pub fn task_id(&self) -> Result<&str, ProtocolError> {
        self.field("task_id")
    }

    /// The worker id, if the server started this worker.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::ContextField`] if present but not a number.
    pub fn worker_id(&self) -> Result<Option<u64>, ProtocolError> {
        self.get("worker_id")
            .map(|text| {
                text.parse().map_err(|_| ProtocolError::ContextField {
                    key: "worker_id",
                    found: Some(text.to_owned()),
                })
            })
            .transpose()
    }

    /// The run's secret token (empty if the context has none).
    #[must_use]
    pub fn token(&self) -> &str {
        self.get("token").unwrap_or("")
    }

    /// The log directory, `None` if unset or `"None"`.
    #[must_use]
    pub fn logdir(&self) -> Option<&str> {
        self.get("logdir").filter(|d| *d != "None")
    }
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.entries.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{k}={v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daisy_format_and_order() {
        let ctx =
            Context::for_worker(Some("daisy_logs"), "10.1.2.3", 43125, "A", 3, "abc123").unwrap();
        assert_eq!(
            ctx.to_env(),
            "logdir=daisy_logs:hostname=10.1.2.3:port=43125:task_id=A:worker_id=3:token=abc123"
        );
        let back = Context::from_env_str(&ctx.to_env()).unwrap();
        assert_eq!(back, ctx);
        assert_eq!(
            (back.hostname().unwrap(), back.port().unwrap()),
            ("10.1.2.3", 43125)
        );
        assert_eq!(
            (
                back.task_id().unwrap(),
                back.worker_id().unwrap(),
                back.token()
            ),
            ("A", Some(3), "abc123")
        );
        assert_eq!(back.logdir(), Some("daisy_logs"));
        let none = Context::for_worker(None, "h", 1, "A", 0, "t").unwrap();
        assert!(none.to_env().starts_with("logdir=None:"));
        assert_eq!(none.logdir(), None);
    }

    #[test]
    fn bad_text_is_refused() {
        let mut ctx = Context::new();
        assert!(matches!(
            ctx.set("a:b", "v"),
            Err(ProtocolError::InvalidContextText { what: "key", .. })
        ));
        assert!(matches!(
            ctx.set("k", "C:\\x"),
            Err(ProtocolError::InvalidContextText { what: "value", .. })
        ));
        assert!(matches!(
            Context::from_env_str("logdir"),
            Err(ProtocolError::MalformedContext { .. })
        ));
        let ctx = Context::from_env_str("port=http").unwrap();
        assert_eq!(
            ctx.port().unwrap_err().to_string(),
            "DAISY_CONTEXT has no valid port: 'http'"
        );
        assert_eq!(
            ctx.hostname().unwrap_err().to_string(),
            "DAISY_CONTEXT has no valid hostname"
        );
        assert!(matches!(
            ctx.hostname(),
            Err(ProtocolError::ContextField {
                key: "hostname",
                found: None
            })
        ));
    }

    #[test]
    fn one_rule_for_items() {
        // Any key, empty values and empty keys are items like others.
        let ctx = Context::from_env_str("my.key=1:empty=:=v").unwrap();
        assert_eq!(
            ctx.entries().collect::<Vec<_>>(),
            [("my.key", "1"), ("empty", ""), ("", "v")]
        );
        assert_eq!(ctx.to_env(), "my.key=1:empty=:=v");
        for (text, item, position) in [
            ("", "", 1),
            ("a=1:", "", 2),
            ("a=1::b=2", "", 2),
            ("hostname", "hostname", 1),
            ("a=1:b=2=3", "b=2=3", 2),
        ] {
            let error = Context::from_env_str(text).unwrap_err();
            assert!(
                matches!(&error, ProtocolError::MalformedContext { entry, position: p }
                    if entry == item && *p == position),
                "{text}: {error}"
            );
        }
        assert_eq!(
            Context::from_env_str("a=1:b=2=3").unwrap_err().to_string(),
            "DAISY_CONTEXT item 2 'b=2=3' is not of the form key=value \
             (items are separated by ':', each has exactly one '=')"
        );
    }
}
