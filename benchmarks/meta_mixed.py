"""Does the meta tuner steer spaces that mix categoricals with numeric parameters?

Each instance (its number seeds every choice, so the same number is the same problem) is a
space of the kind a user writes: 2-4 categoricals of 2-5 choices, each choice shifting the
score by an amount of its own (the best choice by 0), the first of them also moving the best
value of the first numeric parameter; 2-5 numeric parameters (linear float, log float, int,
stepped float), each adding a weighted squared distance from its best value, which lies on
its grid. The best value of every instance is 0, so a study's regret is its best value so far.

Every tuner runs ``--trials`` trials on every instance with every seed. Printed: the mean rank
of each tuner at 10, 20 and 40 trials (ranks among the tuners per instance and seed; 1 = best,
ties share), the paired rank differences asked for with ``--versus A:B`` (95% bootstrap
interval, Wilcoxon p and the verdict of :func:`hyperlab.lab.stats.paired_verdict`; negative:
A better), and the median regret per instance at the last
checkpoint. Tuners: ``random``, ``tpe``, ``meta`` (the shipped weights) and ``LABEL=PATH``
(``meta`` with the weights at PATH). ``--from FILE ...`` rebuilds the tables from result
files (their runs merged, a run found in several taken from the first) and runs nothing.

Usage:
    .venv/bin/python benchmarks/meta_mixed.py --instances 0-7 --seeds 100-104 [--trials 40]
        [--tuners random,tpe,meta,meta-x=PATH] [--versus meta-x:meta] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from scipy.stats import rankdata

from hyperlab.lab.provenance import write_result
from hyperlab.lab.stats import paired_verdict
from hyperlab.tuners import MetaSampler

CHECKPOINTS = (10, 20, 40)
KINDS = ("float", "log", "int", "step")


@dataclass(frozen=True)
class Numeric:
    """A numeric parameter: its kind, range, best position in [0, 1] and weight."""

    name: str
    kind: str
    low: float
    high: float
    best: float
    weight: float

    def position(self, value: float) -> float:
        """Where ``value`` lies in the range, 0 to 1 (on the log axis for a log float)."""
        if self.kind == "log":
            return math.log(value / self.low) / math.log(self.high / self.low)
        return (value - self.low) / (self.high - self.low)


@dataclass(frozen=True)
class Mixed:
    """One instance: categoricals as ``{choice: offset}`` and the numeric parameters."""

    categoricals: dict[str, dict[str, float]]
    numerics: tuple[Numeric, ...]
    shifts: dict[str, float]  # the first categorical's choices move the first numeric's best

    def score(self, params: dict[str, Any]) -> float:
        total = sum(self.categoricals[n][params[n]] for n in self.categoricals)
        first = next(iter(self.categoricals))
        for i, p in enumerate(self.numerics):
            best = p.best + (self.shifts[params[first]] if i == 0 else 0.0)
            total += p.weight * (p.position(params[p.name]) - best) ** 2
        return total

    def objective(self, trial: optuna.Trial) -> float:
        params: dict[str, Any] = {
            n: trial.suggest_categorical(n, list(c)) for n, c in self.categoricals.items()
        }
        for p in self.numerics:
            if p.kind == "int":
                params[p.name] = trial.suggest_int(p.name, int(p.low), int(p.high))
            elif p.kind == "step":
                params[p.name] = trial.suggest_float(p.name, p.low, p.high, step=0.1)
            else:
                params[p.name] = trial.suggest_float(p.name, p.low, p.high, log=p.kind == "log")
        return self.score(params)


def make(instance: int) -> Mixed:
    """The instance numbered ``instance`` (the same number, the same problem)."""
    rng = np.random.default_rng(instance)
    cats: dict[str, dict[str, float]] = {}
    for i in range(int(rng.integers(2, 5))):
        offsets = rng.random(int(rng.integers(2, 6))) * math.exp(
            rng.uniform(math.log(0.3), math.log(2.0))
        )
        cats[f"c{i}"] = {f"v{j}": float(o - offsets.min()) for j, o in enumerate(offsets)}
    numerics = []
    for i in range(int(rng.integers(2, 6))):
        kind = KINDS[int(rng.integers(len(KINDS)))]
        low, high, grid = {
            "float": (0.0, 1.0, 0),
            "log": (1e-5, 1e-1, 0),
            "int": (1, 9, 8),
            "step": (0.0, 1.0, 10),
        }[kind]
        best = float(rng.uniform(0.15, 0.85))
        if grid:
            best = round(best * grid) / grid
        weight = math.exp(rng.uniform(math.log(0.5), math.log(4.0)))
        numerics.append(Numeric(f"x{i}", kind, low, high, best, weight))
    first = numerics[0]
    grid = {"int": 8, "step": 10}.get(first.kind, 0)
    shifts = {}
    for choice in cats["c0"]:
        shift = float(np.clip(first.best + rng.uniform(-0.3, 0.3), 0.05, 0.95)) - first.best
        shifts[choice] = round(shift * grid) / grid if grid else shift
    return Mixed(cats, tuple(numerics), shifts)


def sampler(tuner: str, seed: int) -> optuna.samplers.BaseSampler:
    """The sampler a tuner label names (``LABEL=PATH``: meta with other weights)."""
    if tuner == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if tuner == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if tuner == "meta":
        return MetaSampler(seed=seed)
    if "=" in tuner:
        return MetaSampler(seed=seed, weights_path=tuner.split("=", 1)[1])
    raise SystemExit(f"unknown tuner {tuner!r}; known: random, tpe, meta, LABEL=PATH")


def run(tuner: str, instance: int, seed: int, trials: int) -> dict[str, Any]:
    """One study; its regret (best value so far) after each trial."""
    study = optuna.create_study(sampler=sampler(tuner, seed))
    study.optimize(make(instance).objective, n_trials=trials)
    values = [math.inf if t.value is None else float(t.value) for t in study.trials]
    regret = np.minimum.accumulate(values).tolist()
    return {"tuner": tuner.split("=", 1)[0], "instance": instance, "seed": seed, "regret": regret}


def numbers(spec: str) -> list[int]:
    """``0-7`` or ``1,3,5`` as a list of numbers."""
    if "-" in spec:
        a, b = spec.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(s) for s in spec.split(",")]


def ranks(runs: list[dict[str, Any]], at: int) -> dict[str, dict[tuple[int, int], float]]:
    """Per tuner, its rank among the tuners at trial ``at`` for each (instance, seed)."""
    tuners = sorted({r["tuner"] for r in runs})
    cells: dict[tuple[int, int], dict[str, float]] = {}
    for r in runs:
        cells.setdefault((r["instance"], r["seed"]), {})[r["tuner"]] = r["regret"][at - 1]
    out: dict[str, dict[tuple[int, int], float]] = {t: {} for t in tuners}
    for key, row in cells.items():
        if len(row) == len(tuners):
            for t, rank in zip(tuners, rankdata([row[t] for t in tuners])):
                out[t][key] = float(rank)
    return out


def stored(paths: list[Path]) -> list[dict[str, Any]]:
    """The runs of result files, a tuner, instance and seed found in several taken from the
    first file that has it."""
    runs: dict[tuple[str, int, int], dict[str, Any]] = {}
    for path in paths:
        for r in json.loads(path.read_text())["runs"]:
            runs.setdefault((r["tuner"], r["instance"], r["seed"]), r)
    return list(runs.values())


def report(runs: list[dict[str, Any]], versus: list[str]) -> None:
    trials = min(len(r["regret"]) for r in runs)
    points = [c for c in CHECKPOINTS if c <= trials]
    by_at = {c: ranks(runs, c) for c in points}
    tuners = sorted({r["tuner"] for r in runs})
    for pair in versus:
        a, _, b = pair.partition(":")
        if a not in tuners or b not in tuners:
            raise SystemExit(f"--versus {pair}: name two of the tuners run ({', '.join(tuners)})")
    print(f"mean rank among {len(tuners)} (1 = best) at {', '.join(map(str, points))} trials")
    for t in tuners:
        print(
            f"  {t:<18} " + "  ".join(f"{np.mean(list(by_at[c][t].values())):.2f}" for c in points)
        )
    for pair in versus:
        a, _, b = pair.partition(":")
        for c in points:
            keys = sorted(by_at[c][a])
            x, y = [by_at[c][a][k] for k in keys], [by_at[c][b][k] for k in keys]
            v = paired_verdict(x, y)
            iv = v.interval
            print(
                f"  {a} - {b} at {c}: {iv.mean:+.2f} [{iv.low:+.2f}, {iv.high:+.2f}], "
                f"p {v.p_value:.2g}: {v.verdict}"
            )
    print(f"median regret at {points[-1]} trials per instance")
    for inst in sorted({r["instance"] for r in runs}):
        row = "  ".join(
            f"{t} {np.median([r['regret'][points[-1] - 1] for r in runs if r['tuner'] == t and r['instance'] == inst]):.3f}"
            for t in tuners
        )
        print(f"  {inst:>5}: {row}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--instances", default="0-7")
    ap.add_argument("--seeds", default="100-104")
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--tuners", default="random,tpe,meta")
    ap.add_argument("--versus", action="append", default=[])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--from", dest="sources", nargs="+", type=Path)
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    if args.sources:
        runs = stored(args.sources)
    else:
        runs = [
            run(t, i, s, args.trials)
            for t in args.tuners.split(",")
            for i in numbers(args.instances)
            for s in numbers(args.seeds)
        ]
        if args.out:
            write_result(args.out, {"trials": args.trials, "runs": runs})
    report(runs, args.versus)


if __name__ == "__main__":
    main()
