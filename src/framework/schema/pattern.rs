//! [`PathPattern`]: the regular expressions schemas match paths with, without a regex
//! crate: a Thompson NFA run as a Pike VM over a subset of Java's syntax.

use std::fmt;

use crate::error::{Error, Result};

/// The largest compiled program accepted (bounded repetitions are expanded).
const MAX_PROGRAM: usize = 20_000;
const MAX_REPEAT: u32 = 1000;

/// A compiled path pattern: a subset of Java's `java.util.regex` syntax, matched against the
/// **whole** path (Java's `matcher(path).matches()`) in linear time (a Thompson NFA run as
/// a Pike VM, so no pattern can make matching blow up), without a regex crate:
///
/// | syntax | meaning |
/// |---|---|
/// | `a`, `\.`, `\\`, `\/`, `\*`, ... | that character (any non-alphanumeric escaped) |
/// | `.` | any character but a line break |
/// | `[abc]`, `[a-z0-9_]`, `[^/]` | a character class, negated with `^` |
/// | `\d` `\w` `\s` and `\D` `\W` `\S` | ASCII digit, word character, white space, and not |
/// | `(...)`, `(?:...)` | a group (nothing is captured) |
/// | `a\|b` | alternation |
/// | `*` `+` `?` `{n}` `{n,}` `{n,m}`, and their lazy forms `*?` ... | repetition (`m` ≤ 1000) |
/// | `^` at the start, `$` at the end | accepted; the match is always anchored |
///
/// Anything else (back-references, look-around, `\b`, possessive quantifiers, inline flags,
/// `\p{...}`, anchors in the middle, nested classes) is refused when the pattern is
/// compiled, with the position of the construct, rather than matched differently from Java.
///
/// ```
/// use zk_curator::framework::PathPattern;
/// let p = PathPattern::new(r"/services/[^/]+/instances/\d+")?;
/// assert!(p.matches("/services/web/instances/12"));
/// assert!(!p.matches("/services/web/instances/12/x"));
/// assert!(PathPattern::new(r"/a/(?=b)").is_err());
/// # Ok::<(), zk_curator::Error>(())
/// ```
#[derive(Clone)]
pub struct PathPattern {
    source: String,
    prog: Vec<Inst>,
    classes: Vec<Class>,
}

#[derive(Debug, Clone)]
enum Inst {
    Char(char),
    Any,
    Class(usize),
    Split(usize, usize),
    Jmp(usize),
    Match,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Builtin {
    Digit,
    Word,
    Space,
}

impl Builtin {
    fn matches(self, c: char) -> bool {
        match self {
            Builtin::Digit => c.is_ascii_digit(),
            Builtin::Word => c.is_ascii_alphanumeric() || c == '_',
            Builtin::Space => matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0B' | '\x0C'),
        }
    }
}

#[derive(Debug, Clone)]
enum Item {
    Range(char, char),
    Builtin(Builtin, bool),
}

#[derive(Debug, Clone)]
struct Class {
    negated: bool,
    items: Vec<Item>,
}

impl Class {
    fn matches(&self, c: char) -> bool {
        let hit = self.items.iter().any(|i| match *i {
            Item::Range(lo, hi) => lo <= c && c <= hi,
            Item::Builtin(b, neg) => b.matches(c) != neg,
        });
        hit != self.negated
    }
}

#[derive(Debug, Clone)]
enum Node {
    Empty,
    Char(char),
    Any,
    Class(Class),
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    Repeat(Box<Node>, u32, Option<u32>),
}

impl PathPattern {
    /// Compiles `regex`; `InvalidArgument` with the position of what is malformed or not
    /// supported.
    pub fn new(regex: &str) -> Result<PathPattern> {
        let mut p = Parser {
            chars: regex.chars().collect(),
            pos: 0,
        };
        let node = p.parse().map_err(|(at, why)| {
            Error::InvalidArgument(format!("regex {regex:?}, at {at}: {why}"))
        })?;
        let mut c = Compiler::default();
        c.emit_node(&node)
            .map_err(|why| Error::InvalidArgument(format!("regex {regex:?}: {why}")))?;
        c.push(Inst::Match)
            .map_err(|why| Error::InvalidArgument(format!("regex {regex:?}: {why}")))?;
        Ok(PathPattern {
            source: regex.to_string(),
            prog: c.prog,
            classes: c.classes,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// True if the whole of `path` matches.
    pub fn matches(&self, path: &str) -> bool {
        let n = self.prog.len();
        let mut cur = Threads::new(n);
        let mut next = Threads::new(n);
        let mut stack = Vec::new();
        self.add(&mut cur, 0, &mut stack);
        for ch in path.chars() {
            if cur.list.is_empty() {
                return false;
            }
            next.clear();
            for i in 0..cur.list.len() {
                let pc = cur.list[i];
                let ok = match &self.prog[pc] {
                    Inst::Char(c) => *c == ch,
                    Inst::Any => ch != '\n' && ch != '\r',
                    Inst::Class(k) => self.classes[*k].matches(ch),
                    _ => false,
                };
                if ok {
                    self.add(&mut next, pc + 1, &mut stack);
                }
            }
            std::mem::swap(&mut cur, &mut next);
        }
        cur.list
            .iter()
            .any(|&pc| matches!(self.prog[pc], Inst::Match))
    }

    /// Adds `pc` and everything reachable from it without reading a character.
    fn add(&self, t: &mut Threads, pc: usize, stack: &mut Vec<usize>) {
        stack.push(pc);
        while let Some(pc) = stack.pop() {
            if pc >= self.prog.len() || t.seen[pc] {
                continue;
            }
            t.seen[pc] = true;
            match self.prog[pc] {
                Inst::Jmp(to) => stack.push(to),
                Inst::Split(a, b) => {
                    stack.push(b);
                    stack.push(a);
                }
                _ => t.list.push(pc),
            }
        }
    }
}

impl fmt::Debug for PathPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PathPattern({:?})", self.source)
    }
}

impl fmt::Display for PathPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

struct Threads {
    list: Vec<usize>,
    seen: Vec<bool>,
}

impl Threads {
    fn new(n: usize) -> Threads {
        Threads {
            list: Vec::with_capacity(n),
            seen: vec![false; n],
        }
    }

    fn clear(&mut self) {
        // Epsilon states were marked too, not only the listed ones: clear every mark
        // (cheap for the programs paths are matched with).
        self.seen.iter_mut().for_each(|s| *s = false);
        self.list.clear();
    }
}

#[derive(Default)]
struct Compiler {
    prog: Vec<Inst>,
    classes: Vec<Class>,
}

impl Compiler {
    fn push(&mut self, i: Inst) -> std::result::Result<usize, String> {
        if self.prog.len() >= MAX_PROGRAM {
            return Err(format!(
                "too large once repetitions are expanded (over {MAX_PROGRAM} steps)"
            ));
        }
        self.prog.push(i);
        Ok(self.prog.len() - 1)
    }

    fn emit_node(&mut self, n: &Node) -> std::result::Result<(), String> {
        match n {
            Node::Empty => {}
            Node::Char(c) => {
                self.push(Inst::Char(*c))?;
            }
            Node::Any => {
                self.push(Inst::Any)?;
            }
            Node::Class(c) => {
                self.classes.push(c.clone());
                self.push(Inst::Class(self.classes.len() - 1))?;
            }
            Node::Concat(v) => {
                for x in v {
                    self.emit_node(x)?;
                }
            }
            Node::Alt(v) => {
                let mut jumps = Vec::new();
                for (i, x) in v.iter().enumerate() {
                    if i + 1 < v.len() {
                        let split = self.push(Inst::Split(0, 0))?;
                        self.emit_node(x)?;
                        jumps.push(self.push(Inst::Jmp(0))?);
                        let next = self.prog.len();
                        self.prog[split] = Inst::Split(split + 1, next);
                    } else {
                        self.emit_node(x)?;
                    }
                }
                let end = self.prog.len();
                for j in jumps {
                    self.prog[j] = Inst::Jmp(end);
                }
            }
            Node::Repeat(x, min, max) => {
                for _ in 0..*min {
                    self.emit_node(x)?;
                }
                match max {
                    None => {
                        let split = self.push(Inst::Split(0, 0))?;
                        self.emit_node(x)?;
                        self.push(Inst::Jmp(split))?;
                        let end = self.prog.len();
                        self.prog[split] = Inst::Split(split + 1, end);
                    }
                    Some(max) => {
                        let mut splits = Vec::new();
                        for _ in *min..*max {
                            splits.push(self.push(Inst::Split(0, 0))?);
                            self.emit_node(x)?;
                        }
                        let end = self.prog.len();
                        for s in splits {
                            self.prog[s] = Inst::Split(s + 1, end);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

type ParseResult<T> = std::result::Result<T, (usize, String)>;

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn err<T>(&self, why: impl Into<String>) -> ParseResult<T> {
        Err((self.pos, why.into()))
    }

    fn parse(&mut self) -> ParseResult<Node> {
        if self.peek() == Some('^') {
            self.pos += 1;
        }
        let n = self.alternation()?;
        match self.peek() {
            None => Ok(n),
            Some(')') => self.err("unbalanced ')'"),
            Some(c) => self.err(format!("unexpected {c:?}")),
        }
    }

    fn alternation(&mut self) -> ParseResult<Node> {
        let mut alts = vec![self.concat()?];
        while self.peek() == Some('|') {
            self.pos += 1;
            alts.push(self.concat()?);
        }
        Ok(if alts.len() == 1 {
            alts.pop().unwrap_or(Node::Empty)
        } else {
            Node::Alt(alts)
        })
    }

    fn concat(&mut self) -> ParseResult<Node> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            if c == '$' {
                // Only as the very last character (or before a closing group at the end).
                if self.pos + 1 == self.chars.len() {
                    self.pos += 1;
                    break;
                }
                return self.err("'$' is only supported at the end");
            }
            let atom = self.atom()?;
            items.push(self.quantified(atom)?);
        }
        Ok(match items.len() {
            0 => Node::Empty,
            1 => items.pop().unwrap_or(Node::Empty),
            _ => Node::Concat(items),
        })
    }

    fn quantified(&mut self, atom: Node) -> ParseResult<Node> {
        let (min, max) = match self.peek() {
            Some('*') => {
                self.pos += 1;
                (0, None)
            }
            Some('+') => {
                self.pos += 1;
                (1, None)
            }
            Some('?') => {
                self.pos += 1;
                (0, Some(1))
            }
            Some('{') => self.braces()?,
            _ => return Ok(atom),
        };
        match self.peek() {
            // Lazy: the same set of whole-path matches.
            Some('?') => self.pos += 1,
            Some('+') => return self.err("possessive quantifiers are not supported"),
            _ => {}
        }
        if matches!(self.peek(), Some('*' | '+' | '{')) {
            return self.err("a quantifier cannot follow a quantifier");
        }
        Ok(Node::Repeat(Box::new(atom), min, max))
    }

    fn number(&mut self) -> ParseResult<Option<u32>> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        if start == self.pos {
            return Ok(None);
        }
        let s: String = self.chars[start..self.pos].iter().collect();
        match s.parse::<u32>() {
            Ok(n) if n <= MAX_REPEAT => Ok(Some(n)),
            _ => Err((start, format!("repetition count {s} is over {MAX_REPEAT}"))),
        }
    }

    fn braces(&mut self) -> ParseResult<(u32, Option<u32>)> {
        self.pos += 1; // '{'
        let Some(min) = self.number()? else {
            return self.err("expected a number after '{'");
        };
        let max = match self.peek() {
            Some('}') => Some(min),
            Some(',') => {
                self.pos += 1;
                self.number()?
            }
            _ => return self.err("expected ',' or '}'"),
        };
        if self.peek() != Some('}') {
            return self.err("expected '}'");
        }
        self.pos += 1;
        if max.is_some_and(|m| m < min) {
            return self.err("{n,m} with m < n");
        }
        Ok((min, max))
    }

    fn atom(&mut self) -> ParseResult<Node> {
        let Some(c) = self.peek() else {
            return self.err("unexpected end");
        };
        self.pos += 1;
        match c {
            '.' => Ok(Node::Any),
            '(' => {
                if self.peek() == Some('?') {
                    if self.chars.get(self.pos + 1) == Some(&':') {
                        self.pos += 2;
                    } else {
                        return self
                            .err("look-around, named groups and inline flags are not supported");
                    }
                }
                let inner = self.alternation()?;
                if self.peek() != Some(')') {
                    return self.err("missing ')'");
                }
                self.pos += 1;
                Ok(inner)
            }
            '[' => self.class(),
            '\\' => match self.escape()? {
                Esc::Char(c) => Ok(Node::Char(c)),
                Esc::Builtin(b, neg) => Ok(Node::Class(Class {
                    negated: false,
                    items: vec![Item::Builtin(b, neg)],
                })),
            },
            '*' | '+' | '?' | '{' => Err((self.pos - 1, format!("nothing to repeat before {c:?}"))),
            '^' => Err((self.pos - 1, "'^' is only supported at the start".into())),
            c => Ok(Node::Char(c)),
        }
    }

    fn escape(&mut self) -> ParseResult<Esc> {
        let Some(c) = self.peek() else {
            return self.err("a pattern cannot end with '\\'");
        };
        self.pos += 1;
        Ok(match c {
            'd' => Esc::Builtin(Builtin::Digit, false),
            'D' => Esc::Builtin(Builtin::Digit, true),
            'w' => Esc::Builtin(Builtin::Word, false),
            'W' => Esc::Builtin(Builtin::Word, true),
            's' => Esc::Builtin(Builtin::Space, false),
            'S' => Esc::Builtin(Builtin::Space, true),
            't' => Esc::Char('\t'),
            'n' => Esc::Char('\n'),
            'r' => Esc::Char('\r'),
            c if !c.is_ascii_alphanumeric() => Esc::Char(c),
            c => return Err((self.pos - 2, format!("\\{c} is not supported"))),
        })
    }

    fn class(&mut self) -> ParseResult<Node> {
        let mut negated = false;
        if self.peek() == Some('^') {
            negated = true;
            self.pos += 1;
        }
        let mut items = Vec::new();
        let mut first = true;
        loop {
            let Some(c) = self.peek() else {
                return self.err("missing ']'");
            };
            if c == ']' && !first {
                self.pos += 1;
                break;
            }
            first = false;
            if c == '[' || (c == '&' && self.chars.get(self.pos + 1) == Some(&'&')) {
                return self.err("nested classes and intersections are not supported");
            }
            self.pos += 1;
            let lo = if c == '\\' {
                match self.escape()? {
                    Esc::Char(c) => c,
                    Esc::Builtin(b, neg) => {
                        items.push(Item::Builtin(b, neg));
                        continue;
                    }
                }
            } else {
                c
            };
            // A range, unless '-' is last.
            if self.peek() == Some('-') && self.chars.get(self.pos + 1).is_some_and(|&n| n != ']') {
                self.pos += 1;
                let Some(h) = self.peek() else {
                    return self.err("missing ']'");
                };
                self.pos += 1;
                let hi = if h == '\\' {
                    match self.escape()? {
                        Esc::Char(c) => c,
                        Esc::Builtin(..) => return self.err("a range cannot end in a class"),
                    }
                } else {
                    h
                };
                if hi < lo {
                    return self.err(format!("range {lo}-{hi} is reversed"));
                }
                items.push(Item::Range(lo, hi));
            } else {
                items.push(Item::Range(lo, lo));
            }
        }
        Ok(Node::Class(Class { negated, items }))
    }
}

enum Esc {
    Char(char),
    Builtin(Builtin, bool),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(re: &str, path: &str) -> bool {
        PathPattern::new(re)
            .unwrap_or_else(|e| panic!("{re}: {e}"))
            .matches(path)
    }

    #[test]
    fn the_subset_matches_as_java_does() {
        let yes: &[(&str, &str)] = &[
            ("/a/.*", "/a/b/c"),
            ("/a/.*", "/a/"),
            ("/a/[^/]+", "/a/b"),
            (r"/q/item-\d{10}", "/q/item-0000000001"),
            ("/(a|bc)+/x", "/abca/x"),
            ("/x(?:/y)?", "/x"),
            ("/x(?:/y)?", "/x/y"),
            ("^/a$", "/a"),
            ("/[a-c_0-9-]*", "/a_9-c"),
            (r"/\w+\.txt", "/read_me.txt"),
            ("/a{2,3}", "/aaa"),
            ("/a{2,}", "/aaaaa"),
            ("/a*?b", "/aab"),
            ("", ""),
            ("/é.", "/éü"),
            (r"[\d\s]+", "1 2"),
            (r"[^\d]", "x"),
        ];
        for (re, p) in yes {
            assert!(m(re, p), "{re} should match {p}");
        }
        let no: &[(&str, &str)] = &[
            ("/a/[^/]+", "/a/b/c"),
            ("/a", "/a/b"),
            ("/a", "/"),
            (r"/q/item-\d{10}", "/q/item-000000001"),
            ("/a{2,3}", "/aaaa"),
            ("/a.b", "/a\nb"),
            ("/(a|bc)+/x", "/x"),
            (r"[^\d]", "1"),
            (".", ""),
        ];
        for (re, p) in no {
            assert!(!m(re, p), "{re} should not match {p}");
        }
    }

    #[test]
    fn unsupported_and_malformed_patterns_are_refused_with_a_position() {
        for (re, want) in [
            ("/a/(?=b)", "look-around"),
            ("/a/(?i)b", "inline flags"),
            (r"/a/\1", "not supported"),
            (r"/a\b", "not supported"),
            (r"\p{L}", "not supported"),
            ("/a*+", "possessive"),
            ("/a**", "cannot follow"),
            ("*a", "nothing to repeat"),
            ("/a(b", "missing ')'"),
            ("/a)b", "unbalanced"),
            ("/[ab", "missing ']'"),
            ("/[z-a]", "reversed"),
            ("/[[a]]", "nested"),
            ("/a{3,2}", "m < n"),
            ("/a{x}", "expected a number"),
            ("/a{2000}", "over 1000"),
            ("/a$b", "'$'"),
            ("/a^", "'^'"),
            ("/a\\", "cannot end"),
            ("(a{1000}){1000}", "too large"),
        ] {
            match PathPattern::new(re) {
                Err(Error::InvalidArgument(msg)) => assert!(msg.contains(want), "{re}: {msg}"),
                other => panic!("{re}: {other:?}"),
            }
        }
    }

    #[test]
    fn matching_is_linear_even_for_nasty_patterns() {
        // (a*)*b against a long run of a's: exponential for a backtracking matcher.
        let p = PathPattern::new("(a*)*b").unwrap();
        let long = "a".repeat(20_000);
        let start = std::time::Instant::now();
        assert!(!p.matches(&long));
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }
}
