"""How often does hyperlab call a difference when there is none?

Both sides of every pair are drawn from one distribution (no real difference), ``--repeats``
times per cell, and read as hyperlab reads paired results:

- ``compare``: :func:`hyperlab.lab.stats.paired_comparison`, the words of the compare report,
  ``hyperlab compare``'s summary, the leaderboard's tests and the experiments' pages (better
  or worse only beyond twice the standard error, with Wilcoxon p < 0.05 and 6 or more nonzero
  differences);
- ``demo``: the demo's verdict (:func:`hyperlab.report.demo_runs.pair`), which also needs the
  paired bootstrap interval to leave out zero. It can only claim where ``compare`` claims
  (:func:`hyperlab.report.demo_runs.verdict`), so it is run on those draws alone;
- ``paired_verdict``: :func:`hyperlab.lab.stats.paired_verdict`, the rule of the benchmark
  scripts' claims (the bootstrap interval leaves out zero, Wilcoxon p < 0.05 and 6 or more
  nonzero differences; no rule of twice the standard error), at its defaults (10,000
  resamples, seed 0). It can only claim where the test does, so it is run only on the draws
  with 6 or more nonzero differences and p < 0.05 (exact: the same figure as running it on
  every draw).

For ``compare``, a draw whose mean difference is within twice its standard error
(:func:`hyperlab.lab.stats.mean_se`) is never called (the documented rule), so its test is
run only on the others and on those ``paired_verdict`` needs: SciPy's exact signed-rank test
with ties takes 0.1 to 0.7 s at 10 to 13 pairs. ``--every`` runs it on every draw (the same
table, slower).

Distributions: normal; Student's t with 2 degrees of freedom (heavy tails); lognormal with
sigma 1.5 (skewed); accuracy on 50 examples (binomial / 50: many ties); half the pairs equal
(exact zero differences), the other half normal.

Then: how often a real shift of one standard deviation is called (normal); the family-wise
rate of a page under the null, as the share of pages that say better or worse anywhere: a
compare report read for one tuner against 3 others at 3 checkpoints of the same runs (the best
of the first 20, 50 and 100 normal draws, 10 seeds), the same comparisons by
``paired_verdict``, and the demo's first screen (one tuner
against 3 others on 4 problems of 6 seeds, and by mean rank over all of them); and the words
for the edge cases (no difference at all, one seed, a diverged run, fewer than 6 pairs).

Usage:
    .venv/bin/python benchmarks/stats_null.py [--repeats 400] [--seed 0] [--every] [--quick]
        [--out benchmarks/results/stats_null.json]
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from hyperlab.lab.provenance import write_result
from hyperlab.lab.stats import (
    MIN_TESTABLE_PAIRS,
    PairedComparison,
    mean_se,
    paired_comparison,
    paired_interval,
    paired_verdict,
)
from hyperlab.report.demo_runs import overall, pair
from hyperlab.report.demo_types import RunSummary

OUT = Path(__file__).parent / "results" / "stats_null.json"
SIZES = (2, 3, 5, 6, 10, 20, 40)
CLAIMS = ("better", "worse")
Rng = np.random.Generator
Draw = Callable[[Rng, int], tuple[np.ndarray, np.ndarray]]


def _same(sample: Callable[[Rng, int], np.ndarray]) -> Draw:
    return lambda rng, n: (sample(rng, n), sample(rng, n))


def _half_equal(rng: Rng, n: int) -> tuple[np.ndarray, np.ndarray]:
    a = rng.normal(size=n)
    b = np.where(rng.random(n) < 0.5, a, rng.normal(size=n))
    return a, b


DISTRIBUTIONS: dict[str, Draw] = {
    "normal": _same(lambda rng, n: rng.normal(size=n)),
    "t, 2 dof": _same(lambda rng, n: rng.standard_t(2, size=n)),
    "lognormal": _same(lambda rng, n: rng.lognormal(0.0, 1.5, size=n)),
    "accuracy /50": _same(lambda rng, n: rng.binomial(50, 0.8, size=n) / 50),
    "half equal": _half_equal,
}


class Simulation:
    """Draws read by hyperlab's words: ``repeats`` draws a cell from ``rng``; ``every``: run
    the tests on every draw, not only on those beyond twice the standard error."""

    def __init__(self, rng: Rng, repeats: int, every: bool = False) -> None:
        self.rng, self.repeats, self.every = rng, repeats, every

    def words(self, a: np.ndarray, b: np.ndarray, test: PairedComparison | None = None) -> str:
        """:func:`paired_comparison`'s verdict on ``a`` against ``b`` (minimizing); ``within
        noise`` without the test where the mean difference is within twice its standard
        error. ``test``: that comparison, where already made."""
        mean, se = mean_se(a - b)
        if not self.every and not abs(mean) > 2 * se:
            return "within noise"
        return (test or paired_comparison(a, b)).verdict

    def demo_claims(
        self, a: np.ndarray, b: np.ndarray, test: PairedComparison | None = None
    ) -> tuple[bool, bool]:
        """Whether compare's words and the demo's verdict say better or worse."""
        if self.words(a, b, test) not in CLAIMS:
            return False, False
        return True, pair(a, b, "b", "minimize").verdict in CLAIMS

    def claims(self, a: np.ndarray, b: np.ndarray) -> tuple[bool, bool, bool]:
        """Whether compare's words, the demo's verdict and :func:`paired_verdict` say better
        or worse, with one signed-rank test of the pairs where either rule needs it."""
        test = paired_comparison(a, b) if _testable(a, b) else None
        return (*self.demo_claims(a, b, test), self.verdict_claims(a, b, test))

    def verdict_claims(
        self, a: np.ndarray, b: np.ndarray, test: PairedComparison | None = None
    ) -> bool:
        """Whether :func:`paired_verdict` says better or worse on ``a`` against ``b``; run
        only where it can (6 or more nonzero differences, Wilcoxon p < 0.05 by ``test``, or
        by a comparison made here)."""
        if not _testable(a, b):
            return False
        if not (test or paired_comparison(a, b)).p_value < 0.05:
            return False
        return paired_verdict(a, b).verdict in CLAIMS

    def null_cell(self, draw: Draw, n: int) -> dict[str, float]:
        """Shares of null draws of ``n`` pairs called better or worse, by compare's words, by
        the demo's and by :func:`paired_verdict`."""
        said = [self.claims(*draw(self.rng, n)) for _ in range(self.repeats)]
        return {
            name: sum(s[i] for s in said) / self.repeats
            for i, name in enumerate(("compare", "demo", "paired_verdict"))
        }

    def interval_alone(self, n: int) -> float:
        """Share of null draws of ``n`` normal pairs whose 95% paired bootstrap interval
        (:func:`hyperlab.lab.stats.paired_interval`) leaves out zero: a nominal 5%."""
        rng = self.rng
        out = sum(
            not paired_interval(rng.normal(size=n), rng.normal(size=n)).contains_zero()
            for _ in range(self.repeats)
        )
        return out / self.repeats

    def power(self, n: int, sd_of: str) -> dict[str, float]:
        """Shares of draws with a real shift of ``a`` by -1 (better when minimizing) called
        better, and called worse: one standard deviation of each side's values (``values``:
        the differences' is then sqrt 2) or of the paired differences (``differences``)."""
        verdicts = []
        for _ in range(self.repeats):
            b = self.rng.normal(size=n)
            noise = self.rng.normal(size=n)
            verdicts.append(self.words((b if sd_of == "differences" else 0.0) + noise - 1.0, b))
        return {w: verdicts.count(w) / self.repeats for w in CLAIMS}

    def checkpoint_page(self, seeds: int = 10) -> dict[str, Any]:
        """One tuner against 3 others at the best of their first 20, 50 and 100 draws (the
        same runs read at 3 checkpoints), by compare's words and by :func:`paired_verdict`:
        the share of pages with a claim, and of comparisons."""
        said: list[list[tuple[bool, bool]]] = []
        for _ in range(self.repeats):
            best = np.minimum.accumulate(self.rng.normal(size=(4, seeds, 100)), axis=2)
            said.append(
                [
                    self._two_rules(best[0, :, k - 1], best[j, :, k - 1])
                    for j in (1, 2, 3)
                    for k in (20, 50, 100)
                ]
            )
        out = _page_shares([[w for w, _ in page] for page in said])
        out["paired_verdict"] = _page_shares([[v for _, v in page] for page in said])
        return out

    def _two_rules(self, a: np.ndarray, b: np.ndarray) -> tuple[bool, bool]:
        """Whether compare's words and :func:`paired_verdict` say better or worse."""
        test = paired_comparison(a, b) if _testable(a, b) else None
        return self.words(a, b, test) in CLAIMS, self.verdict_claims(a, b, test)

    def _problem(self, name: str, tuners: list[str], seeds: int) -> tuple[RunSummary, bool]:
        """A problem run of lognormal regrets, and whether the demo gives the first tuner a
        better or worse on it."""
        draws = {t: self.rng.lognormal(0.0, 1.0, size=seeds) for t in tuners}
        scores = {t: dict(enumerate(v.tolist())) for t, v in draws.items()}
        run = RunSummary(
            name, name, "", "regret", "minimize", list(range(seeds)), 20, tuners, scores, {}, {}
        )
        said = [self.demo_claims(draws[tuners[0]], draws[t])[1] for t in tuners[1:]]
        return run, any(said)

    def demo_page(self, problems: int = 4, seeds: int = 6) -> dict[str, float]:
        """The demo's first screen under the null: the share of pages with a better or worse
        on some problem, by mean rank (:func:`hyperlab.report.demo_runs.overall`), and
        anywhere."""
        tuners = ["focus", "random", "tpe", "gp"]
        by_problem = by_rank = anywhere = 0
        for _ in range(self.repeats):
            made = [self._problem(f"p{i}", tuners, seeds) for i in range(problems)]
            ov = overall([run for run, _ in made], "focus")
            assert ov is not None
            on_problem = any(said for _, said in made)
            on_rank = any(p.verdict in CLAIMS for p in ov.pairs)
            by_problem += on_problem
            by_rank += on_rank
            anywhere += on_problem or on_rank
        shares = (by_problem, by_rank, anywhere)
        return {k: v / self.repeats for k, v in zip(("problem", "rank", "page"), shares)}


def _testable(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether the signed-rank test can reach p < 0.05 on ``a - b`` (6 or more nonzero)."""
    return int(np.sum(a - b != 0)) >= MIN_TESTABLE_PAIRS


def _page_shares(pages: list[list[bool]]) -> dict[str, float]:
    """The share of pages with a claim, and of comparisons with one."""
    comparisons = sum(len(p) for p in pages)
    return {
        "page": sum(any(p) for p in pages) / len(pages),
        "comparison": sum(sum(p) for p in pages) / comparisons,
    }


EDGES: dict[str, tuple[list[float], list[float]]] = {
    "no difference at all (10 seeds)": ([0.5] * 10, [0.5] * 10),
    "one seed": ([0.1], [0.9]),
    "5 seeds, all one way by far": ([0.0] * 5, [1.0, 1.1, 1.2, 1.3, 1.4]),
    "6 seeds, one tied, 5 one way": ([0.0] * 6, [0.0, 1.0, 1.1, 1.2, 1.3, 1.4]),
    "6 seeds all one way": ([0.0] * 6, [1.0, 1.1, 1.2, 1.3, 1.4, 1.5]),
    "6 seeds, one diverged (inf)": ([0.0] * 5 + [math.inf], [1.0, 1.1, 1.2, 1.3, 1.4, 1.5]),
    "7 seeds, one NaN": ([0.0] * 6 + [math.nan], [1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6]),
}


def edges() -> dict[str, dict[str, Any]]:
    """The words for each edge case: compare's verdict and sentence, the demo's verdict and
    :func:`paired_verdict`'s."""
    out = {}
    for name, (a, b) in EDGES.items():
        c = paired_comparison(a, b)
        out[name] = {"compare": c.verdict, "demo": pair(a, b, "b", "minimize").verdict}
        out[name]["paired_verdict"] = paired_verdict(a, b).verdict
        out[name]["sentence"] = c.sentence
    return out


def run(repeats: int, seed: int, every: bool = False) -> dict[str, Any]:
    sim = Simulation(np.random.default_rng(seed), repeats, every)
    null = {
        name: {n: sim.null_cell(draw, n) for n in SIZES} for name, draw in DISTRIBUTIONS.items()
    }
    return {
        "repeats": repeats,
        "seed": seed,
        "every": every,
        "null": null,
        "interval_alone": {n: sim.interval_alone(n) for n in (3, 6, 10, 20, 40)},
        "power": {
            sd_of: {n: sim.power(n, sd_of) for n in (6, 10, 20)}
            for sd_of in ("values", "differences")
        },
        "checkpoint_page": sim.checkpoint_page(),
        "demo_page": sim.demo_page(),
        "edges": edges(),
    }


def _pct(x: float) -> str:
    return f"{100 * x:4.1f}"


def report(res: dict[str, Any]) -> None:
    r = res["repeats"]
    print(
        f"How often does hyperlab call a difference when there is none? ({r} draws a cell, "
        f"seed {res['seed']}; a true 5% reads {_pct(0.05)} ± {_pct(math.sqrt(0.0475 / r))}%)"
    )
    print(
        "\n% of null pairs called better or worse: compare's words / the demo's / "
        "paired_verdict (the benchmarks' claims)"
    )
    print(f"{'distribution':14}" + "".join(f"{'n=' + str(n):>16}" for n in SIZES))
    for name, cells in res["null"].items():
        row = "".join(
            f"{_pct(c['compare'])}/{_pct(c['demo'])}/{_pct(c['paired_verdict'])}".rjust(16)
            for c in cells.values()
        )
        print(f"{name:14}{row}")
    iv = res["interval_alone"]
    print(
        "\n% of null normal pairs whose 95% interval alone leaves out zero (no verdict reads it alone)"
    )
    print("  " + ", ".join(f"n={n} {_pct(x)}" for n, x in iv.items()))
    print("\nA real shift of 1 SD (normal): % called better (right) / worse (wrong)")
    for sd_of, cells in res["power"].items():
        text = ", ".join(
            f"n={n} {_pct(p['better'])} / {_pct(p['worse'])}" for n, p in cells.items()
        )
        print(f"  1 SD of the {sd_of:11}: {text}")
    cp, dp = res["checkpoint_page"], res["demo_page"]
    print("\nPages under the null: % with a better or worse anywhere")
    print(
        f"  compare, 1 tuner vs 3 at 3 checkpoints, 10 seeds: {_pct(cp['page'])} "
        f"(each comparison {_pct(cp['comparison'])})"
    )
    pv = cp["paired_verdict"]
    print(
        f"  the same by paired_verdict: {_pct(pv['page'])} "
        f"(each comparison {_pct(pv['comparison'])})"
    )
    print(
        f"  demo first screen, 1 tuner vs 3 on 4 problems x 6 seeds: {_pct(dp['page'])} "
        f"(on a problem {_pct(dp['problem'])}, by mean rank {_pct(dp['rank'])})"
    )
    print("\nEdge cases: compare's verdict / the demo's / paired_verdict's")
    for name, e in res["edges"].items():
        print(f"  {name:34} {e['compare']} / {e['demo']} / {e['paired_verdict']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=400, help="draws per cell")
    ap.add_argument("--every", action="store_true", help="run the tests on every draw")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="20 draws a cell, nothing written")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    start = time.perf_counter()
    with warnings.catch_warnings():  # SciPy's notes on ties and small samples
        warnings.simplefilter("ignore", UserWarning)
        res = run(20 if args.quick else args.repeats, args.seed, args.every)
    report(res)
    print(f"\n{time.perf_counter() - start:.0f} s")
    if not args.quick:
        print(f"wrote {write_result(args.out, res)}")


if __name__ == "__main__":
    main()
