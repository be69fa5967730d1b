"""The public entry points: :func:`tune` and :func:`compare`."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna

from hyperlab.direction import MINIMIZE, check_direction, name_of, past_tense
from hyperlab.errors import HyperlabError, InputError, InputTypeError
from hyperlab.lab.identity import check_planned_space, objective_identity
from hyperlab.lab.objective import UserObjective, planned
from hyperlab.lab.results import cv_std_err, study_records
from hyperlab.lab.rundir import RunDir, RunSpec, check_name, load_studies
from hyperlab.lab.runlock import run_lock
from hyperlab.lab.runner import SURPLUS_REASON, StudyJob, run_jobs
from hyperlab.lab.storage import check_url
from hyperlab.registry import PRUNERS, TASKS, TUNERS
from hyperlab.tasks.base import Task

DEFAULT_RUNS_DIR = Path("runs")


@dataclass
class TuneSummary:
    """What :func:`tune` found.

    Attributes:
        best_params: The best trial's parameters.
        best_value: Its cross-validated mean score.
        best_std_err: Its standard error over the CV folds (NaN when it has no CV).
        test_score: Its score on the held-out test split (``None`` when the task has none).
        test_metric: What ``test_score`` measures and which way is better
            (e.g. ``cross-entropy, lower is better``).
        n_trials: Finished trials in the study.
        stopped: Why the study stopped early, if it did.
        run_dir: Where the run lives.
        direction: Which way the value was optimized (``"minimize"`` or ``"maximize"``).
    """

    best_params: dict[str, Any]
    best_value: float
    best_std_err: float
    test_score: float | None
    n_trials: int
    stopped: str | None = None
    run_dir: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    direction: str = MINIMIZE
    test_metric: str | None = None

    def lines(self) -> list[str]:
        """Human-readable summary lines."""
        se = (
            " (no CV)"
            if math.isnan(self.best_std_err)
            else f" ± {self.best_std_err:.4g} (CV standard error)"
        )
        out = [
            f"best value ({past_tense(self.direction)}): {self.best_value:.6g}{se} "
            f"after {self.n_trials} trials"
        ]
        out.append(
            "best configuration: "
            + ", ".join(f"{k}={_fmt(v)}" for k, v in self.best_params.items())
        )
        if self.test_score is not None:
            metric = f" ({self.test_metric})" if self.test_metric else ""
            out.append(f"held-out test score: {self.test_score:.6g}{metric}")
        if self.stopped:
            out.append(self.stopped)
        return out


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _task_label(task: Any) -> str:
    """A short name for a task name, a Task or an objective function (default run names)."""
    if isinstance(task, str):
        from hyperlab.tasks import user

        return user.label(task) if user.is_reference(task) else task
    return str(getattr(task, "name", getattr(task, "__name__", "objective")))


def default_name(task: Any, suffix: str) -> str:
    """The run name used when none is given: ``<task>-<suffix>`` (``suffix``: the tuner, or
    ``compare``); a reference to user code gives ``<module or file>-<attribute>-<suffix>``."""
    return f"{_task_label(task)}-{suffix}"


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputTypeError(f"{name} must be a positive integer, got {value!r}")
    if value < 1:
        raise InputError(f"{name} must be a positive integer, got {value}")
    return value


def _resolve_task(
    task: Task | str | None, task_options: dict[str, Any]
) -> tuple[str | None, Task | None]:
    if task is None:
        return None, None
    if isinstance(task, str):
        name = TASKS.canonical(task)  # a reference to a file is recorded with its absolute path
        return name, TASKS.create(name, **task_options)
    if isinstance(task, Task):
        for entry_name in (task.name,):
            if entry_name in TASKS:
                return entry_name, task
        raise InputError(
            f"task object {task.name!r} is not registered; register it with "
            "hyperlab.registry.TASKS.register(name, factory, description) so worker processes "
            "and resumed runs can rebuild it"
        )
    raise InputTypeError(f"task must be a registered name or a Task, got {type(task).__name__}")


#: The largest seed: seeds reach NumPy's generators, which take 0..2**32 - 1.
MAX_SEED = 2**32 - 1


def _check_seeds(seeds: list[int]) -> None:
    """Every seed is an integer in 0..:data:`MAX_SEED`, and none repeats (one study each)."""
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int):
            raise InputTypeError(f"seed must be an integer, got {s!r}")
        if not 0 <= s <= MAX_SEED:
            raise InputError(f"seed must be in 0..{MAX_SEED} (2**32 - 1), got {s}")
    if len(set(seeds)) != len(seeds):
        raise InputError(f"seeds must not repeat, got {seeds}")


def _check_task_options(task: Any, options: dict[str, Any] | None) -> dict[str, Any]:
    """A copy of ``options``, each of which the registered task named ``task`` takes."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise InputTypeError(f"task_options must be a dict, got {options!r}")
    known = TASKS.options(task) if isinstance(task, str) and task in TASKS else None
    for key in options:
        if known is not None and key not in known:
            listed = ", ".join(sorted(known)) or "none"
            raise InputError(
                f"task {task!r} does not take the option {key!r}; the options it takes: {listed}"
            )
    return dict(options)


def _build_task(
    task: Task | str | None, options: dict[str, Any] | None
) -> tuple[str | None, Task | None]:
    """The task's name and object, its options and settings checked before anything is stored.

    A factory that refuses an option's value with a plain ``TypeError`` or ``ValueError`` gives
    an :class:`InputError` naming the task and its options.
    """
    checked = _check_task_options(task, options)
    try:
        name, obj = _resolve_task(task, checked)
    except HyperlabError:
        raise
    except (TypeError, ValueError) as exc:
        raise InputError(f"task {task!r} refused its options {checked}: {exc}") from None
    if obj is not None:
        obj.check()
    return name, obj


def _prepare(
    kind: str,
    name: str,
    task: Task | str | Any,
    tuners: list[str],
    pruners: list[str],
    seeds: list[int],
    trials: int,
    jobs: int,
    storage: str | None,
    budget: int | None,
    stop_at_noise: bool,
    runs_dir: str | Path,
    overwrite: bool,
    task_options: dict[str, Any] | None,
    tuner_options: dict[str, Any] | None,
    pruner_options: dict[str, Any] | None,
    command: Sequence[str] | None,
    *,
    direction: str | None = None,
) -> tuple[RunSpec, RunDir, Task | None, UserObjective | None]:
    trials = _positive_int("trials", trials)
    jobs = _positive_int("jobs", jobs)
    _check_seeds(seeds)
    check_name(name)
    for t in tuners:
        TUNERS.check(t)
    for p in pruners:
        PRUNERS.check(p)
    objective: UserObjective | None = None
    if callable(task) and not isinstance(task, Task):
        objective, task_name, task_obj = task, None, None
    else:
        task_name, task_obj = _build_task(task, task_options)
    if budget is not None:
        budget = _positive_int("budget", budget)
        known = planned(task_obj)  # an objective's steps are its own: no maximum to check
        if known is not None and budget > known.max_budget:
            raise InputError(
                f"budget must be at most {known.max_budget} for {task_name}, got {budget}"
            )
    if storage is not None:
        check_url(storage)
    known = planned(task_obj)  # ``None``: the steps are the objective's own, pruners learn them
    max_budget = budget or (known.max_budget if known is not None else None)
    _check_no_pretraining_leak(task_name, pruner_options)  # before any pretraining runs
    _check_pruner_options(pruners, pruner_options, max_budget, trials)
    _check_tuner_options(tuners, tuner_options, planned(task_obj))
    _warn_startup_only(tuners, tuner_options, trials, planned(task_obj))
    _check_predictions_recorded(tuner_options, pruners, pruner_options, max_budget)
    run_dir = RunDir(Path(runs_dir) / name)
    spec = RunSpec(
        kind=kind,
        task=task_name,
        tuners=tuners,
        pruners=pruners,
        seeds=seeds,
        trials=trials,
        storage=storage or "",
        budget=budget,
        jobs=jobs,
        stop_at_noise=stop_at_noise,
        direction=_resolve_direction(direction, task_name, task_obj),
        task_options=dict(task_options or {}),
        tuner_options=dict(tuner_options or {}),
        pruner_options=dict(pruner_options or {}),
        name=name,
        command=list(command or []),
        objective=objective_identity(objective) if objective is not None else None,
    )
    spec = run_dir.prepare(spec, overwrite=overwrite)
    _check_resumed_space(run_dir, planned(task_obj))
    return spec, run_dir, task_obj, objective


def _check_resumed_space(run_dir: RunDir, task: Task | None) -> None:
    """A task's search space must be the one its run's studies began with (checked before any
    trial runs; an objective's trials are checked as they run)."""
    if task is not None:
        studies = [study for study, *_ in load_studies(run_dir.path)]
        check_planned_space(studies, task.distributions())


def _resolve_direction(direction: Any, task_name: str | None, task: Task | None) -> str:
    """The run's direction: ``direction`` when given, else the task's, else ``"minimize"``.

    A task that declares its direction (every :class:`Task` does unless it sets ``None``) is
    optimized that way; an explicit ``direction`` that contradicts it is refused by name.
    """
    if direction is not None:
        check_direction(direction)
    if task is None or task.direction is None:
        return str(direction or MINIMIZE)
    declared = check_direction(task.direction, f"direction of task {task_name!r}")
    if direction is not None and direction != declared:
        raise InputError(
            f"direction {direction!r} contradicts task {task_name!r}, whose score "
            f"({task.metric}) is to be {past_tense(declared)}; leave direction out to use "
            "the task's"
        )
    return declared


#: What the lab itself gives every pruner factory; not options.
_SET_FOR_PRUNERS = ("max_budget", "seed")


def _check_pruner_options(
    pruners: list[str], options: dict[str, Any] | None, max_budget: int | None, trials: int
) -> None:
    """Every option must be taken by at least one of the run's pruners (each pruner gets the
    ones it takes, as tuners do), and each pruner is built once with its share, so a bad value
    fails before any trial runs. ``max_budget`` is ``None`` when the objective's steps are its
    own (the pruners learn them). A pruner that needs as many complete trials as the run has
    before it can stop one is refused (:func:`_check_startup`)."""
    if options is not None and not isinstance(options, dict):
        raise InputTypeError(f"pruner_options must be a dict, got {options!r}")
    options = options or {}
    for key in options:
        if key in _SET_FOR_PRUNERS:
            raise InputError(f"pruner option {key!r} is set by the lab, not by an option")
        if not any(PRUNERS.takes(p, key) for p in pruners):
            taken = {
                p: sorted(set(PRUNERS.options(p) or ()) - set(_SET_FOR_PRUNERS)) for p in pruners
            }
            raise InputError(
                f"no pruner of this run takes the option {key!r}; the options each takes: {taken}"
            )
    for p in pruners:
        mine = {k: v for k, v in options.items() if PRUNERS.takes(p, k)}
        try:
            pruner = PRUNERS.create(p, max_budget=max_budget, seed=0, **mine)
        except HyperlabError:  # a bad value, already named by the pruner
            raise
        except (TypeError, ValueError) as exc:  # no such keyword, or a value it refuses
            raise InputError(f"pruner {p!r} refused its options {mine}: {exc}") from None
        _check_startup(p, pruner, trials)


def _check_startup(name: str, pruner: Any, trials: int) -> None:
    """A pruner that declares ``startup_trials`` (the complete trials it needs before it can
    stop one) must have a trial left to stop: otherwise it would silently prune nothing."""
    startup = getattr(pruner, "startup_trials", None)
    if isinstance(startup, int) and not isinstance(startup, bool) and trials <= startup:
        raise InputError(
            f"pruner {name!r} stops no trial before {startup} trials have completed, and the "
            f"run has trials={trials}: it would prune nothing; ask for more than {startup} "
            f"trials (or pruner 'none')"
        )


def _check_no_pretraining_leak(task_name: str | None, options: dict[str, Any] | None) -> None:
    """A curve pruner pretrained on the very task it prunes would read that task's own curves:
    refused by name."""
    from hyperlab.pruners.curve import pretrain_names

    pretrain = (options or {}).get("pretrain")
    if task_name is None or pretrain is None:
        return
    if task_name in (pretrain_names(pretrain) or []):
        raise InputError(
            f"pretrain names the task being tuned, {task_name!r}: its own curves would leak "
            f"into the predictions; pretrain on other tasks of its search space"
        )


#: What the lab itself gives every tuner factory; not options.
_SET_BY_THE_LAB = ("seed", "space", "task", "search_space")


def _check_tuner_options(
    tuners: list[str], options: dict[str, Any] | None, task: Task | None
) -> None:
    """Every option must be taken by at least one of the run's tuners (each tuner gets the
    ones it takes), and each tuner is built once with its share, so a bad value fails before
    any trial runs."""
    if options is None:
        return
    if not isinstance(options, dict):
        raise InputTypeError(f"tuner_options must be a dict, got {options!r}")
    for key in options:
        if key in _SET_BY_THE_LAB:
            raise InputError(f"tuner option {key!r} is set by the lab, not by an option")
        if not any(TUNERS.takes(t, key) for t in tuners):
            taken = {t: sorted(set(TUNERS.options(t) or ()) - set(_SET_BY_THE_LAB)) for t in tuners}
            raise InputError(
                f"no tuner of this run takes the option {key!r}; the options each takes: {taken}"
            )
    space = task.distributions() if task is not None else None
    for t in tuners:
        mine = {k: v for k, v in options.items() if TUNERS.takes(t, k)}
        if not mine:
            continue
        try:
            TUNERS.create(t, seed=0, space=space, task=task, **mine)
        except HyperlabError:  # a bad value, already named by the tuner
            raise
        except (TypeError, ValueError) as exc:  # no such keyword, or a value it refuses
            raise InputError(f"tuner {t!r} refused its options {mine}: {exc}") from None


def _check_predictions_recorded(
    tuner_options: dict[str, Any] | None,
    pruners: list[str],
    pruner_options: dict[str, Any] | None,
    max_budget: int | None,
) -> None:
    """``pruner_predictions=True`` needs a pruner of the run that records predictions (one that
    declares ``records_predictions``); otherwise the option would do nothing."""
    if (tuner_options or {}).get("pruner_predictions") is not True:
        return
    for p in pruners:
        mine = {k: v for k, v in (pruner_options or {}).items() if PRUNERS.takes(p, k)}
        if getattr(
            PRUNERS.create(p, max_budget=max_budget, seed=0, **mine), "records_predictions", False
        ):
            return
    raise InputError(
        f"tuner option pruner_predictions=True needs a pruner that records predicted finals "
        f"(curve, curve-parametric or curve-halving); this run's pruners are {pruners}"
    )


class StartupOnlyWarning(UserWarning):
    """A tuner will not leave its start-up design in the trials asked for."""


def _warn_startup_only(
    tuners: list[str], options: dict[str, Any] | None, trials: int, task: Task | None
) -> None:
    """Warn when a tuner draws all ``trials`` from its start-up design (declared as
    ``startup_trials``): its results are those of that design, not of its model."""
    space = task.distributions() if task is not None else None
    for t in tuners:
        mine = {k: v for k, v in (options or {}).items() if TUNERS.takes(t, k)}
        startup = getattr(
            TUNERS.create(t, seed=0, space=space, task=task, **mine), "startup_trials", None
        )
        if isinstance(startup, int) and trials <= startup:
            warnings.warn(
                f"tuner {t!r} draws its first {startup} trials from its start-up design before "
                f"its model chooses; with trials={trials} it never does, so its results are "
                "those of that design (ask for more trials)",
                StartupOnlyWarning,
                stacklevel=4,
            )


def _jobs(spec: RunSpec) -> list[StudyJob]:
    return [
        StudyJob(
            study_name=study_name,
            storage=spec.storage,
            task=spec.task,
            tuner=tuner,
            pruner=pruner,
            seed=seed,
            trials=spec.trials,
            budget=spec.budget,
            stop_at_noise=spec.stop_at_noise,
            direction=spec.direction,
            task_options=spec.task_options,
            tuner_options=spec.tuner_options,
            pruner_options=spec.pruner_options,
        )
        for study_name, tuner, pruner, seed in spec.study_names()
    ]


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
            cross-validation standard error (Optuna's Terminator, after Makarova et al. 2022).
        runs_dir: Parent folder of run directories.
        overwrite: Delete an existing run of that name first.
        progress: Show a progress bar.
        report: Write ``report.html`` into the run folder (as ``hyperlab tune`` does).
        task_options: Options for the task's factory (e.g. ``{"n_folds": 5}``).
        tuner_options: Options for the tuner's factory.
        pruner_options: Options for the pruner's factory (e.g. ``{"threshold": 0.02}`` for
            ``curve``); checked before any trial runs.
        command: The command line that started the run (recorded).
        direction: ``"minimize"`` or ``"maximize"``: which way the objective's value is
            better. Default: the task's own direction (a registered task declares it, and an
            explicit one that contradicts it is refused), ``"minimize"`` for an objective
            function. A resumed run must keep its direction.

    Returns:
        The study and a :class:`TuneSummary`.
    """
    name = default_name(task, tuner) if name is None else name
    with run_lock(runs_dir, name):  # one writer per run (see runlock)
        spec, run_dir, _task_obj, objective = _prepare(
            "tune",
            name,
            task,
            [tuner],
            [pruner],
            [seed],
            trials,
            jobs,
            storage,
            budget,
            stop_at_noise,
            runs_dir,
            overwrite,
            task_options,
            tuner_options,
            pruner_options,
            command,
            direction=direction,
        )
        run_jobs(_jobs(spec), spec.jobs, objective=objective, progress=progress, description=name)
        study = load_studies(run_dir.path)[0][0]
        summary = summarize(study, run_dir.path)
        if report:
            from hyperlab.report import write_report

            write_report(run_dir.path)
        return study, summary


def summarize(study: optuna.Study, run_dir: Path | None = None) -> TuneSummary:
    """A :class:`TuneSummary` of a finished study."""
    finished = [
        t for t in study.get_trials(deepcopy=False) if t.state.name in ("COMPLETE", "PRUNED")
    ]
    try:
        best = study.best_trial
    except ValueError:
        raise InputError(
            f"study {study.study_name!r} has no completed trial (all failed or pruned?)"
            + _first_failure(study)
        ) from None
    test = study.user_attrs.get("test_score", {})
    return TuneSummary(
        best_params=dict(best.params),
        best_value=float(best.value if best.value is not None else math.nan),
        best_std_err=cv_std_err(best),
        test_score=test.get("value") if test.get("trial") == best.number else None,
        test_metric=_test_metric(study),
        n_trials=len(finished),
        stopped=study.user_attrs.get("stopped_at_noise") or study.user_attrs.get("stopped"),
        run_dir=run_dir,
        direction=name_of(study.direction),
    )


def _test_metric(study: optuna.Study) -> str:
    """What the study's test score measures and which way is better (``cross-entropy, lower is
    better``; ``score`` when the metric was not recorded)."""
    better = "higher" if study.direction == optuna.study.StudyDirection.MAXIMIZE else "lower"
    return f"{study.user_attrs.get('test_score', {}).get('metric') or 'score'}, {better} is better"


def _first_failure(study: optuna.Study) -> str:
    """``"; trial N failed: REASON"`` for the first failed trial with a stored reason, or ``""``."""
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,)):
        reason = t.user_attrs.get("fail_reason")
        if reason and reason != SURPLUS_REASON:
            return f"; trial {t.number} failed: {reason}"
    return ""


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

    Returns:
        One record (dict) per trial; ``pandas.DataFrame(records)`` gives the table.
    """
    if isinstance(tuners, str) or isinstance(pruners, str):
        raise InputTypeError("tuners and pruners must be sequences of names, not one string")
    tuners, pruners = list(tuners), list(pruners)
    if not tuners:
        raise InputError("compare needs at least one tuner")
    if not pruners:
        raise InputError("compare needs at least one pruner")
    if len(set(tuners)) != len(tuners) or len(set(pruners)) != len(pruners):
        raise InputError(f"tuners and pruners must not repeat, got {tuners} and {pruners}")
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        seed_list = list(range(_positive_int("seeds", seeds)))
    else:
        seed_list = list(seeds)  # type: ignore[arg-type]
        if not seed_list:
            raise InputError("seeds must not be empty")
    name = default_name(task, "compare") if name is None else name
    with run_lock(runs_dir, name):  # one writer per run (see runlock)
        spec, run_dir, _task_obj, objective = _prepare(
            "compare",
            name,
            task,
            tuners,
            pruners,
            seed_list,
            trials,
            jobs,
            storage,
            budget,
            stop_at_noise,
            runs_dir,
            overwrite,
            task_options,
            tuner_options,
            pruner_options,
            command,
            direction=direction,
        )
        run_jobs(_jobs(spec), spec.jobs, objective=objective, progress=progress, description=name)
        records = collect_records(run_dir.path)
        write_results_csv(records, run_dir.path / "results.csv")
        if report:
            from hyperlab.report import write_report

            write_report(run_dir.path)
        return records


def collect_records(run_dir: str | Path) -> list[dict[str, Any]]:
    """Per-trial records of every study of a run."""
    spec = RunDir(run_dir).load_spec()
    optimum = None
    if spec.task is not None:
        optimum = TASKS.create(spec.task, **spec.task_options).optimum
    records = []
    for study, tuner, pruner, seed in load_studies(run_dir):
        records.extend(study_records(study, tuner, pruner, seed, optimum))
    return records


def write_results_csv(records: list[dict[str, Any]], path: Path) -> None:
    """Write records as CSV (one row per trial, parameters as ``param_<name>`` columns)."""
    import pandas as pd

    pd.DataFrame(records).to_csv(path, index=False)
