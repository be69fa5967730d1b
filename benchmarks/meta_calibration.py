"""Is the meta tuner's uncertainty honest on problems it was never trained on?

The extrapolation objection, measured: on every problem of the validation suite (none of its
data sets or function types was trained on), random context sets of 5, 10, 20 and 50
configurations are drawn from 1,024 random configurations of the problem, and for 50 other
configurations the share of true scores inside the central 68% and 95% intervals is counted.
Side by side: the meta tuner's network (in context, no fitting) and today's ``neural``
surrogate (a Bayesian-last-layer MLP fitted to the same context; Gaussian intervals of its
mean and standard deviation). Nominal is 68% and 95%; the target is within ±10 points.

Usage:
    .venv/bin/python benchmarks/meta_calibration.py [--repeats 4] [--suite validation]
        [--weights PATH]
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import torch

from hyperlab.lab.provenance import write_result
from hyperlab.registry import TASKS
from hyperlab.space import SpaceEncoder
from hyperlab.surrogates import make_surrogate
from hyperlab.tuners.meta import weights
from hyperlab.tuners.meta.predict import predict
from hyperlab.tuners.neural import DEFAULT_TRANSFORMS

HERE = Path(__file__).parent
OUT = HERE / "results" / "meta_calibration.json"
CONTEXTS = (5, 10, 20, 50)
LEVELS = {"68": (0.16, 0.84, 1.0), "95": (0.025, 0.975, 1.96)}
POINTS, QUERIES = 1024, 50


def problem(name: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """1,024 random configurations of ``name``, encoded, and their scores (minimized)."""
    task = TASKS.create(name)
    enc = SpaceEncoder(task.distributions())
    x = enc.random(POINTS, np.random.default_rng(seed))
    y = np.array([task.evaluate(c, seed=seed).value for c in enc.decode(x)])
    return x, y


def hits(model, x, y, ctx, qry) -> dict[str, dict[str, float]]:  # type: ignore[no-untyped-def]
    """Shares of query scores inside each interval, for the network and the BLL surrogate."""
    pred = predict(model, x[ctx], y[ctx], x[qry])
    z = pred.scale(y[qry])
    bll = make_surrogate("bll", seed=0, target_transform=DEFAULT_TRANSFORMS["bll"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bll.fit(x[ctx], y[ctx])
        mean, std = bll.predict(x[qry])
    out: dict[str, dict[str, float]] = {"meta": {}, "neural": {}}
    for level, (lo_q, hi_q, k) in LEVELS.items():
        lo = model.bars.quantile(pred.probs, lo_q).numpy()
        hi = model.bars.quantile(pred.probs, hi_q).numpy()
        out["meta"][level] = float(np.mean((z >= lo) & (z <= hi)))
        out["neural"][level] = float(np.mean(np.abs(y[qry] - mean) <= k * std))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--suite", default="validation")
    ap.add_argument("--weights", default=None)
    args = ap.parse_args()
    from hyperlab.tasks.suites import suite

    torch.set_num_threads(1)
    model = weights.load(args.weights).model
    rng = np.random.default_rng(0)
    table: dict[str, dict[int, list[dict]]] = {}
    for i, name in enumerate(suite(args.suite)):
        x, y = problem(name, 10_000 + i)
        table[name] = {n: [] for n in CONTEXTS}
        for n in CONTEXTS:
            for _ in range(args.repeats):
                rows = rng.permutation(len(y))[: n + QUERIES]
                table[name][n].append(hits(model, x, y, rows[:n], rows[n:]))
        print(f"  {name}", flush=True)
    summary = {
        who: {
            level: {
                str(n): float(np.mean([h[who][level] for p in table.values() for h in p[n]]))
                for n in CONTEXTS
            }
            for level in LEVELS
        }
        for who in ("meta", "neural")
    }
    print(f"\ncoverage of central intervals on {len(table)} problems, by context size {CONTEXTS}")
    for who, by_level in summary.items():
        for level, by_n in by_level.items():
            cells = "  ".join(f"{v:.2f}" for v in by_n.values())
            print(f"  {who:7s} {level}%: {cells}   (all: {np.mean(list(by_n.values())):.2f})")
    write_result(OUT, {"problems": list(table), "contexts": CONTEXTS, "coverage": summary})


if __name__ == "__main__":
    main()
