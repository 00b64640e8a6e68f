"""Input limits shared by the store (the authority) and the client (early, cheap checks)."""

from __future__ import annotations

import math
import numbers
import re

from tunetrack.errors import InvalidInput

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_EXPERIMENT_NAME_LENGTH = 256
MAX_RUN_NAME_LENGTH = 250
MAX_METRICS_PER_BATCH = 10_000
MAX_PARAMS_PER_BATCH = 1_000
MAX_TAGS_PER_BATCH = 1_000
MAX_SEARCH_RESULTS = 50_000
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

_KEY_RE = re.compile(r"[\w\-./ :]+")  # letters, digits, _, -, ., /, space, colon
_ID_RE = re.compile(r"[0-9a-zA-Z_-]{1,64}")
_valid_keys: set[str] = set()  # keys already checked: log_metric in a loop checks once


def validate_key(key: object, what: str) -> str:
    """Return ``key`` if it is a usable metric/param/tag key, else raise InvalidInput."""
    if type(key) is str and key in _valid_keys:
        return key
    if not isinstance(key, str) or not key:
        raise InvalidInput(f"{what} key must be a non-empty string, got {key!r}")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(
            f"{what} key {key[:40]!r}... is {len(key)} characters; at most {MAX_KEY_LENGTH}"
        )
    if not _KEY_RE.fullmatch(key) or key.startswith("/") or ".." in key.split("/"):
        raise InvalidInput(
            f"{what} key {key!r} has invalid characters: use letters, digits, "
            "'_', '-', '.', '/', ':' and spaces"
        )
    if len(_valid_keys) < 100_000:
        _valid_keys.add(key)
    return key


def validate_value(value: object, what: str, key: str, limit: int) -> str:
    """Stringify a param/tag value and check its length and characters."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        raise InvalidInput(
            f"{what} {key!r} value is {len(text)} characters long; at most {limit} are allowed"
        )
    return validate_text(text, f"{what} {key!r} value")


def validate_text(text: str, what: str) -> str:
    """Refuse a NUL character, which PostgreSQL cannot store (SQLite could: the backends
    must agree), and an unpaired surrogate (``"\\ud800"``), which is not Unicode text."""
    if "\x00" in text:
        raise InvalidInput(f"{what} contains a NUL character (\\x00): {text[:80]!r}")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidInput(
                f"{what} is not valid Unicode text: an unpaired surrogate "
                f"({text[exc.start]!r}) at position {exc.start}: {text[:80]!r}"
            ) from None
    return text


def to_metric_value(value: object, key: str) -> float:
    """Convert a metric value (float, int, bool, numpy scalar or 0-d array) to float."""
    if type(value) is float:
        return value
    if isinstance(value, numbers.Real):
        try:
            return float(value)
        except OverflowError:
            raise InvalidInput(
                f"metric {key!r} value {value!r:.80} is too large for a float"
            ) from None
    dtype = getattr(value, "dtype", None)
    if getattr(value, "shape", None) == () and getattr(dtype, "kind", "") in ("b", "i", "u", "f"):
        return float(value)  # type: ignore[arg-type]
    raise InvalidInput(
        f"metric {key!r} value must be a real number, got {type(value).__name__} {value!r:.80}"
    )


def to_step(step: object, key: str) -> int:
    """Check a metric step (a 64-bit integer, numpy integers included)."""
    if type(step) is int and INT64_MIN <= step <= INT64_MAX:
        return step
    if isinstance(step, numbers.Integral):
        return int64(int(step), f"metric {key!r} step")
    raise InvalidInput(f"metric {key!r} step must be an integer, got {step!r}")


def to_timestamp(timestamp: object, key: str) -> int:
    """Check a metric timestamp (epoch milliseconds, a 64-bit integer); a float such as
    ``time.time() * 1000`` is truncated to whole milliseconds, as ``int()`` does."""
    if type(timestamp) is int and INT64_MIN <= timestamp <= INT64_MAX:
        return timestamp
    what = f"metric {key!r} timestamp"
    if isinstance(timestamp, numbers.Integral):
        return int64(int(timestamp), what)
    if isinstance(timestamp, numbers.Real) and math.isfinite(timestamp):
        return int64(int(float(timestamp)), what)
    raise InvalidInput(f"{what} must be a number of milliseconds, got {timestamp!r}")


def int64(number: int, what: str) -> int:
    """Refuse an integer that no database column (64-bit) can hold."""
    if not INT64_MIN <= number <= INT64_MAX:
        raise InvalidInput(f"{what} {number} is outside the 64-bit integer range")
    return number


def validate_id(value: object, what: str) -> str:
    """Check a caller's id of a writer or a request: 1-64 letters, digits, '-' or '_'."""
    if not isinstance(value, str) or not _ID_RE.fullmatch(value):
        raise InvalidInput(f"{what} must be 1-64 letters, digits, '-' or '_': {value!r}")
    return value


def validate_name(name: object, what: str, limit: int) -> str:
    """Check an experiment or run name."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"{what} name must be a non-empty string, got {name!r}")
    if len(name) > limit:
        raise InvalidInput(f"{what} name is {len(name)} characters long; at most {limit}")
    return validate_text(name, f"{what} name")


def validate_max_results(max_results: int) -> int:
    """Check a page size for searches."""
    if not isinstance(max_results, int) or not 0 < max_results <= MAX_SEARCH_RESULTS:
        raise InvalidInput(
            f"max_results must be an integer from 1 to {MAX_SEARCH_RESULTS}, got {max_results!r}"
        )
    return max_results


def version_number(version: object) -> int:
    """A model version number (an int or its text), at least 1."""
    try:
        number = int(str(version))
    except ValueError:
        raise InvalidInput(f"model version must be a positive integer, got {version!r}") from None
    if number < 1:
        raise InvalidInput(f"model version must be a positive integer, got {version!r}")
    return number
