//! JSON written byte for byte as Jackson (Java Curator's JSON library) writes it, and the
//! lenient reading of a `ServiceInstance` document.
//!
//! Jackson and serde_json agree on almost everything in compact output; the differences
//! this module removes: a control character is escaped with upper-case hex (`\u001F`), a
//! character outside the Basic Multilingual Plane is written as its two escaped UTF-16
//! surrogates (`\uD83D\uDE00`, as Jackson 2.14's byte output does), and a floating-point
//! number is laid out as Java's `Double.toString` does (`0.25`, `100.0`, `1.0E10`,
//! `1.0E-5`). Numbers are shortest round-trip digits in both.

use std::io;

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// serde_json's compact formatter with Jackson's escapes and Java's number layout.
pub(crate) struct JacksonFormatter;

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn write_u_escape<W: ?Sized + io::Write>(w: &mut W, unit: u16) -> io::Result<()> {
    let d = |shift: u16| HEX[usize::from((unit >> shift) & 0xf)];
    w.write_all(&[b'\\', b'u', d(12), d(8), d(4), d(0)])
}

impl Formatter for JacksonFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // Only a 4-byte UTF-8 sequence (lead byte 0xF0 or more) needs work.
        if !fragment.bytes().any(|b| b >= 0xf0) {
            return w.write_all(fragment.as_bytes());
        }
        let mut units = [0u16; 2];
        for c in fragment.chars() {
            if u32::from(c) > 0xffff {
                for unit in c.encode_utf16(&mut units) {
                    write_u_escape(w, *unit)?;
                }
            } else {
                w.write_all(c.encode_utf8(&mut [0u8; 4]).as_bytes())?;
            }
        }
        Ok(())
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        let c = match escape {
            CharEscape::Quote => b'"',
            CharEscape::ReverseSolidus => b'\\',
            CharEscape::Solidus => b'/',
            CharEscape::Backspace => b'b',
            CharEscape::FormFeed => b'f',
            CharEscape::LineFeed => b'n',
            CharEscape::CarriageReturn => b'r',
            CharEscape::Tab => b't',
            CharEscape::AsciiControl(byte) => return write_u_escape(w, u16::from(byte)),
        };
        w.write_all(&[b'\\', c])
    }

    fn write_f64<W: ?Sized + io::Write>(&mut self, w: &mut W, v: f64) -> io::Result<()> {
        w.write_all(java_float(format!("{:e}", v.abs()), v.is_sign_negative()).as_bytes())
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, w: &mut W, v: f32) -> io::Result<()> {
        w.write_all(java_float(format!("{:e}", v.abs()), v.is_sign_negative()).as_bytes())
    }
}

/// Java's `Double.toString` / `Float.toString` layout of a finite number whose shortest
/// digits Rust printed as `{:e}` (`1.2345e-3`): plain decimal with at least one fraction
/// digit for magnitudes in [10^-3, 10^7), `d.dddE<exp>` otherwise.
fn java_float(sci: String, negative: bool) -> String {
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::with_capacity(digits.len() + 8);
    if negative {
        out.push('-');
    }
    if digits.bytes().all(|b| b == b'0') {
        out.push_str("0.0");
        return out;
    }
    let (first, rest) = digits.split_at(1);
    if (-3..7).contains(&exp) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            let padded = format!("{digits:0<int_len$}");
            let (int, frac) = padded.split_at(int_len);
            out.push_str(int);
            out.push('.');
            out.push_str(if frac.is_empty() { "0" } else { frac });
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
            out.push_str(&digits);
        }
    } else {
        out.push_str(first);
        out.push('.');
        out.push_str(if rest.is_empty() { "0" } else { rest });
        out.push('E');
        out.push_str(&exp.to_string());
    }
    out
}

/// `v` as compact JSON in Jackson's format.
pub(crate) fn to_vec<T: Serialize + ?Sized>(v: &T) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    write(&mut out, v)?;
    Ok(out)
}

/// Appends `v` as compact JSON in Jackson's format.
pub(crate) fn write<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) -> Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(out, JacksonFormatter);
    v.serialize(&mut ser).map_err(ser_error)
}

/// A JSON value with an object's `@class` member first, where Jackson's type handling puts
/// it (the other members follow in the map's order).
pub(crate) fn write_class_first(out: &mut Vec<u8>, v: &Value) -> Result<()> {
    let Value::Object(m) = v else {
        return write(out, v);
    };
    let Some(class) = m.get("@class") else {
        return write(out, v);
    };
    out.extend_from_slice(b"{\"@class\":");
    write(out, class)?;
    for (k, v) in m.iter().filter(|(k, _)| k.as_str() != "@class") {
        out.push(b',');
        write(out, k)?;
        out.push(b':');
        write(out, v)?;
    }
    out.push(b'}');
    Ok(())
}

pub(crate) fn ser_error(e: serde_json::Error) -> Error {
    Error::Serialization(e.to_string())
}

/// Reads the fields of one JSON object the way Jackson binds them to Curator's POJOs:
/// a missing field keeps its default, `null` clears a nullable one; wrong types are errors
/// that name the field.
pub(crate) struct Fields<'a> {
    map: &'a Map<String, Value>,
    what: &'static str,
}

impl<'a> Fields<'a> {
    pub(super) fn of(v: &'a Value, what: &'static str) -> Result<Fields<'a>> {
        match v {
            Value::Object(map) => Ok(Fields { map, what }),
            other => Err(Error::Serialization(format!(
                "{what}: expected a JSON object, found {}",
                kind(other)
            ))),
        }
    }

    pub(super) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn wrong(&self, key: &str, expected: &str, found: &Value) -> Error {
        Error::Serialization(format!(
            "{}: field {key:?} must be {expected}, found {}",
            self.what,
            kind(found)
        ))
    }

    pub(super) fn string(&self, key: &str) -> Result<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.wrong(key, "a string", other)),
        }
    }

    pub(super) fn bool(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(self.wrong(key, "true or false", other)),
        }
    }

    pub(super) fn i64(&self, key: &str) -> Result<Option<i64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.wrong(key, "a 64-bit integer", v)),
        }
    }

    pub(super) fn port(&self, key: &str) -> Result<Option<u16>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| self.wrong(key, "a port number (0-65535)", v)),
        }
    }

    /// True when the key is present, even as `null`.
    pub(super) fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(v: f64) -> String {
        String::from_utf8(to_vec(&v).unwrap()).unwrap()
    }

    #[test]
    fn doubles_print_as_java_prints_them() {
        for (v, java) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (0.25, "0.25"),
            (1.0, "1.0"),
            (100.0, "100.0"),
            (123.456, "123.456"),
            (9_999_999.0, "9999999.0"),
            (1.0E7, "1.0E7"),
            (1.0E10, "1.0E10"),
            (1.5E300, "1.5E300"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (1.2345E-5, "1.2345E-5"),
            (-2.5, "-2.5"),
            (f64::MAX, "1.7976931348623157E308"),
            (f64::MIN_POSITIVE, "2.2250738585072014E-308"),
        ] {
            assert_eq!(f(v), java, "{v:e}");
        }
        assert_eq!(f(f64::NAN), "null");
        assert_eq!(String::from_utf8(to_vec(&0.1f32).unwrap()).unwrap(), "0.1");
        assert_eq!(
            String::from_utf8(to_vec(&1.0e10f32).unwrap()).unwrap(),
            "1.0E10"
        );
    }

    #[test]
    fn strings_escape_as_jackson() {
        let s = "q\"b\\s/\u{1}\u{1f}\t\n\r\u{8}\u{c}\u{7f}✓\u{1f600}x\u{10ffff}";
        assert_eq!(
            String::from_utf8(to_vec(s).unwrap()).unwrap(),
            "\"q\\\"b\\\\s/\\u0001\\u001F\\t\\n\\r\\b\\f\u{7f}✓\\uD83D\\uDE00x\\uDBFF\\uDFFF\""
        );
    }

    #[test]
    fn class_goes_first() {
        let v: Value = serde_json::from_str(r#"{"a":1,"@class":"X","z":[1]}"#).unwrap();
        let mut out = Vec::new();
        write_class_first(&mut out, &v).unwrap();
        assert_eq!(out, br#"{"@class":"X","a":1,"z":[1]}"#);
    }

    #[test]
    fn fields_name_what_is_wrong() {
        let v: Value =
            serde_json::from_str(r#"{"s":1,"p":70000,"n":null,"b":"x","t":true}"#).unwrap();
        let f = Fields::of(&v, "instance").unwrap();
        assert!(matches!(f.string("s"), Err(Error::Serialization(m)) if m.contains("\"s\"")));
        assert!(f.port("p").is_err());
        assert_eq!(f.string("n").unwrap(), None);
        assert!(f.has("n") && !f.has("missing"));
        assert!(f.bool("b").is_err());
        assert_eq!(f.bool("t").unwrap(), Some(true));
        assert!(Fields::of(&Value::Null, "instance").is_err());
    }
}
