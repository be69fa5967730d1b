"""PB2's explore: a Gaussian-process bandit on (epoch, hyperparameters) -> improvement.

After Parker-Holder et al. 2020, "Provably efficient online hyperparameter optimization with
population-based bandits". Every finished segment that continued a model is one observation:
its start epoch (a share of the budget) and its explored hyperparameters, encoded in the unit
cube, against how much the score improved over the segment. A Gaussian process with a Matérn
kernel and a noise term is fitted to them, and each exploiting member gets the random
candidate, at the epoch it continues from, with the highest upper confidence bound
``mean + kappa * std``. When several members explore at once, each choice joins the data at
its predicted mean before the next is made (the process keeps its fitted kernel), so the
batch spreads out where the process is unsure.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from hyperlab.population.explore import Context, Explorer
from hyperlab.space.encoding import SpaceEncoder


class GPBandit(Explorer):
    """Chooses explored values by GP-UCB on the population's past improvements.

    With fewer than two observations (the first exploit of a run) the values are drawn at
    random inside their distributions.

    Args:
        kappa: Weight of the standard deviation in the upper confidence bound (>= 0).
        candidates: Random candidates scored per choice.
    """

    def __init__(self, kappa: float = 1.0, candidates: int = 512) -> None:
        self.kappa = kappa
        self.candidates = candidates

    def explore(
        self, copied: list[dict[str, Any]], context: Context, rng: np.random.Generator
    ) -> list[dict[str, Any]]:
        if not context.names:
            return [dict(params) for params in copied]
        encoder = SpaceEncoder({n: context.space[n] for n in context.names})
        X, y = observations(encoder, context)
        if len(y) < 2:
            return [{**p, **encoder.decode(encoder.random(1, rng))[0]} for p in copied]
        gp = _fit(X, y, kernel=None)
        now = context.epoch / context.budget
        out = []
        for params in copied:
            cand = encoder.random(self.candidates, rng)
            points = np.hstack([np.full((len(cand), 1), now), cand])
            mean, std = gp.predict(points, return_std=True)
            best = int(np.argmax(mean + self.kappa * std))
            out.append({**params, **encoder.decode(cand[best : best + 1])[0]})
            X, y = np.vstack([X, points[best]]), np.append(y, mean[best])
            gp = _fit(X, y, kernel=gp.kernel_)
        return out


def observations(encoder: SpaceEncoder, context: Context) -> tuple[np.ndarray, np.ndarray]:
    """The segments that continued a model, as points ``(n, 1 + encoder.dim)`` (start epoch
    over the budget, then the encoded hyperparameters) and their improvements ``(n,)``."""
    rows, ys = [], []
    for entry in context.log:
        gain = entry.get("improvement")
        if gain is None or not math.isfinite(gain):
            continue
        config = {n: entry["config"][n] for n in encoder.names}
        rows.append(
            np.concatenate([[entry["start"] / context.budget], encoder.encode([config])[0]])
        )
        ys.append(float(gain))
    X = np.array(rows) if rows else np.zeros((0, 1 + encoder.dim))
    return X, np.array(ys)


def _fit(X: np.ndarray, y: np.ndarray, kernel: Any) -> Any:
    """A Gaussian process on ``(X, y)``; a given ``kernel`` is kept as it is (no refit of its
    hyperparameters)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    if kernel is None:
        kernel = ConstantKernel(1.0, (1e-2, 1e2)) * Matern(
            length_scale=np.ones(X.shape[1]), length_scale_bounds=(1e-2, 1e2), nu=2.5
        ) + WhiteKernel(1e-2, (1e-6, 1.0))
        gp = GaussianProcessRegressor(kernel, normalize_y=True, random_state=0)
    else:
        gp = GaussianProcessRegressor(kernel, normalize_y=True, optimizer=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gp.fit(X, y)
    return gp
