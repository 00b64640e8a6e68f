"""Sweep files: load a sweep YAML into a frozen, validated :class:`SweepConfig`.

Every problem is reported as one line ``FILE:LINE: PATH: WHAT`` (``LINE`` is the line of the
YAML node at ``PATH``, or of its parent mapping for a missing key); an error in a ``--set``
override reads ``--set KEY=VALUE: PATH: WHAT``. All problems of a file are raised together
as one :class:`SweepConfigError` (a :class:`~tunetrack.errors.ConfigError`).

Nothing here imports optuna, hyperopt or the objective: the objective file is checked with
:mod:`ast` and an objective module with :func:`importlib.util.find_spec`-style lookups that
do not execute package code.
"""

from __future__ import annotations

import ast
import copy
import difflib
import importlib.machinery
import importlib.util
import keyword
import math
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
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
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from tunetrack.errors import ConfigError
from tunetrack.sweep.space import SearchSpace, SpaceError, grid_points, parse_space
from tunetrack.sweep.strategies import (
    METHODS,
    MULTI_OBJECTIVE_METHODS,
    PRUNER_TYPES,
    Goal,
    PrunerSpec,
)

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
    "load_sweep_config",
    "parse_duration",
    "parse_objective_ref",
    "parse_sweep_config",
]

BACKENDS = ("loky", "threading", "sequential", "dask", "ray")
PRUNERS: tuple[str, ...] = PRUNER_TYPES
GOALS = ("minimize", "maximize")

Loc = tuple[str | int, ...]
_ERROR_TYPE = "tunetrack_config"

# ----------------------------------------------------------------------------- problems


@dataclass(frozen=True)
class Problem:
    """One problem in a sweep file: where (``line``/``path``, or ``override``) and what."""

    path: Loc
    message: str
    line: int | None = None
    override: str | None = None
    missing: bool = False  # "required key is missing" (dropped if a typo explains it)
    suggests: str | None = None  # an unknown key's closest allowed key

    def format(self, source: str) -> str:
        """``FILE:LINE: PATH: WHAT`` (or ``--set K=V: PATH: WHAT``)."""
        where = f"--set {self.override}" if self.override is not None else f"{source}:{self.line}"
        dotted = ".".join(str(part) for part in self.path)
        return f"{where}: {dotted}: {self.message}" if dotted else f"{where}: {self.message}"


class SweepConfigError(ConfigError):
    """A sweep file is invalid; ``problems`` lists each problem, one message line each."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        super().__init__("\n".join(p.format(source) for p in problems))
        self.source = source
        self.problems = tuple(problems)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.source, self.problems))


def _fail(*problems: Problem) -> PydanticCustomError:
    """A pydantic error carrying problems at paths relative to the validated value."""
    return PydanticCustomError(
        _ERROR_TYPE, "{summary}", {"summary": problems[0].message, "problems": problems}
    )


def _fail_at(message: str, *path: str | int) -> PydanticCustomError:
    return _fail(Problem(tuple(path), message))


def _show(value: object) -> str:
    """A value as the user wrote it in YAML, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _unknown_key(key: object, allowed: Sequence[str], path: Loc = ()) -> Problem:
    """'unknown key' with the closest allowed key, if any, and the allowed ones."""
    close = difflib.get_close_matches(str(key), list(allowed), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return Problem(
        (*path, str(key)),
        f"unknown key{hint} (allowed: {', '.join(allowed)})",
        suggests=close[0] if close else None,
    )


def _one_of(value: object, choices: Sequence[str], what: str) -> str:
    """``value`` if it is one of ``choices``, else a pydantic error naming the valid ones."""
    if isinstance(value, str) and value in choices:
        return value
    close = difflib.get_close_matches(value, choices, n=1) if isinstance(value, str) else []
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise _fail_at(f"unknown {what} {_show(value)}{hint} (valid: {', '.join(choices)})")


_MISSING_HINTS = {
    ("objective",): " (e.g. objective: objectives/train.py:train or package.module:train)",
    ("metric",): " (e.g. metric: {name: accuracy, goal: maximize})",
    ("parameters",): " (a mapping of parameter name to distribution)",
    ("goal",): " (minimize or maximize)",
}


def _describe(err: Mapping[str, Any]) -> str:
    """A short message for one built-in pydantic error."""
    kind, value, ctx = err["type"], err.get("input"), err.get("ctx") or {}
    got = f", got {_show(value)}"
    if kind.startswith("int_"):
        return "expected an integer" + got
    if kind.startswith("float_"):
        return "expected a number" + got
    if kind.startswith("bool_"):
        return "expected true or false" + got
    if kind.startswith("string_"):
        return ("expected a string" + got) if kind == "string_type" else err["msg"].lower()
    if kind in ("dict_type", "model_type", "model_attributes_type", "mapping_type"):
        return "expected a mapping" + got
    if kind in ("list_type", "tuple_type", "iterable_type", "sequence_str"):
        return "expected a list" + got
    if kind == "finite_number":
        return "expected a finite number" + got
    for bound, words in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        if bound in ctx:
            return f"must be {words} {ctx[bound]}" + got
    return str(err["msg"])


def _problems_of(exc: ValidationError, model: type[BaseModel]) -> list[Problem]:
    """Turn a ValidationError of ``model`` into problems (paths relative to its input)."""
    problems: list[Problem] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        if err["type"] == _ERROR_TYPE:
            for p in err["ctx"]["problems"]:
                problems.append(
                    Problem((*loc, *p.path), p.message, missing=p.missing, suggests=p.suggests)
                )
        elif err["type"] == "extra_forbidden":
            problems.append(_unknown_key(loc[-1], _keys_at(model, loc[:-1]), loc[:-1]))
        elif err["type"] == "missing":
            hint = _MISSING_HINTS.get(loc) or _MISSING_HINTS.get(loc[-1:], "")
            problems.append(Problem(loc, "required key is missing" + hint, missing=True))
        else:
            problems.append(Problem(loc, _describe(err)))
    return problems


def _keys_at(model: type[BaseModel], loc: Loc) -> list[str]:
    """The keys a user may write in the mapping of ``model`` at ``loc``."""
    for part in loc:
        fields = {f.validation_alias or name: f for name, f in model.model_fields.items()}
        annotation = fields[part].annotation if part in fields else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return [
        str(f.validation_alias or name)
        for name, f in model.model_fields.items()
        if name not in _INTERNAL_FIELDS
    ]


def _validate_nested(model: type[BaseModel], value: object) -> Any:
    """Validate ``value`` as ``model``, re-raising all its problems as one pydantic error."""
    if not isinstance(value, Mapping):
        raise _fail_at("expected a mapping" + f", got {_show(value)}")
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise _fail(*_problems_of(exc, model)) from None


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
        raise ConfigError(f"invalid duration {_show(value)}: {usage}")
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
        raise ConfigError(f"invalid duration {_show(value)}: it must be positive and finite")
    return seconds


# ----------------------------------------------------------------------------- objective


@dataclass(frozen=True)
class ObjectiveRef:
    """Where the objective lives: a ``.py`` file (absolute ``path``) or an importable ``module``.

    ``search_dir`` is set when ``module`` was found only in the sweep file's directory: put it
    on ``sys.path`` before importing.
    """

    path: Path | None
    module: str | None
    function: str
    search_dir: Path | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return f"{self.path or self.module}:{self.function}"


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
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
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
            close = difflib.get_close_matches(function, defined, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            listing = f" (functions: {', '.join(defined)})" if defined else " (it defines none)"
            raise ConfigError(f"{target} has no top-level function {function!r}{hint}{listing}")
        return ObjectiveRef(path=path, module=None, function=function)
    if not all(_is_identifier(part) for part in target.split(".")):
        raise ConfigError(f"{target!r} is neither a .py file nor a module name ({usage})")
    found, search_dir = _find_module(target, base)
    if not found:
        raise ConfigError(
            f"module {target!r} not found on the Python path or in {base} "
            "(for a file, write path/to/file.py:function)"
        )
    return ObjectiveRef(path=None, module=target, function=function, search_dir=search_dir)


# ----------------------------------------------------------------------------- sections


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _timeout(value: object) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value)  # type: ignore[arg-type]
    except ConfigError as exc:
        raise _fail_at(exc.message) from None


class Budget(_Section):
    """When the sweep stops: after ``trials``, ``timeout`` seconds, ``target`` or failures."""

    trials: Annotated[StrictInt, Field(ge=1)] = 20
    timeout: Annotated[float | None, PlainValidator(_timeout)] = None
    target: Annotated[StrictFloat, Field(allow_inf_nan=False)] | None = None
    max_failures: Annotated[StrictInt, Field(ge=1)] | None = None


_ADDRESS = re.compile(r"(tcp|tls|ucx|ws|wss|inproc)://\S+")


class Parallel(_Section):
    """How trials run: ``n_jobs`` workers (-1 = all cores) on a joblib ``backend``."""

    n_jobs: StrictInt = 1
    backend: Annotated[
        Literal["loky", "threading", "sequential", "dask", "ray"],
        PlainValidator(lambda v: _one_of(v, BACKENDS, "backend")),
    ] = "loky"
    address: StrictStr | None = None  # dask scheduler; None starts a LocalCluster

    @field_validator("n_jobs")
    @classmethod
    def _n_jobs(cls, value: int) -> int:
        if value == 0:
            raise _fail_at("must not be 0: use a number of workers, or -1 for all cores")
        return value

    @model_validator(mode="after")
    def _address(self) -> Parallel:
        if self.address is not None:
            if self.backend != "dask":
                raise _fail_at(
                    f"address is only used with backend dask (backend is {self.backend})",
                    "address",
                )
            if not _ADDRESS.fullmatch(self.address):
                raise _fail_at(
                    f"expected a scheduler address like tcp://host:8786, got {self.address!r}",
                    "address",
                )
        return self


def _check_filter(value: str) -> str:
    """Check a constraint with the search filter language, if it is available."""
    try:
        from tunetrack.search import parse_filter
    except ImportError:  # pragma: no cover - the search package is optional here
        return value
    try:
        parse_filter(value)
    except ValueError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "invalid filter"
        raise _fail_at(first[:1].lower() + first[1:]) from None
    if not value.strip():
        raise _fail_at("empty filter string")
    return value


class Select(_Section):
    """How the best trial is chosen: ``constraints`` are filters every candidate must pass."""

    constraints: tuple[Annotated[StrictStr, AfterValidator(_check_filter)], ...] = ()


class Retrain(_Section):
    """Retrain the best trial's parameters and optionally register the model."""

    enabled: StrictBool = True
    register_as: StrictStr | None = None
    alias: StrictStr | None = None

    @model_validator(mode="after")
    def _alias_needs_name(self) -> Retrain:
        for key in ("register_as", "alias"):
            if getattr(self, key) is not None and not getattr(self, key).strip():
                raise _fail_at("must not be empty", key)
        if self.alias is not None and self.register_as is None:
            raise _fail_at("alias needs register_as (the registered model name)", "alias")
        return self


class Autolog(_Section):
    """What autolog records inside each trial."""

    log_models: StrictBool = True
    log_datasets: StrictBool = True
    log_importances: StrictBool = True
    disable: StrictBool = False


class _Metric(_Section):
    name: StrictStr
    goal: Annotated[
        Literal["minimize", "maximize"], PlainValidator(lambda v: _one_of(v, GOALS, "goal"))
    ]

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise _fail_at("must not be empty")
        return value


class _EarlyTerminate(_Section):
    type: Annotated[str, PlainValidator(lambda v: _one_of(v, PRUNERS, "type"))]
    min_steps: Annotated[StrictInt, Field(ge=1)] = 1
    min_trials: Annotated[StrictInt, Field(ge=0)] = 5
    max_steps: Annotated[StrictInt, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _steps(self) -> _EarlyTerminate:
        if self.max_steps is not None and self.max_steps < self.min_steps:
            raise _fail_at(
                f"max_steps ({self.max_steps}) must be at least min_steps ({self.min_steps})",
                "max_steps",
            )
        return self


# ----------------------------------------------------------------------------- field validators


def _n_metrics(info: ValidationInfo) -> int:
    return len(info.data.get("metrics") or ())


def _validate_name(value: str) -> str:
    if not value.strip():
        raise _fail_at("must not be empty")
    if len(value) > 256 or "\n" in value:
        raise _fail_at("must be one line of at most 256 characters")
    return value


_Name = Annotated[StrictStr, AfterValidator(_validate_name)]


def _validate_objective(value: object, info: ValidationInfo) -> ObjectiveRef:
    if isinstance(value, ObjectiveRef):
        return value
    if not isinstance(value, str):
        raise _fail_at(
            f"expected 'path/to/file.py:function' or 'package.module:function', got {_show(value)}"
        )
    try:
        return parse_objective_ref(value, (info.context or {}).get("base_dir"))
    except ConfigError as exc:
        raise _fail_at(exc.message) from None


def _validate_metric(value: object) -> tuple[Goal, ...]:
    if isinstance(value, tuple) and all(isinstance(g, Goal) for g in value):
        return value
    if isinstance(value, str):
        raise _fail_at(
            f"a goal is required: write metric: {{name: {value}, goal: maximize}} (or minimize)"
        )
    if isinstance(value, Mapping):
        items: list[tuple[Loc, object]] = [((), value)]
    elif isinstance(value, list) and value:
        items = [((i,), item) for i, item in enumerate(value)]
    else:
        raise _fail_at(
            "expected {name: ..., goal: minimize|maximize} or a non-empty list of them, "
            f"got {_show(value)}"
        )
    problems: list[Problem] = []
    goals: list[Goal] = []
    seen: set[str] = set()
    for where, item in items:
        try:
            metric = _validate_nested(_Metric, item)
        except PydanticCustomError as exc:
            ctx = exc.context or {}
            problems += [
                Problem((*where, *p.path), p.message, missing=p.missing, suggests=p.suggests)
                for p in ctx["problems"]
            ]
            continue
        if metric.name in seen:
            problems.append(Problem((*where, "name"), f"metric {metric.name!r} is listed twice"))
        seen.add(metric.name)
        goals.append(Goal(name=metric.name, direction=metric.goal))
    if problems:
        raise _fail(*problems)
    return tuple(goals)


def _validate_method(value: object, info: ValidationInfo) -> str:
    method = _one_of(value, METHODS, "method")
    n = _n_metrics(info)
    if n > 1 and method not in MULTI_OBJECTIVE_METHODS:
        given = "method" in (info.context or {}).get("given", ("method",))
        raise _fail_at(
            f"{'' if given else 'the default method '}{method} optimises one metric but "
            f"metric lists {n}; set method: {' or '.join(MULTI_OBJECTIVE_METHODS)}"
        )
    return method


def _validate_space(value: object, info: ValidationInfo) -> SearchSpace:
    if isinstance(value, SearchSpace):
        return value
    if not isinstance(value, Mapping):
        raise _fail_at(f"expected a mapping of parameter name to distribution, got {_show(value)}")
    if not value:
        raise _fail_at("no parameters: add at least one")
    try:
        space = parse_space(value)
        if info.data.get("method") == "grid":
            grid_points(space)
    except SpaceError as exc:
        raise _fail(Problem(tuple(exc.path), exc.message)) from None
    return space


def _validate_pruner(value: object, info: ValidationInfo) -> PrunerSpec | None:
    if value is None or isinstance(value, PrunerSpec):
        return value
    spec = _validate_nested(_EarlyTerminate, value)
    if spec.type == "none":
        return None
    if _n_metrics(info) > 1:
        raise _fail_at("early termination needs a single metric (metric lists several)", "type")
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
        raise _fail_at(f"expected a mapping of tag name to value, got {_show(value)}")
    tags: dict[str, str] = {}
    problems: list[Problem] = []
    for key, item in value.items():
        if isinstance(item, bool):
            tags[str(key)] = "true" if item else "false"
        elif isinstance(item, str | int | float):
            tags[str(key)] = str(item)
        else:
            problems.append(Problem((str(key),), f"expected a string, got {_show(item)}"))
    if problems:
        raise _fail(*problems)
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
        validation_alias="parameters"
    )
    parameters_raw: dict[str, Any] = Field(default_factory=dict)
    budget: Budget = Field(default_factory=Budget)
    parallel: Parallel = Field(default_factory=Parallel)
    early_terminate: Annotated[PrunerSpec | None, PlainValidator(_validate_pruner)] = None
    select: Select = Field(default_factory=Select)
    retrain: Retrain = Field(default_factory=lambda: Retrain(enabled=False))
    autolog: Autolog = Field(default_factory=Autolog)
    tags: Annotated[dict[str, str], PlainValidator(_validate_tags)] = Field(default_factory=dict)
    seed: Annotated[StrictInt, Field(ge=0, lt=2**32)] | None = None
    source_path: Path | None = None
    source_text: str = ""

    @field_validator("budget")
    @classmethod
    def _budget(cls, value: Budget, info: ValidationInfo) -> Budget:
        if value.target is not None and _n_metrics(info) > 1:
            raise _fail_at("target needs a single metric (metric lists several)", "target")
        return value

    @property
    def primary_metric(self) -> Goal:
        """The first (for single-objective sweeps, the only) metric."""
        return self.metrics[0]

    @property
    def multi_objective(self) -> bool:
        """Whether the sweep optimises several metrics."""
        return len(self.metrics) > 1


_INTERNAL_FIELDS = frozenset({"parameters_raw", "source_path", "source_text"})
TOP_LEVEL_KEYS: tuple[str, ...] = tuple(
    str(f.validation_alias or name)
    for name, f in SweepConfig.model_fields.items()
    if name not in _INTERNAL_FIELDS
)

# ----------------------------------------------------------------------------- YAML and lines


def _line_at(root: yaml.Node | None, path: Loc) -> tuple[int, int]:
    """1-based line of the node at ``path`` (a mapping entry's key line) and how many parts
    of ``path`` exist: for a path that does not exist, the deepest existing node's line."""
    if root is None:
        return 1, 0
    node, line = root, root.start_mark.line + 1
    for depth, part in enumerate(path):
        if isinstance(node, yaml.MappingNode):
            for key, value in reversed(node.value):  # the last duplicate wins, as in yaml
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    node, line = value, key.start_mark.line + 1
                    break
            else:
                return line, depth
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                return line, depth
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line, depth
    return line, len(path)


def _duplicate_keys(node: yaml.Node | None, path: Loc = ()) -> list[Problem]:
    """Keys written twice in one mapping (yaml silently keeps the last)."""
    problems: list[Problem] = []
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else None
            if name is not None and name in first:
                problems.append(
                    Problem(
                        (*path, name),
                        f"duplicate key (first on line {first[name]}; this one wins)",
                        line=key.start_mark.line + 1,
                    )
                )
            elif name is not None:
                first[name] = key.start_mark.line + 1
            problems += _duplicate_keys(value, (*path, name if name is not None else "?"))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            problems += _duplicate_keys(item, (*path, i))
    return problems


def _load_yaml(text: str, source: str) -> tuple[Any, yaml.Node | None]:
    """The data and node tree of one YAML document; a syntax error as SweepConfigError."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        what = exc.problem or exc.context or "invalid YAML"
        column = f" (column {mark.column + 1})" if mark is not None else ""
        raise SweepConfigError(
            source, [Problem((), f"invalid YAML: {what}{column}", line=line)]
        ) from None
    except yaml.YAMLError as exc:
        raise SweepConfigError(source, [Problem((), f"invalid YAML: {exc}", line=1)]) from None
    finally:
        loader.dispose()
    return data, node


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
                path[:i], f"is {_show(target)}, not a mapping: cannot set {key}", override=override
            )
        target = target[index]
    last = path[-1]
    if isinstance(target, list) and str(last).isdigit() and int(last) < len(target):
        target[int(last)] = value
    elif isinstance(target, dict):
        target[last] = value
    else:
        return path, Problem(
            path[:-1], f"is {_show(target)}, not a mapping: cannot set {key}", override=override
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
) -> SweepConfig:
    """Validate sweep YAML ``text``; ``source`` names it in errors, relative objective paths
    resolve against ``base_dir`` (default: the current directory)."""
    return _parse(text, source, None, base_dir, overrides)


def _parse(
    text: str,
    source: str,
    source_path: Path | None,
    base_dir: Path | None,
    overrides: Sequence[str],
) -> SweepConfig:
    data, root = _load_yaml(text, source)
    if data is None:
        data = {} if overrides else None
    if not isinstance(data, dict):
        what = "empty" if data is None else f"{_show(data)}, not a mapping"
        raise SweepConfigError(
            source,
            [
                Problem(
                    (),
                    f"the sweep file is {what}; it needs at least objective, metric and parameters",
                    line=_line_at(root, ())[0],
                )
            ],
        )
    problems = _duplicate_keys(root)
    override_paths: list[tuple[Loc, str]] = []
    if isinstance(overrides, str):
        overrides = [overrides]
    for override in overrides:
        path, problem = _apply_override(data, override)
        if problem is not None:
            problems.append(problem)
        elif path:
            override_paths.append((path, override))

    prepared: dict[str, Any] = {}
    for key, value in data.items():
        if key in TOP_LEVEL_KEYS:
            prepared[key] = value
        else:
            problems.append(_unknown_key(key, TOP_LEVEL_KEYS))
    if isinstance(prepared.get("parameters"), Mapping):
        prepared["parameters_raw"] = copy.deepcopy(dict(prepared["parameters"]))
    if "name" not in prepared:
        prepared["name"] = "sweep" if source.startswith("<") else Path(source).stem
    if "experiment" not in prepared or prepared["experiment"] is None:
        name = prepared["name"]
        prepared["experiment"] = name if isinstance(name, str) else "sweep"
    prepared["source_path"] = source_path
    prepared["source_text"] = text
    try:
        context = {"base_dir": base_dir, "given": frozenset(prepared)}
        config = SweepConfig.model_validate(prepared, context=context)
    except ValidationError as exc:
        problems += _problems_of(exc, SweepConfig)
    else:
        if not problems:
            return config
    raise SweepConfigError(source, _place(problems, root, override_paths, overrides))


def _place(
    problems: list[Problem],
    root: yaml.Node | None,
    overrides: list[tuple[Loc, str]],
    order: Sequence[str],
) -> list[Problem]:
    """Give each problem its line (or override), drop redundant ones, most useful first."""
    explained = {(p.path[:-1], p.suggests) for p in problems if p.suggests}
    placed: list[Problem] = []
    for p in problems:
        if p.missing and (p.path[:-1], p.path[-1]) in explained:
            continue  # "unknown key 'objectve'; did you mean 'objective'?" says it already
        if p.override is None and p.line is None:
            line, depth = _line_at(root, p.path)
            via = _override_of(p.path, depth, overrides)
            p = Problem(p.path, p.message, line=line, override=via)
        placed.append(p)
    position = {text: i for i, text in enumerate(order)}
    return sorted(
        placed,
        key=lambda p: (
            (0, position.get(p.override, 0)) if p.override is not None else (1, p.line or 0)
        ),
    )


def _override_of(path: Loc, depth: int, overrides: list[tuple[Loc, str]]) -> str | None:
    """The last override that set the value at ``path``, or created its first missing part.

    ``depth`` is how many parts of ``path`` exist in the YAML file.
    """
    parts = tuple(str(p) for p in path)
    for opath, text in reversed(overrides):
        if parts[: len(opath)] == opath:
            return text
        if depth < len(parts) and opath[: depth + 1] == parts[: depth + 1]:
            return text
    return None
