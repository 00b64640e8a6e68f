"""``/api/experiments/…``: create, read, search, rename, tag, delete and restore experiments."""

from __future__ import annotations

from fastapi import APIRouter, Request

from tunetrack.server.api import schemas as s
from tunetrack.server.auth.policy import creator_manages, search_readable_experiments
from tunetrack.server.deps import ArtifactsDep, StoreDep, UserDep
from tunetrack.server.locations import checked_location

router = APIRouter(prefix="/api/experiments", tags=["experiments"])


@router.post("/create")
def create_experiment(
    body: s.CreateExperiment, store: StoreDep, artifacts: ArtifactsDep, request: Request
) -> s.ExperimentIdResponse:
    """Create an experiment with a unique name (409 when the name is taken); an
    ``artifact_location`` must be in the server's artifact store (400 otherwise). Its
    creator may manage it."""
    location = body.artifact_location
    if location:
        location = checked_location(location, artifacts, "artifact_location")
    experiment_id = store.create_experiment(body.name, location, body.tags)
    creator_manages(request, experiment_id)
    return s.ExperimentIdResponse(experiment_id=experiment_id)


@router.get("/get")
def get_experiment(experiment_id: str, store: StoreDep) -> s.ExperimentResponse:
    """One experiment, active or deleted."""
    return s.ExperimentResponse(experiment=store.get_experiment(experiment_id))


@router.get("/get-by-name")
def get_experiment_by_name(name: str, store: StoreDep) -> s.MaybeExperimentResponse:
    """The experiment with this name (``null`` when there is none)."""
    return s.MaybeExperimentResponse(experiment=store.get_experiment_by_name(name))


@router.post("/search")
def search_experiments(
    body: s.SearchExperiments, store: StoreDep, user: UserDep
) -> s.ExperimentsPage:
    """Experiments matching a filter on ``name``, ``tags.*`` and times, one page at a time
    (of those the user may read)."""
    page = search_readable_experiments(
        store,
        user,
        body.view_type,
        body.filter_string,
        body.max_results,
        body.order_by,
        body.page_token,
    )
    return s.ExperimentsPage(experiments=page, next_page_token=page.token)


@router.post("/delete")
def delete_experiment(body: s.ExperimentRef, store: StoreDep) -> s.Empty:
    """Soft-delete an experiment and its runs."""
    store.delete_experiment(body.experiment_id)
    return s.Empty()


@router.post("/restore")
def restore_experiment(body: s.ExperimentRef, store: StoreDep) -> s.Empty:
    """Undo a delete."""
    store.restore_experiment(body.experiment_id)
    return s.Empty()


@router.post("/rename")
def rename_experiment(body: s.RenameExperiment, store: StoreDep) -> s.Empty:
    """Give an experiment a new unique name."""
    store.rename_experiment(body.experiment_id, body.new_name)
    return s.Empty()


@router.post("/set-tag")
def set_experiment_tag(body: s.SetExperimentTag, store: StoreDep) -> s.Empty:
    """Set or overwrite one experiment tag."""
    store.set_experiment_tag(body.experiment_id, body.key, body.value)
    return s.Empty()
