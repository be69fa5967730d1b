"""A distribution over a standardized score as probabilities of fixed buckets.

The network's output (a "Riemann" or bar distribution, as in Müller et al. 2022): the real
line of standardized scores is cut into ``buckets`` intervals, narrow near 0 and wide in the
tails (``sinh``-spaced on ``[-limit, limit]``); the density is uniform inside each bucket.
Training minimizes the cross-entropy of the bucket that holds the true score, which fits any
shape of predictive distribution (skewed, multi-modal) without assuming a Gaussian.
"""

from __future__ import annotations

import math

import torch


class BarDistribution:
    """Fixed bucket borders, and what follows from bucket probabilities.

    Args:
        buckets: Number of buckets.
        limit: Half-width of the covered range of standardized scores; scores beyond it are
            counted in the outermost buckets.
    """

    def __init__(self, buckets: int, limit: float = 10.0) -> None:
        edge = math.asinh(limit)
        self.borders = torch.sinh(torch.linspace(-edge, edge, buckets + 1, dtype=torch.float64))
        self.limit = limit

    def bucket_of(self, y: torch.Tensor) -> torch.Tensor:
        """Index of the bucket holding each score (scores beyond the range go to the ends)."""
        inner = self.borders[1:-1].to(y.dtype)
        return torch.bucketize(y.contiguous(), inner)

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy of the true scores' buckets (the training loss)."""
        target = self.bucket_of(y)
        return torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), target.reshape(-1)
        )

    def mean(self, probs: torch.Tensor) -> torch.Tensor:
        """Mean of each distribution; ``probs`` has buckets on the last axis."""
        b = self.borders.to(probs.dtype)
        return probs @ ((b[1:] + b[:-1]) / 2)

    def cdf(self, probs: torch.Tensor, y: float | torch.Tensor) -> torch.Tensor:
        """``P(score <= y)`` for each distribution (uniform density inside buckets)."""
        b = self.borders.to(probs.dtype)
        y_t = torch.as_tensor(y, dtype=probs.dtype)
        frac = ((y_t[..., None] if y_t.ndim else y_t) - b[:-1]) / (b[1:] - b[:-1])
        return (probs * frac.clamp(0.0, 1.0)).sum(-1)

    def quantile(self, probs: torch.Tensor, q: float) -> torch.Tensor:
        """The ``q``-quantile of each distribution."""
        b = self.borders.to(probs.dtype)
        cum = probs.cumsum(-1)
        idx = torch.searchsorted(cum, torch.full((*cum.shape[:-1], 1), q, dtype=cum.dtype))
        idx = idx.clamp(max=probs.shape[-1] - 1)
        below = torch.where(
            idx > 0, cum.gather(-1, (idx - 1).clamp(min=0)), torch.zeros_like(idx, dtype=cum.dtype)
        )
        p = probs.gather(-1, idx).clamp(min=1e-12)
        lo, hi = b[:-1][idx], b[1:][idx]
        return (lo + (hi - lo) * ((q - below) / p).clamp(0.0, 1.0)).squeeze(-1)

    def expected_improvement(self, probs: torch.Tensor, best: float) -> torch.Tensor:
        """``E[max(best - score, 0)]`` for each distribution (lower scores are better)."""
        b = self.borders.to(probs.dtype)
        lo, hi = b[:-1], b[1:]
        full = best - (lo + hi) / 2
        partial = (best - lo).clamp(min=0.0) ** 2 / (2 * (hi - lo))
        gain = torch.where(hi <= best, full, torch.where(lo >= best, torch.zeros_like(lo), partial))
        return probs @ gain
