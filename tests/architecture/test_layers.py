"""The layering rules, checked on the source tree (AST): who may import whom.

- `queries/` is pure Python: it never imports Streamlit, nor anything of `dashboard/` — except that
  `queries/notify` (digests and alerts) draws and labels with the dashboard's Streamlit-free chart builders,
  formats and labels (`dashboard.charts`, `dashboard.format`, `dashboard.i18n`), and those never import Streamlit;
- pages import only `dashboard` among the project's packages (data, formats, charts come through it);
- the app (dashboard/ and the entry point) never imports the command line;
- metrics read the store, never the case database (no queries.source engines or readers, no SQLAlchemy, no sync);
- no import cycles between the project's modules (counting imports inside functions too).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("queries", "dashboard")


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    files = {_module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    files["streamlit_app"] = ROOT / "streamlit_app.py"
    return files


SOURCES = _sources()


def imports_of(path: Path, name: str) -> set[str]:
    """Every module a file imports (absolute names), at any depth of the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join([*base, node.module] if node.module else base)
            else:
                mod = node.module or ""
            found.add(mod)
            for a in node.names:  # `from queries.metrics import contact` imports a module
                if f"{mod}.{a.name}" in SOURCES:
                    found.add(f"{mod}.{a.name}")
    return found


GRAPH = {name: imports_of(path, name) for name, path in SOURCES.items()}


def _top(mod: str) -> str:
    return mod.split(".")[0]


def test_the_tree_is_what_the_rules_expect() -> None:
    assert "queries.metrics.registry" in GRAPH and "dashboard.data" in GRAPH and "streamlit_app" in GRAPH
    assert len([m for m in GRAPH if m.startswith("dashboard.pages.")]) >= 8
    assert "queries.metrics" in GRAPH["queries.metrics.registry"] or any(
        m.startswith("queries.metrics.") for m in GRAPH["queries.metrics.registry"])


#: The dashboard modules queries.notify may import: pure builders of figures, formats and labels.
NOTIFY_MAY_IMPORT = ("dashboard", "dashboard.charts", "dashboard.format", "dashboard.i18n")


def _allowed(module: str, imported: str) -> bool:
    if _top(imported) == "streamlit":
        return False
    if _top(imported) != "dashboard":
        return True
    return (module == "queries.notify" or module.startswith("queries.notify.")) and imported in NOTIFY_MAY_IMPORT


def test_queries_never_import_streamlit_nor_the_dashboard() -> None:
    bad = {m: sorted(i for i in imps if not _allowed(m, i)) for m, imps in GRAPH.items() if m.startswith("queries")}
    assert not {m: v for m, v in bad.items() if v}


def test_the_notify_exception_is_narrow() -> None:
    assert not _allowed("queries.notify.digest", "dashboard.data")
    assert not _allowed("queries.notify.digest", "dashboard.links")
    assert not _allowed("queries.views.pages", "dashboard.charts")
    assert not _allowed("queries.notify.images", "streamlit")
    assert _allowed("queries.notify.images", "dashboard.charts")
    assert "streamlit" in _reachable("dashboard.components")  # the reachability below does find Streamlit


def _reachable(start: str) -> set[str]:
    """Every module `start` imports, directly or through the project's modules it imports (and their packages)."""
    seen, todo = set(), [start]
    while todo:
        m = todo.pop()
        for i in GRAPH.get(m, ()):
            parts = i.split(".")
            for n in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__ too
                name = ".".join(parts[:n])
                if name not in seen:
                    seen.add(name)
                    if name in GRAPH:
                        todo.append(name)
    return seen


@pytest.mark.parametrize("module", NOTIFY_MAY_IMPORT)
def test_the_modules_notify_uses_never_reach_streamlit(module: str) -> None:
    reached = _reachable(module)
    assert not {m for m in reached if _top(m) == "streamlit"}, module
    assert not {m for m in reached if _top(m) == "dashboard"} - set(NOTIFY_MAY_IMPORT), module


def test_pages_import_only_the_dashboard_package() -> None:
    bad = {m: sorted(i for i in imps if _top(i) == "queries") for m, imps in GRAPH.items()
           if m.startswith("dashboard.pages.")}
    assert not {m: v for m, v in bad.items() if v}


def test_the_app_never_imports_the_command_line() -> None:
    bad = {m: sorted(i for i in imps if i == "queries.cli" or i.startswith("queries.cli."))
           for m, imps in GRAPH.items() if m.startswith("dashboard") or m == "streamlit_app"}
    assert not {m: v for m, v in bad.items() if v}


def test_metrics_read_the_store_never_the_source() -> None:
    forbidden = ("sqlalchemy", "queries.source", "queries.sync", "queries.views")
    bad = {m: sorted(i for i in imps if any(i == f or i.startswith(f + ".") for f in forbidden))
           for m, imps in GRAPH.items() if m.startswith("queries.metrics")}
    assert not {m: v for m, v in bad.items() if v}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    edges = {m: {i for i in imps if i in graph and i != m} for m, imps in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def _package_edges(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """A package's __init__ importing its own submodules is how a package exposes them, not a cycle."""
    return {m: {i for i in imps if not (i.startswith(m + ".") and SOURCES[m].name == "__init__.py")}
            for m, imps in graph.items()}


def test_no_import_cycles() -> None:
    assert _cycles(_package_edges(GRAPH)) == []


def test_the_cycle_finder_finds_one() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("rule", ["streamlit", "cli"])
def test_the_rules_catch_a_violation(rule: str, tmp_path: Path) -> None:
    """The checks look at real import statements: a planted one is found."""
    sample = tmp_path / "sample.py"
    sample.write_text("import streamlit as st\n" if rule == "streamlit" else
                      "def f():\n    from queries.cli import main\n    return main\n")
    found = imports_of(sample, "queries.sample")
    assert ("streamlit" in found) if rule == "streamlit" else ("queries.cli" in found)
