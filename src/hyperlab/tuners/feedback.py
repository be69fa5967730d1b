"""Let a classic sampler learn from what a learning-curve pruner predicted for the trials it stopped.

Optuna's samplers rank a pruned trial below every complete one (TPE) or ignore it. A curve
pruner (``curve``, ``curve-halving``) records on each trial it stops the final value it
predicted (user attributes ``predicted_final_mean`` / ``predicted_final_std``).
:class:`PredictionFeedback` wraps a sampler and shows it such a trial as complete, with the
predicted mean as its value; every other trial is shown as it is. The study itself is never
changed: the wrapped sampler reads the trials through a view. The prediction is in the
objective's own units, so the wrapped sampler reads it in the study's direction, as it reads
every value.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Sequence
from typing import Any

from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from hyperlab.errors import InputTypeError


def predicted_final(t: FrozenTrial) -> tuple[float, float] | None:
    """``(mean, std)`` of the final value a curve pruner predicted for ``t``, or None."""
    mean = t.user_attrs.get("predicted_final_mean")
    std = t.user_attrs.get("predicted_final_std")
    if not isinstance(mean, int | float) or not isinstance(std, int | float):
        return None
    if isinstance(mean, bool) or isinstance(std, bool):
        return None
    if not (math.isfinite(mean) and math.isfinite(std) and std >= 0):
        return None
    return float(mean), float(std)


def predicted_as_complete(t: FrozenTrial) -> FrozenTrial:
    """``t`` as a complete trial valued at the pruner's prediction, when it was pruned with one;
    else ``t`` itself."""
    predicted = predicted_final(t) if t.state == TrialState.PRUNED else None
    if predicted is None:
        return t
    shown = copy.copy(t)
    shown.state = TrialState.COMPLETE
    shown.values = [predicted[0]]
    return shown


class _StudyView:
    """The study as the wrapped sampler sees it: predicted trials shown as complete."""

    def __init__(self, study: Study) -> None:
        self._study = study

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)

    def _get_trials(
        self,
        deepcopy: bool = True,
        states: Iterable[TrialState] | None = None,
        use_cache: bool = False,
    ) -> list[FrozenTrial]:
        # ask for all finished states: a pruned trial may be wanted as a complete one
        wanted = None if states is None else set(states)
        asked = None if wanted is None else tuple(wanted | {TrialState.PRUNED})
        trials = self._study._get_trials(deepcopy=deepcopy, states=asked, use_cache=use_cache)
        shown = [predicted_as_complete(t) for t in trials]
        return [t for t in shown if wanted is None or t.state in wanted]

    def get_trials(
        self, deepcopy: bool = True, states: Iterable[TrialState] | None = None
    ) -> list[FrozenTrial]:
        return self._get_trials(deepcopy=deepcopy, states=states)

    @property
    def trials(self) -> list[FrozenTrial]:
        return self.get_trials()


class PredictionFeedback(BaseSampler):
    """Wrap ``sampler`` so that it sees a curve pruner's predicted final value of each trial the
    pruner stopped as that trial's value (a complete trial); see the module docstring.

    Args:
        sampler: The sampler to wrap (for example Optuna's ``TPESampler``).
    """

    def __init__(self, sampler: BaseSampler) -> None:
        if not isinstance(sampler, BaseSampler):
            raise InputTypeError(f"sampler must be an Optuna sampler, got {sampler!r}")
        self.sampler = sampler

    def reseed_rng(self) -> None:
        self.sampler.reseed_rng()

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return self.sampler.infer_relative_search_space(_view(study), trial)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return self.sampler.sample_relative(_view(study), trial, search_space)

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return self.sampler.sample_independent(_view(study), trial, param_name, param_distribution)

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self.sampler.before_trial(study, trial)

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self.sampler.after_trial(study, trial, state, values)


def _view(study: Study) -> Study:
    view: Any = _StudyView(study)
    return view  # duck-typed: the wrapped sampler reads it as a Study


__all__ = ["PredictionFeedback", "predicted_as_complete", "predicted_final"]
