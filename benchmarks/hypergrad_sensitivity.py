"""How much does the final validation loss depend on the initial learning rate?

Claim (issue 3): with hypergradient descent the final validation loss barely depends on the
initial learning rate: over initial rates 1e-4 ... 1e-1 the spread (max/min of the seed-mean
final validation loss) of SGD-HD is <= 1.25 where plain SGD's is > 3. Side by side in the same
run: plain SGD, SGD-HD with the library default β = 0.1 and with β = 0.02, 0.05, 0.2 (the
default was picked from this range, so all four are shown), and SGD under stacks of 1-3 Adam
hyperoptimizers (Chandra et al. 2022; settings as in the ``self-lr`` experiment).

A second table measures the stacks' sensitivity to their *top-level* hyperparameter: for
heights 1-3 the hyperoptimizers' rates κ are set to 0.005 ... 0.1 (initial values of the
learned levels, fixed value of the top level) at a fixed initial learning rate, and the spread
over κ of the final validation loss is reported.

Task: scikit-learn digits, 70/30 stratified split, MLP 64-64-10 (``--model softmax`` for softmax
regression), batch 64, 10 epochs (200 steps), 9 initial rates, 3 seeds: about 3-6 CPU-minutes.

Usage:
    .venv/bin/python benchmarks/hypergrad_sensitivity.py [--quick] [--model mlp] [--epochs 10]
        [--seeds 3]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hyperlab.experiments.self_lr import FULL_RATES, METHODS, _stack, spread, train_run
from hyperlab.hypergrad import SGDHD

HERE = Path(__file__).parent
OUT = HERE / "results" / "hypergrad_sensitivity.json"
LOW, HIGH = 1e-4, 1e-1
TOP_RATES = [0.005, 0.01, 0.02, 0.05, 0.1]


def _hd(beta: float) -> Any:
    return lambda params, lr: SGDHD(params, lr=lr, hyper_lr=beta)


def _methods() -> dict[str, Any]:
    return {
        "SGD": METHODS["SGD"],
        "SGD-HD (β=0.1, default)": METHODS["SGD-HD"],
        "SGD-HD β=0.02": _hd(0.02),
        "SGD-HD β=0.05": _hd(0.05),
        "SGD-HD β=0.2": _hd(0.2),
        "stack-h1": METHODS["stack-h1"],
        "stack-h2": METHODS["stack-h2"],
        "stack-h3": METHODS["stack-h3"],
    }


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if all(math.isfinite(v) for v in values) else math.inf


def _fmt(v: float) -> str:
    return f"{v:.3f}" if math.isfinite(v) else "div"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 rates, 1 seed, 3 epochs")
    parser.add_argument("--model", default="mlp", choices=["mlp", "softmax"])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--lr0", type=float, default=1e-3, help="initial rate of table 2")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rates = [1e-4, 1e-3, 1e-2, 1e-1, 1.0] if args.quick else FULL_RATES
    seeds = list(range(1 if args.quick else args.seeds))
    epochs = 3 if args.quick else args.epochs
    start = time.perf_counter()

    # -- table 1: spread over initial learning rates ------------------------------------------
    methods = _methods()
    results: dict[str, dict[str, Any]] = {}
    for name, factory in methods.items():
        per_rate = {}
        for lr in rates:
            runs = [train_run(args.model, factory, lr, s, epochs=epochs) for s in seeds]
            per_rate[lr] = {
                "val_loss": _mean([r["val_loss"] for r in runs]),
                "final_lr": float(np.median([r["lr_trace"][-1] for r in runs if r["lr_trace"]]))
                if any(r["lr_trace"] for r in runs)
                else math.nan,
            }
        in_range = [v["val_loss"] for lr, v in per_rate.items() if LOW <= lr <= HIGH * 1.0001]
        results[name] = {
            "per_rate": {f"{lr:g}": v for lr, v in per_rate.items()},
            "spread_1e-4_1e-1": spread(in_range),
            "spread_all": spread([v["val_loss"] for v in per_rate.values()]),
        }
        print(f"  done {name} ({time.perf_counter() - start:.0f} s)", flush=True)

    header = f"{'method':26s}" + "".join(f"{lr:>8g}" for lr in rates) + "  spread≤1e-1  spread all"
    print(f"\nFinal validation loss (mean over {len(seeds)} seeds), {args.model}, {epochs} epochs")
    print(header)
    for name, res in results.items():
        cells = "".join(f"{_fmt(res['per_rate'][f'{lr:g}']['val_loss']):>8s}" for lr in rates)
        print(f"{name:26s}{cells}  {res['spread_1e-4_1e-1']:>10.2f}  {res['spread_all']:>10.2f}")

    # -- table 2: sensitivity of the stacks to their top-level rate ----------------------------
    top: dict[str, dict[str, Any]] = {}
    for height in (1, 2, 3):
        vals = {}
        for kappa in TOP_RATES:
            runs = [
                train_run(args.model, _stack(height, kappa), args.lr0, s, epochs=epochs)
                for s in seeds
            ]
            vals[f"{kappa:g}"] = _mean([r["val_loss"] for r in runs])
        top[f"stack-h{height}"] = {"per_kappa": vals, "spread": spread(list(vals.values()))}
    print(f"\nStacks: final validation loss vs hyperoptimizer rate κ (initial lr {args.lr0:g})")
    print(f"{'height':10s}" + "".join(f"{k:>8g}" for k in TOP_RATES) + "  spread")
    for name, res in top.items():
        cells = "".join(f"{_fmt(v):>8s}" for v in res["per_kappa"].values())
        print(f"{name:10s}{cells}  {res['spread']:>6.2f}")

    sgd = results["SGD"]["spread_1e-4_1e-1"]
    hd = results["SGD-HD (β=0.1, default)"]["spread_1e-4_1e-1"]
    target_met = hd <= 1.25 and sgd > 3
    elapsed = time.perf_counter() - start
    print(
        f"\nTarget (SGD-HD spread <= 1.25 over 1e-4..1e-1 where SGD's > 3): SGD {sgd:.2f}, "
        f"SGD-HD (default β) {hd:.2f} -> {'MET' if target_met else 'MISSED'}  [{elapsed:.0f} s]"
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "settings": {
                    "model": args.model,
                    "rates": rates,
                    "seeds": seeds,
                    "epochs": epochs,
                    "lr0_table2": args.lr0,
                    "top_rates": TOP_RATES,
                    "quick": args.quick,
                },
                "spread_over_initial_lr": results,
                "stack_top_rate_sensitivity": top,
                "target": {"sgd_spread": sgd, "hd_spread": hd, "met": target_met},
                "seconds": elapsed,
                "torch": torch.__version__,
            },
            indent=1,
            default=str,
        )
    )


if __name__ == "__main__":
    main()
