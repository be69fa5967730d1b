"""How right is the diagnostician on each task when no run of that task trained its classifier?

The development protocol of ``docs/decisions/diagnose-accuracy.md`` ("Five tasks"): every run of
every ``--data`` set is read; for each task in turn the classifier trains on the runs of the
other tasks (only those of ``--train-tasks`` when given; the others are scored but never train)
and diagnoses every run of the held-out task at the fixed blend ``--weight``
(:func:`hyperlab.diagnose.training.tasks_held_out`). Printed per task: the balanced accuracy of
the primary finding, the learning-rate and regularization advice on runs that should move, and
the recall per cause; last, the mean balanced accuracy over the tasks, the number a candidate
change is judged by.

Usage:
    .venv/bin/python benchmarks/diagnose_tasks.py --data FILE ... [--train-tasks TASK ...]
        [--weight 0.5] [--c 1.0] [--quick] --out FILE
"""

from __future__ import annotations

import argparse
import hashlib
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from hyperlab.diagnose.classifier import INPUT_NAMES
from hyperlab.diagnose.training import LabelledRuns, Settings, load_runs, tasks_held_out
from hyperlab.lab.provenance import write_result


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def summary(per_task: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The mean over tasks of the held-out balanced accuracy and of both advice numbers."""

    def mean(key: str) -> float:
        values = [v["score"][key] for v in per_task.values() if v["score"][key] is not None]
        return float(np.mean(values)) if values else float("nan")

    return {
        "mean_balanced_accuracy": mean("balanced_accuracy"),
        "mean_lr_direction_moves": mean("lr_direction_moves"),
        "mean_reg_direction_moves": mean("reg_direction_moves"),
    }


def _print(per_task: dict[str, dict[str, Any]], mean: dict[str, Any]) -> None:
    print(f"{'held-out task':<20}{'runs':>6}{'bal.acc':>9}{'lr-move':>9}{'reg-move':>9}")
    for task, v in per_task.items():
        s = v["score"]
        print(
            f"{task:<20}{s['n']:>6}{_fmt(s['balanced_accuracy']):>9}"
            f"{_fmt(s['lr_direction_moves']):>9}{_fmt(s['reg_direction_moves']):>9}"
        )
        for cause, c in v["by_cause"].items():
            got = ", ".join(f"{k} {n}" for k, n in c["primary"].items())
            print(f"    {cause!s:<12} {c['expected']:<17} {c['recall']:.2f}  {got}")
    print(
        f"mean over {len(per_task)} tasks: balanced accuracy "
        f"{mean['mean_balanced_accuracy']:.4f}, lr {mean['mean_lr_direction_moves']:.3f}, "
        f"reg {mean['mean_reg_direction_moves']:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", nargs="+", required=True, metavar="FILE")
    parser.add_argument(
        "--train-tasks",
        nargs="+",
        default=None,
        metavar="TASK",
        help="only these tasks' runs train the classifier (default: every task)",
    )
    parser.add_argument("--weight", type=float, default=0.5, help="the classifier's blend weight")
    parser.add_argument("--c", type=float, default=1.0, help="inverse L2 strength")
    parser.add_argument("--tree-stages", type=int, default=60)
    parser.add_argument("--tree-depth", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="every third run of each set")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
    start = time.perf_counter()
    data = LabelledRuns([r for f in args.data for r in load_runs(f)[:: 3 if args.quick else 1]])
    settings = Settings(args.c, args.tree_stages, args.tree_depth)
    per_task = tasks_held_out(data, args.weight, settings, args.train_tasks)
    mean = summary(per_task)
    _print(per_task, mean)
    payload = {
        "settings": {**vars(args), "data": [Path(f).name for f in args.data]},
        "inputs": hashlib.sha256(" ".join(INPUT_NAMES).encode()).hexdigest()[:12],
        "per_task": per_task,
        **mean,
        "seconds": time.perf_counter() - start,
    }
    print(f"wrote {write_result(args.out, payload)} in {payload['seconds']:.0f} s")


if __name__ == "__main__":
    main()
