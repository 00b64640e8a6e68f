"""``/api/gc``: remove for good the deleted experiments and runs (under ``--auth`` for admins
only: it is in no table of :mod:`tunetrack.server.auth.policy`)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from tunetrack.server.api import schemas as s

router = APIRouter(prefix="/api", tags=["gc"])


@router.post("/gc")
def gc(body: s.Gc, request: Request) -> s.GcResponse:
    """Delete the deleted experiments and runs with their rows in every table and their
    artifacts (the server's files too); a run that is the source of a model version stays."""
    report = request.app.state.store.gc(
        older_than=body.older_than,
        experiment_ids=body.experiment_ids,
        dry_run=body.dry_run,
        proxy_root=request.app.state.artifacts,
    )
    return s.GcResponse(report=report)
