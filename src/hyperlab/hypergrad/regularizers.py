"""Continuous regularization hyperparameters as differentiable tensors.

Each regularizer is an ``nn.Module`` whose hyperparameters are stored *unconstrained*
(log-space for strengths, logit-space for rates) as ``nn.Parameter`` objects, so that a
hypergradient step can move them freely while the values they stand for stay in range:

* :class:`WeightDecay` - the penalty ``sum_l lambda_l / 2 * ||w_l||^2`` with one ``lambda``
  for the whole model or one per layer, parametrized as ``log lambda``.
* :class:`ConcreteDropout` - dropout whose rate is differentiable through the concrete
  (relaxed Bernoulli) mask of Gal, Hron & Kendall (2017), parametrized as ``logit p``.
* :class:`InputNoise` - additive Gaussian noise ``x + sigma * eps`` in training mode,
  parametrized as ``log sigma``.

Dropout and noise act in ``forward`` (they sit inside the model); weight decay acts through
:meth:`Regularizer.penalty`. None of them contributes to a validation loss: in ``eval()`` mode
dropout and noise are the identity, and the penalty is only added to the training objective.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import torch
from torch import Tensor, nn

from hyperlab.errors import (
    InputError,
    InputTypeError,
    check_bool,
    check_label,
    check_positive,
    check_unit,
)

__all__ = ["ConcreteDropout", "InputNoise", "Regularizer", "WeightDecay"]

_RATE_EPS = 1e-6


class Regularizer(nn.Module):
    """Base class: a module holding continuous regularization hyperparameters.

    Subclasses store each hyperparameter unconstrained and say how to map it to its value.
    """

    def hyperparameters(self) -> dict[str, nn.Parameter]:
        """The unconstrained hyperparameter tensors, by name (what a hyper-optimizer moves)."""
        raise NotImplementedError

    def values(self) -> dict[str, float]:
        """The hyperparameters in natural units (rates, strengths), by name."""
        raise NotImplementedError

    def penalty(self, params: Mapping[str, Tensor]) -> Tensor:
        """The term this regularizer adds to the training loss (zero unless overridden).

        Args:
            params: The model's parameters by name (as ``dict(model.named_parameters())``).

        Returns:
            A scalar tensor.
        """
        ref = next(iter(self.hyperparameters().values()))
        return ref.new_zeros(())


class WeightDecay(Regularizer):
    """L2 penalty ``sum_l lambda_l / 2 * ||w_l||^2`` with ``log lambda`` as the hyperparameter.

    Args:
        model: The model whose parameters are penalized (only their names are kept).
        init: Initial strength ``lambda`` (> 0), the same for every group.
        per_layer: One strength per layer (module that owns the parameter) instead of one.
        include_bias: Also penalize 1-d parameters (biases, norms); by default only weights.
        name: Name of the (global) hyperparameter; per-layer ones are ``name[layer]``.

    Raises:
        InputError: ``init`` is not positive, or the model has no parameter to penalize.
        InputTypeError: ``model`` is not a module, ``name`` not a string, a flag not a bool.
    """

    def __init__(
        self,
        model: nn.Module,
        init: float = 1e-3,
        *,
        per_layer: bool = False,
        include_bias: bool = False,
        name: str = "weight_decay",
    ) -> None:
        super().__init__()
        if not isinstance(model, nn.Module):
            raise InputTypeError(
                f"WeightDecay needs the model whose weights it penalizes (a torch.nn.Module), "
                f"got {model!r}"
            )
        init = check_positive("init (weight decay)", init)
        self.name = check_label("name", name)
        self.per_layer = check_bool("per_layer", per_layer)
        check_bool("include_bias", include_bias)
        groups: dict[str, list[str]] = {}
        for pname, p in model.named_parameters():
            if isinstance(p, nn.Parameter) and getattr(p, "_hyperlab_hyper", False):
                continue
            if p.ndim < 2 and not include_bias:
                continue
            layer = pname.rsplit(".", 1)[0] if "." in pname else pname
            key = f"{name}[{layer}]" if per_layer else name
            groups.setdefault(key, []).append(pname)
        if not groups:
            raise InputError(f"model {type(model).__name__} has no parameter to penalize")
        self.groups = groups
        dtype = next(model.parameters()).dtype
        self.log_strength = nn.ParameterDict(
            {_key(k): _hyper(torch.full((), math.log(init), dtype=dtype)) for k in groups}
        )

    def hyperparameters(self) -> dict[str, nn.Parameter]:
        return {k: self.log_strength[_key(k)] for k in self.groups}

    def values(self) -> dict[str, float]:
        return {k: float(self.log_strength[_key(k)].detach().exp()) for k in self.groups}

    def strength(self, key: str | None = None) -> Tensor:
        """The strength ``lambda`` of one group (the only one when ``key`` is None), a scalar."""
        if key is None:
            if len(self.groups) != 1:
                raise InputError(f"several strengths {list(self.groups)}; name one")
            key = next(iter(self.groups))
        if key not in self.groups:
            raise InputError(f"unknown weight-decay group {key!r}; known: {list(self.groups)}")
        return self.log_strength[_key(key)].exp()

    def penalty(self, params: Mapping[str, Tensor]) -> Tensor:
        total: Tensor | None = None
        for key, names in self.groups.items():
            missing = [n for n in names if n not in params]
            if missing:
                raise InputError(f"parameters {missing} missing from the mapping given")
            sq = sum((params[n].pow(2).sum() for n in names), start=params[names[0]].new_zeros(()))
            term = 0.5 * self.log_strength[_key(key)].exp() * sq
            total = term if total is None else total + term
        assert total is not None  # groups is never empty
        return total


class ConcreteDropout(Regularizer):
    """Dropout with a learnable rate through the concrete relaxation (Gal et al. 2017).

    In training mode the mask is ``z = sigmoid((logit p + log u - log(1 - u)) / temperature)``
    with ``u ~ U(0, 1)``, units are dropped with weight ``z`` and the rest rescaled by
    ``1 / (1 - p)``; the output is differentiable in ``p``. In eval mode it is the identity.
    The rate ``p = sigmoid(logit p)`` is clamped to ``[1e-6, 1 - 1e-6]``, so it stays in (0, 1).

    Args:
        init: Initial rate ``p`` in (0, 1).
        temperature: Relaxation temperature (> 0); Gal et al. use 0.1.
        name: Name of the hyperparameter.
    """

    def __init__(self, init: float = 0.1, *, temperature: float = 0.1, name: str = "dropout"):
        super().__init__()
        check_unit("dropout rate init", init, closed_low=False)
        self.temperature = check_positive("temperature", temperature)
        self.name = check_label("name", name)
        self.logit_rate = _hyper(torch.tensor(math.log(init / (1.0 - init))))

    def rate(self) -> Tensor:
        """The dropout rate ``p`` (scalar tensor in (0, 1))."""
        return torch.sigmoid(self.logit_rate).clamp(_RATE_EPS, 1.0 - _RATE_EPS)

    def hyperparameters(self) -> dict[str, nn.Parameter]:
        return {self.name: self.logit_rate}

    def values(self) -> dict[str, float]:
        return {self.name: float(self.rate().detach())}

    def forward(self, x: Tensor) -> Tensor:
        """Apply the relaxed dropout mask.

        Args:
            x: Any shape ``(n, ...)``.

        Returns:
            Same shape as ``x``.
        """
        if not self.training:
            return x
        p = self.rate().to(x.dtype)
        u = torch.rand_like(x).clamp(_RATE_EPS, 1.0 - _RATE_EPS)
        logit = torch.log(p) - torch.log1p(-p) + torch.log(u) - torch.log1p(-u)
        drop = torch.sigmoid(logit / self.temperature)
        return x * (1.0 - drop) / (1.0 - p)


class InputNoise(Regularizer):
    """Additive Gaussian noise ``x + sigma * eps`` in training mode, ``log sigma`` learnable.

    Args:
        init: Initial noise strength ``sigma`` (> 0).
        name: Name of the hyperparameter.
    """

    def __init__(self, init: float = 0.1, *, name: str = "input_noise") -> None:
        super().__init__()
        init = check_positive("init (input noise)", init)
        self.name = check_label("name", name)
        self.log_sigma = _hyper(torch.tensor(math.log(init)))

    def sigma(self) -> Tensor:
        """The noise strength (positive scalar tensor)."""
        return self.log_sigma.exp()

    def hyperparameters(self) -> dict[str, nn.Parameter]:
        return {self.name: self.log_sigma}

    def values(self) -> dict[str, float]:
        return {self.name: float(self.sigma().detach())}

    def forward(self, x: Tensor) -> Tensor:
        """Add noise in training mode.

        Args:
            x: Any shape ``(n, ...)``.

        Returns:
            Same shape as ``x``.
        """
        if not self.training:
            return x
        return x + self.sigma().to(x.dtype) * torch.randn_like(x)


def is_hyperparameter(p: Tensor) -> bool:
    """Whether ``p`` is a hyperparameter created by a :class:`Regularizer` here."""
    return bool(getattr(p, "_hyperlab_hyper", False))


def find_regularizers(model: nn.Module) -> Iterable[tuple[str, Regularizer]]:
    """The :class:`Regularizer` submodules of ``model`` with their module paths."""
    for path, module in model.named_modules():
        if isinstance(module, Regularizer):
            yield path, module


def _hyper(t: Tensor) -> nn.Parameter:
    p = nn.Parameter(t)
    p._hyperlab_hyper = True  # type: ignore[attr-defined]
    return p


def _key(name: str) -> str:
    # ParameterDict keys may not contain dots.
    return name.replace(".", "__")
