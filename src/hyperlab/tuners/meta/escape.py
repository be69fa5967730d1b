"""Looking away from the best trial: an option (``escape``, off by default) against a basin trap.

A suggestion that escapes ranks the candidates as usual but takes one that lies away from the
best trial (farther than :data:`RADIUS` of a side from it on at least one numeric encoded
column) whenever any candidate does, so a study settled in one basin still tries other ones.
"""

from __future__ import annotations

import numpy as np

from hyperlab.space import SpaceEncoder

#: Escaping suggestions begin at this many trials read (scored trials of the space; see
#: ``MetaSampler``'s ``zoom``).
START = 15
#: How far (encoded, on one numeric column at least) a candidate must lie from the best trial.
RADIUS = 0.25
#: Subtracted from the acquisition value of a candidate near the best trial: below every one away.
PENALTY = 1e6


def escaping(every: int, finished: int) -> bool:
    """Whether the suggestion after ``finished`` trials read escapes (``every`` 0: never)."""
    return bool(every) and finished >= START and finished % every == 0


def numeric_columns(enc: SpaceEncoder) -> np.ndarray:
    """A mask of the encoded columns outside every categorical block."""
    mask = np.ones(enc.dim, dtype=bool)
    for start, width in enc.categorical_blocks:
        mask[start : start + width] = False
    return mask


def away(x: np.ndarray, best: np.ndarray, numeric: np.ndarray) -> np.ndarray:
    """Which rows of ``x`` lie farther than :data:`RADIUS` from ``best`` on a numeric column."""
    return np.any(np.abs(x[:, numeric] - best[numeric]) > RADIUS, axis=1)


def rank_away_first(values: np.ndarray, is_away: np.ndarray) -> np.ndarray:
    """Acquisition ``values`` with every candidate near the best trial ranked below those away."""
    return np.where(is_away, values, values - PENALTY)


def anchors_away(x: np.ndarray, y: np.ndarray, best: np.ndarray, numeric: np.ndarray) -> np.ndarray:
    """The best 5 rows of the data ``x, y`` away from the best trial ``best``."""
    far = away(x, best, numeric)
    return x[far][np.argsort(y[far])[:5]]
