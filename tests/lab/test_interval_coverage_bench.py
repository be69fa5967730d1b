"""``benchmarks/interval_coverage.py`` measures the interval hyperlab ships: its percentile
candidate is :func:`hyperlab.lab.stats.bootstrap_interval`, resample for resample."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

from hyperlab.lab.stats import bootstrap_interval
from tests.modules import ROOT, load_script


def _bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # (it imports stats_null's draws)
    return load_script("benchmarks/interval_coverage.py", "interval_coverage_bench")


@pytest.mark.parametrize("n", [2, 6, 10])
def test_percentile_candidate_is_the_shipped_interval(
    monkeypatch: pytest.MonkeyPatch, n: int
) -> None:
    bench = _bench(monkeypatch)
    d = np.random.default_rng(n).lognormal(size=(3, n))
    got = bench.intervals(d, bench.resample_counts(n))
    for row, (low, high) in zip(d, got["percentile"], strict=True):
        shipped = bootstrap_interval(row)
        assert low == pytest.approx(shipped.low, abs=1e-12)
        assert high == pytest.approx(shipped.high, abs=1e-12)


def test_student_t_candidate_is_mean_plus_minus_t_se(monkeypatch: pytest.MonkeyPatch) -> None:
    """Six differences 1..6: mean 3.5, SE sqrt(3.5 / 6), t(5, 0.975) = 2.5706."""
    bench = _bench(monkeypatch)
    d = np.arange(1.0, 7.0)[None, :]
    low, high = bench.intervals(d, bench.resample_counts(6))["student-t"][0]
    half = 2.5705818 * np.sqrt(3.5 / 6)
    assert low == pytest.approx(3.5 - half, abs=1e-6)
    assert high == pytest.approx(3.5 + half, abs=1e-6)
