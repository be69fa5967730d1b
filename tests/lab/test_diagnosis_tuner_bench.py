"""``benchmarks/diagnosis_tuner.py --from``: stored results merged, the first file's runs first."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest

from tests.modules import load_script


def _bench() -> ModuleType:
    return load_script("benchmarks/diagnosis_tuner.py", "diagnosis_tuner_bench")


def _file(path: Path, studies: list[tuple[str, int, float]], task: str = "wine-mlp") -> Path:
    rows = [{"tuner": t, "seed": s, "best_so_far": [v]} for t, s, v in studies]
    path.write_text(json.dumps({"task": task, "epochs": 12, "trials": 1, "studies": rows}))
    return path


def test_a_tuner_run_again_replaces_its_earlier_runs_and_keeps_the_others(tmp_path: Path) -> None:
    new = _file(tmp_path / "new.json", [("diagnosis", 0, 0.1), ("diagnosis", 1, 0.2)])
    old = _file(
        tmp_path / "old.json",
        [("diagnosis", 0, 0.9), ("diagnosis", 1, 0.9), ("random", 0, 0.5), ("random", 1, 0.6)],
    )
    first, studies = _bench().merged([new, old])
    assert first["task"] == "wine-mlp"
    got = {(s["tuner"], s["seed"]): s["best_so_far"][0] for s in studies}
    assert got == {
        ("diagnosis", 0): 0.1,
        ("diagnosis", 1): 0.2,
        ("random", 0): 0.5,
        ("random", 1): 0.6,
    }
    assert [s["tuner"] for s in studies][:2] == ["diagnosis", "diagnosis"]  # compared first


def test_files_of_other_tasks_are_refused_by_name(tmp_path: Path) -> None:
    a = _file(tmp_path / "a.json", [("diagnosis", 0, 0.1)])
    b = _file(tmp_path / "b.json", [("random", 0, 0.1)], task="digits-mlp")
    with pytest.raises(SystemExit, match="differ in task \\(digits-mlp, wine-mlp\\)"):
        _bench().merged([a, b])


def test_a_tuner_run_again_on_fewer_seeds_keeps_none_of_its_earlier_runs(tmp_path: Path) -> None:
    """A tuner's row held the new runs' seeds and the earlier runs' other seeds (two models
    under one name, counted as one row of 2 seeds); it is the new runs' alone, and the header
    says how many seeds each tuner has."""
    bench = _bench()
    new = _file(tmp_path / "new.json", [("diagnosis", 0, 0.1)])
    old = _file(
        tmp_path / "old.json",
        [("diagnosis", 0, 0.9), ("diagnosis", 1, 0.9), ("random", 0, 0.5), ("random", 1, 0.6)],
    )
    _first, studies = bench.merged([new, old])
    got = sorted((s["tuner"], s["seed"], s["best_so_far"][0]) for s in studies)
    assert got == [("diagnosis", 0, 0.1), ("random", 0, 0.5), ("random", 1, 0.6)]
    assert bench.seed_words(studies, ["diagnosis", "random"]) == "seeds diagnosis 1, random 2"
    assert bench.seed_words(studies[1:], ["random"]) == "2 seeds"
