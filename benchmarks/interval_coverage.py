"""Which interval of a mean paired difference holds its nominal 95%?

Candidates, at level 0.95, on the finite differences: the percentile bootstrap (hyperlab's
interval until 2026-12-06), Student-t (mean ± t(n−1, 0.975)·SE), BCa, bootstrap-t
(studentized) and the expanded percentile (Hesterberg 2015). The bootstrap candidates read the
resamples ``hyperlab.lab.stats.bootstrap_interval`` draws (10,000, seed 0: the same indices for
every draw of ``n`` pairs), shared within a draw.

Cells (``--repeats`` draws each): coverage of zero under the null, both sides of each pair from
one of ``stats_null.py``'s distributions, at 2 to 40 pairs; coverage of a nonzero true mean
(``shift``: normal differences of mean 1; ``scale``: lognormal(0, 1) against half of an
independent one; ``skewed``: lognormal(0, 1) differences, reported only); in the shift cell the
median width and the share of intervals that leave out zero. The rule
that reads the table is in ``docs/decisions/statistics.md``.

Usage:
    .venv/bin/python benchmarks/interval_coverage.py [--repeats 1000] [--seed 0] [--quick]
        [--out benchmarks/results/interval_coverage.json] [--from RESULT]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import norm
from scipy.stats import t as student_t

from hyperlab.lab.provenance import write_result
from stats_null import DISTRIBUTIONS

OUT = Path(__file__).parent / "results" / "interval_coverage.json"
NULL_SIZES = (2, 3, 5, 6, 10, 20, 40)
EFFECT_SIZES = (6, 10, 20, 40)
POWER_SIZES = (6, 10, 20)
METHODS = ("percentile", "student-t", "bca", "bootstrap-t", "expanded")
RULED = ("null", "shift", "scale")
LEVEL, N_BOOT = 0.95, 10_000
Rng = np.random.Generator


EFFECTS: dict[str, tuple[Callable[[Rng, int], np.ndarray], float]] = {
    "shift": (lambda rng, n: rng.normal(1.0, 1.0, size=n), 1.0),
    "scale": (
        lambda rng, n: rng.lognormal(0.0, 1.0, size=n) - 0.5 * rng.lognormal(0.0, 1.0, size=n),
        0.5 * math.exp(0.5),
    ),
    "skewed": (lambda rng, n: rng.lognormal(0.0, 1.0, size=n), math.exp(0.5)),
}


def resample_counts(n: int) -> np.ndarray:
    """``(N_BOOT, n)``: how often each difference is drawn in each of the resamples that
    ``bootstrap_interval`` makes of ``n`` differences at seed 0."""
    idx = np.random.default_rng(0).integers(0, n, size=(N_BOOT, n))
    counts = np.zeros((N_BOOT, n))
    np.add.at(counts, (np.arange(N_BOOT)[:, None], idx), 1.0)
    return counts


def intervals(d: np.ndarray, counts: np.ndarray) -> dict[str, np.ndarray]:
    """Each candidate's ``(low, high)`` for each row of ``d`` (``(draws, n)``): arrays of
    shape ``(draws, 2)``."""
    n = d.shape[1]
    mean = d.mean(axis=1)
    se = d.std(axis=1, ddof=1) / math.sqrt(n)
    scale = np.maximum(np.abs(d).max(axis=1), 1e-300)
    boot = d @ counts.T / n  # (draws, N_BOOT)
    var = np.maximum((d**2) @ counts.T / n - boot**2, 0.0) * n / (n - 1)
    se_b = np.sqrt(var) / math.sqrt(n)
    alpha = (1 - LEVEL) / 2
    tq = student_t.ppf(1 - alpha, n - 1)
    out = {
        "percentile": np.quantile(boot, [alpha, 1 - alpha], axis=1).T,
        "student-t": np.stack([mean - tq * se, mean + tq * se], axis=1),
    }
    a2 = norm.cdf(-math.sqrt(n / (n - 1)) * tq)
    out["expanded"] = np.quantile(boot, [a2, 1 - a2], axis=1).T
    out["bca"] = _bca(d, mean, boot, scale, alpha)
    out["bootstrap-t"] = _boot_t(mean, se, boot, se_b, scale, alpha)
    return out


def _bca(
    d: np.ndarray, mean: np.ndarray, boot: np.ndarray, scale: np.ndarray, alpha: float
) -> np.ndarray:
    """BCa ends: z0 from the share of resampled means below the mean (ties half), the
    acceleration from the jackknife of the mean."""
    tol = 1e-12 * scale[:, None]
    below = (boot < mean[:, None] - tol).mean(axis=1)
    equal = (np.abs(boot - mean[:, None]) <= tol).mean(axis=1)
    share = np.clip(below + 0.5 * equal, 0.5 / N_BOOT, 1 - 0.5 / N_BOOT)
    z0 = norm.ppf(share)
    dev = d - mean[:, None]
    ss = (dev**2).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where(ss > 0, (dev**3).sum(axis=1) / (6 * ss**1.5), 0.0)
    ends = []
    for z in (norm.ppf(alpha), norm.ppf(1 - alpha)):
        q = norm.cdf(z0 + (z0 + z) / (1 - acc * (z0 + z)))
        ends.append(np.array([np.quantile(row, qi) for row, qi in zip(boot, q, strict=True)]))
    return np.stack(ends, axis=1)


def _boot_t(
    mean: np.ndarray,
    se: np.ndarray,
    boot: np.ndarray,
    se_b: np.ndarray,
    scale: np.ndarray,
    alpha: float,
) -> np.ndarray:
    """Bootstrap-t ends: quantiles of (mean* − mean) / SE*; a resample with SE* = 0 counts as
    ±inf by the sign of its shift (0 when none)."""
    dev = boot - mean[:, None]
    tiny = 1e-9 * scale[:, None] / math.sqrt(boot.shape[1])
    flat = se_b <= tiny
    with np.errstate(invalid="ignore", divide="ignore"):
        tstar = np.where(flat, np.sign(np.where(np.abs(dev) > tiny, dev, 0.0)) * np.inf, dev / se_b)
    tstar = np.where(np.isnan(tstar), 0.0, tstar)
    q = np.quantile(tstar, [alpha, 1 - alpha], axis=1, method="lower").T
    with np.errstate(invalid="ignore"):
        low = np.where(se > 0, mean - q[:, 1] * se, mean)
        high = np.where(se > 0, mean - q[:, 0] * se, mean)
    return np.stack([low, high], axis=1)


def cell(draws: np.ndarray, truth: float, counts: np.ndarray) -> dict[str, dict[str, float]]:
    """Per candidate: coverage of ``truth``, the share leaving out zero, the median width."""
    out = {}
    chunk = 200  # draws per matrix product
    parts = [intervals(draws[i : i + chunk], counts) for i in range(0, len(draws), chunk)]
    for m in METHODS:
        iv = np.concatenate([p[m] for p in parts])
        low, high = iv[:, 0], iv[:, 1]
        out[m] = {
            "coverage": float(np.mean((low <= truth) & (truth <= high))),
            "excludes_zero": float(np.mean((low > 0) | (high < 0))),
            "median_width": float(np.median(high - low)),
        }
    return out


def run(repeats: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    counts = {n: resample_counts(n) for n in NULL_SIZES}
    null = {}
    for name, draw in DISTRIBUTIONS.items():
        null[name] = {}
        for n in NULL_SIZES:
            d = np.array([np.subtract(*draw(rng, n)) for _ in range(repeats)])
            null[name][n] = cell(d, 0.0, counts[n])
    effects = {}
    for name, (draw, truth) in EFFECTS.items():
        effects[name] = {
            n: cell(np.array([draw(rng, n) for _ in range(repeats)]), truth, counts[n])
            for n in EFFECT_SIZES
        }
    res = {"repeats": repeats, "seed": seed, "level": LEVEL, "n_boot": N_BOOT, "null": null}
    res.update(effects=effects, choice=choose(null, effects))
    return res


def choose(null: dict[str, Any], effects: dict[str, Any]) -> dict[str, Any]:
    """The rule of ``docs/decisions/statistics.md``: highest worst coverage over the ruled
    cells with n >= 6, at least 0.93; within 0.01 of it, the narrowest in the shift cell."""
    cells = [c for cs in null.values() for n, c in cs.items() if int(n) >= 6]
    cells += [c for k in RULED[1:] for n, c in effects[k].items() if int(n) >= 6]
    worst = {m: min(c[m]["coverage"] for c in cells) for m in METHODS}
    width = {
        m: float(np.mean([effects["shift"][n][m]["median_width"] for n in POWER_SIZES]))
        for m in METHODS
    }
    best = max(worst.values())
    tied = [m for m in METHODS if worst[m] >= best - 0.01 and worst[m] >= 0.93]
    winner = min(tied, key=lambda m: width[m]) if tied else "percentile (none passed)"
    return {"worst_coverage": worst, "shift_width": width, "tied": tied, "winner": winner}


def _pct(x: float) -> str:
    return f"{100 * x:5.1f}"


def report(res: dict[str, Any]) -> None:
    print(
        f"Coverage (%) of 95% intervals of a mean paired difference ({res['repeats']} draws a "
        f"cell, seed {res['seed']}, {res['n_boot']} resamples)"
    )
    head = f"{'cell':22}{'n':>4}" + "".join(f"{m:>13}" for m in METHODS)
    for title, block in (("null", res["null"]), ("nonzero mean", res["effects"])):
        print(f"\n{title}\n{head}")
        for name, cells in block.items():
            for n, c in cells.items():
                row = "".join(f"{_pct(c[m]['coverage']):>13}" for m in METHODS)
                print(f"{name:22}{n:>4}{row}")
    print("\nshift cell (normal, true mean 1 SD): median width / % leaving out zero")
    for n in POWER_SIZES:
        c = res["effects"]["shift"][n]
        row = "".join(
            f"{c[m]['median_width']:6.2f}/{_pct(c[m]['excludes_zero'])}".rjust(13) for m in METHODS
        )
        print(f"{'shift':22}{n:>4}{row}")
    ch = res["choice"]
    print("\nworst coverage over null, shift and scale cells with n >= 6:")
    print("  " + ", ".join(f"{m} {_pct(w)}" for m, w in ch["worst_coverage"].items()))
    print(f"tied (within 1 point of the best, >= 93%): {', '.join(ch['tied']) or 'none'}")
    print(f"winner (narrowest of the tied in the shift cell): {ch['winner']}")


def _keys_to_int(res: dict[str, Any]) -> dict[str, Any]:
    """Result read back from JSON: the cells' sizes as integers again."""
    for block in (res["null"], res["effects"]):
        for name in block:
            block[name] = {int(n): c for n, c in block[name].items()}
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=1000, help="draws per cell")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="50 draws a cell, nothing written")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--from", dest="source", type=Path, help="reprint a stored result")
    args = ap.parse_args()
    if args.source:
        report(_keys_to_int(json.loads(args.source.read_text())))
        return
    start = time.perf_counter()
    res = run(50 if args.quick else args.repeats, args.seed)
    report(res)
    print(f"\n{time.perf_counter() - start:.0f} s")
    if not args.quick:
        print(f"wrote {write_result(args.out, res)}")


if __name__ == "__main__":
    main()
