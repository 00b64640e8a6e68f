"""Sweep files: load a sweep YAML, or the same keys given in Python, into a frozen,
validated :class:`SweepConfig` (:func:`load_sweep_config`, :func:`parse_sweep_config`,
:func:`build_sweep_config`: one model, one validation).

Every problem is reported as one line ``FILE:LINE: PATH: WHAT`` (``LINE`` is the line of the
YAML node at ``PATH``, or of its parent mapping for a missing key); an error in a ``--set``
override reads ``--set KEY=VALUE: PATH: WHAT``, one in keys given in Python
``SOURCE: PATH: WHAT``. All problems are raised together as one :class:`SweepConfigError`
(a :class:`~tunetrack.errors.ConfigError`).

Nothing here imports optuna, hyperopt or the objective: the objective file is checked with
:mod:`ast` and an objective module with :func:`importlib.util.find_spec`-style lookups that
do not execute package code.

This module holds :class:`SweepConfig` and the load/parse entry points, and is where the
rest is imported from; the code lives in ``_config_errors`` (:class:`Problem`,
:class:`SweepConfigError`, YAML lines, pydantic errors), ``_config_sections`` (the section
models, :func:`parse_duration`) and ``_objective_ref`` (:class:`ObjectiveRef`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StrictInt,
    StrictStr,
    ValidationError,
    ValidationInfo,
)
from pydantic_core import PydanticCustomError

from tunetrack.errors import ConfigError
from tunetrack.sweep._config_errors import (
    Loc,
    Problem,
    SweepConfigError,
    duplicate_keys,
    fail,
    fail_at,
    line_at,
    load_yaml,
    one_of,
    place,
    problems_of,
    unknown_key,
    user_keys,
    validate_nested,
)
from tunetrack.sweep._config_sections import (
    BACKENDS,
    PRUNERS,
    Autolog,
    Budget,
    EarlyTerminate,
    Metric,
    Parallel,
    Retrain,
    Select,
    parse_duration,
)
from tunetrack.sweep._config_sections import GOALS as GOALS  # re-exported
from tunetrack.sweep._messages import show_yaml
from tunetrack.sweep._objective_ref import ObjectiveRef, parse_objective_ref
from tunetrack.sweep.goals import METHODS, MULTI_OBJECTIVE_METHODS, Goal, PrunerSpec
from tunetrack.sweep.space import SearchSpace, SpaceError, grid_points, parse_space

__all__ = [
    "BACKENDS",
    "PRUNERS",
    "Autolog",
    "Budget",
    "ObjectiveRef",
    "Parallel",
    "Problem",
    "Retrain",
    "Select",
    "SweepConfig",
    "SweepConfigError",
    "build_sweep_config",
    "load_sweep_config",
    "parse_duration",
    "parse_objective_ref",
    "parse_sweep_config",
]

# methods that propose from the declared parameters only (no define-by-run trial.suggest_*)
_SPACE_ONLY_METHODS = ("grid", "hyperopt-tpe", "hyperopt-random")

# ----------------------------------------------------------------------------- field validators


def _n_metrics(info: ValidationInfo) -> int:
    return len(info.data.get("metrics") or ())


def _validate_name(value: str) -> str:
    if not value.strip():
        raise fail_at("must not be empty")
    if len(value) > 256 or "\n" in value:
        raise fail_at("must be one line of at most 256 characters")
    return value


_Name = Annotated[StrictStr, AfterValidator(_validate_name)]


def _validate_objective(value: object, info: ValidationInfo) -> ObjectiveRef:
    if isinstance(value, ObjectiveRef):
        return value
    if callable(value):
        return ObjectiveRef.of(value)
    if not isinstance(value, str):
        raise fail_at(
            "expected 'path/to/file.py:function', 'package.module:function' or (in Python) "
            f"a function, got {show_yaml(value)}"
        )
    try:
        return parse_objective_ref(value, (info.context or {}).get("base_dir"))
    except ConfigError as exc:
        raise fail_at(exc.message) from None


def _validate_metric(value: object) -> tuple[Goal, ...]:
    if isinstance(value, tuple) and all(isinstance(g, Goal) for g in value):
        return value
    if isinstance(value, str):
        raise fail_at(
            f"a goal is required: write metric: {{name: {value}, goal: maximize}} (or minimize)"
        )
    if isinstance(value, Mapping):
        items: list[tuple[Loc, object]] = [((), value)]
    elif isinstance(value, list) and value:
        items = [((i,), item) for i, item in enumerate(value)]
    else:
        raise fail_at(
            "expected {name: ..., goal: minimize|maximize} or a non-empty list of them, "
            f"got {show_yaml(value)}"
        )
    problems: list[Problem] = []
    goals: list[Goal] = []
    seen: set[str] = set()
    for where, item in items:
        try:
            metric = validate_nested(Metric, item)
        except PydanticCustomError as exc:
            ctx = exc.context or {}
            problems += [p.under(where) for p in ctx["problems"]]
            continue
        if metric.name in seen:
            problems.append(Problem((*where, "name"), f"metric {metric.name!r} is listed twice"))
        seen.add(metric.name)
        goals.append(Goal(name=metric.name, direction=metric.goal))
    if problems:
        raise fail(*problems)
    return tuple(goals)


def _validate_method(value: object, info: ValidationInfo) -> str:
    method = one_of(value, METHODS, "method")
    n = _n_metrics(info)
    if n > 1 and method not in MULTI_OBJECTIVE_METHODS:
        given = "method" in (info.context or {}).get("given", ("method",))
        raise fail_at(
            f"{'' if given else 'the default method '}{method} optimises one metric but "
            f"metric lists {n}; set method: {' or '.join(MULTI_OBJECTIVE_METHODS)}"
        )
    return method


def _validate_space(value: object, info: ValidationInfo) -> SearchSpace:
    if not isinstance(value, Mapping):
        raise fail_at(
            f"expected a mapping of parameter name to distribution, got {show_yaml(value)}"
        )
    method = info.data.get("method")
    if not value:  # define-by-run: the objective asks with trial.suggest_*
        if method in _SPACE_ONLY_METHODS:
            raise fail_at(
                f"method {method} needs parameters (trial.suggest_* alone works with "
                f"{', '.join(m for m in METHODS if m not in _SPACE_ONLY_METHODS)})"
            )
        return SearchSpace()
    if isinstance(value, SearchSpace):
        return value
    try:
        space = parse_space(value)
        if method == "grid":
            grid_points(space)
    except SpaceError as exc:
        raise fail(*(Problem(path, message) for path, message in exc.problems)) from None
    return space


def _single_metric(value: object, key: str, what: str, info: ValidationInfo) -> list[Problem]:
    """A problem at ``key`` when the mapping ``value`` sets it (not to null or none) while
    metric lists several: ``what`` works with a single metric only."""
    if _n_metrics(info) > 1 and isinstance(value, Mapping) and value.get(key) not in (None, "none"):
        return [Problem((key,), f"{what} needs a single metric (metric lists several)")]
    return []


def _validate_budget(value: object, info: ValidationInfo) -> Budget:
    if isinstance(value, Budget):
        value = value.model_dump()  # checked against the metric like a mapping
    return validate_nested(Budget, value, *_single_metric(value, "target", "target", info))


def _validate_pruner(value: object, info: ValidationInfo) -> PrunerSpec | None:
    if value is None or isinstance(value, PrunerSpec):
        return value
    single = _single_metric(value, "type", "early termination", info)
    spec = validate_nested(EarlyTerminate, value, *single)
    if spec.type == "none":
        return None
    return PrunerSpec(
        type=spec.type,
        min_steps=spec.min_steps,
        min_trials=spec.min_trials,
        max_steps=spec.max_steps,
    )


def _validate_tags(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise fail_at(f"expected a mapping of tag name to value, got {show_yaml(value)}")
    tags: dict[str, str] = {}
    problems: list[Problem] = []
    for key, item in value.items():
        if isinstance(item, bool):
            tags[str(key)] = "true" if item else "false"
        elif isinstance(item, str | int | float):
            tags[str(key)] = str(item)
        else:
            problems.append(Problem((str(key),), f"expected a string, got {show_yaml(item)}"))
    if problems:
        raise fail(*problems)
    return tags


# ----------------------------------------------------------------------------- the config


class SweepConfig(BaseModel):
    """A validated sweep file (build it with :func:`load_sweep_config`)."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    name: _Name
    experiment: _Name
    description: StrictStr | None = None
    objective: Annotated[ObjectiveRef, PlainValidator(_validate_objective)]
    metrics: Annotated[tuple[Goal, ...], PlainValidator(_validate_metric)] = Field(
        validation_alias="metric"
    )
    method: Annotated[str, PlainValidator(_validate_method)] = Field("tpe", validate_default=True)
    space: Annotated[SearchSpace, PlainValidator(_validate_space)] = Field(
        default_factory=SearchSpace, validation_alias="parameters"
    )
    parameters_raw: dict[str, Any] = Field(default_factory=dict)
    budget: Annotated[Budget, PlainValidator(_validate_budget)] = Field(default_factory=Budget)
    parallel: Parallel = Field(default_factory=Parallel)
    early_terminate: Annotated[PrunerSpec | None, PlainValidator(_validate_pruner)] = None
    select: Select = Field(default_factory=Select)
    retrain: Retrain = Field(default_factory=lambda: Retrain(enabled=False))
    autolog: Autolog = Field(default_factory=Autolog)
    tags: Annotated[dict[str, str], PlainValidator(_validate_tags)] = Field(default_factory=dict)
    seed: Annotated[StrictInt, Field(ge=0, lt=2**32)] | None = None
    source_path: Path | None = None
    source_text: str = ""

    @property
    def primary_metric(self) -> Goal:
        """The first (for single-objective sweeps, the only) metric."""
        return self.metrics[0]

    @property
    def multi_objective(self) -> bool:
        """Whether the sweep optimises several metrics."""
        return len(self.metrics) > 1


TOP_LEVEL_KEYS: tuple[str, ...] = tuple(user_keys(SweepConfig))


# ----------------------------------------------------------------------------- overrides


def _apply_override(data: dict[str, Any], override: str) -> tuple[Loc, Problem | None]:
    """Apply ``a.b.c=value`` to ``data`` in place; return its path and any problem."""
    key, sep, text = override.partition("=")
    path: Loc = tuple(part.strip() for part in key.split("."))
    if not sep or not all(path):
        return (), Problem((), "expected KEY=VALUE, e.g. budget.trials=20", override=override)
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or "cannot parse"
        return path, Problem(path, f"invalid value: {problem}", override=override)
    target: Any = data
    for i, part in enumerate(path[:-1]):
        if isinstance(target, list) and str(part).isdigit() and int(part) < len(target):
            index: str | int = int(part)
        elif isinstance(target, dict):
            index = part
            if target.get(part) is None:
                target[part] = {}
        else:
            return path, Problem(
                path[:i],
                f"is {show_yaml(target)}, not a mapping: cannot set {key}",
                override=override,
            )
        target = target[index]
    last = path[-1]
    if isinstance(target, list) and str(last).isdigit() and int(last) < len(target):
        target[int(last)] = value
    elif isinstance(target, dict):
        target[last] = value
    else:
        return path, Problem(
            path[:-1], f"is {show_yaml(target)}, not a mapping: cannot set {key}", override=override
        )
    return path, None


# ----------------------------------------------------------------------------- entry points


def load_sweep_config(path: str | Path, overrides: Sequence[str] = ()) -> SweepConfig:
    """Read and validate the sweep file at ``path`` (errors name it as given)."""
    source = str(path)
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{source}: sweep file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{source}: is a directory, not a sweep file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: cannot read the sweep file: {exc}") from None
    resolved = file.resolve()
    return _parse(text, source, resolved, resolved.parent, overrides)


def parse_sweep_config(
    text: str,
    *,
    source: str = "<string>",
    base_dir: Path | None = None,
    overrides: Sequence[str] = (),
    objective: Callable[..., Any] | None = None,
) -> SweepConfig:
    """Validate sweep YAML ``text``; ``source`` names it in errors, relative objective paths
    resolve against ``base_dir`` (default: the current directory). A function
    ``objective`` replaces the text's (a stored sweep that was run from Python)."""
    return _parse(text, source, None, base_dir, overrides, objective)


def build_sweep_config(
    data: Mapping[str, Any], *, source: str = "<python>", base_dir: Path | None = None
) -> SweepConfig:
    """Validate the keys of a sweep file given as a mapping (in Python, ``objective`` may be
    the function itself); ``source`` names it in errors (``SOURCE: PATH: WHAT``).

    The config's ``source_text`` is these keys as YAML, the objective written as its
    reference (see :meth:`ObjectiveRef.of`): the sweep file stored on the parent run.
    """
    data = {key: value if key == "objective" else _plain(value) for key, value in data.items()}
    objective = data.get("objective")
    if callable(objective) and not isinstance(objective, ObjectiveRef):
        data["objective"] = objective = ObjectiveRef.of(objective)
    name = objective.function if isinstance(objective, ObjectiveRef) else ""
    config = _validate(
        data, source, base_dir=base_dir, default_name=name if name.isidentifier() else "sweep"
    )
    written = {**data, "objective": str(config.objective)}
    try:
        text = yaml.safe_dump(written, sort_keys=False, allow_unicode=True)
    except yaml.YAMLError as exc:
        raise SweepConfigError(source, [Problem((), f"cannot be written as YAML: {exc}")]) from None
    return config.model_copy(update={"source_text": text})


def _plain(value: Any) -> Any:
    """``value`` with YAML's types: mappings as dicts, sequences as lists, numpy scalars
    as Python numbers."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if hasattr(value, "item") and hasattr(value, "dtype"):  # a numpy scalar
        return value.item()
    return value


def _parse(
    text: str,
    source: str,
    source_path: Path | None,
    base_dir: Path | None,
    overrides: Sequence[str],
    objective: Callable[..., Any] | None = None,
) -> SweepConfig:
    data, root = load_yaml(text, source)
    if data is None:
        data = {} if overrides else None
    if not isinstance(data, dict):
        what = "empty" if data is None else f"{show_yaml(data)}, not a mapping"
        raise SweepConfigError(
            source,
            [
                Problem(
                    (),
                    f"the sweep file is {what}; it needs at least objective and metric",
                    line=line_at(root, ())[0],
                )
            ],
        )
    problems = duplicate_keys(root)
    override_paths: list[tuple[Loc, str]] = []
    if isinstance(overrides, str):
        overrides = [overrides]
    for override in overrides:
        path, problem = _apply_override(data, override)
        if problem is not None:
            problems.append(problem)
        elif path:
            override_paths.append((path, override))
    if objective is not None:
        data["objective"] = objective
    return _validate(
        data,
        source,
        base_dir=base_dir,
        default_name="sweep" if source.startswith("<") else Path(source).stem,
        source_path=source_path,
        text=text,
        problems=problems,
        placing=(root, override_paths, overrides),
    )


def _validate(
    data: Mapping[str, Any],
    source: str,
    *,
    base_dir: Path | None,
    default_name: str,
    source_path: Path | None = None,
    text: str = "",
    problems: Sequence[Problem] = (),
    placing: tuple[Any, list[tuple[Loc, str]], Sequence[str]] | None = None,
) -> SweepConfig:
    """The config of the top-level keys ``data``, or every problem (with ``problems``
    found before) as one SweepConfigError. ``placing`` (the YAML node tree, the overrides'
    paths, the overrides) gives each problem its line or override; without it (keys given
    in Python) problems have none."""
    problems = list(problems)
    prepared: dict[str, Any] = {}
    for key, value in data.items():
        if key in TOP_LEVEL_KEYS:
            prepared[key] = value
        else:
            problems.append(unknown_key(key, TOP_LEVEL_KEYS))
    prepared.setdefault("parameters", {})  # none: define-by-run (checked against the method)
    if isinstance(prepared["parameters"], Mapping):
        prepared["parameters_raw"] = copy.deepcopy(dict(prepared["parameters"]))
    if "name" not in prepared:
        prepared["name"] = default_name
    if "experiment" not in prepared or prepared["experiment"] is None:
        name = prepared["name"]
        prepared["experiment"] = name if isinstance(name, str) else "sweep"
    prepared["source_path"] = source_path
    prepared["source_text"] = text
    try:
        context = {"base_dir": base_dir, "given": frozenset(prepared)}
        config = SweepConfig.model_validate(prepared, context=context)
    except ValidationError as exc:
        problems += problems_of(exc, SweepConfig)
    else:
        if not problems:
            return config
    root, override_paths, overrides = placing or (None, [], ())
    raise SweepConfigError(
        source, place(problems, root, override_paths, overrides, lines=placing is not None)
    )
