"""PB2's explore: a Gaussian-process bandit on (epoch, score, hyperparameters) -> improvement.

After Parker-Holder et al. 2020, "Provably efficient online hyperparameter optimization with
population-based bandits". Every finished segment that continued a model is one observation:
where it started (its start epoch as a share of the budget, and the model's score then) and
its explored hyperparameters, against how much the score improved per epoch of the segment.
The start score is there because how much a model can still improve depends on how good it
already is; the authors' reference code conditions on it too. The improvements are
standardized and clipped to two standard deviations (one segment that rescued a diverged
model does not flatten the rest), and a Gaussian process with a Matérn kernel and a noise
term is fitted to them. Each exploiting member gets the random candidate with the highest
upper confidence bound ``mean + kappa * std`` at its own start: the epoch it continues from
and the score of the model it copied. When several members explore at once, each choice
joins the data at its predicted mean before the next is made (the process keeps its fitted
kernel), so the batch spreads out where the process is unsure.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from hyperlab.population.explore import Context, Explorer
from hyperlab.space.encoding import SpaceEncoder

#: Standardized improvements are clipped to this many standard deviations.
CLIP = 2.0


class GPBandit(Explorer):
    """Chooses explored values by GP-UCB on the population's past improvements.

    With fewer than two observations (the first exploit of a run) the values are drawn at
    random inside their distributions. Needs ``context.scores`` (one per exploiting member).

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
        if len(context.scores) != len(copied):
            raise ValueError(
                f"the bandit needs one score per exploiting member (Context.scores): got "
                f"{len(context.scores)} for {len(copied)} members"
            )
        encoder = SpaceEncoder({n: context.space[n] for n in context.names})
        X, y = observations(encoder, context)
        if len(y) < 2:
            return [{**p, **encoder.decode(encoder.random(1, rng))[0]} for p in copied]
        scores = np.asarray(context.scores, dtype=float)
        unit = _unit_scale(np.concatenate([X[:, 1], scores]))
        X[:, 1] = unit(X[:, 1])
        y = _standardize(y)
        gp = _fit(X, y, kernel=None)
        now = context.epoch / context.budget
        out = []
        for params, score in zip(copied, unit(scores)):
            cand = encoder.random(self.candidates, rng)
            where = np.tile([now, score], (len(cand), 1))
            points = np.hstack([where, cand])
            mean, std = gp.predict(points, return_std=True)
            best = int(np.argmax(mean + self.kappa * std))
            out.append({**params, **encoder.decode(cand[best : best + 1])[0]})
            X, y = np.vstack([X, points[best]]), np.append(y, mean[best])
            gp = _fit(X, y, kernel=gp.kernel_)
        return out


def observations(encoder: SpaceEncoder, context: Context) -> tuple[np.ndarray, np.ndarray]:
    """The segments that continued a model, as points ``(n, 2 + encoder.dim)`` (start epoch
    over the budget, the score at the start, then the encoded hyperparameters) and their
    improvements per epoch ``(n,)``."""
    rows, ys = [], []
    for entry in context.log:
        gain, before = entry.get("improvement"), entry.get("before")
        if gain is None or before is None or not math.isfinite(gain * before):
            continue
        config = {n: entry["config"][n] for n in encoder.names}
        start = entry["start"]
        rows.append(np.concatenate([[start / context.budget, before], encoder.encode([config])[0]]))
        ys.append(float(gain) / max(entry["end"] - start, 1))
    X = np.array(rows) if rows else np.zeros((0, 2 + encoder.dim))
    return X, np.array(ys)


def _unit_scale(values: np.ndarray) -> Any:
    """Maps onto ``[0, 1]`` by the range of ``values`` (all to 0.5 when they are equal)."""
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return lambda v: np.full_like(v, 0.5)
    return lambda v: (v - low) / (high - low)


def _standardize(y: np.ndarray) -> np.ndarray:
    return np.clip((y - y.mean()) / (y.std() + 1e-12), -CLIP, CLIP)


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
        gp = GaussianProcessRegressor(kernel, random_state=0)
    else:
        gp = GaussianProcessRegressor(kernel, optimizer=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gp.fit(X, y)
    return gp
