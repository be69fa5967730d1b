"""``hyperlab list``: tasks, tuners, pruners and experiments with one-line descriptions."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "list", help="list tasks, tuners, pruners and experiments", description=__doc__
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hyperlab.cli._common import entry_lines
    from hyperlab.registry import EXPERIMENTS, PRUNERS, TASKS, TUNERS

    for title, registry in (
        ("tasks", TASKS),
        ("tuners", TUNERS),
        ("pruners", PRUNERS),
        ("experiments", EXPERIMENTS),
    ):
        print(f"{title}:")
        for line in entry_lines(registry):
            print(line)
    return 0
