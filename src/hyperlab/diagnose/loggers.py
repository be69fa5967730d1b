"""Other tools' names for the curves, and what their files need to be read.

Keras (``CSVLogger``, ``history.history``), PyTorch Lightning (``CSVLogger``'s
``metrics.csv``), Hugging Face (``eval_loss``), W&B's Keras callback (``epoch/loss``,
``epoch/val_loss``, the epoch as ``epoch/epoch``) and hand-written W&B logs (``train/loss``) name
the curves their own way. A curve file is read under diagnose's names: a column that
:data:`ALIASES` names is read as its curve when the file lacks that curve's own name
(:func:`logger_names`). Curves given in Python keep diagnose's names; an error names the
renaming (:func:`missing_hint`). A Hugging Face Trainer's ``trainer_state.json`` logs training
and evaluation as entries of their own, at steps of their own: :func:`trainer_rows` makes it
one row per evaluation.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from hyperlab.errors import InputError

#: Column names of common loggers -> the curve diagnose reads (Keras's ``CSVLogger`` and
#: ``history.history``, PyTorch Lightning's ``on_epoch`` logs, Hugging Face's ``eval_loss``,
#: short accuracy names). A ``/`` in a name reads as ``_`` (``train/loss``), and a name after
#: :data:`EPOCH_PREFIX` reads as the name alone (W&B's Keras callback, ``WandbMetricsLogger``,
#: logs ``epoch/loss``, ``epoch/val_accuracy``; its ``batch/loss`` is no epoch's).
ALIASES = {
    "loss": "train_loss",
    "training_loss": "train_loss",
    "train_loss_epoch": "train_loss",
    "val_loss_epoch": "val_loss",
    "valid_loss": "val_loss",
    "validation_loss": "val_loss",
    "eval_loss": "val_loss",
    "accuracy": "train_metric",
    "acc": "train_metric",
    "train_acc": "train_metric",
    "train_acc_epoch": "train_metric",
    "train_accuracy": "train_metric",
    "val_accuracy": "val_metric",
    "val_acc": "val_metric",
    "eval_accuracy": "val_metric",
}
CURVES = frozenset(ALIASES.values())
#: Per-step names (PyTorch Lightning's ``self.log(..., on_step=True)`` beside ``on_epoch=True``,
#: or alone under this name) -> their curve, read only where the file has an ``epoch`` column
#: and no other name for that curve: the rows of an epoch are merged, so the curve is the mean
#: of the steps logged in it (one every ``log_every_n_steps``), as Lightning's own
#: ``train_loss_epoch`` is the mean over every step of the epoch.
STEP_NAMES = {"train_loss_step": "train_loss", "train_acc_step": "train_metric"}
#: Other loggers' names for the step (or iteration) a row was logged at, as :func:`_key`
#: writes them: read like a ``step`` column where a file has neither ``step`` nor ``epoch``
#: (its rows are then read one an epoch, with a warning; see :func:`step_column`). W&B writes
#: its own ``_step`` on every row (:data:`WANDB_STEP`), PyTorch Lightning's W&B logger
#: ``trainer/global_step``, a Hugging Face Trainer's ``train/global_step``.
STEP_COUNTERS = frozenset(
    {"global_step", "iteration", "iter", "_step", "trainer_global_step", "train_global_step"}
)
#: W&B's count of ``wandb.log`` calls, 0, 1, 2, ... a row unless the call gives a step: where it
#: counts the rows it says nothing their order does not (:func:`counts_rows`).
WANDB_STEP = "_step"
#: The prefix of per-epoch names (``epoch/``, as :func:`_key` writes it).
EPOCH_PREFIX = "epoch_"
#: A Hugging Face Trainer's ``log_history`` names -> the curve :func:`trainer_rows` reads them as.
TRAINER_NAMES = {"loss": "train_loss", "eval_loss": "val_loss", "eval_accuracy": "val_metric"}


def _key(name: str) -> str:
    return name.strip().lower().replace("/", "_")


def _curve(name: str) -> str | None:
    """The curve ``name`` stands for (``None``: none)."""
    key = _key(name)
    if key.startswith(EPOCH_PREFIX) and key != EPOCH_PREFIX:
        key = key.removeprefix(EPOCH_PREFIX)
    return key if key in CURVES else ALIASES.get(key)


def _target(name: str) -> str | None:
    """The curve, or the ``epoch`` column (W&B's ``epoch/epoch``), that ``name`` stands for."""
    return "epoch" if _key(name) == EPOCH_PREFIX + "epoch" else _curve(name)


def step_column(names: Iterable[str]) -> str | None:
    """The first of ``names`` (columns, or a dict's keys) that says at which step each row was
    logged: ``step`` (in any case), else one of :data:`STEP_COUNTERS` (``global_step``,
    ``trainer/global_step``, ``iteration``); ``None``: none does."""
    given = [n for n in names if isinstance(n, str)]
    own = [n for n in given if _key(n) == "step"]
    return next(iter(own), None) or next((n for n in given if _key(n) in STEP_COUNTERS), None)


def counts_rows(name: str, values: Any) -> bool:
    """Whether the step column ``name`` is W&B's ``_step`` (:data:`WANDB_STEP`) and its
    ``values`` number the rows 0, 1, 2, ... (or 1, 2, 3, ...): one ``wandb.log`` call a row,
    which places the rows no otherwise than their order (a run logged once an epoch), so no
    warning is due that the rows are read one an epoch."""
    if _key(name) != WANDB_STEP:
        return False
    try:
        x = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        return False
    n = len(x) if x.ndim == 1 else 0
    return n > 0 and any(np.array_equal(x, np.arange(k, n + k, dtype=float)) for k in (0, 1))


def logger_names(names: Sequence[str]) -> dict[str, str]:
    """Which of a file's column ``names`` are read as which curve.

    Args:
        names: The header's columns (or a JSON object's keys).

    Returns:
        ``{name: curve}`` for each name that :data:`ALIASES` maps to a curve that no name
        gives under its own name (``loss`` -> ``train_loss`` unless ``train_loss`` is there),
        and ``epoch/epoch`` -> ``epoch`` unless ``epoch`` is there; in a file with an
        ``epoch`` column, a :data:`STEP_NAMES` name for a curve that no other name gives.

    Raises:
        InputError: Two names would be read as one curve; the message names both.
    """
    own = {n.strip().lower() for n in names}
    found: dict[str, list[str]] = {}
    for name in names:
        curve = _target(name)
        if curve is not None and curve not in own:
            found.setdefault(curve, []).append(name)
    for curve, given in found.items():
        if len(given) > 1:
            raise InputError(
                f"the columns {given} could each be {curve}: rename the one that is to {curve!r}"
            )
    if "epoch" in own or "epoch" in found:
        for name in names:
            curve = STEP_NAMES.get(_key(name))
            if curve is not None and curve not in own and curve not in found:
                found[curve] = [name]
    return {given[0]: curve for curve, given in found.items()}


def missing_hint(names: list[str], *, renames: bool = True) -> str:
    """How to give ``names`` (columns or keys that lack a loss) the curves diagnose reads, as
    the end of an error message ('' when nothing applies): a file split at another separator,
    a TensorBoard export of one scalar, a train loss of single steps, metrics with no loss, or
    (with ``renames``: names not read as loggers' names already) the renamings.
    """
    lower = [n.strip().lower() for n in names]
    other = [sep for sep in (";", "\t", "|") if len(names) == 1 and sep in names[0]]
    if other:
        return (
            f"; the line is split at commas and holds none, but {other[0]!r}: save the file "
            "comma-separated (pandas: to_csv without sep)"
        )
    if lower == ["wall time", "step", "value"]:
        return (
            "; this is TensorBoard's export of one scalar: put the train and the validation "
            "loss of the run in one file, joined on Step (columns epoch, train_loss, val_loss)"
        )
    curves = {n: _curve(n) for n in names}
    steps = [n for n in names if STEP_NAMES.get(_key(n)) == "train_loss"]
    if steps and "train_loss" not in curves.values():
        return (
            f"; {steps[0]!r} holds the loss of single steps (PyTorch Lightning's self.log with "
            "on_step=True): log the train loss with on_epoch=True as well, which writes "
            "'train_loss_epoch', or give the file its 'epoch' column, whose rows are averaged "
            "per epoch when read (a DataFrame: df.groupby('epoch').mean(), the column renamed "
            "to 'train_loss')"
        )
    if not {"train_loss", "val_loss"} & set(curves.values()):
        metrics = [n for n, c in curves.items() if c in ("train_metric", "val_metric")]
        shown = ", ".join(map(repr, metrics))
        return (
            f"; {shown} {'is a metric' if len(metrics) == 1 else 'are metrics'} (higher is "
            "better), not a loss: a diagnosis needs the train and the validation loss (a metric "
            "is read beside them); log the losses too"
            if metrics
            else ""
        )
    moves: dict[str, str] = {}
    for name, target in curves.items():
        if renames and target and target not in lower and target not in moves.values():
            moves[name] = target
    if not moves:
        return ""
    return "; rename " + ", ".join(f"{a!r} to {b!r}" for a, b in moves.items())


def trainer_rows(data: Any) -> list[dict[str, Any]] | None:
    """A Hugging Face Trainer's log as one row per evaluation (``None``: ``data`` is none).

    Args:
        data: A parsed JSON file: the Trainer's ``trainer_state.json`` (an object with a
            ``log_history`` list) or that list (entries with a ``step``, one of them an
            evaluation with ``eval_loss``).

    Returns:
        One row per evaluation: its ``epoch``, ``eval_loss`` as ``val_loss``,
        ``eval_accuracy`` as ``val_metric`` and, as ``train_loss``, the last training loss
        (``loss``) logged since the evaluation before it (``None``, a missing point, where
        none was: the Trainer's notebook table would repeat an older one, which reads as a
        plateau; an evaluation before training, ``eval_on_start=True`` at epoch 0, has none).
        The run's closing entry (``train_loss`` over the whole run,
        ``train_runtime``) is no point of a curve and is left out.

    Raises:
        InputError: The log holds no evaluation.
    """
    if isinstance(data, dict) and isinstance(data.get("log_history"), list):
        history = data["log_history"]
    elif _is_trainer_log(data):
        history = data
    else:
        return None
    rows, train = [], None
    for entry in history:
        if not isinstance(entry, dict):
            raise InputError(f"log_history holds {entry!r}; expected one object per log entry")
        if "eval_loss" in entry:
            val = {TRAINER_NAMES[k]: entry.get(k) for k in ("eval_loss", "eval_accuracy")}
            rows.append({"epoch": entry.get("epoch"), "train_loss": train, **val})
            train = None
        elif "loss" in entry:
            train = entry["loss"]
    if not rows:
        raise InputError(
            "a Hugging Face Trainer log with no evaluation (no entry has 'eval_loss'): a "
            "diagnosis needs a validation loss; train with an eval_dataset and "
            "eval_strategy='epoch' (or 'steps')"
        )
    return rows


def trainer_names(rows: list[dict[str, Any]]) -> dict[str, str]:
    """Which of a Trainer's names :func:`trainer_rows` read as which curve (``{"eval_loss":
    "val_loss", ...}``), for the curves its ``rows`` hold a value of."""
    return {
        name: curve
        for name, curve in TRAINER_NAMES.items()
        if any(r.get(curve) is not None for r in rows)
    }


def _is_trainer_log(data: Any) -> bool:
    """Whether ``data`` is a Trainer's ``log_history`` list: entries with a ``step``, one of
    them an evaluation (``eval_loss``)."""
    return (
        isinstance(data, list)
        and all(isinstance(r, dict) and "step" in r for r in data)
        and any("eval_loss" in r for r in data)
    )
