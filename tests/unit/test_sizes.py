"""Byte sizes as people write them (``tunetrack models serve --max-body-size``)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tunetrack._sizes import format_size, parse_size
from tunetrack.cli import app


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1048576", 1 << 20),
        ("512k", 512 << 10),
        ("512KiB", 512 << 10),
        ("100MB", 100 << 20),
        ("100 mb", 100 << 20),
        ("1.5G", 3 << 29),
        ("2t", 2 << 40),
        ("10b", 10),
    ],
)
def test_sizes_in_bytes_or_powers_of_1024(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "lots", "1XB", "-1", "1e6", "0", "0.0001k"])
def test_what_is_not_a_positive_size_is_refused_with_a_hint(text: str) -> None:
    with pytest.raises(ValueError, match="invalid size"):
        parse_size(text)


@pytest.mark.parametrize(
    ("size", "text"),
    [(1000, "1000 bytes"), (1025, "1025 bytes"), (1536, "1.5 KiB"), (100 << 20, "100 MiB")],
)
def test_sizes_are_shown_exactly(size: int, text: str) -> None:
    assert format_size(size) == text


def test_serve_names_a_bad_max_body_size_before_loading_anything() -> None:
    runner = CliRunner(env={"COLUMNS": "200"})  # the error box does not wrap the hint
    result = runner.invoke(app, ["models", "serve", "models:/nothing/1", "--max-body-size", "lots"])
    assert result.exit_code == 2, result.output
    assert "--max-body-size" in result.output
    assert "512k, 100MB, 1G" in result.output
