"""Loss curves that read as accuracies: a metric logged under a loss's name.

An accuracy logged as a loss (``val_acc`` written under ``val_loss``, a logger's columns mixed
up) gives a confident diagnosis of nonsense: the rise of a good run's accuracy reads as a loss
that grows. :func:`accuracy_as_loss` finds the one case that losses do not make: both losses
within [0, 1], starting at most :data:`START` and rising steadily by at least :data:`RISE` to
end near their highest value. A run's train loss falls while it learns (it rises from the first
epoch on only when the run diverges, and then seldom stays within [0, 1] and steady), so both
rising that way is an accuracy's shape. A validation loss that rises while the train loss falls
is overfitting and is never read as a mix-up; nor is a lone curve, since the other one would
have to rise too. None of the 9,770 labelled runs of ``benchmarks/data/diagnosis_*.json.gz``
has losses of that shape; 589 of their accuracy pairs, placed as losses, have it (most of the
others start above 0.5 after their first epoch, or move up and down, and are not told apart).

The mirror image, :func:`error_as_metric`: a lower-is-better metric given as ``train_metric``
and ``val_metric`` (an RMSE or a mean absolute error of standardized targets, an error rate),
read as an accuracy, makes a healthy run's falling error read as a network that got worse
(a regression MLP's RMSE: "lr-too-high 71%: the network blew up and did not recover"). An
accuracy rises as its loss falls, so both metrics falling steadily by at least :data:`RISE`
within [0, 1] while both losses end below their first values is an error's shape. None of the
labelled runs (each has metrics) has metrics of that shape (those whose accuracies fall
steadily, held at their start by heavy weight decay, have losses that rise); 1,128 of their
error rates (one minus the accuracy) have it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from hyperlab.diagnose.points import points

#: The highest first value of an accuracy-like curve ("from near 0").
START = 0.5
#: The least rise, first to last point, of an accuracy-like curve.
RISE = 0.2
#: The largest share of falling steps of a steady rise.
FALLS = 0.3
#: The most the curve may end below its highest value, as a share of its rise.
BELOW_TOP = 0.25
#: The fewest points to judge.
MIN_POINTS = 5


def accuracy_as_loss(
    curves: dict[str, np.ndarray], columns: Mapping[str, str] | None = None
) -> str | None:
    """A warning when both loss curves rise as accuracies do (see the module docstring).

    Args:
        curves: Checked curves (:func:`hyperlab.diagnose.inputs.check_curves`).
        columns: The file's own name of a curve read under another one (``{"train_loss":
            "loss"}``, :class:`hyperlab.diagnose.inputs.ReadCurves`): the warning names the
            file's columns.

    Returns:
        The warning's text, or ``None``.
    """
    columns = columns or {}
    tr, va = curves["train_loss"], curves["val_loss"]
    read = points(tr, va)
    if read.onset < len(tr):
        return None  # (a diverged run is read as such)
    shown = []
    for key, curve in (("train_loss", tr), ("val_loss", va)):
        x = curve[read.index]
        if not _rises_as_accuracy(x):
            return None
        shown.append(f"{columns.get(key, key)} {x[0]:.2g} -> {x[-1]:.2g}")
    return (
        f"{' and '.join(shown)}: both losses rise steadily within [0, 1], as accuracies do; a "
        "loss falls as a run learns. If these are accuracies (val_acc logged under "
        f"{columns.get('val_loss', 'val_loss')}), give them as train_metric and val_metric "
        "beside the losses; this diagnosis reads them as losses"
    )


def _rises_as_accuracy(x: np.ndarray) -> bool:
    """Whether ``x`` (a curve at its points) rises as an accuracy does: from at most
    :data:`START`, steadily (:func:`_rises_steadily`)."""
    return len(x) > 0 and x[0] <= START and _rises_steadily(x)


def _rises_steadily(x: np.ndarray) -> bool:
    """Whether ``x`` stays within [0, 1] and rises by at least :data:`RISE`, falling at no more
    than :data:`FALLS` of its steps and ending near its highest value."""
    if len(x) < MIN_POINTS or x.min() < 0 or x.max() > 1:
        return False
    rise = float(x[-1] - x[0])
    if rise < RISE:
        return False
    steady = float((np.diff(x) < 0).mean()) <= FALLS
    return steady and float(x.max() - x[-1]) <= BELOW_TOP * rise


def error_as_metric(
    curves: dict[str, np.ndarray], columns: Mapping[str, str] | None = None
) -> str | None:
    """A warning when both metric curves fall as errors do while both losses fall (see the
    module docstring).

    Args:
        curves: Checked curves (:func:`hyperlab.diagnose.inputs.check_curves`).
        columns: The file's own name of a curve read under another one, as for
            :func:`accuracy_as_loss`.

    Returns:
        The warning's text, or ``None``.
    """
    if "train_metric" not in curves or "val_metric" not in curves:
        return None
    columns = columns or {}
    tr, va = curves["train_loss"], curves["val_loss"]
    read = points(tr, va)
    if read.onset < len(tr) or not len(read.index):
        return None  # (a diverged run is read as such)
    if not all(c[read.index][-1] < c[read.index][0] for c in (tr, va)):
        return None  # (an accuracy falls while its loss rises: weights pulled to their start)
    shown = []
    for key in ("train_metric", "val_metric"):
        x = curves[key][read.index]
        x = x[np.isfinite(x)]
        if not _rises_steadily(1.0 - x):  # (it falls steadily)
            return None
        shown.append(f"{columns.get(key, key)} {x[0]:.2g} -> {x[-1]:.2g}")
    return (
        f"{' and '.join(shown)}: both metrics fall steadily within [0, 1] while the losses "
        "fall, as errors do; an accuracy rises as a run learns. If these are errors (an RMSE, "
        "a mean absolute error, an error rate), give 1 - error for an error rate or leave them "
        "out; this diagnosis reads them as accuracies (higher is better)"
    )
