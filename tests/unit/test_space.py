"""Search spaces: parsing, validation, JSON, and the optuna / hyperopt / grid compilers."""

from __future__ import annotations

import itertools
import pickle
import subprocess
import sys

import numpy as np
import optuna
import pytest
from hyperopt import space_eval
from hyperopt.pyll import stochastic

from tunetrack.errors import ConfigError
from tunetrack.sweep.space import (
    MAX_GRID_POINTS,
    Categorical,
    Choice,
    Fixed,
    Float,
    Int,
    SearchSpace,
    SpaceError,
    check_params,
    contains,
    from_hyperopt,
    grid_points,
    grid_size,
    optuna_distributions,
    parse_space,
    space_compatible,
    suggest,
    to_hyperopt,
    to_hyperopt_vals,
    to_optuna_params,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)

# DESIGN.md's example, plus a stepped float, a fixed value and an option without parameters.
DESIGN = {
    "n_estimators": {"distribution": "int", "min": 10, "max": 300},
    "max_depth": {"values": [3, 5, 8, None]},
    "max_features": {"distribution": "uniform", "min": 0.1, "max": 1.0},
    "model": {
        "values": {
            "rf": {"min_samples_leaf": {"distribution": "int", "min": 1, "max": 8}},
            "xgb": {"learning_rate": {"distribution": "log_uniform", "min": 0.001, "max": 0.3}},
            "linear": None,
        }
    },
    "subsample": {"distribution": "q_uniform", "min": 0.5, "max": 1.0, "q": 0.05},
    "seed": 42,
}

# Two options reuse a sub-parameter name with different ranges; options nest.
NESTED = {
    "model": {
        "values": {
            "rf": {"depth": {"distribution": "int", "min": 1, "max": 4}},
            "gbm": {
                "depth": {"distribution": "int", "min": 10, "max": 20, "step": 5},
                "booster": {
                    "values": {
                        "tree": {"eta": {"distribution": "log_uniform", "min": 0.01, "max": 1}},
                        "linear": {},
                    }
                },
            },
        }
    },
    "use_pca": {"values": {True: {"n_components": [2, 4]}, False: None}},
    "flag": [True, False, None],
}


@pytest.fixture(scope="module")
def design() -> SearchSpace:
    return parse_space(DESIGN)


@pytest.fixture(scope="module")
def nested() -> SearchSpace:
    return parse_space(NESTED)


# ----------------------------------------------------------------------------- parsing


def test_parse_design_example(design: SearchSpace) -> None:
    assert list(design) == [
        "n_estimators",
        "max_depth",
        "max_features",
        "model",
        "subsample",
        "seed",
    ]
    assert design["n_estimators"] == Int(10, 300)
    assert design["max_depth"] == Categorical((3, 5, 8, None))
    assert design["max_features"] == Float(0.1, 1.0)
    assert design["subsample"] == Float(0.5, 1.0, step=0.05)
    assert design["seed"] == Fixed(42)
    model = design["model"]
    assert isinstance(model, Choice)
    assert model.choices == ("rf", "xgb", "linear")
    assert model.options["rf"] == SearchSpace({"min_samples_leaf": Int(1, 8)})
    assert model.options["xgb"] == SearchSpace({"learning_rate": Float(0.001, 0.3, log=True)})
    assert model.options["linear"] == SearchSpace()


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"distribution": "uniform", "min": 0, "max": 1}, Float(0.0, 1.0)),
        ({"distribution": "uniform", "min": 1, "max": 10, "log": True}, Float(1, 10, log=True)),
        ({"distribution": "uniform", "min": 0.1, "max": 1.0, "q": 0.05}, Float(0.1, 1, step=0.05)),
        ({"distribution": "q_uniform", "min": 0, "max": 1, "step": 0.25}, Float(0, 1, step=0.25)),
        ({"distribution": "int", "min": 1, "max": 1024, "log": True}, Int(1, 1024, log=True)),
        ({"distribution": "int", "min": 0, "max": 100, "step": 10}, Int(0, 100, step=10)),
        ({"distribution": "int_uniform", "min": -3, "max": 3}, Int(-3, 3)),
        ({"min": 1, "max": 5}, Int(1, 5)),
        ({"min": 1, "max": 5.0}, Float(1, 5)),
        ({"distribution": "categorical", "values": ["a", "b"]}, Categorical(("a", "b"))),
        ({"distribution": "constant", "value": "x"}, Fixed("x")),
        ({"value": None}, Fixed(None)),
        ({"values": [2, 2.5, "s", True, None]}, Categorical((2, 2.5, "s", True, None))),
        ([0.1, 0.01], Categorical((0.1, 0.01))),
        (0.1, Fixed(0.1)),
        ("adam", Fixed("adam")),
        (None, Fixed(None)),
    ],
)
def test_parse_entry_forms(entry: object, expected: object) -> None:
    assert parse_space({"p": entry})["p"] == expected


def test_parse_nested(nested: SearchSpace) -> None:
    model = nested["model"]
    assert isinstance(model, Choice)
    gbm = model.options["gbm"]
    assert gbm["depth"] == Int(10, 20, step=5)
    booster = gbm["booster"]
    assert isinstance(booster, Choice)
    assert booster.options["linear"] == SearchSpace()
    pca = nested["use_pca"]
    assert isinstance(pca, Choice)
    assert pca.choices == (True, False)


def _space_with_sub(sub: dict) -> dict:
    return {"model": {"values": {"rf": sub, "xgb": None}}}


BAD_SPACES = [
    # (parameters, path, message substring)
    (
        {"lr": {"distribution": "uniform", "min": 0.1, "max": 0.01}},
        ("lr", "max"),
        "max (0.01) must be greater than min (0.1)",
    ),
    ({"lr": {"distribution": "uniform", "min": 1, "max": 1}}, ("lr", "max"), "greater than"),
    (
        {"lr": {"distribution": "gauss", "min": 0, "max": 1}},
        ("lr", "distribution"),
        "unknown distribution 'gauss'; valid: categorical, constant, int, int_uniform, "
        "log_uniform, q_uniform, uniform",
    ),
    (
        {"lr": {"distribution": "q_log_uniform", "min": 1, "max": 2, "q": 1}},
        ("lr", "distribution"),
        "q_log_uniform is not supported",
    ),
    (
        {"lr": {"distribution": "uniform", "min": 0, "max": 1, "maxx": 2}},
        ("lr", "maxx"),
        "unknown key 'maxx' for uniform; allowed: distribution, log, max, min, q, step",
    ),
    (
        {"lr": {"distribution": "log_uniform", "min": 0.1, "max": 1, "q": 0.1}},
        ("lr", "q"),
        "allowed: distribution, max, min",
    ),
    ({"lr": {"distribution": "uniform", "max": 1}}, ("lr", "min"), "min is required"),
    ({"lr": {"distribution": "int", "min": 1}}, ("lr", "max"), "max is required"),
    (
        {"lr": {"distribution": "log_uniform", "min": 0, "max": 1}},
        ("lr", "min"),
        "min (0) must be positive on a log scale",
    ),
    (
        {"n": {"distribution": "int", "min": -1, "max": 10, "log": True}},
        ("n", "min"),
        "must be positive on a log scale",
    ),
    (
        {"lr": {"distribution": "uniform", "min": 0, "max": 1, "q": 0}},
        ("lr", "q"),
        "q (0) must be positive",
    ),
    (
        {"lr": {"distribution": "uniform", "min": 0, "max": 1, "step": -0.5}},
        ("lr", "step"),
        "step (-0.5) must be positive",
    ),
    (
        {"lr": {"distribution": "q_uniform", "min": 0, "max": 1, "q": 2}},
        ("lr", "q"),
        "q (2) must not be larger than max - min (1)",
    ),
    (
        {"lr": {"distribution": "q_uniform", "min": 0, "max": 1, "q": 0.3}},
        ("lr", "q"),
        "max - min (1) must be a multiple of q (0.3)",
    ),
    ({"lr": {"distribution": "q_uniform", "min": 0, "max": 1}}, ("lr", "q"), "q is required"),
    (
        {"lr": {"distribution": "uniform", "min": 0, "max": 1, "q": 0.5, "step": 0.5}},
        ("lr", "q"),
        "not both",
    ),
    (
        {"n": {"distribution": "int", "min": 1.5, "max": 10}},
        ("n", "min"),
        "min must be an integer, got 1.5",
    ),
    (
        {"n": {"distribution": "int", "min": 1, "max": "10"}},
        ("n", "max"),
        "max must be an integer, got '10'",
    ),
    (
        {"n": {"distribution": "int", "min": 0, "max": 10, "step": 3}},
        ("n", "step"),
        "max - min (10) must be a multiple of step (3)",
    ),
    (
        {"n": {"distribution": "int", "min": 0, "max": 10, "step": 20}},
        ("n", "step"),
        "must not be larger than max - min (10)",
    ),
    (
        {"n": {"distribution": "int", "min": 1, "max": 64, "log": True, "step": 2}},
        ("n", "step"),
        "cannot be combined with a log scale",
    ),
    (
        {"x": {"distribution": "uniform", "min": 0, "max": 1, "log": "yes"}},
        ("x", "log"),
        "log must be true or false",
    ),
    (
        {"x": {"distribution": "uniform", "min": float("nan"), "max": 1}},
        ("x", "min"),
        "finite number",
    ),
    ({"x": {"values": []}}, ("x", "values"), "values must not be empty"),
    ({"x": {"values": {}}}, ("x", "values"), "values must not be empty"),
    ({"x": []}, ("x",), "values must not be empty"),
    ({"x": {"values": 3}}, ("x", "values"), "values must be a list of choices, or a mapping"),
    ({"x": {"values": [1, [2, 3]]}}, ("x", "values", 1), "got a list"),
    ({"x": {"values": [1, {"a": 1}]}}, ("x", "values", 1), "got a mapping"),
    ({"x": [1, 2, 1]}, ("x", 2), "1 repeats an earlier choice"),
    ({"x": {"values": [1, True]}}, ("x", "values", 1), "repeats an earlier choice"),
    ({"x": {"value": [1, 2]}}, ("x", "value"), "a fixed value must be null"),
    ({"x": {}}, ("x",), "expected a distribution"),
    ({"x": {"mn": 0, "mx": 1}}, ("x",), "keys given: 'mn', 'mx'"),
    ({"x": {"values": [1, 2], "value": 1}}, ("x", "value"), "unknown key 'value'"),
    ({"bad name": 1}, ("bad name",), "invalid parameter name 'bad name'"),
    ({"a/b": 1}, ("a/b",), "invalid parameter name"),
    ({"1x": 1}, ("1x",), "invalid parameter name"),
    ({3: 1}, (3,), "invalid parameter name 3"),
    (
        _space_with_sub({"min_samples_leaf": {"distribution": "int", "min": 8, "max": 1}}),
        ("model", "values", "rf", "min_samples_leaf", "max"),
        "max (1) must be greater than min (8)",
    ),
    (
        _space_with_sub({"ok": 1, "bad-": {"distribution": "uniform", "min": 0}}),
        ("model", "values", "rf", "bad-", "max"),
        "max is required",
    ),
    (
        _space_with_sub([1, 2]),
        ("model", "values", "rf"),
        "the parameters of option 'rf' must be a mapping (or null), got a list",
    ),
    (
        {"model": {"values": {"a/b": None}}},
        ("model", "values", "a/b"),
        "an option must be a non-empty string without '/' or '='",
    ),
    ({"model": {"values": {1.5: None}}}, ("model", "values", "1.5"), "got 1.5"),
    (
        {
            "min_samples_leaf": [1, 2],
            **_space_with_sub({"min_samples_leaf": {"distribution": "int", "min": 1, "max": 8}}),
        },
        ("model", "values", "rf", "min_samples_leaf"),
        "'min_samples_leaf' is already a parameter (at min_samples_leaf)",
    ),
    (
        {
            **_space_with_sub({"min_samples_leaf": {"distribution": "int", "min": 1, "max": 8}}),
            "min_samples_leaf": [1, 2],
        },
        ("model", "values", "rf", "min_samples_leaf"),
        "'min_samples_leaf' is already a parameter (at min_samples_leaf)",
    ),
    (
        {"model": {"values": {"rf": {"model": [1, 2]}}}},
        ("model", "values", "rf", "model"),
        "'model' is already a parameter (at model)",
    ),
    (
        {
            "a": {"values": {"x": {"depth": [1, 2]}}},
            "b": {"values": {"y": {"depth": [3, 4]}}},
        },
        ("b", "values", "y", "depth"),
        "'depth' is already a parameter (at a.values.x.depth)",
    ),
    (
        {"m": {"values": {"x": {"k": {"values": {"deep": {"m": 1}}}}}}},
        ("m", "values", "x", "k", "values", "deep", "m"),
        "'m' is already a parameter (at m)",
    ),
]


@pytest.mark.parametrize(("raw", "path", "message"), BAD_SPACES)
def test_parse_errors(raw: dict, path: tuple, message: str) -> None:
    with pytest.raises(SpaceError) as info:
        parse_space(raw)
    assert info.value.path == path
    assert message in info.value.message
    assert isinstance(info.value, ConfigError)
    assert str(info.value).startswith(".".join(map(str, path)) + ": ")


@pytest.mark.parametrize("raw", [{}, [1, 2], None])
def test_parse_rejects_empty_or_non_mapping(raw: object) -> None:
    with pytest.raises(SpaceError) as info:
        parse_space(raw)  # type: ignore[arg-type]
    assert info.value.path == ()


def test_options_may_reuse_sub_parameter_names(nested: SearchSpace) -> None:
    model = nested["model"]
    assert isinstance(model, Choice)
    assert model.options["rf"]["depth"] != model.options["gbm"]["depth"]


# ----------------------------------------------------------------------------- value objects


def test_constructors_validate() -> None:
    with pytest.raises(SpaceError, match=r"max \(0\.01\) must be greater than min \(0\.1\)"):
        Float(0.1, 0.01)
    with pytest.raises(SpaceError, match="step cannot be combined with a log scale"):
        Float(1, 10, log=True, step=1)
    with pytest.raises(SpaceError, match="min must be an integer"):
        Int(True, 3)  # type: ignore[arg-type]
    with pytest.raises(SpaceError, match="values must not be empty"):
        Categorical(())
    with pytest.raises(SpaceError, match="fixed value"):
        Fixed({"a": 1})  # type: ignore[arg-type]
    with pytest.raises(SpaceError, match="invalid parameter name"):
        SearchSpace({"a b": Fixed(1)})
    with pytest.raises(SpaceError, match="expected a distribution"):
        SearchSpace({"a": 1})  # type: ignore[dict-item]


def test_value_semantics(design: SearchSpace) -> None:
    again = parse_space(DESIGN)
    assert again == design
    assert hash(again) == hash(design)
    assert {design: 1}[again] == 1
    assert Float(0, 1) == Float(0.0, 1.0)
    assert hash(Categorical([1, None])) == hash(Categorical((1, None)))  # type: ignore[arg-type]
    assert Int(1, 5) != Float(1, 5)
    reordered = SearchSpace(list(design.items())[::-1])
    assert reordered != design  # order matters: it is the define-by-run order
    with pytest.raises(AttributeError):
        design["max_depth"].choices = (1,)  # type: ignore[misc]
    with pytest.raises(TypeError):
        design["x"] = Fixed(1)  # type: ignore[index]
    assert pickle.loads(pickle.dumps(design)) == design


def test_json_round_trip(design: SearchSpace, nested: SearchSpace) -> None:
    for space in (design, nested, parse_space({"a": [2, 1.5, "1", True, None], "b": 1.0})):
        text = space.to_json()
        back = SearchSpace.from_json(text)
        assert back == space
        assert back.to_json() == text
        assert space_compatible(space, back)
    back = SearchSpace.from_json(nested.to_json())
    pca = back["use_pca"]
    assert isinstance(pca, Choice)
    assert [type(k) for k in pca.choices] == [bool, bool]
    assert SearchSpace.from_json(design.to_json())["seed"].value == 42  # type: ignore[union-attr]


def test_space_compatible_is_type_exact() -> None:
    assert not space_compatible(parse_space({"a": [1, 2]}), parse_space({"a": [1.0, 2]}))
    assert not space_compatible(parse_space({"a": [1, 2]}), parse_space({"a": [1, 2, 3]}))
    assert not space_compatible(parse_space({"a": 1, "b": 2}), parse_space({"b": 2, "a": 1}))


@pytest.mark.parametrize("text", ["not json", "{}", '{"format": 2, "parameters": []}', "[1]"])
def test_from_json_rejects_garbage(text: str) -> None:
    with pytest.raises(SpaceError, match="not a search space JSON"):
        SearchSpace.from_json(text)


def test_from_json_revalidates() -> None:
    text = '{"format": 1, "parameters": [{"name": "x", "type": "float", "low": 2, "high": 1, "log": false, "step": null}]}'  # noqa: E501
    with pytest.raises(SpaceError, match="must be greater than"):
        SearchSpace.from_json(text)


# ----------------------------------------------------------------------------- points


@pytest.mark.parametrize(
    ("params", "path", "message"),
    [
        ({"a": 0.5, "n": 3, "c": "x", "m": "p", "k": 2, "f": 1}, None, None),
        ({"a": 0.5, "n": 3, "c": "x", "m": "q", "f": 1}, None, None),
        ({"a": 1, "n": 3, "c": "x", "m": "q", "f": 1}, ("a",), "expected a float"),
        ({"a": 2.0, "n": 3, "c": "x", "m": "q", "f": 1}, ("a",), "outside"),
        ({"a": 0.5, "n": 3.0, "c": "x", "m": "q", "f": 1}, ("n",), "expected an int"),
        ({"a": 0.5, "n": True, "c": "x", "m": "q", "f": 1}, ("n",), "expected an int"),
        ({"a": 0.5, "n": 4, "c": "x", "m": "q", "f": 1}, ("n",), "not in range(1, 10, 2)"),
        ({"a": 0.5, "n": 3, "c": "z", "m": "q", "f": 1}, ("c",), "not one of"),
        ({"a": 0.5, "n": 3, "c": 1, "m": "q", "f": 1}, ("c",), "not one of"),
        ({"a": 0.5, "n": 3, "c": "x", "m": "q", "f": 1.0}, ("f",), "fixed value 1"),
        ({"a": 0.5, "n": 3, "c": "x", "m": "p", "f": 1}, ("m", "values", "p", "k"), "missing"),
        ({"a": 0.5, "n": 3, "c": "x", "m": "q", "k": 2, "f": 1}, ("k",), "unexpected"),
        ({"n": 3, "c": "x", "m": "q", "f": 1}, ("a",), "missing"),
    ],
)
def test_check_params(params: dict, path: tuple | None, message: str | None) -> None:
    space = parse_space(
        {
            "a": {"distribution": "uniform", "min": 0, "max": 1},
            "n": {"distribution": "int", "min": 1, "max": 9, "step": 2},
            "c": ["x", "y", True],
            "m": {"values": {"p": {"k": [1, 2]}, "q": None}},
            "f": 1,
        }
    )
    assert contains(space, params) is (path is None)
    if path is not None:
        with pytest.raises(SpaceError) as info:
            check_params(space, params)
        assert info.value.path == path
        assert message in info.value.message


def test_stepped_float_membership() -> None:
    space = parse_space({"x": {"distribution": "q_uniform", "min": 0.1, "max": 1.0, "q": 0.05}})
    assert contains(space, {"x": 0.15})
    assert contains(space, {"x": 0.1 + 0.05})  # 0.15000000000000002
    assert not contains(space, {"x": 0.17})


# ----------------------------------------------------------------------------- optuna


def _random_points(space: SearchSpace, n: int, seed: int = 0) -> list[dict]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    points = []
    for _ in range(n):
        trial = study.ask()
        points.append(suggest(trial, space))
        study.tell(trial, 0.0)
    return points


def test_suggest_flat_params_and_qualified_labels(nested: SearchSpace) -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    seen_models = set()
    for _ in range(60):
        trial = study.ask()
        params = suggest(trial, nested)
        assert contains(nested, params), params
        labels = set(trial.params)
        seen_models.add(params["model"])
        if params["model"] == "rf":
            assert "model=rf/depth" in labels
            assert 1 <= params["depth"] <= 4
            assert "booster" not in params
        else:
            assert "model=gbm/depth" in labels
            assert params["depth"] in (10, 15, 20)
            assert ("eta" in params) == (params["booster"] == "tree")
            if params["booster"] == "tree":
                assert "model=gbm/booster=tree/eta" in labels
        assert ("n_components" in params) == (params["use_pca"] is True)
        if params["use_pca"]:
            assert "use_pca=true/n_components" in labels
        assert not any("/" in name for name in params)
        study.tell(trial, 0.0)
    assert seen_models == {"rf", "gbm"}


def test_suggest_types(design: SearchSpace) -> None:
    for params in _random_points(design, 40):
        assert contains(design, params)
        assert type(params["n_estimators"]) is int
        assert type(params["max_features"]) is float
        assert params["seed"] == 42
        assert round(params["subsample"], 2) == params["subsample"]  # 0.55, not 0.55000000001
    values = {p["max_depth"] for p in _random_points(design, 40)}
    assert None in values


def test_optuna_replay_through_add_trial_and_enqueue(nested: SearchSpace) -> None:
    points = _random_points(nested, 20, seed=5)
    study = optuna.create_study()
    for i, params in enumerate(points):
        study.add_trial(
            optuna.trial.create_trial(
                params=to_optuna_params(nested, params),
                distributions=optuna_distributions(nested, params),
                value=float(i),
            )
        )
    assert len(study.trials) == 20
    assert "model" in study.trials[0].params
    for params in points[:5]:
        study.enqueue_trial(to_optuna_params(nested, params))
        trial = study.ask()
        assert suggest(trial, nested) == params
        study.tell(trial, 0.0)
    assert "seed" not in to_optuna_params(
        parse_space(DESIGN), _random_points(parse_space(DESIGN), 1)[0]
    )


def test_optuna_helpers_reject_points_outside_the_space(nested: SearchSpace) -> None:
    with pytest.raises(SpaceError):
        to_optuna_params(nested, {"model": "rf"})
    with pytest.raises(SpaceError):
        optuna_distributions(nested, {"model": "svm", "use_pca": False, "flag": None})


# ----------------------------------------------------------------------------- hyperopt


def test_hyperopt_samples_have_python_types(design: SearchSpace, nested: SearchSpace) -> None:
    rng = np.random.default_rng(0)
    for space in (design, nested):
        expr = to_hyperopt(space)
        seen: dict[str, set] = {}
        for _ in range(200):
            params = from_hyperopt(space, stochastic.sample(expr, rng=rng))
            assert contains(space, params), params
            for name, value in params.items():
                seen.setdefault(name, set()).add(type(value))
        if space is design:
            assert seen["n_estimators"] == {int}
            assert seen["max_features"] == {float}
            assert seen["subsample"] == {float}
            assert seen["max_depth"] == {int, type(None)}
            assert seen["learning_rate"] == {float}
            assert seen["min_samples_leaf"] == {int}
        else:
            assert seen["use_pca"] == {bool}
            assert seen["flag"] == {bool, type(None)}


def test_hyperopt_covers_int_and_step_ranges() -> None:
    space = parse_space(
        {
            "n": {"distribution": "int", "min": 1, "max": 4},
            "lg": {"distribution": "int", "min": 1, "max": 8, "log": True},
            "s": {"distribution": "int", "min": 0, "max": 30, "step": 10},
            "q": {"distribution": "q_uniform", "min": 0.1, "max": 0.3, "q": 0.1},
        }
    )
    rng = np.random.default_rng(1)
    expr = to_hyperopt(space)
    samples = [from_hyperopt(space, stochastic.sample(expr, rng=rng)) for _ in range(400)]
    assert {p["n"] for p in samples} == {1, 2, 3, 4}
    assert {p["lg"] for p in samples} == set(range(1, 9))
    assert {p["s"] for p in samples} == {0, 10, 20, 30}
    assert {p["q"] for p in samples} == {0.1, 0.2, 0.3}


def test_hyperopt_vals_invert_from_hyperopt(design: SearchSpace, nested: SearchSpace) -> None:
    for space in (design, nested):
        expr = to_hyperopt(space)
        for params in _random_points(space, 30, seed=2):
            vals = to_hyperopt_vals(space, params)
            active = {label: v[0] for label, v in vals.items() if v}
            assert from_hyperopt(space, space_eval(expr, active)) == params
    vals = to_hyperopt_vals(nested, {"model": "rf", "depth": 2, "use_pca": False, "flag": None})
    assert vals["model"] == [0]
    assert vals["model=rf/depth"] == [1.0]  # step index
    assert vals["model=gbm/depth"] == []
    assert vals["flag"] == [2]


# ----------------------------------------------------------------------------- grid


def test_grid_is_the_cartesian_product() -> None:
    space = parse_space(
        {
            "a": [1, None],
            "b": {"distribution": "int", "min": 0, "max": 4, "step": 2},
            "c": {"distribution": "q_uniform", "min": 0.1, "max": 0.2, "q": 0.05},
            "d": "fixed",
        }
    )
    points = list(grid_points(space))
    expected = [
        {"a": a, "b": b, "c": c, "d": "fixed"}
        for a, b, c in itertools.product([1, None], [0, 2, 4], [0.1, 0.15, 0.2])
    ]
    assert points == expected
    assert grid_size(space) == len(points) == 18
    assert all(contains(space, p) for p in points)


def test_grid_expands_choices(nested: SearchSpace) -> None:
    space = parse_space(
        {
            "model": {
                "values": {
                    "rf": {"depth": {"distribution": "int", "min": 1, "max": 3}},
                    "gbm": {"booster": {"values": {"tree": {"eta": [0.1, 0.3]}, "linear": None}}},
                    "dummy": None,
                }
            },
            "flag": [True, False],
        }
    )
    points = list(grid_points(space))
    models = [
        {"model": "rf", "depth": 1},
        {"model": "rf", "depth": 2},
        {"model": "rf", "depth": 3},
        {"model": "gbm", "booster": "tree", "eta": 0.1},
        {"model": "gbm", "booster": "tree", "eta": 0.3},
        {"model": "gbm", "booster": "linear"},
        {"model": "dummy"},
    ]
    assert points == [{**m, "flag": f} for m in models for f in (True, False)]
    assert grid_size(space) == 14
    assert all(contains(space, p) for p in points)
    assert list(grid_points(space)) == points  # deterministic


def test_grid_refuses_continuous_floats_eagerly() -> None:
    space = parse_space(_space_with_sub({"lr": {"distribution": "uniform", "min": 0, "max": 1}}))
    with pytest.raises(SpaceError) as info:
        grid_points(space)  # raises before iteration
    assert info.value.path == ("model", "values", "rf", "lr")
    assert "grid search needs 'values' or a 'step'" in info.value.message
    with pytest.raises(SpaceError) as info:
        grid_points(parse_space({"lr": {"distribution": "log_uniform", "min": 0.1, "max": 1}}))
    assert info.value.path == ("lr",)


def test_grid_refuses_too_many_points() -> None:
    space = parse_space(
        {"a": {"distribution": "int", "min": 0, "max": 999}, "b": {"min": 0, "max": 100}}
    )
    assert grid_size(space) == 1000 * 101 > MAX_GRID_POINTS
    with pytest.raises(SpaceError, match="the grid has 101,000 points, more than 100,000"):
        grid_points(space)


# ----------------------------------------------------------------------------- imports


def test_importing_space_does_not_import_optuna_or_hyperopt() -> None:
    code = (
        "import sys, tunetrack.sweep.space, tunetrack.sweep.strategies; "
        "assert not {'optuna', 'hyperopt'} & set(sys.modules), sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
