"""Checking and reading learning curves (one run's per-epoch train and validation values)."""

from __future__ import annotations

import csv
import json
import math
import sys
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hyperlab.diagnose.loggers import (
    counts_rows,
    logger_names,
    missing_hint,
    step_column,
    trainer_names,
    trainer_rows,
)
from hyperlab.diagnose.points import AT_EPOCH, points
from hyperlab.diagnose.rows import Rows, place
from hyperlab.errors import DataNotFoundError, InputError, InputTypeError, user_stacklevel

REQUIRED = ("train_loss", "val_loss")
OPTIONAL = ("train_metric", "val_metric")
#: The columns that place a file's rows (see :func:`hyperlab.diagnose.rows.place`).
PLACE = ("epoch", "step")
MIN_EPOCHS = 3


def check_curves(curves: Any) -> dict[str, np.ndarray]:
    """Check ``curves`` and return them as float arrays of equal length.

    Args:
        curves: A mapping (or pandas DataFrame) with per-epoch ``train_loss`` and ``val_loss``
            and optionally ``train_metric`` and ``val_metric``. ``None`` (pandas' ``pd.NA``)
            entries become NaN. Optionally ``at_epoch``: the epoch at which each point was
            measured, increasing (a fraction is part of an epoch: 1.5 is half way through the
            second), as :func:`read_curves` gives it for a log with fractional epochs; the
            evidence then names these epochs and gives its rates per their spacing (without
            it, point ``i`` is epoch ``i + 1``; an ``epoch`` or ``step`` entry, or a step under
            another logger's name such as ``global_step`` or ``iteration``, is not read, and a
            warning naming it says so unless it is an ``epoch`` of 1..n or 0..n-1, or W&B's
            ``_step`` counting the points so).

    Returns:
        ``{name: array (n_epochs,)}`` with the required curves, the optional ones present and
        ``at_epoch`` when given.

    Raises:
        InputTypeError: ``curves`` is not a mapping or a DataFrame.
        InputError: a required curve is missing or was never measured (every value ``None``,
            or NaN while the other loss is finite at every epoch, of two or more), a value is
            not a number, the curves differ in length, or fewer than 3 epochs (points, where
            ``at_epoch`` puts them not one an epoch) have both losses (fewer are accepted only
            when the run diverged and was stopped; see :mod:`hyperlab.diagnose.points`), or
            a loss is negative (losses are read with 0 the best possible value), a metric
            outside [0, 1] (a percentage), or a curve that is not 1-D, or an ``at_epoch`` that
            is not finite, >= 0 and increasing. A missing curve's message names the renaming
            of a known logger's column (Keras's ``loss``, ``val_accuracy``). A message names a
            point by its epoch: its ``at_epoch`` when given, else ``i + 1`` for point ``i``.
    """
    return _checked(curves)


@dataclass(frozen=True)
class _Epochs:
    """The epoch of each point as the user wrote it, for error messages: the curves'
    ``at_epoch``, else ``first + i`` for point ``i`` (``first`` 0 for a file whose epochs
    start at 0, Keras's, whose row at epoch 0 is point 0)."""

    at: np.ndarray | None = None
    first: int = 1

    def name(self, i: int) -> str:
        """Point ``i`` in words: ``"epoch 0"``, ``"epoch 1.5"``."""
        if self.at is not None and i < len(self.at):
            x = float(self.at[i])
            return f"epoch {int(x) if x.is_integer() else round(x, 2)}"
        return f"epoch {self.first + i}"

    def unit(self) -> str:
        """What a point is: ``"epochs"``, or ``"points (evaluations)"`` where the points are
        not one an epoch (evaluations every 0.25 epochs)."""
        if self.at is None or np.allclose(np.diff(self.at), 1.0):
            return "epochs"
        return "points (evaluations)"


def _checked(curves: Any, first: int = 1) -> dict[str, np.ndarray]:
    """:func:`check_curves`, its messages naming point ``i`` as epoch ``first + i`` where the
    curves carry no ``at_epoch`` (a file's own epochs, see :class:`_Epochs`)."""
    curves = _as_mapping(curves)
    at = None if curves.get(AT_EPOCH) is None else _check_at_epoch(curves[AT_EPOCH])
    epochs = _Epochs(at, first)
    out = _read_curves(curves, epochs)
    if at is not None:
        out[AT_EPOCH] = at
    else:
        _warn_unread_positions(curves, len(out["train_loss"]))
    _check_enough(out, epochs)
    return out


def _warn_unread_positions(curves: Mapping[str, Any], n: int) -> None:
    """Warn when the curves carry an ``epoch`` or a ``step`` (or another logger's name for it,
    ``global_step``, ``iteration``: :func:`hyperlab.diagnose.loggers.step_column`) that says
    where each point lies, which a mapping's curves do not read (only ``at_epoch``; a file's
    columns are read by :func:`read_curves`): its points are then taken as epochs 1, 2, ..., n.
    Epochs that are 1..n, or Keras's 0..n-1, say the same and are not warned of, nor is W&B's
    ``_step`` that counts the points (:func:`hyperlab.diagnose.loggers.counts_rows`)."""
    step = step_column(curves)
    for key in ("epoch",) if step is None else ("epoch", step):
        values = curves.get(key)
        if values is None or isinstance(values, str | bytes) or not hasattr(values, "__len__"):
            continue
        try:
            x = np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            continue
        same = x.shape == (n,) and any(
            np.array_equal(x, np.arange(k, n + k, dtype=float)) for k in (0, 1)
        )
        if (key == "epoch" and same) or counts_rows(key, x):
            return
        warnings.warn(
            f"the curves' {key!r} is not read: a dict or DataFrame places point i at epoch "
            f"i + 1 (so rates are per point); pass where each point lies as at_epoch (epochs, "
            "fractions within an epoch allowed), or read the file with "
            "hyperlab.diagnose.read_curves, which reads its epoch column",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
        return


def _as_mapping(curves: Any) -> Mapping[str, Any]:
    """``curves`` as a mapping (a DataFrame's columns as lists), refused unless it is one and
    holds every required curve."""
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
            + missing_hint(list(map(str, curves)))
        )
    return curves


def _read_curves(curves: Mapping[str, Any], epochs: _Epochs) -> dict[str, np.ndarray]:
    """The required curves and the optional ones given (not all NaN), as float arrays, each
    checked on its own."""
    out: dict[str, np.ndarray] = {}
    for key in (*REQUIRED, *OPTIONAL):
        if key not in curves or curves[key] is None:
            continue
        values = curves[key]
        if isinstance(values, str | bytes) or not hasattr(values, "__len__"):
            raise InputError(f"curve {key!r} must be a list of numbers, got {values!r}")
        if key in REQUIRED and _unmeasured(values):
            raise InputError(
                f"curve {key!r} holds no value (every entry is None: never measured); a "
                "diagnosis needs both losses (a loss that became nan or inf is a value: the run "
                "diverged)"
            )
        arr = _numbers(values, key, epochs.name)
        if key in OPTIONAL and len(arr) and np.isnan(arr).all():
            continue  # an empty optional column
        if key in OPTIONAL:
            _check_fraction(arr, key, epochs)
        out[key] = arr
    return out


def _check_enough(out: dict[str, np.ndarray], epochs: _Epochs) -> None:
    """Refuse curves ``out`` (``at_epoch`` among them when given) of different lengths, a
    negative loss, a loss never measured, or fewer than ``MIN_EPOCHS`` points with both losses
    where the run did not diverge."""
    lengths = {k: len(v) for k, v in out.items()}
    if len(set(lengths.values())) > 1:
        raise InputError(
            f"curves differ in length: {lengths}; give every curve one value per epoch, None "
            "(or NaN) at an epoch where it was not measured (a loss validated every few epochs)"
        )
    for key in REQUIRED:
        _check_floor(out[key], key, epochs)
    _check_measured(out)
    n = lengths["train_loss"]
    read = points(out["train_loss"], out["val_loss"], max_points=max(n, 1))
    diverged = read.onset < n
    if len(read.index) < MIN_EPOCHS and not diverged:
        both = "" if len(read.index) == n else f" with both a train and a validation loss (of {n})"
        raise InputError(
            f"need at least {MIN_EPOCHS} {epochs.unit()} of curves to diagnose, got "
            f"{len(read.index)}{both}" + _apart_hint(out)
        )


def _check_at_epoch(values: Any) -> np.ndarray:
    """``at_epoch`` as an array; refused unless finite, >= 0 and increasing."""
    if isinstance(values, str | bytes) or not hasattr(values, "__len__"):
        raise InputError(f"{AT_EPOCH!r} must be a list of numbers, got {values!r}")
    arr = _numbers(values, AT_EPOCH, lambda i: f"point {i + 1}")
    bad = np.flatnonzero(~np.isfinite(arr) | (arr < 0))
    if len(bad):
        raise InputError(
            f"{AT_EPOCH!r} holds {arr[bad[0]]:g} at point {bad[0] + 1}; epochs are finite "
            "numbers >= 0"
        )
    back = np.flatnonzero(np.diff(arr) <= 0)
    if len(back):
        i = int(back[0])
        raise InputError(
            f"{AT_EPOCH!r} goes from {arr[i]:g} to {arr[i + 1]:g} at point {i + 2}; each "
            "point's epoch must be larger than the one before"
        )
    return arr


def _check_floor(loss: np.ndarray, key: str, epochs: _Epochs) -> None:
    """Set a loss's rounding below an exact 0 to 0 (in place); refuse a negative loss."""
    tiny = (loss < 0) & (loss >= -ZERO_LOSS)
    loss[tiny] = 0.0
    below = np.flatnonzero(loss < 0)  # (NaN compares False)
    if len(below):
        raise InputError(
            f"{key} is negative ({loss[below[0]]:.4g} at {epochs.name(int(below[0]))}): "
            "diagnose reads losses whose best possible value is 0 (cross-entropy, squared "
            "error) and judges each against that floor, so it cannot read this loss as it "
            "stands. A loss whose lowest possible value is known (a loss minus a baseline) "
            "can be shifted by it (loss - floor); a density's negative log-likelihood with a "
            "learned variance (a Gaussian NLL) has no such floor, and shifting it by its lowest "
            "logged value makes one up that the run would be judged against: diagnose a loss "
            "with a floor of 0 logged beside it (the mean squared error of the predicted "
            "mean), or read these curves yourself"
        )


def _apart_hint(out: dict[str, np.ndarray]) -> str:
    """A hint, as the end of an error message, when each loss has enough points but on
    different epochs: the rows of a logger that writes train and validation apart."""
    tr, va = (np.isfinite(out[k]) for k in REQUIRED)
    if min(tr.sum(), va.sum()) < MIN_EPOCHS:
        return ""
    return (
        "; the train and the validation loss are on different rows, as loggers that write them "
        "apart leave them (PyTorch Lightning's metrics.csv): merge the rows of each epoch (a "
        "CSV file with an 'epoch' column is merged when read; a DataFrame: pass "
        "df.groupby('epoch').mean())"
    )


def _unmeasured(values: Any) -> bool:
    """Whether ``values`` is not empty and every entry is missing (``None``, ``pd.NA``)."""
    if isinstance(values, np.ndarray) and values.dtype.kind != "O":
        return False
    return len(values) > 0 and all(_missing(v) for v in values)


def _check_measured(out: dict[str, np.ndarray]) -> None:
    """Refuse a loss that is NaN at every epoch while the other loss is finite at every one,
    over two epochs or more: weights that diverged would make the next epoch's train loss NaN
    too, so that loss was never computed (the mean over an empty data loader is NaN) and the
    run did not diverge. One epoch cannot tell: weights that blew up at its last steps leave
    its train loss finite and its validation loss NaN.

    Raises:
        InputError: Naming the loss.
    """
    for key, other in (REQUIRED, REQUIRED[::-1]):
        if len(out[key]) > 1 and np.isnan(out[key]).all() and np.isfinite(out[other]).all():
            raise InputError(
                f"{key} is NaN at every epoch while {other} is finite at all "
                f"{len(out[other])}: {key} was never computed (the mean over an empty data "
                "loader is NaN), the run did not diverge; a diagnosis needs both losses"
            )


#: A loss at or below this reads as 0, the best possible value (a slightly negative one from
#: rounding included).
ZERO_LOSS = 1e-12


def without_odd_metrics(curves: dict[str, Any]) -> dict[str, Any]:
    """``curves`` less any metric that is not a fraction (a percentage, an R² below 0): for
    the lab's callers, which diagnose curves a task recorded for its own use; the losses
    still decide, as they do for curves with no metric."""
    out = dict(curves)
    for key in OPTIONAL:
        try:
            values = np.asarray(out.get(key, []), dtype=np.float64)
        except (TypeError, ValueError):
            out.pop(key, None)  # (not numbers: check_curves would refuse the whole)
            continue
        if np.any((values < 0) | (values > 1)):
            out.pop(key, None)
    return out


def _check_fraction(arr: np.ndarray, key: str, epochs: _Epochs) -> None:
    """Refuse a metric value outside [0, 1] (NaN, a missing point, passes): the features read
    metrics as fractions (accuracy), and one in percent would be misread without an error."""
    outside = np.flatnonzero((arr < 0) | (arr > 1))  # (NaN compares False)
    if len(outside):
        i = outside[0]
        where = f"{key} is {arr[i]:.4g} at {epochs.name(int(i))}, outside [0, 1]: diagnose reads "
        if arr[i] < 0:  # (no percentage: a metric that is not an accuracy)
            raise InputError(
                where + "metrics as accuracies, fractions in [0, 1]; a metric that can fall "
                "below 0 (an R², a log-likelihood) is not one: leave it out, and the losses "
                "alone decide"
            )
        raise InputError(
            where + "metrics as fractions (accuracy 0.92, not 92); divide a percentage by 100, "
            "or leave out a metric that is not an accuracy (an RMSE, a mean absolute error), "
            "and the losses alone decide"
        )


def _numbers(values: Any, key: str, name: Callable[[int], str]) -> np.ndarray:
    """``values`` as a float array, shape ``(n,)`` (``None`` becomes NaN); ``name`` names
    entry ``i`` in an error (``"epoch 3"``)."""
    if getattr(values, "ndim", 1) != 1:
        raise InputError(
            f"curve {key!r} must be one value per epoch (1-D), got an array of shape "
            f"{tuple(values.shape)}"
        )
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiu":
        return values.astype(np.float64)
    if all(type(v) is float or type(v) is int for v in values):  # the common case, fast
        return np.asarray(values, dtype=np.float64)
    arr = np.empty(len(values), dtype=np.float64)
    for i, v in enumerate(values):
        arr[i] = _number(v, f"curve {key!r} {name(i)}")
    return arr


def _missing(value: Any) -> bool:
    """Whether ``value`` is ``None`` or pandas' missing value ``pd.NA`` (of nullable columns)."""
    pandas = sys.modules.get("pandas")
    return value is None or (pandas is not None and value is getattr(pandas, "NA", None))


def _number(value: Any, where: str) -> float:
    if _missing(value):
        return math.nan
    if isinstance(value, bool | np.bool_ | complex | np.complexfloating):  # (float() takes them)
        raise InputError(f"{where}: expected a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(f"{where}: expected a number, got {value!r}") from None


class ReadCurves(dict[str, list[float]]):
    """The curves :func:`read_curves` read from a file: ``{name: list of floats}``, and the
    file's own name of each curve it read under another one (``columns``: ``{"train_loss":
    "loss"}`` for Keras's ``CSVLogger``), so that what :func:`hyperlab.diagnose.diagnose` says
    about a curve names the file's column. A copy (``dict(curves)``) is plain curves, named as
    diagnose names them."""

    def __init__(
        self, curves: Mapping[str, list[float]], columns: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(curves)
        self.columns: dict[str, str] = dict(columns or {})


def read_curves(path: str | Path) -> ReadCurves:
    """Read one run's curves from a CSV or JSON file.

    The losses are read as lower is better with 0 the best possible (cross-entropy, squared
    error; a negative loss is refused: one with a known floor, a loss minus a baseline, can be
    shifted by it, but a density's negative log-likelihood has none, so give a loss with a floor
    of 0 logged beside it, such as the mean squared error), the metrics as an accuracy (higher
    is better, in [0, 1]).

    CSV: a header row with ``epoch``, ``train_loss``, ``val_loss`` and optionally
    ``train_metric``, ``val_metric`` (other loggers' names for them are read as these, see
    :mod:`hyperlab.diagnose.loggers`; other columns are ignored); one row per epoch (a file with
    a ``step`` column and no ``epoch`` column is read so too, with a warning naming it: the steps
    an epoch takes are not in the file; so is one with another logger's name for the step,
    ``global_step``, ``iteration``, ``iter``, W&B's ``_step``, ``trainer/global_step``, where it
    has neither an ``epoch`` nor a ``step`` column, see
    :data:`hyperlab.diagnose.loggers.STEP_COUNTERS`; W&B's ``_step`` that counts the rows, 0, 1,
    2, ... as it does by default, is read without a warning); empty cells,
    ``nan`` and ``inf`` are allowed. An empty cell, or one that says ``NA`` (Keras's CSVLogger
    writes it for an epoch without validation), ``N/A``, ``null`` or ``None``, is a missing point
    (a loss measured every few epochs). Rows that share an ``epoch`` (loggers that write train
    and validation rows apart, or one row per logged step) are merged into one (but an epoch
    validated twice or more at different ``step`` values, PyTorch Lightning's
    ``val_check_interval=0.5``, is split at its validations: one point each, at its share of
    the epoch's steps, as fractional epochs are; see :func:`hyperlab.diagnose.rows.place`):
    each column's
    value is the mean of its numbers in those rows, or the last one when that is NaN/inf; a
    column with NaN beside its numbers in two or more epochs writes NaN for "not logged in this
    row" (pandas' ``na_rep``, a W&B history), and its NaN cells count as empty there.
    Whole-numbered epochs place the rows: epoch ``e`` is the ``e``-th epoch (the ``e + 1``-th
    when they start at 0), and the epochs between logged ones are missing points (a run logged
    every 5 epochs is read over all of them). Fractional epochs (evaluations every few hundred
    steps) make one point per epoch value, and the curves carry each point's epoch
    (``at_epoch``, see :func:`check_curves`): the diagnosis names those epochs and gives its rates
    per their spacing, and warns when the points lie unevenly apart (it reads them as evenly
    spaced). JSON: an object ``{"train_loss": [...], ...}`` (optionally under a ``"curves"``
    key, as the lab stores trials; one point per list entry), a list of row objects, read as a
    CSV file's rows are, or a Hugging Face Trainer's ``trainer_state.json`` (or its
    ``log_history``), read as one row per evaluation
    (:func:`hyperlab.diagnose.loggers.trainer_rows`) at its ``epoch``, which counts the epochs
    trained: an evaluation before training (``eval_on_start=True``, epoch 0) is the curves'
    start, kept at epoch 0 (``at_epoch``), where a file's epoch 0 is Keras's first epoch,
    unless its row has no training loss (an empty cell; at ``step`` 0 where the file has that
    column): that row is an evaluation before training, the run's start as the Trainer's.

    Args:
        path: The file.

    Returns:
        ``{name: list of floats}``, checked with :func:`check_curves` (``at_epoch`` among them
        where the file's epochs are fractions), with the file's own name of each curve read
        under another name (:class:`ReadCurves`).

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
        parsed = _parse_json(text, path)
    else:
        parsed = _parse_csv(text, path)
    try:
        checked = _checked(parsed.curves, parsed.first)
    except InputError as exc:
        names = ", ".join(f"{a!r} as {b}" for a, b in parsed.read_as.items())
        raise InputError(f"{path}: {exc}" + (f" (read {names})" if names else "")) from None
    read_as = parsed.read_as
    columns = {curve: name.strip() for name, curve in read_as.items() if curve in checked}
    return ReadCurves({k: [float(x) for x in v] for k, v in checked.items()}, columns)


@dataclass(frozen=True)
class _Parsed:
    """A file's curves (not checked yet), which of its columns (or keys) were read as which
    curve, and the file's epoch of the first point where the curves carry no ``at_epoch`` (0
    for Keras's epochs from 0; see :class:`_Epochs`)."""

    curves: dict[str, Any]
    read_as: dict[str, str]
    first: int = 1


def _read_as(names: list[str], where: str) -> dict[str, str]:
    """Which of a file's columns (or keys) are read as which curve (see
    :func:`hyperlab.diagnose.loggers.logger_names`); ``where`` names the file in an error."""
    try:
        return logger_names(names)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None


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


def _parse_csv(text: str, path: Path) -> _Parsed:
    """The file's curves, and which of its columns were read as which curve."""
    rows = list(csv.reader(text.splitlines()))
    read_as = _read_as(rows[0], f"{path}, line 1")
    header = [read_as.get(h, h).strip().lower() for h in rows[0]]
    twice = sorted(
        {h for h in header if h in (*REQUIRED, *OPTIONAL, *PLACE) and header.count(h) > 1}
    )
    if twice:
        raise InputError(f"{path}, line 1: the header names {twice} more than once")
    missing = [k for k in REQUIRED if k not in header]
    if missing:
        raise InputError(
            f"{path}, line 1: the header lacks the required column(s) {missing}; "
            f"got {rows[0]} (expected epoch, train_loss, val_loss[, train_metric, val_metric])"
            + missing_hint(rows[0], renames=False)
        )
    cols = {k: header.index(k) for k in (*REQUIRED, *OPTIONAL, *PLACE) if k in header}
    counter = _counter(rows[0], header)
    parsed: Rows = []
    for line_no, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) < len(header) or any(c.strip() for c in row[len(header) :]):
            raise InputError(
                f"{path}, line {line_no}: expected {len(header)} values, got {len(row)}: {row}"
            )
        at = f"{path}, line {line_no}"
        cells = {k: _cell(row[c], rows[0][c].strip(), at) for k, c in cols.items()}
        if counter is not None:
            cells[rows[0][counter].strip()] = _count(row[counter])
        parsed.append((at, cells))
    if not parsed:
        raise InputError(f"{path}: the file has a header but no rows (line 2 onward is empty)")
    curves, first = _columns(parsed, [k for k in cols if k not in PLACE], path)
    return _Parsed(curves, read_as, first)


def _columns(
    rows: Rows, keys: list[str], path: Path, *, epochs_done: bool = False
) -> tuple[dict[str, list[Any]], int]:
    """The curves ``keys`` of a file's ``rows``, placed at their epochs (see
    :func:`hyperlab.diagnose.rows.place`, which ``epochs_done`` is passed to), with
    ``at_epoch`` where the epochs are fractions or a run's start is kept at epoch 0, and the
    file's epoch of the first point where they carry none (:attr:`Placed.first`).

    Raises:
        InputError: A loss column holds no value at all, or an epoch is bad.
    """
    placed = place(rows, str(path), epochs_done=epochs_done)
    for key in REQUIRED:
        if all(r[key] is None for _, r in placed.rows):
            raise InputError(
                f"{path}: column {key!r} holds no values (every cell is empty); a diagnosis "
                "needs both losses (a loss that became nan or inf is a value: the run diverged)"
            )
    out: dict[str, list[Any]] = {k: [_or_nan(r[k]) for _, r in placed.rows] for k in keys}
    if placed.at_epoch is not None:
        out[AT_EPOCH] = placed.at_epoch
    return out, placed.first


def _counter(names: list[str], header: list[str]) -> int | None:
    """The index among a file's column ``names`` (``header``: as read, ``epoch/epoch`` as
    ``epoch``) of a step counted under another logger's name (``global_step``, W&B's ``_step``:
    :func:`hyperlab.diagnose.loggers.step_column`) where the file has neither an ``epoch`` nor
    a ``step`` column: read only for the warning that its rows are read one an epoch (see
    :func:`hyperlab.diagnose.rows.place`); ``None``: none is."""
    if "epoch" in header or "step" in header:
        return None
    name = step_column(names)
    return None if name is None else names.index(name)


def _count(value: Any) -> float | None:
    """A step counter's cell (or JSON value) as a number, ``None`` where it is none: read for a
    warning only, it never refuses a file."""
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _or_nan(x: float | None) -> float:
    return math.nan if x is None else x


#: Cells that mean "not logged", read like an empty cell (Keras's CSVLogger writes ``NA`` where
#: an epoch has no validation, ``validation_freq > 1``; pandas and R write these too).
BLANK_CELLS = frozenset({"na", "n/a", "<na>", "null", "none"})


def _cell(cell: str, key: str, at: str) -> float | None:
    """One CSV cell as a number, ``None`` when it is empty or a :data:`BLANK_CELLS` word;
    ``at`` says where it was read."""
    cell = cell.strip()
    if not cell or cell.lower() in BLANK_CELLS:
        return None
    try:
        return float(cell)
    except ValueError:
        raise InputError(f"{at}: column {key!r} holds {cell!r}, which is not a number") from None


def _parse_json(text: str, path: Path) -> _Parsed:
    """The file's curves (lists, or numbers and ``None``: checked later), and which of its
    keys were read as which curve."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}, line {exc.lineno}: not valid JSON ({exc.msg})") from None
    try:
        trainer = trainer_rows(data)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
    if trainer is not None:  # (its epochs count the epochs trained: 0 is the run's start)
        parsed = _json_rows(trainer, path, epochs_done=True)
        return _Parsed(parsed.curves, trainer_names(trainer), parsed.first)
    if isinstance(data, dict) and isinstance(data.get("curves"), dict):
        data = data["curves"]
    if isinstance(data, list):
        return _json_rows(data, path)
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object of curves, got {type(data).__name__}")
    read_as = _read_as(list(data), str(path))
    data = {read_as.get(k, k): v for k, v in data.items()}
    odd = sorted(k for k in (*REQUIRED, *OPTIONAL) if isinstance(data.get(k), dict | str))
    if odd:
        raise InputError(f"{path}: {odd[0]!r} must be a list of numbers, one per epoch")
    return _Parsed(data, read_as)


def _json_rows(data: list[Any], path: Path, *, epochs_done: bool = False) -> _Parsed:
    """A JSON list of row objects as curves: read as a CSV file's rows are (an ``epoch`` key
    places them, see :func:`hyperlab.diagnose.rows.place`, which ``epochs_done`` is passed
    to)."""
    if not all(isinstance(r, dict) for r in data):
        raise InputError(f"{path}: a JSON list must hold one object per epoch")
    names = list(dict.fromkeys(str(k) for r in data for k in r))
    read_as = _read_as(names, str(path))
    keys = {read_as.get(n, n): n for n in names}
    if any(k not in keys for k in REQUIRED):  # (refused by name, as a dict of curves is)
        return _Parsed({k: [r.get(n) for r in data] for k, n in keys.items()}, read_as)
    wanted = [k for k in (*REQUIRED, *OPTIONAL, *PLACE) if k in keys]
    counter = _counter(names, list(keys))
    rows: Rows = []
    for i, r in enumerate(data, start=1):
        at = f"{path}, row {i}"
        cells = {k: _json_cell(r.get(keys[k]), keys[k], at) for k in wanted}
        if counter is not None:
            cells[names[counter]] = _count(r.get(names[counter]))
        rows.append((at, cells))
    keys_read = [k for k in wanted if k not in PLACE]
    curves, first = _columns(rows, keys_read, path, epochs_done=epochs_done)
    return _Parsed(curves, read_as, first)


def _json_cell(value: Any, name: str, at: str) -> float | None:
    """One JSON row's value as a number, ``None`` when it is missing (``null``)."""
    return None if _missing(value) else _number(value, f"{at}: {name!r}")
