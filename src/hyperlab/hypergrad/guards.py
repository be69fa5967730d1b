"""What hyperlab's optimizers share (the hypergradient optimizers of :mod:`hd` and the stacks
of :mod:`stack`): the checks of their parameters and of a state being loaded, the settings of
``torch.optim`` they refuse, the rate's ceiling, and Adam's moments."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

from hyperlab.errors import InputError, InputTypeError, check_nonneg, user_stacklevel
from hyperlab.hypergrad.checkpoint import check_entries, saved_kind

# A learned rate is never raised above this (a runaway, e.g. under a constant gradient, would
# otherwise overflow float32 parameters).
MAX_LR = 1e12
# torch.optim settings not implemented here, with the one value honoured and why.
UNSUPPORTED: dict[str, tuple[Any, str]] = {
    "decoupled_weight_decay": (
        False,
        "weight_decay here is L2, added to the gradient as in Adam, not AdamW's decoupled decay",
    ),
    "amsgrad": (False, "AMSGrad's running maximum is not kept"),
    "maximize": (False, "to maximize, descend the negated objective"),
    "dampening": (0, "momentum here is undampened"),
}
# The keyword arguments of torch.optim's SGD and Adam that the hypergradient optimizers
# lack, with the values that mean what they do anyway (torch's defaults) and why others are
# not supported.
TORCH_KEYWORDS: dict[str, tuple[tuple[Any, ...], str]] = {
    **{key: ((honoured,), why) for key, (honoured, why) in UNSUPPORTED.items()},
    "foreach": ((None, False), "it steps tensor by tensor"),
    "fused": ((None, False), "it steps tensor by tensor"),
    "capturable": ((False,), "its learned rate is a Python number, which no CUDA graph captures"),
    "differentiable": ((False,), "its step runs without autograd"),
    "nesterov": ((True,), "SGDNHD is always Nesterov; SGDHD takes nesterov"),
}
#: The keywords of ``torch.optim.SGD`` and ``torch.optim.Adam`` that SGDHD and AdamHD lack.
SGD_KEYWORDS = ("dampening", "maximize", "foreach", "differentiable", "fused")
ADAM_KEYWORDS = (
    "amsgrad",
    "foreach",
    "maximize",
    "capturable",
    "differentiable",
    "fused",
    "decoupled_weight_decay",
)


# The per-parameter state entries of torch.optim's SGD and Adam plus the derivatives these
# optimizers and the stacks store (each loads the other's state: the other's go unread).
_DERIVATIVES = ("hd_dir", "d_lr", "d_momentum", "d_beta1", "d_beta2")
SGD_STATE = ("momentum_buffer", *_DERIVATIVES)
ADAM_STATE = ("step", "exp_avg", "exp_avg_sq", *_DERIVATIVES)


def check_state_dict(owner: str, state: Any) -> None:
    """Refuse what is not an optimizer's state dict (``param_groups`` and ``state``) by what it
    is: a trainer's state by its kind (the optimizers' states are inside it), anything else by
    its keys or type; ``torch.optim`` failed on it inside (a ``KeyError``, a ``TypeError``).

    Raises:
        InputTypeError: naming the trainer, or what ``state`` holds; nothing was loaded.
    """
    kind = saved_kind(state) if isinstance(state, Mapping) else None
    if kind is not None:
        raise InputTypeError(
            f"{owner}.load_state_dict: this state was saved by {kind}.state_dict(), not by an "
            f"optimizer's: load it with {kind}.load_state_dict; nothing was loaded"
        )
    groups = state.get("param_groups") if isinstance(state, Mapping) else None
    if not isinstance(groups, list) or not isinstance(state.get("state"), Mapping):
        got = (
            f"the keys {sorted(map(str, state))}"
            if isinstance(state, Mapping)
            else short_repr(state)
        )
        raise InputTypeError(
            f"{owner}.load_state_dict takes the mapping {owner}.state_dict() returns "
            f"(param_groups, a list, and state, a mapping), got {got}; nothing was loaded"
        )


def check_state_tensors(owner: str, state: Mapping[str, Any], opt: Optimizer) -> None:
    """Refuse a state whose per-parameter entries (moments, buffers, derivatives) do not fit
    their parameters (the trainers' check, :func:`~hyperlab.hypergrad.checkpoint.check_entries`):
    not a tensor (a list, a float, ``None``), ``torch.optim`` loads it, and the next step fails
    inside or, for ``None``, starts that moment afresh without a word; of another shape, the
    state was saved for another model (the next step fails inside); of another floating-point
    dtype, it was saved in another precision (``torch.optim`` converts it without a word). A
    parameter's entries must be a mapping. A ``step`` is a count, and may be a float32 tensor
    (``torch.optim.Adam`` keeps it so) of one element. A ``momentum_buffer`` of ``None`` in a
    group whose momentum is 0 loads: older ``torch.optim.SGD`` saved one so for every
    parameter (there is no buffer, and the step keeps none). A state whose groups are not this
    optimizer's sizes is left to the optimizer (``torch.optim`` refuses it, naming them).

    Raises:
        InputError: naming the entry, the parameter and what it holds, or both shapes or
            dtypes; nothing was loaded.
    """
    groups = [g.get("params") if isinstance(g, Mapping) else None for g in state["param_groups"]]
    ids = [i for g in groups if isinstance(g, list | tuple) for i in g]
    params = [p for g in opt.param_groups for p in g["params"]]
    if len(ids) != len(params) or not all(isinstance(i, int) for i in ids):
        return
    by_id = dict(zip(ids, params))
    saved = [
        g for g, ids_of in zip(state["param_groups"], groups) if isinstance(ids_of, list | tuple)
    ]
    without_momentum = {i for g in saved if _no_momentum(g.get("momentum", 0)) for i in g["params"]}
    for key, entries in state["state"].items():
        if key not in by_id:
            continue
        if not isinstance(entries, Mapping):
            raise InputError(
                f"{owner}.load_state_dict: the state of parameter {key} must be a mapping of its "
                f"tensors (moments, buffers), got {short_repr(entries)}; nothing was loaded"
            )
        unset = key in without_momentum and entries.get("momentum_buffer", 0) is None
        checked = {k: v for k, v in entries.items() if not (unset and k == "momentum_buffer")}
        check_entries(f"{owner}.load_state_dict: the state's", key, checked, by_id[key])


def without_derivatives(state: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``state`` (an optimizer's state dict) whose parameters keep no stored
    derivative (``hd_dir``, ``d_lr``...). For a state these optimizers did not save (one of
    ``torch.optim``): a derivative in it was carried through that optimizer's steps unread,
    and describes a step long past, so the first hypergradient after loading would pair the
    current gradient with a stale direction. Without one, the parameter adds nothing to that
    hypergradient, as at a run's first step."""
    entries = state["state"]
    return {
        **state,
        "state": {
            key: (
                {k: v for k, v in value.items() if k not in _DERIVATIVES}
                if isinstance(value, Mapping)
                else value
            )
            for key, value in entries.items()
        },
    }


def _no_momentum(value: Any) -> bool:
    """Whether a saved group's ``momentum`` is 0 (a bool is no momentum)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and value == 0


def check_saved_numbers(
    owner: str, field: str, entries: Iterable[tuple[str, Any]], *, rates: bool = False
) -> None:
    """Refuse a saved history entry that is not a finite number: a bool (``True`` would read
    as a rate of 1), NaN or an infinity, text. The optimizers record only the finite values
    they stepped with (a rate written as NaN is refused at the step), so such an entry is no
    record of a run. Nor is a negative rate: one written below 0 is refused at the step, and
    a learned rate never goes below 0 (the additive rule stops at 0, the multiplicative one
    and a stack's log coordinates cannot cross it). A rate above ``MAX_LR`` can be a record
    (one the user wrote, stepped with before any hypergradient moved it) and loads.

    Args:
        owner: The loading optimizer's name, for the message.
        field: The state's field, for the message (``lr_history``).
        entries: Each entry's place in the field (``[0][3]``) and its value.
        rates: The entries are learning rates (refused below 0 too).

    Raises:
        InputError: naming the field, the entry and its value; nothing was loaded.
    """
    for where, value in entries:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not math.isfinite(value):
            raise InputError(
                f"{owner}.load_state_dict: the state's {field}{where} is {short_repr(value)}, not a "
                "finite number (the optimizer records the values it stepped with); nothing was "
                "loaded"
            )
        if rates and value < 0:
            raise InputError(
                f"{owner}.load_state_dict: the state's {field}{where} is {short_repr(value)}, a "
                f"negative learning rate, which {owner} never steps with (it refuses one "
                "written below 0, and a learned rate stays >= 0); nothing was loaded"
            )


def check_state_kind(owner: str, groups: Any, needed: Iterable[str]) -> None:
    """Refuse a state's param groups that lack a setting in ``needed``: they were saved by
    another kind of optimizer (an SGD state into an Adam), and its step would fail halfway.

    Args:
        owner: The loading optimizer's name, for the message.
        groups: The state's ``param_groups``.
        needed: The settings each group must have.

    Raises:
        InputError: a group lacks one; nothing was loaded.
    """
    needed = sorted(needed)
    for i, group in enumerate(groups if isinstance(groups, list) else []):
        missing = [k for k in needed if isinstance(group, dict) and k not in group]
        if missing:
            raise InputError(
                f"{owner}.load_state_dict: param group {i} of the state lacks {missing}: it was "
                f"saved by another kind of optimizer (this one needs {needed}); nothing was "
                "loaded"
            )


def refuse_unsupported(owner: str, group: Any, where: str = "a param group") -> None:
    """Refuse a param group that asks for a ``torch.optim`` setting these optimizers do not
    implement (AdamW's decoupled decay, AMSGrad, ``maximize``, SGD's dampening), as a plain
    ``torch.optim`` state does: loaded, the setting would be dropped without a word.

    Raises:
        InputError: naming the setting and ``where`` the group is.
    """
    for key, (honoured, why) in UNSUPPORTED.items():
        if isinstance(group, dict) and group.get(key, honoured) != honoured:
            raise InputError(
                f"{owner}: {where} asks for {key}={group[key]!r}, which {owner} does not "
                f"implement ({why}); refused"
            )


def refuse_torch_keywords(
    owner: str, counterpart: str, options: Mapping[str, Any], known: Iterable[str]
) -> None:
    """Refuse the keyword arguments ``options`` that ``owner`` took as its ``torch.optim``
    ``counterpart`` takes them (``known``: those ``owner`` lacks) unless they ask for what
    ``owner`` does anyway (``amsgrad=False``, ``foreach=None``).

    Raises:
        TypeError: A keyword that is not one of ``known``, as Python words it.
        InputError: naming the option and its value, and why it is not supported.
    """
    known = tuple(known)
    for key, value in options.items():
        if key not in known:
            raise TypeError(f"{owner}.__init__() got an unexpected keyword argument {key!r}")
        honoured, why = TORCH_KEYWORDS[key]
        if not any(_means(value, h) for h in honoured):
            raise InputError(
                f"{owner}: {key}={value!r:.60} (a torch.optim.{counterpart} option) is "
                f"not supported by the hypergradient optimizer: {why}"
            )


def _means(value: Any, honoured: Any) -> bool:
    """Whether ``value`` asks for ``honoured`` (a flag is itself only; 0 is any zero number)."""
    if honoured is None or isinstance(honoured, bool):
        return value is honoured
    return isinstance(value, int | float) and not isinstance(value, bool) and value == honoured


def forget_unmoved(opt: Optimizer, group: dict[str, Any], keys: Iterable[str]) -> None:
    """Drop the stored derivatives ``keys`` of the group's parameters that have no gradient
    (a frozen layer, a branch the forward skipped): this step leaves them where they are, so
    the rate of this step reaches the next loss through the others only; a direction kept
    from an older step would add a stale ``g·u`` to the next hypergradient."""
    for p in group["params"]:
        if p.grad is None and p in opt.state:
            for key in keys:
                opt.state[p].pop(key, None)


def read_lr(lr: Any) -> Any:
    """A rate given as a one-element real tensor (which ``torch.optim`` takes) as its Python
    float, so that the rate these optimizers keep and learn stays a float; any other value as
    it is, for the checks of a number that follow.

    Raises:
        InputTypeError: ``lr`` is a tensor of more (or fewer) than one element, or a bool or
            complex one.
    """
    if not isinstance(lr, Tensor):
        return lr
    if lr.numel() != 1:
        raise InputTypeError(
            f"lr must be a number or a one-element tensor, got a tensor of shape {tuple(lr.shape)}"
        )
    if lr.dtype == torch.bool or lr.is_complex():
        raise InputTypeError(f"lr must be a real number, got {lr!r}")
    return float(lr.item())


def check_written_lr(lr: Any) -> float:
    """The rate that a scheduler or the user wrote into a param group, as a float, read at a
    step; one that is not a number >= 0 (text, say) is refused; a one-element tensor is read
    as its number (:func:`read_lr`). A rate of 0 is taken, under the hd optimizers'
    multiplicative rule too: a schedule may drive the rate there and raise it again (their
    ``load_state_dict`` takes it as well; only their constructor refuses a group given with
    ``lr=0``, which that rule could never move).

    Raises:
        InputTypeError: ``lr`` is not a number (a tensor of several elements included).
        InputError: ``lr`` is negative or not finite.
    """
    return check_nonneg("lr", read_lr(lr))


def check_written(
    owner: str, index: int, group: dict[str, Any], check: Callable[[dict[str, Any]], object]
) -> None:
    """Run ``check`` on the settings param group ``index`` (``group``) holds at a step, where
    the user or a scheduler may have written them since the constructor checked them
    (``hyper_lr``, betas, momentum...): one it could not step with would otherwise be used as it is (a negative
    ``hyper_lr`` climbs the loss, a NaN one stops learning without a word) or fail deep inside
    the step (a stack's ``beta2=1``: "math domain error").

    Raises:
        InputError, InputTypeError: ``check``'s error, naming the step and the group.
    """
    try:
        check(group)
    except (InputError, InputTypeError) as e:
        raise type(e)(
            f"{owner}.step: param group {index} now holds a setting it cannot step with: {e}"
        ) from None


def check_state_entries(owner: str, state: Any, known: Iterable[str] | None) -> None:
    """Refuse a state whose per-parameter entries are not all ``known``: it was saved by another
    kind of optimizer whose groups look like this one's (Adamax's ``exp_inf``, NAdam's
    ``mu_product``, RMSprop's ``square_avg``), and would fail at the step or run another rule.

    Raises:
        InputError: naming the entries; nothing was loaded.
    """
    if known is None or not isinstance(state, dict):
        return
    for key, entries in state.items():
        odd = sorted(set(entries) - set(known)) if isinstance(entries, dict) else []
        if odd:
            raise InputError(
                f"{owner}.load_state_dict: the state of parameter {key} holds {odd}, which "
                f"{owner} does not keep (it keeps {sorted(known)}): it was saved by another kind "
                "of optimizer; nothing was loaded"
            )


def refuse_sparse(opt: Optimizer) -> None:
    """Raise if a parameter of ``opt`` has a sparse gradient (the rules need dense ones)."""
    for i, group in enumerate(opt.param_groups):
        for j, p in enumerate(group["params"]):
            if p.grad is not None and p.grad.is_sparse:
                raise InputError(
                    f"{type(opt).__name__} takes dense gradients only; parameter {j} of group "
                    f"{i} ({tuple(p.shape)}) has a sparse one, e.g. from "
                    "nn.Embedding(sparse=True): use sparse=False"
                )


def refuse_complex(owner: str, params: Iterable[Tensor]) -> None:
    """Raise if one of ``params`` is complex (the rules compare real gradients), naming
    ``owner`` and the way to train it (its real view)."""
    if any(p.is_complex() for p in params):
        raise InputError(
            f"{owner} takes real parameters only; a complex one can be trained as its real view "
            "(torch.view_as_real)"
        )


def adam_moments(p: Tensor, state: dict[str, Any]) -> tuple[Tensor, Tensor, int]:
    """Adam's moment buffers of ``p`` (made at its first step) and its step count, advanced by 1.

    Shared by :class:`AdamHD` and the Adam level of :mod:`hyperlab.hypergrad.stack`; the state
    keys are ``torch.optim.Adam``'s (``step``, ``exp_avg``, ``exp_avg_sq``). A step loaded from a
    ``torch.optim.Adam`` state is a float32 tensor: it is read back as a Python number, as torch
    reads it, so that the bias corrections are computed in double precision as before saving.
    """
    if "step" not in state:
        state["step"] = 0
        state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
    step = state["step"]
    state["step"] = (int(step.item()) if isinstance(step, Tensor) else step) + 1
    return state["exp_avg"], state["exp_avg_sq"], state["step"]


def checked_params(owner: str, params: Any) -> list[Any]:
    """``params`` as a list, refusing a module, one tensor, one param group not in a list,
    anything but tensors in it and an empty list by name, and warning (at the line that made
    the optimizer) when no parameter requires a gradient (every step would then change
    nothing)."""
    if isinstance(params, torch.nn.Module) and not isinstance(params, torch.nn.ParameterList):
        raise InputTypeError(
            f"{owner} takes the parameters to train, got the module {type(params).__name__}: "
            f"pass model.parameters()"
        )
    if isinstance(params, Tensor):
        raise InputTypeError(f"{owner} takes a list of parameters, got one tensor: pass [tensor]")
    if isinstance(params, dict):
        raise InputTypeError(
            f"{owner} takes model.parameters() or a list of param groups, got "
            f"{short_repr(params)}: a param group goes in a list, [{{'params': ...}}]"
        )
    if not isinstance(params, Iterable):
        raise InputTypeError(f"{owner} takes the parameters to train, got {short_repr(params)}")
    listed = [_listed_group(item) if isinstance(item, dict) else item for item in params]
    tensors = [p for item in listed for p in (item["params"] if isinstance(item, dict) else [item])]
    if not tensors and isinstance(params, Iterator):
        raise InputError(
            f"{owner} got no parameters to train: the {type(params).__name__} it was given was "
            "empty, used up already if it was model.parameters() given to another optimizer "
            "(or read) before: call model.parameters() again, or keep list(model.parameters())"
        )
    if not tensors:
        raise InputError(f"{owner} got no parameters to train: pass model.parameters()")
    if not any(p.requires_grad for p in _refuse_non_tensors(owner, tensors)):
        n = len(tensors)
        frozen = (
            "its one parameter requires no gradient"
            if n == 1
            else f"none of the {n} parameters requires a gradient"
        )
        warnings.warn(
            f"{owner}: {frozen} (a frozen model): its steps will change nothing",
            RuntimeWarning,
            stacklevel=user_stacklevel(),
        )
    return listed


def _refuse_non_tensors(owner: str, params: list[Any]) -> list[Tensor]:
    """The tensors among the parameters (each alone or named, ``(name, tensor)`` as
    ``model.named_parameters()`` gives), refusing anything else (a module in a list, say)."""
    out: list[Tensor] = []
    for i, p in enumerate(params):
        named = isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str)
        tensor = p[1] if named else p
        if not isinstance(tensor, Tensor):
            hint = ": pass model.parameters()" if isinstance(tensor, torch.nn.Module) else ""
            raise InputTypeError(
                f"{owner} takes tensors to train, got {short_repr(p)} as parameter {i}{hint}"
            )
        out.append(tensor)
    return out


def short_repr(value: Any) -> str:
    """``value``'s type and the start of its repr, for a message."""
    text = " ".join(repr(value).split())  # (a tensor's repr spans lines)
    text = text if len(text) <= 80 else text[:77] + "..."
    return f"{type(value).__name__} {text}"


def _listed_group(group: dict[str, Any]) -> dict[str, Any]:
    """A param group whose ``params`` (a generator, say) is a list, read once."""
    ps = group.get("params", [])
    if not isinstance(ps, Tensor | Iterable):
        raise InputTypeError(f"a param group's params must be tensors, got {short_repr(ps)}")
    return {**group, "params": [ps] if isinstance(ps, Tensor) else list(ps)}
