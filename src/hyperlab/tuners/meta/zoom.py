"""A closer look: the region around the best trials, stretched to the whole cube.

The network was trained on landscapes whose features are 0.08-1.5 of a side long, so late in a
study it cannot tell apart points a few hundredths apart near the best trial. A zoomed
suggestion shows it only the trials inside a box around the best ones, rescaled so the box
fills the cube, and draws candidates inside the box.
"""

from __future__ import annotations

import numpy as np

from hyperlab.space import SpaceEncoder

#: The box spans the best ``TOP`` trials, widened by ``WIDEN`` around the best one,
#: never narrower than ``FLOOR`` on either side of it.
TOP, WIDEN, FLOOR = 5, 1.5, 0.05


def zoom_box(enc: SpaceEncoder, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper corners of the box around the best trials (categorical blocks whole)."""
    order = np.argsort(y)
    centre = x[order[0]]
    half = np.maximum(np.abs(x[order[:TOP]] - centre).max(axis=0) * WIDEN, FLOOR)
    lo, hi = np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)
    for start, width in enc.categorical_blocks:
        lo[start : start + width], hi[start : start + width] = 0.0, 1.0
    return lo, hi


def inside(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Which rows of ``x`` lie in the box."""
    return np.all((x >= lo - 1e-9) & (x <= hi + 1e-9), axis=1)


def stretch(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Rows of ``x`` in the box's own coordinates (the box becomes the cube)."""
    return np.clip((x - lo) / np.maximum(hi - lo, 1e-12), 0.0, 1.0)
