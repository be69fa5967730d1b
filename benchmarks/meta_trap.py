"""Trapped seeds: on how many seeds does a tuner end worse than random search's median?

Reads result files of ``benchmarks/meta_tuner.py`` (their runs merged; a later file's run of
the same problem, label and seed replaces an earlier one's) and prints, per problem, each
label's *trapped seeds* (runs whose regret at ``--at`` trials is above the median regret of
random search's runs there) and median regret, then each label's total. Writes nothing.
Used by the basin-trap investigation of ``docs/decisions/meta-tuner.md``.

Usage:
    .venv/bin/python benchmarks/meta_trap.py --from benchmarks/results/meta_trap_dev.json \\
        benchmarks/results/meta_trap_dev_zoom0.json --compare random,tpe,gp,meta,meta-zoom0
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

Runs = dict[tuple[str, str, int], list[float]]


def load(paths: list[Path]) -> tuple[list[str], Runs]:
    """The problems (in the files' order) and each run's regret curve by (task, label, seed)."""
    tasks: list[str] = []
    runs: Runs = {}
    for path in paths:
        data = json.loads(path.read_text())
        tasks.extend(data["tasks"])
        for r in data["runs"]:
            runs[(r["task"], r["tuner"], r["seed"])] = r["regret"]
    return list(dict.fromkeys(tasks)), runs


def trapped(runs: Runs, tasks: list[str], labels: list[str], at: int) -> dict[str, Any]:
    """``{task: {label: {"trapped": n, "seeds": m, "median": regret}}}`` at trial ``at``:
    ``n`` of the label's ``m`` runs have a regret above random search's median there."""
    out: dict[str, Any] = {}
    for task in tasks:
        curves = {
            label: [c[at - 1] for (t, u, _), c in sorted(runs.items()) if t == task and u == label]
            for label in {*labels, "random"}
        }
        if not curves["random"]:
            raise SystemExit(f"{task}: no run of random search to compare with")
        line = float(np.median(curves["random"]))
        out[task] = {
            label: {
                "trapped": int(sum(v > line + 1e-12 for v in curves[label])),
                "seeds": len(curves[label]),
                "median": float(np.median(curves[label])) if curves[label] else float("nan"),
            }
            for label in labels
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--from", dest="source", type=Path, nargs="+", required=True)
    ap.add_argument("--compare", required=True, help="comma-separated labels")
    ap.add_argument("--at", type=int, default=50, help="the trial to compare at")
    args = ap.parse_args()
    tasks, runs = load(args.source)
    labels = args.compare.split(",")
    table = trapped(runs, tasks, labels, args.at)
    print(f"trapped seeds (regret at {args.at} above random's median) and median regret")
    for task, by in table.items():
        cells = "  ".join(
            f"{u} {c['trapped']}/{c['seeds']} ({c['median']:.3g})" for u, c in by.items()
        )
        print(f"  {task:28s} {cells}")
    totals = {u: sum(by[u]["trapped"] for by in table.values()) for u in labels}
    print("total: " + ", ".join(f"{u} {n}" for u, n in totals.items()))


if __name__ == "__main__":
    main()
