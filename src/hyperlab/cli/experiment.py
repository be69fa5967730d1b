"""``hyperlab experiment NAME``: run a built-in experiment and write its HTML section."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "experiment", help="run a built-in experiment (see `hyperlab list`)", description=__doc__
    )
    p.add_argument("names", nargs="+", metavar="NAME", help="experiment name(s)")
    p.add_argument(
        "--out", default="runs/experiments", help="output folder (default runs/experiments)"
    )
    p.add_argument("--quick", action="store_true", help="short version (seconds)")
    p.add_argument("--seed", type=int, default=0, help="seed of the experiments (default 0)")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an experiment's results in --out that were run with other settings",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hyperlab.experiments.launch import run_experiments

    path = run_experiments(
        args.names, Path(args.out), quick=args.quick, seed=args.seed, overwrite=args.overwrite
    )
    print(f"report: {path}")
    return 0
