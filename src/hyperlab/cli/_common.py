"""Options and helpers shared by several subcommands."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from hyperlab.errors import HyperlabError, InputError
from hyperlab.registry import Registry, parse_options

if TYPE_CHECKING:
    import optuna

#: The help of ``--data-dir`` (``tune``, ``compare``, ``replay``).
DATA_DIR_HELP = (
    "folder of the replayed learning curves of the lcbench-<id> tasks (sets HYPERLAB_DATA; "
    "refused when no task of the run reads it: only the tasks that take the option data_dir, "
    "and your own code, do)"
)


def add_run_options(p: argparse.ArgumentParser) -> None:
    """Options common to ``tune`` and ``compare``."""
    p.add_argument(
        "--task",
        required=True,
        help="task name (see `hyperlab list`), or your own code: module:attribute or "
        "path/to/file.py:attribute (an objective f(trial) -> float, a Task subclass, or a "
        "function returning a Task)",
    )
    p.add_argument("--trials", type=int, help="finished trials per study (default 20)")
    p.add_argument(
        "--population",
        type=int,
        metavar="N",
        help="the population's size for a population tuner (pbt, pb2): N members, which are "
        "its N trials; refused when no tuner of the run trains a population, or when --trials "
        "says otherwise",
    )
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--storage", help="Optuna storage URL (default: a file in the run directory)")
    p.add_argument("--name", help="run name; the run lives in RUNS_DIR/NAME")
    p.add_argument("--runs-dir", default="runs", help="parent folder of runs (default ./runs)")
    p.add_argument("--budget", type=int, help="epochs per trial (default: the task's maximum)")
    p.add_argument(
        "--direction",
        choices=("minimize", "maximize"),
        help="which way the task's value is better (default: the task's own, minimize for a "
        "loss; a direction that contradicts the task's is refused)",
    )
    p.add_argument(
        "--stop-at-noise",
        action="store_true",
        help="stop once the possible remaining improvement is below the best trial's "
        "cross-validation error (Nadeau-Bengio corrected fold spread, as Optuna's Terminator; "
        "for a task scored over independent seeds, such as the tables, their standard error)",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="delete an existing run of that name first"
    )
    p.add_argument("--data-dir", help=DATA_DIR_HELP)
    p.add_argument(
        "--task-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="option for the task's factory, e.g. n_folds=5 (repeatable)",
    )
    p.add_argument(
        "--tuner-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="option for the tuners' factories, e.g. n_startup=8 for neural (repeatable; "
        "each tuner gets the options it takes, and one that no tuner takes is refused)",
    )
    p.add_argument(
        "--pruner-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="option for the pruners' factories, e.g. threshold=0.02 or protect=0.1 for curve "
        "(repeatable; each pruner gets the options it takes, and one that no pruner takes is "
        "refused)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments that ``tune``, ``compare`` and ``make_plan`` share (``make_plan``
    takes neither ``runs_dir`` nor ``overwrite``: they say where the plan runs)."""
    tuner_options = parse_options(args.tuner_option)
    return {
        "trials": _trials(args, tuner_options),
        "storage": args.storage,
        "budget": args.budget,
        "direction": args.direction,
        "runs_dir": args.runs_dir,
        "overwrite": args.overwrite,
        "task_options": parse_options(args.task_option),
        "tuner_options": tuner_options,
        "pruner_options": parse_options(args.pruner_option),
        "command": command_line(),
    }


def _takes_population(tuner: str) -> bool:
    """Whether ``tuner`` takes the option ``population`` (an unknown name: left to the check
    that names it)."""
    from hyperlab.registry import TUNERS

    try:
        return TUNERS.takes(tuner, "population")
    except HyperlabError:
        return True


def _trials(args: argparse.Namespace, tuner_options: dict[str, Any]) -> int:
    """The trials per study: ``--trials``, or ``--population`` (also passed to the tuners as
    the option ``population``, which only a population tuner takes: any other run refuses it
    by name)."""
    population = getattr(args, "population", None)
    if population is None:
        return 20 if args.trials is None else int(args.trials)
    if population < 2:
        raise InputError(f"--population must be at least 2 members, got {population}")
    tuners = [args.tuner] if hasattr(args, "tuner") else split_names(args.tuners)
    if not any(_takes_population(name) for name in tuners):
        raise InputError(
            f"--population sizes a population tuner (pbt, pb2), and no tuner of this run "
            f"trains one ({', '.join(map(repr, tuners))}): use --trials"
        )
    if args.trials is not None and args.trials != population:
        raise InputError(
            f"--population {population} and --trials {args.trials} disagree: a population's "
            "members are its trials; give one of them"
        )
    if "population" in tuner_options and tuner_options["population"] != population:
        raise InputError(
            f"--population {population} and --tuner-option "
            f"population={tuner_options['population']} disagree"
        )
    tuner_options["population"] = population
    return int(population)


def apply_data_dir(args: argparse.Namespace, tasks: list[str | None]) -> None:
    """Point ``HYPERLAB_DATA`` at ``--data-dir`` when it is given.

    Args:
        args: The parsed arguments.
        tasks: The tasks of the run: the task tuned, and any named by its options.

    Raises:
        InputError: No task of ``tasks`` reads a data folder: each is one of hyperlab's own
            and its factory takes no ``data_dir`` option (the replay tasks ``lcbench-<id>``
            do). A task of the user's own code (``module:attribute``, or registered by a
            plug-in) may read the variable itself. Or ``--task-option data_dir=...`` gives the
            task its folder and no other task of the run reads one.
    """
    folder = getattr(args, "data_dir", None)
    if not folder:
        return
    _check_not_given_twice(args, folder, tasks)
    from hyperlab.registry import TASKS

    named = [t for t in tasks if t is not None]
    known = [t for t in named if ":" not in t and t in TASKS and TASKS.is_builtin(t)]
    if named and len(known) == len(named):
        if not any(_reads_data_dir(TASKS.options(t)) for t in known):
            shown = ", ".join(repr(t) for t in known)
            raise InputError(
                f"--data-dir {folder!r} would be ignored: task {shown} reads no data folder "
                "(only the tasks that take the option data_dir do: the replay tasks "
                "lcbench-<id>); leave --data-dir out"
            )
    os.environ["HYPERLAB_DATA"] = folder


def _check_not_given_twice(args: argparse.Namespace, folder: str, tasks: list[str | None]) -> None:
    """Refuse ``--data-dir`` beside ``--task-option data_dir=...`` when only the task tuned
    would read it: the option is what the task reads, so ``--data-dir`` would go unused."""
    own = parse_options(getattr(args, "task_option", [])).get("data_dir")
    if own is not None and not any(t is not None for t in tasks[1:]):
        raise InputError(
            f"--data-dir {folder!r} would be ignored: --task-option data_dir={own} gives the "
            "task its folder (no other task of the run reads one); give one of them"
        )


def _reads_data_dir(options: frozenset[str] | None) -> bool:
    """Whether a task factory taking ``options`` (``None``: any) may read a data folder."""
    return options is None or "data_dir" in options


def run_tasks(args: argparse.Namespace, tuners: list[str], pruners: list[str]) -> list[str | None]:
    """The task of a ``tune`` or ``compare`` run and the tasks its tuners' and pruners' options
    name (e.g. a curve pruner's ``pretrain``)."""
    from hyperlab.registry import PRUNERS, TUNERS

    names: list[str | None] = [args.task]
    for registry, plugins, items in (
        (TUNERS, tuners, args.tuner_option),
        (PRUNERS, pruners, args.pruner_option),
    ):
        options = parse_options(items)
        for plugin in plugins:
            names += registry.task_names(plugin, options)
    return names


def entry_lines(registry: Registry[Any]) -> list[str]:
    """One line per registered name, ``  name   description`` (``hyperlab list``, and the help
    of ``hyperlab experiment``); reading them loads the built-in entries."""
    lines = []
    for entry in registry.entries():
        name = entry.name + "<id>" if entry.family else entry.name
        lines.append(f"  {name:<22} {entry.description}")
    return lines


def split_names(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def command_line() -> list[str]:
    return ["hyperlab", *sys.argv[1:]]


def exit_status(command: str, studies: Iterable[optuna.Study]) -> int:
    """1, with each study's reason on stderr, if a study stopped because its trials kept
    failing or ended with no completed trial (the run did not do what was asked, though its
    report shows what it did); else 0."""
    from hyperlab.stops import stopped_by_failures

    studies = list(studies)
    failed = [s for s in studies if stopped_by_failures(s)]
    for study in failed:
        print(
            f"hyperlab {command}: error: study {study.study_name!r} "
            f"{study.user_attrs.get('stopped')}; the report lists their reasons",
            file=sys.stderr,
        )
    from optuna.trial import TrialState

    complete = (TrialState.COMPLETE,)
    empty = [
        s for s in studies if s not in failed and not s.get_trials(deepcopy=False, states=complete)
    ]
    for study in empty:
        print(
            f"hyperlab {command}: error: study {study.study_name!r} ended with no completed "
            "trial (every trial failed or was pruned); the report leaves it out of its means",
            file=sys.stderr,
        )
    return 1 if failed or empty else 0
