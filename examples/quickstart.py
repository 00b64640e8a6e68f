"""Quickstart: a small learning-rate sweep tracked by tunetrack (until YAML sweeps land).

Fits a linear model by gradient descent for a few learning rates, one nested child run per
rate under a parent run, logging the loss at every step. Run it, then look at the results:

    python examples/quickstart.py
    tunetrack runs list --experiment quickstart --order-by "metrics.final_loss ASC"
"""

import numpy as np

import tunetrack

rng = np.random.default_rng(0)
X = rng.normal(size=(500, 5))
y = X @ np.array([1.5, -2.0, 0.5, 3.0, 0.0]) + rng.normal(scale=0.1, size=500)

tunetrack.set_experiment("quickstart")
with tunetrack.start_run(run_name="lr-sweep") as parent:
    best = (float("inf"), None)
    for lr in (0.001, 0.01, 0.05, 0.1):
        with tunetrack.start_run(run_name=f"lr={lr}", nested=True):
            tunetrack.log_params({"lr": lr, "steps": 200})
            w = np.zeros(5)
            for step in range(200):
                residual = X @ w - y
                w -= lr * 2 * X.T @ residual / len(y)
                tunetrack.log_metric("loss", float(np.mean(residual**2)), step=step)
            final = float(np.mean((X @ w - y) ** 2))
            tunetrack.log_metric("final_loss", final)
            best = min(best, (final, lr), key=lambda b: b[0])
    tunetrack.log_metrics({"best_final_loss": best[0]})
    tunetrack.set_tag("best_lr", best[1])

runs = tunetrack.search_runs(
    filter_string=f"attributes.parent_run_id = '{parent.info.run_id}'",
    order_by=["metrics.final_loss ASC"],
)
print(runs[["run_name", "params.lr", "metrics.final_loss"]].to_string(index=False))
print(f"tracked in {tunetrack.get_tracking_uri()}")
