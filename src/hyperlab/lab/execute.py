"""Carrying out a plan: its run folder prepared (or resumed), then its studies run."""

from __future__ import annotations

import warnings
from pathlib import Path

from hyperlab.lab.identity import check_owner, check_planned_space, owner_folder
from hyperlab.lab.plan import RunPlan
from hyperlab.lab.rundir import RunDir, load_studies
from hyperlab.lab.runner import run_jobs

DEFAULT_RUNS_DIR = Path("runs")


def start_run(plan: RunPlan, runs_dir: str | Path, *, overwrite: bool = False) -> RunDir:
    """Prepare ``runs_dir/NAME`` for ``plan``: a new run is recorded; an existing one must have
    been recorded with the same settings (and, for a task, the same search space) to resume.

    ``plan.spec`` is replaced by the setup as recorded (its storage URL and creation time).
    """
    run_dir = RunDir(Path(runs_dir) / plan.spec.name)
    plan.spec = run_dir.prepare(plan.spec, overwrite=overwrite)
    plan.folder = run_dir.path.resolve()
    studies = [study for study, *_ in load_studies(run_dir.path)]
    owner = owner_folder(run_dir.path, plan.spec.storage)
    for study in studies:
        check_owner(study, plan.spec.task, plan.spec.storage, owner)
    task = plan.planned_task
    if task is not None:  # an objective's trials are checked as they run
        check_planned_space(studies, task.distributions())
    return run_dir


def run_plan(
    plan: RunPlan, runs_dir: str | Path, *, overwrite: bool = False, progress: bool = True
) -> RunDir:
    """Start (or resume) the plan's run and run every study until it has its trials."""
    _warn_idle_jobs(plan)
    run_dir = start_run(plan, runs_dir, overwrite=overwrite)
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
            f"{', '.join(sorted(plan.driving))} trains each study's members in one process, "
            f"one after another: with {studies} {'study' if studies == 1 else 'studies'}, "
            f"--jobs {spec.jobs} adds processes that only wait",
            UserWarning,
            stacklevel=4,  # the caller of tune or compare
        )
