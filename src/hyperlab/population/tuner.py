"""The ``pbt`` and ``pb2`` tuners: a sampler that trains its own population.

:class:`PopulationTuner` is an Optuna sampler that draws at random when used as an ordinary
sampler, and declares ``drives_trials``: the lab then hands it the study and the task
(:meth:`PopulationTuner.run_trials`), and it trains ``trials`` members of ``budget`` epochs
each in segments (:mod:`hyperlab.population.loop`), writing one trial per member at the end.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial

from hyperlab.errors import (
    InputError,
    InputTypeError,
    SetupWarning,
    check_bool,
    check_names,
    check_positive_int,
)
from hyperlab.population import checkpoint
from hyperlab.population.bandit import GPBandit
from hyperlab.population.explore import Explorer, Perturb
from hyperlab.population.loop import STARTS, PopulationFailure, PopulationRun, Settings
from hyperlab.population.replay import member_test_score
from hyperlab.population.segments import check_continues
from hyperlab.population.selftuning import learning_rate_of
from hyperlab.population.trials import SUMMARY_ATTR, missing_members, write_trials
from hyperlab.registry import TUNERS
from hyperlab.stops import stop_for_failures, stopped_by_failures
from hyperlab.tasks.base import Task

#: The modes of exploiting: after a generation barrier, or as each member's segment ends.
MODES = ("sync", "async")


#: The largest population: every member's model lives in the memory of one process.
MAX_POPULATION = 10_000


class PopulationTuner(optuna.samplers.BaseSampler):
    """Population-based training as an Optuna sampler.

    Args:
        explorer: Chooses the explored values of exploiting members.
        name: The tuner's registered name (recorded with the run).
        seed: Seed of the random draws when used as an ordinary sampler.
        interval: Epochs per segment (``None``: a tenth of the budget, rounded, at least 1).
        quantile: Share of the population in the bottom (copying) and top (copied) groups.
        mode: ``"sync"`` or ``"async"``.
        hypergradient: Members learn their rate with a hypergradient optimizer.
        population: The size the user asked for (``--population``); ``None``: the run's
            trials. A run whose trials differ is refused (:meth:`check_run`).
        start: How the first members are drawn: ``"latin"`` (a Latin hypercube: every
            parameter's range is covered evenly, so a small population does not start with
            every member in the same bad corner; default) or ``"random"`` (independently).
        screen: Draw ``screen`` times the population as first members, train each for one
            segment and keep the best (1: no screening). It costs ``(screen - 1) x population
            x interval`` epochs more, counted in the run's ``screen_epochs``.
    """

    drives_trials = True

    def __init__(
        self,
        explorer: Explorer,
        *,
        name: str = "pbt",
        seed: int | None = None,
        interval: int | None = None,
        quantile: float = 0.25,
        mode: str = "sync",
        hypergradient: bool = False,
        population: int | None = None,
        start: str = "latin",
        screen: int = 1,
    ) -> None:
        self.explorer = explorer
        self.start = start
        self.screen = screen
        self.population = population
        self.name = name
        self.interval = interval
        self.quantile = quantile
        self.mode = mode
        self.hypergradient = hypergradient
        self._random = optuna.samplers.RandomSampler(seed=seed)

    # -- an ordinary sampler: random ---------------------------------------------------------

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return {}

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return self._random.sample_independent(study, trial, param_name, param_distribution)

    def reseed_rng(self) -> None:
        self._random.reseed_rng()

    # -- the population ----------------------------------------------------------------------

    def run_trials(
        self,
        study: optuna.Study,
        task: Task,
        *,
        trials: int,
        budget: int,
        seed: int,
        workdir: Path,
        on_progress: Callable[[str], None] | None = None,
    ) -> None:
        """Train a population of ``trials`` members for ``budget`` epochs each and write one
        complete trial per member; resume from the checkpoint in ``workdir``; do nothing when
        the study already holds every member.

        Raises:
            InputError: The task cannot continue training, or ``trials``, ``budget`` or
                ``interval`` cannot make a population (fewer than 2 members, fewer than 2
                segments), or the checkpoint is another run's.
            PopulationFailure: Every member failed.
        """
        settings = self.settings(study, task, trials=trials, budget=budget, seed=seed)
        recorded = (study.user_attrs.get(SUMMARY_ATTR) or {}).get("population")
        if recorded is not None and recorded != trials:
            raise InputError(
                f"study {study.study_name!r} holds a finished population of {recorded} members; "
                f"this run asks for {trials} (use another run name, or overwrite the run)"
            )
        if not missing_members(study, trials):
            return
        with checkpoint.locked(Path(workdir)):  # one process trains it; others wait, then see it
            if not missing_members(study, trials) or stopped_by_failures(study):
                return  # (another process of this run saw every member fail)
            defaulted = frozenset({"interval"}) if self.interval is None else frozenset()
            run = PopulationRun(task, settings, self.explorer, Path(workdir), defaulted)
            run.on_progress = on_progress
            try:
                members = run.run()
            except PopulationFailure as exc:  # told in the report; a rerun tries again
                stop_for_failures(study, f"stopped: {exc}"[:2000])
                raise
            write_trials(study, members, task.distributions(), run.summary())

    def member_test_score(
        self, study: optuna.Study, task: Task, trial: FrozenTrial
    ) -> float | None:
        """The held-out test score of ``trial``'s model, retrained through its schedule
        (:func:`hyperlab.population.member_test_score`); the lab calls it for the best trial."""
        return member_test_score(study, task, trial)

    def check_run(
        self, *, trials: int, budget: int | None, pruners: list[str], stop_at_noise: bool
    ) -> None:
        """Refuse, before the run starts, what a population cannot do: fewer than two
        members or segments, a pruner (members are never stopped, they are replaced) or
        stopping at the noise level (the population trains to its full budget)."""
        if any(p not in ("none", "tuner") for p in pruners):  # 'tuner': its own rule, none
            raise InputError(
                f"tuner {self.name!r} replaces its worst members instead of stopping them: use "
                f"pruner 'none' (or 'tuner'), got {pruners}"
            )
        if stop_at_noise:
            raise InputError(
                f"tuner {self.name!r} trains every member to the full budget: "
                "stop_at_noise does not apply"
            )
        if self.population is not None and self.population != trials:
            raise InputError(
                f"population={self.population} and trials={trials} disagree: tuner "
                f"{self.name!r} trains one member per trial"
            )
        self._check_sizes(trials, budget)

    def _check_sizes(self, trials: int, budget: int | None) -> int | None:
        """The segment length, after checking ``trials`` and ``budget`` (``None``: not known
        yet) can make a population."""
        for name, value, least in (("trials", trials, 2), ("budget", budget, 2)):
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise InputError(
                    f"{self.name} needs {name} >= {least} (a population of at least two members "
                    f"trained in at least two segments), got {name}={value!r}"
                )
        if trials * self.screen > MAX_POPULATION:
            screened = f" screened from {trials * self.screen}" if self.screen > 1 else ""
            raise InputError(
                f"{self.name} keeps every member's model in one process: a population of "
                f"{trials} members{screened} is more than the {MAX_POPULATION} it allows"
            )
        if budget is None:
            return None
        interval = self.interval if self.interval is not None else max(1, round(budget / 10))
        if interval >= budget:
            raise InputError(
                f"interval must be less than the budget ({budget} epochs), or no member ever "
                f"exploits another; got interval={interval}"
            )
        return interval

    def settings(
        self, study: optuna.Study, task: Task, *, trials: int, budget: int, seed: int
    ) -> Settings:
        """The settings of a run of this tuner (checked)."""
        explored = check_task(self.name, task, self.hypergradient)
        interval = cast(int, self._check_sizes(trials, budget))  # an int: budget is known
        return Settings(
            tuner=self.name,
            population=trials,
            budget=budget,
            interval=interval,
            quantile=float(self.quantile),
            mode=self.mode,
            hypergradient=self.hypergradient,
            seed=int(seed),
            direction="minimize" if study.direction.name == "MINIMIZE" else "maximize",
            explored=explored,
            start=self.start,
            screen=self.screen,
        )


def check_task(tuner: str, task: Any, hypergradient: bool) -> tuple[str, ...]:
    """The parameters a population explores on ``task``, after checking it can train one.

    Raises:
        InputTypeError: Not a task, or ``mutable_params`` is not a tuple of names (one
            string, say).
        InputError: No task, a task without ``_train_segment`` (:func:`check_continues`),
            no mutable parameters, or ``hypergradient`` on a task that names no learning rate
            of its space (:func:`~hyperlab.population.selftuning.learning_rate_of`).
    """
    task = check_continues(tuner, task, "trains a population of a task's models in segments")
    space = task.distributions()
    mutable = check_names(f"mutable_params of task {task.name!r}", task.mutable_params)
    if not mutable:
        raise InputError(
            f"task {task.name!r} names no mutable_params: {tuner!r} would have nothing to explore"
        )
    unknown = [n for n in mutable if n not in space]
    if unknown:
        raise InputError(f"mutable_params {unknown} of task {task.name!r} are not in its space")
    learned = (
        learning_rate_of(task, f"{tuner!r} with hypergradient=true") if hypergradient else None
    )
    explored = tuple(n for n in mutable if n != learned)
    if not any(not space[n].single() for n in explored):
        why = (
            f"its only mutable parameter, {learned!r}, is learned by the hypergradient members"
            if not explored
            else f"its mutable parameters {list(explored)} each allow one value"
        )
        warnings.warn(
            f"{tuner!r} has nothing to explore on task {task.name!r}: {why}; its members will "
            "only copy the best ones",
            SetupWarning,
            stacklevel=1,  # one place: shown once, however many times the task is checked
        )
    return explored


def check_options(
    task: Any,
    interval: Any,
    quantile: Any,
    mode: Any,
    hypergradient: Any,
    start: Any,
    screen: Any = 1,
) -> None:
    """Check the options both tuners take (each named with its bad value)."""
    if interval is not None:
        if isinstance(interval, bool) or not isinstance(interval, int):
            raise InputTypeError(f"interval must be an integer number of epochs, got {interval!r}")
        if interval < 1:
            raise InputError(f"interval must be at least 1 epoch, got {interval}")
        if task is not None and interval >= task.max_budget:
            raise InputError(
                f"interval must be less than the budget, at most {task.max_budget - 1} (the "
                f"budget can be at most {task.max_budget} epochs for {task.name}), or no member "
                f"ever exploits another; got interval={interval}"
            )
    _number("quantile", quantile)
    if not 0 < quantile <= 0.5:
        raise InputError(f"quantile must be in (0, 0.5], got {quantile!r}")
    if mode not in MODES:
        raise InputError(f"mode must be one of {list(MODES)}, got {mode!r}")
    check_bool("hypergradient", hypergradient)
    if start not in STARTS:
        raise InputError(f"start must be one of {list(STARTS)}, got {start!r}")
    check_positive_int("screen", screen)


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputTypeError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise InputError(f"{name} must be finite, got {value!r}")
    return float(value)


def _pbt_factory(name: str, self_tuning: bool) -> Callable[..., PopulationTuner]:
    """The factory of ``pbt`` (``self_tuning`` false) or ``pbt-hd`` (true: ``hypergradient``
    on by default), registered as ``name``."""

    def factory(
        *,
        seed: int | None = None,
        space: Any = None,
        task: Task | None = None,
        interval: int | None = None,
        quantile: float = 0.25,
        resample_probability: float = 0.25,
        mode: str = "sync",
        hypergradient: bool = self_tuning,
        population: int | None = None,
        start: str = "latin",
        screen: int = 1,
        **_: Any,
    ) -> PopulationTuner:
        def explorer() -> Explorer:
            if not 0 <= _number("resample_probability", resample_probability) <= 1:
                raise InputError(
                    f"resample_probability must be in [0, 1], got {resample_probability!r}"
                )
            return Perturb(float(resample_probability))

        _refuse_plain(name, self_tuning, hypergradient)
        options = (interval, quantile, mode, hypergradient, population, start, screen)
        return _population(name, explorer, seed, task, *options)

    factory.__doc__ = (
        "PBT (Jaderberg et al. 2017); ``resample_probability`` is the chance that an explored "
        "value is drawn afresh instead of perturbed."
        + (_SELF_TUNING_DOC.format(base="pbt") if self_tuning else "")
    )
    return factory


def _pb2_factory(name: str, self_tuning: bool) -> Callable[..., PopulationTuner]:
    """The factory of ``pb2`` (``self_tuning`` false) or ``pb2-hd`` (true: ``hypergradient``
    on by default), registered as ``name``."""

    def factory(
        *,
        seed: int | None = None,
        space: Any = None,
        task: Task | None = None,
        interval: int | None = None,
        quantile: float = 0.25,
        mode: str = "sync",
        hypergradient: bool = self_tuning,
        ucb_kappa: float = 1.0,
        population: int | None = None,
        start: str = "latin",
        screen: int = 1,
        **_: Any,
    ) -> PopulationTuner:
        def explorer() -> Explorer:
            if _number("ucb_kappa", ucb_kappa) < 0:
                raise InputError(f"ucb_kappa must be >= 0, got {ucb_kappa!r}")
            return GPBandit(float(ucb_kappa))

        _refuse_plain(name, self_tuning, hypergradient)
        options = (interval, quantile, mode, hypergradient, population, start, screen)
        return _population(name, explorer, seed, task, *options)

    factory.__doc__ = (
        "PB2 (Parker-Holder et al. 2020); ``ucb_kappa`` weighs the uncertainty in the bandit's "
        "upper confidence bound." + (_SELF_TUNING_DOC.format(base="pb2") if self_tuning else "")
    )
    return factory


def _refuse_plain(name: str, self_tuning: bool, hypergradient: Any) -> None:
    """Refuse ``hypergradient`` off for a self-tuning variant (``pbt-hd``): it would run as its
    base (``pbt``) under the other's name, and a comparison would pair two plain populations."""
    if self_tuning and hypergradient is False:
        base = name.removesuffix("-hd")
        raise InputError(
            f"tuner {name!r} is {base!r} whose members learn their own rate; with "
            f"hypergradient=false it would be {base!r} under another name: name {base!r} "
            "instead (in a comparison, --tuner-option hypergradient=false reaches every "
            "population tuner: leave it out there)"
        )


#: What the self-tuning variants add to their base's docstring.
_SELF_TUNING_DOC = (
    " Its members set their own learning rate by hypergradient (``hypergradient`` on by "
    "default: ``{base}`` with ``hypergradient=True``), so a comparison can hold both."
)

pbt = TUNERS.add(
    "pbt", "population-based training: the worst copy the best and perturb (trials=size)"
)(_pbt_factory("pbt", self_tuning=False))
pbt_hd = TUNERS.add(
    "pbt-hd",
    "pbt whose members set their own learning rate by hypergradient (pbt, hypergradient=true)",
)(_pbt_factory("pbt-hd", self_tuning=True))
pb2 = TUNERS.add("pb2", "population-based bandits: PBT exploring by GP-UCB (trials=size)")(
    _pb2_factory("pb2", self_tuning=False)
)
pb2_hd = TUNERS.add(
    "pb2-hd",
    "pb2 whose members set their own learning rate by hypergradient (pb2, hypergradient=true)",
)(_pb2_factory("pb2-hd", self_tuning=True))


def _population(
    name: str,
    explorer: Callable[[], Explorer],
    seed: int | None,
    task: Task | None,
    interval: int | None,
    quantile: float,
    mode: str,
    hypergradient: bool,
    population: int | None = None,
    start: str = "latin",
    screen: int = 1,
) -> PopulationTuner:
    """A population tuner, after the checks both tuners share and then the explorer's own."""
    check_task(name, task, hypergradient is True)
    check_options(task, interval, quantile, mode, hypergradient, start, screen)
    if population is not None:
        if isinstance(population, bool) or not isinstance(population, int):
            raise InputTypeError(f"population must be a whole number, got {population!r}")
        if population < 2:
            raise InputError(f"population must be at least 2 members, got {population}")
    return PopulationTuner(
        explorer(),
        name=name,
        seed=seed,
        interval=interval,
        quantile=quantile,
        mode=mode,
        hypergradient=hypergradient,
        population=population,
        start=start,
        screen=screen,
    )
