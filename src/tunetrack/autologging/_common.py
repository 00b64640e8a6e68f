"""What the integrations log alike: params, keys, metrics, importances, plots, digests, models.

Everything here is cheap on purpose (DESIGN.md: autolog may add <= 20 ms to a fit without
model saving): metrics are computed with numpy instead of sklearn.metrics' validated
functions (~10x faster), the importance plot is drawn with Pillow in ~1 ms instead of
matplotlib's ~35 ms (text layout alone), and nothing runs a subprocess.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import math
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tunetrack import _validation as v
from tunetrack._clock import now_ms
from tunetrack.entities import Metric, Param

if TYPE_CHECKING:
    import numpy as np

    from tunetrack.autologging._patch import Session

TOP_K = 20  # importances logged as metrics and drawn
TRUNCATED_TAG = "tunetrack.autolog.truncated_params"
#: The artifact path of the model autolog saved last in a run (the last fitted estimator).
MODEL_TAG = "tunetrack.autolog.model"
MAX_HASHED_ROWS = 1_000_000  # the digest covers at most this many rows (noted in dataset.json)
_INVALID_KEY_CHARS = re.compile(r"[^\w\-./ :]")


def safe_key(key: str) -> str:
    """``key`` with characters the store refuses replaced (``ndcg@5`` -> ``ndcg_at_5``)."""
    key = key.replace("@", "_at_")
    key = _INVALID_KEY_CHARS.sub("_", key).strip("/") or "_"
    return key[: v.MAX_KEY_LENGTH]


def params_of(values: Mapping[str, Any], prefix: str = "") -> tuple[list[Param], list[str]]:
    """Params with stringified values; values past the store's limit are truncated.

    Returns the params and the keys that were truncated (for the note tag).
    """
    limit = v.MAX_PARAM_VALUE_LENGTH
    params, truncated = [], []
    for key, value in values.items():
        text = value if isinstance(value, str) else str(value)
        name = safe_key(f"{prefix}{key}")
        if len(text) > limit:
            note = "... (truncated)"
            text = text[: limit - len(note)] + note
            truncated.append(name)
        params.append(Param(name, text))
    return params, truncated


def metrics_of(values: Mapping[str, float], step: int = 0) -> list[Metric]:
    """Metric points (one timestamp) from a name -> value mapping."""
    ts = now_ms()
    return [Metric(safe_key(k), float(val), ts, step) for k, val in values.items()]


# -- feature importances -----------------------------------------------------------------
def feature_names(n: int, *candidates: Any) -> list[str]:
    """Names of ``n`` features: the first candidate's ``feature_names_in_`` of length ``n``."""
    for obj in candidates:
        names = getattr(obj, "feature_names_in_", None)
        if names is not None and len(names) == n:
            return [str(name) for name in names]
    return [f"f{i}" for i in range(n)]


def top_k(names: Sequence[str], values: np.ndarray, k: int = TOP_K) -> list[tuple[str, float]]:
    """The ``k`` largest importances, largest first (ties keep feature order)."""
    import numpy as np

    order = np.argsort(-values, kind="stable")[:k]
    return [(names[i], float(values[i])) for i in order]


def importance_metrics(ranked: Iterable[tuple[str, float]], prefix: str) -> dict[str, float]:
    """``{prefix + name: value}``; names made key-safe, collisions suffixed."""
    out: dict[str, float] = {}
    for name, value in ranked:
        key = safe_key(f"{prefix}{name}")
        base, i = key, 1
        while key in out:
            i += 1
            key = f"{base}_{i}"
        out[key] = value
    return out


# -- metrics -----------------------------------------------------------------------------
def classification_metrics(
    y: np.ndarray, pred: np.ndarray, proba: Any, classes: Any, w: np.ndarray | None
) -> dict[str, float]:
    """accuracy, precision, recall, f1 (binary: positive = the larger label; multiclass:
    weighted by support), and with ``proba`` log_loss and roc_auc (multiclass: one-vs-rest,
    weighted). Same definitions as sklearn.metrics at a tenth of the time (no validation).
    """
    import numpy as np

    n = len(y)
    w = np.ones(n) if w is None else w
    total = w.sum()
    correct = y == pred
    out = {"accuracy": float(w[correct].sum() / total)}
    labels = np.unique(np.concatenate([y, pred])) if classes is None else np.asarray(classes)
    if len(labels) <= 2:  # binary: the positive class is the larger label
        pos = labels[-1]
        tp = w[correct & (y == pos)].sum()
        pp, ap = w[pred == pos].sum(), w[y == pos].sum()
        out["precision"] = float(tp / pp) if pp else 0.0
        out["recall"] = float(tp / ap) if ap else 0.0
        out["f1"] = float(2 * tp / (pp + ap)) if pp + ap else 0.0
    else:  # weighted by each class's (weighted) support
        labels = np.union1d(labels, np.union1d(y, pred))
        yi, pi = np.searchsorted(labels, y), np.searchsorted(labels, pred)
        k = len(labels)
        true_c = np.bincount(yi, w, k)
        pred_c = np.bincount(pi, w, k)
        tp_c = np.bincount(yi[correct], w[correct], k)
        support = true_c / true_c.sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            out["precision"] = float(np.nan_to_num(tp_c / pred_c) @ support)
            out["recall"] = float(np.nan_to_num(tp_c / true_c) @ support)
            out["f1"] = float(np.nan_to_num(2 * tp_c / (true_c + pred_c)) @ support)
    if proba is None:
        return out
    classes = np.asarray(classes)
    proba = np.asarray(proba, dtype=float)
    idx = np.searchsorted(classes, y).clip(0, len(classes) - 1)
    if proba.ndim != 2 or proba.shape[1] != len(classes) or not (classes[idx] == y).all():
        return out  # labels outside classes_: probabilities cannot be scored
    eps = np.finfo(proba.dtype).eps
    p = np.clip(proba[np.arange(n), idx], eps, 1 - eps)
    out["log_loss"] = float(-(w * np.log(p)).sum() / total)
    if len(classes) == 2:
        auc = roc_auc(idx == 1, proba[:, 1], w)
    else:
        scores = [roc_auc(idx == j, proba[:, j], w) for j in range(len(classes))]
        aucs = [a for a in scores if a is not None]
        support = np.bincount(idx, w, len(classes))
        auc = float(np.dot(aucs, support) / support.sum()) if len(aucs) == len(scores) else None
    if auc is not None:
        out["roc_auc"] = auc
    return out


def roc_auc(pos: np.ndarray, score: np.ndarray, w: np.ndarray) -> float | None:
    """Area under the ROC curve (ties handled as sklearn does); None when undefined."""
    import numpy as np

    order = np.argsort(-score, kind="mergesort")
    score, pos, w = score[order], pos[order], w[order]
    last = np.r_[np.flatnonzero(np.diff(score)), len(score) - 1]
    tps = np.r_[0.0, np.cumsum(w * pos)[last]]
    fps = np.r_[0.0, np.cumsum(w * ~pos)[last]]
    if tps[-1] <= 0 or fps[-1] <= 0:
        return None
    tpr, fpr = tps / tps[-1], fps / fps[-1]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def regression_metrics(y: np.ndarray, pred: np.ndarray, w: np.ndarray | None) -> dict[str, float]:
    """mse, rmse, mae and r2 (uniform average over outputs), as sklearn.metrics defines them."""
    import numpy as np

    y = y.reshape(len(y), -1).astype(float)
    err = y - pred.reshape(len(y), -1)
    w = np.ones(len(y)) if w is None else w
    mse = np.average(err**2, axis=0, weights=w)
    mae = np.average(np.abs(err), axis=0, weights=w)
    ss_res = (w[:, None] * err**2).sum(axis=0)
    ss_tot = (w[:, None] * (y - np.average(y, axis=0, weights=w)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(ss_tot != 0, 1 - ss_res / ss_tot, np.where(ss_res == 0, 1.0, 0.0))
    return {
        "mse": float(mse.mean()),
        "rmse": float(np.sqrt(mse).mean()),
        "mae": float(mae.mean()),
        "r2": float(r2.mean()),
    }


# -- the importance plot -------------------------------------------------------------------
_font: Any = None


def _get_font() -> Any:
    global _font
    if _font is None:
        from PIL import ImageFont

        spec = importlib.util.find_spec("matplotlib")  # borrow its DejaVu font, no import
        path = None
        if spec is not None and spec.submodule_search_locations:
            root = next(iter(spec.submodule_search_locations))
            path = os.path.join(root, "mpl-data", "fonts", "ttf", "DejaVuSans.ttf")
        try:
            if path is None or not os.path.exists(path):
                raise OSError("no DejaVu font")
            _font = ImageFont.truetype(path, 11, layout_engine=ImageFont.Layout.BASIC)
        except (OSError, ImportError):
            _font = ImageFont.load_default()
    return _font


_labels: dict[tuple[str, int], Any] = {}  # rendered text, reused across plots (sweeps)


def _text(text: str, level: int) -> Any:
    """``text`` rendered once in gray ``level`` on white, as a small image to paste."""
    image = _labels.get((text, level))
    if image is None:
        from PIL import Image, ImageDraw

        font = _get_font()
        ascent, descent = font.getmetrics()
        size = (math.ceil(font.getlength(text)) + 1, ascent + descent)
        image = Image.new("L", size, 255)
        ImageDraw.Draw(image).text((0, 0), text, level, font)
        if len(_labels) < 4096:
            _labels[(text, level)] = image
    return image


def bar_plot(
    title: str, names: Sequence[str], columns: Mapping[str, Sequence[float]]
) -> bytes | None:
    """A horizontal bar chart as PNG bytes: one label column, one bar block per column.

    Each block is scaled to its own maximum. Drawn in grayscale (text in levels 1-255,
    rendered once per string) and saved as a palette PNG whose level 0, used only by the
    bars, is blue: ~1-3 ms. Returns None when Pillow is not installed.
    """
    try:
        from PIL import Image, ImageDraw
    except ImportError:
        return None
    labels = [_text(name, 1) for name in names]
    row, bar_w, pad = 16, 200 if len(columns) == 1 else 130, 8
    label_w = max((label.width for label in labels), default=0) + 2 * pad
    block_w = bar_w + 20
    head = 38 if len(columns) > 1 else 24
    width, height = label_w + block_w * len(columns), head + row * len(names) + pad
    img = Image.new("L", (width, height), 255)
    img.paste(_text(title, 1), (pad, 4))
    for i, label in enumerate(labels):
        img.paste(label, (label_w - pad - label.width, head + i * row + (row - label.height) // 2))
    draw = ImageDraw.Draw(img)
    for j, (column, data) in enumerate(columns.items()):
        x0 = label_w + j * block_w
        top = max(max(data, default=0.0), 1e-300)
        if len(columns) > 1:
            img.paste(_text(column, 60), (x0, 20))
        for i, value in enumerate(data):
            y = head + i * row
            w = max(int(bar_w * value / top), 1) if value > 0 else 0
            draw.rectangle((x0, y + 2, x0 + w, y + row - 3), fill=0)
    pal = img.convert("P")
    palette = [v for level in range(256) for v in (level, level, level)]
    palette[:3] = (31, 119, 180)
    pal.putpalette(palette)
    buf = io.BytesIO()
    pal.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


# -- dataset digest -------------------------------------------------------------------------
def _hash_into(h: Any, data: Any, rows: int) -> None:
    import numpy as np

    if data is None:
        return
    if hasattr(data, "iloc"):  # pandas DataFrame / Series
        dtypes = data.dtypes if data.ndim == 2 else [data.dtype]
        kinds = {getattr(t, "kind", "O") for t in dtypes}
        if len(kinds) == 1 and kinds <= {"b", "i", "u", "f"}:  # one numpy dtype: 10x faster
            labels = data.columns if data.ndim == 2 else [data.name]
            h.update(repr([str(label) for label in labels]).encode())
            h.update(np.ascontiguousarray(data.iloc[:rows].to_numpy()).data)
            return
        from pandas.util import hash_pandas_object

        h.update(hash_pandas_object(data.iloc[:rows], index=False).to_numpy().tobytes())
        return
    if hasattr(data, "tocsr"):  # scipy sparse
        csr = data.tocsr()[:rows]
        for part in (csr.data, csr.indices, csr.indptr):
            h.update(np.ascontiguousarray(part).data)
        return
    arr = np.asarray(data)[:rows]
    if arr.dtype == object:
        import pandas as pd
        from pandas.util import hash_pandas_object

        h.update(hash_pandas_object(pd.DataFrame(arr.reshape(len(arr), -1)), index=False).values)
        return
    h.update(np.ascontiguousarray(arr).data)


def dataset_info(X: Any, y: Any = None, *, source: str | None = None) -> dict[str, Any]:
    """Shape, column names and a sha256 digest of the training data (and targets)."""
    shape = tuple(int(d) for d in getattr(X, "shape", ()) or (len(X),))
    h = hashlib.sha256(repr(shape).encode())
    _hash_into(h, X, MAX_HASHED_ROWS)
    _hash_into(h, y, MAX_HASHED_ROWS)
    info: dict[str, Any] = {
        "digest": h.hexdigest(),
        "shape": list(shape),
        "source": source or f"{type(X).__module__}.{type(X).__name__}",
    }
    columns = getattr(X, "columns", None)
    if columns is not None:
        info["columns"] = [str(c) for c in columns]
        info["dtypes"] = [str(t) for t in getattr(X, "dtypes", [])]
    elif getattr(X, "dtype", None) is not None:
        info["dtype"] = str(X.dtype)
    if y is not None:
        info["target_shape"] = [int(d) for d in getattr(y, "shape", (len(y),))]
        if getattr(y, "name", None) is not None:
            info["target_name"] = str(y.name)
    if shape and shape[0] > MAX_HASHED_ROWS:
        info["digest_rows"] = MAX_HASHED_ROWS
    return info


def dataset_tags(info: Mapping[str, Any]) -> dict[str, str]:
    """The ``dataset.digest`` and ``dataset.shape`` tags of a :func:`dataset_info`."""
    return {"dataset.digest": info["digest"], "dataset.shape": "x".join(map(str, info["shape"]))}


# -- artifacts and models -------------------------------------------------------------------
def write_json(session: Session, artifact_file: str, data: Any) -> None:
    """Write ``data`` as a JSON artifact of the session's run."""
    text = json.dumps(data, indent=1, default=str)
    session.artifacts.write_bytes(artifact_file, text.encode("utf-8"))


def log_model(
    session: Session,
    model: Any,
    model_input: Any = None,
    model_output: Any = None,
    path: str | None = None,
) -> str:
    """Log ``model`` with its input signature as a model artifact of the session's run and
    name it the run's latest autologged model (tag :data:`MODEL_TAG`); return its path.

    A new model takes the first free path (``model``, ``model_2``, ...); ``path`` (the
    artifact of an earlier fit of the same object) is overwritten in place, so a refitted
    estimator keeps one artifact. Uses :mod:`tunetrack.models` (flavor, manifest, hashes);
    when that package is not available, falls back to a plain file: ``model/model.ubj``
    for XGBoost, ``model/model.joblib`` otherwise.
    """
    try:
        from tunetrack.models import infer_signature, save_model
    except ImportError:
        _fallback_model(session, model)
        return "model"
    signature = None
    if model_input is not None and not _is_dmatrix(model_input):
        signature = infer_signature(model_input, model_output)
    if path is None:
        path = log_model_at_free_path(model, session.run_id, signature=signature)
    else:  # same object, same flavor: the same files, rewritten
        with tempfile.TemporaryDirectory(prefix="tunetrack-model-") as tmp:
            save_model(model, tmp, signature=signature)
            session.artifacts.log_artifacts(tmp, path)
    session.client.set_tag(session.run_id, MODEL_TAG, path)
    return path


def log_model_at_free_path(model: Any, run_id: str, **options: Any) -> str:
    """Log ``model`` into ``run_id`` under its first free path: ``model``, ``model_2``...

    ``options`` go to :func:`tunetrack.models.log_model`. Returns the path.
    """
    from tunetrack.errors import Conflict
    from tunetrack.models import log_model as models_log_model

    for n in range(1, 1000):
        path = "model" if n == 1 else f"model_{n}"
        try:
            models_log_model(model, path, run_id=run_id, **options)
            return path
        except Conflict:
            continue
    raise Conflict(f"run {run_id} already holds 999 models")


def _is_dmatrix(data: Any) -> bool:
    return type(data).__name__ in ("DMatrix", "QuantileDMatrix") and "xgboost" in str(
        type(data).__module__
    )


def _fallback_model(session: Session, model: Any) -> None:
    module = type(model).__module__.split(".")[0]
    with tempfile.TemporaryDirectory(prefix="tunetrack-model-") as tmp:
        if module == "xgboost":
            path = os.path.join(tmp, "model.ubj")
            model.save_model(path)
        else:
            import joblib

            path = os.path.join(tmp, "model.joblib")
            joblib.dump(model, path)
        session.artifacts.log_artifact(path, "model")


def estimator_tags(est: Any) -> dict[str, str]:
    """The ``estimator_name`` / ``estimator_class`` tags of a fitted object."""
    cls = type(est)
    return {"estimator_name": cls.__name__, "estimator_class": f"{cls.__module__}.{cls.__name__}"}
