"""Where do hyperlab's tuners stand among the ones users would pick instead?

Runs a tuner panel (hyperlab's own, Optuna's classic ones and the peers of ``hyperlab[peers]``)
over a problem set for several seeds, one tuner at a time in this process, and reports through
:func:`hyperlab.lab.leaderboard.leaderboard`: per problem the regret after 10 / 20 / 50 / 100
trials (mean over seeds with a 95% bootstrap interval), the mean rank at the last trial with
its interval (and at every checkpoint), Wilcoxon signed-rank tests of every tuner against a
reference named in advance (``--reference``; by default ``tpe``: Optuna's TPE sampler, as hyperlab sets it),
over problems and seeds with Holm's correction over the page's tests, and per problem
uncorrected, and the wall time and suggestion cost of each tuner (seconds per trial spent
choosing, i.e. outside the objective). The reference is never picked from the results: the
best-ranked of a group, tested against the same ranks that picked it, would be called ahead
too often (``docs/decisions/leaderboard-verdicts.md``).

Problem sets (``--set``): ``synthetic`` (``branin``, ``hartmann6``, ``rosenbrock-4d``),
``lcbench`` (the shipped LCBench tasks except the held-out ones), ``lcbench-validation``
(the LCBench tasks of the validation suite), ``tables`` and ``validation`` (from
:mod:`hyperlab.tasks.suites`: the tabular families without the held-out data sets, and the
validation suite). ``--tasks`` names problems directly. The held-out
problems of ``hyperlab.tasks.suites.HELD_OUT`` are refused.

Regret is the best value so far minus the task's known optimum, or minus the best value any
run of any tuner found when the optimum is unknown (a maximized task's values are negated).
Every finished run is appended to ``results/leaderboard.partial.jsonl`` (beside ``--out``) and
skipped when the command runs again with the same trials, so a long panel can be run in pieces.
Each cached run records what made it (its tuner's options with their defaults, its task's, the
content hash of any file an option names: ``hyperlab.lab.panel_cache``); one made otherwise
than the command would make it now (an option or a default changed since) is run again, and
the command prints, per tuner, how many were set aside and which option differs. Runs cached
before that record was kept are reused as they are, with a notice that counts them.

**The multi-fidelity panel** (``--fidelity``): arms are a tuner and a pruner, ``TUNER+PRUNER``
(``tpe+asha``, ``random+hyperband``, ``tpe+none`` for full training; ``TUNER+key=value`` passes a
tuner option, ``key=value`` after the pruner a pruner option), or one tuner that stops trials
itself (``one-epoch``, ``syne-asha``, ...: run with the pruner ``tuner`` when it declares a
stopping rule of its own, else with ``none``). Each (problem, arm, seed) is one study run
through :func:`hyperlab.compare`, so epochs are counted the lab's way (a pruned trial's epochs
count, only a complete trial's value does); a study that spent less than the last checkpoint
runs again with more trials. Runs are compared at equal compute: checkpoints are in full
trainings (``--multiples 5,10,20``: 5, 10 and 20 times the task's maximum epochs), and each
run is cut there (its best complete trial among those finished within that many epochs).
Reported: regret per problem and checkpoint, mean rank at the last one with Wilcoxon tests
against the reference arm (``--reference``, by default ``tpe+median``: Optuna's TPE sampler
and median pruner, as hyperlab sets them), Holm-corrected over the page, which arm has the lowest regret on each problem and
whether it is a peer (``--peers``, default the multi-fidelity peers), and per arm the
trials finished by the last checkpoint and its wall time (pro-rated to it); the result file
also holds the epochs each study spent in all. Runs are cached beside ``--out``
(``leaderboard_fidelity.partial.jsonl``; the pruner's options recorded with the tuner's, and
a run made otherwise run again, as above). How studies are sized and why:
``docs/decisions/multi-fidelity-leaderboard.md``.

Usage:
    .venv/bin/python benchmarks/leaderboard.py [--set synthetic] [--tasks ...] [--tuners ...]
        [--reference tpe] [--seeds 3] [--trials 100] [--out FILE] [--quick]
    .venv/bin/python benchmarks/leaderboard.py --fidelity [--set lcbench-validation]
        [--arms random+asha,tpe+none,one-epoch,...] [--reference tpe+median] [--multiples 5,10,20]
        [--seeds 5] [--quick]
    .venv/bin/python benchmarks/leaderboard.py --markdown RESULT_FILE [--reference NAME]

``--markdown`` computes the table's statistics again from the result file's runs by today's
rules (the runs are not run again), so one command re-prints a README table after a change
to the statistics.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna

import hyperlab
from hyperlab.lab.leaderboard import (
    CHECKPOINTS,
    FIDELITY_REFERENCE,
    REFERENCE,
    Leaderboard,
    PanelRun,
    default_reference,
    leaderboard,
    markdown,
)
from hyperlab.lab.panel import append_run, load_runs, run_study, study_curve, trials_to_spend
from hyperlab.lab.panel_cache import MADE_WITH, Fingerprint, Key, made_with, reusable
from hyperlab.lab.provenance import write_result
from hyperlab.registry import TASKS, TUNERS, parse_options
from hyperlab.tasks import Task, suites

HERE = Path(__file__).parent
OUT = HERE / "results" / "leaderboard.json"
PEERS = ["nevergrad", "hyperopt-tpe", "syne-bore", "syne-rea", "smac-rf"]
#: The reference named in advance (the library's default, imported above): Optuna's TPE, the
#: kind of sampler Optuna uses when none is chosen, with hyperlab's settings (multivariate,
#: grouped), ``REFERENCE``; in the multi-fidelity panel with Optuna's median pruner,
#: ``FIDELITY_REFERENCE``.
PANEL = ["random", "tpe", "cmaes", "gp", "neural", *PEERS]
QUICK = ["random", "tpe", "nevergrad", "hyperopt-tpe", "syne-rea"]
SYNTHETIC = ["branin", "hartmann6", "rosenbrock-4d"]


def tuner_options(tuner: str, trials: int) -> dict[str, Any]:
    """Options that tell a tuner the run's length when it plans for one (NGOpt picks its
    algorithm from it; SMAC sizes its initial design by it)."""
    return {"planned_trials": trials} if TUNERS.takes(tuner, "planned_trials") else {}


def reference_of(asked: str | None, panel: list[str], default: str) -> str:
    """The reference: the one asked for, else ``default``; either must be in the panel (a
    panel without the default is refused, never tested against whichever tuner comes first)."""
    if asked is not None:
        if asked not in panel:
            raise SystemExit(f"--reference {asked!r} is not in the panel: {', '.join(panel)}")
        return asked
    if default not in panel:
        raise SystemExit(
            f"the panel holds no {default!r}, the default reference: name the tuner every "
            f"other is tested against with --reference NAME, one of: {', '.join(panel)}"
        )
    return default


def problem_set(name: str) -> list[str]:
    """The task names of the problem set ``name``: ``synthetic`` (:data:`SYNTHETIC`), or from
    :mod:`hyperlab.tasks.suites` the LCBench tasks and the table data sets without the held-out
    ones (``lcbench``, ``tables``) and the validation suite (``validation``)."""
    if name == "synthetic":
        return list(SYNTHETIC)
    if name == "lcbench":
        return [f"lcbench-{i}" for i in suites.LCBENCH_IDS if f"lcbench-{i}" not in suites.HELD_OUT]
    if name == "tables":
        names = [f"{fam}-{ds}" for fam, sets in suites.TABLE_DATASETS.items() for ds in sets]
        return [n for n in names if n not in suites.HELD_OUT]
    if name == "validation":
        return list(suites.VALIDATION)
    if name == "lcbench-validation":
        return [f"lcbench-{i}" for i in suites.VALIDATION_LCBENCH]
    raise SystemExit(
        f"unknown problem set {name!r}; known: synthetic, lcbench, lcbench-validation, tables, "
        "validation"
    )


def run_panel(
    tasks: list[str], tuners: list[str], seeds: int, trials: int, partial: Path
) -> list[PanelRun]:
    """Every tuner on every task with seeds ``0..seeds-1`` (finished runs cached in
    ``partial``; a cached run made with other options than these is run again)."""

    def expected(task: str, tuner: str) -> Fingerprint | None:
        if task not in tasks or tuner not in tuners:
            return None
        return made_with(task, tuner, tuner_options(tuner, trials))

    done = _reusable(partial, load_runs(partial, trials), expected)
    partial.parent.mkdir(parents=True, exist_ok=True)
    with partial.open("a") as log:
        for task in tasks:
            for tuner in tuners:
                for seed in range(seeds):
                    if (task, tuner, seed) in done:
                        continue
                    res = run_study(task, tuner, seed, trials, tuner_options(tuner, trials))
                    done[(task, tuner, seed)] = res
                    append_run(log, res)
                    print(
                        f"  {task:18s} {tuner:14s} seed {seed:2d} best {res['best'][-1]:.5g} "
                        f"({res['wall_time']:.1f} s)",
                        flush=True,
                    )
    return [
        PanelRun(task, tuner, seed, r["best"], r["wall_time"], r["suggest_time"], r.get("optimum"))
        for (task, tuner, seed), r in done.items()
        if task in tasks and tuner in tuners and seed < seeds
    ]


def _reusable(
    partial: Path,
    runs: dict[Key, dict[str, Any]],
    expected: Callable[[str, str], Fingerprint | None],
) -> dict[Key, dict[str, Any]]:
    """The cached ``runs`` made as ``expected`` says a run would be made now (``None``: a run
    this command does not make, kept); prints which were set aside and why, and how many
    carry no record of what made them."""
    kept, notes = reusable(runs, expected, partial)
    for line in notes:
        print(line, flush=True)
    return kept


def _print(board: Leaderboard) -> None:
    points = board.checkpoints
    for problem in board.problems:
        print(f"\n{problem}: mean regret over seeds [95% interval]")
        print(f"{'tuner':14s}" + "".join(f"{'@' + str(c):>26s}" for c in points))
        for tuner in board.tuners:
            cells = {
                r["trials"]: r
                for r in board.regret
                if r["problem"] == problem and r["tuner"] == tuner
            }
            print(
                f"{tuner:14s}"
                + "".join(
                    f"{cells[c]['mean']:.4g} [{cells[c]['low']:.3g}, {cells[c]['high']:.3g}]".rjust(
                        26
                    )
                    for c in points
                )
            )
    print(
        f"\nmean rank at {points[-1]} trials (1 = best) [95% interval]; vs {board.reference} "
        "(Holm over the page's tests):"
    )
    _print_ranks(
        board,
        ("tuner", 14),
        f"{'s/run':>8s}{'s/ask':>9s}",
        lambda c: f"{c['wall_time']:8.2f}{c['suggest_per_trial']:9.4f}",
    )


def _print_ranks(
    board: Leaderboard,
    label: tuple[str, int],
    cost_head: str,
    cost_cells: Callable[[dict[str, Any]], str],
) -> None:
    """The rank table: each tuner's mean rank, its test against the reference (the p-value and
    Holm's adjusted one, which the verdict reads), its cost."""
    name, width = label
    tests = {r["tuner"]: r for r in board.tests}
    cost = {r["tuner"]: r for r in board.cost}
    head = f"{'rank':>22s}{'diff':>8s}{'p':>9s}{'p Holm':>9s}  {'verdict':13s}"
    print(f"{name:{width}s}{head}{cost_head}")
    for row in board.ranks:
        t = tests.get(row["tuner"])
        test = (
            f"{t['diff']:+8.2f}{t['p_value']:9.3g}{t['p_holm']:9.3g}  {t['verdict']:13s}"
            if t
            else " " * 41
        )
        print(
            f"{row['tuner']:{width}s}{row['mean']:8.2f} [{row['low']:.2f}, {row['high']:.2f}]"
            f"{test}{cost_cells(cost[row['tuner']])}"
        )


# -- the multi-fidelity panel (--fidelity) ----------------------------------------------------

FIDELITY_OUT = HERE / "results" / "leaderboard_fidelity.json"
#: Multi-fidelity peers: the arms the multi-fidelity tables call peers (not a reference).
FIDELITY_PEERS = ["syne-asha", "syne-bohb", "dehb", "smac-hyperband"]
#: The multi-fidelity panel's arms (those whose tuner is not registered are left out).
ARMS = [
    "random+none",
    "random+asha",
    "random+hyperband",
    "tpe+none",
    "tpe+median",
    "tpe+asha",
    "tpe+hyperband",
    "one-epoch",
    *FIDELITY_PEERS,
    "tpe+curve",
    "meta+asha",
]
QUICK_ARMS = ["random+asha", "tpe+none", "tpe+median", "one-epoch", "syne-asha"]
#: Checkpoints in full trainings: compute spent as multiples of the task's maximum epochs.
MULTIPLES = (5, 10, 20)
UNIT = "full_trainings"
#: An arm as run: ``(tuner, its options, pruner, its options)``.
Arm = tuple[str, dict[str, Any], str, dict[str, Any]]


def parse_arm(label: str) -> tuple[str, dict[str, Any], str | None, dict[str, Any]]:
    """``TUNER[+key=value...][+PRUNER[+key=value...]]`` -> ``(tuner, its options, pruner or
    None, its options)``."""
    tuner, *items = label.split("+")
    options: tuple[dict[str, Any], dict[str, Any]] = ({}, {})
    pruner = None
    for item in items:
        if "=" in item:
            options[pruner is not None].update(parse_options([item]))
        elif pruner is None:
            pruner = item
        else:
            raise SystemExit(f"arm {label!r} names two pruners: {pruner!r} and {item!r}")
    return tuner, options[0], pruner, options[1]


def resolve_arm(label: str, task: Task) -> tuple[Arm, bool]:
    """The arm ``label`` as run on ``task``, and whether its tuner plans its run from the
    number of trials (it drives its trials itself, ``drives_trials``, as ``one-epoch`` does).
    An arm that names only a tuner gets the pruner ``tuner`` (it asks the tuner) when the
    tuner declares a stopping rule of its own (``stops_trials``), else ``none``."""
    tuner, t_options, pruner, p_options = parse_arm(label)
    built = TUNERS.create(tuner, seed=0, space=task.distributions(), task=task, **t_options)
    if pruner is None:
        pruner = "tuner" if getattr(built, "stops_trials", False) else "none"
    return (tuner, t_options, pruner, p_options), bool(getattr(built, "drives_trials", False))


def compare_once(task: str, arm: Arm, seed: int, trials: int) -> tuple[list[dict[str, Any]], float]:
    """One study of one arm through ``hyperlab.compare`` in a scratch folder: its records and
    the seconds it took. The folder is in memory where the system has one (``/dev/shm``): the
    lab's journal syncs every write to disk, which would otherwise dominate a replayed study."""
    tuner, t_options, pruner, p_options = arm
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None) as scratch:
        start = time.perf_counter()
        records = hyperlab.compare(
            task,
            [tuner],
            pruners=[pruner],
            seeds=[seed],
            trials=trials,
            tuner_options={**tuner_options(tuner, trials), **t_options},
            pruner_options=p_options,
            runs_dir=scratch,
            name="study",
            storage=f"journal:{Path(scratch) / 'study.journal'}",
            progress=False,
            report=False,
        )
        return records, time.perf_counter() - start


def run_arm(
    task: str, arm: Arm, seed: int, target: float, trials: int, margin: float
) -> dict[str, Any]:
    """One arm's study on ``task`` with ``seed`` that spends at least ``target`` epochs: run
    with ``trials`` trials, and again with more (:func:`trials_to_spend` with ``margin``) while
    it spent less (at most four tries; a study still short is kept as it is and does not count
    where it did not reach)."""
    records, wall = compare_once(task, arm, seed, trials)
    curve = study_curve(records)
    for _ in range(3):
        if curve["epochs"][-1] >= target:
            break
        trials = trials_to_spend(trials, max(curve["epochs"][-1], 1.0), target, margin)
        records, wall = compare_once(task, arm, seed, trials)
        curve = study_curve(records)
    return {"trials": trials, "pruner": arm[2], **curve, "wall_time": wall}


def run_fidelity_panel(
    tasks: list[str], arms: list[str], seeds: int, multiples: list[int], partial: Path
) -> list[PanelRun]:
    """Every arm on every task with seeds ``0..seeds-1``, each study spending at least
    ``max(multiples)`` full trainings (finished runs cached in ``partial``).

    A study is cut at the checkpoints when read, so most arms may overshoot: each starts with
    a fifth more trials than the arm's previous study needed. A tuner that plans its run from
    the number of trials (``one-epoch`` screens that many configurations) gets instead the
    smallest count found to spend the budget, grown without margin, the same for every seed.
    """
    sizes: dict[tuple[str, int], int] = {}  # (arm, epochs) -> trials its next study starts with
    built = {name: TASKS.create(name) for name in tasks}
    resolved = {(n, a): resolve_arm(a, task) for n, task in built.items() for a in arms}

    def expected(task: str, label: str) -> Fingerprint | None:
        if (task, label) not in resolved:
            return None
        tuner, t_options, pruner, p_options = resolved[(task, label)][0]
        return made_with(task, tuner, t_options, pruner, p_options)

    done = _reusable(partial, load_runs(partial, multiples, field="multiples"), expected)
    partial.parent.mkdir(parents=True, exist_ok=True)
    with partial.open("a") as log:
        for seed, name, label in itertools.product(range(seeds), tasks, arms):
            task, (arm, plans) = built[name], resolved[(name, label)]
            target, size = max(multiples) * task.max_budget, (label, task.max_budget)
            res = done.get((name, label, seed))
            if res is None:
                trials = sizes.get(size, max(multiples))
                res = run_arm(name, arm, seed, target, trials, 1.0 if plans else 1.2)
                res = {"task": name, "tuner": label, "seed": seed, **res}
                res.update(multiples=multiples, max_budget=task.max_budget)
                res["optimum"] = _loss_optimum(task)
                res[MADE_WITH] = expected(name, label)
                done[(name, label, seed)] = res
                append_run(log, res)
                _print_run(res)
            needed = _trials_needed(res["epochs"], target, res["trials"])
            sizes[size] = res["trials"] if plans else needed
    keep = [r for (t, a, s), r in done.items() if t in tasks and a in arms and s < seeds]
    return [_fidelity_run(r, max(multiples)) for r in keep]


def _print_run(res: dict[str, Any]) -> None:
    print(
        f"  {res['task']:16s} {res['tuner']:18s} seed {res['seed']} {res['trials']:4d} trials "
        f"{res['epochs'][-1]:6.0f} epochs best {res['best'][-1]:.4g} ({res['wall_time']:.1f} s)",
        flush=True,
    )


def _trials_needed(epochs: list[float], target: float, trials: int) -> int:
    """Trials a study of the same arm should start with: a fifth more than this one took to
    spend ``target`` epochs (``trials`` when it never did)."""
    reached = [i for i, e in enumerate(epochs) if e >= target]
    return math.ceil(1.2 * (reached[0] + 1)) if reached else trials


def _loss_optimum(task: Task) -> float | None:
    """The task's optimum as a loss (negated when the task is maximized)."""
    if task.optimum is None:
        return None
    return -float(task.optimum) if task.direction == "maximize" else float(task.optimum)


def _fidelity_run(res: dict[str, Any], last: int) -> PanelRun:
    """A cached run as a :class:`PanelRun` in full trainings; its wall time pro-rated to the
    epochs it had spent by the last checkpoint (the study itself ran a little past it)."""
    cost = [e / res["max_budget"] for e in res["epochs"]]
    within = [c for c in cost if c <= last]
    share = (within[-1] / cost[-1]) if within and cost[-1] > 0 else 1.0
    return PanelRun(
        res["task"],
        res["tuner"],
        res["seed"],
        res["best"],
        wall_time=res["wall_time"] * share,
        optimum=res.get("optimum"),
        cost=cost,
    )


def _improvements(run: PanelRun) -> dict[str, Any]:
    """A run as plain data, its curve kept only where it improved (enough to read it at any
    checkpoint): ``improvements`` holds ``[full trainings spent, best loss]`` pairs."""
    steps = [
        [c, b]
        for i, (c, b) in enumerate(zip(run.cost or [], run.best, strict=True))
        if i == 0 or b < run.best[i - 1]
    ]
    fields = {k: v for k, v in run.__dict__.items() if k not in ("best", "cost")}
    return {
        **fields,
        "trials": len(run.best),
        "spent": (run.cost or [0])[-1],
        "improvements": steps,
    }


def _print_fidelity(board: Leaderboard, peers: list[str]) -> None:
    for problem in board.problems:
        _print_problem(board, problem, peers)
    points = board.checkpoints
    print(
        f"\nmean rank at {points[-1]}x the epochs (1 = best) [95% interval]; vs {board.reference} "
        "(Holm over the page's tests):"
    )
    _print_ranks(
        board,
        ("arm", 18),
        f"{'trials':>8s}{'wall s':>8s}",
        lambda c: f"{c['entries']:8.0f}{c['wall_time']:8.1f}",
    )


def _print_problem(board: Leaderboard, problem: str, peers: list[str]) -> None:
    """One problem's regret table (trials: within the last checkpoint; wall time pro-rated),
    and the arm with the lowest mean regret at the last checkpoint."""
    points = board.checkpoints
    spend = {r["tuner"]: r for r in board.problem_cost if r["problem"] == problem}
    cells = {(r["tuner"], r[UNIT]): r for r in board.regret if r["problem"] == problem}
    print(f"\n{problem}: mean regret over seeds [95% interval] at equal epochs")
    head = "".join(f"{f'@{c}x epochs':>26s}" for c in points)
    print(f"{'arm':18s}{head}{'trials':>8s}{'wall s':>8s}")
    for tuner in board.tuners:
        row = "".join(
            f"{cells[tuner, p]['mean']:.4g} [{cells[tuner, p]['low']:.3g}, "
            f"{cells[tuner, p]['high']:.3g}]".rjust(26)
            for p in points
        )
        c = spend[tuner]
        print(f"{tuner:18s}{row}{c['entries']:8.0f}{c['wall_time']:8.1f}")
    finals = {t: cells[t, points[-1]]["mean"] for t in board.tuners}
    best = min((t for t in finals if finals[t] == finals[t]), key=finals.__getitem__, default=None)
    if best is not None:
        kind = "a peer" if best in peers else "not a peer"
        print(f"lowest mean regret at {points[-1]}x: {best} ({kind})")


def main_fidelity(args: argparse.Namespace) -> None:
    """The multi-fidelity panel: run (or resume), print, write ``--out``."""
    if args.quick:
        args.seeds, args.multiples = 2, "4,8"
        args.tasks = args.tasks or "lcbench-3945,lcbench-146212"
    tasks = args.tasks.split(",") if args.tasks else problem_set(args.set)
    _refuse_held_out(tasks)
    default = QUICK_ARMS if args.quick else ARMS
    arms = args.arms.split(",") if args.arms else [a for a in default if parse_arm(a)[0] in TUNERS]
    left = [a for a in default if a not in arms and not args.arms]
    if left:
        print(f"tuners not registered here, left out: {', '.join(left)}")
    multiples = sorted(int(m) for m in args.multiples.split(","))
    out = args.out or str(FIDELITY_OUT)
    reference = reference_of(args.reference, arms, FIDELITY_REFERENCE)  # before any run
    runs = run_fidelity_panel(
        tasks, arms, args.seeds, multiples, Path(out).with_suffix(".partial.jsonl")
    )
    peers = (args.peers or ",".join(FIDELITY_PEERS)).split(",")
    board = leaderboard(runs, multiples, reference=reference, unit=UNIT)
    _print_fidelity(board, peers)
    payload = {
        "question": "multi-fidelity tuners and pruners at equal epochs on replayed curves",
        "settings": {"tasks": tasks, "arms": arms, "seeds": args.seeds, "multiples": multiples},
        "leaderboard": board.to_dict(),
        "runs": [_improvements(r) for r in runs],
    }
    print(f"\nwritten to {write_result(out, payload)}")


def stored_run(r: dict[str, Any]) -> PanelRun:
    """A run of a result file: as it was (full training), or from its curve where it improved
    and its last spend (``improvements``, the multi-fidelity panel)."""
    if "improvements" not in r:
        return PanelRun(**r)
    steps = r["improvements"]
    cost = [c for c, _ in steps] + [r["spent"]]
    best = [b for _, b in steps] + [steps[-1][1]]
    return PanelRun(
        r["problem"], r["tuner"], r["seed"], best, wall_time=r["wall_time"],
        optimum=r.get("optimum"), cost=cost,
    )  # fmt: skip


def markdown_of(path: Path, reference: str | None = None) -> str:
    """The README table of a saved result, its statistics computed again from the file's runs
    by today's rules: the reference named (``reference``, else the panel's default, which it
    must hold), the page's tests under Holm's correction. A multi-fidelity file keeps each
    run's improvements, not its trials, so its cost columns are the file's own. A file with no
    runs gets its stored table as it was computed."""
    data = json.loads(path.read_text())
    stored = data["leaderboard"]
    if not data.get("runs"):
        print(f"({path} holds no runs: its stored table is printed as it was computed)")
        return markdown(stored)
    runs = [stored_run(r) for r in data["runs"]]
    unit = stored.get("unit", "trials")
    settings = data.get("settings", {})
    ran = list(dict.fromkeys(r.tuner for r in runs))
    named = settings.get("tuners") or settings.get("arms") or []
    panel = [t for t in named if t in ran] + [t for t in ran if t not in named]
    ref = reference_of(reference, panel, default_reference(unit))
    board = leaderboard(runs, stored["checkpoints"], reference=ref, unit=unit).to_dict()
    if unit != "trials":
        board["cost"], board["problem_cost"] = stored["cost"], stored["problem_cost"]
    if {r["tuner"]: r["mean"] for r in board["ranks"]} != {
        r["tuner"]: r["mean"] for r in stored["ranks"]
    }:
        print(f"({path}: its runs give other mean ranks than its stored table; printed: the runs')")
    return markdown(board)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="synthetic", help="synthetic, lcbench, tables, validation")
    parser.add_argument("--tasks", default=None, help="comma-separated task names (over --set)")
    parser.add_argument("--tuners", default=",".join(PANEL))
    parser.add_argument(
        "--reference",
        default=None,
        help=f"the tuner tested against (default {REFERENCE}; "
        f"--fidelity: {FIDELITY_REFERENCE}; a panel without it needs --reference)",
    )
    parser.add_argument("--peers", default=None, help="--fidelity: the peer arms, named as such")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--out", default=None, help=f"default {OUT} (--fidelity: {FIDELITY_OUT})")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 seeds, 12 trials")
    parser.add_argument("--fidelity", action="store_true", help="the multi-fidelity panel")
    parser.add_argument("--arms", default=None, help="--fidelity: TUNER+PRUNER or TUNER, ...")
    parser.add_argument(
        "--multiples", default=",".join(map(str, MULTIPLES)), help="--fidelity: checkpoints"
    )
    parser.add_argument(
        "--markdown", type=Path, help="print the README table of this saved result, run nothing"
    )
    args = parser.parse_args()
    if args.markdown:
        print(markdown_of(args.markdown, args.reference))
        return
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    if args.fidelity:
        main_fidelity(args)
        return
    if args.peers:
        raise SystemExit(
            "--peers labels the peer arms of --fidelity; the full-training panel tests every "
            f"tuner against --reference (default {REFERENCE}), not against a group of peers"
        )
    args.out = args.out or str(OUT)
    if args.quick:
        args.seeds, args.trials, args.tuners = 2, 12, ",".join(QUICK)
    tasks = args.tasks.split(",") if args.tasks else problem_set(args.set)
    _refuse_held_out(tasks)
    tuners = args.tuners.split(",")
    partial = Path(args.out).with_suffix(".partial.jsonl")
    reference = reference_of(args.reference, tuners, REFERENCE)
    runs = run_panel(tasks, tuners, args.seeds, args.trials, partial)
    board = leaderboard(runs, CHECKPOINTS, reference=reference)
    _print(board)
    payload = {
        "question": "where hyperlab's tuners stand among Optuna's and the peers'",
        "settings": {"tasks": tasks, "tuners": tuners, "seeds": args.seeds, "trials": args.trials},
        "leaderboard": board.to_dict(),
        "runs": [{**r.__dict__, "best": list(r.best)} for r in runs],
    }
    print(f"\nwritten to {write_result(args.out, payload)}")


def _refuse_held_out(tasks: list[str]) -> None:
    held = [t for t in tasks if t in suites.HELD_OUT]
    if held:
        raise SystemExit(f"held-out problems are never used for a benchmark: {', '.join(held)}")


if __name__ == "__main__":
    main()
