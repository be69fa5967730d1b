"""Does the meta tuner steer a space that mixes categoricals with numeric parameters?

The space is one a user writes for a small network: an optimizer (4 choices), batch norm on or
off, a batch size (5 choices), a one-choice activation, log-int layers, stepped int units,
stepped float dropout, a log learning rate and three constants. The score is a known sum of one
term per parameter (0 at the best choice of each), so the best possible value is 0 and every
tuner is measured on the same function. Each tuner runs ``--trials`` trials per seed.

Printed: per tuner, the mean and the per-seed best value, and in how many trials after the
fifth the study kept batch norm off (the better choice is on, by 0.5); ``meta`` minus random
search and minus TPE, and ``meta-thompson`` (``meta`` with ``categoricals="thompson"``), when
run, minus ``meta``, paired by seed, with a 95% bootstrap interval, the
signed-rank p and the verdict of :func:`hyperlab.lab.stats.paired_verdict`.

Usage:
    .venv/bin/python benchmarks/meta_categoricals.py [--seeds 10] [--trials 40]
        [--tuners random,tpe,meta,meta-ei,meta-thompson]
        [--out benchmarks/results/meta_categoricals.json]
"""

from __future__ import annotations

import argparse
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from hyperlab.lab.provenance import write_result
from hyperlab.lab.stats import paired_verdict
from hyperlab.tuners import MetaSampler

OUT = Path(__file__).parent / "results" / "meta_categoricals.json"
OPTIMIZERS = {"sgd": 1.0, "adam": 0.6, "rmsprop": 0.0, "adagrad": 1.5}
BATCHES = {16: 0.8, 32: 0.3, 64: 0.0, 128: 0.4, 256: 1.0}


def score(p: dict[str, Any]) -> float:
    """The known score of a configuration: one term per parameter, 0 at its best value."""
    return (
        OPTIMIZERS[p["opt"]]
        + (0.0 if p["use_bn"] else 0.5)
        + BATCHES[p["batch"]]
        + 0.3 * (math.log2(p["layers"]) - 5) ** 2 / 25
        + ((p["units"] - 208) / 300) ** 2
        + ((p["dropout"] - 0.2) / 0.5) ** 2
        + (math.log10(p["lr"]) + 2.5) ** 2 / 4
    )


def objective(trial: optuna.Trial) -> float:
    p = {
        "opt": trial.suggest_categorical("opt", list(OPTIMIZERS)),
        "use_bn": trial.suggest_categorical("use_bn", [False, True]),
        "batch": trial.suggest_categorical("batch", list(BATCHES)),
        "act": trial.suggest_categorical("act", ["relu"]),
        "layers": trial.suggest_int("layers", 1, 256, log=True),
        "units": trial.suggest_int("units", 16, 512, step=16),
        "dropout": trial.suggest_float("dropout", 0.0, 0.5, step=0.05),
        "lr": trial.suggest_float("lr", 1e-5, 1e-1, log=True),
    }
    trial.suggest_float("weight_decay", 1e-4, 1e-4)
    trial.suggest_float("momentum", 0.9, 0.9, log=True)
    trial.suggest_int("kernel", 3, 3)
    return score(p)


def sampler(tuner: str, seed: int) -> optuna.samplers.BaseSampler:
    if tuner == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if tuner == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if tuner in ("meta", "meta-ei"):
        return MetaSampler(seed=seed, acquisition="ei" if tuner == "meta-ei" else "quantile")
    if tuner == "meta-thompson":
        return MetaSampler(seed=seed, categoricals="thompson")
    raise SystemExit(f"unknown tuner {tuner!r}; known: random, tpe, meta, meta-ei, meta-thompson")


def run(tuner: str, seed: int, trials: int) -> dict[str, Any]:
    study = optuna.create_study(sampler=sampler(tuner, seed))
    study.optimize(objective, n_trials=trials)
    off = sum(t.params["use_bn"] is False for t in study.trials[5:])
    return {"tuner": tuner, "seed": seed, "best": study.best_value, "bn_off_after_5": off}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--tuners", default="random,tpe,meta,meta-ei")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    runs = [run(t, s, args.trials) for t in args.tuners.split(",") for s in range(args.seeds)]
    print(f"{'tuner':<13} {'mean best':>10}  per seed; trials with batch norm off after the 5th")
    for tuner in args.tuners.split(","):
        mine = [r for r in runs if r["tuner"] == tuner]
        bests = " ".join(f"{r['best']:.2f}" for r in mine)
        offs = " ".join(str(r["bn_off_after_5"]) for r in mine)
        mean = np.mean([r["best"] for r in mine])
        print(f"{tuner:<13} {mean:>10.3f}  {bests}; off: {offs} of {args.trials - 5}")
    by = {t: [r["best"] for r in runs if r["tuner"] == t] for t in args.tuners.split(",")}
    pairs = [("meta", "random"), ("meta", "tpe"), ("meta-thompson", "meta")]
    for a, b in pairs:
        if a in by and b in by:
            v = paired_verdict(by[a], by[b])
            iv = v.interval
            print(
                f"{a} - {b}: {iv.mean:+.3f} [{iv.low:+.3f}, {iv.high:+.3f}], "
                f"p {v.p_value:.2g}: {v.verdict}"
            )
    write_result(args.out, {"trials": args.trials, "seeds": args.seeds, "runs": runs})


if __name__ == "__main__":
    main()
