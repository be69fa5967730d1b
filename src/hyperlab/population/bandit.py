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

With ``condition_on_fixed`` the process also reads each segment's hyperparameters that are not
explored (a network's shape, its optimizer), and each exploiting member is scored at the values
it copied: which learning rate is good depends on the optimizer that uses it. This is the
contextual form of the bandit (the fixed values as a context the bandit observes but does not
choose; Krause & Ong 2011, "Contextual Gaussian process bandit optimization").
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
        condition_on_fixed: Whether the process also reads the hyperparameters that are not
            explored (each member is scored at its own).
    """

    def __init__(
        self, kappa: float = 1.0, candidates: int = 512, condition_on_fixed: bool = False
    ) -> None:
        self.kappa = kappa
        self.candidates = candidates
        self.condition_on_fixed = condition_on_fixed

    def explore(
        self, copied: list[dict[str, Any]], context: Context, rng: np.random.Generator
    ) -> list[dict[str, Any]]:
        if not context.names:
            return [dict(params) for params in copied]
        encoder = SpaceEncoder({n: context.space[n] for n in context.names})
        fixed = self._fixed_encoder(context)
        X, y = observations(encoder, context, fixed)
        if len(y) < 2:
            return [{**p, **encoder.decode(encoder.random(1, rng))[0]} for p in copied]
        gp = _fit(X, y, kernel=None)
        now = context.epoch / context.budget
        out = []
        for params in copied:
            cand = encoder.random(self.candidates, rng)
            points = np.hstack(
                [np.full((len(cand), 1), now), _fixed_columns(fixed, params, len(cand)), cand]
            )
            mean, std = gp.predict(points, return_std=True)
            best = int(np.argmax(mean + self.kappa * std))
            out.append({**params, **encoder.decode(cand[best : best + 1])[0]})
            X, y = np.vstack([X, points[best]]), np.append(y, mean[best])
            gp = _fit(X, y, kernel=gp.kernel_)
        return out

    def _fixed_encoder(self, context: Context) -> SpaceEncoder | None:
        """The encoder of the hyperparameters the bandit reads but does not choose, if any."""
        configs = [entry["config"] for entry in context.log]
        names = [
            n
            for n in context.space
            if n not in context.names and all(n in config for config in configs)
        ]
        if not self.condition_on_fixed or not names:
            return None
        return SpaceEncoder({n: context.space[n] for n in names})


def observations(
    encoder: SpaceEncoder, context: Context, fixed: SpaceEncoder | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The segments that continued a model, as points ``(n, 1 + fixed.dim + encoder.dim)``
    (start epoch over the budget, the encoded fixed hyperparameters when ``fixed`` is given,
    then the encoded explored ones) and their improvements ``(n,)``."""
    rows, ys = [], []
    for entry in context.log:
        gain = entry.get("improvement")
        if gain is None or not math.isfinite(gain):
            continue
        config = {n: entry["config"][n] for n in encoder.names}
        start = [entry["start"] / context.budget]
        rows.append(
            np.concatenate(
                [start, _fixed_columns(fixed, entry["config"], 1)[0], encoder.encode([config])[0]]
            )
        )
        ys.append(float(gain))
    width = 1 + (fixed.dim if fixed is not None else 0) + encoder.dim
    X = np.array(rows) if rows else np.zeros((0, width))
    return X, np.array(ys)


def _fixed_columns(fixed: SpaceEncoder | None, config: dict[str, Any], n: int) -> np.ndarray:
    """``config``'s fixed hyperparameters encoded, repeated in ``n`` rows (no columns without
    ``fixed``)."""
    if fixed is None:
        return np.zeros((n, 0))
    row = fixed.encode([{name: config[name] for name in fixed.names}])
    return np.repeat(row, n, axis=0)


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
