//! Jute primitives: the big-endian encoding of `int`, `long`, `boolean`, `buffer`, `ustring`
//! and `vector<T>`, a bounds-checked [`Reader`] over a received frame, and the [`Record`]
//! trait every wire record implements.
//!
//! Decoding is total: every read checks the bytes that remain, every length is checked
//! against them *before* anything is allocated, and a negative length other than `-1` (null)
//! is an error. Because a frame is length-checked when it is read off the socket (see
//! the frame layer, `proto::raw`), nothing here can allocate more than the frame limit.

use byteorder::{BigEndian, ByteOrder};

use crate::error::{Error, Result};

/// A wire record: jute fields encoded back to back, no header, no length.
pub trait Record: Sized {
    /// Appends the encoded record to `buf` (a reused buffer: nothing is cleared).
    fn encode(&self, buf: &mut Vec<u8>);

    /// Reads one record from the reader, leaving the reader after it.
    fn decode(r: &mut Reader<'_>) -> Result<Self>;

    /// Decodes a record from the whole of `bytes`; trailing bytes are an error.
    fn decode_exact(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        let v = Self::decode(&mut r)?;
        r.finish()?;
        Ok(v)
    }

    /// Encodes into a fresh vector (tests and cold paths; hot paths reuse a buffer).
    fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(&mut v);
        v
    }
}

/// A cursor over the bytes of one received frame.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader positioned at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// True when every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The bytes not yet read, without consuming them.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// Errors if bytes are left over (a record was followed by garbage).
    pub fn finish(&self) -> Result<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(Error::protocol(format!(
                "{} unexpected trailing bytes",
                self.remaining()
            )))
        }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(Error::protocol(format!(
                "truncated {what}: need {n} bytes, {} left",
                self.remaining()
            )));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Reads a jute `byte`.
    pub fn read_u8(&mut self) -> Result<u8> {
        Ok(self.take(1, "byte")?[0])
    }

    /// Reads a jute `boolean` (any non-zero byte is true, as the Java reader does).
    pub fn read_bool(&mut self) -> Result<bool> {
        Ok(self.take(1, "boolean")?[0] != 0)
    }

    /// Reads a jute `int`.
    pub fn read_i32(&mut self) -> Result<i32> {
        Ok(BigEndian::read_i32(self.take(4, "int")?))
    }

    /// Reads a jute `long`.
    pub fn read_i64(&mut self) -> Result<i64> {
        Ok(BigEndian::read_i64(self.take(8, "long")?))
    }

    /// Reads a length prefix: `None` for null (`-1`), an error for other negative values or
    /// for a length longer than the bytes left times `min_item` (so a hostile count can never
    /// size an allocation).
    fn read_len(&mut self, what: &str, min_item: usize) -> Result<Option<usize>> {
        let len = self.read_i32()?;
        if len == -1 {
            return Ok(None);
        }
        if len < 0 {
            return Err(Error::protocol(format!("negative {what} length {len}")));
        }
        let len = len as usize;
        if len.saturating_mul(min_item.max(1)) > self.remaining() {
            return Err(Error::protocol(format!(
                "{what} length {len} exceeds the {} bytes left in the frame",
                self.remaining()
            )));
        }
        Ok(Some(len))
    }

    /// Reads a jute `buffer`; `None` is the null buffer.
    pub fn read_buffer_opt(&mut self) -> Result<Option<Vec<u8>>> {
        match self.read_len("buffer", 1)? {
            None => Ok(None),
            Some(n) => Ok(Some(self.take(n, "buffer")?.to_vec())),
        }
    }

    /// Reads a jute `buffer`, null read as empty.
    pub fn read_buffer(&mut self) -> Result<Vec<u8>> {
        Ok(self.read_buffer_opt()?.unwrap_or_default())
    }

    /// Reads a jute `ustring`; `None` is the null string. Invalid UTF-8 is replaced with
    /// U+FFFD, as the Java reader does (such a path then fails validation, since U+FFFD is a
    /// forbidden code point).
    pub fn read_string_opt(&mut self) -> Result<Option<String>> {
        match self.read_len("string", 1)? {
            None => Ok(None),
            Some(n) => {
                let b = self.take(n, "string")?;
                Ok(Some(match std::str::from_utf8(b) {
                    Ok(s) => s.to_string(),
                    Err(_) => String::from_utf8_lossy(b).into_owned(),
                }))
            }
        }
    }

    /// Reads a jute `ustring`, null read as empty.
    pub fn read_string(&mut self) -> Result<String> {
        Ok(self.read_string_opt()?.unwrap_or_default())
    }

    /// Reads a jute `vector<T>`, null read as empty.
    pub fn read_vec<T: Jute>(&mut self) -> Result<Vec<T>> {
        match self.read_len("vector", T::MIN_SIZE)? {
            None => Ok(Vec::new()),
            Some(n) => {
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(T::get(self)?);
                }
                Ok(v)
            }
        }
    }
}

/// Writes a jute `int`.
#[inline]
pub fn put_i32(buf: &mut Vec<u8>, v: i32) {
    buf.extend_from_slice(&v.to_be_bytes());
}

/// Writes a jute `long`.
#[inline]
pub fn put_i64(buf: &mut Vec<u8>, v: i64) {
    buf.extend_from_slice(&v.to_be_bytes());
}

/// Writes a jute `boolean`.
#[inline]
pub fn put_bool(buf: &mut Vec<u8>, v: bool) {
    buf.push(u8::from(v));
}

/// Writes a jute `buffer` (non-null).
#[inline]
pub fn put_bytes(buf: &mut Vec<u8>, v: &[u8]) {
    put_i32(buf, len_i32(v.len()));
    buf.extend_from_slice(v);
}

/// Writes a jute `ustring` (non-null).
#[inline]
pub fn put_str(buf: &mut Vec<u8>, v: &str) {
    put_bytes(buf, v.as_bytes());
}

/// Writes a null `buffer`/`ustring`/`vector` marker.
#[inline]
pub fn put_null(buf: &mut Vec<u8>) {
    put_i32(buf, -1);
}

/// Lengths on the wire are `int`; callers bound every payload (frame limit) long before this,
/// so saturating keeps the function total without a panic path.
#[inline]
fn len_i32(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// A value that can be a field of a record: the jute primitives plus every [`Record`].
pub trait Jute: Sized {
    /// The fewest bytes one encoded value takes; bounds vector counts before allocation.
    const MIN_SIZE: usize;
    /// Appends the encoded value.
    fn put(&self, buf: &mut Vec<u8>);
    /// Reads one value.
    fn get(r: &mut Reader<'_>) -> Result<Self>;
}

impl Jute for i32 {
    const MIN_SIZE: usize = 4;
    fn put(&self, buf: &mut Vec<u8>) {
        put_i32(buf, *self)
    }
    fn get(r: &mut Reader<'_>) -> Result<Self> {
        r.read_i32()
    }
}

impl Jute for i64 {
    const MIN_SIZE: usize = 8;
    fn put(&self, buf: &mut Vec<u8>) {
        put_i64(buf, *self)
    }
    fn get(r: &mut Reader<'_>) -> Result<Self> {
        r.read_i64()
    }
}

impl Jute for bool {
    const MIN_SIZE: usize = 1;
    fn put(&self, buf: &mut Vec<u8>) {
        put_bool(buf, *self)
    }
    fn get(r: &mut Reader<'_>) -> Result<Self> {
        r.read_bool()
    }
}

impl Jute for String {
    const MIN_SIZE: usize = 4;
    fn put(&self, buf: &mut Vec<u8>) {
        put_str(buf, self)
    }
    fn get(r: &mut Reader<'_>) -> Result<Self> {
        r.read_string()
    }
}

impl Jute for Option<String> {
    const MIN_SIZE: usize = 4;
    fn put(&self, buf: &mut Vec<u8>) {
        match self {
            Some(s) => put_str(buf, s),
            None => put_null(buf),
        }
    }
    fn get(r: &mut Reader<'_>) -> Result<Self> {
        r.read_string_opt()
    }
}

impl Jute for Vec<u8> {
    const MIN_SIZE: usize = 4;
    fn put(&self, buf: &mut Vec<u8>) {
        put_bytes(buf, self)
    }
    fn get(r: &mut Reader<'_>) -> Result<Self> {
        r.read_buffer()
    }
}

impl Jute for Option<Vec<u8>> {
    const MIN_SIZE: usize = 4;
    fn put(&self, buf: &mut Vec<u8>) {
        match self {
            Some(b) => put_bytes(buf, b),
            None => put_null(buf),
        }
    }
    fn get(r: &mut Reader<'_>) -> Result<Self> {
        r.read_buffer_opt()
    }
}

impl<T: Jute> Jute for Vec<T> {
    const MIN_SIZE: usize = 4;
    fn put(&self, buf: &mut Vec<u8>) {
        put_i32(buf, len_i32(self.len()));
        for x in self {
            x.put(buf);
        }
    }
    fn get(r: &mut Reader<'_>) -> Result<Self> {
        r.read_vec()
    }
}

/// Declares a plain record: a `pub struct` whose fields are encoded in declaration order,
/// with `Record` and `Jute` implementations. `secret(field, ...)` before the name makes
/// `Debug` print those fields as `<redacted>` (credentials, session passwords, SASL tokens).
macro_rules! record {
    (
        $(#[$meta:meta])*
        secret($($secret:ident),+) $name:ident ($min:expr) {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Default)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let secret = [$(stringify!($secret)),+];
                let mut d = f.debug_struct(stringify!($name));
                $(
                    if secret.contains(&stringify!($field)) {
                        d.field(stringify!($field), &format_args!("<redacted>"));
                    } else {
                        d.field(stringify!($field), &self.$field);
                    }
                )*
                d.finish()
            }
        }

        $crate::proto::codec::record!(@impls $name ($min) { $($field),* });
    };
    (
        $(#[$meta:meta])*
        $name:ident ($min:expr) {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        $crate::proto::codec::record!(@impls $name ($min) { $($field),* });
    };
    (@impls $name:ident ($min:expr) { $($field:ident),* }) => {
        impl $crate::proto::codec::Record for $name {
            #[allow(unused_variables)]
            fn encode(&self, buf: &mut Vec<u8>) {
                $( $crate::proto::codec::Jute::put(&self.$field, buf); )*
            }
            #[allow(unused_variables)]
            fn decode(r: &mut $crate::proto::codec::Reader<'_>) -> $crate::error::Result<Self> {
                Ok($name { $( $field: $crate::proto::codec::Jute::get(r)?, )* })
            }
        }

        impl $crate::proto::codec::Jute for $name {
            const MIN_SIZE: usize = $min;
            fn put(&self, buf: &mut Vec<u8>) {
                $crate::proto::codec::Record::encode(self, buf)
            }
            fn get(r: &mut $crate::proto::codec::Reader<'_>) -> $crate::error::Result<Self> {
                $crate::proto::codec::Record::decode(r)
            }
        }
    };
}
pub(crate) use record;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives_round_trip() {
        let mut b = Vec::new();
        put_i32(&mut b, -5);
        put_i64(&mut b, i64::MIN);
        put_bool(&mut b, true);
        put_str(&mut b, "héllo");
        put_null(&mut b);
        put_bytes(&mut b, &[]);
        let mut r = Reader::new(&b);
        assert_eq!(r.read_i32().unwrap(), -5);
        assert_eq!(r.read_i64().unwrap(), i64::MIN);
        assert!(r.read_bool().unwrap());
        assert_eq!(r.read_string().unwrap(), "héllo");
        assert_eq!(r.read_buffer_opt().unwrap(), None);
        assert_eq!(r.read_buffer_opt().unwrap(), Some(vec![]));
        r.finish().unwrap();
    }

    #[test]
    fn lengths_are_checked_before_allocation() {
        // A vector claiming 2^31-1 strings in a 4-byte frame.
        let b = i32::MAX.to_be_bytes();
        assert!(Reader::new(&b).read_vec::<String>().is_err());
        // A buffer claiming more than what is left.
        let mut b = Vec::new();
        put_i32(&mut b, 10);
        b.extend_from_slice(&[1, 2, 3]);
        assert!(Reader::new(&b).read_buffer().is_err());
        // Negative lengths other than -1.
        let b = (-2i32).to_be_bytes();
        assert!(Reader::new(&b).read_buffer_opt().is_err());
        assert!(Reader::new(&b).read_string_opt().is_err());
        assert!(Reader::new(&b).read_vec::<i32>().is_err());
        // Null vector reads as empty.
        let b = (-1i32).to_be_bytes();
        assert_eq!(
            Reader::new(&b).read_vec::<i32>().unwrap(),
            Vec::<i32>::new()
        );
    }

    #[test]
    fn boolean_non_zero_is_true() {
        assert!(Reader::new(&[7]).read_bool().unwrap());
        assert!(!Reader::new(&[0]).read_bool().unwrap());
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let mut b = Vec::new();
        put_bytes(&mut b, &[b'/', 0xff]);
        assert_eq!(Reader::new(&b).read_string().unwrap(), "/\u{fffd}");
    }

    #[test]
    fn trailing_bytes_fail_decode_exact() {
        #[derive(Debug)]
        struct One(i32);
        impl Record for One {
            fn encode(&self, buf: &mut Vec<u8>) {
                put_i32(buf, self.0)
            }
            fn decode(r: &mut Reader<'_>) -> Result<Self> {
                Ok(One(r.read_i32()?))
            }
        }
        assert_eq!(One::decode_exact(&[0, 0, 0, 9]).unwrap().0, 9);
        assert!(One::decode_exact(&[0, 0, 0, 9, 1]).is_err());
        assert!(One::decode_exact(&[0, 0, 9]).is_err());
    }
}
