"""What does a suggestion cost, per tuner, on a study of 100 to 2000 trials?

Every tuner on the same filled study (``hartmann6``; the same random trials for every tuner), as
:func:`hyperlab.lab.overhead.suggestion_cost` measures it: the first suggestion apart (a model
built from scratch; in a real run the model grows with the study), then ``n // 10 + 1`` more
(at least 10), so that the ``neural`` tuners' mean includes one retraining of their network
(every 10% of growth) and is their amortized cost. A cell stops timing after ``--cap`` seconds;
a tuner whose median suggestion took over a tenth of that is not tried on larger studies. One
thread.

Claim (issue 4): ``neural`` needs <= 0.1 s median per suggestion at 1000 trials and grows at
most linearly with the trials. Claims and commands: ``benchmarks/README.md``; history:
``docs/decisions/neural-tuner-overhead.md``.

Usage:
    .venv/bin/python benchmarks/overhead.py [--quick] [--tuners ...] [--sizes 100 500 1000 2000]
        [--cap 60] [--task hartmann6]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import optuna
import torch

from hyperlab.lab.overhead import suggestion_cost
from hyperlab.lab.provenance import write_result

OUT = Path(__file__).parent / "results" / "overhead.json"
TUNERS = ["random", "grid", "qmc", "ga", "tpe", "cmaes", "gp", "neural", "neural-ensemble"]


def measure(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """``{tuner: {str(size): cost row, or {"skipped": reason}}}``."""
    results: dict[str, dict[str, Any]] = {}
    for tuner in args.tuners:
        results[tuner], over = {}, False
        for n in args.sizes:
            if over:
                results[tuner][str(n)] = {"skipped": "over a tenth of the cap on a smaller study"}
                continue
            start = time.perf_counter()
            cost = suggestion_cost(
                tuner, args.task, n, suggestions=max(10, n // 10 + 1), max_seconds=args.cap
            )
            row = cost.as_dict()
            row["cell_s"] = time.perf_counter() - start
            over = row["median_s"] > args.cap / 10  # fewer than 10 would fit in the cap
            results[tuner][str(n)] = row
            print(
                f"  {tuner:16s} n={n:5d} median {row['median_s']:.4f} s, mean {row['mean_s']:.4f}"
                f" s over {len(cost.times_s)}, first {cost.first_s:.3f} s",
                flush=True,
            )
    return results


def _cell(row: dict[str, Any]) -> str:
    if "skipped" in row:
        return "skipped"
    return f"{row['median_s']:.3f} / {row['mean_s']:.3f} [{row['first_s']:.2f}]"


def verdict(rows: dict[str, dict[str, Any]]) -> list[str]:
    """The claim of issue 4 on the ``neural`` rows."""
    ok = {int(n): r for n, r in rows.items() if "skipped" not in r}
    lines = []
    if 1000 in ok:
        med = ok[1000]["median_s"]
        lines.append(
            f"neural median <= 0.1 s at 1000 trials: {'HIT' if med <= 0.1 else 'MISSED'} "
            f"({med:.3f} s; mean with retraining {ok[1000]['mean_s']:.3f} s)"
        )
    if len(ok) >= 2:
        lo, hi = min(ok), max(ok)
        growth = ok[hi]["median_s"] / ok[lo]["median_s"]
        word = "at most linear" if growth <= hi / lo else "FASTER than linear"
        lines.append(
            f"neural median {lo} -> {hi} trials: x{growth:.2f} (linear: x{hi / lo:.0f}): {word}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="sizes 100 and 200, cap 20 s")
    parser.add_argument("--tuners", nargs="+", default=TUNERS)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 500, 1000, 2000])
    parser.add_argument("--cap", type=float, default=60.0, help="seconds of timing per cell")
    parser.add_argument("--task", default="hartmann6")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.cap = [100, 200], 20.0
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    start = time.time()
    results = measure(args)
    print("\nseconds per suggestion: median / mean over the timed ones [first, from scratch]")
    print(f"{'tuner':16s}" + "".join(f"{'n=' + str(n):>26s}" for n in args.sizes))
    for tuner, rows in results.items():
        print(f"{tuner:16s}" + "".join(f"{_cell(rows[str(n)]):>26s}" for n in args.sizes))
    lines = verdict(results.get("neural", {}))
    print("\n".join(lines))
    payload = {"settings": vars(args), "results": results, "verdict": lines}
    print(f"wrote {write_result(args.out, payload)} ({time.time() - start:.0f} s)")


if __name__ == "__main__":
    main()
