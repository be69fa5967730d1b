"""The prior the network is trained on: random problems shaped like hyperparameter searches.

Two sources, mixed batch by batch:

- **Functions drawn from Gaussian-process priors** (:func:`gp_batch`), shaped like tuning
  problems: a random number of parameters, some of them nearly irrelevant (long lengthscales),
  some categorical (one-hot blocks), some on an integer grid, random input warping (a log axis
  misjudged as linear, or the reverse), an optional bowl around a random optimum, and random
  observation noise; optionally (``additive``) some of them rugged and nearly separable, many
  local minima along each axis on top of a bowl; optionally (``categorical``) categoricals
  whose choices share the shape of the score over the other parameters (:func:`_shared_choices`).
  Trials crowd around promising regions as a tuner's do: part of the points are drawn near a
  centre rather than uniformly.
- **Real tuning problems** (:class:`TableProblems`): configurations and scores sampled from
  the training problems (tables and surrogates), encoded the way a study's trials are.

Every problem is split into context points and query points; scores are put on the network's
scale by :class:`~hyperlab.tuners.meta.scores.ScoreScale` fitted on the context alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from hyperlab.errors import InputError
from hyperlab.tuners.meta.scores import ScoreScale


@dataclass
class Batch:
    """Problems of one size: ``x_ctx (B, n_ctx, D)``, ``y_ctx (B, n_ctx)``,
    ``x_query (B, n_query, D)``, ``y_query (B, n_query)`` and ``flags (B, D)``."""

    x_ctx: torch.Tensor
    y_ctx: torch.Tensor
    x_query: torch.Tensor
    y_query: torch.Tensor
    flags: torch.Tensor


def split_sizes(rng: np.random.Generator, max_ctx: int, n_query: int) -> tuple[int, int]:
    """Context size (small ones more often: early trials matter most) and query size."""
    n_ctx = int(min(max_ctx, np.floor(max_ctx * rng.random() ** 1.5)))
    return n_ctx, n_query


#: The most parameters a pretraining problem has (drawn from 1 to this many).
MAX_PARAMS = 20


def _layout(rng: np.random.Generator, max_dim: int) -> tuple[list[tuple[int, int]], int]:
    """Random parameter layout: ``(start, width)`` blocks (width > 1: categorical one-hot)."""
    n_params = int(rng.choice(np.arange(1, MAX_PARAMS + 1), p=_param_weights()))
    blocks: list[tuple[int, int]] = []
    col = 0
    for _ in range(n_params):
        width = int(rng.integers(2, 6)) if rng.random() < 0.2 else 1
        if col + width > max_dim:
            if col >= max_dim:
                break
            width = 1
        blocks.append((col, width))
        col += width
    return blocks, col


def _param_weights() -> np.ndarray:
    w = 1.0 / np.sqrt(np.arange(1, MAX_PARAMS + 1))
    return w / w.sum()


def _points(
    rng: np.random.Generator, n: int, blocks: list[tuple[int, int]], centre: np.ndarray
) -> np.ndarray:
    """``n`` points of one layout: uniform, or crowded near ``centre``; ints on a grid."""
    dim = sum(w for _, w in blocks)
    x = rng.random((n, dim))
    near = rng.random(n) < rng.uniform(0.0, 0.6)
    spread = np.exp(rng.uniform(np.log(0.02), np.log(0.25)))
    x[near] = np.clip(centre + spread * rng.standard_normal((int(near.sum()), dim)), 0.0, 1.0)
    for start, width in blocks:
        if width > 1:
            pick = rng.integers(0, width, n)
            keep = near & (rng.random(n) < 0.7)
            pick[keep] = int(np.argmax(centre[start : start + width]))
            x[:, start : start + width] = np.eye(width)[pick]
        elif rng.random() < 0.2:  # an integer parameter: cell centres of a grid
            levels = int(rng.integers(2, 12))
            x[:, start] = (np.floor(x[:, start] * levels).clip(0, levels - 1) + 0.5) / levels
    return x


def _matern(diff: np.ndarray) -> np.ndarray:
    """Matérn-5/2 of scaled differences ``(..., n, n, d)`` (distance over the last axis)."""
    r = np.sqrt(np.maximum((diff**2).sum(-1), 0.0)) * np.sqrt(5.0)
    return (1.0 + r + r**2 / 3.0) * np.exp(-r)


def _additive(rng: np.random.Generator, z: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """A kernel that is a sum of one-dimensional Matérn kernels with short lengthscales: a
    function of many local minima along each axis (rugged but nearly separable), its columns
    weighted at random and the irrelevant ones left out."""
    short = np.exp(rng.uniform(np.log(0.03), np.log(0.3), z.shape[1]))
    weights = rng.dirichlet(np.ones(z.shape[1]))
    if (scales < 50.0).any():
        weights *= scales < 50.0
    diff = (z[:, None, :] - z[None, :, :]) / short
    k = np.zeros((len(z), len(z)))
    for j in np.flatnonzero(weights):
        k += weights[j] * _matern(diff[..., j : j + 1])
    return k / max(weights.sum(), 1e-12)


def _shared_choices(
    rng: np.random.Generator, z: np.ndarray, blocks: list[tuple[int, int]], scales: np.ndarray
) -> np.ndarray:
    """A kernel in which a categorical's choices share the shape of the score over the numeric
    parameters: the Matérn over the numeric columns times, per categorical, ``rho`` between two
    different choices and 1 between equal ones (``rho`` from U(0, 1): from unrelated choices to
    interchangeable ones), plus for half of the categoricals a main effect (an offset of the
    score per choice, a share of the variance drawn from U(0, 1))."""
    numeric = [start for start, width in blocks if width == 1]
    k = _matern((z[:, None, numeric] - z[None, :, numeric]) / scales[numeric])
    offsets, total = np.zeros_like(k), 1.0
    for start, width in blocks:
        if width == 1:
            continue
        choice = z[:, start : start + width].argmax(1)
        same = (choice[:, None] == choice[None, :]).astype(float)
        rho = rng.uniform(0.0, 1.0)
        k *= rho + (1.0 - rho) * same
        if rng.random() < 0.5:
            share = rng.uniform(0.0, 1.0)
            offsets += share * same
            total += share
    return (k + offsets) / total


def _gp_kernel(
    rng: np.random.Generator,
    x: np.ndarray,
    blocks: list[tuple[int, int]],
    additive: float = 0.0,
    categorical: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """The kernel matrix of a warped, ARD Matérn-5/2 GP with noise at ``x``, and its mean
    (zero, or a bowl around a random optimum). With probability ``additive`` the kernel is
    rugged and nearly separable instead (:func:`_additive`) and the bowl is always there;
    otherwise, where ``x`` has a categorical, with probability ``categorical`` its choices share
    the shape of the score (:func:`_shared_choices`) instead of the Matérn over their one-hot
    columns (under which two choices' scores are nearly unrelated)."""
    z = x.copy()
    for start, width in blocks:
        if width == 1 and rng.random() < 0.5:  # input warping (Kumaraswamy CDF)
            a, b = np.exp(rng.uniform(-0.7, 0.7, 2))
            z[:, start] = 1.0 - (1.0 - z[:, start] ** a) ** b
    scales = np.exp(rng.uniform(np.log(0.08), np.log(1.5), z.shape[1]))
    scales[rng.random(z.shape[1]) < 0.3] = 50.0  # nearly irrelevant columns
    rugged = additive > 0.0 and rng.random() < additive  # no draw at 0: old streams unchanged
    shared = (
        not rugged
        and categorical > 0.0
        and any(width > 1 for _, width in blocks)
        and rng.random() < categorical
    )
    if rugged:
        k = _additive(rng, z, scales)
    elif shared:
        k = _shared_choices(rng, z, blocks, scales)
    else:
        k = _matern((z[:, None, :] - z[None, :, :]) / scales)
    noise = np.exp(rng.uniform(np.log(1e-6), np.log(0.1)))
    k[np.diag_indices_from(k)] += noise + 1e-6
    bowl = np.zeros(len(x))
    if rng.random() < 0.5 or rugged:  # a bowl around a random optimum
        centre = rng.random(z.shape[1])
        # a rugged function's bowl is on the scale of its ripples (unit lengthscales)
        reach = np.where(scales < 50.0, 1.0, 2.0) if rugged else scales.clip(max=2.0)
        bowl = rng.uniform(0.5, 4.0) * (((z - centre) / reach) ** 2).mean(-1)
    return k, bowl


def _draw(kernels: np.ndarray, means: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per kernel matrix (a batched Cholesky factorization) plus its mean."""
    chol = torch.linalg.cholesky(torch.from_numpy(kernels))
    noise = torch.from_numpy(rng.standard_normal(means.shape))[..., None]
    return (chol @ noise)[..., 0].numpy() + means


def gp_batch(
    rng: np.random.Generator,
    batch: int,
    n_ctx: int,
    n_query: int,
    max_dim: int,
    additive: float = 0.0,
    categorical: float = 0.0,
) -> Batch:
    """A batch of problems drawn from Gaussian-process priors (a share ``additive`` of them
    rugged and nearly separable; of the others that have a categorical, a share
    ``categorical`` with choices that share the shape of the score, see :func:`_gp_kernel`)."""
    n = n_ctx + n_query
    xs = np.zeros((batch, n, max_dim))
    ys = np.zeros((batch, n))
    flags = np.zeros((batch, max_dim))
    kernels = np.zeros((batch, n, n))
    for i in range(batch):
        blocks, dim = _layout(rng, max_dim)
        centre = rng.random(dim)
        xs[i, :, :dim] = _points(rng, n, blocks, centre)
        kernels[i], ys[i] = _gp_kernel(rng, xs[i, :, :dim], blocks, additive, categorical)
        flags[i, :dim] = 1.0
    ys = _draw(kernels, ys, rng)
    order = rng.permuted(np.tile(np.arange(n), (batch, 1)), axis=1)
    xs = np.take_along_axis(xs, order[..., None], axis=1)
    ys = np.take_along_axis(ys, order, axis=1)
    return _to_batch(xs, ys, flags, n_ctx, power=False)


#: A real problem is trained on only with more configurations than this (fewer split too thinly
#: into context and queries).
TOO_FEW = 8


class TableProblems:
    """Real problems: encoded configurations and scores, sampled into training batches.

    Args:
        problems: ``(x, y)`` pairs, one per problem: ``x`` of shape ``(N, dim)`` in
            ``[0, 1]`` (the study encoding, :class:`~hyperlab.space.SpaceEncoder`), ``y`` of
            shape ``(N,)`` (lower is better).
        max_dim: Columns of the padded encoding; wider problems are left out, and so are
            problems of :data:`TOO_FEW` configurations or fewer.

    Raises:
        InputError: A problem's ``x`` is not a table of numbers in ``[0, 1]`` (configurations
            not encoded), or its ``y`` is not one finite score per row; the message names it.
    """

    def __init__(self, problems: list[tuple[np.ndarray, np.ndarray]], max_dim: int) -> None:
        for i, (x, y) in enumerate(problems):
            _check_problem(i, np.asarray(x), np.asarray(y))
        self.problems = [(x, y) for x, y in problems if x.shape[1] <= max_dim and len(y) > TOO_FEW]
        self.max_dim = max_dim

    def __len__(self) -> int:
        return len(self.problems)

    def batch(self, rng: np.random.Generator, batch: int, n_ctx: int, n_query: int) -> Batch:
        """A batch of random subsets of random problems (context and queries disjoint when the
        problem has enough configurations; drawn with replacement when it has fewer)."""
        n = n_ctx + n_query
        xs = np.zeros((batch, n, self.max_dim))
        ys = np.zeros((batch, n))
        flags = np.zeros((batch, self.max_dim))
        for i in range(batch):
            x, y = self.problems[int(rng.integers(len(self.problems)))]
            rows = rng.choice(len(y), size=n, replace=len(y) < n)
            xs[i, :, : x.shape[1]] = x[rows]
            ys[i] = y[rows]
            flags[i, : x.shape[1]] = 1.0
        return _to_batch(xs, ys, flags, n_ctx, power=True)


def _check_problem(index: int, x: np.ndarray, y: np.ndarray) -> None:
    """Refuse problem ``index`` unless ``x`` is ``(N, d)`` in ``[0, 1]`` and ``y`` ``(N,)`` finite."""
    where = f"real problem {index}"
    if x.ndim != 2 or y.ndim != 1 or len(x) != len(y):
        raise InputError(
            f"{where}: x must be (N, d) and y (N,), one score per configuration; got shapes "
            f"{x.shape} and {y.shape}"
        )
    if not np.issubdtype(x.dtype, np.number) or not np.all((x >= 0) & (x <= 1)):
        raise InputError(
            f"{where}: x must hold configurations encoded in [0, 1] (hyperlab.space."
            "SpaceEncoder.encode), got values outside"
        )
    if not np.issubdtype(y.dtype, np.number):
        raise InputError(f"{where}: the scores must be numbers, got {y.dtype} values")
    bad = np.flatnonzero(~np.isfinite(y))[:3].tolist()
    if bad:
        raise InputError(f"{where}: every score must be finite; rows {bad} are not")


def _to_batch(xs: np.ndarray, ys: np.ndarray, flags: np.ndarray, n_ctx: int, power: bool) -> Batch:
    """Scale each problem's scores on its context and split into context and queries.

    With fewer than two context scores there is no scale to fit: the problem's own scores set
    it (the network learns the prior's typical spread), centred on the one context score when
    there is one, as :class:`ScoreScale` centres a single score at tuning time."""
    scaled = np.empty_like(ys)
    for i in range(len(ys)):
        if n_ctx >= 2:
            scaled[i] = ScoreScale(ys[i, :n_ctx], power=power)(ys[i])
        else:  # too few context scores for a scale: the problem's own, centred on the one score
            scaled[i] = ScoreScale(ys[i], power=False)(ys[i])
            if n_ctx == 1:
                scaled[i] -= scaled[i, 0]
    t = torch.as_tensor
    return Batch(
        x_ctx=t(xs[:, :n_ctx], dtype=torch.float32),
        y_ctx=t(scaled[:, :n_ctx], dtype=torch.float32),
        x_query=t(xs[:, n_ctx:], dtype=torch.float32),
        y_query=t(scaled[:, n_ctx:], dtype=torch.float32),
        flags=t(flags, dtype=torch.float32),
    )
