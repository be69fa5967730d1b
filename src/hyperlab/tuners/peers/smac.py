"""SMAC3's random-forest Bayesian optimization as a tuner: ``smac-rf``.

The sampler drives SMAC's ask/tell interface on its ``HyperparameterOptimizationFacade`` (a
random forest over the configuration space, SMAC's default for hyperparameter optimization;
SMAC 2.4 ships a scikit-learn forest, so the optional ``pyrfr`` and its ``swig`` build are not
needed). SMAC is contained:

- it writes its scenario and run history to an output folder: the sampler gives it a temporary
  folder of its own, removed when the sampler is garbage-collected, and never asks it to save
  the run history on a tell;
- its logging is left unconfigured (``logging_level=False``: SMAC would otherwise replace the
  root logger's configuration) and its ``smac`` logger set to ``WARNING``;
- its random state comes from the seed; SMAC also orders some sets by Python's string hashes,
  so a run repeats in another process only under the same ``PYTHONHASHSEED`` (set it, e.g.
  ``PYTHONHASHSEED=0``, for runs that must repeat across processes; within one process the same
  seed gives the same trials).

A failed trial with no value known yet is not told (SMAC's forest cannot take an infinite
cost); later failures are told the worst value so far, like every peer.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from collections.abc import Callable
from typing import Any

from hyperlab.registry import TUNERS
from hyperlab.tuners.classic import with_startup
from hyperlab.tuners.peers.base import (
    CHOICE,
    FLOAT,
    ParamSpec,
    PeerSampler,
    Space,
    check_positive_int,
    require,
)

PACKAGE = "smac>=2.4"


class SmacSampler(PeerSampler):
    """SMAC3's random-forest facade behind the Optuna sampler contract.

    The space maps to ConfigSpace's ``Float`` (log or not), ``Integer`` (log or not) and
    ``Categorical`` among indices.

    Args:
        space: The search space (``None``: learnt from the study's first finished trial).
        seed: Seeds SMAC's scenario and the peer's private global RNG state.
        planned_trials: The number of trials SMAC plans for (its scenario's ``n_trials``; its
            initial design is at most a quarter of it).
    """

    peer_name = "smac-rf"
    loggers = ("smac",)
    package = PACKAGE
    modules = ("smac", "ConfigSpace", "smac.runhistory.dataclasses", "smac.model.random_forest")

    def __init__(
        self, space: Space = None, seed: int | None = None, planned_trials: int = 100
    ) -> None:
        super().__init__(space, seed)
        self.planned_trials = planned_trials

    def _build(self, specs: list[ParamSpec]) -> Any:
        def facade(smac: Any, scenario: Callable[..., Any]) -> Any:
            return smac.HyperparameterOptimizationFacade(
                scenario(n_trials=self.planned_trials),
                target_function=_never_called,
                overwrite=True,
                logging_level=False,
            )

        return smac_facade(self.peer_name, self._seed, specs, facade)

    def _ask(self) -> tuple[Any, dict[str, Any]]:
        info = self._peer.ask()
        return info, dict(info.config)

    def _tell(self, handle: Any, loss: float | None) -> None:
        if loss is not None:
            values = require("smac.runhistory.dataclasses", self.peer_name, PACKAGE)
            self._peer.tell(handle, values.TrialValue(cost=loss), save=False)

    def _tell_new(self, raw: dict[str, Any], loss: float) -> None:
        cfg = require("ConfigSpace", self.peer_name, PACKAGE)
        values = require("smac.runhistory.dataclasses", self.peer_name, PACKAGE)
        config = cfg.Configuration(self._peer.scenario.configspace, values=raw)
        # the seed SMAC's intensifier runs every configuration with (a deterministic scenario);
        # its set-up reads the run history, as its own loop does before the first ask
        intensifier = self._peer.intensifier
        intensifier.__post_init__()
        seed = intensifier.get_instance_seed_keys_of_interest()[0].seed
        info = values.TrialInfo(config=config, seed=seed)
        self._peer.tell(info, values.TrialValue(cost=loss), save=False)


def _never_called(config: Any, seed: int = 0) -> float:
    """The target function SMAC's facade requires; the sampler evaluates nothing itself."""
    raise RuntimeError("hyperlab evaluates SMAC's configurations itself")


def smac_facade(
    peer_name: str,
    seed: int | None,
    specs: list[ParamSpec],
    make: Callable[[Any, Callable[..., Any]], Any],
) -> Any:
    """A SMAC facade over ``specs`` with its output folder in a temporary folder that goes with
    it (or at once, when building it fails). ``make(smac, scenario)`` builds the facade, where
    ``scenario(**settings)`` is a deterministic, seeded ``smac.Scenario`` of the space."""
    cfg = require("ConfigSpace", peer_name, PACKAGE)
    smac = require("smac", peer_name, PACKAGE)
    space = cfg.ConfigurationSpace(seed=seed)
    space.add([hyperparameter_of(cfg, s) for s in specs])
    folder = tempfile.mkdtemp(prefix="hyperlab-smac-")

    def scenario(**settings: Any) -> Any:
        return smac.Scenario(
            space,
            deterministic=True,
            seed=-1 if seed is None else seed,
            output_directory=folder,
            **settings,
        )

    try:
        built = make(smac, scenario)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    weakref.finalize(built, shutil.rmtree, folder, ignore_errors=True)
    return built


def hyperparameter_of(cfg: Any, spec: ParamSpec) -> Any:
    if spec.kind == CHOICE:
        return cfg.Categorical(spec.name, list(range(int(spec.high) + 1)))
    if spec.kind == FLOAT:
        return cfg.Float(spec.name, (spec.low, spec.high), log=spec.log)
    return cfg.Integer(spec.name, (int(spec.low), int(spec.high)), log=spec.log)


@TUNERS.add(
    "smac-rf",
    "SMAC3's random-forest BO (peer; pip install 'hyperlab[peers]')",
    packages=("smac", "ConfigSpace"),
)
def smac_rf(
    *, seed: int | None = None, space: Space = None, planned_trials: int = 100, **_: Any
) -> SmacSampler:
    """SMAC3's ``HyperparameterOptimizationFacade`` planning for ``planned_trials`` trials.

    Raises:
        InputError: SMAC is not installed (the message gives the install command), or
            ``planned_trials`` is not a positive integer.
    """
    require("smac", "smac-rf", PACKAGE)
    check_positive_int("planned_trials", planned_trials, allow_none=False)
    # SMAC's initial design: 10 configurations per hyperparameter, at most a quarter of the trials
    initial = planned_trials // 4 if not space else min(10 * len(space), planned_trials // 4)
    return with_startup(SmacSampler(space, seed, planned_trials=planned_trials), max(1, initial))  # type: ignore[no-any-return]
