"""``hyperlab demo``: the main job on the embedded default, with a report.

Tunes ``digits-mlp`` (3-fold CV, 6 epochs per trial) with the demo tuners, 3 seeds each,
on 2 worker processes, writes ``runs/demo/report.html``, then runs the short versions of the
built-in experiments into ``runs/demo/experiments.html``.
"""

from __future__ import annotations

import argparse

#: The demo's tuners: the classic baselines first, then the neural ones where registered.
DEMO_TUNERS = ("random", "ga", "tpe", "neural")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "demo", help="run the main job on the embedded default (a few minutes)", description=__doc__
    )
    p.add_argument("--runs-dir", default="runs", help="parent folder (default ./runs)")
    p.add_argument("--trials", type=int, default=16, help="trials per study (default 16)")
    p.add_argument("--seeds", type=int, default=3, help="seeds per tuner (default 3)")
    p.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--no-experiments", action="store_true", help="skip the short experiments")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from hyperlab.api import compare
    from hyperlab.cli.compare import print_summary
    from hyperlab.experiments.launch import run_experiments
    from hyperlab.registry import EXPERIMENTS, TUNERS

    start = time.perf_counter()
    tuners = [t for t in DEMO_TUNERS if t in TUNERS]
    run_dir = Path(args.runs_dir) / "demo"
    print(
        f"demo: tuning digits-mlp with {', '.join(tuners)} x {args.seeds} seeds x "
        f"{args.trials} trials (3-fold CV, 6 epochs each) on {args.jobs} processes"
    )
    compare(
        "digits-mlp",
        tuners,
        seeds=args.seeds,
        trials=args.trials,
        budget=6,
        jobs=args.jobs,
        name="demo",
        runs_dir=args.runs_dir,
        overwrite=True,
        task_options={"n_folds": 3},
        # 8 quasi-random trials before the neural surrogate takes over (its default,
        # 2 * dim + 1 = 17, would use up this small budget); the classic tuners ignore it
        tuner_options={"n_startup": 8},
    )
    print_summary(run_dir)
    print(f"report: {run_dir / 'report.html'}")
    names = [e.name for e in EXPERIMENTS.entries()]
    if names and not args.no_experiments:
        print(f"demo: short experiments {', '.join(names)}")
        path = run_experiments(names, run_dir, quick=True)
        print(f"experiments: {path}")
    print(f"demo finished in {time.perf_counter() - start:.0f} s")
    return 0
