//! One valid, non-trivial instance of every wire record, of every [`Request`] variant and of
//! every [`Response`] variant, for the round-trip tests (`tests/proto_roundtrip.rs`) and the
//! decoder fuzz (`tests/proto_fuzz.rs`).
//!
//! * [`records`]: the record samples ([`records()`]) and the values they are built from.
//! * [`messages`]: requests and replies by op code ([`requests()`], [`responses()`],
//!   [`request_case`], [`response_case`]).
//!
//! Each [`Case`] erases the record's type: `decode` reads a value from the front of a byte
//! string and (when asked) returns its re-encoding, `round_trip` checks
//! `decode(encode(v)) == v` by value.

mod messages;
mod records;

pub use messages::*;
pub use records::*;

use zk_curator::proto::{Reader, Record};
use zk_curator::Result;

/// A type-erased decoder: reads a value from the front of the input and returns the number
/// of input bytes used and, if the flag asks for it, the value's re-encoding.
pub type DecodeFn = Box<dyn Fn(&[u8], bool) -> Result<(Vec<u8>, usize)> + Send + Sync>;

/// A record type with its sample, type-erased.
pub struct Case {
    /// The record (or `Request::<op>` / `Response::<op>`).
    pub name: String,
    /// The sample's encoding.
    pub bytes: Vec<u8>,
    /// The decoder under test.
    pub decode: DecodeFn,
    /// Checks that the sample decodes back to itself, by value.
    pub round_trip: Box<dyn Fn() -> std::result::Result<(), String> + Send + Sync>,
    /// Every strict prefix of `bytes` must fail to decode, except where a trailing field is
    /// optional (the handshake records) or the body is ignored (requests and replies without
    /// one).
    pub prefixes_fail: bool,
    /// False for the op codes a client never sends: then there is no sample and every input
    /// must fail to decode.
    pub has_sample: bool,
}

pub(super) fn case<T>(name: &str, v: T) -> Case
where
    T: Record + PartialEq + std::fmt::Debug + Send + Sync + 'static,
{
    let bytes = v.to_bytes();
    let b2 = bytes.clone();
    Case {
        name: name.to_string(),
        bytes,
        decode: Box::new(|b, reencode| {
            let mut r = Reader::new(b);
            let v = T::decode(&mut r)?;
            let re = if reencode { v.to_bytes() } else { Vec::new() };
            Ok((re, b.len() - r.remaining()))
        }),
        round_trip: Box::new(move || match T::decode_exact(&b2) {
            Ok(d) if d == v => Ok(()),
            Ok(d) => Err(format!("decoded {d:?}, expected {v:?}")),
            Err(e) => Err(format!("{e}")),
        }),
        prefixes_fail: true,
        has_sample: true,
    }
}
