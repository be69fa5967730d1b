"""Running a tuner panel: one in-memory study per (problem, tuner, seed), cached as JSON lines.

The benchmarks that compare tuners over many problems and seeds (``benchmarks/leaderboard.py``,
``benchmarks/meta_tuner.py``) run their studies here: :func:`run_study` runs one tuner on one
task with one seed through the registry and returns plain data (the best loss after each trial,
the wall time and the time the tuner spent suggesting, and what made the run); :func:`load_runs`
and :func:`append_run` keep finished runs in a JSON-lines file, so a long panel can run in
pieces, and :func:`hyperlab.lab.panel_cache.reusable` sets aside those made with other options.
The statistics over the runs are :mod:`hyperlab.lab.leaderboard`'s.

A multi-fidelity panel (tuners with pruners, and tuners that stop trials themselves) runs its
studies through :func:`hyperlab.compare` instead, so that epochs are counted the lab's way;
:func:`study_curve` turns one study's records into the best loss and the epochs used after
each trial, and :func:`trials_to_spend` sizes a study that must spend a given number of epochs.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import optuna
from optuna.trial import TrialState

from hyperlab.errors import InputError, TaskContractError
from hyperlab.lab.admission import Claimed
from hyperlab.lab.panel_cache import Key, made_with
from hyperlab.lab.trial_kinds import count
from hyperlab.lab.trial_loop import run_trial, trials_exhausted
from hyperlab.registry import TASKS, TUNERS

#: The trials that ran (a queued retry waits).
_RAN = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


def run_study(
    task_name: str,
    tuner: str,
    seed: int,
    trials: int,
    options: dict[str, Any] | None = None,
    label: str | None = None,
) -> dict[str, Any]:
    """One tuner on one task with one seed, as plain data.

    Args:
        task_name: A registered task, or a reference to a Task (not to an objective function).
        tuner: A registered tuner, built with the task's space and ``options``.
        seed: Seed of the tuner and of every evaluation.
        trials: Trials to run (a failing trial is recorded as failed, and the run goes on;
            fewer when a grid is visited in full; see :func:`_run`).
        options: The tuner's options.
        label: The name the run is kept under (default: ``tuner``), for variants of a tuner.

    Returns:
        ``{"task", "tuner" (the label), "seed", "trials", "best" (the best loss after each
        trial, a maximized task's values negated, ``inf`` before any finished), "wall_time",
        "suggest_time" (seconds outside the evaluations: the tuner's, with the trial path's
        bookkeeping, a fraction of a millisecond a trial), "optimum" (the task's, negated
        likewise; ``None`` when unknown), "made_with" (what made the run, so that a cache
        reuses it only for the same: :func:`hyperlab.lab.panel_cache.made_with`)}``.

    Raises:
        InputError: ``task_name`` names an objective function, whose configurations cannot be
            evaluated one by one (every trial would fail); or a trial showed what would fail
            every trial alike (a task that breaks its contract), as ``tune`` stops there.
    """
    task = TASKS.create(task_name)
    if task.trial_objective() is not None:  # (every trial would fail, and the run read inf)
        raise InputError(
            f"task {task_name!r} is an objective f(trial) -> float: a panel evaluates a Task's "
            "configurations (its search_space and evaluate); give a hyperlab.tasks.Task, or "
            "compare tuners on an objective with hyperlab.compare"
        )
    task.warm_up()  # (before the clock starts)
    flip = -1.0 if task.direction == "maximize" else 1.0
    sampler = TUNERS.create(
        tuner, seed=seed, space=task.distributions(), task=task, **(options or {})
    )
    spent = 0.0
    # a tuner that trains its trials itself (tpe-hd: a learned rate) does it here too
    trainer = getattr(sampler, "evaluate_trial", None)

    def objective(trial: optuna.Trial) -> float:
        nonlocal spent
        config = task.search_space(trial)
        start = time.perf_counter()
        try:
            if callable(trainer):
                return float(trainer(task, config, None, seed, None).value)
            return float(task.evaluate(config, seed=seed).value)
        except TaskContractError as exc:
            raise exc.in_trial(task_name, f"trial {trial.number}") from None
        finally:
            spent += time.perf_counter() - start

    study = optuna.create_study(direction=task.direction or "minimize", sampler=sampler)
    wall = _run(study, objective, trials)
    losses = [
        flip * t.value if t.value is not None and math.isfinite(t.value) else math.inf
        for t in study.trials
    ]
    return {
        "task": task_name,
        "tuner": label or tuner,
        "seed": seed,
        "trials": trials,
        "best": np.minimum.accumulate(losses).tolist(),
        "wall_time": wall,
        "suggest_time": wall - spent,
        "optimum": None if task.optimum is None else flip * float(task.optimum),
        "made_with": made_with(task_name, tuner, options),
    }


def _run(study: optuna.Study, objective: Any, trials: int) -> float:
    """Run ``trials`` trials of ``objective`` in ``study``, fewer when a grid is visited in
    full; the seconds they took. Each runs on the trial path of ``tune``
    (:func:`~hyperlab.lab.trial_loop.run_trial`): a tuner that raises choosing a trial's
    parameters or in its ``before_trial`` fails that trial, one that raises in its
    ``after_trial`` leaves it as it ended, and the run goes on."""
    func = Claimed(objective, trials)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        while (ran := count(study, _RAN)) < trials and not trials_exhausted(study, ran, trials):
            run_trial(study, func)
    return time.perf_counter() - start


def load_runs(
    path: Path, trials: Any, field: str = "trials", label: str = "tuner"
) -> dict[Key, dict[str, Any]]:
    """The runs of ``trials`` trials kept in the JSON-lines file ``path`` (none when it does
    not exist; a line cut short by an interruption is skipped; a later line of the same key
    wins); with ``field``, the runs whose ``field`` equals ``trials`` instead (e.g. the epoch
    budgets a multi-fidelity run was made for); keyed by task, the run's ``label`` field (the
    tuner's label, or a panel's own name for its arms) and seed."""
    done: dict[Key, dict[str, Any]] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                res = json.loads(line)
            except json.JSONDecodeError:
                continue
            if res.get(field) == trials:
                done[(res["task"], res[label], res["seed"])] = res
    return done


def append_run(log: TextIO, run: dict[str, Any]) -> None:
    """Keep one finished run in an open JSON-lines file (flushed at once)."""
    log.write(json.dumps(run) + "\n")
    log.flush()


def study_curve(records: Sequence[Mapping[str, Any]]) -> dict[str, list[float]]:
    """One study's best loss and epochs used after each trial, from its per-trial records.

    Args:
        records: The records of one study as :func:`hyperlab.compare` returns them (``trial``,
            ``best_so_far``, ``direction``, ``epochs_cumulative``), in any order.

    Returns:
        ``{"best": the best complete trial's value after each trial (a maximized study's
        negated; ``inf`` before any trial completed), "epochs": the epochs all trials had
        used by then}``, in trial order: a pruned trial's epochs count, its value does not.

    Raises:
        InputError: No records, or a record that lacks one of those fields.
    """
    if not records:
        raise InputError("a study curve needs the records of one study, got none")
    needed = ("trial", "best_so_far", "direction", "epochs_cumulative")
    for r in records:
        missing = [k for k in needed if k not in r]
        if missing:
            raise InputError(f"a record lacks {missing}: {dict(r)!r}")
    rows = sorted(records, key=lambda r: int(r["trial"]))
    best, epochs = [], []
    for r in rows:
        value = float(r["best_so_far"])
        flip = -1.0 if r["direction"] == "maximize" else 1.0
        best.append(flip * value if math.isfinite(value) else math.inf)
        epochs.append(float(r["epochs_cumulative"]))
    return {"best": best, "epochs": epochs}


def trials_to_spend(trials: int, spent: float, target: float, margin: float = 1.2) -> int:
    """Trials for a study to spend ``target`` epochs, after ``trials`` trials spent ``spent``.

    Epochs grow about in proportion to trials (a pruner stops the same share of them), so
    the answer scales ``trials`` by ``target / spent``, with ``margin`` to spare, and is always
    more than ``trials``.

    Raises:
        InputError: ``trials`` under 1, ``spent`` or ``target`` not positive, ``margin`` under 1.
    """
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise InputError(f"trials must be a positive integer, got {trials!r}")
    if not (spent > 0 and target > 0 and margin >= 1):
        raise InputError(
            f"spent and target must be positive and margin >= 1, got spent={spent!r}, "
            f"target={target!r}, margin={margin!r}"
        )
    return max(trials + 1, math.ceil(trials * margin * target / spent))
