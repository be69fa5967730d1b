"""The method a comparison pairs every other method against: its reference.

A comparison's methods are its tuners, or ``tuner+pruner`` when it runs several pruners
(:func:`method_label`). Every other method is paired by seed against one reference, so the
verdicts depend on it; it is therefore fixed before any trial runs, from the names alone and
never from their order (``--tuners a,b`` and ``--tuners b,a`` are one comparison):

1. the reference named (``--reference``, ``reference=``), which must be one of the methods;
2. else ``random`` when the run holds it, then ``tpe``: random search, the baseline every
   tuner must beat, then Optuna's kind of default sampler (the leaderboard's reference,
   :data:`hyperlab.lab.leaderboard.REFERENCE`); with several pruners, that tuner without
   pruning (``none``), else with the ``median`` pruner (Optuna's kind of default pruner);
3. else, with two methods, the first in alphabetical order (a pair reads the same either way
   round: the verdict of ``b`` against ``a`` is that of ``a`` against ``b`` with the sign
   turned);
4. else none: the run is refused before it starts, naming its methods, until one is named.
"""

from __future__ import annotations

from collections.abc import Sequence

from hyperlab.errors import InputError, InputTypeError

#: The tuners taken as the reference when none is named, in order of preference.
REFERENCE_TUNERS = ("random", "tpe")
#: With several pruners, the reference tuner's pruner, in order of preference.
REFERENCE_PRUNERS = ("none", "median")


def method_label(tuner: str, pruner: str, pruners: Sequence[str]) -> str:
    """A method's label in a run of ``pruners``: the tuner's name, or ``tuner+pruner`` when
    the run has several pruners."""
    return tuner if len(pruners) == 1 else f"{tuner}+{pruner}"


def method_labels(tuners: Sequence[str], pruners: Sequence[str]) -> list[str]:
    """Every method's label, tuner by tuner."""
    return [method_label(t, p, pruners) for t in tuners for p in pruners]


def default_reference(tuners: Sequence[str], pruners: Sequence[str]) -> str | None:
    """The reference of a run of ``tuners`` x ``pruners`` when none is named (rules 2 and 3 of
    the module doc), or ``None`` when the names fix none."""
    for tuner in REFERENCE_TUNERS:
        if tuner not in tuners:
            continue
        if len(pruners) == 1:
            return tuner
        pruner = next((p for p in REFERENCE_PRUNERS if p in pruners), None)
        if pruner is not None:
            return method_label(tuner, pruner, pruners)
    labels = method_labels(tuners, pruners)
    return min(labels) if len(labels) <= 2 else None


def check_reference(reference: object, tuners: Sequence[str], pruners: Sequence[str]) -> str | None:
    """The reference of a comparison of ``tuners`` x ``pruners``: ``reference`` when named
    (``None``: the default), checked.

    Raises:
        InputTypeError: ``reference`` is neither ``None`` nor a string.
        InputError: ``reference`` is not one of the run's methods, or none is named and the
            run's names fix none (more than two methods, neither ``random`` nor ``tpe``);
            the message names the methods.
    """
    labels = method_labels(tuners, pruners)
    shown = ", ".join(labels)
    if reference is None:
        if len(labels) <= 1:
            return None
        if default_reference(tuners, pruners) is None:
            raise InputError(
                f"the comparison has no reference to pair its methods against ({shown}): "
                "neither random nor tpe is among its tuners, and of more than two methods "
                "none is the natural one; name it with --reference NAME (reference= in Python)"
            )
        return None
    if not isinstance(reference, str):
        raise InputTypeError(f"reference must be a method's name, got {reference!r}")
    if reference not in labels:
        raise InputError(
            f"reference {reference!r} is not a method of the run; its methods: {shown}"
        )
    return reference
