//! NumPy's `.npy` format (version 1.0 written; 1.0 to 3.0 read) and `.npz` archives of it, as
//! `np.savez_compressed` writes them: a zip archive of deflate-compressed `<key>.npy` entries.
//!
//! Only what the file graph store needs: little-endian `<u8`, `<i8`, `<u4`, `<i4`, `<f8`,
//! `<f4`, `|b1` and `<U{n}` strings (UTF-32, as numpy writes `str` arrays), in 1-D or 2-D
//! arrays in C order. Anything else (object arrays, which numpy pickles; big-endian data;
//! Fortran order) is an error naming the file, never a panic.

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};
use std::path::Path;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use crate::error::GraphError;

const MAGIC: &[u8] = b"\x93NUMPY";
/// numpy pads the header so that the data starts at a multiple of this.
const ALIGN: usize = 64;

/// The elements of an array, by dtype.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NpyData {
    /// `<u8` (and `<u4`, widened).
    U64(Vec<u64>),
    /// `<i8` (and `<i4`, widened).
    I64(Vec<i64>),
    /// `<f8`.
    F64(Vec<f64>),
    /// `<f4`.
    F32(Vec<f32>),
    /// `|b1`.
    Bool(Vec<bool>),
    /// `<U{n}`: strings of at most `n` characters.
    Str(Vec<String>),
}

impl NpyData {
    fn len(&self) -> usize {
        match self {
            NpyData::U64(v) => v.len(),
            NpyData::I64(v) => v.len(),
            NpyData::F64(v) => v.len(),
            NpyData::F32(v) => v.len(),
            NpyData::Bool(v) => v.len(),
            NpyData::Str(v) => v.len(),
        }
    }
}

/// An array: its shape (1-D `(n,)` or 2-D `(n, k)`) and elements in C order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NpyArray {
    /// The shape.
    pub shape: Vec<usize>,
    /// The elements, row by row.
    pub data: NpyData,
}

impl NpyArray {
    /// The number of rows (the first dimension).
    pub fn rows(&self) -> usize {
        self.shape.first().copied().unwrap_or(1)
    }

    /// The number of columns: 1 for a 1-D array.
    pub fn columns(&self) -> usize {
        self.shape.get(1).copied().unwrap_or(1)
    }

    /// The dtype as numpy names it (`<i8`, `<U5`).
    pub fn descr(&self) -> String {
        match &self.data {
            NpyData::U64(_) => "<u8".into(),
            NpyData::I64(_) => "<i8".into(),
            NpyData::F64(_) => "<f8".into(),
            NpyData::F32(_) => "<f4".into(),
            NpyData::Bool(_) => "|b1".into(),
            NpyData::Str(v) => format!("<U{}", str_width(v)),
        }
    }

    /// The `.npy` bytes (version 1.0).
    pub fn to_npy(&self) -> Vec<u8> {
        let shape = match self.shape.as_slice() {
            [n] => format!("({n},)"),
            dims => format!(
                "({})",
                dims.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let mut header = format!(
            "{{'descr': '{}', 'fortran_order': False, 'shape': {shape}, }}",
            self.descr()
        );
        // magic (6) + version (2) + length (2) + header + '\n', padded to ALIGN.
        let unpadded = MAGIC.len() + 4 + header.len() + 1;
        header.push_str(&" ".repeat((ALIGN - unpadded % ALIGN) % ALIGN));
        header.push('\n');
        let mut out = Vec::with_capacity(MAGIC.len() + 4 + header.len() + 8 * self.data.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&[1, 0]);
        // The header is at most a few hundred bytes: it fits the u16 of version 1.0.
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        match &self.data {
            NpyData::U64(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            NpyData::I64(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            NpyData::F64(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            NpyData::F32(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            NpyData::Bool(v) => out.extend(v.iter().map(|&b| u8::from(b))),
            NpyData::Str(v) => {
                let width = str_width(v);
                for s in v {
                    let mut n = 0;
                    for c in s.chars() {
                        out.extend_from_slice(&u32::from(c).to_le_bytes());
                        n += 1;
                    }
                    out.extend(std::iter::repeat_n(0u8, 4 * (width - n)));
                }
            }
        }
        out
    }

    /// Parses `.npy` bytes; `file` names them in errors.
    ///
    /// # Errors
    /// [`GraphError::Io`] (kind `InvalidData`) naming `file` and what is malformed.
    pub fn from_npy(bytes: &[u8], file: &Path) -> Result<NpyArray, GraphError> {
        let bad = |reason: String| malformed(file, reason);
        if bytes.len() < MAGIC.len() + 4 || &bytes[..MAGIC.len()] != MAGIC {
            return Err(bad("not a .npy array (no \\x93NUMPY magic)".into()));
        }
        let major = bytes[6];
        let (header_len, start) = match major {
            1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
            2 | 3 if bytes.len() >= 12 => (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            ),
            v => return Err(bad(format!("unsupported .npy version {v}"))),
        };
        let header = bytes
            .get(start..start + header_len)
            .ok_or_else(|| bad(format!("header of {header_len} bytes is cut off")))?;
        let header =
            std::str::from_utf8(header).map_err(|e| bad(format!("header is not text: {e}")))?;
        let descr = header_value(header, "descr")
            .and_then(quoted)
            .ok_or_else(|| bad(format!("header {header:?} has no 'descr'")))?;
        let fortran = header_value(header, "fortran_order")
            .ok_or_else(|| bad(format!("header {header:?} has no 'fortran_order'")))?;
        if fortran.starts_with("True") {
            return Err(bad("Fortran-order arrays are not supported".into()));
        }
        let shape = header_value(header, "shape")
            .and_then(parse_shape)
            .ok_or_else(|| bad(format!("header {header:?} has no readable 'shape'")))?;
        if shape.len() > 2 {
            return Err(bad(format!(
                "shape {shape:?}: only 1-D and 2-D arrays are read"
            )));
        }
        let count = shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .ok_or_else(|| bad(format!("shape {shape:?} overflows")))?;
        let body = &bytes[start + header_len..];
        let (width, kind) = dtype(descr).ok_or_else(|| {
            bad(format!(
                "dtype {descr:?} is not supported (expected <u8, <i8, <u4, <i4, <f8, <f4, |b1 \
                 or <U<n>; object arrays are pickled and not read)"
            ))
        })?;
        let expected = count
            .checked_mul(width)
            .ok_or_else(|| bad(format!("shape {shape:?} overflows")))?;
        if body.len() != expected {
            return Err(bad(format!(
                "dtype {descr} and shape {shape:?} need {expected} data bytes, the file has {}",
                body.len()
            )));
        }
        let words = body.chunks_exact(width.max(1));
        let data = match kind {
            'u' if width == 8 => NpyData::U64(words.map(|w| u64::from_le_bytes(arr8(w))).collect()),
            'u' => NpyData::U64(
                words
                    .map(|w| u64::from(u32::from_le_bytes(arr4(w))))
                    .collect(),
            ),
            'i' if width == 8 => NpyData::I64(words.map(|w| i64::from_le_bytes(arr8(w))).collect()),
            'i' => NpyData::I64(
                words
                    .map(|w| i64::from(i32::from_le_bytes(arr4(w))))
                    .collect(),
            ),
            'f' if width == 8 => NpyData::F64(words.map(|w| f64::from_le_bytes(arr8(w))).collect()),
            'f' => NpyData::F32(words.map(|w| f32::from_le_bytes(arr4(w))).collect()),
            'b' => NpyData::Bool(body.iter().map(|&b| b != 0).collect()),
            _ => {
                let mut strings = Vec::with_capacity(count);
                for w in body.chunks_exact(width.max(4)).take(count) {
                    let mut s = String::new();
                    for c in w.chunks_exact(4) {
                        let code = u32::from_le_bytes(arr4(c));
                        if code == 0 {
                            break;
                        }
                        s.push(char::from_u32(code).ok_or_else(|| {
                            bad(format!("string element holds {code:#x}, not a character"))
                        })?);
                    }
                    strings.push(s);
                }
                if width == 0 {
                    strings = vec![String::new(); count];
                }
                NpyData::Str(strings)
            }
        };
        Ok(NpyArray { shape, data })
    }
}

/// The width of the `<U{n}` dtype of `strings` (at least 1, as numpy's).
fn str_width(strings: &[String]) -> usize {
    strings
        .iter()
        .map(|s| s.chars().count())
        .max()
        .unwrap_or(0)
        .max(1)
}

fn arr8(w: &[u8]) -> [u8; 8] {
    let mut a = [0; 8];
    a.copy_from_slice(&w[..8]);
    a
}

fn arr4(w: &[u8]) -> [u8; 4] {
    let mut a = [0; 4];
    a.copy_from_slice(&w[..4]);
    a
}

/// The element width in bytes and kind (`u`, `i`, `f`, `b`, `U`) of a supported dtype.
fn dtype(descr: &str) -> Option<(usize, char)> {
    match descr {
        "<u8" => Some((8, 'u')),
        "<u4" => Some((4, 'u')),
        "<i8" => Some((8, 'i')),
        "<i4" => Some((4, 'i')),
        "<f8" => Some((8, 'f')),
        "<f4" => Some((4, 'f')),
        "|b1" => Some((1, 'b')),
        _ => {
            let n: usize = descr.strip_prefix("<U")?.parse().ok()?;
            Some((n.checked_mul(4)?, 'U'))
        }
    }
}

/// The text after `'key':` in a header dict.
fn header_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let at = header
        .find(&format!("'{key}':"))
        .or_else(|| header.find(&format!("\"{key}\":")))?;
    Some(header[at + key.len() + 3..].trim_start())
}

/// The contents of a leading quoted string.
fn quoted(text: &str) -> Option<&str> {
    let quote = text.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let rest = &text[1..];
    rest.find(quote).map(|end| &rest[..end])
}

/// A leading tuple of sizes: `(3,)`, `(3, 2)`, `()`.
fn parse_shape(text: &str) -> Option<Vec<usize>> {
    let inner = text.strip_prefix('(')?;
    let inner = &inner[..inner.find(')')?];
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches('L').parse().ok())
        .collect()
}

fn malformed(file: &Path, reason: String) -> GraphError {
    GraphError::Io {
        path: file.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, reason),
    }
}

fn zip_error(file: &Path, e: zip::result::ZipError) -> GraphError {
    GraphError::Io {
        path: file.to_owned(),
        source: match e {
            zip::result::ZipError::Io(e) => e,
            other => std::io::Error::new(std::io::ErrorKind::InvalidData, other),
        },
    }
}

/// The bytes of an `.npz` archive holding `entries` as `<key>.npy`, deflate-compressed (as
/// `np.savez_compressed`); `file` names it in errors.
///
/// # Errors
/// [`GraphError::Io`] if the archive cannot be built.
pub(crate) fn npz_bytes(entries: &[(&str, &NpyArray)], file: &Path) -> Result<Vec<u8>, GraphError> {
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for (key, array) in entries {
        let bytes = array.to_npy();
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .large_file(bytes.len() >= u32::MAX as usize);
        zip.start_file(format!("{key}.npy"), options)
            .map_err(|e| zip_error(file, e))?;
        zip.write_all(&bytes).map_err(|source| GraphError::Io {
            path: file.to_owned(),
            source,
        })?;
    }
    Ok(zip.finish().map_err(|e| zip_error(file, e))?.into_inner())
}

/// The arrays of an `.npz` archive by key (entry name without `.npy`); `file` names it in
/// errors.
///
/// # Errors
/// [`GraphError::Io`] naming `file` if it is not a zip archive of `.npy` arrays.
pub(crate) fn read_npz(
    bytes: &[u8],
    file: &Path,
) -> Result<BTreeMap<String, NpyArray>, GraphError> {
    let mut archive = ZipArchive::new(Cursor::new(bytes)).map_err(|e| zip_error(file, e))?;
    let mut out = BTreeMap::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| zip_error(file, e))?;
        let name = entry.name().map_err(|e| zip_error(file, e))?.into_owned();
        let Some(key) = name.strip_suffix(".npy").map(str::to_owned) else {
            continue;
        };
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .map_err(|source| GraphError::Io {
                path: file.to_owned(),
                source,
            })?;
        out.insert(key, NpyArray::from_npy(&data, file)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(array: NpyArray) {
        let bytes = array.to_npy();
        let header_end = 10 + usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
        assert_eq!(header_end % ALIGN, 0, "data aligned as numpy's");
        assert_eq!(bytes[header_end - 1], b'\n');
        assert_eq!(
            NpyArray::from_npy(&bytes, Path::new("t.npy")).unwrap(),
            array
        );
    }

    #[test]
    fn every_dtype_round_trips() {
        round_trip(NpyArray {
            shape: vec![3],
            data: NpyData::U64(vec![1, 2, u64::MAX]),
        });
        round_trip(NpyArray {
            shape: vec![2],
            data: NpyData::I64(vec![-1, 7]),
        });
        round_trip(NpyArray {
            shape: vec![2, 3],
            data: NpyData::F64(vec![0.5, 1.0, -2.0, 3.0, 4.0, 5.25]),
        });
        round_trip(NpyArray {
            shape: vec![1],
            data: NpyData::F32(vec![1.5]),
        });
        round_trip(NpyArray {
            shape: vec![2],
            data: NpyData::Bool(vec![true, false]),
        });
        round_trip(NpyArray {
            shape: vec![3],
            data: NpyData::Str(vec!["ab".into(), String::new(), "ü€".into()]),
        });
        round_trip(NpyArray {
            shape: vec![0],
            data: NpyData::I64(vec![]),
        });
    }

    #[test]
    fn the_header_is_numpys() {
        let a = NpyArray {
            shape: vec![2, 3],
            data: NpyData::F64(vec![0.0; 6]),
        };
        let bytes = a.to_npy();
        let text = String::from_utf8_lossy(&bytes[10..74]);
        assert!(
            text.starts_with("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }"),
            "{text}"
        );
        let s = NpyArray {
            shape: vec![1],
            data: NpyData::Str(vec!["abc".into()]),
        };
        assert_eq!(s.descr(), "<U3");
    }

    /// `bytes` with its dtype `<i8` replaced by numpy's pickled object dtype `|O8`.
    fn object_dtype(bytes: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        let at = out.windows(3).position(|w| w == b"<i8").unwrap();
        out[at..at + 3].copy_from_slice(b"|O8");
        out
    }

    #[test]
    fn malformed_arrays_are_errors_naming_the_file() {
        let file = Path::new("chunk/score.npz");
        let good = NpyArray {
            shape: vec![2],
            data: NpyData::I64(vec![1, 2]),
        }
        .to_npy();
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"not numpy".to_vec(), "magic"),
            (good[..good.len() - 3].to_vec(), "need 16 data bytes"),
            (good[..20].to_vec(), "cut off"),
            (object_dtype(&good), "not supported"),
        ];
        for (bytes, expected) in cases {
            let e = NpyArray::from_npy(&bytes, file).unwrap_err();
            let text = e.to_string();
            assert!(
                text.contains("chunk/score.npz") && text.contains(expected),
                "{text}"
            );
        }
        let e = read_npz(b"PK garbage", file).unwrap_err();
        assert!(e.to_string().contains("chunk/score.npz"), "{e}");
    }

    #[test]
    fn npz_archives_hold_deflated_npy_entries() {
        let file = Path::new("x.npz");
        let a = NpyArray {
            shape: vec![3],
            data: NpyData::U64(vec![4, 5, 6]),
        };
        let bytes = npz_bytes(&[("nodes", &a)], file).unwrap();
        let mut archive = ZipArchive::new(Cursor::new(&bytes)).unwrap();
        assert_eq!(archive.by_index(0).unwrap().name().unwrap(), "nodes.npy");
        assert_eq!(
            archive.by_index(0).unwrap().compression(),
            CompressionMethod::Deflated
        );
        let read = read_npz(&bytes, file).unwrap();
        assert_eq!(read.get("nodes"), Some(&a));
    }
}
