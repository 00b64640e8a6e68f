"""RestStore: the Store interface over HTTP, against a ``tunetrack server``.

``tunetrack.set_tracking_uri("http://host:5000")`` (or ``TUNETRACK_TRACKING_URI``) selects it,
and everything above the Store interface works unchanged. The server's JSON errors are
raised again as the same exception types (by error code).

Every request is retried with backoff while the server cannot be reached (see
:mod:`tunetrack.store._http`); one that must not be repeated is made safe to repeat.

Metric points are sent exactly once: each batch (the batched writer's, or a ``log_batch``
with metrics) carries this store's writer id (one per instance and process) and a sequence
number, a retry re-sends the same pair, and the server skips a pair it has written before.
A batch whose fate stayed unknown (the server went away mid-request for longer than the
retry window) is remembered: when the batched writer sends those points again at the front
of its next batch, they go under their first sequence number. Each batch also tells the
server the lowest sequence number this store may still send (``acked_below``: one in flight
or of unknown fate), so the server forgets the ids below it.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import uuid
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from pydantic import BaseModel

from tunetrack import _validation as v
from tunetrack.entities import (
    Experiment,
    GcReport,
    Metric,
    PagedList,
    Param,
    Run,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from tunetrack.errors import Conflict, NotFound, TunetrackError
from tunetrack.server.api import schemas as s
from tunetrack.store._http import DoneBefore, HttpSession, ServerUnreachable
from tunetrack.store._rows import checked_acked_below, checked_batch_id, checked_metric_rows
from tunetrack.store.artifacts_http import proxied_to_url, url_to_proxied
from tunetrack.store.base import MetricRow, Store
from tunetrack.store.rest_registry import RestRegistryMixin, checked_tags

_M = TypeVar("_M", bound=BaseModel)


class RestStore(RestRegistryMixin, Store):
    """A :class:`~tunetrack.store.base.Store` served by a tunetrack server at ``base_url``.

    ``retry_for`` is how long (seconds) a request keeps being retried while the server
    cannot be reached, e.g. while it restarts.
    """

    def __init__(self, base_url: str, *, timeout: float = 60.0, retry_for: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = HttpSession(self.base_url, timeout=timeout, retry_for=retry_for)
        self._new_writer()
        _open_stores.add(self)

    def __repr__(self) -> str:
        return f"RestStore({self.base_url!r})"

    def _new_writer(self) -> None:
        """A fresh writer identity (at creation and in a forked child)."""
        self._writer_id = uuid.uuid4().hex
        self._seq = itertools.count(1)
        self._unacked: tuple[int, list[MetricRow]] | None = None
        self._open: set[int] = set()  # seqs that may still be sent: in flight or unacked
        self._rows_lock = threading.Lock()

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    # -- transport ---------------------------------------------------------------------
    def _get(self, path: str, model: type[_M], **params: Any) -> _M:
        return model.model_validate_json(self._http.call("GET", path, params=params))

    def _post(
        self,
        path: str,
        model: type[_M],
        body: dict[str, Any],
        *,
        idempotent: bool,
        done_if: type[TunetrackError] | None = None,
    ) -> _M:
        data = self._http.call("POST", path, json_body=body, idempotent=idempotent, done_if=done_if)
        return model.model_validate_json(data)

    def _do(
        self,
        path: str,
        body: dict[str, Any],
        *,
        idempotent: bool,
        done_if: type[TunetrackError] | None = None,
    ) -> None:
        """Send a request; one that ``done_if`` says a lost first attempt did is done."""
        with contextlib.suppress(DoneBefore):
            self._http.call("POST", path, json_body=body, idempotent=idempotent, done_if=done_if)

    # -- artifact locations: tunetrack-artifacts:/… <-> this server's proxy URL ------------
    def _experiment(self, e: Experiment) -> Experiment:
        return replace(e, artifact_location=proxied_to_url(e.artifact_location, self.base_url))

    def _info(self, info: RunInfo) -> RunInfo:
        return replace(info, artifact_uri=proxied_to_url(info.artifact_uri, self.base_url))

    def _run(self, run: Run) -> Run:
        return replace(run, info=self._info(run.info))

    # -- experiments -------------------------------------------------------------------
    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> str:
        """Create an experiment with a unique ``name`` and return its id."""
        body = {
            "name": name,
            "artifact_location": artifact_location
            and url_to_proxied(artifact_location, self.base_url),
            "tags": checked_tags(tags),
        }
        try:
            created = self._post(
                "/api/experiments/create",
                s.ExperimentIdResponse,
                body,
                idempotent=False,
                done_if=Conflict,
            )
        except DoneBefore as done:  # our first attempt created it; its answer was lost
            found = self.get_experiment_by_name(name)
            if found is None:
                raise done.error from None
            return found.experiment_id
        return created.experiment_id

    def get_experiment(self, experiment_id: str) -> Experiment:
        """Return the experiment with this id (active or deleted)."""
        got = self._get(
            "/api/experiments/get", s.ExperimentResponse, experiment_id=str(experiment_id)
        )
        return self._experiment(got.experiment)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """Return the experiment with this name, or ``None``."""
        got = self._get("/api/experiments/get-by-name", s.MaybeExperimentResponse, name=name)
        return None if got.experiment is None else self._experiment(got.experiment)

    def search_experiments(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        filter_string: str | None = None,
        max_results: int = 1000,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        """Experiments matching ``filter_string`` (``name``, ``tags.*``, times)."""
        body = {
            "view_type": ViewType.parse(view_type).value,
            "filter_string": filter_string,
            "max_results": max_results,
            "order_by": None if order_by is None else list(order_by),
            "page_token": page_token,
        }
        page = self._post("/api/experiments/search", s.ExperimentsPage, body, idempotent=True)
        return PagedList([self._experiment(e) for e in page.experiments], page.next_page_token)

    def gc(
        self,
        *,
        older_than: int | None = None,
        experiment_ids: Sequence[str] | None = None,
        dry_run: bool = False,
    ) -> GcReport:
        """Have the server remove for good what is deleted (its files too); a real one is
        not resent once sent (the server may have done it: run it again to be sure)."""
        body = {
            "older_than": older_than,
            "experiment_ids": None if experiment_ids is None else [str(e) for e in experiment_ids],
            "dry_run": dry_run,
        }
        report = self._post("/api/gc", s.GcResponse, body, idempotent=dry_run).report
        locations = [proxied_to_url(uri, self.base_url) for uri in report.artifacts]
        return replace(report, artifacts=tuple(locations))

    def delete_experiment(self, experiment_id: str) -> None:
        """Soft-delete an experiment and its runs."""
        self._do("/api/experiments/delete", {"experiment_id": str(experiment_id)}, idempotent=True)

    def restore_experiment(self, experiment_id: str) -> None:
        """Undo :meth:`delete_experiment`."""
        self._do("/api/experiments/restore", {"experiment_id": str(experiment_id)}, idempotent=True)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Give an experiment a new unique name."""
        body = {"experiment_id": str(experiment_id), "new_name": new_name}
        self._do("/api/experiments/rename", body, idempotent=False, done_if=Conflict)

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        """Set (or overwrite) one experiment tag."""
        ((key, value),) = checked_tags({key: value}).items()
        body = {"experiment_id": str(experiment_id), "key": key, "value": value}
        self._do("/api/experiments/set-tag", body, idempotent=True)

    # -- runs --------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        *,
        start_time: int,
        user_id: str = "",
        run_name: str | None = None,
        tags: Mapping[str, str] | None = None,
        parent_run_id: str | None = None,
        run_id: str | None = None,
        status: RunStatus = RunStatus.RUNNING,
        params: Mapping[str, str] | None = None,
    ) -> Run:
        """Create a run in an active experiment, nested under ``parent_run_id`` if given.

        Without a ``run_id`` this store picks one, so a retry after a lost response finds
        the run it created instead of creating a second one.
        """
        chosen = run_id is None
        new_id = uuid.uuid4().hex if run_id is None else run_id
        body = {
            "experiment_id": str(experiment_id),
            "start_time": start_time,
            "user_id": user_id,
            "run_name": run_name,
            "tags": checked_tags(tags),
            "parent_run_id": parent_run_id,
            "run_id": new_id,
            "status": RunStatus.parse(status).value,
            "params": checked_tags(params, "param"),
        }
        try:
            created = self._post("/api/runs/create", s.RunResponse, body, idempotent=chosen)
        except Conflict:
            if not chosen:
                raise
            return self.get_run(new_id)  # our first attempt created it
        return self._run(created.run)

    def get_run(self, run_id: str) -> Run:
        """Return the run with its latest metrics, params and tags."""
        return self._run(self._get("/api/runs/get", s.RunResponse, run_id=run_id).run)

    def update_run_info(
        self,
        run_id: str,
        *,
        status: RunStatus | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        """Change a run's status, end time or name; return the new info."""
        body = {
            "run_id": run_id,
            "status": None if status is None else RunStatus.parse(status).value,
            "end_time": end_time,
            "run_name": run_name,
        }
        updated = self._post("/api/runs/update", s.RunInfoResponse, body, idempotent=True)
        return self._info(updated.run_info)

    def delete_run(self, run_id: str) -> None:
        """Soft-delete a run."""
        self._do("/api/runs/delete", {"run_id": run_id}, idempotent=True)

    def restore_run(self, run_id: str) -> None:
        """Undo :meth:`delete_run`."""
        self._do("/api/runs/restore", {"run_id": run_id}, idempotent=True)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
        *,
        batch_id: tuple[str, int] | None = None,
    ) -> None:
        """Write metrics, params and tags of one run in one transaction. Metrics go under a
        batch id (this store's unless ``batch_id``), so a retry never doubles them."""
        rows = checked_metric_rows([(run_id, m.key, m.step, m.timestamp, m.value) for m in metrics])
        body: dict[str, Any] = {
            "run_id": run_id,
            "metrics": [
                {"key": key, "value": value, "timestamp": timestamp, "step": step}
                for _, key, step, timestamp, value in rows
            ],
            "params": [{"key": k, "value": val} for p in params for k, val in _pair(p, "param")],
            "tags": [{"key": k, "value": val} for t in tags for k, val in _pair(t, "tag")],
        }
        if batch_id is not None or not metrics:  # params and tags may be written twice
            if batch_id is not None:
                body["writer_id"], body["seq"] = checked_batch_id(batch_id)
            self._do("/api/runs/log-batch", body, idempotent=True)
            return
        seq = next(self._seq)
        body["writer_id"], body["seq"] = self._writer_id, seq
        with self._rows_lock:  # open while it may be resent: no acked_below passes it
            self._open.add(seq)
        try:
            self._do("/api/runs/log-batch", body, idempotent=True)
        finally:
            with self._rows_lock:
                self._open.discard(seq)

    def log_metric_rows(
        self,
        rows: Sequence[MetricRow],
        *,
        validated: bool = False,
        batch_id: tuple[str, int] | None = None,
        acked_below: int | None = None,
    ) -> None:
        """Bulk path of the batched writer, sent exactly once (see the module docstring).
        With a ``batch_id`` of the caller's, the caller keeps the ids and ``acked_below``."""
        if not rows:
            return
        if not validated:
            rows = checked_metric_rows(rows)
        if batch_id is not None:
            batch = checked_batch_id(batch_id)
            self._send_rows(rows, batch, checked_acked_below(acked_below, batch))
            return
        checked_acked_below(acked_below, None)
        with self._rows_lock:
            unacked, self._unacked = self._unacked, None
        if unacked is not None:
            seq, earlier = unacked
            if len(rows) >= len(earlier) and list(rows[: len(earlier)]) == earlier:
                self._send_tracked(earlier, seq)  # the same points, the same batch id
                rows = rows[len(earlier) :]
                if not rows:
                    return
            else:
                with self._rows_lock:
                    self._open.discard(seq)  # its points are not coming back: never resent
        self._send_tracked(list(rows), next(self._seq))

    def _send_tracked(self, rows: list[MetricRow], seq: int) -> None:
        with self._rows_lock:
            self._open.add(seq)
            acked_below = min(self._open)
        try:
            self._send_rows(rows, (self._writer_id, seq), acked_below)
        except ServerUnreachable:
            with self._rows_lock:  # written or not: only the server knows
                if self._unacked is not None and self._unacked[0] != seq:
                    self._open.discard(self._unacked[0])
                self._unacked = (seq, rows)
            raise
        except BaseException:
            with self._rows_lock:
                self._open.discard(seq)
            raise
        with self._rows_lock:
            self._open.discard(seq)

    def _send_rows(
        self, rows: Sequence[MetricRow], batch_id: tuple[str, int], acked_below: int | None = None
    ) -> None:
        writer_id, seq = batch_id
        body: dict[str, Any] = {"rows": list(rows), "writer_id": writer_id, "seq": seq}
        if acked_below is not None:  # a server before acked_below refuses the field
            body["acked_below"] = acked_below
        self._do("/api/metrics/log-rows", body, idempotent=True)

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove one tag from a run."""
        body = {"run_id": run_id, "key": key}
        self._do("/api/runs/delete-tag", body, idempotent=False, done_if=NotFound)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of one metric of one run, ordered by step then timestamp."""
        v.validate_text(key, "metric key")  # a URL cannot carry what is not text
        return self._get(
            "/api/metrics/get-history", s.MetricHistory, run_id=run_id, key=key
        ).metrics

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        """Runs of these experiments matching the filter, sorted, one page at a time."""
        if isinstance(experiment_ids, str):
            experiment_ids = [experiment_ids]
        body = {
            "experiment_ids": [str(e) for e in experiment_ids],
            "filter_string": filter_string,
            "view_type": ViewType.parse(view_type).value,
            "max_results": max_results,
            "order_by": None if order_by is None else list(order_by),
            "page_token": page_token,
        }
        page = self._post("/api/runs/search", s.RunsPage, body, idempotent=True)
        return PagedList([self._run(r) for r in page.runs], page.next_page_token)


def _pair(item: Param | RunTag, what: str) -> list[tuple[str, str]]:
    return list((checked_tags({item.key: item.value}, what) or {}).items())


_open_stores: weakref.WeakSet[RestStore] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for store in list(_open_stores):
        store._new_writer()  # the parent's sequence numbers are the parent's


os.register_at_fork(after_in_child=_after_fork_in_child)
