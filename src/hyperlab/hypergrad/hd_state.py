"""Checking a saved state before an hd optimizer (:class:`~hyperlab.hypergrad.hd.HDOptimizer`)
loads it: the learned-rate history, the kind of optimizer that saved it, and a plain
``torch.optim`` state given this optimizer's hypergradient settings; and the settings one
global rate needs to be the same in every group."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from hyperlab.errors import InputError, check_bool
from hyperlab.hypergrad.guards import (
    UNSUPPORTED,
    check_saved_numbers,
    check_state_dict,
    check_state_entries,
    check_state_kind,
    check_state_tensors,
    refuse_unsupported,
    short_repr,
    without_derivatives,
)

if TYPE_CHECKING:
    from hyperlab.hypergrad.hd import HDOptimizer

#: Hypergradient settings stored in every param group.
HD_KEYS = ("hyper_lr", "multiplicative", "normalize", "target_cosine")


class CheckedState(NamedTuple):
    """A state ready for ``torch.optim``'s loader, and what the hd optimizer keeps itself."""

    state: dict[str, Any]
    lr_history: list[list[float]]
    lr_history_offset: list[int]
    per_group: bool


def checked_state(optimizer: HDOptimizer, state_dict: Any) -> CheckedState:
    """``state_dict`` checked for ``optimizer`` (an hd optimizer), nothing loaded yet.

    A state without ``lr_history`` is no hd optimizer's: its stored directions are stale and
    dropped. A plain ``torch.optim`` state of as many groups takes ``optimizer``'s
    hypergradient settings.

    Raises:
        InputTypeError, InputError: as :meth:`HDOptimizer.load_state_dict` says.
    """
    owner = type(optimizer).__name__
    check_state_dict(owner, state_dict)
    own = "lr_history" in state_dict
    state = dict(state_dict) if own else without_derivatives(state_dict)
    history, offset = checked_history(
        owner,
        state.pop("lr_history", None),
        state.pop("lr_history_offset", None),
        state.get("param_groups"),
    )
    per_group = check_bool("per_group", state.pop("per_group", optimizer.per_group))
    groups = state.get("param_groups")
    groups = groups if isinstance(groups, list) else []
    plain = bool(groups) and not any("hyper_lr" in g for g in groups)
    if plain and len(groups) == len(optimizer.param_groups):
        state["param_groups"] = [
            {**{k: mine[k] for k in (*HD_KEYS, "hypergrad") if k in mine}, **dict(theirs)}
            for mine, theirs in zip(optimizer.param_groups, groups)
        ]
    needed = [k for k in optimizer.defaults if k not in (*HD_KEYS, "hypergrad", *UNSUPPORTED)]
    check_state_kind(owner, state.get("param_groups"), needed)
    for i, group in enumerate(groups):
        refuse_unsupported(owner, group, f"param group {i} of the state")
    check_state_entries(owner, state.get("state"), optimizer.STATE_KEYS)
    check_state_tensors(owner, state, optimizer)
    return CheckedState(state, history, offset, per_group)


def refuse_mixed_settings(group: dict[str, Any], first: dict[str, Any]) -> None:
    """Refuse a group whose hypergradient settings differ from the first group's, where one
    global rate is learned (``per_group=False``)."""
    for key in HD_KEYS:
        if group[key] != first[key]:
            raise InputError(
                f"with one global rate (per_group=False) every group needs the same "
                f"{key}; got {group[key]!r} and {first[key]!r} (group 0's): set it in "
                "every group, or learn one rate per group (per_group=True)"
            )


def checked_history(
    owner: str, history: Any, offset: Any, groups: Any
) -> tuple[list[list[float]], list[int]]:
    """A state's ``lr_history`` and ``lr_history_offset`` as fresh lists, one per param group
    of the state (empty and zeros when it has none: a plain ``torch.optim`` state, or one
    saved before the offsets were kept).

    Raises:
        InputError: either is not one entry per group (lists of finite rates, and counts
            >= 0).
    """
    n = len(groups) if isinstance(groups, list) else 0
    history = [[] for _ in range(n)] if history is None else history
    offset = [0] * n if offset is None else offset
    ok = (
        isinstance(history, list | tuple)
        and len(history) == n
        and all(isinstance(h, list | tuple) for h in history)
        and isinstance(offset, list | tuple)
        and len(offset) == n
        and all(isinstance(k, int) and not isinstance(k, bool) and k >= 0 for k in offset)
    )
    if not ok:
        raise InputError(
            f"{owner}.load_state_dict: the state's lr_history must be one list of rates per "
            f"param group ({n}) and its lr_history_offset one count >= 0 per group, got "
            f"{short_repr(history)} and {short_repr(offset)}; nothing was loaded"
        )
    rates = ((f"[{g}][{i}]", r) for g, h in enumerate(history) for i, r in enumerate(h))
    check_saved_numbers(owner, "lr_history", rates, rates=True)
    return [[float(r) for r in h] for h in history], [int(k) for k in offset]
