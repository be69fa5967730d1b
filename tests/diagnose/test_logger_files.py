"""``diagnose`` on the files other tools write, in their own column names and layouts."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hyperlab.cli import main
from hyperlab.diagnose import diagnose, read_curves
from hyperlab.diagnose.figure import figure_data
from hyperlab.errors import InputError
from tests.diagnose.evidence import evidence


def _overfit(n: int = 30) -> tuple[list[float], list[float], list[float]]:
    """Train and validation loss of an overfitting run, and its validation accuracy."""
    t = np.arange(n, dtype=np.float64)
    tr = 1.2 * np.exp(-t / 6) + 0.02
    va = 0.55 + 0.9 * np.exp(-t / 4) + 0.012 * np.maximum(t - 10, 0) ** 1.3
    acc = 0.82 - 0.3 * np.exp(-t / 4) - 0.002 * np.maximum(t - 10, 0)
    return tr.tolist(), va.tolist(), acc.tolist()


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def _canonical(tmp_path: Path) -> dict[str, list[float]]:
    tr, va, acc = _overfit()
    lines = ["epoch,train_loss,val_loss,val_metric"]
    lines += [f"{e},{tr[e]!r},{va[e]!r},{acc[e]!r}" for e in range(len(tr))]
    return read_curves(_write(tmp_path / "canonical.csv", lines))


def test_a_keras_csvlogger_file_is_read_under_its_names(tmp_path: Path) -> None:
    """Keras's CSVLogger (epochs from 0, keys sorted, a learning-rate column from a scheduler)
    was refused: "the header lacks the required column(s) ['train_loss']; ... rename"."""
    tr, va, acc = _overfit()
    lines = ["epoch,accuracy,learning_rate,loss,val_accuracy,val_loss"]
    lines += [
        f"{e},{min(1.0, acc[e] + 0.1)!r},0.001,{tr[e]!r},{acc[e]!r},{va[e]!r}"
        for e in range(len(tr))
    ]
    curves = read_curves(_write(tmp_path / "training.log", lines))
    want = _canonical(tmp_path)
    assert set(curves) == {"train_loss", "val_loss", "train_metric", "val_metric"}
    assert all(curves[k] == want[k] for k in want)
    assert diagnose(curves).primary.name == "overfitting"


def test_a_lightning_metrics_csv_reads_its_epoch_rows_not_its_step_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Lightning's CSVLogger interleaves step rows (``train_loss_step``), a validation row and
    an epoch row (``train_loss_epoch``) under one epoch; the train curve is the epoch rows'."""
    tr, va, acc = _overfit()
    lines = ["epoch,step,train_loss_epoch,train_loss_step,val_acc,val_loss"]
    for e in range(len(tr)):
        last = 25 * e + 24
        lines += [f"{e},{25 * e + s},,{tr[e] * 3 + s!r},," for s in (9, 19)]  # not the curve
        lines += [f"{e},{last},,,{acc[e]!r},{va[e]!r}", f"{e},{last},{tr[e]!r},,,"]
    src = _write(tmp_path / "metrics.csv", lines)
    assert read_curves(src) == _canonical(tmp_path)
    assert main(["diagnose", str(src), "--no-html"]) == 0
    assert "Diagnosis of 30 epochs: overfitting" in capsys.readouterr().out


def test_a_lightning_train_loss_logged_on_steps_alone_is_averaged_per_epoch(
    tmp_path: Path,
) -> None:
    """``self.log("train_loss_step", ...)`` with no epoch-level train loss (``on_epoch=False``)
    was refused without a hint ("the header lacks the required column(s) ['train_loss']").
    Its step rows are averaged per epoch, as Lightning's default on-step ``train_loss`` column
    is; a file without an ``epoch`` column, and curves given in Python, are refused with how
    to log or average it."""
    tr, va, _ = _overfit()
    lines = ["epoch,step,train_loss_step,val_loss"]
    for e in range(len(tr)):
        steps = [(150 * e + s, tr[e] * (1 + d)) for s, d in ((49, -0.05), (99, 0.0), (149, 0.05))]
        lines += [f"{e},{s},{x!r}," for s, x in steps]
        lines.append(f"{e},{150 * e + 149},,{va[e]!r}")
    curves = read_curves(_write(tmp_path / "metrics.csv", lines))
    assert np.allclose(curves["train_loss"], tr) and curves["val_loss"] == va
    assert diagnose(curves).primary.name == "overfitting"
    hint = r"'train_loss_step' holds the loss of single steps.*on_epoch=True"
    no_epoch = [line.split(",", 1)[1] for line in lines]
    with pytest.raises(
        InputError, match=r"lacks the required column\(s\) \['train_loss'\].*" + hint
    ):
        read_curves(_write(tmp_path / "steps.csv", no_epoch))
    with pytest.raises(InputError, match=hint + r".*groupby\('epoch'\)"):
        diagnose({"train_loss_step": tr, "val_loss": va})


@pytest.mark.parametrize("train", ["train_loss_epoch", "train_loss"])
def test_a_lightning_run_validating_twice_an_epoch_keeps_both_validations(
    tmp_path: Path, train: str
) -> None:
    """``val_check_interval=0.5`` writes two validation rows an epoch, at their steps; they were
    averaged into one point (a validation loss half an epoch behind the run's end). Each is a
    point of its own now, at its share of the epoch's steps. A train loss logged on the epoch
    (``train_loss_epoch``) is at the epoch's end only, so the mid-epoch validation is drawn but
    not read; one logged on the steps (``train_loss``, Lightning's default) is read at both."""
    tr, va, _ = _overfit(60)  # point 2e: half way through epoch e, 2e + 1: its end
    lines = [f"epoch,step,{train},val_loss"]
    for e in range(30):
        for k, step in ((2 * e, 100 * e + 49), (2 * e + 1, 100 * e + 99)):
            step_loss = repr(tr[k]) if train == "train_loss" else ""
            lines += [f"{e},{step},{step_loss},", f"{e},{step},,{va[k]!r}"]
        if train == "train_loss_epoch":
            lines.append(f"{e},{100 * e + 99},{tr[2 * e + 1]!r},")
    curves = read_curves(_write(tmp_path / "metrics.csv", lines))
    assert curves["at_epoch"] == [0.5 * (k + 1) for k in range(60)]
    assert curves["val_loss"] == va
    if train == "train_loss":
        assert curves["train_loss"] == tr
    else:
        assert curves["train_loss"][1::2] == tr[1::2]
        assert np.isnan(curves["train_loss"][0::2]).all()
    d = diagnose(curves)
    assert d.n_epochs == 30 and d.primary.name == "overfitting"


def test_a_wandb_export_of_a_keras_run_is_read_under_its_names(tmp_path: Path) -> None:
    """W&B's Keras callback (``WandbMetricsLogger``) logs ``epoch/loss``, ``epoch/val_loss``,
    ``epoch/accuracy``, ``epoch/val_accuracy`` and the epoch as ``epoch/epoch`` (from 0); its
    history, exported with pandas (an index column, ``_step``), was refused: "the header lacks
    the required column(s) ['train_loss', 'val_loss']". With ``log_freq="batch"`` rows of
    ``batch/`` names alone come between the epochs' rows."""
    tr, va, acc = _overfit()
    want = _canonical(tmp_path) | {"train_metric": [min(1.0, a + 0.1) for a in acc]}
    head = "epoch/accuracy,epoch/epoch,epoch/learning_rate,epoch/loss,epoch/val_accuracy,"
    lines = [f",_step,_runtime,{head}epoch/val_loss"]
    lines += [
        f"{e},{e},{3.1 * e + 2!r},{want['train_metric'][e]!r},{e},0.001,{tr[e]!r},{acc[e]!r},"
        f"{va[e]!r}"
        for e in range(len(tr))
    ]
    assert read_curves(_write(tmp_path / "history.csv", lines)) == want
    records = [
        {
            "_step": e,
            "epoch/epoch": e,
            "epoch/loss": tr[e],
            "epoch/val_loss": va[e],
            "epoch/accuracy": want["train_metric"][e],
            "epoch/val_accuracy": acc[e],
        }
        for e in range(len(tr))
    ]
    assert read_curves(_write(tmp_path / "history.json", [json.dumps(records)])) == want
    batches = [",_step,batch/batch_step,batch/loss," + lines[0].split(",", 2)[2]]
    for e, line in enumerate(lines[1:]):
        batches += [
            f"{3 * e + b},{3 * e + b},{50 * (2 * e + b)},{tr[e] * 1.1!r}" + "," * 7 for b in (0, 1)
        ]
        batches.append(f"{3 * e + 2},{3 * e + 2},,," + line.split(",", 2)[2])
    assert read_curves(_write(tmp_path / "batches.csv", batches)) == want


def test_names_with_a_slash_are_read_and_two_names_for_one_curve_are_refused(
    tmp_path: Path,
) -> None:
    tr, va, _ = _overfit()
    lines = ["epoch,train/loss,val/loss"] + [f"{e},{tr[e]!r},{va[e]!r}" for e in range(len(tr))]
    assert read_curves(_write(tmp_path / "slash.csv", lines))["val_loss"] == va
    both = ["epoch,loss,train/loss,val_loss", "0,1.0,1.0,1.1"]
    with pytest.raises(
        InputError, match=r"line 1: the columns \['loss', 'train/loss'\] could each be train_loss"
    ):
        read_curves(_write(tmp_path / "both.csv", both))
    # a file's own name wins over another logger's
    own = ["epoch,loss,train_loss,val_loss"] + [
        f"{e},9.0,{tr[e]!r},{va[e]!r}" for e in range(len(tr))
    ]
    assert read_curves(_write(tmp_path / "own.csv", own))["train_loss"] == tr


def test_curves_given_in_python_keep_diagnoses_names() -> None:
    with pytest.raises(InputError, match="rename 'loss' to 'train_loss'"):
        diagnose({"loss": [1.0, 0.5, 0.4], "val_loss": [1.0, 0.6, 0.5]})


def _trainer_state(steps_per_epoch: int = 1563, logging_steps: int = 500) -> dict[str, Any]:
    """A Hugging Face Trainer's ``trainer_state.json``: training loss every ``logging_steps``,
    an evaluation at each epoch's end, the run's closing summary last."""
    tr, va, acc = _overfit(10)
    history: list[dict[str, Any]] = []
    for e in range(10):
        end = (e + 1) * steps_per_epoch
        for step in range(logging_steps, end + 1, logging_steps):
            if step > e * steps_per_epoch:
                epoch = round(step / steps_per_epoch, 4)
                history.append({"epoch": epoch, "learning_rate": 5e-5, "loss": tr[e], "step": step})
        history.append(
            {
                "epoch": e + 1.0,
                "eval_accuracy": acc[e],
                "eval_loss": va[e],
                "eval_runtime": 3.2,
                "step": end,
            }
        )
    history.append(
        {"epoch": 10.0, "step": 10 * steps_per_epoch, "train_loss": 0.31, "train_runtime": 812.5}
    )
    return {"best_metric": min(va), "global_step": 10 * steps_per_epoch, "log_history": history}


@pytest.mark.parametrize("form", ["trainer_state.json", "log_history.json"])
def test_a_hugging_face_trainer_log_is_one_point_per_evaluation(tmp_path: Path, form: str) -> None:
    """trainer_state.json was refused with its top-level keys ("lack ... ['train_loss',
    'val_loss']; got ['best_metric', ...]"); its log_history with a renaming that led nowhere
    (its only train_loss is the run's closing summary)."""
    state = _trainer_state()
    data = state if form == "trainer_state.json" else state["log_history"]
    curves = read_curves(_write(tmp_path / form, [json.dumps(data)]))
    tr, va, acc = _overfit(10)
    assert curves == {"train_loss": tr, "val_loss": va, "val_metric": acc}
    # an evaluation with no training loss logged since the one before: a missing point
    sparse = _trainer_state(steps_per_epoch=300, logging_steps=500)
    curves = read_curves(_write(tmp_path / "sparse.json", [json.dumps(sparse)]))
    assert np.isnan(curves["train_loss"][0]) and curves["train_loss"][1] == tr[1]
    assert curves["val_loss"] == va


def test_a_trainer_log_without_evaluation_is_refused_with_the_fix(tmp_path: Path) -> None:
    state = _trainer_state()
    state["log_history"] = [r for r in state["log_history"] if "eval_loss" not in r]
    with pytest.raises(
        InputError,
        match=r"state.json: a Hugging Face Trainer log with no evaluation.*eval_strategy",
    ):
        read_curves(_write(tmp_path / "state.json", [json.dumps(state)]))


def test_a_tensorboard_scalar_export_is_refused_with_how_to_join_it(tmp_path: Path) -> None:
    """TensorBoard's "Download CSV" holds one scalar (Wall time, Step, Value); the refusal
    named the columns it lacks, not what the file is."""
    lines = ["Wall time,Step,Value"] + [
        f"{1.7e9 + 12.5 * s!r},{s},{1.0 / (s + 1)!r}" for s in range(9)
    ]
    with pytest.raises(InputError, match=r"TensorBoard's export of one scalar.*joined on Step"):
        read_curves(_write(tmp_path / "run-train-tag-epoch_loss.csv", lines))


def test_accuracy_with_no_loss_is_refused_as_such(tmp_path: Path) -> None:
    """A file of accuracies only was refused with "rename 'train_acc' to 'train_metric', ...",
    after which it still lacked both losses."""
    lines = ["epoch,train_acc,val_acc"] + [
        f"{e},{0.5 + 0.04 * e!r},{0.5 + 0.03 * e!r}" for e in range(10)
    ]
    with pytest.raises(InputError) as info:
        read_curves(_write(tmp_path / "acc.csv", lines))
    assert "'train_acc', 'val_acc' are metrics (higher is better), not a loss" in str(info.value)
    assert "rename" not in str(info.value)
    with pytest.raises(InputError, match=r"'val_accuracy' is a metric.*not a loss"):
        diagnose({"val_accuracy": [0.5, 0.6, 0.7]})


def test_rows_without_an_epoch_are_refused_with_how_to_fill_it(tmp_path: Path) -> None:
    """A W&B history with the epoch logged beside the validation only: the refusal said "the
    'epoch' cell is empty", not what to do."""
    lines = ["_step,epoch,loss,val_loss", "0,,1.0,", "1,,0.9,", "2,0,,1.1"]
    with pytest.raises(InputError, match=r"line 2: the 'epoch' cell is empty; .*bfill"):
        read_curves(_write(tmp_path / "history.csv", lines))


def test_an_error_about_a_curve_names_the_column_it_was_read_from(tmp_path: Path) -> None:
    """A percentage in Lightning's ``val_acc`` was refused as "val_metric is 52", a name the
    file does not hold."""
    lines = ["epoch,loss,val_loss,val_acc", "0,1.0,1.1,52.0", "1,0.8,0.9,61.5", "2,0.7,0.85,66"]
    with pytest.raises(
        InputError,
        match=r"val_metric is 52 .*\(read 'loss' as train_loss, 'val_acc' as val_metric\)$",
    ):
        read_curves(_write(tmp_path / "pct.csv", lines))
    history = {"loss": [1.0, 0.8, 0.7], "val_loss": [1.1, 0.9, 0.85], "val_accuracy": [52.0] * 3}
    with pytest.raises(
        InputError, match=r"\(read 'loss' as train_loss, 'val_accuracy' as val_metric\)$"
    ):
        read_curves(_write(tmp_path / "history.json", [json.dumps(history)]))


def _eval_every(steps: int, steps_per_epoch: int, n: int) -> dict[str, Any]:
    """A Trainer's ``trainer_state.json`` that logs the training loss every ``steps`` steps
    and evaluates at the same steps (``eval_strategy="steps"``), ``n`` times: its ``epoch``
    values are fractions unless ``steps`` is a whole number of epochs."""
    tr, va, _ = _overfit(n)
    history: list[dict[str, Any]] = []
    for i in range(n):
        step = (i + 1) * steps
        epoch = step / steps_per_epoch
        history.append({"epoch": epoch, "grad_norm": 1.3, "loss": tr[i], "step": step})
        history.append({"epoch": epoch, "eval_loss": va[i], "eval_runtime": 3.2, "step": step})
    return {"global_step": n * steps, "log_history": history}


def _same(a: dict[str, list[float]], b: dict[str, list[float]]) -> None:
    """Assert that two read curves are equal, NaN where the other is NaN."""
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[k], b[k], equal_nan=True) for k in a)


def test_a_trainer_log_evaluated_every_other_epoch_is_read_at_its_epochs(tmp_path: Path) -> None:
    """Evaluations every 2 epochs were read as consecutive points: a run of 60 epochs read as
    30, its overfitting onset at "epoch 12 of 30" and its end within early stopping's patience
    of its best (6 points), which a run of 60 epochs with its best at 24 is not."""
    state = _eval_every(steps=2 * 1563, steps_per_epoch=1563, n=30)
    curves = read_curves(_write(tmp_path / "trainer_state.json", [json.dumps(state)]))
    tr, va, _ = _overfit(30)
    assert len(curves["val_loss"]) == 60 and "at_epoch" not in curves
    assert curves["val_loss"][1::2] == va and np.isnan(curves["val_loss"][0::2]).all()
    assert curves["train_loss"][1::2] == tr
    # a JSON list of rows with an epoch key is placed alike, as a CSV file's rows are
    rows = [{"epoch": 2 * (i + 1), "loss": tr[i], "val_loss": va[i]} for i in range(30)]
    _same(read_curves(_write(tmp_path / "rows.json", [json.dumps(rows)])), curves)
    csv_lines = ["epoch,train_loss,val_loss"]
    csv_lines += [f"{2 * (i + 1)},{tr[i]!r},{va[i]!r}" for i in range(30)]
    _same(read_curves(_write(tmp_path / "every2.csv", csv_lines)), curves)
    found = diagnose(curves).finding("overfitting")
    assert found is not None and found.onset_epoch == 24 and "of 60" in found.evidence


def test_a_trainer_log_evaluated_every_few_hundred_steps_names_its_epochs(
    tmp_path: Path,
) -> None:
    """Evaluations every 500 steps of 1563-step epochs were one point each and called epochs:
    "Diagnosis of 30 epochs" for 9.6 epochs, its rates "per epoch" per 0.32 of one."""
    state = _eval_every(steps=500, steps_per_epoch=1563, n=30)
    curves = read_curves(_write(tmp_path / "trainer_state.json", [json.dumps(state)]))
    assert len(curves["val_loss"]) == 30
    assert curves["at_epoch"] == [(i + 1) * 500 / 1563 for i in range(30)]
    d = diagnose(curves)
    assert d.n_epochs == 9.6
    found = d.finding("overfitting")
    assert found is not None and found.onset_epoch == 3.84 and "of 9.6," in found.evidence
    assert figure_data(curves, d).epochs[:2] == [0.32, 0.64]
    slow = {k: v[:12] for k, v in curves.items()}  # the first 12 points: still falling
    slow["train_loss"] = [2.0 * math.exp(-e / 60) for e in slow["at_epoch"]]
    slow["val_loss"] = [2.1 * math.exp(-e / 60) for e in slow["at_epoch"]]
    evidence = diagnose(slow, use_model=False).primary.evidence
    assert "per 0.32 epochs" in evidence, evidence


def test_evaluations_unevenly_apart_are_read_with_a_warning(tmp_path: Path) -> None:
    """A Trainer log whose evaluations lie unevenly apart (a resumed run that skipped some) is
    read at its epochs, and a warning says that the points are read as evenly spaced."""
    state = _eval_every(steps=500, steps_per_epoch=1563, n=30)
    state["log_history"] = [r for r in state["log_history"] if r["step"] not in (5000, 5500)]
    path = _write(tmp_path / "trainer_state.json", [json.dumps(state)])
    with pytest.warns(UserWarning, match=r"unevenly apart \(0\.32 to 0\.96 epochs\)"):
        curves = read_curves(path)
    assert len(curves["at_epoch"]) == 28


def test_at_epoch_given_in_python_is_checked() -> None:
    tr, va, _ = _overfit(10)
    with pytest.raises(InputError, match=r"'at_epoch' goes from 0\.5 to 0\.5 at point 3"):
        diagnose({"train_loss": tr, "val_loss": va, "at_epoch": [0.25, 0.5, 0.5, *range(1, 8)]})
    with pytest.raises(InputError, match=r"curves differ in length: .*'at_epoch': 3"):
        diagnose({"train_loss": tr, "val_loss": va, "at_epoch": [1, 2, 3]})


def _with_start(state: dict[str, Any], eval_loss: float = 2.5) -> dict[str, Any]:
    """``state`` as a Trainer with ``eval_on_start=True`` logs it: an evaluation first, before
    any training step (``epoch`` 0, ``step`` 0)."""
    start = {"epoch": 0, "eval_loss": eval_loss, "eval_runtime": 3.1, "step": 0}
    return {**state, "log_history": [start, *state["log_history"]]}


@pytest.mark.filterwarnings("ignore:val_metric is read only beside train_metric")
def test_a_trainer_evaluation_before_training_is_the_curves_start_at_epoch_0(
    tmp_path: Path,
) -> None:
    """``eval_on_start=True`` logs an evaluation at epoch 0 before training; the run's epochs
    then started at 0 and were read as Keras's 0-based ones: every point one epoch late
    ("Diagnosis of 11 epochs", "minimum at epoch 5 of 11" for a 10-epoch run with its minimum
    at epoch 4), the untrained model's evaluation taken as the first trained epoch."""
    plain = _trainer_state()
    curves = read_curves(_write(tmp_path / "plain.json", [json.dumps(plain)]))
    started = read_curves(_write(tmp_path / "start.json", [json.dumps(_with_start(plain))]))
    assert started["at_epoch"] == [float(e) for e in range(11)]
    assert started["val_loss"] == [2.5, *curves["val_loss"]]
    assert np.isnan(started["train_loss"][0]) and started["train_loss"][1:] == curves["train_loss"]
    # the start has no training loss: the diagnosis reads the trained epochs, named as before
    a, b = diagnose(curves).to_dict(), diagnose(started).to_dict()
    assert a == b and b["n_epochs"] == 10
    assert figure_data(started, diagnose(started)).epochs[:3] == [0, 1, 2]
    # evaluated every 2 epochs from the start: epochs 0, 2, 4, ... with 1, 3, ... missing
    every2 = _eval_every(steps=2 * 1563, steps_per_epoch=1563, n=30)
    started = read_curves(_write(tmp_path / "every2.json", [json.dumps(_with_start(every2))]))
    assert started["at_epoch"] == [float(e) for e in range(61)]
    assert started["val_loss"][2::2] == _overfit(30)[1]
    found = diagnose(started).finding("overfitting")
    assert found is not None and found.onset_epoch == 24 and "of 60" in found.evidence
    # every few hundred steps: the start is the first point at epoch 0, as it was
    steps = read_curves(
        _write(tmp_path / "steps.json", [json.dumps(_with_start(_eval_every(500, 1563, 30)))])
    )
    assert steps["at_epoch"][:2] == [0.0, 500 / 1563]


def test_a_trainer_log_at_zero_from_its_start_names_the_epoch_it_reached_zero(
    tmp_path: Path,
) -> None:
    """Losses at 0 to the end were named from the point's position ("0 from epoch 4"), not its
    epoch, which a start at epoch 0 puts one place later."""
    history: list[dict[str, Any]] = [{"epoch": 0, "eval_loss": 1.2, "step": 0}]
    for e, loss in enumerate([0.8, 0.4, 0.0, 0.0, 0.0, 0.0], start=1):
        history.append({"epoch": float(e), "loss": loss, "step": 10 * e})
        history.append({"epoch": float(e), "eval_loss": loss, "step": 10 * e})
    curves = read_curves(_write(tmp_path / "state.json", [json.dumps({"log_history": history})]))
    assert "0 from epoch 3 on" in diagnose(curves).primary.evidence


def test_evidence_comparing_neighbouring_points_names_points_not_epochs(tmp_path: Path) -> None:
    """A Lightning run validating twice an epoch, its train loss oscillating: "it fell in only
    34% of epochs, epoch-to-epoch noise 25%" and "validation loss jumps 30% from epoch to epoch"
    for points half an epoch apart. Points one an epoch keep those words."""
    k = np.arange(60)
    tr = 0.6 + 0.15 * np.sin(2.1 * k) + 0.3 * np.exp(-k / 10)
    va = 0.4 + 0.8 * np.exp(-k / 15) + 0.1 * np.cos(2.9 * k)
    lines = ["epoch,step,train_loss,val_loss"]
    for e in range(30):
        for i, step in ((2 * e, 100 * e + 49), (2 * e + 1, 100 * e + 99)):
            lines += [f"{e},{step},{float(tr[i])!r},", f"{e},{step},,{float(va[i])!r}"]
    curves = read_curves(_write(tmp_path / "metrics.csv", lines))
    assert curves["at_epoch"][:2] == [0.5, 1.0]
    points = evidence(curves)
    assert points["lr-too-high"].startswith(
        "train loss oscillates: it fell from only 34% of its points to the next (0.5 epochs "
        "apart), noise 25% from one point to the next"
    ), points["lr-too-high"]
    assert (
        "jumps 30% from one point to the next (0.5 epochs apart), " in (points["noisy-validation"])
    )
    epochs = evidence({k: v for k, v in curves.items() if k != "at_epoch"})
    assert epochs["lr-too-high"].startswith(
        "train loss oscillates: it fell in only 34% of epochs, epoch-to-epoch noise 25%"
    )
    assert "jumps 30% from epoch to epoch, " in epochs["noisy-validation"]
    # a train loss that rises above its first value names the first point's epoch
    rising = {"train_loss": [0.5, 0.9, 1.4, 1.3, 1.2, 1.1], "val_loss": [0.6, 1.0, 1.5] + [1.4] * 3}
    text = evidence({**rising, "at_epoch": [0.25 * (i + 1) for i in range(6)]})["lr-too-high"]
    assert "above its value at its first point (epoch 0.25) (peak at epoch 0.75 of 1.5)" in text
    assert "above its first-epoch value (peak at epoch 3 of 6)" in evidence(rising)["lr-too-high"]


def _accuracies(n: int = 30) -> tuple[list[float], list[float]]:
    """A train and a validation accuracy rising from near 0 toward 1 (a 10-class run's)."""
    t = np.arange(n)
    return (0.97 - 0.87 * np.exp(-t / 4)).tolist(), (0.93 - 0.83 * np.exp(-t / 4)).tolist()


MIXUP = r": both losses rise steadily within \[0, 1\], as accuracies do"


def test_a_warning_of_accuracies_in_loss_columns_names_the_files_columns(tmp_path: Path) -> None:
    """Accuracies logged under a logger's loss names were warned of as "train_loss 0.1 -> 0.97
    and val_loss 0.1 -> 0.93", names that a Keras, W&B or Trainer file does not hold."""
    tr, va = _accuracies()
    keras = ["epoch,accuracy,loss,val_accuracy,val_loss"]
    keras += [f"{e},0.5,{tr[e]!r},0.5,{va[e]!r}" for e in range(30)]
    wandb = ["epoch/epoch,epoch/loss,epoch/val_loss"]
    wandb += [f"{e},{tr[e]!r},{va[e]!r}" for e in range(30)]
    history: list[dict[str, Any]] = []
    for e in range(30):
        history.append({"epoch": e + 1.0, "loss": tr[e], "step": 10 * (e + 1)})
        history.append({"epoch": e + 1.0, "eval_loss": va[e], "step": 10 * (e + 1)})
    files = {
        "training.log": (keras, r"loss 0\.1 -> 0\.97 and val_loss 0\.1 -> 0\.93", "val_loss"),
        "history.csv": (
            wandb,
            r"epoch/loss 0\.1 -> 0\.97 and epoch/val_loss 0\.1 -> 0\.93",
            "epoch/val_loss",
        ),
        "trainer_state.json": (
            [json.dumps({"log_history": history})],
            r"loss 0\.1 -> 0\.97 and eval_loss 0\.1 -> 0\.93",
            "eval_loss",
        ),
    }
    for name, (lines, shown, val) in files.items():
        curves = read_curves(_write(tmp_path / name, lines))
        with pytest.warns(UserWarning, match=r"^" + shown + MIXUP) as seen:
            diagnose(curves)
        assert f"(val_acc logged under {val})" in str(seen[0].message)
    # curves in diagnose's names, a copy of read curves among them, keep those names
    with pytest.warns(
        UserWarning, match=r"^train_loss 0\.1 -> 0\.97 and val_loss 0\.1 -> 0\.93" + MIXUP
    ):
        diagnose(dict(curves))
    # the curves read are a dict as before, and an error about a Trainer's curve names its key
    assert curves == {"train_loss": tr, "val_loss": va}
    short = {"log_history": history[:4]}
    with pytest.raises(InputError, match=r"\(read 'loss' as train_loss, 'eval_loss' as val_loss\)"):
        read_curves(_write(tmp_path / "short.json", [json.dumps(short)]))
