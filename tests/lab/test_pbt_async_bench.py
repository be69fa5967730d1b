"""``benchmarks/pbt_async.py`` reads a paired difference by the benchmarks' one rule,
:func:`hyperlab.lab.stats.paired_verdict`, as lower or higher."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.modules import ROOT, load_script


def _bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # (it imports pbt's tasks)
    return load_script("benchmarks/pbt_async.py", "pbt_async_bench")


def _by(new: list[float], old: list[float]) -> dict[tuple[str, int], dict]:
    rows = {("same-epoch", s): {"copies": x} for s, x in enumerate(new)}
    return {**rows, **{("latest", s): {"copies": x} for s, x in enumerate(old)}}


def test_fewer_than_six_nonzero_differences_are_within_noise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its own copy of the rule (interval and p < 0.05) lacked the guard of 6 nonzero
    differences: with SciPy before 1.15, whose normal approximation gives p 0.025 to five
    differences one way beside a tie, five seeds called a difference."""
    import scipy.stats

    bench = _bench(monkeypatch)
    exact = scipy.stats.wilcoxon
    monkeypatch.setattr(scipy.stats, "wilcoxon", lambda d: exact(d, method="asymptotic"))
    five = bench._difference(_by([3.0, 9, 9, 9, 9, 9], [3.0, 5, 5, 5, 5, 4]), range(6), "copies")
    assert five["p_value"] < 0.05 and five["low"] > 0
    assert five["verdict"] == "within noise"
    monkeypatch.setattr(scipy.stats, "wilcoxon", exact)
    six = bench._difference(_by([9.0] * 6, [5.0, 5, 5, 5, 5, 4]), range(6), "copies")
    assert six["verdict"] == "higher" and six["lower_in"] == 0
    down = bench._difference(_by([1.0] * 6, [5.0, 5, 5, 5, 5, 4]), range(6), "copies")
    assert down["verdict"] == "lower" and down["lower_in"] == 6
