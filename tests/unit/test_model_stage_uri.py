"""``models:/<name>/<stage>`` loads the newest version in that stage."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

import tunetrack
from tunetrack.errors import InvalidInput, NotFound


def _register(model, X, y) -> int:  # type: ignore[no-untyped-def]
    model.fit(X, y)
    with tunetrack.start_run():
        info = tunetrack.log_model(model, "model", registered_model_name="iris-stage")
    assert info.registered_version is not None
    return info.registered_version


def test_stage_uri_follows_transitions() -> None:
    X, y = load_iris(return_X_y=True)
    v1 = _register(LogisticRegression(max_iter=500), X, y)
    v2 = _register(DecisionTreeClassifier(random_state=0), X, y)
    client = tunetrack.Client()
    client.transition_model_version_stage("iris-stage", v1, "Production")
    client.transition_model_version_stage("iris-stage", v2, "staging")
    assert isinstance(tunetrack.load_model("models:/iris-stage/Production"), LogisticRegression)
    staged = tunetrack.load_model("models:/iris-stage/staging")
    assert isinstance(staged, DecisionTreeClassifier)
    np.testing.assert_array_equal(
        staged.predict(X), DecisionTreeClassifier(random_state=0).fit(X, y).predict(X)
    )
    client.transition_model_version_stage(
        "iris-stage", v2, "Production", archive_existing_versions=True
    )
    assert isinstance(tunetrack.load_model("models:/iris-stage/Production"), DecisionTreeClassifier)
    assert isinstance(tunetrack.load_model("models:/iris-stage/Archived"), LogisticRegression)
    with pytest.raises(NotFound, match="no version in stage Staging"):
        tunetrack.load_model("models:/iris-stage/Staging")


def test_unknown_stage_word_lists_the_forms() -> None:
    with pytest.raises(InvalidInput, match=r"models:/<name>/<stage>"):
        tunetrack.load_model("models:/iris-stage/prod")
