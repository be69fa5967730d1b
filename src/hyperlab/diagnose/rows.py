"""A logger's rows as curves: rows merged per epoch and placed at their epochs.

Loggers write a table: a CSV file's rows, a JSON list of objects, a Hugging Face Trainer's
evaluations (:func:`hyperlab.diagnose.loggers.trainer_rows`). Without an ``epoch`` column each
row is one point, in order (read as one epoch; with a warning where the rows carry a ``step``,
or another logger's name for it such as ``global_step``, which gives no epoch without the steps
an epoch takes). With one, :func:`place` reads the rows as
:func:`hyperlab.diagnose.inputs.read_curves` describes: rows that share an epoch are merged;
whole-numbered epochs place the rows at their epochs (the epochs between logged ones are missing
points; epochs that start at 0 are Keras's, its first epoch 0, but a Trainer's epoch 0 is its
evaluation before training, kept as the curves' start at epoch 0: :func:`_with_start`, as is
any file's epoch 0 whose row has no training loss, an evaluation before training);
fractional epochs (a Trainer that evaluates every few hundred steps) make one point per epoch
value, and the points carry their epochs (``at_epoch``) so that the diagnosis names the file's
epochs and gives its rates per the file's spacing. An epoch validated more than once at
different steps (Lightning's ``val_check_interval=0.5``) is split at its validations, each a
point at its share of the epoch's steps, as fractional epochs are (:func:`_split_at_checks`).
Points that lie unevenly apart are read as evenly spaced ones (the features compare
neighbouring points), with a warning.
"""

from __future__ import annotations

import bisect
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from hyperlab.diagnose.loggers import counts_rows, step_column
from hyperlab.errors import InputError, user_stacklevel

#: One row's cells by column (``None``: empty).
Cells = dict[str, float | None]
#: Rows, each with where it was read (``"run.csv, line 3"``, for errors) and its cells.
Rows = list[tuple[str, Cells]]

#: The most epochs a whole-numbered ``epoch`` column may spread its rows over.
MAX_EPOCHS = 1_000_000
#: Points read from fractional epochs lie unevenly apart when the widest spacing between two
#: neighbours is more than this many times the narrowest.
UNEVEN = 1.5


@dataclass(frozen=True)
class Placed:
    """Rows placed at their epochs.

    Attributes:
        rows: One row per point (a missing point's cells are all ``None``).
        at_epoch: Each point's epoch when the file's epochs are fractions (``None``: point ``i``
            is epoch ``i + 1``).
        first: The file's epoch of point 0 where ``at_epoch`` is ``None``: 0 where its epochs
            start at 0 (Keras's, point ``i`` the file's epoch ``i``, read as epoch ``i + 1``),
            else 1; for an error to name the row the file wrote.
    """

    rows: Rows
    at_epoch: list[float] | None
    first: int = 1


def place(rows: Rows, where: str, *, epochs_done: bool = False) -> Placed:
    """Merge ``rows`` per epoch and place them at their epochs (see the module docstring).

    Args:
        rows: The file's rows in order; an ``epoch`` cell in each when the file has that column
            (without it each row is one point, with a warning where the rows hold a ``step``, under
            that name or another logger's: :func:`hyperlab.diagnose.loggers.step_column`).
            A row with no value at all, its epoch and step included, is left out (W&B's Keras
            callback logging batches writes rows of ``batch/`` names alone beside the epochs').
        where: The file, for a warning.
        epochs_done: The epochs count the epochs trained (a Hugging Face Trainer's: 1.0 after
            the first epoch, 0 before any training step) rather than number them from 0 or 1:
            an epoch 0 is the run's start, kept as the curves' first point at epoch 0 (see
            :func:`_with_start`), never Keras's first epoch. Without it, an epoch 0 is the
            run's start too where its row has no training loss (:func:`_untrained`), and
            Keras's first epoch where it has one.

    Returns:
        The points.

    Raises:
        InputError: An epoch is empty, not a finite number >= 0, or smaller than the one before
            it, or a whole-numbered epoch lies beyond :data:`MAX_EPOCHS`.
    """
    if not rows or "epoch" not in rows[0][1]:
        _warn_steps(rows, where)
        return Placed(rows, None)
    rows = [(at, row) for at, row in rows if any(_finite_or_inf(x) for x in row.values())]
    if not rows:
        return Placed(rows, None)
    groups = _epoch_groups(rows)
    checks = _split_at_checks(groups)
    if checks is not None:
        groups, epochs = checks
    else:
        epochs = [float(rs[0]["epoch"] or 0.0) for _, rs in groups]
    blank = _nan_as_blank([rs for _, rs in groups])
    merged = [(at, _merged_row(rs, blank)) for at, rs in groups]
    if checks is None and all(e.is_integer() for e in epochs):
        if epochs[0] == 0 and (epochs_done or _untrained(merged[0][1])):
            return _with_start(merged, epochs)
        return Placed(_at_epochs(merged, epochs), None, 0 if epochs[0] == 0 else 1)
    _warn_uneven(merged, epochs, where)
    return Placed(merged, epochs)


def _epoch_groups(rows: Rows) -> list[tuple[str, list[Cells]]]:
    """Consecutive rows that share an epoch, with where the first of them was read.

    Raises:
        InputError: An epoch is empty, not a finite number >= 0, or goes back.
    """
    groups: list[tuple[str, list[Cells]]] = []
    for at, row in rows:
        epoch = row["epoch"]
        if epoch is None:
            raise InputError(
                f"{at}: the 'epoch' cell is empty; each row needs its epoch "
                "to be merged with the other rows of that epoch (a history that logs the epoch "
                "on some rows only, as W&B's does when it comes with the validation: fill it "
                "from the row of the epoch, pandas: df['epoch'].bfill() when that row ends it)"
            )
        check_epoch(epoch, at)
        last = groups[-1][1][0]["epoch"] if groups else None
        if last is not None and epoch < last:
            raise InputError(
                f"{at}: the 'epoch' column goes back from {last:g} to "
                f"{epoch:g}; rows must be in epoch order"
            )
        if last is not None and epoch == last:
            groups[-1][1].append(row)
        else:
            groups.append((at, [row]))
    return groups


def _split_at_checks(
    groups: list[tuple[str, list[Cells]]],
) -> tuple[list[tuple[str, list[Cells]]], list[float]] | None:
    """Each epoch's rows split at its validations, and each part's epoch, when an epoch
    validates two or more times at different steps (PyTorch Lightning's ``metrics.csv`` with
    ``val_check_interval=0.5``: whole-numbered epochs, a ``step`` on every row).

    A part is a validation row and the rows up to its step (the rows after an epoch's last
    validation, its ``train_loss_epoch`` row among them, join the last part); its epoch is the
    epoch's start plus the share of the epoch's steps done at the validation (0.5 and 1.0 for
    two validations a 100-step epoch, at steps 49 and 99). An epoch's steps are the typical
    step count between the last rows of two epochs. ``None`` (the rows of an epoch are merged,
    as for one validation an epoch): no epoch validates twice, a row lacks its step, an epoch
    is a fraction, or the steps do not give increasing epochs.
    """
    if not all(_whole_with_steps(rs) for _, rs in groups):
        return None
    checks = [_check_steps(rs) for _, rs in groups]
    if max(len(c) for c in checks) < 2:
        return None
    ends = [max(_step(r) for r in rs) for _, rs in groups]
    span = float(np.median(np.diff(ends))) if len(ends) > 1 else ends[0] + 1
    first = 0 if groups[0][1][0]["epoch"] == 0 else 1
    parts: list[tuple[str, list[Cells]]] = []
    shares, epochs = [], []
    for g, ((at, rs), steps) in enumerate(zip(groups, checks)):
        start = ends[g - 1] + 1 if g else ends[0] - span + 1
        for part, step in zip(_parts(rs, steps), steps or [ends[g]]):
            parts.append((at, part))
            shares.append(min(1.0, (step - start + 1) / span) if span > 0 else 0.0)
            epochs.append(float(rs[0]["epoch"] or 0) - first + shares[-1])
    if min(shares) <= 0 or np.any(np.diff(epochs) <= 0):
        return None
    return parts, epochs


def _whole_with_steps(rows: list[Cells]) -> bool:
    """Whether the rows of one epoch have a whole-numbered epoch and a step each."""
    has_steps = "step" in rows[0] and all(r["step"] is not None for r in rows)
    return has_steps and float(rows[0]["epoch"] or 0).is_integer()


def _step(row: Cells) -> float:
    return float(row["step"] or 0)


def _check_steps(rows: list[Cells]) -> list[float]:
    """The steps, increasing and distinct, of the rows that hold a validation loss."""
    return sorted({_step(r) for r in rows if _finite_or_inf(r.get("val_loss"))})


def _parts(rows: list[Cells], steps: list[float]) -> list[list[Cells]]:
    """``rows`` split at the validation ``steps``: each row joins the first validation at or
    after its step (the last one when none is)."""
    if not steps:
        return [rows]
    out: list[list[Cells]] = [[] for _ in steps]
    for r in rows:
        k = bisect.bisect_left(steps, _step(r))
        out[min(k, len(steps) - 1)].append(r)
    return out


def _merged_row(rows: list[Cells], nan_blank: set[str]) -> Cells:
    """The rows of one epoch as one row (see :func:`hyperlab.diagnose.inputs.read_curves`)."""
    if len(rows) == 1:
        return rows[0]
    return {k: _merged([r[k] for r in rows], k in nan_blank) for k in rows[0]}


def _nan_as_blank(groups: list[list[Cells]]) -> set[str]:
    """The columns whose NaN cells mean "not logged in this row": NaN beside a finite number
    of the same column in two or more epochs (an export that writes NaN for an empty cell,
    pandas' ``na_rep``, W&B's history, where each row logs some columns). A run diverges once:
    after the epoch whose last steps turned NaN, no epoch has a finite number left."""
    out = set()
    for key in groups[0][0] if groups else ():
        mixed = 0
        for rows in groups:
            values = np.array([r[key] for r in rows if r[key] is not None], dtype=np.float64)
            mixed += bool(np.isnan(values).any() and np.isfinite(values).any())
        if mixed >= 2:
            out.add(key)
    return out


def _at_epochs(merged: Rows, epochs: list[float]) -> Rows:
    """Merged rows of whole-numbered ``epochs`` placed at them: epoch ``e`` is point ``e - 1``
    (``e`` when the epochs start at 0) and the epochs no row logged are missing points, so that
    the evidence and the figure name the file's epochs (a run logged every 5 epochs has its
    minimum at epoch 60, not at row 12).

    Raises:
        InputError: The last epoch lies beyond :data:`MAX_EPOCHS`.
    """
    first = 0 if epochs[0] == 0 else 1
    size = int(epochs[-1]) - first + 1
    if size > MAX_EPOCHS:
        raise InputError(
            f"{merged[-1][0]}: the 'epoch' column reaches {epochs[-1]:g}, more than "
            f"{MAX_EPOCHS:,} epochs; a column that counts steps or samples is no epoch: name it "
            "otherwise (without an 'epoch' column each row is one point, in order)"
        )
    empty: Cells = dict.fromkeys(merged[0][1])
    out: Rows = [("", empty)] * size
    for row, epoch in zip(merged, epochs):
        out[int(epoch) - first] = row
    return out


def _untrained(row: Cells) -> bool:
    """Whether epoch 0's merged ``row`` is an evaluation before training: it has no training
    loss (an empty cell: a user who logs the untrained model's ``val_loss`` first), and, where
    the file has a ``step`` column, was at step 0 (a PyTorch Lightning run whose first epoch is
    shorter than ``log_every_n_steps`` logs no training step in it, but validates at its last
    step). Keras's ``CSVLogger`` writes its trained epoch 0 with its loss."""
    return row.get("train_loss", 0.0) is None and not row.get("step")


def _with_start(merged: Rows, epochs: list[float]) -> Placed:
    """Whole-numbered ``epochs`` that count the epochs trained, the first of them 0 (an
    evaluation before any training step: a Trainer's ``eval_on_start=True``, or a row at epoch 0
    with no training loss, :func:`_untrained`), placed as a
    1-based file's epochs are, behind the start: the start is point 0 at epoch 0, epoch ``e``
    is point ``e``, and the points carry their epochs (``at_epoch``: 0, 1, 2, ...), since
    without them point ``i`` would be read as epoch ``i + 1``."""
    rest = _at_epochs(merged[1:], epochs[1:]) if len(merged) > 1 else []
    out = [merged[0], *rest]
    return Placed(out, [float(e) for e in range(len(out))])


def _warn_steps(rows: Rows, where: str) -> None:
    """Warn when rows with no epoch carry a ``step`` (or another logger's name for it,
    :func:`hyperlab.diagnose.loggers.step_column`: metrics logged every few optimizer steps):
    each row is read as one epoch, so the epochs the diagnosis names are rows. The warning
    names the column; W&B's ``_step`` that counts the rows is not warned of
    (:func:`hyperlab.diagnose.loggers.counts_rows`)."""
    key = step_column(rows[0][1]) if rows else None
    if key is None or counts_rows(key, [row.get(key) for _, row in rows]):
        return
    steps = [(i, row[key]) for i, (_, row) in enumerate(rows) if _finite(row.get(key))]
    if not steps:
        return
    i, step = steps[-1]
    warnings.warn(
        f"{where}: the file has a {key!r} column and no 'epoch' column: each row is read as "
        f"one epoch, so the diagnosis calls its rows epochs (step {step:g} is epoch {i + 1}) "
        "and gives its rates per row; add an 'epoch' column holding each row's epoch, a "
        "fraction within an epoch (step / steps_per_epoch), to have the run's epochs named",
        UserWarning,
        stacklevel=user_stacklevel(),
    )


def _warn_uneven(merged: Rows, epochs: list[float], where: str) -> None:
    """Warn when the points that hold both losses lie unevenly apart (see :data:`UNEVEN`)."""
    both = [
        e
        for (_, row), e in zip(merged, epochs)
        if all(_finite(row.get(k)) for k in ("train_loss", "val_loss"))
    ]
    gaps = np.diff(both)
    if len(gaps) < 2 or gaps.max() <= UNEVEN * gaps.min():
        return
    warnings.warn(
        f"{where}: the points with both losses lie unevenly apart ({gaps.min():.3g} to "
        f"{gaps.max():.3g} epochs): the diagnosis reads them as evenly spaced points; the epochs "
        "it names are the file's",
        UserWarning,
        stacklevel=user_stacklevel(),
    )


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def _finite_or_inf(x: float | None) -> bool:
    """Whether ``x`` is a value (NaN may be a blank cell, see :func:`_nan_as_blank`)."""
    return x is not None and not math.isnan(x)


def check_epoch(epoch: Any, where: str) -> None:
    """Refuse an epoch that is not a finite number >= 0 (a negative, NaN or infinite one; a
    fraction is fine: a run evaluated twice an epoch); ``where`` says where it was read.

    Raises:
        InputError: The message names the value.
    """
    ok = isinstance(epoch, int | float) and not isinstance(epoch, bool)
    if not ok or not math.isfinite(epoch) or epoch < 0:
        shown = f"{epoch:g}" if isinstance(epoch, float) else repr(epoch)
        raise InputError(
            f"{where}: the 'epoch' column holds {shown}; epochs are numbers >= 0 "
            "(rows of one epoch share its number)"
        )


def _merged(values: list[float | None], nan_blank: bool = False) -> float | None:
    """The value of one column over rows of one epoch (``None``: no row has a number); with
    ``nan_blank``, a NaN beside numbers is a blank cell (see :func:`_nan_as_blank`)."""
    numbers = [x for x in values if x is not None]
    if nan_blank and any(not math.isnan(x) for x in numbers):
        numbers = [x for x in numbers if not math.isnan(x)]
    if not numbers:
        return None
    if not math.isfinite(numbers[-1]):
        return numbers[-1]
    finite = [x for x in numbers if math.isfinite(x)]
    return sum(finite) / len(finite)
