"""Claim: how accurate the curve predictors' final values are, and how well their 90% bands
cover the truth.

On each LCBench task (replayed through the YAHPO surrogate), ``--fit-curves`` random complete
validation-loss curves fit a predictor -- the neural one first on half of them, then refitted
on all, so that the refit calibrates its std on curves it had not seen, as in a study -- and
``--test-curves`` other random curves are predicted from 10%, 25% and 50% of their epochs.
Printed per predictor: the mean absolute error of the predicted final value and the coverage
of its 90% interval (0.90 is calibrated), for ``neural``, ``neural-pretrained`` (pretrained on
the ``--pretrain`` tasks, never the task itself) and the ``parametric`` curve families. Each
seed draws other curves and seeds the networks.

    .venv/bin/python benchmarks/curve_accuracy.py --quick

Commands behind the result file: ``benchmarks/README.md``; history:
``docs/decisions/early-stopping.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from hyperlab.curves import CurvePredictor, ParametricCurvePredictor
from hyperlab.curves.neural import NeuralCurvePredictor
from hyperlab.lab.provenance import write_result
from hyperlab.optuna_logs import quiet_optuna
from hyperlab.pruners.pretrain import pretrain_data
from hyperlab.registry import TASKS

LCBENCH = "3945,7593,34539,126025,146212,167149,167184,189906"
PRETRAIN = "126026,126029,167104,167152,167161,167168"
FRACTIONS = (0.1, 0.25, 0.5)
Z90 = 1.6448536  # a 90% two-sided interval is mean +- Z90 std


def random_curves(task: Any, n: int, seed: int) -> tuple[list[np.ndarray], list[dict[str, Any]]]:
    """``n`` complete (finite) validation-loss curves of random configurations of ``task``."""
    with quiet_optuna():
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1000 + seed))
    curves, configs = [], []
    while len(curves) < n:
        trial = study.ask()
        config = task.search_space(trial)
        study.tell(trial, 0.0)
        curve = np.asarray(task.curve(config).curves["val_loss"], dtype=np.float64)
        if np.all(np.isfinite(curve)):
            curves.append(curve)
            configs.append(config)
    return curves, configs


def accuracy(task: Any, args: argparse.Namespace, seed: int) -> dict[str, Any]:
    """MAE and 90% coverage of each predictor from each fraction of the test curves."""
    curves, configs = random_curves(task, args.fit_curves + args.test_curves, seed)
    n, budget, space = args.fit_curves, task.max_budget, task.distributions()
    truth = np.array([c[-1] for c in curves[n:]])
    others = [f"lcbench-{i}" for i in args.pretrain.split(",") if i]
    pool = [TASKS.create(other) for other in others if other != task.name]
    names = ["neural", "neural-pretrained", "parametric"] if pool else ["neural", "parametric"]
    out: dict[str, Any] = {}
    for name in names:
        predictor: CurvePredictor = ParametricCurvePredictor()
        if name != "parametric":
            predictor = neural = NeuralCurvePredictor(seed=seed)
        if name == "neural-pretrained":
            p_curves, p_configs, p_budgets, p_space = pretrain_data(pool, 100, seed)
            neural.pretrain(p_curves, p_configs, p_budgets, distributions=p_space)
        if name != "parametric":  # as in a study: a first fit, then a refit that calibrates
            half = max(2, n // 2)
            predictor.fit(curves[:half], configs[:half], budget, distributions=space)
        predictor.fit(curves[:n], configs[:n], budget, distributions=space)
        for f in FRACTIONS:
            prefixes = [c[: max(2, round(f * budget))] for c in curves[n:]]
            mean, std = predictor.predict_finals(prefixes, configs[n:], budget)
            err = np.abs(mean - truth)
            out[f"{name}@{f}"] = {
                "mae": float(err.mean()),
                "coverage90": float(np.mean(err <= Z90 * std)),
            }
    return out


def summarize(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Mean MAE and coverage per predictor and fraction over all tasks and seeds; printed."""
    print(
        f"\n{'predictor':<18}"
        + "".join(f"{f'MAE@{f:.0%}':>10}{f'cov@{f:.0%}':>9}" for f in FRACTIONS)
    )
    summary: dict[str, Any] = {}
    for name in ("neural", "neural-pretrained", "parametric"):
        cells = [r for r in results.values() if f"{name}@0.1" in r]
        if not cells:
            continue
        summary[name] = {
            str(f): {
                key: float(np.mean([r[f"{name}@{f}"][key] for r in cells]))
                for key in ("mae", "coverage90")
            }
            for f in FRACTIONS
        }
        row = [summary[name][str(f)] for f in FRACTIONS]
        print(f"{name:<18}" + "".join(f"{c['mae']:>10.4f}{c['coverage90']:>9.2f}" for c in row))
        summary[name]["cells"] = len(cells)
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 task, 1 seed, 20/40 curves")
    parser.add_argument("--lcbench", default=LCBENCH, help="OpenML task ids")
    parser.add_argument("--pretrain", default=PRETRAIN, help="ids for neural-pretrained ('': none)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--fit-curves", type=int, default=40)
    parser.add_argument("--test-curves", type=int, default=100)
    parser.add_argument("--out", type=Path, help="default: results/curve_accuracy.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.lcbench, args.pretrain, args.seeds = "3945", "126026,167104", 1
        args.fit_curves, args.test_curves = 20, 40
    import torch

    torch.set_num_threads(1)
    results = {}
    for task_id in args.lcbench.split(","):
        task = TASKS.create(f"lcbench-{task_id}")
        for seed in range(args.seeds):
            results[f"{task.name}/seed{seed}"] = accuracy(task, args, seed)
            print(f"  {task.name} seed {seed} done", flush=True)
    summary = summarize(results)
    settings = {k: v for k, v in vars(args).items() if k != "out"}
    payload = {"question": __doc__.split("\n\n")[0], "settings": settings}
    out = args.out or Path(__file__).parent / "results" / "curve_accuracy.json"
    print(f"wrote {write_result(out, {**payload, 'summary': summary, 'results': results})}")


if __name__ == "__main__":
    main()
