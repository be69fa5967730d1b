"""A run whose validation loss ends far above its best is no confident good fit."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperlab.cli import main
from hyperlab.diagnose import Diagnosis, diagnose, read_curves
from hyperlab.diagnose.advice import stop_at_best
from hyperlab.diagnose.result import Advice, Finding
from hyperlab.diagnose.rules import FAR_SHARE, far_above_best

#: A Keras ``CSVLogger`` file of 6 epochs: validation loss lowest at epoch 3 (the 4th), then
#: 0.56 and 0.61, 22% above its best.
KERAS_LOG = """epoch,loss,val_loss
0,1.0,1.0
1,0.6,0.7
2,0.4,0.55
3,0.3,0.5
4,0.22,0.56
5,0.16,0.61
"""


def _keras(tmp_path: Path, use_model: bool = True) -> Diagnosis:
    path = tmp_path / "log.csv"
    path.write_text(KERAS_LOG)
    return diagnose(read_curves(path), use_model=use_model)


@pytest.mark.parametrize("use_model", [True, False])
def test_a_log_ending_22_percent_above_its_best_is_no_confident_good_fit(
    tmp_path: Path, use_model: bool
) -> None:
    d = _keras(tmp_path, use_model)
    good, over = d.finding("good-fit"), d.finding("overfitting")
    assert good is not None and good.confidence < 0.65
    assert over is not None and over.confidence >= 0.35
    assert over.onset_epoch == 4
    assert "then +22%" in over.evidence
    assert "only 2 epochs after its best" in over.evidence
    assert "keep the best checkpoint" in over.evidence and "stop at epoch 4" in over.evidence


@pytest.mark.parametrize("use_model", [True, False])
def test_its_advice_stops_at_the_best_epoch_and_keeps_the_regularization(
    tmp_path: Path, use_model: bool
) -> None:
    d = _keras(tmp_path, use_model)
    epochs = d.advice_for("epochs")
    assert epochs is not None and (epochs.direction, epochs.factor) == ("down", 0.67)
    assert "stop at its best epoch" in epochs.reason
    for knob in ("lr", "weight_decay", "dropout", "width"):
        advice = d.advice_for(knob)
        assert advice is not None and advice.direction == "keep", advice
    assert "keep every knob" not in d.summary()


def test_the_command_line_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "log.csv"
    path.write_text(KERAS_LOG)
    assert main(["diagnose", str(path), "--no-html"]) == 0
    out = capsys.readouterr().out
    assert "overfitting" in out and "epochs        down x0.67" in out
    assert "keep every knob" not in out


def test_a_good_fit_within_10_percent_of_its_best_keeps_its_confidence() -> None:
    conf = {"good-fit": 0.9, "overfitting": 0.05}
    assert far_above_best({"val_rise": 0.09}, conf) == conf


@pytest.mark.parametrize(("rise", "share"), [(0.15, 0.5), (0.2, 1.0), (1.0, 1.0)])
def test_a_good_fit_far_above_its_best_gives_part_of_its_confidence_to_overfitting(
    rise: float, share: float
) -> None:
    out = far_above_best({"val_rise": rise}, {"good-fit": 0.9, "overfitting": 0.05})
    moved = FAR_SHARE * share * 0.9
    assert out["good-fit"] == pytest.approx(0.9 - moved)
    assert out["overfitting"] == pytest.approx(moved)


def test_a_stronger_overfitting_keeps_its_own_confidence() -> None:
    out = far_above_best({"val_rise": 0.3}, {"good-fit": 0.3, "overfitting": 0.6})
    assert out["overfitting"] == 0.6 and out["good-fit"] == pytest.approx(0.3 * 0.6)


def test_stop_at_best_moves_only_kept_epochs() -> None:
    finding = Finding("overfitting", 0.4, "...", onset_epoch=4)
    keep = [Advice("epochs", "keep", 1.0, "-"), Advice("lr", "keep", 1.0, "-")]
    out = stop_at_best(keep, finding, 6)
    assert (out[0].direction, out[0].factor) == ("down", 0.67) and out[1] == keep[1]
    moved = [Advice("epochs", "up", 2.0, "not-converged (60%)")]
    assert stop_at_best(moved, finding, 6) == moved
    assert stop_at_best(keep, Finding("overfitting", 0.4, "...", onset_epoch=6), 6) == keep


def test_a_long_overfitting_run_keeps_its_regularization_advice() -> None:
    n = 40
    train = [2.0 * 0.85**e + 0.05 for e in range(n)]
    val = [2.0 * 0.85**e + 0.12 + 0.01 * max(0, e - 12) for e in range(n)]
    d = diagnose({"train_loss": train, "val_loss": val})
    assert d.primary.name == "overfitting"
    wd = d.advice_for("weight_decay")
    assert wd is not None and wd.direction == "up"
