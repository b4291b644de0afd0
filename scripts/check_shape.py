#!/usr/bin/env python3
"""The shape rules of the code (ARCHITECTURE.md), checked so they stay true. scripts/test runs it.

1. No Rust file under src/, tests/ or benches/ over MAX_FILE_LINES lines.
2. No function over MAX_FN_LINES lines (from its `fn` line to its closing brace).
3. No import cycle between files of src/: file A depends on file B when A names an item of B
   through a `crate::`, `super::` or `self::` path (in a `use` or inline). A name reached through
   a re-export (`pub use`) is followed to the file that defines it, so a facade `mod.rs` that
   re-exports its children is not a dependency of theirs; `mod` declarations are not dependencies.
   Nor between top-level modules of src/ (a folder or a file directly under src/).
4. Layers (FORBIDDEN below): src/engine/ names nothing outside src/engine/ (it is pure: no I/O,
   no wire format); the formats and sinks never name the flows (src/ops/) or the front ends
   (src/github/, src/cli/); src/ops/ never names src/github/ or src/cli/; src/github/ never names
   src/cli/.

Prints every violation with the file and line, and exits 1 if there is one.
Usage: scripts/check_shape.py [--graph]   (--graph prints the file dependency graph)
"""

import re
import sys
from pathlib import Path

MAX_FILE_LINES = 800
MAX_FN_LINES = 150
ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"

# Layer rules: files under the first prefix may not depend on files under any of the others.
FORBIDDEN = [
    ("engine", ["sources", "store", "github", "aws", "cli", "ops", "apply", "verify", "filters",
                "hooks", "settings", "review", "report", "synth"]),
    # Formats and sinks sit on the engine, side by side: none knows the flows or the front ends.
    ("sources", ["cli", "ops", "github", "aws"]),
    ("store", ["cli", "ops", "github", "aws", "sources"]),
    ("aws", ["cli", "ops", "github"]),
    ("apply", ["cli", "ops", "github", "aws"]),
    ("verify", ["cli", "ops", "github", "aws"]),
    ("filters", ["cli", "ops", "github"]),
    ("review", ["cli", "ops", "github"]),
    # Flows: the GitHub front end and the CLI build on them, never the other way round.
    ("ops", ["cli", "github"]),
    ("github", ["cli"]),
]

def strip_comments_and_strings(text):
    """The text with comments, string and char literals blanked (newlines kept), so braces and
    paths are only read from code."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:i + 20]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'r(#*)"', text[i:])
            end = '"' + m.group(1)
            j = text.find(end, i + len(m.group(0)))
            j = n if j < 0 else j + len(end)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "'":
            # A char literal ('x', '\n', '\u{..}'), not a lifetime ('a).
            m = re.match(r"'(\\u\{[0-9a-fA-F]+\}|\\.|[^\\'])'", text[i:])
            if m:
                out.append(" " * len(m.group(0)))
                i += len(m.group(0))
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def module_of(path):
    """The module path (list of names) of a file under src/, for the library crate."""
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts == ["lib"]:
        return []
    if parts[-1] == "mod":
        parts = parts[:-1]
    return parts


def long_functions(path, code):
    """(line, name, length) of each function longer than MAX_FN_LINES."""
    found = []
    for m in re.finditer(r"(?m)^[ \t]*(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?(?:extern\s+\"[^\"]*\"\s+)?fn\s+(\w+)", code):
        # The body's opening brace: the first `{` after the signature at bracket depth 0, or a
        # `;` first (a declaration without body).
        i, depth = m.end(), 0
        while i < len(code):
            ch = code[i]
            if ch in "([<":
                depth += 1
            elif ch in ")]>":
                depth = max(0, depth - 1) if ch != ">" or code[i - 1] != "-" else depth
            elif ch == ";" and depth == 0:
                i = -1
                break
            elif ch == "{" and depth == 0:
                break
            i += 1
        if i < 0 or i >= len(code):
            continue
        depth, j = 0, i
        while j < len(code):
            if code[j] == "{":
                depth += 1
            elif code[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        start = code.count("\n", 0, m.start()) + 1
        end = code.count("\n", 0, j) + 1
        if end - start + 1 > MAX_FN_LINES:
            found.append((start, m.group(1), end - start + 1))
    return found


def expand_use(tree):
    """The paths a `use` tree names: `a::{b, c::{d, e}}` → a::b, a::c::d, a::c::e."""
    tree = re.sub(r"\s+", "", tree)
    m = re.match(r"^(.*?)\{(.*)\}$", tree)
    if not m:
        return [re.sub(r"\bas\w+$", "", tree.split(" as ")[0])]
    prefix, inner = m.group(1), m.group(2)
    items, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    if cur:
        items.append(cur)
    out = []
    for it in items:
        for p in expand_use(it):
            out.append(prefix + p if p != "self" else prefix.rstrip(":"))
    return out


class Crate:
    def __init__(self):
        self.files = {}  # module tuple -> Path
        for p in sorted(SRC.rglob("*.rs")):
            if p.name == "main.rs" and p.parent == SRC:
                continue
            self.files[tuple(module_of(p))] = p
        self.code = {m: strip_comments_and_strings(p.read_text()) for m, p in self.files.items()}
        # Re-exports: module -> {name: absolute path (list)}.
        self.reexports = {}
        for mod, code in self.code.items():
            names = {}
            for um in re.finditer(r"(?s)\bpub(?:\([^)]*\))?\s+use\s+([^;]+);", code):
                for path in expand_use(um.group(1)):
                    parts = [x for x in path.split("::") if x]
                    absolute = self.absolute(mod, parts)
                    if absolute is not None and parts and parts[-1] != "*":
                        alias = re.search(r"\bas(\w+)$", path)
                        names[alias.group(1) if alias else parts[-1]] = absolute
            self.reexports[mod] = names

    def absolute(self, mod, parts):
        if not parts:
            return None
        if parts[0] == "crate":
            return parts[1:]
        if parts[0] in ("super", "self"):
            base = list(mod)
            # A file's own module is `self`; inside an inline `mod tests` super is the file itself,
            # which resolves to no other file either way.
            while parts and parts[0] in ("super", "self"):
                if parts[0] == "super" and base:
                    base = base[:-1]
                parts = parts[1:]
            return base + parts
        # A path relative to the current module naming a child module.
        if tuple(mod) + (parts[0],) in self.files:
            return list(mod) + parts
        return None

    def resolve(self, path, seen=0):
        """The file module an absolute path's item lives in."""
        best = ()
        for k in range(len(path), -1, -1):
            if tuple(path[:k]) in self.files:
                best = tuple(path[:k])
                break
        rest = path[len(best):]
        if rest and seen < 10:
            target = self.reexports.get(best, {}).get(rest[0])
            if target is not None and target != path[: len(best) + 1]:
                return self.resolve(target + rest[1:], seen + 1)
        return best

    def deps(self, mod):
        """{dependency module: first line naming it}. Re-exports (`pub use`) are not dependencies:
        they are followed by `resolve`."""
        code = self.code[mod]
        inline = inline_modules(code)
        found = {}
        paths = []
        reexport_spans = []
        for um in re.finditer(r"(?s)\b(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", code):
            if um.group(1):
                reexport_spans.append((um.start(), um.end()))
                continue
            for p in expand_use(um.group(2)):
                paths.append((um.start(), [x for x in p.split("::") if x]))
        for pm in re.finditer(r"\b((?:crate|super|self)(?:::\w+)+)", code):
            if any(a <= pm.start() < b for a, b in reexport_spans):
                continue
            paths.append((pm.start(), pm.group(1).split("::")))
        for pos, parts in paths:
            here = list(mod) + [name for name, a, b in inline if a <= pos < b]
            absolute = self.absolute(here, parts)
            if absolute is None:
                continue
            target = self.resolve(absolute)
            if target != mod and target in self.files and target != ():
                found.setdefault(target, code.count("\n", 0, pos) + 1)
        return found


def inline_modules(code):
    """(name, start, end) of each inline `mod name { ... }` of a file."""
    out = []
    for m in re.finditer(r"\bmod\s+(\w+)\s*\{", code):
        depth, j = 0, m.end() - 1
        while j < len(code):
            if code[j] == "{":
                depth += 1
            elif code[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        out.append((m.group(1), m.end(), j))
    return out


def sccs(graph):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
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
            out.append(comp)

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def main():
    problems = []
    rust_files = [p for d in ("src", "tests", "benches") for p in sorted((ROOT / d).rglob("*.rs"))]
    for p in rust_files:
        text = p.read_text()
        rel = p.relative_to(ROOT)
        lines = text.count("\n")
        if lines > MAX_FILE_LINES:
            problems.append(f"{rel}: {lines} lines (at most {MAX_FILE_LINES}): split it by concern")
        for line, name, length in long_functions(p, strip_comments_and_strings(text)):
            problems.append(f"{rel}:{line}: fn {name} is {length} lines (at most {MAX_FN_LINES})")

    crate = Crate()
    graph = {m: crate.deps(m) for m in crate.files}
    name = lambda m: str(crate.files[m].relative_to(ROOT))
    if "--graph" in sys.argv:
        for m, ds in sorted(graph.items()):
            print(name(m), "->", ", ".join(sorted(name(d) for d in ds)))
    for comp in sccs({m: list(d) for m, d in graph.items()}):
        if len(comp) > 1:
            comp = sorted(comp)
            edges = [f"{name(a)}:{graph[a][b]} → {name(b)}" for a in comp for b in comp if b in graph[a]]
            problems.append("import cycle between " + ", ".join(name(m) for m in comp) + ":\n    " + "\n    ".join(edges))
    # The same between top-level modules (src/aws/ ↔ src/sources/ would be a cycle even when no
    # two files form one), so each folder can be read knowing only the folders below it.
    tops = {}
    for m, ds in graph.items():
        for d, line in ds.items():
            if m[:1] and d[:1] and m[0] != d[0]:
                tops.setdefault(m[0], {}).setdefault(d[0], f"{name(m)}:{line}")
    for comp in sccs({t: list(ds) for t, ds in tops.items()}):
        if len(comp) > 1:
            comp = sorted(comp)
            edges = [f"src/{a}/ → src/{b}/ ({tops[a][b]})" for a in comp for b in comp if b in tops.get(a, {})]
            problems.append("import cycle between modules " + ", ".join(f"src/{t}/" for t in comp) + ":\n    " + "\n    ".join(edges))
    for layer, banned in FORBIDDEN:
        for m, ds in graph.items():
            if m[:1] != (layer,):
                continue
            for d, line in ds.items():
                if d[:1] and d[0] in banned:
                    problems.append(f"{name(m)}:{line}: src/{layer}/ names {name(d)} (src/{d[0]}/), which it may not (ARCHITECTURE.md)")

    for p in problems:
        print(p)
    if problems:
        print(f"\n{len(problems)} shape problem(s) (scripts/check_shape.py, ARCHITECTURE.md)")
        return 1
    print(f"shape: {len(rust_files)} files, {len(crate.files)} library modules in {len(tops)} top-level modules, no cycle, layers kept")
    return 0


if __name__ == "__main__":
    sys.exit(main())
