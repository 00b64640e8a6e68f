"""The UI's templates escape everything a user typed, also inside figure data blocks."""

from __future__ import annotations

import json

from tunetrack.entities import LifecycleStage, RunInfo, RunStatus
from tunetrack.errors import InvalidInput
from tunetrack.search import parse_filter
from tunetrack.server.ui.reads import RunRow
from tunetrack.server.ui.web import ENV, filter_error, show_value

HOSTILE = "</script><script>alert(1)</script>"


def _info(name: str) -> RunInfo:
    return RunInfo(
        "abc", "1", name, RunStatus.FINISHED, 1, 2, LifecycleStage.ACTIVE, "/tmp/abc", None
    )


def test_run_rows_escape_names_and_values() -> None:
    row = RunRow(_info(HOSTILE), {"params.model": "<b>rf</b>", "tags.t": "\"' onload=x"})
    html = ENV.get_template("run_rows.html").render(
        rows=[row], columns=["params.model", "tags.t"], depth=0, experiment_id="1",
        child_query="", duration=lambda a, b: "",
    )  # fmt: skip
    assert "<script>" not in html
    assert "<b>rf</b>" not in html
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#34;&#39; onload=x" in html


def test_a_figure_data_block_cannot_be_closed_by_a_value() -> None:
    macros = ENV.get_template("macros.html").module
    block = str(macros.figure("c1", {"layout": {"title": {"text": HOSTILE}}, "data": []}))
    body = block.split('data-target="c1">', 1)[1].rsplit("</script>", 1)[0]
    assert "</script" not in body
    assert "<" not in body
    assert json.loads(body)["layout"]["title"]["text"] == HOSTILE


def test_error_page_escapes_the_message() -> None:
    html = ENV.get_template("error.html").render(message=HOSTILE)
    assert HOSTILE not in html
    assert "&lt;/script&gt;" in html


def test_filter_error_names_the_parsers_column() -> None:
    try:
        parse_filter("metrics.acc >> 3")
    except InvalidInput as exc:
        error = filter_error(exc)
    assert error["column"] == 14
    assert str(error["message"]).startswith("Invalid filter at column 14: expected a value")
    assert filter_error(InvalidInput("no column here")) == {
        "message": "no column here",
        "column": None,
    }


def test_cell_values_spell_out_non_finite_floats() -> None:
    assert [show_value(v) for v in (float("nan"), float("inf"), -float("inf"), 0.1234567)] == [
        "NaN", "inf", "-inf", "0.123457",
    ]  # fmt: skip
