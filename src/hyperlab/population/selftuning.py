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

from hyperlab.errors import InputError


def hypergradient_twin(optimizer: Any) -> Any:
    """The hypergradient twin of a fresh ``torch.optim.Adam`` or ``torch.optim.SGD``.

    Raises:
        InputError: Another optimizer, or settings the twin lacks (AMSGrad, maximize,
            dampening, Adam's decoupled weight decay).
    """
    import torch

    from hyperlab.hypergrad.hd import SGDHD, AdamHD, HDOptimizer

    if isinstance(optimizer, HDOptimizer):
        return optimizer
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
