"""Study outcomes from compare's records, and budget-matched (equal-epochs) comparisons.

The records here are built by hand; ``tests/pruners/test_oracle.py`` reads real ones from
``hyperlab.compare``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from hyperlab.errors import InputError
from hyperlab.lab.outcomes import (
    StudyOutcome,
    epochs_fraction,
    group_means,
    group_wins,
    merge_outcomes,
    pair_studies,
    paired_regret,
    read_outcomes,
    regret_differences,
    study_outcomes,
)
from hyperlab.lab.stats import bootstrap_interval


def study(pruner: str, seed: int, trials: list[tuple[str, int, float]], **labels: Any) -> list:
    """Records of one study: ``(state, epochs, value)`` per trial; regret is the running best
    of the complete trials' values (the optimum is 0)."""
    out, best, used = [], math.inf, 0
    for number, (state, epochs, value) in enumerate(trials):
        used += epochs
        if state == "COMPLETE":
            best = min(best, value)
        regret = best if math.isfinite(best) else math.nan
        out.append(
            {"tuner": "random", "pruner": pruner, "seed": seed, "trial": number, "state": state}
            | {"regret": regret, "epochs_cumulative": used, **labels}
        )
    return out


FULL = [("COMPLETE", 10, 0.5), ("COMPLETE", 10, 0.3), ("COMPLETE", 10, 0.4), ("COMPLETE", 10, 0.1)]
PRUNED = [("COMPLETE", 10, 0.5), ("PRUNED", 2, 0.0), ("COMPLETE", 10, 0.2), ("PRUNED", 2, 0.0)]


def test_one_outcome_per_study_with_its_epochs_regret_and_improvements() -> None:
    records = study("none", 0, FULL)[::-1] + study("median", 0, PRUNED)[::-1]
    none, median = study_outcomes(records)  # studies in order, each in trial order
    assert none.labels == {"tuner": "random", "pruner": "none", "seed": 0}
    assert (none.epochs, none.regret, none.complete) == (40, 0.1, 4)
    assert none.improvements == [(10, 0.5), (20, 0.3), (40, 0.1)]
    assert (median.epochs, median.regret, median.complete) == (24, 0.2, 2)
    assert median.improvements == [(10, 0.5), (22, 0.2)]
    assert math.isnan(none.regret_at(9)) and none.regret_at(30) == 0.3 and none.regret_at(40) == 0.1


def test_an_outcome_round_trips_through_plain_data() -> None:
    (outcome,) = study_outcomes(study("none", 3, FULL, task="t"), by=("task", "pruner", "seed"))
    data = outcome.to_dict()
    assert data["task"] == "t" and data["improvements"][0] == [10, 0.5]
    assert StudyOutcome.from_dict(data) == outcome
    with pytest.raises(InputError, match="epochs"):
        StudyOutcome.from_dict({"task": "t", "regret": 0.1})
    with pytest.raises(InputError, match="lacks \\['task'\\]"):
        study_outcomes(study("none", 0, FULL), by=("task", "pruner", "seed"))


def test_runs_merge_by_concatenating_their_labelled_records() -> None:
    a = [r | {"task": "a"} for r in study("curve", 0, PRUNED)]
    b = [r | {"task": "b"} for r in study("curve", 0, FULL)]
    outcomes = study_outcomes(a + b, by=("task", "pruner", "seed"))
    assert [o.labels["task"] for o in outcomes] == ["a", "b"]
    assert len(study_outcomes(a + b)) == 1  # not told apart without the label


def test_paired_and_budget_matched_differences() -> None:
    records = []
    for seed in range(3):
        records += [r | {"task": "t"} for r in study("none", seed, FULL)]
        records += [r | {"task": "t"} for r in study("median", seed, PRUNED)]
    outcomes = study_outcomes(records, by=("task", "tuner", "pruner", "seed"))
    pairs = pair_studies(outcomes, {"pruner": "median"}, {"pruner": "none"})
    assert [(a.labels["seed"], b.labels["seed"]) for a, b in pairs] == [(0, 0), (1, 1), (2, 2)]
    assert regret_differences(pairs) == pytest.approx([0.1] * 3)  # 0.2 - 0.1 at the end
    # at equal epochs (median's 24): none had reached 0.3, median 0.2
    assert regret_differences(pairs, at="equal") == pytest.approx([-0.1] * 3)
    assert regret_differences(pairs, at=10) == pytest.approx([0.0] * 3)
    assert all(math.isnan(d) for d in regret_differences(pairs, at=5))
    with pytest.raises(InputError, match="at must be"):
        regret_differences(pairs, at="half")
    interval = paired_regret(outcomes, {"pruner": "median"}, {"pruner": "none"}, at="equal")
    assert interval == bootstrap_interval(regret_differences(pairs, at="equal"))
    assert interval.below == 3 and interval.n == 3
    assert group_wins(pairs, at="equal") == (1, 0, 1)
    assert group_wins(pairs, at="final") == (0, 0, 1)
    assert group_wins(pairs, at=5) == (0, 1, 1)  # neither had completed a trial: a tie


def test_a_rival_arm_must_not_hold_two_studies_of_one_pair() -> None:
    outcomes = study_outcomes(study("none", 0, FULL) + study("none", 1, FULL))
    with pytest.raises(InputError, match="share the labels"):
        pair_studies(outcomes, {"pruner": "none"}, {"pruner": "none"}, match=("tuner",))
    assert pair_studies(outcomes, {"pruner": "median"}, {"pruner": "none"}) == []


def test_group_means_and_the_fraction_of_epochs() -> None:
    records = [r | {"task": "t"} for r in study("none", 0, FULL) + study("median", 0, PRUNED)]
    records += [r | {"task": "u"} for r in study("none", 0, FULL) + study("median", 0, FULL)]
    outcomes = study_outcomes(records, by=("task", "tuner", "pruner", "seed"))
    means = group_means(outcomes, {"pruner": "median"})
    assert means == {("t", "random"): 0.2, ("u", "random"): 0.1}
    assert group_means(outcomes, {"pruner": "median"}, "epochs")[("t", "random")] == 24
    assert epochs_fraction(outcomes, {"pruner": "median"}, {"pruner": "none"}) == (0.6 + 1) / 2
    assert math.isnan(epochs_fraction(outcomes, {"pruner": "median"}, {"pruner": "asha"}))
    with pytest.raises(InputError, match="value"):
        group_means(outcomes, {"pruner": "none"}, "seconds")


def test_merged_runs_keep_every_study_and_a_rerun_replaces_the_first() -> None:
    first = study_outcomes(study("none", 0, FULL) + study("median", 0, PRUNED))
    more = study_outcomes(study("none", 1, FULL))
    rerun = study_outcomes(study("median", 0, FULL))
    merged = merge_outcomes(first, more, rerun)
    assert [(o.labels["pruner"], o.labels["seed"]) for o in merged] == [
        ("none", 0),
        ("none", 1),
        ("median", 0),
    ]
    assert merged[-1].regret == 0.1  # the rerun's


def test_group_means_at_an_epoch_budget() -> None:
    outcomes = study_outcomes(study("none", 0, FULL) + study("none", 1, PRUNED))
    assert group_means(outcomes, {"pruner": "none"}, group=("tuner",), at=20) == {
        ("random",): pytest.approx((0.3 + 0.5) / 2)
    }
    assert math.isnan(
        group_means(outcomes, {"pruner": "none"}, group=("tuner",), at=5)[("random",)]
    )


def test_outcomes_read_back_from_result_files(tmp_path: Path) -> None:
    first = study_outcomes(study("none", 0, FULL))
    rerun = study_outcomes(study("none", 0, PRUNED)) + study_outcomes(study("none", 1, FULL))
    for name, outcomes, made in (("a.json", first, "run a"), ("b.json", rerun, None)):
        data = {"studies": [o.to_dict() for o in outcomes], "provenance": {"command": name}}
        (tmp_path / name).write_text(json.dumps(data | ({"produced_by": made} if made else {})))
    outcomes, sources = read_outcomes([tmp_path / "a.json", tmp_path / "b.json"])
    assert outcomes == rerun
    assert sources == {"a.json": "run a", "b.json": {"command": "b.json"}}
    (tmp_path / "c.json").write_text("{}")
    with pytest.raises(InputError, match="no 'studies'"):
        read_outcomes([tmp_path / "c.json"])


def test_rows_read_with_the_csv_module_give_the_same_outcomes() -> None:
    def as_csv(record: dict[str, Any]) -> dict[str, str]:  # what csv.DictReader gives
        return {
            k: "" if isinstance(v, float) and math.isnan(v) else str(v) for k, v in record.items()
        }

    records = study("median", 0, [("PRUNED", 2, 0.0), *PRUNED])
    (read,), (built,) = study_outcomes([as_csv(r) for r in records]), study_outcomes(records)
    assert read.labels == {"tuner": "random", "pruner": "median", "seed": "0"}  # text, as read
    assert (read.epochs, read.regret, read.complete, read.improvements) == (
        built.epochs,
        built.regret,
        built.complete,
        built.improvements,
    )


def test_records_without_a_regret_or_with_a_bad_field_are_refused_by_name() -> None:
    records = study("none", 0, FULL)
    no_optimum = [r | {"regret": ""} for r in records]  # results.csv of a task with none
    with pytest.raises(InputError, match="no completed trial of the records has a regret"):
        study_outcomes(no_optimum)
    with pytest.raises(InputError, match="a record's 'epochs_cumulative' is not a number: 'ten'"):
        study_outcomes([records[0] | {"epochs_cumulative": "ten"}])
