//! `Context` and the `DAISY_CONTEXT` environment variable (docs/semantics.md#workers-and-daisy_context).

use std::fmt;

use crate::ProtocolError;

/// The environment variable that carries a worker's context.
pub const ENV_VARIABLE: &str = "DAISY_CONTEXT";

/// The key of the server certificate's SHA-256 fingerprint (64 lowercase hex digits) when the
/// server speaks TLS (`docs/protocol.md`); a client given it connects over TLS only.
pub const TLS_FINGERPRINT_KEY: &str = "tls_sha256";

/// What a worker needs to connect: `key=value` pairs in insertion order, printed as
/// `k=v:k=v:…`.
///
/// daisy's keys come first, in daisy's order: `logdir`, `hostname`, `port`, `task_id`,
/// `worker_id`; the run's secret `token` follows.
///
/// Any key and value can be carried. An item whose key and value contain no `:`, `=` or NUL
/// is written `key=value`, as daisy 1.x writes and reads it; any other item is written
/// `key==value` with `%`, `:`, `=` and NUL percent-encoded (`%25`, `%3A`, `%3D`, `%00`) in
/// both, which daisy 1.x cannot read (it could not represent the value either).
///
/// ```
/// use daisy_protocol::Context;
///
/// let mut ctx = Context::new();
/// ctx.set("logdir", "daisy_logs");
/// ctx.set("hostname", "h");
/// ctx.set("port", "1234");
/// assert_eq!(ctx.to_env(), "logdir=daisy_logs:hostname=h:port=1234");
/// let parsed = Context::from_env_str(&ctx.to_env()).unwrap();
/// assert_eq!(parsed.port().unwrap(), 1234);
///
/// ctx.set("hostname", "fe80::1%eth0");
/// assert_eq!(ctx.to_env(), "logdir=daisy_logs:hostname==fe80%3A%3A1%25eth0:port=1234");
/// assert_eq!(Context::from_env_str(&ctx.to_env()).unwrap(), ctx);
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
    #[must_use]
    pub fn for_worker(
        logdir: Option<&str>,
        hostname: &str,
        port: u16,
        task_id: &str,
        worker_id: u64,
        token: &str,
    ) -> Self {
        let mut ctx = Self::new();
        ctx.set("logdir", logdir.unwrap_or("None"));
        ctx.set("hostname", hostname);
        ctx.set("port", &port.to_string());
        ctx.set("task_id", task_id);
        ctx.set("worker_id", &worker_id.to_string());
        ctx.set("token", token);
        ctx
    }

    /// Sets a value (any text), appending new keys; an existing key keeps its position.
    pub fn set(&mut self, key: &str, value: &str) {
        match self.entries.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value.to_owned(),
            None => self.entries.push((key.to_owned(), value.to_owned())),
        }
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
    /// - an item with exactly one `=` is `key=value`, both taken as they are (either may be
    ///   empty): daisy 1.x's form;
    /// - an item `key==value` (two adjacent `=` and no other) has its key and value
    ///   percent-decoded: `%` followed by two hex digits is that byte, and the bytes must be
    ///   UTF-8;
    /// - any key is accepted and kept in order (daisy's, the engine's `token` and `prefetch`,
    ///   anything a user added); a repeated key keeps its first position and its last value.
    ///
    /// ```
    /// use daisy_protocol::Context;
    ///
    /// let ctx = Context::from_env_str("hostname=h:port=1:mine=:hostname=g").unwrap();
    /// assert_eq!(ctx.to_env(), "hostname=g:port=1:mine=");
    /// let ctx = Context::from_env_str("hostname==%3A%3A1:raw=100%3A").unwrap();
    /// assert_eq!(ctx.get("hostname"), Some("::1"));
    /// assert_eq!(ctx.get("raw"), Some("100%3A")); // a key=value item is not decoded
    /// assert!(Context::from_env_str("hostname=h:").is_err()); // an empty item
    /// assert!(Context::from_env_str("a=b=c").is_err());
    /// assert!(Context::from_env_str("a==%zz").is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// [`ProtocolError::MalformedContext`], naming the first item that is neither `key=value`
    /// nor `key==value`, or [`ProtocolError::ContextEscape`] for the first bad escape.
    pub fn from_env_str(text: &str) -> Result<Self, ProtocolError> {
        let mut ctx = Self::new();
        for (i, item) in text.split(':').enumerate() {
            let (key, value) = parse_item(item, i + 1)?;
            match ctx.entries.iter_mut().find(|(k, _)| *k == key) {
                Some(existing) => existing.1 = value,
                None => ctx.entries.push((key, value)),
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
            if needs_escape(k) || needs_escape(v) {
                write!(f, "{}=={}", Escaped(k), Escaped(v))?;
            } else {
                write!(f, "{k}={v}")?;
            }
        }
        Ok(())
    }
}

/// The characters a `key=value` item cannot hold: the separators, and NUL, which no
/// environment variable can hold.
const SPECIAL: [char; 3] = [':', '=', '\0'];

/// Whether a key or value must be written in the escaped `key==value` form.
fn needs_escape(text: &str) -> bool {
    text.contains(SPECIAL)
}

/// A key or value with `%`, `:`, `=` and NUL percent-encoded.
struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(|c| c == '%' || SPECIAL.contains(&c)) {
            f.write_str(&rest[..at])?;
            // Every escaped character is one ASCII byte.
            write!(f, "%{:02X}", rest.as_bytes()[at])?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

/// One item of the text (`position` from 1): `key=value` as it is, or `key==value` decoded.
fn parse_item(item: &str, position: usize) -> Result<(String, String), ProtocolError> {
    let malformed = || ProtocolError::MalformedContext {
        entry: item.to_owned(),
        position,
    };
    match item.matches('=').count() {
        1 => {
            let (key, value) = item.split_once('=').ok_or_else(malformed)?;
            Ok((key.to_owned(), value.to_owned()))
        }
        2 => {
            let (key, value) = item.split_once("==").ok_or_else(malformed)?;
            let decode = |text| {
                unescape(text).map_err(|reason| ProtocolError::ContextEscape {
                    entry: item.to_owned(),
                    position,
                    reason,
                })
            };
            Ok((decode(key)?, decode(value)?))
        }
        _ => Err(malformed()),
    }
}

/// Percent-decodes an escaped key or value; the error says what is wrong.
fn unescape(text: &str) -> Result<String, &'static str> {
    if !text.contains('%') {
        return Ok(text.to_owned());
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let digit = |at: usize| bytes.get(at).copied().and_then(hex_digit);
            let (Some(high), Some(low)) = (digit(i + 1), digit(i + 2)) else {
                return Err("'%' must be followed by two hex digits");
            };
            out.push(high << 4 | low);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the decoded bytes are not UTF-8")
}

/// The value of an ASCII hex digit (either case).
fn hex_digit(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn daisy_format_and_order() {
        let ctx = Context::for_worker(Some("daisy_logs"), "10.1.2.3", 43125, "A", 3, "abc123");
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
        let none = Context::for_worker(None, "h", 1, "A", 0, "t");
        assert!(none.to_env().starts_with("logdir=None:"));
        assert_eq!(none.logdir(), None);
    }

    #[test]
    fn bad_fields_are_refused() {
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
            ("a=1:b=2==3", "b=2==3", 2),
            ("b===3", "b===3", 1),
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
             (items are separated by ':', each has exactly one '=', or '==' before a \
             percent-escaped value)"
        );
    }

    /// The values of issue 8 item 7: IPv6 literals, paths with `:` or `=`, empty, unicode.
    #[test]
    fn context_carries_ipv6_hosts_paths_with_separators_and_unicode() {
        let mut ctx = Context::new();
        for (key, value) in [
            ("hostname", "::1"),
            ("link", "fe80::1%eth0"),
            ("logdir", "C:\\data\\run=3"),
            ("empty", ""),
            ("unicode", "données/日本語"),
            ("k:e=y", "plain"),
            ("nul", "a\0b"),
        ] {
            ctx.set(key, value);
        }
        assert_eq!(
            ctx.to_env(),
            "hostname==%3A%3A1:link==fe80%3A%3A1%25eth0:logdir==C%3A\\data\\run%3D3:empty=:\
             unicode=données/日本語:k%3Ae%3Dy==plain:nul==a%00b"
        );
        assert_eq!(Context::from_env_str(&ctx.to_env()).unwrap(), ctx);
        assert_eq!(ctx.get("link"), Some("fe80::1%eth0"));
        // lowercase hex decodes too; a key=value item is never decoded
        let ctx = Context::from_env_str("h==%3a%3a1:p=50%3A").unwrap();
        assert_eq!((ctx.get("h"), ctx.get("p")), (Some("::1"), Some("50%3A")));
    }

    #[test]
    fn bad_escapes_name_the_item() {
        for (text, reason) in [
            ("a=1:k==%", "'%' must be followed by two hex digits"),
            ("a=1:k==%4", "'%' must be followed by two hex digits"),
            ("a=1:k==%+F", "'%' must be followed by two hex digits"),
            ("a=1:k==%zz", "'%' must be followed by two hex digits"),
            ("a=1:k==%FF", "the decoded bytes are not UTF-8"),
        ] {
            let error = Context::from_env_str(text).unwrap_err();
            let item = &text[4..];
            assert!(
                matches!(&error, ProtocolError::ContextEscape { entry, position: 2, reason: r }
                    if entry == item && *r == reason),
                "{text}: {error}"
            );
            assert_eq!(
                error.to_string(),
                format!("DAISY_CONTEXT item 2 '{item}' has a bad escape: {reason}")
            );
        }
    }

    /// Keys and values that daisy 1.x can write (`str.split(":")`, then `split("=")` into two).
    fn daisy1_text() -> impl Strategy<Value = String> {
        "[^:=\u{0}]{0,12}"
    }

    /// Any text, with the special characters and `%`-sequences made likely.
    fn any_text() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                Just(":".to_owned()),
                Just("=".to_owned()),
                Just("%".to_owned()),
                Just("%3A".to_owned()),
                Just("\0".to_owned()),
                Just("==".to_owned()),
                "\\PC{0,3}",
            ],
            0..6,
        )
        .prop_map(|parts| parts.concat())
    }

    /// A context of the given items (later duplicates overwrite, as `set` does).
    fn context_of(items: &[(String, String)]) -> Context {
        let mut ctx = Context::new();
        for (k, v) in items {
            ctx.set(k, v);
        }
        ctx
    }

    proptest! {
        #[test]
        fn any_context_round_trips(
            items in prop::collection::vec((any_text(), any_text()), 1..6),
        ) {
            let ctx = context_of(&items);
            let text = ctx.to_env();
            prop_assert!(!text.contains('\0'), "{text}");
            prop_assert_eq!(Context::from_env_str(&text).unwrap(), ctx);
        }

        #[test]
        fn any_text_parses_or_is_refused_and_what_parses_round_trips(
            text in prop::collection::vec(any_text(), 0..4).prop_map(|p| p.concat()),
        ) {
            if let Ok(ctx) = Context::from_env_str(&text) {
                prop_assert_eq!(Context::from_env_str(&ctx.to_env()).unwrap(), ctx);
            }
        }

        #[test]
        fn daisy1_items_are_written_as_daisy1_writes_them(
            items in prop::collection::vec((daisy1_text(), daisy1_text()), 1..6),
        ) {
            let ctx = context_of(&items);
            let daisy1 = ctx
                .entries()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(":");
            prop_assert_eq!(ctx.to_env(), daisy1.clone());
            prop_assert_eq!(Context::from_env_str(&daisy1).unwrap(), ctx);
        }
    }
}
