"""Where do hyperlab's tuners stand among the ones users would pick instead?

Runs a tuner panel (hyperlab's own, Optuna's classic ones and the peers of ``hyperlab[peers]``)
over a problem set for several seeds, one tuner at a time in this process, and reports through
:func:`hyperlab.lab.leaderboard.leaderboard`: per problem the regret after 10 / 20 / 50 / 100
trials (mean over seeds with a 95% bootstrap interval), the mean rank at the last trial with
its interval, Wilcoxon signed-rank tests of every tuner against the best-ranked peer (over
problems and seeds, and per problem), and the wall time and suggestion cost of each tuner
(seconds per trial spent choosing, i.e. outside the objective).

Problem sets (``--set``): ``synthetic`` (``branin``, ``hartmann6``, ``rosenbrock-4d``),
``lcbench`` (the shipped LCBench tasks except the held-out ones), ``tables`` and
``validation`` (from :mod:`hyperlab.tasks.suites`: the tabular families without the held-out
data sets, and the validation suite). ``--tasks`` names problems directly. The held-out
problems of ``hyperlab.tasks.suites.HELD_OUT`` are refused.

Regret is the best value so far minus the task's known optimum, or minus the best value any
run of any tuner found when the optimum is unknown (a maximized task's values are negated).
Every finished run is appended to ``results/leaderboard.partial.jsonl`` (beside ``--out``) and
skipped when the command runs again with the same trials, so a long panel can be run in pieces.

Usage:
    .venv/bin/python benchmarks/leaderboard.py [--set synthetic] [--tasks ...] [--tuners ...]
        [--peers nevergrad,...] [--seeds 3] [--trials 100] [--out FILE] [--quick]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import optuna

from hyperlab.lab.leaderboard import CHECKPOINTS, Leaderboard, PanelRun, leaderboard
from hyperlab.lab.panel import append_run, load_runs, run_study
from hyperlab.lab.provenance import write_result
from hyperlab.registry import TUNERS
from hyperlab.tasks import suites

HERE = Path(__file__).parent
OUT = HERE / "results" / "leaderboard.json"
PEERS = ["nevergrad", "hyperopt-tpe", "syne-bore", "syne-rea", "smac-rf"]
PANEL = ["random", "tpe", "cmaes", "gp", "neural", *PEERS]
QUICK = ["random", "tpe", "nevergrad", "hyperopt-tpe", "syne-rea"]
SYNTHETIC = ["branin", "hartmann6", "rosenbrock-4d"]


def tuner_options(tuner: str, trials: int) -> dict[str, Any]:
    """Options that tell a tuner the run's length when it plans for one (NGOpt picks its
    algorithm from it; SMAC sizes its initial design by it)."""
    return {"planned_trials": trials} if TUNERS.takes(tuner, "planned_trials") else {}


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
    raise SystemExit(f"unknown problem set {name!r}; known: synthetic, lcbench, tables, validation")


def run_panel(
    tasks: list[str], tuners: list[str], seeds: int, trials: int, partial: Path
) -> list[PanelRun]:
    """Every tuner on every task with seeds ``0..seeds-1`` (finished runs cached in
    ``partial``)."""
    done = load_runs(partial, trials)
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
    print(f"\nmean rank at {points[-1]} trials (1 = best) [95% interval]; vs {board.reference}:")
    tests = {r["tuner"]: r for r in board.tests}
    cost = {r["tuner"]: r for r in board.cost}
    print(
        f"{'tuner':14s}{'rank':>22s}{'diff':>8s}{'p':>9s}  {'verdict':13s}{'s/run':>8s}{'s/ask':>9s}"
    )
    for row in board.ranks:
        t = tests.get(row["tuner"])
        test = f"{t['diff']:+8.2f}{t['p_value']:9.3g}  {t['verdict']:13s}" if t else " " * 32
        c = cost[row["tuner"]]
        print(
            f"{row['tuner']:14s}{row['mean']:8.2f} [{row['low']:.2f}, {row['high']:.2f}]"
            f"{test}{c['wall_time']:8.2f}{c['suggest_per_trial']:9.4f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="synthetic", help="synthetic, lcbench, tables, validation")
    parser.add_argument("--tasks", default=None, help="comma-separated task names (over --set)")
    parser.add_argument("--tuners", default=",".join(PANEL))
    parser.add_argument("--peers", default=",".join(PEERS), help="the reference group")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 seeds, 12 trials")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.trials, args.tuners = 2, 12, ",".join(QUICK)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    tasks = args.tasks.split(",") if args.tasks else problem_set(args.set)
    _refuse_held_out(tasks)
    tuners = args.tuners.split(",")
    partial = Path(args.out).with_suffix(".partial.jsonl")
    runs = run_panel(tasks, tuners, args.seeds, args.trials, partial)
    board = leaderboard(runs, CHECKPOINTS, reference_group=args.peers.split(","))
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
