"""Carrying out a plan: its run folder prepared (or resumed), then its studies run."""

from __future__ import annotations

import warnings
from pathlib import Path

from hyperlab.errors import HyperlabError, RunConflictError, RunInUseError
from hyperlab.lab.claim import check_owner, claim_studies
from hyperlab.lab.identity import check_planned_space
from hyperlab.lab.plan import RunPlan
from hyperlab.lab.processes import run_jobs
from hyperlab.lab.run_folder import RunDir
from hyperlab.lab.rundir import load_studies
from hyperlab.optuna_logs import quiet_optuna

DEFAULT_RUNS_DIR = Path("runs")


def start_run(
    plan: RunPlan, runs_dir: str | Path, *, overwrite: bool = False, alone: bool = False
) -> RunDir:
    """Prepare ``runs_dir/NAME`` for ``plan``: a new run is recorded; an existing one must have
    been recorded with the same settings (and, for a task, the same search space) to resume.
    Then the run claims its studies in the storage (:mod:`hyperlab.lab.claim`): a run refused
    there because another run owns one of them leaves no record of a run it set up afresh (a
    new one, an overwritten one, or one that held no trial and was set up again, whose studies
    are gone): the record would name the other run's studies, which a report would show as
    this run's.

    ``plan.spec`` is replaced by the setup as recorded (its storage URL and creation time).
    ``alone``: this process will run the trials itself, so a run whose trials workers are
    running now is refused (it would fail them as left over by a run that was cut off).

    Raises:
        RunConflictError: Another run owns a study of the run's name in its storage, or the
            run folder holds a run with other settings.
        RunInUseError: ``alone``, and workers are running trials of the run.
    """
    run_dir = RunDir(Path(runs_dir) / plan.spec.name)
    _check_shared_storage(plan, run_dir)  # before anything is written
    if alone and not overwrite:  # (overwriting checks it itself)
        _check_no_workers(plan, run_dir)
    new_folder = not run_dir.path.exists()
    plan.spec = run_dir.prepare(plan.spec, overwrite=overwrite)
    plan.folder = run_dir.path.resolve()
    try:
        _claim(plan, run_dir)
    except RunConflictError:
        if run_dir.afresh:  # (no earlier run is left: the record would name this one)
            run_dir.spec_path.unlink(missing_ok=True)
            if new_folder and not any(run_dir.path.iterdir()):
                run_dir.path.rmdir()
        raise
    task = plan.planned_task
    if task is not None:  # an objective's trials are checked as they run
        studies = [study for study, *_ in load_studies(run_dir)]
        check_planned_space(studies, task.distributions())
    return run_dir


def _check_no_workers(plan: RunPlan, run_dir: RunDir) -> None:
    """Refuse to resume in this process a run whose trials workers are running now."""
    from hyperlab.lab import urls

    if not run_dir.exists():
        return
    if plan.spec.storage:
        urls.remember(plan.spec.storage)  # (the recorded URL has no password)
    try:
        run_dir.check_no_workers(
            f"resume run {plan.spec.name!r} in this process (to have the workers run more "
            "trials, give the same command with --create-only instead)"
        )
    except RunInUseError:
        raise
    except HyperlabError:
        return  # a damaged record or storage: preparing the run says which


def _claim(plan: RunPlan, run_dir: RunDir) -> None:
    """Claim the plan's studies in its storage as this run's (:func:`claim_studies`)."""
    with quiet_optuna():  # no "a new study created" lines: the run says what it does
        claim_studies(run_dir.open_storage(plan.spec.storage), plan.jobs())


def _check_shared_storage(plan: RunPlan, run_dir: RunDir) -> None:
    """With a storage given outside the run folder, refuse a name whose studies there are
    another run's (see :func:`~hyperlab.lab.claim.other_owner`), before anything is written;
    the claim after it decides the races this check cannot see."""
    url = plan.spec.storage
    if not url or run_dir.holds_storage(url):
        return
    run = None
    if run_dir.exists():
        try:
            run = run_dir.load_spec().created
        except HyperlabError:
            return  # a damaged record: prepare says so
    try:
        # (a new file would hold no study; the storage stays open for the run's later steps)
        storage = run_dir.open_storage(url, must_exist=True)
    except HyperlabError:
        return  # a storage that is not there yet, or does not open: prepare says which
    for name, *_ in plan.spec.study_names():
        check_owner(storage, name, plan.spec.task, run, url)


def run_plan(
    plan: RunPlan, runs_dir: str | Path, *, overwrite: bool = False, progress: bool = True
) -> RunDir:
    """Start (or resume) the plan's run and run every study until it has its trials.

    A run set up for workers (``--create-only``) may be resumed here too: its studies' setups
    then ask for the plan's count of trials, so workers started on it later (or running, once
    their trial ends) go on to that count as well. It is refused while workers run its trials
    (this process would fail them as left over by a run that was cut off).

    Raises:
        RunInUseError: Workers are running trials of the run.
    """
    from hyperlab.lab.workers import ask_trials

    _warn_idle_jobs(plan)
    run_dir = start_run(plan, runs_dir, overwrite=overwrite, alone=True)
    ask_trials(run_dir.open_storage(plan.spec.storage), plan.jobs())
    run_jobs(
        plan.jobs(),
        plan.spec.jobs,
        objective=plan.objective,
        progress=progress,
        description=plan.spec.name,
    )
    return run_dir


def _warn_idle_jobs(plan: RunPlan) -> None:
    """Warn when processes beyond the studies would only wait: a tuner that trains its
    trials' models itself (a population) trains each study in one process."""
    spec = plan.spec
    studies = len(spec.tuners) * len(spec.pruners) * len(spec.seeds)
    if spec.jobs > studies and plan.driving and plan.driving >= set(spec.tuners):
        warnings.warn(
            f"{', '.join(sorted(plan.driving))} trains each study's models in one process, "
            f"one after another: with {studies} {'study' if studies == 1 else 'studies'}, "
            f"--jobs {spec.jobs} adds processes that only wait",
            UserWarning,
            stacklevel=4,  # the caller of tune or compare
        )
