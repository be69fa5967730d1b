"""Checks shared by the trainers' ``load_state_dict``: a state is refused, naming what differs,
before anything of it is loaded, so that a refused state leaves the trainer as it was.

A trainer's state names its kind (``"trainer": "STNTrainer"``; a ``HyperTrainer`` state saved
before states named theirs is told by its keys); its model's and its optimizers' states must have
this trainer's keys, shapes and dtypes; its history must have the fields of this trainer's
history.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

import torch
from torch import Tensor, nn

from hyperlab.errors import InputError, InputTypeError, listed, with_article

__all__ = [
    "HYPER_TRAINER_KEYS",
    "check_dtype",
    "check_entries",
    "check_history",
    "check_module_state",
    "check_optimizer_state",
    "check_step",
    "check_trainer_state",
    "load_optimizer",
    "saved_kind",
]

H = TypeVar("H")

HYPER_TRAINER_KEYS = ("step", "tune", "hyperparameters", "hyper_opt", "history")
"""The keys of a ``HyperTrainer`` state besides its kind, which its states saved before the
other trainers could be saved do not name."""


def check_trainer_state(state: Any, kind: str, keys: Sequence[str]) -> Mapping[str, Any]:
    """``state`` if it is a mapping of ``kind``'s ``state_dict`` with every one of ``keys``.

    Raises:
        InputTypeError: ``state`` is not a mapping, or is the state of another kind of trainer
            (named) or of an optimizer, or lacks some of ``keys`` (named).
    """
    if not isinstance(state, Mapping):
        raise InputTypeError(
            f"{with_article(kind)} state is the mapping {kind}.state_dict() returns, got "
            f"{type(state).__name__}"
        )
    theirs = saved_kind(state)
    if "trainer" not in state and all(k in state for k in keys):
        theirs = kind  # (an unnamed state with its keys: an old HyperTrainer one, or a subclass's)
    if theirs not in (None, kind):
        raise InputTypeError(
            f"this state was saved by {theirs}.state_dict(), not by {kind}.state_dict(): "
            f"load it with {theirs}.load_state_dict; nothing was loaded"
        )
    if theirs is None and "param_groups" in state and "state" in state:
        raise InputTypeError(
            f"this state was saved by an optimizer's state_dict() (param_groups and state), not "
            f"by {kind}.state_dict(), which holds its optimizers' states; nothing was loaded"
        )
    missing = [k for k in keys if k not in state]
    if missing:
        raise InputTypeError(
            f"{with_article(kind)} state is the mapping {kind}.state_dict() returns (keys "
            f"{list(keys)}); "
            f"this one lacks {missing} (its keys: {sorted(map(str, state))}); nothing was loaded"
        )
    return state


def saved_kind(state: Mapping[str, Any]) -> Any:
    """The kind of trainer whose ``state_dict`` ``state`` is: the one it names, else
    ``"HyperTrainer"`` for one with :data:`HYPER_TRAINER_KEYS` (its states named no kind before
    the other trainers could be saved), else ``None``."""
    if "trainer" in state:
        return state["trainer"]
    return "HyperTrainer" if all(k in state for k in HYPER_TRAINER_KEYS) else None


def check_step(kind: str, name: str, value: Any) -> int:
    """A saved counter as an ``int`` (a bool or a negative number is refused).

    Raises:
        InputError: ``value`` is not an integer >= 0.
    """
    if isinstance(value, Tensor) and value.numel() == 1 and not value.is_floating_point():
        value = int(value.item())
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"{kind} state: {name} must be an integer >= 0, got {value!r}")
    return value


def check_dtype(what: str, saved: Tensor, ours: str, dtype: torch.dtype) -> None:
    """Refuse a saved tensor whose dtype is not ``dtype``, the one it would be loaded into:
    torch converts it without a word, and a resumed run would go on in another precision
    (most likely a model made in the other one by mistake).

    Args:
        what: The saved tensor, for the message ("STNTrainer state: its model's 'hyper'").
        saved: The saved tensor.
        ours: What it would be loaded into, for the message ("this trainer's model's").
        dtype: The dtype of that.

    Raises:
        InputError: naming the tensor and both dtypes; nothing was loaded.
    """
    if saved.dtype != dtype:
        raise InputError(
            f"{what} is {saved.dtype}, {ours} {dtype}: the state was saved in another precision "
            f"(to resume the run, make the model in {saved.dtype}; to change precision on "
            f"purpose, convert the state's floating-point tensors to {dtype} first); nothing "
            "was loaded"
        )


def check_module_state(kind: str, theirs: Any, module: nn.Module) -> None:
    """Refuse a saved ``module.state_dict()`` whose keys, shapes or dtypes are not
    ``module``'s.

    Raises:
        InputError: naming the missing and unexpected keys and the shapes that differ, or the
            first tensor of another dtype.
    """
    ours = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    if not isinstance(theirs, Mapping):
        raise InputError(f"{kind} state: the model's state must be a mapping, got {theirs!r:.80}")
    saved = {str(k): _shape(v) for k, v in theirs.items()}
    differences = _differences(saved, ours)
    if differences:
        raise InputError(
            f"{kind} state: its model is not this trainer's {type(module).__name__} ("
            + "; ".join(differences)
            + "); nothing was loaded"
        )
    named = {str(k): v for k, v in theirs.items()}
    for key, value in module.state_dict().items():
        where = f"{kind} state: its model's {key!r}"
        check_dtype(where, named[key], "this trainer's model's", value.dtype)


def check_optimizer_state(kind: str, name: str, theirs: Any, opt: torch.optim.Optimizer) -> None:
    """Refuse a saved ``opt.state_dict()`` whose groups or per-parameter tensors do not fit
    ``opt`` (another model's optimizer): ``torch.optim`` would fail inside, or load moments of
    the wrong shape.

    Raises:
        InputError: naming the optimizer, the group or parameter and what differs.
    """
    groups = theirs.get("param_groups") if isinstance(theirs, Mapping) else None
    per_param = theirs.get("state") if isinstance(theirs, Mapping) else None
    if not isinstance(groups, list) or not isinstance(per_param, Mapping):
        raise InputError(
            f"{kind} state: {name} must be a torch.optim state dict (param_groups and state), "
            f"got {theirs!r:.80}"
        )
    ours = [len(g["params"]) for g in opt.param_groups]
    sizes = [_group_size(g) for g in groups]
    if sizes != ours:
        odd = " (-1: not a list of parameter ids)" if -1 in sizes else ""
        raise InputError(
            f"{kind} state: {name} has param groups of {sizes} parameters{odd}, this trainer's "
            f"have {ours}; nothing was loaded"
        )
    params = [p for g in opt.param_groups for p in g["params"]]
    ids = [i for g in groups for i in g["params"]]
    for key, entries in per_param.items():
        if key not in ids:
            raise InputError(f"{kind} state: {name} holds a state for unknown parameter {key!r}")
        if not isinstance(entries, Mapping):
            raise InputError(
                f"{kind} state: {name}'s state of parameter {key!r} must be a mapping of its "
                f"tensors, got {entries!r:.80}; nothing was loaded"
            )
        check_entries(f"{kind} state: {name}'s", key, entries, params[ids.index(key)])


def _group_size(group: Any) -> int:
    """How many parameter ids a saved param group lists (-1 when it is not such a group)."""
    ids = group.get("params") if isinstance(group, Mapping) else None
    return len(ids) if isinstance(ids, list | tuple) else -1


def check_entries(where: str, key: Any, entries: Mapping[str, Any], param: Tensor) -> None:
    """Refuse a parameter's saved optimizer entries that its next step could not use: each is
    a tensor of the parameter's shape and, if floating-point, dtype (a moment, a momentum
    buffer), but ``step``, a count (a number or a one-element tensor). The one check of the
    trainers' optimizers and of hyperlab's optimizers (which give it their tensors only).

    Args:
        where: The start of the message ("STNTrainer state: weight_opt's").
        key: The parameter's id in the state.
        entries: Its saved entries, by name.
        param: The parameter they would be loaded for.

    Raises:
        InputError: naming the entry, the parameter and what it holds.
    """
    shape = tuple(param.shape)
    for entry, value in entries.items():
        if entry == "step":
            one = isinstance(value, Tensor) and value.numel() == 1
            if not one and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise InputError(
                    f"{where} 'step' of parameter {key} must be a count, got {value!r:.80}; "
                    "nothing was loaded"
                )
        elif not isinstance(value, Tensor):
            raise InputError(
                f"{where} {entry!r} of parameter {key} must be a tensor of shape {shape}, got "
                f"{type(value).__name__} {value!r:.60}; nothing was loaded"
            )
        elif tuple(value.shape) != shape:
            raise InputError(
                f"{where} {entry!r} of parameter {key} has shape "
                f"{tuple(value.shape)}, the parameter {shape}; nothing was loaded"
            )
        elif value.is_floating_point():
            check_dtype(
                f"{where} {entry!r} of parameter {key}", value, "the parameter", param.dtype
            )


def load_optimizer(opt: torch.optim.Optimizer, state: Mapping[str, Any]) -> None:
    """Load a checked state into ``opt``, keeping ``opt``'s settings (rates, weight decay):
    as for :class:`~hyperlab.hypergrad.trainer.HyperTrainer`, they are the trainer's."""
    settings = [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
    opt.load_state_dict(dict(state))
    for group, mine in zip(opt.param_groups, settings):
        group.update(mine)


def restore_model_and_optimizers(
    kind: str,
    state: Mapping[str, Any],
    model: nn.Module,
    optimizers: Mapping[str, torch.optim.Optimizer],
    history: type[H],
    check_more: Callable[[], None] | None = None,
) -> H:
    """Check ``state``'s model, then ``check_more`` (the trainer's own checks, which may read
    the model's layers), its optimizers (one per key of ``optimizers``) and its history, then
    load the model and the optimizers; return the history. Nothing is loaded unless all of them
    are this trainer's.

    Raises:
        InputError: The model's keys or shapes, an optimizer's state or the history are not
            this trainer's (named in the message).
    """
    check_module_state(kind, state["model"], model)
    if check_more is not None:
        check_more()
    for key, opt in optimizers.items():
        check_optimizer_state(kind, key, state[key], opt)
    restored = check_history(kind, history, state["history"])
    model.load_state_dict(dict(state["model"]))
    for key, opt in optimizers.items():
        load_optimizer(opt, state[key])
    return restored


def check_history(kind: str, cls: type[H], data: Any) -> H:
    """A fresh ``cls`` (a history dataclass) from its saved ``dataclasses.asdict`` form.

    Each field must be of the kind its annotation declares: a list (one entry per step) or a
    mapping of lists by name, whose entries are integers where it declares ``int`` (the steps)
    and numbers where it declares ``float`` (a bool, text or ``None`` is no number; the next
    step, a plot, a summary would fail on it or read it wrong).

    A number may be NaN or infinite in every ``float`` field, the hyperparameters' values and
    the mixture weights as much as the losses: the trainers record them as they are, and a
    state a trainer saved must load back. A diverged run records NaN losses in all three (and
    a :class:`~hyperlab.hypergrad.trainer.HyperTrainer` NaN hypergradients); the trainers
    skip a hyper step on a non-finite hypergradient (:mod:`~hyperlab.hypergrad.finite`), but
    a value in natural units overflows to inf under a large ``hyper_lr`` (``exp`` of its
    logarithm), and a state saved before they skipped such steps may hold NaN values or
    mixture weights.
    (The optimizers' rate histories differ: a rate that is not finite is refused at the step,
    so a saved one is no record of a run.)

    Raises:
        InputError: ``data`` is not a mapping with exactly ``cls``'s fields, or a field or one
            of its entries is not of its kind (named, with its index); nothing was loaded.
    """
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    if not isinstance(data, Mapping) or sorted(map(str, data)) != sorted(names):
        got = sorted(map(str, data)) if isinstance(data, Mapping) else repr(data)[:80]
        raise InputError(
            f"{kind} state: its history must have the fields {names}, got {got}; nothing was loaded"
        )
    hints = get_type_hints(cls)
    for name in names:
        _check_history_field(kind, name, data[name], hints[name])
    return cls(**copy.deepcopy(dict(data)))


def _check_history_field(kind: str, name: str, value: Any, hint: Any) -> None:
    """Refuse a saved history field that is not of its kind (``hint``, its annotation): a
    list (one entry per step), or a mapping of such lists by name; the next step appends to
    it. Then its entries (:func:`_check_history_entry`).

    Raises:
        InputError: naming the field and what it holds.
    """
    by_name = get_origin(hint) is dict
    lists = (
        isinstance(value, Mapping) and all(isinstance(v, list) for v in value.values())
        if by_name
        else isinstance(value, list)
    )
    if not lists:
        what = "a mapping of lists by name" if by_name else "a list"
        raise InputError(
            f"{kind} state: its history's {name!r} must be {what} (one entry per step), got "
            f"{type(value).__name__} {value!r:.60}; nothing was loaded"
        )
    _check_history_entry(kind, repr(name), value, hint)


def _check_history_entry(kind: str, where: str, value: Any, hint: Any) -> None:
    """Refuse an entry of a saved history (``where``: its field and index) that is not what
    ``hint`` declares: a list or a mapping (each of its entries checked in turn), an integer
    (``int``), or a number, NaN and infinities included (``float``; see :func:`check_history`).

    Raises:
        InputError: naming the entry and its value.
    """
    origin = get_origin(hint)
    if origin is list and isinstance(value, list):
        for index, entry in enumerate(value):
            _check_history_entry(kind, f"{where}[{index}]", entry, get_args(hint)[0])
    elif origin is dict and isinstance(value, Mapping):
        for name, entry in value.items():
            _check_history_entry(kind, f"{where}[{name!r}]", entry, get_args(hint)[1])
    elif origin is None and _is_number(value, integer=hint is int):
        return
    else:
        raise InputError(
            f"{kind} state: its history's {where} is {type(value).__name__} {value!r:.60}, not "
            f"{_KINDS[origin or hint]}; nothing was loaded"
        )


_KINDS = {list: "a list", dict: "a mapping", int: "an integer", float: "a number"}


def _is_number(value: Any, *, integer: bool) -> bool:
    """Whether ``value`` is a number (an integer if ``integer``); a bool is neither."""
    return isinstance(value, int if integer else int | float) and not isinstance(value, bool)


def _shape(value: Any) -> tuple[int, ...] | str:
    return tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__


def _differences(saved: Mapping[str, Any], ours: Mapping[str, Any]) -> list[str]:
    """What differs between two ``{key: shape}`` maps, at most a few of each kind."""
    missing = [k for k in ours if k not in saved]
    extra = [k for k in saved if k not in ours]
    shapes = [f"{k} {saved[k]} vs {ours[k]}" for k in ours if k in saved and saved[k] != ours[k]]
    labels = ("missing", "unexpected", "shapes (saved vs this model's)")
    return [
        f"{label}: {listed(items, 5)}"
        for label, items in zip(labels, (missing, extra, shapes))
        if items
    ]
