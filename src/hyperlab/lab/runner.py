"""Running studies: one process or several sharing a storage, resumable, with progress.

A :class:`StudyJob` is plain data (picklable), so worker processes rebuild the task, tuner and
pruner from registry names. Every finished trial is in storage before the next one starts.
"""

from __future__ import annotations

import functools
import multiprocessing as mp
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import TrialState

from hyperlab.errors import InputError
from hyperlab.lab.objective import UserObjective, make_objective
from hyperlab.lab.storage import open_storage
from hyperlab.registry import PRUNERS, TASKS, TUNERS
from hyperlab.tasks.base import Task

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


@dataclass
class StudyJob:
    """One study to run: which task, tuner, pruner, seed, and how many finished trials."""

    study_name: str
    storage: str
    task: str | None
    tuner: str
    pruner: str
    seed: int
    trials: int
    budget: int | None = None
    stop_at_noise: bool = False
    task_options: dict[str, Any] = field(default_factory=dict)
    tuner_options: dict[str, Any] = field(default_factory=dict)
    test_score: bool = True


def _configure_worker() -> None:
    """Settings for a process that trains small networks (one thread each is fastest)."""
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def build_study(job: StudyJob, task: Task | None, worker: int = 0) -> optuna.Study:
    """Create or load the job's study with its seeded sampler and pruner."""
    space = task.distributions() if task is not None else None
    seed = job.seed if worker == 0 else job.seed + 7919 * worker
    sampler = TUNERS.create(job.tuner, seed=seed, space=space, task=task, **job.tuner_options)
    max_budget = job.budget or (task.max_budget if task is not None else 1)
    pruner = PRUNERS.create(job.pruner, max_budget=max_budget, seed=seed)
    study = optuna.create_study(
        study_name=job.study_name,
        storage=open_storage(job.storage),
        sampler=sampler,
        pruner=pruner,
        direction="minimize",
        load_if_exists=True,
    )
    study.set_user_attr(
        "hyperlab", {"task": job.task, "tuner": job.tuner, "pruner": job.pruner, "seed": job.seed}
    )
    return study


def count(study: optuna.Study, states: tuple[TrialState, ...]) -> int:
    return len(study.get_trials(deepcopy=False, states=states))


def fail_interrupted(study: optuna.Study) -> int:
    """Mark trials left RUNNING by a killed or interrupted process as failed (single owner)."""
    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study._storage.set_trial_user_attr(
            t._trial_id, "fail_reason", "interrupted (process ended mid-trial)"
        )
        study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        n += 1
    return n


def _noise_stop(study: optuna.Study) -> str | None:
    """A message when the remaining improvement is within the CV noise, else ``None``."""
    from optuna.terminator import CrossValidationErrorEvaluator, RegretBoundEvaluator

    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(trials) < 8 or not any("terminator:cv_scores" in t.system_attrs for t in trials):
        return None
    try:
        with warnings.catch_warnings():  # Optuna >= 4.9 marks the terminator deprecated
            warnings.simplefilter("ignore", FutureWarning)
            regret = RegretBoundEvaluator().evaluate(trials, study.direction)
        error = CrossValidationErrorEvaluator().evaluate(trials, study.direction)
    except Exception:  # the GP fit can fail on degenerate data; then keep going
        return None
    if regret < error:
        return (
            f"stopped at noise after {len(trials)} trials: possible remaining improvement "
            f"{regret:.4g} < cross-validation standard error {error:.4g}"
        )
    return None


def run_job(
    job: StudyJob,
    *,
    worker: int = 0,
    objective: UserObjective | None = None,
    on_trial: Callable[[], None] | None = None,
    owner: bool = True,
) -> optuna.Study:
    """Run ``job`` until its study holds ``job.trials`` finished trials.

    Args:
        job: The study to run.
        worker: Index of this worker (seeds the sampler differently in each worker).
        objective: A user objective (when ``job.task`` is ``None``).
        on_trial: Called after each trial (progress bars).
        owner: Whether this is the only process on the study (then trials left RUNNING by an
            earlier, interrupted run are marked failed first).
    """
    _configure_worker()
    task = TASKS.create(job.task, **job.task_options) if job.task is not None else None
    study = build_study(job, task, worker)
    if owner:
        fail_interrupted(study)
    func = make_objective(task, objective, job.seed, job.budget)
    failures = 0
    max_failures = max(10, job.trials)
    while True:
        done = count(study, FINISHED)
        running = count(study, (TrialState.RUNNING,))
        if done + running >= job.trials or study.user_attrs.get("stopped_at_noise"):
            break
        study.optimize(func, n_trials=1, catch=(Exception,), gc_after_trial=False)
        last = study.get_trials(deepcopy=False)[-1]
        if last.state == TrialState.FAIL:
            failures += 1
            if failures >= max_failures:
                study.set_user_attr("stopped", f"stopped after {failures} failed trials")
                break
        if on_trial is not None:
            on_trial()
        if job.stop_at_noise:
            message = _noise_stop(study)
            if message:
                study.set_user_attr("stopped_at_noise", message)
    if owner and job.test_score and task is not None:
        record_test_score(study, task, job)
    return study


def record_test_score(study: optuna.Study, task: Task, job: StudyJob) -> None:
    """Score the best trial on the task's held-out test split (once) and store it."""
    try:
        best = study.best_trial
    except ValueError:
        return
    if study.user_attrs.get("test_score", {}).get("trial") == best.number:
        return
    config = task.search_space(optuna.trial.FixedTrial(best.params))  # type: ignore[arg-type]
    score = task.test_score(config, job.budget, seed=job.seed)
    if score is not None:
        study.set_user_attr("test_score", {"trial": best.number, "value": float(score)})


def _worker_main(job: StudyJob, worker: int, owner: bool) -> None:
    run_job(job, worker=worker, owner=owner)


def run_jobs(
    jobs: list[StudyJob],
    processes: int = 1,
    *,
    objective: UserObjective | None = None,
    progress: bool = True,
    description: str = "trials",
) -> None:
    """Run several studies, in this process or in ``processes`` worker processes.

    With one job and several processes, the processes share the study; with several jobs,
    each process takes whole studies. Progress is read from storage, so it is exact either way.
    """
    if processes < 1:
        raise InputError(f"jobs must be a positive integer, got {processes}")
    total = sum(j.trials for j in jobs)
    bar = _progress_bar(total, description, progress)
    try:
        if processes == 1 or objective is not None:
            if processes > 1:
                warnings.warn(
                    "a Python objective runs in one process; ignoring --jobs", stacklevel=2
                )
            for job in jobs:
                run_job(job, objective=objective, on_trial=lambda: _refresh(bar, jobs))
                _refresh(bar, jobs)
            return
        ctx = mp.get_context("spawn")
        if len(jobs) == 1:
            _run_shared(jobs[0], processes, ctx, bar)
        else:
            _run_pool(jobs, processes, ctx, bar)
        _refresh(bar, jobs)
    finally:
        if bar is not None:
            bar.close()


def _run_shared(job: StudyJob, processes: int, ctx: Any, bar: Any) -> None:
    """Several processes share one study."""
    task = TASKS.create(job.task, **job.task_options) if job.task is not None else None
    study = build_study(job, task)
    fail_interrupted(study)
    procs = [ctx.Process(target=_worker_main, args=(job, w, False)) for w in range(processes)]
    for p in procs:
        p.start()
    try:
        while any(p.is_alive() for p in procs):
            time.sleep(0.5)
            _refresh(bar, [job])
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
            p.join()
    for p in procs:
        _check_exit(p)
    if task is not None and job.test_score:
        record_test_score(study, task, job)


def _run_pool(jobs: list[StudyJob], processes: int, ctx: Any, bar: Any) -> None:
    """A pool of long-lived processes, each taking whole studies."""
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    with ProcessPoolExecutor(max_workers=processes, mp_context=ctx) as pool:
        pending = {pool.submit(_worker_main, job, 0, True) for job in jobs}
        try:
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for fut in done:
                    fut.result()  # re-raise a worker's error here
                _refresh(bar, jobs)
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise


def _check_exit(proc: Any) -> None:
    if proc.exitcode not in (0, None):
        raise RuntimeError(f"a worker process exited with code {proc.exitcode}")


def _progress_bar(total: int, description: str, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, unit="trial", dynamic_ncols=True)


@functools.lru_cache(maxsize=8)
def _shared_storage(url: str) -> optuna.storages.BaseStorage:
    return open_storage(url)


def _refresh(bar: Any, jobs: list[StudyJob]) -> None:
    if bar is None:
        return
    done = 0
    for job in jobs:
        try:
            study = optuna.load_study(
                study_name=job.study_name, storage=_shared_storage(job.storage)
            )
        except KeyError:
            continue
        done += min(job.trials, count(study, FINISHED))
    bar.n = done
    bar.refresh()
