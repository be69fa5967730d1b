"""The ``diagnosis`` tuner: train, read the curves, follow the advice, one run at a time.

It starts from the task's default configuration (the centre of the space without a task), and
before each new trial diagnoses the previous finished trial's ``curves`` user attribute with
:func:`hyperlab.diagnose.diagnose` and moves the best configuration so far (best in the study's
direction; the curves are training and validation losses either way) the way the advice
says: multiplicative steps on log axes, additive steps on linear ones, always inside the
distributions' bounds. A knob whose advice flips direction gets half the step from then on (the
way an expert narrows in). When no advice moves anything (a good fit, or noisy validation), or
the advised configuration was already tried, it tries a nearby setting instead: one random numeric
knob of the best configuration moved by a random step whose largest size shrinks by
:data:`PERTURB_SHRINK` with every trial since the best one improved (down to ``min_step``), the
way an expert tries ever closer settings around the best run so far. Categorical knobs keep the
starting value. When the budget is fixed (no epochs knob in the space), "not converged: train
longer" is read as "train faster": learning rate up x2. Failed trials without curves count as
divergence (learning rate down), when the task failed them (not a trial cut off, or failed by
its pruner or tuner: see :mod:`hyperlab.tuners.failed_trials`); pruned trials are diagnosed from
their partial curves when they have at least 3 epochs. What the diagnosis warns of a trial's
curves (an error given as a metric, losses that never changed) is told once per kind for the
study, naming the first trial that showed it: a study's trials log their curves alike.

A trial that failed (raised, returned NaN or infinity, or was pruned with nothing to read:
:func:`hyperlab.tuners.failed_trials.is_failure`) is never the best configuration. While no
trial has scored and one has failed, the advice moves the latest trial's configuration (a run
that crashed gets its learning rate lowered again and again, from where it crashed), and while
every trial has failed, a configuration that gives nothing new is drawn instead at random: no
configuration is known to work, so none is stayed near. A trial pruned after reporting has not
failed: without a failure, the start stays the configuration to move until a trial completes. A
``start`` value that a failed trial ran with is not proposed again. Without a given space, the
space is read from the complete trials, a numeric parameter whose range differs between them
over the union of their ranges (:mod:`hyperlab.tuners.merged_space`).

A ``start`` that names a parameter outside a given space is refused when the sampler is built;
without a given space, the first trial that reads the space warns once of the start's names
that no finished trial has. A start value outside its range (or not one of its choices) is
warned of once per parameter, where it is first read: the start then holds the nearest bound
(the first choice), and a trial that samples the parameter alone draws it at random.

The whole state is recomputed from the study's trials, so the sampler is deterministic per seed,
pickles, and survives failed and pruned trials.
"""

from __future__ import annotations

import math
import re
import warnings
from typing import Any

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.samplers import BaseSampler, RandomSampler
from optuna.trial import FrozenTrial, TrialState

from hyperlab.diagnose import Advice, diagnose
from hyperlab.diagnose.advice import ALIASES
from hyperlab.diagnose.inputs import without_odd_metrics
from hyperlab.direction import study_sign
from hyperlab.errors import InputError, InputTypeError, check_bool, check_seed
from hyperlab.registry import TUNERS
from hyperlab.space import SpaceEncoder, check_distributions
from hyperlab.tuners.failed_trials import is_failure
from hyperlab.tuners.merged_space import MergedSpace

_DONE = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
#: The local step's scale is multiplied by this for each trial since the best one improved.
PERTURB_SHRINK = 0.8
#: A number in a warning's text (``0.78``, ``1e-05``): warnings that differ only in these are
#: of one kind.
_NUMBER = re.compile(r"\d+(\.\d*)?(e[-+]?\d+)?")


class DiagnosisSampler(BaseSampler):
    """Follow the diagnostician's advice from one training run to the next.

    Args:
        seed: Seed of the random perturbations (and of the fallback random sampler).
        space: The search space; ``None`` reads it from the complete trials (see the module
            docstring).
        start: The first configuration (``None``: the centre of the space).
        min_step: The smallest step scale a knob can shrink to (1.0 = the advice's own factor).
        use_model: Blend in the diagnostician's learned classifier.
    """

    def __init__(
        self,
        seed: int | None = None,
        space: dict[str, BaseDistribution] | None = None,
        start: dict[str, Any] | None = None,
        min_step: float = 0.1,
        use_model: bool = True,
    ) -> None:
        self.seed = seed
        self.space = space
        self.start = start
        self.min_step = min_step
        self.use_model = use_model
        self._check_settings()  # a bad setting fails here, not in the first trial
        self._random = RandomSampler(seed=seed)
        self._merged = MergedSpace(include_pruned=False)
        self._cache: dict[tuple[int, int], list[Advice]] = {}
        self._warned_blind = False  # a trial without curves, told once
        self._told: set[tuple[type[Warning], str]] = set()  # diagnose's warnings, each kind once
        self._told_start: set[str] = set()  # the start's names warned of ("" : unknown names)

    def _check_settings(self) -> None:
        """Refuse a setting of the wrong type or out of range, by name."""
        step = self.min_step
        if isinstance(step, bool) or not isinstance(step, int | float) or not 0 < step <= 1:
            raise InputError(f"min_step must be a number in (0, 1], got {step!r}")
        check_bool("use_model", self.use_model)
        check_seed(self.seed)
        self.space = check_distributions("space", self.space)
        if self.start is not None and not isinstance(self.start, dict):
            raise InputTypeError(f"start must be a dict of parameter values, got {self.start!r}")
        unknown = sorted(set(self.start or ()) - set(self.space or ()), key=str)
        if self.space is not None and unknown:
            raise InputError(
                f"start names {', '.join(map(repr, unknown))}, not in the search space; its "
                f"parameters: {', '.join(map(repr, sorted(self.space or ())))}"
            )

    def reseed_rng(self) -> None:
        self._random.reseed_rng()

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        if self.space is not None:
            return dict(self.space)
        return self._merged.calculate(study)

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if len(study.directions) > 1:  # refused at the first trial, before any runs
            raise InputError(
                f"DiagnosisSampler optimizes one objective; this study has {len(study.directions)} "
                "(Optuna's TPESampler and NSGAIISampler take several)"
            )
        if not search_space:
            return {}
        if not 0 < self.min_step <= 1:
            raise InputError(f"min_step must be in (0, 1], got {self.min_step!r}")
        history = [
            t for t in study.get_trials(deepcopy=False, states=_DONE) if t.number < trial.number
        ]
        self._check_start(search_space, history)
        return self._next(history, trial.number, search_space, study_sign(study))

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        if self.start is not None and param_name in self.start:
            value = self.start[param_name]
            why = _outside(value, param_distribution)
            if why is not None:
                self._tell_start(param_name, f"{param_name!r}: {why}: drawn at random")
            elif param_distribution._contains(
                param_distribution.to_internal_repr(value)
            ) and not _failed_with(study, param_name, value):
                return value
        return self._random.sample_independent(study, trial, param_name, param_distribution)

    # -- the start ----------------------------------------------------------------------------

    def _check_start(self, space: dict[str, BaseDistribution], history: list[FrozenTrial]) -> None:
        """Warn of the start's names no finished trial has, and of its values out of ``space``."""
        if not self.start or not space:
            return
        known = set(space).union(*(t.params for t in history))
        unknown = sorted(set(self.start) - known, key=str)
        if unknown:
            self._tell_start(
                "",
                f"names {', '.join(map(repr, unknown))}, no parameter of the search space "
                f"(its parameters: {', '.join(map(repr, sorted(known)))}): left out",
            )
        for name, value in self.start.items():
            why = _outside(value, space[name]) if name in space else None
            if why is not None:
                self._tell_start(
                    name, f"{name!r}: {why}: it starts at {_clip(value, space[name])!r}"
                )

    def _tell_start(self, key: str, text: str) -> None:
        """Warn once per ``key`` of what the start gives (``text``)."""
        if key not in self._told_start:
            self._told_start.add(key)
            warnings.warn(f"the diagnosis tuner's start {text}", UserWarning, stacklevel=4)

    # -- the algorithm ------------------------------------------------------------------------

    def _start_config(self, space: dict[str, BaseDistribution]) -> dict[str, Any]:
        from hyperlab.space.distributions import centre

        config = centre(space)
        for name, value in (self.start or {}).items():
            if name in space:
                config[name] = _clip(value, space[name])
        return config

    def _next(
        self,
        history: list[FrozenTrial],
        number: int,
        space: dict[str, BaseDistribution],
        sign: float = 1.0,
    ) -> dict[str, Any]:
        """The next configuration; ``sign * value`` is minimized (``-1`` when maximizing)."""
        start = self._start_config(space)
        if not history:
            return start
        steps = dict.fromkeys(space, 1.0)
        last_dir: dict[str, str] = {}
        for t in history:
            # replay: the step scales after each finished trial
            for adv in self._advice(t):
                key = _param_for(adv.knob, space)
                if key is None or adv.direction == "keep":
                    continue
                if last_dir.get(key) not in (None, adv.direction):
                    steps[key] = max(self.min_step, steps[key] * 0.5)
                last_dir[key] = adv.direction
        base, since_best = _base(history, space, sign, start)
        moves = [a for a in self._advice(history[-1]) if a.direction != "keep"]
        config = dict(base)
        for adv in moves:
            key = _param_for(adv.knob, space)
            if key is not None:
                config[key] = _move(config[key], space[key], adv, steps[key])
        tried = [{k: t.params.get(k) for k in space} for t in history]
        rng = np.random.default_rng([self.seed or 0, number])
        scale = max(self.min_step, PERTURB_SHRINK ** (since_best or 0))
        for attempt in range(20):
            if config not in tried:
                break
            if since_best is None:  # nothing has scored: no configuration known to work
                config = _draw(space, rng)
            else:  # a step too small to leave the tried set (integer knobs) grows back
                config = _perturb(base, space, rng, min(1.0, scale * 1.5**attempt))
        return config

    def _advice(self, t: FrozenTrial) -> list[Advice]:
        key = (t.number, t._trial_id)
        if key not in self._cache:
            self._cache[key] = self._diagnose(t)
        return self._cache[key]

    def _warn_blind(self, why: str) -> None:
        """Warn once that the tuner has no advice to follow (``why``)."""
        if not self._warned_blind:
            self._warned_blind = True
            warnings.warn(
                f"the diagnosis tuner follows the advice read from each trial's curves: {why}, "
                "so it has none to follow there and perturbs the best trial at random; or use "
                "another tuner",
                UserWarning,
                stacklevel=3,
            )

    def _diagnose(self, t: FrozenTrial) -> list[Advice]:
        curves = t.user_attrs.get("curves") or {}
        n = len(curves.get("train_loss") or [])
        if n < 3 or "val_loss" not in curves:
            if t.state == TrialState.FAIL and is_failure(t):  # (the task's, not one cut off)
                return [
                    Advice("lr", "down", 0.3, "the trial failed without curves: assume divergence")
                ]
            if t.state == TrialState.COMPLETE:
                self._warn_blind(
                    f"trial {t.number} has no train and validation loss curves of 3 epochs or "
                    "more (record them: a hyperlab Task's Evaluation(curves=...))"
                )
            return []
        caught: list[warnings.WarningMessage] = []
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                advice = diagnose(without_odd_metrics(curves), None, use_model=self.use_model)
        except InputError as exc:
            self._tell(t.number, caught)
            self._warn_blind(f"the curves of trial {t.number} cannot be read ({exc})")
            return []
        self._tell(t.number, caught)
        return self._budget_advice(advice.advice)

    def _tell(self, number: int, caught: list[warnings.WarningMessage]) -> None:
        """Warn of what the diagnosis warned of trial ``number``'s curves, each kind of warning
        once (its numbers differ from trial to trial, and a study's trials log their curves
        alike: an error given as a metric would otherwise be told for every trial)."""
        for w in caught:
            text = str(w.message)
            kind = (w.category, _NUMBER.sub("#", text))
            if kind in self._told:
                continue
            self._told.add(kind)
            warnings.warn(
                f"trial {number}'s curves: {text} (the diagnosis tuner tells this once; later "
                "trials' curves may show it too)",
                w.category,
                stacklevel=3,
            )

    def _budget_advice(self, advice: list[Advice]) -> list[Advice]:
        """``advice``, read for a fixed budget when the space has no epochs knob."""
        if self.space is not None and _param_for("epochs", self.space) is None:
            return _fixed_budget(advice)
        return advice


def _failed_with(study: optuna.Study, name: str, value: Any) -> bool:
    """Whether a finished trial of ``study`` that failed ran with ``name`` at ``value``."""
    done = study.get_trials(deepcopy=False, states=_DONE)
    return any(t.params.get(name) == value and is_failure(t) for t in done)


def _base(
    history: list[FrozenTrial], space: dict[str, BaseDistribution], sign: float, start: dict
) -> tuple[dict[str, Any], int | None]:
    """The configuration to move and the trials finished since it became the best.

    The best scored trial (``sign * value`` least); a trial that failed
    (:func:`hyperlab.tuners.failed_trials.is_failure`) never is one. While no trial has scored
    and one has failed, the latest one that holds every parameter of ``space``: the advice read
    from a failed run moves that run's configuration. Else ``start``: trials pruned after
    reporting have not failed, and leave it the configuration to move. The trials since count
    every trial; they are ``None`` while every trial has failed (no configuration is known to
    work).
    """
    best_value, base, since_best = math.inf, start, 0
    latest, any_failed, all_failed = None, False, True
    for t in history:
        since_best += 1
        failed = is_failure(t)
        any_failed, all_failed = any_failed or failed, all_failed and failed
        if not all(k in t.params for k in space):
            continue
        latest = {k: t.params[k] for k in space}
        value = t.value if t.state == TrialState.COMPLETE and not failed else None
        if value is not None and sign * value < best_value:
            best_value, base, since_best = sign * value, latest, 0
    if best_value == math.inf and any_failed and latest is not None:
        base = latest
    return base, None if all_failed else since_best


def _fixed_budget(advice: list[Advice]) -> list[Advice]:
    """With the epochs fixed by the budget, "train longer" becomes "train faster" (lr up x2)."""
    epochs = next((a for a in advice if a.knob == "epochs"), None)
    lr = next((a for a in advice if a.knob == "lr"), None)
    if epochs is None or epochs.direction != "up" or (lr is not None and lr.direction != "keep"):
        return advice
    faster = Advice("lr", "up", 2.0, f"{epochs.reason}, with a fixed budget: train faster")
    return [faster if a.knob == "lr" else a for a in advice if a.knob != "epochs"] + (
        [] if lr is not None else [faster]
    )


def _param_for(knob: str, space: dict[str, BaseDistribution]) -> str | None:
    return next((k for k in ALIASES[knob] if k in space), None)


def _outside(value: Any, dist: BaseDistribution) -> str | None:
    """Why the start's ``value`` lies outside ``dist`` (naming its range), or ``None``; a
    numeric parameter reads it as Optuna does (``float``: ``"1e-3"`` is a number)."""
    if isinstance(dist, CategoricalDistribution):
        if value in dist.choices:
            return None
        return f"value {value!r} is not one of its choices {list(dist.choices)}"
    if isinstance(dist, IntDistribution | FloatDistribution):
        number = _as_number(value)
        if number is None:
            return f"value {value!r} is not a number"
        if not dist.low <= number <= dist.high:
            return f"value {value!r} is outside its range [{dist.low}, {dist.high}]"
    return None


def _as_number(value: Any) -> float | None:
    """``value`` as a float, or ``None`` when it reads as none (``None``, ``"abc"``, NaN)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _clip(value: Any, dist: BaseDistribution) -> Any:
    """``value`` moved into ``dist`` (the nearest bound, on its step; the first choice); a
    value that is no number, of a numeric parameter, is its centre."""
    from hyperlab.space.distributions import centre

    if isinstance(dist, CategoricalDistribution):
        return value if value in dist.choices else dist.choices[0]
    number = _as_number(value)
    if isinstance(dist, IntDistribution | FloatDistribution) and number is None:
        return centre({"": dist})[""]
    if isinstance(dist, IntDistribution):
        iv = round(min(max(float(value), dist.low), dist.high))
        return dist.low + dist.step * round((iv - dist.low) / dist.step)
    if isinstance(dist, FloatDistribution):
        fv = min(max(float(value), dist.low), dist.high)
        if dist.step is not None:
            fv = dist.low + dist.step * round((fv - dist.low) / dist.step)
        return float(fv)
    return value


def _move(value: Any, dist: BaseDistribution, adv: Advice, step: float) -> Any:
    """Move ``value`` by the advice's factor raised to ``step`` (log axes) or an additive step."""
    if isinstance(dist, CategoricalDistribution):
        return value
    assert isinstance(dist, IntDistribution | FloatDistribution)
    sign = 1.0 if adv.direction == "up" else -1.0
    if dist.log:
        new = float(value) * adv.factor**step  # factor > 1 for "up", < 1 for "down"
        if isinstance(dist, IntDistribution) and round(new) == value:
            new = value + sign * dist.step
    elif isinstance(dist, IntDistribution):
        new = value + sign * max(dist.step, round(step * (dist.high - dist.low) / 4))
    else:
        new = float(value) + sign * step * (dist.high - dist.low) / 4
    return _clip(new, dist)


def _perturb(
    base: dict[str, Any],
    space: dict[str, BaseDistribution],
    rng: np.random.Generator,
    scale: float = 1.0,
) -> dict[str, Any]:
    """``base`` with one random numeric knob moved by a random step.

    The step is at most a factor of ``3**scale`` on log axes and ``scale`` quarters of the range
    on linear ones.
    """
    numeric = [k for k, d in space.items() if not isinstance(d, CategoricalDistribution)]
    config = dict(base)
    if not numeric:
        return config
    key = numeric[int(rng.integers(len(numeric)))]
    dist = space[key]
    assert isinstance(dist, IntDistribution | FloatDistribution)
    u = float(rng.uniform(-1, 1)) * scale
    if dist.log:
        new = float(config[key]) * 3.0**u
    else:
        new = float(config[key]) + u * (dist.high - dist.low) / 4
    config[key] = _clip(new, dist)
    return config


def _draw(space: dict[str, BaseDistribution], rng: np.random.Generator) -> dict[str, Any]:
    """A configuration drawn uniformly on the encoded axes of ``space`` (log axes on the log)."""
    enc = SpaceEncoder(space)
    return enc.decode(enc.random(1, rng))[0]


@TUNERS.add("diagnosis", "reads each run's learning curves and follows the diagnostician's advice")
def diagnosis(
    *,
    seed: int | None = None,
    space: dict[str, BaseDistribution] | None = None,
    task: Any = None,
    **options: Any,
) -> DiagnosisSampler:
    start = options.pop("start", None)
    if space is None and task is not None:
        space = task.distributions()
    if start is None and task is not None:  # the task's choice: of its space alone
        start = {k: v for k, v in task.default_config().items() if space is None or k in space}
    return DiagnosisSampler(seed=seed, space=space, start=start, **options)


diagnosis.forwards_to = DiagnosisSampler  # type: ignore[attr-defined]
