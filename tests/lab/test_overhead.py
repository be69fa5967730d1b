from __future__ import annotations

import json
import math
import statistics

import pytest

from hyperlab.errors import InputError, InputTypeError, UnknownNameError
from hyperlab.lab.overhead import SuggestionCost, filled_study, suggestion_cost
from hyperlab.registry import TASKS


def test_the_same_seed_fills_the_same_study_for_every_tuner() -> None:
    task = TASKS.create("branin")
    a, b = filled_study(task, 6, seed=3), filled_study(task, 6, seed=3)
    assert len(a.trials) == 6
    assert [t.params for t in a.trials] == [t.params for t in b.trials]
    assert [t.value for t in a.trials] == [task.evaluate(t.params).value for t in a.trials]
    assert [t.params for t in filled_study(task, 6, seed=4).trials] != [t.params for t in a.trials]


@pytest.mark.parametrize("tuner", ["random", "tpe"])
def test_times_the_first_suggestion_apart_and_then_each_one(tuner: str) -> None:
    cost = suggestion_cost(tuner, "branin", 8, suggestions=4, seed=1)
    assert (cost.tuner, cost.task, cost.trials) == (tuner, "branin", 8)
    assert cost.first_s > 0 and len(cost.times_s) == 4 and not cost.stopped_early
    assert all(t > 0 for t in cost.times_s)
    row = json.loads(json.dumps(cost.as_dict()))
    assert row["median_s"] == pytest.approx(statistics.median(cost.times_s))
    assert row["mean_s"] == pytest.approx(sum(cost.times_s) / 4)
    assert row["max_s"] == max(cost.times_s)


def test_max_seconds_stops_after_the_first_and_one_more_suggestion() -> None:
    cost = suggestion_cost("random", TASKS.create("branin"), 0, suggestions=50, max_seconds=1e-9)
    assert len(cost.times_s) == 1 and cost.stopped_early


def test_an_empty_cost_has_no_median() -> None:
    cost = SuggestionCost("random", "branin", 0, 0.1)
    assert math.isnan(cost.median_s) and math.isnan(cost.mean_s)
    assert math.isnan(cost.as_dict()["max_s"])


def test_bad_settings_are_refused_by_name() -> None:
    with pytest.raises(InputError, match="trials must be at least 0, got -1"):
        suggestion_cost("random", "branin", -1)
    with pytest.raises(InputError, match="suggestions must be at least 1, got 0"):
        suggestion_cost("random", "branin", 5, suggestions=0)
    with pytest.raises(InputTypeError, match=r"trials must be an int, got 2\.5"):
        suggestion_cost("random", "branin", 2.5)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="max_seconds must be positive, got 0"):
        suggestion_cost("random", "branin", 5, max_seconds=0)
    with pytest.raises(InputTypeError, match="max_seconds must be a number or None"):
        suggestion_cost("random", "branin", 5, max_seconds="1")  # type: ignore[arg-type]
    with pytest.raises(UnknownNameError, match="no-such-tuner"):
        suggestion_cost("no-such-tuner", "branin", 5)
    with pytest.raises(InputError, match="tuner 'random' takes no option 'n_startup'"):
        suggestion_cost("random", "branin", 5, tuner_options={"n_startup": 3})
    with pytest.raises(InputError, match="'seed' is set by suggestion_cost"):
        suggestion_cost("random", "branin", 5, tuner_options={"seed": 3})


def test_options_the_tuner_takes_are_passed_on() -> None:
    cost = suggestion_cost("tpe", "branin", 3, suggestions=1, tuner_options={"constant_liar": True})
    assert len(cost.times_s) == 1
