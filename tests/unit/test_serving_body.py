"""Request bodies of the model server: what parse_body accepts and refuses, by itself."""

from __future__ import annotations

import pytest

from tunetrack.errors import InvalidInput
from tunetrack.models.serving import parse_body


@pytest.mark.parametrize(
    "body",
    [
        b'{"instances": [{"\\ud800": 1}]}',  # a lone high surrogate as a key
        b'{"instances": [["\\uDC00"]]}',  # a lone low surrogate, upper-case hex
        '{"instances": [["\\ud800"]]}'.encode("utf-16"),  # the same in a UTF-16 body
    ],
)
def test_a_lone_surrogate_is_refused_whatever_pandas_would_do(body: bytes) -> None:
    with pytest.raises(InvalidInput, match="not valid Unicode"):
        parse_body(body)


def test_a_surrogate_pair_is_ordinary_text() -> None:
    assert parse_body(b'{"instances": [["\\ud83d\\ude00"]]}') == {"instances": [["\U0001f600"]]}
