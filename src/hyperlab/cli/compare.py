"""``hyperlab compare``: several tuners (and pruners) x several seeds on one task."""

from __future__ import annotations

import argparse
from pathlib import Path

from hyperlab.cli._common import (
    add_run_options,
    apply_data_dir,
    exit_status,
    run_kwargs,
    run_tasks,
    split_names,
)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("compare", help="compare tuners and pruners over seeds", description=__doc__)
    add_run_options(p)
    p.add_argument(
        "--tuners", default="random,tpe", help="comma-separated tuner names (default random,tpe)"
    )
    p.add_argument(
        "--pruners", "--pruner", default="none", help="comma-separated pruner names (default none)"
    )
    p.add_argument("--seeds", type=int, default=3, help="number of seeds (default 3)")
    p.add_argument(
        "--reference",
        metavar="NAME",
        help="the method every other one is paired against (TUNER, or TUNER+PRUNER with "
        "several pruners; default random, else tpe, else of two methods the first "
        "alphabetically; needed with more than two methods and neither)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hyperlab.api import compare
    from hyperlab.lab.rundir import load_studies
    from hyperlab.lab.target import default_name

    tuners, pruners = split_names(args.tuners), split_names(args.pruners)
    apply_data_dir(args, run_tasks(args, tuners, pruners))
    name = args.name or default_name(args.task, "compare")
    compare(
        args.task,
        split_names(args.tuners),
        seeds=args.seeds,
        pruners=split_names(args.pruners),
        jobs=args.jobs,
        name=name,
        stop_at_noise=args.stop_at_noise,
        progress=not args.no_progress,
        reference=args.reference,
        **run_kwargs(args),
    )
    run_dir = Path(args.runs_dir) / name
    print_summary(run_dir)
    _replay_hint(run_dir)
    print(f"results: {run_dir / 'results.csv'}")
    print(f"report: {run_dir / 'report.html'}")
    return exit_status("compare", [study for study, *_ in load_studies(run_dir)])


def _replay_hint(run_dir: Path) -> None:
    """How to replay each population's schedules, where the run trained any."""
    from hyperlab.lab.rundir import load_studies
    from hyperlab.population.replay import members

    for study, *_ in load_studies(run_dir):
        if members(study):
            print(f"its schedules: hyperlab replay {run_dir} --study {study.study_name}")


def print_summary(run_dir: object) -> None:
    """Print the per-method table and the paired verdicts of a comparison run."""
    from hyperlab.report import compare_records
    from hyperlab.report.page import fmt

    rec = compare_records(run_dir)  # type: ignore[arg-type]
    head = f"{'method':<24}{'seeds':>8}{'final best':>12}{'± SE':>10}{'test':>12}{'epochs':>10}"
    print(f"{head}{'seconds':>10}{'rank':>7}")
    for m in rec.methods:
        print(
            f"{m.label:<24}{m.seeds_text():>8}{fmt(m.final_mean):>12}{fmt(m.final_se, 2):>10}"
            f"{fmt(m.test_mean):>12}{fmt(m.epochs_mean):>10}{fmt(m.seconds_mean, 3):>10}"
            f"{fmt(m.mean_rank, 3):>7}"
        )
    for c in rec.comparisons:
        print(c["sentence"])
    for line in rec.stopped:  # early stops, settings that could not act, seeds without a result
        print(line)
    for m in rec.methods:
        if m.n_failed:
            print(
                f"{m.label}: {m.n_failed} trial{'s' if m.n_failed > 1 else ''} failed over its "
                "seeds (each reason and traceback: the report's 'Failed trials')"
            )
        if m.n_tuner_failed:
            print(
                f"{m.label}: {m.n_tuner_failed} trial{'s' if m.n_tuner_failed > 1 else ''} "
                "failed in the tuner, which raised while choosing the parameters (not counted "
                "as the task's failures; each reason: the report's 'Failed trials')"
            )
        if m.n_pruner_failed:
            print(
                f"{m.label}: {m.n_pruner_failed} trial{'s' if m.n_pruner_failed > 1 else ''} "
                "failed in the pruner, which raised while deciding whether to stop it (not "
                "counted as the task's failures; each reason: the report's 'Failed trials')"
            )
        if m.n_tuner_after:
            print(
                f"{m.label}: the tuner raised taking in the result of {m.n_tuner_after} "
                f"finished trial{'s' if m.n_tuner_after > 1 else ''} (its after_trial: the "
                "trials keep their values; each reason: the report's 'Failed trials')"
            )
