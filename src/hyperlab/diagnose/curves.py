"""Checking and reading learning curves (one run's per-epoch train and validation values)."""

from __future__ import annotations

import csv
import itertools
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hyperlab.errors import DataNotFoundError, InputError, InputTypeError

REQUIRED = ("train_loss", "val_loss")
OPTIONAL = ("train_metric", "val_metric")
MIN_EPOCHS = 3


def check_curves(curves: Any) -> dict[str, np.ndarray]:
    """Check ``curves`` and return them as float arrays of equal length.

    Args:
        curves: A mapping (or pandas DataFrame) with per-epoch ``train_loss`` and ``val_loss``
            and optionally ``train_metric`` and ``val_metric``. ``None`` entries become NaN.

    Returns:
        ``{name: array (n_epochs,)}`` with the required curves and the optional ones present.

    Raises:
        InputTypeError: ``curves`` is not a mapping or a DataFrame.
        InputError: a required curve is missing, a value is not a number, the curves differ in
            length, or there are fewer than 3 epochs (shorter curves are accepted only when a
            loss is already NaN/inf: a run that diverged and was stopped).
    """
    if hasattr(curves, "columns") and hasattr(curves, "to_dict"):  # pandas DataFrame
        curves = {str(c): list(curves[c]) for c in curves.columns}
    if not isinstance(curves, Mapping):
        raise InputTypeError(
            f"curves must be a dict of per-epoch lists or a DataFrame, got {type(curves).__name__}"
        )
    missing = [k for k in REQUIRED if k not in curves]
    if missing:
        raise InputError(
            f"curves lack the required column(s) {missing}; got {sorted(map(str, curves))}"
        )
    out: dict[str, np.ndarray] = {}
    for key in (*REQUIRED, *OPTIONAL):
        if key not in curves or curves[key] is None:
            continue
        values = curves[key]
        if isinstance(values, str | bytes) or not hasattr(values, "__len__"):
            raise InputError(f"curve {key!r} must be a list of numbers, got {values!r}")
        arr = np.empty(len(values), dtype=np.float64)
        for i, v in enumerate(values):
            arr[i] = _number(v, f"curve {key!r} epoch {i + 1}")
        if key in OPTIONAL and len(arr) and np.isnan(arr).all():
            continue  # an empty optional column
        out[key] = arr
    lengths = {k: len(v) for k, v in out.items()}
    if len(set(lengths.values())) > 1:
        raise InputError(f"curves differ in length: {lengths}")
    n = lengths["train_loss"]
    diverged = n > 0 and not (
        np.isfinite(out["train_loss"]).all() and np.isfinite(out["val_loss"]).all()
    )
    if n < MIN_EPOCHS and not diverged:
        raise InputError(f"need at least {MIN_EPOCHS} epochs of curves to diagnose, got {n}")
    return out


def _number(value: Any, where: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool):
        raise InputError(f"{where}: expected a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(f"{where}: expected a number, got {value!r}") from None


def read_curves(path: str | Path) -> dict[str, list[float]]:
    """Read one run's curves from a CSV or JSON file.

    CSV: a header row with ``epoch``, ``train_loss``, ``val_loss`` and optionally
    ``train_metric``, ``val_metric`` (other columns are ignored); one row per epoch; empty cells,
    ``nan`` and ``inf`` are allowed. JSON: an object ``{"train_loss": [...], ...}`` (optionally
    under a ``"curves"`` key, as the lab stores trials) or a list of per-epoch row objects.

    Args:
        path: The file.

    Returns:
        ``{name: list of floats}``, checked with :func:`check_curves`.

    Raises:
        DataNotFoundError: the file does not exist.
        InputError: the file is empty or malformed; the message names the problem and the line.
    """
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"curve file {str(path)!r} does not exist")
    text = _read_text(path)
    if not text.strip():
        raise InputError(
            f"{path}: the file is empty (expected a header line and one row per epoch)"
        )
    if path.suffix.lower() == ".json" or text.lstrip()[:1] in "[{":
        curves = _parse_json(text, path)
    else:
        curves = _parse_csv(text, path)
    checked = check_curves(curves)
    return {k: [float(x) for x in v] for k, v in checked.items()}


def _read_text(path: Path) -> str:
    """The file's text (UTF-8, with or without a byte-order mark).

    Raises:
        InputError: The file cannot be read or is not UTF-8 text (a binary file, say).
    """
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not a UTF-8 text file (byte {exc.object[exc.start]:#04x} at offset "
            f"{exc.start}); expected a CSV or JSON file of learning curves"
        ) from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read: {exc.strerror or exc}") from None


def _parse_csv(text: str, path: Path) -> dict[str, list[float]]:
    rows = list(csv.reader(text.splitlines()))
    header = [h.strip().lower() for h in rows[0]]
    missing = [k for k in REQUIRED if k not in header]
    if missing:
        raise InputError(
            f"{path}, line 1: the header lacks the required column(s) {missing}; "
            f"got {rows[0]} (expected epoch, train_loss, val_loss[, train_metric, val_metric])"
        )
    keys = [k for k in (*REQUIRED, *OPTIONAL) if k in header]
    cols = {k: header.index(k) for k in keys}
    epoch_col = header.index("epoch") if "epoch" in header else None
    curves: dict[str, list[float]] = {k: [] for k in keys}
    epochs: list[float] = []
    for line_no, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) < len(header):
            raise InputError(
                f"{path}, line {line_no}: expected {len(header)} values, got {len(row)}: {row}"
            )
        for k, c in cols.items():
            cell = row[c].strip()
            try:
                curves[k].append(float(cell) if cell else math.nan)
            except ValueError:
                raise InputError(
                    f"{path}, line {line_no}: column {k!r} holds {cell!r}, which is not a number"
                ) from None
        if epoch_col is not None:
            cell = row[epoch_col].strip()
            try:
                epochs.append(float(cell))
            except ValueError:
                raise InputError(
                    f"{path}, line {line_no}: column 'epoch' holds {cell!r}, which is not a number"
                ) from None
    if not curves["train_loss"]:
        raise InputError(f"{path}: the file has a header but no rows (line 2 onward is empty)")
    if epochs and not all(b > a for a, b in itertools.pairwise(epochs)):
        raise InputError(f"{path}: the 'epoch' column must increase from row to row, got {epochs}")
    return curves


def _parse_json(text: str, path: Path) -> Any:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}, line {exc.lineno}: not valid JSON ({exc.msg})") from None
    if isinstance(data, dict) and isinstance(data.get("curves"), dict):
        data = data["curves"]
    if isinstance(data, list):
        if not all(isinstance(r, dict) for r in data):
            raise InputError(f"{path}: a JSON list must hold one object per epoch")
        keys = {k for r in data for k in r}
        return {k: [r.get(k) for r in data] for k in keys}
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object of curves, got {type(data).__name__}")
    return data
