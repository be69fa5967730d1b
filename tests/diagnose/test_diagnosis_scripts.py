"""The labelled-set generator's task choice and the benchmark's score of the shipped model."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from hyperlab.diagnose import diagnose
from hyperlab.diagnose.training import prediction, score
from tests.modules import load_script

from .test_diagnose import good_fit, lr_too_high, overfitting


def _load(relative: str) -> ModuleType:
    return load_script(relative)


def test_unseen_tasks_come_after_the_three_so_their_random_streams_stay() -> None:
    gen = _load("scripts/make_diagnosis_set.py")
    assert list(gen.ALL_TASKS)[:3] == list(gen.TASKS)
    assert list(gen.TASKS) == ["digits-mlp", "breast-cancer-mlp", "wine-mlp"]
    assert gen.ALL_TASKS["iris-mlp"] == ("iris", 150)
    assert gen.ALL_TASKS["blobs-mlp"] == ("blobs", 60)
    # small-model exists where logistic regression falls short of what an MLP can do
    assert "small-model" not in gen._causes("iris-mlp")
    assert "small-model" in gen._causes("blobs-mlp")
    assert "small-model" in gen._causes("digits-mlp")
    assert gen._causes("wine-mlp") == gen._causes("iris-mlp")


def test_the_fresh_tasks_come_last_and_keep_small_model() -> None:
    gen = _load("scripts/make_diagnosis_set.py")
    assert list(gen.ALL_TASKS)[:5] == [*gen.TASKS, *gen.UNSEEN_TASKS]
    fresh = ["hastie-mlp", "classif6-mlp", "imb3-mlp", "clusters2-mlp"]
    assert list(gen.ALL_TASKS)[5:] == fresh  # appended: the others' random streams stay
    assert gen.ALL_TASKS["hastie-mlp"] == ("hastie", 60)
    assert gen.ALL_TASKS["classif6-mlp"] == ("classif6", 60)
    assert gen.ALL_TASKS["imb3-mlp"] == ("imb3", 60)
    assert gen.ALL_TASKS["clusters2-mlp"] == ("clusters2", 60)
    # logistic regression reaches 0.44-0.65 there: a 1-3-unit layer can be too small
    assert all(gen._causes(t) == gen._causes("digits-mlp") for t in fresh)


def test_the_generator_refuses_an_unknown_task(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    gen = _load("scripts/make_diagnosis_set.py")
    monkeypatch.setattr(sys, "argv", ["make_diagnosis_set.py", "--tasks", "mnist-mlp"])
    with pytest.raises(SystemExit):
        gen.main()
    assert "invalid choice: 'mnist-mlp'" in capsys.readouterr().err


def _labelled(curves: dict[str, list[float]], cause: str, label: str) -> dict[str, Any]:
    advice = {"lr": "down" if label == "lr-too-high" else "keep", "reg": "keep"}
    return {"task": "x-mlp", "cause": cause, "label": label, "advice": advice, "curves": curves}


def test_the_shipped_score_diagnoses_each_run_as_a_user_would() -> None:
    bench = _load("benchmarks/diagnose_accuracy.py")
    runs = [
        _labelled(good_fit(30), "baseline", "good-fit"),
        _labelled(overfitting(40), "low-reg", "overfitting"),
        _labelled(lr_too_high(30), "lr-high", "lr-too-high"),
        _labelled(good_fit(35), "lr-high", "lr-too-high"),  # a miss: it reads as a good fit
    ]
    res = bench.score_shipped(runs)
    shipped = [prediction(diagnose(r["curves"])) for r in runs]
    rules = [prediction(diagnose(r["curves"], use_model=False)) for r in runs]
    assert res["shipped"] == score(runs, shipped)
    assert res["rules_only"] == score(runs, rules)
    assert res["n_runs"] == 4 and res["tasks"] == ["x-mlp"]
    by_cause = res["by_cause_shipped"]
    assert list(by_cause) == ["baseline", "low-reg", "lr-high"]
    assert by_cause["lr-high"]["expected"] == "lr-too-high"
    assert sum(by_cause["lr-high"]["primary"].values()) == 2
    assert (
        by_cause["lr-high"]["recall"]
        == [p["primary"] for p in shipped[2:]].count("lr-too-high") / 2
    )


def test_the_shipped_score_trains_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = _load("benchmarks/diagnose_accuracy.py")
    argv = ["diagnose_accuracy.py", "--shipped", "--data", "a.json", "--train-sets", "b.json"]
    monkeypatch.setattr(sys, "argv", [*argv, "--out", "x.json"])
    with pytest.raises(SystemExit):
        bench.main()
    assert "--train-sets cannot go with it" in capsys.readouterr().err
    monkeypatch.setattr(sys, "argv", argv[:4])
    with pytest.raises(SystemExit):
        bench.main()
    assert "--shipped needs --out" in capsys.readouterr().err


def test_the_five_task_protocol_averages_over_tasks_not_runs() -> None:
    bench = _load("benchmarks/diagnose_tasks.py")

    def task(ba: float, lr: float | None, n: int) -> dict[str, Any]:
        return {
            "score": {
                "n": n,
                "balanced_accuracy": ba,
                "lr_direction_moves": lr,
                "reg_direction_moves": 1.0,
            }
        }

    out = bench.summary({"a": task(0.9, 1.0, 1000), "b": task(0.6, None, 10)})
    assert out["mean_balanced_accuracy"] == pytest.approx(0.75)
    assert out["mean_lr_direction_moves"] == 1.0  # a task with no lr move does not count
    assert out["mean_reg_direction_moves"] == 1.0


def test_the_trained_model_records_the_sets_and_tasks_it_was_trained_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gzip
    import json

    from hyperlab.diagnose import classifier as clf

    from .test_training import _runs

    train = _load("scripts/train_diagnosis_model.py")
    runs = _runs(1)
    with gzip.open(tmp_path / "s.json.gz", "wt", encoding="utf-8") as fh:
        json.dump({"runs": runs}, fh)
    out = tmp_path / "model.json"
    argv = ["train_diagnosis_model.py", "--sets", str(tmp_path / "s.json.gz"), "--weights", "0.5"]
    monkeypatch.setattr(sys, "argv", [*argv, "--tree-stages", "3", "--out", str(out)])
    train.main()
    record = json.loads(out.read_text())["trained_on"]
    assert record["sets"] == ["s.json.gz"] and record["n_runs"] == len(runs)
    assert record["tasks"] == {"a-mlp": 4, "b-mlp": 4, "c-mlp": 4}
    assert clf.load.__wrapped__(str(out)) is not None  # a model diagnose() can read
