"""Claim: the curve predictors' final-value predictions are accurate and their 90% bands calibrated.

Only the predictor-accuracy part of ``benchmarks/pruning.py`` (its ``predictor_accuracy``,
unchanged), without the pruning studies, so it runs in minutes and can be repeated over seeds:
on each LCBench task (YAHPO surrogate; Pfisterer et al. 2022) ``--fit-curves`` random complete
validation-loss curves fit the predictor -- the neural one first on half of them, then refitted
on all, so that the refit calibrates its std on curves it had not seen, as in a study -- and
``--test-curves`` other random curves are predicted from 10%, 25% and 50% of their length.
Reported: mean absolute error of the predicted final value and coverage of the 90% interval
(the fraction of true final values inside ``mean +- 1.645 std``; 0.90 is calibrated), for
``neural``, ``neural-pretrained`` (pretrained on the ``--pretrain`` tasks, never the task
itself) and the ``parametric`` curve-family baseline (after Domhan et al. 2015). Each seed
draws other curves and seeds the networks.

    .venv/bin/python benchmarks/curve_accuracy.py              # 8 tasks x 3 seeds
    .venv/bin/python benchmarks/curve_accuracy.py --quick      # 2 tasks x 1 seed

Writes ``benchmarks/results/curve_accuracy.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from pruning import LCBENCH, PRETRAIN, predictor_accuracy, pretrain_tasks

FRACTIONS = (0.1, 0.25, 0.5)
NAMES = ("neural", "neural-pretrained", "parametric")


def summarize(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Mean MAE and coverage per predictor and prefix fraction over all tasks and seeds."""
    summary: dict[str, Any] = {}
    for name in NAMES:
        cells = [r for r in results.values() if f"{name}@0.1" in r]
        if not cells:
            continue
        summary[name] = {
            str(f): {
                "mae": float(np.mean([r[f"{name}@{f}"]["mae"] for r in cells])),
                "coverage90": float(np.mean([r[f"{name}@{f}"]["coverage90"] for r in cells])),
            }
            for f in FRACTIONS
        }
        summary[name]["cells"] = len(cells)
    return summary


def print_table(summary: dict[str, Any]) -> None:
    print(
        f"\n{'predictor':<18}"
        + "".join(f"{f'MAE@{f:.0%}':>10}{f'cov@{f:.0%}':>9}" for f in FRACTIONS)
    )
    for name, row in summary.items():
        print(
            f"{name:<18}"
            + "".join(
                f"{row[str(f)]['mae']:>10.4f}{row[str(f)]['coverage90']:>9.2f}" for f in FRACTIONS
            )
            + f"  ({row['cells']} task x seed cells)"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 tasks, 1 seed, 20/40 curves")
    parser.add_argument("--lcbench", default=",".join(LCBENCH), help="OpenML task ids")
    parser.add_argument(
        "--pretrain",
        default=",".join(PRETRAIN),
        help="LCBench ids for neural-pretrained ('': none)",
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--fit-curves", type=int, default=40)
    parser.add_argument("--test-curves", type=int, default=100)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "curve_accuracy.json"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.lcbench, args.seeds, args.fit_curves, args.test_curves = "3945,7593", 1, 20, 40

    import optuna
    import torch

    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    from hyperlab.registry import TASKS

    settings = {k: (v.name if isinstance(v, Path) else v) for k, v in vars(args).items()}
    print("settings:", json.dumps(settings))
    pool = [i for i in args.pretrain.split(",") if i]
    started = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    for task_id in [i for i in args.lcbench.split(",") if i]:
        task = TASKS.create(f"lcbench-{task_id}")
        pretrain = pretrain_tasks(task, pool)
        for seed in range(args.seeds):
            res = predictor_accuracy(task, args.fit_curves, args.test_curves, seed, pretrain)
            results[f"{task.name}/seed{seed}"] = res
            print(
                f"  {task.name} seed {seed}: "
                + "  ".join(
                    f"{name} cov "
                    + "/".join(f"{res[f'{name}@{f}']['coverage90']:.2f}" for f in FRACTIONS)
                    for name in NAMES
                    if f"{name}@0.1" in res
                ),
                flush=True,
            )
    summary = summarize(results)
    print_table(summary)
    total = time.perf_counter() - started
    print(f"\ntotal {total:.0f}s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(
            {"settings": settings, "summary": summary, "results": results, "seconds": total},
            f,
            indent=1,
        )
    print(f"wrote {args.out.name}")


if __name__ == "__main__":
    main()
