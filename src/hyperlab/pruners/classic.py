"""The classic pruners: thin factories over Optuna's own pruners.

Every pruner factory has the signature ``factory(*, max_budget, seed) -> BasePruner``, where
``max_budget`` is the trials' final step, or ``None`` when the lab does not know it (a user's
objective without a ``budget``): a pruner then learns it from the study (Optuna's ``"auto"``
settings read the largest step a complete trial reported) or does without it. A pruner that
cannot stop a trial before a number of trials have completed says so in an int attribute
``startup_trials``; the lab refuses a run of no more trials than that (it would prune nothing).
"""

from __future__ import annotations

from typing import Any, TypeVar

import optuna

from hyperlab.errors import InputError
from hyperlab.registry import PRUNERS

P = TypeVar("P", bound=optuna.pruners.BasePruner)


def _no_options(name: str, options: dict[str, Any]) -> None:
    if options:
        raise InputError(f"pruner {name!r} takes no options, got {sorted(options)}")


def _with_startup(pruner: P, trials: int) -> P:
    """``pruner``, declaring the complete trials it needs before it can stop one."""
    pruner.startup_trials = trials  # type: ignore[attr-defined]
    return pruner


@PRUNERS.add("none", "never stop a trial early")
def none(
    *, max_budget: int | None = None, seed: int | None = None, **options: Any
) -> optuna.pruners.BasePruner:
    _no_options("none", options)
    return optuna.pruners.NopPruner()


@PRUNERS.add("median", "stop a trial whose value is worse than the median of earlier trials")
def median(
    *, max_budget: int | None = None, seed: int | None = None, **options: Any
) -> optuna.pruners.BasePruner:
    """Optuna's median rule after 5 complete trials, from a fifth of the budget on (from the
    first step when the budget is unknown)."""
    _no_options("median", options)
    warmup = max(1, (max_budget or 1) // 5)
    return _with_startup(optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=warmup), 5)


@PRUNERS.add("asha", "asynchronous successive halving (reduction factor 3)")
def asha(
    *, max_budget: int | None = None, seed: int | None = None, **options: Any
) -> optuna.pruners.BasePruner:
    """First rung at the budget ``// 27`` (at least 1); an unknown budget: Optuna's ``"auto"``
    (the largest step of the first complete trials ``// 100``, at least 1)."""
    _no_options("asha", options)
    min_resource: int | str = "auto" if max_budget is None else max(1, max_budget // 27)
    pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=min_resource, reduction_factor=3)
    return _with_startup(pruner, 1)


@PRUNERS.add("hyperband", "Hyperband: several successive-halving brackets (reduction factor 3)")
def hyperband(
    *, max_budget: int | None = None, seed: int | None = None, **options: Any
) -> optuna.pruners.BasePruner:
    """First rung at the budget ``// 27`` (at least 1); an unknown budget: first rung 1 and
    Optuna's ``"auto"`` maximum (learned from the first complete trials)."""
    _no_options("hyperband", options)
    if max_budget is None:
        pruner = optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource="auto", reduction_factor=3
        )
    else:
        pruner = optuna.pruners.HyperbandPruner(
            min_resource=max(1, max_budget // 27),
            max_resource=max(max_budget, 1),
            reduction_factor=3,
        )
    return _with_startup(pruner, 1)


# the classic pruners take no options: the lab gives a comparison's pruner options to the
# pruners that take them (see ``Registry.options``)
for _factory in (none, median, asha, hyperband):
    _factory.takes_options = frozenset()  # type: ignore[attr-defined]
