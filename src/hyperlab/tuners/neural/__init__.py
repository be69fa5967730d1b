"""The neural-surrogate tuners ``neural`` and ``neural-ensemble`` (:class:`NeuralSampler`).

One module per part of the Bayesian-optimization loop:

- ``sampler``: :class:`NeuralSampler`, the Optuna sampler that runs the loop;
- ``settings``: checks of its options;
- ``design``: the start-up design and its size;
- ``observations``: the study's trials as training data, and what is remembered between
  suggestions;
- ``fitting``: the surrogate's inputs, its training set and its fit;
- ``proposal``: the acquisition search that proposes the next point.
"""

from __future__ import annotations

from typing import Any

from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler

from hyperlab.registry import TUNERS
from hyperlab.tuners.neural.fitting import DEFAULT_TRANSFORMS
from hyperlab.tuners.neural.sampler import NeuralSampler


def _factory(default_surrogate: str):  # type: ignore[no-untyped-def]
    # the surrogate is a keyword of the factory itself, so that its default is the one a run
    # records as the default (not NeuralSampler's)
    def factory(
        *,
        seed: int | None = None,
        space: dict[str, BaseDistribution] | None = None,
        task: Any = None,
        surrogate: Any = default_surrogate,
        **options: Any,
    ) -> BaseSampler:
        # the full budget is the largest one seen, not the task's maximum: a run may train every
        # trial for fewer epochs than the task allows (``--budget``)
        return NeuralSampler(search_space=space, seed=seed, surrogate=surrogate, **options)

    factory.__name__ = f"neural_{default_surrogate}"
    factory.forwards_to = NeuralSampler  # type: ignore[attr-defined]
    return factory


TUNERS.register(
    "neural",
    _factory("bll"),
    "neural-surrogate BO fitted during the study: Bayesian-last-layer MLP (DNGO) + EI (meta is ahead of it)",
)
TUNERS.register(
    "neural-ensemble",
    _factory("ensemble"),
    "neural-surrogate BO: deep ensemble of 5 MLPs + expected improvement",
)

__all__ = ["DEFAULT_TRANSFORMS", "NeuralSampler"]
