"""Opaque page tokens for searches: an offset plus the snapshot bound of the first page.

Runs sort newest first by default, so a run created between two page requests would shift
every later offset by one. The first page records the newest start time it could see
(``until``); later pages ignore runs that started after it, so each run of the original
result comes back exactly once.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from tunetrack.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class PageToken:
    """Where the next page starts, and the newest start time the search includes."""

    offset: int = 0
    until: int | None = None

    def encode(self) -> str:
        """The opaque string handed to the caller."""
        data = {"offset": self.offset, "until": self.until}
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()

    @classmethod
    def decode(cls, token: str | None) -> PageToken:
        """Parse a token from :meth:`encode` (an empty token is the first page)."""
        if not token:
            return cls()
        try:
            data = json.loads(base64.urlsafe_b64decode(token.encode()))
            token_obj = cls(int(data["offset"]), data.get("until"))
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(f"invalid page_token {token!r}") from exc
        if token_obj.offset < 0 or not isinstance(token_obj.until, int | None):
            raise InvalidInput(f"invalid page_token {token!r}")
        return token_obj
