"""Running a tuner panel's studies and keeping them in a JSON-lines cache."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

from hyperlab.lab.panel import append_run, load_runs, run_study


def test_a_study_gives_the_best_loss_after_each_trial_and_its_costs() -> None:
    run = run_study("branin", "random", seed=1, trials=6, label="random-variant")
    assert run["tuner"] == "random-variant" and run["trials"] == 6
    best = run["best"]
    assert len(best) == 6 and all(a >= b for a, b in pairwise(best))
    assert run["optimum"] == pytest.approx(0.397887, abs=1e-5) and best[-1] >= run["optimum"]
    assert 0.0 <= run["suggest_time"] <= run["wall_time"]
    assert run_study("branin", "random", seed=1, trials=6)["best"] == best  # seeded


def test_runs_are_kept_and_read_back_by_trials(tmp_path: Path) -> None:
    path = tmp_path / "runs.jsonl"
    assert load_runs(path, 5) == {}
    with path.open("a") as log:
        append_run(log, {"task": "t", "tuner": "u", "seed": 0, "trials": 5, "best": [1.0]})
        append_run(log, {"task": "t", "tuner": "u", "seed": 1, "trials": 9, "best": [2.0]})
        log.write('{"task": "t", "tun')  # a line cut short by an interruption
    runs = load_runs(path, 5)
    assert list(runs) == [("t", "u", 0)] and runs[("t", "u", 0)]["best"] == [1.0]
