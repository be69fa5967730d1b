"""Self-tuning members: the task's Adam or SGD swapped for its hypergradient twin.

With ``hypergradient=True`` every optimizer a task builds in
:meth:`~hyperlab.tasks.Task.train_segment` is replaced by :class:`~hyperlab.hypergrad.AdamHD`
or :class:`~hyperlab.hypergrad.SGDHD` with the same param groups and settings, so each member
learns its rate by gradient inside a segment while the population explores the rest. The
learned rate lives in the optimizer's state, so it is carried by the member's state, copied on
exploit, and reported at each segment's end in the schedule (``learned``).
"""

from __future__ import annotations

from typing import Any

from hyperlab.errors import InputError, InputTypeError


def hypergradient_twin(optimizer: Any) -> Any:
    """The hypergradient twin of a ``torch.optim.Adam`` or ``torch.optim.SGD``; the state of
    one that has stepped (Adam's moments, SGD's momentum) is carried over, so the twin goes on
    where it stopped.

    Raises:
        InputTypeError: ``optimizer`` is not a ``torch.optim.Optimizer``.
        InputError: Another optimizer, settings the twin lacks (AMSGrad, maximize,
            dampening, Adam's decoupled weight decay), or a state the twin cannot read.
    """
    import torch

    from hyperlab.hypergrad.hd import HDOptimizer

    if not isinstance(optimizer, torch.optim.Optimizer):
        raise InputTypeError(
            f"hypergradient_twin takes a torch.optim.Adam or SGD, got {optimizer!r}"
        )
    if isinstance(optimizer, HDOptimizer):
        return optimizer
    twin = _fresh_twin(optimizer)
    _carry_state(optimizer, twin)
    return twin


def _fresh_twin(optimizer: Any) -> Any:
    """The twin of ``optimizer``'s param groups and settings, with an empty state."""
    import torch

    from hyperlab.hypergrad.hd import SGDHD, AdamHD

    groups = optimizer.param_groups
    kind = type(optimizer)
    decoupled = kind is torch.optim.Adam and any(
        g.get("decoupled_weight_decay") and g["weight_decay"] for g in groups
    )
    if decoupled:  # the twin's weight decay is Adam's L2 one: it would change the training
        raise InputError(
            "self-tuning members swap torch.optim.Adam for AdamHD, whose weight decay is "
            "Adam's L2 penalty; the task built Adam with decoupled_weight_decay=True (AdamW's "
            "decay), which the swap would silently change: build Adam without it, or leave "
            "hypergradient off"
        )
    if kind is torch.optim.Adam and not any(g["amsgrad"] or g["maximize"] for g in groups):
        keys = ("lr", "betas", "eps", "weight_decay")
        return AdamHD([{"params": g["params"], **{k: g[k] for k in keys}} for g in groups])
    if kind is torch.optim.SGD and not any(g["dampening"] or g["maximize"] for g in groups):
        keys = ("lr", "momentum", "weight_decay", "nesterov")
        return SGDHD([{"params": g["params"], **{k: g[k] for k in keys}} for g in groups])
    raise InputError(
        f"self-tuning members need torch.optim.Adam (no AMSGrad) or SGD (no dampening) to "
        f"swap for a hypergradient twin; the task built {kind.__name__}"
    )


#: The per-parameter state entries each twin reads (``torch.optim``'s own names).
_STATE_KEYS = {"AdamHD": {"step", "exp_avg", "exp_avg_sq"}, "SGDHD": {"momentum_buffer"}}


def _carry_state(optimizer: Any, twin: Any) -> None:
    """Copy ``optimizer``'s per-parameter state into ``twin`` (a step count as an int, as the
    twin counts); a state with entries the twin does not read is refused by name."""
    import torch

    known = _STATE_KEYS[type(twin).__name__]
    for p, state in optimizer.state.items():
        odd = sorted(set(state) - known)
        if odd:
            raise InputError(
                f"the {type(optimizer).__name__} to swap for {type(twin).__name__} has state "
                f"entries {odd} the twin does not read (it reads {sorted(known)}): swap it "
                "before its first step"
            )
        twin.state[p] = {
            k: int(v) if k == "step" else v.clone() if isinstance(v, torch.Tensor) else v
            for k, v in state.items()
        }
