"""One forward pass: a study's trials in, each candidate's predictive distribution out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from hyperlab.tuners.meta.model import PFN
from hyperlab.tuners.meta.scores import ScoreScale


@dataclass
class Prediction:
    """Bucket probabilities of each candidate, on the context's standardized scale.

    Attributes:
        probs: ``(n_candidates, buckets)``.
        best: The best (lowest) standardized context score; ``nan`` without context.
        scale: The map from raw scores to standardized ones.
    """

    probs: torch.Tensor
    best: float
    scale: ScoreScale


def pad(x: np.ndarray, max_dim: int) -> np.ndarray:
    """``x`` of shape ``(n, d)`` padded with zero columns to ``(n, max_dim)``."""
    out = np.zeros((x.shape[0], max_dim), dtype=np.float32)
    out[:, : x.shape[1]] = x
    return out


def predict(
    model: PFN,
    x_ctx: np.ndarray,
    y_ctx: np.ndarray,
    candidates: np.ndarray,
    groups: np.ndarray | None = None,
) -> Prediction:
    """The model's predictive distributions of ``candidates`` given the context.

    Args:
        model: The trained network (its ``max_dim`` at least the encoding's width).
        x_ctx: Encoded context configurations ``(n, d)``.
        y_ctx: Their scores ``(n,)``, lower is better.
        candidates: Encoded candidates ``(m, d)``.
        groups: Which study each context row comes from (0: the study itself); each group's
            scores are standardized on their own. ``None``: all the study's own.

    Returns:
        The candidates' predictions; ``best`` is over the study's own rows (over all rows
        when it has none).
    """
    dim = model.config.max_dim
    groups = np.zeros(len(y_ctx), dtype=int) if groups is None else groups
    z = np.zeros(len(y_ctx))
    scale = ScoreScale(y_ctx[groups == 0])
    for g in np.unique(groups):
        rows = groups == g
        z[rows] = (scale if g == 0 else ScoreScale(y_ctx[rows]))(y_ctx[rows])
    own = z[groups == 0] if np.any(groups == 0) else z
    best = float(own.min()) if own.size else float("nan")
    flags = np.zeros((1, dim), dtype=np.float32)
    flags[0, : candidates.shape[1]] = 1.0
    with torch.no_grad():
        logits = model(
            torch.from_numpy(pad(x_ctx, dim))[None],
            torch.as_tensor(z, dtype=torch.float32)[None],
            torch.from_numpy(pad(candidates, dim))[None],
            torch.from_numpy(flags),
        )[0]
    return Prediction(torch.softmax(logits.double(), -1), best, scale)
