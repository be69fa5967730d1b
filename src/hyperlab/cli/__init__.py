"""The ``hyperlab`` command: a thin layer over the public API.

Each subcommand lives in its own module ``hyperlab.cli.<name>`` that defines
``register(subparsers)`` (adds its parser and sets ``func``) and imports anything heavy inside
its ``run(args) -> int`` so that ``hyperlab --help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from hyperlab.errors import HyperlabError

COMMANDS = ("tune", "compare", "report", "list", "demo", "experiment", "diagnose", "worker")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="hyperlab",
        description="Neural networks that set the hyperparameters of neural networks, "
        "measured against the classic tuners.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"hyperlab.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"hyperlab.cli.{name}":
                continue  # a command not built yet
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hyperlab`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except HyperlabError as exc:
        print(f"hyperlab {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"hyperlab {args.command}: interrupted; finished trials are saved, "
            "run the same command again to resume",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
