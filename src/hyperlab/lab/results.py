"""Per-trial records: plain dicts that load straight into a pandas DataFrame."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from hyperlab.direction import is_better, name_of, regret
from hyperlab.errors import HyperlabError
from hyperlab.lab.fold_scores import CV_SCORES as CV_SCORES
from hyperlab.lab.run_folder import RunDir
from hyperlab.lab.rundir import load_studies
from hyperlab.lab.runspec import RunSpec
from hyperlab.lab.trial_kinds import TUNER_AFTER_ATTR, failure_kind
from hyperlab.registry import TASKS
from hyperlab.tasks.base import EXTRAS_ATTR, FOLDS, SEEDS, SPREADS, Task, standard_error

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
    "direction",
    "budget",
    "epochs_cumulative",
    "wall_time",
    "seconds",
    "fail_reason",
    "failure",
)

#: Prefixes of a record's columns that are not in :data:`COLUMNS`: its parameters, the rates a
#: self-tuning model learned, and its task's extras renamed (:func:`extra_column`).
_PREFIXES = ("param_", "learned_", "extra_")
#: The label records concatenated from several runs carry (:mod:`hyperlab.lab.outcomes`).
_LABELS = ("task",)


def extra_column(name: str) -> str:
    """The column of a task's extra ``name`` (:func:`trial_extras`): ``name`` itself, or
    ``extra_<name>`` when it would be taken for another column (one of :data:`COLUMNS`,
    ``task``, or a name with a prefix of the other columns, ``param_``, ``learned_`` or
    ``extra_``), so no extra replaces one, nor two extras each other."""
    if name in COLUMNS or name in _LABELS or name.startswith(_PREFIXES):
        return f"extra_{name}"
    return name


def trial_extras(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """The task's own extras of ``trial`` that are one value (a number, text, a bool), by
    column (:func:`extra_column`): the user attributes its system attribute
    :data:`~hyperlab.tasks.base.EXTRAS_ATTR` names (none for a trial stored before the lab
    recorded them, or a user objective's trial, whose attributes are its own)."""
    names = trial.system_attrs.get(EXTRAS_ATTR)
    if not isinstance(names, list):
        return {}
    out = {}
    for name in names:
        value = trial.user_attrs.get(name) if isinstance(name, str) else None
        if isinstance(value, bool | int | float | str):
            out[extra_column(name)] = value
    return out


def result_columns(records: list[dict[str, Any]]) -> list[str]:
    """The columns of ``records`` in ``results.csv``'s order: :data:`COLUMNS`, then the
    ``param_`` and ``learned_`` columns in the order they first appear, then the task's extras
    (:func:`trial_extras`), sorted by name."""
    seen = list(dict.fromkeys(key for r in records for key in r))
    extras = [k for k in seen if k not in COLUMNS and not k.startswith(_PREFIXES[:2])]
    return [k for k in seen if k not in extras] + sorted(extras)


def trial_budget(trial: optuna.trial.FrozenTrial) -> int:
    """Epochs (budget units) a trial used: what its task recorded, else read from the steps
    a plain objective reported, as epochs (its last step, so a value reported every fifth
    epoch of 50 counts 50, not 10; one interval more when the steps count from 0). Steps that
    are not epochs (batches) are read as epochs too: report with the epoch as the step."""
    budget = trial.user_attrs.get("budget")
    if isinstance(budget, int):
        return budget
    steps = sorted(trial.intermediate_values)
    if steps:  # from 0: one interval more (every fifth from 0 to 45 is 50 epochs)
        return steps[-1] + (steps[-1] - steps[-2] if len(steps) > 1 else 1) * (steps[0] == 0)
    return 1 if trial.state == TrialState.COMPLETE else 0


def cv_std_err(trial: optuna.trial.FrozenTrial) -> float:
    """Standard error of a trial's score over its cross-validation folds (over its seeds for a
    task whose spread is over seeds: :func:`spread_over`); NaN without CV.

    A task's trial records its standard error; an objective's trial that reported its fold
    scores (:func:`~hyperlab.lab.fold_scores.report_fold_scores`, or Optuna's deprecated
    ``report_cross_validation_scores``: :data:`CV_SCORES`) has the standard error of their
    mean. A trial has no CV when it has neither, or a zero standard
    error from fewer than two folds (a task scored once, such as a synthetic function).
    """
    se = trial.user_attrs.get("std_err")
    if "std_err" not in trial.user_attrs:
        return _fold_scores_error(trial.system_attrs.get(CV_SCORES))
    if isinstance(se, bool) or not isinstance(se, int | float) or not math.isfinite(se):
        return math.nan
    if se == 0 and len(trial.user_attrs.get("fold_values") or []) < 2:
        return math.nan
    return float(se)


def _fold_scores_error(scores: Any) -> float:
    """The standard error of the mean of ``scores`` (a trial's reported fold scores); NaN
    unless they are at least two finite numbers."""
    if not isinstance(scores, list | tuple) or len(scores) < 2:
        return math.nan
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in scores):
        return math.nan
    se = standard_error([float(v) for v in scores])
    return se if math.isfinite(se) else math.nan


#: The study attribute that records what its trials' ``std_err`` and ``fold_values`` are over
#: (the task's :attr:`~hyperlab.tasks.base.Task.spread_over`; a study without it: folds).
SPREAD_ATTR = "spread_over"

#: How a summary names a trial's standard error by what it is over, and the want of one.
_SE_WORDS = {
    FOLDS: ("CV standard error", "no CV"),
    SEEDS: ("standard error over seeds", "one seed"),
}


def spread_over(study: optuna.Study, task: str | None = None) -> str:
    """What ``study``'s trials' ``std_err`` and ``fold_values`` are over: ``"folds"`` or
    ``"seeds"`` (:data:`SPREAD_ATTR`). A study without it (run before it was recorded) reads
    the class attribute of the registered task named ``task``, when the name shows its class
    without building the task (:meth:`~hyperlab.registry.Registry.builders`: nothing is
    loaded); folds otherwise, and when the attribute is not one of these."""
    over = study.user_attrs.get(SPREAD_ATTR)
    if over is None and task is not None:
        over = next(
            (
                b.spread_over
                for b in TASKS.builders(task)
                if isinstance(b, type) and issubclass(b, Task)
            ),
            None,
        )
    return over if over in SPREADS else FOLDS


def record_spread(study: optuna.Study, task: Task | None) -> None:
    """Record ``task``'s ``spread_over`` in ``study`` (nothing for a user's objective, nor
    when the study holds it already)."""
    if task is not None and study.user_attrs.get(SPREAD_ATTR) != task.spread_over:
        study.set_user_attr(SPREAD_ATTR, task.spread_over)


def std_err_text(se: float | None, over: str, digits: int = 4) -> str:
    """`` ± 0.0123 (CV standard error)`` beside a value (`` ± ... (standard error over
    seeds)`` over seeds), or `` (no CV)`` (`` (one seed)``) without one (``se`` NaN or
    ``None``)."""
    named, missing = _SE_WORDS.get(over, _SE_WORDS[FOLDS])
    if se is None or math.isnan(se):
        return f" ({missing})"
    return f" ± {se:.{digits}g} ({named})"


def trial_seconds(trial: optuna.trial.FrozenTrial) -> float:
    """Seconds the trial took on this machine, from its start to its end: the tuner's
    suggestion, the evaluation and the pruner's decisions, where ``wall_time`` is the
    evaluation's own (simulated for a replayed task). A population member (its ``member``
    attribute), stored once its training ended, gives its measured ``wall_time``. NaN when
    neither is known."""
    if _is_member(trial) and "member" in trial.user_attrs:
        wall = trial.user_attrs.get("wall_time")
        return float(wall) if isinstance(wall, int | float) else math.nan
    if trial.datetime_start is None or trial.datetime_complete is None:
        return math.nan
    return (trial.datetime_complete - trial.datetime_start).total_seconds()


def _is_member(trial: optuna.trial.FrozenTrial) -> bool:
    """Whether ``trial`` is a population member (its schedule of segments recorded)."""
    schedule = trial.user_attrs.get("schedule")
    last = schedule[-1] if isinstance(schedule, list) and schedule else None
    return isinstance(last, dict) and _SEGMENT_KEYS <= set(last)


def trial_config(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """The hyperparameters a trial's model ended with: a population member's last segment's
    (after copies, architecture included; its starting parameters may be those of a model a
    copy overwrote), any other trial's parameters."""
    schedule = trial.user_attrs.get("schedule")
    last = schedule[-1] if isinstance(schedule, list) and schedule else None
    if isinstance(last, dict) and _SEGMENT_KEYS <= set(last) and isinstance(last["config"], dict):
        return dict(last["config"])
    return dict(trial.params)  # (a user's own "schedule" attribute of other keys included)


def trial_learned(trial: optuna.trial.FrozenTrial) -> dict[str, float]:
    """The hyperparameters a population member's training set itself, as they ended (a
    self-tuning member's learned rate: its last segment's ``learned``); empty for any other
    trial."""
    if not _is_member(trial):
        return {}
    learned = trial.user_attrs["schedule"][-1].get("learned")
    if not isinstance(learned, dict):
        return {}
    return {str(k): float(v) for k, v in learned.items() if isinstance(v, int | float)}


#: The keys of a population member's schedule entry (one segment) that :func:`trial_config` reads.
_SEGMENT_KEYS = frozenset({"start", "end", "config"})


def best_test_score(study: optuna.Study) -> float | None:
    """The held-out test score recorded for the study's best trial; ``None`` where there is
    none: no test split, no completed trial, or a score recorded for a trial that is no longer
    the best (a run resumed and cut off before it scored its new best)."""
    test = study.user_attrs.get("test_score")
    if not isinstance(test, dict) or test.get("value") is None:
        return None
    try:
        best = study.best_trial
    except ValueError:
        return None
    return float(test["value"]) if test.get("trial") == best.number else None


def study_records(
    study: optuna.Study,
    tuner: str = "",
    pruner: str = "",
    seed: int = 0,
    optimum: float | None = None,
) -> list[dict[str, Any]]:
    """One record per finished or failed trial of ``study``, in trial order.

    ``best_so_far`` is the best value so far in the study's direction (the running minimum,
    or maximum when maximizing), ``regret`` how far it falls short of ``optimum`` (>= 0 either
    way), ``direction`` says which way was better, and ``std_err`` is the value's CV standard
    error, or its standard error over seeds where the task's spread is over seeds
    (:func:`cv_std_err`: NaN for a trial scored without cross-validation). The
    ``param_<name>`` columns are :func:`trial_config`: a population member's at the end; a
    self-tuning member's ``learned_<name>`` columns, :func:`trial_learned`, what its training
    set them to by the end (``param_lr`` is then the rate its last segment started from). The
    task's own extras that are one value each follow (:func:`trial_extras`, named by
    :func:`extra_column`), absent from a trial that has none.
    ``epochs_cumulative`` counts the epochs used up to and with the trial, a population's
    screen (candidates trained before its members: :func:`screen_epochs`) included.
    ``failure`` says how a failed trial counts (:func:`~hyperlab.lab.trial_kinds.failure_kind`:
    ``task`` for the task's failures, which the report counts as failed; ``tuner`` for a
    finished trial too, whose tuner raised taking in its result, that error its
    ``fail_reason``).
    """
    direction = name_of(study.direction)
    records = []
    best = math.nan
    epochs = screen_epochs(study)
    for t in study.get_trials(deepcopy=False):
        if t.state == TrialState.RUNNING or t.state == TrialState.WAITING:
            continue
        value = t.value if t.state == TrialState.COMPLETE and t.value is not None else math.nan
        if math.isfinite(value) and is_better(value, best, direction):
            best = value
        budget = trial_budget(t)
        epochs += budget
        wall = t.user_attrs.get("wall_time")
        if wall is None and t.datetime_start and t.datetime_complete:
            wall = (t.datetime_complete - t.datetime_start).total_seconds()
        best_value = best
        record: dict[str, Any] = {
            "tuner": tuner,
            "pruner": pruner,
            "seed": seed,
            "trial": t.number,
            "state": t.state.name,
            "value": value,
            "std_err": cv_std_err(t),
            "best_so_far": best_value,
            "regret": regret(best_value, optimum, direction),
            "direction": direction,
            "budget": budget,
            "epochs_cumulative": epochs,
            "wall_time": wall if wall is not None else math.nan,
            "seconds": trial_seconds(t),
            "fail_reason": t.user_attrs.get("fail_reason", t.user_attrs.get(TUNER_AFTER_ATTR, "")),
            "failure": failure_kind(t),
        }
        for name, val in trial_config(t).items():
            record[f"param_{name}"] = val
        for name, val in trial_learned(t).items():
            record[f"learned_{name}"] = val
        record.update(trial_extras(t))
        records.append(record)
    return records


def screen_epochs(study: optuna.Study) -> int:
    """The epochs a population spent on the candidates its screen let go before its members
    trained (0 for any other study): no trial holds them, but the study used them."""
    info = study.user_attrs.get("population")
    if not isinstance(info, dict):
        return 0
    try:
        return max(0, int(info.get("screen_epochs") or 0))
    except (TypeError, ValueError):
        return 0


def used_seconds(records: list[dict[str, Any]]) -> float:
    """The seconds a study's trials took in all on this machine (:func:`trial_seconds`, the
    tuner's suggestions included), from its :func:`study_records`; NaN when none is known."""
    known = [r["seconds"] for r in records if math.isfinite(r["seconds"])]
    return float(sum(known)) if known else math.nan


def used_epochs(records: list[dict[str, Any]]) -> int:
    """The epochs a study used in all, from its :func:`study_records`."""
    return int(records[-1]["epochs_cumulative"]) if records else 0


def run_task(spec: RunSpec) -> Any | None:
    """The run's task object, or ``None``: a user objective, or a task whose code no longer
    loads (a moved or deleted file, a missing data set). Reading a run never fails for want
    of its task; only what the task adds (its known optimum, its held-out split) is missing."""
    if spec.task is None:
        return None
    try:
        return TASKS.create(spec.task, **spec.task_options)
    except (HyperlabError, ImportError, OSError, TypeError, ValueError):
        return None


def collect_records(run_dir: str | Path | RunDir) -> list[dict[str, Any]]:
    """Per-trial records of every study of a run (``regret`` only where the task, known to
    load, has a known optimum); a :class:`RunDir` lends its open storage."""
    run_dir = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    spec = run_dir.load_spec()
    task = run_task(spec)
    optimum = task.optimum if task is not None else None
    records = []
    for study, tuner, pruner, seed in load_studies(run_dir):
        records.extend(study_records(study, tuner, pruner, seed, optimum))
    return records


def write_results_csv(records: list[dict[str, Any]], path: Path) -> None:
    """Write records as CSV (one row per trial, parameters as ``param_<name>`` columns, the
    task's extras last: :func:`result_columns`; an empty cell where a trial has none)."""
    import pandas as pd

    pd.DataFrame(records, columns=result_columns(records)).to_csv(path, index=False)
