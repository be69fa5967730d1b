"""The classic pruners: thin factories over Optuna's own pruners.

Every pruner factory has the signature ``factory(*, max_budget, seed) -> BasePruner``.
"""

from __future__ import annotations

from typing import Any

import optuna

from hyperlab.errors import InputError
from hyperlab.registry import PRUNERS


def _no_options(name: str, options: dict[str, Any]) -> None:
    if options:
        raise InputError(f"pruner {name!r} takes no options, got {sorted(options)}")


@PRUNERS.add("none", "never stop a trial early")
def none(
    *, max_budget: int = 1, seed: int | None = None, **options: Any
) -> optuna.pruners.BasePruner:
    _no_options("none", options)
    return optuna.pruners.NopPruner()


@PRUNERS.add("median", "stop a trial whose value is worse than the median of earlier trials")
def median(
    *, max_budget: int = 1, seed: int | None = None, **options: Any
) -> optuna.pruners.BasePruner:
    _no_options("median", options)
    warmup = max(1, max_budget // 5)
    return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=warmup)


@PRUNERS.add("asha", "asynchronous successive halving (reduction factor 3)")
def asha(
    *, max_budget: int = 1, seed: int | None = None, **options: Any
) -> optuna.pruners.BasePruner:
    _no_options("asha", options)
    min_resource = max(1, max_budget // 27)
    return optuna.pruners.SuccessiveHalvingPruner(min_resource=min_resource, reduction_factor=3)


@PRUNERS.add("hyperband", "Hyperband: several successive-halving brackets (reduction factor 3)")
def hyperband(
    *, max_budget: int = 1, seed: int | None = None, **options: Any
) -> optuna.pruners.BasePruner:
    _no_options("hyperband", options)
    min_resource = max(1, max_budget // 27)
    return optuna.pruners.HyperbandPruner(
        min_resource=min_resource, max_resource=max(max_budget, 1), reduction_factor=3
    )


# the classic pruners take no options: the lab gives a comparison's pruner options to the
# pruners that take them (see ``Registry.options``)
for _factory in (none, median, asha, hyperband):
    _factory.takes_options = frozenset()  # type: ignore[attr-defined]
