//! [`SnapMode`]: how [`Roi::snap_to_grid`](crate::Roi::snap_to_grid) rounds to the grid.

use std::fmt;
use std::str::FromStr;

use crate::error::GeometryError;

/// How [`Roi::snap_to_grid`](crate::Roi::snap_to_grid) aligns a ROI that is not on the grid.
///
/// | mode | begin | end |
/// |---|---|---|
/// | `Grow` (the default) | `floor_division` | `ceil_division` |
/// | `Shrink` | `ceil_division` | `floor_division` |
/// | `Closest` | `round_division` | `round_division` |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SnapMode {
    /// Grow to the smallest grid-aligned ROI that contains the original (`"grow"`).
    #[default]
    Grow,
    /// Shrink to the largest grid-aligned ROI contained in the original (`"shrink"`).
    Shrink,
    /// Move each end to the closest grid line, halves rounding down (`"closest"`).
    Closest,
}

impl SnapMode {
    /// The mode's name as funlib spells it: `"grow"`, `"shrink"` or `"closest"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            SnapMode::Grow => "grow",
            SnapMode::Shrink => "shrink",
            SnapMode::Closest => "closest",
        }
    }
}

impl FromStr for SnapMode {
    type Err = GeometryError;

    /// Parses `"grow"`, `"shrink"` or `"closest"` (case-sensitive, as in funlib).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "grow" => Ok(SnapMode::Grow),
            "shrink" => Ok(SnapMode::Shrink),
            "closest" => Ok(SnapMode::Closest),
            other => Err(GeometryError::UnknownSnapMode {
                mode: other.to_owned(),
            }),
        }
    }
}

impl fmt::Display for SnapMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        for mode in [SnapMode::Grow, SnapMode::Shrink, SnapMode::Closest] {
            assert_eq!(mode.to_string().parse::<SnapMode>(), Ok(mode));
        }
        assert_eq!("grow".parse::<SnapMode>(), Ok(SnapMode::Grow));
        assert_eq!(SnapMode::Shrink.to_string(), "shrink");
        assert_eq!(SnapMode::default(), SnapMode::Grow);
    }

    #[test]
    fn unknown_mode_is_an_error() {
        let err = "Grow".parse::<SnapMode>();
        assert_eq!(
            err,
            Err(GeometryError::UnknownSnapMode {
                mode: "Grow".to_owned()
            })
        );
        let err = "nearest".parse::<SnapMode>().map_err(|e| e.to_string());
        assert_eq!(err, Err("unknown mode nearest for snap_to_grid".to_owned()));
    }
}
