"""Problems in a sweep file and where they are: YAML lines, ``--set`` overrides, messages.

A :class:`Problem` has a path into the sweep file; :func:`place` gives it the line of the
YAML node at that path (or the ``--set`` override that wrote it). Validators raise problems
inside pydantic with :func:`fail`; :func:`problems_of` turns a pydantic ValidationError back
into problems, with short messages for pydantic's own errors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError

from tunetrack.errors import ConfigError
from tunetrack.sweep._messages import did_you_mean, dotted, show_yaml

Loc = tuple[str | int, ...]
_ERROR_TYPE = "tunetrack_config"
# SweepConfig fields filled in by the loader, not written by the user
INTERNAL_FIELDS = frozenset({"parameters_raw", "source_path", "source_text"})

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
        """``FILE:LINE: PATH: WHAT`` (or ``--set K=V: PATH: WHAT``, or without a line
        ``SOURCE: PATH: WHAT``)."""
        if self.override is not None:
            where = f"--set {self.override}"
        else:
            where = source if self.line is None else f"{source}:{self.line}"
        path = dotted(self.path)
        return f"{where}: {path}: {self.message}" if path else f"{where}: {self.message}"

    def under(self, prefix: Loc) -> Problem:
        """The same problem at ``prefix + path`` (its line is looked up again)."""
        return Problem(
            (*prefix, *self.path), self.message, missing=self.missing, suggests=self.suggests
        )


class SweepConfigError(ConfigError):
    """A sweep file is invalid; ``problems`` lists each problem, one message line each."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        super().__init__("\n".join(p.format(source) for p in problems))
        self.source = source
        self.problems = tuple(problems)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.source, self.problems))


def fail(*problems: Problem) -> PydanticCustomError:
    """A pydantic error carrying problems at paths relative to the validated value."""
    return PydanticCustomError(
        _ERROR_TYPE, "{summary}", {"summary": problems[0].message, "problems": problems}
    )


def fail_at(message: str, *path: str | int) -> PydanticCustomError:
    return fail(Problem(tuple(path), message))


def unknown_key(key: object, allowed: Sequence[str], path: Loc = ()) -> Problem:
    """'unknown key' with the closest allowed key, if any, and the allowed ones."""
    close, hint = did_you_mean(str(key), allowed)
    return Problem(
        (*path, str(key)), f"unknown key{hint} (allowed: {', '.join(allowed)})", suggests=close
    )


def one_of(value: object, choices: Sequence[str], what: str) -> str:
    """``value`` if it is one of ``choices``, else a pydantic error naming the valid ones."""
    if isinstance(value, str) and value in choices:
        return value
    _, hint = did_you_mean(value, choices) if isinstance(value, str) else (None, "")
    raise fail_at(f"unknown {what} {show_yaml(value)}{hint} (valid: {', '.join(choices)})")


_MISSING_HINTS: dict[Loc, str] = {
    ("objective",): " (e.g. objective: objectives/train.py:train or package.module:train)",
    ("metric",): " (e.g. metric: {name: accuracy, goal: maximize})",
    ("goal",): " (minimize or maximize)",
}


def _describe(err: Mapping[str, Any]) -> str:
    """A short message for one built-in pydantic error."""
    kind, value, ctx = err["type"], err.get("input"), err.get("ctx") or {}
    got = f", got {show_yaml(value)}"
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


def problems_of(exc: ValidationError, model: type[BaseModel]) -> list[Problem]:
    """Turn a ValidationError of ``model`` into problems (paths relative to its input)."""
    problems: list[Problem] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        if err["type"] == _ERROR_TYPE:
            problems += [p.under(loc) for p in err["ctx"]["problems"]]
        elif err["type"] == "extra_forbidden":
            problems.append(unknown_key(loc[-1], _keys_at(model, loc[:-1]), loc[:-1]))
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
    return user_keys(model)


def user_keys(model: type[BaseModel]) -> list[str]:
    """The keys a user may write in the mapping of ``model`` (its fields, by alias)."""
    return [
        str(f.validation_alias or name)
        for name, f in model.model_fields.items()
        if name not in INTERNAL_FIELDS
    ]


def validate_nested(model: type[BaseModel], value: object, *also: Problem) -> Any:
    """Validate ``value`` as ``model``, raising all its problems and ``also`` (problems that
    checks outside the model found in the mapping) as one pydantic error."""
    if not isinstance(value, Mapping):
        raise fail_at("expected a mapping" + f", got {show_yaml(value)}")
    try:
        result = model.model_validate(value)
    except ValidationError as exc:
        raise fail(*problems_of(exc, model), *also) from None
    if also:
        raise fail(*also)
    return result


# ----------------------------------------------------------------------------- YAML and lines


def line_at(root: yaml.Node | None, path: Loc) -> tuple[int, int]:
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


def duplicate_keys(node: yaml.Node | None, path: Loc = ()) -> list[Problem]:
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
            problems += duplicate_keys(value, (*path, name if name is not None else "?"))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            problems += duplicate_keys(item, (*path, i))
    return problems


def load_yaml(text: str, source: str) -> tuple[Any, yaml.Node | None]:
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


def place(
    problems: list[Problem],
    root: yaml.Node | None,
    overrides: list[tuple[Loc, str]],
    order: Sequence[str],
    *,
    lines: bool = True,
) -> list[Problem]:
    """Give each problem its line (or override), drop redundant ones, most useful first;
    with ``lines`` false (keys given in Python, not a file), problems keep no line."""
    explained = {(p.path[:-1], p.suggests) for p in problems if p.suggests}
    placed: list[Problem] = []
    for p in problems:
        if p.missing and (p.path[:-1], p.path[-1]) in explained:
            continue  # "unknown key 'objectve'; did you mean 'objective'?" says it already
        if p.override is None and p.line is None and lines:
            line, depth = line_at(root, p.path)
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
