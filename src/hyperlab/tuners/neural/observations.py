"""The study's trials as the neural sampler's training data.

A complete trial is an observation of its value. A trial a learning-curve pruner stopped with a
prediction of its final value is an observation of that prediction at the full budget, with the
prediction's std as known noise (the pruner read more of the curve than the sampler can). With
``multi_fidelity`` a pruned trial is an observation of its last reported value at the budget it
reached. Values are multiplied by the study's sign, so lower is always better.

:class:`TrialMemory` keeps what the sampler learns from the storage between suggestions, so a
suggestion reads each finished trial once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from hyperlab.direction import sign as direction_sign
from hyperlab.direction import study_sign
from hyperlab.errors import InputTypeError, SettingError, listed
from hyperlab.space import SpaceEncoder
from hyperlab.tuners.feedback import predicted_final
from hyperlab.tuners.neural.design import SobolDesign
from hyperlab.tuners.trial_points import encode_trial

_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


class Observation(NamedTuple):
    """One finished trial as training data."""

    x: np.ndarray  #: encoded parameters, shape ``(d,)``
    y: float  #: the value times the study's sign (lower is better)
    noise: float  #: known standard deviation of ``y`` (0: none known)
    budget: float  #: the budget ``y`` was measured at (``inf``: the full budget)


@dataclass(frozen=True)
class TrialReader:
    """Turns a finished trial into an :class:`Observation` (see the module docstring).

    Args:
        pruner_predictions: Read a pruned trial's predicted final value.
        multi_fidelity: Read a pruned trial's last value at its budget, and a complete
            trial's budget.
        max_budget: The full budget (``None``: unknown, the largest one seen).
        pruned_last_value: Read a pruned trial without a prediction at its last reported
            value, as if it had ended there (without ``multi_fidelity``: at full budget).
    """

    pruner_predictions: bool
    multi_fidelity: bool
    max_budget: float | None
    pruned_last_value: bool = False

    def read(self, enc: SpaceEncoder, t: FrozenTrial, sign: float) -> Observation | None:
        """The observation of ``t`` (``sign * value`` is minimized), or None when unusable."""
        x = encode_trial(enc, t)
        if x is None:
            return None
        pruned = t.state == TrialState.PRUNED
        predicted = predicted_final(t) if self.pruner_predictions and pruned else None
        if t.state == TrialState.COMPLETE and t.value is not None and math.isfinite(t.value):
            budget = trial_budget(t) if self.multi_fidelity else math.inf
            return Observation(x, sign * float(t.value), _std_err(t), budget)
        if predicted is not None:
            budget = float(self.max_budget) if self.max_budget is not None else math.inf
            return Observation(x, sign * predicted[0], predicted[1], budget)
        if pruned and (self.multi_fidelity or self.pruned_last_value) and t.intermediate_values:
            value = float(t.intermediate_values[max(t.intermediate_values)])
            if not math.isfinite(value):
                return None
            if not self.multi_fidelity:  # as if it had ended there, at full budget
                return Observation(x, sign * value, _std_err(t), math.inf)
            budget = trial_budget(t)
            budget = float(max(t.intermediate_values)) if math.isinf(budget) else budget
            return Observation(x, sign * value, _std_err(t), budget)
        return None


def _std_err(t: FrozenTrial) -> float:
    """The trial's ``std_err`` user attribute when it is a positive number, else 0."""
    try:
        noise = float(t.user_attrs.get("std_err", 0.0))
    except (TypeError, ValueError):
        return 0.0
    return noise if math.isfinite(noise) and noise > 0 else 0.0


def trial_budget(t: FrozenTrial) -> float:
    """The trial's budget: its ``budget`` attribute, else its last reported step, else ``inf``."""
    budget = t.user_attrs.get("budget")
    if isinstance(budget, int | float) and not isinstance(budget, bool) and budget > 0:
        return float(budget)
    if t.intermediate_values:
        return float(max(max(t.intermediate_values), 1))
    return math.inf


def largest_budget_rows(
    study: Study, enc: SpaceEncoder, needed: int
) -> list[tuple[np.ndarray, float]] | None:
    """``(x, sign * value)`` of every trial at the largest step that ``needed`` trials reached.

    Complete and pruned trials count alike; None when no step has ``needed`` finite values.
    """
    sign = study_sign(study)
    by_step: dict[int, list[tuple[np.ndarray, float]]] = {}
    for t in study.get_trials(deepcopy=False, states=_FINISHED):
        if not t.intermediate_values:
            continue
        x = encode_trial(enc, t)
        if x is None:
            continue
        for step, value in t.intermediate_values.items():
            if math.isfinite(value):
                by_step.setdefault(step, []).append((x, sign * float(value)))
    for step in sorted(by_step, reverse=True):
        if len(by_step[step]) >= needed:
            return by_step[step]
    return None


class TrialMemory:
    """What the sampler keeps between suggestions, for one search space at a time.

    The encoder, each finished trial's observation (read once), each transfer study's
    observations (read once), the start-up design, and the point proposed to each trial
    still running (whose parameters a user may not have asked for yet). A new search space
    forgets all but the proposals. Apart from these, the parameters of a space given in
    advance that a finished trial lacks (:meth:`modelled_space`), and the parameters each
    running trial's suggestion models (:meth:`note_modelled`).
    """

    def __init__(self) -> None:
        self.encoder: SpaceEncoder | None = None
        self.design: SobolDesign | None = None
        self.rows: dict[tuple[str, int], Observation | None] = {}
        self.transfer: dict[str, list[Observation]] = {}
        self.proposed: dict[tuple[str, int], np.ndarray] = {}
        self.absent: dict[str, set[str]] = {}  # by study: parameters some finished trial lacks
        self.scanned: dict[str, set[int]] = {}  # by study: the trials already looked at
        # by (study, trial) still running: the parameters its suggestion models (None: none yet)
        self.modelled: dict[tuple[str, int], frozenset[str] | None] = {}

    def modelled_space(
        self, study: Study, given: dict[str, BaseDistribution]
    ) -> dict[str, BaseDistribution]:
        """``given`` (a space known in advance, of every branch of a conditional one) without
        the parameters that a finished trial of ``study`` lacks: a trial of another branch
        does not encode in a space with such a parameter, so modelling it would leave every
        such trial out of the data; it is sampled at random instead."""
        absent = self.absent.setdefault(study.study_name, set())
        scanned = self.scanned.setdefault(study.study_name, set())
        for t in study.get_trials(deepcopy=False, states=_FINISHED):
            if t.number not in scanned and t.params:
                scanned.add(t.number)
                absent |= given.keys() - t.params.keys()
        return {name: d for name, d in given.items() if name not in absent}

    def note_modelled(
        self, study: Study, trial: FrozenTrial, space: dict[str, BaseDistribution], read: bool
    ) -> None:
        """Remember that ``trial``'s suggestion models the parameters of ``space``; an empty
        ``space`` before any finished trial was ``read`` leaves none out (there is nothing to
        model from yet)."""
        key = (study.study_name, trial.number)
        self.modelled[key] = frozenset(space) if space or read else None

    def left_out(self, study: Study, trial: FrozenTrial, name: str) -> bool:
        """Whether parameter ``name`` of ``trial`` is drawn at random because the modelled
        space lacks it (see :meth:`note_modelled`; not for a value proposed outside the range
        the trial asks for, nor while no finished trial was read)."""
        space = self.modelled.get((study.study_name, trial.number))
        return space is not None and name not in space

    def forget(self, study: Study, trial: FrozenTrial) -> None:
        """Forget what was kept for ``trial``, which has ended."""
        self.proposed.pop((study.study_name, trial.number), None)
        self.modelled.pop((study.study_name, trial.number), None)

    def encoder_for(self, search_space: dict[str, BaseDistribution]) -> SpaceEncoder:
        """The encoder of ``search_space``; a different space starts afresh."""
        if self.encoder is None or self.encoder.distributions != search_space:
            self.encoder = SpaceEncoder(search_space)
            self.rows.clear()
            self.transfer.clear()
            self.design = None
        return self.encoder

    def design_point(self, enc: SpaceEncoder, index: int, seed: int | None) -> np.ndarray:
        """Point ``index`` of the start-up design."""
        if self.design is None:
            self.design = SobolDesign(enc.dim, seed)
        return self.design.point(enc, index)

    def observations(
        self, study: Study, trial: FrozenTrial, enc: SpaceEncoder, reader: TrialReader
    ) -> tuple[list[Observation], list[np.ndarray], list[np.ndarray]]:
        """The observations of the study's finished trials, the points of its running ones and
        the points of its finished trials that gave no observation (a pruned trial without a
        prediction; never to be proposed again) (``trial`` itself left out)."""
        sign = study_sign(study)
        states = (*_FINISHED, TrialState.RUNNING)
        obs, running, unread = [], [], []
        for t in study.get_trials(deepcopy=False, states=states):
            if t.number == trial.number:
                continue
            key = (study.study_name, t.number)
            if t.state == TrialState.RUNNING:
                x = encode_trial(enc, t)
                x = self.proposed.get(key) if x is None else x
                if x is not None and len(x) == enc.dim:  # not proposed in an older space
                    running.append(x)
                continue
            if key not in self.rows:
                self.rows[key] = reader.read(enc, t, sign)
            row = self.rows[key]
            if row is not None:
                obs.append(row)
            elif (x := encode_trial(enc, t)) is not None:
                unread.append(x)
        return obs, running, unread

    def transfer_rows(
        self, study: Study, enc: SpaceEncoder, names: Sequence[str], reader: TrialReader
    ) -> list[list[Observation]]:
        """The observations of each transfer study (``study`` itself skipped), in order."""
        out = []
        for name in names:
            if name == study.study_name:
                continue
            if name not in self.transfer:
                self.transfer[name] = _read_other_study(study, name, enc, reader.read)
            out.append(self.transfer[name])
        return out


def _read_other_study(
    study: Study,
    name: str,
    enc: SpaceEncoder,
    read: Callable[[SpaceEncoder, FrozenTrial, float], Observation | None],
) -> list[Observation]:
    """The usable observations of study ``name`` in ``study``'s storage, in its own direction."""
    storage = study._storage
    try:
        study_id = storage.get_study_id_from_name(name)
    except KeyError as exc:
        raise SettingError(
            f"transfer study {name!r} is not in this storage (its studies: "
            f"{listed([s.study_name for s in storage.get_all_studies()])})"
        ) from exc
    sign = direction_sign(storage.get_study_directions(study_id)[0])
    trials = storage.get_all_trials(study_id, deepcopy=False, states=_FINISHED)
    if trials and all(encode_trial(enc, t) is None for t in trials):
        raise SettingError(_unmatched(name, trials, enc))
    rows = [read(enc, t, sign) for t in trials]
    return [r for r in rows if r is not None]


def _unmatched(name: str, trials: list[FrozenTrial], enc: SpaceEncoder) -> str:
    """Why no finished trial of transfer study ``name`` fits this study's space ``enc``."""
    missing = [p for p in enc.names if all(p not in t.params for t in trials)]
    why = (
        f"none of its {len(trials)} finished trials has {', '.join(missing)}"
        if missing
        else f"every one of its {len(trials)} finished trials has a value outside this "
        "study's ranges or choices"
    )
    return (
        f"transfer study {name!r} has no trial of this study's search space "
        f"({', '.join(enc.names)}): {why}; name a study of the same parameters"
    )


def transfer_study_names(value: Any) -> list[str] | None:
    """``transfer_studies`` as a list of names: a list of strings, or one comma-separated
    string (as the command line gives it); ``None`` stays ``None``.

    Raises:
        InputTypeError: ``value`` is neither; the message shows it.
    """
    if value is None:
        return None
    names = [n.strip() for n in value.split(",")] if isinstance(value, str) else value
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) and n for n in names):
        raise InputTypeError(
            f"transfer_studies must be a list of study names (or one comma-separated string), "
            f"got {value!r}"
        )
    return list(names)
