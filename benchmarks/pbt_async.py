"""Async PBT: whom a member that has just trained copies, ranked against what.

Question: in ``mode="async"`` a member copies another as soon as its own segment ends. Under
the rule of commit 4f4b0c5 (``latest``) it copied only if it ranked in the bottom quantile of
ALL members by their latest scores (members at other epochs: one further ahead naturally
scores better), and only from the top quantile restricted to members at least as far as
itself; with a population of 4 that almost never happened. The candidate (``same-epoch``,
``hyperlab.population.loop.async_donors``) ranks the member among the members that stand at
its epoch or beyond, by their models' scores at that epoch, and copies from their top
quantile. Does it copy more, and is the best final validation loss no worse?

Method: ``hyperlab.tune(task, "pbt", trials=N, tuner_options={"mode": "async"})`` per task x
population x rule x seed (the default interval, a tenth of the budget; 3-fold CV; one
process). The rule ``latest`` is the rule before, :func:`latest_score_donors`, put in place of
the library's for its runs (it draws from the run's random generator exactly as the library
did, so its runs are those of the library before the change). Measures per run: ``copies``
(exploits of the bottom quantile; a failed member's copy is counted apart, ``failed_copies``),
``best`` (the best member's final validation loss) and ``worst`` (the worst member's). The
table gives each cell's mean with a 95% bootstrap interval over seeds and the paired
difference ``same-epoch - latest`` with the Wilcoxon signed-rank p: a difference is lower or
higher only where the interval leaves out 0 and p < 0.05 from at least 6 nonzero differences
(the project's rule, :func:`hyperlab.lab.stats.paired_verdict`), otherwise "within noise". Only development tasks are meant to run here (``blobs-mlp``,
``breast-cancer-mlp``); the script refuses the target tasks ``digits-mlp`` and ``wine-mlp``.

Usage:
    .venv/bin/python benchmarks/pbt_async.py [--seeds 20] [--populations 4,8]
        [--tasks blobs-mlp,breast-cancer-mlp] [--out benchmarks/results/pbt_async_dev.json]
        [--cache FILE.jsonl] [--quick]
    .venv/bin/python benchmarks/pbt_async.py --from benchmarks/results/pbt_async_dev.json
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import hyperlab
from hyperlab.lab.provenance import write_result
from hyperlab.lab.stats import bootstrap_interval, paired_verdict
from hyperlab.population import loop
from hyperlab.population.members import Member
from hyperlab.registry import TASKS
from pbt import DEV_TASKS

HERE = Path(__file__).parent
OUT = HERE / "results" / "pbt_async_dev.json"
RULES = ("latest", "same-epoch")
#: Where defaults are reported, never chosen: refused here.
TARGET_TASKS = ("digits-mlp", "wine-mlp")


def latest_score_donors(
    members: list[Member], m: Member, quantile: float, sign: float
) -> list[Member]:
    """The async rule before the change (commit 4f4b0c5): ``m`` copies only when it is in the
    bottom quantile of every scored member by latest score, and only from the top quantile's
    members at least as far as itself that are not fresh copies."""
    scored = [x for x in members if x.value is not None]
    ranked = sorted(scored, key=lambda x: (sign * float(x.value or 0.0), x.index))
    k = loop.quantile_size(quantile, len(members))
    if k == 0 or m not in ranked[len(ranked) - k :] or m in ranked[:k]:
        return []
    return [d for d in ranked[:k] if not d.untested and d.epoch >= m.epoch]


@contextlib.contextmanager
def rule_in_place(rule: str) -> Iterator[None]:
    """Runs made inside use ``rule``: ``same-epoch`` is the library's own."""
    original = loop.async_donors
    if rule == "latest":
        loop.async_donors = latest_score_donors
    try:
        yield
    finally:
        loop.async_donors = original


def run_one(task: str, population: int, rule: str, seed: int, budget: int, runs: Path) -> dict:
    """One async population: its best and worst member's final value and its copies."""
    began = time.perf_counter()
    with rule_in_place(rule):
        study, _ = hyperlab.tune(
            task,
            "pbt",
            trials=population,
            seed=seed,
            budget=budget,
            tuner_options={"mode": "async", "population": population},
            runs_dir=runs,
            name=f"{task}-{rule}-{population}-seed{seed}",
            progress=False,
            report=False,
        )
    events = [e for t in study.trials for e in t.user_attrs.get("lineage", [])]
    copies = [e for e in events if "copied_from" in e]
    return {
        "task": task,
        "population": population,
        "rule": rule,
        "seed": seed,
        "budget": budget,
        "best": study.best_value,
        "worst": max(t.value for t in study.trials if t.value is not None),
        "copies": sum(e["reason"] == "bottom quantile" for e in copies),
        "failed_copies": sum(e["reason"] != "bottom quantile" for e in copies),
        "wall_seconds": time.perf_counter() - began,
    }


def run_all(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every task x population x seed x rule; rows already in ``--cache`` are kept."""
    done = _cached(args.cache)
    rows = []
    plan = itertools.product(args.tasks, args.populations, range(args.seeds), RULES)
    with tempfile.TemporaryDirectory() as tmp:
        for task, n, seed, rule in plan:
            key = (task, n, rule, seed)
            if key not in done:
                runs = Path(tmp) / f"{task}-{n}-{rule}-{seed}"
                done[key] = run_one(task, n, rule, seed, args.budget, runs)
                _append(args.cache, done[key])
                row = done[key]
                print(
                    f"  {task} {n} {rule} seed {seed}: best {row['best']:.4f}, "
                    f"{row['copies']} copies, {row['wall_seconds']:.0f} s",
                    flush=True,
                )
            rows.append(done[key])
    return rows


def _cached(cache: Path | None) -> dict[tuple[Any, ...], dict[str, Any]]:
    if cache is None or not cache.exists():
        return {}
    rows = [json.loads(line) for line in cache.read_text().splitlines() if line.strip()]
    return {(r["task"], r["population"], r["rule"], r["seed"]): r for r in rows}


def _append(cache: Path | None, row: dict[str, Any]) -> None:
    if cache is not None:
        with cache.open("a") as log:
            log.write(json.dumps(row) + "\n")


def summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per task and population: each rule's means and the paired differences."""
    out = []
    cells = dict.fromkeys((r["task"], r["population"]) for r in rows)
    for task, n in cells:
        mine = [r for r in rows if r["task"] == task and r["population"] == n]
        by = {(r["rule"], r["seed"]): r for r in mine}
        seeds = sorted(s for rule, s in by if rule == RULES[0] and (RULES[1], s) in by)
        entry: dict[str, Any] = {"task": task, "population": n, "seeds": len(seeds)}
        for rule in RULES:
            for measure in ("copies", "best", "worst"):
                values = [by[(rule, s)][measure] for s in seeds]
                entry[f"{rule}_{measure}"] = bootstrap_interval(values).to_dict()
        for measure in ("copies", "best", "worst"):
            entry[f"diff_{measure}"] = _difference(by, seeds, measure)
        out.append(entry)
    return out


def _difference(by: dict[tuple[str, int], dict], seeds: list[int], measure: str) -> dict:
    """``same-epoch - latest`` of ``measure`` over ``seeds``, with its p and verdict
    (:func:`hyperlab.lab.stats.paired_verdict`'s, read as ``lower`` or ``higher``)."""
    new = [float(by[(RULES[1], s)][measure]) for s in seeds]
    old = [float(by[(RULES[0], s)][measure]) for s in seeds]
    v = paired_verdict(new, old)
    verdict = {"better": "lower", "worse": "higher"}.get(v.verdict, v.verdict)
    lower = sum(a < b for a, b in zip(new, old))
    return {**v.interval.to_dict(), "p_value": v.p_value, "verdict": verdict, "lower_in": lower}


def print_table(entries: list[dict[str, Any]]) -> None:
    """One line per task, population and measure: both rules and the difference."""
    print(f"\n{'task':<18} {'n':>2} {'measure':<7} {'latest':<26} {'same-epoch':<26} difference")
    for e in entries:
        for measure in ("copies", "best", "worst"):
            old, new = e[f"latest_{measure}"], e[f"same-epoch_{measure}"]
            d = e[f"diff_{measure}"]
            p = "n/a" if math.isnan(d["p_value"]) else f"{d['p_value']:.3f}"
            print(
                f"{e['task']:<18} {e['population']:>2} {measure:<7} {_interval(old):<26} "
                f"{_interval(new):<26} {_interval(d, '+')} p {p}, {d['verdict']} "
                f"(lower in {d['lower_in']} of {e['seeds']})"
            )


def _interval(i: dict[str, float], sign: str = "") -> str:
    f: Callable[[float], str] = lambda x: f"{x:{sign}.4f}"  # noqa: E731
    return f"{f(i['mean'])} [{f(i['low'])}, {f(i['high'])}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budget", type=int, default=20, help="epochs per member")
    parser.add_argument("--populations", default="4,8")
    parser.add_argument("--tasks", default=",".join(DEV_TASKS) + ",breast-cancer-mlp")
    parser.add_argument("--cache", type=Path, help="finished runs (jsonl), kept across a kill")
    parser.add_argument("--from", dest="source", type=Path, help="print this result file")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--quick", action="store_true", help="one seed, budget 4, no file")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.budget, args.populations, args.cache = 1, 4, "4", None
    args.tasks = args.tasks.split(",")
    args.populations = [int(n) for n in args.populations.split(",")]
    if refused := set(args.tasks) & set(TARGET_TASKS):
        parser.error(f"{sorted(refused)} are target tasks: nothing is chosen on them here")
    for name in set(args.tasks) & set(DEV_TASKS):
        if name not in TASKS:
            TASKS.register(name, DEV_TASKS[name], "development task of benchmarks/pbt.py")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.source:
        print_table(json.loads(args.source.read_text())["summary"])
        return
    rows = run_all(args)
    entries = summary(rows)
    print_table(entries)
    if args.quick:
        return
    settings = {k: getattr(args, k) for k in ("seeds", "budget", "populations", "tasks")}
    result = {"question": __doc__.split("\n\n")[1], "settings": settings, "summary": entries}
    print(f"wrote {write_result(args.out, {**result, 'rows': rows})}")


if __name__ == "__main__":
    main()
