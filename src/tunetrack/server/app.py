"""The tracking server's FastAPI app: :func:`create_app` over one store and one artifact root.

The app holds one :class:`~tunetrack.store.sql.store.SqlStore` whose default artifact root
is the proxy's (``tunetrack-artifacts:``): runs created through the server keep their files
under ``--artifacts-destination``, reached by clients through ``/api/artifacts``.
Every router depends on :func:`~tunetrack.server.deps.current_user` and
:func:`~tunetrack.server.auth.policy.authorize`; with ``auth=True`` the
:class:`~tunetrack.server.auth.middleware.Authenticate` middleware finds the user first.
:func:`app_from_env` builds the same app in each of uvicorn's worker processes.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from fastapi import Depends, FastAPI
from pydantic import BaseModel
from starlette.types import Scope

from tunetrack._body_limit import BodyLimit
from tunetrack.errors import InvalidInput
from tunetrack.server import mlflow_api
from tunetrack.server.api import artifacts, experiments, gc, ledger, registry, runs
from tunetrack.server.auth.policy import Experiments, authorize, may_browse
from tunetrack.server.deps import current_user
from tunetrack.server.errors import install_error_handlers
from tunetrack.server.guards import DEFAULT_ALLOWED_HOSTS, Guard
from tunetrack.server.ui.routes import mount_ui
from tunetrack.store.artifacts import ArtifactRepository
from tunetrack.store.artifacts_http import ARTIFACTS_API, PROXY_ROOT
from tunetrack.store.sql.engine import POOL_SIZE
from tunetrack.store.uri import open_artifacts

if TYPE_CHECKING:
    from tunetrack.store.sql.store import SqlStore

DEFAULT_MAX_BODY_SIZE = 100 << 20  # a JSON request
DEFAULT_MAX_ARTIFACT_SIZE = 10 << 30  # one uploaded artifact file
# In the order requests are matched against them (route by route): the batched writer's
# first, the MLflow-compatible API (twice as many routes as ours) last.
ROUTERS = (
    runs.router,
    experiments.router,
    registry.router,
    artifacts.router,
    gc.router,
    ledger.router,
    mlflow_api.router,
)
_ENV_PREFIX = "TUNETRACK_SERVER_"


@dataclass(frozen=True)
class ServerSettings:
    """What a server process needs to build its app (passed to workers by environment)."""

    backend_store_uri: str
    artifacts_destination: str
    max_body_size: int = DEFAULT_MAX_BODY_SIZE
    max_artifact_size: int = DEFAULT_MAX_ARTIFACT_SIZE
    auth: bool = False
    allowed_hosts: str = ",".join(DEFAULT_ALLOWED_HOSTS)  # comma-separated

    def to_env(self) -> dict[str, str]:
        """These settings as environment variables (read back by :meth:`from_env`)."""
        return {f"{_ENV_PREFIX}{k.upper()}": str(val) for k, val in vars(self).items()}

    @classmethod
    def from_env(cls) -> ServerSettings:
        """The settings :meth:`to_env` put into this process's environment."""
        values = {
            name: os.environ[f"{_ENV_PREFIX}{name.upper()}"] for name in cls.__dataclass_fields__
        }
        return cls(
            values["backend_store_uri"],
            values["artifacts_destination"],
            int(values["max_body_size"]),
            int(values["max_artifact_size"]),
            values["auth"] == "True",
            values["allowed_hosts"],
        )


def open_backend_store(uri: str) -> SqlStore:
    """The SQL store a server serves; its new experiments keep artifacts behind the proxy."""
    from tunetrack.store.sql.store import SqlStore
    from tunetrack.store.tracking_uri import normalize_uri

    uri = normalize_uri(uri)
    if not uri.startswith(("sqlite:", "postgresql")):
        raise InvalidInput(
            f"the server's --backend-store-uri must be a SQLite or PostgreSQL database, not {uri!r}"
        )
    return SqlStore(uri, default_artifact_root=PROXY_ROOT)


def artifact_root(destination: str) -> ArtifactRepository:
    """The server's artifact root: a local directory (made absolute) or an fsspec URL."""
    if "://" not in destination:
        destination = os.path.abspath(os.path.expanduser(destination))
    return open_artifacts(destination)


def create_app(
    backend_store_uri: str,
    artifacts_destination: str,
    *,
    max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    max_artifact_size: int = DEFAULT_MAX_ARTIFACT_SIZE,
    auth: bool = False,
    allowed_hosts: Sequence[str] = DEFAULT_ALLOWED_HOSTS,
) -> FastAPI:
    """The tracking server over the database at ``backend_store_uri``, proxying artifacts to
    ``artifacts_destination``. JSON request bodies over ``max_body_size`` bytes and uploaded
    files over ``max_artifact_size`` bytes are refused with 413. With ``auth`` every route but
    ``/health`` needs a user of the store (``tunetrack users add``) or their API token.
    Only requests naming one of ``allowed_hosts`` in their Host header are answered, and
    writes from another origin's pages are refused (:class:`~tunetrack.server.guards.Guard`)."""
    store = open_backend_store(backend_store_uri)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # routes reach the store in worker threads: no more of them at once than the
        # store's pool keeps connections for (the rest wait their turn in the event loop)
        anyio.to_thread.current_default_thread_limiter().total_tokens = POOL_SIZE
        yield
        store.close()

    app = FastAPI(
        title="tunetrack tracking server",
        description="The tunetrack REST API: experiments, runs, metrics, the model registry "
        "and an artifact proxy. Errors are JSON objects with error_code and message. Floats "
        'JSON cannot spell travel as the strings "NaN", "Infinity" and "-Infinity".',
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.store = store
    app.state.artifacts = artifact_root(artifacts_destination)
    app.state.ledger = ledger.LedgerHost(store)

    def limit_for(scope: Scope) -> tuple[int, str]:
        if scope.get("method") == "PUT" and scope.get("path", "").startswith(ARTIFACTS_API):
            return max_artifact_size, "tunetrack server --max-artifact-size"
        return max_body_size, "tunetrack server --max-body-size"

    app.add_middleware(BodyLimit, limit_for=limit_for)
    if auth:
        _add_auth(app, store)
    app.add_middleware(Guard, hosts=allowed_hosts)  # outermost: before auth and body reads
    install_error_handlers(app)

    @app.get("/health", tags=["server"])
    def health() -> dict[str, str]:
        """Answers while the server is up."""
        return {"status": "ok"}

    for router in ROUTERS:
        app.include_router(router, dependencies=[Depends(current_user), Depends(authorize)])
    mount_ui(app, store, app.state.artifacts, dependencies=[Depends(may_browse)])
    _document_bodies(app, runs.SELF_PARSED_BODIES)

    return app


def _document_bodies(app: FastAPI, models: Sequence[type[BaseModel]]) -> None:
    """Put the schemas of request bodies that routes parse themselves (FastAPI does not see
    them) into the OpenAPI components their ``$ref`` names."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        spec = build()
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        for model in models:
            schemas.setdefault(model.__name__, model.model_json_schema())
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


def _add_auth(app: FastAPI, store: SqlStore) -> None:
    """Authenticate every request against the users in the store's database."""
    from tunetrack.server.auth.middleware import Authenticate, Authenticator
    from tunetrack.server.auth.sessions import Sessions, session_secret
    from tunetrack.server.ui.login import login_router
    from tunetrack.store.sql.users import UserStore

    engine = store.engine  # the users share the store's database
    app.state.experiments = Experiments(engine)
    app.state.users = UserStore(engine)
    authenticator = Authenticator(app.state.users, Sessions(session_secret(engine)))
    app.add_middleware(Authenticate, authenticator=authenticator)
    app.include_router(login_router(authenticator))


def app_from_env() -> FastAPI:
    """The app of :class:`ServerSettings` in the environment (uvicorn's worker factory)."""
    settings = ServerSettings.from_env()
    return create_app(
        settings.backend_store_uri,
        settings.artifacts_destination,
        max_body_size=settings.max_body_size,
        max_artifact_size=settings.max_artifact_size,
        auth=settings.auth,
        allowed_hosts=settings.allowed_hosts.split(","),
    )
