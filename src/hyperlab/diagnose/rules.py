"""Interpretable rules: one score in [0, 1] and one evidence sentence per finding.

Each rule multiplies a few soft thresholds (:func:`_ramp`) on scale-free features; thresholds
are in log-loss units (0.1 ≈ 10%) or fractions of the run. The rules work on their own; the
learned classifier (:mod:`hyperlab.diagnose.classifier`) only re-weighs them.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from hyperlab.diagnose.features import CurveView

Rule = Callable[[dict[str, float], CurveView], tuple[float, str]]


def _ramp(x: float, lo: float, hi: float) -> float:
    """0 below ``lo``, 1 above ``hi``, linear between."""
    return float(np.clip((x - lo) / (hi - lo), 0.0, 1.0))


def _stopped_in_time(v: CurveView) -> float:
    """1 when the run ends within a few evaluations of its (raw) validation minimum, as early
    stopping leaves a run (patience of about 3), 0 from 6 evaluations on; 0 for runs under 5
    points.

    Patience counts evaluations, not epochs: Keras's ``EarlyStopping`` skips an epoch without
    its monitored value (``validation_freq``), Lightning's counts validation checks
    (``check_val_every_n_epoch``, ``val_check_interval``) and Hugging Face's
    ``EarlyStoppingCallback`` evaluation calls (``early_stopping_patience``). So the count is
    of the validation losses measured after the minimum up to the last point read: epochs for
    a run validated every epoch, evaluations for one validated every 0.25 or every 5 epochs
    (whose patience of 3 ends it 0.75 or 15 epochs after its best)."""
    if len(v.val) < 5:
        return 0.0
    return 1.0 - _ramp(_after_best(v), 3.0, 6.0)


def _after_best(v: CurveView) -> int:
    """How many validation losses were measured after the (raw) validation minimum, up to the
    last point read."""
    best, end = int(v.index[int(np.argmin(v.val))]), int(v.index[-1])
    return int(np.isfinite(v.raw_val[best + 1 : end + 1]).sum())


def _apart(v: CurveView) -> str | None:
    """How far apart the points read lie on average, ``"0.32 epochs"`` or ``"5 epochs"``
    (evaluations every few hundred steps, twice an epoch, or every few epochs), ``None`` when
    they are one an epoch: the words that compare neighbouring points name epochs then only."""
    m = len(v.index)
    step = (v.epoch(-1) - v.epoch(0)) / (m - 1) if m > 1 else 1.0
    if step < 0.75:
        return f"{step:.2g} epochs"
    return None if round(step) <= 1 else f"{step:.0f} epochs"


def _ordinary(v: CurveView) -> bool:
    """Whether the curves carry no epochs of their own: point ``i`` is epoch ``i + 1``."""
    return bool(np.array_equal(v.at, np.arange(1, len(v.at) + 1)))


def _span(v: CurveView) -> float:
    """The epochs the points read cover, for "over N epochs": an ordinary run's last epoch
    before it diverged (:attr:`CurveView.last`: its N epochs, counted from epoch 0), and for
    curves with epochs of their own (``at_epoch``) that epoch counted from one spacing of the
    points before the first point read, not below 0, as an ordinary run's first point at
    epoch 1 stands for the epoch before it (a log every 0.25 epochs from epoch 5.25 to 10
    covers 5 epochs, not 10; one from 0.32 to 9.6, or a start at 0 before epochs 1 to 10,
    covers all of them)."""
    m = len(v.index)
    if _ordinary(v) or m < 2:
        return v.last
    spacing = (v.epoch(-1) - v.epoch(0)) / (m - 1)
    x = round(v.last - max(0.0, v.epoch(0) - spacing), 2)
    return int(x) if float(x).is_integer() else x


def _at_floor(f: dict[str, float], v: CurveView) -> float:
    """How much the run looks held back by its data, not its model: it stopped near its
    validation minimum (:func:`_stopped_in_time`) with its train loss clearly below its
    validation loss (a model that fits its training data past what generalizes is not too
    weak), however high the loss it ends at."""
    return _stopped_in_time(v) * _ramp(f["gap_end"], 0.15, 0.35)


def _per_point(v: CurveView) -> str:
    """The unit of a per-point rate: per epoch, or per N epochs when the points lie N epochs
    apart on average (a fraction of an epoch for evaluations every few hundred steps)."""
    apart = _apart(v)
    return "per epoch" if apart is None else f"per {apart}"


def _first(v: CurveView) -> str:
    """The first point read, in words: ``"first epoch"``, or ``"first point (epoch 0.32)"``
    when the points are not one an epoch."""
    return "first epoch" if _apart(v) is None else f"first point (epoch {v.epoch(0)})"


def _oscillation(f: dict[str, float], v: CurveView) -> str:
    """How often the train loss fell from one point to the next, and by how much it moves."""
    fell, noise = f["train_monotone"], _pct(f["train_noise"], v.log_scale).lstrip("+")
    apart = _apart(v)
    if apart is None:
        return f"it fell in only {fell:.0%} of epochs, epoch-to-epoch noise {noise}"
    return (
        f"it fell from only {fell:.0%} of its points to the next ({apart} apart), noise "
        f"{noise} from one point to the next"
    )


def _pct(log_change: float, log_scale: bool) -> str:
    """A log-loss change as a signed percentage (or a relative change on a linear axis):
    whole percents from 1% on, one decimal below (``-0.3%``), and ``-<0.1%`` for a change
    smaller still, which whole percents would show as ``-0%``; ``+0%`` for no change."""
    value = math.expm1(log_change) * 100 if log_scale else log_change * 100
    if value == 0 or round(abs(value), 1) >= 1:
        return f"{value:+.0f}%"
    if round(abs(value), 1) == 0:
        return f"{'-' if value < 0 else '+'}<0.1%"
    return f"{value:+.1f}%"


def _lr_too_high(f: dict[str, float], v: CurveView) -> tuple[float, str]:
    if f["diverged"]:
        which = "train" if not np.isfinite(v.raw_train[v.n_finite]) else "validation"
        value = v.raw_train[v.n_finite] if which == "train" else v.raw_val[v.n_finite]
        return 0.98, (
            f"{which} loss became {value} at epoch {v.label(v.n_finite)} of {v.total}: training diverged"
        )
    above = _ramp(f["train_above_start"], 0.1, 0.5)
    ends_up = _ramp(f["train_change"], -0.02, 0.2)
    jumpy = _ramp(f["train_noise"], 0.05, 0.2) * _ramp(0.75 - f["train_monotone"], 0.0, 0.25)
    # a blow-up the network never recovered from: the loss fell from a huge first epoch, but
    # the metric never rose and stays low (only with metric curves)
    died = (
        f["has_metric"]
        * _ramp(-f["train_best"], 0.3, 0.6)
        * (1.0 - _ramp(f["metric_gain"], 0.05, 0.15))
        * (1.0 - _ramp(f["train_metric_end"], 0.4, 0.6))
    )
    score = max(above, ends_up, jumpy, died)
    # a good metric with a loss far above what a calibrated classifier of that accuracy would
    # have: confident wrong predictions after too-large steps (only with metric curves)
    overconfident = f["has_metric"] * _ramp(f["val_loss_excess"], 2.5, 4.5)
    if overconfident > score:
        return overconfident, (
            f"final validation loss {v.at_points(v.raw_val)[-1]:.3g} is "
            f"{math.exp(f['val_loss_excess']):.0f}x the log-loss of a calibrated classifier "
            f"at the validation metric {f['val_metric_end']:.3g}: confident wrong predictions"
        )
    if score == died and died > 0:
        text = (
            f"train loss fell {_pct(f['train_best'], v.log_scale).lstrip('-')} from its "
            f"{_first(v)}, but the validation metric gained only {f['metric_gain']:.2g} and train "
            f"metric ends at {f['train_metric_end']:.3g}: the network blew up and did not recover"
        )
    elif score == above and above > 0:
        peak = int(np.argmax(v.train))
        start = "first-epoch value" if _apart(v) is None else f"value at its {_first(v)}"
        text = (
            f"train loss rose {_pct(f['train_above_start'], v.log_scale)} above its {start} "
            f"(peak at epoch {v.epoch(peak)} of {v.total})"
        )
    elif score == ends_up and ends_up > 0:
        text = (
            f"train loss ended {_pct(f['train_change'], v.log_scale)} relative to epoch "
            f"{v.epoch(0)}"
        )
    else:
        text = f"train loss oscillates: {_oscillation(f, v)}"
    return score, text


def _lr_too_low(f: dict[str, float], v: CurveView) -> tuple[float, str]:
    steady = _ramp(f["train_monotone"], 0.6, 0.9)
    linear = 1.0 - _ramp(f["train_first_half_share"], 0.7, 0.95)
    moving = _ramp(f["train_tail_share"], 0.1, 0.25)
    slow = 1.0 - _ramp(-f["train_rate"], 0.05, 0.15)
    val_falling = _ramp(f["val_argmin"], 0.75, 0.95)
    # a train loss that fell by more than a factor e^1.2-e^1.8 was not learning too slowly
    learned = _ramp(-f["train_change"], 1.2, 1.8)
    score = steady * linear * moving * slow * val_falling * (1.0 - learned)
    return score, (
        f"train loss falls slowly and steadily ({_pct(f['train_change'], v.log_scale)} over "
        f"{_span(v)} epochs, {_pct(f['train_rate'], v.log_scale)} {_per_point(v)} at the end, "
        f"{f['train_first_half_share']:.0%} of the drop in the first half)"
    )


def _not_converged(f: dict[str, float], v: CurveView) -> tuple[float, str]:
    moving = _ramp(f["train_tail_share"], 0.05, 0.15)
    fast = _ramp(-f["train_rate"], 0.03, 0.1)
    val_falling = _ramp(f["val_argmin"], 0.8, 0.95) * _ramp(f["val_tail_share"], 0.03, 0.1)
    score = moving * fast * val_falling
    return score, (
        f"both losses still fall at the end: validation {_pct(f['val_tail'], v.log_scale)} and "
        f"train {_pct(f['train_tail'], v.log_scale)} over the last third of {_span(v)} epochs"
    )


#: The least rise of the validation loss after its minimum that shows (log units: 1%).
MIN_RISE = 0.01
#: The least growth of the validation-to-train loss ratio that shows memorizing (log units: x2).
MIN_GAP_GROWTH = 0.7


def _overfitting_shown(f: dict[str, float]) -> bool:
    """Whether the curves show overfitting at all: the validation loss rose after its minimum,
    or stopped improving well before the end while the train loss kept falling, or the
    validation loss ended far above the train loss relative to the first epoch."""
    stalled = f["val_argmin"] <= 0.9 and f["train_after_vmin"] < -0.05
    return f["val_rise"] >= MIN_RISE or stalled or f["gap_change"] >= MIN_GAP_GROWTH


def _still_falling(f: dict[str, float]) -> bool:
    """Whether a loss still falls over the last third of the run."""
    return f["val_tail"] < 0 or f["train_tail"] < 0


#: Finding -> what the curves must show for it to be made at all (by the rules or the classifier).
EVIDENCE: dict[str, Callable[[dict[str, float]], bool]] = {
    "overfitting": _overfitting_shown,
    "not-converged": _still_falling,
}


def unsupported(f: dict[str, float]) -> list[str]:
    """The findings whose evidence (:data:`EVIDENCE`) the features ``f`` lack."""
    return [name for name, shown in EVIDENCE.items() if not shown(f)]


def _gap_words(f: dict[str, float], v: CurveView) -> str:
    """How far the train loss fell below the validation loss since the first point."""
    if not v.log_scale:
        return (
            f"the gap between validation and train loss grew by {f['gap_change']:.0%} of the "
            f"largest loss since epoch {v.epoch(0)}: the model fits its training data far better"
        )
    end, start = math.exp(f["gap_end"]), math.exp(f["gap_end"] - f["gap_change"])
    return (
        f"it ends at {end:.3g}x the train loss, against {start:.2g}x at epoch {v.epoch(0)}: "
        "the model fits its training data far better than new data"
    )


def _overfitting(f: dict[str, float], v: CurveView) -> tuple[float, str]:
    rise = _ramp(f["val_rise"], 0.03, 0.15)
    early = _ramp(1.0 - f["val_argmin"], 0.05, 0.2)
    train_falls = _ramp(-f["train_after_vmin"], 0.03, 0.2)
    above_noise = _ramp(f["val_rise"] / (f["val_noise"] + 1e-3), 1.0, 3.0)
    # or validation improved, then stopped improving long ago while train loss kept falling
    # (memorizing)
    stalled = (
        _ramp(-f["val_best"], 0.05, 0.1)
        * _ramp(1.0 - f["val_argmin"], 0.1, 0.25)
        * _ramp(-f["train_after_vmin"], 0.2, 0.5)
    )
    score = max(rise * early * train_falls * above_noise, stalled) * (1.0 - _stopped_in_time(v))
    if f["val_rise"] < MIN_RISE and f["val_argmin"] > 0.9 and f["gap_change"] >= MIN_GAP_GROWTH:
        return score, f"validation loss still at its lowest at the end, but {_gap_words(f, v)}"
    text = (
        f"validation loss minimum at epoch {v.epoch(v.vmin)} of {v.last}, then "
        f"{_pct(f['val_rise'], v.log_scale)} while train loss went "
        f"{_pct(f['train_after_vmin'], v.log_scale)}"
    )
    n = _after_best(v)
    if _stopped_in_time(v) >= 0.5 and f["val_rise"] >= MIN_RISE and n > 0:
        unit = "epoch" if _apart(v) is None else "evaluation"
        text += (
            f"; only {n} {unit}{'s' if n != 1 else ''} after its best, as a run stopped early "
            "by patience ends, too few to call overfitting with confidence: the model at the "
            "end is not the best one (keep the best checkpoint, e.g. Keras's "
            f"restore_best_weights=True, or stop at epoch {v.epoch(v.vmin)})"
        )
    return score, text


#: The final validation loss over its minimum (log units) from which a good fit gives part of
#: its confidence to overfitting (+10.5%), and from which it gives the most (+22%, a user's
#: Keras log two epochs after its best). Runs that patience stopped reach such rises too (27
#: of the 70 labelled baselines of set 0), hence a share of the confidence, not all of it.
FAR_ABOVE_BEST = (0.10, 0.20)
#: The most of its confidence a good fit gives to overfitting when its run ends far above its
#: best: the good fit keeps the larger share, and a confident one (0.875 or more) moves 0.35.
FAR_SHARE = 0.4


def far_above_best(f: dict[str, float], conf: dict[str, float]) -> dict[str, float]:
    """``conf`` (a confidence per finding) with part of ``good-fit``'s moved to ``overfitting``
    when the final validation loss is far above its best (:data:`FAR_ABOVE_BEST`,
    :data:`FAR_SHARE`): the model the run ends with is not its best, whether patience ended the
    run or not, so the run is no confident good fit."""
    moved = FAR_SHARE * _ramp(f["val_rise"], *FAR_ABOVE_BEST) * conf["good-fit"]
    if moved <= 0:
        return conf
    return conf | {
        "good-fit": conf["good-fit"] - moved,
        "overfitting": max(conf["overfitting"], moved),
    }


def _underfitting(f: dict[str, float], v: CurveView) -> tuple[float, str]:
    little_progress = 1.0 - _ramp(-f["train_change"], 1.0, 2.0)
    # it learned a little, or it never left its first value, smoothly and with validation
    # loss not falling either (a model held at its start by its constraints, e.g. weight
    # decay; a slow learner's validation loss falls every epoch)
    never_left = (
        (1.0 - _ramp(-f["train_best"], 0.02, 0.1))
        * (1.0 - _ramp(f["train_noise"], 0.005, 0.02))
        * (1.0 - _ramp(f["val_monotone"], 0.6, 0.9))
    )
    moved = max(_ramp(-f["train_best"], 0.02, 0.1), never_left)
    settled = 1.0 - _ramp(f["train_tail_share"], 0.1, 0.3)
    small_gap = 1.0 - _ramp(abs(f["gap_end"]), CLOSE_GAP, 0.4)
    score = little_progress * moved * settled * small_gap * (1.0 - _at_floor(f, v))
    if f["has_metric"]:
        score = 0.5 * score + 0.5 * score * (1.0 - _ramp(f["train_metric_end"], 0.9, 0.98))
    text = (
        f"train loss settled at {math.exp(f['train_change']) if v.log_scale else 1 + f['train_change']:.0%} "
        f"of its first value with validation {_gap_side(f['gap_end'])} (gap "
        f"{_pct(f['gap_end'], v.log_scale)})"
    )
    if f["has_metric"]:
        text += f"; train metric ends at {f['train_metric_end']:.3g}"
    return score, text


#: The largest validation-to-train gap at the end that is close (log units: about 16%); the
#: underfitting rule's score falls from it on.
CLOSE_GAP = 0.15


def _gap_side(gap: float) -> str:
    """Where the validation loss ends against the train loss, ``gap`` apart (log units):
    ``"close to it"``, ``"above it"`` or ``"below it"``."""
    if abs(gap) <= CLOSE_GAP:
        return "close to it"
    return "above it" if gap > 0 else "below it"


def _plateau(f: dict[str, float], v: CurveView) -> tuple[float, str]:
    n = len(v.train)
    k = max(1, math.ceil(0.2 * (n - 1)))
    later = float(v.train[k:].max() - v.train[k:].min()) if n > k else 0.0
    early = max(0.0, float(v.train[0] - v.train[k]))  # it fell first, then got stuck
    flat = 1.0 - _ramp(later, 0.05, 0.2)
    stuck_high = 1.0 - _ramp(-f["train_change"], 0.3, 0.7)
    stopped = _ramp(early / (later + 1e-3), 1.0, 3.0)
    score = flat * stuck_high * stopped
    return score, (
        f"train loss stuck from epoch {v.epoch(k)} of {v.last}: it moved within a "
        f"{_pct(later, v.log_scale).lstrip('+')} band and ended "
        f"{_pct(f['train_change'], v.log_scale)} from its start"
    )


def _noisy_validation(f: dict[str, float], v: CurveView) -> tuple[float, str]:
    noisier = _ramp(f["noise_ratio"], 0.7, 1.6)
    large = _ramp(f["val_noise"], 0.03, 0.1)
    over_trend = _ramp(f["val_noise_to_trend"], -1.5, 0.0)
    score = noisier * large * over_trend
    # the validation metric only takes multiples of 1/m for a small m: it is measured on about
    # m samples, too few for its curve to say how the model changes
    if f["val_metric_coarse"] > 0 and score < 0.9:
        m = round(1.0 / f["val_metric_coarse"])
        return 0.9, (
            f"the validation metric only takes multiples of 1/{m}: it is measured on about {m} "
            "samples, too few for the validation curves to show how the model changes"
        )
    apart = _apart(v)
    between = (
        "from epoch to epoch" if apart is None else f"from one point to the next ({apart} apart)"
    )
    return score, (
        f"validation loss jumps {_pct(f['val_noise'], v.log_scale).lstrip('+')} {between}, "
        f"{math.exp(f['noise_ratio']):.1f}x the train loss noise and "
        f"{math.exp(f['val_noise_to_trend']):.1f}x its trend over the second half"
    )


def _good_fit(f: dict[str, float], v: CurveView) -> tuple[float, str]:
    learned = _ramp(-f["train_change"], 1.0, 2.0) * _ramp(-f["val_best"], 0.3, 1.0)
    # or it learned what the data allow: stopped at its best with train below validation
    learned = max(learned, _at_floor(f, v) * _ramp(-f["val_best"], 0.15, 0.3))
    stopped = _stopped_in_time(v)
    near_best = max(1.0 - _ramp(f["val_rise"], 0.05, 0.2), stopped)
    settled = 1.0 - _ramp(f["val_tail_share"], 0.05, 0.15)
    score = learned * near_best * settled
    rise = _pct(f["val_rise"], v.log_scale).lstrip("+")
    text = (
        f"validation loss fell {_pct(f['val_best'], v.log_scale).lstrip('-')} and ends "
        + (f"{rise} above its best" if rise not in ("0%", "<0.1%") else "at its best")
        + f" (epoch {v.epoch(v.vmin)} of {v.last}); train loss fell "
        f"{_pct(f['train_change'], v.log_scale).lstrip('-')}"
    )
    if stopped >= 0.5 and f["val_rise"] > 0.05:
        text += (
            f"; it ended a few {'epochs' if _apart(v) is None else 'evaluations'} after its "
            "best, as a run stopped early by patience does "
            f"(if nothing stopped it early, it overfits from epoch {v.epoch(v.vmin)} on: fewer "
            "epochs or more regularization)"
        )
    return score, text


RULES: dict[str, Rule] = {
    "lr-too-high": _lr_too_high,
    "lr-too-low": _lr_too_low,
    "not-converged": _not_converged,
    "overfitting": _overfitting,
    "underfitting": _underfitting,
    "plateau": _plateau,
    "noisy-validation": _noisy_validation,
    "good-fit": _good_fit,
}

#: Findings that rule out a good fit when they are present.
_PROBLEMS = ("lr-too-high", "lr-too-low", "not-converged", "overfitting", "underfitting", "plateau")


def rule_scores(f: dict[str, float], v: CurveView) -> dict[str, tuple[float, str]]:
    """Score every finding with its rule; ``good-fit`` is discounted by the strongest problem."""
    if len(v.train) < 2:
        few = "epochs" if len(v.at) < 2 or np.allclose(np.diff(v.at), 1.0) else "points"
        out = {name: (0.0, f"too few finite {few} to judge") for name in RULES}
        out["lr-too-high"] = _lr_too_high(f, v)
        return out
    out = {name: rule(f, v) for name, rule in RULES.items()}
    worst = max(out[p][0] for p in _PROBLEMS)
    good, text = out["good-fit"]
    out["good-fit"] = (good * (1.0 - worst), text)
    if f["diverged"]:
        out = {k: (s * 0.3, t) for k, t_s in out.items() for s, t in [t_s]}
        out["lr-too-high"] = _lr_too_high(f, v)
    return out
