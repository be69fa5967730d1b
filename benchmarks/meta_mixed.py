"""Does the meta tuner steer spaces that mix categoricals with numeric parameters?

Each instance (its number seeds every choice, so the same number is the same problem) is a
space of the kind a user writes: 2-4 categoricals of 2-5 choices, each choice shifting the
score by an amount of its own (the best choice by 0), the first of them also moving the best
value of the first numeric parameter; 2-5 numeric parameters (linear float, log float, int,
stepped float), each adding a weighted squared distance from its best value, which lies on
its grid. The best value of every instance is 0, so a study's regret is its best value so far.
``--structure interacting`` adds to each instance a table of offsets over the pairs of choices
of its first two categoricals (a choice's worth then depends on the other's), the whole shifted
so the best value stays 0; ``additive`` (default) is the instance as above.

Every tuner runs ``--trials`` trials on every instance with every seed. Printed: the mean rank
of each tuner at 10, 20 and 40 trials (ranks among the tuners per instance and seed; 1 = best,
ties share), the paired rank differences asked for with ``--versus A:B`` (95% bootstrap
interval, Wilcoxon p and the verdict of :func:`hyperlab.lab.stats.paired_verdict`; negative:
A better), and the median regret per instance at the last
checkpoint. Tuners: ``random``, ``tpe``, ``meta`` (the shipped weights), ``meta-thompson``
(``meta`` with ``categoricals="thompson"``) and ``LABEL=PATH`` (``meta`` with
the weights at PATH). ``--from FILE ...`` rebuilds the tables from result
files (their runs merged, a run found in several taken from the first) and runs nothing; when
they hold both structures, the tables are printed for all runs and then for each structure.

Usage:
    .venv/bin/python benchmarks/meta_mixed.py --instances 0-7 --seeds 100-104 [--trials 40]
        [--structure additive|interacting] [--tuners random,tpe,meta,meta-x=PATH]
        [--versus meta-x:meta] [--out FILE]
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
    pairs: dict[tuple[str, str], float] | None = None  # offsets over (c0, c1), when interacting

    def score(self, params: dict[str, Any]) -> float:
        total = sum(self.categoricals[n][params[n]] for n in self.categoricals)
        if self.pairs is not None:
            total += self.pairs[(params["c0"], params["c1"])]
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


def make_interacting(instance: int) -> Mixed:
    """Instance ``instance`` with offsets over the pairs of choices of ``c0`` and ``c1`` added
    (drawn from their own stream), shifted so the best value stays 0."""
    base = make(instance)
    rng = np.random.default_rng([instance, 1])
    first, second = base.categoricals["c0"], base.categoricals["c1"]
    scale = math.exp(rng.uniform(math.log(0.3), math.log(1.5)))
    table = {(a, b): float(rng.random() * scale) for a in first for b in second}
    low = min(first[a] + second[b] + v for (a, b), v in table.items())
    pairs = {k: v - low for k, v in table.items()}
    return Mixed(base.categoricals, base.numerics, base.shifts, pairs)


STRUCTURES = {"additive": make, "interacting": make_interacting}


def sampler(tuner: str, seed: int) -> optuna.samplers.BaseSampler:
    """The sampler a tuner label names (``LABEL=PATH``: meta with other weights)."""
    if tuner == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if tuner == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if tuner == "meta":
        return MetaSampler(seed=seed)
    if tuner == "meta-thompson":
        return MetaSampler(seed=seed, categoricals="thompson")
    if "=" in tuner:
        return MetaSampler(seed=seed, weights_path=tuner.split("=", 1)[1])
    raise SystemExit(
        f"unknown tuner {tuner!r}; known: random, tpe, meta, meta-thompson, LABEL=PATH"
    )


def run(tuner: str, instance: int, seed: int, trials: int, structure: str) -> dict[str, Any]:
    """One study; its regret (best value so far) after each trial."""
    study = optuna.create_study(sampler=sampler(tuner, seed))
    study.optimize(STRUCTURES[structure](instance).objective, n_trials=trials)
    values = [math.inf if t.value is None else float(t.value) for t in study.trials]
    regret = np.minimum.accumulate(values).tolist()
    name = tuner.split("=", 1)[0]
    run = {"tuner": name, "instance": instance, "seed": seed, "regret": regret}
    return run if structure == "additive" else {**run, "structure": structure}


def numbers(spec: str) -> list[int]:
    """``0-7`` or ``1,3,5`` as a list of numbers."""
    if "-" in spec:
        a, b = spec.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(s) for s in spec.split(",")]


Cell = tuple[str, int, int]


def cell(r: dict[str, Any]) -> Cell:
    """A run's structure, instance and seed (runs without a structure are additive)."""
    return (r.get("structure", "additive"), r["instance"], r["seed"])


def ranks(runs: list[dict[str, Any]], at: int) -> dict[str, dict[Cell, float]]:
    """Per tuner, its rank among the tuners at trial ``at`` for each (structure, instance,
    seed)."""
    tuners = sorted({r["tuner"] for r in runs})
    cells: dict[Cell, dict[str, float]] = {}
    for r in runs:
        cells.setdefault(cell(r), {})[r["tuner"]] = r["regret"][at - 1]
    out: dict[str, dict[Cell, float]] = {t: {} for t in tuners}
    for key, row in cells.items():
        if len(row) == len(tuners):
            for t, rank in zip(tuners, rankdata([row[t] for t in tuners])):
                out[t][key] = float(rank)
    return out


def stored(paths: list[Path]) -> list[dict[str, Any]]:
    """The runs of result files, a tuner, structure, instance and seed found in several taken
    from the first file that has it."""
    runs: dict[tuple[str, Cell], dict[str, Any]] = {}
    for path in paths:
        for r in json.loads(path.read_text())["runs"]:
            runs.setdefault((r["tuner"], cell(r)), r)
    return list(runs.values())


def report(runs: list[dict[str, Any]], versus: list[str], per_instance: bool = True) -> None:
    trials = min(len(r["regret"]) for r in runs)
    points = [c for c in CHECKPOINTS if c <= trials]
    by_at = {c: ranks(runs, c) for c in points}
    tuners = sorted({r["tuner"] for r in runs})
    for pair in versus:
        a, _, b = pair.partition(":")
        if a not in tuners or b not in tuners:
            raise SystemExit(f"--versus {pair}: name two of the tuners run ({', '.join(tuners)})")
    print(
        f"mean rank among {len(tuners)} (1 = best) at {', '.join(map(str, points))} trials; "
        f"mean regret at {points[-1]}"
    )
    for t in tuners:
        mean = np.mean([r["regret"][points[-1] - 1] for r in runs if r["tuner"] == t])
        print(
            f"  {t:<18} "
            + "  ".join(f"{np.mean(list(by_at[c][t].values())):.2f}" for c in points)
            + f"  {mean:.3f}"
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
    if per_instance:
        print_instances(runs, tuners, points[-1])


def print_instances(runs: list[dict[str, Any]], tuners: list[str], at: int) -> None:
    """The median regret at trial ``at`` per structure and instance."""
    print(f"median regret at {at} trials per instance")
    for key in sorted({cell(r)[:2] for r in runs}):
        row = "  ".join(
            f"{t} {np.median([r['regret'][at - 1] for r in runs if r['tuner'] == t and cell(r)[:2] == key]):.3f}"
            for t in tuners
        )
        print(f"  {key[0][:5]} {key[1]:>5}: {row}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--instances", default="0-7")
    ap.add_argument("--seeds", default="100-104")
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--structure", choices=sorted(STRUCTURES), default="additive")
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
            run(t, i, s, args.trials, args.structure)
            for t in args.tuners.split(",")
            for i in numbers(args.instances)
            for s in numbers(args.seeds)
        ]
        if args.out:
            write_result(args.out, {"trials": args.trials, "runs": runs})
    report(runs, args.versus)
    structures = sorted({cell(r)[0] for r in runs})
    for structure in structures if len(structures) > 1 else []:
        print(f"\n{structure} alone:")
        report([r for r in runs if cell(r)[0] == structure], args.versus, per_instance=False)


if __name__ == "__main__":
    main()
