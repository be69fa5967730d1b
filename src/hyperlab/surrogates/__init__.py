"""Surrogate models and acquisition functions for the neural sampler.

``SURROGATES`` and ``ACQUISITIONS`` map short names to classes; :func:`make_surrogate` and
:func:`make_acquisition` create them and list the known names on a typo.
"""

from __future__ import annotations

from typing import Any

from hyperlab.errors import InputError, InputTypeError, UnknownNameError
from hyperlab.surrogates.acquisition import (
    Acquisition,
    ExpectedImprovement,
    ThompsonSampling,
    UpperConfidenceBound,
)
from hyperlab.surrogates.base import Surrogate
from hyperlab.surrogates.bll import BayesianLastLayer
from hyperlab.surrogates.ensemble import DeepEnsemble

SURROGATES: dict[str, type[Surrogate]] = {"bll": BayesianLastLayer, "ensemble": DeepEnsemble}
ACQUISITIONS: dict[str, type[Acquisition]] = {
    "ei": ExpectedImprovement,
    "ucb": UpperConfidenceBound,
    "ts": ThompsonSampling,
}


def make_surrogate(name: str, **options: Any) -> Surrogate:
    """Create the surrogate registered as ``name`` (``"bll"`` or ``"ensemble"``)."""
    if name not in SURROGATES:
        raise UnknownNameError(
            f"unknown surrogate {name!r}; known surrogates: {', '.join(SURROGATES)}"
        )
    try:
        return SURROGATES[name](**options)
    except TypeError as exc:  # an option the surrogate does not take
        raise InputError(
            f"the {name!r} surrogate does not take the options {sorted(options)}: {exc}"
        ) from None


def make_acquisition(name: str, **options: Any) -> Acquisition:
    """Create the acquisition function registered as ``name`` (``"ei"``, ``"ucb"``, ``"ts"``)."""
    if name not in ACQUISITIONS:
        raise UnknownNameError(
            f"unknown acquisition {name!r}; known acquisitions: {', '.join(ACQUISITIONS)}"
        )
    try:
        return ACQUISITIONS[name](**options)
    except InputTypeError:  # a value of the wrong type, named by the acquisition
        raise
    except TypeError as exc:  # an option the acquisition does not take
        raise InputError(
            f"the {name!r} acquisition does not take the options {sorted(options)}: {exc}"
        ) from None


__all__ = [
    "ACQUISITIONS",
    "SURROGATES",
    "Acquisition",
    "BayesianLastLayer",
    "DeepEnsemble",
    "ExpectedImprovement",
    "Surrogate",
    "ThompsonSampling",
    "UpperConfidenceBound",
    "make_acquisition",
    "make_surrogate",
]
