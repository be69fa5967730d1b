"""Other tools' names for the curves, and what their files need to be read.

Keras (``CSVLogger``, ``history.history``), PyTorch Lightning (``CSVLogger``'s
``metrics.csv``), Hugging Face (``eval_loss``) and hand-written W&B logs (``train/loss``) name
the curves their own way. A curve file is read under diagnose's names: a column that
:data:`ALIASES` names is read as its curve when the file lacks that curve's own name
(:func:`logger_names`). Curves given in Python keep diagnose's names; an error names the
renaming (:func:`rename_hint`).
"""

from __future__ import annotations

from collections.abc import Sequence

from hyperlab.errors import InputError

#: Column names of common loggers -> the curve diagnose reads (Keras's ``CSVLogger`` and
#: ``history.history``, PyTorch Lightning's ``on_epoch`` logs, Hugging Face's ``eval_loss``,
#: short accuracy names). A ``/`` in a name reads as ``_`` (``train/loss``).
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


def _key(name: str) -> str:
    return name.strip().lower().replace("/", "_")


def _curve(name: str) -> str | None:
    """The curve ``name`` stands for (``None``: none)."""
    key = _key(name)
    return key if key in CURVES else ALIASES.get(key)


def logger_names(names: Sequence[str]) -> dict[str, str]:
    """Which of a file's column ``names`` are read as which curve.

    Args:
        names: The header's columns (or a JSON object's keys).

    Returns:
        ``{name: curve}`` for each name that :data:`ALIASES` maps to a curve that no name
        gives under its own name (``loss`` -> ``train_loss`` unless ``train_loss`` is there).

    Raises:
        InputError: Two names would be read as one curve; the message names both.
    """
    own = {n.strip().lower() for n in names}
    found: dict[str, list[str]] = {}
    for name in names:
        curve = _curve(name)
        if curve is not None and curve not in own:
            found.setdefault(curve, []).append(name)
    for curve, given in found.items():
        if len(given) > 1:
            raise InputError(
                f"the columns {given} could each be {curve}: rename the one that is to {curve!r}"
            )
    return {given[0]: curve for curve, given in found.items()}


def rename_hint(names: list[str]) -> str:
    """The renamings that would give ``names`` (columns or keys) the ones diagnose reads, as
    the end of an error message ('' when none applies)."""
    lower = [n.strip().lower() for n in names]
    moves: dict[str, str] = {}
    for name in names:
        target = _curve(name)
        if target and target not in lower and target not in moves.values():
            moves[name] = target
    other = [sep for sep in (";", "\t", "|") if len(names) == 1 and sep in names[0]]
    if other:
        return (
            f"; the line is split at commas and holds none, but {other[0]!r}: save the file "
            "comma-separated (pandas: to_csv without sep)"
        )
    if not moves:
        return ""
    return "; rename " + ", ".join(f"{a!r} to {b!r}" for a, b in moves.items())
