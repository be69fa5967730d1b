"""Seconds per suggestion of the neural tuners against tpe and gp, up to 2000 trials.

Claim (issue 4): ``neural`` needs <= 0.1 s median per suggestion at 1000 completed trials on
``hartmann6`` and grows at most linearly in the number of trials; ``tpe`` and ``gp`` are
measured in the same run (``gp`` only where a cell finishes within the cap).

Method: see ``benchmarks/_overhead.py``. For the neural tuners three numbers per cell:
the median of the next ``--k`` suggestions (the network is kept and only the Bayesian last
layer / output layers are refit: the common case), the suggestion that retrains the network
(warm-started; it happens once every ``refit_growth * n`` = 10% of n suggestions), and the
amortized mean ``median + (retrain - median) / (0.1 n)``. The first suggestion (a network
trained from scratch on all n trials) is reported apart: in a real run the network grows
with the study and is never trained from scratch on a large study.

Usage:
    .venv/bin/python benchmarks/overhead_neural.py [--quick] [--k 10] [--cap 150]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from _overhead import measure

HERE = Path(__file__).parent
OUT = HERE / "results" / "overhead_neural.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="sizes 100, 300; k=3")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 500, 1000, 2000])
    parser.add_argument("--tuners", nargs="+", default=["neural", "neural-ensemble", "tpe", "gp"])
    parser.add_argument("--k", type=int, default=10, help="timed suggestions per cell")
    parser.add_argument("--cap", type=float, default=150.0, help="seconds per cell")
    parser.add_argument("--task", default="hartmann6")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.k, args.cap = [100, 300], 3, 60.0
    settings = {"task": args.task, "sizes": args.sizes, "k": args.k, "cap_s": args.cap}
    print(f"settings: {settings}")
    start = time.time()
    results = measure(args.tuners, args.task, args.sizes, args.k, args.cap)
    print("\nseconds per suggestion: median / amortized incl. retraining [first, from scratch]")
    print("tuner           " + "".join(f"{'n=' + str(n):>28s}" for n in args.sizes))
    for name in args.tuners:
        cells = "".join(f"{_fmt(results[name][str(n)], args.cap):>28s}" for n in args.sizes)
        print(f"{name:16s}{cells}")
    verdict = _verdict(results.get("neural", {}), args.sizes)
    print(verdict)
    print(f"total {time.time() - start:.0f} s")
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "settings": settings,
                "machine": platform.platform(),
                "results": results,
                "verdict": verdict,
            },
            indent=2,
        )
    )
    print(f"wrote {OUT}")


def _fmt(row: dict, cap: float) -> str:
    if row.get("skipped"):
        return f"skipped (>{cap:.0f}s)"
    amort = row.get("amortized_s", row["mean_s"])
    return f"{row['median_s']:.3f} / {amort:.3f} [{row['first_s']:.2f}]"


def _verdict(rows: dict[str, dict], sizes: list[int]) -> str:
    ok = {n: r for n, r in rows.items() if not r.get("skipped")}
    lines = []
    if "1000" in ok:
        med = ok["1000"]["median_s"]
        lines.append(
            f"target median <= 0.1 s at 1000 trials: {'HIT' if med <= 0.1 else 'MISSED'} "
            f"({med:.3f} s; amortized {ok['1000'].get('amortized_s', float('nan')):.3f} s)"
        )
    ns = sorted(int(n) for n in ok)
    if len(ns) >= 2:
        lo, hi = ns[0], ns[-1]
        growth = ok[str(hi)]["median_s"] / ok[str(lo)]["median_s"]
        linear = hi / lo
        lines.append(
            f"growth of the median {lo}->{hi} trials: x{growth:.2f} (linear would be x{linear:.0f}): "
            f"{'at most linear' if growth <= linear else 'FASTER than linear'}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
