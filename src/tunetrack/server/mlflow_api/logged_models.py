"""MLflow 3's ``logged-models/search``, which always finds none here.

MLflow 3 clients look for "logged models" (its model entities beside runs) whenever they
list or download a run's artifacts. tunetrack keeps models as run artifacts and registry
versions and has no such entity: creating one is ``ENDPOINT_NOT_FOUND``, so none can exist
and a search answers an empty page (after checking the experiments it names).
"""

from __future__ import annotations

from fastapi import APIRouter

from tunetrack.server.deps import StoreDep
from tunetrack.server.mlflow_api.errors import MlflowRoute
from tunetrack.server.mlflow_api.shapes import Shape

router = APIRouter(prefix="/logged-models", route_class=MlflowRoute)


class SearchLoggedModels(Shape):
    experiment_ids: list[str] = []


class LoggedModelsPage(Shape):
    models: list[dict[str, object]]


@router.post("/search")
def search_logged_models(body: SearchLoggedModels, store: StoreDep) -> LoggedModelsPage:
    """No logged models (RESOURCE_DOES_NOT_EXIST for an experiment that does not exist)."""
    for experiment_id in body.experiment_ids:
        store.get_experiment(experiment_id)
    return LoggedModelsPage(models=[])
