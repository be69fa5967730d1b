"""The learning-curve diagnostician: what is wrong with one run, and which way to move each knob.

``diagnose(curves)`` reads one run's per-epoch train and validation curves and returns a
:class:`Diagnosis`: findings (overfitting, underfitting, good-fit, lr-too-high, lr-too-low,
not-converged, plateau, noisy-validation) each with a confidence and the evidence in numbers, and
advice on each knob. Interpretable rules over scale-free features are blended with a small
classifier (logistic regression averaged with gradient-boosted trees, stored as plain numbers in
``model.json``) trained on a labelled curve set; the rules work alone when the model file is
absent.

This subpackage is a leaf: it needs numpy (and scikit-learn only to train the classifier).
"""

from __future__ import annotations

import inspect
import sys
import textwrap
import types
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from hyperlab.diagnose import classifier as _classifier
from hyperlab.diagnose.advice import advise, stop_at_best
from hyperlab.diagnose.features import FEATURE_NAMES, CurveView, features, vector, view
from hyperlab.diagnose.inputs import ZERO_LOSS, ReadCurves, check_curves, read_curves
from hyperlab.diagnose.mixups import accuracy_as_loss, error_as_metric
from hyperlab.diagnose.result import FINDINGS, KNOBS, Advice, Diagnosis, Finding
from hyperlab.diagnose.rules import far_above_best, rule_scores, unsupported
from hyperlab.errors import InputTypeError, check_bool, user_stacklevel

__all__ = [
    "FEATURE_NAMES",
    "FINDINGS",
    "KNOBS",
    "Advice",
    "CurveView",
    "Diagnosis",
    "Finding",
    "ReadCurves",
    "blend",
    "check_curves",
    "diagnose",
    "features",
    "model_inputs",
    "read_curves",
    "rule_scores",
    "view",
]

#: Findings listed besides the primary one need at least this confidence.
REPORT_THRESHOLD = 0.35
#: Weight of the learned classifier against the rules when the model file names none.
MODEL_WEIGHT = 0.5
#: Losses that move by at most this share of their largest value over a whole run did not
#: train (summation order alone moves a frozen model's mean train loss by about 1e-8; the
#: labelled runs held at their start by heavy weight decay move by 4e-4 or more).
UNCHANGED = 1e-5


def diagnose(
    curves: Any, config: Mapping[str, Any] | None = None, *, use_model: bool = True
) -> Diagnosis:
    """Diagnose one training run from its learning curves.

    Args:
        curves: Per-epoch ``train_loss`` and ``val_loss`` (required) and ``train_metric``,
            ``val_metric`` (optional, higher-is-better like accuracy, as a fraction in [0, 1]), as
            a dict of lists or a pandas DataFrame. At least 3 epochs with both losses; losses are read with 0 the
            best possible value (a negative one is refused; both at 0 to the end read as a
            perfect fit). NaN or ``None`` where a loss
            was not measured (a missing point); inf, or NaN from some epoch to the end, marks a
            diverged run (see :mod:`hyperlab.diagnose.points`).
        config: The run's configuration; advice is restricted to the knobs it exposes.
        use_model: Blend in the learned classifier (``False``: rules only).

    Returns:
        The diagnosis. A warning says when both losses rise as accuracies do (an accuracy
        logged under a loss's name, see :mod:`hyperlab.diagnose.mixups`; curves from
        :func:`read_curves` are named by the file's columns, ``loss`` for Keras's), when both
        metrics fall as errors do while the losses fall (an RMSE or an error rate given as a
        metric, read as an accuracy), when both losses do not change over the run (a run
        whose weights were never updated), when one metric comes without the other (the
        losses alone are then read), or when a dict or DataFrame carries an ``epoch`` or
        ``step`` (or a ``global_step``, an ``iteration``, W&B's ``_step``) that is not read
        (only ``at_epoch`` is: see :func:`check_curves`).

    Raises:
        InputError: fewer than 3 epochs, a missing curve, a non-numeric value, a negative
            loss, a metric outside [0, 1], a curve that is not 1-D.
        InputTypeError: ``curves`` or ``config`` has the wrong type.
    """
    if config is not None and not isinstance(config, Mapping):
        raise InputTypeError(f"config must be a dict or None, got {type(config).__name__}")
    check_bool("use_model", use_model)
    checked = check_curves(curves)
    _warn_lone_metric(checked)
    columns = curves.columns if isinstance(curves, ReadCurves) else None
    _warn_unchanged(checked, columns or {})
    for mixup in (accuracy_as_loss(checked, columns), error_as_metric(checked, columns)):
        if mixup is not None:
            warnings.warn(mixup, UserWarning, stacklevel=user_stacklevel())
    if not use_model:
        return _diagnose(checked, config, None)
    return _diagnose(checked, config, _classifier.load(), _classifier.blend_weight(MODEL_WEIGHT))


def _warn_lone_metric(curves: Mapping[str, np.ndarray]) -> None:
    """Warn when one metric curve comes without the other: the metric features compare the
    two, so a lone one is not read (the diagnosis is the losses' alone)."""
    given = [key for key in ("train_metric", "val_metric") if key in curves]
    if len(given) == 1:
        other = "train_metric" if given == ["val_metric"] else "val_metric"
        warnings.warn(
            f"{given[0]} is read only beside {other} (the metric features compare the two): "
            f"this diagnosis reads the losses alone; add {other} to have the metrics read",
            UserWarning,
            stacklevel=user_stacklevel(),
        )


def _warn_unchanged(curves: dict[str, np.ndarray], columns: Mapping[str, str]) -> None:
    """Warn when both losses stay within :data:`UNCHANGED` of their value over the run: no
    run that updates its weights gives losses this constant, and the diagnosis would read
    them as a model too weak to learn (``columns``: the file's own names of the curves)."""
    v = view(curves)
    if v.n_finite < v.n_epochs or len(v.index) < 3:
        return
    ends = []
    for key, curve in (("train_loss", v.raw_train), ("val_loss", v.raw_val)):
        x = curve[v.index]
        top = float(np.abs(x).max())
        if top == 0 or float(np.ptp(x)) > UNCHANGED * top:
            return  # (losses at 0 throughout are a perfect fit)
        ends.append(f"{columns.get(key, key)} at {x[-1]:.6g}")
    warnings.warn(
        f"{' and '.join(ends)} did not change from epoch {v.epoch(0)} to {v.epoch(-1)} (by at "
        f"most {UNCHANGED:.0e} of their value): a run that updates its weights moves its losses "
        "more; check that it trains (a learning rate of 0, parameters frozen or not given to "
        "the optimizer, the same value logged every epoch) before acting on this diagnosis, "
        "which reads the curves as a run that trained",
        UserWarning,
        stacklevel=user_stacklevel(),
    )


def _diagnose(
    curves: dict[str, np.ndarray],
    config: Mapping[str, Any] | None,
    model: _classifier.Classifier | None,
    weight: float = MODEL_WEIGHT,
) -> Diagnosis:
    """Rules, blended with ``model``'s probabilities at ``weight`` (0: rules only, 1: model)."""
    v = view(curves)
    feats = features(curves, v)
    rules = rule_scores(feats, v)
    zero = None if feats["diverged"] else _zero_from(curves)  # (a divergence is the reading)
    if zero is not None:  # nothing to correct: the rules' scale-free reading would see a plateau
        text = f"train and validation loss are 0 from epoch {v.label(zero)} on: a perfect fit"
        perfect = {name: (0.0, rules[name][1]) for name in rules} | {"good-fit": (1.0, text)}
        return blend(v, feats, perfect, None, 0.0, config)
    proba = None
    if model is not None and not feats["diverged"]:
        row = model.predict_proba(model_inputs(feats, rules))[0]
        proba = {name: float(p) for name, p in zip(model.classes, row)}
    return blend(v, feats, rules, proba, weight, config)


def _zero_from(curves: dict[str, np.ndarray]) -> int | None:
    """The 0-based point from which every measured train and validation loss is 0 to the end
    (``None`` unless the last measured pair is 0: a perfect fit, the best a loss can read)."""
    tr, va = curves["train_loss"], curves["val_loss"]
    both = np.flatnonzero(np.isfinite(tr) & np.isfinite(va))
    at_zero = (tr[both] <= ZERO_LOSS) & (va[both] <= ZERO_LOSS)
    if not len(both) or not at_zero[-1]:
        return None
    first = len(at_zero) - int(np.argmin(at_zero[::-1])) if not at_zero.all() else 0
    return int(both[first])


def blend(
    v: CurveView,
    feats: dict[str, float],
    rules: dict[str, tuple[float, str]],
    proba: Mapping[str, float] | None,
    weight: float,
    config: Mapping[str, Any] | None,
) -> Diagnosis:
    """The diagnosis from the rule scores blended with a classifier's ``proba`` at ``weight``.

    The last step of :func:`diagnose`, public so that a study of other classifiers or weights
    can reuse the computed ``view``/``features``/``rule_scores`` of many runs.

    Args:
        v: The curves' :class:`CurveView`.
        feats: Their :func:`features`.
        rules: Their :func:`rule_scores`.
        proba: A classifier's probability per finding (``None``: rules only).
        weight: The classifier's share (0: rules only, 1: classifier only).
        config: The run's hyperparameters (limits which knobs are advised).
    """
    conf = {name: score for name, (score, _) in rules.items()}
    if proba is not None and not feats["diverged"]:
        for name, p in proba.items():  # a finding the classifier does not know keeps its rule score
            conf[name] = (1 - weight) * conf[name] + weight * float(p)
    for name in unsupported(feats):  # the curves do not show it: no finding, whatever the model
        conf[name] = 0.0
    shown = far_above_best(feats, conf)  # no confident good fit far above its best
    ranked = sorted(FINDINGS, key=lambda n: (-shown[n], FINDINGS.index(n)))
    findings = []
    for rank, name in enumerate(ranked):
        if rank > 0 and shown[name] < REPORT_THRESHOLD:
            continue
        onset = v.epoch(v.vmin) if name == "overfitting" and len(v.index) else None
        findings.append(Finding(name, round(float(shown[name]), 4), rules[name][1], onset))
    # an overfitting that only the good fit's far end lists moves the epochs alone
    short = next((f for f in findings if f.name == "overfitting"), None)
    if short is None or _listed(conf, "overfitting"):
        return Diagnosis(findings, advise(findings, config, v.total, conf), feats, v.total)
    advice = advise([f for f in findings if f is not short], config, v.total, conf)
    return Diagnosis(findings, stop_at_best(advice, short, v.total), feats, v.total)


def _listed(conf: Mapping[str, float], name: str) -> bool:
    """Whether the finding ``name`` is listed at confidences ``conf``: the most confident one,
    or one of at least :data:`REPORT_THRESHOLD`."""
    top = min(FINDINGS, key=lambda n: (-conf[n], FINDINGS.index(n)))
    return name == top or conf[name] >= REPORT_THRESHOLD


def model_inputs(feats: dict[str, float], rules: dict[str, tuple[float, str]]) -> np.ndarray:
    """The classifier's input vector: features then rule scores, shape ``(n_inputs,)``."""
    return np.concatenate([vector(feats), [rules[r][0] for r in _classifier.RULE_INPUTS]])


class _CallableModule(types.ModuleType):
    """``hyperlab.diagnose`` is both this package and its main function: ``import
    hyperlab.diagnose`` binds the package to the name, so the package calls like
    :func:`diagnose` and shows its signature and docstring."""

    def __call__(self, *args: Any, **kwargs: Any) -> Diagnosis:
        """Call :func:`diagnose`."""
        return diagnose(*args, **kwargs)


#: What ``inspect.signature(hyperlab.diagnose)`` and ``help()`` show for the callable package.
__signature__ = inspect.signature(diagnose)
__doc__ = (
    f"{__doc__ or ''}\nCalling the package calls its function::\n\n    diagnose{__signature__}\n\n"
)
__doc__ += textwrap.indent(inspect.getdoc(diagnose) or "", "    ")
sys.modules[__name__].__class__ = _CallableModule
