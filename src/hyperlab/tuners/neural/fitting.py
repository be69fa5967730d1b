"""Fitting the neural sampler's surrogate: its inputs, its training set, its running trials.

The surrogate's input is the encoded configuration, then (with ``multi_fidelity``) the budget
as a fraction of the full budget, then one indicator column per transfer study. Every
prediction is made at the full budget in the study being tuned: budget 1, no indicator set.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from hyperlab.surrogates import Surrogate, make_surrogate
from hyperlab.tuners.failed_trials import as_worst
from hyperlab.tuners.neural.observations import Observation

#: Target transform of each surrogate when the sampler is given none: the Yeo-Johnson
#: ``power`` transform tames heavy-tailed scores for the Bayesian last layer; the ensemble
#: does better on plainly standardized ones (docs/decisions/neural-tuner.md).
DEFAULT_TRANSFORMS = {"bll": "power", "ensemble": "standardize"}
#: The study index of the study being tuned (transfer studies count from 0).
OWN_STUDY = -1
#: Anchors of the local search: the best this many training points.
N_ANCHORS = 5


class Row(NamedTuple):
    """An observation with its budget as a fraction of the full budget and its study."""

    x: np.ndarray
    y: float
    noise: float
    fraction: float  #: budget / full budget, at most 1
    study: int  #: :data:`OWN_STUDY` or the index of a transfer study


@dataclass(frozen=True)
class InputLayout:
    """Columns of the surrogate's input after the ``d`` encoded parameters.

    Args:
        use_budget: One column with the budget fraction (``multi_fidelity``).
        n_studies: One indicator column per transfer study.
    """

    use_budget: bool
    n_studies: int

    def inputs(self, rows: Sequence[Row]) -> np.ndarray:
        """Model inputs ``(n, d + use_budget + n_studies)`` of ``rows``."""
        cols = [np.stack([r.x for r in rows])]
        if self.use_budget:
            cols.append(np.minimum(np.array([r.fraction for r in rows]), 1.0)[:, None])
        if self.n_studies:
            study = np.array([r.study for r in rows])
            cols.append((study[:, None] == np.arange(self.n_studies)[None, :]).astype(float))
        return np.hstack(cols)

    def at_full_budget(self, X: np.ndarray) -> np.ndarray:
        """Encoded points ``(n, d)`` as inputs at the full budget in the study being tuned."""
        n = len(X)
        return np.hstack([X, np.ones((n, int(self.use_budget))), np.zeros((n, self.n_studies))])


def as_rows(
    obs: Sequence[Observation],
    transfer: Sequence[Sequence[Observation]],
    max_budget: float | None,
) -> list[Row]:
    """The study's own observations, then each transfer study's, with budget fractions.

    The full budget is ``max_budget``, else the largest finite budget seen (1 when none is):
    a row that reached it counts as a full-budget observation.
    """
    tagged = [(o, OWN_STUDY) for o in obs]
    for k, study_rows in enumerate(transfer):
        tagged.extend((o, k) for o in study_rows)
    finite = [o.budget for o, _ in tagged if math.isfinite(o.budget)]
    full = float(max_budget) if max_budget is not None else max(finite, default=1.0)
    return [Row(o.x, o.y, o.noise, min(o.budget / full, 1.0), k) for o, k in tagged]


def failed_rows(
    full: Sequence[Row], failed: list[np.ndarray], running: list[np.ndarray]
) -> list[Row]:
    """The points of failed trials as full-budget rows of the study at the worst score of its
    full-budget rows ``full`` (none while it has none; none that a row of ``full`` or a
    ``running`` point repeats: see :func:`hyperlab.tuners.failed_trials.as_worst`)."""
    if not failed or not full:
        return []
    x, y = as_worst(np.stack([r.x for r in full]), np.array([r.y for r in full]), failed, running)
    return [Row(p, float(v), 0.0, 1.0, OWN_STUDY) for p, v in zip(x[len(full) :], y[len(full) :])]


@dataclass
class TrainingSet:
    """What the surrogate is fit to, and what the acquisition search needs from it.

    Attributes:
        X: Inputs ``(n, columns)``.
        y: Targets ``(n,)``, lower is better.
        noise: Known noise standard deviations ``(n,)``.
        best: The incumbent: the lowest full-budget target of the study itself (of all
            targets when it has none).
        anchors: Encoded points ``(d,)`` around which the search looks locally.
    """

    X: np.ndarray
    y: np.ndarray
    noise: np.ndarray
    best: float
    anchors: list[np.ndarray]


def training_set(rows: Sequence[Row], full: Sequence[Row], layout: InputLayout) -> TrainingSet:
    """The training set of ``rows``; ``full`` are the study's own full-budget rows."""
    y = np.array([r.y for r in rows])
    best = min(r.y for r in full) if full else float(y.min())
    ranked = sorted(full or rows, key=lambda r: r.y)
    return TrainingSet(
        X=layout.inputs(rows),
        y=y,
        noise=np.array([r.noise for r in rows]),
        best=best,
        anchors=[r.x for r in ranked[:N_ANCHORS]],
    )


def make_model(
    surrogate: str,
    options: dict[str, Any] | None,
    target_transform: str | None,
    rng: np.random.Generator,
) -> Surrogate:
    """The surrogate ``surrogate`` with ``options``; the seed drawn from ``rng`` and the
    target transform from :data:`DEFAULT_TRANSFORMS` unless given."""
    kwargs = dict(options or {})
    kwargs.setdefault("seed", int(rng.integers(0, 2**31)))
    transform = target_transform or DEFAULT_TRANSFORMS.get(surrogate, "standardize")
    kwargs.setdefault("target_transform", transform)
    return make_surrogate(surrogate, **kwargs)


def fit_with_running(model: Surrogate, data: TrainingSet, running: np.ndarray, liar: str) -> None:
    """Fit ``model`` to ``data``, with each running trial's input ``running`` ``(r, columns)``
    entered as a fake observation so that parallel suggestions spread out.

    ``liar`` is ``"best"`` (constant liar: the fake value is the incumbent, one fit),
    ``"mean"`` (kriging believer: the model's own prediction, two fits) or ``"none"``.
    """
    X, y, noise = data.X, data.y, data.noise
    if len(running) and liar != "none":
        if liar == "mean":
            model.fit(X, y, noise)
            lies = model.predict(running)[0]
        else:
            lies = np.full(len(running), data.best)
        X, y = np.vstack([X, running]), np.concatenate([y, lies])
        noise = np.concatenate([noise, np.zeros(len(running))])
    model.fit(X, y, noise)
