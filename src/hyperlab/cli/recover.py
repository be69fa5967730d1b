"""``hyperlab recover TARGET``: copy every intact trial of a damaged storage file into a fresh one.

TARGET is a run directory (its ``run.json`` names the storage) or a ``journal:PATH`` or
``sqlite:///PATH`` URL. The damaged file is kept as ``FILE.damaged-<UTC time>``; the recovered
one takes its place, so the run resumes with the same command. Stop the run's processes first.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "recover",
        help="copy the intact trials of a damaged journal or SQLite file into a fresh one",
        description=__doc__,
    )
    p.add_argument(
        "target", help="a run directory (e.g. runs/demo), or journal:PATH or sqlite:///PATH"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hyperlab.lab.repair import recover

    for line in recover(args.target).lines():
        print(line)
    return 0
