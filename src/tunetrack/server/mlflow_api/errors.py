"""MLflow's error shapes: ``{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": ...}``.

Every route of the MLflow-compatible API is a :class:`MlflowRoute`, which answers tunetrack's
errors with MLflow's code for them and the HTTP status MLflow's server sends with that code,
so the ``mlflow`` client raises ``MlflowException`` with the code its callers check (e.g.
``mlflow.register_model`` goes on when creating the model says ``RESOURCE_ALREADY_EXISTS``).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tunetrack.errors import (
    ConfigError,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    TunetrackError,
    Unauthenticated,
)
from tunetrack.server.errors import error_response, validation_message

RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
RESOURCE_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
ENDPOINT_NOT_FOUND = "ENDPOINT_NOT_FOUND"
INTERNAL_ERROR = "INTERNAL_ERROR"

#: tunetrack error type -> (MLflow error code, the HTTP status MLflow's server sends with it).
#: Conflict is a duplicate name or id here; a changed param (also a Conflict in tunetrack) is
#: INVALID_PARAMETER_VALUE in MLflow, which the logging routes raise themselves.
_CODES: dict[type[TunetrackError], tuple[str, int]] = {
    NotFound: (RESOURCE_DOES_NOT_EXIST, 404),
    Conflict: (RESOURCE_ALREADY_EXISTS, 400),
    InvalidInput: (INVALID_PARAMETER_VALUE, 400),
    ConfigError: (INVALID_PARAMETER_VALUE, 400),
    Unauthenticated: (Unauthenticated.code, 401),
    PermissionDenied: (PermissionDenied.code, 403),
}


def mlflow_error(exc: TunetrackError) -> JSONResponse:
    """The response MLflow's server would send for ``exc``."""
    for kind in type(exc).__mro__:
        if kind in _CODES:
            code, status = _CODES[kind]
            return error_response(status, code, exc.message)
    return error_response(exc.http_status, INTERNAL_ERROR, exc.message)


def endpoint_not_found(path: str) -> JSONResponse:
    """The answer for an MLflow endpoint this server does not implement."""
    return error_response(404, ENDPOINT_NOT_FOUND, f"this server has no MLflow endpoint {path}")


class MlflowRoute(APIRoute):
    """A route answering errors in MLflow's shapes and leaving unset fields out of its JSON
    (as MLflow's protobuf JSON does)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        kwargs["response_model_exclude_none"] = True
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handle(request)
            except TunetrackError as exc:
                return mlflow_error(exc)
            except RequestValidationError as exc:
                return error_response(400, INVALID_PARAMETER_VALUE, validation_message(exc))

        return answer
