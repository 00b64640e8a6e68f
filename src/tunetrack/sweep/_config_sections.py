"""The sections of a sweep file (budget, parallel, select, ...) as pydantic models."""

from __future__ import annotations

import math
import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
)

from tunetrack.errors import ConfigError
from tunetrack.search import parse_filter
from tunetrack.sweep._config_errors import fail_at, one_of
from tunetrack.sweep._messages import show_yaml
from tunetrack.sweep.goals import PRUNER_TYPES

BACKENDS = ("loky", "threading", "sequential", "dask", "ray")
PRUNERS: tuple[str, ...] = PRUNER_TYPES
GOALS = ("minimize", "maximize")

# ----------------------------------------------------------------------------- durations

_DURATION_PART = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(d|h|m|s)", re.IGNORECASE)
_UNIT_SECONDS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(value: str | int | float) -> float:
    """Seconds from ``90``, ``12.5``, ``"90"``, ``"90s"``, ``"10m"``, ``"2h"``, ``"1h30m"``.

    Units (d, h, m, s) go from largest to smallest, each at most once. Raises ConfigError
    otherwise, or if the duration is not positive and finite.
    """
    usage = "use seconds (90) or a duration like 90s, 10m, 2h, 1h30m"
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(f"invalid duration {show_yaml(value)}: {usage}")
    if isinstance(value, str):
        text = value.strip()
        try:
            seconds = float(text)
        except ValueError:
            seconds, pos, units = 0.0, 0, ""
            for match in _DURATION_PART.finditer(text):
                unit = match.group(2).lower()
                if match.start() != pos or (
                    units and "dhms".index(unit) <= "dhms".index(units[-1])
                ):
                    break
                seconds += float(match.group(1)) * _UNIT_SECONDS[unit]
                pos, units = match.end(), units + unit
            if not units or pos != len(text):
                raise ConfigError(f"invalid duration {value!r}: {usage}") from None
    else:
        seconds = float(value)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(f"invalid duration {show_yaml(value)}: it must be positive and finite")
    return seconds


def format_duration(seconds: float) -> str:
    """``seconds`` written as :func:`parse_duration` reads it: ``10m``, ``1h30m``, ``2.5s``
    (to the millisecond)."""
    parts, rest = [], round(seconds, 3)
    for unit in "dhm":
        count, rest = divmod(rest, _UNIT_SECONDS[unit])
        if count:
            parts.append(f"{count:.0f}{unit}")
    if rest or not parts:
        parts.append(f"{rest:g}s")
    return "".join(parts)


# ----------------------------------------------------------------------------- sections


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _timeout(value: object) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value)  # type: ignore[arg-type]
    except ConfigError as exc:
        raise fail_at(exc.message) from None


DEFAULT_MAX_FAILURES = 5  # without budget.max_failures: a sweep whose first 5 trials fail stops


class Budget(_Section):
    """When the sweep stops: after ``trials``, ``timeout`` seconds, ``target`` or failures;
    and ``trial_timeout``: the seconds one trial may run before it is stopped (FAILED)."""

    trials: Annotated[StrictInt, Field(ge=1)] = 20
    timeout: Annotated[float | None, PlainValidator(_timeout)] = None
    trial_timeout: Annotated[float | None, PlainValidator(_timeout)] = None
    target: Annotated[StrictFloat, Field(allow_inf_nan=False)] | None = None
    max_failures: StrictInt | None = None

    @field_validator("max_failures")
    @classmethod
    def _max_failures(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            raise fail_at(f"must be >= 1, got {value} (or null: never stop for failures)")
        return value

    def failure_stop(self, failed: int, succeeded: int) -> str | None:
        """Why the sweep stops for its ``failed`` trials (None: it goes on).

        ``max_failures: N`` stops it once N trials failed, ``null`` never; without the key,
        it stops when its first :data:`DEFAULT_MAX_FAILURES` trials all failed (none of the
        ``succeeded`` trials, finished or pruned, came first): a broken objective (a
        misspelled metric, a missing file) does not use up the whole budget.
        """
        if "max_failures" not in self.model_fields_set:
            if succeeded == 0 and failed >= DEFAULT_MAX_FAILURES:
                return f"the first {failed} trials failed (budget.max_failures)"
        elif self.max_failures is not None and failed >= self.max_failures:
            return f"{failed} trials failed (budget.max_failures: {self.max_failures})"
        return None


_ADDRESS = re.compile(r"(tcp|tls|ucx|ws|wss|inproc)://\S+")
_RAY_ADDRESS = re.compile(r"auto|ray://\S+|[\w.-]+:\d+")


class Parallel(_Section):
    """How trials run: ``n_jobs`` workers (-1 = all cores) on a joblib ``backend``."""

    n_jobs: StrictInt = 1
    backend: Annotated[
        Literal["loky", "threading", "sequential", "dask", "ray"],
        PlainValidator(lambda v: one_of(v, BACKENDS, "backend")),
    ] = "loky"
    address: StrictStr | None = None  # a dask scheduler or ray cluster; None starts one here

    @field_validator("n_jobs")
    @classmethod
    def _n_jobs(cls, value: int) -> int:
        if value == 0:
            raise fail_at("must not be 0: use a number of workers, or -1 for all cores")
        return value

    @field_validator("address")
    @classmethod
    def _address(cls, value: str | None, info: ValidationInfo) -> str | None:
        backend = info.data.get("backend")  # absent if the backend itself is invalid
        if value is None:
            return value
        if backend is not None and backend not in ("dask", "ray"):
            raise fail_at(f"address is only used with backend dask or ray (backend is {backend})")
        if backend == "ray":
            if not _RAY_ADDRESS.fullmatch(value):
                raise fail_at(
                    f"expected a Ray cluster address like ray://host:10001, host:6379 or "
                    f"auto, got {value!r}"
                )
        elif not _ADDRESS.fullmatch(value):
            raise fail_at(f"expected a scheduler address like tcp://host:8786, got {value!r}")
        return value

    def check_store(self, tracking_uri: str, *, trial_timeout: float | None = None) -> None:
        """Refuse an in-memory store when trials run in other processes (workers, or child
        processes for a ``trial_timeout``): each would open an empty database of its own,
        and the trials' results would be lost."""
        from tunetrack.store.tracking_uri import MEMORY_URI

        if tracking_uri != MEMORY_URI:
            return
        in_this_process = self.backend in ("threading", "sequential") or self.n_jobs == 1
        if not in_this_process:
            raise ConfigError(
                f"parallel.backend {self.backend} runs trials in other processes, which cannot "
                f"open this process's in-memory store ({MEMORY_URI}): use backend threading "
                "or sequential, or a database file (sqlite:///path/to/file.db)"
            )
        if trial_timeout is not None:
            raise ConfigError(
                "budget.trial_timeout runs each trial in a child process, which cannot open "
                f"this process's in-memory store ({MEMORY_URI}): use a database file "
                "(sqlite:///path/to/file.db), or no trial_timeout"
            )


def _check_filter(value: str) -> str:
    """Check a constraint with the search filter language (parsed only: no SQL is loaded)."""
    try:
        parse_filter(value)
    except ValueError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "invalid filter"
        raise fail_at(first[:1].lower() + first[1:]) from None
    if not value.strip():
        raise fail_at("empty filter string")
    return value


class Select(_Section):
    """How the best trial is chosen: ``constraints`` are filters every candidate must pass."""

    constraints: tuple[Annotated[StrictStr, AfterValidator(_check_filter)], ...] = ()


def _not_blank(value: str) -> str:
    if not value.strip():
        raise fail_at("must not be empty")
    return value


class Retrain(_Section):
    """Retrain the best trial's parameters and optionally register the model."""

    enabled: StrictBool = True
    register_as: Annotated[StrictStr, AfterValidator(_not_blank)] | None = None
    alias: Annotated[StrictStr, AfterValidator(_not_blank)] | None = None

    @field_validator("alias")
    @classmethod
    def _alias_needs_name(cls, value: str | None, info: ValidationInfo) -> str | None:
        # register_as is absent from info.data when it is itself invalid (reported already)
        if value is not None and "register_as" in info.data and info.data["register_as"] is None:
            raise fail_at("alias needs register_as (the registered model name)")
        return value


class Autolog(_Section):
    """What autolog records inside each trial."""

    log_models: StrictBool = True
    log_datasets: StrictBool = True
    log_importances: StrictBool = True
    disable: StrictBool = False


class Metric(_Section):
    name: Annotated[StrictStr, AfterValidator(_not_blank)]
    goal: Annotated[
        Literal["minimize", "maximize"], PlainValidator(lambda v: one_of(v, GOALS, "goal"))
    ]


class EarlyTerminate(_Section):
    type: Annotated[str, PlainValidator(lambda v: one_of(v, PRUNERS, "type"))]
    min_steps: Annotated[StrictInt, Field(ge=1)] = 1
    min_trials: Annotated[StrictInt, Field(ge=0)] = 5
    max_steps: Annotated[StrictInt, Field(ge=1)] | None = None

    @field_validator("max_steps")
    @classmethod
    def _steps(cls, value: int | None, info: ValidationInfo) -> int | None:
        min_steps = info.data.get("min_steps")  # absent if min_steps itself is invalid
        if value is not None and min_steps is not None and value <= min_steps:
            raise fail_at(f"max_steps ({value}) must be greater than min_steps ({min_steps})")
        return value
