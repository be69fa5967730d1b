"""Do hyperlab's self-tuning optimizers reach the bar of the learning-rate-free optimizers?

Claim (issue 22, target): on every problem, hyperlab's best self-tuning optimizer (Adam-HD,
Adam-HD-target, SGD-HD, SGD under 1 or 3 Adam hyperoptimizers), started from the worst of its starting rates,
ends within 2% of the final validation loss of the best learning-rate-free optimizer
(D-Adapt Adam, Prodigy, DoG, Schedule-Free AdamW, each at its package's defaults).

Method: five problems (digits, breast-cancer and wine with an MLP 2×64, a small CNN on the
8×8 digits images, diabetes regression with the same MLP; 70/30 split, batch 32, a few hundred
steps each), ``--seeds`` seeds of the weights and the batch order; every method on every problem
and seed; seed-mean final validation loss (cross-entropy, or MSE on the standardized target).
Starting rates: the Adam-HDs 1e-4, 1e-3, 1e-2; the SGD-based ones 1e-4 ... 1e-1. Cost per step:
median of interleaved timings, relative to plain Adam or SGD (the base of each method).
Definitions: :mod:`hyperlab.experiments.lr_free_bar`.

Needs the optional packages: ``pip install 'hyperlab[lrfree]'``.

Usage:
    .venv/bin/python benchmarks/lr_free.py [--quick] [--seeds 5] [--first-seed 0]
        [--problems digits-mlp ...] [--out benchmarks/results/lr_free.json]
    .venv/bin/python benchmarks/lr_free.py --problems iris-mlp moons-mlp blobs-mlp \
        friedman-mlp --seeds 3 --first-seed 100 --out /tmp/lr_free_devproblems.json
    .venv/bin/python benchmarks/lr_free.py --from benchmarks/results/lr_free.json \
        benchmarks/results/lr_free_seeds5-14.json
"""

from __future__ import annotations

import argparse
import math
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import torch

from hyperlab.errors import InputError
from hyperlab.experiments.lr_free import LR_FREE
from hyperlab.experiments.lr_free_bar import (
    TARGET,
    method_scores,
    paired_text,
    paired_to_bar,
    run_bar,
    step_costs,
    summarize_bar,
    verdicts,
)
from hyperlab.experiments.problems import DEV_PROBLEMS, PROBLEMS
from hyperlab.lab.provenance import write_result

OUT = Path(__file__).parent / "results" / "lr_free.json"


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "default"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.{digits}f}" if math.isfinite(value) else "div"
    return str(value)


def _print(rows: list[dict[str, Any]], judged: list[dict[str, Any]], seeds: int) -> None:
    print(f"\nfinal validation loss, mean over {seeds} seeds (worst start: self-tuning only)")
    head = f"{'problem':18s}{'method':21s}{'@best':>9s}{'worst lr0':>10s}{'@worst':>9s}"
    print(head + f"{'± se':>8s}{'/bar':>9s}{'cost':>6s}")
    for r in rows:
        print(
            f"{r['problem']:18s}{r['method']:21s}{_fmt(r['val loss @best']):>9s}"
            f"{_fmt(r['worst start']) if r['family'] == 'self-tuning' else '':>10s}"
            f"{_fmt(r['val loss @worst']):>9s}{_fmt(r['se @worst']):>8s}"
            f"{_fmt(r['worst / best LR-free'], 3):>9s}{_fmt(r['cost per step'], 2):>6s}"
        )
    print(f"\ntarget: best self-tuning from its worst start <= {TARGET} × best LR-free")
    for v in judged:
        print(
            f"{v['problem']:18s} bar {v['best LR-free']} {v['its val loss']:.4f}; "
            f"{v['best self-tuning (worst start)']} {v['its val loss @worst']:.4f}; "
            f"ratio {v['ratio']:.3f} -> {'MET' if v['met'] else 'MISSED'}"
        )
    met = sum(v["met"] for v in judged)
    print(f"met on {met} of {len(judged)} problems (best self-tuning optimizer per problem)")
    for method, problems in method_scores(rows).items():
        print(f"  {method} alone: within {TARGET} on {len(problems)} ({', '.join(problems)})")


def _print_paired(records: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    """Per problem, the verdict's two methods paired by seed (ours from its worst start minus
    the bar): interval, Wilcoxon p, and the seeds where ours is lower."""
    print("\npaired by seed, best self-tuning (worst start) minus the bar")
    for row in paired_to_bar(records, rows):
        print(f"{row['problem']:18s} {paired_text(row)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 problems, 1 seed, 2 epochs")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0, help="development seeds: 100")
    parser.add_argument(
        "--problems",
        nargs="+",
        default=list(PROBLEMS),
        choices=PROBLEMS + DEV_PROBLEMS,
        help="development problems: " + " ".join(DEV_PROBLEMS),
    )
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument(
        "--from",
        dest="sources",
        nargs="+",
        type=Path,
        help="summarize the runs of these result files together (e.g. two blocks of seeds); "
        "the cost column is the first file's",
    )
    args = parser.parse_args()
    if args.sources:
        _summarize_files(args.sources)
        return
    torch.set_num_threads(1)
    problems, epochs = args.problems, None
    if args.quick:
        problems, epochs, args.seeds = ["digits-mlp", "diabetes-mlp"], 2, 1
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    start = time.perf_counter()
    try:
        records = run_bar(problems, seeds, epochs=epochs, quick=args.quick, progress=print)
    except InputError as exc:  # a missing optional package: its name and the install command
        raise SystemExit(f"error: {exc}") from None
    costs = step_costs(problems, steps=20 if args.quick else 50, repeats=2 if args.quick else 5)
    rows = summarize_bar(records, costs)
    judged = verdicts(rows)
    _print(rows, judged, len(seeds))
    payload = {
        "settings": {**vars(args), "problems": problems, "seed_list": seeds, "target": TARGET},
        "packages": {s.package: version(s.package) for s in LR_FREE.values()},
        "verdicts": judged,
        "per_method": method_scores(rows),
        "rows": rows,
        "ms_per_step": costs,
        "records": records,
        "seconds": time.perf_counter() - start,
    }
    print(f"wrote {write_result(args.out, payload)} in {payload['seconds']:.0f} s")


def _summarize_files(paths: list[Path]) -> None:
    """Print the tables of the records of several result files (no duplicate runs allowed)."""
    import json

    records: list[dict[str, Any]] = []
    costs = None
    for path in paths:
        data = json.loads(path.read_text())
        records += data["records"]
        costs = costs or data.get("ms_per_step")
    keys = [(r["problem"], r["method"], r["lr0"], r["seed"]) for r in records]
    if len(set(keys)) != len(keys):
        raise SystemExit("error: the files hold the same run twice (overlapping seeds)")
    rows = summarize_bar(records, costs)
    seeds = sorted({r["seed"] for r in records})
    print(f"{len(records)} runs from {len(paths)} files; seeds {seeds}")
    _print(rows, verdicts(rows), len(seeds))
    _print_paired(records, rows)


if __name__ == "__main__":
    main()
