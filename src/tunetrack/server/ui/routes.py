"""The UI's pages: experiments, runs table, run detail, compare, sweep and models.

:func:`ui_router` builds them over one SQL store; :func:`mount_ui` adds them to an app.
Pages are read-only. Authentication plugs in as router dependencies
(``mount_ui(app, store, dependencies=[Depends(current_user)])``); editing controls
(aliases, stages) will check the same user.
"""

from __future__ import annotations

import csv
import io
import re
import urllib.parse
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.concurrency import run_in_threadpool

from tunetrack._clock import now_ms
from tunetrack.entities import ModelStage, ViewType
from tunetrack.errors import InvalidInput, NotFound, PermissionDenied, TunetrackError
from tunetrack.server.auth.roles import Role
from tunetrack.server.ui import charts, reads
from tunetrack.server.ui.artifacts import IMAGE_TYPES, kind_of, preview, run_repository
from tunetrack.server.ui.compare import compare_view
from tunetrack.server.ui.sweep import ImportanceCache, sweep_updates, sweep_view
from tunetrack.server.ui.web import (
    ARTIFACT_CSP,
    ENV,
    filter_error,
    form_fields,
    page,
    plain,
    render,
)
from tunetrack.store.artifacts import ArtifactRepository
from tunetrack.store.sql.store import SqlStore
from tunetrack.sweep import tags as T

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_CHARTS = 30
MAX_CHILDREN = 500
#: An update asks a little further back than its last answer: runs are stamped by the
#: clocks of the processes that log them, which may lag the server's by a moment.
UPDATE_OVERLAP_MS = 5000
_STATIC = Path(__file__).parent / "static"
_RUN_ID = re.compile(r"[0-9a-zA-Z_-]{1,32}")


def _plotly_js() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:
        raise NotFound("plotly is not installed")
    return Path(spec.origin).parent / "package_data" / "plotly.min.js"


def _columns(cols: str | None, keys: dict[str, list[str]]) -> list[str]:
    """The chosen columns, or by default a few metrics and params of the page's runs."""
    if cols is not None:
        return [c for c in cols.split(",") if c]
    metrics = [k for k in keys["metrics"] if not k.startswith("system/")][:5]
    return [f"metrics.{k}" for k in metrics] + [f"params.{k}" for k in keys["params"][:5]]


def _order(order: str) -> list[str]:
    return [order] if order else []


def _csv_cell(value: object) -> object:
    return "" if value is None else value


def ui_router(store: SqlStore, artifacts: ArtifactRepository | None = None) -> APIRouter:
    """The UI's routes over ``store``; ``artifacts`` is a server's proxied artifact root."""
    if not isinstance(store, SqlStore):
        raise InvalidInput(f"the UI reads a SQL store, not {type(store).__name__}")
    router = APIRouter(include_in_schema=False)
    importance_cache = ImportanceCache()

    @router.get("/static/ui/{name}")
    @plain
    def static(name: str) -> FileResponse:
        path = _plotly_js() if name == "plotly.min.js" else _STATIC / name
        if name not in ("plotly.min.js", "ui.js", "ui.css") or not path.is_file():
            raise NotFound(f"no static file {name!r}")
        return FileResponse(path, headers={"Cache-Control": "public, max-age=86400"})

    @router.get("/", response_class=HTMLResponse)
    @page
    def experiments(request: Request, q: str = "") -> HTMLResponse:
        filter_string = None
        if q:
            filter_string = "name ILIKE '%{}%'".format(q.replace("'", "''"))
        found = store.search_experiments(ViewType.ACTIVE_ONLY, filter_string, max_results=1000)
        counts = reads.run_counts(store, [e.experiment_id for e in found])
        return render(request, "experiments.html", experiments=found, counts=counts, q=q)

    def table(
        request: Request,
        experiment_id: str,
        filter_: str,
        order: str,
        cols: str | None,
        page_token: str | None,
        nested: bool,
        n: int,
        parent: str | None = None,
    ) -> dict[str, Any]:
        """The runs table's data, or its filter error (shown under the search box)."""
        n = min(max(n, 1), MAX_PAGE_SIZE)
        keys: dict[str, list[str]] = {"metrics": [], "params": [], "tags": []}
        columns = [c for c in (cols or "").split(",") if c]
        try:
            result = reads.run_page(
                store, [experiment_id], filter_ or None, _order(order), page_token, n,
                columns, nested=nested, parent=parent,
            )  # fmt: skip
        except InvalidInput as exc:
            if "filter" not in exc.message:
                raise
            return {"rows": [], "next": None, "error": filter_error(exc), "columns": columns,
                    "keys": keys, "child_query": ""}  # fmt: skip
        keys = reads.column_keys(store, [r.info.run_id for r in result.rows])
        if cols is None:  # no choice yet: a few of this page's own keys
            columns = _columns(None, keys)
            result = reads.run_page(
                store, [experiment_id], filter_ or None, _order(order), page_token, n,
                columns, nested=nested, parent=parent,
            )  # fmt: skip
        child_query = urllib.parse.urlencode(
            {"filter": filter_, "order": order, "cols": ",".join(columns)}
        )
        return {"rows": result.rows, "next": result.next_token, "error": None,
                "columns": columns, "keys": keys, "child_query": child_query}  # fmt: skip

    @router.get("/experiments/{experiment_id}", response_class=HTMLResponse)
    @page
    def runs(
        request: Request,
        experiment_id: str,
        filter: str = "",
        order: str = "",
        cols: str | None = None,
        page: str | None = None,
        nested: int = 1,
        n: int = PAGE_SIZE,
        group: str = "",
    ) -> HTMLResponse:
        experiment = store.get_experiment(experiment_id)
        data = table(request, experiment_id, filter, order, cols, page, bool(nested), n)
        groups = None
        if group and data["error"] is None:
            entity, key = reads.parse_column(group)
            if entity != "params":
                raise InvalidInput(f"group by a param (params.KEY), not {group!r}")
            metrics = [c.partition(".")[2] for c in data["columns"] if c.startswith("metrics.")]
            groups = reads.group_stats(store, [experiment_id], filter or None, key, metrics)
        return render(
            request, "runs.html", experiment=experiment, filter=filter, order=order,
            nested=bool(nested), group=group, groups=groups, **data,
        )  # fmt: skip

    @router.get("/experiments/{experiment_id}/children/{run_id}", response_class=HTMLResponse)
    @page
    def children(
        request: Request,
        experiment_id: str,
        run_id: str,
        filter: str = "",
        order: str = "",
        cols: str = "",
    ) -> HTMLResponse:
        data = table(request, experiment_id, filter, order, cols, None, True, MAX_CHILDREN, run_id)
        return render(request, "run_rows.html", depth=1, experiment_id=experiment_id, **data)

    @router.get("/experiments/{experiment_id}/runs.csv")
    @plain
    def runs_csv(
        experiment_id: str, filter: str = "", order: str = "", cols: str = ""
    ) -> StreamingResponse:
        store.get_experiment(experiment_id)
        columns = [c for c in cols.split(",") if c]
        first = reads.run_page(store, [experiment_id], filter or None, _order(order), None,
                               1000, columns)  # fmt: skip

        def lines() -> Iterator[str]:
            out = io.StringIO()
            writer = csv.writer(out)
            head = ["run_id", "run_name", "status", "start_time", "end_time", "parent_run_id"]
            writer.writerow(head + columns)
            result = first
            while True:
                for row in result.rows:
                    i = row.info
                    writer.writerow(
                        [i.run_id, i.run_name, i.status.value, i.start_time,
                         _csv_cell(i.end_time), _csv_cell(i.parent_run_id)]
                        + [_csv_cell(row.values.get(c)) for c in columns]
                    )  # fmt: skip
                yield out.getvalue()
                out.seek(0)
                out.truncate()
                if result.next_token is None:
                    return
                result = reads.run_page(store, [experiment_id], filter or None, _order(order),
                                        result.next_token, 1000, columns)  # fmt: skip

        return StreamingResponse(
            lines(),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="runs-{experiment_id}.csv"'},
        )

    @router.get("/runs/{run_id}", response_class=HTMLResponse)
    @page
    def run_detail(request: Request, run_id: str, path: str = "", artifact: str = "") -> Any:
        run = store.get_run(run_id)
        ranges = reads.metric_ranges(store, run_id)
        stepped = [k for k, (_, _, count) in ranges.items() if count > 1]
        user_keys = [k for k in sorted(stepped) if not k.startswith("system/")]
        system_keys = [k for k in sorted(stepped) if k.startswith("system/")]
        figures = {}
        for key in (user_keys + system_keys)[:MAX_CHARTS]:
            xs, ys = reads.chart_series(store, run_id, key, ranges[key][2])
            figures[key] = charts.line_chart(key, xs, ys)
        parent = store.get_run(run.info.parent_run_id) if run.info.parent_run_id else None
        kids = reads.run_page(store, [run.info.experiment_id], None, [], None, 100, [],
                              parent=run_id)  # fmt: skip
        listing, shown, refused = [], None, None
        try:
            repo = run_repository(run, artifacts)
        except PermissionDenied as exc:
            refused = str(exc)  # the page shows the run without its artifacts
        else:
            listing = repo.list_artifacts(path or None)
            shown = preview(repo, artifact) if artifact else None
        return render(
            request, "run.html", run=run, ranges=ranges, figures=figures,
            user_keys=[k for k in user_keys if k in figures],
            system_keys=[k for k in system_keys if k in figures],
            more_charts=max(len(stepped) - MAX_CHARTS, 0), parent=parent, children=kids,
            is_sweep=run.data.tags.get(T.RUN_TYPE) == "sweep", path=path, listing=listing,
            preview=shown, artifacts_refused=refused,
        )  # fmt: skip

    @router.get("/runs/{run_id}/metric.csv")
    @plain
    def metric_csv(run_id: str, key: str) -> Response:
        history = store.get_metric_history(run_id, key)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["step", "timestamp", "value"])
        writer.writerows((p.step, p.timestamp, p.value) for p in history)
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", key)
        return Response(
            out.getvalue(),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{run_id}-{name}.csv"'},
        )

    def _open(run_id: str, path: str) -> Iterator[bytes]:
        repo = run_repository(store.get_run(run_id), artifacts)
        fh = repo.open_read(path)

        def pieces() -> Iterator[bytes]:
            with fh:
                while piece := fh.read(1 << 20):
                    yield piece

        return pieces()

    @router.get("/runs/{run_id}/artifact")
    @plain
    def artifact_file(run_id: str, path: str, inline: int = 0) -> StreamingResponse:
        """The file, as a download; images (``inline=1``) with their type, sandboxed."""
        body = _open(run_id, path)
        ext = Path(path).suffix.lower()
        headers = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": ARTIFACT_CSP}
        if inline and ext in IMAGE_TYPES:
            return StreamingResponse(body, media_type=IMAGE_TYPES[ext], headers=headers)
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(path).name) or "artifact"
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return StreamingResponse(body, media_type="application/octet-stream", headers=headers)

    @router.get("/runs/{run_id}/artifact-frame")
    @plain
    def artifact_frame(run_id: str, path: str) -> StreamingResponse:
        """An HTML artifact for the sandboxed iframe: no script, no network, opaque origin."""
        if kind_of(path) != "html":
            raise InvalidInput(f"{path!r} is not an HTML artifact")
        headers = {
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": ARTIFACT_CSP,
            "X-Frame-Options": "SAMEORIGIN",  # framed by the run page (DENY elsewhere)
        }
        return StreamingResponse(_open(run_id, path), media_type="text/html", headers=headers)

    @router.get("/compare", response_class=HTMLResponse)
    @page
    def compare(
        request: Request,
        runs: Annotated[list[str], Query()] = [],  # noqa: B006 (FastAPI copies the default)
        experiment: str = "",
        filter: str = "",
        x: str = "",
        y: str = "",
        color: str = "",
        history: str = "",
        all: int = 0,
        cx: str = "",
        cy: str = "",
        box: str = "",
    ) -> HTMLResponse:
        ids = [i for raw in runs for i in raw.split(",") if i]
        bad = [i for i in ids if not _RUN_ID.fullmatch(i)]
        if bad:
            raise InvalidInput(f"not a run id: {bad[0]!r}")
        view = compare_view(
            store, ids, experiment, filter, x, y, color, history, bool(all), (cx, cy), box
        )
        return render(request, "compare.html", view=view, show_all=bool(all))

    @router.get("/sweeps/{run_id}", response_class=HTMLResponse)
    @page
    def sweep(request: Request, run_id: str) -> HTMLResponse:
        view = sweep_view(store, store.get_run(run_id), importance_cache)
        return render(request, "sweep.html", view=view, now=now_ms())

    @router.get("/sweeps/{run_id}/updates")
    @plain
    def sweep_changes(run_id: str, since: int = 0) -> JSONResponse:
        """What changed in a sweep since ``since`` (epoch ms): its status, the counts, the
        trial rows that started or ended since (HTML), and newly finished trials' values."""
        now = now_ms()
        parent = store.get_run(run_id)
        changed, counts = sweep_updates(store, parent, since - UPDATE_OVERLAP_MS)
        best_id = parent.data.tags.get(T.BEST_RUN)
        return JSONResponse(
            {
                "now": now,
                "status": parent.info.status.value,
                "counts": ENV.get_template("sweep_counts.html").render(counts=counts),
                "rows": ENV.get_template("sweep_rows.html").render(trials=changed, best_id=best_id),
                "finished": [[t.number, t.value] for t in changed if t.finished],
            },
            headers={"Cache-Control": "no-store"},
        )

    @router.get("/models", response_class=HTMLResponse)
    @page
    def models(request: Request) -> HTMLResponse:
        found = store.search_registered_models(max_results=1000)
        return render(request, "models.html", models=found)

    @router.get("/models/{name}", response_class=HTMLResponse)
    @page
    def model(request: Request, name: str) -> HTMLResponse:
        registered = store.get_registered_model(name)
        quoted = name.replace("'", "''")
        versions = store.search_model_versions(f"name = '{quoted}'", max_results=1000)
        by_version: dict[int, list[str]] = {}
        for alias, version in registered.aliases.items():
            by_version.setdefault(version, []).append(alias)
        user = getattr(request.state, "user", None)
        return render(
            request, "model.html", model=registered,
            versions=sorted(versions, key=lambda v: -v.version), aliases=by_version,
            can_edit=user is None or user.at_least(Role.EDITOR), stages=list(ModelStage),
        )  # fmt: skip

    def _edit_model(request: Request, name: str, fields: dict[str, str], action: str) -> Any:
        """One edit of a registered model from its page, then back to the page."""
        user = getattr(request.state, "user", None)
        if user is not None and not user.at_least(Role.EDITOR):
            raise PermissionDenied(
                f"user {user.name!r} (role {user.role.value}) may not change model {name!r}: "
                "it needs the editor role"
            )
        if action == "alias":
            store.set_registered_model_alias(name, fields.get("alias", ""), _version(fields))
        elif action == "unalias":
            store.delete_registered_model_alias(name, fields.get("alias", ""))
        else:
            stage = ModelStage.parse(fields.get("stage", ""))
            archive = fields.get("archive_existing") == "1"
            store.transition_model_version_stage(name, _version(fields), stage, archive)
        return RedirectResponse(f"/models/{urllib.parse.quote(name, safe='')}", 303)

    edit_model = page(_edit_model)

    @router.post("/models/{name}/edit/{action}")
    async def model_edit(request: Request, name: str, action: str) -> Response:
        """Move an alias (``alias``), remove one (``unalias``) or a version's stage
        (``stage``): editors only, with the page's CSRF token."""
        if action not in ("alias", "unalias", "stage"):
            raise HTTPException(404, f"no model edit {action!r}")
        try:
            fields = await form_fields(request)
        except TunetrackError as exc:
            return render(request, "error.html", exc.http_status, message=exc.message)
        return await run_in_threadpool(edit_model, request=request, name=name, fields=fields,
                                       action=action)  # fmt: skip

    return router


def _version(fields: dict[str, str]) -> int:
    raw = fields.get("version", "")
    if not raw.isdigit():
        raise InvalidInput(f"a model version is a positive whole number, not {raw!r}")
    return int(raw)


def mount_ui(
    app: FastAPI,
    store: SqlStore,
    artifacts: ArtifactRepository | None = None,
    dependencies: Sequence[Any] = (),
) -> None:
    """Serve the UI's pages from ``app`` (``dependencies``: e.g. the current user)."""
    app.include_router(ui_router(store, artifacts), dependencies=list(dependencies))
