"""The plain sentences of the demo page's first screen, every number with its 95% interval."""

from __future__ import annotations

from collections.abc import Sequence

from hyperlab.report.demo_types import (
    BETTER,
    FEW,
    MIN_PAIRS,
    NOISE,
    WORSE,
    DemoRecords,
    Overall,
    Pair,
    RunSummary,
)


def _and(names: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    names = list(names)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _sizes(runs: Sequence[RunSummary]) -> str:
    """``8 seeds × 20 trials`` (the sizes of every run, when they differ)."""
    sizes = sorted({(len(r.seeds), r.trials) for r in runs})
    return " or ".join(f"{s} seed{'s' * (s != 1)} × {t} trials" for s, t in sizes)


def _lede(rec: DemoRecords, ov: Overall) -> str:
    words = {
        BETTER: "better than",
        WORSE: "worse than",
        NOISE: "within noise of",
        FEW: f"not judged (fewer than {MIN_PAIRS} pairs) against",
    }
    groups = {v: [p.other for p in ov.pairs if p.verdict == v] for v in words}
    parts = [f"{words[v]} {_and(names)}" for v, names in groups.items() if names]
    # 'ranked' goes with a ranking only: 'meta was not judged ... against random', not
    # 'meta ranked not judged ...'
    verb = "ranked" if any(groups[v] for v in (BETTER, WORSE, NOISE)) else "was"
    return (
        f"Over {ov.problems} problem{'s' * (ov.problems != 1)} with a known optimum "
        f"({_sizes(rec.problems)} each), {rec.focus} {verb} {'; '.join(parts)} (mean rank "
        f"among {len(ov.ranks)} tuners over {ov.n} problem × seed runs; 95% intervals below)."
    )


def _against(rec: DemoRecords, ov: Overall, p: Pair) -> str:
    t = ov.tally[p.other]
    few = f", too few seeds on {t[FEW]}" if t[FEW] else ""
    ranks = ov.ranks
    return (
        f"Against {p.other}: lower regret on {t[BETTER]} of {ov.problems} "
        f"problem{'s' * (ov.problems != 1)}, higher on "
        f"{t[WORSE]}, within noise on {t[NOISE]}{few}; mean rank {ranks[rec.focus].text(3)} "
        f"against {ranks[p.other].text(3)}, difference {p.text(2)}: {p.verdict}."
    )


def _live(rec: DemoRecords, live: RunSummary) -> str:
    better = "higher" if live.direction == "maximize" else "lower"
    first = (
        f"Live run on {live.task} ({_sizes([live])}; {live.measure}, {better} is better): "
        f"{rec.focus} {live.spreads[rec.focus].text()}"
        if rec.focus in live.spreads
        else f"Live run on {live.task} ({_sizes([live])}): {rec.focus} did not run"
    )
    rest = [
        f"against {p.other} {live.spreads[p.other].text()}: difference {p.text()}, {p.verdict}"
        for p in live.pairs
    ]
    return "; ".join([first, *rest]) + "."


def headline(rec: DemoRecords) -> list[str]:
    """The first screen's plain sentences: the verdict over the problems, one sentence per
    other tuner, the live run and the experiments; every number with its 95% interval."""
    lines = []
    if rec.overall is not None:
        lines.append(_lede(rec, rec.overall))
        lines += [_against(rec, rec.overall, p) for p in rec.overall.pairs]
    if rec.live is not None:
        lines.append(_live(rec, rec.live))
    if rec.experiments:
        lines.append(
            f"Hypergradient experiments (quick versions; their numbers are not conclusive): "
            f"{_and(rec.experiments)}, each on the experiments page."
        )
    return lines
