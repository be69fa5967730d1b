"""A stack of ``M`` small MLPs evaluated in one batched pass (shared by the surrogates)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np
import torch

TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64}
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "tanh": torch.tanh,
    "silu": torch.nn.functional.silu,
    "relu": torch.relu,
}


class BatchedMLP(torch.nn.Module):
    """``M`` independent MLPs ``d -> width^depth -> out``, run together.

    Args:
        n_members: Number of networks ``M``.
        d_in: Input dimension ``d``.
        width: Hidden units per layer.
        depth: Number of hidden layers (at least 1).
        d_out: Outputs per network.
        dtype: Torch dtype of the parameters.
        generator: Source of the initial weights.
        activation: Hidden unit, a key of ``ACTIVATIONS``.
    """

    def __init__(
        self,
        n_members: int,
        d_in: int,
        width: int,
        depth: int,
        d_out: int,
        dtype: torch.dtype,
        generator: torch.Generator,
        activation: str = "tanh",
    ) -> None:
        super().__init__()
        self.activation = activation
        sizes = [d_in] + [width] * depth
        self.hidden_w = torch.nn.ParameterList()
        self.hidden_b = torch.nn.ParameterList()
        for fan_in, fan_out in itertools.pairwise(sizes):
            self.hidden_w.append(_init((n_members, fan_in, fan_out), fan_in, dtype, generator))
            self.hidden_b.append(
                torch.nn.Parameter(torch.zeros(n_members, 1, fan_out, dtype=dtype))
            )
        self.out_w = _init((n_members, width, d_out), width, dtype, generator)
        self.out_b = torch.nn.Parameter(torch.zeros(n_members, 1, d_out, dtype=dtype))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Last hidden layer: ``(n, d)`` -> ``(M, n, width)`` (inputs in [0, 1] are centred)."""
        h = (2.0 * x - 1.0).unsqueeze(0)
        act = ACTIVATIONS[self.activation]
        for w, b in zip(self.hidden_w, self.hidden_b):
            h = act(torch.matmul(h, w) + b)
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs ``(M, n, d_out)`` for inputs ``(n, d)``."""
        return torch.matmul(self.features(x), self.out_w) + self.out_b


def _init(
    shape: tuple[int, int, int], fan_in: int, dtype: torch.dtype, generator: torch.Generator
) -> torch.nn.Parameter:
    bound = math.sqrt(3.0 / fan_in)  # variance 1 / fan_in (LeCun), suited to tanh
    w = torch.empty(shape, dtype=dtype).uniform_(-bound, bound, generator=generator)
    return torch.nn.Parameter(w)


def train(
    net: BatchedMLP,
    X: np.ndarray,
    z: np.ndarray,
    weights: np.ndarray,
    *,
    steps: int,
    lr: float,
    weight_decay: float,
    gaussian_nll: bool = False,
) -> float:
    """Full-batch Adam on a weighted squared error (or Gaussian NLL) per member.

    Args:
        net: The networks; trained in place.
        X: Inputs ``(n, d)``.
        z: Targets ``(n,)`` in model units.
        weights: Per-member, per-point loss weights ``(M, n)`` (bootstrap counts / precision).
        steps: Adam steps.
        lr: Learning rate (cosine-decayed to a tenth over the steps).
        weight_decay: L2 penalty on all parameters.
        gaussian_nll: When true, the second output is a log-variance and the loss is the
            Gaussian negative log-likelihood (Lakshminarayanan et al. 2017).

    Returns:
        The final training loss (summed over members).
    """
    dtype = net.out_w.dtype
    xt = torch.as_tensor(X, dtype=dtype)
    zt = torch.as_tensor(z, dtype=dtype).unsqueeze(0)
    wt = torch.as_tensor(weights, dtype=dtype)
    wt = wt / wt.sum(dim=1, keepdim=True).clamp_min(1e-12)
    params = list(net.parameters())
    adam = _Adam(params, weight_decay)
    loss = torch.zeros(())
    for step in range(steps):
        step_lr = lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / max(steps, 1))))
        out = net(xt)
        if gaussian_nll:
            mean, log_var = out[..., 0], out[..., 1].clamp(-10.0, 5.0)
            per_point = 0.5 * (log_var + (zt - mean) ** 2 * torch.exp(-log_var))
        else:
            per_point = (zt - out[..., 0]) ** 2
        loss = (wt * per_point).sum()
        grads = torch.autograd.grad(loss, params)
        adam.step(grads, step_lr)
    return float(loss.detach())


class _Adam:
    """Adam (Kingma and Ba 2015) with L2 weight decay, on a few tensors at once.

    Written out because ``torch.optim`` imports ``torch._dynamo`` on its first step, which
    costs seconds per process; for networks this small the loop below is as fast.
    """

    def __init__(self, params: list[torch.nn.Parameter], weight_decay: float) -> None:
        self.params: list[torch.Tensor] = list(params)
        self.weight_decay = weight_decay
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        self.t = 0

    @torch.no_grad()
    def step(self, grads: tuple[torch.Tensor, ...], lr: float) -> None:
        b1, b2, eps = 0.9, 0.999, 1e-8
        self.t += 1
        g: list[torch.Tensor] = list(grads)
        if self.weight_decay:
            g = list(torch._foreach_add(g, self.params, alpha=self.weight_decay))
        torch._foreach_lerp_(self.m, g, 1 - b1)
        torch._foreach_mul_(self.v, b2)
        torch._foreach_addcmul_(self.v, g, g, value=1 - b2)
        denom = torch._foreach_sqrt(self.v)
        torch._foreach_div_(denom, math.sqrt(1 - b2**self.t))
        torch._foreach_add_(denom, eps)
        torch._foreach_addcdiv_(self.params, self.m, denom, value=-lr / (1 - b1**self.t))


def torch_generator(rng: np.random.Generator) -> torch.Generator:
    """A torch generator seeded from ``rng`` (so everything follows one seed)."""
    g = torch.Generator()
    g.manual_seed(int(rng.integers(0, 2**62)))
    return g
