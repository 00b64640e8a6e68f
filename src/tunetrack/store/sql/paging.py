"""Opaque page tokens for searches (an offset, base64-encoded JSON)."""

from __future__ import annotations

import base64
import json

from tunetrack.errors import InvalidInput


def encode_token(offset: int) -> str:
    """The token that resumes a search at ``offset``."""
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_token(token: str | None) -> int:
    """The offset a token stands for (0 for no token)."""
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"invalid page_token {token!r}") from exc
    if not isinstance(offset, int) or offset < 0:
        raise InvalidInput(f"invalid page_token {token!r}")
    return offset
