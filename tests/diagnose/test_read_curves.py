from __future__ import annotations

import json
from pathlib import Path

import pytest

from hyperlab.diagnose import read_curves
from hyperlab.errors import DataNotFoundError, InputError

GOOD_CSV = "epoch,train_loss,val_loss,train_metric,val_metric\n" + "".join(
    f"{i},{2.0 / i:.4f},{2.1 / i + 0.05:.4f},{1 - 0.5 / i:.3f},{1 - 0.6 / i:.3f}\n"
    for i in range(1, 9)
)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_reads_csv(tmp_path: Path) -> None:
    curves = read_curves(_write(tmp_path, "run.csv", GOOD_CSV))
    assert set(curves) == {"train_loss", "val_loss", "train_metric", "val_metric"}
    assert len(curves["val_loss"]) == 8
    assert curves["train_loss"][0] == pytest.approx(2.0)


def test_csv_allows_nan_inf_and_extra_columns(tmp_path: Path) -> None:
    text = "epoch,lr,train_loss,val_loss\n1,0.1,2.0,2.1\n2,0.1,9.0,inf\n3,0.1,nan,nan\n"
    curves = read_curves(_write(tmp_path, "run.csv", text))
    assert curves["val_loss"][1] == float("inf")
    assert "lr" not in curves


def test_reads_json_forms(tmp_path: Path) -> None:
    data = {"train_loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.6, 0.4]}
    assert read_curves(_write(tmp_path, "a.json", json.dumps(data)))["val_loss"] == [1.1, 0.6, 0.4]
    nested = {"curves": data, "value": 0.4}
    assert read_curves(_write(tmp_path, "b.json", json.dumps(nested)))["train_loss"][2] == 0.3
    rows = [
        {"epoch": i + 1, "train_loss": t, "val_loss": v}
        for i, (t, v) in enumerate(zip(*data.values()))
    ]
    assert read_curves(_write(tmp_path, "c.json", json.dumps(rows)))["val_loss"] == [1.1, 0.6, 0.4]


def test_missing_column_names_it_and_line_1(tmp_path: Path) -> None:
    p = _write(tmp_path, "run.csv", "epoch,train_loss\n1,2.0\n2,1.0\n3,0.5\n")
    with pytest.raises(InputError, match=r"line 1.*val_loss"):
        read_curves(p)


def test_a_keras_history_is_read_and_another_separator_is_refused_with_the_fix(
    tmp_path: Path,
) -> None:
    """``json.dump(history.history)`` was refused with the renaming it needed; it is read under
    those names now. A ``;``-separated CSV is refused with how to fix it."""
    history = {"loss": [2.0, 1.0, 0.5], "val_loss": [2.1, 1.2, 0.9], "val_accuracy": [0.5] * 3}
    curves = read_curves(_write(tmp_path, "history.json", json.dumps(history)))
    assert curves == {
        "train_loss": [2.0, 1.0, 0.5],
        "val_loss": [2.1, 1.2, 0.9],
        "val_metric": [0.5] * 3,
    }
    text = GOOD_CSV.replace(",", ";")
    with pytest.raises(InputError, match=r"holds none, but ';': save the file comma-separated"):
        read_curves(_write(tmp_path, "run.csv", text))


def test_text_in_number_column_names_line_and_value(tmp_path: Path) -> None:
    p = _write(tmp_path, "run.csv", "epoch,train_loss,val_loss\n1,2.0,2.1\n2,oops,1.5\n3,0.5,0.9\n")
    with pytest.raises(InputError, match=r"line 3.*train_loss.*'oops'"):
        read_curves(p)


def test_text_in_epoch_column(tmp_path: Path) -> None:
    p = _write(
        tmp_path, "run.csv", "epoch,train_loss,val_loss\n1,2.0,2.1\ntwo,1.0,1.5\n3,0.5,0.9\n"
    )
    with pytest.raises(InputError, match=r"line 3.*epoch.*'two'"):
        read_curves(p)


@pytest.mark.parametrize(("epoch", "shown"), [("-1", "-1"), ("nan", "nan"), ("inf", "inf")])
def test_a_negative_or_non_finite_epoch_is_refused_by_value(
    tmp_path: Path, epoch: str, shown: str
) -> None:
    text = f"epoch,train_loss,val_loss\n0,2.0,2.1\n{epoch},1.0,1.5\n3,0.5,0.9\n4,0.4,0.8\n"
    with pytest.raises(InputError) as info:
        read_curves(_write(tmp_path, "run.csv", text))
    assert f"line 3: the 'epoch' column holds {shown};" in str(info.value)


def test_fractional_epochs_are_points_of_their_own(tmp_path: Path) -> None:
    """A run evaluated twice an epoch logs 0.5, 1.0, 1.5, ...: each is a point."""
    rows = "".join(f"{e / 2},{2.0 - e / 10},{2.1 - e / 20}\n" for e in range(1, 7))
    curves = read_curves(_write(tmp_path, "run.csv", "epoch,train_loss,val_loss\n" + rows))
    assert len(curves["train_loss"]) == 6


def test_short_row_names_line(tmp_path: Path) -> None:
    p = _write(tmp_path, "run.csv", "epoch,train_loss,val_loss\n1,2.0,2.1\n2,1.0\n3,0.5,0.9\n")
    with pytest.raises(InputError, match=r"line 3.*expected 3 values"):
        read_curves(p)


@pytest.mark.parametrize(
    ("text", "match"),
    [("", "empty"), ("  \n", "empty"), ("epoch,train_loss,val_loss\n", "no rows")],
)
def test_empty_files(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(InputError, match=match):
        read_curves(_write(tmp_path, "run.csv", text))


def test_too_few_rows_and_bad_json(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="at least 3 epochs"):
        read_curves(_write(tmp_path, "run.csv", "epoch,train_loss,val_loss\n1,2.0,2.1\n"))
    with pytest.raises(InputError, match="line 2"):
        read_curves(_write(tmp_path, "run.json", '{"train_loss": [1, 2, 3],\n "val_loss": [1, 2,}'))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match=r"nope\.csv"):
        read_curves(tmp_path / "nope.csv")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            "epoch,train_loss,val_loss\n1,1.1,\n2,0.9,\n3,0.7,\n4,0.6,\n",
            "column 'val_loss' holds no values",
        ),
        (
            "epoch,train_loss,val_loss,val_loss\n1,1,1,2\n2,1,1,2\n3,1,1,2\n",
            r"names \['val_loss'\] more",
        ),
        ("epoch,train_loss,val_loss\n1,1,1\n2,1,1,7\n3,1,1\n", r"line 3.*expected 3 values"),
    ],
)
def test_a_file_that_cannot_be_read_one_way_is_refused_by_name(
    tmp_path: Path, text: str, match: str
) -> None:
    with pytest.raises(InputError, match=match) as caught:
        read_curves(_write(tmp_path, "run.csv", text))
    assert "run.csv" in str(caught.value)


def test_trailing_empty_cells_and_json_errors_name_the_file(tmp_path: Path) -> None:
    rows = "epoch,train_loss,val_loss\n1,2.0,2.1,\n2,1.0,1.5,\n3,0.5,0.9,\n"
    assert read_curves(_write(tmp_path, "run.csv", rows))["val_loss"] == [2.1, 1.5, 0.9]
    uneven = json.dumps({"train_loss": [1, 2, 3], "val_loss": [1, 2]})
    with pytest.raises(InputError, match=r"uneven\.json: curves differ in length"):
        read_curves(_write(tmp_path, "uneven.json", uneven))
    keyed = json.dumps({"train_loss": {"a": 1}, "val_loss": [1, 2]})
    with pytest.raises(InputError, match="'train_loss' must be a list of numbers"):
        read_curves(_write(tmp_path, "keyed.json", keyed))
