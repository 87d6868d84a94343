//! Attribute types (as funlib.persistence declares them: `int`, `float`, `str`, `bool`,
//! `Vec(float, 3)`) and attribute values.

use std::fmt;

use crate::error::GraphError;

/// The type of a scalar attribute, or of the elements of a vector attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScalarType {
    /// Python's `int`: a 64-bit signed integer.
    Int,
    /// Python's `float`: a 64-bit float.
    Float,
    /// Python's `str`.
    Str,
    /// Python's `bool`.
    Bool,
}

impl ScalarType {
    /// The Python type name funlib.persistence stores (`int`, `float`, `str`, `bool`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            ScalarType::Int => "int",
            ScalarType::Float => "float",
            ScalarType::Str => "str",
            ScalarType::Bool => "bool",
        }
    }

    fn parse(name: &str) -> Option<ScalarType> {
        match name.trim() {
            "int" => Some(ScalarType::Int),
            "float" => Some(ScalarType::Float),
            "str" => Some(ScalarType::Str),
            "bool" => Some(ScalarType::Bool),
            _ => None,
        }
    }

    /// Whether `value` is of this type (`Null` always is; an `Int` is a valid `Float`).
    #[must_use]
    pub fn admits(self, value: &AttrValue) -> bool {
        matches!(
            (self, value),
            (_, AttrValue::Null)
                | (ScalarType::Int, AttrValue::Int(_))
                | (ScalarType::Float, AttrValue::Float(_) | AttrValue::Int(_))
                | (ScalarType::Str, AttrValue::Str(_))
                | (ScalarType::Bool, AttrValue::Bool(_))
        )
    }
}

/// The declared type of an attribute: a scalar, or a vector of fixed size (`Vec(float, 3)`,
/// stored as one column per element in SQLite and as an array in PostgreSQL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttrType {
    /// One value.
    Scalar(ScalarType),
    /// `size` values of one type.
    Vec(ScalarType, usize),
}

impl AttrType {
    /// The form funlib.persistence stores in its metadata: `float`, `Vec(float, 3)`.
    #[must_use]
    pub fn to_funlib(self) -> String {
        self.to_string()
    }

    /// Parses funlib.persistence's stored form.
    ///
    /// # Errors
    /// [`GraphError::InvalidAttrType`] naming the text.
    pub fn parse(text: &str) -> Result<AttrType, GraphError> {
        let invalid = || GraphError::InvalidAttrType {
            text: text.to_owned(),
        };
        let trimmed = text.trim();
        if let Some(inner) = trimmed
            .strip_prefix("Vec(")
            .and_then(|rest| rest.strip_suffix(')'))
        {
            let (dtype, size) = inner.split_once(',').ok_or_else(invalid)?;
            let dtype = ScalarType::parse(dtype).ok_or_else(invalid)?;
            let size: usize = size.trim().parse().map_err(|_| invalid())?;
            if size == 0 {
                return Err(invalid());
            }
            return Ok(AttrType::Vec(dtype, size));
        }
        ScalarType::parse(trimmed)
            .map(AttrType::Scalar)
            .ok_or_else(invalid)
    }

    /// Whether `value` is of this type (`Null` always is).
    #[must_use]
    pub fn admits(self, value: &AttrValue) -> bool {
        match (self, value) {
            (_, AttrValue::Null) => true,
            (AttrType::Scalar(t), v) => t.admits(v),
            (AttrType::Vec(t, size), AttrValue::List(items)) => {
                items.len() == size && items.iter().all(|item| t.admits(item))
            }
            (AttrType::Vec(..), _) => false,
        }
    }
}

impl fmt::Display for AttrType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttrType::Scalar(t) => f.write_str(t.name()),
            AttrType::Vec(t, size) => write!(f, "Vec({}, {size})", t.name()),
        }
    }
}

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// Absent (SQL `NULL`, Python `None`).
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// The elements of a vector attribute.
    List(Vec<AttrValue>),
}

impl AttrValue {
    /// The value as a float, if it is a number.
    #[must_use]
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            AttrValue::Int(v) => Some(*v as f64),
            AttrValue::Float(v) => Some(*v),
            _ => None,
        }
    }

    /// The elements as floats, if this is a list of numbers (a position), or the number
    /// itself as a list of one (a 1-D position).
    #[must_use]
    pub fn as_point(&self) -> Option<Vec<f64>> {
        match self {
            AttrValue::List(items) => items.iter().map(AttrValue::as_f64).collect(),
            other => other.as_f64().map(|v| vec![v]),
        }
    }
}

impl fmt::Display for AttrValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttrValue::Null => f.write_str("None"),
            AttrValue::Bool(v) => f.write_str(if *v { "True" } else { "False" }),
            AttrValue::Int(v) => write!(f, "{v}"),
            AttrValue::Float(v) => write!(f, "{v:?}"),
            AttrValue::Str(v) => write!(f, "{v:?}"),
            AttrValue::List(items) => {
                f.write_str("(")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str(")")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn funlib_type_names_round_trip() {
        for text in [
            "int",
            "float",
            "str",
            "bool",
            "Vec(float, 3)",
            "Vec(int, 2)",
        ] {
            assert_eq!(AttrType::parse(text).unwrap().to_funlib(), text);
        }
        assert_eq!(
            AttrType::parse(" Vec( float ,3 ) ").unwrap(),
            AttrType::Vec(ScalarType::Float, 3)
        );
        for bad in [
            "",
            "double",
            "Vec(float)",
            "Vec(float, 0)",
            "Vec(float, x)",
            "Vec(f, 3)",
        ] {
            assert!(
                matches!(
                    AttrType::parse(bad),
                    Err(GraphError::InvalidAttrType { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn types_admit_their_values() {
        let position = AttrType::Vec(ScalarType::Float, 3);
        let point = AttrValue::List(vec![
            AttrValue::Float(1.0),
            AttrValue::Int(2),
            AttrValue::Float(3.5),
        ]);
        assert!(position.admits(&point));
        assert!(position.admits(&AttrValue::Null));
        assert!(!position.admits(&AttrValue::List(vec![AttrValue::Float(1.0)])));
        assert!(!position.admits(&AttrValue::Float(1.0)));
        assert!(AttrType::Scalar(ScalarType::Float).admits(&AttrValue::Int(1)));
        assert!(!AttrType::Scalar(ScalarType::Int).admits(&AttrValue::Float(1.0)));
        assert_eq!(point.as_point(), Some(vec![1.0, 2.0, 3.5]));
        assert_eq!(AttrValue::Int(4).as_point(), Some(vec![4.0]));
        assert_eq!(AttrValue::Str("a".into()).as_point(), None);
    }
}
