"""Does the neural tuner find better configurations than the classic ones in the same trials?

Every tuner (``random``, ``tpe``, ``gp``, ``neural``, ``neural-ensemble``) on the same seeds, on
the synthetic ``branin``, ``hartmann6`` and ``rosenbrock-4d`` and on two LCBench tasks (real MLP
learning curves replayed through the YAHPO surrogate: 7 hyperparameters, final validation error
at 52 epochs; a trained MLP per trial would cost seconds). ``lcbench-7593`` is left out: it is
held out for the tuners' benchmarks of issue 21 (as are lcbench-126026, 168868 and 189908).

Reported at trials 10, 25, 50 and 100: the median and interquartile range of the regret over
seeds (synthetic: best value so far minus the known optimum; LCBench: minus the best value any
run of any tuner found), the mean rank at the last trial (among the tuners, per task and seed;
1 = best, ties share) and the paired difference of neural's and TPE's ranks with its 95%
bootstrap interval and Wilcoxon signed-rank p (:func:`hyperlab.lab.stats.paired_verdict`:
better or worse only where the interval leaves out 0 and p < 0.05 from at least 6 nonzero
differences). ``--from FILE`` reprints a
stored result and writes nothing unless ``--out`` is given.

Every finished run is appended to ``results/sample_efficiency.partial.jsonl`` and skipped when
the command runs again with the same number of trials, so a long setting can be run in pieces;
the partial file is a cache, not a result. ``--from FILE`` rebuilds the summary from the runs a
results file stored (of the tasks and tuners asked for) without running anything.

Claims and commands: ``benchmarks/README.md``; how the setting was chosen:
``docs/decisions/sample-efficiency.md``.

Usage:
    .venv/bin/python benchmarks/sample_efficiency.py [--quick] [--seeds 20] [--mlp-seeds 10]
        [--trials 50] [--jobs 2] [--tasks ...] [--mlp-tasks ...] [--tuners ...] [--from FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import rankdata

from hyperlab.lab.panel import load_runs
from hyperlab.lab.provenance import write_result
from hyperlab.lab.stats import paired_verdict

HERE = Path(__file__).parent
OUT = HERE / "results" / "sample_efficiency.json"
PARTIAL = HERE / "results" / "sample_efficiency.partial.jsonl"
TUNERS = ["random", "tpe", "gp", "neural", "neural-ensemble"]
TASKS = ["branin", "hartmann6", "rosenbrock-4d"]
MLP_TASKS = ["lcbench-3945", "lcbench-34539"]
CHECKPOINTS = (10, 25, 50, 100)


def run_tuner(job: tuple[str, str, int, int]) -> dict[str, Any]:
    """One tuner on one task with one seed (one thread): the best value after each trial."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import optuna
    import torch

    from hyperlab.registry import TASKS as TASK_REGISTRY
    from hyperlab.registry import TUNERS as TUNER_REGISTRY

    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    tuner, task_name, seed, trials = job
    task = TASK_REGISTRY.create(task_name)
    sampler = TUNER_REGISTRY.create(tuner, seed=seed, space=task.distributions(), task=task)
    study = optuna.create_study(sampler=sampler)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(
            lambda t: task.evaluate(task.search_space(t), seed=seed).value, n_trials=trials
        )
    values = [t.value if t.value is not None else math.inf for t in study.trials]
    best = np.minimum.accumulate([v if math.isfinite(v) else math.inf for v in values])
    return {
        "task": task_name,
        "tuner": tuner,
        "seed": seed,
        "trials": trials,
        "best": best.tolist(),
        "seconds": time.perf_counter() - start,
    }


def _run(jobs: list[tuple[str, str, int, int]], n_jobs: int, done: dict) -> None:
    PARTIAL.parent.mkdir(exist_ok=True)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(n_jobs) as pool, PARTIAL.open("a") as log:
        for res in pool.imap_unordered(run_tuner, jobs):
            done[(res["task"], res["tuner"], res["seed"])] = res
            log.write(json.dumps(res) + "\n")
            log.flush()
            print(
                f"  {res['task']:14s} {res['tuner']:16s} seed {res['seed']:2d} "
                f"best {res['best'][-1]:.5g} ({res['seconds']:.1f} s)",
                flush=True,
            )


def _regrets(runs: dict[str, list[dict]], optimum: float | None) -> dict[str, np.ndarray]:
    """Regret curves ``(seeds, trials)`` per tuner; without an optimum, against the best run."""
    ref = optimum if optimum is not None else min(r["best"][-1] for rs in runs.values() for r in rs)
    return {u: np.array([r["best"] for r in rs]) - ref for u, rs in runs.items()}


def summarize(runs: dict[str, dict[str, list[dict]]], optima: dict, checkpoints: list[int]) -> dict:
    """Per task and tuner the regret quantiles at each checkpoint; the mean ranks at the last
    trial overall and per task; neural minus TPE rank, paired over tasks and seeds; per task
    whether neural's median regret at 50 trials (or the last checkpoint) is below random's."""
    summary: dict[str, Any] = {"tasks": {}, "mean_rank_by_task": {}}
    rank_rows: list[np.ndarray] = []
    tuners = list(next(iter(runs.values())))
    for task, per in runs.items():
        reg = _regrets(per, optima[task])
        summary["tasks"][task] = {
            u: {
                **{
                    str(c): {
                        "median": float(np.median(reg[u][:, c - 1])),
                        "q25": float(np.quantile(reg[u][:, c - 1], 0.25)),
                        "q75": float(np.quantile(reg[u][:, c - 1], 0.75)),
                    }
                    for c in checkpoints
                },
                "seconds": float(np.mean([r["seconds"] for r in per[u]])),
            }
            for u in tuners
        }
        ranks = np.array(
            [rankdata([reg[u][s, -1] for u in tuners]) for s in range(len(per[tuners[0]]))]
        )
        rank_rows.append(ranks)
        summary["mean_rank_by_task"][task] = dict(zip(tuners, map(float, ranks.mean(axis=0))))
    at = "50" if 50 in checkpoints else str(checkpoints[-1])
    if {"neural", "random"} <= set(tuners):
        summary["neural_below_random_at"] = at
        summary["neural_below_random"] = {
            t: cells["neural"][at]["median"] < cells["random"][at]["median"]
            for t, cells in summary["tasks"].items()
        }
    every = np.vstack(rank_rows)
    summary["mean_rank"] = dict(zip(tuners, map(float, every.mean(axis=0))))
    if {"neural", "tpe"} <= set(tuners):
        a, b = every[:, tuners.index("neural")], every[:, tuners.index("tpe")]
        v = paired_verdict(a, b)
        summary["neural_minus_tpe_rank"] = {
            **v.interval.to_dict(),
            "p": v.p_value,
            "verdict": v.verdict,
        }
    return summary


def _print(summary: dict, checkpoints: list[int]) -> None:
    for task, cells in summary["tasks"].items():
        print(f"\n{task}: median regret [IQR] over seeds (mean seconds per run)")
        print(f"{'tuner':16s}" + "".join(f"{'@' + str(c):>28s}" for c in checkpoints) + "   sec")
        for u, cell in cells.items():
            row = "".join(
                f"{cell[str(c)]['median']:>10.4g} [{cell[str(c)]['q25']:.3g}, "
                f"{cell[str(c)]['q75']:.3g}]".rjust(28)
                for c in checkpoints
            )
            print(f"{u:16s}{row}{cell['seconds']:6.1f}")
    print("\nmean rank at the last trial (1 = best): overall, then per task")
    for u in sorted(summary["mean_rank"], key=summary["mean_rank"].get):
        per = "  ".join(f"{t}={r[u]:.2f}" for t, r in summary["mean_rank_by_task"].items())
        print(f"  {u:16s} {summary['mean_rank'][u]:.2f}   {per}")
    for task, below in summary.get("neural_below_random", {}).items():
        word = "below" if below else "NOT below"
        print(
            f"{task}: neural's median regret {word} random's at {summary['neural_below_random_at']}"
        )
    if "neural_minus_tpe_rank" in summary:
        d = summary["neural_minus_tpe_rank"]
        tail = f", Wilcoxon p {d['p']:.2g}: {d['verdict']}" if "p" in d else ""
        print(f"neural minus tpe rank: {d['mean']:+.2f} [{d['low']:+.2f}, {d['high']:+.2f}]{tail}")


def _stored_runs(path: str, trials: int) -> tuple[dict[tuple[str, str, int], dict], Any]:
    """The runs a results file stored, keyed by (task, tuner, seed) and cut to ``trials``, and
    the provenance of the command that ran them."""
    data = json.loads(Path(path).read_text())
    done = {}
    for task, per in data["runs"].items():
        for tuner, rs in per.items():
            for r in rs:
                done[(task, tuner, r["seed"])] = {**r, "best": r["best"][:trials]}
    return done, data.get("runs_provenance", data.get("provenance"))


def _optimum(task: str) -> float | None:
    from hyperlab.registry import TASKS as TASK_REGISTRY

    optimum: float | None = TASK_REGISTRY.create(task).optimum
    return optimum


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds, 12 trials, branin only")
    parser.add_argument("--seeds", type=int, default=20, help="seeds of the synthetic tasks")
    parser.add_argument("--mlp-seeds", type=int, default=10, help="seeds of the LCBench tasks")
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--tasks", nargs="*", default=TASKS)
    parser.add_argument("--mlp-tasks", nargs="*", default=MLP_TASKS)
    parser.add_argument("--tuners", nargs="+", default=TUNERS)
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (one thread each)")
    parser.add_argument("--from", dest="source", metavar="FILE", help="summarize stored runs")
    parser.add_argument(
        "--out", help=f"the result file (default: {OUT.name}; with --from: none, nothing written)"
    )
    args = parser.parse_args()
    if args.out is None and not args.source:
        args.out = str(OUT)
    if args.quick:
        args.seeds, args.mlp_seeds, args.trials = 2, 2, 12
        args.tasks, args.mlp_tasks = ["branin"], []
    if args.trials < 1 or args.seeds < 1 or args.jobs < 1:
        parser.error("--trials, --seeds and --jobs must be positive")
    checkpoints = sorted({c for c in CHECKPOINTS if c <= args.trials} | {args.trials})
    seeds = {t: args.seeds for t in args.tasks} | {t: args.mlp_seeds for t in args.mlp_tasks}
    start = time.time()
    if args.source:
        done, runs_provenance = _stored_runs(args.source, args.trials)
    else:
        done = load_runs(PARTIAL, args.trials)
        todo = [
            (u, t, s, args.trials)
            for s in range(max(seeds.values()))
            for t in seeds
            if s < seeds[t]
            for u in args.tuners
            if (t, u, s) not in done
        ]
        print(f"{len(done)} runs in {PARTIAL.name}; {len(todo)} to go", flush=True)
        _run(todo, args.jobs, done)
        runs_provenance = None  # this command's own
    # regret against the known optimum of a synthetic task, against the best run on LCBench
    optima = {t: _optimum(t) if t in args.tasks else None for t in seeds}
    runs = {t: {u: [done[(t, u, s)] for s in range(seeds[t])] for u in args.tuners} for t in seeds}
    summary = summarize(runs, optima, checkpoints)
    _print(summary, checkpoints)
    slim = {
        t: {
            u: [{k: r[k] for k in ("seed", "best", "seconds")} for r in rs] for u, rs in per.items()
        }
        for t, per in runs.items()
    }
    settings = {**vars(args), "checkpoints": checkpoints}
    payload = {"settings": settings, "optima": optima, "summary": summary, "runs": slim}
    if runs_provenance is not None:
        payload["runs_provenance"] = runs_provenance
    if args.out is None:
        print("\n(a reprint writes nothing; --out FILE writes the summary)")
        return
    print(f"\nwrote {write_result(args.out, payload)} ({time.time() - start:.0f} s)")


if __name__ == "__main__":
    main()
