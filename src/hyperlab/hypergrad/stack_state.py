"""Checks of a saved :class:`~hyperlab.hypergrad.stack.StackedOptimizer` state, run before
anything loads: its history, the levels its hyper state was saved for, the step counts and
hyperoptimizers' moments it holds, and its levels' values, Jacobians and last hypergradients.
Each refuses by name, with ``InputError``."""

from __future__ import annotations

import math
import numbers
from typing import Any

from hyperlab.errors import InputError
from hyperlab.hypergrad.guards import check_saved_numbers


def check_history(owner: str, history: Any) -> None:
    """Refuse a saved ``history`` that is not a list of dicts (one per step) of finite
    numbers, a learned rate (``"g0.lr"``, ``"L1.lr"``) among them also >= 0."""
    if not isinstance(history, list | tuple) or not all(isinstance(h, dict) for h in history):
        raise InputError(
            f"{owner}.load_state_dict: the state's history must be a list of "
            f"dicts (one per step), got {type(history).__name__}; nothing was loaded"
        )
    for rates in (False, True):  # a learned rate ("g0.lr", "L1.lr") is also >= 0
        values = [
            (f"[{i}][{k!r}]", v)
            for i, h in enumerate(history)
            for k, v in h.items()
            if rates == str(k).endswith(".lr")
        ]
        check_saved_numbers(owner, "history", values, rates=rates)


def check_levels(hyper: Any, ours: list[list[str]], described: list[list[Any]]) -> None:
    """Refuse the hyper state of a stack of other levels (it would load, then misstep):
    ``ours`` is each level's sorted hyperparameter names, ``described`` each level's kind,
    ``lr`` coordinates and learned names (what a state saves as its ``levels``)."""
    values = hyper.get("values") if isinstance(hyper, dict) else None
    dicts = values if isinstance(values, list) else []
    shaped = isinstance(values, list) and all(isinstance(v, dict) for v in dicts)
    theirs = [sorted(v, key=str) for v in dicts] if shaped else None
    saved = hyper.get("levels") if isinstance(hyper, dict) else None
    # (values that are not one mapping per level of its hyperparameters, in a state saved for
    # these levels, are refused by name in check_values)
    if (saved is not None and saved != described) or (saved is None and theirs != ours):
        raise InputError(
            f"this state is of another stack (levels {saved or theirs}); this "
            f"optimizer's levels are {described}"
        )


def check_moments(owner: str, hyper: dict[str, Any], height: int) -> None:
    """Refuse a hyper state whose step count or hyperoptimizers' moments (``opt_state``:
    per level, per hyperparameter it moves, Adam's ``step``, ``m`` and ``v``, SGD's ``buf``)
    are not what a run records: text, a bool or ``None`` in place of a number (it loaded
    and failed inside the next step, or a bool counted as 1), NaN (a hypergradient that
    is not finite, or overflows in the level's coordinates, is skipped before it reaches
    a moment), a negative ``v`` (a mean of squares) or a ``step`` that is not a whole
    number >= 0. An infinite moment loads: ``v`` overflows once a hypergradient passes
    about 1.3e154, and the run saves it so. ``height`` is the number of levels."""
    owner = f"{owner}.load_state_dict: the state's hyper_state"
    steps = hyper.get("steps", 0)
    if not _is_count(steps):
        raise InputError(
            f"{owner}['steps'] is {_shown(steps)}, not a whole number >= 0 (the steps "
            "taken); nothing was loaded"
        )
    levels = hyper.get("opt_state")
    if not isinstance(levels, list) or len(levels) != height:
        raise InputError(
            f"{owner}['opt_state'] is {_shown(levels)}, not a list of one mapping per level "
            f"({height}); nothing was loaded"
        )
    for k, slots in enumerate(levels):
        where = f"{owner}['opt_state'][{k}]"
        if not isinstance(slots, dict) or not all(isinstance(v, dict) for v in slots.values()):
            raise InputError(
                f"{where} is {_shown(slots)}, not a mapping of hyperparameter -> its "
                "moments (a mapping); nothing was loaded"
            )
        for slot, moments in slots.items():
            for key, value in moments.items():
                _check_moment(f"{where}[{slot!r}][{key!r}]", key, value)


def check_values(
    owner: str, hyper: dict[str, Any], names: list[str], ours: list[list[str]]
) -> None:
    """Refuse a hyper state whose levels' ``values``, ``jac`` or ``hypergrads`` are not what a
    run records (they loaded, and the next step failed inside, or went on with a NaN rate):
    ``values`` one mapping per level (``names``, each level's kind) of its hyperparameters'
    current settings (``ours``: each level's sorted hyperparameter names), finite numbers >= 0
    (a momentum or a beta below 1); ``jac`` one mapping per level of slot -> hyperparameter ->
    number; ``hypergrads`` a mapping of name -> number. A Jacobian or hypergradient of NaN or
    infinity loads: a run records one (a NaN gradient, a ``v`` that overflowed), and skips it
    before it moves anything. Run after :func:`check_levels`, which refuses a state saved for
    other levels."""
    owner = f"{owner}.load_state_dict: the state's hyper_state"
    for k, level in enumerate(_per_level(owner, hyper, "values", names)):
        if sorted(level, key=str) != ours[k]:
            raise InputError(
                f"{owner}['values'][{k}] names {sorted(level, key=str)}, not the "
                f"hyperparameters of level {k}, {names[k]}: {ours[k]}; nothing was loaded"
            )
        for key, value in level.items():
            _check_value(f"{owner}['values'][{k}][{key!r}]", f"level {k}, {names[k]}", key, value)
    for k, level in enumerate(_per_level(owner, hyper, "jac", names)):
        _check_jacobians(f"{owner}['jac'][{k}]", f"level {k}, {names[k]},", level)
    grads = hyper.get("hypergrads")
    if not isinstance(grads, dict):
        raise InputError(
            f"{owner}['hypergrads'] is {_shown(grads)}, not a mapping of hyperparameter -> its "
            "last hypergradient; nothing was loaded"
        )
    for key, value in grads.items():
        _check_entry(f"{owner}['hypergrads']", key, value, "a hypergradient")


def _check_jacobians(where: str, level: str, jac: dict[Any, Any]) -> None:
    """Refuse a level's saved Jacobians unless they map a slot (text) to a mapping of
    hyperparameter (text) -> number."""
    for slot, derivs in jac.items():
        if not isinstance(slot, str) or not isinstance(derivs, dict):
            raise InputError(
                f"{where} has {_shown(slot)} -> {_shown(derivs)}: the Jacobians of {level} map "
                "a slot it moved (text) to a mapping of hyperparameter -> number; nothing was "
                "loaded"
            )
        for key, value in derivs.items():
            _check_entry(f"{where}[{slot!r}]", key, value, f"a Jacobian of {level}")


def _per_level(owner: str, hyper: dict[str, Any], field: str, names: list[str]) -> list[Any]:
    """``hyper[field]`` when it is a list of one mapping per level (else refused)."""
    levels = hyper.get(field)
    if not isinstance(levels, list) or len(levels) != len(names):
        raise InputError(
            f"{owner}[{field!r}] is {_shown(levels)}, not a list of one mapping per level "
            f"({len(names)}: {', '.join(names)}); nothing was loaded"
        )
    for k, level in enumerate(levels):
        if not isinstance(level, dict):
            raise InputError(
                f"{owner}[{field!r}][{k}] is {_shown(level)}, not a mapping (level {k}, "
                f"{names[k]}); nothing was loaded"
            )
    return levels


def _check_value(where: str, level: str, key: Any, value: Any) -> None:
    """Refuse a level's saved setting that is not a finite number >= 0 (a momentum or a beta
    also below 1), as the level's own settings are checked and its updates keep them."""
    unit = key in ("momentum", "beta1", "beta2")
    number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not number or not math.isfinite(value) or value < 0 or (unit and value >= 1):
        needs = "in [0, 1)" if unit else ">= 0"
        raise InputError(
            f"{where} is {_shown(value)}, not a finite number {needs} (the {key} {level} "
            "keeps; a learned one is never moved to a value that is not); nothing was loaded"
        )


def _check_entry(where: str, key: Any, value: Any, what: str) -> None:
    """Refuse an entry of a saved Jacobian or hypergradient mapping whose name is not text or
    whose value is not a number (NaN and infinity pass: see :func:`check_values`)."""
    number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not isinstance(key, str) or not number:
        raise InputError(
            f"{where}[{key!r}] is {_shown(value)}: {what} is a number, named by its "
            "hyperparameter (text); nothing was loaded"
        )


def _check_moment(where: str, key: str, value: Any) -> None:
    """Refuse a hyperoptimizer's saved moment ``key`` (``step``, ``m``, ``v``, ``buf``) that is
    not a number a run records (see :func:`check_moments`)."""
    if key == "step":
        if not _is_count(value):
            raise InputError(
                f"{where} is {_shown(value)}, not a whole number >= 0 (the steps this "
                "hyperoptimizer took); nothing was loaded"
            )
        return
    # (a NumPy number too: a level's setting given as np.float32 keeps its moments so)
    number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not number or math.isnan(value):
        raise InputError(
            f"{where} is {_shown(value)}: a hyperoptimizer's moment is a number, never NaN (a "
            "hypergradient that is not finite is skipped before it reaches one); nothing was "
            "loaded"
        )
    if key == "v" and value < 0:
        raise InputError(
            f"{where} is {_shown(value)}, a negative mean of squared hypergradients; nothing "
            "was loaded"
        )


def _is_count(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and int(value) >= 0


def _shown(value: Any) -> str:
    """``value``'s type and the start of its repr, for a message."""
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"
