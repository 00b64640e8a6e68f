"""JSON errors for every failure: ``{"error_code": ..., "message": ...}``.

tunetrack errors keep their code and HTTP status (so RestStore raises the same type
again); a request that does not match the API, or holds text that is not Unicode, is a
400; a route or method that does not exist a 404 or 405; anything unexpected a 500 whose
body says nothing about the server's internals (uvicorn logs the traceback).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from tunetrack.errors import Conflict, InvalidInput, NotFound, TunetrackError

_MAX_SHOWN = 5  # validation problems listed in one message


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The JSON error response every handler sends."""
    return JSONResponse({"error_code": code, "message": message}, status, headers=headers)


def _code_for(status: int) -> str:
    if status == 404:
        return NotFound.code
    if status == 409:
        return Conflict.code
    return InvalidInput.code if status < 500 else TunetrackError.code


def validation_message(exc: RequestValidationError) -> str:
    problems = []
    for error in exc.errors()[:_MAX_SHOWN]:
        where = ".".join(str(part) for part in error.get("loc", ()))
        problems.append(f"{where}: {error.get('msg', 'invalid')}")
    more = len(exc.errors()) - _MAX_SHOWN
    return "invalid request: " + "; ".join(problems) + (f"; and {more} more" if more > 0 else "")


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error of ``app`` as JSON."""

    @app.exception_handler(TunetrackError)
    async def _tunetrack_error(_: Request, exc: TunetrackError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.http_status)

    @app.exception_handler(HTTPException)
    async def _http_error(_: Request, exc: HTTPException) -> JSONResponse:
        headers = dict(exc.headers) if exc.headers else None
        return error_response(exc.status_code, _code_for(exc.status_code), str(exc.detail), headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(400, InvalidInput.code, validation_message(exc))

    @app.exception_handler(UnicodeEncodeError)
    async def _not_unicode(_: Request, exc: UnicodeEncodeError) -> JSONResponse:
        # JSON can carry an unpaired surrogate ("\ud800"); no database or file name can
        return error_response(
            400,
            InvalidInput.code,
            "the request holds text that is not valid Unicode (an unpaired surrogate such as "
            "\\ud800)",
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        # Starlette re-raises after this response, so the server logs the traceback.
        return error_response(
            500, TunetrackError.code, "internal server error (the server log has the details)"
        )
