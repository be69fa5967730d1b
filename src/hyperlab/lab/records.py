"""Per-trial records: plain dicts that load straight into a pandas DataFrame."""

from __future__ import annotations

import math
from typing import Any

import optuna
from optuna.trial import TrialState

#: Columns every record has, in order (parameters follow as ``param_<name>``).
COLUMNS = (
    "tuner",
    "pruner",
    "seed",
    "trial",
    "state",
    "value",
    "std_err",
    "best_so_far",
    "regret",
    "budget",
    "epochs_cumulative",
    "wall_time",
    "fail_reason",
)


def trial_budget(trial: optuna.trial.FrozenTrial) -> int:
    """Epochs (budget units) a trial used."""
    budget = trial.user_attrs.get("budget")
    if isinstance(budget, int):
        return budget
    return len(trial.intermediate_values) or (1 if trial.state == TrialState.COMPLETE else 0)


def study_records(
    study: optuna.Study,
    tuner: str = "",
    pruner: str = "",
    seed: int = 0,
    optimum: float | None = None,
) -> list[dict[str, Any]]:
    """One record per finished or failed trial of ``study``, in trial order."""
    records = []
    best = math.inf
    epochs = 0
    for t in study.get_trials(deepcopy=False):
        if t.state == TrialState.RUNNING or t.state == TrialState.WAITING:
            continue
        value = t.value if t.state == TrialState.COMPLETE and t.value is not None else math.nan
        if math.isfinite(value):
            best = min(best, value)
        budget = trial_budget(t)
        epochs += budget
        wall = t.user_attrs.get("wall_time")
        if wall is None and t.datetime_start and t.datetime_complete:
            wall = (t.datetime_complete - t.datetime_start).total_seconds()
        best_value = best if math.isfinite(best) else math.nan
        record: dict[str, Any] = {
            "tuner": tuner,
            "pruner": pruner,
            "seed": seed,
            "trial": t.number,
            "state": t.state.name,
            "value": value,
            "std_err": t.user_attrs.get("std_err", math.nan),
            "best_so_far": best_value,
            "regret": best_value - optimum if optimum is not None else math.nan,
            "budget": budget,
            "epochs_cumulative": epochs,
            "wall_time": wall if wall is not None else math.nan,
            "fail_reason": t.user_attrs.get("fail_reason", ""),
        }
        for name, val in t.params.items():
            record[f"param_{name}"] = val
        records.append(record)
    return records
