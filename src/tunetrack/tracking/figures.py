"""Render matplotlib and plotly figures to the bytes of an artifact file."""

from __future__ import annotations

import io
from pathlib import PurePosixPath
from typing import Any

from tunetrack.errors import InvalidInput


def figure_bytes(figure: Any, artifact_file: str) -> bytes:
    """Serialise ``figure`` in the format its file extension names."""
    ext = PurePosixPath(artifact_file).suffix.lower().lstrip(".")
    module = type(figure).__module__
    if module.startswith("matplotlib"):
        buf = io.BytesIO()
        figure.savefig(buf, format=ext or "png")
        return buf.getvalue()
    if module.startswith("plotly"):
        if ext == "html":
            html: str = figure.to_html(full_html=True, include_plotlyjs=True)
            return html.encode("utf-8")
        if ext == "json":
            text: str = figure.to_json()
            return text.encode("utf-8")
        raise InvalidInput(
            f"cannot save a plotly figure as {artifact_file!r}: use a .html or .json file name"
        )
    raise InvalidInput(
        f"log_figure takes a matplotlib or plotly figure, got {type(figure).__name__}"
    )
