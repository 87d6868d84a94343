//! Element types: [`DType`] (numpy names and typestrs, zarr data types) and the [`Element`] trait
//! tying a Rust type to its dtype.

use std::fmt;
use std::str::FromStr;

use zarrs::array::DataType;
use zarrs::array::data_type as zdt;
use zarrs::plugin::ExtensionName;

use crate::error::ArrayError;

/// The element type of an array, named as numpy names it.
///
/// Parses from numpy names (`"uint8"`, `"float32"`, `"bool"`) and typestrs (`"|u1"`, `"<f4"`,
/// `"|b1"`; big-endian typestrs too, since the byte order on disk is the codec's business):
///
/// ```
/// use daisy_array::DType;
/// assert_eq!("<f4".parse::<DType>().unwrap(), DType::Float32);
/// assert_eq!(DType::UInt8.name(), "uint8");
/// assert_eq!(DType::Int16.size_of(), 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    /// `bool` (one byte, 0 or 1).
    Bool,
    /// `uint8`.
    UInt8,
    /// `uint16`.
    UInt16,
    /// `uint32`.
    UInt32,
    /// `uint64`.
    UInt64,
    /// `int8`.
    Int8,
    /// `int16`.
    Int16,
    /// `int32`.
    Int32,
    /// `int64`.
    Int64,
    /// `float32`.
    Float32,
    /// `float64`.
    Float64,
}

impl DType {
    /// Every dtype, in the order of the enum.
    pub const ALL: [DType; 11] = [
        DType::Bool,
        DType::UInt8,
        DType::UInt16,
        DType::UInt32,
        DType::UInt64,
        DType::Int8,
        DType::Int16,
        DType::Int32,
        DType::Int64,
        DType::Float32,
        DType::Float64,
    ];

    /// The numpy name, e.g. `"uint8"` (also the zarr v3 data type name).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::UInt8 => "uint8",
            DType::UInt16 => "uint16",
            DType::UInt32 => "uint32",
            DType::UInt64 => "uint64",
            DType::Int8 => "int8",
            DType::Int16 => "int16",
            DType::Int32 => "int32",
            DType::Int64 => "int64",
            DType::Float32 => "float32",
            DType::Float64 => "float64",
        }
    }

    /// The little-endian numpy typestr zarr v2 stores, e.g. `"|u1"`, `"<f4"`.
    #[must_use]
    pub fn typestr(self) -> &'static str {
        match self {
            DType::Bool => "|b1",
            DType::UInt8 => "|u1",
            DType::UInt16 => "<u2",
            DType::UInt32 => "<u4",
            DType::UInt64 => "<u8",
            DType::Int8 => "|i1",
            DType::Int16 => "<i2",
            DType::Int32 => "<i4",
            DType::Int64 => "<i8",
            DType::Float32 => "<f4",
            DType::Float64 => "<f8",
        }
    }

    /// The size of one element in bytes.
    #[must_use]
    pub fn size_of(self) -> usize {
        match self {
            DType::Bool | DType::UInt8 | DType::Int8 => 1,
            DType::UInt16 | DType::Int16 => 2,
            DType::UInt32 | DType::Int32 | DType::Float32 => 4,
            DType::UInt64 | DType::Int64 | DType::Float64 => 8,
        }
    }

    /// The zarrs data type.
    #[must_use]
    pub fn to_zarrs(self) -> DataType {
        match self {
            DType::Bool => zdt::bool(),
            DType::UInt8 => zdt::uint8(),
            DType::UInt16 => zdt::uint16(),
            DType::UInt32 => zdt::uint32(),
            DType::UInt64 => zdt::uint64(),
            DType::Int8 => zdt::int8(),
            DType::Int16 => zdt::int16(),
            DType::Int32 => zdt::int32(),
            DType::Int64 => zdt::int64(),
            DType::Float32 => zdt::float32(),
            DType::Float64 => zdt::float64(),
        }
    }

    /// The dtype of a zarrs data type, or `None` for one daisy does not support (strings,
    /// complex numbers, float16, ...).
    #[must_use]
    pub fn from_zarrs(data_type: &DataType) -> Option<DType> {
        DType::ALL
            .into_iter()
            .find(|dtype| dtype.to_zarrs().name_v3() == data_type.name_v3())
    }

    /// The zero of the dtype as a zarr fill value in JSON (`false` for bool, `0` otherwise).
    pub(crate) fn zero_json(self) -> serde_json::Value {
        match self {
            DType::Bool => serde_json::Value::Bool(false),
            DType::Float32 | DType::Float64 => serde_json::json!(0.0),
            _ => serde_json::json!(0),
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DType {
    type Err = ArrayError;

    fn from_str(name: &str) -> Result<DType, ArrayError> {
        let by_name = DType::ALL.into_iter().find(|dtype| dtype.name() == name);
        if let Some(dtype) = by_name {
            return Ok(dtype);
        }
        let aliases = match name {
            "bool_" | "?" => Some(DType::Bool),
            "float" | "double" => Some(DType::Float64),
            "single" => Some(DType::Float32),
            _ => None,
        };
        if let Some(dtype) = aliases {
            return Ok(dtype);
        }
        // A typestr: byte order ('<', '>', '|', '='), kind, size.
        let mut chars = name.chars();
        let typestr = match chars.next() {
            Some('<' | '>' | '|' | '=') => &name[1..],
            _ => name,
        };
        let dtype = match typestr {
            "b1" => Some(DType::Bool),
            "u1" => Some(DType::UInt8),
            "u2" => Some(DType::UInt16),
            "u4" => Some(DType::UInt32),
            "u8" => Some(DType::UInt64),
            "i1" => Some(DType::Int8),
            "i2" => Some(DType::Int16),
            "i4" => Some(DType::Int32),
            "i8" => Some(DType::Int64),
            "f4" => Some(DType::Float32),
            "f8" => Some(DType::Float64),
            _ => None,
        };
        dtype.ok_or_else(|| ArrayError::UnsupportedDType {
            name: name.to_string(),
        })
    }
}

impl TryFrom<&str> for DType {
    type Error = ArrayError;

    fn try_from(name: &str) -> Result<DType, ArrayError> {
        name.parse()
    }
}

/// A Rust element type of an array: `bool`, `u8`..`u64`, `i8`..`i64`, `f32`, `f64`.
///
/// Ties the type to its [`DType`] so that `Array::read::<u16>` of a uint8 array is an error,
/// not a reinterpretation.
pub trait Element:
    zarrs::array::ElementOwned + Copy + Send + Sync + PartialEq + fmt::Debug + 'static
{
    /// The dtype of this element type.
    const DTYPE: DType;

    /// The element's bytes in native byte order.
    fn to_ne_bytes_vec(self) -> Vec<u8>;
}

macro_rules! impl_element {
    ($($t:ty => $dtype:ident),* $(,)?) => {
        $(
            impl Element for $t {
                const DTYPE: DType = DType::$dtype;

                fn to_ne_bytes_vec(self) -> Vec<u8> {
                    self.to_ne_bytes().to_vec()
                }
            }
        )*
    };
}

impl_element!(
    u8 => UInt8, u16 => UInt16, u32 => UInt32, u64 => UInt64,
    i8 => Int8, i16 => Int16, i32 => Int32, i64 => Int64,
    f32 => Float32, f64 => Float64,
);

impl Element for bool {
    const DTYPE: DType = DType::Bool;

    fn to_ne_bytes_vec(self) -> Vec<u8> {
        vec![u8::from(self)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_typestrs_and_zarrs_types_round_trip() {
        for dtype in DType::ALL {
            assert_eq!(dtype.name().parse::<DType>().unwrap(), dtype);
            assert_eq!(dtype.typestr().parse::<DType>().unwrap(), dtype);
            assert_eq!(DType::from_zarrs(&dtype.to_zarrs()), Some(dtype));
            assert_eq!(dtype.to_zarrs().fixed_size(), Some(dtype.size_of()));
        }
        assert_eq!(">i2".parse::<DType>().unwrap(), DType::Int16);
        assert_eq!(DType::from_zarrs(&zdt::float16()), None);
    }

    #[test]
    fn bad_names_are_errors_naming_them() {
        let error = "complex64".parse::<DType>().unwrap_err();
        assert!(error.to_string().contains("\"complex64\""), "{error}");
        assert!("<u3".parse::<DType>().is_err());
        assert!("".parse::<DType>().is_err());
    }

    #[test]
    fn elements_know_their_dtypes() {
        assert_eq!(<u16 as Element>::DTYPE, DType::UInt16);
        assert_eq!(<bool as Element>::DTYPE, DType::Bool);
        assert_eq!(true.to_ne_bytes_vec(), vec![1]);
        assert_eq!(1.5f32.to_ne_bytes_vec(), 1.5f32.to_ne_bytes().to_vec());
    }
}
