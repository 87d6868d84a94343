//! `serde` support (feature `serde`): a [`Coordinate`] is a sequence of optional integers, a [`Roi`] a
//! struct `{offset, shape}`. Deserialization validates (at most [`MAX_DIMS`] elements, matching
//! dimensions, an end that fits) and consolidates like [`Roi::new`].

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use crate::coordinate::{Coordinate, MAX_DIMS};
use crate::roi::Roi;

impl Serialize for Coordinate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

/// Visits a sequence of at most [`MAX_DIMS`] optional integers.
struct CoordinateVisitor;

impl<'de> Visitor<'de> for CoordinateVisitor {
    type Value = Coordinate;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a sequence of at most {MAX_DIMS} integers or nulls")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Coordinate, A::Error> {
        let mut values = [None; MAX_DIMS];
        let mut len = 0;
        while let Some(v) = seq.next_element::<Option<i64>>()? {
            match values.get_mut(len) {
                Some(slot) => *slot = v,
                None => return Err(de::Error::invalid_length(len + 1, &self)),
            }
            len += 1;
        }
        Coordinate::from_options(values.get(..len).unwrap_or(&[])).map_err(de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for Coordinate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(CoordinateVisitor)
    }
}

/// The serialized form of a [`Roi`].
#[derive(Serialize, Deserialize)]
#[serde(rename = "Roi", deny_unknown_fields)]
struct RoiRepr {
    /// The offset.
    offset: Coordinate,
    /// The shape.
    shape: Coordinate,
}

impl Serialize for Roi {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        RoiRepr {
            offset: self.offset(),
            shape: self.shape(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Roi {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let repr = RoiRepr::deserialize(deserializer)?;
        Roi::new(repr.offset, repr.shape).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinate_round_trip() -> Result<(), Box<dyn std::error::Error>> {
        let c = Coordinate::from_options(&[Some(1), None, Some(-3)])?;
        let json = serde_json::to_string(&c)?;
        assert_eq!(json, "[1,null,-3]");
        assert_eq!(serde_json::from_str::<Coordinate>(&json)?, c);
        assert_eq!(
            serde_json::from_str::<Coordinate>("[]")?,
            Coordinate::empty()
        );
        assert_eq!(
            serde_json::from_str::<Coordinate>("[1,2,3,4,5,6,7,8]")?.dims(),
            8
        );
        Ok(())
    }

    #[test]
    fn coordinate_rejects_bad_input() {
        assert!(serde_json::from_str::<Coordinate>("[1,2,3,4,5,6,7,8,9]").is_err());
        assert!(serde_json::from_str::<Coordinate>("[1.5]").is_err());
        assert!(serde_json::from_str::<Coordinate>("{}").is_err());
        assert!(serde_json::from_str::<Coordinate>("[18446744073709551615]").is_err());
    }

    #[test]
    fn roi_round_trip() -> Result<(), Box<dyn std::error::Error>> {
        let roi = Roi::new(
            Coordinate::new(&[1, 2])?,
            Coordinate::from_options(&[None, Some(3)])?,
        )?;
        let json = serde_json::to_string(&roi)?;
        assert_eq!(json, r#"{"offset":[null,2],"shape":[null,3]}"#);
        assert_eq!(serde_json::from_str::<Roi>(&json)?, roi);
        let empty = Roi::empty(3)?;
        assert_eq!(
            serde_json::from_str::<Roi>(&serde_json::to_string(&empty)?)?,
            empty
        );
        Ok(())
    }

    #[test]
    fn roi_deserialization_validates_and_consolidates() -> Result<(), Box<dyn std::error::Error>> {
        let err = serde_json::from_str::<Roi>(r#"{"offset":[1,2],"shape":[3]}"#)
            .map_err(|e| e.to_string());
        assert!(err.is_err_and(|e| e.contains("different dimensions: 2 and 1")));
        assert!(
            serde_json::from_str::<Roi>(r#"{"offset":[9223372036854775807],"shape":[1]}"#).is_err()
        );
        assert!(serde_json::from_str::<Roi>(r#"{"offset":[1]}"#).is_err());
        assert!(serde_json::from_str::<Roi>(r#"{"offset":[1],"shape":[1],"x":1}"#).is_err());
        let roi = serde_json::from_str::<Roi>(r#"{"offset":[5],"shape":[null]}"#)?;
        assert_eq!(roi, Roi::unbounded(1)?);
        Ok(())
    }
}
