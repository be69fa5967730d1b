"""``benchmarks/meta_mixed.py``: generated mixed spaces whose best value is exactly 0."""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import pytest

from tests.modules import load_script


def _bench() -> ModuleType:
    return load_script("benchmarks/meta_mixed.py", "meta_mixed_bench")


def _best(problem: Any, given: dict[str, str] | None = None) -> dict[str, Any]:
    """The configuration at the best choice of every categorical (or the ``given`` one) and the
    best of every numeric parameter (the first one moved by the first categorical's choice)."""
    params = {n: min(c, key=c.get) for n, c in problem.categoricals.items()} | (given or {})
    first = next(iter(problem.categoricals))
    for i, p in enumerate(problem.numerics):
        u = p.best + (problem.shifts[params[first]] if i == 0 else 0.0)
        if p.kind == "log":
            params[p.name] = p.low * (p.high / p.low) ** u
        else:
            params[p.name] = p.low + u * (p.high - p.low)
    return params


@pytest.mark.parametrize("instance", range(12))
def test_every_instance_reaches_0_on_its_grids_and_nothing_is_below(instance: int) -> None:
    bench = _bench()
    problem = bench.make(instance)
    assert problem == bench.make(instance)  # the same number, the same problem
    best = _best(problem)
    for p in problem.numerics:
        if p.kind == "int":
            assert best[p.name] == pytest.approx(round(best[p.name]))
        if p.kind == "step":
            assert best[p.name] * 10 == pytest.approx(round(best[p.name] * 10))
        assert p.low <= best[p.name] <= p.high
    assert problem.score(best) == pytest.approx(0.0, abs=1e-9)
    other = dict(best)
    name, choices = next(iter(problem.categoricals.items()))
    worse = max(choices, key=choices.get)
    other[name] = worse
    assert problem.score(other) > 0.0 or math.isclose(choices[worse], 0.0)


def test_ranks_share_ties_and_skip_cells_a_tuner_lacks() -> None:
    bench = _bench()
    runs = [
        {"tuner": "a", "instance": 0, "seed": 1, "regret": [3.0, 1.0]},
        {"tuner": "b", "instance": 0, "seed": 1, "regret": [2.0, 1.0]},
        {"tuner": "a", "instance": 1, "seed": 1, "regret": [1.0, 1.0]},
    ]
    at1, at2 = bench.ranks(runs, 1), bench.ranks(runs, 2)
    assert at1 == {"a": {("additive", 0, 1): 2.0}, "b": {("additive", 0, 1): 1.0}}
    assert at2["a"][("additive", 0, 1)] == at2["b"][("additive", 0, 1)] == 1.5


def test_runs_of_two_structures_are_cells_of_their_own() -> None:
    bench = _bench()
    runs = [
        {"tuner": t, "instance": 0, "seed": 1, "regret": [r], **extra}
        for t, r, extra in (
            ("a", 1.0, {}),
            ("b", 2.0, {}),
            ("a", 2.0, {"structure": "interacting"}),
            ("b", 1.0, {"structure": "interacting"}),
        )
    ]
    assert bench.ranks(runs, 1)["a"] == {("additive", 0, 1): 1.0, ("interacting", 0, 1): 2.0}


@pytest.mark.parametrize("instance", range(12))
def test_an_interacting_instance_reaches_0_and_nothing_is_below(instance: int) -> None:
    """Its best pair of the first two categoricals' choices, the other categoricals at their
    best and the numeric parameters at theirs, scores 0; every other pair scores more or as
    much."""
    import itertools

    bench = _bench()
    problem = bench.make_interacting(instance)
    assert problem == bench.make_interacting(instance)
    assert problem.categoricals == bench.make(instance).categoricals
    scores = []
    for a, b in itertools.product(problem.categoricals["c0"], problem.categoricals["c1"]):
        params = _best(problem)
        params["c0"], params["c1"] = a, b
        params = {**params, **_numeric_best(problem, a)}
        scores.append(problem.score(params))
    assert min(scores) == pytest.approx(0.0, abs=1e-9)
    assert len({round(v, 9) for v in scores}) > 1  # the pairs matter


def _numeric_best(problem: Any, first_choice: str) -> dict[str, float]:
    """The numeric parameters at their best for the first categorical's ``first_choice``."""
    return {
        k: v
        for k, v in _best(problem, {"c0": first_choice}).items()
        if k in {p.name for p in problem.numerics}
    }


def test_stored_runs_are_taken_once_and_a_wrong_versus_is_named(tmp_path: Any) -> None:
    import json

    bench = _bench()
    run = {"tuner": "a", "instance": 0, "seed": 1, "regret": [1.0] * 10}
    (tmp_path / "x.json").write_text(json.dumps({"runs": [run]}))
    (tmp_path / "y.json").write_text(json.dumps({"runs": [{**run, "regret": [2.0] * 10}]}))
    runs = bench.stored([tmp_path / "x.json", tmp_path / "y.json"])
    assert [r["regret"][0] for r in runs] == [1.0]
    with pytest.raises(SystemExit, match="--versus a:b: name two of the tuners run \\(a\\)"):
        bench.report(runs, ["a:b"])
