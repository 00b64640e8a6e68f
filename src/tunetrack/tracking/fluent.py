"""The fluent API: ``start_run`` / ``log_metric`` / ``end_run`` over an implicit active run.

A thin layer over :class:`~tunetrack.tracking.client.Client`. The tracking URI and the
active experiment are process-wide; the stack of active runs is per thread (a
``contextvars.ContextVar``), so threads and asyncio tasks nest runs independently.
Runs still active at interpreter exit are ended FINISHED; on SIGTERM they are ended
KILLED; either way every buffered metric point is written first.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from tunetrack.entities import Experiment, PagedList, Run, RunData, RunInfo, RunStatus, ViewType
from tunetrack.errors import Conflict, InvalidInput
from tunetrack.store.base import DEFAULT_EXPERIMENT_ID
from tunetrack.store.tracking_uri import resolve_tracking_uri, set_current_uri
from tunetrack.tracking.client import Client
from tunetrack.tracking.context import run_context_tags
from tunetrack.tracking.system_metrics import start_sampler

if TYPE_CHECKING:
    import pandas as pd

    from tunetrack.data import Dataset
    from tunetrack.entities import ModelVersion
    from tunetrack.tracking.system_metrics import SystemMetricsSampler

NOTE_TAG = "tunetrack.note.content"
PARENT_TAG = "tunetrack.parentRunId"
_T = TypeVar("_T")

_state_lock = threading.RLock()
_client: Client | None = None
_experiment_id: str | None = None
_stack: contextvars.ContextVar[tuple[ActiveRun, ...]] = contextvars.ContextVar(
    "tunetrack_active_runs", default=()
)
_live: dict[str, ActiveRun] = {}  # active runs of every thread, ended at exit
_last_run_id: str | None = None
_terminating = False


class ActiveRun:
    """The run that ``start_run`` made active; ends it when used as a context manager.

    Leaving the ``with`` block ends the run FINISHED, FAILED on an exception, KILLED on
    KeyboardInterrupt or SystemExit.
    """

    def __init__(
        self, run: Run, client: Client, sampler: SystemMetricsSampler | None = None
    ) -> None:
        self._run = run
        self.client = client  #: the client of the store this run lives in
        self._sampler = sampler  # system metrics, stopped when the run ends

    @property
    def info(self) -> RunInfo:
        """The run's :class:`~tunetrack.entities.RunInfo` as it was when it started."""
        return self._run.info

    @property
    def data(self) -> RunData:
        """The run's :class:`~tunetrack.entities.RunData` as it was when it started."""
        return self._run.data

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: object, tb: object) -> None:
        if exc_type is None:
            status = RunStatus.FINISHED
        elif issubclass(exc_type, KeyboardInterrupt | SystemExit):
            status = RunStatus.KILLED
        else:
            status = RunStatus.FAILED
        _end(self, status)

    def __repr__(self) -> str:
        return f"<ActiveRun run_id={self.info.run_id!r} name={self.info.run_name!r}>"


# -- tracking URI and experiment ---------------------------------------------------------
def set_tracking_uri(uri: str | None) -> None:
    """Track into ``uri`` from now on (``sqlite:///file.db``, ``postgresql://…``)."""
    global _client
    with _state_lock:
        set_current_uri(uri)
        _client = None


def get_tracking_uri() -> str:
    """The tracking URI in use (set_tracking_uri, $TUNETRACK_TRACKING_URI, ./tunetrack.db)."""
    return resolve_tracking_uri()


def default_client() -> Client:
    """The client of the current tracking URI that the fluent API uses (made on first use)."""
    global _client
    client = _client
    if client is None:
        with _state_lock:
            if _client is None:
                _client = Client(get_tracking_uri())
            client = _client
    return client


def set_experiment(
    experiment_name: str | None = None, experiment_id: str | None = None
) -> Experiment:
    """Make an experiment active for new runs, creating it by name if needed."""
    global _experiment_id
    client = default_client()
    if (experiment_name is None) == (experiment_id is None):
        raise InvalidInput("set_experiment needs exactly one of experiment_name, experiment_id")
    if experiment_name is None:
        experiment = client.get_experiment(str(experiment_id))
    else:
        found = client.get_experiment_by_name(experiment_name)
        if found is None:
            with contextlib.suppress(Conflict):  # another process created it meanwhile
                client.create_experiment(experiment_name)
            found = client.get_experiment_by_name(experiment_name)
        assert found is not None
        experiment = found
    if experiment.lifecycle_stage != "active":
        raise InvalidInput(
            f"experiment {experiment.name!r} (id {experiment.experiment_id}) is deleted: "
            "restore it or choose another name"
        )
    with _state_lock:
        _experiment_id = experiment.experiment_id
    return experiment


def _active_experiment_id() -> str:
    if _experiment_id is not None:
        return _experiment_id
    if "TUNETRACK_EXPERIMENT_ID" in os.environ:
        return os.environ["TUNETRACK_EXPERIMENT_ID"]
    if "TUNETRACK_EXPERIMENT_NAME" in os.environ:
        return set_experiment(os.environ["TUNETRACK_EXPERIMENT_NAME"]).experiment_id
    return DEFAULT_EXPERIMENT_ID


# -- runs ------------------------------------------------------------------------------
def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    parent_run_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
    description: str | None = None,
    log_system_metrics: bool | None = None,
    log_system_context: bool = True,
) -> ActiveRun:
    """Start a run (or resume ``run_id``) and make it the active run of this thread.

    ``nested=True`` nests it under the active run; ``parent_run_id`` nests it under a run
    started elsewhere (another process). Use it as a context manager to end it.
    ``log_system_metrics`` samples CPU, memory, disk and network into ``system/*`` metrics
    until the run ends (None: as $TUNETRACK_LOG_SYSTEM_METRICS or
    :func:`~tunetrack.enable_system_metrics_logging` say).
    """
    global _last_run_id
    client = default_client()
    stack = _stack.get()
    if stack and not nested and parent_run_id is None and run_id is None:
        raise InvalidInput(
            f"run {stack[-1].info.run_id} is already active: end it with end_run(), or start "
            "a nested run with start_run(nested=True)"
        )
    if nested and stack and parent_run_id is None:
        parent_run_id = stack[-1].info.run_id
    if run_id is not None:
        run = client.get_run(run_id)
        if run.info.lifecycle_stage != "active":
            raise InvalidInput(f"run {run_id!r} is deleted: restore it to resume it")
        client.update_run(run_id, status=RunStatus.RUNNING, name=run_name)
        run = client.get_run(run_id)
    else:
        all_tags = dict(run_context_tags()) if log_system_context else {}
        all_tags.update(tags or {})
        if description is not None:
            all_tags[NOTE_TAG] = description
        if parent_run_id is not None:
            all_tags[PARENT_TAG] = parent_run_id
        run = client.create_run(
            experiment_id or _active_experiment_id(),
            tags=all_tags,
            run_name=run_name,
            parent_run_id=parent_run_id,
        )
    active = ActiveRun(run, client, start_sampler(client, run.info.run_id, log_system_metrics))
    _stack.set((*stack, active))
    with _state_lock:
        _live[run.info.run_id] = active
        _last_run_id = run.info.run_id
    _install_sigterm_handler()
    return active


@contextlib.contextmanager
def activated(run: Run, client: Client | None = None) -> Iterator[ActiveRun]:
    """Make an existing run this thread's active run for a block, without ending it.

    Sweep workers use it: the orchestrator created the trial's run and decides its status.
    """
    active = ActiveRun(run, client or default_client())
    token = _stack.set((*_stack.get(), active))
    try:
        yield active
    finally:
        _stack.reset(token)


def _end(active: ActiveRun, status: RunStatus) -> None:
    stack = _stack.get()
    if active in stack:
        _stack.set(tuple(r for r in stack if r is not active))
    with _state_lock:
        live = _live.pop(active.info.run_id, None)
    if active._sampler is not None:
        active._sampler.stop()
    if live is not None:
        active.client.set_terminated(active.info.run_id, status)


def end_run(status: RunStatus | str = RunStatus.FINISHED) -> None:
    """End the active run of this thread (flushing its metrics first)."""
    stack = _stack.get()
    if stack:
        _end(stack[-1], RunStatus.parse(status))


def active_run() -> ActiveRun | None:
    """The active run of this thread, or None."""
    stack = _stack.get()
    return stack[-1] if stack else None


def last_active_run() -> Run | None:
    """The run most recently started in this process (active or ended)."""
    return None if _last_run_id is None else default_client().get_run(_last_run_id)


def target_run(run_id: str | None = None) -> tuple[str, Client]:
    """A run to log into and the client of the store it lives in.

    ``run_id=None`` means this thread's active run (started on demand, as MLflow does);
    an active run's id gets that run's client; any other id, the current tracking URI's.
    """
    stack = _stack.get()
    if run_id is None:
        active = stack[-1] if stack else start_run()
        return active.info.run_id, active.client
    for active in reversed(stack):
        if active.info.run_id == run_id:
            return run_id, active.client
    return run_id, default_client()


# -- logging ---------------------------------------------------------------------------
def log_metric(
    key: str,
    value: float,
    step: int | None = None,
    synchronous: bool | None = None,
    timestamp: int | None = None,
    run_id: str | None = None,
) -> None:
    """Log a metric point to the active run or ``run_id`` (buffered; about a microsecond).

    ``synchronous=True`` writes it before returning and raises what the store refused of
    that run's points; otherwise it is written in the background, in batches.
    """
    if run_id is None:
        stack = _stack.get()
        active = stack[-1] if stack else start_run()
        active.client.log_metric(active.info.run_id, key, value, timestamp, step, synchronous)
    else:
        run_id, client = target_run(run_id)
        client.log_metric(run_id, key, value, timestamp, step, synchronous)


def log_metrics(
    metrics: Mapping[str, float],
    step: int | None = None,
    synchronous: bool | None = None,
    run_id: str | None = None,
    timestamp: int | None = None,
) -> None:
    """Log several metric points at one step (``synchronous`` as in :func:`log_metric`)."""
    run_id, client = target_run(run_id)
    for key, value in metrics.items():
        client.log_metric(run_id, key, value, timestamp, step)
    if synchronous:
        client.flush(run_id)


def flush() -> None:
    """Write every metric point logged so far into the current tracking URI's store and the
    stores of this process's active runs; raise what those stores refused."""
    with _state_lock:
        clients = {id(c): c for c in (default_client(), *(a.client for a in _live.values()))}
    for client in clients.values():
        client.flush()


flush_async_logging = flush  # MLflow's name


def log_param(key: str, value: Any, synchronous: bool | None = None) -> Any:
    """Log one param of the active run; returns ``value``. Params and tags are always
    written before returning, whatever ``synchronous`` says."""
    run_id, client = target_run()
    return client.log_param(run_id, key, value)


def log_params(
    params: Mapping[str, Any], synchronous: bool | None = None, run_id: str | None = None
) -> None:
    """Log several params of the active run (or ``run_id``) in one write."""
    from tunetrack.entities import Param

    run_id, client = target_run(run_id)
    client.log_batch(run_id, params=[Param(k, str(val)) for k, val in params.items()])


def set_tag(key: str, value: Any, synchronous: bool | None = None) -> None:
    """Set one tag of the active run."""
    run_id, client = target_run()
    client.set_tag(run_id, key, value)


def set_tags(tags: Mapping[str, Any], synchronous: bool | None = None) -> None:
    """Set several tags of the active run in one write."""
    from tunetrack.entities import RunTag

    run_id, client = target_run()
    client.log_batch(run_id, tags=[RunTag(k, str(val)) for k, val in tags.items()])


def delete_tag(key: str) -> None:
    """Remove one tag of the active run."""
    run_id, client = target_run()
    client.delete_tag(run_id, key)


def log_artifact(
    local_path: str | os.PathLike[str], artifact_path: str | None = None, run_id: str | None = None
) -> None:
    """Copy one local file into the artifacts of the active run (or ``run_id``)."""
    run_id, client = target_run(run_id)
    client.log_artifact(run_id, local_path, artifact_path)


def log_artifacts(
    local_dir: str | os.PathLike[str], artifact_path: str | None = None, run_id: str | None = None
) -> None:
    """Copy a local directory's contents into the artifacts of the active run (or ``run_id``)."""
    run_id, client = target_run(run_id)
    client.log_artifacts(run_id, local_dir, artifact_path)


def log_text(text: str, artifact_file: str, run_id: str | None = None) -> None:
    """Save a string as an artifact of the active run (or ``run_id``)."""
    run_id, client = target_run(run_id)
    client.log_text(run_id, text, artifact_file)


def log_dict(dictionary: Any, artifact_file: str, run_id: str | None = None) -> None:
    """Save a dict as JSON (or YAML for .yaml/.yml) in the run's artifacts."""
    run_id, client = target_run(run_id)
    client.log_dict(run_id, dictionary, artifact_file)


def log_figure(figure: Any, artifact_file: str) -> None:
    """Save a matplotlib or plotly figure in the active run's artifacts."""
    run_id, client = target_run()
    client.log_figure(run_id, figure, artifact_file)


def log_image(image: Any, artifact_file: str) -> None:
    """Save a numpy array (HxW, HxWx3, HxWx4; 0-255 or floats in 0-1) or a PIL image in the
    active run's artifacts, in the format the extension names (.png, .jpg...)."""
    run_id, client = target_run()
    client.log_image(run_id, image, artifact_file)


def log_table(data: Any, artifact_file: str, run_id: str | None = None) -> None:
    """Save a dict of lists or a pandas DataFrame as a JSON table (MLflow's format) in the
    run's artifacts; logging to the same file again appends the rows."""
    run_id, client = target_run(run_id)
    client.log_table(run_id, data, artifact_file)


def log_input(
    dataset: Dataset, context: str | None = None, tags: Mapping[str, Any] | None = None
) -> None:
    """Record a dataset the active run used (``tunetrack.data.from_pandas``/``from_numpy``):
    its digest as tag ``dataset.<name>.digest``, its schema and profile in
    ``datasets/<name>.json``; ``context`` says how it was used (``training``, ``eval``...)."""
    run_id, client = target_run()
    client.log_input(run_id, dataset, context, tags)


def get_artifact_uri(artifact_path: str | None = None) -> str:
    """Where the active run's artifacts (or one of them) are stored."""
    run_id, client = target_run()
    root = client.get_run(run_id).info.artifact_uri
    return root if not artifact_path else f"{root}/{artifact_path.lstrip('/')}"


# -- reading ---------------------------------------------------------------------------
def get_run(run_id: str) -> Run:
    """The run with this id."""
    return default_client().get_run(run_id)


def get_parent_run(run_id: str) -> Run | None:
    """The parent of a nested run, or None."""
    return default_client().get_parent_run(run_id)


def delete_run(run_id: str) -> None:
    """Soft-delete a run."""
    default_client().delete_run(run_id)


def register_model(
    model_uri: str,
    name: str,
    await_registration_for: int = 300,
    *,
    tags: Mapping[str, Any] | None = None,
) -> ModelVersion:
    """Register the model at ``runs:/<run_id>/<path>`` as the next version of ``name``.

    Registration is synchronous here: the version is ready when this returns, so
    ``await_registration_for`` has nothing to wait for.
    """
    return default_client().register_model(model_uri, name, tags)


def set_experiment_tag(key: str, value: Any) -> None:
    """Set one tag of the active experiment."""
    default_client().set_experiment_tag(_active_experiment_id(), key, value)


def set_experiment_tags(tags: Mapping[str, Any]) -> None:
    """Set several tags of the active experiment."""
    client, experiment_id = default_client(), _active_experiment_id()
    for key, value in tags.items():
        client.set_experiment_tag(experiment_id, key, value)


def create_experiment(
    name: str, artifact_location: str | None = None, tags: Mapping[str, Any] | None = None
) -> str:
    """Create an experiment; return its id."""
    return default_client().create_experiment(name, artifact_location, tags)


def get_experiment(experiment_id: str) -> Experiment:
    """The experiment with this id."""
    return default_client().get_experiment(experiment_id)


def get_experiment_by_name(name: str) -> Experiment | None:
    """The experiment with this name, or None."""
    return default_client().get_experiment_by_name(name)


def delete_experiment(experiment_id: str) -> None:
    """Soft-delete an experiment and its runs."""
    default_client().delete_experiment(experiment_id)


def search_experiments(
    view_type: ViewType = ViewType.ACTIVE_ONLY,
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: Sequence[str] | None = None,
) -> list[Experiment]:
    """Experiments matching a filter (all pages, or at most ``max_results``)."""
    client = default_client()
    return _all_pages(
        lambda size, token: client.search_experiments(
            view_type, size, filter_string, order_by, token
        ),
        max_results,
    )


def search_runs(
    experiment_ids: Sequence[str] | None = None,
    filter_string: str | None = None,
    run_view_type: ViewType = ViewType.ACTIVE_ONLY,
    max_results: int = 100_000,
    order_by: Sequence[str] | None = None,
    output_format: str = "pandas",
    search_all_experiments: bool = False,
    experiment_names: Sequence[str] | None = None,
) -> pd.DataFrame | list[Run]:
    """Runs as a DataFrame (columns ``params.*``, ``metrics.*``, ``tags.*``) or a list.

    With no experiment given: the active experiment's runs, or every experiment's with
    ``search_all_experiments=True``.
    """
    client = default_client()
    ids = list(experiment_ids or [])
    for name in experiment_names or ():
        found = client.get_experiment_by_name(name)
        if found is None:
            raise InvalidInput(f"no experiment named {name!r}")
        ids.append(found.experiment_id)
    if not ids and search_all_experiments:
        ids = [e.experiment_id for e in search_experiments(view_type=run_view_type)]
    if not ids:
        ids = [_active_experiment_id()]
    runs = _all_pages(
        lambda size, token: client.search_runs(
            ids, filter_string, run_view_type, size, order_by, token
        ),
        max_results,
    )
    if output_format == "list":
        return runs
    if output_format != "pandas":
        raise InvalidInput(f"output_format must be 'pandas' or 'list', got {output_format!r}")
    from tunetrack.tracking.frames import runs_to_frame

    return runs_to_frame(runs)


def _all_pages(fetch: Callable[[int, str | None], PagedList[_T]], limit: int | None) -> list[_T]:
    items: list[_T] = []
    token = None
    while limit is None or len(items) < limit:
        size = 50_000 if limit is None else min(50_000, limit - len(items))
        page = fetch(size, token)
        items.extend(page)
        token = page.token
        if token is None:
            break
    return items


# -- exit and SIGTERM --------------------------------------------------------------------
def _end_live_runs() -> None:
    status = RunStatus.KILLED if _terminating else RunStatus.FINISHED
    with _state_lock:
        live = list(_live.values())
    for active in reversed(live):
        try:
            _end(active, status)
        except Exception as exc:  # report, keep ending the others
            sys.stderr.write(f"tunetrack: could not end run {active.info.run_id}: {exc}\n")


def _on_sigterm(signum: int, frame: object) -> None:
    global _terminating
    _terminating = True
    # Unwind the main thread: with-blocks end their runs KILLED, the writer puts back a
    # batch it was writing, and atexit writes what is still buffered.
    raise SystemExit(128 + signum)


def _install_sigterm_handler() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)


atexit.register(_end_live_runs)


def _after_fork_in_child() -> None:
    # The parent's live runs stay the parent's to end: a child that exits normally must not
    # end them FINISHED behind the parent's back (it may still log into them).
    global _state_lock
    _state_lock = threading.RLock()
    _live.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)
