"""The start-up design: the trials the neural sampler draws before its surrogate decides.

A surrogate fit to a handful of points is mostly prior, so the first trials spread over the
space instead: points of one scrambled Sobol sequence (Sobol 1967; Owen's scrambling), which
cover the unit cube more evenly than random points do.
"""

from __future__ import annotations

import numpy as np

from hyperlab.space import SpaceEncoder

#: Size of the scrambled Sobol table (a power of two, so its prefixes stay balanced).
SOBOL_POINTS = 64
#: Bounds of the default design size ``2 * dim + 1``.
STARTUP_BOUNDS = (5, 20)
#: Design size when other studies' trials already inform the surrogate.
STARTUP_WITH_TRANSFER = 3


def startup_size(dim: int, n_startup: int | None, has_transfer: bool) -> int:
    """Trials of the start-up design.

    Args:
        dim: Columns of the encoded search space.
        n_startup: The user's choice; ``None`` for ``2 * dim + 1`` clipped to
            :data:`STARTUP_BOUNDS`.
        has_transfer: Whether transfer studies contribute trials (then at most
            :data:`STARTUP_WITH_TRANSFER`).

    Returns:
        The number of trials.
    """
    low, high = STARTUP_BOUNDS
    n = int(n_startup) if n_startup is not None else min(max(2 * dim + 1, low), high)
    return min(n, STARTUP_WITH_TRANSFER) if has_transfer else n


class SobolDesign:
    """The points of the start-up design: trial ``n`` gets point ``n % 64`` of one table.

    Args:
        dim: Columns of the encoded search space.
        seed: Seed of the scrambling (``None``: a fresh one).
    """

    def __init__(self, dim: int, seed: int | None) -> None:
        from scipy.stats import qmc

        table_seed = np.random.default_rng(seed).integers(0, 2**31) if seed is not None else None
        self.table = qmc.Sobol(d=dim, scramble=True, seed=table_seed).random(SOBOL_POINTS)

    def point(self, enc: SpaceEncoder, index: int) -> np.ndarray:
        """Point ``index`` of the design, snapped to the encoder's grid, shape ``(dim,)``."""
        return enc.snap(self.table[index % SOBOL_POINTS][None, :])[0]
