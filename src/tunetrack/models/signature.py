"""Model input signatures: which columns a model takes, with which dtypes.

A signature is inferred from training data (:func:`infer_signature`) and stored in the
model's ``model.yaml``. :meth:`ModelSignature.check` validates data before predicting:
missing or extra columns are refused by name, dtypes are converted only when no value
changes (``int64`` → ``float64``, ``float64`` holding whole numbers → ``int64``...).
pandas and numpy are imported on first use.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tunetrack.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

#: At most this many rows of an input example are stored with a model.
MAX_EXAMPLE_ROWS = 5

_MISMATCH = "input does not match the model signature: "


@dataclass(frozen=True)
class ColumnSpec:
    """One input or output column: its name (None for positional data) and dtype name."""

    name: str | None
    dtype: str

    def to_dict(self) -> dict[str, Any]:
        """``{"name": ..., "dtype": ...}``."""
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnSpec:
        """The column described by :meth:`to_dict` output."""
        name = data.get("name")
        dtype = data.get("dtype")
        if not isinstance(dtype, str) or not (name is None or isinstance(name, str)):
            raise InvalidInput(f"invalid column spec {dict(data)!r}: needs name (str|null), dtype")
        return cls(name, dtype)


@dataclass(frozen=True)
class ModelSignature:
    """The columns a model takes (``inputs``) and, when known, returns (``outputs``).

    Columns are named (inferred from a DataFrame) or positional (``name=None``, inferred
    from a 2-D array: the count of columns is what is checked).
    """

    inputs: tuple[ColumnSpec, ...]
    outputs: tuple[ColumnSpec, ...] | None = None

    @property
    def named(self) -> bool:
        """True when the inputs are named columns."""
        return any(c.name is not None for c in self.inputs)

    def to_dict(self) -> dict[str, Any]:
        """A YAML/JSON-safe dict."""
        outputs = None if self.outputs is None else [c.to_dict() for c in self.outputs]
        return {"inputs": [c.to_dict() for c in self.inputs], "outputs": outputs}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelSignature:
        """The signature described by :meth:`to_dict` output."""
        if not isinstance(data, Mapping) or not isinstance(data.get("inputs"), list):
            raise InvalidInput(f"invalid signature {data!r}: needs a list of inputs")
        outputs = data.get("outputs")
        return cls(
            tuple(ColumnSpec.from_dict(c) for c in data["inputs"]),
            None if outputs is None else tuple(ColumnSpec.from_dict(c) for c in outputs),
        )

    def check(self, data: Any) -> pd.DataFrame:
        """``data`` as a DataFrame matching the inputs; InvalidInput names each problem.

        Accepts a DataFrame, a dict of columns, a list of row dicts, or (positional
        signatures) a 2-D array. Named columns are reordered to the signature's order.
        """
        import pandas as pd

        frame = _to_frame(data, self.named)
        problems: list[str] = []
        if self.named:
            names = [c.name for c in self.inputs]
            missing = [n for n in names if n not in frame.columns]
            extra = [str(n) for n in frame.columns if n not in names]
            if missing:
                problems.append(f"missing columns: {', '.join(map(repr, missing))}")
            if extra:
                problems.append(f"unexpected columns: {', '.join(map(repr, extra))}")
            if problems:
                raise InvalidInput(_MISMATCH + "; ".join(problems))
            frame = frame[names]
        elif frame.shape[1] != len(self.inputs):
            raise InvalidInput(
                f"{_MISMATCH}expected {len(self.inputs)} columns, got {frame.shape[1]}"
            )
        else:
            frame = frame.set_axis(pd.RangeIndex(frame.shape[1]), axis=1)
        converted: dict[Any, Any] = {}
        for position, spec in enumerate(self.inputs):
            label = spec.name if self.named else position
            shown = repr(spec.name) if self.named else f"#{position}"
            try:
                column = _convert(frame[label], spec.dtype)
            except _Unsafe as exc:
                problems.append(f"column {shown}: {exc}")
                continue
            if column is not frame[label]:
                converted[label] = column
        if problems:
            raise InvalidInput(_MISMATCH + "; ".join(problems))
        if converted:
            frame = frame.copy()
            for label, column in converted.items():
                frame[label] = column
        return frame


def infer_signature(model_input: Any, model_output: Any = None) -> ModelSignature:
    """The signature of ``model_input`` (and ``model_output`` when given).

    A DataFrame gives named columns with their dtypes; a 2-D array (or sparse matrix)
    gives positional columns; a Series or 1-D array (outputs) gives one column.
    """
    outputs = None if model_output is None else _columns(model_output, "output")
    return ModelSignature(_columns(model_input, "input"), outputs)


def _columns(data: Any, what: str) -> tuple[ColumnSpec, ...]:
    import numpy as np
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        named = all(isinstance(c, str) for c in data.columns)
        return tuple(
            ColumnSpec(str(col) if named else None, _dtype_name(data.iloc[:, i]))
            for i, col in enumerate(data.columns)
        )
    if isinstance(data, pd.Series):
        name = data.name if isinstance(data.name, str) else None
        return (ColumnSpec(name, _dtype_name(data)),)
    if isinstance(data, Mapping) or (
        isinstance(data, list) and data and all(isinstance(r, Mapping) for r in data)
    ):
        return _columns(_to_frame(data, True), what)
    if hasattr(data, "shape") and hasattr(data, "dtype") and len(data.shape) == 2:  # sparse
        return tuple(ColumnSpec(None, np.dtype(data.dtype).name) for _ in range(data.shape[1]))
    array = np.asarray(data)
    if array.ndim == 1:
        return (ColumnSpec(None, _dtype_name(pd.Series(array))),)
    if array.ndim == 2:
        frame = pd.DataFrame(array)
        return tuple(ColumnSpec(None, _dtype_name(frame.iloc[:, i])) for i in range(array.shape[1]))
    raise InvalidInput(f"cannot infer a signature from {what} of shape {array.shape}: not 1-D/2-D")


def _dtype_name(column: pd.Series) -> str:
    """A portable dtype name: numpy names, 'string', 'category', 'object' for mixed values."""
    import pandas as pd

    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if isinstance(dtype, pd.StringDtype):
        return "string"
    if dtype.kind == "O":
        values = column.dropna()
        if len(values) and all(isinstance(v, str) for v in values):
            return "string"
        if len(values) and all(isinstance(v, bool) for v in values):
            return "bool"
        return "object"
    return str(dtype)


def _to_frame(data: Any, named: bool) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame()
    if isinstance(data, Mapping):
        scalar = all(not isinstance(v, list | tuple) and np.ndim(v) == 0 for v in data.values())
        return pd.DataFrame([dict(data)] if scalar else dict(data))
    if isinstance(data, list) and data and all(isinstance(r, Mapping) for r in data):
        return pd.DataFrame(list(data))
    if named:
        raise InvalidInput(
            f"the model expects named columns: pass a DataFrame, a dict of columns or a list of "
            f"row dicts, not {type(data).__name__}"
        )
    array = np.asarray(data)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2:
        raise InvalidInput(f"the model expects 2-D input, got shape {array.shape}")
    return pd.DataFrame(array)


class _Unsafe(Exception):
    """A column cannot be converted to the expected dtype without changing values."""


def _convert(column: pd.Series, expected: str) -> pd.Series:
    """``column`` as ``expected`` when no value changes; the same object when it already is."""
    import numpy as np
    import pandas as pd

    actual = _dtype_name(column)
    if actual == expected:
        return column
    if expected == "string":
        if actual in ("string", "object") and all(isinstance(v, str) for v in column.dropna()):
            return column
        raise _Unsafe(f"expected strings, got {actual}")
    if expected == "category":
        if actual in ("string", "object", "category"):
            return column.astype("category")
        raise _Unsafe(f"expected a category, got {actual}")
    if expected == "object":
        return column
    try:
        target = np.dtype(expected)
    except TypeError:  # a pandas extension dtype such as Int64
        try:
            return column.astype(expected)
        except (TypeError, ValueError) as exc:
            raise _Unsafe(f"expected {expected}, got {actual}: {exc}") from None
    source = column.dtype
    if target.kind == "M":
        try:
            return pd.to_datetime(column).astype(target)
        except (TypeError, ValueError) as exc:
            raise _Unsafe(f"expected {expected}, got {actual}: {exc}") from None
    if not isinstance(source, np.dtype) or source.kind not in "biuf":
        if actual == "bool" and target.kind == "b":
            return column.astype(bool)
        raise _Unsafe(f"expected {expected}, got {actual}")
    if target.kind == "f":
        if np.can_cast(source, target, "safe") or source.kind in "biu":
            return column.astype(target)
        raise _Unsafe(f"expected {expected}, got {actual} (would lose precision)")
    if target.kind in "iu":
        values = column.to_numpy()
        if source.kind == "f" and not all(math.isfinite(x) and x == int(x) for x in values):
            raise _Unsafe(f"expected {expected}, got {actual} with fractional or missing values")
        info = np.iinfo(target)
        if len(values) and (values.min() < info.min or values.max() > info.max):
            raise _Unsafe(f"expected {expected}, got values outside its range")
        return column.astype(target)
    if target.kind == "b":
        if source.kind in "iu" and set(np.unique(column.to_numpy())) <= {0, 1}:
            return column.astype(bool)
        raise _Unsafe(f"expected bool, got {actual}")
    raise _Unsafe(f"expected {expected}, got {actual}")


def example_to_dict(example: Any) -> dict[str, Any]:
    """The first rows of an input example as JSON-safe ``{"columns"?: [...], "data": [...]}``."""
    import json

    import numpy as np
    import pandas as pd

    if isinstance(example, pd.DataFrame | Mapping) or (
        isinstance(example, list) and example and isinstance(example[0], Mapping)
    ):
        frame = _to_frame(example, True).head(MAX_EXAMPLE_ROWS)
        named = all(isinstance(c, str) for c in frame.columns)
    else:
        array = np.asarray(example)
        if array.ndim == 1:
            array = array.reshape(1, -1)
        frame, named = pd.DataFrame(array[:MAX_EXAMPLE_ROWS]), False
    payload = json.loads(frame.to_json(orient="split", index=False, date_format="iso"))
    return (
        {"columns": payload["columns"], "data": payload["data"]}
        if named
        else {"data": payload["data"]}
    )
