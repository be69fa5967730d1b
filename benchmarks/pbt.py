"""PBT and PB2 against ASHA and TPE with the median pruner at equal epochs, and what
population checkpoints cost.

Question (issue 22, part 1): at equal total epochs E = 8 x budget (budget: the task's full
epochs), on ``digits-mlp`` and ``wine-mlp``, is PBT with a population of 8 better (lower best
final validation cross-entropy) than ASHA (random sampler + ``asha``) and than TPE with the
``median`` pruner, each cut at E epochs? Is PB2 with a population of 4 (half the epochs) no
worse than PBT with 8 (and, to tell the explorer from the population size, PB2 against PBT
at an equal population of 4 and of 8)? What do self-tuning members (``hypergradient=true``)
change against plain PBT with 8? And do checkpoints cost at most 5% of the members' training time?
The arms ``pbt-8-iid`` and ``pb2-4-iid`` draw the first members independently (``start=random``)
instead of the default Latin hypercube; ``--tasks breast-cancer-mlp`` is the development task
that chose the default. ``pb2-4-screen2`` screens 8 first members for one segment and keeps 4
(``screen=2``; its epochs count the screen).

Method: ``hyperlab.tune`` per task x arm x seed (3-fold CV, the default spaces, one process).
A population's value is its best member's final value. ASHA and TPE-median run until their
trials have used at least E epochs (a pruned trial counts its epochs up to its prune); their
value is the best among the trials that completed the full budget within the first E epochs,
counted in trial order, and their wall time is the time to the last trial of that cut.
``checkpoint_share`` is the seconds the training loop spends on checkpoints over the seconds
training; the restore is timed by loading the run's last checkpoint, against one member's
training time (``restore_share``: the whole population's restore) and against the population's
(``restore_share_each``: a member's restore over its training). When every run holds the
per-run shares, the table adds their median, largest, and the count of runs above 5%. The table
gives each arm's mean with a 95% bootstrap interval over seeds, and paired differences over
seeds with the Wilcoxon signed-rank p (``hyperlab.lab.stats.paired_verdict``): a difference
is called better or worse only where the 95% interval leaves out 0 and p < 0.05 from at least 6
nonzero differences, otherwise "within noise".

Every finished run is appended to ``results/pbt.partial.jsonl`` (gitignored) and skipped when
the command runs again, so a killed run resumes. Each records what made it (its tuner's and
pruner's options with their defaults, ``--interval`` and the population included, and its
task's: ``hyperlab.lab.panel_cache``; an ASHA or TPE-median run, the population whose epochs
cut it); a cached run made otherwise than the command would make
it now is run again, and the command prints per arm how many were set aside and which option
differs. Runs cached before that record are reused as they are, with one notice that counts
them. ``--first-seed N`` runs the seeds N to N + ``--seeds`` - 1 (fresh seeds for a
replication), and the cache and the rows carry those seed numbers. ``--from FILE [FILE ...]`` prints the table of
saved result files (e.g. ``results/pbt.json`` and the Syne Tune peer's ``results/pbt_syne.json``,
whose rows have the same keys) without running anything. Claims and commands:
``benchmarks/README.md``.

Usage:
    nice -n 10 .venv/bin/python benchmarks/pbt.py [--seeds 5] [--first-seed 0] [--budget 20]
        [--tasks T1,T2] [--arms A1,A2] [--quick]
    .venv/bin/python benchmarks/pbt.py --from benchmarks/results/pbt.json \
        benchmarks/results/pbt_syne.json
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import math
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hyperlab
from hyperlab.lab.panel import load_runs
from hyperlab.lab.panel_cache import MADE_WITH, Fingerprint, Key, made_with, reusable
from hyperlab.lab.provenance import write_result
from hyperlab.lab.results import study_records, used_epochs
from hyperlab.lab.stats import bootstrap_interval, paired_verdict
from hyperlab.population import checkpoint
from hyperlab.registry import TASKS as REGISTERED_TASKS
from hyperlab.tasks.mlp import SklearnMLPTask

HERE = Path(__file__).parent
OUT = HERE / "results" / "pbt.json"
PARTIAL = HERE / "results" / "pbt.partial.jsonl"
TASKS = ("digits-mlp", "wine-mlp")
#: arm -> (tuner, pruner, population or None for a cut arm, tuner options)
ARMS: dict[str, tuple[str, str, int | None, dict[str, Any]]] = {
    "pbt-8": ("pbt", "none", 8, {}),
    "pbt-8-hd": ("pbt", "none", 8, {"hypergradient": True}),
    "pb2-4": ("pb2", "none", 4, {}),
    "pbt-4": ("pbt", "none", 4, {}),
    "pb2-8": ("pb2", "none", 8, {}),
    "pb2-4-screen2": ("pb2", "none", 4, {"screen": 2}),
    "pb2-4-screen4": ("pb2", "none", 4, {"screen": 4}),
    "pb2-4-screen2-q50": ("pb2", "none", 4, {"screen": 2, "quantile": 0.5}),
    "pbt-8-screen2": ("pbt", "none", 8, {"screen": 2}),
    "pb2-4-screen2-hd": ("pb2", "none", 4, {"screen": 2, "hypergradient": True}),
    "pbt-8-iid": ("pbt", "none", 8, {"start": "random"}),
    "pb2-4-iid": ("pb2", "none", 4, {"start": "random"}),
    "pbt-8-i2": ("pbt", "none", 8, {"interval": 2}),
    "pbt-8-i1": ("pbt", "none", 8, {"interval": 1}),
    "pb2-4-i2": ("pb2", "none", 4, {"interval": 2}),
    "pbt-8-q50": ("pbt", "none", 8, {"quantile": 0.5}),
    "pbt-8-r0": ("pbt", "none", 8, {"resample_probability": 0.0}),
    "asha": ("random", "asha", None, {}),
    "tpe-median": ("tpe", "median", None, {}),
}
#: Development tasks (defaults are chosen on them, never reported): ``breast-cancer-mlp`` and
#: ``blobs-mlp``, an MLP on generated data that this script registers for itself.
DEV_TASKS = {"blobs-mlp": functools.partial(SklearnMLPTask, "blobs")}
#: Candidates tried on the development task only (``--tasks breast-cancer-mlp``); not run by
#: default.
DEV_ARMS = (
    "pbt-8-i2",
    "pbt-8-i1",
    "pb2-4-i2",
    "pbt-8-q50",
    "pbt-8-r0",
    "pb2-4-screen4",
    "pb2-4-screen2-q50",
    "pbt-8-screen2",
    "pb2-4-screen2-hd",
)
#: (arm a, arm b): the paired differences a - b printed; any other arm is set against pbt-8.
PAIRS = (
    ("pbt-8", "asha"),
    ("pbt-8", "tpe-median"),
    ("pb2-4", "pbt-8"),
    ("pb2-4-screen2", "pbt-8"),
    ("pb2-4-screen2", "pb2-4"),
    ("pb2-4-screen2-hd", "pb2-4-screen2"),
    ("pbt-8-hd", "pbt-8"),
    ("pbt-8-hd", "asha"),
    ("pbt-8-hd", "tpe-median"),
    ("pb2-4", "pbt-4"),
    ("pb2-8", "pbt-8"),
    ("pbt-8", "pbt-8-iid"),
    ("pb2-4", "pb2-4-iid"),
)
#: Checkpoints may cost at most this share of the members' training time (issue 22).
CHECKPOINT_TARGET = 0.05
#: The population whose epochs set E for the cut arms.
POPULATION = 8
#: The kind under which a cut arm's fingerprint records :data:`POPULATION`.
BENCHMARK = "benchmark"
#: The population every cut run was cut at before its fingerprint recorded one.
FORMER_POPULATION = 8


def arm_options(arm: str, interval: int | None = None) -> dict[str, Any]:
    """The options a run of ``arm`` gives its tuner: a population's size, and ``interval``
    (epochs per segment; ``None``: the tuner's default) for a population arm."""
    _, _, size, options = ARMS[arm]
    if size is None:
        return dict(options)
    given = {"interval": interval} if interval is not None else {}
    return {**options, "population": size, **given}


def fingerprint(task: str, arm: str, interval: int | None) -> Fingerprint:
    """What makes a run of ``arm`` on ``task`` (:func:`hyperlab.lab.panel_cache.made_with`),
    and for a cut arm the :data:`POPULATION` whose epochs it is cut at (under
    :data:`BENCHMARK`; a population arm's own size is among its tuner's options)."""
    tuner, pruner, size, _ = ARMS[arm]
    made = made_with(task, tuner, arm_options(arm, interval), pruner)
    if size is None:
        made[BENCHMARK] = {"pbt.py": {"population": POPULATION}}
    return made


def cached_runs(
    cache: Path, budget: int, expected: Callable[[str, str], Fingerprint | None]
) -> dict[Key, dict[str, Any]]:
    """The runs of ``budget`` in ``cache`` made as ``expected`` says a run of ``(task, arm)``
    would be made now (``None``: an arm this command does not run, kept), by task, arm and
    seed; prints which were set aside (to be run again) and why, and how many carry no record
    of what made them. A cut run whose record names no population was cut at
    :data:`FORMER_POPULATION`'s epochs. A line cut short by a kill is skipped; a later line of
    a key wins."""
    runs = load_runs(cache, budget, field="budget", label="arm")
    for (_, arm, _), run in runs.items():
        made = run.get(MADE_WITH)
        if isinstance(made, dict) and arm in ARMS and ARMS[arm][2] is None:
            made.setdefault(BENCHMARK, {"pbt.py": {"population": FORMER_POPULATION}})
    kept, notes = reusable(runs, expected, cache)
    for note in notes:
        print(note, flush=True)
    return kept


def run_population(
    task: str, arm: str, seed: int, budget: int, interval: int | None, runs: Path
) -> dict[str, Any]:
    """One population run: its best member's final value and its checkpoint costs."""
    tuner, _, size, _ = ARMS[arm]
    assert size is not None
    options = arm_options(arm, interval)
    began = time.perf_counter()
    study, summary = hyperlab.tune(
        task,
        tuner,
        trials=size,
        seed=seed,
        budget=budget,
        tuner_options=options,
        runs_dir=runs,
        name=f"{task}-{arm}-seed{seed}",
        progress=False,
        report=False,
    )
    wall = time.perf_counter() - began
    info = study.user_attrs["population"]
    folder = next(summary.run_dir.glob(f"population/*/{checkpoint.FILE}")).parent
    began = time.perf_counter()
    checkpoint.load(folder)
    restore = time.perf_counter() - began
    member = info["train_seconds"] / size
    events = [e for t in study.trials for e in t.user_attrs.get("lineage", [])]
    return {
        "best": study.best_value,
        "epochs": used_epochs(study_records(study)),  # (a screen's epochs included)
        "wall_seconds": wall,
        "checkpoint_share": info["checkpoint_share"],
        "checkpoint_seconds": info["checkpoint_seconds"],
        "saves": info["steps"],
        "restore_seconds": restore,
        "member_seconds": member,
        "restore_share": restore / member,
        "restore_share_each": restore / info["train_seconds"],
        "checkpoints_replaced": info.get("checkpoints_replaced", 0),
        "checkpoints_written": info.get("checkpoints_written"),
        "copies": sum("copied_from" in e for e in events),
        "failed_segments": sum("failed" in e for e in events),
    }


def run_cut(task: str, arm: str, seed: int, budget: int, runs: Path) -> dict[str, Any]:
    """One sampler + pruner study run until it has used E epochs, read at the first E."""
    tuner, pruner, _, _ = ARMS[arm]
    options = arm_options(arm)
    limit = POPULATION * budget
    trials, used = POPULATION, 0
    while True:
        study, _ = hyperlab.tune(
            task,
            tuner,
            trials=trials,
            pruner=pruner,
            seed=seed,
            budget=budget,
            tuner_options=options,
            runs_dir=runs,
            name=f"{task}-{arm}-seed{seed}",
            progress=False,
            report=False,
        )
        records = study_records(study)
        used = records[-1]["epochs_cumulative"]
        if used >= limit:
            break
        trials += max(1, math.ceil((limit - used) / (used / len(records))))
    cut = [r for r in records if r["epochs_cumulative"] <= limit]
    full = [r["value"] for r in cut if r["state"] == "COMPLETE" and r["budget"] == budget]
    frozen = {t.number: t for t in study.get_trials(deepcopy=False)}
    first, last = frozen[cut[0]["trial"]], frozen[cut[-1]["trial"]]
    assert first.datetime_start is not None and last.datetime_complete is not None
    return {
        "best": min(full) if full else math.nan,
        "epochs": cut[-1]["epochs_cumulative"],
        "wall_seconds": (last.datetime_complete - first.datetime_start).total_seconds(),
        "trials": len(cut),
        "complete": len(full),
        "epochs_run": used,
    }


def run_all(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every task x seed x arm, skipping those already in the partial file (made as this
    command would make them: the others are run again)."""

    def expected(task: str, arm: str) -> Fingerprint | None:
        if task not in args.tasks or arm not in args.arms:
            return None
        return fingerprint(task, arm, args.interval)

    done = cached_runs(args.cache, args.budget, expected)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, args.cache.open("a") as log:
        for task, seed, arm in itertools.product(args.tasks, seed_range(args), args.arms):
            key = (task, arm, seed)
            if key not in done:
                made = expected(task, arm)
                done[key] = {**_run_arm(args, task, arm, seed, Path(tmp)), MADE_WITH: made}
                log.write(json.dumps(done[key]) + "\n")
                log.flush()
                print(_brief(done[key]), flush=True)
            rows.append({k: v for k, v in done[key].items() if k != MADE_WITH})
    return rows


def seed_range(args: argparse.Namespace) -> range:
    """The seeds a command runs: ``--seeds`` of them from ``--first-seed`` on."""
    return range(args.first_seed, args.first_seed + args.seeds)


def _non_negative(text: str) -> int:
    """``--first-seed``'s value: a whole number of at least 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {value}")
    return value


def _run_arm(args: argparse.Namespace, task: str, arm: str, seed: int, tmp: Path) -> dict[str, Any]:
    """One run of ``arm`` on ``task`` with ``seed``, its study in a folder under ``tmp``."""
    row = {"task": task, "arm": arm, "seed": seed, "budget": args.budget}
    runs = tmp / f"{task}-{arm}-{seed}"
    if ARMS[arm][2] is None:
        return {**row, **run_cut(task, arm, seed, args.budget, runs)}
    return {**row, **run_population(task, arm, seed, args.budget, args.interval, runs)}


def _brief(row: dict[str, Any]) -> str:
    return (
        f"  {row['task']} {row['arm']} seed {row['seed']}: best {row['best']:.4f}, "
        f"{row['epochs']} epochs, {row['wall_seconds']:.0f} s"
    )


def arm_table(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per task and arm: mean best with its 95% interval over seeds, wall time, epochs."""
    out = []
    for task in dict.fromkeys(r["task"] for r in rows):
        for arm in _arms(rows):
            mine = [r for r in rows if r["task"] == task and r["arm"] == arm]
            if not mine:
                continue
            best = bootstrap_interval([r["best"] for r in mine])
            entry = {
                "task": task,
                "arm": arm,
                "seeds": len(mine),
                "best": best.to_dict(),
                "wall_seconds": _mean(r["wall_seconds"] for r in mine),
                "epochs": _mean(r["epochs"] for r in mine),
            }
            if "checkpoint_share" in mine[0]:
                entry["checkpoint_share"] = _mean(r["checkpoint_share"] for r in mine)
                for key in ("checkpoint_share", "restore_share", "restore_share_each"):
                    shares = [r[key] for r in mine if key in r]
                    entry[f"{key}_median"] = _median(shares) if shares else math.nan
                    entry[f"{key}_max"] = max(shares, default=math.nan)
                    entry[f"{key}_over_target"] = sum(x > CHECKPOINT_TARGET for x in shares)
                entry["restore_share"] = entry["restore_share_median"]
            out.append(entry)
    return out


def differences(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per task, the paired differences of :data:`PAIRS` (and of other arms minus pbt-8)."""
    extra = [(a, "pbt-8") for a in _arms(rows) if a not in ARMS]
    out = []
    for task in dict.fromkeys(r["task"] for r in rows):
        by = {(r["arm"], r["seed"]): r["best"] for r in rows if r["task"] == task}
        for a, b in (*PAIRS, *extra):
            seeds = sorted(s for arm, s in by if arm == a and (b, s) in by)
            if not seeds:
                continue
            va, vb = [by[(a, s)] for s in seeds], [by[(b, s)] for s in seeds]
            v = paired_verdict(va, vb, name_a=a, name_b=b)
            verdict = "one seed" if v.verdict == "one pair" else v.verdict
            out.append(
                {
                    "task": task,
                    "a": a,
                    "b": b,
                    **v.interval.to_dict(),
                    "p_value": v.p_value,
                    "verdict": verdict,
                }
            )
    return out


def print_tables(arms: list[dict[str, Any]], diffs: list[dict[str, Any]]) -> None:
    """The two tables: the arms, then the paired differences."""
    print(
        f"\n{'task':<11} {'arm':<11} n  {'best mean [95% CI]':<26} {'wall s':>7} {'epochs':>7}",
        end="",
    )
    print("   ckpt/train  restore/member")
    for e in arms:
        b = e["best"]
        ckpt = ""
        if "checkpoint_share" in e:
            ckpt = f"   {100 * e['checkpoint_share']:>9.1f}%  {100 * e['restore_share']:>13.1f}%"
            if "restore_share_each_median" in e:
                ckpt += f"  {_shares(e, 'checkpoint_share')}  {_shares(e, 'restore_share_each')}"
        interval = f"{b['mean']:.4f} [{b['low']:.4f}, {b['high']:.4f}]"
        print(
            f"{e['task']:<11} {e['arm']:<11} {e['seeds']:<2} {interval:<26} "
            f"{e['wall_seconds']:>7.1f} {e['epochs']:>7.0f}{ckpt}"
        )
    print(f"\n{'task':<11} {'difference':<24} n  {'mean [95% CI]':<30} {'p':>6}  verdict")
    for d in diffs:
        text = f"{d['mean']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}]"
        p = "n/a" if math.isnan(d["p_value"]) else f"{d['p_value']:.3f}"
        name = f"{d['a']} - {d['b']}"
        print(f"{d['task']:<11} {name:<24} {d['n']:<2} {text:<30} {p:>6}  {d['verdict']}")


def _shares(entry: dict[str, Any], key: str) -> str:
    """Median and largest share over the runs, and how many runs exceed the target."""
    return (
        f"{100 * entry[key + '_median']:.1f}% (max {100 * entry[key + '_max']:.1f}%, "
        f"{entry[key + '_over_target']}/{entry['seeds']} > {100 * CHECKPOINT_TARGET:.0f}%)"
    )


def _arms(rows: list[dict[str, Any]]) -> list[str]:
    seen = list(dict.fromkeys(r["arm"] for r in rows))
    return [a for a in ARMS if a in seen] + [a for a in seen if a not in ARMS]


def _mean(values: Any) -> float:
    xs = [float(v) for v in values]
    return sum(xs) / len(xs) if xs else math.nan


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    return (xs[(len(xs) - 1) // 2] + xs[len(xs) // 2]) / 2 if xs else math.nan


def read_rows(paths: list[Path]) -> list[dict[str, Any]]:
    """The rows of saved result files; a later file's row of the same task, arm and seed wins."""
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for path in paths:
        for row in json.loads(path.read_text())["rows"]:
            merged[(row["task"], row["arm"], row["seed"])] = row
    return list(merged.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument(
        "--first-seed", type=_non_negative, default=0, help="seeds run from this one on (0)"
    )
    parser.add_argument("--budget", type=int, default=20, help="epochs per member or trial")
    parser.add_argument("--interval", type=int, help="epochs per segment (default: the tuner's)")
    parser.add_argument(
        "--arms",
        default=",".join(a for a in ARMS if a not in DEV_ARMS),
        help="comma-separated, of " + str(list(ARMS)),
    )
    parser.add_argument(
        "--tasks", default=",".join(TASKS), help="comma-separated (default: %(default)s)"
    )
    parser.add_argument("--quick", action="store_true", help="one seed, budget 4, no result file")
    parser.add_argument("--cache", type=Path, default=PARTIAL, help="finished runs (jsonl)")
    parser.add_argument("--from", dest="sources", type=Path, nargs="+", help="summarize these")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    args.arms, args.tasks = args.arms.split(","), args.tasks.split(",")
    for name in set(args.tasks) & set(DEV_TASKS):
        if name not in REGISTERED_TASKS:
            REGISTERED_TASKS.register(
                name, DEV_TASKS[name], "development task of benchmarks/pbt.py"
            )
    unknown = [a for a in args.arms if a not in ARMS]
    if unknown:
        parser.error(f"unknown arms {unknown}; known: {list(ARMS)}")
    if args.quick:
        args.seeds, args.budget = 1, 4
        args.cache = Path(tempfile.mkdtemp()) / "quick.jsonl"
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    # TPE's first studies are shorter than its start-up design; the loop asks for more trials.
    warnings.filterwarnings("ignore", category=hyperlab.StartupOnlyWarning)
    rows = read_rows(args.sources) if args.sources else run_all(args)
    arms, diffs = arm_table(rows), differences(rows)
    print_tables(arms, diffs)
    if not args.quick and not args.sources:
        settings = {
            "seeds": args.seeds,
            "first_seed": args.first_seed,
            "budget": args.budget,
            "interval": args.interval,
            "epochs": POPULATION * args.budget,
            "arms": args.arms,
            "tasks": args.tasks,
        }
        summary = {"arms": arms, "differences": diffs}
        result = {"question": __doc__.split("\n\n")[1], "settings": settings}
        print(f"wrote {write_result(args.out, {**result, 'summary': summary, 'rows': rows})}")


if __name__ == "__main__":
    main()
