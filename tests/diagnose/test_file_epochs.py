"""What diagnose says names the epochs a file writes: its errors, its counts of epochs, the
patience of early stopping and an evaluation before training."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import pytest

from hyperlab.diagnose import check_curves, diagnose, read_curves
from hyperlab.errors import InputError
from tests.diagnose.evidence import evidence


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def _trainer_log(losses: list[tuple[float, float]], every: float) -> list[dict[str, Any]]:
    """A Trainer's ``log_history``: a training loss and an evaluation every ``every`` epochs
    (100 steps each), one ``(train, validation)`` pair of losses each."""
    history: list[dict[str, Any]] = []
    for i, (train, val) in enumerate(losses, start=1):
        epoch, step = round(i * every, 4), 100 * i
        history += [
            {"epoch": epoch, "loss": train, "step": step},
            {"epoch": epoch, "eval_loss": val, "step": step},
        ]
    return history


def test_an_error_about_a_value_names_the_epoch_the_file_writes(tmp_path: Path) -> None:
    """A value's error named point i as epoch i + 1: Keras's row at epoch 2 as "epoch 3", its
    first row (epoch 0) as "epoch 1", a Trainer's evaluation at epoch 1.5 as "epoch 6"."""
    keras = ["epoch,accuracy,loss,val_accuracy,val_loss"]
    keras += [f"{e},0.6,{0.9 - 0.1 * e:.2f},0.5,0.8" for e in range(6)]
    keras[3] = "2,0.6,-0.2,0.5,0.8"
    with pytest.raises(InputError, match=r"train_loss is negative \(-0.2 at epoch 2\)"):
        read_curves(_write(tmp_path / "negative.csv", keras))
    keras[3] = "2,0.6,0.7,0.5,0.8"
    keras[1] = "0,60,0.9,0.5,0.8"
    with pytest.raises(InputError, match=r"train_metric is 60 at epoch 0, outside \[0, 1\]"):
        read_curves(_write(tmp_path / "percent.csv", keras))
    # a 1-based file keeps its numbers
    lines = ["epoch,train_loss,val_loss"] + [
        f"{e},0.5,{0.6 if e != 4 else -1}" for e in (1, 2, 3, 4)
    ]
    with pytest.raises(InputError, match=r"\(-1 at epoch 4\)"):
        read_curves(_write(tmp_path / "one.csv", lines))
    history = _trainer_log([(1.0 / i, 1.2 / i) for i in range(1, 13)], every=0.25)
    history[10]["loss"] = -0.3  # the sixth evaluation's, at epoch 1.5
    with pytest.raises(InputError, match=r"train_loss is negative \(-0.3 at epoch 1.5\)"):
        read_curves(_write(tmp_path / "trainer_state.json", [json.dumps(history)]))
    # curves given in Python with their epochs
    curves = {"train_loss": [1.0, 0.8, 0.7, 0.6], "val_loss": [1.0, 0.9, "x", 0.8]}
    with pytest.raises(InputError, match=r"curve 'val_loss' epoch 3: expected a number"):
        check_curves(curves)
    with pytest.raises(InputError, match=r"curve 'val_loss' epoch 1.5: expected a number"):
        check_curves({**curves, "at_epoch": [0.5, 1.0, 1.5, 2.0]})


def test_a_count_of_epochs_counts_those_the_points_cover(tmp_path: Path) -> None:
    """A log every 0.25 epochs from epoch 5.25 to 10 read "-19% over 10 epochs" (counted from
    epoch 0, where its points cover 5), and evaluations 0.25 epochs apart were counted as
    epochs: "too few finite epochs to judge", "need at least 3 epochs ..., got 2". An ordinary
    run keeps its words."""
    lines = ["epoch,train_loss,val_loss"]
    lines += [f"{5 + 0.25 * i},{1.0 - 0.01 * i:.4f},{1.1 - 0.009 * i:.4f}" for i in range(1, 21)]
    late = read_curves(_write(tmp_path / "late.csv", lines))
    said = evidence(late)
    assert "(-19% over 5 epochs, -1% per 0.25 epochs at the end," in said["lr-too-low"]
    assert said["not-converged"].endswith("over the last third of 5 epochs")
    # from the first evaluation on, the points cover the run from epoch 0
    early = {**late, "at_epoch": [0.25 * i for i in range(1, 21)]}
    assert "(-19% over 5 epochs," in evidence(early)["lr-too-low"]
    ordinary = {k: v for k, v in late.items() if k != "at_epoch"}
    assert "(-19% over 20 epochs, -1% per epoch at the end," in evidence(ordinary)["lr-too-low"]
    diverged = {"train_loss": [1.0, math.inf], "val_loss": [1.0, 1.0]}
    assert evidence(diverged)["plateau"] == "too few finite epochs to judge"
    said = evidence({**diverged, "at_epoch": [0.25, 0.5]})
    assert said["plateau"] == "too few finite points to judge"
    short = _trainer_log([(1.0, 1.1), (0.5, 0.6)], every=0.25)
    with pytest.raises(
        InputError, match=r"at least 3 points \(evaluations\) of curves to diagnose, got 2"
    ):
        read_curves(_write(tmp_path / "short.json", [json.dumps(short)]))
    with pytest.raises(InputError, match="at least 3 epochs of curves to diagnose, got 2"):
        check_curves({"train_loss": [1.0, 0.5], "val_loss": [1.1, 0.6]})


def _stopped_late(n: int, best: int, rise: float) -> list[tuple[float, float]]:
    """Train and validation loss per evaluation of a run whose validation loss is lowest at
    evaluation ``best`` and rises by ``rise`` per evaluation after it, to evaluation ``n``."""
    return [
        (1.5 * math.exp(-k / 4) + 0.05, 0.5 + math.exp(-min(k, best) / 4) + rise * max(k - best, 0))
        for k in range(1, n + 1)
    ]


def test_early_stopping_patience_counts_evaluations_not_epochs(tmp_path: Path) -> None:
    """A Trainer log evaluating every 2 epochs, stopped by its EarlyStoppingCallback 3
    evaluations (6 epochs) after its best, read "overfitting 99%"; a log every 0.25 epochs
    that went on 16 evaluations (4 epochs) past its best read "good-fit, ... as a run stopped
    early by patience does". Callbacks count evaluations: either reads as the same points one
    an epoch do."""
    history = _trainer_log(_stopped_late(20, 17, 0.04), every=2.0)
    curves = read_curves(_write(tmp_path / "every_2.json", [json.dumps(history)]))
    stopped = diagnose(curves, use_model=False)  # (the rules': the classifier is refitted)
    assert [f.name for f in stopped.findings] == ["good-fit"], stopped
    assert "; it ended a few evaluations after its best, as a run stopped early by patience" in (
        stopped.primary.evidence
    )
    went_on = dict(zip(("train_loss", "val_loss"), map(list, zip(*_stopped_late(40, 24, 0.01)))))
    late = diagnose({**went_on, "at_epoch": [0.25 * k for k in range(1, 41)]}, use_model=False)
    assert late.primary.name == "overfitting", late
    assert late.primary.confidence == diagnose(went_on, use_model=False).primary.confidence


def _rising(n: int = 20) -> list[tuple[int, float, float]]:
    """Epoch, train and validation loss of an overfitting run of ``n`` epochs, from epoch 1."""
    return [
        (
            e,
            2.0 * math.exp(-e / 4) + 0.05,
            2.0 * math.exp(-e / 4) + 0.1 + 0.01 * max(e - 10, 0) ** 1.3,
        )
        for e in range(1, n + 1)
    ]


def test_a_row_at_epoch_0_with_no_training_loss_is_the_runs_start(tmp_path: Path) -> None:
    """A user's log of the untrained model's val_loss at epoch 0 (the train_loss cell empty),
    then epochs 1 to 20, was read as Keras's epochs from 0: "Diagnosis of 21 epochs",
    "minimum at epoch 14 of 21" for the file's 13 of 20. A trained epoch 0 (Keras's
    CSVLogger) and a Lightning epoch 0 with no training step logged keep that reading."""
    rows = _rising()
    lines = ["epoch,train_loss,val_loss", "0,,2.31"] + [f"{e},{t!r},{v!r}" for e, t, v in rows]
    plain = diagnose(read_curves(_write(tmp_path / "plain.csv", [lines[0], *lines[2:]])))
    as_json = [{"epoch": 0, "val_loss": 2.31}]
    as_json += [{"epoch": e, "train_loss": t, "val_loss": v} for e, t, v in rows]
    for path in (
        _write(tmp_path / "start.csv", lines),
        _write(tmp_path / "start.json", [json.dumps(as_json)]),
    ):
        curves = read_curves(path)
        assert curves["at_epoch"] == [float(e) for e in range(21)], path
        assert curves["val_loss"][0] == 2.31 and math.isnan(curves["train_loss"][0])
        got = diagnose(curves)
        assert got.n_epochs == 20 and got.primary == plain.primary, path
    # Keras's CSVLogger: epoch 0 is trained, with its loss
    keras = ["epoch,loss,val_loss"] + [f"{e - 1},{t!r},{v!r}" for e, t, v in rows]
    curves = read_curves(_write(tmp_path / "keras.csv", keras))
    assert "at_epoch" not in curves and diagnose(curves).n_epochs == 20
    # Lightning: epoch 0 shorter than log_every_n_steps logs no step, validates at its last
    lightning = ["epoch,step,train_loss_step,val_loss", "0,29,,2.31"]
    lightning += [f"{e},{30 * e + 19},{t!r},\n{e},{30 * e + 29},,{v!r}" for e, t, v in rows]
    curves = read_curves(_write(tmp_path / "metrics.csv", lightning))
    assert "at_epoch" not in curves and len(curves["val_loss"]) == 21


def test_a_step_column_without_epochs_warns_that_rows_are_read_as_epochs(
    tmp_path: Path,
) -> None:
    """Metrics logged every 200 optimizer steps, a ``step`` column and no ``epoch``, were read
    one row an epoch without a word: "minimum at epoch 10 of 20" for step 2000. The reading is
    kept (steps give no epoch without the steps an epoch takes), with a warning that names
    the column and says how to give the epochs."""
    rows = _rising()
    lines = ["step,train_loss,val_loss"] + [f"{200 * e},{t!r},{v!r}" for e, t, v in rows]
    as_json = [{"step": 200 * e, "train_loss": t, "val_loss": v} for e, t, v in rows]
    plain = diagnose({"train_loss": [t for _, t, _ in rows], "val_loss": [v for *_, v in rows]})
    for path in (
        _write(tmp_path / "steps.csv", lines),
        _write(tmp_path / "steps.json", [json.dumps(as_json)]),
    ):
        with pytest.warns(UserWarning, match=r"'step' column and no 'epoch' column") as caught:
            curves = read_curves(path)
        (message,) = [str(w.message) for w in caught]
        assert "step 4000 is epoch 20" in message and "step / steps_per_epoch" in message
        assert "at_epoch" not in curves and diagnose(curves).primary == plain.primary, path
    # with its epochs (400 steps an epoch) the file is read at them, without the warning
    with_epochs = ["epoch,step,train_loss,val_loss"]
    with_epochs += [f"{e / 2:g},{200 * e},{t!r},{v!r}" for e, t, v in rows]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        curves = read_curves(_write(tmp_path / "epochs.csv", with_epochs))
    assert curves["at_epoch"][-1] == 10.0


def test_a_mapping_whose_epoch_or_step_is_not_read_is_warned_of() -> None:
    """A DataFrame of a log with fractional epochs (or steps) was read with point i at epoch
    i + 1 without a word: its evidence named the wrong epochs and gave rates per point."""
    n = 12
    train = [1.0 / (1 + i) + 0.05 for i in range(n)]
    val = [1.0 / (1 + i) + 0.1 for i in range(n)]
    for key, values in (
        ("epoch", [0.25 * (i + 1) for i in range(n)]),
        ("step", [200 * (i + 1) for i in range(n)]),
    ):
        with pytest.warns(UserWarning, match=f"the curves' '{key}' is not read"):
            diagnose({"train_loss": train, "val_loss": val, key: values})
    for same in (list(range(1, n + 1)), list(range(n))):  # epochs that say what is read anyway
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            diagnose({"train_loss": train, "val_loss": val, "epoch": same})
    with warnings.catch_warnings():  # at_epoch is read: nothing to warn of
        warnings.simplefilter("error")
        diagnose(
            {
                "train_loss": train,
                "val_loss": val,
                "epoch": [0.25 * (i + 1) for i in range(n)],
                "at_epoch": [0.25 * (i + 1) for i in range(n)],
            }
        )


@pytest.mark.parametrize(
    "name", ["global_step", "iteration", "iter", "_step", "trainer/global_step", "Global_Step"]
)
def test_a_step_under_another_loggers_name_is_warned_of_by_that_name(
    tmp_path: Path, name: str
) -> None:
    """A per-step log whose step column was ``global_step``, ``iteration``, W&B's ``_step`` or
    Lightning's W&B ``trainer/global_step`` was read one row an epoch without a word (only
    ``step`` was warned of), in a file or a dict alike. Each is warned of by its own name; the
    diagnosis is the one of the curves alone."""
    rows = _rising()
    train, val = [t for _, t, _ in rows], [v for *_, v in rows]
    plain = diagnose({"train_loss": train, "val_loss": val})
    lines = [f"{name},train_loss,val_loss"] + [f"{200 * e},{t!r},{v!r}" for e, t, v in rows]
    as_json = [{name: 200 * e, "train_loss": t, "val_loss": v} for e, t, v in rows]
    for path in (
        _write(tmp_path / "steps.csv", lines),
        _write(tmp_path / "steps.json", [json.dumps(as_json)]),
    ):
        with pytest.warns(UserWarning, match=f"{name!r} column and no 'epoch' column") as caught:
            curves = read_curves(path)
        (message,) = [str(w.message) for w in caught]
        assert "step 4000 is epoch 20" in message, path
        got = diagnose(curves)
        assert "at_epoch" not in curves and got.findings == plain.findings, path
    with pytest.warns(UserWarning, match=f"the curves' {name!r} is not read") as caught:
        got = diagnose({"train_loss": train, "val_loss": val, name: [200 * e for e, *_ in rows]})
    assert len(caught) == 1 and got.findings == plain.findings


def test_a_step_counter_beside_an_epoch_or_a_step_column_changes_nothing(
    tmp_path: Path,
) -> None:
    """Where a file's ``epoch`` places its rows (W&B's export: ``epoch``, ``_step``,
    ``trainer/global_step``) the counters are not read and nothing is warned of; beside a
    ``step`` column the warning names ``step`` alone; a counter's cell that is no number is no
    error (the column is read for the warning only)."""
    rows = _rising()
    lines = ["epoch,_step,trainer/global_step,train_loss,val_loss"]
    lines += [f"{e},{3 * e},{200 * e},{t!r},{v!r}" for e, t, v in rows]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        placed = read_curves(_write(tmp_path / "wandb.csv", lines))
    assert len(placed["val_loss"]) == 20 and "at_epoch" not in placed
    both = ["step,global_step,train_loss,val_loss"]
    both += [f"{200 * e},{200 * e},{t!r},{v!r}" for e, t, v in rows]
    with pytest.warns(UserWarning, match=r"'step' column") as caught:
        read_curves(_write(tmp_path / "both.csv", both))
    assert len(caught) == 1 and "global_step" not in str(caught[0].message)
    odd = ["iter,train_loss,val_loss"] + [f"i{e},{t!r},{v!r}" for e, t, v in rows]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_curves(_write(tmp_path / "odd.csv", odd))["val_loss"] == placed["val_loss"]


def test_wandbs_own_step_counting_its_rows_is_not_warned_of(tmp_path: Path) -> None:
    """W&B numbers every ``wandb.log`` call in ``_step``, 0, 1, 2, ... unless given a step:
    a run logged once an epoch (``run.history()``, or its CSV export) was warned that its rows
    were read as epochs and told to pass ``at_epoch``, where its rows are its epochs. A ``_step``
    with gaps (``wandb.log(..., step=global_step)``) is still warned of, as is a
    ``global_step`` that counts the rows (one row a step)."""
    rows = _rising()
    train, val = [t for _, t, _ in rows], [v for *_, v in rows]
    lines = ["_step,_runtime,train_loss,val_loss"]
    lines += [f"{i},{3 * i},{t!r},{v!r}" for i, (_, t, v) in enumerate(rows)]
    as_json = [{"_step": i + 1, "train_loss": t, "val_loss": v} for i, (_, t, v) in enumerate(rows)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_curves(_write(tmp_path / "wandb.csv", lines))
        read_curves(_write(tmp_path / "wandb.json", [json.dumps(as_json)]))
        diagnose({"_step": list(range(len(rows))), "train_loss": train, "val_loss": val})
    with pytest.warns(UserWarning, match="the curves' '_step' is not read"):
        diagnose({"_step": [2 * i for i in range(len(rows))], "train_loss": train, "val_loss": val})
    with pytest.warns(UserWarning, match="the curves' 'global_step' is not read"):
        diagnose({"global_step": list(range(len(rows))), "train_loss": train, "val_loss": val})
    steps = ["global_step,train_loss,val_loss"]
    steps += [f"{i},{t!r},{v!r}" for i, (_, t, v) in enumerate(rows)]
    with pytest.warns(UserWarning, match="'global_step' column and no 'epoch' column"):
        read_curves(_write(tmp_path / "steps.csv", steps))
