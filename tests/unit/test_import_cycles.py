"""No import circles in ``src/``: the module import graph, read with :mod:`ast`, is acyclic.

Every ``import`` counts as an edge, at module level or inside a function, except those under
``if TYPE_CHECKING:`` (never executed). A function-local import that closes a loop is still
two modules each needing the other; it only moves the failure from import time to call
time, so it counts. Importing ``a.b.c`` also runs the ``__init__`` of ``a.b`` (and ``a``),
so those packages are edges too, unless they already enclose the importing module (then
they have started importing before it). A package that loads its attributes on first use
(:mod:`tunetrack._lazy`) is seen through: ``from package import name`` imports the module
its ``_LAZY`` map names.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    function: str | None  # the function the import is in, None at module level

    def __str__(self) -> str:
        where = f"in {self.function}()" if self.function else "at module level"
        return f"{self.source} -> {self.target} (line {self.line}, {where})"


def modules(src: Path) -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package's ``__init__``) for every module in ``src``."""
    found = {}
    for path in sorted(src.rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        found[".".join(parts)] = (path, is_package)
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(
    node: ast.AST, function: str | None = None
) -> Iterator[tuple[ast.Import | ast.ImportFrom, str | None]]:
    """Every executed import statement under ``node``, with the function it is in."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child, function
        elif isinstance(child, ast.If) and _is_type_checking(child):
            for other in child.orelse:
                yield from _imports(ast.Module(body=[other], type_ignores=[]), function)
        elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            yield from _imports(child, child.name if function is None else function)
        else:
            yield from _imports(child, function)


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def lazy_maps(src: Path) -> dict[str, Mapping[str, str]]:
    """Each package of ``src`` with lazily loaded attributes -> its map of name to module."""
    return {
        name: importlib.import_module(name)._LAZY
        for name, (path, is_package) in modules(src).items()
        if is_package and "lazy_attributes(" in path.read_text()
    }


def import_graph(
    src: Path, lazy: Mapping[str, Mapping[str, str]] | None = None
) -> dict[str, list[Edge]]:
    """Each module's edges to the modules of ``src`` that importing it (or calling into it)
    imports, the first import statement of each target; ``lazy`` is :func:`lazy_maps`."""
    known = modules(src)
    lazy = lazy or {}
    graph: dict[str, list[Edge]] = {}
    for name, (path, is_package) in known.items():
        package = name if is_package else name.rpartition(".")[0]
        enclosing = set(_ancestors(name)) | ({name} if is_package else set())
        targets: dict[str, Edge] = {}
        for node, function in _imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                imported = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parent, *([node.module] if node.module else [])])
                imported = []
                for alias in node.names:
                    if f"{base}.{alias.name}" in known:
                        imported.append(f"{base}.{alias.name}")
                    else:
                        imported.append(base)
                        if alias.name in lazy.get(base, {}):
                            imported.append(lazy[base][alias.name])
            for target in imported:
                implicit = [m for m in _ancestors(target) if m not in enclosing]
                for module in [*implicit, target]:
                    if module in known and module != name and module not in targets:
                        targets[module] = Edge(name, module, node.lineno, function)
        graph[name] = list(targets.values())
    return graph


def cycles(graph: dict[str, list[Edge]]) -> list[list[Edge]]:
    """The strongly connected components of more than one module, as the edges inside each."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(start: str) -> None:  # Tarjan's algorithm, iterative
        work = [(start, iter(graph.get(start, [])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            edge = next(edges, None)
            if edge is not None:
                if edge.target not in index:
                    index[edge.target] = low[edge.target] = len(index)
                    stack.append(edge.target)
                    on_stack.add(edge.target)
                    work.append((edge.target, iter(graph.get(edge.target, []))))
                elif edge.target in on_stack:
                    low[node] = min(low[node], index[edge.target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(component)

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return [
        [edge for name in sorted(c) for edge in graph[name] if edge.target in c] for c in components
    ]


def test_src_has_no_import_cycles() -> None:
    graph = import_graph(SRC, lazy_maps(SRC))
    assert any(  # the graph is read at all: a known edge is in it
        e.target == "tunetrack.sweep.config" for e in graph["tunetrack.sweep.runner"]
    )
    found = cycles(graph)
    report = "\n\n".join(
        f"cycle through {len({e.source for e in c})} modules:\n" + "\n".join(f"  {e}" for e in c)
        for c in found
    )
    assert not found, f"{len(found)} import cycle(s) in src/:\n{report}"


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_a_cycle_through_a_function_local_import_is_found(tmp_path: Path) -> None:
    src = _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg.b import f\n",
            "pkg/b.py": "def f():\n    from pkg import a\n",
            "pkg/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.a\n",
            "pkg/d.py": "import pkg.c\n",
        },
    )
    found = cycles(import_graph(src))
    assert [[str(e) for e in c] for c in found] == [
        [
            "pkg.a -> pkg.b (line 1, at module level)",
            "pkg.b -> pkg.a (line 2, in f())",
        ]
    ]


def test_a_submodule_importing_its_package_that_imports_it_is_a_cycle(tmp_path: Path) -> None:
    src = _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/sub/__init__.py": "from .impl import thing\nLIMIT = 3\n",
            "pkg/sub/impl.py": "from pkg.sub import LIMIT\nthing = LIMIT\n",
            "pkg/sub/other.py": "from pkg.sub import impl\n",  # a submodule, not the package
        },
    )
    graph = import_graph(src)
    assert [[str(e) for e in c] for c in cycles(graph)] == [
        [
            "pkg.sub -> pkg.sub.impl (line 1, at module level)",
            "pkg.sub.impl -> pkg.sub (line 1, at module level)",
        ]
    ]
    assert [e.target for e in graph["pkg.sub.other"]] == ["pkg.sub.impl"]


def test_importing_a_module_runs_the_init_of_the_packages_above_it(tmp_path: Path) -> None:
    src = _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/front/__init__.py": "from pkg.front.api import run\n",
            "pkg/front/api.py": "from pkg.core import helper\n",
            "pkg/core.py": "def helper():\n    from pkg.front.tags import NAME\n",
            "pkg/front/tags.py": "NAME = 'x'\n",
        },
    )
    found = cycles(import_graph(src))
    assert [sorted({e.source for e in c}) for c in found] == [
        ["pkg.core", "pkg.front", "pkg.front.api"]
    ]


def test_a_lazily_loaded_attribute_is_an_edge_to_its_module(tmp_path: Path) -> None:
    src = _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/face/__init__.py": "_LAZY = {'run': 'pkg.face.api'}\n",
            "pkg/face/api.py": "from pkg.low import helper\n",
            "pkg/low.py": "def helper():\n    from pkg.face import run\n",
        },
    )
    assert cycles(import_graph(src)) == []  # the map unread, the loop stays hidden
    found = cycles(import_graph(src, {"pkg.face": {"run": "pkg.face.api"}}))
    assert [sorted({e.source for e in c}) for c in found] == [["pkg.face.api", "pkg.low"]]
    assert lazy_maps(SRC)["tunetrack.sweep"]["run"] == "tunetrack.sweep.api"
