"""The diagnosis tuner against random search and TPE at equal epoch budgets.

Claim (issue 6): reading one run's curves and following the diagnostician's advice finds good
configurations in few training runs. Every tuner trains each configuration for the task's full
budget, so equal trial counts are equal epoch budgets. Regret at 10, 20 and 40 runs is the best
validation loss a study has found so far minus the best found by any study of this benchmark
(same task and budget), averaged over seeds (mean and standard error).

Defaults: ``wine-mlp`` (3-fold CV, 12 epochs), 40 runs, 10 seeds, tuners diagnosis/random/tpe:
about 7 CPU-minutes on a 2-core machine. Trial seeds depend on the study seed and the trial
number; failed trials (divergence) count as no improvement. Claims and commands:
``benchmarks/README.md``; history: ``docs/decisions/diagnose-accuracy.md``.

Also printed: the first tuner minus each other one, paired by seed, with a 95% bootstrap
interval and the Wilcoxon signed-rank p; a difference is called better or worse only where the
interval leaves out 0 and p < 0.05 from at least 6 nonzero differences
(:func:`hyperlab.lab.stats.paired_verdict`). ``--from FILE ...`` reprints stored results and writes
nothing; with several files, each tuner's runs come whole from the first file that has it (a
tuner run again, under a new model say, given first).

Usage:
    .venv/bin/python benchmarks/diagnosis_tuner.py [--quick] [--seeds 10] [--trials 40]
        [--task wine-mlp] [--epochs 12] [--jobs 1]
    .venv/bin/python benchmarks/diagnosis_tuner.py --from benchmarks/results/diagnosis_tuner.json
    .venv/bin/python benchmarks/diagnosis_tuner.py --from NEW.json OLD.json   # NEW's runs first
"""

from __future__ import annotations

import argparse
import json
import math
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from hyperlab.lab.provenance import write_result
from hyperlab.lab.stats import paired_verdict

OUT = Path(__file__).parent / "results" / "diagnosis_tuner.json"
CHECKPOINTS = (10, 20, 40)


def _study(args: tuple[str, str, int, int, int]) -> dict[str, Any]:
    import optuna
    import torch

    from hyperlab.errors import TrialFailure
    from hyperlab.registry import TASKS, TUNERS

    tuner, task_name, epochs, seed, n_trials = args
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    task = TASKS.create(task_name, max_epochs=epochs)
    sampler = TUNERS.create(tuner, seed=seed, space=task.distributions(), task=task)
    study = optuna.create_study(sampler=sampler)

    def objective(trial: optuna.Trial) -> float:
        config = task.search_space(trial)
        trial_seed = zlib.crc32(f"{seed}:{trial.number}".encode()) % (2**31)
        try:
            evaluation = task.evaluate(config, seed=trial_seed)
        except TrialFailure as exc:
            trial.set_user_attr("curves", exc.curves)
            trial.set_user_attr("fail_reason", str(exc))
            return math.nan  # optuna records the trial as failed
        trial.set_user_attr("curves", evaluation.curves)
        return evaluation.value

    start = time.perf_counter()
    study.optimize(objective, n_trials=n_trials)
    values = [
        t.value if t.value is not None and math.isfinite(t.value) else math.inf
        for t in study.trials
    ]
    best = np.minimum.accumulate(values).tolist()
    return {
        "tuner": tuner,
        "seed": seed,
        "best_so_far": best,
        "n_failed": sum(1 for v in values if not math.isfinite(v)),
        "seconds": time.perf_counter() - start,
        "best_params": study.best_trial.params if any(math.isfinite(v) for v in values) else None,
    }


def summarize(studies: list[dict[str, Any]], tuners: list[str], trials: int) -> dict[str, Any]:
    """Mean regret (and its standard error, and the median) at each checkpoint per tuner, and
    on how many seeds the first tuner is strictly better than each other one."""
    best_any = min(min(s["best_so_far"]) for s in studies)
    checkpoints = [c for c in CHECKPOINTS if c <= trials]
    table: dict[str, dict[str, Any]] = {}
    for t in tuners:
        mine = [s for s in studies if s["tuner"] == t]
        row: dict[str, Any] = {"n_failed_trials": sum(s["n_failed"] for s in mine)}
        row["cpu_seconds"] = sum(s["seconds"] for s in mine)
        for c in checkpoints:
            reg = np.array([s["best_so_far"][c - 1] - best_any for s in mine])
            row[f"regret@{c}"] = float(reg.mean())
            row[f"regret@{c}_se"] = (
                float(reg.std(ddof=1) / math.sqrt(len(reg))) if len(reg) > 1 else 0.0
            )
            row[f"regret@{c}_median"] = float(np.median(reg))
        table[t] = row
    wins: dict[str, Any] = {}
    paired: dict[str, Any] = {}
    for other in tuners[1:]:
        for c in checkpoints:
            by_a = {s["seed"]: s["best_so_far"][c - 1] for s in studies if s["tuner"] == tuners[0]}
            by_b = {s["seed"]: s["best_so_far"][c - 1] for s in studies if s["tuner"] == other}
            seeds = sorted(set(by_a) & set(by_b))
            a, b = [by_a[k] for k in seeds], [by_b[k] for k in seeds]
            wins[f"{tuners[0]}<{other}@{c}"] = int(sum(x < y for x, y in zip(a, b)))
            v = paired_verdict(a, b)
            paired[f"{tuners[0]}-{other}@{c}"] = {
                **v.interval.to_dict(),
                "p": v.p_value,
                "verdict": v.verdict,
            }
    head = "".join(f"{'regret@' + str(c):>22}" for c in checkpoints)
    print(f"{'tuner':<10}{head}{'failed':>8}")
    for t, row in table.items():
        cells = "".join(
            f"{row[f'regret@{c}']:>13.4f} ± {row[f'regret@{c}_se']:.4f}" for c in checkpoints
        )
        print(f"{t:<10}{cells}{row['n_failed_trials']:>8d}")
    print("seeds where the first tuner is strictly better:", wins)
    for key, iv in paired.items():
        print(
            f"{key}: {iv['mean']:+.4f} [{iv['low']:+.4f}, {iv['high']:+.4f}], "
            f"Wilcoxon p {iv['p']:.2g}: {iv['verdict']}"
        )
    return {"best_any": best_any, "table": table, "wins": wins, "paired": paired}


def merged(paths: list[Path]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The first stored result and the studies of all of them, each tuner's studies taken
    whole from the first file that has that tuner (a tuner run again under a new model given
    first replaces all its earlier runs, whatever seeds they had; the other tuners' runs come
    from the files after it).

    Raises:
        SystemExit: The files ran other tasks, epochs or trials (named)."""
    stored = [json.loads(p.read_text()) for p in paths]
    for key in ("task", "epochs", "trials"):
        values = {str(s[key]) for s in stored}
        if len(values) > 1:
            raise SystemExit(f"--from: the files differ in {key} ({', '.join(sorted(values))})")
    studies: list[dict[str, Any]] = []
    taken: set[str] = set()
    for result in stored:
        studies += [s for s in result["studies"] if s["tuner"] not in taken]
        taken |= {s["tuner"] for s in result["studies"]}
    return stored[0], studies


def seed_words(studies: list[dict[str, Any]], tuners: list[str]) -> str:
    """``"10 seeds"``, or each tuner's number of seeds when they differ (merged files)."""
    counts = {t: len({s["seed"] for s in studies if s["tuner"] == t}) for t in tuners}
    if len(set(counts.values())) == 1:
        return f"{next(iter(counts.values()))} seeds"
    return "seeds " + ", ".join(f"{t} {n}" for t, n in counts.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", default="wine-mlp")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--tuners", default="diagnosis,random,tpe")
    parser.add_argument("--jobs", type=int, default=1, help="studies run in parallel processes")
    parser.add_argument("--quick", action="store_true", help="2 seeds, 10 trials")
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument(
        "--from",
        dest="sources",
        type=Path,
        nargs="+",
        help="reprint stored results, their studies merged (nothing is written)",
    )
    args = parser.parse_args()
    if args.sources:
        first, studies = merged(args.sources)
        names = list(dict.fromkeys(s["tuner"] for s in studies))
        seeds = seed_words(studies, names)
        print(f"task {first['task']}, {first['epochs']} epochs per run, {seeds}")
        summarize(studies, names, first["trials"])
        return
    if args.quick:
        args.seeds, args.trials = 2, 10
    tuners = [t.strip() for t in args.tuners.split(",")]
    jobs = [(t, args.task, args.epochs, s, args.trials) for s in range(args.seeds) for t in tuners]
    start = time.perf_counter()
    if args.jobs > 1:
        from multiprocessing import get_context

        with get_context("spawn").Pool(args.jobs) as pool:
            studies = pool.map(_study, jobs)
    else:
        studies = [_study(j) for j in jobs]
    wall = time.perf_counter() - start
    print(f"task {args.task}, {args.epochs} epochs per run, {args.seeds} seeds")
    summary = summarize(studies, tuners, args.trials)
    result = {
        "task": args.task,
        "epochs": args.epochs,
        "trials": args.trials,
        "seeds": args.seeds,
        **summary,
        "wall_seconds": wall,
        "studies": studies,
    }
    print(f"wrote {write_result(args.out, result)} ({wall:.0f} s wall)")


if __name__ == "__main__":
    main()
