"""Serve one model over HTTP: ``GET /health`` and ``POST /invocations``.

The model is loaded once, when the app is created, through the same resolver and checks
as :func:`tunetrack.models.load_model` (so every file's sha256 is checked). A
``models:/<name>@<alias>``, ``models:/<name>/<stage>`` or ``models:/<name>/latest`` URI is
pinned to the version it points at then; ``/health`` reports which one. Requests carry
MLflow's JSON shapes::

    {"dataframe_records": [{"a": 1, "b": 2}, ...]}
    {"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2], ...]}}
    {"instances": [[1, 2], ...]}            (or a list of records)

and are checked against the model's signature before predicting: missing or extra
columns are a 400 naming them. Every error is ``{"error_code": ..., "message": ...}``.

Limits: a body larger than ``max_body_size`` is a 413 sent before it is read (by its
Content-Length, or once a chunked body passes the limit), a body of another content type a
415, and JSON nested too deeply a 400. Parsing and predicting run in worker threads, so
``/health`` answers while a large request is being worked on.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException

from tunetrack._body_limit import BodyLimit
from tunetrack.errors import InvalidInput, TunetrackError

if TYPE_CHECKING:
    import pandas as pd

    from tunetrack.models.manifest import Manifest
    from tunetrack.models.signature import ModelSignature

DEFAULT_MAX_BODY_SIZE = 100 << 20  # bytes
INPUT_KEYS = ("dataframe_records", "dataframe_split", "instances")
_SHAPES = (
    '{"dataframe_records": [{...}, ...]}, '
    '{"dataframe_split": {"columns": [...], "data": [[...], ...]}} or '
    '{"instances": [[...], ...]}'
)


@dataclass(frozen=True)
class LoadedModel:
    """A model loaded for serving: the object, its manifest and where it came from."""

    model: Any
    manifest: Manifest
    model_uri: str
    resolved_uri: str
    version: int | None = None

    @property
    def signature(self) -> ModelSignature | None:
        """The input signature saved with the model, if any."""
        return self.manifest.signature


def load_for_serving(model_uri: str) -> LoadedModel:
    """Load ``model_uri``, pinning an alias, stage or ``latest`` to the version it names now."""
    from tunetrack.models.api import load_model_details

    model, manifest, found = load_model_details(model_uri)
    if found is None:
        return LoadedModel(model, manifest, model_uri, model_uri)
    resolved = f"models:/{found.name}/{found.version}"
    return LoadedModel(model, manifest, model_uri, resolved, int(found.version))


# -- request parsing -----------------------------------------------------------------------
def check_content_type(content_type: str | None) -> None:
    """Refuse (415) a body declared as anything but JSON; an undeclared one is taken as JSON."""
    media_type = (content_type or "").partition(";")[0].strip().lower()
    if media_type and media_type != "application/json" and not media_type.endswith("+json"):
        raise HTTPException(
            415, f"unsupported content type {content_type!r}: send application/json"
        )


def _float(text: str) -> float:
    # A Python-level hook: the thread parsing a large body lets go of the GIL between
    # numbers, so the event loop (and /health) is not frozen for the whole parse.
    return float(text)


def parse_body(body: bytes | bytearray) -> Any:
    """The JSON document of a request body; InvalidInput when it is not JSON."""
    if not body.strip():
        raise InvalidInput(f"the request body is empty: send JSON such as {_SHAPES}")
    try:
        payload = json.loads(body, parse_float=_float)
    except RecursionError:
        raise InvalidInput("the request body is JSON nested too deeply to read") from None
    except ValueError as exc:  # not JSON, not UTF-8/16/32, or an integer too long to convert
        raise InvalidInput(f"the request body is not valid JSON ({exc}): send {_SHAPES}") from None
    if _SURROGATE_ESCAPE.search(body) or json.detect_encoding(body) != "utf-8":
        _refuse_lone_surrogates(payload)
    return payload


# JSON may spell an unpaired UTF-16 surrogate ("\ud800"), which no model or frame can hold;
# only a body that spells some surrogate escape (or is not UTF-8) is checked in full.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _refuse_lone_surrogates(payload: Any) -> None:
    try:
        json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(
            "the request holds text that is not valid Unicode (an unpaired surrogate such as "
            "\\ud800)"
        ) from None


def to_frame(payload: Any, signature: ModelSignature | None) -> pd.DataFrame:
    """The request document as a DataFrame (positional rows get the signature's names)."""
    if not isinstance(payload, Mapping):
        raise InvalidInput(f"the request must be a JSON object such as {_SHAPES}")
    keys = [k for k in payload if k in INPUT_KEYS]
    unknown = [k for k in payload if k not in INPUT_KEYS]
    if unknown:
        raise InvalidInput(
            f"unknown key(s) {', '.join(map(repr, unknown))} in the request: use exactly one of "
            f"{', '.join(INPUT_KEYS)}"
        )
    if len(keys) != 1:
        raise InvalidInput(f"the request needs exactly one of {', '.join(INPUT_KEYS)}")
    key = keys[0]
    value = payload[key]
    if key == "dataframe_split":
        return _from_split(value, signature)
    if not isinstance(value, list) or not value:
        raise InvalidInput(f"{key} must be a non-empty list of rows")
    if all(isinstance(row, Mapping) for row in value):
        return _from_records(value, key)
    if key == "dataframe_records":
        raise InvalidInput("dataframe_records must be a list of JSON objects (column -> value)")
    return _from_rows(value, None, signature, key)


def _from_records(rows: list[Mapping[str, Any]], key: str) -> pd.DataFrame:
    import pandas as pd

    columns = list(dict.fromkeys(c for row in rows for c in row))
    for index, row in enumerate(rows):
        lacking = [c for c in columns if c not in row]
        if lacking:
            raise InvalidInput(
                f"{key}[{index}] is missing columns: {', '.join(map(repr, lacking))} "
                "(every record needs the same columns)"
            )
    return pd.DataFrame(list(rows), columns=columns)


def _from_split(value: Any, signature: ModelSignature | None) -> pd.DataFrame:
    if not isinstance(value, Mapping):
        raise InvalidInput('dataframe_split must be an object {"columns": [...], "data": [...]}')
    unknown = [k for k in value if k not in ("columns", "data", "index")]
    if unknown:
        raise InvalidInput(
            f"unknown key(s) {', '.join(map(repr, unknown))} in dataframe_split: "
            "use columns, data (and optionally index)"
        )
    columns = value.get("columns")
    if columns is not None and (
        not isinstance(columns, list) or not all(isinstance(c, str) for c in columns)
    ):
        raise InvalidInput("dataframe_split.columns must be a list of column names")
    data = value.get("data")
    if not isinstance(data, list) or not data:
        raise InvalidInput("dataframe_split.data must be a non-empty list of rows")
    return _from_rows(data, columns, signature, "dataframe_split.data")


def _from_rows(
    rows: list[Any], columns: list[str] | None, signature: ModelSignature | None, where: str
) -> pd.DataFrame:
    import pandas as pd

    if not all(isinstance(row, list) for row in rows):
        raise InvalidInput(f"{where} must be a list of rows, each a list of values")
    widths = {len(row) for row in rows}
    if len(widths) != 1:
        raise InvalidInput(f"{where}: rows have different lengths {sorted(widths)}")
    (width,) = widths
    if columns is not None:
        if len(set(columns)) != len(columns):
            raise InvalidInput(f"duplicate column names in {columns!r}")
        if width != len(columns):
            raise InvalidInput(
                f"{where}: rows have {width} values but there are {len(columns)} columns"
            )
        return pd.DataFrame(rows, columns=columns)
    if signature is not None and signature.named:
        names = [c.name for c in signature.inputs]
        if width != len(names):
            raise InvalidInput(
                f"input does not match the model signature: rows have {width} values but the "
                f"model takes {len(names)} columns ({', '.join(map(repr, names))})"
            )
        return pd.DataFrame(rows, columns=names)
    return pd.DataFrame(rows)


# -- predicting ----------------------------------------------------------------------------
def predict(loaded: LoadedModel, payload: Any) -> dict[str, Any]:
    """Check ``payload`` against the signature and return ``{"predictions": [...]}``."""
    frame = to_frame(payload, loaded.signature)
    if loaded.signature is not None:
        frame = loaded.signature.check(frame)
    try:
        output = loaded.model.predict(frame)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"the model could not predict on this input: {exc}") from None
    return {"predictions": _jsonable(output)}


def _jsonable(output: Any) -> Any:
    """Predictions as plain JSON values (NaN and ±inf become null)."""
    import numpy as np
    import pandas as pd

    if isinstance(output, pd.DataFrame):
        values: Any = output.to_dict(orient="records")
    elif isinstance(output, pd.Series | np.ndarray):
        values = output.tolist()
    else:
        values = np.asarray(output).tolist()
    return _clean(values)


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if hasattr(value, "item"):  # numpy scalars left inside records
        return _clean(value.item())
    return value


def _answer(loaded: LoadedModel, body: bytes) -> dict[str, Any]:
    return predict(loaded, parse_body(body))


# -- the app -------------------------------------------------------------------------------
def create_app(model_uri: str, max_body_size: int = DEFAULT_MAX_BODY_SIZE) -> FastAPI:
    """A FastAPI app serving the model at ``model_uri`` (loaded now, once), refusing request
    bodies over ``max_body_size`` bytes."""
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.concurrency import run_in_threadpool

    loaded = load_for_serving(model_uri)
    app = FastAPI(title=f"tunetrack model {model_uri}", docs_url=None, redoc_url=None)
    app.state.loaded = loaded
    limit = (max_body_size, "tunetrack models serve --max-body-size")
    app.add_middleware(BodyLimit, limit_for=lambda _scope: limit)

    def error(
        status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> JSONResponse:
        body = {"error_code": code, "message": message}
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(TunetrackError)
    async def _tunetrack_error(_: Request, exc: TunetrackError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.http_status)

    @app.exception_handler(HTTPException)
    async def _http_error(_: Request, exc: HTTPException) -> JSONResponse:
        code = "RESOURCE_NOT_FOUND" if exc.status_code == 404 else InvalidInput.code
        return error(exc.status_code, code, str(exc.detail), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error(400, InvalidInput.code, str(exc))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        return error(500, TunetrackError.code, f"prediction failed: {type(exc).__name__}: {exc}")

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "model_uri": loaded.model_uri,
            "resolved_uri": loaded.resolved_uri,
            "model_version": loaded.version,
            "flavor": loaded.manifest.flavor,
            "signature": None if loaded.signature is None else loaded.signature.to_dict(),
        }

    @app.post("/invocations")
    async def invocations(request: Request) -> dict[str, Any]:
        check_content_type(request.headers.get("content-type"))
        body = await request.body()  # BodyLimit refuses (413) one over max_body_size
        return await run_in_threadpool(_answer, loaded, body)

    return app


def run(app: FastAPI | str, host: str = "127.0.0.1", port: int = 5001, **options: Any) -> None:
    """Run ``app`` with uvicorn until interrupted (SIGINT/SIGTERM shut it down cleanly).

    ``app`` may be an import string, with uvicorn ``options`` such as ``workers``.
    Every log line, the per-request access log included, goes to stderr: stdout carries only
    what the command prints (one JSON document under ``--json``).
    """
    import copy

    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    log_config = copy.deepcopy(LOGGING_CONFIG)
    for handler in log_config["handlers"].values():
        handler["stream"] = "ext://sys.stderr"
    uvicorn.run(app, host=host, port=port, log_level="info", log_config=log_config, **options)


def serve(
    model_uri: str,
    host: str = "127.0.0.1",
    port: int = 5001,
    max_body_size: int = DEFAULT_MAX_BODY_SIZE,
) -> None:
    """Load ``model_uri`` and serve it until interrupted."""
    run(create_app(model_uri, max_body_size), host, port)
