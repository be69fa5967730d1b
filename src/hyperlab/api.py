"""The public entry points :func:`tune` and :func:`compare`: plan a run, run it, report it.

Each builds one :class:`~hyperlab.lab.plan.RunPlan` from its arguments (every check runs
there, before anything is stored), runs it under the run's lock and writes the report.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Iterable, KeysView, Mapping, Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from hyperlab.errors import (
    InputError,
    InputTypeError,
    NoCompletedTrialError,
    check_bool,
    with_article,
)
from hyperlab.lab.execute import DEFAULT_RUNS_DIR, run_plan
from hyperlab.lab.objective import UserObjective
from hyperlab.lab.plan import make_plan, positive_int
from hyperlab.lab.results import collect_records, write_results_csv
from hyperlab.lab.run_folder import RunDir
from hyperlab.lab.rundir import load_studies
from hyperlab.lab.runlock import run_lock
from hyperlab.lab.summary import TuneSummary, summarize
from hyperlab.lab.target import default_name
from hyperlab.registry import PRUNERS, TUNERS
from hyperlab.tasks.base import Task


def tune(
    task: Task | str | UserObjective,
    tuner: str = "tpe",
    *,
    trials: int = 20,
    pruner: str = "none",
    seed: int = 0,
    jobs: int = 1,
    storage: str | None = None,
    name: str | None = None,
    budget: int | None = None,
    stop_at_noise: bool = False,
    runs_dir: str | Path = DEFAULT_RUNS_DIR,
    overwrite: bool = False,
    progress: bool = True,
    report: bool = True,
    task_options: dict[str, Any] | None = None,
    tuner_options: dict[str, Any] | None = None,
    pruner_options: dict[str, Any] | None = None,
    direction: str | None = None,
    command: Sequence[str] | None = None,
) -> tuple[optuna.Study, TuneSummary]:
    """Tune a task (or a plain Optuna objective ``f(trial) -> float``) with one tuner.

    Re-running with the same settings resumes the study up to ``trials`` finished trials.

    Args:
        task: A registered task name, a registered :class:`Task`, or an objective function.
        tuner: A registered tuner name.
        trials: Finished (complete or pruned) trials wanted.
        pruner: A registered pruner name.
        seed: Seed of the tuner and of every trial.
        jobs: Worker processes sharing the study.
        storage: Any Optuna storage URL (default: a file in the run directory).
        name: Run name (default ``<task>-<tuner>``); the run lives in ``runs_dir/name``.
        budget: Epochs per trial (default: the task's maximum).
        stop_at_noise: Stop once the possible remaining improvement is below the best trial's
            cross-validation error (the spread of its fold scores with Nadeau and Bengio's
            correction, as Optuna's Terminator computes it, after Makarova et al. 2022; for a
            task scored over independent seeds, ``spread_over="seeds"`` such as the tables,
            the plain standard error of its mean over them).
        runs_dir, overwrite: Parent folder of run folders; delete an existing run of that
            name first.
        progress, report: Show a progress bar; write ``report.html`` into the run folder.
        task_options, tuner_options, pruner_options: Options for the task's, the tuner's and
            the pruner's factories (e.g. ``{"n_folds": 5}``, ``{"threshold": 0.02}`` for
            ``curve``); checked before any trial runs.
        direction: ``"minimize"`` or ``"maximize"``: which way the objective's value is
            better. Default: the task's own direction (a registered task declares it, and an
            explicit one that contradicts it is refused), ``"minimize"`` for an objective
            function. A resumed run must keep its direction.
        command: The command line that started the run (recorded).

    Returns:
        The study and a :class:`~hyperlab.lab.summary.TuneSummary`.
    """
    _check_call(runs_dir, overwrite=overwrite, progress=progress, report=report)
    TUNERS.check(tuner)  # before the run name is made of it (a sampler object, say)
    PRUNERS.check(pruner)
    name = default_name(task, tuner) if name is None else name
    with run_lock(runs_dir, name):  # one writer per run (see runlock)
        plan = make_plan(
            "tune",
            task,
            name=name,
            tuners=[tuner],
            pruners=[pruner],
            seeds=[seed],
            **_settings(locals()),
        )
        try:
            run_dir = run_plan(plan, runs_dir, overwrite=overwrite, progress=progress)
        except NoCompletedTrialError:  # (a population whose members all failed): its page
            _report(Path(runs_dir) / name, report)
            raise
        study = load_studies(run_dir)[0][0]  # (in the storage the run's checks opened)
        _report(run_dir, report)  # first: a study with no completed trial keeps its page
        summary = summarize(study, run_dir.path)
        return study, summary


def compare(
    task: Task | str | UserObjective,
    tuners: Sequence[str] = ("random", "tpe"),
    *,
    seeds: int | Sequence[int] = 3,
    trials: int = 20,
    pruners: Sequence[str] = ("none",),
    jobs: int = 1,
    storage: str | None = None,
    name: str | None = None,
    budget: int | None = None,
    stop_at_noise: bool = False,
    runs_dir: str | Path = DEFAULT_RUNS_DIR,
    overwrite: bool = False,
    progress: bool = True,
    report: bool = True,
    task_options: dict[str, Any] | None = None,
    tuner_options: dict[str, Any] | None = None,
    pruner_options: dict[str, Any] | None = None,
    direction: str | None = None,
    command: Sequence[str] | None = None,
    reference: str | None = None,
) -> list[dict[str, Any]]:
    """Run every tuner x pruner with several seeds; write ``results.csv`` and the report.

    Args:
        task: As for :func:`tune`.
        tuners: Registered tuner names.
        seeds: How many seeds (0..K-1), or the seeds themselves.
        trials: Finished trials per study.
        pruners: Registered pruner names (each combined with each tuner).
        jobs: Worker processes (each takes whole studies).
        storage, name, budget, stop_at_noise, runs_dir, overwrite, progress, task_options,
        tuner_options, pruner_options, command, direction: As for :func:`tune` (each tuner and each
        pruner gets the options it takes; every option must be taken by one of them).
        report: Write ``report.html`` next to ``results.csv``.
        reference: The method every other one is paired against in the report: a tuner's
            name (``tuner+pruner`` with several pruners). Default: ``random`` when the run
            holds it, else ``tpe``, else of two methods the first alphabetically, whatever
            the order given; more than two methods without either must name one
            (:mod:`hyperlab.lab.compare_reference`); checked before anything runs. A resumption
            may name another.

    Returns:
        One record (dict) per trial; ``pandas.DataFrame(records)`` gives the table.
    """
    _check_call(runs_dir, overwrite=overwrite, progress=progress, report=report)
    tuners, pruners = _names("tuner", tuners), _names("pruner", pruners)
    name = default_name(task, "compare") if name is None else name
    with run_lock(runs_dir, name):  # one writer per run (see runlock)
        plan = make_plan(
            "compare",
            task,
            name=name,
            tuners=tuners,
            pruners=pruners,
            seeds=_seed_list(seeds),
            reference=reference,
            **_settings(locals()),
        )
        run_dir = run_plan(plan, runs_dir, overwrite=overwrite, progress=progress)
        records = collect_records(run_dir)  # (in the storage the run's checks opened)
        write_results_csv(records, run_dir.path / "results.csv")
        _report(run_dir, report)
        return records


#: The arguments of :func:`tune` and :func:`compare` that go to the plan unchanged.
_PLAN_SETTINGS = (
    "trials",
    "jobs",
    "storage",
    "budget",
    "stop_at_noise",
    "direction",
    "task_options",
    "tuner_options",
    "pruner_options",
    "command",
)


def _settings(arguments: dict[str, Any]) -> dict[str, Any]:
    """The plan's settings among a call's ``arguments`` (its ``locals()``)."""
    return {key: arguments[key] for key in _PLAN_SETTINGS}


def _check_call(runs_dir: Any, **flags: Any) -> None:
    """The arguments that never reach the plan: the runs folder's type and the flags."""
    if not isinstance(runs_dir, (str, os.PathLike)):
        raise InputTypeError(f"runs_dir must be a folder path (str or Path), got {runs_dir!r}")
    for key, value in flags.items():
        check_bool(key, value)


def _report(run_dir: Path | RunDir, wanted: bool) -> None:
    if wanted:
        from hyperlab.report import write_report

        write_report(run_dir)


def _names(kind: str, names: Sequence[str]) -> list[str]:
    """``names`` as a list: not one string, not empty, no repeats."""
    if isinstance(names, str):
        raise InputTypeError(f"{kind}s must be a sequence of names, not one string")
    if not isinstance(names, Iterable):
        raise InputTypeError(f"{kind}s must be a sequence of names, got {names!r}")
    _check_ordered(f"{kind}s", names)
    out = list(names)
    for n in out:
        if not isinstance(n, str):
            raise InputTypeError(f"{kind}s must be names (strings), got {n!r} in {out!r}")
    if not out:
        raise InputError(f"compare needs at least one {kind}")
    if len(set(out)) != len(out):
        raise InputError(f"{kind}s must not repeat, got {out}")
    return out


#: The most seeds a comparison runs (each seed is one study per tuner and pruner).
MAX_SEEDS = 10_000


def _seed_list(seeds: int | Sequence[int]) -> list[int]:
    """``seeds`` as a list: ``K`` (an int, NumPy's too) means 0..K-1."""
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool | np.bool_):
        count = positive_int("seeds", seeds)
        if count > MAX_SEEDS:  # (one study each: a count past this is a typo, not a plan)
            raise InputError(f"seeds must be at most {MAX_SEEDS} (one study each), got {count}")
        return list(range(count))
    if isinstance(seeds, (str, bool)) or not isinstance(seeds, Iterable):
        raise InputTypeError(
            f"seeds must be a positive integer (how many) or a list of seeds, got {seeds!r}"
        )
    _check_ordered("seeds", seeds)
    out = list(seeds)
    if not out:
        raise InputError("seeds must not be empty")
    return out


def _check_ordered(what: str, values: Iterable[Any]) -> None:
    """Refuse a set or a mapping: the run records its order, which a set does not keep from
    one process to the next (a resumed run would see other settings)."""
    if isinstance(values, AbstractSet | Mapping) and not isinstance(values, KeysView):
        raise InputTypeError(
            f"{what} must be in an order (a list or tuple), not {with_article(type(values).__name__)}: "
            f"{values!r}"
        )
