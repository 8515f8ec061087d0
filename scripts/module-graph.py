#!/usr/bin/env python3
"""The `crate::` import graph of every crate in the workspace, and any circle in it.

    scripts/module-graph.py            one line per crate: lines, modules in leaf-first order
    scripts/module-graph.py --edges    also every edge (module -> module it uses)

Exits 1 when a crate's modules import each other in a circle (tests and doc-comment
links included: a `mod tests` that uses `crate::x` counts as its module's use). Lines are non-blank, non-comment lines of
src/, tests excluded (`#[cfg(test)]` to the end of the file).
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def modules(src):
    """module name -> source text, for each top-level module of a crate's src/ (bin/
    excluded); a module's folder (src/compare/*.rs) is part of that module."""
    out = {}
    for f in sorted(src.glob("*.rs")):
        text = f.read_text()
        folder = src / f.stem
        if folder.is_dir() and f.stem != "bin":
            text += "".join(g.read_text() for g in sorted(folder.rglob("*.rs")))
        out[f.stem] = text
    return out


def code_lines(text):
    text = text.split("#[cfg(test)]")[0]
    return sum(1 for l in text.splitlines() if l.strip() and not l.strip().startswith("//"))


def edges(mods):
    graph = {}
    for name, text in mods.items():
        if name in ("lib", "main"):
            continue
        # Doc-comment links count too: a reader follows them like a use.
        used = set(re.findall(r"crate::(\w+)", text)) & set(mods)
        graph[name] = sorted(used - {name, "lib", "main"})
    return graph


def leaf_first(graph):
    """Topological order (leaves first), or None with the circle when there is one."""
    order, state = [], {}

    def visit(n, path):
        if state.get(n) == "done":
            return None
        if state.get(n) == "open":
            return path[path.index(n):] + [n]
        state[n] = "open"
        for m in graph.get(n, []):
            c = visit(m, path + [n])
            if c:
                return c
        state[n] = "done"
        order.append(n)
        return None

    for n in sorted(graph):
        c = visit(n, [])
        if c:
            return None, c
    return order, None


def main():
    show_edges = "--edges" in sys.argv
    total, rows, bad = 0, [], False
    crates = sorted(p.parent for p in ROOT.glob("crates/*/src")) + [ROOT]
    for crate in crates:
        src = crate / "src"
        mods = modules(src)
        files = list(src.rglob("*.rs"))
        lines = sum(code_lines(f.read_text()) for f in files)
        total += lines
        order, circle = leaf_first(edges(mods))
        rows.append((crate.name if crate != ROOT else "(root)", lines, order, circle, edges(mods)))
    for name, lines, order, circle, graph in rows:
        share = 100.0 * lines / total
        if circle:
            bad = True
            print(f"{name:16} {lines:5} lines {share:4.1f}%  CIRCLE: {' -> '.join(circle)}")
        else:
            print(f"{name:16} {lines:5} lines {share:4.1f}%  {' < '.join(order)}")
        if show_edges:
            for m, used in graph.items():
                if used:
                    print(f"    {m} -> {', '.join(used)}")
    print(f"{'total':16} {total:5} lines")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
