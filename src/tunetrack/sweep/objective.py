"""Load the objective function a sweep names, in the orchestrator or in any worker process."""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import inspect
import linecache
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from tunetrack.errors import ConfigError
from tunetrack.sweep.config import ObjectiveRef

_lock = threading.Lock()


def load_objective(ref: ObjectiveRef) -> Callable[..., Any]:
    """Import the module or file of ``ref`` once per process and return the function (the
    one ``ref`` holds when the sweep was given a function in Python).

    An import that raised is not remembered: the next call imports again (and raises the
    same error, or succeeds once the file is fixed).

    Thread-safe: with the threading backend, the other workers wait for the first import.
    """
    if ref.func is not None:
        return ref.func
    check_loadable(ref)
    with _lock:
        return _load(ref)


@functools.cache
def _load(ref: ObjectiveRef) -> Callable[..., Any]:
    module = _load_file(ref) if ref.path is not None else _import_module(ref)
    function = getattr(module, ref.function, None)
    if not callable(function):
        raise ConfigError(f"objective {ref} is not a function")
    return function


def _load_file(ref: ObjectiveRef) -> ModuleType:
    """The module of an objective file: the file where this machine has it, else the source
    sent with the trial (a worker on another machine)."""
    path = ref.path
    assert path is not None
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    name = f"tunetrack_objective_{path.stem}_{digest}"
    module = sys.modules.get(name)
    if module is not None:
        return module
    if path.is_file():
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ConfigError(f"cannot load objective file {path}")
        module = importlib.util.module_from_spec(spec)
        run: Callable[[ModuleType], None] = spec.loader.exec_module
        # the objective's own folder is importable, as when running the file directly
        if str(path.parent) not in sys.path:
            sys.path.insert(0, str(path.parent))
    elif ref.source is not None:
        module, run = ModuleType(name), functools.partial(_run_source, ref.source, path)
        module.__file__ = str(path)
    else:
        raise ConfigError(
            f"objective file {path} is not on this machine ({socket.gethostname()}) and its "
            "source was not sent with the trial: copy the file to every worker, or name the "
            "objective by a module installed there (package.module:function)"
        )
    sys.modules[name] = module  # pickling functions defined there finds the module
    try:
        run(module)
    except BaseException:
        sys.modules.pop(name, None)  # as import does: the next load runs it again
        raise
    return module


def _run_source(source: str, path: Path, module: ModuleType) -> None:
    """Run an objective file's ``source`` as ``module`` (tracebacks show its lines)."""
    linecache.cache[str(path)] = (len(source), None, source.splitlines(True), str(path))
    exec(compile(source, str(path), "exec"), module.__dict__)


def _import_module(ref: ObjectiveRef) -> ModuleType:
    """The objective's module, imported (a clear error where this machine lacks it)."""
    if ref.search_dir is not None and str(ref.search_dir) not in sys.path:
        sys.path.insert(0, str(ref.search_dir))
    name = str(ref.module)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not (name == exc.name or name.startswith(f"{exc.name}.")):
            raise  # the module is there; something it imports is not
        raise ConfigError(
            f"objective module {name!r} is not importable on this machine "
            f"({socket.gethostname()}): install it on every worker, or name the objective by "
            "its file (path/to/file.py:function), whose source is sent with each trial"
        ) from exc


def check_loadable(ref: ObjectiveRef) -> None:
    """Raise ConfigError for an objective that only the process that ran its sweep could
    load: a function defined in a notebook or an interactive session, not given again."""
    if ref.func is None and ref.module == "__main__":
        raise ConfigError(
            f"objective {ref} was defined in a notebook or an interactive session: only the "
            f"process that ran the sweep can load it; pass the function, e.g. "
            f"tunetrack.sweep.load(SWEEP_ID, objective={ref.function})"
        )


@functools.lru_cache(maxsize=256)  # a function given in Python is a new object in each trial
def wants_trial(function: Callable[..., Any]) -> bool:
    """Whether the objective takes ``(params, trial)`` rather than ``(params)``."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return True
    positional = [
        p
        for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    return len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in positional)
