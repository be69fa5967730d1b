"""``benchmarks/meta_trap.py`` counts the runs that end worse than random search's median."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest

from tests.modules import load_script


def _bench() -> ModuleType:
    return load_script("benchmarks/meta_trap.py", "meta_trap_bench")


def _file(path: Path, runs: list[tuple[str, str, int, list[float]]]) -> Path:
    tasks = list(dict.fromkeys(t for t, *_ in runs))
    rows = [{"task": t, "tuner": u, "seed": s, "regret": r} for t, u, s, r in runs]
    path.write_text(json.dumps({"tasks": tasks, "runs": rows}))
    return path


def test_runs_above_random_searchs_median_are_counted_per_problem(tmp_path: Path) -> None:
    bench = _bench()
    random = [("p", "random", s, [9.0, v]) for s, v in enumerate([1.0, 2.0, 3.0])]  # median 2
    first = _file(tmp_path / "a.json", [*random, ("p", "meta", 0, [9.0, 2.5])])
    later = [("p", "meta", 1, [9.0, 2.0]), ("p", "meta", 2, [9.0, 7.0])]  # 2.0: a tie, not above
    second = _file(tmp_path / "b.json", [*later, ("p", "meta", 0, [9.0, 0.5])])  # replaces 2.5
    tasks, runs = bench.load([first, second])
    table = bench.trapped(runs, tasks, ["random", "meta"], at=2)
    assert table["p"]["meta"] == {"trapped": 1, "seeds": 3, "median": 2.0}
    assert table["p"]["random"]["trapped"] == 1
    assert bench.trapped(runs, tasks, ["meta"], at=1)["p"]["meta"]["trapped"] == 0


def test_a_problem_without_random_search_is_refused_by_name(tmp_path: Path) -> None:
    bench = _bench()
    tasks, runs = bench.load([_file(tmp_path / "a.json", [("q", "meta", 0, [1.0])])])
    with pytest.raises(SystemExit, match="q: no run of random search"):
        bench.trapped(runs, tasks, ["meta"], at=1)
