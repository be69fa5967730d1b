"""The yardstick: seconds per suggestion of every classic tuner on a filled study.

Claim (foundation issue): the classic tuners' per-suggestion cost at 100, 500 and 1000
completed trials on ``hartmann6``, measured the same way as the neural tuners
(``benchmarks/overhead_neural.py``), so their overhead has something to be compared with.

Method: see ``benchmarks/_overhead.py`` — the study is filled with the same random trials for
every tuner, then the next ``--k`` suggestions are timed (median shown; the first one, which
may build a model from scratch, apart). Each cell runs in a child process capped at ``--cap``
seconds; a cell over the cap is shown as "skipped (>Ns)" and the tuner's larger cells are not
tried. One thread (torch and BLAS as the machine gives them).

Usage:
    .venv/bin/python benchmarks/overhead_classic.py [--quick] [--k 5] [--cap 120]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from _overhead import measure

HERE = Path(__file__).parent
OUT = HERE / "results" / "overhead_classic.json"
TUNERS = ["random", "grid", "qmc", "ga", "tpe", "cmaes", "gp"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="sizes 100, 200; k=2; cap 30 s")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 500, 1000])
    parser.add_argument("--k", type=int, default=5, help="timed suggestions per cell")
    parser.add_argument("--cap", type=float, default=120.0, help="seconds per cell")
    parser.add_argument("--task", default="hartmann6")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.k, args.cap = [100, 200], 2, 30.0
    settings = {"task": args.task, "sizes": args.sizes, "k": args.k, "cap_s": args.cap}
    print(f"settings: {settings}")
    start = time.time()
    results = measure(list(TUNERS), args.task, args.sizes, args.k, args.cap)
    print()
    header = "tuner     " + "".join(f"{'n=' + str(n):>22s}" for n in args.sizes)
    print("median seconds per suggestion (first suggestion in brackets)")
    print(header)
    for name in TUNERS:
        cells = "".join(f"{_fmt(results[name][str(n)], args.cap):>22s}" for n in args.sizes)
        print(f"{name:10s}{cells}")
    print(f"\ntotal {time.time() - start:.0f} s")
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(
        json.dumps(
            {"settings": settings, "machine": platform.platform(), "results": results}, indent=2
        )
    )
    print(f"wrote {OUT}")


def _fmt(row: dict, cap: float) -> str:
    if row.get("skipped"):
        return f"skipped (>{cap:.0f}s)"
    return f"{row['median_s']:.4f} ({row['first_s']:.3f})"


if __name__ == "__main__":
    main()
