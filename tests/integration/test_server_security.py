"""Known attacks on a tracking server, each against a real ``tunetrack server`` process:
artifact paths that leave the root (both proxies), model sources and artifact locations
outside the artifact store (CVE-2023-1177), DNS rebinding (Host allowlist), cross-origin
writes, missing security headers, oversized bodies and tracebacks in answers."""

from __future__ import annotations

import http.client
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:  # the fixtures' types (tests/integration/conftest.py)
    from conftest import StartServer, TrackingServer

PROXIES = ("/api/artifacts", "/api/2.0/mlflow-artifacts/artifacts")
SECRET = "sentinel: must never be read or replaced"


def _raw(server: TrackingServer, method: str, target: str, body: bytes | None = None):
    """``method target`` sent exactly as written (no client normalises the path)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        connection.request(method, target, body=body)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _files(top: Path) -> set[Path]:
    return {p for p in top.rglob("*") if p.is_file()}


def _escapes(sentinel: Path) -> list[str]:
    """Artifact paths (as sent, after the proxy's prefix) aiming at ``sentinel``."""
    name, absolute = sentinel.name, str(sentinel)
    return [
        f"1/../../{name}",
        f"1/%2e%2e/%2e%2e/{name}",
        f"1/%252e%252e/%252e%252e/{name}",
        f"1\\..\\..\\{name}",
        f"1%5c..%5c..%5c{name}",
        absolute,  # the target then starts with '//'
        f"%2F{absolute.lstrip('/')}",
        f"C:\\{name}",
        f"c:/{name}",
        f"1/x#/../../{name}",
        f"/proc/self/root{absolute}",
        f"1/x%00/../../{name}",
        "1/x%00.txt",
    ]


def test_artifact_paths_leaving_the_root_are_refused_by_both_proxies_and_touch_nothing(
    tracking_server: StartServer, tmp_path: Path
) -> None:
    sentinel = tmp_path / "sentinel.txt"
    sentinel.write_text(SECRET)
    server = tracking_server()
    outside = _files(tmp_path) - _files(tmp_path / "server-cwd")
    for proxy in PROXIES:
        for path in _escapes(sentinel):
            target = f"{proxy}/{path}"
            status, body = _raw(server, "PUT", target, b"overwritten")
            assert status in (400, 403, 404), (target, status, body)
            status, body = _raw(server, "GET", target)
            assert status in (400, 403, 404), (target, status, body)
            assert SECRET.encode() not in body, target
            listing = f"{proxy}?path={path.replace('#', '%23')}"
            status, body = _raw(server, "GET", listing)
            assert status in (400, 403, 404) or json.loads(body)["files"] == [], (listing, body)
    assert sentinel.read_text() == SECRET
    assert _files(tmp_path) - _files(tmp_path / "server-cwd") == outside  # nothing new
    assert not list((tmp_path / "server-artifacts").rglob("*"))  # nor inside


def test_reading_the_hosts_files_through_the_proxies_finds_nothing(
    tracking_server: StartServer,
) -> None:
    server = tracking_server()
    for proxy in PROXIES:
        for path in ("/etc/passwd", "//proc/self/root/etc/passwd", "../../../../etc/passwd"):
            status, body = _raw(server, "GET", f"{proxy}/{path}")
            assert status in (400, 403, 404), (proxy, path, body)
            assert b"root:" not in body


BAD_SOURCES = [
    "/etc",
    "file:///etc/passwd",
    "../../",
    "file:///etc#",
    "tunetrack-artifacts:/../../etc",
    "mlflow-artifacts:/1/../../../etc",
    "mlflow-artifacts:/1/%2e%2e/%2e%2e/etc",
    "runs:/0123/../../../etc",
    "runs:///etc",
    "s3://someone-elses-bucket/model",
    "http://169.254.169.254/latest/meta-data",
]


def test_a_model_source_outside_the_artifact_store_is_refused_at_creation(
    tracking_server: StartServer, tmp_path: Path
) -> None:
    """CVE-2023-1177: register /etc as a version's source, then download it."""
    server = tracking_server()
    root = tmp_path / "server-artifacts"
    with httpx.Client(base_url=server.url, timeout=60) as api:
        assert api.post("/api/registered-models/create", json={"name": "m"}).is_success
        sources = [*BAD_SOURCES, f"{root}/../sentinel", f"file://{root}/1/../../x"]
        for source in sources:
            ours = api.post("/api/model-versions/create", json={"name": "m", "source": source})
            assert ours.status_code == 400, (source, ours.text)
            assert ours.json()["error_code"] == "INVALID_PARAMETER"
            theirs = api.post(
                "/api/2.0/mlflow/model-versions/create", json={"name": "m", "source": source}
            )
            assert theirs.status_code == 400, (source, theirs.text)
            assert theirs.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert api.get("/api/model-versions/get-latest", params={"name": "m"}).status_code == 404

        good = [
            "runs:/0123abc/model",
            "mlflow-artifacts:/1/0123abc/artifacts/model",
            "tunetrack-artifacts:/1/r/model",
            f"{root}/1/r/model",
            "models:/other/1",
        ]
        for number, source in enumerate(good, start=1):
            body = {"name": "m", "source": source}
            made = api.post("/api/2.0/mlflow/model-versions/create", json=body)
            assert made.status_code == 200, (source, made.text)
            uri = api.get(
                "/api/2.0/mlflow/model-versions/get-download-uri",
                params={"name": "m", "version": number},
            ).json()["artifact_uri"]
            assert "/etc" not in uri
            assert ".." not in uri


@pytest.mark.parametrize(
    ("route", "ok"),
    [("/api/experiments/create", "tunetrack-artifacts:/shared/ok"),
     ("/api/2.0/mlflow/experiments/create", "mlflow-artifacts:/shared/ok")],
    ids=["tunetrack", "mlflow"],
)  # fmt: skip
def test_an_experiment_artifact_location_outside_the_store_is_refused(
    tracking_server: StartServer, route: str, ok: str
) -> None:
    """Otherwise a run of it would let the UI serve /etc/passwd as one of its artifacts."""
    server = tracking_server()
    with httpx.Client(base_url=server.url, timeout=60) as api:
        for n, location in enumerate(["/etc", "file:///etc", "tunetrack-artifacts:/../.."]):
            refused = api.post(route, json={"name": f"e{n}", "artifact_location": location})
            assert refused.status_code == 400, (location, refused.text)
        made = api.post(route, json={"name": "ok", "artifact_location": ok})
        assert made.status_code == 200, made.text


def test_a_host_header_not_allowed_is_a_400_against_dns_rebinding(
    tracking_server: StartServer,
) -> None:
    server = tracking_server("--allowed-hosts", "tracker.example,10.1.2.3")
    port = server.port
    allowed = ["127.0.0.1", "localhost", "[::1]", "tracker.example", "10.1.2.3", "LOCALHOST"]
    for host in allowed:
        response = httpx.get(f"{server.url}/health", headers={"Host": f"{host}:{port}"})
        assert response.status_code == 200, (host, response.text)
    for host in ["attacker.example", "127.0.0.1.attacker.example", "tracker.example.evil", ""]:
        response = httpx.post(
            f"{server.url}/api/experiments/create",
            json={"name": f"rebound-{host}"},
            headers={"Host": f"{host}:{port}"},
        )
        assert response.status_code == 400, (host, response.text)
        assert response.json()["error_code"] == "INVALID_PARAMETER"
    names = httpx.post(f"{server.url}/api/experiments/search", json={}).json()
    assert not any("rebound" in e["name"] for e in names["experiments"])


def test_the_default_allowlist_is_the_loopback_names(tracking_server: StartServer) -> None:
    server = tracking_server()
    evil = httpx.get(f"{server.url}/health", headers={"Host": f"evil.example:{server.port}"})
    assert evil.status_code == 400
    for host in ("localhost", "127.0.0.1", "[::1]"):
        answer = httpx.get(f"{server.url}/health", headers={"Host": f"{host}:{server.port}"})
        assert answer.status_code == 200, host


def test_writes_from_another_origin_are_refused_and_same_origin_ones_pass(
    tracking_server: StartServer, tmp_path: Path
) -> None:
    server = tracking_server()
    own = server.url
    foreign = [
        {"Origin": "http://evil.example"},
        {"Origin": f"http://127.0.0.1:{server.port + 1}"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ]
    with httpx.Client(base_url=server.url, timeout=60) as api:
        for n, headers in enumerate(foreign):
            for method, path, body in [
                ("POST", "/api/experiments/create", {"name": f"csrf{n}"}),
                ("POST", "/api/2.0/mlflow/experiments/create", {"name": f"csrf{n}"}),
                ("PATCH", "/api/2.0/mlflow/registered-models/update", {"name": "m"}),
                ("DELETE", "/api/2.0/mlflow/registered-models/delete", {"name": "m"}),
            ]:
                response = api.request(method, path, json=body, headers=headers)
                assert response.status_code == 403, (headers, path, response.text)
                assert response.json()["error_code"] == "PERMISSION_DENIED"
            upload = api.put("/api/artifacts/1/csrf.txt", content=b"x", headers=headers)
            assert upload.status_code == 403
            assert api.get("/health", headers=headers).status_code == 200  # reads pass
        assert not list((tmp_path / "server-artifacts").rglob("csrf.txt"))
        search = api.post("/api/experiments/search", json={}).json()["experiments"]
        assert not any(e["name"].startswith("csrf") for e in search)

        same = {"Origin": own, "Sec-Fetch-Site": "same-origin"}
        assert api.post("/api/experiments/create", json={"name": "a"}, headers=same).is_success
        assert api.post("/api/experiments/create", json={"name": "b"}).is_success  # scripts


def test_every_response_carries_the_security_headers(
    tracking_server: StartServer, tmp_path: Path
) -> None:
    server = tracking_server()
    with httpx.Client(base_url=server.url, timeout=60) as api:
        run = api.post("/api/runs/create", json={"experiment_id": "0", "start_time": 1}).json()
        info = run["run"]["info"]
        rel = info["artifact_uri"].removeprefix("tunetrack-artifacts:").strip("/")
        api.put(f"/api/artifacts/{rel}/page.html", content=b"<p>hi</p>")
        answers = {
            "health": api.get("/health"),
            "api": api.get("/api/experiments/get", params={"experiment_id": "0"}),
            "error": api.get("/api/nothing"),
            "spec": api.get("/openapi.json"),
            "mlflow": api.get("/api/2.0/mlflow/experiments/get", params={"experiment_id": "0"}),
            "ui": api.get("/"),
            "refused host": api.get("/health", headers={"Host": "evil.example"}),
        }
        for what, response in answers.items():
            assert response.headers.get("X-Content-Type-Options") == "nosniff", what
            assert response.headers.get("X-Frame-Options") == "DENY", what
            assert response.headers.get("Referrer-Policy") in ("no-referrer", "same-origin"), what
        assert answers["api"].headers["Referrer-Policy"] == "no-referrer"
        assert "script-src 'self'" in answers["ui"].headers["Content-Security-Policy"]
        frame = api.get(f"/runs/{info['run_id']}/artifact-frame", params={"path": "page.html"})
        assert frame.status_code == 200, frame.text
        assert frame.headers["X-Frame-Options"] == "SAMEORIGIN"  # framed by the run page
        assert "sandbox" in frame.headers["Content-Security-Policy"]


def test_the_mlflow_api_has_the_body_limit_and_answers_failures_without_a_traceback(
    tracking_server: StartServer, tmp_path: Path
) -> None:
    not_a_dir = tmp_path / "a-file"
    not_a_dir.write_text("")  # the operator pointed --artifacts-destination at a file
    server = tracking_server("--max-body-size", "1k", "--artifacts-destination", str(not_a_dir))
    with httpx.Client(base_url=server.url, timeout=60) as api:
        big = api.post("/api/2.0/mlflow/experiments/create", json={"name": "x" * 2000})
        assert big.status_code == 413
        assert "--max-body-size" in big.json()["message"]
        failed = api.put("/api/2.0/mlflow-artifacts/artifacts/1/x.txt", content=b"x")
    assert failed.status_code == 500
    assert failed.json() == {
        "error_code": "INTERNAL_ERROR",
        "message": "internal server error (the server log has the details)",
    }
    deadline = time.monotonic() + 30  # the server logs after it has answered
    while "Traceback" not in server.stderr.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "NotADirectoryError" in server.stderr.read_text()
