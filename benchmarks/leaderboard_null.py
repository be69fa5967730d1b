"""How often does the leaderboard call a tuner better or worse when all are equal?

The plan and the rule: ``docs/decisions/leaderboard-verdicts.md``. A page is ``T`` tuners on
``P`` problems with ``S`` seeds; on each (problem, seed) every tuner's value is an independent
standard normal draw (tuners of equal quality), ranked among the ``T`` (1 = best) as the
leaderboard ranks. Four tuners are the peers; the fixed reference is one named tuner that is
not a peer. Every tuner is tested against the reference by the leaderboard's own code
(:func:`hyperlab.lab.leaderboard_rows.rank_tests`, and
:func:`hyperlab.lab.leaderboard_rows.holm_tests` for the page's correction). Candidates:

- ``0 today``: the best-ranked peer as reference, each test at 0.05;
- ``a fixed``: the fixed reference, each test at 0.05;
- ``b holm``: the best-ranked peer, Holm's correction over the page's tests;
- ``c fixed+holm``: the fixed reference and Holm's correction.

Printed per candidate and shape (8 x 16 x 5 and 14 x 6 x 5, the two README boards): the share
of tests that say better or worse (and worse alone), the share of pages with a better or worse
anywhere, and the power: with one tuner (neither a peer nor the fixed reference) lowered by
``--shift`` standard deviations, the share of pages on which it is called better than the
reference, beside its true rank gap to an unshifted tuner.

Usage:
    .venv/bin/python benchmarks/leaderboard_null.py [--pages 4000] [--power-pages 1000]
        [--shift 0.5] [--seed 0] [--quick] [--out benchmarks/results/leaderboard_null.json]
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from hyperlab.lab.leaderboard_rows import CLAIMS, holm_tests, rank_tests
from hyperlab.lab.provenance import write_result

OUT = Path(__file__).parent / "results" / "leaderboard_null.json"
SHAPES = ((8, 16, 5), (14, 6, 5))
PEERS = 4
CANDIDATES = ("0 today", "a fixed", "b holm", "c fixed+holm")
FIXED = "t04"  # the fixed reference: not a peer (the peers are t00..t03)
SHIFTED = "t05"  # the tuner lowered in the power runs

Ranks = dict[tuple[int, int], dict[str, float]]


def names(t: int) -> list[str]:
    return [f"t{i:02d}" for i in range(t)]


def page_ranks(rng: np.random.Generator, shape: tuple[int, int, int], shift: float) -> Ranks:
    """One page's ranks: ``(problem, seed) -> {tuner: rank}``; :data:`SHIFTED`'s values
    lowered by ``shift``."""
    t, p, s = shape
    tuners = names(t)
    values = rng.normal(size=(p * s, t))
    values[:, tuners.index(SHIFTED)] -= shift
    order = np.argsort(np.argsort(values, axis=1), axis=1) + 1
    return {
        (i // s, i % s): {name: float(order[i, j]) for j, name in enumerate(tuners)}
        for i in range(p * s)
    }


def best_peer(ranks: Ranks, tuners: list[str]) -> str:
    """The best-ranked peer, as the leaderboard picked it: lowest mean rank, then name."""
    peers = tuners[:PEERS]
    means = {t: float(np.mean([r[t] for r in ranks.values()])) for t in peers}
    return min(peers, key=lambda t: (means[t], t))


def page_tests(ranks: Ranks, tuners: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Each candidate's tests of one page."""
    by_best = rank_tests(ranks, tuners, best_peer(ranks, tuners))
    by_fixed = rank_tests(ranks, tuners, FIXED)
    return {
        "0 today": by_best,
        "a fixed": by_fixed,
        "b holm": holm_tests(by_best),
        "c fixed+holm": holm_tests(by_fixed),
    }


def null_shape(rng: np.random.Generator, shape: tuple[int, int, int], pages: int) -> dict:
    """Per candidate: shares of tests with a claim, with a worse, and of pages with a claim."""
    counts = {c: [0, 0, 0] for c in CANDIDATES}
    tests = 0
    tuners = names(shape[0])
    for _ in range(pages):
        made = page_tests(page_ranks(rng, shape, 0.0), tuners)
        tests += len(made["0 today"])
        for c, rows in made.items():
            said = [r["verdict"] for r in rows]
            counts[c][0] += sum(v in CLAIMS for v in said)
            counts[c][1] += said.count("worse")
            counts[c][2] += any(v in CLAIMS for v in said)
    return {
        c: {"test": n[0] / tests, "test_worse": n[1] / tests, "page": n[2] / pages}
        for c, n in counts.items()
    }


def power_shape(
    rng: np.random.Generator, shape: tuple[int, int, int], pages: int, shift: float
) -> dict:
    """Per candidate: the share of pages calling :data:`SHIFTED` better than the reference;
    and its true rank gap to the unshifted :data:`FIXED` (mean over the pages)."""
    hits = dict.fromkeys(CANDIDATES, 0)
    gaps = []
    tuners = names(shape[0])
    for _ in range(pages):
        ranks = page_ranks(rng, shape, shift)
        gaps.append(np.mean([r[FIXED] - r[SHIFTED] for r in ranks.values()]))
        for c, rows in page_tests(ranks, tuners).items():
            row = next(r for r in rows if r["tuner"] == SHIFTED)
            hits[c] += row["verdict"] == "better"
    return {"rank_gap": float(np.mean(gaps)), **{c: n / pages for c, n in hits.items()}}


def run(pages: int, power_pages: int, shift: float, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {"pages": pages, "power_pages": power_pages, "shift": shift}
    out["seed"], out["shapes"] = seed, {}
    for shape in SHAPES:
        key = "x".join(map(str, shape))
        out["shapes"][key] = {
            "null": null_shape(rng, shape, pages),
            "power": power_shape(rng, shape, power_pages, shift),
        }
    return out


def _pct(x: float) -> str:
    return f"{100 * x:5.1f}"


def _wilson(x: float, n: int) -> str:
    """The 95% Wilson interval of a share ``x`` of ``n``, in percent."""
    z = 1.96
    mid = (x + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(x * (1 - x) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return f"[{100 * (mid - half):.1f}, {100 * (mid + half):.1f}]"


def report(res: dict[str, Any]) -> None:
    print(
        f"Null pages (tuners of equal quality): {res['pages']} pages a shape, seed {res['seed']}; "
        f"power: one tuner lowered by {res['shift']} SD, {res['power_pages']} pages"
    )
    for key, cell in res["shapes"].items():
        t, p, s = key.split("x")
        gap = cell["power"]["rank_gap"]
        print(f"\n{t} tuners x {p} problems x {s} seeds ({int(t) - 1} tests a page)")
        print(
            f"{'candidate':14}{'% tests claim':>14}{'% tests worse':>14}"
            f"{'% pages claim [95%]':>24}{f'power (gap {gap:.2f})':>20}"
        )
        for c in CANDIDATES:
            n = cell["null"][c]
            page = f"{_pct(n['page'])} {_wilson(n['page'], res['pages'])}"
            print(
                f"{c:14}{_pct(n['test']):>14}{_pct(n['test_worse']):>14}{page:>24}"
                f"{_pct(cell['power'][c]):>20}"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=4000, help="null pages per shape")
    ap.add_argument("--power-pages", type=int, default=1000, help="pages per shape with a shift")
    ap.add_argument("--shift", type=float, default=0.5, help="the shifted tuner's lowering, SD")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="100 and 50 pages, nothing written")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    if args.quick:
        args.pages, args.power_pages = 100, 50
    start = time.perf_counter()
    with warnings.catch_warnings():  # SciPy's notes on ties in the signed-rank test
        warnings.simplefilter("ignore", UserWarning)
        res = run(args.pages, args.power_pages, args.shift, args.seed)
    report(res)
    print(f"\n{time.perf_counter() - start:.0f} s")
    if not args.quick:
        print(f"wrote {write_result(args.out, res)}")


if __name__ == "__main__":
    main()
