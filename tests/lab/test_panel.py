"""Running a tuner panel's studies and keeping them in a JSON-lines cache."""

from __future__ import annotations

import math
from itertools import pairwise
from pathlib import Path
from typing import Any

import optuna
import pytest

from hyperlab.errors import InputError, TaskContractError
from hyperlab.lab.panel import append_run, load_runs, run_study, study_curve, trials_to_spend


def test_a_study_gives_the_best_loss_after_each_trial_and_its_costs() -> None:
    run = run_study("branin", "random", seed=1, trials=6, label="random-variant")
    assert run["tuner"] == "random-variant" and run["trials"] == 6
    best = run["best"]
    assert len(best) == 6 and all(a >= b for a, b in pairwise(best))
    assert run["optimum"] == pytest.approx(0.397887, abs=1e-5) and best[-1] >= run["optimum"]
    assert 0.0 <= run["suggest_time"] <= run["wall_time"]
    assert run_study("branin", "random", seed=1, trials=6)["best"] == best  # seeded


def test_an_objective_function_is_refused_by_name(tmp_path: Path) -> None:
    """Every trial failed inside the panel (an objective runs whole trials), and the run read
    best inf: a leaderboard of 'nan' regrets with no word why."""
    script = tmp_path / "acc.py"
    script.write_text("def objective(trial):\n    return trial.suggest_float('x', 0, 1)\n")
    with pytest.raises(InputError, match=r"acc\.py:objective' is an objective f\(trial\)"):
        run_study(f"{script}:objective", "random", seed=0, trials=2)


class _Broken(optuna.samplers.RandomSampler):
    """Raises in ``where`` (``before_trial`` or ``after_trial``) on trial 1 of the panel's
    study (seeded 7; the throwaway study that reads the space is seeded 0)."""

    where = "before_trial"

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(seed=seed)
        self.armed = seed == 7

    def before_trial(self, study: Any, trial: Any) -> None:
        self._break(trial, "before_trial")
        super().before_trial(study, trial)

    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        self._break(trial, "after_trial")
        super().after_trial(study, trial, state, values)

    def _break(self, trial: Any, where: str) -> None:
        if self.armed and trial.number == 1 and where == self.where:
            raise RuntimeError(f"{where} broke")


@pytest.mark.parametrize("where", ["before_trial", "after_trial"])
def test_a_tuner_that_raises_around_a_trial_fails_it_and_the_panel_goes_on(
    where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The panel called study.optimize itself: a sampler's before_trial or after_trial error
    escaped it and ended the whole panel (a before_trial's trial left running)."""
    monkeypatch.setattr(_Broken, "where", where)
    monkeypatch.setattr(optuna.samplers, "RandomSampler", _Broken)
    run = run_study("branin", "random", seed=7, trials=4)
    best = run["best"]
    assert len(best) == 4 and all(math.isfinite(b) for b in best)
    if where == "before_trial":  # trial 1 failed in the tuner: no value, the best unchanged
        assert best[1] == best[0]


def test_a_grid_visited_in_full_ends_the_panels_study() -> None:
    """Trials run one by one, the panel stops where the grid ends (as study.optimize did)."""
    assert len(run_study("branin", "grid", seed=0, trials=12)["best"]) == 9  # 3 x 3 points


def test_a_task_that_breaks_its_contract_stops_the_panel_by_name(tmp_path: Path) -> None:
    """Every trial failed inside the panel, the run read best inf, where tune stops at the
    first trial with the task and the trial named."""
    script = tmp_path / "bare.py"
    script.write_text(
        "from hyperlab.tasks import Task\n"
        "class Bare(Task):\n"
        "    name = 'bare'\n"
        "    max_budget = 1\n"
        "    def search_space(self, trial):\n"
        "        return {'x': trial.suggest_float('x', 0, 1)}\n"
        "    def _evaluate(self, config, budget, seed, on_epoch):\n"
        "        return config['x']\n"
    )
    with pytest.raises(TaskContractError, match=r"bare\.py:Bare', trial 0: .*the run stops"):
        run_study(f"{script}:Bare", "random", seed=0, trials=3)


def test_runs_are_kept_and_read_back_by_trials(tmp_path: Path) -> None:
    path = tmp_path / "runs.jsonl"
    assert load_runs(path, 5) == {}
    with path.open("a") as log:
        append_run(log, {"task": "t", "tuner": "u", "seed": 0, "trials": 5, "best": [1.0]})
        append_run(log, {"task": "t", "tuner": "u", "seed": 1, "trials": 9, "best": [2.0]})
        log.write('{"task": "t", "tun')  # a line cut short by an interruption
    runs = load_runs(path, 5)
    assert list(runs) == [("t", "u", 0)] and runs[("t", "u", 0)]["best"] == [1.0]


def test_runs_can_be_kept_under_another_field(tmp_path: Path) -> None:
    path = tmp_path / "runs.jsonl"
    with path.open("a") as log:
        append_run(log, {"task": "t", "tuner": "u", "seed": 0, "multiples": [5, 10], "best": []})
        append_run(log, {"task": "t", "tuner": "u", "seed": 1, "trials": 5, "best": []})
    assert list(load_runs(path, [5, 10], field="multiples")) == [("t", "u", 0)]


def _record(trial: int, best: float, epochs: int, direction: str = "minimize") -> dict:
    return {
        "trial": trial,
        "best_so_far": best,
        "direction": direction,
        "epochs_cumulative": epochs,
    }


def test_a_study_curve_counts_every_trials_epochs_and_only_complete_values() -> None:
    nan = float("nan")
    records = [_record(2, 0.4, 12), _record(0, nan, 1), _record(1, 0.4, 11)]  # any order
    curve = study_curve(records)
    assert curve == {"best": [math.inf, 0.4, 0.4], "epochs": [1.0, 11.0, 12.0]}
    maximized = study_curve([_record(0, 0.9, 10, "maximize")])
    assert maximized["best"] == [-0.9]
    with pytest.raises(InputError, match="none"):
        study_curve([])
    with pytest.raises(InputError, match="epochs_cumulative"):
        study_curve([{"trial": 0, "best_so_far": 1.0, "direction": "minimize"}])


def test_trials_to_spend_scales_with_what_was_spent() -> None:
    assert trials_to_spend(20, 100.0, 1000.0) == 240  # 20 x 10 x 1.2
    assert trials_to_spend(20, 1000.0, 1000.0, margin=1.0) == 21  # always more
    with pytest.raises(InputError, match="trials"):
        trials_to_spend(0, 1.0, 1.0)
    with pytest.raises(InputError, match="margin"):
        trials_to_spend(5, 0.0, 1.0)
