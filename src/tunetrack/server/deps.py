"""What a route depends on: the app's store and artifact root, and who is asking."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from tunetrack.server.auth.roles import User
from tunetrack.store.artifacts import ArtifactRepository
from tunetrack.store.base import Store


def get_store(request: Request) -> Store:
    """The tracking store the app serves."""
    return request.app.state.store


def get_artifacts(request: Request) -> ArtifactRepository:
    """The server's artifact root (``--artifacts-destination``)."""
    return request.app.state.artifacts


def current_user(request: Request) -> User | None:
    """The user making the request (authenticated by the server's ``--auth`` middleware).
    Every API route depends on it; with no authentication configured it is ``None``
    (everyone may do everything)."""
    return getattr(request.state, "user", None)


StoreDep = Annotated[Store, Depends(get_store)]
ArtifactsDep = Annotated[ArtifactRepository, Depends(get_artifacts)]
UserDep = Annotated[User | None, Depends(current_user)]
