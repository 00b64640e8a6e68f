"""tunetrack keeps the MLflow names scripts use, with parameters passed the same way.

Every name below exists on tunetrack. When mlflow is installed, each is compared with the
real function's ``inspect.signature``: a parameter MLflow callers may pass positionally sits
at the same position here, every keyword MLflow accepts is accepted, and what is optional
there is optional here. Where tunetrack deliberately differs, :data:`DIFFERENCES` says why.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

import pytest

import tunetrack

#: tunetrack name -> MLflow name (dotted from ``tunetrack`` and ``mlflow``).
PROMISED: dict[str, str] = {
    **{
        name: name
        for name in (
            "active_run",
            "create_experiment",
            "delete_experiment",
            "delete_run",
            "delete_tag",
            "disable_system_metrics_logging",
            "enable_system_metrics_logging",
            "end_run",
            "flush_async_logging",
            "get_artifact_uri",
            "get_experiment",
            "get_experiment_by_name",
            "get_parent_run",
            "get_run",
            "get_tracking_uri",
            "last_active_run",
            "log_artifact",
            "log_artifacts",
            "log_dict",
            "log_figure",
            "log_image",
            "log_input",
            "log_metric",
            "log_metrics",
            "log_param",
            "log_params",
            "log_table",
            "log_text",
            "register_model",
            "search_experiments",
            "search_runs",
            "set_experiment",
            "set_experiment_tag",
            "set_experiment_tags",
            "set_system_metrics_sampling_interval",
            "set_tag",
            "set_tags",
            "set_tracking_uri",
            "start_run",
            "data.from_numpy",
            "data.from_pandas",
            "sklearn.log_model",
            "sklearn.load_model",
            "xgboost.log_model",
            "xgboost.load_model",
        )
    },
    "log_model": "sklearn.log_model",  # flavor-generic here; MLflow's is per flavor
    "load_model": "sklearn.load_model",  # returns the native model, like a flavor's
    **{
        f"Client.{name}": f"MlflowClient.{name}"
        for name in (
            "create_experiment",
            "create_model_version",
            "create_registered_model",
            "create_run",
            "delete_experiment",
            "delete_model_version",
            "delete_registered_model",
            "delete_registered_model_alias",
            "delete_run",
            "delete_tag",
            "download_artifacts",
            "get_experiment",
            "get_experiment_by_name",
            "get_metric_history",
            "get_model_version",
            "get_model_version_by_alias",
            "get_parent_run",
            "get_registered_model",
            "get_run",
            "list_artifacts",
            "log_artifact",
            "log_artifacts",
            "log_batch",
            "log_dict",
            "log_figure",
            "log_image",
            "log_metric",
            "log_param",
            "log_table",
            "log_text",
            "rename_experiment",
            "restore_experiment",
            "restore_run",
            "search_experiments",
            "search_model_versions",
            "search_registered_models",
            "search_runs",
            "set_experiment_tag",
            "set_model_version_tag",
            "set_registered_model_alias",
            "set_registered_model_tag",
            "set_tag",
            "set_terminated",
            "transition_model_version_stage",
            "update_model_version",
            "update_registered_model",
            "update_run",
        )
    },
}

#: tunetrack's own names beside MLflow's (no MLflow function to compare with).
TUNETRACK_ONLY = ("flush", "Client.flush", "Client.log_input", "Client.register_model")

_LOGGED_MODELS = "MLflow 3's LoggedModel entity: tunetrack keeps models as run artifacts"
_TRACES = "tracing and Unity Catalog locations are outside tunetrack"
_MODEL_LOGGING = (
    "tunetrack records library versions itself and takes model options by keyword: "
    "log_model(model, name, *, signature=, input_example=, registered_model_name=)"
)
_IMAGE_SERIES = "step-keyed image series (key=, step=) are not kept: give artifact_file"

#: name -> {MLflow parameter: why tunetrack does not take it the way MLflow does}.
DIFFERENCES: dict[str, dict[str, str]] = {
    "log_metric": {"model_id": _LOGGED_MODELS, "dataset": _LOGGED_MODELS},
    "log_metrics": {"model_id": _LOGGED_MODELS, "dataset": _LOGGED_MODELS},
    "Client.log_metric": {
        "model_id": _LOGGED_MODELS,
        "dataset_name": "datasets are run inputs here (log_input), not metric labels",
        "dataset_digest": "datasets are run inputs here (log_input), not metric labels",
    },
    "set_experiment": {"trace_location": _TRACES},
    "create_experiment": {"trace_location": _TRACES},
    "log_figure": {"save_kwargs": "the format follows the file extension"},
    "Client.log_figure": {"save_kwargs": "the format follows the file extension"},
    "log_image": {
        "artifact_file": _IMAGE_SERIES,
        "key": _IMAGE_SERIES,
        "step": _IMAGE_SERIES,
        "timestamp": _IMAGE_SERIES,
        "synchronous": "artifacts are always written before returning",
    },
    "Client.log_image": {
        "artifact_file": _IMAGE_SERIES,
        "key": _IMAGE_SERIES,
        "step": _IMAGE_SERIES,
        "timestamp": _IMAGE_SERIES,
        "synchronous": "artifacts are always written before returning",
    },
    "log_input": {
        "dataset": "required: a run input without a dataset records nothing",
        "model": _LOGGED_MODELS,
    },
    "register_model": {"env_pack": "Databricks model serving only"},
    "data.from_pandas": {
        "digest": "always computed: the sha256 of the content",
        "predictions": "evaluation datasets are not modelled",
    },
    "data.from_numpy": {"digest": "always computed: the sha256 of the content"},
    "Client.create_registered_model": {"deployment_job_id": "Databricks deployment jobs only"},
    "Client.update_registered_model": {
        "description": "required: it is the only thing to update here",
        "deployment_job_id": "Databricks deployment jobs only",
    },
    "Client.update_model_version": {
        "description": "required: it is the only thing to update here",
    },
    "Client.create_model_version": {
        "run_link": "a version links to its run by run_id, in the same store",
        "description": "keyword-only here (there is no run_link before it)",
        "await_creation_for": "versions are created synchronously (READY on return)",
        "model_id": _LOGGED_MODELS,
    },
    "Client.search_registered_models": {
        "order_by": "registered models come sorted by name",
        "page_token": "pass it by keyword: there is no order_by before it",
    },
    "Client.search_model_versions": {
        "order_by": "versions come sorted by name, then version",
        "page_token": "pass it by keyword: there is no order_by before it",
    },
    "Client.set_model_version_tag": {
        "version": "required: a version is named by number (stages are not tag targets)",
        "key": "required",
        "value": "required",
        "stage": "tag a version by its number; aliases replace stages",
    },
}
_MODEL_FLAVOR_DIFFERENCES = {
    "sk_model": "the model is the first positional parameter, named model here",
    "xgb_model": "the model is the first positional parameter, named model here",
    "artifact_path": "the second positional parameter is MLflow 3's name= (the artifact path)",
    "name": "the second positional parameter here (MLflow 2 callers' artifact_path place)",
    **{
        name: _MODEL_LOGGING
        for name in (
            "conda_env",
            "code_paths",
            "serialization_format",
            "registered_model_name",
            "signature",
            "input_example",
            "await_registration_for",
            "pip_requirements",
            "extra_pip_requirements",
            "pyfunc_predict_fn",
            "metadata",
            "extra_files",
            "params",
            "tags",
            "model_type",
            "step",
            "model_id",
            "skops_trusted_types",
            "model_format",  # xgboost
        )
    },
}
for _name in ("log_model", "sklearn.log_model", "xgboost.log_model"):
    DIFFERENCES[_name] = _MODEL_FLAVOR_DIFFERENCES
for _name in ("load_model", "sklearn.load_model", "xgboost.load_model"):
    DIFFERENCES[_name] = {"dst_path": "keyword-only here: load_model(uri, dst_path=...)"}

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def resolve(root: str, dotted: str) -> Callable[..., Any]:
    """``root.dotted`` by attribute, importing submodules on the way (``mlflow.sklearn``)."""
    obj: Any = importlib.import_module(root)
    path = root
    for part in dotted.split("."):
        path = f"{path}.{part}"
        try:
            obj = getattr(obj, part)
        except AttributeError:
            obj = importlib.import_module(path)
    return obj


def parameters(func: Callable[..., Any]) -> list[inspect.Parameter]:
    return [p for p in inspect.signature(func).parameters.values() if p.name != "self"]


def incompatibilities(ours: Callable[..., Any], theirs: Callable[..., Any], skip: set[str]):
    """What an MLflow caller would pass to ``theirs`` that ``ours`` would not take so."""
    mine = parameters(ours)
    by_name = {p.name: (i, p) for i, p in enumerate(mine)}
    problems = []
    for index, p in enumerate(parameters(theirs)):
        if p.kind in _VARIADIC or p.name in skip:
            continue
        if p.name not in by_name:
            problems.append(f"no parameter {p.name!r}")
            continue
        at, own = by_name[p.name]
        if p.kind in _POSITIONAL and (own.kind not in _POSITIONAL or at != index):
            problems.append(f"{p.name!r} is positional #{index} in mlflow, #{at} here")
        if p.kind is not inspect.Parameter.POSITIONAL_ONLY and own.kind is p.POSITIONAL_ONLY:
            problems.append(f"{p.name!r} is not accepted by keyword")
        if p.default is not p.empty and own.default is own.empty:
            problems.append(f"{p.name!r} is optional in mlflow, required here")
    listed = parameters(theirs)
    for at, own in enumerate(mine):
        if own.kind in _VARIADIC or own.default is not own.empty:
            continue
        if own.name in {p.name for p in listed}:
            continue
        renamed = at < len(listed) and listed[at].name in skip and listed[at].kind in _POSITIONAL
        if not renamed:  # a positional parameter MLflow names otherwise, listed with a reason
            problems.append(f"{own.name!r} is required here, unknown to mlflow")
    return problems


@pytest.mark.parametrize("name", [*PROMISED, *TUNETRACK_ONLY])
def test_promised_name_exists(name: str) -> None:
    assert callable(resolve("tunetrack", name)), name
    top = name.split(".")[0]
    assert top in tunetrack.__all__, f"tunetrack.__all__ lacks {top!r}"


@pytest.mark.parametrize("name", list(PROMISED))
def test_promised_name_takes_mlflow_parameters(name: str) -> None:
    pytest.importorskip("mlflow")
    ours, theirs = resolve("tunetrack", name), resolve("mlflow", PROMISED[name])
    skip = set(DIFFERENCES.get(name, {}))
    assert incompatibilities(ours, theirs, set(skip)) == []
    # a listed difference must still be one: a parameter that became compatible leaves the list
    stale = [
        p for p in skip if p in {q.name for q in parameters(theirs)}
        and not incompatibilities(ours, theirs, skip - {p})
    ]  # fmt: skip
    assert stale == [], f"DIFFERENCES[{name!r}] lists compatible parameters"
