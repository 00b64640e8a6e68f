"""What each API route asks of the user: :func:`authorize`, a dependency of every router.

A route is named by its path without the API's prefix (``/api/``, ``/api/2.0/mlflow/``,
``/ajax-api/2.0/mlflow-artifacts/`` …), so the tunetrack and the MLflow-compatible API share
one table. Routes on experiments and runs need a permission on the experiment(s) the request
names (by ``experiment_id(s)``, a run id, an experiment name, metric rows or an artifact path
whose first part is the experiment id); the model registry needs a role: ``viewer`` to read,
``editor`` to write, ``admin`` to delete a model or version. A route missing from the tables
is for admins only. Searching experiments lists only those the user may read
(:func:`search_readable_experiments`); whoever creates an experiment may manage it
(:func:`creator_manages`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from fastapi import Request
from sqlalchemy import Engine, select
from starlette.concurrency import run_in_threadpool

from tunetrack.entities import Experiment, PagedList, ViewType
from tunetrack.errors import PermissionDenied
from tunetrack.search.filter import parse_filter
from tunetrack.server.auth.roles import Permission, Role, User
from tunetrack.store.base import Store
from tunetrack.store.sql import models as m

R, E, M = Permission.READ, Permission.EDIT, Permission.MANAGE
#: route -> the permission it needs on the experiments the request names
EXPERIMENT_ROUTES: dict[str, Permission] = {
    "experiments/get": R,
    "experiments/get-by-name": R,
    "experiments/rename": E,
    "experiments/update": E,
    "experiments/set-tag": E,
    "experiments/set-experiment-tag": E,
    "experiments/delete": M,
    "experiments/restore": M,
    "runs/create": E,
    "runs/get": R,
    "runs/search": R,
    "runs/update": E,
    "runs/log-batch": E,
    "runs/log-metric": E,
    "runs/log-parameter": E,
    "runs/set-tag": E,
    "runs/delete-tag": E,
    "runs/delete": M,
    "runs/restore": M,
    "metrics/get-history": R,
    "metrics/log-rows": E,
    "logged-models/search": R,
    "ledger/call": E,  # names the sweep's parent run
}
#: route -> the role it needs (any authenticated user for None)
ROLE_ROUTES: dict[str, Role | None] = {
    "experiments/create": Role.EDITOR,
    "experiments/search": None,  # lists only what the user may read
    "{rest:path}": None,  # an MLflow endpoint this server lacks: a 404 for anyone
}
ARTIFACT_ROUTES = ("artifacts", "artifacts/{path:path}")
_PREFIX = re.compile(r"^/(?:(?:api|ajax-api)/(?:2\.0/(?:mlflow|mlflow-artifacts)/)?)?")
_REGISTRY = ("registered-models/", "model-versions/")


def route_name(path: str) -> str:
    """A route's path without its API prefix: ``/api/2.0/mlflow/runs/get`` -> ``runs/get``."""
    return _PREFIX.sub("", path)


class Experiments:
    """The experiment a request names, from the tracking database (run ids are remembered:
    a run never moves)."""

    def __init__(self, engine: Engine, remembered: int = 100_000) -> None:
        self._engine = engine
        self._run_experiment: dict[str, str] = {}
        self._remembered = remembered

    def of_runs(self, run_ids: set[str]) -> set[str]:
        """The experiments of these runs (an unknown run names none: its route says 404)."""
        found = {r: self._run_experiment[r] for r in run_ids if r in self._run_experiment}
        missing = run_ids - found.keys()
        if missing:
            runs = m.runs.c
            query = select(runs.run_id, runs.experiment_id).where(runs.run_id.in_(missing))
            with self._engine.connect() as conn:
                for run_id, eid in conn.execute(query):
                    found[run_id] = str(eid)
            if len(self._run_experiment) > self._remembered:
                self._run_experiment.clear()
            self._run_experiment.update(found)
        return set(found.values())

    def named(self, name: str) -> set[str]:
        """The experiment called ``name`` (none when there is none)."""
        query = select(m.experiments.c.experiment_id).where(m.experiments.c.name == name)
        with self._engine.connect() as conn:
            return {str(eid) for eid in conn.execute(query).scalars()}


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        yield from (v for v in value if isinstance(v, str))


def _named_experiments(params: dict[str, Any], experiments: Experiments) -> set[str]:
    """The experiments a request's parameters name."""
    ids = {*_strings(params.get("experiment_id")), *_strings(params.get("experiment_ids"))}
    runs = {*_strings(params.get("run_id")), *_strings(params.get("run_uuid"))}
    rows = params.get("rows")
    if isinstance(rows, list):
        runs |= {r[0] for r in rows if isinstance(r, list) and r and isinstance(r[0], str)}
    if runs:
        ids |= experiments.of_runs(runs)
    for name in (*_strings(params.get("name")), *_strings(params.get("experiment_name"))):
        ids |= experiments.named(name)
    return ids


def _artifact_experiment(path: str) -> str | None:
    first = path.lstrip("/").split("/", 1)[0]
    return first if first.isdigit() else None


async def _params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query_params)
    if request.method in ("POST", "PATCH", "DELETE") and await request.body():
        try:
            body = json.loads(await request.body())
        except ValueError:
            return params  # the route answers 400
        if isinstance(body, dict):
            params.update(body)
    return params


def _needs_role(user: User, role: Role | None, what: str) -> None:
    if role is not None and not user.at_least(role):
        raise PermissionDenied(
            f"user {user.name!r} (role {user.role.value}) may not {what}: it needs the "
            f"{role.value} role"
        )


def _needs(user: User, experiment_ids: set[str], permission: Permission) -> None:
    for eid in sorted(experiment_ids):
        if user.permission_on(eid) < permission:
            raise PermissionDenied(
                f"user {user.name!r} needs {permission.name} on experiment {eid} for this"
            )


def may_browse(request: Request) -> None:
    """The web UI's pages need the viewer role under ``--auth`` (they read every experiment)."""
    user: User | None = getattr(request.state, "user", None)
    if user is not None:
        _needs_role(user, Role.VIEWER, "browse the web UI")


async def authorize(request: Request) -> None:
    """Refuse (403) a request its user may not make; nothing to check without ``--auth``."""
    user: User | None = getattr(request.state, "user", None)
    if user is None or user.role is Role.ADMIN:
        return
    name = route_name(request.scope["route"].path)
    what = f"{request.method} {name}"
    experiments: Experiments = request.app.state.experiments
    if name in ARTIFACT_ROUTES:
        path = request.path_params.get("path") or request.query_params.get("path", "")
        eid = _artifact_experiment(path)
        write = request.method != "GET"
        if eid is None:
            _needs_role(user, Role.ADMIN if write else Role.VIEWER, what)
        else:
            _needs(user, {eid}, Permission.EDIT if write else Permission.READ)
    elif name.startswith(_REGISTRY):
        delete = name.endswith("/delete")
        read = request.method == "GET" or name.endswith("/search")
        _needs_role(user, Role.ADMIN if delete else Role.VIEWER if read else Role.EDITOR, what)
    elif name in ROLE_ROUTES:
        _needs_role(user, ROLE_ROUTES[name], what)
    elif name in EXPERIMENT_ROUTES:
        params = await _params(request)
        ids = await run_in_threadpool(_named_experiments, params, experiments)
        _needs(user, ids, EXPERIMENT_ROUTES[name])
    else:
        _needs_role(user, Role.ADMIN, what)


def search_readable_experiments(
    store: Store,
    user: User | None,
    view_type: ViewType,
    filter_string: str | None,
    max_results: int,
    order_by: list[str] | None,
    page_token: str | None,
) -> PagedList[Experiment]:
    """``store.search_experiments`` narrowed to what ``user`` may read: a user whose role
    reads no experiment (``none``) lists only those granted to them."""
    if user is None or user.role.permission >= Permission.READ:
        return store.search_experiments(view_type, filter_string, max_results, order_by, page_token)
    parse_filter(filter_string)  # a mistake is reported in the user's own filter
    granted = sorted(eid for eid, permission in user.grants.items() if permission >= R)
    if not granted:
        return PagedList([], None)
    only = "attributes.experiment_id IN ({})".format(", ".join(f"'{eid}'" for eid in granted))
    if filter_string and filter_string.strip():
        only = f"({filter_string}) and {only}"
    return store.search_experiments(view_type, only, max_results, order_by, page_token)


def creator_manages(request: Request, experiment_id: str) -> None:
    """Give the user who created an experiment MANAGE on it (as MLflow's basic-auth app
    does), unless their role gives it anyway."""
    user: User | None = getattr(request.state, "user", None)
    if user is not None and user.permission_on(experiment_id) < M:
        request.app.state.users.grant(user.name, experiment_id, M)
