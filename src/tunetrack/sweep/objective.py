"""Load the objective function a sweep names, in the orchestrator or in any worker process."""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import inspect
import sys
import threading
from collections.abc import Callable
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
    if ref.path is not None:
        digest = hashlib.sha1(str(ref.path).encode()).hexdigest()[:10]
        name = f"tunetrack_objective_{ref.path.stem}_{digest}"
        module = sys.modules.get(name)
        if module is None:
            spec = importlib.util.spec_from_file_location(name, ref.path)
            if spec is None or spec.loader is None:
                raise ConfigError(f"cannot load objective file {ref.path}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module  # pickling functions defined there finds the module
            # the objective's own folder is importable, as when running the file directly
            folder = str(ref.path.parent)
            if folder not in sys.path:
                sys.path.insert(0, folder)
            try:
                spec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(name, None)  # as import does: the next load runs it again
                raise
    else:
        if ref.search_dir is not None and str(ref.search_dir) not in sys.path:
            sys.path.insert(0, str(ref.search_dir))
        module = importlib.import_module(str(ref.module))
    function = getattr(module, ref.function, None)
    if not callable(function):
        raise ConfigError(f"objective {ref} is not a function")
    return function


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
