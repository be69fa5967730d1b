"""Syne Tune's multi-fidelity schedulers as tuners: ``syne-asha`` (ASHA with random search) and
``syne-bohb`` (ASHA with Syne Tune's KDE searcher, its BOHB).

Both are Syne Tune 0.16's ``AsynchronousSuccessiveHalving`` scheduler, driven through its own
interface: ``suggest`` and ``on_trial_add`` for a new trial, ``on_trial_result`` after each
epoch (its answer, ``CONTINUE`` or ``STOP``, is the stopping rule the pruner ``tuner`` asks),
``on_trial_remove`` when a trial ends and ``on_trial_error`` when it fails, as Syne Tune's own
tuning loop calls them (:mod:`hyperlab.tuners.peers.fidelity` has the bridge). Its resource is
the epoch: ``max_t`` is the trials' epochs, ``grace_period`` 1 and ``reduction_factor`` 3 by
default (Syne Tune's defaults, and the reduction factor of hyperlab's ``asha``).

Syne Tune 0.16's ASHA is the stopping variant: a trial below the top ``1 / reduction_factor``
of its rung is stopped for good. Its promotion variant (pause a trial at a rung, resume it
later when it is promoted) is not offered: a hyperlab trial is never resumed, and Syne Tune
0.16 no longer ships it.

Syne Tune draws from NumPy's global generator (the bracket of a new trial, the random
searcher's draws); every call runs with the sampler's private global RNG state swapped in, as
for every peer (:class:`~hyperlab.tuners.peers.base.RngState`). The KDE (statsmodels'
``KDEMultivariate``) warns at every fit that its random generator's default will change; that
one warning is hidden inside the ask.
"""

from __future__ import annotations

import datetime
import warnings
from typing import Any

from hyperlab.errors import InputError, InputTypeError, SettingError
from hyperlab.registry import TUNERS
from hyperlab.tasks.base import Task
from hyperlab.tuners.classic import with_startup
from hyperlab.tuners.peers.base import (
    ParamSpec,
    Space,
    check_positive_int,
    param_specs,
    require,
)
from hyperlab.tuners.peers.fidelity import MultiFidelityPeer
from hyperlab.tuners.peers.syne import METRIC, PACKAGE, domain_of, searcher_modules

#: The resource attribute of a result: epochs trained.
EPOCH = "epoch"


class SyneFidelitySampler(MultiFidelityPeer):
    """Syne Tune's ``AsynchronousSuccessiveHalving`` behind the Optuna sampler contract.

    Args:
        space: The search space (``None``: learnt from the study's first finished trial).
        seed: Seeds the scheduler and the peer's private global RNG state.
        max_budget: The trials' epochs when the study's pruner does not say them.
        searcher: Syne Tune's searcher name: ``"random_search"`` (ASHA) or ``"kde"`` (BOHB).
        options: Keyword arguments for the searcher (the KDE's settings).
        grace_period: Epochs before a trial can be stopped (the first rung).
        reduction_factor: The top ``1 / reduction_factor`` of a rung go on.
        name: The registered name, for messages.
    """

    loggers = ("syne_tune",)
    package = PACKAGE

    def __init__(
        self,
        space: Space = None,
        seed: int | None = None,
        max_budget: int | None = None,
        searcher: str = "random_search",
        options: dict[str, Any] | None = None,
        grace_period: int = 1,
        reduction_factor: float = 3,
        name: str = "syne-asha",
    ) -> None:
        self.peer_name = name  # (named, and its modules known, before the base imports them)
        self.modules = searcher_modules(searcher, "syne_tune.optimizer.schedulers.asha")
        super().__init__(space, seed, max_budget)
        self.searcher = searcher
        self.options = dict(options or {})
        self.grace_period = grace_period
        self.reduction_factor = reduction_factor

    def _check_budget(self, budget: int) -> None:
        if budget < self.grace_period:
            raise InputError(
                f"tuner {self.peer_name!r}: grace_period={self.grace_period} is more than the "
                f"trials' {budget} epochs"
            )

    def _build(self, specs: list[ParamSpec]) -> Any:
        cs = require("syne_tune.config_space", self.peer_name, PACKAGE)
        asha = require("syne_tune.optimizer.schedulers.asha", self.peer_name, PACKAGE)
        minimum = self.options.get("num_min_data_points")
        if minimum is not None and minimum < len(specs):
            raise SettingError(
                f"num_min_data_points={minimum} is less than the {len(specs)} parameters "
                f"{self.peer_name!r} searches (Syne Tune's KDE needs at least one point each)"
            )
        self._ids = 0
        return asha.AsynchronousSuccessiveHalving(
            {s.name: domain_of(cs, s) for s in specs},
            metric=METRIC,
            do_minimize=True,
            searcher=self.searcher,
            time_attr=EPOCH,
            max_t=self.budget,
            grace_period=self.grace_period,
            reduction_factor=self.reduction_factor,
            random_seed=self._seed,
            searcher_kwargs=dict(self.options),
        )

    def _ask(self) -> tuple[Any, dict[str, Any]]:
        with warnings.catch_warnings():  # statsmodels' KDE warns of its RNG default every fit
            warnings.filterwarnings("ignore", message="After 0.17", category=FutureWarning)
            suggestion = self._peer.suggest()
        if suggestion is None:  # a finite space visited in full: draw from it again
            config = {k: d.sample() for k, d in self._peer.config_space.items()}
        else:
            config = dict(suggestion.config)
        return self._register(config), config

    def _register(self, raw: dict[str, Any]) -> Any:
        status = require("syne_tune.backend.trial_status", self.peer_name, PACKAGE)
        trial = status.Trial(trial_id=self._ids, config=raw, creation_time=datetime.datetime.now())
        self._ids += 1
        self._peer.on_trial_add(trial)
        return trial

    def _report(self, handle: Any, epoch: int, loss: float) -> bool:
        decision = self._peer.on_trial_result(handle, {METRIC: loss, EPOCH: epoch})
        return bool(decision == "STOP")

    def _end(self, handle: Any, how: str) -> None:
        if how == "error":
            self._peer.on_trial_error(handle)
        if handle.trial_id in self._peer.trial_info:
            self._peer.on_trial_remove(handle)


def _check_rule(grace_period: Any, reduction_factor: Any) -> None:
    check_positive_int("grace_period", grace_period, allow_none=False)
    if isinstance(reduction_factor, bool) or not isinstance(reduction_factor, int | float):
        raise InputTypeError(f"reduction_factor must be a number, got {reduction_factor!r}")
    if not reduction_factor > 1:
        raise InputError(f"reduction_factor must be more than 1, got {reduction_factor}")


def _task_budget(task: Task | None) -> int | None:
    return getattr(task, "max_budget", None) if task is not None else None


@TUNERS.add(
    "syne-asha",
    "Syne Tune's ASHA: random search, trials stopped by its rule (peer; run with pruner "
    "'tuner'; pip install 'hyperlab[peers]')",
    packages=("syne-tune",),
)
def syne_asha(
    *,
    seed: int | None = None,
    space: Space = None,
    task: Task | None = None,
    grace_period: int = 1,
    reduction_factor: float = 3,
    **_: Any,
) -> SyneFidelitySampler:
    """Syne Tune's ASHA (stopping variant, one bracket): random configurations, each stopped at
    a rung (``grace_period * reduction_factor**k`` epochs) unless it is in the top
    ``1 / reduction_factor`` of the trials that reached that rung.

    Raises:
        InputError: Syne Tune is not installed (the message gives the install command), or a
            bad option (named).
    """
    require("syne_tune", "syne-asha", PACKAGE)
    _check_rule(grace_period, reduction_factor)
    return SyneFidelitySampler(
        space,
        seed,
        max_budget=_task_budget(task),
        grace_period=grace_period,
        reduction_factor=reduction_factor,
        name="syne-asha",
    )


def kde_startup(n_params: int, num_min_data_points: int | None, top_n_percent: int) -> int:
    """Trials with a result before Syne Tune's KDE first fits: at least 5 (its multi-fidelity
    wrapper's random draws), and enough that the good and the bad set each hold more points than
    there are parameters (the good set: the top ``top_n_percent`` %, at least
    ``num_min_data_points``)."""
    least = n_params if num_min_data_points is None else num_min_data_points
    n = 5
    while True:
        good = max(least, top_n_percent * n // 100)
        if min(good, n - good) > n_params:
            return n
        n += 1


@TUNERS.add(
    "syne-bohb",
    "Syne Tune's BOHB: ASHA with a KDE searcher (peer; run with pruner 'tuner'; pip install "
    "'hyperlab[peers]')",
    packages=("syne-tune", "statsmodels"),
)
def syne_bohb(
    *,
    seed: int | None = None,
    space: Space = None,
    task: Task | None = None,
    grace_period: int = 1,
    reduction_factor: float = 3,
    num_min_data_points: int | None = None,
    top_n_percent: int = 15,
    num_candidates: int = 64,
    random_fraction: float = 0.33,
    **_: Any,
) -> SyneFidelitySampler:
    """Syne Tune's BOHB: ASHA's rule, with configurations from a KDE fitted to each trial's
    last reported value (Syne Tune's defaults; ``num_min_data_points=None``: the number of
    parameters). Before the KDE can fit (:func:`kde_startup` trials) and for a
    ``random_fraction`` of the trials after, configurations are random.

    Raises:
        InputError: Syne Tune is not installed (the message gives the install command), or a
            bad option (named).
    """
    require("syne_tune", "syne-bohb", PACKAGE)
    _check_rule(grace_period, reduction_factor)
    check_positive_int("num_min_data_points", num_min_data_points)
    check_positive_int("top_n_percent", top_n_percent, allow_none=False)
    check_positive_int("num_candidates", num_candidates, allow_none=False)
    if top_n_percent >= 100:
        raise InputError(f"top_n_percent must be below 100, got {top_n_percent}")
    if isinstance(random_fraction, bool) or not isinstance(random_fraction, int | float):
        raise InputTypeError(f"random_fraction must be a number, got {random_fraction!r}")
    if not 0 <= random_fraction <= 1:
        raise InputError(f"random_fraction must be in [0, 1], got {random_fraction}")
    options = {
        "num_min_data_points": num_min_data_points,
        "top_n_percent": top_n_percent,
        "num_candidates": num_candidates,
        "random_fraction": float(random_fraction),
    }
    sampler = SyneFidelitySampler(
        space,
        seed,
        max_budget=_task_budget(task),
        searcher="kde",
        options=options,
        grace_period=grace_period,
        reduction_factor=reduction_factor,
        name="syne-bohb",
    )
    if not space:
        return sampler
    n_params = len(param_specs(space))
    if num_min_data_points is not None and num_min_data_points < n_params:
        raise InputError(
            f"num_min_data_points={num_min_data_points} is less than the {n_params} parameters "
            "syne-bohb searches (Syne Tune's KDE needs at least one point each)"
        )
    startup = kde_startup(n_params, num_min_data_points, top_n_percent)
    return with_startup(sampler, startup)  # type: ignore[no-any-return]
