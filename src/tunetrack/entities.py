"""Immutable records returned by the store: experiments, runs, metrics, params."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from tunetrack.errors import InvalidInput

_K = TypeVar("_K")
_V = TypeVar("_V")
_T = TypeVar("_T")


class RunStatus(enum.StrEnum):
    """Lifecycle status of a run. ``PRUNED`` marks a sweep trial stopped early."""

    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"
    PRUNED = "PRUNED"

    @classmethod
    def parse(cls, value: object) -> RunStatus:
        """``value`` (any case) as a RunStatus, or InvalidInput naming the valid ones."""
        try:
            return cls(str(value).upper())
        except ValueError:
            valid = ", ".join(v.value for v in cls)
            raise InvalidInput(f"unknown run status {value!r}; use one of {valid}") from None

    @property
    def is_terminal(self) -> bool:
        """True once the run has ended (no more logging expected)."""
        return self not in (RunStatus.RUNNING, RunStatus.SCHEDULED)


class LifecycleStage(enum.StrEnum):
    """Whether an experiment or run is live or soft-deleted."""

    ACTIVE = "active"
    DELETED = "deleted"


class ViewType(enum.StrEnum):
    """Which lifecycle stages a search returns."""

    ACTIVE_ONLY = "active_only"
    DELETED_ONLY = "deleted_only"
    ALL = "all"

    @classmethod
    def parse(cls, value: object) -> ViewType:
        """``value`` as a ViewType, or InvalidInput naming the valid ones."""
        try:
            return cls(str(value))
        except ValueError:
            valid = ", ".join(v.value for v in cls)
            raise InvalidInput(f"unknown view type {value!r}; use one of {valid}") from None

    def stages(self) -> tuple[LifecycleStage, ...]:
        """The lifecycle stages this view includes."""
        if self is ViewType.ACTIVE_ONLY:
            return (LifecycleStage.ACTIVE,)
        if self is ViewType.DELETED_ONLY:
            return (LifecycleStage.DELETED,)
        return (LifecycleStage.ACTIVE, LifecycleStage.DELETED)


class FrozenDict(dict[_K, _V]):
    """A read-only dict: mutation raises TypeError; it pickles (unlike a mappingproxy)."""

    def _readonly(self, *args: object, **kwargs: object) -> None:
        raise TypeError("this mapping is a read-only snapshot")

    __setitem__ = __delitem__ = __ior__ = _readonly  # type: ignore[assignment]
    clear = pop = popitem = setdefault = update = _readonly  # type: ignore[assignment]

    def __reduce__(self) -> tuple[type[FrozenDict[_K, _V]], tuple[dict[_K, _V]]]:
        return (FrozenDict, (dict(self),))

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))


def _frozen_map(data: Mapping[_K, _V] | None) -> Mapping[_K, _V]:
    return FrozenDict(data or {})


@dataclass(frozen=True, slots=True)
class Experiment:
    """A named group of runs."""

    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: LifecycleStage
    creation_time: int
    last_update_time: int
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tags", _frozen_map(self.tags))


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric point: ``value`` at ``step``, logged at ``timestamp`` (ms since epoch)."""

    key: str
    value: float
    timestamp: int
    step: int = 0


@dataclass(frozen=True, slots=True)
class Param:
    """One hyperparameter; the value is always stored as a string."""

    key: str
    value: str


@dataclass(frozen=True, slots=True)
class RunTag:
    """One run tag (free-form string metadata)."""

    key: str
    value: str


@dataclass(frozen=True, slots=True)
class RunInfo:
    """Identity and lifecycle of a run."""

    run_id: str
    experiment_id: str
    run_name: str
    status: RunStatus
    start_time: int
    end_time: int | None
    lifecycle_stage: LifecycleStage
    artifact_uri: str
    parent_run_id: str | None = None
    user_id: str = ""


@dataclass(frozen=True, slots=True)
class RunData:
    """What a run logged: latest value per metric, params and tags."""

    metrics: Mapping[str, float] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("metrics", "params", "tags"):
            object.__setattr__(self, name, _frozen_map(getattr(self, name)))


@dataclass(frozen=True, slots=True)
class Run:
    """A run as stored: its :class:`RunInfo` and :class:`RunData`."""

    info: RunInfo
    data: RunData


class PagedList(list[_T]):
    """A page of results plus the token that fetches the next page (``None`` at the end)."""

    def __init__(self, items: Iterable[_T], token: str | None) -> None:
        super().__init__(items)
        self.token = token


@dataclass(frozen=True, slots=True)
class FileInfo:
    """One artifact listing entry: ``path`` relative to the run's artifact root."""

    path: str
    is_dir: bool
    file_size: int | None


class ModelStage(enum.StrEnum):
    """The familiar deployment stages of a model version."""

    NONE = "None"
    STAGING = "Staging"
    PRODUCTION = "Production"
    ARCHIVED = "Archived"

    @classmethod
    def parse(cls, value: object) -> ModelStage:
        """``value`` (any case) as a stage, or InvalidInput naming the valid ones."""
        for stage in cls:
            if str(value).lower() == stage.value.lower():
                return stage
        valid = ", ".join(s.value for s in cls)
        raise InvalidInput(f"unknown stage {value!r}; use one of {valid}")


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One registered version of a model: where its files are and where it came from."""

    name: str
    version: int
    source: str
    run_id: str | None
    status: str
    current_stage: ModelStage
    description: str
    creation_time: int
    last_updated_time: int
    tags: Mapping[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    #: sha256 of the version's model.yaml, recorded at registration (None before schema 0003)
    manifest_sha256: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "tags", _frozen_map(self.tags))


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    """A named model with its versions' aliases (alias -> version)."""

    name: str
    description: str
    creation_time: int
    last_updated_time: int
    latest_version: int | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    aliases: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("tags", "aliases"):
            object.__setattr__(self, name, _frozen_map(getattr(self, name)))


@dataclass(frozen=True, slots=True)
class GcReport:
    """What a garbage collection removed for good (with ``dry_run``: would remove).

    ``rows`` counts the rows deleted per table; ``artifacts`` are the artifact locations
    removed; ``kept`` says why a deleted run or experiment stayed; ``artifact_errors`` names
    the locations whose files could not be removed (their rows are gone) and why.
    """

    dry_run: bool
    experiment_ids: tuple[str, ...] = ()
    run_ids: tuple[str, ...] = ()
    rows: Mapping[str, int] = field(default_factory=dict)
    artifacts: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    artifact_errors: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", _frozen_map(self.rows))
