"""Honest statistics: standard errors, bootstrap bands and intervals, paired rank tests, noise
verdicts."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from hyperlab.direction import MINIMIZE, check_direction, sign
from hyperlab.errors import (
    InputError,
    InputTypeError,
    check_positive_int,
    check_seed,
    check_unit,
)


def mean_se(values: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error of the mean of the finite values (SE ``nan`` for fewer than
    two: one value says nothing of its spread)."""
    arr = _numbers("values", values)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return float("nan"), float("nan")
    if arr.size == 1:
        return float(arr[0]), float("nan")
    return float(arr.mean()), float(arr.std(ddof=1) / math.sqrt(arr.size))


def _numbers(what: str, values: Any) -> np.ndarray:
    """``values`` as a 1-D float array (NaN and inf kept), refusing text, ``None``, a bool, a
    nested list or a mapping by value instead of reading ``"1"`` as 1 or failing in NumPy.

    Raises:
        InputTypeError: ``values`` is not a sequence of numbers.
    """
    if isinstance(values, str | bytes | Mapping) or not isinstance(values, Iterable):
        raise InputTypeError(f"{what} must be a sequence of numbers, got {values!r}")
    out = []
    for v in values:
        try:
            if v is None or isinstance(v, str | bytes | bool | np.bool_):
                raise TypeError
            out.append(float(v))
        except (TypeError, ValueError):
            raise InputTypeError(f"{what} must be numbers, got {v!r} among them") from None
    return np.asarray(out, dtype=float)


def _check_resampling(level: Any, n_boot: Any, seed: Any) -> None:
    """Refuse a bootstrap's settings by value: ``level`` outside (0, 1) (95 for 0.95), an
    ``n_boot`` that is not a positive integer (NumPy's are), a ``seed`` that is not an integer
    >= 0 or ``None``.

    Raises:
        InputTypeError: A setting of the wrong type.
        InputError: A setting out of range.
    """
    check_unit("level", level, closed_low=False)
    check_positive_int("n_boot", n_boot)
    check_seed(seed)


def bootstrap_band(
    samples: np.ndarray, level: float = 0.95, n_boot: int = 1000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median across rows and a bootstrap confidence band of the median.

    Args:
        samples: ``(n_seeds, n_points)`` values (e.g. best-so-far curves of several seeds).
        level: Coverage of the band.
        n_boot: Bootstrap resamples of the seeds.
        seed: Seed of the resampling.

    Returns:
        ``(median, low, high)``, each of shape ``(n_points,)``; NaN at a point where every
        value is NaN (no seed had a complete trial yet, e.g. while a tuner screens).
    """
    _check_resampling(level, n_boot, seed)
    try:
        samples = np.asarray(samples, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"samples must be a 2-D array of numbers: {exc}") from None
    if samples.ndim != 2 or samples.shape[0] == 0:
        raise InputError(f"samples must be a non-empty 2-D array, got shape {samples.shape}")
    with warnings.catch_warnings():  # an all-NaN point is expected and gives NaN
        warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
        med = np.nanmedian(samples, axis=0)
        if samples.shape[0] == 1:
            return med, med.copy(), med.copy()
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, samples.shape[0], size=(n_boot, samples.shape[0]))
        boots = np.nanmedian(samples[idx], axis=1)  # (n_boot, n_points)
        alpha = (1 - level) / 2
        return med, np.nanquantile(boots, alpha, axis=0), np.nanquantile(boots, 1 - alpha, axis=0)


@dataclass(frozen=True)
class Interval:
    """The mean of differences and a bootstrap confidence interval of that mean.

    Attributes:
        mean: Mean difference (NaN when there is none).
        low: Lower end of the interval (NaN with fewer than two differences: one value has
            no spread to resample).
        high: Upper end of the interval (likewise).
        level: Coverage of the interval (0.95: a 95% interval).
        n: Number of differences.
        above: Differences above zero (for a regret: the first of the pair did worse).
        below: Differences below zero.
    """

    mean: float
    low: float
    high: float
    level: float
    n: int
    above: int
    below: int

    def contains_zero(self) -> bool:
        """Whether 0 lies in the interval, or there is no interval (fewer than two
        differences): no difference the data can tell from noise."""
        return not self.low > 0.0 and not self.high < 0.0

    def text(self, digits: int = 4) -> str:
        """``+0.0016 [+0.0003, +0.0035]``: the mean and the interval, signed (``[n/a]``
        without an interval)."""
        if math.isnan(self.low) or math.isnan(self.high):
            return f"{self.mean:+.{digits}f} [n/a]"
        return f"{self.mean:+.{digits}f} [{self.low:+.{digits}f}, {self.high:+.{digits}f}]"

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (JSON-serializable)."""
        return asdict(self)


#: The fewest pairs with which a two-sided signed-rank test can reach p < 0.05 (all of 6 on one
#: side: p = 2 / 2**6); with fewer, no difference is called better or worse.
MIN_TESTABLE_PAIRS = 6

#: Differences within this of zero count as neither above nor below it.
TIE = 1e-12


def bootstrap_interval(
    diffs: Sequence[float], level: float = 0.95, n_boot: int = 10_000, seed: int = 0
) -> Interval:
    """Mean of ``diffs`` and a percentile-bootstrap interval of the mean.

    Non-finite differences are left out. The resampling is seeded, so the same differences in
    the same order always give the same interval.

    Args:
        diffs: Differences, e.g. paired regrets ``a - b`` (one per seed).
        level: Coverage of the interval, in (0, 1).
        n_boot: Bootstrap resamples.
        seed: Seed of the resampling.

    Returns:
        The :class:`Interval` (``mean``, ``low`` and ``high`` NaN and ``n`` 0 when no finite
        difference is left; ``low`` and ``high`` NaN when one is: resampling one value gives
        an interval of width zero, which would leave out zero on one seed's word).
    """
    _check_resampling(level, n_boot, seed)
    d = _numbers("diffs", diffs)
    d = d[np.isfinite(d)]
    if d.size == 0:
        nan = float("nan")
        return Interval(nan, nan, nan, level, 0, 0, 0)
    low, high = _percentiles(d, level, n_boot, seed) if d.size > 1 else (math.nan, math.nan)
    return Interval(
        mean=float(d.mean()),
        low=low,
        high=high,
        level=level,
        n=int(d.size),
        above=int(np.sum(d > TIE)),
        below=int(np.sum(d < -TIE)),
    )


def _percentiles(d: np.ndarray, level: float, n_boot: int, seed: int) -> tuple[float, float]:
    """The ends of the percentile-bootstrap interval of the mean of ``d``."""
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, d.size, size=(n_boot, d.size))].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1.0 - alpha))


def paired_interval(
    a: Sequence[float], b: Sequence[float], level: float = 0.95, n_boot: int = 10_000, seed: int = 0
) -> Interval:
    """``a - b`` over paired values (the same seed, task, ...), as :func:`bootstrap_interval`;
    a pair with a non-finite value on either side is left out."""
    x, y = _paired(a, b)
    return bootstrap_interval(x - y, level, n_boot, seed)


def _paired(a: Sequence[float], b: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Both sides as float arrays, as many values on each side (pairs are read by position)."""
    x, y = _numbers("a", a), _numbers("b", b)
    if len(x) != len(y):
        raise InputError(f"paired values must be as many on each side, got {len(x)} and {len(y)}")
    return x, y


@dataclass
class PairedComparison:
    """``a`` minus ``b`` over paired runs (same seeds); the verdict reads it in the values'
    direction (a negative difference is better when minimizing, a positive one when maximizing).

    Attributes:
        name_a: First method.
        name_b: Reference method.
        n: Number of pairs.
        diff: Mean difference ``a - b``.
        se: Standard error of the mean difference.
        p_value: Two-sided Wilcoxon signed-rank p-value (``nan`` when undefined).
        verdict: ``better``, ``worse``, ``within noise``, ``one pair`` (nothing to judge
            noise by) or ``no data``.
        sentence: One plain-language line.
    """

    name_a: str
    name_b: str
    n: int
    diff: float
    se: float
    p_value: float
    verdict: str
    sentence: str


def paired_comparison(
    a: Sequence[float],
    b: Sequence[float],
    name_a: str = "a",
    name_b: str = "b",
    direction: str = MINIMIZE,
) -> PairedComparison:
    """Compare paired final values; a difference within 2 standard errors is called noise.

    ``direction`` (``"minimize"`` or ``"maximize"``) says which values are better.

    A difference is only called "better"/"worse" when it exceeds twice its standard error
    *and* the signed-rank test gives p < 0.05 *and* at least :data:`MIN_TESTABLE_PAIRS`
    differences are nonzero (with fewer the exact test cannot reach p < 0.05, and the verdict
    stays "within noise": no claim smaller than its noise, whichever approximation SciPy's
    test takes with zeros or ties).

    A pair with a missing or non-finite value (a study with no complete trial, a diverged run)
    is left out, and the sentence says how many were.

    Raises:
        InputError: ``a`` and ``b`` are not as many values.
    """
    sides = _paired(a, b)
    pairs = [(x, y) for x, y in zip(*sides) if math.isfinite(x) and math.isfinite(y)]
    n = len(pairs)
    left = _left_out(len(sides[0]) - n)
    if n == 0:
        return PairedComparison(
            name_a,
            name_b,
            0,
            float("nan"),
            float("nan"),
            float("nan"),
            "no data",
            f"{name_a} vs {name_b}: no paired runs{left}",
        )
    d = np.array([x - y for x, y in pairs])
    diff = float(d.mean())
    se = float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    p = float("nan")
    if n > 1 and np.any(d != 0):
        from scipy.stats import wilcoxon

        p = float(wilcoxon(d).pvalue)
    testable = not _untestable(d)
    significant = testable and math.isfinite(se) and abs(diff) > 2 * se and p < 0.05
    improves = sign(check_direction(direction)) * diff < 0
    verdict = ("better" if improves else "worse") if significant else "within noise"
    p_text = "n/a" if math.isnan(p) else f"{p:.3g}"
    if n == 1:
        verdict = "one pair"
        tail = "one seed cannot tell a difference from noise; run two or more"
    elif verdict == "within noise" and not testable and abs(diff) > 2 * se:
        tail = (
            f"within noise as far as {n} seeds can tell: with fewer than {MIN_TESTABLE_PAIRS} "
            "nonzero differences the exact signed-rank test cannot reach p < 0.05, and no "
            "verdict is given (run more seeds to judge it)"
        )
    elif verdict == "within noise":
        tail = "within noise"
    else:
        tail = f"{name_a} is {verdict}"
    se_text = "n/a" if math.isnan(se) else f"{se:.2g}"
    sentence = (
        f"{name_a} vs {name_b}: difference {diff:+.4g} ± {se_text} "
        f"(n={n}, Wilcoxon p={p_text}{left}) — {tail}"
    )
    return PairedComparison(name_a, name_b, n, diff, se, p, verdict, sentence)


def _left_out(k: int) -> str:
    """``; 1 pair left out ...`` for a sentence (empty when none was)."""
    if k == 0:
        return ""
    return f"; {k} pair{'s' * (k != 1)} left out for a missing or non-finite value"


def _untestable(d: np.ndarray) -> bool:
    """Whether the exact signed-rank test cannot reach p < 0.05 on ``d``: it drops the zero
    differences, and fewer than :data:`MIN_TESTABLE_PAIRS` are left (SciPy before 1.15 reads
    such differences by the normal approximation instead, which can go below 0.05)."""
    return int(np.sum(d != 0)) < MIN_TESTABLE_PAIRS


@dataclass(frozen=True)
class PairedVerdict:
    """The verdict of :func:`paired_verdict` with the two readings it comes from.

    Attributes:
        interval: ``a - b`` and its bootstrap interval (:func:`paired_interval`).
        test: The signed-rank test of the same pairs (:func:`paired_comparison`); its
            ``p_value`` is the one the verdict reads.
        verdict: ``better`` or ``worse`` (for ``a``, in the values' direction), ``within
            noise``, ``one pair`` (nothing to judge noise by) or ``no data``.
    """

    interval: Interval
    test: PairedComparison
    verdict: str

    @property
    def p_value(self) -> float:
        """The two-sided Wilcoxon signed-rank p-value (NaN when undefined)."""
        return self.test.p_value


def paired_verdict(
    a: Sequence[float],
    b: Sequence[float],
    *,
    direction: str = MINIMIZE,
    level: float = 0.95,
    n_boot: int = 10_000,
    seed: int = 0,
    name_a: str = "a",
    name_b: str = "b",
) -> PairedVerdict:
    """Better, worse or within noise for ``a`` against ``b`` over paired values (the same
    seeds, tasks, ...), by the interval and the test together.

    The rule: ``a`` is called better or worse only where the bootstrap interval of the mean
    of ``a - b`` at ``level`` leaves out zero *and* the two-sided Wilcoxon signed-rank test
    gives p < 0.05 *and* at least :data:`MIN_TESTABLE_PAIRS` differences are nonzero (with
    fewer the exact test cannot reach p < 0.05; SciPy before 1.15 reads such differences by a
    normal approximation that can). Otherwise the verdict is ``within noise`` (``one pair``
    for one pair, ``no data`` for none). The side comes from the sign of the mean difference
    read in ``direction``: below zero is better when minimizing, above zero when maximizing.
    Unlike :func:`paired_comparison`'s own verdict, no rule of twice the standard error is
    applied. A pair with a missing or non-finite value on either side is left out.

    Args:
        a: The values of the method judged.
        b: The reference's values, paired with ``a`` by position.
        direction: ``"minimize"`` or ``"maximize"``: which values are better.
        level: Coverage of the interval, in (0, 1); the test's threshold stays 0.05.
        n_boot: Bootstrap resamples of the interval.
        seed: Seed of the resampling.
        name_a: ``a``'s name in the test's sentence.
        name_b: ``b``'s name in it.

    Raises:
        InputTypeError: A side is not a sequence of numbers, or a setting is of the wrong
            type.
        InputError: The sides are not as many values, or a setting is out of range.
    """
    check_direction(direction)
    _check_resampling(level, n_boot, seed)
    x, y = _paired(a, b)
    interval = bootstrap_interval(x - y, level, n_boot, seed)
    test = paired_comparison(x.tolist(), y.tolist(), name_a, name_b, direction)
    return PairedVerdict(interval, test, _verdict_word(x, y, interval, test.p_value, direction))


def _verdict_word(
    x: np.ndarray, y: np.ndarray, interval: Interval, p: float, direction: str
) -> str:
    """:func:`paired_verdict`'s word (see its rule)."""
    finite = np.isfinite(x) & np.isfinite(y)
    n = int(finite.sum())
    if n < 2:
        return "one pair" if n else "no data"
    claim = not interval.contains_zero() and p < 0.05 and not _untestable((x - y)[finite])
    if not claim:
        return "within noise"
    return "better" if sign(direction) * interval.mean < 0 else "worse"


def mean_ranks(table: dict[str, Sequence[float]], direction: str = MINIMIZE) -> dict[str, float]:
    """Mean rank of each method over paired runs (rank 1 = best value in ``direction``: the
    lowest when minimizing, the highest when maximizing; ties averaged; a missing value ranks
    last).

    Raises:
        InputError: The methods have not as many values (runs are paired by position).
    """
    from scipy.stats import rankdata

    if not isinstance(table, Mapping):
        raise InputTypeError(f"table must be a dict method -> values, got {table!r}")
    names = list(table)
    lengths = {k: len(v) for k, v in table.items()}
    if len(set(lengths.values())) > 1:
        raise InputError(
            f"mean ranks pair runs by position: give as many values each, got {lengths}"
        )
    n = min(lengths.values(), default=0)
    if n == 0:
        return {k: float("nan") for k in names}
    mat = np.array([[table[k][i] for k in names] for i in range(n)], dtype=float)
    mat = np.where(np.isfinite(mat), sign(check_direction(direction)) * mat, np.inf)
    ranks = np.array([rankdata(row) for row in mat])
    return {k: float(ranks[:, j].mean()) for j, k in enumerate(names)}
