"""A suggestion's categoricals chosen by per-choice evidence (option ``categoricals``).

Under ``"network"`` (the default) the network ranks whole candidates, categoricals included.
Under another rule the categorical values of a suggestion are chosen first, from what the
trials so far say about each choice, and every candidate carries them, so the network steers
the numeric parameters given those values:

- ``"ratio"``: TPE's rule for a categorical, each one on its own. The trials split into the
  best ``min(ceil(0.1 n), 25)`` (at least one) and the rest; each side's choice counts, plus a
  prior weight of 1 spread evenly over the choices, make two distributions; of
  :data:`DRAWS` draws from the good side's, the choice of the highest good/rest ratio is taken.
- ``"thompson"``: one Thompson draw from a Bayesian linear model of the trials' scores (their
  ranks mapped to normal scores) on the one-hot categorical columns and each numeric column
  and its square, coefficients N(0, 1) a priori; per categorical the choice of the lowest drawn
  effect is taken, so a choice is judged with its trials' numeric values accounted for.

Without trials both draw every choice uniformly. A space without categoricals draws nothing.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm, rankdata

from hyperlab.space import SpaceEncoder

#: The values of ``MetaSampler``'s ``categoricals`` option.
RULES = ("network", "ratio", "thompson")
#: Draws from the good trials' distribution under ``"ratio"`` (TPE's ``n_ei_candidates``).
DRAWS = 24
#: Floor of the noise variance (normal-score units) under ``"thompson"``.
NOISE_FLOOR = 0.01


def chosen_row(
    enc: SpaceEncoder, x: np.ndarray, y: np.ndarray, rule: str, rng: np.random.Generator
) -> np.ndarray | None:
    """An encoded row whose categorical blocks hold the values ``rule`` chooses from the trials
    ``x, y`` (numeric columns 0), or None under ``"network"`` or without categoricals."""
    blocks = enc.categorical_blocks
    if rule == "network" or not blocks:
        return None
    row = np.zeros(enc.dim)
    if len(y) == 0:
        picks = [int(rng.integers(width)) for _, width in blocks]
    elif rule == "ratio":
        picks = [_ratio_pick(x[:, s : s + w], y, rng) for s, w in blocks]
    else:
        picks = _thompson_picks(enc, x, y, rng)
    for (start, _), pick in zip(blocks, picks, strict=True):
        row[start + pick] = 1.0
    return row


def carry(cands: np.ndarray, row: np.ndarray, enc: SpaceEncoder) -> np.ndarray:
    """``cands`` with every categorical block set to ``row``'s."""
    out = cands.copy()
    for start, width in enc.categorical_blocks:
        out[:, start : start + width] = row[start : start + width]
    return out


def _ratio_pick(block: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> int:
    """TPE's choice for one categorical (its one-hot ``block`` over the trials, scores ``y``)."""
    width = block.shape[1]
    n_good = max(1, min(math.ceil(0.1 * len(y)), 25))
    good = np.zeros(len(y), dtype=bool)
    good[np.argsort(y, kind="stable")[:n_good]] = True
    choice = np.argmax(block, axis=1)
    counts_good = np.bincount(choice[good], minlength=width) + 1.0 / width
    counts_rest = np.bincount(choice[~good], minlength=width) + 1.0 / width
    lik_good = counts_good / counts_good.sum()
    lik_rest = counts_rest / counts_rest.sum()
    drawn = rng.choice(width, size=DRAWS, p=lik_good)
    ratio = lik_good[drawn] / lik_rest[drawn]
    return int(drawn[int(np.argmax(ratio))])


def _thompson_picks(
    enc: SpaceEncoder, x: np.ndarray, y: np.ndarray, rng: np.random.Generator
) -> list[int]:
    """Per categorical block, the choice of the lowest effect in one posterior draw."""
    n = len(y)
    z = norm.ppf((rankdata(y) - 0.5) / n)
    numeric = 2.0 * (x[:, enc.numeric_columns] - 0.5)
    cat_cols = [c for s, w in enc.categorical_blocks for c in range(s, s + w)]
    feats = np.hstack([np.ones((n, 1)), x[:, cat_cols], numeric, numeric**2])
    gram = feats.T @ feats
    eye = np.eye(feats.shape[1])
    cov = np.linalg.inv(gram + eye)  # noise variance 1: a first fit for the residuals
    hat = float(np.trace(feats @ cov @ feats.T))
    resid = z - feats @ (cov @ feats.T @ z)
    noise = max(float(resid @ resid) / max(n - hat, 1.0), NOISE_FLOOR)
    cov = np.linalg.inv(gram / noise + eye)
    mean = cov @ feats.T @ z / noise
    draw = mean + np.linalg.cholesky((cov + cov.T) / 2) @ rng.standard_normal(len(mean))
    effects = draw[1 : 1 + len(cat_cols)]
    picks, at = [], 0
    for _, width in enc.categorical_blocks:
        picks.append(int(np.argmin(effects[at : at + width])))
        at += width
    return picks
