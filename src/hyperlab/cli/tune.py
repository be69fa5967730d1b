"""``hyperlab tune``: one tuner on one task."""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from hyperlab.cli._common import (
    add_run_options,
    apply_data_dir,
    exit_status,
    run_kwargs,
    run_tasks,
)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("tune", help="tune a task with one tuner", description=__doc__)
    add_run_options(p)
    p.add_argument("--tuner", default="tpe", help="tuner name (default tpe)")
    p.add_argument("--pruner", default="none", help="pruner name (default none)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    scale = p.add_argument_group("scaling out (docs/scaling.md in a checkout of hyperlab's source)")
    scale.add_argument(
        "--create-only",
        action="store_true",
        help="create the study in --storage and leave; start `hyperlab worker` processes on it",
    )
    scale.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="run the trials as Dask tasks: a scheduler address, or local:N for a local "
        "cluster of N worker processes",
    )
    scale.add_argument(
        "--heartbeat-interval",
        type=int,
        help="seconds between heartbeats of running trials (workers and Dask; default 10)",
    )
    scale.add_argument(
        "--grace-period",
        type=int,
        help="seconds without heartbeat before a trial counts as lost and is re-queued "
        "(default 30, or three heartbeat intervals where --heartbeat-interval is given)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    apply_data_dir(args, run_tasks(args, [args.tuner], [args.pruner]))
    _check_heartbeat_flags(args)
    _check_jobs_flag(args)
    if args.create_only or args.dask:
        from hyperlab.lab.runlock import run_lock
        from hyperlab.lab.target import default_name

        # one writer per run: the workers or Dask tasks run under this process's lock
        with run_lock(args.runs_dir, args.name or default_name(args.task, args.tuner)):
            return _run_scaled(args)
    from hyperlab.api import tune

    study, summary = tune(
        args.task,
        args.tuner,
        pruner=args.pruner,
        seed=args.seed,
        jobs=args.jobs,
        name=args.name,
        stop_at_noise=args.stop_at_noise,
        progress=not args.no_progress,
        **run_kwargs(args),
    )
    for line in summary.lines():
        print(line)
    if summary.run_dir is not None:
        print(f"report: {summary.run_dir / 'report.html'}")
    return exit_status("tune", [study])


def _close(client: Any, local: bool) -> None:
    """Close the Dask client, and the cluster it started for ``local:N``."""
    cluster = client.cluster
    client.close()
    if cluster is not None and local:
        cluster.close()


def _check_heartbeat_flags(args: argparse.Namespace) -> None:
    """Refuse bad ``--heartbeat-interval``/``--grace-period`` values whatever the run; warn
    that good ones act only on studies made for workers (``--create-only``, ``--dask``)."""
    import warnings

    from hyperlab.lab.storage_settings import check_heartbeats

    given = [f for f in ("heartbeat_interval", "grace_period") if getattr(args, f) is not None]
    if not given:
        return
    check_heartbeats(args.heartbeat_interval, args.grace_period)
    if not (args.create_only or args.dask):
        flags = " and ".join("--" + f.replace("_", "-") for f in given)
        warnings.warn(
            f"{flags} act on studies made for workers (--create-only, --dask); this run's "
            "processes are watched directly, so they have no effect here",
            stacklevel=2,
        )


def _check_jobs_flag(args: argparse.Namespace) -> None:
    """Warn that ``--jobs`` has no effect with ``--create-only``: the workers run the trials."""
    import warnings

    if args.create_only and args.jobs > 1:
        warnings.warn(
            f"--jobs {args.jobs} has no effect with --create-only, which runs no trial; start "
            "that many `hyperlab worker` processes instead",
            stacklevel=2,
        )


def _run_scaled(args: argparse.Namespace) -> int:
    """``--create-only`` (studies for workers) or ``--dask`` (trials as Dask tasks)."""
    from hyperlab.errors import InputError
    from hyperlab.lab.plan import make_plan
    from hyperlab.lab.storage_errors import redact
    from hyperlab.lab.target import default_name
    from hyperlab.lab.urls import has_secret, without_password
    from hyperlab.lab.workers import prepare_run

    if args.create_only and args.dask:
        raise InputError("use either --create-only or --dask, not both")
    if args.stop_at_noise:
        raise InputError("--stop-at-noise works with in-process runs only, not with workers")
    if args.dask:
        from hyperlab.lab.cluster import parse_address

        parse_address(args.dask)  # bad addresses fail before anything is created
    settings = run_kwargs(args)
    runs_dir, overwrite = settings.pop("runs_dir"), settings.pop("overwrite")
    plan = make_plan(
        "tune",
        args.task,
        name=args.name or default_name(args.task, args.tuner),
        tuners=[args.tuner],
        pruners=[args.pruner],
        seeds=[args.seed],
        jobs=args.jobs,
        **settings,
    )
    if plan.driving:
        raise InputError(
            f"tuner {args.tuner!r} trains its trials' models in this process's run folder; it runs "
            "without --create-only and --dask (use --jobs for local processes)"
        )
    if args.create_only:  # run.json says what ran the trials here: nothing, workers do
        plan.spec.jobs = 0
    from hyperlab.lab.cluster import connect, tasks_in_flight

    client = connect(args.dask) if args.dask else None  # (an unreachable one writes nothing)
    try:
        if client is not None:  # run.json records the Dask tasks the run keeps in flight
            plan.spec.jobs = tasks_in_flight(client, args.jobs if args.jobs > 1 else None)
        run_dir, jobs = prepare_run(
            plan,
            runs_dir,
            overwrite=overwrite,
            heartbeat_interval=args.heartbeat_interval,
            grace_period=args.grace_period,
        )
    except BaseException:
        if client is not None:
            _close(client, args.dask.startswith("local:"))
        raise
    storage, name = jobs[0].storage, run_dir.path.name
    if args.create_only:
        for job in jobs:
            print(f"{_set_up(job)} in {redact(storage)}")
        print(
            "start workers with: hyperlab worker --storage "
            f"{shlex.quote(without_password(storage))} --name {shlex.quote(name)}"
        )
        if has_secret(storage):
            print(
                "  (with the password in PGPASSWORD, ~/.pgpass or the full URL in $HYPERLAB_STORAGE)"
            )
        return 0
    return _run_dask(args, run_dir, jobs, client, plan.spec.jobs)


def _set_up(job: Any) -> str:
    """What ``--create-only`` made of ``job``'s study: created, resumable, or complete."""
    import optuna
    from optuna.trial import TrialState

    from hyperlab.errors import counted
    from hyperlab.lab.storage import open_storage

    study = optuna.load_study(study_name=job.study_name, storage=open_storage(job.storage))
    trials = study.get_trials(deepcopy=False)
    done = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    name = f"study {job.study_name!r} ({counted(job.trials, 'trial')}"
    if not trials:
        return f"created {name})"
    if done >= job.trials:
        return f"complete {name}, {done} finished: a worker has nothing to run)"
    return f"resumable {name}, {done} finished already)"


def _run_dask(
    args: argparse.Namespace, run_dir: Any, jobs: list[Any], client: Any, in_flight: int
) -> int:
    from hyperlab.lab import summarize
    from hyperlab.lab.cluster import dask_jobs, run_on_dask
    from hyperlab.lab.cut_off import fail_interrupted
    from hyperlab.lab.held_out import own_scorer, record_test_score
    from hyperlab.lab.rundir import load_studies
    from hyperlab.lab.trial_kinds import INTERRUPT_REASON
    from hyperlab.registry import TASKS
    from hyperlab.report import write_report

    path = run_dir.path
    local = args.dask.startswith("local:")
    interrupted = False
    try:
        run_on_dask(dask_jobs(jobs), client, in_flight=in_flight)
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        _close(client, local)
        if interrupted and local:  # its workers went with it: their trials failed, queued again
            for cut, *_ in load_studies(path):
                fail_interrupted(cut, reason=INTERRUPT_REASON.format(signal="SIGINT"))
    study = load_studies(path)[0][0]
    job = jobs[0]
    task = TASKS.create(job.task, **job.task_options)
    record_test_score(study, task, job, own_scorer(job, task))  # (tpe-hd scores its own)
    report = write_report(path)  # first: a study with no completed trial keeps its page
    summary = summarize(study, path)
    for line in summary.lines():
        print(line)
    print(f"report: {report}")
    return exit_status("tune", [study])
