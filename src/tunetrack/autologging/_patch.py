"""The one patching mechanism every autolog integration uses.

Contract (STYLE.md item 10, after MLflow's ``safe_patch``):

* patches are registered per integration and removed exactly: :func:`revert` puts back
  the very objects that were in the class (or module) ``__dict__``;
* only the outermost patched call logs: a context variable marks "inside a patched call",
  so the inner fits of a Pipeline, a search CV or a wrapper call the originals directly;
* a call made by scikit-learn's own code (a metric's ``LabelBinarizer``, the folds of
  ``cross_val_score``, a scorer) is never logged, nor is anything it calls: those fits are
  the library's helpers, not the user's models;
* exceptions from the user's function propagate unchanged; exceptions from our logging
  become one :class:`AutologWarning` per call (raised instead when
  ``TUNETRACK_AUTOLOG_TESTING=true``); the user's result is returned unchanged;
* with no active run, the patched call starts one and ends it afterwards (FAILED when the
  call raised, KILLED on KeyboardInterrupt); under an active run it logs into that run.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import os
import sys
import threading
import types
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tunetrack.entities import Metric, Param, RunTag
from tunetrack.tracking import fluent

TESTING_ENV = "TUNETRACK_AUTOLOG_TESTING"
AUTOLOG_TAG = "tunetrack.autolog"

_log = logging.getLogger("tunetrack.autolog")

#: The integration whose patched call is running in this context (None outside any).
_inside: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "tunetrack_autolog_inside", default=None
)


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """Fits inside this block are not logged (e.g. the folds of a cross-validation)."""
    token = _inside.set("paused")
    try:
        yield
    finally:
        _inside.reset(token)


class AutologWarning(UserWarning):
    """Autologging failed; the user's own call was not affected."""


@dataclass(frozen=True, slots=True)
class AutologConfig:
    """What an enabled integration logs."""

    log_models: bool = True
    log_datasets: bool = True
    log_importances: bool = True
    silent: bool = False
    max_tuning_runs: int | None = 50


@dataclass(frozen=True, slots=True)
class _Patch:
    owner: type | types.ModuleType
    name: str
    original: Any  # exactly what owner.__dict__[name] held


_patches: dict[str, list[_Patch]] = {}
_configs: dict[str, AutologConfig] = {}
#: Held while an integration turns on or off (patching is not atomic).
lock = threading.RLock()


def is_testing() -> bool:
    """True when autolog failures must raise instead of warn (the test suites)."""
    return os.environ.get(TESTING_ENV, "").lower() in ("1", "true", "yes")


def config(integration: str) -> AutologConfig | None:
    """The configuration of an enabled integration, or None when it is off."""
    return _configs.get(integration)


def is_patched(integration: str) -> bool:
    """True when the integration's patches are installed."""
    return integration in _patches


def enable(integration: str, cfg: AutologConfig) -> None:
    """Turn an integration on (or change its configuration); its patches read it per call."""
    _configs[integration] = cfg
    _patches.setdefault(integration, [])


def revert(integration: str) -> None:
    """Remove every patch of ``integration``, restoring the original attributes."""
    with lock:
        _configs.pop(integration, None)
        for patch in reversed(_patches.pop(integration, [])):
            setattr(patch.owner, patch.name, patch.original)


class Session:
    """One logged call: the run it logs into, started when no run was active.

    Integrations subclass it and implement :meth:`log`; the constructor has no side
    effects, :meth:`start` opens the run and then calls :meth:`prepare`, :meth:`end` calls
    :meth:`restore` and ends the run. ``args``/``kwargs`` are what the original function
    is called with (a subclass may add a callback to them).
    """

    def __init__(
        self,
        integration: str,
        cfg: AutologConfig,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        tags: Mapping[str, str],
    ) -> None:
        self.integration = integration
        self.config = cfg
        self.args = args
        self.kwargs = kwargs
        self.pending_tags: dict[str, str] = {AUTOLOG_TAG: integration, **tags}
        self.errors: list[Exception] = []
        self._owned: fluent.ActiveRun | None = None
        self._artifacts: Any = None

    def start(self) -> None:
        """Log into the active run, or start one (with the session's tags) if none is."""
        active = fluent.active_run()
        if active is None:
            active = self._owned = fluent.start_run(tags=self.pending_tags)
            self.pending_tags = {}
        self.run = active
        self.run_id: str = active.info.run_id
        self.client = active.client  # the client this run lives in (sweep workers pass theirs)
        self.prepare()

    def prepare(self) -> None:
        """Hook run once the run exists, just before the original call (default: nothing)."""

    def restore(self) -> None:
        """Undo :meth:`prepare` (default: nothing); runs even when the call failed."""

    def attempt(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one logging step; a failure is kept for the call's single warning (or raised
        at once in testing mode) and the remaining steps still run. Returns None on failure.
        """
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if is_testing():
                raise
            self.errors.append(exc)
            return None

    @property
    def artifacts(self) -> Any:
        """The run's artifact repository (opened once, without a database read)."""
        if self._artifacts is None:
            from tunetrack.store.uri import open_artifacts

            self._artifacts = open_artifacts(self.run.info.artifact_uri)
        return self._artifacts

    def log(self, result: Any) -> None:
        """Log what the successful call produced."""
        raise NotImplementedError

    def log_failure(self, exc: BaseException) -> None:
        """Log what is known when the call raised (default: nothing)."""

    def end(self, exc: BaseException | None) -> None:
        """Restore, then end the run if this session started it (FAILED/KILLED on ``exc``)."""
        try:
            self.restore()
        finally:
            if self._owned is not None:
                owned, self._owned = self._owned, None
                owned.__exit__(None if exc is None else type(exc), exc, None)

    def log_batch(
        self,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
        run_id: str | None = None,
    ) -> None:
        """Write metrics, params and tags in as few store calls as the limits allow."""
        from tunetrack import _validation as v

        if run_id is None or run_id == self.run_id:
            tags = [*(RunTag(k, val) for k, val in self.pending_tags.items()), *tags]
            self.pending_tags = {}
        metrics, params, tags = list(metrics), list(params), list(tags)
        while metrics or params or tags:
            self._write(
                run_id or self.run_id,
                metrics[: v.MAX_METRICS_PER_BATCH],
                params[: v.MAX_PARAMS_PER_BATCH],
                tags[: v.MAX_TAGS_PER_BATCH],
            )
            del metrics[: v.MAX_METRICS_PER_BATCH]
            del params[: v.MAX_PARAMS_PER_BATCH]
            del tags[: v.MAX_TAGS_PER_BATCH]

    def _write(
        self, run_id: str, metrics: list[Metric], params: list[Param], tags: list[RunTag]
    ) -> None:
        """One batch. Params the run already holds with other values (a second fit in one
        run) keep their first values: the rest is written and the clash reported.
        """
        from tunetrack.errors import Conflict

        try:
            self.client.log_batch(run_id, metrics, params, tags)
            return
        except Conflict:
            existing = self.client.get_run(run_id).data.params
            kept = [p for p in params if existing.get(p.key, p.value) == p.value]
            if len(kept) == len(params):
                raise
        self.client.log_batch(run_id, metrics, kept, tags)
        clash = sorted({p.key for p in params} - {p.key for p in kept})
        error = Conflict(
            f"run {run_id} already has other values for params {', '.join(clash)}: "
            "they keep their first values (fit each model in its own run to log them all)"
        )
        if is_testing():
            raise error
        self.errors.append(error)


#: Builds the session of one call, or returns None to run the original without logging.
Before = Callable[[Any, AutologConfig, tuple[Any, ...], dict[str, Any]], Session | None]


def report(
    integration: str, exc: Exception, *, allow_raise: bool = True, stacklevel: int = 2
) -> None:
    """Turn a failure of our logging into one warning (or raise it in testing mode).

    ``stacklevel`` counts from the caller of ``report`` to the user's frame.
    """
    if allow_raise and is_testing():
        raise exc
    cfg = _configs.get(integration)
    message = (
        f"tunetrack autolog ({integration}) failed to log; the call itself was not affected: "
        f"{type(exc).__name__}: {exc}"
    )
    if cfg is not None and cfg.silent:
        _log.debug(message, exc_info=exc)
    else:
        warnings.warn(message, AutologWarning, stacklevel=stacklevel + 1)


def _invoke(
    integration: str,
    before: Before,
    obj: Any,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """Run ``fn(*args, **kwargs)`` (the original), logging it if this is the outermost call
    and the user's own (called from outside scikit-learn)."""
    cfg = _configs.get(integration)
    if cfg is None or _inside.get() is not None:
        return fn(*args, **kwargs)
    if _called_from_sklearn(sys._getframe(2)):  # 0: _invoke, 1: the patched wrapper
        with paused():
            return fn(*args, **kwargs)
    token = _inside.set(integration)
    try:
        session: Session | None = None
        try:
            session = before(obj, cfg, args, kwargs)
            if session is not None:
                session.start()
        except Exception as exc:
            if session is not None:  # never leave a half-started run behind
                with contextlib.suppress(Exception):
                    session.end(exc)
            report(integration, exc, stacklevel=3)  # _invoke <- patched <- user
            return fn(*args, **kwargs)
        if session is None:
            return fn(*args, **kwargs)
        try:
            result = fn(*session.args, **session.kwargs)
        except BaseException as exc:
            _finish(session, None, exc)
            raise
        _finish(session, result, None)
        return result
    finally:
        _inside.reset(token)


def _called_from_sklearn(frame: types.FrameType | None) -> bool:
    """Whether ``frame`` (the patched function's caller) runs scikit-learn's own code."""
    module = frame.f_globals.get("__name__", "") if frame is not None else ""
    return module == "sklearn" or module.startswith("sklearn.")


def _finish(session: Session, result: Any, error: BaseException | None) -> None:
    integration = session.integration
    try:
        try:
            if error is None:
                session.log(result)
            else:
                session.log_failure(error)
            if session.errors:
                raise session.errors[0]
        except Exception as exc:
            # Never let our failure replace the user's exception, even in testing mode.
            report(integration, exc, allow_raise=error is None, stacklevel=4)
        finally:
            session.end(error)
    except Exception as exc:
        report(integration, exc, allow_raise=error is None, stacklevel=4)


def safe_patch(
    integration: str,
    owner: type | types.ModuleType,
    name: str,
    before: Before,
    skip: Callable[[Any], bool] | None = None,
) -> bool:
    """Replace ``owner.name`` with a logging wrapper; False when it cannot be patched.

    Methods (plain functions and descriptors such as sklearn's ``available_if``) get the
    instance as ``obj``; module functions get None. ``skip(obj)`` true means "not ours":
    the original runs without taking the nesting guard, so another integration may log it.
    """
    if integration not in _patches:
        raise RuntimeError(f"enable({integration!r}) before patching")
    raw = owner.__dict__.get(name)
    if raw is None or isinstance(raw, property | staticmethod | classmethod):
        return False
    if any(p.owner is owner and p.name == name for p in _patches[integration]):
        return True
    if isinstance(owner, types.ModuleType):
        wrapper: Any = _module_wrapper(integration, raw, before)
    elif isinstance(raw, types.FunctionType):
        wrapper = _method_wrapper(integration, raw, before, skip)
    elif hasattr(raw, "__get__"):
        wrapper = _PatchedDescriptor(integration, raw, before, skip)
    else:
        return False
    _patches[integration].append(_Patch(owner, name, raw))
    setattr(owner, name, wrapper)
    return True


def _module_wrapper(integration: str, raw: Callable[..., Any], before: Before) -> Any:
    @functools.wraps(raw)
    def patched(*args: Any, **kwargs: Any) -> Any:
        return _invoke(integration, before, None, raw, args, kwargs)

    patched.__tunetrack_original__ = raw  # type: ignore[attr-defined]
    return patched


def _method_wrapper(
    integration: str, raw: Callable[..., Any], before: Before, skip: Callable[[Any], bool] | None
) -> Any:
    @functools.wraps(raw)
    def patched(self: Any, *args: Any, **kwargs: Any) -> Any:
        if skip is not None and skip(self):
            return raw(self, *args, **kwargs)
        bound = types.MethodType(raw, self)
        return _invoke(integration, before, self, bound, args, kwargs)

    patched.__tunetrack_original__ = raw  # type: ignore[attr-defined]
    return patched


class _PatchedDescriptor:
    """Wraps a method descriptor (sklearn ``available_if``) and keeps its availability."""

    def __init__(
        self, integration: str, raw: Any, before: Before, skip: Callable[[Any], bool] | None
    ) -> None:
        self.integration, self.raw, self.before, self.skip = integration, raw, before, skip
        self.__tunetrack_original__ = raw
        self.__doc__ = getattr(raw, "__doc__", None)

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        bound = self.raw.__get__(obj, objtype)  # raises AttributeError when unavailable
        if obj is None or (self.skip is not None and self.skip(obj)):
            return bound
        integration, before = self.integration, self.before

        @functools.wraps(bound)
        def patched(*args: Any, **kwargs: Any) -> Any:
            return _invoke(integration, before, obj, bound, args, kwargs)

        return patched
