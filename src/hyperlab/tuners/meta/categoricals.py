"""A suggestion's categoricals chosen by per-choice evidence (option ``categoricals``).

Under ``"network"`` (the default) the network ranks whole candidates, categoricals included.
Under ``"thompson"`` the categorical values of a suggestion are chosen first, from what the
trials so far say about each choice, and every candidate carries them, so the network steers
the numeric parameters given those values. The choice is one Thompson draw from a Bayesian
linear model of the trials' scores (their ranks mapped to normal scores) on the one-hot
categorical columns and each numeric column and its square, coefficients N(0, 1) a priori;
per categorical the choice of the lowest drawn effect is taken, so a choice is judged with its
trials' numeric values accounted for. Without trials every choice is drawn uniformly. A space
without categoricals draws nothing.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm, rankdata

from hyperlab.space import SpaceEncoder

#: The values of ``MetaSampler``'s ``categoricals`` option.
RULES = ("network", "thompson")
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
