"""Hypergradient descent on the learning rate: SGD-HD, SGDN-HD and Adam-HD.

After Baydin et al. 2018, "Online learning rate adaptation with hypergradient descent". Each
step ``t`` moves the rate along the derivative of the current loss with respect to the rate
used one step earlier. With the update ``θ_t = θ_{t-1} - α u_{t-1}`` (``u`` is the update
direction: the gradient for SGD, the momentum direction for SGDN, ``m̂/(√v̂+ε)`` for Adam)

    h_t = dL(θ_t)/dα = -g_t · u_{t-1},

so for plain SGD ``h_t = -g_t · g_{t-1}``. The paper's additive rule is ``α ← α - β h_t``.

Why the paper's ``β`` does not carry over between data sets: ``h_t`` is a product of two
gradients, so its size is that of ``‖g‖²``. Multiplying the loss by 10 multiplies ``h`` by 100;
more parameters, other units of the inputs or another phase of training change it by orders
of magnitude. A ``β`` that works on one problem is far too small or explosive on the next.

How the default here is scale-free (``normalize=True, multiplicative=True``): the
hypergradient is divided by ``‖g_t‖·‖u_{t-1}‖``, which leaves ``-cos(g_t, u_{t-1})``, a number
in ``[-1, 1]`` that does not change when the loss, the parameters or the rate are rescaled; and
the rate moves in log space, ``α ← α·exp(β·cos)``, so ``β`` is a relative change per step
and has no units. The default ``β = 0.1`` changes the rate by at most ≈10 % per step: a rate
1000× too small is corrected in ≈ ln(1000)/(0.1·E[cos]) ≈ 150 steps when consecutive gradients
agree with ``E[cos] ≈ 0.5``; when the rate is too large consecutive steps oscillate, the cosine
turns negative and the rate shrinks just as fast (how the default was chosen:
``docs/decisions/hypergradients.md``). ``normalize=False, multiplicative=False`` is the
paper's rule.

Design decisions, stated once:

* **Where the rate lives.** The learned rate *is* ``param_groups[i]["lr"]`` (a float), so every
  reader of ``lr`` (loggers, schedulers) sees the current value. :attr:`HDOptimizer.lr_history`
  keeps one list of rates per group: the rate used at each of the last ``lr_history_size``
  steps (default :data:`LR_HISTORY_SIZE`; ``None`` keeps every step), so that a long run's
  memory and every checkpoint of it stay bounded. :attr:`HDOptimizer.lr_history_offset`
  counts the older steps no longer kept.
* **Schedulers.** The hypergradient update is applied to whatever ``lr`` holds when ``step`` is
  called. A chainable scheduler (``StepLR``, ``ExponentialLR``, ``MultiStepLR``,
  ``CosineAnnealingLR``, ``ReduceLROnPlateau``...) therefore multiplies the *learned* rate
  (``CosineAnnealingLR`` takes it to ``eta_min`` at ``T_max``; at 0 the multiplicative rule
  cannot move it, until the schedule raises it again, and a state saved at 0 loads: only a
  group *given* with ``lr=0`` is refused); a scheduler that writes absolute values (``LambdaLR``, ``OneCycleLR``,
  ``CyclicLR``) overrides it at each of its steps, and learning continues from the value it
  wrote, so what is learned between two writes is discarded: under such a schedule the rate is
  the schedule's (``OneCycleLR`` and ``CyclicLR`` also cycle ``momentum`` or ``betas``, as they
  do for ``torch.optim``).
* **Gradient clipping** works unchanged: the hypergradient reads ``p.grad`` as ``step`` finds it.
* **A parameter without a gradient** (frozen, or in a branch the forward skipped) is left where
  it is, as ``torch.optim`` leaves it, and so adds nothing to the next hypergradient.
* **Weight decay** (L2, as in ``torch.optim``) is part of the objective, so ``g`` includes it.
* **Global or per group.** ``per_group=False`` (default) learns one rate: the hypergradient is
  taken over all parameters together and every group's rate gets the same update (in
  multiplicative mode the same factor, so ratios between groups are kept). ``per_group=True``
  learns one rate per group from that group's parameters only.
* **Safety.** An additive update never makes the rate negative (it is clipped at 0) and no
  update raises it above 1e12 (a runaway under a constant gradient); a non-finite
  hypergradient (NaN/inf gradients) leaves the rate unchanged.
* With ``hyper_lr=0`` every class reproduces its ``torch.optim`` counterpart bit for bit (same
  operations in the same order on CPU).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

from hyperlab.errors import (
    InputError,
    check_bool,
    check_nonneg,
    check_positive_int,
    check_unit,
)
from hyperlab.hypergrad.guards import (
    ADAM_KEYWORDS,
    ADAM_STATE,
    MAX_LR,
    SGD_KEYWORDS,
    SGD_STATE,
    adam_moments,
    check_written,
    check_written_lr,
    checked_params,
    forget_unmoved,
    read_lr,
    refuse_complex,
    refuse_sparse,
    refuse_torch_keywords,
    refuse_unsupported,
)
from hyperlab.hypergrad.hd_state import checked_state, refuse_mixed_settings

__all__ = ["LR_HISTORY_SIZE", "SGDHD", "SGDNHD", "AdamHD", "HDOptimizer"]

LR_HISTORY_SIZE = 10_000
"""How many of the latest rates :attr:`HDOptimizer.lr_history` keeps per group by default:
enough to plot a run of ten thousand steps whole, and about 90 kB per group in a checkpoint
however long the run."""


class HDOptimizer(Optimizer):
    """Base class: a ``torch.optim`` update plus a hypergradient step on the learning rate.

    Subclasses implement :meth:`_update_group`, which applies the base optimizer's update to one
    group with ``group["lr"]`` and stores the new update direction ``u`` (so that
    ``θ_new = θ - lr·u``) as ``state["hd_dir"]`` for every parameter it updated.

    Args:
        params: Parameters or param groups, as for any ``torch.optim.Optimizer``.
        defaults: The base optimizer's defaults plus ``lr``, ``hyper_lr``, ``multiplicative``
            and ``normalize`` (see :class:`SGDHD` for their meaning).
        per_group: Learn one rate per param group instead of one global rate.
        lr_history_size: How many of the latest rates :attr:`lr_history` keeps per group (an
            integer >= 1; ``None`` keeps them all, and a long run's checkpoints grow with it).

    Attributes:
        lr_history: Per group, the rate used at each of the last ``lr_history_size`` steps,
            oldest first.
        lr_history_offset: Per group, how many earlier steps' rates were dropped from
            :attr:`lr_history`: its entry ``i`` is the rate of the group's step
            ``lr_history_offset[g] + i + 1``.

    Raises:
        InputTypeError: ``params`` is a module (``model`` for ``model.parameters()``), or
            ``lr_history_size`` is not an integer or ``None``.
        InputError: ``params`` holds no parameter, or ``lr_history_size < 1``, or a group
            starts at ``lr=0`` with ``multiplicative=True`` (learning could never move it; a
            rate a scheduler later drives to 0 is fine: the step takes it, a state saved
            there loads).
    """

    #: The per-parameter state entries a subclass keeps; a loaded state holding others is
    #: refused (``None``: not checked).
    STATE_KEYS: tuple[str, ...] | None = None

    def __init__(
        self,
        params: Any,
        defaults: dict[str, Any],
        *,
        per_group: bool,
        lr_history_size: int | None = LR_HISTORY_SIZE,
    ) -> None:
        self.per_group = check_bool("per_group", per_group)
        self.lr_history_size = check_positive_int(
            "lr_history_size", lr_history_size, allow_none=True
        )
        defaults = {**defaults, "lr": read_lr(defaults["lr"])}  # (a tensor: its float)
        super().__init__(checked_params(type(self).__name__, params), defaults)
        self.lr_history: list[list[float]] = [[] for _ in self.param_groups]
        self.lr_history_offset: list[int] = [0 for _ in self.param_groups]

    # -- public API -------------------------------------------------------------------------

    @property
    def lrs(self) -> list[float]:
        """The current learning rate of every param group."""
        return [float(g["lr"]) for g in self.param_groups]

    @property
    def hypergrads(self) -> list[float]:
        """The last raw hypergradient ``dL/dα = -g_t·u_{t-1}`` of every group (0 at step 1)."""
        return [float(g["hypergrad"]) for g in self.param_groups]

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a param group after checking its settings (bad values raise InputError, and the
        group is not added). As in the constructor, ``lr=0`` with ``multiplicative=True`` is
        refused: the rule only multiplies the rate, so it could never move."""
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        try:
            group["lr"] = read_lr(group["lr"])  # the learned rate is a float
            self._check_group(group)
            _refuse_stuck_rate(group)
        except Exception:
            self.param_groups.pop()  # a refused group leaves the optimizer as it was
            raise
        group.setdefault("hypergrad", 0.0)
        if hasattr(self, "lr_history"):
            self.lr_history.append([])
            self.lr_history_offset.append(0)

    def __getstate__(self) -> dict[str, Any]:  # pickling and deepcopy keep our settings
        out = super().__getstate__()
        out.update(
            per_group=self.per_group,
            lr_history=self.lr_history,
            lr_history_size=self.lr_history_size,
            lr_history_offset=self.lr_history_offset,
        )
        return out

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)  # (torch's load_state_dict calls it too, with its state)
        # pickled before the history was bounded: the default bound, nothing dropped yet
        if "lr_history_size" not in self.__dict__:
            self.lr_history_size = LR_HISTORY_SIZE
        if "lr_history" in state and "lr_history_offset" not in state:
            self.lr_history_offset = [0 for _ in self.lr_history]
            self._trim_histories()

    def state_dict(self) -> dict[str, Any]:
        """The ``torch.optim`` state dict plus ``per_group``, ``lr_history`` (at most
        ``lr_history_size`` rates per group) and ``lr_history_offset``."""
        out = super().state_dict()
        out["lr_history"] = [list(h) for h in self.lr_history]
        out["lr_history_offset"] = list(self.lr_history_offset)
        out["per_group"] = self.per_group
        return out

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a state saved by :meth:`state_dict` (resuming continues the same run). A
        plain ``torch.optim`` state of the same base optimizer loads too: its groups take this
        optimizer's hypergradient settings. As in ``torch.optim``, the state's settings (the
        learned ``lr``, ``hyper_lr``, ``momentum``..., and ``per_group``) replace the ones this
        optimizer was made with: to change one on resuming, set it in ``param_groups`` after
        loading (the next step checks it). ``lr_history_size`` stays this optimizer's: a longer saved history (one saved
        before the history was bounded, say) keeps its latest rates. A rate of 0 loads under
        the multiplicative rule too (a scheduler drove it there, and the step takes it), though
        the constructor refuses a group given with ``lr=0``. A state this class did not save
        (one without ``lr_history``: a ``torch.optim`` optimizer's, even one that was loaded
        from an hd optimizer and kept its ``hd_dir`` entries) loads without its stored
        directions, so the first step after it takes no hypergradient step, as a run's first.

        Raises:
            InputTypeError: the state is not an optimizer's (a trainer's, say).
            InputError: the state is of another kind of optimizer, or asks for a setting not
                implemented here (an AdamW state's decoupled decay, AMSGrad, ``maximize``,
                SGD's dampening), or holds a moment that is not a tensor (a list, a number,
                ``None``), of another shape than its parameter (saved for another model) or
                of another dtype (saved in another precision),
                or its ``lr_history`` is not one list of finite rates >= 0 per group (a bool,
                NaN, text or a negative rate is named); nothing was loaded.
        """
        state_dict, history, offset, per_group = checked_state(self, state_dict)
        before = ([dict(g) for g in self.param_groups], self.state, self.per_group)
        try:
            super().load_state_dict(state_dict)
            self.per_group = per_group  # (a global rate needs groups of the same settings)
            for group in self.param_groups:
                group["lr"] = read_lr(group["lr"])  # (a torch.optim state's tensor: its float)
                self._check_group(group)
        except Exception:  # a refused state leaves the optimizer as it was
            self.param_groups[:], self.state, self.per_group = before
            raise
        self.lr_history, self.lr_history_offset = history, offset
        self._trim_histories()

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """Move each learning rate along its hypergradient, then take the base optimizer's step.

        Args:
            closure: Re-evaluates the model and returns the loss (optional).

        Returns:
            The closure's loss, or None.

        Raises:
            InputError: a param group holds a setting it cannot step with, written since the
                optimizer checked it (a negative ``lr`` or ``hyper_lr``, betas outside
                ``[0, 1)``...), named with the group; nothing moved.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for i, group in enumerate(self.param_groups):
            group["lr"] = check_written_lr(group["lr"])  # (a float from here on)
            check_written(type(self).__name__, i, group, self._check_settings)
        refuse_sparse(self)
        self._hyper_step()
        for i, group in enumerate(self.param_groups):
            self.lr_history[i].append(float(group["lr"]))
            forget_unmoved(self, group, ("hd_dir",))
            self._update_group(group)
        self._trim_histories()
        return loss

    # -- private ------------------------------------------------------------------------------

    def _trim_histories(self) -> None:
        """Drop the oldest rates past ``lr_history_size``, counting them in the offsets."""
        size = self.lr_history_size
        if size is None:
            return
        for i, history in enumerate(self.lr_history):
            extra = len(history) - size
            if extra > 0:
                del history[:extra]
                self.lr_history_offset[i] += extra

    def _check_group(self, group: dict[str, Any]) -> None:
        """Check a group given to the optimizer (the constructor, ``add_param_group``, a loaded
        state): its parameters and its settings."""
        refuse_complex(type(self).__name__, group["params"])
        self._check_settings(group)

    def _check_settings(self, group: dict[str, Any]) -> None:
        """Check a group's settings (also at each step: they may have been written since)."""
        refuse_unsupported(type(self).__name__, group)
        check_nonneg("lr", group["lr"])
        check_nonneg("hyper_lr", group["hyper_lr"])
        check_bool("multiplicative", group["multiplicative"])
        check_bool("normalize", group["normalize"])
        target = check_unit("target_cosine", group.setdefault("target_cosine", 0.0))
        if target > 0 and not group["normalize"]:
            raise InputError(
                f"target_cosine={target!r} needs normalize=True (without it the hypergradient "
                "is not a cosine)"
            )
        check_nonneg("weight_decay", group.get("weight_decay", 0.0))
        if not self.per_group and self.param_groups:
            refuse_mixed_settings(group, self.param_groups[0])

    def _effective_grad(self, p: Tensor, group: dict[str, Any]) -> Tensor:
        """The gradient of the objective the base optimizer minimizes (L2 term included)."""
        assert p.grad is not None
        wd = group.get("weight_decay", 0.0)
        return p.grad.add(p, alpha=wd) if wd != 0 else p.grad

    def _group_stats(self, group: dict[str, Any]) -> Tensor | None:
        """``[g·u, ‖g‖², ‖u‖²]`` over the group's parameters that have a previous direction."""
        gs: list[Tensor] = []
        us: list[Tensor] = []
        for p in group["params"]:
            if p.grad is None:
                continue
            u = self.state[p].get("hd_dir")
            if u is None:
                continue
            gs.append(self._effective_grad(p, group).reshape(-1))
            us.append(u.reshape(-1))
        if not gs:
            return None
        # One flat vector per side: a constant number of kernels however many tensors.
        g = torch.cat(gs) if len(gs) > 1 else gs[0]
        u = torch.cat(us) if len(us) > 1 else us[0]
        if g.dtype in (torch.float16, torch.bfloat16):  # sums of many squares overflow float16
            g, u = g.float(), u.float()
        dot = torch.dot(g, u)
        if not group["normalize"]:
            return torch.stack([dot, torch.ones_like(dot), torch.ones_like(dot)])
        return torch.stack([dot, torch.dot(g, g), torch.dot(u, u)])

    def _hyper_step(self) -> None:
        stats = [self._group_stats(g) for g in self.param_groups]
        present = [s for s in stats if s is not None]
        if not present:
            for group in self.param_groups:
                group["hypergrad"] = 0.0
            return
        # one host sync per step
        values = (
            present[0].unsqueeze(0).tolist()
            if len(present) == 1
            else torch.stack([s.double() for s in present]).tolist()
        )
        it = iter(values)
        per: list[tuple[float, float, float] | None] = [
            tuple(next(it)) if s is not None else None  # type: ignore[misc]
            for s in stats
        ]
        for group, st in zip(self.param_groups, per):
            group["hypergrad"] = -st[0] if st is not None else 0.0
        first = self.param_groups[0]
        if self.per_group:
            for group, st in zip(self.param_groups, per):
                if st is not None and group["hyper_lr"] != 0:
                    weight = group["lr"] if group["multiplicative"] else 1.0
                    h = weight * -st[0]
                    if group["normalize"]:
                        h = _safe_div(h, math.sqrt(st[1]) * weight * math.sqrt(st[2]))
                    _apply(group, h)
            return
        if first["hyper_lr"] == 0:
            return
        h, gg, uu = 0.0, 0.0, 0.0
        for group, st in zip(self.param_groups, per):
            if st is None:
                continue
            weight = group["lr"] if first["multiplicative"] else 1.0
            h += weight * -st[0]
            gg += st[1]
            uu += weight * weight * st[2]
        if first["normalize"]:
            h = _safe_div(h, math.sqrt(gg) * math.sqrt(uu))
        for group in self.param_groups:
            _apply(group, h)

    def _update_group(self, group: dict[str, Any]) -> None:
        raise NotImplementedError(
            f"{type(self).__name__} must implement _update_group(group): apply the base "
            "optimizer's update to the group's parameters with group['lr'] and store each "
            "one's update direction as state['hd_dir'] (see HDOptimizer)"
        )


def _refuse_stuck_rate(group: dict[str, Any]) -> None:
    """Refuse a group given with ``lr=0`` under the multiplicative rule, which only multiplies
    the rate: learning could never move it. Checked where the user gives a group (the
    constructor, :meth:`HDOptimizer.add_param_group`) only: a rate a scheduler drove to 0
    (``CosineAnnealingLR`` at ``T_max``) is legitimate, as the schedule may raise it again, so
    the step takes it and a state saved there loads."""
    if group["lr"] == 0 and group["multiplicative"]:
        raise InputError(
            "lr=0 with multiplicative=True can never move (the rate is multiplied): give "
            "a small positive starting rate, e.g. 1e-4"
        )


def _safe_div(num: float, den: float) -> float:
    """``num / den``; NaN (no hyper step: :func:`_apply` skips it) when a gradient or the
    last update is zero, so that no cosine is read where there is none."""
    return num / den if den > 0 else math.nan


def _apply(group: dict[str, Any], h: float) -> None:
    """One hyper step on ``group["lr"]`` with the (possibly normalized) hypergradient ``h``."""
    if not math.isfinite(h):
        return
    beta = group["hyper_lr"]
    if group["normalize"]:
        h += group["target_cosine"]  # the rate grows only while cos(g_t, u_{t-1}) > target
    if group["multiplicative"]:
        new = group["lr"] * math.exp(-beta * h)
    else:
        new = max(group["lr"] - beta * h, 0.0)
    if math.isfinite(new):
        group["lr"] = min(new, MAX_LR)


class SGDHD(HDOptimizer):
    """SGD (optionally with momentum) whose learning rate follows its hypergradient.

    With ``hyper_lr=0`` this is ``torch.optim.SGD`` (same arguments, dampening 0) bit for bit.

    Args:
        params: Parameters or param groups.
        lr: Initial learning rate ``α_0 >= 0`` (a one-element tensor: its value, as a float).
        momentum: Momentum factor in ``[0, 1)``.
        weight_decay: L2 penalty ``>= 0`` (added to the gradient, as in ``torch.optim.SGD``).
        nesterov: Nesterov momentum (needs ``momentum > 0``).
        hyper_lr: The hyper learning rate ``β >= 0``. With the defaults below it is the
            largest relative change of the rate per step (dimensionless, default 0.1); with
            ``normalize=False, multiplicative=False`` it is the paper's β, whose good value
            depends on the size of the gradients.
        multiplicative: Update the rate in log space, ``α ← α·exp(-β·h)``; else ``α ← α - β·h``.
        normalize: Divide the hypergradient by ``‖g_t‖·‖u_{t-1}‖`` (a cosine; scale-free).
        target_cosine: With ``normalize``, the rate moves by ``exp(β·(cos - target))``: it
            grows only while consecutive directions agree by more than ``target`` (in
            ``[0, 1)``; 0 is the plain rule). A small positive target settles at a smaller
            rate than the plain rule's edge of oscillation.
        per_group: One learned rate per param group instead of one global rate.
        lr_history_size: How many of the latest rates :attr:`~HDOptimizer.lr_history` keeps
            per group (default :data:`LR_HISTORY_SIZE`; ``None``: every step's).
        **torch_options: ``torch.optim.SGD``'s other keywords (``dampening``, ``maximize``,
            ``foreach``, ``differentiable``, ``fused``), only at their defaults: another value
            is refused (:data:`~hyperlab.hypergrad.guards.TORCH_KEYWORDS`).
    """

    STATE_KEYS = SGD_STATE

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 0.01,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        hyper_lr: float = 0.1,
        multiplicative: bool = True,
        normalize: bool = True,
        target_cosine: float = 0.0,
        per_group: bool = False,
        lr_history_size: int | None = LR_HISTORY_SIZE,
        **torch_options: Any,
    ) -> None:
        refuse_torch_keywords(type(self).__name__, "SGD", torch_options, SGD_KEYWORDS)
        check_unit("momentum", momentum)
        check_bool("nesterov", nesterov)
        if nesterov and momentum == 0:
            raise InputError(f"Nesterov momentum needs momentum > 0, got momentum={momentum!r}")
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=0,  # (torch.optim.SGD reads it: a state of SGDHD's loads there too)
            weight_decay=weight_decay,
            nesterov=nesterov,
            hyper_lr=hyper_lr,
            multiplicative=multiplicative,
            normalize=normalize,
            target_cosine=target_cosine,
        )
        super().__init__(params, defaults, per_group=per_group, lr_history_size=lr_history_size)

    def _check_settings(self, group: dict[str, Any]) -> None:
        super()._check_settings(group)
        check_unit("momentum", group["momentum"])
        group.setdefault("dampening", 0)  # (a state saved before it was kept)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, momentum = group["lr"], group["momentum"]
        wd, nesterov = group["weight_decay"], group["nesterov"]
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state[p]
            grad = p.grad
            if wd != 0:
                grad = grad.add(p, alpha=wd)
            if momentum != 0:
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = grad.detach().clone()
                    state["momentum_buffer"] = buf
                else:
                    buf.mul_(momentum).add_(grad)
                grad = grad.add(buf, alpha=momentum) if nesterov else buf
            p.add_(grad, alpha=-lr)
            # The caller may zero p.grad in place: keep our own copy of the direction.
            state["hd_dir"] = grad.clone() if grad is p.grad else grad


class SGDNHD(SGDHD):
    """SGD with Nesterov momentum (default 0.9) and a hypergradient-learned rate (SGDN-HD).

    Same arguments as :class:`SGDHD` with ``nesterov=True`` (given, it can only be ``True``);
    the direction ``u`` is the Nesterov update ``g + μ·buf``, as in Baydin et al. 2018,
    Algorithm 3.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 0.01,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        *,
        hyper_lr: float = 0.1,
        multiplicative: bool = True,
        normalize: bool = True,
        target_cosine: float = 0.0,
        per_group: bool = False,
        lr_history_size: int | None = LR_HISTORY_SIZE,
        **torch_options: Any,
    ) -> None:
        keywords = ("nesterov", *SGD_KEYWORDS)
        refuse_torch_keywords(type(self).__name__, "SGD", torch_options, keywords)
        super().__init__(
            params,
            lr=lr,
            momentum=momentum,
            weight_decay=weight_decay,
            nesterov=True,
            hyper_lr=hyper_lr,
            multiplicative=multiplicative,
            normalize=normalize,
            target_cosine=target_cosine,
            per_group=per_group,
            lr_history_size=lr_history_size,
        )


class AdamHD(HDOptimizer):
    """Adam whose learning rate follows its hypergradient (Adam-HD, Baydin et al. 2018).

    The direction is the bias-corrected Adam step ``u = m̂/(√v̂ + ε)``. With ``hyper_lr=0``
    this is ``torch.optim.Adam`` (``amsgrad=False``, L2 weight decay) bit for bit on CPU.

    Args:
        params: Parameters or param groups.
        lr: Initial learning rate ``α_0 >= 0`` (a one-element tensor: its value, as a float).
        betas: ``(β1, β2)``, each in ``[0, 1)``.
        eps: Term added to the denominator, ``>= 0``.
        weight_decay: L2 penalty ``>= 0``.
        hyper_lr: Hyper learning rate ``β >= 0`` (see :class:`SGDHD`).
        multiplicative: Update the rate in log space.
        normalize: Divide the hypergradient by ``‖g_t‖·‖u_{t-1}‖``.
        target_cosine: The cosine the rate settles at (see :class:`SGDHD`).
        per_group: One learned rate per param group.
        lr_history_size: How many of the latest rates :attr:`~HDOptimizer.lr_history` keeps
            per group (default :data:`LR_HISTORY_SIZE`; ``None``: every step's).
        **torch_options: ``torch.optim.Adam``'s other keywords (``amsgrad``, ``maximize``,
            ``foreach``, ``capturable``, ``differentiable``, ``fused``,
            ``decoupled_weight_decay``), only at their defaults: another value is refused
            (:data:`~hyperlab.hypergrad.guards.TORCH_KEYWORDS`).
    """

    STATE_KEYS = ADAM_STATE

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        *,
        hyper_lr: float = 0.1,
        multiplicative: bool = True,
        normalize: bool = True,
        target_cosine: float = 0.0,
        per_group: bool = False,
        lr_history_size: int | None = LR_HISTORY_SIZE,
        **torch_options: Any,
    ) -> None:
        refuse_torch_keywords(type(self).__name__, "Adam", torch_options, ADAM_KEYWORDS)
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            hyper_lr=hyper_lr,
            multiplicative=multiplicative,
            normalize=normalize,
            target_cosine=target_cosine,
        )
        super().__init__(params, defaults, per_group=per_group, lr_history_size=lr_history_size)

    def _check_settings(self, group: dict[str, Any]) -> None:
        super()._check_settings(group)
        betas = group["betas"]
        if isinstance(betas, str) or not hasattr(betas, "__len__") or len(betas) != 2:
            raise InputError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        check_unit("beta1", betas[0])
        check_unit("beta2", betas[1])
        check_nonneg("eps", group["eps"])

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, (beta1, beta2) = group["lr"], group["betas"]
        eps, wd = group["eps"], group["weight_decay"]
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state[p]
            exp_avg, exp_avg_sq, step = adam_moments(p, state)
            grad = p.grad
            if wd != 0:
                grad = grad.add(p, alpha=wd)
            # The same operations, in the same order, as torch.optim.Adam (single tensor).
            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            bias_correction1 = 1 - beta1**step
            bias_correction2 = 1 - beta2**step
            step_size = lr / bias_correction1
            denom = (exp_avg_sq.sqrt() / bias_correction2**0.5).add_(eps)
            p.addcdiv_(exp_avg, denom, value=-step_size)
            state["hd_dir"] = torch.div(exp_avg, denom).mul_(1 / bias_correction1)
