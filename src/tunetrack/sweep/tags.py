"""Tag names that tie sweeps, trials and retrained runs together in the tracking store."""

RUN_TYPE = "tunetrack.run_type"  # sweep | trial | retrain
SWEEP_ID = "tunetrack.sweep_id"
SWEEP_SOURCE = "tunetrack.sweep.source"  # the YAML file the sweep came from
SWEEP_OVERRIDES = "tunetrack.sweep.overrides"  # JSON list of --set overrides
SWEEP_GOALS = "tunetrack.sweep.goals"  # JSON [[metric, direction], ...]
SWEEP_HEARTBEAT = "tunetrack.sweep.heartbeat"  # epoch ms, refreshed while the sweep runs
SWEEP_ORCHESTRATOR = "tunetrack.sweep.orchestrator"  # "<host> pid <pid>" of the one running it
SWEEP_STOPPED = "tunetrack.sweep.stopped"  # "<reason>: <why, in words>" when it ended
SWEEP_ERROR = "tunetrack.sweep.error"  # "<exception type>: <first line>" if its orchestrator failed
TRIAL_NUMBER = "tunetrack.trial.number"
TRIAL_PARAMS = "tunetrack.trial.params"  # JSON: the params with their Python types
TRIAL_SUGGESTED = "tunetrack.trial.suggested"  # JSON space of the trial.suggest_* params
TRIAL_MODEL = "tunetrack.trial.model"  # the model the objective named (its artifact path)
TRIAL_ABANDONED = "tunetrack.trial.abandoned"  # why a trial ended without a result
TRIAL_PID = "tunetrack.trial.pid"  # the process a trial ran in (trials in child processes)
TRIAL_WORKER = "tunetrack.trial.worker"  # "<host> pid <pid>" of the worker that forked it
TRIAL_STARTED = "tunetrack.trial.started"  # epoch ms when that process started the trial
TRIAL_RERUN_OF = "tunetrack.trial.rerun_of"  # the number of the trial whose worker was lost
RETRAIN_SOURCE = "tunetrack.retrain.source_run_id"
REGISTERED_VERSION = "tunetrack.retrain.registered"  # <model name>/<version>
BEST_RUN = "tunetrack.best.run_id"
BEST_PARAMS = "tunetrack.best.params"
