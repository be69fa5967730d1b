"""The ``CurvePredictor`` extension point: from a partial learning curve to its final value.

A predictor is fitted on learning curves (complete or partial) with their configurations and
target budgets, and then predicts, from the first epochs of a new curve (and its
configuration), the value the curve will reach at the target budget, with its uncertainty as a
Gaussian ``(mean, std)``. Scores are minimized: the curve pruners hand a predictor a maximized
study's curves negated (:func:`hyperlab.direction.study_sign`), so that nothing here depends on
the direction.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution

from hyperlab.errors import InputError, InputTypeError, counted

#: One learning curve: a sequence of values after epochs 1, 2, ... (list or 1-D array).
CurveLike = Sequence[float] | np.ndarray


@dataclass
class CurveData:
    """Checked training data of a predictor.

    Attributes:
        curves: One finite array of shape ``(len_i,)`` per curve (truncated at the first
            non-finite value).
        configs: The configurations (``None`` when not given).
        budgets: Target budget of each curve, shape ``(n,)``; a curve whose length equals
            its budget is complete.
    """

    curves: list[np.ndarray]
    configs: list[dict[str, Any]] | None
    budgets: np.ndarray

    @property
    def complete(self) -> np.ndarray:
        """Boolean mask of shape ``(n,)``: which curves reached their target budget."""
        return np.array([len(c) >= b for c, b in zip(self.curves, self.budgets)], dtype=bool)


def as_curve(values: Any, name: str = "curve") -> np.ndarray:
    """``values`` as a float64 array of shape ``(len,)``; raises on wrong type or shape."""
    if isinstance(values, str | bytes) or not hasattr(values, "__len__"):
        raise InputTypeError(f"{name} must be a sequence of numbers, got {values!r}")
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InputTypeError(f"{name} must be a sequence of numbers, got {values!r}") from err
    if arr.ndim != 1:
        raise InputError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def truncate_finite(curve: np.ndarray) -> np.ndarray:
    """The prefix of ``curve`` before its first non-finite value (a diverged run)."""
    bad = np.flatnonzero(~np.isfinite(curve))
    return curve if len(bad) == 0 else curve[: bad[0]]


def check_curve_data(
    curves: Sequence[CurveLike],
    configs: Sequence[Mapping[str, Any]] | None = None,
    budgets: int | Sequence[int] | None = None,
) -> CurveData:
    """Checked :class:`CurveData` from the arguments of :meth:`CurvePredictor.fit`."""
    if isinstance(curves, str | bytes) or not isinstance(curves, Sequence):
        raise InputTypeError(f"curves must be a sequence of sequences, got {curves!r}")
    arrays = [truncate_finite(as_curve(c, f"curves[{i}]")) for i, c in enumerate(curves)]
    n = len(arrays)
    if configs is not None:
        if len(configs) != n:
            raise InputError(f"got {counted(n, 'curve')} but {counted(len(configs), 'config')}")
        for i, config in enumerate(configs):
            if not isinstance(config, Mapping):
                raise InputTypeError(f"configs[{i}] must be a dict, got {config!r}")
    longest = max((len(a) for a in arrays), default=0)
    if budgets is None:
        budget_arr = np.full(n, max(longest, 1), dtype=np.int64)
    elif isinstance(budgets, int) and not isinstance(budgets, bool):
        budget_arr = np.full(n, budgets, dtype=np.int64)
    else:
        if isinstance(budgets, str | bytes) or not isinstance(budgets, Sequence):
            raise InputTypeError(f"budgets must be an int or a sequence of ints, got {budgets!r}")
        if len(budgets) != n:
            raise InputError(f"got {counted(n, 'curve')} but {counted(len(budgets), 'budget')}")
        budget_arr = np.asarray(budgets, dtype=np.int64)
    for i, (a, b) in enumerate(zip(arrays, budget_arr)):
        if b < 1 or len(a) > b:
            raise InputError(f"budgets[{i}] must be >= 1 and >= the curve's length, got {b}")
    data = CurveData(
        curves=arrays,
        configs=None if configs is None else [dict(c) for c in configs],
        budgets=budget_arr,
    )
    return data


class CurvePredictor(ABC):
    """Base class of learning-curve predictors.

    Subclasses implement :meth:`_fit` and :meth:`_predict`; the public methods check inputs.
    After :meth:`fit`, ``max_budget_`` holds the largest target budget seen.
    """

    #: Whether the predictor uses the configuration (the parametric one does not).
    uses_config: bool = False
    #: Whether the predictor needs :meth:`fit` before it can predict.
    needs_fit: bool = False

    max_budget_: int | None = None

    def check_space(self, distributions: dict[str, BaseDistribution]) -> None:
        """Refuse, before a study runs, a search space the predictor cannot serve (one of other
        parameters than its pretraining curves'). Any space is fine by default.

        Raises:
            InputError: The message names both sets of parameters.
        """
        return None

    def fit(
        self,
        curves: Sequence[CurveLike],
        configs: Sequence[Mapping[str, Any]] | None = None,
        budgets: int | Sequence[int] | None = None,
        *,
        distributions: Mapping[str, BaseDistribution] | None = None,
    ) -> CurvePredictor:
        """Fit on learning curves.

        Args:
            curves: ``n`` curves, curve ``i`` of length ``len_i >= 1`` (value after epochs
                ``1..len_i``). Values from the first non-finite one on are dropped.
            configs: ``n`` configurations (dicts of hyperparameter values), or ``None``.
            budgets: The target budget of every curve (one int for all, or ``n`` ints, each
                ``>= len_i``); default: the longest curve's length. Curves shorter than their
                budget are partial.
            distributions: The search space of ``configs`` (Optuna distributions); needed by
                predictors that encode configurations.

        Returns:
            ``self``.
        """
        data = check_curve_data(curves, configs, budgets)
        n = len(data.curves)
        self.max_budget_ = int(data.budgets.max()) if n else self.max_budget_
        self._fit(data, None if distributions is None else dict(distributions))
        return self

    def predict_final(
        self,
        partial_curve: CurveLike,
        config: Mapping[str, Any] | None = None,
        budget: int | None = None,
    ) -> tuple[float, float]:
        """Predict the value a curve reaches at ``budget`` from its first epochs.

        Args:
            partial_curve: Values after epochs ``1..s`` (``s >= 1``, all finite).
            config: The curve's configuration (used by predictors with ``uses_config``).
            budget: Target epoch ``>= s`` (default: ``max_budget_`` from :meth:`fit`).

        Returns:
            ``(mean, std)`` of the predicted value at ``budget``; ``std > 0``.
        """
        mean, std = self.predict_finals(
            [partial_curve], None if config is None else [config], budget
        )
        return float(mean[0]), float(std[0])

    def predict_finals(
        self,
        partial_curves: Sequence[CurveLike],
        configs: Sequence[Mapping[str, Any]] | None = None,
        budget: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Batch form of :meth:`predict_final`.

        Args:
            partial_curves: ``m`` prefixes, each of length ``>= 1``.
            configs: ``m`` configurations or ``None``.
            budget: Target epoch (default: ``max_budget_``).

        Returns:
            ``(mean, std)``, each of shape ``(m,)``.
        """
        if self.needs_fit and self.max_budget_ is None:
            raise InputError(f"{type(self).__name__} must be fitted before it can predict")
        budget = self.max_budget_ if budget is None else budget
        if budget is None:
            raise InputError("give the target budget (the predictor was not fitted)")
        if isinstance(budget, bool) or not isinstance(budget, int | np.integer) or budget < 1:
            raise InputError(f"budget must be a positive int, got {budget!r}")
        arrays = [as_curve(c, f"partial_curves[{i}]") for i, c in enumerate(partial_curves)]
        for i, a in enumerate(arrays):
            if len(a) < 1 or len(a) > budget:
                raise InputError(f"partial_curves[{i}] must have 1..{budget} values, got {len(a)}")
            if not np.all(np.isfinite(a)):
                raise InputError(f"partial_curves[{i}] holds a non-finite value: {a.tolist()}")
        if configs is not None and len(configs) != len(arrays):
            raise InputError(
                f"got {counted(len(arrays), 'curve')} but {counted(len(configs), 'config')}"
            )
        if self.uses_config and configs is None:
            raise InputError(f"{type(self).__name__} needs the configurations")
        if not arrays:
            return np.zeros(0), np.zeros(0)
        mean, std = self._predict(
            arrays, None if configs is None else [dict(c) for c in configs], int(budget)
        )
        return np.asarray(mean, dtype=np.float64), np.maximum(np.asarray(std, np.float64), 1e-12)

    @abstractmethod
    def _fit(self, data: CurveData, distributions: dict[str, BaseDistribution] | None) -> None:
        """Fit on checked data."""

    @abstractmethod
    def _predict(
        self, curves: list[np.ndarray], configs: list[dict[str, Any]] | None, budget: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Predict ``(mean (m,), std (m,))`` at ``budget`` for checked prefixes."""


def gaussian_interval(mean: float, std: float, level: float = 0.9) -> tuple[float, float]:
    """The central ``level`` interval of a Gaussian."""
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.5 + level / 2)
    return mean - z * std, mean + z * std


def prob_below(mean: float, std: float, threshold: float) -> float:
    """``P(X < threshold)`` for ``X ~ N(mean, std^2)``."""
    if std <= 0:
        return 1.0 if mean < threshold else 0.0
    return 0.5 * math.erfc(-(threshold - mean) / (std * math.sqrt(2.0)))
