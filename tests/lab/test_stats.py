from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from hyperlab.errors import InputError, InputTypeError
from hyperlab.lab.stats import (
    bootstrap_band,
    bootstrap_interval,
    mean_ranks,
    mean_se,
    paired_comparison,
    paired_interval,
    paired_verdict,
)


def test_mean_se() -> None:
    m, se = mean_se([1.0, 2.0, 3.0, float("nan")])
    assert m == 2.0 and se == pytest.approx(1 / np.sqrt(3))


def test_bootstrap_band_brackets_median() -> None:
    rng = np.random.default_rng(0)
    samples = rng.normal(size=(20, 5)) + np.arange(5)
    med, low, high = bootstrap_band(samples)
    assert np.all(low <= med) and np.all(med <= high)
    assert np.all(high - low > 0)


def test_paired_comparison_within_noise_and_real() -> None:
    rng = np.random.default_rng(1)
    b = rng.normal(size=10)
    noisy = paired_comparison(b + rng.normal(scale=1.0, size=10) * 0.01 + 0.0, b, "x", "y")
    assert noisy.verdict == "within noise"
    assert "within noise" in noisy.sentence
    clearly = paired_comparison(b - 1.0 + rng.normal(scale=0.05, size=10), b, "x", "y")
    assert clearly.verdict == "better" and clearly.p_value < 0.05
    # three seeds can never reach p < 0.05 with a signed-rank test: no claim
    few = paired_comparison([0.0, 0.0, 0.0], [1.0, 1.1, 1.2], "x", "y")
    assert few.verdict == "within noise"
    assert "as far as 3 seeds can tell" in few.sentence and "fewer than 6" in few.sentence
    # seven seeds, two of them tied: the test drops ties and five are left
    tied = paired_comparison([0.0] * 7, [1.0, 1.1, 1.2, 1.3, 1.4, 0.0, 0.0], "x", "y")
    assert tied.verdict == "within noise" and "as far as 7 seeds can tell" in tied.sentence
    # six seeds all one way can: the test's smallest p is then 2 / 64
    six = paired_comparison([0.0] * 6, [1.0, 1.1, 1.2, 1.3, 1.4, 1.5], "x", "y")
    assert six.verdict == "better" and six.p_value == pytest.approx(2 / 64)
    assert "seeds can tell" not in noisy.sentence  # many seeds, a small difference: plain


def test_fewer_than_six_nonzero_differences_are_never_a_verdict(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SciPy before 1.15 reads differences with zeros by the normal approximation, which can
    go below 0.05 on five nonzero ones; no claim may come of that."""
    import scipy.stats

    exact = scipy.stats.wilcoxon
    monkeypatch.setattr(scipy.stats, "wilcoxon", lambda d: exact(d, method="asymptotic"))
    five = paired_comparison([0.0, 1.0, 1.0, 1.0, 1.0, 1.0], [0.0] * 6, "x", "y")
    assert five.p_value < 0.05  # the approximation's p, as such a SciPy reports it
    assert five.verdict == "within noise" and "fewer than 6 nonzero" in five.sentence
    six = paired_comparison([1.0] * 6, [0.0] * 6, "x", "y")
    assert six.verdict == "worse"  # six nonzero differences still can


def test_paired_verdict_calls_a_clear_difference_by_the_direction() -> None:
    rng = np.random.default_rng(3)
    b = rng.normal(size=10)
    a = b - 1.0 + rng.normal(scale=0.05, size=10)
    low = paired_verdict(a, b)
    assert low.verdict == "better" and low.p_value < 0.05 and not low.interval.contains_zero()
    assert paired_verdict(a, b, direction="maximize").verdict == "worse"
    assert paired_verdict(b, a).verdict == "worse"
    # the same readings as the two functions it combines
    assert low.interval == paired_interval(a, b)
    assert low.test == paired_comparison(a, b)
    named = paired_verdict(a, b, name_a="x", name_b="y", level=0.9)
    assert named.test.sentence.startswith("x vs y:") and named.interval.level == 0.9


def test_paired_verdict_needs_the_interval_and_the_test_both() -> None:
    # all but one difference one way: the interval leaves out zero, the test's p is 0.0625
    a = [1.0, 1.1, 1.2, 1.3, 1.4, -0.1]
    v = paired_verdict(a, [0.0] * 6)
    assert not v.interval.contains_zero() and v.p_value == pytest.approx(0.0625)
    assert v.verdict == "within noise"
    # fifteen small gains and one large loss: the test says p < 0.05, the interval holds zero
    a = [-1.0] * 15 + [1000.0]
    v = paired_verdict(a, [0.0] * 16)
    assert v.p_value < 0.05 and v.interval.contains_zero()
    assert v.verdict == "within noise"


def test_paired_verdict_from_fewer_than_six_nonzero_differences_is_no_claim(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With SciPy before 1.15 the test's p on five nonzero differences and a zero can go below
    0.05 (its normal approximation); the verdict stays within noise."""
    import scipy.stats

    exact = scipy.stats.wilcoxon
    monkeypatch.setattr(scipy.stats, "wilcoxon", lambda d: exact(d, method="asymptotic"))
    five = paired_verdict([0.0, 1.0, 1.0, 1.0, 1.0, 1.0], [0.0] * 6)
    assert five.p_value < 0.05 and not five.interval.contains_zero()
    assert five.verdict == "within noise"
    six = paired_verdict([1.0, 1.0, 1.0, 1.0, 1.0, 1.1], [0.0] * 6)
    assert six.verdict == "worse"


def test_paired_verdict_without_enough_pairs() -> None:
    nan = float("nan")
    one = paired_verdict([1.0, nan, 3.0], [0.0, 0.0, nan])
    assert one.verdict == "one pair" and one.interval.n == 1
    none = paired_verdict([nan, 1.0], [0.0, nan])
    assert none.verdict == "no data" and none.interval.n == 0
    assert paired_verdict([], []).verdict == "no data"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"a": [1.0, 2.0], "b": [1.0]}, InputError, "as many on each side, got 2 and 1"),
        ({"a": [1.0, "2"], "b": [1.0, 2.0]}, InputTypeError, "a must be numbers, got '2'"),
        ({"direction": "lower"}, InputError, "direction must be 'minimize' or 'maximize', got"),
        ({"direction": None}, InputTypeError, "direction must be 'minimize' or 'maximize'"),
        ({"level": 95}, InputError, r"level must be in \(0, 1\)"),
        ({"n_boot": 0}, InputError, "n_boot must be a positive"),
        ({"seed": -1}, InputError, "seed must be an integer"),
    ],
)
def test_paired_verdict_refuses_bad_values_by_value(
    kwargs: dict[str, Any], error: type, message: str
) -> None:
    call = {"a": [1.0, 2.0, 3.0], "b": [0.0, 0.0, 0.0], **kwargs}
    with pytest.raises(error, match=message):
        paired_verdict(call.pop("a"), call.pop("b"), **call)


def test_a_pair_left_out_for_a_diverged_run_is_said() -> None:
    """Six seeds, one diverged: five pairs are compared, and the sentence says why not six."""
    c = paired_comparison([0.0] * 5 + [math.inf], [1.0, 1.1, 1.2, 1.3, 1.4, 1.5], "x", "y")
    assert c.n == 5 and c.verdict == "within noise"
    assert "1 pair left out for a missing or non-finite value" in c.sentence
    none = paired_comparison([math.nan, math.nan], [1.0, 2.0], "x", "y")
    assert none.verdict == "no data" and "2 pairs left out" in none.sentence
    full = paired_comparison([0.0] * 6, [1.0, 1.1, 1.2, 1.3, 1.4, 1.5], "x", "y")
    assert "left out" not in full.sentence


def test_one_seed_says_it_cannot_judge_instead_of_printing_nan() -> None:
    one = paired_comparison([0.2], [0.3], "x", "y")
    assert one.verdict == "one pair" and one.n == 1
    assert "nan" not in one.sentence and "± n/a" in one.sentence
    assert "one seed cannot tell" in one.sentence


def test_mean_ranks() -> None:
    ranks = mean_ranks({"a": [1, 1, 3], "b": [2, 2, 1]})
    assert ranks["a"] == pytest.approx(4 / 3) and ranks["b"] == pytest.approx(5 / 3)


def test_bootstrap_interval_is_seeded_and_brackets_the_mean() -> None:
    diffs = [0.3, -0.1, 0.2, 0.0, 0.25, float("nan")]
    first = bootstrap_interval(diffs)
    assert first == bootstrap_interval(diffs)  # the same differences: the same interval
    assert first.n == 5 and first.above == 3 and first.below == 1
    assert first.mean == pytest.approx(0.13) and first.low <= first.mean <= first.high
    assert first.level == 0.95 and first.contains_zero() == (first.low <= 0 <= first.high)
    assert first.text() == f"{first.mean:+.4f} [{first.low:+.4f}, {first.high:+.4f}]"
    wider = bootstrap_interval(diffs, level=0.99)
    assert wider.low <= first.low and wider.high >= first.high


def test_bootstrap_interval_of_a_clear_difference_excludes_zero() -> None:
    rng = np.random.default_rng(0)
    clear = bootstrap_interval(list(1.0 + rng.normal(scale=0.1, size=30)))
    assert not clear.contains_zero() and clear.low > 0.9
    noise = bootstrap_interval(list(rng.normal(scale=1.0, size=30)))
    assert noise.contains_zero()


def test_bootstrap_interval_without_data_and_bad_settings() -> None:
    empty = bootstrap_interval([float("nan")])
    assert empty.n == 0 and np.isnan(empty.mean) and np.isnan(empty.low)
    with pytest.raises(InputError, match="level"):
        bootstrap_interval([1.0], level=95)
    with pytest.raises(InputError, match="n_boot"):
        bootstrap_interval([1.0], n_boot=0)


def test_paired_interval_drops_pairs_with_a_missing_side() -> None:
    interval = paired_interval([1.0, 2.0, float("nan")], [0.5, 1.0, 0.0])
    assert interval.n == 2 and interval.mean == pytest.approx(0.75)
    assert interval.to_dict()["n"] == 2
    with pytest.raises(InputError, match="as many"):
        paired_interval([1.0], [1.0, 2.0])


def test_paired_comparison_refuses_sides_of_different_lengths() -> None:
    """Pairs are read by position: a side longer than the other was cut in silence, and the
    verdict came from fewer pairs than given."""
    with pytest.raises(InputError, match="as many on each side, got 3 and 2"):
        paired_comparison([1.0, 2.0, 3.0], [1.0, 2.0])


def test_one_difference_has_no_interval_and_tells_nothing_from_noise() -> None:
    """Resampling one value gave a 95% interval of width zero around it ("+0.5 [+0.5, +0.5]"),
    which left out zero: a claim from one seed. An interval that is not there (none or one
    difference) holds zero: the data cannot tell a difference from noise."""
    one = bootstrap_interval([0.5])
    assert one.n == 1 and one.mean == 0.5 and math.isnan(one.low) and math.isnan(one.high)
    assert one.contains_zero() and bootstrap_interval([]).contains_zero()
    assert one.text() == "+0.5000 [n/a]"
    assert not bootstrap_interval([0.5, 0.6, 0.7]).contains_zero()


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: mean_se(["1", "2"]), InputTypeError, "values must be numbers, got '1' among"),
        (lambda: mean_se([1.0, None]), InputTypeError, "got None among them"),
        (lambda: mean_se(3.0), InputTypeError, "a sequence of numbers, got 3.0"),
        (lambda: bootstrap_interval({"a": 1.0}), InputTypeError, r"diffs must be a sequence"),
        (lambda: bootstrap_interval([[1.0, 2.0]]), InputTypeError, r"got \[1.0, 2.0\] among"),
        (lambda: bootstrap_interval([1.0], level="0.95"), InputTypeError, "level must be a nu"),
        (lambda: bootstrap_interval([1.0, 2.0], seed=-1), InputError, "seed must be an integer"),
        (
            lambda: bootstrap_band(np.ones((3, 2)), level=95),
            InputError,
            r"level must be in \(0, 1\)",
        ),
        (
            lambda: bootstrap_band(np.ones((3, 2)), n_boot=0),
            InputError,
            "n_boot must be a positive",
        ),
        (lambda: bootstrap_band([[1.0, 2.0], [3.0]]), InputError, "samples must be a 2-D array"),
        (lambda: paired_comparison([1.0, "2"], [1.0, 2.0]), InputTypeError, "a must be numbers"),
        (lambda: mean_ranks([[1.0], [2.0]]), InputTypeError, "table must be a dict"),
    ],
)
def test_bad_values_and_settings_are_refused_by_value(call: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        call()


def test_numpy_settings_and_one_shot_sides_are_taken() -> None:
    assert bootstrap_interval([1.0, 2.0, 4.0], n_boot=np.int64(500)) == bootstrap_interval(
        [1.0, 2.0, 4.0], n_boot=500
    )
    interval = paired_interval(iter([1.0, 2.0, 3.0]), iter([0.0, 0.0, 0.0]))
    assert interval.n == 3 and interval.mean == pytest.approx(2.0)
