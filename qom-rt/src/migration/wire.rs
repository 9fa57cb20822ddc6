//! The stream's primitives: little-endian integers, length-prefixed
//! strings, tagged [`Value`]s and CRC-32 checksums. Reading never trusts
//! a length: every count is checked against the bytes left before
//! anything is allocated, and nesting is bounded, so any input is refused
//! in time and memory proportional to its size.

use super::value::{Tag, Value};

/// How deep arrays, options and structs may nest: far beyond any device's
/// state, and small enough that a hostile stream cannot exhaust the stack.
const MAX_DEPTH: usize = 32;

/// CRC-32 (IEEE 802.3, reflected, as zlib and PNG compute it), by
/// `crc32fast` (SIMD where the CPU has it: a migration checksums every
/// byte it sends and receives).
pub fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

/// Appends the stream's primitives to a buffer.
#[derive(Default)]
pub struct Writer {
    pub bytes: Vec<u8>,
}

impl Writer {
    pub fn u8(&mut self, v: u8) {
        self.bytes.push(v);
    }

    pub fn u32(&mut self, v: u32) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }

    /// A string: its length as a u16, then UTF-8. Names and paths are
    /// short; a longer one is cut at a character boundary (it then fails
    /// to match on load, which says so).
    pub fn str(&mut self, s: &str) {
        let mut end = s.len().min(usize::from(u16::MAX));
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.bytes.extend_from_slice(&(end as u16).to_le_bytes());
        self.bytes.extend_from_slice(&s.as_bytes()[..end]);
    }

    /// A count of items (u32).
    pub fn count(&mut self, n: usize) {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }

    /// A value with its tag.
    pub fn value(&mut self, value: &Value) {
        self.u8(value.tag() as u8);
        self.payload(value);
    }

    /// A value without its tag (array items share their array's).
    fn payload(&mut self, value: &Value) {
        match value {
            Value::Bool(v) => self.u8(u8::from(*v)),
            Value::U8(v) => self.u8(*v),
            Value::U16(v) => self.bytes.extend_from_slice(&v.to_le_bytes()),
            Value::U32(v) => self.bytes.extend_from_slice(&v.to_le_bytes()),
            Value::U64(v) => self.bytes.extend_from_slice(&v.to_le_bytes()),
            Value::U128(v) => self.bytes.extend_from_slice(&v.to_le_bytes()),
            Value::I8(v) => self.bytes.extend_from_slice(&v.to_le_bytes()),
            Value::I16(v) => self.bytes.extend_from_slice(&v.to_le_bytes()),
            Value::I32(v) => self.bytes.extend_from_slice(&v.to_le_bytes()),
            Value::I64(v) => self.bytes.extend_from_slice(&v.to_le_bytes()),
            Value::I128(v) => self.bytes.extend_from_slice(&v.to_le_bytes()),
            Value::Array { element, items } => {
                self.count(items.len());
                self.u8(*element as u8);
                for item in items {
                    self.payload(item);
                }
            }
            Value::Optional(None) => self.u8(0),
            Value::Optional(Some(inner)) => {
                self.u8(1);
                self.value(inner);
            }
            Value::Struct(fields) => self.named_values(fields),
        }
    }

    /// A count, then per entry a name and a tagged value (a struct's
    /// fields, a level's fields or subsections).
    pub fn named_values(&mut self, values: &[(String, Value)]) {
        self.count(values.len());
        for (name, value) in values {
            self.str(name);
            self.value(value);
        }
    }
}

/// What went wrong reading, and at which byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    pub offset: usize,
    pub kind: WireErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireErrorKind {
    /// The input ends inside `what`.
    Truncated(&'static str),
    /// The bytes are not what the format allows here.
    Malformed(String),
}

/// Reads the stream's primitives from a slice.
pub struct Reader<'a> {
    bytes: &'a [u8],
    pub at: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, at: 0 }
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    pub fn malformed<T>(&self, reason: impl Into<String>) -> Result<T, WireError> {
        Err(WireError {
            offset: self.at,
            kind: WireErrorKind::Malformed(reason.into()),
        })
    }

    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        if self.remaining() < n {
            return Err(WireError {
                offset: self.bytes.len(),
                kind: WireErrorKind::Truncated(what),
            });
        }
        let out = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], WireError> {
        let bytes = self.take(N, what)?;
        // `take` returned exactly N bytes.
        Ok(bytes.try_into().unwrap_or([0; N]))
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, WireError> {
        Ok(self.array::<1>(what)?[0])
    }

    pub fn u16(&mut self, what: &'static str) -> Result<u16, WireError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    pub fn u32(&mut self, what: &'static str) -> Result<u32, WireError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub fn str(&mut self, what: &'static str) -> Result<String, WireError> {
        let len = self.u16(what)?;
        let start = self.at;
        let bytes = self.take(usize::from(len), what)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_string()),
            Err(_) => Err(WireError {
                offset: start,
                kind: WireErrorKind::Malformed(format!("{what} is not UTF-8")),
            }),
        }
    }

    /// A count of items, each at least `min_size` bytes: refused if the
    /// bytes left cannot hold them, so a corrupted count never allocates.
    pub fn count(&mut self, min_size: usize, what: &'static str) -> Result<usize, WireError> {
        let n = self.u32(what)? as usize;
        if n.saturating_mul(min_size.max(1)) > self.remaining() {
            return Err(WireError {
                offset: self.bytes.len(),
                kind: WireErrorKind::Truncated(what),
            });
        }
        Ok(n)
    }

    /// A tagged value.
    #[cfg(test)]
    pub fn value(&mut self) -> Result<Value, WireError> {
        self.tagged(0)
    }

    fn tagged(&mut self, depth: usize) -> Result<Value, WireError> {
        let tag = self.tag()?;
        self.payload(tag, depth)
    }

    fn tag(&mut self) -> Result<Tag, WireError> {
        let byte = self.u8("a value's tag")?;
        match Tag::from_byte(byte) {
            Some(tag) => Ok(tag),
            None => {
                self.at -= 1;
                self.malformed(format!("unknown value tag {byte:#04x}"))
            }
        }
    }

    fn payload(&mut self, tag: Tag, depth: usize) -> Result<Value, WireError> {
        const W: &str = "a value";
        if depth > MAX_DEPTH {
            return self.malformed(format!("values nested deeper than {MAX_DEPTH}"));
        }
        Ok(match tag {
            Tag::Bool => match self.u8(W)? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                b => {
                    self.at -= 1;
                    return self.malformed(format!("a bool is 0 or 1, not {b}"));
                }
            },
            Tag::U8 => Value::U8(self.u8(W)?),
            Tag::U16 => Value::U16(self.u16(W)?),
            Tag::U32 => Value::U32(self.u32(W)?),
            Tag::U64 => Value::U64(u64::from_le_bytes(self.array(W)?)),
            Tag::U128 => Value::U128(u128::from_le_bytes(self.array(W)?)),
            Tag::I8 => Value::I8(i8::from_le_bytes(self.array(W)?)),
            Tag::I16 => Value::I16(i16::from_le_bytes(self.array(W)?)),
            Tag::I32 => Value::I32(i32::from_le_bytes(self.array(W)?)),
            Tag::I64 => Value::I64(i64::from_le_bytes(self.array(W)?)),
            Tag::I128 => Value::I128(i128::from_le_bytes(self.array(W)?)),
            Tag::Array => {
                // Every payload is at least one byte.
                let n = self.count(1, "an array")?;
                let element = self.tag()?;
                let items = (0..n)
                    .map(|_| self.payload(element, depth + 1))
                    .collect::<Result<_, _>>()?;
                Value::Array { element, items }
            }
            Tag::Optional => match self.u8(W)? {
                0 => Value::Optional(None),
                1 => Value::Optional(Some(Box::new(self.tagged(depth + 1)?))),
                b => {
                    self.at -= 1;
                    return self.malformed(format!("an option is 0 or 1, not {b}"));
                }
            },
            Tag::Struct => Value::Struct(self.named_values_at(depth + 1)?),
        })
    }

    /// A count, then per entry a name and a tagged value.
    pub fn named_values(&mut self) -> Result<Vec<(String, Value)>, WireError> {
        self.named_values_at(0)
    }

    fn named_values_at(&mut self, depth: usize) -> Result<Vec<(String, Value)>, WireError> {
        // A name (2 bytes at least) and a tagged value (2 at least).
        let n = self.count(4, "a list of named values")?;
        (0..n)
            .map(|_| Ok((self.str("a field name")?, self.tagged(depth)?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_is_the_ieee_one() {
        // The check value of CRC-32/ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn values_round_trip() {
        let value = Value::Struct(vec![
            ("a".into(), Value::U32(7)),
            (
                "fifo".into(),
                Value::Array {
                    element: Tag::U16,
                    items: vec![Value::U16(1), Value::U16(2)],
                },
            ),
            ("o".into(), Value::Optional(Some(Box::new(Value::I128(-3))))),
            ("b".into(), Value::Bool(true)),
        ]);
        let mut w = Writer::default();
        w.value(&value);
        let mut r = Reader::new(&w.bytes);
        assert_eq!(r.value(), Ok(value));
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn a_huge_count_is_refused_without_allocating() {
        let mut bytes = vec![Tag::Array as u8];
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        bytes.push(Tag::U8 as u8);
        let err = Reader::new(&bytes).value().unwrap_err();
        assert_eq!(err.kind, WireErrorKind::Truncated("an array"));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let mut bytes = Vec::new();
        for _ in 0..100 {
            bytes.extend_from_slice(&[Tag::Optional as u8, 1]);
        }
        bytes.extend_from_slice(&[Tag::Bool as u8, 0]);
        let err = Reader::new(&bytes).value().unwrap_err();
        assert!(matches!(err.kind, WireErrorKind::Malformed(_)), "{err:?}");
    }
}
