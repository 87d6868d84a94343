//! [`Slice`]: a Python `slice(start, stop)` as produced by [`Roi::to_slices`](crate::Roi::to_slices).

use std::fmt;

/// A half-open index range `start:stop` with optional ends, like Python's `slice(start, stop)`.
///
/// `None` means "from the beginning" (start) or "to the end" (stop). There is no step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Slice {
    /// The first index, or `None` for the beginning.
    pub start: Option<i64>,
    /// One past the last index, or `None` for the end.
    pub stop: Option<i64>,
}

impl Slice {
    /// Creates a slice from its ends.
    #[inline]
    pub const fn new(start: Option<i64>, stop: Option<i64>) -> Slice {
        Slice { start, stop }
    }

    /// The slice that selects everything, `slice(None, None)`.
    #[inline]
    pub const fn full() -> Slice {
        Slice {
            start: None,
            stop: None,
        }
    }
}

/// Writes an optional integer the way Python prints it.
fn write_option(f: &mut fmt::Formatter<'_>, v: Option<i64>) -> fmt::Result {
    match v {
        Some(v) => write!(f, "{v}"),
        None => f.write_str("None"),
    }
}

impl fmt::Display for Slice {
    /// Formats like Python's slice repr: `slice(0, 5, None)`, `slice(None, None, None)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("slice(")?;
        write_option(f, self.start)?;
        f.write_str(", ")?;
        write_option(f, self.stop)?;
        f.write_str(", None)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_the_python_repr() {
        assert_eq!(
            Slice::new(Some(0), Some(5)).to_string(),
            "slice(0, 5, None)"
        );
        assert_eq!(Slice::full().to_string(), "slice(None, None, None)");
        assert_eq!(
            Slice::new(None, Some(0)).to_string(),
            "slice(None, 0, None)"
        );
        assert_eq!(
            Slice::new(Some(-3), None).to_string(),
            "slice(-3, None, None)"
        );
    }

    #[test]
    fn constructors() {
        assert_eq!(
            Slice::full(),
            Slice {
                start: None,
                stop: None
            }
        );
        assert_eq!(
            Slice::new(Some(2), Some(5)),
            Slice {
                start: Some(2),
                stop: Some(5)
            }
        );
    }
}
