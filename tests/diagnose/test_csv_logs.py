"""``diagnose`` on ordinary CSV logs: sparse validation, lost points, long runs (issue 19)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from hyperlab.cli import main
from hyperlab.diagnose import Diagnosis, diagnose, read_curves
from hyperlab.diagnose.figure import MAX_SHOWN, figure_data
from hyperlab.errors import InputError


def _overfit(n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(n, dtype=np.float64)
    tr = 2.0 * np.exp(-t / 5) + 0.05 * np.exp(-t / 15)
    va = 2.0 * np.exp(-t / 5) + 0.1 + 0.004 * np.maximum(t - 12, 0) ** 1.3
    return tr, va


def _good_fit(n: int = 40) -> dict[str, list[float]]:
    t = np.arange(n, dtype=np.float64)
    return {
        "train_loss": (2.0 * np.exp(-t / 5) + 0.05).tolist(),
        "val_loss": (2.0 * np.exp(-t / 5) + 0.12).tolist(),
    }


def _cell(x: float | None) -> str:
    return "" if x is None else repr(float(x))


def _write_csv(path: Path, rows: Sequence[tuple[int, float | None, float | None]]) -> Path:
    lines = ["epoch,train_loss,val_loss"] + [f"{e},{_cell(a)},{_cell(b)}" for e, a, b in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def _diagnose_file(path: Path) -> Diagnosis:
    return diagnose(read_curves(path))


def _names(d: Diagnosis) -> list[str]:
    return [f.name for f in d.findings]


def _directions(d: Diagnosis) -> dict[str, str]:
    return {a.knob: a.direction for a in d.advice}


def _not_diverged(d: Diagnosis) -> None:
    assert not any("diverged" in f.evidence for f in d.findings), d.summary()
    assert d.features["diverged"] == 0.0
    lr = d.advice_for("lr")
    assert lr is None or lr.factor != 0.1, d.summary()


def _printed_factors(d: Diagnosis) -> list[float]:
    return [float(x) for x in re.findall(r" x(\d+(?:\.\d+)?)", d.summary())]


def test_validation_every_other_epoch_is_read_as_missing_points(tmp_path: Path) -> None:
    tr, va = _overfit()
    sparse = [(e + 1, tr[e], va[e] if e % 2 else None) for e in range(len(tr))]
    kept = [(e, a, b) for e, a, b in sparse if b is not None]
    with_blanks = _diagnose_file(_write_csv(tmp_path / "blanks.csv", sparse))
    without = _diagnose_file(_write_csv(tmp_path / "kept.csv", kept))
    _not_diverged(with_blanks)
    assert with_blanks.primary.name == "overfitting", with_blanks.summary()
    assert _names(with_blanks) == _names(without)
    assert _directions(with_blanks) == _directions(without)
    # the evidence names real epochs, not rows
    assert f"of {len(tr)}" in with_blanks.primary.evidence


@pytest.mark.parametrize("first", [0, 5])
def test_a_run_logged_every_fifth_epoch_is_read_at_its_epochs(tmp_path: Path, first: int) -> None:
    """The evidence, the onset and the figure named rows (minimum 'at epoch 12 of 30') where
    the file's epoch column says 60 of 150."""
    tr, va = _overfit(30)
    rows = [(first + 5 * i, tr[i], va[i]) for i in range(30)]
    d = _diagnose_file(_write_csv(tmp_path / "every5.csv", rows))
    by_row = diagnose({"train_loss": tr, "val_loss": va})  # the same 30 points, one per row
    assert d.primary.name == by_row.primary.name == "overfitting", d.summary()
    assert by_row.primary.onset_epoch is not None
    # epoch e is the e-th epoch, the (e + 1)-th when the epochs start at 0
    shift = 1 if first == 0 else 0
    onset = first + 5 * (by_row.primary.onset_epoch - 1) + shift
    last = first + 5 * 29 + shift
    assert d.n_epochs == last and d.primary.onset_epoch == onset
    assert f"minimum at epoch {onset} of {last}," in d.primary.evidence
    assert d.primary.confidence == by_row.primary.confidence
    _not_diverged(d)


def test_an_epoch_column_that_counts_steps_is_refused_by_value(tmp_path: Path) -> None:
    rows = [(e * 100_000, 2.0 / (e + 1), 2.1 / (e + 1)) for e in range(20)]
    with pytest.raises(InputError, match=r"line 21: the 'epoch' column reaches 1.9e\+06"):
        read_curves(_write_csv(tmp_path / "steps.csv", rows))


def test_train_and_validation_rows_written_apart_are_merged_by_epoch(tmp_path: Path) -> None:
    # as PyTorch Lightning's CSVLogger writes them: a train row each epoch (0-based), a
    # validation row of the same epoch every second epoch
    tr, va = _overfit()
    rows: list[tuple[int, float | None, float | None]] = []
    for e in range(len(tr)):
        rows.append((e, tr[e], None))
        if e % 2:
            rows.append((e, None, va[e]))
    merged = _diagnose_file(_write_csv(tmp_path / "metrics.csv", rows))
    kept = [(e, tr[e], va[e]) for e in range(len(tr)) if e % 2]
    _not_diverged(merged)
    assert merged.n_epochs == len(tr)
    assert _names(merged) == _names(_diagnose_file(_write_csv(tmp_path / "kept.csv", kept)))


@pytest.mark.parametrize("loss", ["train_loss", "val_loss"])
def test_a_lone_nan_between_finite_values_is_a_missing_point(tmp_path: Path, loss: str) -> None:
    curves = _good_fit()
    reference = diagnose(curves)
    curves[loss][17] = math.nan
    d = diagnose(curves)
    _not_diverged(d)
    assert _names(d) == _names(reference) and _directions(d) == _directions(reference)
    # the same through a CSV file with the word nan in the cell
    rows = [(i + 1, a, b) for i, (a, b) in enumerate(zip(curves["train_loss"], curves["val_loss"]))]
    from_file = _diagnose_file(_write_csv(tmp_path / "run.csv", rows))
    _not_diverged(from_file)
    assert _names(from_file) == _names(reference)


def test_a_really_diverging_run_is_still_divergence(tmp_path: Path) -> None:
    # a fine start, then the loss grows x1000 and is NaN to the end; validation every other
    # epoch, so the last row has no validation loss at all
    train = [2.0, 1.6, 1.3, 1.1, 1.0, 0.95, 0.9, 9.0, 90.0, 900.0] + [math.nan] * 5
    val = [2.1, 1.7, 1.4, 1.2, 1.1, 1.0, 0.98, 10.0, 100.0, 1000.0] + [math.nan] * 5
    rows = [(i + 1, a, b if i % 2 == 0 else None) for i, (a, b) in enumerate(zip(train, val))]
    d = _diagnose_file(_write_csv(tmp_path / "run.csv", rows))
    assert d.primary.name == "lr-too-high", d.summary()
    assert "diverged" in d.primary.evidence and "epoch 11 of 15" in d.primary.evidence
    lr = d.advice_for("lr")
    assert lr is not None and lr.direction == "down" and lr.factor < 0.5
    # NaN to the end in both losses, logged every epoch: divergence as before
    inf_end = diagnose({"train_loss": train[:10] + [math.inf] * 5, "val_loss": val})
    assert inf_end.primary.name == "lr-too-high" and "diverged" in inf_end.primary.evidence


def _long(kind: str, n: int = 200_000) -> dict[str, np.ndarray]:
    e = np.arange(1, n + 1, dtype=np.float64)
    if kind == "proportional":  # validation a fixed multiple of train: no growing gap
        tr = 1.0 / (1.0 + e)
        return {"train_loss": tr, "val_loss": 1.2 * tr}
    tr = 1.0 / (1.0 + e / 10.0)  # train to ~0, validation settles at a floor, both falling
    return {"train_loss": tr, "val_loss": tr + 0.02}


@pytest.mark.parametrize("kind", ["proportional", "floor"])
def test_a_smooth_200000_epoch_run_has_no_empty_finding_or_x1_advice(kind: str) -> None:
    d = diagnose(_long(kind))
    assert d.n_epochs == 200_000
    over = d.finding("overfitting")
    if kind == "proportional":
        assert over is None, d.summary()
    if over is not None:  # only on evidence, which the sentence names
        assert "+0%" not in over.evidence and "epoch 200000 of 200000, then" not in over.evidence
    for a in d.advice:
        assert (a.direction == "keep") == (a.factor == 1.0), a
        assert a.direction == "keep" or abs(a.factor - 1.0) >= 0.1, a
    assert all(round(x, 1) != 1.0 for x in _printed_factors(d)), d.summary()


def test_a_long_csv_log_is_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    curves = _long("proportional", 20_000)
    rows = [(i + 1, a, b) for i, (a, b) in enumerate(zip(curves["train_loss"], curves["val_loss"]))]
    src = _write_csv(tmp_path / "long.csv", rows)
    assert main(["diagnose", str(src), "--no-html"]) == 0
    out = capsys.readouterr().out
    assert "Diagnosis of 20000 epochs" in out and "overfitting" not in out
    assert not re.search(r" x1(\.0+)?\b", out), out


def test_the_figure_of_a_long_run_draws_every_point_of_a_sparse_curve() -> None:
    """10,000 training steps with a validation loss every 500: the figure drew the train loss
    at 2,000 evenly spaced steps and kept only the 3 validation points that fell on them."""
    curves = _long("proportional", 10_000)
    curves["val_loss"][np.arange(10_000) % 500 != 499] = np.nan
    data = figure_data(curves, diagnose(curves))
    drawn = {e for e, x in zip(data.epochs, data.series["val_loss"]) if math.isfinite(x)}
    assert drawn == set(range(500, 10_001, 500))
    assert len(data.epochs) == len(set(data.epochs)) <= MAX_SHOWN + 20
    assert data.epochs == sorted(data.epochs)


def test_no_printed_advice_has_a_factor_of_one() -> None:
    # a run that memorizes: train loss to ~0, validation settles at its lowest at the end; an
    # overfitting finding may stand on the growing gap, but "stop at epoch 300 of 300" is no move
    t = np.arange(300, dtype=np.float64)
    tr = 1.0 / (1.0 + t)
    d = diagnose({"train_loss": tr.tolist(), "val_loss": (tr + 0.3).tolist()})
    assert all(abs(x - 1.0) >= 0.1 for x in _printed_factors(d)), d.summary()
    for a in d.advice:
        assert (a.direction == "keep") == (a.factor == 1.0), a
    over = d.finding("overfitting")
    assert over is None or "+0%" not in over.evidence, d.summary()


def test_na_cells_of_keras_csvlogger_are_missing_points(tmp_path: Path) -> None:
    """Keras's CSVLogger writes NA where an epoch has no validation (``validation_freq=3``);
    the file was refused ("column 'val_loss' holds 'NA', which is not a number"). (40 epochs:
    at 30 the run ends 3 validations after its best, as early stopping's patience of 3 leaves
    it, which counts validations.)"""
    tr, va = _overfit(40)
    rows = [(e, tr[e], va[e] if e % 3 == 2 else None) for e in range(40)]
    blanks = _write_csv(tmp_path / "blanks.csv", rows)
    na = tmp_path / "na.csv"
    na.write_text(blanks.read_text().replace(",\n", ",NA\n").replace(",,", ",n/a,"))
    assert "NA" in na.read_text()
    got, want = read_curves(na), read_curves(blanks)
    assert np.array_equal(got["val_loss"], want["val_loss"], equal_nan=True)
    assert got["train_loss"] == want["train_loss"]
    assert _diagnose_file(na).primary.name == "overfitting"


def _logged_apart(tr: Sequence[float], va: Sequence[float], blank: str) -> str:
    """A W&B-style history: two train rows and one validation row an epoch, ``blank`` in the
    cells a row did not log."""
    lines = ["_step,epoch,train_loss,val_loss"]
    for e, (a, b) in enumerate(zip(tr, va)):
        for k in range(2):
            lines.append(f"{len(lines) - 1},{e},{float(a) * (1.05 - 0.1 * k)!r},{blank}")
        lines.append(f"{len(lines) - 1},{e},{blank},{float(b)!r}")
    return "\n".join(lines) + "\n"


def test_nan_written_for_cells_a_row_did_not_log_is_a_blank(tmp_path: Path) -> None:
    """Each epoch's validation row holds train_loss NaN (pandas' na_rep, a W&B history): the
    merged train loss was that last NaN at every epoch, and the file was refused as "train_loss
    is NaN at every epoch ... was never computed"."""
    tr, va = _overfit(30)
    with_nan = _write_csv_text(tmp_path / "nan.csv", _logged_apart(tr, va, "NaN"))
    with_blank = _write_csv_text(tmp_path / "blank.csv", _logged_apart(tr, va, ""))
    got, want = read_curves(with_nan), read_curves(with_blank)
    assert all(np.array_equal(got[k], want[k], equal_nan=True) for k in ("train_loss", "val_loss"))
    d = _diagnose_file(with_nan)
    assert d.primary.name == "overfitting", d.summary()
    _not_diverged(d)
    # such a file's run that blows up and is NaN to the end still diverged
    tr_div = [*tr[:10], 50.0, 5000.0, *[math.nan] * 5]
    va_div = [*va[:10], 60.0, 6000.0, *[math.nan] * 5]
    diverged = _diagnose_file(
        _write_csv_text(tmp_path / "d.csv", _logged_apart(tr_div, va_div, "nan"))
    )
    assert diverged.primary.name == "lr-too-high" and "diverged" in diverged.primary.evidence


def _write_csv_text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
