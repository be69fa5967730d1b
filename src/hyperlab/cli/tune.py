"""``hyperlab tune``: one tuner on one task."""

from __future__ import annotations

import argparse

from hyperlab.cli._common import add_run_options, apply_data_dir, command_line, parse_options


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("tune", help="tune a task with one tuner", description=__doc__)
    add_run_options(p)
    p.add_argument("--tuner", default="tpe", help="tuner name (default tpe)")
    p.add_argument("--pruner", default="none", help="pruner name (default none)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hyperlab.lab import tune
    from hyperlab.report import write_report

    apply_data_dir(args)
    _study, summary = tune(
        args.task,
        args.tuner,
        trials=args.trials,
        pruner=args.pruner,
        seed=args.seed,
        jobs=args.jobs,
        storage=args.storage,
        name=args.name,
        budget=args.budget,
        stop_at_noise=args.stop_at_noise,
        runs_dir=args.runs_dir,
        overwrite=args.overwrite,
        progress=not args.no_progress,
        task_options=parse_options(args.task_option),
        command=command_line(),
    )
    for line in summary.lines():
        print(line)
    if summary.run_dir is not None:
        print(f"report: {write_report(summary.run_dir)}")
    return 0
