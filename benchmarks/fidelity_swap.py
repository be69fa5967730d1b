"""Where would an arm of the multi-fidelity leaderboard stand with another setting's runs?

Reads a saved multi-fidelity leaderboard (``leaderboard.py --fidelity``) and a result file of
``pruned_trials.py`` on the same tasks and seeds, replaces one arm's runs with the other
file's runs of another arm (read at the same checkpoints: 5, 10 and 20 full trainings) and
prints the leaderboard's ranks and tests again (against ``--reference``, by default the
leaderboard's, ``tpe+median``; Holm's correction over the page, as the leaderboard). It answers: with ``pruned_last_value`` on (the
default since 2026-12-05), where does ``meta+asha`` stand? The replaced arm's "trials" and
"wall s" columns are not comparable (the other file keeps only the regret at each checkpoint).

Usage:
    .venv/bin/python benchmarks/fidelity_swap.py \\
        --board benchmarks/results/leaderboard_fidelity.json \\
        --runs benchmarks/results/pruned_trials_validation.json \\
        --arm meta+asha --from-arm meta+pruned_last_value=true+asha [--reference tpe+median]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))  # the fidelity table of leaderboard.py

from hyperlab.lab.leaderboard import PanelRun, leaderboard
from leaderboard import FIDELITY_REFERENCE, UNIT, _print_fidelity, reference_of, stored_run

MULTIPLES = [5, 10, 20]


def checkpoint_run(r: dict[str, Any], arm: str, optimum: float | None) -> PanelRun:
    """A run known only by its regret at each checkpoint (``regret`` is best − ``optimum``, or
    the best itself where the optimum is unknown)."""
    best = [v + (optimum or 0.0) for v in r["regret"]]
    return PanelRun(r["task"], arm, r["seed"], best, optimum=optimum, cost=MULTIPLES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", type=Path, required=True)
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--arm", required=True, help="the board's arm to replace")
    parser.add_argument("--from-arm", required=True, help="the runs file's arm that replaces it")
    parser.add_argument("--reference", default=None, help=f"default {FIDELITY_REFERENCE}")
    args = parser.parse_args()
    board = json.loads(args.board.read_text())
    runs = [stored_run(r) for r in board["runs"] if r["tuner"] != args.arm]
    other = json.loads(args.runs.read_text())["rows"]
    optima = {r["problem"]: r.get("optimum") for r in board["runs"]}
    runs += [
        checkpoint_run(r, args.arm, optima.get(r["task"]))
        for r in other
        if r["arm"] == args.from_arm
    ]
    peers = ["syne-asha", "syne-bohb", "smac-hyperband", "dehb"]
    reference = reference_of(
        args.reference, list(dict.fromkeys(r.tuner for r in runs)), FIDELITY_REFERENCE
    )
    _print_fidelity(leaderboard(runs, MULTIPLES, reference=reference, unit=UNIT), peers)


if __name__ == "__main__":
    main()
