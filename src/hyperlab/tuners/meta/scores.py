"""How scores are put on the network's scale: the same transform in training and in tuning.

Scores are minimized. A Yeo-Johnson power transform, its exponent fitted by maximum likelihood
on the context scores alone, tames heavy tails (a few diverged trials must not flatten the
rest); the result is standardized with the context's mean and standard deviation. Query scores
(in training) go through the same map, fitted on the context only, exactly as at tuning time,
where only the context exists.
"""

from __future__ import annotations

import numpy as np

#: Exponents the power transform chooses among (maximum likelihood on this grid).
LAMBDAS = np.linspace(-2.0, 4.0, 121)


class ScoreScale:
    """The map from raw scores to standardized ones, fitted on context scores.

    Args:
        y: Context scores (lower is better), any length (an empty one gives the identity).
        power: Fit the Yeo-Johnson exponent (else the identity exponent 1).
    """

    def __init__(self, y: np.ndarray, power: bool = True) -> None:
        y = np.asarray(y, dtype=float)
        self.lmbda = 1.0
        self.center = 0.0
        self.scale = 1.0
        if y.size == 0:
            return
        # a first standardization keeps the power transform's exponent search well scaled
        self._m0 = float(np.mean(y))
        self._s0 = float(np.std(y)) or 1.0
        z = (y - self._m0) / self._s0
        if power and y.size >= 3 and np.ptp(z) > 0:
            self.lmbda = _best_lambda(z)
        t = yeo_johnson(z, self.lmbda)
        self.center = float(np.mean(t))
        self.scale = float(np.std(t)) if y.size >= 2 and np.std(t) > 1e-12 else 1.0

    def __call__(self, y: np.ndarray) -> np.ndarray:
        """Standardized scores of ``y``."""
        y = np.asarray(y, dtype=float)
        if not hasattr(self, "_m0"):
            return y.copy()
        t = yeo_johnson((y - self._m0) / self._s0, self.lmbda)
        return (t - self.center) / self.scale


def yeo_johnson(x: np.ndarray, lmbda: float | np.ndarray) -> np.ndarray:
    """The Yeo-Johnson power transform of ``x`` (Yeo & Johnson 2000); ``lmbda`` a number or a
    column ``(k, 1)`` of exponents (then one row per exponent)."""
    lam = np.asarray(lmbda, dtype=float)
    pos, neg = np.log1p(np.maximum(x, 0.0)), np.log1p(np.maximum(-x, 0.0))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        up = np.where(np.abs(lam) < 1e-8, pos, np.expm1(lam * pos) / lam)
        down = np.where(np.abs(lam - 2) < 1e-8, neg, np.expm1((2 - lam) * neg) / (2 - lam))
    return np.where(x >= 0, up, -down)


def _best_lambda(z: np.ndarray) -> float:
    """The exponent of :data:`LAMBDAS` of the highest Gaussian log-likelihood of ``z``."""
    t = yeo_johnson(z, LAMBDAS[:, None])
    var = t.var(axis=1)
    jacobian = np.sum(np.sign(z) * np.log1p(np.abs(z)))
    with np.errstate(divide="ignore"):
        llf = -0.5 * len(z) * np.log(var) + (LAMBDAS - 1) * jacobian
    llf[~np.isfinite(llf)] = -np.inf
    return float(LAMBDAS[int(np.argmax(llf))])
