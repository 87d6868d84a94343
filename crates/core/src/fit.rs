//! How blocks at the boundary of the total ROI are handled (docs/semantics.md#fit-modes).

use std::fmt;
use std::str::FromStr;

use crate::CoreError;

/// How a task treats write blocks that do not fit entirely into the total write ROI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Fit {
    /// Only blocks whose write ROI lies entirely inside the total write ROI.
    #[default]
    Valid,
    /// Every block whose write ROI begins inside; its ROIs may reach past the totals.
    Overhang,
    /// As `Overhang`, but boundary blocks are cut to the totals.
    Shrink,
}

impl FromStr for Fit {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "valid" => Ok(Self::Valid),
            "overhang" => Ok(Self::Overhang),
            "shrink" => Ok(Self::Shrink),
            other => Err(CoreError::UnknownFit {
                fit: other.to_owned(),
            }),
        }
    }
}

impl fmt::Display for Fit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Valid => "valid",
            Self::Overhang => "overhang",
            Self::Shrink => "shrink",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_daisy_names() {
        for fit in [Fit::Valid, Fit::Overhang, Fit::Shrink] {
            assert_eq!(fit.to_string().parse::<Fit>().unwrap(), fit);
        }
        let err = "grow".parse::<Fit>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown fit 'grow': expected 'valid', 'overhang' or 'shrink'"
        );
    }
}
