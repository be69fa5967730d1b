"""Stacked hyperoptimizers: optimizers whose hyperparameters are learned by optimizers.

After Chandra et al. 2022, "Gradient descent: the ultimate optimizer" (NeurIPS). A stack
``stack("adam", ("sgd", {"lr": 1e-5}), ("sgd", {"lr": 1e-7}))`` trains the weights with Adam;
an SGD *hyperoptimizer* learns Adam's learning rate and betas from the hypergradient; a second
SGD learns the first SGD's learning rate; the top optimizer's own hyperparameters stay fixed.
The **height** of a stack is the number of hyperoptimizers above the base optimizer (2 here);
height 0 is the plain base optimizer. A hyperoptimizer's rate must suit the scale of what it
moves: SGD's default 0.01 one level above Adam's rate (about 1e-3) drives it to the clips
below within a few dozen steps; a clip is warned about once per hyperparameter.

How the hypergradients are computed. Chandra et al. keep the hyperparameters as tensors that
require grad, write each step's update as a differentiable function of them, detach the
weights and let the next ``loss.backward()`` reach the hyperparameters through the one-step
dependency. The same derivatives are computed here without keeping a graph alive, so the
optimizer works in an ordinary ``zero_grad() / backward() / step()`` loop with leaf
parameters and its whole state fits a ``state_dict``:

* after updating the weights at step ``t``, the base level stores for every parameter and
  every learned hyperparameter ``h`` the derivative ``D_h = ∂θ_{t+1}/∂h`` (a tensor shaped like
  the parameter; for SGD ``D_lr = -u_t``);
* at step ``t+1`` the hypergradient is ``∂L(θ_{t+1})/∂h = Σ_p ⟨g_{t+1}, D_h⟩`` (for SGD this is
  hypergradient descent, ``-g_{t+1}·u_t``, Baydin et al. 2018);
* a hyperparameter of level ``k+1`` affects the loss only through the hyperparameters of level
  ``k`` it updated at step ``t``, so its hypergradient is the chain rule through the stored
  scalar Jacobian ``∂ψ_k/∂ψ_{k+1}`` of that update.

The weight update itself runs the ``torch.optim`` operations (same order, Python-float
hyperparameters), so height 1 with a zero hyper learning rate reproduces ``torch.optim.SGD``
or ``torch.optim.Adam`` bit for bit.

Squashing. A hyperoptimizer works on unconstrained coordinates: the learning rate as is
(``lr_space="linear"``, as in the paper) or its logarithm (``lr_space="log"``, keeps it
positive); momentum and Adam's β1, β2 through the logit, ``β = sigmoid(z)``, so they stay in
``(0, 1)`` (clipped to ``[1e-7, 1 - 1e-7]`` where rounding would reach an end). A learning
rate is kept in ``[0, 1e12]`` (clipped; a clipped step passes no gradient to the level
above). The new value is written as ``ψ + (T(z_new) - T(z))`` so that
a zero step leaves ``ψ`` bit for bit unchanged.

The base level's hyperparameters live in ``param_groups`` (``lr``, ``momentum``, ``betas``), one
set per group, so schedulers and loggers see the learned values; a scheduler's write is the
value learning continues from. The hyperoptimizers' hyperparameters are shared by all groups.
:meth:`StackedOptimizer.hyperparameters` returns every current value; ``history`` keeps one
such dict per step, for the last ``history_size`` steps (as ``HDOptimizer.lr_history`` does).
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

from hyperlab.errors import InputError, check_positive_int, user_stacklevel
from hyperlab.hypergrad.guards import (
    MAX_LR,
    UNSUPPORTED,
    check_state_dict,
    check_state_entries,
    check_state_kind,
    check_state_tensors,
    check_written,
    check_written_lr,
    checked_params,
    forget_unmoved,
    read_lr,
    refuse_complex,
    refuse_sparse,
    refuse_unsupported,
    without_derivatives,
)
from hyperlab.hypergrad.hd import LR_HISTORY_SIZE
from hyperlab.hypergrad.levels import BETA_EDGE, TRANSFORMS, HyperAdam, HyperSGD, Level, as_level
from hyperlab.hypergrad.stack_state import (
    check_history,
    check_levels,
    check_moments,
    check_values,
)

__all__ = ["HyperAdam", "HyperSGD", "Level", "StackFactory", "StackedOptimizer", "stack"]

# -- the stack -------------------------------------------------------------------------------


_OWN_ATTRS = ("levels", "_learn", "hyper_state", "history", "history_size")
_MIN_LOG_LR = 1e-12  # the floor of a rate learned in log coordinates (0 is their -inf)


class StackedOptimizer(Optimizer):
    """A base optimizer whose hyperparameters are learned by a stack of hyperoptimizers.

    Example::

        opt = StackedOptimizer(
            model.parameters(), ["adam", HyperSGD(lr=1e-5), HyperSGD(lr=1e-7)]
        )
        for x, y in batches:
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
            print(opt.param_groups[0]["lr"], opt.hyperparameters())

    Args:
        params: Parameters or param groups. A group may set the base level's hyperparameters
            (``lr``, ``momentum`` / ``betas``, ``weight_decay``...); those the level learns are
            then learned for that group separately. Which are learned is the base level's
            choice, not the group's: SGD learns momentum only when its own ``momentum`` is
            above 0 (a group's ``momentum=0.9`` on ``"sgd"`` stays 0.9; use
            ``("sgd", {"momentum": 0.9})``).
        levels: The base optimizer first, then its hyperoptimizers, each a name (``"sgd"``,
            ``"adam"``), a :class:`Level` class or instance, ``torch.optim.SGD``/``Adam``, or
            ``(name, kwargs)``. The top level's hyperparameters stay fixed.
        history_size: How many of the latest steps :attr:`history` keeps (an integer >= 1,
            default ``LR_HISTORY_SIZE``; ``None`` keeps every step, and a long run's
            checkpoints grow with it).

    Attributes:
        history: :meth:`hyperparameters` after each of the last ``history_size`` steps, oldest
            first: entry ``i`` is of step ``hyper_state["steps"] - len(history) + i + 1``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        levels: Sequence[Any],
        *,
        history_size: int | None = LR_HISTORY_SIZE,
    ) -> None:
        self.history_size = check_positive_int("history_size", history_size, allow_none=True)
        if isinstance(levels, (str, Level)) or not isinstance(levels, Sequence) or not levels:
            raise InputError(f"levels must be a non-empty list of optimizers, got {levels!r}")
        self.levels = [as_level(s) for s in levels]
        # names each level's hyperoptimizer learns; the top level's stay fixed
        self._learn = [lv.learned() for lv in self.levels[:-1]] + [()]
        self.levels[-1].learned()  # check its settings too
        params = checked_params(type(self).__name__, params)
        super().__init__(params, self.levels[0].group_defaults())
        # Hyperoptimizer levels' current values (shared by all groups), JSON-like plain data.
        self.hyper_state: dict[str, Any] = {
            "values": [lv.values() for lv in self.levels],
            "opt_state": [{} for _ in self.levels],  # level k's state per slot it updates
            "jac": [{} for _ in self.levels],  # jac[k][slot][name]: ∂slot/∂(level k hyper)
            "hypergrads": {},
            "steps": 0,
            "levels": self._describe(),  # what a loaded state is checked against
        }
        self.history: list[dict[str, float]] = []
        self._clipped: set[str] = set()  # hyperparameters whose clip was warned about

    @property
    def height(self) -> int:
        """Number of hyperoptimizers above the base optimizer."""
        return len(self.levels) - 1

    # -- reading -------------------------------------------------------------------------------

    def hyperparameters(self) -> dict[str, float]:
        """Every learned hyperparameter's current value.

        Keys: ``"g{i}.{name}"`` for the base level's hyperparameters of param group ``i``,
        ``"L{k}.{name}"`` for level ``k >= 1`` of the stack (level ``k`` learns level ``k-1``).
        """
        out = {
            f"g{i}.{n}": _get_base(group, n)
            for i, group in enumerate(self.param_groups)
            for n in self._learn[0]
        }
        for k in range(1, len(self.levels)):
            for n in self._learn[k]:
                out[f"L{k}.{n}"] = self.hyper_state["values"][k][n]
        return out

    @property
    def hypergrads(self) -> dict[str, float]:
        """The last hypergradient ``∂L/∂ψ`` of every learned hyperparameter (same keys)."""
        return dict(self.hyper_state["hypergrads"])

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a param group; its hyperparameters are checked (bad values raise InputError,
        and the group is not added). Complex parameters are refused."""
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        try:
            group["lr"] = read_lr(group["lr"])  # the learned rate is a float
            refuse_unsupported(type(self).__name__, group)
            _check_params(group["params"], self._learn[0])
            probe = self.levels[0].with_group(group)
            probe.learn = self._learn[0]
            probe.learned()
        except Exception:
            self.param_groups.pop()  # a refused group leaves the optimizer as it was
            raise

    def __getstate__(self) -> dict[str, Any]:  # pickling and deepcopy keep the stack
        out = super().__getstate__()
        out.update({k: self.__dict__[k] for k in _OWN_ATTRS if k in self.__dict__})
        return out

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        if "history_size" not in self.__dict__:  # pickled before the history was bounded
            self.history_size = LR_HISTORY_SIZE

    def state_dict(self) -> dict[str, Any]:
        """The ``torch.optim`` state dict plus the hyperoptimizers' state and history (at most
        ``history_size`` steps)."""
        out = super().state_dict()
        out["hyper_state"] = copy.deepcopy(self.hyper_state)
        out["history"] = [dict(h) for h in self.history]
        return out

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a state saved by :meth:`state_dict`; resuming continues the same run. A
        plain ``torch.optim`` state of the same base optimizer loads too, without the stored
        derivatives (the first step after it takes no hyper step, as a run's first); one of
        another kind (an SGD state into an Adam-based stack) or asking for a setting not
        implemented here (an AdamW state's decoupled decay, AMSGrad, ``maximize``, SGD's
        dampening) is refused before anything changes. ``history_size`` stays this
        optimizer's: a longer saved history keeps its latest steps. A state whose history,
        moments (not tensors, another shape or dtype), step counts, hyperoptimizers' moments
        or levels' ``values``, ``jac`` or ``hypergrads`` are not what a run records (text, a
        bool, ``None``, NaN, a negative ``v`` or rate; an infinite moment, which an overflow
        leaves, loads) is refused by name, nothing loaded (see ``stack_state``); what is not
        an optimizer's state (a trainer's, say) is refused with an InputTypeError."""
        check_state_dict(type(self).__name__, state_dict)
        # (a state without hyper_state is no stack's: its derivatives went stale)
        hyper = state_dict.get("hyper_state")
        state_dict = dict(state_dict) if hyper is not None else without_derivatives(state_dict)
        state_dict.pop("hyper_state", None)
        history = state_dict.pop("history", [])
        check_history(type(self).__name__, history)
        if hyper is not None:
            ours = [sorted(lv.values()) for lv in self.levels]
            check_levels(hyper, ours, self._describe())
            check_moments(type(self).__name__, hyper, len(self.levels))
            check_values(type(self).__name__, hyper, [lv.name for lv in self.levels], ours)
        groups = state_dict.get("param_groups")
        # (a state saved before nesterov and dampening were kept in the groups loads too)
        needed = [k for k in self.defaults if k not in ("nesterov", *UNSUPPORTED)]
        check_state_kind(type(self).__name__, groups, needed)
        for i, group in enumerate(groups if isinstance(groups, list) else []):
            refuse_unsupported(type(self).__name__, group, f"param group {i} of the state")
        owner, known = type(self).__name__, self.levels[0].STATE_KEYS
        check_state_entries(owner, state_dict.get("state"), known)
        check_state_tensors(owner, state_dict, self)
        super().load_state_dict(state_dict)
        if hyper is not None:
            self.hyper_state = copy.deepcopy(hyper)
            self.hyper_state.setdefault("levels", self._describe())  # a state of before
        else:  # the last hyper step's Jacobians belong to derivatives no longer held
            self.hyper_state["jac"] = [{} for _ in self.levels]
            self.hyper_state["hypergrads"] = {}
        self.history = [dict(h) for h in history]
        self._trim_history()

    def _describe(self) -> list[list[Any]]:
        """Each level's kind, ``lr`` coordinates and learned names: a state's shape."""
        return [
            [lv.name, lv.lr_space if "lr" in learn else None, list(learn)]
            for lv, learn in zip(self.levels, self._learn)
        ]

    # -- stepping ------------------------------------------------------------------------------

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """Update the hyperparameters top-down from their hypergradients, then the weights.

        Args:
            closure: Re-evaluates the model and returns the loss (optional).

        Returns:
            The closure's loss, or None.

        Raises:
            InputError: a param group holds a setting it cannot step with, written since the
                optimizer checked it (a negative ``lr`` or ``hyper_lr``, betas outside
                ``[0, 1)``...), or float16 parameters while Adam's beta2 is learned (a
                ``model.half()`` since), named with the group; nothing moved.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        owner = type(self).__name__
        for i, group in enumerate(self.param_groups):
            group["lr"] = check_written_lr(group["lr"])  # (a float from here on)
            check_written(owner, i, group, self._check_written)
            _refuse_half_beta2(group["params"], self._learn[0], i)
        refuse_sparse(self)
        grads = self._hypergrads()
        if grads is not None:
            self._update_hypers(grads)
        base, learn = self.levels[0], self._learn[0]
        for group in self.param_groups:
            forget_unmoved(self, group, [f"d_{n}" for n in learn])
            hp = base.with_group(group).values()
            for p in group["params"]:
                if p.grad is not None:
                    base._step_tensor_(p, p.grad, self.state[p], hp, learn)
        self.hyper_state["steps"] += 1
        self.history.append(self.hyperparameters())
        self._trim_history()
        return loss

    def _check_written(self, group: dict[str, Any]) -> None:
        """Check the settings ``group`` holds at a step: none ``torch.optim`` asks for that is
        not implemented, each in its range, a learned momentum or beta inside (0, 1)."""
        refuse_unsupported(type(self).__name__, group)
        self.levels[0].with_group(group).check_written(self._learn[0])

    def _trim_history(self) -> None:
        """Drop the oldest steps of :attr:`history` past ``history_size``."""
        extra = len(self.history) - (self.history_size or len(self.history))
        if extra > 0:
            del self.history[:extra]

    def _hypergrads(self) -> list[dict[str, float]] | None:
        """``∂L(θ_t)/∂ψ`` for every learned hyperparameter, by level and slot; None at step 1."""
        if not self._learn[0] or self.hyper_state["steps"] == 0:
            return None
        level0 = _base_hypergrads(self.param_groups, self.state, self._learn[0])
        if level0 is None:
            return None
        out = _chained(level0, self.hyper_state["jac"], self._learn)
        flat = {f"g{s.replace(':', '.')}": v for s, v in level0.items()}
        for k in range(1, len(self.levels)):
            flat.update({f"L{k}.{n}": v for n, v in out[k].items()})
        self.hyper_state["hypergrads"] = flat
        return out

    def _update_hypers(self, grads: list[dict[str, float]]) -> None:
        """Top-down: level ``k`` moves level ``k-1``'s hyperparameters; store the Jacobians."""
        values = self.hyper_state["values"]
        for k in range(len(self.levels) - 1, 0, -1):
            below = grads[k - 1]
            if not below:
                self.hyper_state["jac"][k] = {}
                continue
            level, hp, learn_k = self.levels[k], values[k], self._learn[k]
            opt_state, jac = self.hyper_state["opt_state"][k], {}
            for slot, g in below.items():
                if k == 1:
                    i, name = slot.split(":")
                    group = self.param_groups[int(i)]
                    psi = _get_base(group, name)
                    owner = self.levels[0]
                else:
                    name, psi, owner = slot, values[k - 1][slot], self.levels[k - 1]
                to_z, from_z, dvalue = TRANSFORMS[owner.transform(name)]
                z = to_z(psi)
                # the hypergradient in z: one that is not finite (a NaN g, or a huge g times a
                # huge rate in log coordinates) is skipped before it turns the moments inf,
                # then NaN, and the hyperparameter stops moving for good
                gz = g * dvalue(z)
                if not math.isfinite(gz):
                    continue
                z_new, derivs = level._step_scalar(
                    z, gz, opt_state.setdefault(slot, {}), hp, learn_k
                )
                space = owner.transform(name)
                # in log coordinates the value itself: a difference of two large exponentials
                # cancels (1e12 - 1e12 + a small step read 0.000977)
                new = from_z(z_new) if space == "log" else psi + (from_z(z_new) - from_z(z))
                if not math.isfinite(new):
                    continue
                slope = dvalue(z_new)
                clipped = _clipped(name, space, new)
                if clipped is not None:
                    new, slope = clipped, 0.0
                    self._warn_clipped(k, slot, new)
                if k == 1:
                    _set_base(group, name, new)
                else:
                    values[k - 1][slot] = new
                jac[slot] = {n: slope * d for n, d in derivs.items()}
            self.hyper_state["jac"][k] = jac

    def _warn_clipped(self, k: int, slot: str, value: float) -> None:
        """Warn, once per hyperparameter, that level ``k`` moved ``slot`` out of its range."""
        name = f"g{slot.replace(':', '.')}" if k == 1 else f"L{k - 1}.{slot}"
        clipped = self.__dict__.setdefault("_clipped", set())
        if name not in clipped:
            clipped.add(name)
            lr = self.hyper_state["values"][k].get("lr")
            _warn_clip(name, value, f"{self.levels[k].name} hyperoptimizer", k, lr)


def _check_params(params: list[Any], learn: Any) -> None:
    """Refuse complex parameters, and float16 ones while Adam's beta2 is learned."""
    refuse_complex("StackedOptimizer", params)
    _refuse_half_beta2(params, learn)


def _refuse_half_beta2(params: list[Any], learn: Any, group: int | None = None) -> None:
    """Refuse float16 parameters while Adam's beta2 is learned; ``group``: the index of the
    param group they are in at a step (cast since the optimizer checked them)."""
    if "beta2" not in learn or not any(p.dtype == torch.float16 for p in params):
        return
    where = "" if group is None else (
        f".step: param group {group} holds float16 parameters now (cast after the optimizer "
        "was made, as model.half() does)"
    )  # fmt: skip
    raise InputError(
        f"StackedOptimizer{where}: Adam's beta2 cannot be learned for float16 parameters "
        "(its derivative's factor, about 1e6 at the first step, overflows float16): "
        "keep float32 weights (torch.autocast for float16 compute), use bfloat16, or "
        "learn the rest, ('adam', {'learn': ['lr', 'beta1']})"
    )


def _get_base(group: dict[str, Any], name: str) -> float:
    """The base optimizer's hyperparameter ``name`` in ``group`` (a beta from its pair)."""
    if name in ("beta1", "beta2"):
        return float(group["betas"][name == "beta2"])
    return float(group[name])


def _set_base(group: dict[str, Any], name: str, value: float) -> None:
    """Set the base optimizer's hyperparameter ``name`` in ``group``."""
    if name in ("beta1", "beta2"):
        betas = list(group["betas"])
        betas[name == "beta2"] = value
        group["betas"] = tuple(betas)
    else:
        group[name] = value


def _base_hypergrads(
    param_groups: list[dict[str, Any]], state: Any, names: tuple[str, ...]
) -> dict[str, float] | None:
    """``∂L(θ_t)/∂ψ`` of the base level's learned hyperparameters ``names``, by slot
    (``"{group}:{name}"``), from each parameter's gradient and stored ``d_{name}``; None when
    no parameter has both."""
    dots: list[Tensor] = []
    keys: list[str] = []
    for i, group in enumerate(param_groups):
        wd = group.get("weight_decay", 0.0)
        gs: list[Tensor] = []
        ds: dict[str, list[Tensor]] = {n: [] for n in names}
        for p in group["params"]:
            st = state[p]
            if p.grad is None or any(f"d_{n}" not in st for n in names):
                continue
            g = p.grad.add(p, alpha=wd) if wd != 0 else p.grad
            gs.append(g.reshape(-1))
            for n in names:
                ds[n].append(st[f"d_{n}"].reshape(-1))
        if not gs:
            continue
        # flat vectors: a constant number of kernels however many tensors
        g_flat = torch.cat(gs) if len(gs) > 1 else gs[0]
        half = g_flat.dtype in (torch.float16, torch.bfloat16)  # (sums overflow float16)
        g_flat = g_flat.float() if half else g_flat
        for n in names:
            d_flat = torch.cat(ds[n]) if len(ds[n]) > 1 else ds[n][0]
            d_flat = d_flat.float() if half else d_flat
            dots.append(torch.dot(g_flat, d_flat).double())
            keys.append(f"{i}:{n}")
    if not dots:
        return None
    return dict(zip(keys, torch.stack(dots).tolist()))  # one host sync


def _chained(
    level0: dict[str, float], jacs: list[dict[str, Any]], learn: list[tuple[str, ...]]
) -> list[dict[str, float]]:
    """Every level's hypergradients from the base level's ``level0``, by the chain rule
    through each level's stored Jacobians ``jacs[k][slot][name]``."""
    out = [level0]
    for k in range(1, len(learn)):
        jac, below = jacs[k], out[-1]
        out.append({n: sum(below[s] * jac.get(s, {}).get(n, 0.0) for s in below) for n in learn[k]})
    return out


def _clipped(name: str, space: str, new: float) -> float | None:
    """``new``, a hyperparameter's next value, clipped into its range; None when it is in."""
    # a rate stays in [0, 1e12]; in log coordinates above 0, which it never leaves
    low = _MIN_LOG_LR if space == "log" else 0.0
    if name == "lr" and not low <= new <= MAX_LR:
        return min(max(new, low), MAX_LR)
    if space == "logit" and not BETA_EDGE <= new <= 1.0 - BETA_EDGE:
        # ψ + (σ(z_new) − σ(z)) rounds onto 0 or 1 (or past them) where σ is flat
        return min(max(new, BETA_EDGE), 1.0 - BETA_EDGE)
    return None


def _warn_clip(name: str, value: float, above: str, k: int, lr: Any) -> None:
    """Warn that hyperparameter ``name`` was clipped to ``value`` by ``above`` (level ``k``,
    whose rate is ``lr``)."""
    warnings.warn(
        f"StackedOptimizer: hyperparameter {name} was clipped to {value:.8g}: the "
        f"{above} above it (level {k}, lr {lr!r}) moves it too far; give that level "
        "a smaller lr",
        RuntimeWarning,
        stacklevel=user_stacklevel(),  # the caller of step(), past torch's wrappers
    )


def stack(*levels: Any, history_size: int | None = LR_HISTORY_SIZE) -> StackFactory:
    """A factory for a stacked optimizer: ``stack("adam", "adam")(model.parameters())``.

    Args:
        levels: The base optimizer, then its hyperoptimizers (see :class:`StackedOptimizer`).
        history_size: As :class:`StackedOptimizer`'s.

    Returns:
        A callable taking params (like a ``torch.optim`` class) and returning the optimizer.
    """
    if not levels:
        raise InputError("stack() needs at least one optimizer, got none")
    size = check_positive_int("history_size", history_size, allow_none=True)
    return StackFactory([as_level(s) for s in levels], size)  # fail early on bad names


class StackFactory:
    """What :func:`stack` returns: called with params, it makes the stacked optimizer. A class
    rather than a closure, so that it pickles (into a worker process, a checkpoint).

    Args:
        levels: The checked levels, base optimizer first.
        history_size: The optimizers' ``history_size``.
    """

    def __init__(self, levels: list[Level], history_size: int | None = LR_HISTORY_SIZE) -> None:
        self.levels = levels
        self.history_size = history_size

    def __call__(self, params: Iterable[Any]) -> StackedOptimizer:
        size = getattr(self, "history_size", LR_HISTORY_SIZE)  # (a factory pickled before)
        return StackedOptimizer(params, self.levels, history_size=size)

    def __repr__(self) -> str:
        return f"stack({', '.join(lv.name for lv in self.levels)})"
