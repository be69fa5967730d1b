from __future__ import annotations

import numpy as np
import pytest

from hyperlab.lab.stats import bootstrap_band, mean_ranks, mean_se, paired_comparison


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


def test_one_seed_says_it_cannot_judge_instead_of_printing_nan() -> None:
    one = paired_comparison([0.2], [0.3], "x", "y")
    assert one.verdict == "one pair" and one.n == 1
    assert "nan" not in one.sentence and "± n/a" in one.sentence
    assert "one seed cannot tell" in one.sentence


def test_mean_ranks() -> None:
    ranks = mean_ranks({"a": [1, 1, 3], "b": [2, 2, 1]})
    assert ranks["a"] == pytest.approx(4 / 3) and ranks["b"] == pytest.approx(5 / 3)
