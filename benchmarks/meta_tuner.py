"""Does the meta tuner beat random search, TPE and GP on problems it was not trained on?

Every tuner runs on every problem of the validation suite (``hyperlab.tasks.suites``: tables,
LCBench surrogates and synthetic families; no problem, data set or function type of it was
used to train the meta tuner or choose its defaults) with the same seeds (100, 101, ...; seeds
no development run used). The regret is the best value so far minus the problem's optimum.

Printed:
- per problem, the median regret over seeds at 15, 20 and 50 trials, and whether ``meta``'s
  is below random search's at 20 and at 50;
- the mean rank of each tuner at 20 and 50 trials (ranks among the tuners per problem and
  seed; 1 = best, ties share), and the paired difference of ``meta``'s rank and TPE's and GP's
  with its 95% bootstrap interval (negative: ``meta`` better);
- the moonshot: the trials ``meta`` needs for its median regret to reach TPE's 50-trial median
  regret, on the median problem;
- the data objection: trials each tuner needs to reach random search's 50-trial median regret.

Every finished run is appended to ``results/meta_tuner.partial.jsonl`` and skipped when the
command runs again, so a long setting can be run in pieces; a cached run made with other
options than the command gives its label now (``--options``, a default changed since, another
weights file: each run records them, ``hyperlab.lab.panel_cache``) is run again, and the
command prints how many were set aside and what differs (runs cached before that record are
reused as they are, with a notice); ``--from FILE`` rebuilds the
summary from results files (several: their runs merged) and writes nothing; ``--versus A:B``
tests the rank difference of two labels (default: ``meta`` against TPE and GP). ``--label NAME --options k=v`` adds a variant of a tuner (e.g. a
meta tuner with other weights: ``--tuners meta --label meta-small --options
weights_path=PATH``). ``--run-from-seed K`` runs only the seeds from K on (another machine
may run the others); the summary needs every seed, so a run of a seed below K that is missing
(never made, or cached with other options and set aside) stops it with the list of what is
missing and the command that makes it, rather than running seeds it was told to leave.

Usage:
    .venv/bin/python benchmarks/meta_tuner.py [--seeds 10] [--trials 50] [--jobs 2]
        [--suite validation] [--tasks ...] [--tuners random,tpe,gp,neural,meta]
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import shlex
import sys
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import rankdata

from hyperlab.lab.panel import append_run, load_runs, run_study
from hyperlab.lab.panel_cache import MADE_WITH, Fingerprint, made_with, reusable
from hyperlab.lab.provenance import write_result
from hyperlab.lab.stats import paired_verdict
from hyperlab.registry import parse_options

HERE = Path(__file__).parent
OUT = HERE / "results" / "meta_tuner.json"
PARTIAL = HERE / "results" / "meta_tuner.partial.jsonl"
TUNERS = ["random", "tpe", "gp", "neural", "meta"]
CHECKPOINTS = (15, 20, 50)
FIRST_SEED = 100

Job = tuple[str, str, dict[str, Any], str, int, int]


def run_tuner(job: Job) -> dict[str, Any]:
    """One tuner on one problem with one seed (one thread): the regret after each trial."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import optuna
    import torch

    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    label, tuner, options, task_name, seed, trials = job
    run = run_study(task_name, tuner, seed, trials, options, label)
    regret = np.array(run.pop("best")) - run.pop("optimum")
    return {**run, "regret": regret.tolist(), "seconds": run["wall_time"]}


def _from_result(paths: list[Path], trials: int) -> dict[tuple[str, str, int], dict[str, Any]]:
    """The runs results files of this script stored (a later file's run of the same task,
    tuner and seed replaces an earlier one's)."""
    runs = [r for path in paths for r in json.loads(path.read_text())["runs"]]
    return {(r["task"], r["tuner"], r["seed"]): r for r in runs if r["trials"] == trials}


def _stored_tasks(paths: list[Path]) -> list[str]:
    """The problems the results files ran, in their order (the first file's first)."""
    stored = [json.loads(path.read_text()) for path in paths]
    tasks = [t for d in stored for t in d.get("tasks") or [r["task"] for r in d["runs"]]]
    return list(dict.fromkeys(tasks))


def _cached(
    cache: Path, trials: int, tuners: dict[str, str], options: dict[str, Any]
) -> dict[tuple[str, str, int], dict[str, Any]]:
    """The runs in ``cache`` that this command may reuse: a run of one of ``tuners`` (label:
    tuner) made with other options than ``options`` and the defaults now is left out (it runs
    again); prints which were and why, and how many carry no record of what made them."""

    def expected(task: str, label: str) -> Fingerprint | None:
        return made_with(task, tuners[label], options) if label in tuners else None

    done, notes = reusable(load_runs(cache, trials), expected, cache)
    for line in notes:
        print(line, flush=True)
    return done


def _run(jobs: list[Job], n_jobs: int, done: dict, cache: Path) -> None:
    cache.parent.mkdir(exist_ok=True)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(n_jobs) as pool, cache.open("a") as log:
        for res in pool.imap_unordered(run_tuner, jobs):
            done[(res["task"], res["tuner"], res["seed"])] = res
            append_run(log, res)
            print(
                f"  {res['task']:34s} {res['tuner']:12s} seed {res['seed']:3d} "
                f"regret {res['regret'][-1]:.4g} ({res['seconds']:.1f} s)",
                flush=True,
            )


def _missing(
    done: dict, tasks: list[str], labels: list[str], seeds: list[int]
) -> dict[tuple[str, str], list[int]]:
    """The seeds of each ``(task, label)`` that the summary needs and ``done`` lacks."""
    out: dict[tuple[str, str], list[int]] = {}
    for task in tasks:
        for label in labels:
            lacking = [s for s in seeds if (task, label, s) not in done]
            if lacking:
                out[(task, label)] = lacking
    return out


def _missing_message(
    missing: dict[tuple[str, str], list[int]], run_here: list[str], argv: list[str]
) -> str:
    """Why the summary cannot be made: the runs it lacks (up to 10 lines), and how to make
    them (``run_here``: the labels this command runs; ``argv``: its command line, the script
    first)."""
    text = f"cannot summarize: no reusable run of\n{_runs_list(missing)}"
    ours = [seeds for (_, label), seeds in missing.items() if label in run_here]
    others = sorted({label for _, label in missing if label not in run_here})
    if ours:
        lowest = min(min(seeds) for seeds in ours)
        command = shlex.join([sys.executable, argv[0], *_from_seed(argv[1:], lowest)])
        text += (
            "\n(seeds below --run-from-seed are not run by this command; a cached run set aside "
            f"above counts as missing); fill them in with:\n  {command}"
        )
    if others:
        text += (
            f"\nlabels {', '.join(others)} are not run by this command (--tuners/--label): run "
            "each with its own --tuners, --label and --options, and these --trials and --seeds"
        )
    return text


def _runs_list(missing: dict[tuple[str, str], list[int]]) -> str:
    """One line per task and label with the seeds missing (at most 10, then a count)."""
    lines = [
        f"  {task} {label}: seeds {', '.join(map(str, seeds))}"
        for (task, label), seeds in missing.items()
    ]
    if len(lines) > 10:
        lines = [*lines[:10], f"  ... and {len(lines) - 10} more"]
    return "\n".join(lines)


def _from_seed(argv: list[str], seed: int) -> list[str]:
    """``argv`` with ``--run-from-seed seed`` instead of the one it gave (if any)."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--run-from-seed":
            skip = True
        elif not arg.startswith("--run-from-seed="):
            out.append(arg)
    return [*out, "--run-from-seed", str(seed)] if seed != FIRST_SEED else out


def _curves(done: dict, tasks: list[str], tuners: list[str], seeds: list[int]) -> dict:
    """``{task: {tuner: array (seeds, trials)}}`` of the runs asked for."""
    return {
        task: {u: np.array([done[(task, u, s)]["regret"] for s in seeds]) for u in tuners}
        for task in tasks
    }


def _ranks(curves: dict, tuners: list[str], at: int) -> dict[str, np.ndarray]:
    """Each tuner's rank per (problem, seed) at trial ``at``, as one flat array per tuner."""
    out: dict[str, list[float]] = {u: [] for u in tuners}
    for by_tuner in curves.values():
        table = np.stack([by_tuner[u][:, at - 1] for u in tuners])  # (tuners, seeds)
        ranks = rankdata(np.round(table, 12), axis=0)
        for i, u in enumerate(tuners):
            out[u].extend(ranks[i].tolist())
    return {u: np.array(v) for u, v in out.items()}


def _trials_to_reach(curve: np.ndarray, target: float) -> int | None:
    """First trial at which a median-regret curve is at or below ``target``."""
    hit = np.flatnonzero(curve <= target + 1e-12)
    return int(hit[0]) + 1 if hit.size else None


def _paired(a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    """``a - b`` (ranks) with its 95% bootstrap interval, the Wilcoxon signed-rank p and the
    verdict of :func:`hyperlab.lab.stats.paired_verdict`: better/worse only where the interval
    leaves out zero and p < 0.05 from at least 6 nonzero differences."""
    v = paired_verdict(a, b)
    return {**v.interval.to_dict(), "p": v.p_value, "verdict": v.verdict}


def summarize(
    curves: dict, tuners: list[str], versus: list[tuple[str, str]] | None = None
) -> dict[str, Any]:
    """Per-problem medians, mean ranks with paired intervals, moonshot and data rows.

    ``versus``: the ``(a, b)`` pairs whose rank difference is tested (default: ``meta``
    against TPE and GP where they ran)."""
    medians = {
        task: {u: np.median(c, axis=0) for u, c in by.items()} for task, by in curves.items()
    }
    out: dict[str, Any] = {"per_problem": {}, "ranks": {}, "paired": {}, "data": {}}
    for task, med in medians.items():
        out["per_problem"][task] = {
            u: {str(k): float(med[u][k - 1]) for k in CHECKPOINTS if k <= len(med[u])}
            for u in tuners
        }
    for at in (20, 50):
        if at > next(iter(next(iter(curves.values())).values())).shape[1]:
            continue
        ranks = _ranks(curves, tuners, at)
        out["ranks"][str(at)] = {u: float(r.mean()) for u, r in ranks.items()}
        pairs = versus or [("meta", rival) for rival in ("tpe", "gp")]
        for a, b in pairs:
            if a in ranks and b in ranks:
                out["paired"][f"{a}-{b}@{at}"] = _paired(ranks[a], ranks[b])
    for u in tuners:
        need = [
            _trials_to_reach(med[u], float(med["random"][-1]))
            for med in medians.values()
            if "random" in med
        ]
        out["data"][u] = [n if n is not None else math.inf for n in need]
    if "meta" in tuners and "tpe" in tuners:
        reach = [_trials_to_reach(m["meta"], float(m["tpe"][-1])) for m in medians.values()]
        out["moonshot_trials"] = [r if r is not None else math.inf for r in reach]
    return out


def _print(summary: dict[str, Any], tuners: list[str]) -> None:
    print(f"\nmedian regret at {CHECKPOINTS} trials")
    for task, by in summary["per_problem"].items():
        cells = "  ".join(f"{u} " + "/".join(f"{v:.3g}" for v in by[u].values()) for u in tuners)
        print(f"  {task:34s} {cells}")
    if "meta" in tuners and "random" in tuners:
        for at in summary["ranks"]:
            wins = sum(by["meta"][at] < by["random"][at] for by in summary["per_problem"].values())
            print(
                f"meta's median regret below random's at {at} trials: {wins}/{len(summary['per_problem'])}"
            )
    for at, ranks in summary["ranks"].items():
        print(f"mean rank at {at} trials: " + ", ".join(f"{u} {r:.2f}" for u, r in ranks.items()))
    for key, iv in summary["paired"].items():
        tail = f", Wilcoxon p {iv['p']:.2g}: {iv['verdict']}" if "p" in iv else ""
        print(
            f"rank difference {key}: {iv['mean']:+.2f} [{iv['low']:+.2f}, {iv['high']:+.2f}]{tail}"
        )
    for u, need in summary["data"].items():
        print(f"trials to reach random's 50-trial median regret, {u}: median {np.median(need):.0f}")
    if "moonshot_trials" in summary:
        print(
            f"moonshot: trials for meta to reach TPE's 50-trial median regret, median problem: {np.median(summary['moonshot_trials']):.0f}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument(
        "--run-from-seed",
        type=int,
        default=FIRST_SEED,
        help="run only seeds >= this (the summary needs the others cached)",
    )
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument(
        "--suite", help="the problems (default: validation; with --from, the files' problems)"
    )
    ap.add_argument("--tasks", nargs="*")
    ap.add_argument("--tuners", default=",".join(TUNERS))
    ap.add_argument("--label", help="name of a variant of the single tuner in --tuners")
    ap.add_argument("--options", nargs="*", default=[], help="k=v options of that tuner")
    ap.add_argument("--compare", help="comma-separated labels to summarize (default: --tuners)")
    ap.add_argument(
        "--from",
        dest="source",
        type=Path,
        nargs="+",
        help="results files to summarize (runs merged; nothing is run or written)",
    )
    ap.add_argument(
        "--versus",
        action="append",
        default=[],
        metavar="A:B",
        help="a pair of labels whose rank difference A - B is tested (repeatable; default: "
        "meta against tpe and gp)",
    )
    ap.add_argument("--cache", type=Path, default=PARTIAL, help="the runs cache (jsonl)")
    ap.add_argument(
        "--out",
        type=Path,
        help=f"the result file (default: {OUT.relative_to(HERE.parent)}, written only with the "
        "default --cache: a run from another cache names its own result file)",
    )
    args = ap.parse_args()
    from hyperlab.tasks.suites import suite

    if args.tasks or args.suite:
        tasks = args.tasks or suite(args.suite)
    else:
        tasks = _stored_tasks(args.source) if args.source else suite("validation")
    names = args.tuners.split(",")
    if args.label and len(names) != 1:
        ap.error(f"--label names a variant of one tuner; --tuners gave {len(names)}: {names}")
    seeds = list(range(FIRST_SEED, FIRST_SEED + args.seeds))
    labels = [args.label] if args.label else names
    options = parse_options(args.options)
    done = (
        _from_result(args.source, args.trials)
        if args.source
        else _cached(args.cache, args.trials, dict(zip(labels, names)), options)
    )
    jobs = [
        (label, name, options, task, seed, args.trials)
        for label, name in zip(labels, names)
        for task in tasks
        for seed in seeds
        if (task, label, seed) not in done and seed >= args.run_from_seed
    ]
    if jobs and args.source is None:
        print(f"{len(jobs)} runs to do ({len(done)} cached)")
        _run(jobs, args.jobs, done, args.cache)
    compare = args.compare.split(",") if args.compare else labels
    missing = _missing(done, tasks, compare, seeds)
    if missing:
        if args.source is not None:
            raise SystemExit(f"the files given to --from hold no run of\n{_runs_list(missing)}")
        raise SystemExit(_missing_message(missing, labels, sys.argv))
    curves = _curves(done, tasks, compare, seeds)
    versus: list[tuple[str, str]] = []
    for v in args.versus:
        a, _, b = v.partition(":")
        if a not in compare or b not in compare:
            ap.error(f"--versus takes A:B with both labels among {compare}; got {v!r}")
        versus.append((a, b))
    summary = summarize(curves, compare, versus or None)
    _print(summary, compare)
    out = args.out or (OUT if args.cache == PARTIAL else None)
    if args.source is None and out is None:
        print(f"no result file written: --cache {args.cache} names no --out")
    if args.source is None and out is not None:
        write_result(
            out,
            {
                "tasks": tasks,
                "seeds": seeds,
                "tuners": compare,
                "summary": summary,
                "runs": [
                    {k: v for k, v in done[(t, u, s)].items() if k != MADE_WITH}
                    for t in tasks
                    for u in compare
                    for s in seeds
                ],
            },
        )


if __name__ == "__main__":
    main()
