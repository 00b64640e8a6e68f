"""Models: flavors, verified manifests, signatures, loading by URI (real data, real store)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
import yaml
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import tunetrack
from tunetrack.errors import Conflict, InvalidInput, NotFound
from tunetrack.models import (
    ACCEPTED_FORMS,
    ModelIntegrityError,
    ModelSignature,
    infer_signature,
    load_model,
    log_model,
    read_manifest,
    save_model,
    sklearn_load_model,
    sklearn_log_model,
    xgboost_load_model,
)
from tunetrack.models.manifest import distribution_version

# -- fixtures: real data, fitted models ----------------------------------------------------


def _iris_rf() -> tuple[Any, pd.DataFrame]:
    X, y = load_iris(return_X_y=True, as_frame=True)
    return RandomForestClassifier(n_estimators=15, random_state=0).fit(X, y), X


def _cancer_pipeline() -> tuple[Any, pd.DataFrame]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    pipe = Pipeline([("scale", StandardScaler()), ("lr", LogisticRegression(max_iter=500))])
    return pipe.fit(X, y), X


def _cancer_xgb() -> tuple[Any, np.ndarray]:
    X, y = load_breast_cancer(return_X_y=True)
    return xgb.XGBClassifier(n_estimators=12, max_depth=3, learning_rate=0.3).fit(X, y), X


def _diabetes_booster() -> tuple[Any, pd.DataFrame]:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    booster = xgb.train({"max_depth": 3, "eta": 0.2}, xgb.DMatrix(X, label=y), num_boost_round=8)
    return booster, X


def _predict(model: Any, X: Any) -> np.ndarray:
    if isinstance(model, xgb.Booster):
        return model.predict(xgb.DMatrix(X))
    return model.predict_proba(X)


MODELS: dict[str, tuple[Callable[[], tuple[Any, Any]], str]] = {
    "random_forest": (_iris_rf, "sklearn"),
    "pipeline": (_cancer_pipeline, "sklearn"),
    "xgb_classifier": (_cancer_xgb, "xgboost"),
    "booster": (_diabetes_booster, "xgboost"),
}


def _artifact_dir(info_run_id: str, path: str) -> Path:
    return Path(tunetrack.get_run(info_run_id).info.artifact_uri) / path


def _flip_byte(path: Path, offset: int = 100) -> None:
    data = bytearray(path.read_bytes())
    data[offset % len(data)] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.fixture
def no_subprocess_after_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start the run (which reads git state once) first, then refuse any subprocess."""
    tunetrack.start_run()

    def refuse(*args: object, **kwargs: object) -> None:
        pytest.fail(f"a subprocess was started: {args!r}")

    monkeypatch.setattr(subprocess, "Popen", refuse)


@pytest.fixture
def no_joblib_load(monkeypatch: pytest.MonkeyPatch) -> None:
    import joblib

    def fail(*args: object, **kwargs: object) -> None:
        pytest.fail("joblib.load was called on an unverified model")

    monkeypatch.setattr(joblib, "load", fail)


# -- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(MODELS))
def test_round_trip_through_runs_uri_and_local_path(kind: str, tmp_path: Path) -> None:
    make, flavor = MODELS[kind]
    model, X = make()
    expected = _predict(model, X)

    info = log_model(model, "model")
    assert info.flavor == flavor
    assert info.model_uri == f"runs:/{info.run_id}/model"
    assert info.artifact_path == "model"
    assert tunetrack.get_run(info.run_id).data.tags["tunetrack.model.model.flavor"] == flavor
    from_run = load_model(info.model_uri)
    assert type(from_run) is type(model)

    manifest = save_model(model, tmp_path / "saved")
    from_dir = load_model(str(tmp_path / "saved"))
    assert manifest.flavor == flavor
    for loaded in (from_run, from_dir):
        if isinstance(model, xgb.Booster):
            np.testing.assert_allclose(_predict(loaded, X), expected, rtol=1e-6)
        else:
            np.testing.assert_array_equal(_predict(loaded, X), expected)
            np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_xgboost_files_are_native_and_wrapper_params_survive() -> None:
    model, _ = _cancer_xgb()
    info = log_model(model, "xgb")
    directory = _artifact_dir(info.run_id, "xgb")
    assert (directory / "model.ubj").is_file()
    assert not (directory / "model.joblib").exists()
    manifest = yaml.safe_load((directory / "model.yaml").read_text())
    assert manifest["flavor_options"]["wrapper_class"] == "XGBClassifier"
    assert manifest["model_class"] == "XGBClassifier"
    # the native file loads with xgboost alone
    raw = xgb.XGBClassifier()
    raw.load_model(str(directory / "model.ubj"))
    loaded = xgboost_load_model(info.model_uri)
    assert loaded.get_params()["n_estimators"] == 12
    assert loaded.get_params()["max_depth"] == 3
    np.testing.assert_array_equal(loaded.classes_, model.classes_)


def test_manifest_lists_every_file_with_sha256_and_versions(tmp_path: Path) -> None:
    model, X = _iris_rf()
    save_model(model, tmp_path / "m", input_example=X.head(20))
    doc = yaml.safe_load((tmp_path / "m" / "model.yaml").read_text())
    on_disk = {p.name for p in (tmp_path / "m").iterdir()} - {"model.yaml"}
    assert (
        set(doc["files"]) == on_disk == {"model.joblib", "requirements.txt", "input_example.json"}
    )
    assert all(len(digest) == 64 for digest in doc["files"].values())
    assert doc["flavor"] == "sklearn"
    assert doc["model_module"] == "sklearn.ensemble._forest"
    assert doc["model_class"] == "RandomForestClassifier"
    import sklearn

    assert doc["libraries"]["scikit-learn"] == sklearn.__version__
    assert doc["libraries"]["numpy"] == np.__version__
    assert doc["libraries"]["python"].count(".") == 2
    assert doc["created"].endswith("Z")
    example = json.loads((tmp_path / "m" / "input_example.json").read_text())
    assert example["columns"] == list(X.columns)
    assert len(example["data"]) == 5  # only a few rows are kept


def test_requirements_pin_installed_versions(tmp_path: Path) -> None:
    import importlib.metadata as md

    model, _ = _iris_rf()
    save_model(model, tmp_path / "sk")
    lines = (tmp_path / "sk" / "requirements.txt").read_text().splitlines()
    assert f"scikit-learn=={md.version('scikit-learn')}" in lines
    assert f"numpy=={md.version('numpy')}" in lines
    assert all("==" in line for line in lines)

    booster, _ = _diabetes_booster()
    save_model(booster, tmp_path / "xgb")
    dist, version = distribution_version("xgboost")  # type: ignore[misc]
    assert f"{dist}=={version}" in (tmp_path / "xgb" / "requirements.txt").read_text().splitlines()


def test_log_model_spawns_no_subprocess(monkeypatch: pytest.MonkeyPatch) -> None:
    run = tunetrack.Client().create_run("0")
    model, X = _iris_rf()

    def refuse(*args: object, **kwargs: object) -> None:
        pytest.fail(f"a subprocess was started: {args!r}")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    info = log_model(model, run_id=run.info.run_id, input_example=X.head(2))
    np.testing.assert_array_equal(load_model(info.model_uri).predict(X), model.predict(X))


def test_log_model_starts_a_run_when_none_is_active() -> None:
    assert tunetrack.active_run() is None
    info = log_model(_iris_rf()[0])
    active = tunetrack.active_run()
    assert active is not None
    assert active.info.run_id == info.run_id


def test_log_model_into_the_active_run_and_refuses_a_second_model_at_the_same_path() -> None:
    model, _ = _iris_rf()
    with tunetrack.start_run() as run:
        info = log_model(model, "models/rf")
        assert info.run_id == run.info.run_id
        assert info.model_uri == f"runs:/{run.info.run_id}/models/rf"
        with pytest.raises(Conflict, match="models/rf"):
            log_model(model, "models/rf")
    assert load_model(info.model_uri) is not None


def test_unsupported_model_type_is_named() -> None:
    with pytest.raises(InvalidInput, match=r"builtins\.dict"):
        log_model({"not": "a model"})


def test_save_model_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "other.txt").write_text("x")
    with pytest.raises(Conflict, match="not empty"):
        save_model(_iris_rf()[0], tmp_path / "m")


@pytest.mark.parametrize("kind", ["random_forest", "booster"])
def test_model_files_are_written_with_the_process_umask(
    kind: str, tmp_path: Path, assert_umask_modes: Callable[[Path], None]
) -> None:
    model, X = MODELS[kind][0]()
    info = log_model(model, "model", input_example=X.head(2))
    assert_umask_modes(_artifact_dir(info.run_id, "model"))
    save_model(model, tmp_path / "saved" / "model", input_example=X.head(2))
    assert_umask_modes(tmp_path / "saved")


# -- integrity -----------------------------------------------------------------------------


def test_flipped_byte_is_refused_before_unpickling(no_joblib_load: None) -> None:
    model, _ = _iris_rf()
    info = log_model(model)
    _flip_byte(_artifact_dir(info.run_id, "model") / "model.joblib")
    with pytest.raises(ModelIntegrityError, match=r"'model\.joblib'") as err:
        load_model(info.model_uri)
    assert isinstance(err.value, InvalidInput)


def test_flipped_byte_in_xgboost_model_is_refused(tmp_path: Path) -> None:
    save_model(_cancer_xgb()[0], tmp_path / "m")
    _flip_byte(tmp_path / "m" / "model.ubj")
    with pytest.raises(ModelIntegrityError, match=r"'model\.ubj'"):
        load_model(tmp_path / "m")


def test_any_changed_file_is_refused(tmp_path: Path, no_joblib_load: None) -> None:
    model, X = _iris_rf()
    save_model(model, tmp_path / "m", input_example=X.head(2))
    (tmp_path / "m" / "requirements.txt").write_text("evil==1.0\n")
    with pytest.raises(ModelIntegrityError, match=r"'requirements\.txt'"):
        load_model(tmp_path / "m")


def test_missing_listed_file_is_refused(tmp_path: Path, no_joblib_load: None) -> None:
    save_model(_iris_rf()[0], tmp_path / "m")
    (tmp_path / "m" / "model.joblib").unlink()
    with pytest.raises(ModelIntegrityError, match=r"'model\.joblib'.*missing"):
        load_model(tmp_path / "m")


def test_unlisted_model_file_is_never_loaded(tmp_path: Path, no_joblib_load: None) -> None:
    save_model(_iris_rf()[0], tmp_path / "m")
    (tmp_path / "m" / "evil.joblib").write_bytes((tmp_path / "m" / "model.joblib").read_bytes())
    doc = yaml.safe_load((tmp_path / "m" / "model.yaml").read_text())
    doc["flavor_options"]["model_file"] = "evil.joblib"
    (tmp_path / "m" / "model.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(ModelIntegrityError, match=r"'evil\.joblib' is not listed"):
        load_model(tmp_path / "m")


@pytest.mark.parametrize("bad", ["../outside.bin", "/etc/passwd", "a/../../b"])
def test_manifest_paths_cannot_escape_the_model_directory(tmp_path: Path, bad: str) -> None:
    save_model(_iris_rf()[0], tmp_path / "m")
    doc = yaml.safe_load((tmp_path / "m" / "model.yaml").read_text())
    doc["files"][bad] = "0" * 64
    (tmp_path / "m" / "model.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(ModelIntegrityError, match="bad file path"):
        load_model(tmp_path / "m")


# -- URIs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        "",
        "runs:/",
        "runs:/abc",
        "runs:/abc/",
        "runs:abc/model",
        "runs:/abc/../model",
        "models:/",
        "models:/iris",
        "models:/iris/abc",
        "models:/iris/0",
        "models:/iris@",
        "models:iris/1",
        "foo:bar",
    ],
)
def test_malformed_uri_lists_the_accepted_forms(uri: str) -> None:
    with pytest.raises(InvalidInput, match="malformed model URI") as err:
        load_model(uri)
    for form in ACCEPTED_FORMS:
        assert form in str(err.value)
    assert "models:/<name>/latest" in ACCEPTED_FORMS


def test_run_without_the_artifact_is_not_found() -> None:
    info = log_model(_iris_rf()[0], "model")
    with pytest.raises(NotFound, match="'elsewhere'") as err:
        load_model(f"runs:/{info.run_id}/elsewhere")
    assert _artifact_dir(info.run_id, "elsewhere").as_posix() in str(err.value).replace("\\", "/")


def test_unknown_run_is_not_found() -> None:
    with pytest.raises(NotFound):
        load_model("runs:/0123456789abcdef0123456789abcdef/model")


def test_missing_local_directory_or_manifest_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match=str(tmp_path / "nowhere")):
        load_model(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotFound, match=r"no model\.yaml in .*empty"):
        load_model(str(tmp_path / "empty"))


def test_local_artifacts_are_read_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tunetrack.store.artifacts import ArtifactRepository

    info = log_model(_iris_rf()[0])

    def refuse(*args: object, **kwargs: object) -> None:
        pytest.fail("a local model was copied")

    monkeypatch.setattr(ArtifactRepository, "download_artifacts", refuse)
    assert load_model(info.model_uri) is not None


def test_remote_artifact_root_is_downloaded(tmp_path: Path) -> None:
    model, X = _iris_rf()
    experiment_id = tunetrack.create_experiment("remote", artifact_location="memory://tt-models/x")
    with tunetrack.start_run(experiment_id=experiment_id) as run:
        info = log_model(model)
    assert info.run_id == run.info.run_id
    np.testing.assert_array_equal(load_model(info.model_uri).predict(X), model.predict(X))
    kept = tmp_path / "copy"
    assert load_model(info.model_uri, dst_path=str(kept)) is not None
    assert (kept / "model" / "model.yaml").is_file()
    # an fsspec URL of a model directory works too
    np.testing.assert_array_equal(
        load_model(f"memory://tt-models/x/{info.run_id}/model").predict(X), model.predict(X)
    )


# -- per-flavor functions ------------------------------------------------------------------


def test_flavor_functions_refuse_other_flavors() -> None:
    booster_info = log_model(_diabetes_booster()[0], "booster")
    with pytest.raises(InvalidInput, match="flavor 'xgboost', not 'sklearn'"):
        sklearn_load_model(booster_info.model_uri)
    rf_info = log_model(_iris_rf()[0], "rf", run_id=booster_info.run_id)
    with pytest.raises(InvalidInput, match="flavor 'sklearn', not 'xgboost'"):
        xgboost_load_model(rf_info.model_uri)
    assert isinstance(sklearn_load_model(rf_info.model_uri), RandomForestClassifier)
    assert isinstance(xgboost_load_model(booster_info.model_uri), xgb.Booster)


def test_sklearn_functions_pickle_an_xgboost_wrapper() -> None:
    model, X = _cancer_xgb()
    info = sklearn_log_model(model, "as_sklearn")
    assert info.flavor == "sklearn"
    np.testing.assert_array_equal(sklearn_load_model(info.model_uri).predict(X), model.predict(X))
    with pytest.raises(InvalidInput, match="flavor 'sklearn' cannot save"):
        sklearn_log_model(_diabetes_booster()[0], "booster")


# -- signatures ----------------------------------------------------------------------------


def _mixed_frame() -> pd.DataFrame:
    X, _ = load_iris(return_X_y=True, as_frame=True)
    frame = X.head(10).copy()
    frame["petals"] = (frame["petal length (cm)"] * 10).astype("int64")
    frame["species"] = pd.Series(["setosa"] * 10, index=frame.index, dtype=object)
    frame["kind"] = frame["species"].astype("category")
    frame["flag"] = frame["petals"] > 14
    return frame


def test_signature_inferred_from_a_dataframe_has_names_and_dtypes() -> None:
    frame = _mixed_frame()
    signature = infer_signature(frame, frame["petals"])
    assert [(c.name, c.dtype) for c in signature.inputs] == [
        ("sepal length (cm)", "float64"),
        ("sepal width (cm)", "float64"),
        ("petal length (cm)", "float64"),
        ("petal width (cm)", "float64"),
        ("petals", "int64"),
        ("species", "string"),
        ("kind", "category"),
        ("flag", "bool"),
    ]
    assert signature.outputs is not None
    assert [(c.name, c.dtype) for c in signature.outputs] == [("petals", "int64")]
    assert ModelSignature.from_dict(json.loads(json.dumps(signature.to_dict()))) == signature


def test_check_names_missing_and_extra_columns() -> None:
    frame = _mixed_frame()
    signature = infer_signature(frame)
    with pytest.raises(InvalidInput, match=r"missing columns: 'petals'"):
        signature.check(frame.drop(columns=["petals"]))
    with pytest.raises(InvalidInput, match=r"unexpected columns: 'bonus'"):
        signature.check(frame.assign(bonus=1))
    reordered = frame[list(reversed(frame.columns))]
    assert list(signature.check(reordered).columns) == list(frame.columns)


def test_check_converts_only_safe_dtypes() -> None:
    frame = _mixed_frame()
    signature = infer_signature(frame)
    as_float = frame.assign(petals=frame["petals"].astype("float64"))  # whole numbers
    assert signature.check(as_float)["petals"].dtype == np.int64
    ints = frame.assign(**{"sepal width (cm)": frame["petals"]})  # int -> float
    assert signature.check(ints)["sepal width (cm)"].dtype == np.float64
    with pytest.raises(InvalidInput, match=r"column 'petals'.*fractional"):
        signature.check(frame.assign(petals=frame["petals"] + 0.5))
    with pytest.raises(InvalidInput, match=r"column 'species'.*strings"):
        signature.check(frame.assign(species=1.5))
    rows = frame.to_dict(orient="records")  # a list of row dicts, as JSON would give
    assert list(signature.check(rows).columns) == list(frame.columns)


def test_signature_from_a_numpy_array_is_positional() -> None:
    X, _ = load_breast_cancer(return_X_y=True)
    signature = infer_signature(X)
    assert len(signature.inputs) == X.shape[1]
    assert {c.name for c in signature.inputs} == {None}
    assert {c.dtype for c in signature.inputs} == {"float64"}
    checked = signature.check(X[:3])
    assert checked.shape == (3, X.shape[1])
    with pytest.raises(InvalidInput, match=f"expected {X.shape[1]} columns, got 2"):
        signature.check(X[:3, :2])


def test_signature_from_lists_and_dicts() -> None:
    positional = infer_signature([[1.0, 2.0], [3.0, 4.0]], [0, 1])
    assert [(c.name, c.dtype) for c in positional.inputs] == [(None, "float64")] * 2
    assert positional.outputs is not None
    assert [c.dtype for c in positional.outputs] == ["int64"]
    named = infer_signature({"a": [1, 2], "b": ["x", "y"]})
    assert [(c.name, c.dtype) for c in named.inputs] == [("a", "int64"), ("b", "string")]
    assert named.check({"b": "z", "a": 3}).to_dict(orient="records") == [{"a": 3, "b": "z"}]
    with pytest.raises(InvalidInput, match="named columns"):
        named.check(np.array([[1, 2]]))


def test_signature_is_stored_with_the_model(tmp_path: Path) -> None:
    model, X = _cancer_pipeline()
    info = log_model(model, input_example=X.head(3))  # signature inferred from the example
    assert info.signature == infer_signature(X)
    manifest = read_manifest(info.model_uri)
    assert manifest.signature == info.signature
    assert manifest.input_example == "input_example.json"
    explicit = infer_signature(X, model.predict(X))
    save_model(model, tmp_path / "m", signature=explicit)
    assert read_manifest(tmp_path / "m").signature == explicit


def test_input_example_with_missing_values_is_json_safe(tmp_path: Path) -> None:
    model, X = _iris_rf()
    example = X.head(3).copy()
    example.iloc[0, 0] = np.nan
    save_model(model, tmp_path / "m", input_example=example)
    stored = json.loads((tmp_path / "m" / "input_example.json").read_text())
    assert stored["data"][0][0] is None


def test_importing_models_stays_light(tmp_path: Path) -> None:
    code = (
        "import sys, tunetrack.models\n"
        "print(sorted(m for m in ('pandas', 'sklearn', 'xgboost', 'joblib') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True
    )
    assert out.stdout.strip() == "[]"


# -- the registry: models:/ URIs -----------------------------------------------------------


def test_log_model_registers_versions_and_models_uris_load_them(
    no_subprocess_after_start: None,
) -> None:
    client = tunetrack.Client()
    first, X = _iris_rf()
    second = RandomForestClassifier(n_estimators=3, max_depth=1, random_state=1).fit(
        X, load_iris().target
    )
    one = log_model(first, "rf", registered_model_name="iris-rf")
    two = log_model(second, "rf2", registered_model_name="iris-rf", run_id=one.run_id)
    assert (one.registered_version, two.registered_version) == (1, 2)
    assert client.get_model_version("iris-rf", 1).source == one.model_uri
    client.set_registered_model_alias("iris-rf", "champion", 1)

    def same(uri: str, model: Any) -> None:
        np.testing.assert_array_equal(load_model(uri).predict_proba(X), model.predict_proba(X))

    same("models:/iris-rf/1", first)
    same("models:/iris-rf/2", second)
    same("models:/iris-rf/latest", second)
    same("models:/iris-rf@champion", first)
    assert read_manifest("models:/iris-rf@champion").flavor == "sklearn"
    assert isinstance(sklearn_load_model("models:/iris-rf/latest"), RandomForestClassifier)


def test_models_uri_checks_the_sha256_too(no_joblib_load: None) -> None:
    info = log_model(_iris_rf()[0], registered_model_name="tampered")
    _flip_byte(_artifact_dir(info.run_id, "model") / "model.joblib")
    with pytest.raises(ModelIntegrityError, match=r"'model\.joblib'"):
        load_model("models:/tampered/1")


def test_registering_records_the_sha256_of_the_model_yaml() -> None:
    info = log_model(_iris_rf()[0], registered_model_name="hashed")
    manifest = _artifact_dir(info.run_id, "model") / "model.yaml"
    expected = hashlib.sha256(manifest.read_bytes()).hexdigest()
    client = tunetrack.Client()
    assert client.get_model_version("hashed", 1).manifest_sha256 == expected
    again = client.register_model(info.model_uri, "hashed-again")
    assert again.manifest_sha256 == expected


def test_create_model_version_records_the_sha256_of_a_source_with_a_model_yaml() -> None:
    info = log_model(_iris_rf()[0])
    manifest = _artifact_dir(info.run_id, "model") / "model.yaml"
    expected = hashlib.sha256(manifest.read_bytes()).hexdigest()
    client = tunetrack.Client()
    client.create_registered_model("by-source")
    by_uri = client.create_model_version("by-source", info.model_uri, info.run_id)
    by_dir = client.create_model_version("by-source", str(manifest.parent))
    elsewhere = client.create_model_version("by-source", "s3://bucket/not-reachable-here")
    assert (by_uri.manifest_sha256, by_dir.manifest_sha256) == (expected, expected)
    assert elsewhere.manifest_sha256 is None  # nothing to read: the file check only


def test_registering_a_directory_that_is_no_model_is_refused() -> None:
    with tunetrack.start_run() as run:
        tunetrack.log_text("not a model", "model/notes.txt")
    with pytest.raises(NotFound, match=r"model\.yaml"):
        tunetrack.Client().register_model(f"runs:/{run.info.run_id}/model", "not-a-model")


def test_swapping_a_registered_models_files_and_manifest_is_refused(
    tmp_path: Path, no_joblib_load: None
) -> None:
    model, X = _iris_rf()
    info = log_model(model, registered_model_name="swapped")
    directory = _artifact_dir(info.run_id, "model")
    other = LogisticRegression(max_iter=500).fit(X, load_iris().target)
    save_model(other, tmp_path / "other")  # its model.yaml lists its own sha256s
    shutil.rmtree(directory)
    shutil.copytree(tmp_path / "other", directory)
    assert read_manifest(directory).model_class == "LogisticRegression"  # files match
    for load in (load_model, read_manifest):
        with pytest.raises(ModelIntegrityError, match=r"swapped version 1.*registered") as err:
            load("models:/swapped/1")
        assert "model.yaml" in str(err.value)


def test_unknown_registered_model_version_or_alias_is_not_found() -> None:
    log_model(_iris_rf()[0], registered_model_name="known")
    for uri in ("models:/unknown/1", "models:/known/7", "models:/known@nobody"):
        with pytest.raises(NotFound):
            load_model(uri)


@pytest.mark.parametrize("flavor", ["sklearn", "xgboost"])
def test_a_flavor_module_has_real_functions_with_the_generic_signature_minus_flavor(
    flavor: str,
) -> None:
    import importlib
    import inspect

    from tunetrack.models import api

    facade = importlib.import_module(f"tunetrack.{flavor}")
    for name in ("log_model", "load_model"):
        function = getattr(facade, name)
        assert inspect.isfunction(function), (flavor, name, function)
        assert function.__doc__
        generic = inspect.signature(getattr(api, name)).parameters
        assert list(inspect.signature(function).parameters.values()) == [
            p for p in generic.values() if p.name != "flavor"
        ]
