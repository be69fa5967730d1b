"""Proposing the next point: maximize the acquisition over the encoded search space.

The acquisition of a network surrogate is cheap to evaluate and bumpy, so it is maximized by
search, not by gradient: ``n_candidates`` uniformly random points plus half as many local
perturbations of the anchors (the best points so far), then 40 finer perturbations of each of
the best five, and the best of all wins. A point equal to a finished or running trial is
never proposed while another one is available.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hyperlab.space import SpaceEncoder
from hyperlab.surrogates import Acquisition, Surrogate
from hyperlab.tuners.neural.fitting import InputLayout

#: Step scales (in unit-cube coordinates) of the broad and the fine local search.
BROAD_STEP, FINE_STEP = 0.1, 0.02
#: Best candidates refined by the fine search, and fine perturbations of each.
N_REFINED, FINE_PER_POINT = 5, 40
#: Probability that a perturbation switches a categorical parameter.
SWITCH_PROBABILITY = 0.2


@dataclass
class AcquisitionSearch:
    """Maximizes an acquisition over the encoded space (see the module docstring).

    Args:
        enc: The search space's encoder.
        layout: The surrogate's extra input columns.
        n_candidates: Uniformly random candidates.
        rng: Source of every random choice.
    """

    enc: SpaceEncoder
    layout: InputLayout
    n_candidates: int
    rng: np.random.Generator

    def propose(
        self,
        acq: Acquisition,
        model: Surrogate,
        anchors: Sequence[np.ndarray],
        taken: Sequence[np.ndarray],
        best: float,
    ) -> np.ndarray:
        """The candidate with the highest acquisition value, shape ``(d,)``.

        Args:
            acq: The acquisition function.
            model: The fitted surrogate.
            anchors: Encoded points ``(d,)`` to search around (at least one).
            taken: Encoded points of finished and running trials.
            best: The incumbent target (lower is better).
        """
        enc, rng = self.enc, self.rng
        centres = np.stack(anchors)
        n_local = max(self.n_candidates // 2, len(centres))
        chosen = centres[rng.integers(0, len(centres), n_local)]
        local = perturb(enc, chosen, rng, BROAD_STEP)
        cands = np.vstack([enc.random(self.n_candidates, rng), local])
        done = np.stack(taken) if taken else np.zeros((0, enc.dim))
        scores = self._scores(acq, model, cands, done, best)
        top = cands[np.argsort(-scores, kind="stable")[:N_REFINED]]
        refined = perturb(enc, np.repeat(top, FINE_PER_POINT, axis=0), rng, FINE_STEP)
        final = np.vstack([top, refined])
        return final[int(np.argmax(self._scores(acq, model, final, done, best)))]

    def _scores(
        self, acq: Acquisition, model: Surrogate, C: np.ndarray, taken: np.ndarray, best: float
    ) -> np.ndarray:
        """Acquisition values of candidates ``C`` ``(m, d)``; ``-inf`` where not finite, and
        for points already taken unless every candidate is."""
        inputs = self.layout.at_full_budget(C)
        s = np.asarray(acq.evaluate(model, inputs, best, self.rng), dtype=float)
        s = np.where(np.isfinite(s), s, -np.inf)
        dup = is_duplicate(C, taken)
        if not dup.all():
            s = np.where(dup, -np.inf, s)
        return s


def perturb(enc: SpaceEncoder, X: np.ndarray, rng: np.random.Generator, scale: float) -> np.ndarray:
    """Random neighbours of the rows of ``X`` ``(n, d)``, inside the unit cube and on its grid.

    Numeric columns take a Gaussian step whose scale is ``scale`` times a log-uniform factor
    in ``[0.1, 1]`` (one per row); each categorical parameter switches to a random choice with
    probability :data:`SWITCH_PROBABILITY`.
    """
    out = X.copy()
    cols = enc.numeric_columns
    if cols:
        scales = scale * np.exp(rng.uniform(np.log(0.1), 0.0, size=(len(X), 1)))
        out[:, cols] += scales * rng.standard_normal((len(X), len(cols)))
    for start, width in enc.categorical_blocks:
        switch = rng.random(len(X)) < SWITCH_PROBABILITY
        new = rng.integers(0, width, size=len(X))
        block = out[:, start : start + width]
        block[switch] = 0.0
        block[switch, new[switch]] = 1.0
    return enc.snap(np.clip(out, 0.0, 1.0))


def is_duplicate(C: np.ndarray, taken: np.ndarray) -> np.ndarray:
    """Which rows of ``C`` ``(m, d)`` coincide with a row of ``taken`` ``(k, d)`` (to 9 digits)."""
    if taken.size == 0:
        return np.zeros(len(C), dtype=bool)
    seen = {row.tobytes() for row in np.round(taken, 9)}
    return np.array([row.tobytes() in seen for row in np.round(C, 9)], dtype=bool)
