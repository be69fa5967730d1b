"""Hypergradients of a validation loss with respect to training hyperparameters.

The training loss ``L_T(theta, h)`` depends on the weights ``theta`` and on hyperparameter
tensors ``h`` (a penalty strength, a dropout rate, a noise level...); the validation loss
``L_V(theta)`` depends on ``h`` only through the weights training produces (it must not contain
the penalty). Two estimates of ``dL_V/dh`` are provided, both built from Hessian-vector
products by double backward, never an explicit Hessian:

* :func:`t1t2_hypergradient` - differentiate through one SGD step
  ``theta' = theta - lr * grad_theta L_T(theta, h)`` (T1-T2, Luketina et al. 2016)::

      dL_V(theta')/dh = -lr * (d/dh grad_theta L_T(theta, h))^T grad L_V(theta')

* :func:`ift_hypergradient` - the implicit function theorem at a (near) minimizer of ``L_T``
  (Lorraine, Vicol & Duvenaud 2020)::

      dL_V/dh = -(d/dh grad_theta L_T)^T H^{-1} grad L_V,   H = d^2 L_T / d theta^2

  with ``v^T H^{-1}`` approximated by the truncated Neumann series
  ``alpha * sum_{j=0..K} v^T (I - alpha H)^j``.

Losses are functions of a parameter mapping, so any ``nn.Module`` works through
:func:`torch.func.functional_call` (see :func:`module_loss`); hyperparameters may live inside
the module (they are simply not in the mapping) or outside it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from hyperlab.errors import InputError, InputTypeError, check_seed

__all__ = [
    "LossFn",
    "T1T2Result",
    "ift_hypergradient",
    "module_loss",
    "neumann_inverse_hvp",
    "t1t2_hypergradient",
]

LossFn = Callable[[Mapping[str, Tensor]], Tensor]
"""A loss as a function of a parameter mapping ``{name: tensor}``, returning a scalar."""


class T1T2Result(NamedTuple):
    """What one T1-T2 step computes.

    Attributes:
        hypergrads: ``dL_V(theta')/dh``, one tensor per hyperparameter (same shapes).
        new_params: The weights after the SGD step, ``theta'`` (detached).
        train_loss: ``L_T(theta, h)`` before the step (detached scalar).
        val_loss: ``L_V(theta')`` after the step (detached scalar).
    """

    hypergrads: list[Tensor]
    new_params: dict[str, Tensor]
    train_loss: Tensor
    val_loss: Tensor


def module_loss(
    model: nn.Module,
    criterion: Callable[[Tensor, Tensor], Tensor],
    x: Tensor,
    y: Tensor,
    penalty: Callable[[Mapping[str, Tensor]], Tensor] | None = None,
) -> LossFn:
    """A :data:`LossFn` evaluating ``criterion(model(x), y) [+ penalty(params)]``.

    Args:
        model: Any module; parameters missing from the mapping are taken from the module.
        criterion: E.g. ``torch.nn.functional.cross_entropy``.
        x: Inputs ``(n, ...)``.
        y: Targets ``(n, ...)``.
        penalty: Optional term added to the loss (training losses only).

    Returns:
        The loss function.
    """

    def loss(params: Mapping[str, Tensor]) -> Tensor:
        out = torch.func.functional_call(model, dict(params), (x,), strict=False)
        value = criterion(out, y)
        if penalty is not None:
            value = value + penalty(params)
        return value

    return loss


def t1t2_hypergradient(
    train_loss: LossFn,
    val_loss: LossFn,
    params: Mapping[str, Tensor],
    hparams: Sequence[Tensor],
    lr: float,
) -> T1T2Result:
    """Hypergradient through one unrolled SGD step (T1-T2, Luketina et al. 2016).

    Args:
        train_loss: ``L_T`` as a function of the parameters; depends on ``hparams``.
        val_loss: ``L_V`` as a function of the parameters; it should not contain the penalty.
        params: The current weights ``theta`` by name (tensors of any shapes).
        hparams: Hyperparameter tensors (``requires_grad=True``) that ``train_loss`` uses.
        lr: Learning rate of the SGD step (>= 0).

    Returns:
        A :class:`T1T2Result`.

    Raises:
        InputError: ``lr`` is negative or not finite, ``params``/``hparams`` are empty, or a
            hyperparameter does not require grad.
    """
    _check_lr("lr", lr)
    names, theta, hs = _check(params, hparams)
    loss = train_loss(dict(zip(names, theta)))
    grads = weight_grads(loss, theta, create_graph=True)
    new = [(t - lr * g).detach().requires_grad_(True) for t, g in zip(theta, grads)]
    vloss = val_loss(dict(zip(names, new)))
    vgrads = torch.autograd.grad(vloss, new, allow_unused=True)
    v = [torch.zeros_like(t) if g is None else g for t, g in zip(new, vgrads)]
    mixed = _mixed(grads, hs, v)
    hyper = [-lr * m for m in mixed]
    return T1T2Result(
        hyper, {n: t.detach() for n, t in zip(names, new)}, loss.detach(), vloss.detach()
    )


def ift_hypergradient(
    train_loss: LossFn,
    val_loss: LossFn,
    params: Mapping[str, Tensor],
    hparams: Sequence[Tensor],
    *,
    neumann_steps: int = 20,
    alpha: float | None = None,
) -> list[Tensor]:
    """Implicit-function-theorem hypergradient at (near) stationary weights.

    After Lorraine, Vicol & Duvenaud (2020): the inverse-Hessian-vector product is the
    truncated Neumann series of :func:`neumann_inverse_hvp`. A direct dependence of the
    validation loss on a hyperparameter (rare) is added.

    Args:
        train_loss: ``L_T`` as a function of the parameters; depends on ``hparams``.
        val_loss: ``L_V`` as a function of the parameters (no penalty).
        params: The weights ``theta`` by name, ideally a minimizer of ``L_T``.
        hparams: Hyperparameter tensors (``requires_grad=True``) that ``train_loss`` uses.
        neumann_steps: Terms ``K`` of the series (>= 0).
        alpha: Series step size; ``None`` uses ``1 / (1.2 * lambda_max)`` with ``lambda_max``
            estimated by 10 power iterations (largest magnitude), so the default does not
            depend on the scale of the loss.

    Returns:
        ``dL_V/dh``, one tensor per hyperparameter (same shapes).

    Raises:
        InputError: ``neumann_steps`` negative, ``alpha`` not positive, empty inputs.
    """
    check_neumann(neumann_steps, alpha)
    names, theta, hs = _check(params, hparams)
    theta = [t.detach().requires_grad_(True) for t in theta]
    mapping = dict(zip(names, theta))
    vloss = val_loss(mapping)
    vg = torch.autograd.grad(vloss, theta + hs, allow_unused=True)
    v = [torch.zeros_like(t) if g is None else g for t, g in zip(theta, vg[: len(theta)])]
    direct = [torch.zeros_like(h) if g is None else g for h, g in zip(hs, vg[len(theta) :])]
    loss = train_loss(mapping)
    grads = weight_grads(loss, theta, create_graph=True)
    p = neumann_inverse_hvp(grads, theta, v, steps=neumann_steps, alpha=alpha)
    mixed = _mixed(grads, hs, p)
    return [d - m for d, m in zip(direct, mixed)]


_LINEAR = (
    "the training loss is linear in the weights (its gradient does not depend on them), so "
    "its Hessian is zero and the implicit-function hypergradient does not exist; use the "
    "unrolled hypergradient (method 't1t2') instead"
)


def check_neumann(steps: Any, alpha: Any) -> None:
    """Raise unless ``steps`` is an integer >= 0 and ``alpha`` is None or a number > 0."""
    if check_seed(steps, "neumann_steps") is None:  # (an integer >= 0, NumPy's too)
        raise InputError("neumann_steps must be a non-negative integer, got None")
    if alpha is not None:
        _check_lr("alpha", alpha, positive=True)


def neumann_inverse_hvp(
    grads: Sequence[Tensor],
    params: Sequence[Tensor],
    v: Sequence[Tensor],
    *,
    steps: int = 20,
    alpha: float | None = None,
) -> list[Tensor]:
    """Approximate ``H^{-1} v`` by ``alpha * sum_{j=0..steps} (I - alpha H)^j v``.

    Args:
        grads: ``grad_theta L_T`` built with ``create_graph=True`` (one tensor per parameter).
        params: The parameters the gradients are taken with respect to.
        v: The vector, same shapes as ``params``.
        steps: Number of series terms after the first.
        alpha: Step size; ``None`` estimates ``1 / (1.2 * lambda_max(H))`` by power iteration.

    Returns:
        The approximation of ``H^{-1} v``, same shapes as ``params`` (detached).
    """

    if not any(g.requires_grad for g in grads):
        raise InputError(_LINEAR)

    live = [i for i, g in enumerate(grads) if g.requires_grad]  # (a constant one adds 0)

    def hvp(vec: Sequence[Tensor]) -> list[Tensor]:
        out = torch.autograd.grad(
            [grads[i] for i in live],
            params,
            grad_outputs=[vec[i] for i in live],
            retain_graph=True,
            allow_unused=True,
        )
        if all(o is None for o in out):
            raise InputError(_LINEAR)
        return [torch.zeros_like(p) if o is None else o.detach() for p, o in zip(params, out)]

    if alpha is None:
        alpha = 1.0 / (1.2 * _top_eigenvalue(hvp, v))
    cur = [t.detach().clone() for t in v]
    total = [t.clone() for t in cur]
    for _ in range(steps):
        hv = hvp(cur)
        cur = [c - alpha * h for c, h in zip(cur, hv)]
        total = [s + c for s, c in zip(total, cur)]
    return [alpha * s for s in total]


def _top_eigenvalue(
    hvp: Callable[[Sequence[Tensor]], list[Tensor]], like: Sequence[Tensor]
) -> float:
    gen = torch.Generator().manual_seed(0)
    vec = [torch.randn(t.shape, generator=gen, dtype=t.dtype).to(t.device) for t in like]
    estimate = 0.0
    for _ in range(10):
        norm = torch.sqrt(sum((x * x).sum() for x in vec))  # type: ignore[arg-type]
        if float(norm) == 0.0:
            break
        vec = [x / norm for x in vec]
        hv = hvp(vec)
        estimate = abs(float(sum((a * b).sum() for a, b in zip(vec, hv))))
        vec = hv
    if not estimate > 0.0:
        raise InputError(
            f"the training Hessian has no curvature (Rayleigh quotient {estimate!r}); "
            "pass alpha explicitly"
        )
    return estimate


def weight_grads(
    loss: Tensor, theta: Sequence[Tensor], *, create_graph: bool = False
) -> list[Tensor]:
    """``d loss / d theta``, zeros for a weight the loss does not use (a layer the model's
    forward skips: torch would refuse the whole gradient)."""
    out = torch.autograd.grad(loss, list(theta), create_graph=create_graph, allow_unused=True)
    return [torch.zeros_like(t) if g is None else g for t, g in zip(theta, out)]


def _mixed(grads: Sequence[Tensor], hs: Sequence[Tensor], vec: Sequence[Tensor]) -> list[Tensor]:
    """``(d/dh grad_theta L_T)^T vec`` for each hyperparameter (zeros where unused; a gradient
    that is a constant, such as an unused weight's or a bias's under a loss linear in the
    output, adds nothing)."""
    live = [(g, v) for g, v in zip(grads, vec) if g.requires_grad]
    if not live:
        return [torch.zeros_like(h) for h in hs]
    outputs, vecs = zip(*live)
    out = torch.autograd.grad(list(outputs), hs, grad_outputs=list(vecs), allow_unused=True)
    return [torch.zeros_like(h) if g is None else g.detach() for h, g in zip(hs, out)]


def _check(
    params: Mapping[str, Tensor], hparams: Sequence[Tensor]
) -> tuple[list[str], list[Tensor], list[Tensor]]:
    if not isinstance(params, Mapping):
        raise InputTypeError(f"params must be a mapping name -> tensor, got {type(params)!r}")
    if len(params) == 0:
        raise InputError("params is empty: there are no weights to differentiate")
    hs = list(hparams)
    if not hs:
        raise InputError("hparams is empty: there is no hyperparameter to differentiate")
    for i, h in enumerate(hs):
        if not isinstance(h, Tensor):
            raise InputTypeError(f"hparams[{i}] is not a tensor: {h!r}")
        if not h.requires_grad:
            raise InputError(f"hparams[{i}] does not require grad (shape {tuple(h.shape)})")
    names = list(params)
    theta: list[Any] = []
    for n in names:
        t = params[n]
        if not isinstance(t, Tensor):
            raise InputTypeError(f"params[{n!r}] is not a tensor: {t!r}")
        theta.append(t if t.requires_grad else t.detach().requires_grad_(True))
    return names, theta, hs


def _check_lr(name: str, value: float, *, positive: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = ok and value == value and abs(value) != float("inf")
    ok = ok and (value > 0 if positive else value >= 0)
    if not ok:
        kind = "positive" if positive else "non-negative"
        raise InputError(f"{name} must be a {kind} finite number, got {value!r}")
