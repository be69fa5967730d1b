"""The prior-fitted network: a transformer that reads a study's trials and predicts new ones.

A prior-fitted network (PFN; Müller et al. 2022, "Transformers can do Bayesian inference";
Müller et al. 2023, PFNs4BO) is trained on many small regression problems drawn from a prior
over functions. Each problem is split into *context* points (configuration and score, as a
study's finished trials) and *query* points (configuration only); the network learns to
predict the query scores' distribution from the context. At tuning time the context is the
study's own trials and the queries are candidate configurations: one forward pass gives each
candidate's predictive distribution, with no fitting.

Layout of one problem: configurations are points of ``[0, 1]^d`` padded with zeros to
``max_dim`` columns, with a 0/1 flag per column saying which columns are used. Context tokens
embed ``(x, flags, y)``, query tokens ``(x, flags)``. In every layer all tokens attend to the
context tokens only (and to one learned memory token, so an empty context works), which keeps
queries independent of each other. The output is a distribution over the standardized score
as probabilities of fixed buckets (:class:`BarDistribution`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from hyperlab.tuners.meta.bars import BarDistribution


@dataclass(frozen=True)
class PFNConfig:
    """The network's shape.

    Attributes:
        max_dim: Columns of the padded configuration encoding.
        width: Token width (``d_model``).
        depth: Transformer layers.
        heads: Attention heads per layer.
        buckets: Buckets of the output distribution.
    """

    max_dim: int = 40
    width: int = 96
    depth: int = 4
    heads: int = 4
    buckets: int = 128

    def to_dict(self) -> dict[str, int]:
        """Plain-data form (JSON-serializable)."""
        return asdict(self)


class _Block(nn.Module):
    """One pre-norm layer: attention to the context (plus memory), then a feed-forward net."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(width)
        self.ff = nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(), nn.Linear(2 * width, width))

    def forward(self, tokens: torch.Tensor, n_keys: int) -> torch.Tensor:
        h = self.norm1(tokens)
        keys = h[:, :n_keys]
        out, _ = self.attn(h, keys, keys, need_weights=False)
        tokens = tokens + out
        return tokens + self.ff(self.norm2(tokens))


class PFN(nn.Module):
    """The transformer; :meth:`forward` returns bucket logits for every query point."""

    def __init__(self, config: PFNConfig) -> None:
        super().__init__()
        self.config = config
        w = config.width
        self.embed_x = nn.Linear(2 * config.max_dim, w)
        self.embed_y = nn.Sequential(nn.Linear(1, w), nn.GELU(), nn.Linear(w, w))
        self.memory = nn.Parameter(torch.zeros(1, 1, w))
        self.blocks = nn.ModuleList(_Block(w, config.heads) for _ in range(config.depth))
        self.norm = nn.LayerNorm(w)
        self.head = nn.Sequential(nn.Linear(w, 2 * w), nn.GELU(), nn.Linear(2 * w, config.buckets))
        self.bars = BarDistribution(config.buckets)
        nn.init.normal_(self.memory, std=1.0 / math.sqrt(w))

    def forward(
        self, x_ctx: torch.Tensor, y_ctx: torch.Tensor, x_query: torch.Tensor, flags: torch.Tensor
    ) -> torch.Tensor:
        """Bucket logits of the query points.

        Args:
            x_ctx: Context configurations, ``(batch, n_ctx, max_dim)``.
            y_ctx: Standardized context scores, ``(batch, n_ctx)``.
            x_query: Query configurations, ``(batch, n_query, max_dim)``.
            flags: Which columns are used, ``(batch, max_dim)``, 0/1.

        Returns:
            Logits of shape ``(batch, n_query, buckets)``.
        """
        batch, n_ctx = x_ctx.shape[:2]
        f = flags[:, None, :]
        ctx = self.embed_x(torch.cat([x_ctx, f.expand_as(x_ctx)], -1))
        ctx = ctx + self.embed_y(y_ctx[..., None])
        query = self.embed_x(torch.cat([x_query, f.expand_as(x_query)], -1))
        tokens = torch.cat([self.memory.expand(batch, 1, -1), ctx, query], dim=1)
        for block in self.blocks:
            tokens = block(tokens, n_ctx + 1)
        return self.head(self.norm(tokens[:, n_ctx + 1 :]))

    def parameter_count(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters())
