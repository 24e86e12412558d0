"""The house rules of docs/development.md, read from the source: no import circle between fashionnet's
modules (imports inside functions count too: a deferred import still ties two rooms together), a render
page never imports another page (they share `render/widgets.py`, `render/console.py` and
`render/output.py`), and no room grows past the size where it starts holding two jobs."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "fashionnet"
SHARED_RENDER = {
    "fashionnet.render",
    "fashionnet.render.widgets",
    "fashionnet.render.console",
    "fashionnet.render.output",
}
LARGEST = 620  # lines; the largest rooms today: render/training.py (every training table, ~600), tutorial_recipe.py


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """fashionnet modules `path` imports anywhere in it (a name imported from a package counts as the
    submodule when there is one of that name)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fashionnet"):
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names if alias.name.startswith("fashionnet"))
    return {name for name in names if name in modules}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def _circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle (its modules in order, the first repeated at the end), or None."""
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        return list(exc.args[1])
    return None


def _package_edges(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """A package's __init__ importing its own submodules (fashionnet.cli registering its commands) is
    how a package is assembled, not a circle between rooms."""
    return {name: {other for other in deps if not other.startswith(name + ".")} for name, deps in graph.items()}


def test_no_import_circle():
    graph = _package_edges(_graph())
    assert _circle(graph) is None
    toy = _circle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})  # the check works
    assert toy is not None and sorted(set(toy)) == ["a", "b", "c"]


def test_a_render_page_never_imports_another_page():
    graph = _graph()
    pages = {name for name in graph if name.startswith("fashionnet.render.") and name not in SHARED_RENDER}
    assert len(pages) >= 5
    assert [(page, other) for page in sorted(pages) for other in sorted(graph[page]) if other in pages] == []


def test_no_room_holds_two_jobs_by_size():
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in _modules().items()}
    assert {name: n for name, n in sizes.items() if n > LARGEST} == {}
    assert all(n <= 420 for name, n in sizes.items() if name.startswith("fashionnet.cli")), "the Typer layer stays thin"
