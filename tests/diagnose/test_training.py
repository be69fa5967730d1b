from __future__ import annotations

import gzip
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hyperlab.diagnose import MODEL_WEIGHT, diagnose
from hyperlab.diagnose import classifier as clf
from hyperlab.diagnose.training import (
    LabelledRuns,
    Settings,
    by_cause,
    choose_weight,
    held_out,
    load_runs,
    prediction,
    score,
    tasks_held_out,
    train_model,
)
from hyperlab.errors import InputError

from .test_diagnose import diverged, good_fit, lr_too_high, overfitting, underfitting

FAST = Settings(c=1.0, n_stages=3, depth=1)
ADVICE = {
    "good-fit": {"lr": "keep", "reg": "keep"},
    "overfitting": {"lr": "keep", "reg": "up"},
    "underfitting": {"lr": "keep", "reg": "down"},
    "lr-too-high": {"lr": "down", "reg": "keep"},
}
SHAPES = {
    "good-fit": good_fit,
    "overfitting": overfitting,
    "underfitting": underfitting,
    "lr-too-high": lr_too_high,
}


def _runs(per_label: int) -> list[dict[str, Any]]:
    """Labelled runs of three tasks: each label's curve shape, stretched a little per run."""
    runs = []
    for t, task in enumerate(("a-mlp", "b-mlp", "c-mlp")):
        for label, shape in SHAPES.items():
            for k in range(per_label):
                curves = shape(30 + 5 * k + t)
                scale = 1.0 + 0.1 * t
                curves = {n: [v * scale for v in c] for n, c in curves.items()}
                runs.append(
                    {"task": task, "label": label, "advice": ADVICE[label], "curves": curves}
                )
    return runs


def test_load_runs_reads_plain_and_gzipped_sets_with_null_as_nan(tmp_path: Path) -> None:
    payload = {"runs": [{"task": "a", "curves": {"val_loss": [1.0, None, 0.5]}}]}
    (tmp_path / "s.json").write_text(json.dumps(payload))
    with gzip.open(tmp_path / "s.json.gz", "wt", encoding="utf-8") as fh:
        json.dump(payload, fh)
    for name in ("s.json", "s.json.gz"):
        (run,) = load_runs(tmp_path / name)
        assert run["curves"]["val_loss"][0] == 1.0 and math.isnan(run["curves"]["val_loss"][1])


def test_predictions_are_the_diagnoses_that_diagnose_makes() -> None:
    blown_up = {"task": "a-mlp", "label": "lr-too-high", "curves": diverged()}
    runs = [*_runs(1), {**blown_up, "advice": ADVICE["lr-too-high"]}]
    data = LabelledRuns(runs)
    rows = np.arange(len(runs))
    for model, weight, use_model in (
        (None, 0.0, False),
        (clf.load(), clf.blend_weight(MODEL_WEIGHT), True),
    ):
        for run, pred in zip(runs, data.predict(rows, model, weight)):
            d = diagnose(run["curves"], use_model=use_model)
            lr, wd = d.advice_for("lr"), d.advice_for("weight_decay")
            assert pred == {
                "primary": d.primary.name,
                "lr": lr.direction if lr else "keep",
                "reg": wd.direction if wd else "keep",
            }


def test_prediction_reads_a_diagnosis_as_score_compares_it() -> None:
    d = diagnose(overfitting(40))
    wd = d.advice_for("weight_decay")
    assert wd is not None and wd.direction == "up"
    assert prediction(d) == {"primary": "overfitting", "lr": "keep", "reg": "up"}
    # a configuration without the knobs gets no advice on them: read as "keep"
    d = diagnose(overfitting(40), {"width": 64})
    assert d.advice_for("weight_decay") is None and d.advice_for("lr") is None
    assert prediction(d) == {"primary": "overfitting", "lr": "keep", "reg": "keep"}


def test_score_counts_balanced_accuracy_and_advice_directions() -> None:
    runs = [
        {"label": "a", "advice": {"lr": "up", "reg": "keep"}},
        {"label": "a", "advice": {"lr": "keep", "reg": "keep"}},
        {"label": "b", "advice": {"lr": "down", "reg": "keep"}},
    ]
    preds = [
        {"primary": "a", "lr": "up", "reg": "keep"},
        {"primary": "b", "lr": "up", "reg": "keep"},
        {"primary": "b", "lr": "up", "reg": "down"},
    ]
    s = score(runs, preds)
    assert s["balanced_accuracy"] == pytest.approx((1 / 2 + 1) / 2)
    assert s["accuracy"] == pytest.approx(2 / 3)
    assert s["lr_direction_all"] == pytest.approx(1 / 3)
    assert (s["lr_direction_moves"], s["lr_n_moves"]) == (0.5, 2)
    assert (s["reg_direction_moves"], s["reg_n_moves"]) == (None, 0)
    with pytest.raises(InputError, match="3 runs but 2 predictions"):
        score(runs, preds[:2])


def _spy_on_fits(data: LabelledRuns) -> list[set[str]]:
    """The tasks of each model ``data`` fits from now on, in order."""
    fitted: list[set[str]] = []
    fit = data.fit

    def spy(rows: np.ndarray, settings: Settings = FAST) -> clf.Ensemble:
        fitted.append(set(data.tasks[rows].tolist()))
        return fit(rows, settings)

    data.fit = spy  # type: ignore[method-assign]
    return fitted


def test_a_held_out_task_never_trains_the_model_that_scores_it() -> None:
    data = LabelledRuns(_runs(1))
    fitted = _spy_on_fits(data)
    scored = data.rows(["a-mlp", "b-mlp"])
    preds, chosen = held_out(data, scored, [0.5, 1.0], FAST)
    assert len(preds) == len(scored) and set(chosen) == {"a-mlp", "b-mlp"}
    assert all(c["weight"] in (0.5, 1.0) for c in chosen.values())
    assert fitted and all(len(tasks) < 3 for tasks in fitted)
    for task in ("a-mlp", "b-mlp"):  # the outer model of each task is trained on the other two
        assert {"a-mlp", "b-mlp", "c-mlp"} - {task} in fitted


def test_every_task_is_scored_by_a_model_that_never_saw_it() -> None:
    runs = [{**r, "cause": f"{r['label']}-cause"} for r in _runs(1)]
    data = LabelledRuns(runs)
    fit = data.fit  # the real one, to train the expected model
    fitted = _spy_on_fits(data)
    out = tasks_held_out(data, 0.5, FAST)
    assert list(out) == ["a-mlp", "b-mlp", "c-mlp"]
    assert fitted == [{"b-mlp", "c-mlp"}, {"a-mlp", "c-mlp"}, {"a-mlp", "b-mlp"}]
    model = fit(data.rows(["b-mlp", "c-mlp"]), FAST)
    test = data.rows(["a-mlp"])
    expected = score([runs[i] for i in test], data.predict(test, model, 0.5))
    assert out["a-mlp"]["score"] == expected
    assert out["a-mlp"]["by_cause"]["good-fit-cause"]["expected"] == "good-fit"
    # only the tasks allowed to train do: the others are scored all the same
    fitted.clear()
    out = tasks_held_out(data, 0.5, FAST, train_tasks=["a-mlp", "b-mlp"])
    assert list(out) == ["a-mlp", "b-mlp", "c-mlp"]
    assert fitted == [{"b-mlp"}, {"a-mlp"}, {"a-mlp", "b-mlp"}]


def test_held_out_tasks_refuse_unknown_training_tasks_and_an_empty_training_pool() -> None:
    data = LabelledRuns(_runs(1))
    with pytest.raises(InputError, match=r"train_tasks \['z-mlp'\] are no task"):
        tasks_held_out(data, 0.5, FAST, train_tasks=["a-mlp", "z-mlp"])
    with pytest.raises(InputError, match="holding out 'a-mlp' leaves no run to train on"):
        tasks_held_out(data, 0.5, FAST, train_tasks=["a-mlp"])


def test_by_cause_counts_the_findings_made_for_each_cause() -> None:
    runs = [
        {"cause": "baseline", "label": "good-fit"},
        {"cause": "lr-low", "label": "lr-too-low"},
        {"cause": "baseline", "label": "good-fit"},
    ]
    preds = [{"primary": "good-fit"}, {"primary": "lr-too-low"}, {"primary": "underfitting"}]
    out = by_cause(runs, preds)
    assert list(out) == ["baseline", "lr-low"]
    assert out["baseline"] == {
        "expected": "good-fit",
        "recall": 0.5,
        "primary": {"good-fit": 1, "underfitting": 1},
    }
    with pytest.raises(InputError, match="3 runs but 2 predictions"):
        by_cause(runs, preds[:2])


def test_fits_are_remembered_and_train_on_both_views_of_each_run() -> None:
    data = LabelledRuns(_runs(1))
    rows = data.rows(exclude="c-mlp")
    model = data.fit(rows, FAST)
    assert data.fit(rows.copy(), FAST) is model
    assert model.classes == sorted(SHAPES)
    assert data.x.shape == data.x_losses.shape == (len(data.runs), len(clf.INPUT_NAMES))


def test_the_weight_is_chosen_on_two_tasks_or_more_and_ties_go_to_the_even_blend() -> None:
    data = LabelledRuns(_runs(1))
    weight, acc = choose_weight(data, ["a-mlp", "b-mlp", "c-mlp"], [0.5], FAST)
    assert weight == 0.5 and set(acc) == {0.5}
    with pytest.raises(InputError, match="two tasks or more"):
        choose_weight(data, ["a-mlp"], [0.5], FAST)
    with pytest.raises(InputError, match="no labelled runs"):
        LabelledRuns([])


def test_train_model_fits_every_run() -> None:
    data = LabelledRuns(_runs(1))
    model, weight, acc = train_model(data, [0.25, 0.75], FAST)
    assert model is data.fit(np.arange(len(data.runs)), FAST)
    assert weight in (0.25, 0.75) and acc[weight] == max(acc.values())
    assert train_model(data, [0.5], FAST) == (model, 0.5, {})  # one candidate: taken as given
    with pytest.raises(InputError, match="no candidate blend weight"):
        train_model(data, [], FAST)
    clone = clf.from_dict(json.loads(json.dumps({**model.to_dict(), "blend_weight": weight})))
    np.testing.assert_allclose(clone.predict_proba(data.x), model.predict_proba(data.x), atol=1e-5)
