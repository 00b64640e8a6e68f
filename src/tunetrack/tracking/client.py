"""Client: the tracking API by explicit ids, with no hidden state (MLflow-familiar names)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tunetrack import _validation as v
from tunetrack._clock import now_ms
from tunetrack.entities import (
    Experiment,
    FileInfo,
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
from tunetrack.errors import InvalidInput, NotFound, TunetrackError
from tunetrack.store.artifacts import ArtifactRepository
from tunetrack.store.base import Store
from tunetrack.store.tracking_uri import resolve_tracking_uri
from tunetrack.store.uri import acquire_store, open_artifacts, release_store
from tunetrack.tracking.context import current_user
from tunetrack.tracking.registry_client import RegistryClientMixin
from tunetrack.tracking.writer import MetricWriter, close_writer, existing_writer, writer_for

if TYPE_CHECKING:
    from tunetrack.data import Dataset


class Client(RegistryClientMixin):
    """Read and write experiments and runs by id.

    * **tracking_uri** - *(optional)* ``sqlite:///file.db`` or ``postgresql://…``; default
      ``$TUNETRACK_TRACKING_URI`` or ``./tunetrack.db``.

    ``log_metric`` goes through the process's batched writer; every read flushes it first,
    so a client always reads its own writes. Clients of one tracking URI share its store;
    :meth:`close` (or leaving ``with Client(...)``) gives this client's share back, and the
    last one out closes the store's connections and its writer thread.
    """

    def __init__(self, tracking_uri: str | None = None, *, store: Store | None = None) -> None:
        self.tracking_uri = resolve_tracking_uri(tracking_uri) if store is None else ""
        self._owns_store = store is not None
        self.store = store or acquire_store(self.tracking_uri)
        self._writer: MetricWriter | None = None
        self._closed = False
        self._checked_runs: set[str] = set()  # runs known to exist: log_metric checks once
        self._artifact_uris: dict[str, str] = {}  # run id -> artifact root
        self._user: str | None = None  # the login name runs record (a passwd lookup: once)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Write buffered metrics and release the store's connections and writer thread."""
        if self._closed:
            return
        self._closed = True
        self._writer = None
        if self._owns_store:
            close_writer(self.store)
            self.store.close()
        else:
            release_store(self.store, close_writer)

    # -- the batched writer --------------------------------------------------------------
    @property
    def writer(self) -> MetricWriter:
        """The batched metric writer of this client's store."""
        if self._writer is None:
            if self._closed:
                raise InvalidInput("this Client is closed: make a new one")
            self._writer = writer_for(self.store)
        return self._writer

    def flush(self, run_id: str | None = None) -> None:
        """Write every metric point logged before this call.

        Raises the error of points the store refused: those of ``run_id`` when given,
        else of any run.
        """
        writer = self._writer or existing_writer(self.store)
        if writer is not None:
            writer.flush(run_id)

    def _sync(self) -> None:
        """Read-your-writes: write what was logged so far, leaving refusals to their runs."""
        writer = self._writer or existing_writer(self.store)
        if writer is not None:
            writer.sync()

    # -- experiments ---------------------------------------------------------------------
    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> str:
        """Create an experiment; return its id."""
        return self.store.create_experiment(name, artifact_location, _str_values(tags))

    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment with this id."""
        return self.store.get_experiment(experiment_id)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment with this name, or None."""
        return self.store.get_experiment_by_name(name)

    def search_experiments(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        """Experiments matching a filter such as ``name LIKE 'iris%'``."""
        return self.store.search_experiments(
            view_type, filter_string, max_results, order_by, page_token
        )

    def delete_experiment(self, experiment_id: str) -> None:
        """Soft-delete an experiment and its runs."""
        self.store.delete_experiment(experiment_id)

    def restore_experiment(self, experiment_id: str) -> None:
        """Restore a deleted experiment and its runs."""
        self.store.restore_experiment(experiment_id)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Rename an experiment."""
        self.store.rename_experiment(experiment_id, new_name)

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        """Set one experiment tag."""
        self.store.set_experiment_tag(experiment_id, key, str(value))

    # -- runs ----------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        start_time: int | None = None,
        tags: Mapping[str, Any] | None = None,
        run_name: str | None = None,
        parent_run_id: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Run:
        """Create a RUNNING run (nested under ``parent_run_id`` if given), with its first
        ``params`` and ``tags`` written in the same transaction."""
        if self._user is None:
            self._user = current_user()
        run = self.store.create_run(
            str(experiment_id),
            start_time=now_ms() if start_time is None else int(start_time),
            user_id=self._user,
            run_name=run_name,
            tags=_str_values(tags),
            parent_run_id=parent_run_id,
            params=_str_values(params),
        )
        self._checked_runs.add(run.info.run_id)
        return run

    def get_run(self, run_id: str) -> Run:
        """The run with its latest metrics, params and tags."""
        self._sync()
        return self.store.get_run(run_id)

    def get_parent_run(self, run_id: str) -> Run | None:
        """The parent of a nested run, or None."""
        parent = self.get_run(run_id).info.parent_run_id
        return None if parent is None else self.store.get_run(parent)

    def update_run(
        self, run_id: str, status: RunStatus | str | None = None, name: str | None = None
    ) -> RunInfo:
        """Change a run's status or name."""
        return self.store.update_run_info(
            run_id, status=None if status is None else RunStatus.parse(status), run_name=name
        )

    def set_terminated(
        self,
        run_id: str,
        status: RunStatus | str = RunStatus.FINISHED,
        end_time: int | None = None,
        *,
        metrics: Sequence[Metric] = (),
        tags: Mapping[str, Any] | None = None,
    ) -> RunInfo:
        """End a run: flush its metrics, then set its final status and end time.

        ``metrics`` (its last points) and ``tags`` are written with the status, in one
        transaction where the store can (a sweep ends each trial so); a deleted run refuses
        them, and then its status is not set either. Without them, the status is set even
        when the store refused some of the run's buffered points (the run was deleted
        meanwhile, say); that refusal is raised afterwards.
        """
        refused: TunetrackError | None = None
        try:
            self.flush(run_id)
        except (InvalidInput, NotFound) as exc:
            refused = exc
        info = self.store.terminate_run(
            run_id,
            status=RunStatus.parse(status),
            end_time=now_ms() if end_time is None else end_time,
            metrics=metrics,
            tags=[RunTag(k, _stringify(val)) for k, val in (tags or {}).items()],
        )
        if refused is not None:
            raise refused
        return info

    def delete_run(self, run_id: str) -> None:
        """Soft-delete a run."""
        self._sync()
        self.store.delete_run(run_id)

    def restore_run(self, run_id: str) -> None:
        """Restore a deleted run."""
        self.store.restore_run(run_id)

    def gc(
        self,
        *,
        older_than: int | None = None,
        experiment_ids: Sequence[str] | None = None,
        dry_run: bool = False,
    ) -> GcReport:
        """Remove for good the deleted experiments and runs, with their artifacts (see
        :meth:`tunetrack.store.base.Store.gc`); ``older_than`` is in milliseconds."""
        self._sync()
        return self.store.gc(older_than=older_than, experiment_ids=experiment_ids, dry_run=dry_run)

    def search_runs(
        self,
        experiment_ids: str | Sequence[str],
        filter_string: str | None = None,
        run_view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        """Runs matching ``filter_string``, sorted by ``order_by``; one page of Runs."""
        self._sync()
        ids = [experiment_ids] if isinstance(experiment_ids, str) else list(experiment_ids)
        return self.store.search_runs(
            ids, filter_string, run_view_type, max_results, order_by, page_token
        )

    # -- logging -------------------------------------------------------------------------
    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        timestamp: int | None = None,
        step: int | None = None,
        synchronous: bool | None = None,
    ) -> None:
        """Buffer one metric point (written in the background, in batches).

        ``synchronous=True`` writes it before returning (with every point logged before it)
        and raises what the store refused of this run's points.
        """
        key = v.validate_key(key, "metric")
        value = v.to_metric_value(value, key)
        step = 0 if step is None else v.to_step(step, key)
        timestamp = now_ms() if timestamp is None else v.to_timestamp(timestamp, key)
        if run_id not in self._checked_runs:
            self.store.get_run(run_id)  # NotFound now rather than at flush time
            self._checked_runs.add(run_id)
        (self._writer or self.writer).add(run_id, key, step, timestamp, value)
        if synchronous:
            self.flush(run_id)

    def log_param(self, run_id: str, key: str, value: Any, synchronous: bool | None = None) -> Any:
        """Log one param; it cannot change afterwards. Returns ``value``.

        Params and tags are always written before returning, whatever ``synchronous`` says.
        """
        self.store.log_batch(run_id, params=[Param(key, _stringify(value))])
        return value

    def set_tag(self, run_id: str, key: str, value: Any, synchronous: bool | None = None) -> None:
        """Set one run tag (always written before returning)."""
        self.store.log_batch(run_id, tags=[RunTag(key, _stringify(value))])

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove one run tag."""
        self.store.delete_tag(run_id, key)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
        synchronous: bool | None = None,
    ) -> None:
        """Write metrics, params and tags in one transaction before returning (always)."""
        self.store.log_batch(run_id, metrics, params, tags)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of one metric, ordered by step."""
        self._sync()
        return self.store.get_metric_history(run_id, key)

    # -- artifacts -----------------------------------------------------------------------
    def _artifacts(self, run_id: str) -> ArtifactRepository:
        uri = self._artifact_uris.get(run_id)  # a run's artifact location never changes
        if uri is None:
            uri = self._artifact_uris[run_id] = self.store.get_run(run_id).info.artifact_uri
        return open_artifacts(uri)

    def log_artifact(
        self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> None:
        """Copy one local file into the run's artifacts."""
        self._artifacts(run_id).log_artifact(local_path, artifact_path)

    def log_artifacts(
        self, run_id: str, local_dir: str | os.PathLike[str], artifact_path: str | None = None
    ) -> None:
        """Copy a local directory's contents into the run's artifacts."""
        self._artifacts(run_id).log_artifacts(local_dir, artifact_path)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        """Save a string as a text artifact."""
        self._artifacts(run_id).write_bytes(artifact_file, text.encode("utf-8"))

    def log_dict(self, run_id: str, dictionary: Any, artifact_file: str) -> None:
        """Save a dict as JSON, or YAML when ``artifact_file`` ends in .yaml/.yml."""
        if artifact_file.endswith((".yaml", ".yml")):
            import yaml

            text = yaml.safe_dump(dictionary, sort_keys=False)
        else:
            text = json.dumps(dictionary, indent=2, default=str)
        self.log_text(run_id, text, artifact_file)

    def log_figure(self, run_id: str, figure: Any, artifact_file: str) -> None:
        """Save a matplotlib figure (png, svg, pdf…) or a plotly figure (html, json)."""
        from tunetrack.tracking.figures import figure_bytes

        self._artifacts(run_id).write_bytes(artifact_file, figure_bytes(figure, artifact_file))

    def log_image(self, run_id: str, image: Any, artifact_file: str) -> None:
        """Save a numpy array or PIL image as an image file (.png, .jpg...)."""
        from tunetrack.tracking.images import image_bytes

        self._artifacts(run_id).write_bytes(artifact_file, image_bytes(image, artifact_file))

    def log_table(self, run_id: str, data: Any, artifact_file: str) -> None:
        """Save a dict of lists or a DataFrame as a JSON table (MLflow's format); logging
        to the same file again appends the rows."""
        from tunetrack.tracking.tables import table_json

        if not artifact_file.endswith(".json"):
            raise InvalidInput(f"log_table writes JSON: name it *.json, not {artifact_file!r}")
        artifacts = self._artifacts(run_id)
        try:
            existing: bytes | None = artifacts.read_bytes(artifact_file)
        except NotFound:
            existing = None
        artifacts.write_bytes(artifact_file, table_json(data, existing))

    def log_input(
        self,
        run_id: str,
        dataset: Dataset,
        context: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """Record a dataset the run used (from :mod:`tunetrack.data`): tags
        ``dataset.<name>.digest`` (and ``.context``), and ``datasets/<name>.json`` with the
        digest, source, schema, profile, context and ``tags``."""
        name = v.validate_key(dataset.name, "dataset name")
        run_tags = {f"dataset.{name}.digest": dataset.digest}
        if context is not None:
            run_tags[f"dataset.{name}.context"] = context
        self.log_batch(run_id, tags=[RunTag(k, val) for k, val in run_tags.items()])
        record = {**dataset.to_dict(), "context": context, "tags": _str_values(tags)}
        self.log_dict(run_id, record, f"datasets/{name}.json")

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        """Files and directories directly under ``path`` in the run's artifacts."""
        return self._artifacts(run_id).list_artifacts(path)

    def download_artifacts(
        self, run_id: str, path: str, dst_path: str | os.PathLike[str] | None = None
    ) -> str:
        """Copy an artifact file or directory to ``dst_path`` (a temp dir by default)."""
        if dst_path is None:
            import tempfile

            dst_path = tempfile.mkdtemp(prefix="tunetrack-")
        return self._artifacts(run_id).download_artifacts(path, dst_path)


def _stringify(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _str_values(mapping: Mapping[str, Any] | None) -> dict[str, str]:
    return {k: _stringify(val) for k, val in (mapping or {}).items()}
