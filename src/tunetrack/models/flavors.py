"""Model flavors: how one kind of model is saved to files and loaded back.

The registry is ordered: :func:`flavor_for` returns the first flavor that accepts a
model, so XGBoost (whose sklearn wrappers are sklearn estimators too) comes before
scikit-learn. Libraries are imported only when a flavor saves or loads.
"""

from __future__ import annotations

import abc
import io
import os
import sys
from collections.abc import Mapping
from typing import Any

from tunetrack.errors import InvalidInput
from tunetrack.models.manifest import ModelDir, ModelIntegrityError


class Flavor(abc.ABC):
    """Saves and loads one kind of model."""

    name: str
    #: Top-level modules whose versions are recorded and pinned for every model.
    modules: tuple[str, ...] = ("numpy",)

    @abc.abstractmethod
    def accepts(self, model: Any) -> bool:
        """True when this flavor can save ``model``."""

    @abc.abstractmethod
    def save(self, model: Any, directory: str) -> dict[str, Any]:
        """Write the model's files into ``directory``; return the manifest's flavor_options."""

    @abc.abstractmethod
    def load(self, model_dir: ModelDir) -> Any:
        """The native model object, from a verified model directory."""

    def requirements(self, model: Any) -> tuple[str, ...]:
        """Top-level modules ``model`` needs at load time."""
        return self.modules

    def __repr__(self) -> str:
        return f"<Flavor {self.name}>"


def _model_file(model_dir: ModelDir, default: str) -> str:
    name = model_dir.manifest.flavor_options.get("model_file", default)
    if not isinstance(name, str):
        raise ModelIntegrityError(f"model.yaml in {model_dir.path}: model_file must be a string")
    return name


def _top_module(obj: Any) -> str:
    return type(obj).__module__.split(".", 1)[0]


class SklearnFlavor(Flavor):
    """Any scikit-learn estimator or Pipeline (``fit`` and ``get_params``), saved with joblib."""

    name = "sklearn"
    modules = ("sklearn", "numpy", "scipy", "joblib")
    model_file = "model.joblib"

    def accepts(self, model: Any) -> bool:
        return callable(getattr(model, "fit", None)) and callable(
            getattr(model, "get_params", None)
        )

    def save(self, model: Any, directory: str) -> dict[str, Any]:
        import joblib

        joblib.dump(model, os.path.join(directory, self.model_file))
        return {"model_file": self.model_file, "serialization": "joblib"}

    def load(self, model_dir: ModelDir) -> Any:
        data = model_dir.read_bytes(_model_file(model_dir, self.model_file))
        import joblib

        return joblib.load(io.BytesIO(data))

    def requirements(self, model: Any) -> tuple[str, ...]:
        """sklearn's stack plus the libraries of nested estimators (an XGBoost step...)."""
        found = [_top_module(model)]
        try:
            params = model.get_params(deep=True)
        except Exception:  # a third-party estimator with a broken get_params
            params = {}
        found += [_top_module(v) for v in params.values() if hasattr(v, "get_params")]
        extra = [m for m in found if m not in ("builtins", "__main__")]
        return tuple(dict.fromkeys((*self.modules, *extra)))


class XGBoostFlavor(Flavor):
    """An XGBoost ``Booster`` or sklearn wrapper, saved in XGBoost's own format (``model.ubj``).

    A wrapper (XGBClassifier, XGBRegressor...) is saved through its own ``save_model``,
    which stores the booster plus the wrapper's metadata (classes...). The manifest names
    the wrapper class and its plain-valued params, so loading rebuilds the same class.
    """

    name = "xgboost"
    modules = ("xgboost", "numpy", "scipy")
    model_file = "model.ubj"

    def accepts(self, model: Any) -> bool:
        xgb = sys.modules.get("xgboost")  # a model of its class means it is imported
        return xgb is not None and isinstance(model, xgb.Booster | xgb.XGBModel)

    def save(self, model: Any, directory: str) -> dict[str, Any]:
        import xgboost as xgb

        path = os.path.join(directory, self.model_file)
        options: dict[str, Any] = {"model_file": self.model_file, "format": "ubj"}
        try:
            model.save_model(path)
        except (xgb.core.XGBoostError, AttributeError, ValueError) as exc:
            kind = type(model).__name__
            raise InvalidInput(f"cannot save {kind} (is it fitted?): {exc}") from None
        if isinstance(model, xgb.Booster):
            options["kind"] = "booster"
        else:
            options["kind"] = "sklearn_wrapper"
            options["wrapper_module"] = type(model).__module__
            options["wrapper_class"] = type(model).__qualname__
            options["params"] = _plain(model.get_params())
        return options

    def load(self, model_dir: ModelDir) -> Any:
        options = model_dir.manifest.flavor_options
        data = bytearray(model_dir.read_bytes(_model_file(model_dir, self.model_file)))
        import xgboost as xgb

        if options.get("kind", "booster") == "booster":
            booster = xgb.Booster()
            booster.load_model(data)
            return booster
        cls = _wrapper_class(options, model_dir.path)
        params = options.get("params") or {}
        try:
            model = cls(**params)
        except TypeError:  # saved by another xgboost version with other params
            model = cls()
        model.load_model(data)
        return model

    def requirements(self, model: Any) -> tuple[str, ...]:
        return self.modules if type(model).__name__ == "Booster" else (*self.modules, "sklearn")


def _plain(params: Mapping[str, Any]) -> dict[str, Any]:
    """Only the params with plain values (numbers, strings, bools, None)."""
    return {k: v for k, v in params.items() if v is None or type(v) in (bool, int, float, str)}


def _wrapper_class(options: Mapping[str, Any], where: str) -> type:
    """The xgboost sklearn wrapper class a manifest names (only classes from xgboost)."""
    import importlib

    import xgboost as xgb

    module_name = str(options.get("wrapper_module", ""))
    class_name = str(options.get("wrapper_class", ""))
    if module_name != "xgboost" and not module_name.startswith("xgboost."):
        raise ModelIntegrityError(
            f"model.yaml in {where} names wrapper module {module_name!r}, not an xgboost module"
        )
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError):
        raise InvalidInput(
            f"xgboost {xgb.__version__} has no {module_name}.{class_name} (model in {where})"
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, xgb.XGBModel)):
        raise ModelIntegrityError(f"{module_name}.{class_name} is not an xgboost sklearn wrapper")
    return cls


_REGISTRY: dict[str, Flavor] = {}


def register_flavor(flavor: Flavor) -> None:
    """Add a flavor; it is tried after the ones already registered."""
    _REGISTRY[flavor.name] = flavor


def get_flavor(name: str) -> Flavor:
    """The flavor called ``name``; InvalidInput naming the known ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(_REGISTRY)
        raise InvalidInput(f"unknown model flavor {name!r}; known flavors: {known}") from None


def flavor_for(model: Any) -> Flavor:
    """The first registered flavor that accepts ``model``; InvalidInput naming its type."""
    for flavor in _REGISTRY.values():
        if flavor.accepts(model):
            return flavor
    kind = f"{type(model).__module__}.{type(model).__qualname__}"
    raise InvalidInput(
        f"cannot log a model of type {kind}: supported are XGBoost boosters and sklearn "
        f"wrappers (flavor 'xgboost') and scikit-learn estimators with fit and get_params "
        f"(flavor 'sklearn')"
    )


register_flavor(XGBoostFlavor())
register_flavor(SklearnFlavor())
