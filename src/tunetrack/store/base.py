"""The Store interface: the one seam between tunetrack's API and every backend.

Contract (every backend):

- Thread-safe: one instance may be shared by all threads of a process.
- Returned records (:mod:`tunetrack.entities`) are immutable snapshots; later writes never
  change an object already returned.
- Ids are strings. Timestamps are integer milliseconds since the epoch.
- A param, once logged, is immutable: logging the same value again is a no-op, a different
  value raises :class:`~tunetrack.errors.Conflict` and leaves the first value.
- Metric values are floats; NaN and ±inf are stored and read back.
- Missing objects raise :class:`~tunetrack.errors.NotFound`; bad arguments
  :class:`~tunetrack.errors.InvalidInput`; backend failures :class:`~tunetrack.errors.StoreError`.
- Deleting is soft (lifecycle stage ``deleted``) and can be undone with ``restore_*``.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence

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
from tunetrack.store.registry import ModelRegistry

#: One metric point as the batched writer hands it over: (run_id, key, step, timestamp, value).
MetricRow = tuple[str, str, int, int, float]

#: Default experiment that runs land in when none is set.
DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"


class Store(ModelRegistry):
    """Where experiments, runs, params, tags, metrics and registered models are kept."""

    # -- experiments ---------------------------------------------------------------
    @abc.abstractmethod
    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> str:
        """Create an experiment with a unique ``name`` and return its id."""

    @abc.abstractmethod
    def get_experiment(self, experiment_id: str) -> Experiment:
        """Return the experiment with this id (active or deleted)."""

    @abc.abstractmethod
    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """Return the experiment with this name, or ``None``."""

    @abc.abstractmethod
    def search_experiments(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        filter_string: str | None = None,
        max_results: int = 1000,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        """Experiments matching ``filter_string`` (``name``, ``tags.*``, times)."""

    @abc.abstractmethod
    def delete_experiment(self, experiment_id: str) -> None:
        """Soft-delete an experiment and its runs."""

    @abc.abstractmethod
    def restore_experiment(self, experiment_id: str) -> None:
        """Undo :meth:`delete_experiment`."""

    @abc.abstractmethod
    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Give an experiment a new unique name."""

    @abc.abstractmethod
    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        """Set (or overwrite) one experiment tag."""

    # -- runs ------------------------------------------------------------------------
    @abc.abstractmethod
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

        ``params`` are logged in the same transaction (a sweep trial's proposal).
        """

    @abc.abstractmethod
    def get_run(self, run_id: str) -> Run:
        """Return the run with its latest metrics, params and tags."""

    @abc.abstractmethod
    def update_run_info(
        self,
        run_id: str,
        *,
        status: RunStatus | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        """Change a run's status, end time or name; return the new info."""

    def terminate_run(
        self,
        run_id: str,
        *,
        status: RunStatus,
        end_time: int,
        metrics: Sequence[Metric] = (),
        tags: Sequence[RunTag] = (),
    ) -> RunInfo:
        """End a run: write its last ``metrics`` and ``tags`` (refused for a deleted run,
        as :meth:`log_batch` refuses them), then set ``status`` and ``end_time``; return
        the new info. A store that can does it all in one transaction; this default takes
        two, the status second.
        """
        if metrics or tags:
            self.log_batch(run_id, metrics=metrics, tags=tags)
        return self.update_run_info(run_id, status=status, end_time=end_time)

    @abc.abstractmethod
    def delete_run(self, run_id: str) -> None:
        """Soft-delete a run."""

    @abc.abstractmethod
    def restore_run(self, run_id: str) -> None:
        """Undo :meth:`delete_run`."""

    @abc.abstractmethod
    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
        *,
        batch_id: tuple[str, int] | None = None,
    ) -> None:
        """Write metrics, params and tags of one run in one transaction.

        ``batch_id=(writer_id, seq)`` makes the write happen once, as in
        :meth:`log_metric_rows` (the two share one record of batch ids).
        """

    @abc.abstractmethod
    def log_metric_rows(
        self,
        rows: Sequence[MetricRow],
        *,
        validated: bool = False,
        batch_id: tuple[str, int] | None = None,
        acked_below: int | None = None,
    ) -> None:
        """Bulk path of the batched writer: insert points of any runs, update latest values.

        ``validated=True`` skips the per-row checks for rows the client already validated.
        ``batch_id=(writer_id, seq)`` makes the write happen once: a batch whose id was
        written before (a retry after a lost response) is skipped, also after a restart.
        ``acked_below`` is the writer's promise never to send a seq below it again: the
        store forgets those ids (its record of ids stays as small as the writer's retries).
        """

    @abc.abstractmethod
    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove one tag from a run."""

    @abc.abstractmethod
    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of one metric of one run, ordered by step then timestamp."""

    @abc.abstractmethod
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

    # -- garbage collection ---------------------------------------------------------
    @abc.abstractmethod
    def gc(
        self,
        *,
        older_than: int | None = None,
        experiment_ids: Sequence[str] | None = None,
        dry_run: bool = False,
    ) -> GcReport:
        """Remove for good the deleted experiments and runs: their rows in every table and
        their artifacts (this, unlike a delete, cannot be undone).

        A deleted run takes its descendants along; a deleted experiment all its runs. With
        ``older_than`` (milliseconds), only what was deleted at least that long ago; with
        ``experiment_ids``, only in those experiments. A run that is the source of a
        registered model version stays, with its ancestors and experiment
        (:attr:`GcReport.kept` says why). ``dry_run`` reports and removes nothing.
        """

    # -- conveniences built once on the interface -----------------------------------
    def log_param(self, run_id: str, key: str, value: str) -> None:
        """Log one param (see the immutability rule in the class docstring)."""
        self.log_batch(run_id, params=[Param(key, value)])

    def set_tag(self, run_id: str, key: str, value: str) -> None:
        """Set one run tag (tags may be overwritten)."""
        self.log_batch(run_id, tags=[RunTag(key, value)])

    def log_metric(self, run_id: str, metric: Metric) -> None:
        """Log one metric point synchronously (the fluent API batches instead)."""
        self.log_batch(run_id, metrics=[metric])

    def close(self) -> None:
        """Release connections. The store must not be used afterwards."""
        return None
