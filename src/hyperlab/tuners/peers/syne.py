"""Syne Tune's single-fidelity searchers as tuners: ``syne-bore`` (BORE) and ``syne-rea``
(regularized evolution), through Syne Tune's ``AskTellScheduler``.

Syne Tune 0.16 passes ``random_seed`` to its searchers but draws from NumPy's global generator
all the same (measured: the same ``random_seed`` with two different global seeds gives two
different runs). The bridge runs every call into Syne Tune with the sampler's private global
RNG state swapped in (:class:`~hyperlab.tuners.peers.base.RngState`), which makes a run repeat
under its seed and leaves the caller's global state alone. The wrapper's ``best_trial`` is not
used: hyperlab reads the best trial from the study.
"""

from __future__ import annotations

import datetime
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

PACKAGE = "syne-tune>=0.16"
METRIC = "loss"
#: The modules every Syne Tune peer imports.
MODULES = ("syne_tune", "syne_tune.config_space", "syne_tune.backend.trial_status")
#: The module of a searcher that Syne Tune imports when the scheduler is built (with the
#: packages it runs on: BORE's XGBoost and scikit-learn, the KDE's statsmodels).
SEARCHER_MODULES = {
    "bore": "syne_tune.optimizer.schedulers.searchers.bore",
    "kde": "syne_tune.optimizer.schedulers.searchers.kde",
}


def searcher_modules(searcher: str, *more: str) -> tuple[str, ...]:
    """What a Syne Tune peer with ``searcher`` imports: :data:`MODULES`, ``more`` and the
    searcher's own module (see :data:`SEARCHER_MODULES`)."""
    own = SEARCHER_MODULES.get(searcher) if isinstance(searcher, str) else None
    return (*MODULES, *more, *((own,) if own else ()))


class SyneSampler(PeerSampler):
    """A Syne Tune searcher in a ``SingleObjectiveScheduler`` behind the Optuna sampler contract.

    The space maps to Syne Tune's domains: ``uniform``/``loguniform`` for float ranges,
    ``randint``/``lograndint`` for integer ranges, ``choice`` among indices for a choice.

    Args:
        space: The search space (``None``: learnt from the study's first finished trial).
        seed: Seeds the scheduler and the peer's private global RNG state.
        searcher: A Syne Tune searcher name (``"bore"``, ``"regularized_evolution"``).
        options: Keyword arguments for the searcher (BORE's ``feval_acq``, ...).
        name: The registered name, for messages.
    """

    loggers = ("syne_tune",)
    package = PACKAGE

    def __init__(
        self,
        space: Space = None,
        seed: int | None = None,
        searcher: str = "bore",
        options: dict[str, Any] | None = None,
        name: str = "syne",
    ) -> None:
        self.peer_name = name  # (named, and its modules known, before the base imports them)
        self.modules = searcher_modules(
            searcher,
            "syne_tune.optimizer.schedulers.single_objective_scheduler",
            "syne_tune.optimizer.schedulers.ask_tell_scheduler",
        )
        super().__init__(space, seed)
        self.searcher = searcher
        self.options = dict(options or {})

    def _build(self, specs: list[ParamSpec]) -> Any:
        cs = require("syne_tune.config_space", self.peer_name, PACKAGE)
        single = require(
            "syne_tune.optimizer.schedulers.single_objective_scheduler", self.peer_name, PACKAGE
        )
        asktell = require(
            "syne_tune.optimizer.schedulers.ask_tell_scheduler", self.peer_name, PACKAGE
        )
        scheduler = single.SingleObjectiveScheduler(
            {s.name: domain_of(cs, s) for s in specs},
            metric=METRIC,
            do_minimize=True,
            searcher=self.searcher,
            random_seed=self._seed,
            searcher_kwargs=self.options,
        )
        return asktell.AskTellScheduler(base_scheduler=scheduler)

    def _ask(self) -> tuple[Any, dict[str, Any]]:
        trial = self._peer.ask()
        return trial, dict(trial.config)

    def _tell(self, handle: Any, loss: float | None) -> None:
        if loss is None:
            self._peer.base_scheduler.on_trial_error(handle)
        else:
            self._peer.tell(handle, {METRIC: loss})

    def _tell_new(self, raw: dict[str, Any], loss: float) -> None:
        status = require("syne_tune.backend.trial_status", self.peer_name, PACKAGE)
        trial = status.Trial(
            trial_id=self._peer.trial_counter, config=raw, creation_time=datetime.datetime.now()
        )
        self._peer.trial_counter += 1
        self._peer.tell(trial, {METRIC: loss})


def domain_of(cs: Any, spec: ParamSpec) -> Any:
    if spec.kind == CHOICE:
        return cs.choice(list(range(int(spec.high) + 1)))
    if spec.kind == FLOAT:
        return (cs.loguniform if spec.log else cs.uniform)(spec.low, spec.high)
    return (cs.lograndint if spec.log else cs.randint)(int(spec.low), int(spec.high))


@TUNERS.add(
    "syne-bore",
    "Syne Tune's BORE (peer; pip install 'hyperlab[peers]')",
    packages=("syne-tune", "xgboost"),
)
def syne_bore(
    *,
    seed: int | None = None,
    space: Space = None,
    feval_acq: int = 500,
    init_random: int = 6,
    **_: Any,
) -> SyneSampler:
    """Syne Tune's BORE (density-ratio Bayesian optimization with an XGBoost classifier):
    ``init_random`` random trials, then the best of ``feval_acq`` random candidates under the
    classifier (Syne Tune's defaults; each candidate is one classifier call, so ``feval_acq``
    sets the cost of a suggestion).

    Raises:
        InputError: Syne Tune is not installed (the message gives the install command), or an
            option that is not a positive integer.
    """
    require("syne_tune", "syne-bore", PACKAGE)
    check_positive_int("feval_acq", feval_acq, allow_none=False)
    check_positive_int("init_random", init_random, allow_none=False)
    options = {"feval_acq": feval_acq, "init_random": init_random}
    sampler = SyneSampler(space, seed, searcher="bore", options=options, name="syne-bore")
    return with_startup(sampler, init_random)  # type: ignore[no-any-return]


@TUNERS.add(
    "syne-rea",
    "Syne Tune's regularized evolution (peer; pip install 'hyperlab[peers]')",
    packages=("syne-tune",),
)
def syne_rea(
    *,
    seed: int | None = None,
    space: Space = None,
    population_size: int = 100,
    sample_size: int = 10,
    **_: Any,
) -> SyneSampler:
    """Syne Tune's regularized evolution with its defaults (population 100, tournaments of 10).

    It draws at random until its population is full, so a run of no more than
    ``population_size`` trials is random search (the sampler declares it as its start-up
    design, and the lab warns about such a run).

    Raises:
        InputError: Syne Tune is not installed (the message gives the install command), or an
            option that is not a positive integer.
    """
    require("syne_tune", "syne-rea", PACKAGE)
    check_positive_int("population_size", population_size, allow_none=False)
    check_positive_int("sample_size", sample_size, allow_none=False)
    options = {"population_size": population_size, "sample_size": sample_size}
    sampler = SyneSampler(
        space, seed, searcher="regularized_evolution", options=options, name="syne-rea"
    )
    return with_startup(sampler, population_size)  # type: ignore[no-any-return]
