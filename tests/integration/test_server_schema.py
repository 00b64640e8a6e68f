"""schemathesis against a real server's ``/openapi.json``: requests generated from the spec,
valid and invalid, never get a 500 (bounded: a few examples per operation, derandomized)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rest_servers import RestServers, stop_server

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.core.failures import FailureGroup  # noqa: E402
from schemathesis.generation import GenerationMode  # noqa: E402
from schemathesis.schemas import APIOperation  # noqa: E402

EXAMPLES = 5  # per operation and generation mode


@pytest.fixture
def server_url(rest_servers: RestServers, tmp_path: Path) -> Iterator[str]:
    """A fresh server over a new SQLite store in ``tmp_path``."""
    url, pid = rest_servers.start(tmp_path / "tunetrack.db", tmp_path / "artifacts")
    try:
        yield url
    finally:
        stop_server(pid)


def _server_errors(operation: APIOperation, mode: GenerationMode, url: str) -> list[str]:
    """What ``operation`` answered with a 5xx, for the examples schemathesis made in ``mode``."""
    found: list[str] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(mode))
    def probe(case: schemathesis.Case) -> None:
        try:
            case.call_and_validate(base_url=url, checks=[not_a_server_error], timeout=30)
        except (AssertionError, FailureGroup) as exc:  # the case and the 500 it got
            found.append(f"{operation.label}: {case.as_curl_command()}\n{exc}"[:2000])

    try:
        probe()
    except Unsatisfiable:  # nothing to make invalid (an operation without parameters)
        assert mode is GenerationMode.NEGATIVE
    return found


@pytest.mark.slow
def test_requests_generated_from_the_openapi_spec_never_get_a_server_error(
    server_url: str,
) -> None:
    schema = schemathesis.openapi.from_url(f"{server_url}/openapi.json")
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50  # both APIs are in the spec
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failures += _server_errors(operation, mode, server_url)
    assert not failures, "\n\n".join(failures[:10])
