//! ZooKeeper paths: validation with the server's exact rules, and Curator's `ZKPaths` helpers
//! (joining, splitting, namespaces, parent enumeration, sequence suffixes).
//!
//! Every layer validates with [`validate_path`] before anything is sent: the server checks
//! too, but its error for a bad path is not reliable (a trailing `/` under a missing parent
//! gives `NoNode`, not `BadArguments`), so the client's check is the one users see.
//!
//! ```
//! use zk_curator::path;
//! assert!(path::validate_path("/app/config", false).is_ok());
//! assert!(path::validate_path("/queue/", true).is_ok()); // sequential: name is the number
//! assert!(path::validate_path("/a//b", false).is_err());
//! assert_eq!(path::make_path("/app", "locks"), "/app/locks");
//! assert_eq!(path::parent("/app/locks/lock-0000000042"), Some("/app/locks"));
//! assert_eq!(path::sequence_number("lock-0000000042"), Some(42));
//! ```

use crate::error::{Error, Result};

/// The path separator.
pub const SEPARATOR: char = '/';

/// The width of the sequence suffix the server appends to sequential nodes.
pub const SEQUENCE_WIDTH: usize = 10;

/// Checks `path` against ZooKeeper's rules (`PathUtils.validatePath`).
///
/// A valid path is non-empty, starts with `/`, is `/` alone or does not end with `/`, has no
/// empty segment, no `.` or `..` segment, and none of these code points: U+0000–U+001F,
/// U+007F–U+009F, U+D800–U+F8FF (so nothing above U+FFFF, which Java sees as surrogates, and
/// no private-use E000–F8FF) and U+FFF0–U+FFFF. For a sequential create the server appends
/// the sequence number, so the path is checked as if a digit followed it: `/queue/` is valid
/// then.
pub fn validate_path(path: &str, sequential: bool) -> Result<()> {
    if plainly_valid(path.as_bytes(), sequential) {
        return Ok(());
    }
    if sequential {
        // The server will append digits; check the path they complete.
        let mut p = String::with_capacity(path.len() + 1);
        p.push_str(path);
        p.push('1');
        return validate(&p).map_err(|reason| Error::invalid_path(path, reason));
    }
    validate(path).map_err(|reason| Error::invalid_path(path, reason))
}

/// True if [`validate_path`] accepts the path (non-sequential).
pub fn is_valid(path: &str) -> bool {
    plainly_valid(path.as_bytes(), false) || validate(path).is_ok()
}

/// The common case in one pass over the bytes, with no allocation (every request's path
/// goes through here, some twice): printable ASCII only, no empty, `.` or `..` segment, no
/// trailing `/` (with `sequential`, as if a digit followed). `false` means "ask
/// [`validate`]", which knows the other characters and words the reason, not "invalid".
fn plainly_valid(path: &[u8], sequential: bool) -> bool {
    let Some((&b'/', rest)) = path.split_first() else {
        return false;
    };
    let mut start = 0;
    for (i, &c) in rest.iter().enumerate() {
        if c == b'/' {
            if !plain_segment(&rest[start..i]) {
                return false;
            }
            start = i + 1;
        } else if !(0x20..0x7f).contains(&c) {
            return false;
        }
    }
    // The last segment: with the sequence digits appended it is never empty, `.` or `..`.
    sequential || rest.is_empty() || plain_segment(&rest[start..])
}

fn plain_segment(s: &[u8]) -> bool {
    !matches!(s, b"" | b"." | b"..")
}

fn validate(path: &str) -> std::result::Result<(), String> {
    if path.is_empty() {
        return Err("path must not be empty".into());
    }
    if !path.starts_with(SEPARATOR) {
        return Err("path must start with /".into());
    }
    if path.len() == 1 {
        return Ok(());
    }
    if path.ends_with(SEPARATOR) {
        return Err("path must not end with /".into());
    }
    for (i, segment) in path[1..].split(SEPARATOR).enumerate() {
        match segment {
            "" => return Err(format!("empty node name in segment {}", i + 1)),
            "." | ".." => return Err(format!("relative path segment {segment:?}")),
            _ => {}
        }
        if let Some(c) = segment.chars().find(|&c| is_forbidden(c)) {
            return Err(format!("invalid character U+{:04X}", c as u32));
        }
    }
    Ok(())
}

fn is_forbidden(c: char) -> bool {
    let c = c as u32;
    c <= 0x1f
        || (0x7f..=0x9f).contains(&c)
        || (0xd800..=0xf8ff).contains(&c)
        || (0xfff0..=0xffff).contains(&c)
        || c > 0xffff
}

/// Joins `parent` and `child` with exactly one `/` between them (Curator's
/// `ZKPaths.makePath`): a missing leading `/` is added, a trailing `/` of the parent and the
/// leading and trailing `/` of the child are dropped, and an empty piece is skipped. The
/// result is never empty (`/` at least).
///
/// ```
/// use zk_curator::path::make_path;
/// assert_eq!(make_path("/", "a"), "/a");
/// assert_eq!(make_path("/foo/", "/bar/"), "/foo/bar");
/// assert_eq!(make_path("foo", "bar"), "/foo/bar");
/// assert_eq!(make_path("", ""), "/");
/// ```
pub fn make_path(parent: &str, child: &str) -> String {
    let mut out = String::with_capacity(parent.len() + child.len() + 2);
    join_into(&mut out, parent);
    join_into(&mut out, child);
    if out.is_empty() {
        out.push(SEPARATOR);
    }
    out
}

/// [`make_path`] over any number of pieces.
pub fn make_path_of<'a>(pieces: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for p in pieces {
        join_into(&mut out, p);
    }
    if out.is_empty() {
        out.push(SEPARATOR);
    }
    out
}

fn join_into(out: &mut String, piece: &str) {
    let piece = piece.strip_prefix(SEPARATOR).unwrap_or(piece);
    let piece = piece.strip_suffix(SEPARATOR).unwrap_or(piece);
    if piece.is_empty() {
        return;
    }
    if !out.ends_with(SEPARATOR) {
        out.push(SEPARATOR);
    }
    out.push_str(piece);
}

/// The segments of a path, without empty ones: `/a/b` gives `["a", "b"]`, `/` gives `[]`.
pub fn split(path: &str) -> Vec<&str> {
    path.split(SEPARATOR).filter(|s| !s.is_empty()).collect()
}

/// The parent of a path: `/a/b` gives `/a`, `/a` gives `/`, `/` gives `None`.
pub fn parent(path: &str) -> Option<&str> {
    if path.len() <= 1 {
        return None;
    }
    match path.rfind(SEPARATOR) {
        Some(0) => Some("/"),
        Some(i) => Some(&path[..i]),
        None => None,
    }
}

/// The last segment of a path (Curator's `getNodeFromPath`): `/a/b` gives `b`, `/` gives `""`.
pub fn node_name(path: &str) -> &str {
    match path.rfind(SEPARATOR) {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// Parent and node name together (Curator's `getPathAndNode`): `/a/b` gives `("/a", "b")`,
/// `/a` gives `("/", "a")`, `/` gives `("/", "")`.
pub fn split_parent(path: &str) -> (&str, &str) {
    (parent(path).unwrap_or("/"), node_name(path))
}

/// Every proper ancestor of `path`, from the root's child down, as `mkdirs` creates them:
/// `/a/b/c` gives `["/a", "/a/b"]`; with `include_self` it also gives `/a/b/c`. The root is
/// never listed (it always exists).
pub fn ancestors(path: &str, include_self: bool) -> Vec<&str> {
    let mut out = Vec::new();
    for (i, c) in path.char_indices() {
        if c == SEPARATOR && i > 0 {
            out.push(&path[..i]);
        }
    }
    if include_self && path.len() > 1 {
        out.push(path);
    }
    out
}

/// Applies a namespace to a path (Curator's `fixForNamespace`): validates `path` (as a
/// sequential path if `sequential`), then prefixes `/namespace`. `None` or an empty namespace
/// leaves the path as it is.
///
/// ```
/// use zk_curator::path::fix_for_namespace;
/// assert_eq!(fix_for_namespace(Some("app"), "/a", false).unwrap(), "/app/a");
/// assert_eq!(fix_for_namespace(Some("app"), "/", false).unwrap(), "/app");
/// assert_eq!(fix_for_namespace(None, "/a", false).unwrap(), "/a");
/// assert!(fix_for_namespace(Some("app"), "a", false).is_err());
/// ```
pub fn fix_for_namespace(namespace: Option<&str>, path: &str, sequential: bool) -> Result<String> {
    validate_path(path, sequential)?;
    Ok(match namespace {
        Some(ns) if !ns.is_empty() && ns != "/" => {
            let mut p = make_path(ns, path);
            // make_path drops a trailing '/', which a sequential path may legitimately carry.
            if sequential && path.len() > 1 && path.ends_with(SEPARATOR) {
                p.push(SEPARATOR);
            }
            p
        }
        _ => path.to_string(),
    })
}

/// Removes a prefix (a chroot or a namespace path such as `/app`) from a server path: `/app/a`
/// gives `/a`, `/app` gives `/`. A path outside the prefix is returned unchanged.
pub fn strip_prefix<'a>(prefix: &str, path: &'a str) -> &'a str {
    if prefix.is_empty() || prefix == "/" {
        return path;
    }
    match path.strip_prefix(prefix) {
        Some("") => "/",
        Some(rest) if rest.starts_with(SEPARATOR) => rest,
        _ => path,
    }
}

/// The 10-character sequence suffix of a sequential node name, if it has one.
pub fn sequence_suffix(name: &str) -> Option<&str> {
    let n = name.len();
    if n < SEQUENCE_WIDTH || !name.is_char_boundary(n - SEQUENCE_WIDTH) {
        return None;
    }
    let s = &name[n - SEQUENCE_WIDTH..];
    sequence_of(s).map(|_| s)
}

/// The sequence number of a sequential node name: `lock-0000000042` gives 42. After the
/// parent's counter overflows the server writes negative numbers; those of 10 characters
/// (`-000000005` down to `-999999999`) parse, the 11-character ones (`-1000000000` and below)
/// cannot be told apart from a `-` ending the prefix and give `None` (Curator reads the same
/// last 10 characters). `None` if the name has no valid suffix.
pub fn sequence_number(name: &str) -> Option<i32> {
    sequence_suffix(name).and_then(sequence_of)
}

fn sequence_of(s: &str) -> Option<i32> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i32>().ok()
}

/// The text a recipe sorts a child by (Curator's `standardFixForSorting`): what follows the
/// **last** occurrence of `marker`, so that protection prefixes and other decorations before
/// the marker do not affect the order. A name without the marker sorts by itself.
///
/// ```
/// use zk_curator::path::fix_for_sorting;
/// let n = "_c_9a8254cf-7ee0-42a8-94ae-6366a99c3085-lock-0000000007";
/// assert_eq!(fix_for_sorting(n, "lock-"), "0000000007");
/// assert_eq!(fix_for_sorting("other", "lock-"), "other");
/// ```
pub fn fix_for_sorting<'a>(name: &'a str, marker: &str) -> &'a str {
    match name.rfind(marker) {
        Some(i) => &name[i + marker.len()..],
        None => name,
    }
}

/// Sorts child names the way Curator's lock recipes do: by [`fix_for_sorting`] with `marker`,
/// compared as strings (the server's zero padding makes that the sequence order).
pub fn sort_children(children: &mut [String], marker: &str) {
    children.sort_by(|a, b| fix_for_sorting(a, marker).cmp(fix_for_sorting(b, marker)));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast check never accepts what the full one refuses, and on printable ASCII (the
    /// only bytes it judges) it agrees exactly: every path of up to 6 characters over an
    /// alphabet with the separator, dots, a letter, a space and two forbidden characters.
    #[test]
    fn plain_check_agrees_with_the_full_one() {
        let alphabet = ['/', '.', 'a', ' ', '\x7f', '\x1f'];
        let mut checked = 0;
        for len in 0..=6u32 {
            for mut code in 0..alphabet.len().pow(len) {
                let mut p = String::new();
                for _ in 0..len {
                    p.push(alphabet[code % alphabet.len()]);
                    code /= alphabet.len();
                }
                for seq in [false, true] {
                    let full = validate_full(&p, seq);
                    let plain = plainly_valid(p.as_bytes(), seq);
                    assert!(!plain || full, "{p:?} seq={seq}: fast yes, full no");
                    if p.bytes().all(|b| (0x20..0x7f).contains(&b)) {
                        assert_eq!(plain, full, "{p:?} seq={seq}");
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked > 100_000);
    }

    /// `validate_path` without its fast path.
    fn validate_full(p: &str, sequential: bool) -> bool {
        if sequential {
            validate(&format!("{p}1")).is_ok()
        } else {
            validate(p).is_ok()
        }
    }

    #[test]
    fn validation_table() {
        // (path, sequential, valid)
        let cases: &[(&str, bool, bool)] = &[
            ("/", false, true),
            ("/a", false, true),
            ("/a/b/c", false, true),
            ("/a b", false, true),
            ("/...", false, true),
            ("/.a", false, true),
            ("/a.", false, true),
            ("/a/..b", false, true),
            ("/zookeeper", false, true),
            ("", false, false),
            ("a", false, false),
            ("a/b", false, false),
            ("/a/", false, false),
            ("//", false, false),
            ("/a//b", false, false),
            ("//a", false, false),
            ("/.", false, false),
            ("/..", false, false),
            ("/a/.", false, false),
            ("/a/../b", false, false),
            ("/a/./b", false, false),
            // sequential: a trailing '/' names the child by its number
            ("/queue/", true, true),
            ("/queue/job-", true, true),
            ("/", true, true),
            ("/q//", true, false),
            ("q/", true, false),
            ("", true, false),
            ("/.", true, true), // checked as "/.1"
        ];
        for &(p, seq, ok) in cases {
            assert_eq!(validate_path(p, seq).is_ok(), ok, "{p:?} seq={seq}");
        }
    }

    #[test]
    fn forbidden_code_points() {
        let bad = [
            '\u{0}',
            '\u{1}',
            '\u{1f}',
            '\u{7f}',
            '\u{80}',
            '\u{9f}',
            '\u{e000}',
            '\u{f8ff}',
            '\u{fff0}',
            '\u{fffd}',
            '\u{ffff}',
            '\u{10000}',
            '\u{1f600}',
            '\u{10ffff}',
        ];
        for c in bad {
            let p = format!("/a{c}b");
            let e = validate_path(&p, false).unwrap_err();
            assert!(matches!(e, Error::InvalidPath { .. }), "{c:?}");
            assert!(e.to_string().contains("invalid character"), "{e}");
        }
        let good = [
            ' ', '~', '\u{a0}', 'é', 'ß', '中', '\u{d7ff}', '\u{f900}', '\u{ffef}', '日',
        ];
        for c in good {
            let p = format!("/a{c}b/{c}");
            assert!(validate_path(&p, false).is_ok(), "{c:?}");
        }
    }

    #[test]
    fn errors_name_path_and_reason() {
        let e = validate_path("/a//b", false).unwrap_err();
        match &e {
            Error::InvalidPath { path, reason } => {
                assert_eq!(path, "/a//b");
                assert!(reason.contains("empty"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert!(e.to_string().contains("/a//b"));
        for (p, frag) in [
            ("", "empty"),
            ("x", "start"),
            ("/x/", "end"),
            ("/x/..", "relative"),
        ] {
            let e = validate_path(p, false).unwrap_err();
            assert!(e.to_string().contains(frag), "{p:?}: {e}");
        }
    }

    #[test]
    fn make_path_table() {
        let cases = [
            ("/", "a", "/a"),
            ("/", "/a", "/a"),
            ("", "a", "/a"),
            ("/a", "b", "/a/b"),
            ("/a/", "b", "/a/b"),
            ("/a", "/b", "/a/b"),
            ("/a/", "/b/", "/a/b"),
            ("a", "b", "/a/b"),
            ("/a", "", "/a"),
            ("", "", "/"),
            ("/", "/", "/"),
            ("/a", "b/c", "/a/b/c"),
        ];
        for (p, c, want) in cases {
            assert_eq!(make_path(p, c), want, "{p:?} + {c:?}");
        }
        assert_eq!(make_path_of(["app", "/x/", "y"]), "/app/x/y");
        assert_eq!(make_path_of([]), "/");
    }

    #[test]
    fn split_parent_name_table() {
        assert_eq!(split("/a/b/c"), vec!["a", "b", "c"]);
        assert!(split("/").is_empty());
        let cases = [
            ("/a/b", Some("/a"), "b"),
            ("/a", Some("/"), "a"),
            ("/", None, ""),
            ("/a/b/c-0000000001", Some("/a/b"), "c-0000000001"),
        ];
        for (p, par, name) in cases {
            assert_eq!(parent(p), par, "{p}");
            assert_eq!(node_name(p), name, "{p}");
        }
        assert_eq!(split_parent("/"), ("/", ""));
        assert_eq!(split_parent("/x"), ("/", "x"));
        assert_eq!(split_parent("/x/y"), ("/x", "y"));
        // A sequential path ending in `/`: the name is empty (the server adds the number).
        assert_eq!(split_parent("/q/"), ("/q", ""));
    }

    #[test]
    fn ancestors_table() {
        assert_eq!(ancestors("/a/b/c", false), vec!["/a", "/a/b"]);
        assert_eq!(ancestors("/a/b/c", true), vec!["/a", "/a/b", "/a/b/c"]);
        assert!(ancestors("/a", false).is_empty());
        assert_eq!(ancestors("/a", true), vec!["/a"]);
        assert!(ancestors("/", true).is_empty());
        assert_eq!(ancestors("/é/ß", false), vec!["/é"]);
    }

    #[test]
    fn namespace_table() {
        let cases: &[(Option<&str>, &str, bool, Option<&str>)] = &[
            (Some("app"), "/a", false, Some("/app/a")),
            (Some("app"), "/", false, Some("/app")),
            (Some("/app/"), "/a/b", false, Some("/app/a/b")),
            (Some("app/sub"), "/a", false, Some("/app/sub/a")),
            (Some(""), "/a", false, Some("/a")),
            (None, "/a", false, Some("/a")),
            (Some("app"), "/q/", true, Some("/app/q/")),
            (Some("app"), "/q/n-", true, Some("/app/q/n-")),
            (Some("app"), "a", false, None),
            (Some("app"), "/a/", false, None),
        ];
        for &(ns, p, seq, want) in cases {
            let got = fix_for_namespace(ns, p, seq).ok();
            assert_eq!(got.as_deref(), want, "{ns:?} {p:?}");
        }
    }

    #[test]
    fn strip_prefix_table() {
        assert_eq!(strip_prefix("/app", "/app/a"), "/a");
        assert_eq!(strip_prefix("/app", "/app"), "/");
        assert_eq!(strip_prefix("/app", "/apple"), "/apple");
        assert_eq!(
            strip_prefix("/app", "/zookeeper/config"),
            "/zookeeper/config"
        );
        assert_eq!(strip_prefix("/", "/a"), "/a");
        assert_eq!(strip_prefix("", "/a"), "/a");
    }

    #[test]
    fn sequence_suffix_table() {
        let cases: &[(&str, Option<i32>)] = &[
            ("lock-0000000042", Some(42)),
            ("0000000000", Some(0)),
            ("/q/0000000007", Some(7)),
            ("x2147483647", Some(i32::MAX)),
            ("lock--000000005", Some(-5)),
            // 11-character negatives cannot be told apart from `marker-` + 10 digits: none
            ("lock--2147483648", None),
            ("lock-42", None),
            ("lock-00000000x2", None),
            ("lock-000000000-", None),
            ("", None),
            ("é000000001", None), // nine digits after a 2-byte char
            ("ab€000000001", None),
        ];
        for &(name, want) in cases {
            assert_eq!(sequence_number(name), want, "{name:?}");
        }
        assert_eq!(sequence_suffix("lock-0000000042"), Some("0000000042"));
    }

    #[test]
    fn sorting_ignores_protection_prefixes() {
        let mut kids = vec![
            "_c_ffffffff-7ee0-42a8-94ae-6366a99c3085-lock-0000000003".to_string(),
            "lock-0000000001".to_string(),
            "_c_00000000-7ee0-42a8-94ae-6366a99c3085-lock-0000000002".to_string(),
        ];
        sort_children(&mut kids, "lock-");
        let seqs: Vec<_> = kids.iter().map(|k| sequence_number(k).unwrap()).collect();
        assert_eq!(seqs, vec![1, 2, 3]);
        // marker at the end leaves an empty key; the last occurrence wins
        assert_eq!(fix_for_sorting("a-lock-lock-", "lock-"), "");
        assert_eq!(
            fix_for_sorting("lock-x-lock-0000000001", "lock-"),
            "0000000001"
        );
    }
}
