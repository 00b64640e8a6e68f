"""The hyperopt adapter: hyperopt's own TPE or random search proposes, optuna keeps the ledger.

hyperopt's algorithms read and write a ``hyperopt.Trials``; this proposer keeps one beside
the optuna study. Each proposal is one document generated with a seed drawn from the
strategy's RNG, converted to flat params and enqueued into the study. When the trial is told
the document gets ``loss = value`` (negated to maximize); a failed trial, or a pruned one
with no reported value, is a hyperopt failure.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from tunetrack.sweep.proposers import Proposer
from tunetrack.sweep.space import SearchSpace, from_hyperopt, to_hyperopt, to_hyperopt_vals

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

__all__ = ["HyperoptProposer"]


def _not_evaluated(params: Any) -> Any:
    raise RuntimeError("the sweep runner evaluates trials, not hyperopt")


class HyperoptProposer(Proposer):
    """Proposals from hyperopt's ``tpe.suggest`` or ``rand.suggest``."""

    def __init__(
        self,
        space: SearchSpace,
        algorithm: Literal["tpe", "random"],
        *,
        seed: int | None,
        direction: Literal["maximize", "minimize"],
    ) -> None:
        import hyperopt
        from hyperopt import rand, tpe

        self._hyperopt = hyperopt
        self._space = space
        self._expr = to_hyperopt(space)
        self._domain = hyperopt.Domain(_not_evaluated, self._expr)
        self._trials = hyperopt.Trials()
        if algorithm == "tpe":
            self._suggest: Any = functools.partial(tpe.suggest, verbose=False)
        else:
            self._suggest = rand.suggest
        self._rng = np.random.default_rng(seed)
        self._sign = -1.0 if direction == "maximize" else 1.0
        self._pending: dict[str, Any] | None = None
        self._docs: dict[int, dict[str, Any]] = {}  # trial number -> running document

    @property
    def trials(self) -> Any:
        """The ``hyperopt.Trials`` the algorithm learns from."""
        return self._trials

    def next_params(self) -> dict[str, Any]:
        hyperopt = self._hyperopt
        tids = self._trials.new_trial_ids(1)
        seed = int(self._rng.integers(2**31 - 1))
        docs = self._suggest(tids, self._domain, self._trials, seed)
        for doc in docs:
            doc["state"] = hyperopt.JOB_STATE_RUNNING
        self._trials.insert_trial_docs(docs)
        self._trials.refresh()
        doc = next(d for d in reversed(self._trials.trials) if d["tid"] == tids[0])
        vals = {label: v[0] for label, v in doc["misc"]["vals"].items() if v}
        self._pending = doc
        return from_hyperopt(self._space, hyperopt.space_eval(self._expr, vals))

    def after_ask(self, number: int) -> None:
        if self._pending is not None:
            self._docs[number] = self._pending
            self._pending = None

    def after_tell(self, trial: FrozenTrial) -> None:
        doc = self._docs.pop(trial.number, None)
        if doc is not None:
            doc["result"] = self._result(trial)
            doc["state"] = self._hyperopt.JOB_STATE_DONE
            self._trials.refresh()

    def after_replay(self, params: dict[str, Any], trial: FrozenTrial) -> None:
        hyperopt = self._hyperopt
        (tid,) = self._trials.new_trial_ids(1)
        vals = to_hyperopt_vals(self._space, params)
        misc = {
            "tid": tid,
            "cmd": self._domain.cmd,
            "workdir": self._domain.workdir,
            "idxs": {label: [tid] if v else [] for label, v in vals.items()},
            "vals": vals,
        }
        docs = self._trials.new_trial_docs([tid], [None], [self._result(trial)], [misc])
        docs[0]["state"] = hyperopt.JOB_STATE_DONE
        self._trials.insert_trial_docs(docs)
        self._trials.refresh()

    def _result(self, trial: FrozenTrial) -> dict[str, Any]:
        value: float | None = None
        if trial.state.name in ("COMPLETE", "PRUNED") and trial.values:
            value = trial.values[0]
        elif trial.state.name == "PRUNED" and trial.intermediate_values:
            value = trial.intermediate_values[max(trial.intermediate_values)]
        if value is None or not math.isfinite(value):
            return {"status": self._hyperopt.STATUS_FAIL}
        return {"status": self._hyperopt.STATUS_OK, "loss": self._sign * value}
