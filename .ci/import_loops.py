#!/usr/bin/env python3
"""Fail on import loops between sibling modules of the crate (issue 16).

Two modules are siblings when they have the same parent module (`session::shared` and
`session::events`; `session` and `client` under the crate root). A module *uses* a sibling
when any file of its subtree names the sibling or anything inside it: a `use` (grouped trees
such as `use super::{a::X, b::Y}` included), a path in code (`super::x::Y`,
`crate::session::x::Y`, `$crate::...` in a macro), or a `pub use` re-export. A reference to a
sibling's descendant counts for the sibling; a path through a parent's re-export
(`crate::session::EventDispatcher`) counts for the module that defines the item, as far as
the parent's `pub use` lines (and glob re-exports, by item name) tell. A module naming its own
ancestors or descendants makes no sibling edge, so a `mod.rs` re-exporting its children is
fine. Loops are strongly connected components of the sibling graph; each is printed with the
file and line of every reference that closes it, and the exit status is 1 if there is one.

Test modules count: `#[cfg(test)] mod tests { ... }` inside a file belongs to that file's
module, and its references are that module's. A loop that only tests close is still a loop
for a reader who wants to understand the lower module on its own, and so far moving the shared
item down (or the test beside the module it tests) has always been the better shape.

Not seen: comments (doc links included) and string literals are stripped; names brought in
by `use super::*` and then used bare are not traced (the glob itself names only an
ancestor); macros invoked by textual scope (`macro_rules!` from a sibling) name no path.

Every loop fails: there is no list of tolerated ones (the last were fixed in issue 16). The
ways out of a new one: move the shared item down, or make a part that its owner holds and
that calls back into it a child of the owner.

Usage: import_loops.py [--root DIR]   (DIR: the crate, default the repository root)
       import_loops.py --self-test
       import_loops.py --order crate::session   (its children, bottom up, with what each uses)
"""

import os
import re
import sys
import tempfile

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
RAW_STR = re.compile(r'b?r(#*)"')
CHAR_LIT = re.compile(r"'(\\(u\{[0-9a-fA-F]+\}|x..|.)|[^\\'])'", re.S)


# ---------------------------------------------------------------------------------------------
# Lexing: blank out comments and literals, keeping line numbers.


def strip(src):
    """Return src with comments, strings and char literals replaced by spaces (newlines kept)."""
    out = []
    i, n = 0, len(src)

    def blank(a, b):
        out.append("".join(c if c == "\n" else " " for c in src[a:b]))

    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            blank(i, j)
            i = j
        elif c in "br" and RAW_STR.match(src, i) and (i == 0 or not re.match(r"\w", src[i - 1])):
            m = RAW_STR.match(src, i)
            end = '"' + m.group(1)
            j = src.find(end, m.end())
            j = n if j < 0 else j + len(end)
            blank(i, j)
            i = j
        elif c == '"' or (c == "b" and src.startswith('b"', i)
                          and (i == 0 or not re.match(r"\w", src[i - 1]))):
            j = i + (2 if c == "b" else 1)
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            blank(i, j + 1)
            i = j + 1
        elif c == "'":
            # A char literal ('a', '\n', '\u{1F600}', b'x') or a lifetime ('a, 'static).
            m = CHAR_LIT.match(src, i)
            if m:
                blank(i, m.end())
                i = m.end()
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# The module tree.


class Module:
    def __init__(self, path, file):
        self.path = path  # tuple of names, () for the crate root
        self.file = file  # the file that holds it (inline modules: the enclosing file)
        self.reexports = {}  # name -> absolute path tuple (explicit `pub use`)
        self.globs = []  # absolute module paths re-exported with `pub use x::*`
        self.items = set()  # names of items defined here (for glob resolution)


MOD_DECL = re.compile(
    r"((?:#\s*\[[^\]]*\]\s*)*)(?:pub(?:\s*\([^)]*\))?\s+)?mod\s+(" + IDENT + r")\s*([;{])")
PATH_ATTR = re.compile(r'#\s*\[\s*path\s*=\s*"([^"]*)"\s*\]')
ITEM_DEF = re.compile(
    r"\b(?:fn|struct|enum|trait|type|const|static|union|mod)\s+(" + IDENT + r")"
    r"|macro_rules!\s*(" + IDENT + r")")


def module_files(root):
    """Yield (crate name, root file) for the library and each binary under src/."""
    src = os.path.join(root, "src")
    if os.path.exists(os.path.join(src, "lib.rs")):
        yield "lib", os.path.join(src, "lib.rs")
    if os.path.exists(os.path.join(src, "main.rs")):
        yield "bin main", os.path.join(src, "main.rs")
    bins = os.path.join(src, "bin")
    if os.path.isdir(bins):
        for e in sorted(os.listdir(bins)):
            p = os.path.join(bins, e)
            if e.endswith(".rs"):
                yield "bin " + e[:-3], p
            elif os.path.exists(os.path.join(p, "main.rs")):
                yield "bin " + e, os.path.join(p, "main.rs")


class Crate:
    def __init__(self, root_file):
        self.modules = {}  # path tuple -> Module
        self.files = {}  # file -> (module path, stripped text, raw lines)
        self.refs = []  # (from module path, to absolute path tuple, file, line)
        self._load(root_file, (), True)
        for path in list(self.files):
            self._scan(path)

    # Files and `mod` declarations ------------------------------------------------------------

    def _load(self, file, modpath, mod_rs):
        raw = open(file, encoding="utf-8").read()
        text = strip(raw)
        self.files[file] = (modpath, text)
        self.modules[modpath] = Module(modpath, file)
        # A mod.rs (or lib.rs/main.rs) has its children beside it; foo.rs has them in foo/.
        base = os.path.dirname(file)
        if not mod_rs:
            base = os.path.join(base, os.path.basename(file)[:-3])
        # Inline modules nest: `mod a { mod b; }` in x.rs loads x/a/b.rs.
        for inline, m in self._mod_decls(text):
            attrs, name, kind = m.group(1), m.group(2), m.group(3)
            child = modpath + inline + (name,)
            if kind == "{":
                self.modules[child] = Module(child, file)
                continue
            # Strings are blanked in text, at the same offsets: read #[path] from raw.
            pa = PATH_ATTR.search(raw[m.start(1):m.end(1)])
            if pa:
                d = os.path.dirname(file) if not inline else os.path.join(base, *inline)
                target = os.path.normpath(os.path.join(d, pa.group(1)))
                self._load(target, child, os.path.basename(target) == "mod.rs")
                continue
            d = os.path.join(base, *inline)
            flat, nested = os.path.join(d, name + ".rs"), os.path.join(d, name, "mod.rs")
            if os.path.exists(flat):
                self._load(flat, child, False)
            elif os.path.exists(nested):
                self._load(nested, child, True)
            else:
                raise SystemExit("{}: mod {} declared but neither {} nor {} exists".format(
                    file, name, flat, nested))

    @staticmethod
    def _mod_decls(text):
        """Yield (enclosing inline module names, match) for every `mod` declaration."""
        stack = []  # (name, brace depth at which it closes)
        depth, pos = 0, 0
        for m in re.finditer(r"[{}]|" + MOD_DECL.pattern, text):
            tok = m.group(0)
            if tok == "{":
                depth += 1
            elif tok == "}":
                depth -= 1
                while stack and stack[-1][1] > depth:
                    stack.pop()
            else:
                yield tuple(s[0] for s in stack), m
                if m.group(3) == "{":
                    depth += 1
                    stack.append((m.group(2), depth))
            pos = m.end()

    # References -----------------------------------------------------------------------------

    def _scopes(self, text):
        """For each offset, the inline module path it is in: a sorted list of (start, path)."""
        spans = [(0, ())]
        stack, depth = [], 0
        for m in re.finditer(r"[{}]|\bmod\s+(" + IDENT + r")\s*\{", text):
            tok = m.group(0)
            if tok == "{":
                depth += 1
            elif tok == "}":
                depth -= 1
                if stack and stack[-1][1] > depth:
                    stack.pop()
                    spans.append((m.end(), tuple(s[0] for s in stack)))
            else:
                depth += 1
                stack.append((m.group(1), depth))
                spans.append((m.end(), tuple(s[0] for s in stack)))
        return spans

    def _scan(self, file):
        modpath, text = self.files[file]
        spans = self._scopes(text)
        mods = self.modules

        def scope_at(off):
            cur = ()
            for start, p in spans:
                if start > off:
                    break
                cur = p
            return modpath + cur

        def line_at(off):
            return text.count("\n", 0, off) + 1

        for m in ITEM_DEF.finditer(text):
            mods[modpath].items.add(m.group(1) or m.group(2))

        used = []  # spans covered by `use` items, so the path scan skips them
        for m in re.finditer(r"\b(pub(?:\s*\([^)]*\))?\s+)?use\s+([^;]*);", text):
            here = scope_at(m.start())
            used.append((m.start(), m.end()))
            for segs, alias in expand_use(m.group(2)):
                absolute = self.absolute(here, segs, use_decl=True)
                if absolute is None:
                    continue
                self.refs.append((here, absolute, file, line_at(m.start())))
                if m.group(1) and here in mods:
                    if segs[-1] == "*":
                        mods[here].globs.append(absolute[:-1])
                    else:
                        mods[here].reexports[alias or segs[-1]] = absolute
        path_re = re.compile(r"(?<![\w:])(\$crate|crate|super|self)((?:\s*::\s*" + IDENT + r")+)")
        ui = 0
        for m in path_re.finditer(text):
            while ui < len(used) and used[ui][1] <= m.start():
                ui += 1
            if ui < len(used) and used[ui][0] <= m.start():
                continue
            segs = [m.group(1).lstrip("$")] + re.findall(IDENT, m.group(2))
            here = scope_at(m.start())
            absolute = self.absolute(here, segs, use_decl=False)
            if absolute is not None:
                self.refs.append((here, absolute, file, line_at(m.start())))

    def absolute(self, here, segs, use_decl):
        """The absolute path of segs written in module `here`, or None if outside the crate."""
        segs = list(segs)
        if segs[0] == "crate":
            base, segs = (), segs[1:]
        elif segs[0] in ("super", "self"):
            base = here
            while segs and segs[0] in ("super", "self"):
                if segs[0] == "super":
                    base = base[:-1]
                segs = segs[1:]
        elif use_decl and here + (segs[0],) in self.modules:
            base = here  # 2018 paths: `use child::X` names a child module
        else:
            return None  # std, an external crate, or a local name
        return tuple(base) + tuple(segs)

    # Resolution -----------------------------------------------------------------------------

    def resolve(self, path, seen=None):
        """The module that defines what `path` names: follow re-exports, stop at modules."""
        seen = seen or set()
        if path in seen:
            return self._longest_module(path)
        seen.add(path)
        mod = self._longest_module(path)
        rest = path[len(mod):]
        if not rest or rest == ("*",):
            return mod
        m = self.modules[mod]
        name = rest[0]
        if name in m.reexports:
            return self.resolve(m.reexports[name] + rest[1:], seen)
        if name not in m.items:
            for g in m.globs:
                gm = self._longest_module(g)
                if name in self.modules[gm].items or g + (name,) in self.modules:
                    return self.resolve(g + rest, seen)
        return mod

    def _longest_module(self, path):
        for k in range(len(path), -1, -1):
            if tuple(path[:k]) in self.modules:
                return tuple(path[:k])
        return ()

    def edges(self):
        """{(parent, a, b): [(file, line)]}: module parent::a uses its sibling parent::b."""
        out = {}
        for here, target, file, line in self.refs:
            to = self.resolve(target)
            k = 0
            while k < len(here) and k < len(to) and here[k] == to[k]:
                k += 1
            if k >= len(here) or k >= len(to):
                continue  # an ancestor or a descendant: not a sibling
            out.setdefault((here[:k], here[k], to[k]), []).append((file, line))
        return out


def expand_use(tree):
    """`a::{b, c::{d as e, *}}` -> [(['a','b'], None), (['a','c','d'], 'e'), (['a','c','*'], None)]."""
    tree = re.sub(r"\s+", " ", tree).strip()
    toks = re.findall(r"::|\{|\}|,|\*|\$?" + IDENT, tree)
    pos = 0

    def parse(prefix):
        nonlocal pos
        result, segs = [], list(prefix)
        while pos < len(toks):
            t = toks[pos]
            if t == "{":
                pos += 1
                while pos < len(toks) and toks[pos] != "}":
                    result += parse(segs)
                    if pos < len(toks) and toks[pos] == ",":
                        pos += 1
                pos += 1
                return result
            if t in (",", "}"):
                break
            if t == "::":
                pos += 1
                continue
            if t == "as":
                pos += 1
                alias = toks[pos] if pos < len(toks) else None
                pos += 1
                return result + [(segs, alias)]
            segs = segs + [t.lstrip("$")]
            pos += 1
        if len(segs) > len(prefix):
            result.append((segs, None))
        elif segs and segs[-1] == "self":
            pass
        return result

    out = []
    for segs, alias in parse([]):
        if segs and segs[-1] == "self":  # `a::{self, b}`: `self` names `a`
            segs = segs[:-1]
            alias = alias or (segs[-1] if segs else None)
        if segs:
            out.append((segs, alias))
    return out


# ---------------------------------------------------------------------------------------------
# Cycles.


def loops(edges):
    """Strongly connected components (Tarjan) of more than one sibling, per parent."""
    graph = {}
    for (parent, a, b) in edges:
        graph.setdefault(parent, {}).setdefault(a, set()).add(b)
        graph[parent].setdefault(b, set())
    found = []
    for parent, g in sorted(graph.items()):
        index, low, stack, on, counter = {}, {}, [], set(), [0]

        def visit(v):
            index[v] = low[v] = counter[0]
            counter[0] += 1
            stack.append(v)
            on.add(v)
            for w in sorted(g[v]):
                if w not in index:
                    visit(w)
                    low[v] = min(low[v], low[w])
                elif w in on:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append((parent, sorted(comp)))

        for v in sorted(g):
            if v not in index:
                visit(v)
    return found


def check(root, out=sys.stdout):
    """Print every loop under root/src; return the number of loops."""
    total = 0
    for name, file in module_files(root):
        crate = Crate(file)
        edges = crate.edges()
        for parent, comp in loops(edges):
            where = "::".join(("crate",) + parent)
            total += 1
            print("import loop among the children of {} ({}): {}".format(
                where, name, ", ".join(comp)), file=out)
            for a in comp:
                for b in comp:
                    refs = edges.get((parent, a, b))
                    if not refs:
                        continue
                    print("  {} -> {}:".format(a, b), file=out)
                    for f, line in sorted(set(refs)):
                        print("    {}:{}".format(os.path.relpath(f, root), line), file=out)
    return total


# ---------------------------------------------------------------------------------------------
# Self-test: tiny crates written to a temporary directory.

CASES = [
    # (name, {file: text}, loops expected)
    ("no loop", {
        "lib.rs": "pub mod a;\npub mod b;\npub use a::A;\npub use b::B;\n",
        "a.rs": "pub struct A;\n",
        "b.rs": "use crate::a::A;\n// use super::b::B; a comment is no reference\n"
                "pub struct B(A);\nconst S: &str = \"crate::b::B\";\n",
    }, 0),
    ("use loop", {
        "lib.rs": "mod a;\nmod b;\n",
        "a.rs": "use crate::b::B;\npub struct A;\n",
        "b.rs": "pub struct B;\nfn f() { let _ = super::a::A; }\n",
    }, 1),
    ("grouped use and a child of a sibling", {
        "lib.rs": "mod s;\n",
        "s/mod.rs": "mod a;\nmod b;\npub use a::A;\n",
        "s/a.rs": "mod inner;\npub struct A;\n",
        "s/a/inner.rs": "use super::super::{b::B, a::A as _};\n",
        "s/b.rs": "pub struct B;\nuse super::{a::A};\n",
    }, 1),
    ("a parent re-exporting its children is no loop", {
        "lib.rs": "pub mod s;\npub use s::{A, B};\n",
        "s/mod.rs": "mod a;\nmod b;\npub use a::A;\npub use self::b::B;\n",
        "s/a.rs": "pub struct A;\n",
        "s/b.rs": "pub struct B(pub crate::s::a::A);\n",
    }, 0),
    ("a loop through a parent's re-export", {
        "lib.rs": "mod s;\n",
        "s.rs": "mod a;\nmod b;\npub(crate) use a::A;\n",
        "s/a.rs": "pub struct A;\nfn f(_: crate::s::b::B) {}\n",
        "s/b.rs": "pub struct B(crate::s::A);\n",
    }, 1),
    ("a loop through a glob re-export", {
        "lib.rs": "mod a;\nmod p;\n",
        "p/mod.rs": "mod x;\npub use x::*;\n",
        "p/x.rs": "pub struct X;\nfn f(_: crate::a::A) {}\n",
        "a.rs": "pub struct A(crate::p::X);\n",
    }, 1),
    ("a loop closed by a test module counts", {
        "lib.rs": "mod a;\nmod b;\n",
        "a.rs": "pub struct A;\n#[cfg(test)]\nmod tests {\n    use super::*;\n"
                "    use crate::b::B;\n    fn t(_: A, _: B) {}\n}\n",
        "b.rs": "pub struct B(crate::a::A);\n",
    }, 1),
    ("super inside a test module is the file's own module", {
        "lib.rs": "mod a;\nmod b;\n",
        "a.rs": "pub struct A;\nmod tests {\n    use super::A;\n    fn f() { let _ = super::A; }\n}\n",
        "b.rs": "pub struct B(crate::a::A);\n",
    }, 0),
    ("#[path] and a three-module cycle", {
        "lib.rs": "mod a;\n#[path = \"other/bee.rs\"]\nmod b;\nmod c;\n",
        "a.rs": "use crate::b::B;\npub struct A;\n",
        "other/bee.rs": "pub struct B(crate::c::C);\n",
        "c.rs": "pub struct C(crate::a::A);\nconst L: char = '\"'; fn g<'x>(_: &'x u8) {}\n",
    }, 1),
    ("a module and its child using each other is no loop", {
        "lib.rs": "mod core;\nmod user;\n",
        "core.rs": "mod part;\npub struct Inner(part::Part);\n",
        "core/part.rs": "pub struct Part(std::sync::Weak<super::Inner>);\n",
        "user.rs": "fn f(_: crate::core::Inner) {}\n",
    }, 0),
]


def self_test():
    failed = 0
    for name, files, want in CASES:
        with tempfile.TemporaryDirectory() as d:
            for rel, text in files.items():
                p = os.path.join(d, "src", rel)
                os.makedirs(os.path.dirname(p), exist_ok=True)
                with open(p, "w", encoding="utf-8") as f:
                    f.write(text)

            class Sink:
                text = ""

                def write(self, s):
                    Sink.text += s

            got = check(d, out=Sink())
            ok = got == want
            failed += not ok
            print("{} {} (loops: {}, expected {})".format("ok  " if ok else "FAIL", name, got, want))
            if not ok and Sink.text:
                print(Sink.text, end="")
    if failed:
        print("{} self-test case(s) failed".format(failed))
        return 1
    return 0


def order(root, where):
    """Print the children of module `where` (crate::a::b) bottom up, each with its uses."""
    parent = tuple(where.split("::")[1:])
    _, file = next(module_files(root))
    crate = Crate(file)
    uses = {}
    for (p, a, b) in crate.edges():
        if p == parent:
            uses.setdefault(a, set()).add(b)
    kids = sorted(m[-1] for m in crate.modules if m[:-1] == parent and len(m) == len(parent) + 1)
    done, out = set(), []
    while len(done) < len(kids):
        ready = [k for k in kids if k not in done and uses.get(k, set()) <= done]
        if not ready:
            print("a loop among: " + ", ".join(k for k in kids if k not in done))
            return 1
        for k in ready:
            print("{:14} uses {}".format(k, ", ".join(sorted(uses.get(k, ()))) or "-"))
        done.update(ready)
        out.append(ready)
    print("bottom up: " + "; ".join(", ".join(r) for r in out))
    return 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    if len(argv) == 3 and argv[1] == "--order":
        return order(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."), argv[2])
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    if len(argv) == 3 and argv[1] == "--root":
        root = argv[2]
    elif len(argv) != 1:
        print(__doc__.split("\n\n")[-1], file=sys.stderr)
        return 2
    n = check(os.path.normpath(root))
    if n:
        print("{} import loop(s): move the shared items down so that each folder is a one-way "
              "stack (see the //! header of its mod.rs)".format(n))
        return 1
    print("no import loops between sibling modules")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
