//! Queue node names, byte for byte as Java Curator writes and reads them, and the order each
//! queue kind consumes them in.
//!
//! Every item node is `P/queue-<decoration><SEQ>`, PERSISTENT_SEQUENTIAL:
//!
//! | kind | decoration | example |
//! |---|---|---|
//! | plain | none | `queue-0000000003` |
//! | priority | `1` for priority ≥ 0 else `0`, then the priority as 8 upper-case hex digits (two's complement) | 5 → `queue-1000000050000000000`, −1 → `queue-0FFFFFFFF0000000001` |
//! | delay | `\|`, the epoch millisecond as upper-case hex (at least 8 digits), `\|` | `queue-\|18BCFE56800\|0000000000` |
//! | id | `\|`, the id with `/` and `\|` replaced by `_`, `\|` | `queue-\|job_7\|0000000004` |

use crate::path;

/// The prefix of every item node (Curator's `QUEUE_ITEM_NAME`).
pub(crate) const QUEUE_PREFIX: &str = "queue-";
/// Delay and id decorations are framed by this.
const SEPARATOR: char = '|';

/// How a queue kind decorates names and orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Lexicographic (so by sequence).
    Plain,
    /// Lexicographic: the priority decoration sorts lower priorities first.
    Priority,
    /// By the time left until each item's epoch (earliest first), then by name.
    Delay,
    /// By the name without its `|id|` part (so by sequence).
    Id,
}

/// The decoration of a priority item (after `queue-`, before the sequence).
pub(crate) fn priority_decoration(priority: i32) -> String {
    let sign = if priority >= 0 { '1' } else { '0' };
    format!("{sign}{:08X}", priority as u32)
}

/// The decoration of a delay item.
pub(crate) fn delay_decoration(epoch_ms: i64) -> String {
    format!("{SEPARATOR}{epoch_ms:08X}{SEPARATOR}")
}

/// The decoration of an id item (the id with the characters a name cannot carry replaced).
pub(crate) fn id_decoration(id: &str) -> String {
    let fixed: String = id
        .chars()
        .map(|c| if c == '/' || c == SEPARATOR { '_' } else { c })
        .collect();
    format!("{SEPARATOR}{fixed}{SEPARATOR}")
}

/// The epoch millisecond of a delay item, read as Curator reads it: the hex text between the
/// last two `|`; 0 (due at once) for a name without one or with text that is not a hex
/// `long`.
pub(crate) fn epoch_of(name: &str) -> i64 {
    let Some(i2) = name.rfind(SEPARATOR) else {
        return 0;
    };
    if i2 == 0 {
        return 0;
    }
    let Some(i1) = name[..i2].rfind(SEPARATOR) else {
        return 0;
    };
    if i1 == 0 || i2 <= i1 + 1 {
        return 0;
    }
    parse_java_hex_long(&name[i1 + 1..i2]).unwrap_or(0)
}

/// `Long.parseLong(s, 16)`: an optional sign, then hex digits, within `i64`.
fn parse_java_hex_long(s: &str) -> Option<i64> {
    let (neg, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let magnitude = i128::from_str_radix(digits, 16).ok()?;
    i64::try_from(if neg { -magnitude } else { magnitude }).ok()
}

/// An id item's id and its name without the `|id|` part; `None` for a name without two `|`
/// (Curator logs such a node as bad and sorts it by its whole name).
pub(crate) fn parse_id(name: &str) -> Option<(&str, String)> {
    let first = name.find(SEPARATOR)?;
    let second = first + 1 + name[first + 1..].find(SEPARATOR)?;
    let id = &name[first + 1..second];
    let cleaned = format!("{}{}", &name[..first], &name[second + 1..]);
    Some((id, cleaned))
}

/// True for a node a queue consumer handles (others are foreign and skipped).
pub(crate) fn is_item(name: &str) -> bool {
    name.starts_with(QUEUE_PREFIX)
}

/// Milliseconds until `name` is due (≤ 0: due), at `now_ms`.
pub(crate) fn delay_ms(kind: Kind, name: &str, now_ms: i64) -> i64 {
    match kind {
        Kind::Delay => epoch_of(name).saturating_sub(now_ms),
        _ => 0,
    }
}

/// Sorts `names` in the order `kind` consumes them, as of `now_ms`.
pub(crate) fn sort(kind: Kind, names: &mut [String], now_ms: i64) {
    match kind {
        Kind::Plain | Kind::Priority => names.sort(),
        Kind::Delay => names.sort_by(|a, b| {
            let da = delay_ms(kind, a, now_ms);
            let db = delay_ms(kind, b, now_ms);
            da.cmp(&db).then_with(|| a.cmp(b))
        }),
        Kind::Id => {
            names.sort_by(|a, b| id_sort_key(a).cmp(&id_sort_key(b)).then_with(|| a.cmp(b)))
        }
    }
}

fn id_sort_key(name: &str) -> String {
    match parse_id(name) {
        Some((_, cleaned)) => cleaned,
        None => name.to_string(),
    }
}

/// The path a requeued item is created at (a sequence is appended): its own name without
/// the sequence, so that it keeps its priority, delay or id. (Curator uses a plain `queue-`
/// name except for the id queue, which puts a requeued priority item among the negative
/// priorities.)
pub(crate) fn requeue_base(name: &str) -> &str {
    match path::sequence_suffix(name) {
        Some(seq) if name.len() > seq.len() => &name[..name.len() - seq.len()],
        _ => QUEUE_PREFIX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curator_priority_names() {
        assert_eq!(priority_decoration(5), "100000005");
        assert_eq!(priority_decoration(0), "100000000");
        assert_eq!(priority_decoration(-1), "0FFFFFFFF");
        assert_eq!(priority_decoration(i32::MIN), "080000000");
        assert_eq!(priority_decoration(i32::MAX), "17FFFFFFF");
        let mut names: Vec<String> = [10, -5, 0, i32::MAX, i32::MIN, 3]
            .iter()
            .enumerate()
            .map(|(i, p)| format!("queue-{}{:010}", priority_decoration(*p), i))
            .collect();
        sort(Kind::Priority, &mut names, 0);
        let order: Vec<&str> = names.iter().map(|n| &n[6..15]).collect();
        assert_eq!(
            order,
            [
                "080000000",
                "0FFFFFFFB",
                "100000000",
                "100000003",
                "10000000A",
                "17FFFFFFF"
            ]
        );
    }

    #[test]
    fn curator_delay_names() {
        assert_eq!(delay_decoration(0x18BCFE56800), "|18BCFE56800|");
        assert_eq!(delay_decoration(1), "|00000001|");
        assert_eq!(epoch_of("queue-|18BCFE56800|0000000000"), 0x18BCFE56800);
        assert_eq!(epoch_of("queue-0000000000"), 0);
        assert_eq!(epoch_of("queue-||0000000000"), 0);
        assert_eq!(epoch_of("queue-|zz|0000000000"), 0);
        assert_eq!(epoch_of("|1|"), 0); // the first `|` at index 0, as Java
        assert_eq!(epoch_of("queue-|FFFFFFFFFFFFFFFFFFFF|0000000000"), 0);
        let mut names = vec![
            "queue-|00000030|0000000000".to_string(),
            "queue-|00000010|0000000001".to_string(),
            "queue-|00000020|0000000002".to_string(),
            "queue-|00000010|0000000003".to_string(),
        ];
        sort(Kind::Delay, &mut names, 0x15);
        assert_eq!(
            names,
            [
                "queue-|00000010|0000000001",
                "queue-|00000010|0000000003",
                "queue-|00000020|0000000002",
                "queue-|00000030|0000000000"
            ]
        );
        assert_eq!(delay_ms(Kind::Delay, &names[2], 0x15), 0x20 - 0x15);
        assert_eq!(delay_ms(Kind::Plain, &names[2], 0x15), 0);
    }

    #[test]
    fn curator_id_names() {
        assert_eq!(id_decoration("my/id|x"), "|my_id_x|");
        let (id, cleaned) = parse_id("queue-|my_id|0000000004").unwrap();
        assert_eq!(id, "my_id");
        assert_eq!(cleaned, "queue-0000000004");
        assert!(parse_id("queue-0000000004").is_none());
        assert!(parse_id("queue-|half0000000004").is_none());
        let mut names = vec![
            "queue-|b|0000000002".to_string(),
            "queue-|a|0000000003".to_string(),
            "queue-|zz|0000000001".to_string(),
        ];
        sort(Kind::Id, &mut names, 0);
        assert_eq!(
            names,
            [
                "queue-|zz|0000000001",
                "queue-|b|0000000002",
                "queue-|a|0000000003"
            ]
        );
    }

    #[test]
    fn requeue_keeps_the_decoration() {
        assert_eq!(requeue_base("queue-0000000003"), "queue-");
        assert_eq!(requeue_base("queue-1000000050000000000"), "queue-100000005");
        assert_eq!(requeue_base("queue-|id|0000000001"), "queue-|id|");
        assert_eq!(requeue_base("queue-odd"), "queue-");
        assert!(is_item("queue-1") && !is_item("qn-1") && !is_item("lock"));
    }
}
