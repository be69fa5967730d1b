"""Does a network that sets its own learning rate beat tuning the rate from outside?

Question: ``tpe-hd`` is ``tpe`` whose trials train their models with the hypergradient twin of
their optimizer, so the learning rate TPE draws is where the model's rate starts and the model
learns it while training (``hyperlab.population.self_tuning_trials``; ``random-hd`` is the
same on ``random``). At equal trials and equal epochs, is the best final validation loss of a
``tpe-hd`` study lower than that of a ``tpe`` study?

Method: ``hyperlab.tune(task, tuner, seed=s, trials=N, budget=B)`` per task x tuner x seed (one
process, the task's own cross-validation; every arm of a seed gets the same seed). Measures per
study: ``best`` (the best trial's final validation loss), ``test`` (the held-out test score of
the best trial's model, which the lab records after the study; for a ``-hd`` arm a model
trained with the twin from the drawn start rate) and ``seconds`` (wall time of the study). Per
task and over all tasks together, each ``-hd`` arm is paired seed by seed with its outside
tuner (``tpe-hd`` with ``tpe``, ``random-hd`` with ``random``): a difference ``hd - outside``
is lower or higher only where its 95% bootstrap interval leaves out 0 and the signed-rank test
gives p < 0.05 from at least 6 nonzero differences
(:func:`hyperlab.lab.stats.paired_verdict`), otherwise "within noise". It is a measurement: no
default is chosen from it (the plan: ``docs/decisions/self-lr-tuner.md``).

Usage:
    .venv/bin/python benchmarks/self_lr_tuner.py [--tuners tpe,tpe-hd,random,random-hd]
        [--tasks digits-mlp,wine-mlp,breast-cancer-mlp] [--seeds 10] [--trials 20]
        [--budget 20] [--cache FILE.jsonl] [--out benchmarks/results/self_lr_tuner.json]
        [--quick]
    .venv/bin/python benchmarks/self_lr_tuner.py --from benchmarks/results/self_lr_tuner.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import hyperlab
from hyperlab.lab.provenance import write_result
from hyperlab.lab.stats import bootstrap_interval, paired_verdict

HERE = Path(__file__).parent
OUT = HERE / "results" / "self_lr_tuner.json"
TASKS = "digits-mlp,wine-mlp,breast-cancer-mlp"
#: Each self-tuning arm and the outside tuner it is paired with.
PAIRS = {"tpe-hd": "tpe", "random-hd": "random"}
MEASURES = ("best", "test", "seconds")
ALL = "all tasks"


def run_one(task: str, tuner: str, seed: int, args: argparse.Namespace, runs: Path) -> dict:
    """One study: its best validation loss, its best trial's test score and its wall time."""
    began = time.perf_counter()
    study, _ = hyperlab.tune(
        task,
        tuner,
        trials=args.trials,
        seed=seed,
        budget=args.budget,
        runs_dir=runs,
        name=f"{task}-{tuner}-seed{seed}",
        progress=False,
        report=False,
    )
    best = study.best_trial
    test = study.user_attrs.get("test_score", {})
    learned = best.user_attrs.get("schedule", [{}])[-1].get("learned", {})
    return {
        "task": task,
        "tuner": tuner,
        "seed": seed,
        "trials": args.trials,
        "budget": args.budget,
        "best": study.best_value,
        "test": test.get("value") if test.get("trial") == best.number else None,
        "seconds": time.perf_counter() - began,
        "start_lr": best.params.get("lr"),
        "learned_lr": learned.get("lr") if isinstance(learned, dict) else None,
    }


def run_all(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every task x seed x tuner; rows already in ``--cache`` are kept."""
    done = _cached(args.cache)
    rows = []
    plan = itertools.product(args.tasks, range(args.seeds), args.tuners)
    with tempfile.TemporaryDirectory() as tmp:
        for task, seed, tuner in plan:
            key = (task, tuner, seed, args.trials, args.budget)
            if key not in done:
                done[key] = run_one(task, tuner, seed, args, Path(tmp) / f"{task}-{tuner}-{seed}")
                _append(args.cache, done[key])
                r = done[key]
                print(
                    f"  {task} {tuner} seed {seed}: best {r['best']:.4f}, test "
                    f"{_number(r['test'])}, {r['seconds']:.0f} s",
                    flush=True,
                )
            rows.append(done[key])
    return rows


def _number(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"


def _cached(cache: Path | None) -> dict[tuple[Any, ...], dict[str, Any]]:
    if cache is None or not cache.exists():
        return {}
    rows = [json.loads(line) for line in cache.read_text().splitlines() if line.strip()]
    return {(r["task"], r["tuner"], r["seed"], r["trials"], r["budget"]): r for r in rows}


def _append(cache: Path | None, row: dict[str, Any]) -> None:
    if cache is not None:
        with cache.open("a") as log:
            log.write(json.dumps(row) + "\n")


def summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per task (and over all tasks, paired by task and seed) and per pair of arms present:
    each arm's means and the paired differences ``hd - outside``."""
    out = []
    tuners = {r["tuner"] for r in rows}
    pairs = [(hd, outside) for hd, outside in PAIRS.items() if {hd, outside} <= tuners]
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    groups = [[t] for t in tasks] + ([tasks] if len(tasks) > 1 else [])
    for (hd, outside), group in itertools.product(pairs, groups):
        by = {(r["tuner"], r["task"], r["seed"]): r for r in rows if r["task"] in group}
        keys = sorted({(t, s) for _, t, s in by if (hd, t, s) in by and (outside, t, s) in by})
        entry: dict[str, Any] = {"task": group[0] if len(group) == 1 else ALL, "pairs": len(keys)}
        entry.update({"hd": hd, "outside": outside})
        for measure in MEASURES:
            for arm in (outside, hd):
                values = [_value(by[(arm, *k)], measure) for k in keys]
                entry[f"{arm}_{measure}"] = bootstrap_interval(values).to_dict()
            entry[f"diff_{measure}"] = _difference(by, keys, hd, outside, measure)
        out.append(entry)
    return out


def _value(row: dict[str, Any], measure: str) -> float:
    value = row[measure]
    return math.nan if value is None else float(value)


def _difference(
    by: dict[tuple[Any, ...], dict], keys: list[tuple[str, int]], hd: str, outside: str, m: str
) -> dict[str, Any]:
    """``hd - outside`` of measure ``m`` over ``keys``, with its p and verdict
    (:func:`hyperlab.lab.stats.paired_verdict`'s, read as ``lower`` or ``higher``)."""
    a = [_value(by[(hd, *k)], m) for k in keys]
    b = [_value(by[(outside, *k)], m) for k in keys]
    v = paired_verdict(a, b)
    verdict = {"better": "lower", "worse": "higher"}.get(v.verdict, v.verdict)
    lower = sum(x < y for x, y in zip(a, b))
    return {**v.interval.to_dict(), "p_value": v.p_value, "verdict": verdict, "lower_in": lower}


def print_table(entries: list[dict[str, Any]]) -> None:
    """One line per task, pair and measure: both arms and the difference."""
    print(f"\n{'task':<18} {'measure':<8} {'outside':<30} {'self-tuning':<30} hd - outside")
    for e in entries:
        print(f"-- {e['hd']} against {e['outside']}, {e['pairs']} pairs")
        for m in MEASURES:
            d = e[f"diff_{m}"]
            p = "n/a" if math.isnan(d["p_value"]) else f"{d['p_value']:.3f}"
            outside, hd = e[f"{e['outside']}_{m}"], e[f"{e['hd']}_{m}"]
            print(
                f"{e['task']:<18} {m:<8} {_interval(outside):<30} "
                f"{_interval(hd):<30} {_interval(d, '+')} p {p}, "
                f"{d['verdict']} (lower in {d['lower_in']} of {e['pairs']})"
            )


def _interval(i: dict[str, float], sign: str = "") -> str:
    return f"{i['mean']:{sign}.4f} [{i['low']:{sign}.4f}, {i['high']:{sign}.4f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tuners", default="tpe,tpe-hd")
    parser.add_argument("--tasks", default=TASKS)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--budget", type=int, default=20, help="epochs per trial")
    parser.add_argument("--cache", type=Path, help="finished studies (jsonl), kept across a kill")
    parser.add_argument("--from", dest="source", type=Path, help="print this result file")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--quick", action="store_true", help="wine-mlp, 2 seeds, 3 trials of 3")
    args = parser.parse_args()
    if args.source:
        print_table(json.loads(args.source.read_text())["summary"])
        return
    if args.quick:
        args.tasks, args.seeds, args.trials, args.budget, args.cache = "wine-mlp", 2, 3, 3, None
    args.tasks, args.tuners = args.tasks.split(","), args.tuners.split(",")
    if unknown := set(args.tuners) - set(PAIRS) - set(PAIRS.values()):
        parser.error(f"tuners {sorted(unknown)} are in no pair; known: {sorted(PAIRS.items())}")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    rows = run_all(args)
    entries = summary(rows)
    print_table(entries)
    if args.quick:
        return
    keys = ("tuners", "tasks", "seeds", "trials", "budget")
    settings = {k: getattr(args, k) for k in keys}
    result = {"question": __doc__.split("\n\n")[1], "settings": settings, "summary": entries}
    print(f"wrote {write_result(args.out, {**result, 'rows': rows})}")


if __name__ == "__main__":
    main()
