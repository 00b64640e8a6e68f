"""Where a sweep's objective lives: ``file.py:function`` or ``package.module:function``.

The file is checked with :mod:`ast` and a module is looked up with
:func:`importlib.util.find_spec`-style lookups: nothing here executes the objective's code.
"""

from __future__ import annotations

import ast
import importlib.machinery
import importlib.util
import keyword
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunetrack.errors import ConfigError
from tunetrack.sweep._messages import did_you_mean


@dataclass(frozen=True)
class ObjectiveRef:
    """Where the objective lives: a ``.py`` file (absolute ``path``) or an importable ``module``.

    ``search_dir`` is set when ``module`` was found only in the sweep file's directory: put it
    on ``sys.path`` before importing. ``func`` is the function itself when a sweep was given
    one in Python (:meth:`of`): workers call it (pickled with it) instead of importing.
    ``source`` is the file's text when the sweep was read, sent with every trial: a worker
    on a machine without the file runs that text instead.
    """

    path: Path | None
    module: str | None
    function: str
    search_dir: Path | None = field(default=None, compare=False)
    func: Callable[..., Any] | None = field(default=None, compare=False, repr=False)
    source: str | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        return f"{self.path or self.module}:{self.function}"

    @classmethod
    def of(cls, func: Callable[..., Any]) -> ObjectiveRef:
        """The reference of a Python callable, holding it: ``file.py:name`` for a function
        of a script run as ``__main__``, ``module:name`` otherwise (``__main__:name`` for one
        defined in a notebook or an interactive session, which only this process can load)."""
        module = getattr(func, "__module__", None) or type(func).__module__
        name = getattr(func, "__qualname__", None) or type(func).__qualname__
        main_file = getattr(sys.modules.get(module), "__file__", None)
        if module == "__main__" and main_file and str(main_file).endswith(".py"):
            return cls(path=Path(main_file).resolve(), module=None, function=name, func=func)
        return cls(path=None, module=module, function=name, func=func)


def _is_identifier(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


def _top_level_names(tree: ast.Module) -> set[str]:
    """Names bound at a module's top level (defs, classes, assignments, imports)."""
    names: set[str] = set()

    def visit(body: Sequence[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
            elif isinstance(node, ast.Import | ast.ImportFrom):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
            elif isinstance(node, ast.If | ast.Try | ast.With):
                visit(node.body)
                visit(getattr(node, "orelse", []))
                visit(getattr(node, "finalbody", []))
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)

    visit(tree.body)
    return names


def _find_module(name: str, extra_dir: Path | None) -> tuple[bool, Path | None]:
    """Whether module ``name`` can be imported (without importing it or its parents).

    Looks on ``sys.path`` first, then in ``extra_dir``; returns (found, extra_dir if needed).
    """
    if name in sys.modules:
        return True, None
    top, *rest = name.split(".")
    for search in (None, extra_dir):
        if search is None:
            try:
                spec = importlib.util.find_spec(top)  # a top-level name: nothing is imported
            except (ImportError, ValueError):
                spec = None
        else:
            spec = importlib.machinery.PathFinder.find_spec(top, [str(search)])
        for i in range(len(rest)):
            locations = spec.submodule_search_locations if spec is not None else None
            if not locations:
                spec = None
                break
            spec = importlib.machinery.PathFinder.find_spec(
                ".".join([top, *rest[: i + 1]]), list(locations)
            )
        if spec is not None:
            return True, search
        if extra_dir is None:
            break
    return False, None


def parse_objective_ref(text: str, base_dir: Path | None = None) -> ObjectiveRef:
    """Resolve ``file.py:function`` (relative to ``base_dir``) or ``package.module:function``.

    The file is parsed with :mod:`ast` (never executed) to check that it defines the
    function; a module is looked up without importing it. Raises ConfigError.
    """
    usage = "expected 'path/to/file.py:function' or 'package.module:function'"
    target, sep, function = text.strip().rpartition(":")
    target = target.strip()
    function = function.strip()
    if not sep or not target or not function:
        raise ConfigError(f"{usage}, got {text!r} (no ':' before the function name)")
    if not _is_identifier(function):
        raise ConfigError(f"function name {function!r} is not a Python identifier ({usage})")
    base = Path.cwd() if base_dir is None else base_dir
    if target.endswith(".py") or "/" in target or "\\" in target:
        path = Path(target).expanduser()
        path = (path if path.is_absolute() else base / path).resolve()
        if path.suffix != ".py":
            raise ConfigError(f"objective file {target!r} is not a .py file")
        if not path.is_file():
            raise ConfigError(f"objective file {target!r} not found (looked for {path})")
        try:
            source = path.read_text(encoding="utf-8")
            tree = ast.parse(source, filename=str(path))
        except SyntaxError as exc:
            raise ConfigError(
                f"objective file {target!r} has a syntax error at line {exc.lineno}: {exc.msg}"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read objective file {target!r}: {exc}") from None
        names = _top_level_names(tree)
        if function not in names:
            defined = sorted(
                n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
            )
            _, hint = did_you_mean(function, defined)
            listing = f" (functions: {', '.join(defined)})" if defined else " (it defines none)"
            raise ConfigError(f"{target} has no top-level function {function!r}{hint}{listing}")
        return ObjectiveRef(path=path, module=None, function=function, source=source)
    if not all(_is_identifier(part) for part in target.split(".")):
        raise ConfigError(f"{target!r} is neither a .py file nor a module name ({usage})")
    found, search_dir = _find_module(target, base)
    if not found:
        raise ConfigError(
            f"module {target!r} not found on the Python path or in {base} "
            "(for a file, write path/to/file.py:function)"
        )
    return ObjectiveRef(path=None, module=target, function=function, search_dir=search_dir)
