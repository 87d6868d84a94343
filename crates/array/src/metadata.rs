//! [`ArrayMetadata`]: the world-unit description of an array (offset, voxel size, axis names,
//! units, types), with funlib.persistence 0.7's defaults, and [`MetadataOverrides`], the partial
//! form given as arguments or read from attributes.
//!
//! Offset, voxel size and units cover the *physical* dimensions only (types `"space"` and
//! `"time"`); axis names and types cover every dimension. Dimensions that are not physical are
//! channel dimensions. Without types, they are the leading dimensions of the array.

use daisy_geometry::Coordinate;

use crate::error::ArrayError;

/// The type of a spatial dimension.
pub const TYPE_SPACE: &str = "space";
/// The type of a time dimension (physical, like space).
pub const TYPE_TIME: &str = "time";
/// The type of a channel dimension (not physical).
pub const TYPE_CHANNEL: &str = "channel";

/// Whether a dimension of this type is physical (`"space"` or `"time"`), i.e. has a voxel size.
pub fn is_physical_type(axis_type: &str) -> bool {
    axis_type == TYPE_SPACE || axis_type == TYPE_TIME
}

/// The type an axis name implies when no types are given: `"channel"` for names ending in `^`,
/// else `"space"` (funlib.persistence's older convention).
pub fn type_from_axis_name(name: &str) -> &'static str {
    if name.ends_with('^') {
        TYPE_CHANNEL
    } else {
        TYPE_SPACE
    }
}

/// Metadata values that may each be absent: arguments of `open_ds`/`prepare_ds`, or what a
/// [`MetadataFormat`](crate::MetadataFormat) found in an array's attributes.
///
/// Offset, voxel size and units may be given for the physical dimensions only or for every
/// dimension (then the values of the non-physical dimensions, as given by `types`, are dropped).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataOverrides {
    /// Offset in world units.
    pub offset: Option<Coordinate>,
    /// Size of one voxel in world units.
    pub voxel_size: Option<Coordinate>,
    /// One name per dimension.
    pub axis_names: Option<Vec<String>>,
    /// One unit per physical dimension.
    pub units: Option<Vec<String>>,
    /// One type per dimension: `"space"`, `"time"` or `"channel"`.
    pub types: Option<Vec<String>>,
}

impl MetadataOverrides {
    /// Each field of `self`, or that of `fallback` where `self` has none (arguments over
    /// stored values).
    pub fn or(&self, fallback: &MetadataOverrides) -> MetadataOverrides {
        MetadataOverrides {
            offset: self.offset.or(fallback.offset),
            voxel_size: self.voxel_size.or(fallback.voxel_size),
            axis_names: self
                .axis_names
                .clone()
                .or_else(|| fallback.axis_names.clone()),
            units: self.units.clone().or_else(|| fallback.units.clone()),
            types: self.types.clone().or_else(|| fallback.types.clone()),
        }
    }

    /// Whether no field is given.
    pub fn is_empty(&self) -> bool {
        self.offset.is_none()
            && self.voxel_size.is_none()
            && self.axis_names.is_none()
            && self.units.is_none()
            && self.types.is_none()
    }

    /// The complete metadata of an array of `shape`, with defaults for what is not given.
    ///
    /// Defaults (funlib.persistence 0.7): offset 0, voxel size 1 and unit `""` per physical
    /// dimension; types `"channel"` for the channel dimensions then `"space"` (derived from the
    /// axis names, `^` marking a channel, when only those are given); axis names `c0^, c1^, ...`
    /// for channel dimensions and `d0, d1, ...` for physical ones. The number of physical
    /// dimensions is what the given offset, voxel size, units and types agree on, or every
    /// dimension when none is given.
    ///
    /// With `strict`, every field must be given, and the offset must be a multiple of the
    /// voxel size.
    ///
    /// # Errors
    ///
    /// [`ArrayError::InvalidMetadata`] if the given fields disagree on the number of physical
    /// dimensions, have the wrong length for `shape`, hold `None` elements, a voxel size that
    /// is not positive, or (strict) a field is missing or the offset is off the voxel grid.
    pub fn resolve(&self, shape: &[u64], strict: bool) -> Result<ArrayMetadata, ArrayError> {
        let dims = shape.len();
        let types = self.types.clone().or_else(|| {
            self.axis_names.as_ref().map(|names| {
                names
                    .iter()
                    .map(|n| type_from_axis_name(n).to_owned())
                    .collect()
            })
        });

        let (mut offset, mut voxel_size, mut units) =
            (self.offset, self.voxel_size, self.units.clone());
        if let Some(types) = &types {
            if types.len() != dims {
                return Err(invalid(format!(
                    "{} types {types:?} given for an array of {dims} dimensions (shape {shape:?})",
                    types.len()
                )));
            }
            let keep: Vec<usize> = (0..dims).filter(|&d| is_physical_type(&types[d])).collect();
            offset = strip_coordinate("offset", offset, types, &keep)?;
            voxel_size = strip_coordinate("voxel size", voxel_size, types, &keep)?;
            units = match units {
                Some(u) if u.len() != keep.len() && u.len() == dims => {
                    Some(keep.iter().map(|&d| u[d].clone()).collect())
                }
                Some(u) if u.len() != keep.len() => {
                    return Err(invalid(format!(
                        "types {types:?} and units {u:?} are not compatible"
                    )));
                }
                other => other,
            };
        }

        let indicators = [
            units.as_ref().map(Vec::len),
            voxel_size.map(|c| c.dims()),
            offset.map(|c| c.dims()),
            types
                .as_ref()
                .map(|t| t.iter().filter(|t| is_physical_type(t)).count()),
        ];
        let mut physical_dims: Option<usize> = None;
        for n in indicators.into_iter().flatten() {
            match physical_dims {
                Some(p) if p != n => {
                    return Err(invalid(format!(
                        "the number of physical dimensions is ambiguous: units {units:?}, voxel \
                         size {}, offset {}, axis names {:?}, types {types:?}",
                        show(voxel_size),
                        show(offset),
                        self.axis_names
                    )));
                }
                _ => physical_dims = Some(n),
            }
        }
        let physical_dims = physical_dims.unwrap_or(dims);
        if physical_dims > dims {
            return Err(invalid(format!(
                "{physical_dims} physical dimensions given (voxel size {}, offset {}, units \
                 {units:?}) for an array of {dims} dimensions (shape {shape:?})",
                show(voxel_size),
                show(offset)
            )));
        }
        let channel_dims = dims - physical_dims;

        if strict {
            let missing: Vec<&str> = [
                ("offset", self.offset.is_none()),
                ("voxel_size", self.voxel_size.is_none()),
                ("axis_names", self.axis_names.is_none()),
                ("units", self.units.is_none()),
                ("types", self.types.is_none()),
            ]
            .into_iter()
            .filter_map(|(name, absent)| absent.then_some(name))
            .collect();
            if !missing.is_empty() {
                return Err(invalid(format!(
                    "strict metadata requires every field, but {} {} not given",
                    missing.join(", "),
                    if missing.len() == 1 { "is" } else { "are" }
                )));
            }
        }

        let types = types.unwrap_or_else(|| {
            std::iter::repeat_n(TYPE_CHANNEL.to_owned(), channel_dims)
                .chain(std::iter::repeat_n(TYPE_SPACE.to_owned(), physical_dims))
                .collect()
        });
        let axis_names = match &self.axis_names {
            Some(names) => names.clone(),
            None => default_axis_names(&types),
        };
        let metadata = ArrayMetadata {
            offset: match offset {
                Some(o) => o,
                None => Coordinate::filled(physical_dims, 0)?,
            },
            voxel_size: match voxel_size {
                Some(v) => v,
                None => Coordinate::filled(physical_dims, 1)?,
            },
            axis_names,
            units: units.unwrap_or_else(|| vec![String::new(); physical_dims]),
            types,
        };
        metadata.validate(shape, strict)?;
        Ok(metadata)
    }
}

/// The complete metadata of an array: every field has a value.
///
/// `offset`, `voxel_size` and `units` have one element per physical dimension, `axis_names`
/// and `types` one per dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArrayMetadata {
    /// Offset of the array's first voxel in world units.
    pub offset: Coordinate,
    /// Size of one voxel in world units.
    pub voxel_size: Coordinate,
    /// One name per dimension.
    pub axis_names: Vec<String>,
    /// One unit per physical dimension (`""` when unknown).
    pub units: Vec<String>,
    /// One type per dimension: `"space"`, `"time"` or `"channel"`.
    pub types: Vec<String>,
}

impl ArrayMetadata {
    /// The default metadata of an array of `shape`: every dimension spatial, offset 0, voxel
    /// size 1, axis names `d0, d1, ...`, units `""`.
    ///
    /// # Errors
    ///
    /// [`ArrayError::Geometry`] if `shape` has more dimensions than a
    /// [`Coordinate`] holds.
    pub fn default_for(shape: &[u64]) -> Result<ArrayMetadata, ArrayError> {
        MetadataOverrides::default().resolve(shape, false)
    }

    /// The number of physical (space or time) dimensions.
    pub fn physical_dims(&self) -> usize {
        self.voxel_size.dims()
    }

    /// The number of channel (non-physical) dimensions.
    pub fn channel_dims(&self) -> usize {
        self.types.len().saturating_sub(self.physical_dims())
    }

    /// Per dimension, whether it is physical.
    pub fn physical_mask(&self) -> Vec<bool> {
        self.types.iter().map(|t| is_physical_type(t)).collect()
    }

    /// The fields as [`MetadataOverrides`] with every field given.
    pub fn to_overrides(&self) -> MetadataOverrides {
        MetadataOverrides {
            offset: Some(self.offset),
            voxel_size: Some(self.voxel_size),
            axis_names: Some(self.axis_names.clone()),
            units: Some(self.units.clone()),
            types: Some(self.types.clone()),
        }
    }

    /// Checks that the metadata describes an array of `shape`.
    ///
    /// Always: axis names and types have one entry per dimension; offset, voxel size and units
    /// one per physical dimension; offset and voxel size hold no `None`; the voxel size is
    /// positive. With `strict`, the offset must also be a multiple of the voxel size.
    ///
    /// # Errors
    ///
    /// [`ArrayError::InvalidMetadata`] naming the field and the values.
    pub fn validate(&self, shape: &[u64], strict: bool) -> Result<(), ArrayError> {
        let dims = shape.len();
        if self.axis_names.len() != dims {
            return Err(invalid(format!(
                "{} axis names {:?} given for an array of {dims} dimensions (shape {shape:?})",
                self.axis_names.len(),
                self.axis_names
            )));
        }
        if self.types.len() != dims {
            return Err(invalid(format!(
                "{} types {:?} given for an array of {dims} dimensions (shape {shape:?})",
                self.types.len(),
                self.types
            )));
        }
        let physical = self.types.iter().filter(|t| is_physical_type(t)).count();
        for (name, n) in [
            ("offset", self.offset.dims()),
            ("voxel size", self.voxel_size.dims()),
            ("units", self.units.len()),
        ] {
            if n != physical {
                return Err(invalid(format!(
                    "{name} has {n} dimensions but types {:?} have {physical} physical \
                     dimensions (offset {}, voxel size {}, units {:?})",
                    self.types, self.offset, self.voxel_size, self.units
                )));
            }
        }
        if !self.offset.is_bounded() {
            return Err(invalid(format!(
                "offset {} must be integers, not None",
                self.offset
            )));
        }
        match self.voxel_size.bounded_values() {
            Some(values) if values.iter().all(|&v| v > 0) => {}
            _ => {
                return Err(invalid(format!(
                    "voxel size {} must be positive integers",
                    self.voxel_size
                )));
            }
        }
        if strict && !self.offset.is_multiple_of(&self.voxel_size) {
            return Err(invalid(format!(
                "offset {} is not a multiple of the voxel size {}",
                self.offset, self.voxel_size
            )));
        }
        Ok(())
    }
}

/// Default axis names: `c0^, c1^, ...` for channel dimensions, `d0, d1, ...` for physical ones,
/// each counted separately, in the order of `types`.
pub fn default_axis_names(types: &[String]) -> Vec<String> {
    let (mut c, mut d) = (0, 0);
    types
        .iter()
        .map(|t| {
            if is_physical_type(t) {
                d += 1;
                format!("d{}", d - 1)
            } else {
                c += 1;
                format!("c{}^", c - 1)
            }
        })
        .collect()
}

/// Drops the non-physical elements of a per-dimension coordinate given for every dimension.
fn strip_coordinate(
    name: &str,
    value: Option<Coordinate>,
    types: &[String],
    keep: &[usize],
) -> Result<Option<Coordinate>, ArrayError> {
    match value {
        Some(c) if c.dims() != keep.len() && c.dims() == types.len() => {
            let values: Vec<Option<i64>> = keep.iter().map(|&d| c.get(d)).collect();
            Ok(Some(Coordinate::from_options(&values)?))
        }
        Some(c) if c.dims() != keep.len() => Err(invalid(format!(
            "types {types:?} and {name} {c} are not compatible"
        ))),
        other => Ok(other),
    }
}

/// Prints an optional coordinate (`None` when absent).
fn show(c: Option<Coordinate>) -> String {
    c.map_or_else(|| "None".to_owned(), |c| c.to_string())
}

/// Builds an [`ArrayError::InvalidMetadata`].
fn invalid(reason: String) -> ArrayError {
    ArrayError::InvalidMetadata { reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(v: &[i64]) -> Coordinate {
        Coordinate::new(v).unwrap()
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn defaults_are_all_spatial() -> Result<(), ArrayError> {
        let m = ArrayMetadata::default_for(&[10, 20, 30])?;
        assert_eq!(m.offset, c(&[0, 0, 0]));
        assert_eq!(m.voxel_size, c(&[1, 1, 1]));
        assert_eq!(m.axis_names, strings(&["d0", "d1", "d2"]));
        assert_eq!(m.units, strings(&["", "", ""]));
        assert_eq!(m.types, strings(&["space", "space", "space"]));
        Ok(())
    }

    #[test]
    fn voxel_size_makes_leading_dims_channels() -> Result<(), ArrayError> {
        let given = MetadataOverrides {
            voxel_size: Some(c(&[4, 4])),
            ..Default::default()
        };
        let m = given.resolve(&[3, 10, 10], false)?;
        assert_eq!(m.axis_names, strings(&["c0^", "d0", "d1"]));
        assert_eq!(m.types, strings(&["channel", "space", "space"]));
        assert_eq!(m.offset, c(&[0, 0]));
        assert_eq!(m.channel_dims(), 1);
        Ok(())
    }

    #[test]
    fn types_strip_values_given_for_every_dimension() -> Result<(), ArrayError> {
        let given = MetadataOverrides {
            voxel_size: Some(c(&[2, 1, 4])),
            units: Some(strings(&["ms", "", "nm"])),
            types: Some(strings(&["time", "channel", "space"])),
            ..Default::default()
        };
        let m = given.resolve(&[5, 3, 7], false)?;
        assert_eq!(m.voxel_size, c(&[2, 4]));
        assert_eq!(m.units, strings(&["ms", "nm"]));
        assert_eq!(m.axis_names, strings(&["d0", "c0^", "d1"]));
        Ok(())
    }

    #[test]
    fn axis_names_imply_types() -> Result<(), ArrayError> {
        let given = MetadataOverrides {
            axis_names: Some(strings(&["c^", "z", "y"])),
            ..Default::default()
        };
        let m = given.resolve(&[2, 4, 4], false)?;
        assert_eq!(m.types, strings(&["channel", "space", "space"]));
        assert_eq!(m.voxel_size, c(&[1, 1]));
        Ok(())
    }

    #[test]
    fn ambiguous_physical_dims_are_an_error() {
        let given = MetadataOverrides {
            voxel_size: Some(c(&[4, 4])),
            offset: Some(c(&[0, 0, 0])),
            ..Default::default()
        };
        let err = given.resolve(&[3, 10, 10], false);
        assert!(
            matches!(&err, Err(ArrayError::InvalidMetadata { reason }) if reason.contains("ambiguous")),
            "{err:?}"
        );
    }

    #[test]
    fn strict_requires_every_field_and_grid_offset() -> Result<(), ArrayError> {
        let partial = MetadataOverrides {
            voxel_size: Some(c(&[4])),
            ..Default::default()
        };
        let err = partial.resolve(&[10], true);
        assert!(
            matches!(&err, Err(ArrayError::InvalidMetadata { reason }) if reason.contains("offset, axis_names, units, types")),
            "{err:?}"
        );
        let mut full = ArrayMetadata::default_for(&[10])?.to_overrides();
        full.voxel_size = Some(c(&[4]));
        full.offset = Some(c(&[6]));
        assert!(full.resolve(&[10], false).is_ok());
        assert!(full.resolve(&[10], true).is_err());
        full.offset = Some(c(&[8]));
        assert!(full.resolve(&[10], true).is_ok());
        Ok(())
    }

    #[test]
    fn validate_rejects_bad_lengths_and_voxel_sizes() -> Result<(), ArrayError> {
        let m = ArrayMetadata::default_for(&[10, 10])?;
        assert!(m.validate(&[10, 10, 10], false).is_err());
        let mut zero = m.clone();
        zero.voxel_size = c(&[1, 0]);
        assert!(zero.validate(&[10, 10], false).is_err());
        let mut units = m;
        units.units = strings(&["nm"]);
        assert!(units.validate(&[10, 10], false).is_err());
        Ok(())
    }
}
