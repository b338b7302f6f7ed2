//! How queue items become node data and back: the user's [`QueueSerializer`] turns one item
//! into bytes, and the item envelope (Curator's `ItemSerializer`) packs one or more of those
//! into a queue node, so that a node written by Java Curator's `put`/`putMulti` reads here and
//! the reverse.
//!
//! The envelope: a 4-byte big-endian version `0x00010001`; then, per item, the byte `0x01`, a
//! 4-byte big-endian length and the item's bytes; then the byte `0x02`. "hello" alone is
//! `00010001 01 00000005 68656c6c6f 02`. [`SimpleDistributedQueue`](super::SimpleDistributedQueue)
//! does not use it (raw bytes, as in Curator).

use crate::error::{Error, Result};

/// Turns queue items into bytes and back (Curator's `QueueSerializer<T>`).
///
/// Implemented for closures pairs through [`serializer_fn`], and by [`BytesSerializer`]
/// (`Vec<u8>` as is) and [`StringSerializer`] (UTF-8 text). A `deserialize` error is treated
/// as a corrupt item: it is logged, reported to the client's unhandled-error listeners and the
/// item's node is removed (Curator does the same), so that one bad node never blocks a queue.
///
/// ```
/// use zk_curator::recipes::queue::{QueueSerializer, StringSerializer};
/// let s = StringSerializer;
/// let bytes = s.serialize(&"job-1".to_string())?;
/// assert_eq!(s.deserialize(&bytes)?, "job-1");
/// assert!(s.deserialize(&[0xff, 0xfe]).is_err());
/// # Ok::<(), zk_curator::Error>(())
/// ```
pub trait QueueSerializer<T>: Send + Sync + 'static {
    /// The bytes of `item`.
    fn serialize(&self, item: &T) -> Result<Vec<u8>>;

    /// The item written as `bytes`. Return an error for bytes that are not an item.
    fn deserialize(&self, bytes: &[u8]) -> Result<T>;
}

/// Items are byte vectors, stored as they are.
#[derive(Debug, Clone, Copy, Default)]
pub struct BytesSerializer;

impl QueueSerializer<Vec<u8>> for BytesSerializer {
    fn serialize(&self, item: &Vec<u8>) -> Result<Vec<u8>> {
        Ok(item.clone())
    }

    fn deserialize(&self, bytes: &[u8]) -> Result<Vec<u8>> {
        Ok(bytes.to_vec())
    }
}

/// Items are strings, stored as UTF-8 (what Java's `new String(bytes, UTF_8)` reads).
#[derive(Debug, Clone, Copy, Default)]
pub struct StringSerializer;

impl QueueSerializer<String> for StringSerializer {
    fn serialize(&self, item: &String) -> Result<Vec<u8>> {
        Ok(item.as_bytes().to_vec())
    }

    fn deserialize(&self, bytes: &[u8]) -> Result<String> {
        String::from_utf8(bytes.to_vec())
            .map_err(|e| Error::InvalidArgument(format!("queue item is not UTF-8 text: {e}")))
    }
}

/// A serializer made of two functions.
///
/// ```
/// use zk_curator::recipes::queue::{serializer_fn, QueueSerializer};
/// let s = serializer_fn(
///     |n: &u64| Ok(n.to_be_bytes().to_vec()),
///     |b: &[u8]| {
///         let a: [u8; 8] = b.try_into().map_err(|_| {
///             zk_curator::Error::InvalidArgument(format!("{} bytes, not 8", b.len()))
///         })?;
///         Ok(u64::from_be_bytes(a))
///     },
/// );
/// assert_eq!(s.deserialize(&s.serialize(&7)?)?, 7);
/// # Ok::<(), zk_curator::Error>(())
/// ```
pub fn serializer_fn<T, S, D>(serialize: S, deserialize: D) -> FnSerializer<S, D>
where
    S: Fn(&T) -> Result<Vec<u8>> + Send + Sync + 'static,
    D: Fn(&[u8]) -> Result<T> + Send + Sync + 'static,
{
    FnSerializer {
        serialize,
        deserialize,
    }
}

/// The serializer [`serializer_fn`] returns.
#[derive(Clone, Copy)]
pub struct FnSerializer<S, D> {
    serialize: S,
    deserialize: D,
}

impl<T, S, D> QueueSerializer<T> for FnSerializer<S, D>
where
    S: Fn(&T) -> Result<Vec<u8>> + Send + Sync + 'static,
    D: Fn(&[u8]) -> Result<T> + Send + Sync + 'static,
{
    fn serialize(&self, item: &T) -> Result<Vec<u8>> {
        (self.serialize)(item)
    }

    fn deserialize(&self, bytes: &[u8]) -> Result<T> {
        (self.deserialize)(bytes)
    }
}

impl<S, D> std::fmt::Debug for FnSerializer<S, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FnSerializer")
    }
}

const VERSION: u32 = 0x0001_0001;
const ITEM: u8 = 0x01;
const EOF: u8 = 0x02;

/// Packs already serialized items into one node's data.
pub(crate) fn encode<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&VERSION.to_be_bytes());
    for item in items {
        let len = i32::try_from(item.len()).map_err(|_| {
            Error::InvalidArgument(format!("queue item of {} bytes is too large", item.len()))
        })?;
        out.push(ITEM);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(item);
    }
    out.push(EOF);
    Ok(out)
}

/// The items of one node's data, as byte slices of it. Any deviation from the format (a
/// wrong version, an unknown marker, a length past the end, a missing end marker) is an
/// error naming what was found; trailing bytes after the end marker are ignored, as Java's
/// reader does.
pub(crate) fn decode(data: &[u8]) -> Result<Vec<&[u8]>> {
    let bad = |why: String| Err(Error::InvalidArgument(format!("corrupt queue item: {why}")));
    let Some((version, mut rest)) = split4(data) else {
        return bad(format!("{} bytes, too short for the version", data.len()));
    };
    if version != VERSION {
        return bad(format!("version {version:#010x}, expected {VERSION:#010x}"));
    }
    let mut items = Vec::new();
    loop {
        let Some((&marker, after)) = rest.split_first() else {
            return bad("no end marker".into());
        };
        match marker {
            EOF => return Ok(items),
            ITEM => {}
            other => return bad(format!("marker {other:#04x}, expected 0x01 or 0x02")),
        }
        let Some((len, after)) = split4(after) else {
            return bad("truncated item length".into());
        };
        let len = len as i32;
        let Ok(len) = usize::try_from(len) else {
            return bad(format!("negative item length {len}"));
        };
        if after.len() < len {
            return bad(format!("item of {len} bytes but only {} left", after.len()));
        }
        let (item, tail) = after.split_at(len);
        items.push(item);
        rest = tail;
    }
}

fn split4(b: &[u8]) -> Option<(u32, &[u8])> {
    if b.len() < 4 {
        return None;
    }
    let (head, rest) = b.split_at(4);
    Some((
        u32::from_be_bytes([head[0], head[1], head[2], head[3]]),
        rest,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curator_layout() {
        let bytes = encode([&b"hello"[..]]).unwrap();
        assert_eq!(
            bytes,
            [0, 1, 0, 1, 1, 0, 0, 0, 5, b'h', b'e', b'l', b'l', b'o', 2]
        );
        assert_eq!(decode(&bytes).unwrap(), vec![&b"hello"[..]]);
    }

    #[test]
    fn multi_and_empty_items_round_trip() {
        let items: Vec<&[u8]> = vec![b"a", b"", b"ccc"];
        let bytes = encode(items.iter().copied()).unwrap();
        assert_eq!(decode(&bytes).unwrap(), items);
        let none = encode(std::iter::empty()).unwrap();
        assert_eq!(none, [0, 1, 0, 1, 2]);
        assert!(decode(&none).unwrap().is_empty());
    }

    #[test]
    fn garbage_is_an_error_never_a_panic() {
        let good = encode([&b"xyz"[..]]).unwrap();
        // Every prefix of a valid envelope is missing something.
        for n in 0..good.len() {
            assert!(decode(&good[..n]).is_err(), "prefix {n}");
        }
        for bad in [
            &b"garbage written by someone else"[..],
            &[0, 1, 0, 1, 7][..],
            &[0, 1, 0, 1, 1, 0xff, 0xff, 0xff, 0xff, 2][..],
            &[0, 1, 0, 1, 1, 0x7f, 0xff, 0xff, 0xff, 2][..],
        ] {
            let e = decode(bad).unwrap_err();
            assert!(e.to_string().contains("corrupt queue item"), "{e}");
        }
        // Deterministic pseudo-random inputs.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2000 {
            let len = (x % 40) as usize;
            let mut v = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                v.push((x & 0xff) as u8);
            }
            if v.len() >= 4 && x % 2 == 0 {
                v[..4].copy_from_slice(&VERSION.to_be_bytes());
            }
            let _ = decode(&v);
        }
    }

    #[test]
    fn string_serializer_rejects_non_utf8() {
        assert!(StringSerializer.deserialize(&[0xc3, 0x28]).is_err());
        assert_eq!(StringSerializer.deserialize("é".as_bytes()).unwrap(), "é");
    }
}
