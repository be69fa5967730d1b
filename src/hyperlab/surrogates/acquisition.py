"""Acquisition functions: how promising a candidate is, given the surrogate's belief.

Scores are to be *maximized*; the objective itself is *minimized* (``best`` is the lowest
score seen so far).

:meth:`Acquisition.evaluate` scores the surrogate's belief in its model units (after the target
transform), where it is Gaussian, with ``best`` mapped there too (as HEBO does, Cowen-Rivers et
al. 2022). Mapped back to raw units through the inverse of a concave power transform, a
Gaussian's upper tail runs off to astronomically large scores, and the spread that reaches
there says nothing about improving on the best score: raw-unit expected improvement would
search for the largest spread. In model units the ranking is what the model believes; for an
affine transform (``standardize``) it is the same as in raw units.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
from scipy.special import ndtr

from hyperlab.errors import InputError, check_nonneg, check_seed
from hyperlab.surrogates.base import Surrogate

_SQRT_2PI = float(np.sqrt(2 * np.pi))


class Acquisition(ABC):
    """Base class: ``score(mean, std, best) -> (m,)``, larger is more promising."""

    def score(self, mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
        """Score candidates from the surrogate's predictive mean and standard deviation.

        Args:
            mean: Predictive means, shape ``(m,)``.
            std: Predictive standard deviations, shape ``(m,)``, non-negative.
            best: Lowest score observed so far.

        Returns:
            Scores of shape ``(m,)``; larger is more promising.
        """
        mean = np.asarray(mean, dtype=float)
        std = np.asarray(std, dtype=float)
        if mean.ndim != 1 or std.shape != mean.shape:
            raise InputError(
                f"mean and std must have equal shapes (m,), got {mean.shape}, {std.shape}"
            )
        if np.any(std < 0) or not np.all(np.isfinite(std)) or not np.all(np.isfinite(mean)):
            raise InputError("std must be finite and non-negative, mean finite")
        if not np.isfinite(best):
            raise InputError(f"best must be finite, got {best!r}")
        return self._score(mean, std, float(best))

    def evaluate(
        self, surrogate: Surrogate, X: np.ndarray, best: float, rng: np.random.Generator
    ) -> np.ndarray:
        """Score candidates ``X`` of shape ``(m, d)`` with a fitted surrogate.

        Scored in the surrogate's model units (after its target transform), where its belief
        is Gaussian; ``best`` is mapped there too.
        """
        mean, std = surrogate.predict(X, model_units=True)
        best_z = float(surrogate.to_model_units(np.array([float(best)]))[0])
        return self.score(mean, std, best_z)

    @abstractmethod
    def _score(self, mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
        """Compute the scores on checked inputs."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class ExpectedImprovement(Acquisition):
    """Expected improvement over ``best`` in closed form (Jones et al. 1998).

    ``EI = (best - xi - mu) Phi(u) + sigma phi(u)`` with ``u = (best - xi - mu) / sigma``.

    Args:
        xi: Improvement margin (0 = plain EI).
    """

    def __init__(self, xi: float = 0.0) -> None:
        self.xi = check_nonneg("xi", xi)

    def _score(self, mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
        gain = best - float(self.xi) - mean
        safe = np.where(std > 0, std, 1.0)
        u = gain / safe
        ei = gain * ndtr(u) + std * np.exp(-0.5 * u * u) / _SQRT_2PI
        return np.where(std > 0, np.maximum(ei, 0.0), np.maximum(gain, 0.0))


class UpperConfidenceBound(Acquisition):
    """Optimism for minimization: score ``-(mu - kappa sigma)`` (a lower confidence bound).

    After Srinivas et al. 2010 (GP-UCB), with a fixed ``kappa``.

    Args:
        kappa: Standard deviations of optimism.
    """

    def __init__(self, kappa: float = 2.0) -> None:
        self.kappa = check_nonneg("kappa", kappa)

    def _score(self, mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
        return -(mean - float(self.kappa) * std)


class ThompsonSampling(Acquisition):
    """Score a draw from the posterior: ``-f(x)`` for one sampled function ``f``.

    :meth:`evaluate` draws one function jointly over all candidates from the surrogate
    (one network of an ensemble, or one weight vector of the Bayesian last layer; Thompson
    1933, Russo et al. 2018); :meth:`score` only sees marginals and draws independently.

    Args:
        seed: Seed of the draws made by :meth:`score`.
    """

    def __init__(self, seed: int | None = None) -> None:
        self.seed = check_seed(seed)

    def evaluate(
        self, surrogate: Surrogate, X: np.ndarray, best: float, rng: np.random.Generator
    ) -> np.ndarray:
        return -surrogate.sample(X, 1, rng)[0]

    def _score(self, mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
        if not hasattr(self, "_rng"):
            self._rng = np.random.default_rng(self.seed)
        return -(mean + std * self._rng.standard_normal(mean.shape))
