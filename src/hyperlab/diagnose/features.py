"""Scale-free features of one run's learning curves.

Every loss feature is computed on ``log(loss)``, a loss of exactly 0 counting as the run's
smallest positive loss (when a loss is negative, or every loss is 0: on the loss divided by its
largest magnitude), so multiplying a loss curve by any positive constant changes no feature.
Positions are fractions of the run (0 = first point, 1 = last), so the same features describe
a 3-epoch and a 1000-epoch run; the curves are read at points (:mod:`hyperlab.diagnose.points`):
every epoch where both losses were measured, or a fixed number of evenly spaced ones on a very
long run. Metric features (accuracy-like, already on a fixed scale) are
used only when both metric curves are given. One metric feature, ``val_loss_excess``, reads the
loss's own level: it compares the final validation loss with the log-loss a calibrated classifier
of the reached accuracy would have, so it assumes a cross-entropy loss whenever metrics are given;
the accuracy it reads is capped at one minus half the validation metric's smallest epoch-to-epoch
change (a score measured in steps of ``1/m`` says only that the error rate is below about ``1/m``;
the smallest change seen bounds the step from above, so a short run may be read coarser than it was
measured).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hyperlab.diagnose.points import points

#: The order of the feature vector the learned classifier reads.
FEATURE_NAMES = (
    "diverged",
    "train_change",
    "val_change",
    "train_best",
    "val_best",
    "val_rise",
    "val_argmin",
    "train_after_vmin",
    "gap_end",
    "gap_change",
    "train_tail",
    "val_tail",
    "val_tail_share",
    "train_tail_share",
    "train_rate",
    "train_first_half_share",
    "train_monotone",
    "val_monotone",
    "train_above_start",
    "train_noise",
    "val_noise",
    "noise_ratio",
    "val_noise_to_trend",
    "val_flips",
    "flip_excess",
    "val_resid_to_range",
    "val_rise_share",
    "train_rebound",
    "train_jumps",
    "lin_val_rise",
    "lin_val_tail",
    "lin_train_tail",
    "lin_gap",
    "has_metric",
    "train_metric_end",
    "val_metric_end",
    "metric_gap",
    "metric_gain",
    "val_metric_step",
    "val_metric_noise",
    "train_metric_noise",
    "val_metric_coarse",
    "val_loss_excess",
    "val_gap_zigzag",
)


@dataclass
class CurveView:
    """The transformed curves behind the features (kept for evidence sentences and plots).

    The curves are read at points (see :mod:`hyperlab.diagnose.points`): the epochs before the
    divergence where both losses were measured, evenly thinned out on a very long run. Every
    epoch is a point in an ordinary run.

    Attributes:
        n_epochs: Length of the given curves.
        n_finite: Epochs before the run diverged (== ``n_epochs`` when it did not).
        train: Transformed train loss at the points, shape ``(m,)``.
        val: Transformed validation loss at the points, shape ``(m,)``.
        val_smooth: ``val`` smoothed with a moving average, shape ``(m,)``.
        raw_train: Given train loss, shape ``(n_epochs,)``.
        raw_val: Given validation loss, shape ``(n_epochs,)``.
        log_scale: Whether ``train``/``val`` are logarithms.
        vmin: Index of the smoothed validation minimum (0-based, among the points).
        index: 0-based epoch of each point, shape ``(m,)``.
    """

    n_epochs: int
    n_finite: int
    train: np.ndarray
    val: np.ndarray
    val_smooth: np.ndarray
    raw_train: np.ndarray
    raw_val: np.ndarray
    log_scale: bool
    vmin: int
    index: np.ndarray

    def epoch(self, i: int) -> int:
        """The 1-based epoch of point ``i`` (negative ``i`` counts from the last point)."""
        return int(self.index[i]) + 1

    def at_points(self, curve: np.ndarray) -> np.ndarray:
        """A given per-epoch curve, shape ``(n_epochs,)``, at the points: shape ``(m,)``."""
        return curve[self.index]


def view(curves: dict[str, np.ndarray]) -> CurveView:
    """Transform checked curves (see :func:`hyperlab.diagnose.inputs.check_curves`)."""
    tr, va = curves["train_loss"], curves["val_loss"]
    read = points(tr, va)
    ftr, fva = tr[read.index], va[read.index]
    both = np.concatenate([ftr, fva])
    log_scale = bool(len(both) and (both >= 0).all() and (both > 0).any())
    if log_scale:
        # a loss of exactly 0 (a perfect fit, or float underflow) counts as the run's smallest
        # positive loss: one such epoch must not move the other epochs off the log axis
        floor = float(both[both > 0].min())
        gtr, gva = np.log(np.maximum(ftr, floor)), np.log(np.maximum(fva, floor))
    else:
        scale = float(np.abs(both).max()) if len(both) and np.abs(both).max() > 0 else 1.0
        gtr, gva = ftr / scale, fva / scale
    smooth = _smooth(gva)
    vmin = int(np.argmin(smooth)) if len(smooth) else 0
    return CurveView(len(tr), read.onset, gtr, gva, smooth, tr, va, log_scale, vmin, read.index)


def _smooth(x: np.ndarray) -> np.ndarray:
    """Centred moving average with a window of about a tenth of the run (edges shrink)."""
    n = len(x)
    half = max(0, n // 20)
    if half == 0 or n < 5:
        return x.copy()
    c = np.concatenate([[0.0], np.cumsum(x)])
    idx = np.arange(n)
    lo, hi = np.maximum(idx - half, 0), np.minimum(idx + half + 1, n)
    return (c[hi] - c[lo]) / (hi - lo)


def _tail_change(x: np.ndarray) -> float:
    """Change over the last third of ``x`` from a least-squares line, per whole run."""
    n = len(x)
    k = max(2, math.ceil(n / 3))
    seg = x[n - k :]
    t = np.arange(n - k, n) / max(n - 1, 1)
    if np.ptp(t) == 0:
        return 0.0
    slope = np.polyfit(t, seg, 1)[0]
    return float(slope) / 3.0


def _noise(x: np.ndarray) -> float:
    """Typical epoch-to-epoch wiggle of ``x`` around its local trend (robust, same units)."""
    if len(x) < 3:
        return 0.0
    second = (
        x[2:] - 2 * x[1:-1] + x[:-2]
    )  # white noise of std s gives second differences of std s*sqrt(6)
    return float(1.4826 * np.median(np.abs(second - np.median(second))) / math.sqrt(6))


def _flips(x: np.ndarray) -> float:
    """Share of consecutive epoch-to-epoch changes that reverse direction (white noise: ~2/3)."""
    d = np.diff(x)
    d = d[np.abs(d) > 1e-12]
    return float((d[1:] * d[:-1] < 0).mean()) if len(d) >= 2 else 0.0


def _smallest_step(x: np.ndarray) -> float:
    """Smallest non-zero change between epochs (a metric's resolution: 1/validation size)."""
    d = np.abs(np.diff(x[np.isfinite(x)]))
    d = d[d > 1e-9]
    return float(d.min()) if len(d) else 0.0


def _coarse(x: np.ndarray, most: int = 10) -> float:
    """``1/m`` for the smallest ``m <= most`` such that every value is a multiple of ``1/m``
    (an accuracy measured on ``m`` samples, or a few more), when the values take at least two
    levels in [0, 1]; 0 otherwise (no evidence: a constant metric fits every ``m``)."""
    x = x[np.isfinite(x)]
    if len(x) == 0 or x.min() < 0 or x.max() > 1 or len(np.unique(np.round(x, 4))) < 2:
        return 0.0
    for m in range(1, most + 1):
        if np.all(np.abs(x * m - np.round(x * m)) < 1e-3):
            return 1.0 / m
    return 0.0


def _gap_zigzag(tr: np.ndarray, va: np.ndarray) -> float:
    """How much the validation-minus-train gap moves back and forth, per unit of train-loss
    movement: the gap's total epoch-to-epoch change beyond its net change, over the train loss's
    total change. Validation measured on a few samples drawn anew each epoch moves independently
    of the train loss, so the gap zigzags; with a steady validation split it moves smoothly.
    0 under 3 epochs; clipped to [0, 5]."""
    if len(tr) < 3:
        return 0.0
    g = va - tr
    back_and_forth = float(np.abs(np.diff(g)).sum()) - abs(float(g[-1] - g[0]))
    return float(np.clip(back_and_forth / (float(np.abs(np.diff(tr)).sum()) + 1e-3), 0.0, 5.0))


def _loss_excess(loss: float, metric: float, step: float = 0.0) -> float:
    """``log(loss / h)``, ``h`` the binary entropy of the metric read as an accuracy (at least 0.5,
    at most 0.999, and at most ``1 - step / 2`` when the metric's smallest change between epochs
    is ``step``; never below 0.5): the
    log-loss a calibrated classifier of that accuracy would have, at the fewest classes. Far above
    0 when a good metric comes with a huge loss (confident wrong predictions after too-large
    steps); a perfect score on a few samples with a moderate loss (right answers at low
    confidence, as heavy regularization gives) stays near it. 0 when the metric is not in [0, 1]
    or the loss not positive. Clipped to [-5, 10]."""
    if not (0.0 <= metric <= 1.0) or not loss > 0:
        return 0.0
    cap = max(0.5, min(0.999, 1.0 - step / 2.0)) if step > 0 else 0.999
    a = min(max(metric, 0.5), cap)
    h = -a * math.log(a) - (1.0 - a) * math.log(1.0 - a)
    return float(np.clip(math.log(loss / h), -5.0, 10.0))


def features(curves: dict[str, np.ndarray], v: CurveView | None = None) -> dict[str, float]:
    """The scale-free features of checked curves, keyed by :data:`FEATURE_NAMES`."""
    v = view(curves) if v is None else v
    f: dict[str, float] = dict.fromkeys(FEATURE_NAMES, 0.0)
    f["diverged"] = float(v.n_finite < v.n_epochs)
    if len(v.train) >= 2:
        f.update(_shape_features(v))
        f.update(_wiggle_features(v))
        f.update(_linear_features(v))
    if "train_metric" in curves and "val_metric" in curves:
        f.update(_metric_features(v, curves["train_metric"], curves["val_metric"]))
    return {k: (x if math.isfinite(x) else 0.0) for k, x in f.items()}


def _shape_features(v: CurveView) -> dict[str, float]:
    """Where the (log) losses went: changes, minima, gap and the last third's trend."""
    tr, va = v.train, v.val
    f: dict[str, float] = {}
    f["train_change"] = float(tr[-1] - tr[0])
    f["val_change"] = float(va[-1] - va[0])
    f["train_best"] = float(tr.min() - tr[0])
    f["val_best"] = float(v.val_smooth.min() - va[0])
    f["val_rise"] = float(v.val_smooth[-1] - v.val_smooth.min())
    f["val_argmin"] = v.vmin / (len(va) - 1)
    f["train_after_vmin"] = float(tr[-1] - tr[v.vmin])
    f["gap_end"] = float(va[-1] - tr[-1])
    f["gap_change"] = float((va[-1] - tr[-1]) - (va[0] - tr[0]))
    f["train_tail"] = _tail_change(tr)
    f["train_rate"] = f["train_tail"] * 3.0 / (len(tr) - 1)  # per epoch at the end
    f["val_tail"] = _tail_change(v.val_smooth)
    vdrop = float(va[0] - v.val_smooth.min())
    if vdrop > 1e-12:
        f["val_tail_share"] = float(np.clip(-f["val_tail"] / vdrop, -1.0, 1.0))
        f["val_rise_share"] = float(np.clip(f["val_rise"] / vdrop, 0.0, 3.0))
    total = float(tr[0] - tr.min())
    if total > 1e-12:
        f["train_tail_share"] = float(np.clip(-f["train_tail"] / total, -1.0, 1.0))
        half = len(tr) // 2
        f["train_first_half_share"] = float(np.clip((tr[0] - tr[: half + 1].min()) / total, 0, 1))
    return f


def _wiggle_features(v: CurveView) -> dict[str, float]:
    """How the (log) losses move from epoch to epoch: monotony, noise, flips, jumps."""
    tr, va = v.train, v.val
    f: dict[str, float] = {}
    dtr, dva = np.diff(tr), np.diff(va)
    f["train_monotone"] = float((dtr < 0).mean())
    f["val_monotone"] = float((dva < 0).mean())
    f["train_above_start"] = float(max(0.0, tr[1:].max() - tr[0]))
    f["train_noise"] = _noise(tr)
    f["val_noise"] = _noise(va)
    f["noise_ratio"] = float(np.log((f["val_noise"] + 1e-3) / (f["train_noise"] + 1e-3)))
    trend = abs(float(v.val_smooth[-1] - v.val_smooth[len(va) // 2])) + 1e-3
    f["val_noise_to_trend"] = float(np.log(f["val_noise"] / trend + 1e-3))
    f["val_flips"] = _flips(va)
    f["flip_excess"] = f["val_flips"] - _flips(tr)
    resid = 1.4826 * float(np.median(np.abs(va - v.val_smooth)))
    f["val_resid_to_range"] = float(np.log((resid + 1e-3) / (float(np.ptp(va)) + 1e-3)))
    f["train_rebound"] = float((tr - np.minimum.accumulate(tr)).max())
    f["train_jumps"] = float(np.log(np.abs(dtr).sum() / (abs(tr[-1] - tr[0]) + 1e-3) + 1e-3))
    f["val_gap_zigzag"] = _gap_zigzag(tr, va)
    return f


def _linear_features(v: CurveView) -> dict[str, float]:
    """The same shapes on the loss's own (linear) axis, as shares of the first epoch's distance
    to the best value: near-zero losses do not inflate them the way logarithms do."""
    f: dict[str, float] = {}
    lin_tr = _smooth(v.at_points(v.raw_train))
    lin_va = _smooth(v.at_points(v.raw_val))
    k = max(1, len(lin_va) // 3)
    lin_drop = float(lin_va[0] - lin_va.min())
    if lin_drop > 1e-12:
        f["lin_val_rise"] = float(np.clip((lin_va[-1] - lin_va.min()) / lin_drop, 0, 3))
        f["lin_val_tail"] = float(np.clip((lin_va[-k - 1] - lin_va[-1]) / lin_drop, -3, 3))
        f["lin_gap"] = float(np.clip((lin_va[-1] - lin_tr[-1]) / lin_drop, -3, 3))
    lin_tdrop = float(lin_tr[0] - lin_tr.min())
    if lin_tdrop > 1e-12:
        f["lin_train_tail"] = float(np.clip((lin_tr[-k - 1] - lin_tr[-1]) / lin_tdrop, -3, 3))
    return f


def _metric_features(
    v: CurveView, train_metric: np.ndarray, val_metric: np.ndarray
) -> dict[str, float]:
    """Features of the metric curves (none when either is missing at the last point)."""
    tm, vm = v.at_points(train_metric), v.at_points(val_metric)
    if not (len(tm) and np.isfinite(tm[-1]) and np.isfinite(vm[-1])):
        return {}
    f: dict[str, float] = {"has_metric": 1.0}
    f["train_metric_end"] = float(tm[-1])
    f["val_metric_end"] = float(vm[-1])
    f["metric_gap"] = float(tm[-1] - vm[-1])
    f["metric_gain"] = float(np.nanmax(vm) - vm[0])
    f["val_metric_step"] = _smallest_step(vm)
    f["val_metric_noise"] = _noise(vm[np.isfinite(vm)])
    f["train_metric_noise"] = _noise(tm[np.isfinite(tm)])
    f["val_metric_coarse"] = _coarse(vm)
    f["val_loss_excess"] = _loss_excess(
        float(v.at_points(v.raw_val)[-1]), float(vm[-1]), f["val_metric_step"]
    )
    return f


def vector(feats: dict[str, float]) -> np.ndarray:
    """The features as a vector in :data:`FEATURE_NAMES` order, shape ``(n_features,)``."""
    return np.array([feats[k] for k in FEATURE_NAMES], dtype=np.float64)
