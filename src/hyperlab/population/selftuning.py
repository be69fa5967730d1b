"""Self-tuning members: the task's Adam or SGD swapped for its hypergradient twin.

With ``hypergradient=True`` every optimizer a task builds in
:meth:`~hyperlab.tasks.Task.train_segment` is replaced by :class:`~hyperlab.hypergrad.AdamHD`
or :class:`~hyperlab.hypergrad.SGDHD` with the same param groups and settings, so each member
learns its rate by gradient inside a segment while the population explores the rest. The
learned rate lives in the optimizer's state, so it is carried by the member's state, copied on
exploit, and reported at each segment's end in the schedule (``learned``): by the task itself, or
else read by the lab from the twins it handed the task (:class:`RecordingWrapper`), or from those
the segment's state holds, so a task of one's own need not report it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from hyperlab.errors import InputError, InputTypeError, TaskContractError

if TYPE_CHECKING:
    from hyperlab.tasks.base import Segment, Task


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


class RecordingWrapper:
    """Hands each optimizer a task builds to ``wrap`` (:func:`hypergradient_twin`) and keeps
    what it returns, so that the rate the twins learned in a segment can be read afterwards
    (:meth:`learned_rate`); counts its calls (a task must make one for its members to learn).
    """

    def __init__(self, wrap: Callable[[Any], Any]) -> None:
        self.wrap, self.calls = wrap, 0
        self._twins: list[tuple[Any, int | None]] = []

    def __call__(self, optimizer: Any) -> Any:
        self.calls += 1
        twin = self.wrap(optimizer)
        self._twins.append((twin, _steps_taken(twin)))
        return twin

    def learned_rate(self) -> float | None:
        """The mean rate of the hypergradient optimizers handed out that stepped since, each
        one's rate that of its param groups (``None``: none did, e.g. the task trained a copy of
        the one it got, or the groups of each run at different rates, one a multiple of the
        learned rate the lab cannot tell: such a task reports ``Segment.learned`` itself)."""
        return _mean_rate(
            [
                twin
                for twin, before in self._twins
                if before is not None and (_steps_taken(twin) or 0) > before
            ]
        )


def check_wrapped(wrapper: RecordingWrapper, task: str, learners: str, instead: str) -> None:
    """Refuse the segment of a fresh model in which ``task`` handed no optimizer to
    ``wrapper`` (``train_segment``'s ``wrap_optimizer``): no rate could be learned, and every
    model would train the same way. ``learners`` says whose rate that is (``"its self-tuning
    members"``), ``instead`` what else the user may do (``"leave hypergradient off"``).

    Raises:
        TaskContractError: ``wrapper`` was not called.
    """
    if not wrapper.calls:
        raise TaskContractError(
            f"task {task!r} trained a fresh model without passing its optimizer through "
            f"train_segment's wrap_optimizer, so {learners} cannot learn their rate: call "
            "wrap_optimizer(optimizer) on each optimizer it builds (docs/your-model.md, "
            f"section 6, in a checkout of hyperlab's source), or {instead}"
        )


def learning_rate_of(task: Task, tuner: str) -> str:
    """The name of ``task``'s learning rate (its ``learning_rate_param``), which the
    hypergradient optimizers of ``tuner`` (``"'tpe-hd'"``, ``"'pbt' with hypergradient=true"``)
    learn, after checking that it names one of its search space.

    Raises:
        InputError: The task names no ``learning_rate_param``, or one not in its space.
    """
    name = task.learning_rate_param
    if name is None:
        raise InputError(
            f"task {task.name!r} names no learning_rate_param, so {tuner} has no rate to "
            "learn: set it to the parameter that is the learning rate of the optimizers its "
            "train_segment passes through wrap_optimizer "
            "(docs/your-model.md, section 6, in a checkout of hyperlab's source)"
        )
    if name not in task.distributions():
        raise InputError(
            f"learning_rate_param {name!r} of task {task.name!r} is not in its search space, "
            f"so {tuner} has no rate to start from: name the parameter of its space that is "
            "the learning rate (docs/your-model.md, section 6, in a checkout of hyperlab's source)"
        )
    return name


def _common_rate(optimizer: Any) -> float | None:
    """The rate all of ``optimizer``'s param groups run at (``None``: they differ)."""
    rates = [float(group["lr"]) for group in optimizer.param_groups]
    if max(rates) - min(rates) > 1e-9 * max(abs(r) for r in rates):
        return None
    return rates[0]


def _steps_taken(optimizer: Any) -> int | None:
    """The steps a hypergradient optimizer has taken (``None``: it is none)."""
    from hyperlab.hypergrad.hd import HDOptimizer

    if not isinstance(optimizer, HDOptimizer):
        return None
    return sum(o + len(h) for o, h in zip(optimizer.lr_history_offset, optimizer.lr_history))


def with_learned_rate(task: Task, segment: Segment, wrapper: Any) -> Segment:
    """``segment`` with the rate its hypergradient optimizers learned as ``learned[name]``,
    ``name`` being ``task``'s ``learning_rate_param``, when the task did not report it itself
    and ``wrapper`` (a :class:`RecordingWrapper`) saw one of them step; else, when the state
    the segment returns holds stepped ones (a task that wrapped its optimizer only when it
    built it, or before copying it), their rate."""
    name = task.learning_rate_param
    if name is None or name in segment.learned or not isinstance(wrapper, RecordingWrapper):
        return segment
    rate = wrapper.learned_rate()
    if rate is None:
        rate = _mean_rate(_twins_in(segment.state, _STATE_DEPTH))
    if rate is None:
        return segment
    return replace(segment, learned={**segment.learned, name: rate})


#: How deep :func:`_twins_in` looks into a state's dicts, lists and tuples, and how many of
#: each one's items it reads (a state is a few named parts: a model, its optimizer, per fold).
_STATE_DEPTH, _STATE_ITEMS = 3, 64


def _twins_in(state: Any, depth: int) -> list[Any]:
    """The hypergradient optimizers that have stepped held in ``state``, itself or in its
    dicts, lists and tuples down to ``depth`` levels."""
    if (_steps_taken(state) or 0) > 0:
        return [state]
    if depth == 0:
        return []
    if isinstance(state, dict):
        items = list(state.values())[:_STATE_ITEMS]
    elif isinstance(state, list | tuple):
        items = list(state[:_STATE_ITEMS])
    else:
        return []
    return [twin for item in items for twin in _twins_in(item, depth - 1)]


def _mean_rate(optimizers: list[Any]) -> float | None:
    """The mean of the optimizers' rates (:func:`_common_rate`; ``None``: none has one)."""
    rates = [r for r in map(_common_rate, optimizers) if r is not None]
    return sum(rates) / len(rates) if rates else None
