"""The levels of a stack of hyperoptimizers (:class:`~hyperlab.hypergrad.stack.StackedOptimizer`):
what each optimizer (SGD, Adam) learns of the level below, its update of a tensor and of a
scalar hyperparameter, and the coordinates (linear, log, logit) its hyperparameters move in."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

from hyperlab.errors import (
    InputError,
    InputTypeError,
    UnknownNameError,
    check_bool,
    check_nonneg,
    check_unit,
)
from hyperlab.hypergrad.guards import (
    ADAM_STATE,
    SGD_STATE,
    adam_moments,
    read_lr,
)

__all__ = ["HyperAdam", "HyperSGD", "Level"]

#: A momentum or β is kept in ``[BETA_EDGE, 1 - BETA_EDGE]`` (clipped, as a rate is): at 0 or 1
#: its logit is undefined and Adam's bias correction divides by zero.
BETA_EDGE = 1e-7
_TINY = 1e-30  # keeps 0/0 at 0 in ∂√v̂/∂β2 where v̂ = 0 (representable in float32)


# -- transforms between a hyperparameter and the coordinate its hyperoptimizer moves -----------


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def _exp(z: float) -> float:
    return math.exp(min(z, 700.0))  # no OverflowError; values are capped below anyway


# name -> (value to coordinate, coordinate to value, d value / d coordinate at a coordinate)
TRANSFORMS: dict[
    str, tuple[Callable[[float], float], Callable[[float], float], Callable[[float], float]]
] = {
    "linear": (lambda v: v, lambda z: z, lambda z: 1.0),
    "log": (lambda v: math.log(max(v, 1e-300)), _exp, _exp),
    "logit": (
        lambda v: math.log(v) - math.log1p(-v),
        _sigmoid,
        lambda z: _sigmoid(z) * (1.0 - _sigmoid(z)),
    ),
}


# -- levels ----------------------------------------------------------------------------------


class Level:
    """One optimizer of a stack: its hyperparameters and its update rule.

    A level holds settings only; the stack keeps its state. Subclasses define
    :attr:`HYPERS` (name -> coordinate transform), :meth:`_step_tensor_` (the ``torch.optim``
    update of one parameter, storing the derivatives ``D_h``) and :meth:`_step_scalar` (the
    same rule on one float, returning the derivatives).

    Args:
        learn: Names of this level's hyperparameters that the level above learns; ``None``
            learns every learnable one (momentum only when it is > 0). Ignored on the top level.
        lr_space: ``"linear"`` (Chandra et al.) or ``"log"`` coordinates for ``lr``.
    """

    name = "level"
    HYPERS: dict[str, str] = {}
    #: The per-parameter state entries the level keeps (``None``: a loaded state is not
    #: checked).
    STATE_KEYS: tuple[str, ...] | None = None

    def __init__(self, learn: Sequence[str] | None = None, lr_space: str = "linear") -> None:
        self.learn = learn
        self.lr_space = lr_space

    def values(self) -> dict[str, float]:
        """The initial hyperparameter values of this level, by name."""
        raise NotImplementedError

    def group_defaults(self) -> dict[str, Any]:
        """The settings as ``torch.optim`` param-group entries (``betas`` as a pair)."""
        return self.values()

    def with_group(self, group: dict[str, Any]) -> Level:
        """A copy of this level with the settings a param group overrides."""
        out = copy.copy(self)
        for key, value in group.items():
            if key != "params" and key in out.__dict__:
                setattr(out, key, value)
        return out

    def learned(self) -> tuple[str, ...]:
        """Check the settings; return the names the level above learns."""
        self._check_ranges()
        if self.lr_space not in ("linear", "log"):
            raise InputError(f"lr_space must be 'linear' or 'log', got {self.lr_space!r}")
        if self.learn is None:
            return tuple(n for n in self.HYPERS if n != "momentum" or self.values()[n] > 0)
        if isinstance(self.learn, str):
            raise InputTypeError(f"learn must be a sequence of names, got {self.learn!r}")
        for n in self.learn:
            if n not in self.HYPERS:
                raise UnknownNameError(
                    f"unknown hyperparameter {n!r} of {self.name}; learnable: {sorted(self.HYPERS)}"
                )
            value = self.values()[n]
            if self.HYPERS[n] == "logit" and not 0 < value < 1:
                raise InputError(f"{n} must be in (0, 1) to be learned, got {value!r}")
            if n == "lr" and self.lr_space == "log" and value <= 0:
                raise InputError(f"lr must be > 0 to be learned in log space, got {value!r}")
        return tuple(dict.fromkeys(self.learn))

    def check_written(self, learn: Sequence[str]) -> None:
        """Check the settings as a param group holds them at a step (a scheduler or the user
        may have written them since): each in its range, and each learned momentum or beta
        ``learn`` names strictly inside (0, 1), where its logit is defined."""
        values = self._check_ranges()
        for n in learn:
            if self.HYPERS[n] == "logit" and not 0 < values[n] < 1:
                raise InputError(f"{n} must be in (0, 1) to be learned, got {values[n]!r}")

    def _check_ranges(self) -> dict[str, float]:
        """The settings, each checked in its range (a momentum or beta in [0, 1), the rest
        >= 0)."""
        values = self.values()
        for key, value in values.items():
            if key in ("momentum", "beta1", "beta2"):
                check_unit(key, value)
            else:
                check_nonneg(key, value)
        return values

    def transform(self, name: str) -> str:
        """The coordinate transform of hyperparameter ``name``."""
        return self.lr_space if name == "lr" else self.HYPERS[name]

    def _step_tensor_(
        self,
        p: Tensor,
        grad: Tensor,
        state: dict[str, Any],
        hp: dict[str, float],
        learn: Sequence[str],
    ) -> None:
        raise NotImplementedError

    def _step_scalar(
        self, x: float, g: float, state: dict[str, Any], hp: dict[str, float], learn: Sequence[str]
    ) -> tuple[float, dict[str, float]]:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.values().items())
        return f"{type(self).__name__}({args})"


class HyperSGD(Level):
    """SGD with optional (Nesterov) momentum and L2 weight decay, as ``torch.optim.SGD``.

    Args:
        lr: Learning rate ``>= 0`` (a one-element tensor: its value, as a float).
        momentum: Momentum in ``[0, 1)`` (learnable when > 0).
        weight_decay: L2 penalty ``>= 0`` (never learned; needs validation data to tune).
        nesterov: Nesterov momentum.
        learn: See :class:`Level`; learnable names ``lr``, ``momentum``.
        lr_space: See :class:`Level`.
    """

    name = "sgd"
    HYPERS = {"lr": "linear", "momentum": "logit"}
    STATE_KEYS = SGD_STATE

    def __init__(
        self,
        lr: float = 0.01,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        learn: Sequence[str] | None = None,
        lr_space: str = "linear",
    ) -> None:
        super().__init__(learn, lr_space)
        self.lr = read_lr(lr)  # (a one-element tensor: its float)
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.nesterov = nesterov

    def values(self) -> dict[str, float]:
        return {"lr": self.lr, "momentum": self.momentum, "weight_decay": self.weight_decay}

    def group_defaults(self) -> dict[str, Any]:
        # nesterov and dampening as torch.optim.SGD reads them: a stack's state loads there
        return {**self.values(), "nesterov": self.nesterov, "dampening": 0}

    def learned(self) -> tuple[str, ...]:
        out = super().learned()
        if check_bool("nesterov", self.nesterov) and self.momentum == 0:
            raise InputError("Nesterov momentum needs momentum > 0, got momentum=0")
        return out

    def _step_tensor_(
        self,
        p: Tensor,
        grad: Tensor,
        state: dict[str, Any],
        hp: dict[str, float],
        learn: Sequence[str],
    ) -> None:
        lr, mu, wd = hp["lr"], hp["momentum"], hp["weight_decay"]
        if wd != 0:
            grad = grad.add(p, alpha=wd)
        d_dir_dmu: Tensor | None = None
        if mu != 0 or "momentum" in learn:
            buf = state.get("momentum_buffer")
            prev = None if buf is None or "momentum" not in learn else buf.clone()
            if buf is None:
                buf = grad.detach().clone()
                state["momentum_buffer"] = buf
            else:
                buf.mul_(mu).add_(grad)
            if "momentum" in learn:  # ∂buf/∂μ = buf_prev (0 on the first step)
                dbuf = prev if prev is not None else torch.zeros_like(buf)
                d_dir_dmu = buf.add(dbuf, alpha=mu) if self.nesterov else dbuf
            grad = grad.add(buf, alpha=mu) if self.nesterov else buf
        p.add_(grad, alpha=-lr)
        if "lr" in learn:
            state["d_lr"] = torch.neg(grad)
        if d_dir_dmu is not None:
            state["d_momentum"] = d_dir_dmu.mul_(-lr)

    def _step_scalar(
        self, x: float, g: float, state: dict[str, Any], hp: dict[str, float], learn: Sequence[str]
    ) -> tuple[float, dict[str, float]]:
        lr, mu, wd = hp["lr"], hp["momentum"], hp["weight_decay"]
        g = g + wd * x
        direction, d_dir_dmu = g, 0.0
        if mu != 0 or "momentum" in learn:
            prev = state.get("buf")
            buf = g if prev is None else mu * prev + g
            dbuf = 0.0 if prev is None else prev
            state["buf"] = buf
            if self.nesterov:
                direction, d_dir_dmu = g + mu * buf, buf + mu * dbuf
            else:
                direction, d_dir_dmu = buf, dbuf
        derivs = {"lr": -direction, "momentum": -lr * d_dir_dmu}
        return x - lr * direction, {n: derivs[n] for n in learn}


class HyperAdam(Level):
    """Adam with L2 weight decay, as ``torch.optim.Adam`` (``amsgrad=False``).

    Args:
        lr: Learning rate ``>= 0`` (a one-element tensor: its value, as a float).
        betas: ``(β1, β2)`` in ``[0, 1)`` (each learnable when > 0).
        eps: Denominator term ``>= 0``.
        weight_decay: L2 penalty ``>= 0``.
        learn: See :class:`Level`; learnable names ``lr``, ``beta1``, ``beta2``.
        lr_space: See :class:`Level`.
    """

    name = "adam"
    HYPERS = {"lr": "linear", "beta1": "logit", "beta2": "logit"}
    STATE_KEYS = ADAM_STATE

    def __init__(
        self,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        learn: Sequence[str] | None = None,
        lr_space: str = "linear",
    ) -> None:
        super().__init__(learn, lr_space)
        self.lr = read_lr(lr)  # (a one-element tensor: its float)
        self.betas = betas
        self.eps = eps
        self.weight_decay = weight_decay

    def values(self) -> dict[str, float]:
        betas = self.betas
        if isinstance(betas, str) or not hasattr(betas, "__len__") or len(betas) != 2:
            raise InputError(f"betas must be a pair (beta1, beta2), got {self.betas!r}")
        return {
            "lr": self.lr,
            "beta1": self.betas[0],
            "beta2": self.betas[1],
            "eps": self.eps,
            "weight_decay": self.weight_decay,
        }

    def group_defaults(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "betas": self.betas,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
        }

    def learned(self) -> tuple[str, ...]:
        if self.learn is None:
            super().learned()
            return tuple(n for n in self.HYPERS if n == "lr" or self.values()[n] > 0)
        return super().learned()

    def _step_tensor_(
        self,
        p: Tensor,
        grad: Tensor,
        state: dict[str, Any],
        hp: dict[str, float],
        learn: Sequence[str],
    ) -> None:
        lr, beta1, beta2 = hp["lr"], hp["beta1"], hp["beta2"]
        eps, wd = hp["eps"], hp["weight_decay"]
        exp_avg, exp_avg_sq, step = adam_moments(p, state)
        if wd != 0:
            grad = grad.add(p, alpha=wd)
        dm = exp_avg.sub(grad) if "beta1" in learn else None  # ∂m/∂β1 = m_prev - g
        dv = exp_avg_sq.sub(grad * grad) if "beta2" in learn else None  # ∂v/∂β2
        # The same operations, in the same order, as torch.optim.Adam (single tensor).
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        bc1 = 1 - beta1**step
        bc2 = 1 - beta2**step
        denom = (exp_avg_sq.sqrt() / bc2**0.5).add_(eps)
        p.addcdiv_(exp_avg, denom, value=-lr / bc1)
        if "lr" in learn:
            state["d_lr"] = torch.div(exp_avg, denom).mul_(-1 / bc1)
        if dm is not None:
            # ∂(m/bc1)/∂β1 = dm/bc1 + m·t·β1^(t-1)/bc1²
            dmhat = dm.mul_(1 / bc1).add_(exp_avg, alpha=step * beta1 ** (step - 1) / bc1**2)
            state["d_beta1"] = dmhat.div_(denom).mul_(-lr)
        if dv is not None:
            # S = √(v/bc2);  ∂S/∂β2 = (dv/bc2 + v·t·β2^(t-1)/bc2²) / (2S)
            s = exp_avg_sq.sqrt().mul_(1 / bc2**0.5)
            ds = dv.mul_(1 / bc2).add_(exp_avg_sq, alpha=step * beta2 ** (step - 1) / bc2**2)
            ds.div_(s.mul_(2).add_(_TINY))
            state["d_beta2"] = ds.mul_(exp_avg).div_(denom).div_(denom).mul_(lr / bc1)

    def _step_scalar(
        self, x: float, g: float, state: dict[str, Any], hp: dict[str, float], learn: Sequence[str]
    ) -> tuple[float, dict[str, float]]:
        lr, b1, b2 = hp["lr"], hp["beta1"], hp["beta2"]
        eps, wd = hp["eps"], hp["weight_decay"]
        g = g + wd * x
        t = state.get("step", 0) + 1
        m_prev, v_prev = state.get("m", 0.0), state.get("v", 0.0)
        m = b1 * m_prev + (1 - b1) * g
        v = b2 * v_prev + (1 - b2) * g * g
        state.update(step=t, m=m, v=v)
        bc1, bc2 = 1 - b1**t, 1 - b2**t
        s = math.sqrt(v) / math.sqrt(bc2)
        denom = s + eps
        direction = m / (bc1 * denom)
        derivs: dict[str, float] = {"lr": -direction}
        if "beta1" in learn:
            dmhat = (m_prev - g) / bc1 + m * t * b1 ** (t - 1) / bc1**2
            derivs["beta1"] = -lr * dmhat / denom
        if "beta2" in learn:
            ds = ((v_prev - g * g) / bc2 + v * t * b2 ** (t - 1) / bc2**2) / (2 * s + _TINY)
            derivs["beta2"] = lr * m / (bc1 * denom**2) * ds
        return x - lr * direction, {n: derivs[n] for n in learn}


LEVELS: dict[str, type[Level]] = {"sgd": HyperSGD, "adam": HyperAdam}


def as_level(spec: Any) -> Level:
    """A Level from a name, a Level class or instance, a torch.optim class, or (name, kwargs)."""
    if isinstance(spec, Level):
        return spec
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[1], dict):
        return as_level(spec[0]) if not spec[1] else _level_class(spec[0])(**spec[1])
    return _level_class(spec)()


def _level_class(spec: Any) -> type[Level]:
    if isinstance(spec, type) and issubclass(spec, Level):
        return spec
    if isinstance(spec, type) and issubclass(spec, Optimizer):
        spec = spec.__name__.lower()
    if isinstance(spec, str):
        if spec.lower() not in LEVELS:
            raise UnknownNameError(f"unknown optimizer {spec!r}; known: {sorted(LEVELS)}")
        return LEVELS[spec.lower()]
    raise InputTypeError(
        f"a stack level must be a name, a Level, a torch.optim.SGD/Adam class or "
        f"(name, kwargs), got {spec!r}"
    )
