//! The one JSON line a run prints (bench/README.md, "The JSON line"): top-level fields in the
//! order they were first set, then `extra`. Hand-written so that the harness needs no serde.

use std::fmt::Write;
use std::time::Duration;

use crate::measure::{percentile, round1, secs};

/// A field value: all a result line needs.
#[derive(Debug, Clone)]
pub enum Value {
    Int(i64),
    Num(f64),
    Text(String),
}

impl From<usize> for Value {
    fn from(v: usize) -> Value {
        Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Num(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_string())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}

#[derive(Debug)]
pub struct Line {
    fields: Vec<(&'static str, Value)>,
    extra: Vec<(&'static str, Value)>,
}

fn upsert(list: &mut Vec<(&'static str, Value)>, key: &'static str, v: Value) {
    match list.iter_mut().find(|(k, _)| *k == key) {
        Some(slot) => slot.1 = v,
        None => list.push((key, v)),
    }
}

impl Line {
    pub fn new(client: &str, workload: &str) -> Line {
        let mut l = Line {
            fields: Vec::new(),
            extra: Vec::new(),
        };
        l.set("client", client);
        l.set("workload", workload);
        l
    }

    pub fn set(&mut self, key: &'static str, v: impl Into<Value>) {
        upsert(&mut self.fields, key, v.into());
    }

    pub fn extra(&mut self, key: &'static str, v: impl Into<Value>) {
        upsert(&mut self.extra, key, v.into());
    }

    /// A timed phase of `ops` operations with one latency (ns) each: throughput and the
    /// nearest-rank p50 and p99.
    pub fn timed(&mut self, ops: usize, elapsed: Duration, mut lat_ns: Vec<u64>) {
        lat_ns.sort_unstable();
        self.set("ops", ops);
        self.set("secs", secs(elapsed));
        self.set(
            "ops_per_sec",
            round1(ops as f64 / elapsed.as_secs_f64().max(1e-9)),
        );
        self.set("p50_us", round1(percentile(&lat_ns, 0.50) as f64 / 1e3));
        self.set("p99_us", round1(percentile(&lat_ns, 0.99) as f64 / 1e3));
    }

    /// A watch workload: `expected` events, `delivered` of them within `elapsed`.
    pub fn events(&mut self, expected: usize, delivered: usize, elapsed: Duration) {
        self.set("ops", expected);
        self.set("secs", secs(elapsed));
        self.set(
            "ops_per_sec",
            round1(delivered as f64 / elapsed.as_secs_f64().max(1e-9)),
        );
        self.set("lost", expected as i64 - delivered as i64);
        self.extra("delivered", delivered);
    }

    pub fn render(&self) -> String {
        let mut out = String::from("{");
        write_pairs(&mut out, &self.fields);
        if !self.extra.is_empty() {
            out.push_str(",\"extra\":{");
            write_pairs(&mut out, &self.extra);
            out.push('}');
        }
        out.push('}');
        out
    }
}

fn write_pairs(out: &mut String, pairs: &[(&'static str, Value)]) {
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_text(out, k);
        out.push(':');
        match v {
            Value::Int(n) => {
                let _ = write!(out, "{n}");
            }
            // JSON has no NaN or infinity; a float that is whole keeps its ".0".
            Value::Num(x) if !x.is_finite() => out.push_str("null"),
            Value::Num(x) if x.fract() == 0.0 && x.abs() < 1e15 => {
                let _ = write!(out, "{x:.1}");
            }
            Value::Num(x) => {
                let _ = write!(out, "{x}");
            }
            Value::Text(s) => write_text(out, s),
        }
    }
}

fn write_text(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
