"""Tables as MLflow stores them: JSON ``{"columns": [...], "data": [[...], ...]}``."""

from __future__ import annotations

from typing import Any

from tunetrack.errors import InvalidInput


def table_json(data: Any, existing: bytes | None = None) -> bytes:
    """``data`` (a dict of equal-length lists, or a pandas DataFrame) as table JSON, its
    rows appended to the ``existing`` table's."""
    import pandas as pd

    if isinstance(data, dict):
        try:
            data = pd.DataFrame(data)
        except ValueError as exc:  # columns of different lengths
            raise InvalidInput(f"log_table: {exc}") from None
    elif not isinstance(data, pd.DataFrame):
        raise InvalidInput(
            f"log_table takes a dict of lists or a pandas DataFrame, got {type(data).__name__}"
        )
    if existing is not None:
        import io

        earlier = pd.read_json(io.BytesIO(existing), orient="split", dtype=False)
        data = pd.concat([earlier, data], ignore_index=True)
    text: str = data.to_json(orient="split", index=False, date_format="iso", default_handler=str)
    return text.encode("utf-8")
