//! Node data as the operator types and reads it: raw text, hex or base64 ([`DataFormat`]).
//!
//! Written here rather than taken from a crate because zkcli must not add a dependency to the
//! library (a `[[bin]]` shares the package's dependencies). `commands` decodes what the user
//! typed with [`DataFormat::decode`] and prints node data with [`DataFormat::encode`].

use std::fmt;

/// How node data is shown and how typed data is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DataFormat {
    /// The bytes as they are (printed raw; typed as text, UTF-8).
    #[default]
    Text,
    /// Lowercase hex digits, two per byte.
    Hex,
    /// Standard base64 with padding (decoding also takes the URL-safe alphabet and no padding).
    Base64,
}

/// Why typed data could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl DataFormat {
    /// The bytes that `typed` stands for in this format.
    pub fn decode(self, typed: &str) -> Result<Vec<u8>, DecodeError> {
        match self {
            DataFormat::Text => Ok(typed.as_bytes().to_vec()),
            DataFormat::Hex => hex_decode(typed),
            DataFormat::Base64 => base64_decode(typed),
        }
    }

    /// `data` as this format prints it (text: the bytes unchanged).
    pub fn encode(self, data: &[u8]) -> Vec<u8> {
        match self {
            DataFormat::Text => data.to_vec(),
            DataFormat::Hex => hex_encode(data).into_bytes(),
            DataFormat::Base64 => base64_encode(data).into_bytes(),
        }
    }
}

/// Lowercase hex, two digits per byte.
pub fn hex_encode(data: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(data.len() * 2);
    for &b in data {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

/// Hex digits (either case, an optional `0x` prefix) to bytes.
pub fn hex_decode(s: &str) -> Result<Vec<u8>, DecodeError> {
    let digits = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    if digits.len() % 2 != 0 {
        return Err(DecodeError(format!(
            "invalid hex data: {} digits, an even number is needed",
            digits.len()
        )));
    }
    let nibble = |c: u8| -> Result<u8, DecodeError> {
        match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            b'A'..=b'F' => Ok(c - b'A' + 10),
            _ => Err(DecodeError(format!(
                "invalid hex data: {:?} is not a hex digit",
                char::from(c)
            ))),
        }
    };
    digits
        .as_bytes()
        .chunks(2)
        .map(|pair| match pair {
            [hi, lo] => Ok(nibble(*hi)? << 4 | nibble(*lo)?),
            _ => Err(DecodeError("invalid hex data".into())),
        })
        .collect()
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with `=` padding.
pub fn base64_encode(data: &[u8]) -> String {
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                let idx = (n >> (18 - 6 * i)) & 63;
                s.push(char::from(B64[idx as usize]));
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// Base64 to bytes: the standard or URL-safe alphabet, padding optional, no other characters.
pub fn base64_decode(s: &str) -> Result<Vec<u8>, DecodeError> {
    let body = s.trim_end_matches('=');
    if s.len() - body.len() > 2 {
        return Err(DecodeError("invalid base64 data: too much padding".into()));
    }
    let value = |c: u8| -> Result<u32, DecodeError> {
        Ok(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => {
                return Err(DecodeError(format!(
                    "invalid base64 data: {:?} is not a base64 character",
                    char::from(c)
                )))
            }
        }
        .into())
    };
    if body.len() % 4 == 1 {
        return Err(DecodeError(
            "invalid base64 data: its length cannot come from any bytes".into(),
        ));
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    for chunk in body.as_bytes().chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c)? << (18 - 6 * i);
        }
        // A chunk of k characters carries k - 1 whole bytes.
        for i in 0..chunk.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_rejects_garbage() {
        assert_eq!(hex_encode(b"\x00\x7f\xff"), "007fff");
        assert_eq!(hex_decode("007FfF").unwrap(), b"\x00\x7f\xff");
        assert_eq!(hex_decode("0xcafe").unwrap(), b"\xca\xfe");
        assert_eq!(hex_decode("").unwrap(), b"");
        assert!(hex_decode("abc").unwrap_err().to_string().contains("even"));
        assert!(hex_decode("zz").unwrap_err().to_string().contains("'z'"));
        assert!(hex_decode("é0").is_err());
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(hex_decode(&hex_encode(&all)).unwrap(), all);
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_encode(plain.as_bytes()), enc);
            assert_eq!(base64_decode(enc).unwrap(), plain.as_bytes());
            assert_eq!(
                base64_decode(enc.trim_end_matches('=')).unwrap(),
                plain.as_bytes()
            );
        }
    }

    #[test]
    fn base64_takes_both_alphabets_and_rejects_garbage() {
        assert_eq!(
            base64_decode("-_8=").unwrap(),
            base64_decode("+/8=").unwrap()
        );
        assert_eq!(base64_decode("+/8=").unwrap(), b"\xfb\xff");
        assert!(base64_decode("Zm9v!").is_err());
        assert!(base64_decode("Z").is_err());
        assert!(base64_decode("Zg===").is_err());
        assert!(base64_decode("Zm 9v").is_err());
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(base64_decode(&base64_encode(&all)).unwrap(), all);
    }

    #[test]
    fn formats_decode_and_encode() {
        assert_eq!(DataFormat::Text.decode("hé").unwrap(), "hé".as_bytes());
        assert_eq!(DataFormat::Hex.encode(b"hi"), b"6869");
        assert_eq!(DataFormat::Base64.encode(b"hi"), b"aGk=");
        assert_eq!(DataFormat::Text.encode(b"\xff"), b"\xff");
    }
}
