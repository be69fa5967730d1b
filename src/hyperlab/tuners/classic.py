"""The classic tuners: thin factories over Optuna's own samplers.

Every tuner factory has the signature
``factory(*, seed, space, task=None) -> optuna.samplers.BaseSampler`` where ``space`` is the
task's distributions (``None`` for a user objective whose space is not known in advance) and
``task`` the :class:`~hyperlab.tasks.Task` itself when there is one.
"""

from __future__ import annotations

import warnings
from typing import Any

import optuna
from optuna.distributions import BaseDistribution

from hyperlab.errors import (
    InputError,
    InputTypeError,
    check_bool,
    check_positive_int,
    check_seed,
)
from hyperlab.pickling import LockFreePickling
from hyperlab.registry import TUNERS
from hyperlab.space.distributions import grid_space
from hyperlab.tuners.feedback import PredictionFeedback

Space = dict[str, BaseDistribution] | None


def with_startup(sampler: optuna.samplers.BaseSampler, trials: int) -> Any:
    """``sampler`` declaring ``startup_trials``: the trials it draws before its model is used
    (the lab warns when a run asks for no more than that)."""
    sampler.startup_trials = trials  # type: ignore[attr-defined]
    return sampler


@TUNERS.add("random", "uniform random search (Optuna RandomSampler)")
def random(
    *, seed: int | None = None, space: Space = None, **_: Any
) -> optuna.samplers.BaseSampler:
    return optuna.samplers.RandomSampler(seed=seed)


@TUNERS.add("grid", "grid search, 3 points per numeric axis, visited in seeded random order")
def grid(
    *,
    seed: int | None = None,
    space: Space = None,
    points: int = 3,
    study_seed: int | None = None,
    **_: Any,
) -> optuna.samplers.BaseSampler:
    """Optuna's grid sampler. The lab gives ``study_seed``, the study's own seed: trial ``n``
    takes the ``n``-th point of the seeded order, so every worker process (each with a sampler
    seeded its own way) and a resumed run must share that order, or they skip and repeat
    points."""
    if isinstance(points, bool) or not isinstance(points, int):
        raise InputTypeError(f"points must be an integer, got {points!r}")
    if points < 2:
        raise InputError(f"points must be at least 2 (each axis's ends), got {points}")
    if not space:
        raise InputError(
            "the grid tuner needs a task with a known search space (got none): a plain "
            "objective suggests its parameters only as each trial runs; wrap it in a "
            "hyperlab Task (search_space and _evaluate; docs/your-model.md in a checkout of "
            "hyperlab's source) to use it"
        )
    order = study_seed if study_seed is not None else seed
    return optuna.samplers.GridSampler(grid_space(space, points), seed=order)


@TUNERS.add("qmc", "quasi-random Sobol sequence (Optuna QMCSampler, scrambled)")
def qmc(*, seed: int | None = None, space: Space = None, **_: Any) -> optuna.samplers.BaseSampler:
    return optuna.samplers.QMCSampler(
        qmc_type="sobol", scramble=True, seed=seed, warn_independent_sampling=False
    )


class GASampler(LockFreePickling, optuna.samplers.NSGAIISampler):
    """Optuna's NSGA-II sampler that pickles while it holds thread locks.

    Optuna's genetic-algorithm base class keeps a ``threading.Lock`` around its generation
    cache (from Optuna 5.1 on), which ``pickle`` refuses. A pickled copy carries every other
    attribute unchanged and gets fresh, unlocked locks of the same kinds when it is loaded. It
    stores its generations under the same study attributes as ``NSGAIISampler``.
    """

    def __init__(self, *, seed: int | None = None, **options: Any) -> None:
        super().__init__(seed=check_seed(seed), **options)


# Optuna names a GA subclass's study attributes after the class; keep NSGA-II's names so that
# studies stored by either class resume with their generations and parents.
GASampler._GENERATION_KEY = optuna.samplers.NSGAIISampler._GENERATION_KEY
GASampler._PARENT_CACHE_KEY_PREFIX = optuna.samplers.NSGAIISampler._PARENT_CACHE_KEY_PREFIX


@TUNERS.add("ga", "genetic algorithm (Optuna NSGA-II on one objective, population 10)")
def ga(
    *, seed: int | None = None, space: Space = None, population_size: int = 10, **_: Any
) -> optuna.samplers.BaseSampler:
    if check_positive_int("population_size", population_size) == 1:
        raise InputError("population_size must be at least 2 (parents to cross), got 1")
    return with_startup(GASampler(population_size=population_size, seed=seed), population_size)


@TUNERS.add("tpe", "tree-structured Parzen estimator (Optuna TPESampler, multivariate)")
def tpe(
    *,
    seed: int | None = None,
    space: Space = None,
    constant_liar: bool = True,
    pruner_predictions: bool = False,
    **_: Any,
) -> optuna.samplers.BaseSampler:
    """TPE; ``constant_liar`` (on by default) counts running trials as bad ones, so parallel
    workers do not all get nearly the same point before the others report (Ginsbourger et al.
    2010); with one worker no trial is running while TPE samples, so it changes nothing there;
    ``pruner_predictions`` shows TPE each trial a curve pruner stopped as complete, valued at
    the pruner's predicted final (:class:`~hyperlab.tuners.feedback.PredictionFeedback`).
    Off by default: it helps with the pretrained curve predictor but not with the plain one
    (docs/decisions/tpe-pruner-feedback.md)."""
    for name, flag in (
        ("constant_liar", constant_liar),
        ("pruner_predictions", pruner_predictions),
    ):
        check_bool(name, flag)
    with warnings.catch_warnings():  # multivariate/group/constant_liar are marked experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(
            seed=seed, multivariate=True, group=True, constant_liar=constant_liar
        )
    # Optuna's TPE draws its first 10 trials at random (n_startup_trials)
    return with_startup(PredictionFeedback(sampler) if pruner_predictions else sampler, 10)


@TUNERS.add("cmaes", "CMA-ES evolution strategy (Optuna CmaEsSampler)", packages=("cmaes",))
def cmaes(*, seed: int | None = None, space: Space = None, **_: Any) -> optuna.samplers.BaseSampler:
    return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)


@TUNERS.add("gp", "Gaussian-process Bayesian optimization (Optuna GPSampler)")
def gp(*, seed: int | None = None, space: Space = None, **_: Any) -> optuna.samplers.BaseSampler:
    # Optuna's GP sampler draws its first 10 trials at random (n_startup_trials)
    return with_startup(optuna.samplers.GPSampler(seed=seed, warn_independent_sampling=False), 10)
