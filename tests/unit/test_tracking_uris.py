"""A tracking URI picks its store class by scheme: SQLite and PostgreSQL open a SqlStore, a
tracking server's http(s) URL a RestStore; artifact locations behind the server's proxy
turn into that server's URLs and back."""

from __future__ import annotations

import pytest

from tunetrack.errors import InvalidInput
from tunetrack.store.artifacts import ArtifactRepository
from tunetrack.store.artifacts_http import (
    HttpArtifactRepository,
    proxied_to_url,
    url_to_proxied,
)
from tunetrack.store.rest import RestStore
from tunetrack.store.tracking_uri import normalize_uri
from tunetrack.store.uri import acquire_store, open_artifacts, release_store

SERVER = "http://127.0.0.1:5000"


@pytest.mark.parametrize(
    ("uri", "normal"),
    [
        ("http://127.0.0.1:5000", SERVER),
        ("http://127.0.0.1:5000/", SERVER),
        ("HTTP://tracking.example:8080/team/", "http://tracking.example:8080/team"),
        ("https://tracking.example", "https://tracking.example"),
    ],
)
def test_a_tracking_server_url_is_a_tracking_uri(uri: str, normal: str) -> None:
    assert normalize_uri(uri) == normal


@pytest.mark.parametrize("uri", ["http://", "https:///", "ftp://host/x"])
def test_a_url_without_a_host_or_of_another_scheme_is_refused(uri: str) -> None:
    with pytest.raises(InvalidInput, match="unsupported tracking URI"):
        normalize_uri(uri)


def test_a_server_url_opens_a_rest_store_without_contacting_it() -> None:
    store = acquire_store("http://127.0.0.1:1/")  # nothing listens there
    try:
        assert isinstance(store, RestStore)
        assert store.base_url == "http://127.0.0.1:1"
        assert acquire_store("http://127.0.0.1:1") is store  # one store per URI
        release_store(store, lambda _: None)
    finally:
        release_store(store, lambda _: None)


def test_proxied_artifact_locations_become_the_server_urls_and_back() -> None:
    url = proxied_to_url("tunetrack-artifacts:/3/abc", SERVER)
    assert url == f"{SERVER}/api/artifacts/3/abc"
    assert url_to_proxied(url, SERVER) == "tunetrack-artifacts:/3/abc"
    for other in ("s3://bucket/3/abc", "/data/3/abc", "http://elsewhere/api/artifacts/3"):
        assert proxied_to_url(other, SERVER) == other
        assert url_to_proxied(other, SERVER) == other


def test_a_server_artifact_url_gets_the_http_repository() -> None:
    repo = open_artifacts(f"{SERVER}/api/artifacts/3/abc")
    assert isinstance(repo, HttpArtifactRepository)
    assert repo._path("model/model.yaml") == "/api/artifacts/3/abc/model/model.yaml"
    assert type(open_artifacts("memory://bucket/x")) is ArtifactRepository


@pytest.mark.parametrize("uri", [f"{SERVER}/api/artifacts/3/abc", "tunetrack-artifacts:/3/abc"])
def test_the_local_repository_refuses_a_server_location_and_names_the_opener(uri: str) -> None:
    with pytest.raises(InvalidInput, match="kept by a tunetrack server: open them with"):
        ArtifactRepository(uri)


@pytest.mark.parametrize(
    "uri",
    [f"{SERVER}/elsewhere/3", f"{SERVER}/api/artifacts/../3", f"{SERVER}/api/artifactsX/3"],
)
def test_a_url_that_is_not_a_proxy_path_is_refused(uri: str) -> None:
    with pytest.raises(InvalidInput):
        open_artifacts(uri)


def test_proxied_artifacts_without_a_server_tracking_uri_say_what_to_set(
    isolated_tracking: str,
) -> None:
    with pytest.raises(InvalidInput, match="set the tracking URI"):
        open_artifacts("tunetrack-artifacts:/3/abc")
