"""The methods a ``Task`` of one's own writes, checked against what the lab passes them.

A method written with another signature (``_evaluate`` without ``on_epoch``, ``search_space``
without the trial) would fail every trial with a bare ``TypeError``, or a class that wrote the
lab's public ``evaluate`` instead of ``_evaluate`` would not build at all; both are refused when
the run is planned, naming the method and the signature to write.
"""

from __future__ import annotations

import inspect
from typing import Any

from hyperlab.errors import InputError

#: The methods a task may write, each with the arguments the lab passes it (positional ones,
#: then keyword ones) and the signature to write.
METHODS: dict[str, tuple[int, tuple[str, ...], str]] = {
    "search_space": (1, (), "search_space(self, trial)"),
    "_evaluate": (4, (), "_evaluate(self, config, budget, seed, on_epoch)"),
    "_train_segment": (5, (), "_train_segment(self, config, state, epochs, seed, wrap_optimizer)"),
    "_schedule_test_score": (3, (), "_schedule_test_score(self, schedule, seed, wrap_optimizer)"),
    "test_score": (2, ("seed",), "test_score(self, config, budget=None, seed=0)"),
}

#: The lab's own public methods, each with the one a task writes instead.
_PUBLIC = {
    "evaluate": "_evaluate",
    "train_segment": "_train_segment",
    "schedule_test_score": "_schedule_test_score",
}


def check_signatures(task: Any, base: type) -> None:
    """Refuse a method of ``task`` (a :class:`~hyperlab.tasks.Task`) that overrides ``base``'s
    (``Task``) but cannot take the arguments the lab passes it.

    A decorated method is read as the decorator left it (its wrapper's own signature, not the
    one ``functools.wraps`` copies from the method inside, which a decorator that adds or
    removes an argument does not take): only a call that would surely fail is refused.

    Raises:
        InputError: The message names the class, the method, its signature and the one to
            write.
    """
    kind = type(task)
    for name, (positional, keywords, wanted) in METHODS.items():
        method = getattr(kind, name, None)
        if method is None or method is getattr(base, name, None):
            continue
        try:  # the callable the lab calls: a decorator's wrapper may pass other arguments on
            signature = inspect.signature(getattr(task, name), follow_wrapped=False)
        except (TypeError, ValueError):  # (a builtin or a C function: nothing to read)
            continue
        try:
            signature.bind(*([None] * positional), **dict.fromkeys(keywords))
        except TypeError:
            raise InputError(
                f"task {getattr(task, 'name', kind.__name__)!r}: {kind.__name__}.{name}"
                f"{_with_self(signature)} cannot take the arguments the lab passes it; write "
                f"it as def {wanted} (docs/your-model.md, section 6, in a checkout of hyperlab's source)"
            ) from None


def missing_methods(name: str, cls: type) -> str:
    """Why the task class ``cls`` (named ``name`` in the run) cannot be made: the abstract
    methods it leaves, each with the signature to write, and a public method of the lab's it
    wrote instead, where it did (in the class itself, or in a mixin or base class of its own:
    :func:`_written`)."""
    missing = sorted(getattr(cls, "__abstractmethods__", ()))
    wanted = [f"def {METHODS[m][2]}" if m in METHODS else m for m in missing]
    text = f"task {name!r}: class {cls.__name__} does not write {', '.join(wanted)}"
    wrote = [p for p, own in _PUBLIC.items() if own in missing and _written(cls, p)]
    if wrote:
        text += (
            f"; it writes {', '.join(wrote)}, the lab's own method that checks what "
            f"{', '.join(_PUBLIC[p] for p in wrote)} returns: rename it"
        )
    return text


def _written(cls: type, method: str) -> bool:
    """Whether ``method`` is written by ``cls`` or a class it derives from below hyperlab's
    :class:`~hyperlab.tasks.Task` (a mixin, a base class of one's own): the classes of its
    method resolution order up to, not including, ``Task``."""
    from hyperlab.tasks.base import Task

    order = cls.__mro__
    own = order[: order.index(Task)] if Task in order else order[:-1]  # (not object)
    return any(method in vars(klass) for klass in own)


def _with_self(signature: inspect.Signature) -> str:
    """``signature`` of a bound method written as its class has it, ``self`` first."""
    params = ["self", *(str(p) for p in signature.parameters.values())]
    return f"({', '.join(params)})"
