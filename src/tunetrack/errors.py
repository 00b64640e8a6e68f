"""The tunetrack error tree.

    TunetrackError            code INTERNAL_ERROR       HTTP 500
    ├── ConfigError           code INVALID_CONFIG       HTTP 400  (also a ValueError)
    ├── InvalidInput          code INVALID_PARAMETER    HTTP 400  (also a ValueError)
    ├── NotFound              code RESOURCE_NOT_FOUND   HTTP 404  (also a LookupError)
    ├── Conflict              code RESOURCE_CONFLICT    HTTP 409
    ├── Unauthenticated       code UNAUTHENTICATED      HTTP 401
    ├── PermissionDenied      code PERMISSION_DENIED    HTTP 403
    └── StoreError            code STORE_ERROR          HTTP 500

Every error carries a ``code`` that maps to an HTTP status, so a server can send it as
JSON (``to_dict``) and a client can raise the same exception type again
(``error_from_dict``).
"""

from __future__ import annotations


class TunetrackError(Exception):
    """Root of every error tunetrack raises on purpose."""

    code = "INTERNAL_ERROR"
    http_status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, str]:
        """The JSON body the server sends for this error."""
        return {"error_code": self.code, "message": self.message}


class ConfigError(TunetrackError, ValueError):
    """A configuration file or value is invalid."""

    code = "INVALID_CONFIG"
    http_status = 400


class InvalidInput(TunetrackError, ValueError):
    """An argument is invalid: a bad key, value, filter string or path."""

    code = "INVALID_PARAMETER"
    http_status = 400


class NotFound(TunetrackError, LookupError):
    """The experiment, run, metric or artifact asked for does not exist."""

    code = "RESOURCE_NOT_FOUND"
    http_status = 404


class Conflict(TunetrackError):
    """The request clashes with what is stored (duplicate name, changed param)."""

    code = "RESOURCE_CONFLICT"
    http_status = 409


class Unauthenticated(TunetrackError):
    """A server with authentication got no credentials or wrong ones."""

    code = "UNAUTHENTICATED"
    http_status = 401


class PermissionDenied(TunetrackError):
    """The authenticated user may not do this (role or experiment grant too low)."""

    code = "PERMISSION_DENIED"
    http_status = 403


class StoreError(TunetrackError):
    """The backing store failed (database unreachable, write failed after retries)."""

    code = "STORE_ERROR"
    http_status = 500


def error_from_dict(body: object, fallback: str) -> TunetrackError:
    """The exception a server's JSON error body describes (its type found by ``error_code``).

    An unknown code, or a body that is not such an error, gives a :class:`StoreError`
    whose message is ``fallback``.
    """
    types = {
        cls.code: cls
        for cls in (
            ConfigError,
            InvalidInput,
            NotFound,
            Conflict,
            Unauthenticated,
            PermissionDenied,
            StoreError,
        )
    }
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        error_type = types.get(str(body.get("error_code")), StoreError)
        return error_type(body["message"])
    return StoreError(fallback)
