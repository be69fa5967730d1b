"""``hyperlab experiment NAME``: run a built-in experiment and write its HTML section."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "experiment",
        help="run a built-in experiment (names: `hyperlab experiment --help`)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,  # the names, one per line
        add_help=False,
    )
    p.add_argument(
        "-h", "--help", action=_HelpWithNames, help="show this help and the experiments; exit"
    )
    p.add_argument("names", nargs="+", metavar="NAME", help="experiment name(s), listed below")
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


class _HelpWithNames(argparse.Action):
    """``-h``/``--help``: the help, ending with the experiments' names and one line each.

    The names come from the registry when the help is asked for, not when the parser is built:
    reading the registry imports every experiment, which ``hyperlab --help`` must not wait for.
    """

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(
            option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, nargs=0, help=help
        )

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        from hyperlab.cli._common import entry_lines
        from hyperlab.registry import EXPERIMENTS

        parser.epilog = "\n".join(["experiments:", *entry_lines(EXPERIMENTS)])
        parser.print_help()
        parser.exit()


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hyperlab.experiments.launch import run_experiments

    path = run_experiments(
        args.names, Path(args.out), quick=args.quick, seed=args.seed, overwrite=args.overwrite
    )
    print(f"report: {path}")
    return 0
