"""The core of MLflow's REST API, so the ``mlflow`` client (and every library logging through
it) can log into a tunetrack server: ``mlflow.set_tracking_uri("http://host:port")``.

:data:`router` answers under ``/api/2.0/mlflow/`` (experiments, runs, metrics, the model
registry) and ``/api/2.0/mlflow-artifacts/`` (the artifact proxy), and again under
``/ajax-api/2.0/`` as MLflow's server does. Requests and responses use MLflow's JSON shapes
(:mod:`.shapes`) and error codes (:mod:`.errors`); an MLflow endpoint not implemented here
answers 404 ``ENDPOINT_NOT_FOUND``, as MLflow's client expects of an older server.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tunetrack.server.mlflow_api import (
    artifacts,
    experiments,
    logged_models,
    registry,
    run_data,
    runs,
)
from tunetrack.server.mlflow_api.errors import endpoint_not_found

_tracking = APIRouter()
for _module in (experiments, runs, run_data, registry, logged_models):
    _tracking.include_router(_module.router)


def _not_implemented(request: Request) -> JSONResponse:
    return endpoint_not_found(request.url.path)


router = APIRouter(tags=["mlflow"])
for _root, _documented in (("/api/2.0", True), ("/ajax-api/2.0", False)):
    router.include_router(_tracking, prefix=f"{_root}/mlflow", include_in_schema=_documented)
    router.include_router(
        artifacts.router, prefix=f"{_root}/mlflow-artifacts", include_in_schema=_documented
    )
    for _service in ("mlflow", "mlflow-artifacts"):
        router.add_api_route(
            f"{_root}/{_service}/{{rest:path}}",
            _not_implemented,
            methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            include_in_schema=False,
        )
