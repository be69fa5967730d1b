"""The candidates a suggestion chooses among, and the choice.

Candidates are uniform random admissible points plus local moves around the best trials
(Gaussian steps of three sizes on the numeric columns, a random choice on some categorical
blocks); after a first scoring the best candidates are moved again with small steps and scored
once more. Points equal to a trial already run (or running) are never chosen while another
point is left, which matters on small discrete spaces. Under a ``categoricals`` rule other than
the network every candidate carries the categorical values the rule chose.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from hyperlab.space import SpaceEncoder
from hyperlab.tuners.meta.categoricals import carry

#: Step sizes of local moves on the encoded axes.
STEPS = (0.02, 0.06, 0.15)


def local_moves(
    enc: SpaceEncoder,
    anchors: np.ndarray,
    n: int,
    rng: np.random.Generator,
    box: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """``n`` admissible points near the ``anchors`` (rows of encoded points); inside ``box``
    (lower and upper corners, steps scaled to its sides) when one is given."""
    if len(anchors) == 0 or n <= 0:
        return np.zeros((0, enc.dim))
    lo, hi = _corners(enc, box)
    base = anchors[rng.integers(len(anchors), size=n)]
    steps = np.asarray(STEPS)[rng.integers(len(STEPS), size=n)][:, None]
    moved = np.clip(base + steps * (hi - lo) * rng.standard_normal(base.shape), lo, hi)
    for start, width in enc.categorical_blocks:
        flip = rng.random(n) < 0.2
        pick = rng.integers(width, size=int(flip.sum()))
        moved[flip, start : start + width] = np.eye(width)[pick]
        moved[~flip, start : start + width] = base[~flip, start : start + width]
    return enc.snap(moved)


def choose(
    enc: SpaceEncoder,
    score: Callable[[np.ndarray], np.ndarray],
    anchors: np.ndarray,
    taken: np.ndarray,
    n_candidates: int,
    rng: np.random.Generator,
    box: tuple[np.ndarray, np.ndarray] | None = None,
    fixed: np.ndarray | None = None,
) -> np.ndarray:
    """The candidate of the highest ``score`` (an acquisition value per row), shape ``(d,)``.

    Args:
        enc: The search space's encoder.
        score: Acquisition values of a matrix of encoded candidates (higher is better).
        anchors: Encoded best trials, around which local moves are made.
        taken: Encoded trials already run or running, never proposed again while possible.
        n_candidates: Random candidates; half as many local moves join them.
        rng: The random stream.
        box: Lower and upper corners of the encoded region to draw from (default: the cube).
        fixed: An encoded row whose categorical blocks every candidate carries
            (:mod:`hyperlab.tuners.meta.categoricals`); when every such candidate was taken,
            candidates are drawn again without it.
    """
    cands, values = _scored(enc, score, anchors, n_candidates, rng, box, fixed)
    fresh = ~_is_taken(cands, taken)
    if fixed is not None and not fresh.any():
        return choose(enc, score, anchors, taken, n_candidates, rng, box)
    if fresh.any():
        cands, values = cands[fresh], values[fresh]
    best = np.flatnonzero(values >= values.max() - 1e-12)
    return cands[int(rng.choice(best))]


def _scored(
    enc: SpaceEncoder,
    score: Callable[[np.ndarray], np.ndarray],
    anchors: np.ndarray,
    n_candidates: int,
    rng: np.random.Generator,
    box: tuple[np.ndarray, np.ndarray] | None,
    fixed: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Random candidates and local moves, then moves around the best of them, with their
    scores (every candidate carrying ``fixed``'s categorical blocks when it is given)."""

    def held(points: np.ndarray) -> np.ndarray:
        return points if fixed is None else carry(points, fixed, enc)

    lo, hi = _corners(enc, box)
    uniform = enc.snap(lo + (hi - lo) * rng.random((n_candidates, enc.dim)))
    cands = held(np.vstack([uniform, local_moves(enc, anchors, n_candidates // 2, rng, box)]))
    values = score(cands)
    top = cands[np.argsort(-values)[:8]]
    refined = held(local_moves(enc, top, max(32, n_candidates // 8), rng, box))
    return np.vstack([cands, refined]), np.concatenate([values, score(refined)])


def _corners(
    enc: SpaceEncoder, box: tuple[np.ndarray, np.ndarray] | None
) -> tuple[np.ndarray, np.ndarray]:
    """The lower and upper corners of ``box``, or of the whole cube."""
    return box if box is not None else (np.zeros(enc.dim), np.ones(enc.dim))


def _is_taken(cands: np.ndarray, taken: np.ndarray) -> np.ndarray:
    """Which rows of ``cands`` equal a row of ``taken``."""
    if len(taken) == 0:
        return np.zeros(len(cands), dtype=bool)
    seen = {row.tobytes() for row in np.round(taken, 9)}
    return np.array([row.tobytes() in seen for row in np.round(cands, 9)])
