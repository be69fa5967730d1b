"""The ``hyperlab`` command: a thin layer over the public API.

Each subcommand lives in its own module ``hyperlab.cli.<name>`` that defines
``register(subparsers)`` (adds its parser and sets ``func``) and imports anything heavy inside
its ``run(args) -> int`` so that ``hyperlab --help`` stays instant.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import importlib.util
import os
import re
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from hyperlab.errors import HyperlabError, NoCompletedTrialError

COMMANDS = (
    "tune",
    "compare",
    "report",
    "list",
    "demo",
    "experiment",
    "diagnose",
    "worker",
    "recover",
    "replay",
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="hyperlab",
        description="Neural networks that set the hyperparameters of neural networks, "
        "measured against the classic tuners.",
    )
    from hyperlab import __version__

    parser.add_argument("--version", action="version", version=f"hyperlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"hyperlab.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"hyperlab.cli.{name}":
                continue  # a command not built yet
            raise
        module.register(sub)
    for sub_parser in sub.choices.values():
        sub_parser.description = plain_text(sub_parser.description)
    return parser


def plain_text(text: str | None) -> str | None:
    """A docstring as help text: no reST markup (``code`` becomes code)."""
    if text is None:
        return None
    return re.sub(r"``([^`]*)``", r"\1", text).replace(":func:", "").replace(":class:", "")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hyperlab`` console script."""
    parser = build_parser()
    argv = [*(sys.argv[1:] if argv is None else argv)]  # (`list` is the subcommand here)
    args, extra = parser.parse_known_args(argv)
    if getattr(args, "func", None) is None:
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        parser.print_help()
        return 2
    sub = _subparser(parser, args.command)
    refused = _check_given(sub, args, argv, extra)
    if refused is not None:  # (as argparse says its own refusals, but returned, not exited)
        sub.print_usage(sys.stderr)
        print(f"{sub.prog}: error: {refused}", file=sys.stderr)
        return 2
    warnings.formatwarning = _one_line_warning
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe (``| head``) shows here, not at interpreter exit
        return code
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except NoCompletedTrialError as exc:  # the run did its work; its trials all failed
        print(f"hyperlab {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except HyperlabError as exc:
        print(f"hyperlab {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"hyperlab {args.command}: interrupted{_RESUMES.get(args.command, '')}", file=sys.stderr
        )
        return 130
    except OSError as exc:  # the machine's, not ours: a full disk, a read-only folder
        where = f"{exc.filename!s}: " if exc.filename is not None else ""
        print(f"hyperlab {args.command}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2 if exc.errno in _BAD_PATH else 1


#: What Ctrl-C leaves to each command that runs trials (the others have nothing to resume:
#: ``demo`` and ``experiment`` start their runs over).
_RESUMES = dict.fromkeys(
    ("tune", "compare", "worker"),
    "; finished trials (and a population's last checkpoint) are saved, run the same command "
    "again to resume",
)


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    """The parser of subcommand ``command``."""
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[command]  # type: ignore[no-any-return]


def _check_given(
    sub: argparse.ArgumentParser, args: argparse.Namespace, argv: list[str], extra: list[str]
) -> str | None:
    """What argparse lets by, said as the subcommand's error (``None``: nothing): an unknown
    argument, a setting given twice (argparse keeps the last in silence; two spellings of one
    setting, and an abbreviation of it, included), and an empty string where a value is named.
    Tokens after ``--`` are values, not flags."""
    if extra:
        return f"unrecognized arguments: {' '.join(extra)}"
    seen: dict[str, str] = {}
    for token in argv[: argv.index("--")] if "--" in argv else argv:
        flag = token.split("=", 1)[0]
        action = _option(sub, flag) if flag.startswith("--") else None
        if not isinstance(action, argparse._StoreAction):
            continue  # (flags that add to a list, or switch something on, may repeat)
        if action.dest in seen:
            also = f" (also as {seen[action.dest]})" if seen[action.dest] != flag else ""
            return f"{flag} given twice{also}: give it once"
        seen[action.dest] = flag
    for action in sub._actions:
        value = getattr(args, action.dest, None)
        if isinstance(value, str) and not value.strip() and value != action.default:
            name = action.option_strings[0] if action.option_strings else action.dest.upper()
            return f"{name} must not be empty"
    return None


def _option(sub: argparse.ArgumentParser, flag: str) -> argparse.Action | None:
    """The action ``flag`` names, spelled out or abbreviated (as argparse reads it)."""
    if flag in sub._option_string_actions:
        return sub._option_string_actions[flag]
    matches = {a for name, a in sub._option_string_actions.items() if name.startswith(flag)}
    return matches.pop() if len(matches) == 1 else None


#: Errors of a path given badly (a name too long for the file system): input
#: errors (exit 2), where a full disk or a read-only folder is the machine's (exit 1).
_BAD_PATH = frozenset({errno.ENAMETOOLONG})

_PLAIN_WARNING = warnings.formatwarning
#: The package whose code a one-line warning names, by the folders it is raised from: the
#: lab's own, and Optuna's as the lab drives it (its file and line would mean nothing to a user).
_SOURCES = (
    ("hyperlab", (str(Path(__file__).resolve().parents[1]),)),
    ("optuna", tuple(importlib.util.find_spec("optuna").submodule_search_locations or ())),  # type: ignore[union-attr]
)


def _one_line_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    line: str | None = None,
) -> str:
    """The lab's warnings on the command line read as ``hyperlab: warning: ...``, and those
    raised in Optuna's code as ``optuna: warning: ...`` (a deprecation a user's objective
    met there is Optuna's, not the lab's), without file and line; any other warning (the
    user's own code's, say) keeps its file and line. Each starts on a line of its own while a
    progress bar is shown (the bar's line ends in no newline)."""
    source = _warning_source(str(filename))
    if source is None:
        text = _PLAIN_WARNING(message, category, filename, lineno, line)
    else:
        text = f"{source}: warning: {message}\n"
    return ("\n" if _bar_shown() else "") + text


def _warning_source(filename: str) -> str | None:
    """The package of :data:`_SOURCES` whose code ``filename`` is (``None``: another's)."""
    return next((name for name, places in _SOURCES if places and filename.startswith(places)), None)


def _bar_shown() -> bool:
    """Whether a progress bar is on the screen now."""
    tqdm = sys.modules.get("tqdm")
    instances = getattr(getattr(tqdm, "tqdm", None), "_instances", None)
    return bool(instances)


#: The exit status of a command whose reader went away (``128 + SIGPIPE``, as the shell reports).
BROKEN_PIPE_EXIT = 141


def _quiet_broken_pipe() -> int:
    """Leave quietly after the reader of stdout closed it (``hyperlab ... | head``).

    Python flushes stdout again at exit, which would fail the same way and print a traceback;
    pointing the descriptor at the null device first makes that flush harmless.

    Returns:
        :data:`BROKEN_PIPE_EXIT`.
    """
    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError):  # stdout replaced by an object without a descriptor
        return BROKEN_PIPE_EXIT
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)
    return BROKEN_PIPE_EXIT


if __name__ == "__main__":
    sys.exit(main())
