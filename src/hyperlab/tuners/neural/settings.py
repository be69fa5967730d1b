"""Checks of the neural sampler's options, run once before its first suggestion.

The sampler stores its options unchanged (scikit-learn's rule) and hands them here by name;
each check raises :class:`~hyperlab.errors.InputError` or
:class:`~hyperlab.errors.InputTypeError` naming the option and the bad value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hyperlab.errors import (
    InputError,
    InputTypeError,
    check_bool,
    check_nonneg,
    check_positive,
    check_seed,
)
from hyperlab.space import check_distributions
from hyperlab.surrogates import ACQUISITIONS, SURROGATES, make_acquisition, make_surrogate
from hyperlab.surrogates.base import TARGET_TRANSFORMS
from hyperlab.tuners.neural.observations import transfer_study_names

#: How trials still running enter the training data (see ``NeuralSampler``'s ``running``).
LIARS = ("best", "mean", "none")
#: Options that must be ``True`` or ``False``.
FLAGS = (
    "multi_fidelity",
    "pruner_predictions",
    "pruned_last_value",
    "budget_fallback",
    "warn_independent_sampling",
)


def check_settings(options: Mapping[str, Any]) -> None:
    """Check the sampler's options, given as ``{name: value}``.

    Raises:
        InputError: A value out of range or an unknown surrogate, acquisition or liar; an
            option the surrogate does not take.
        InputTypeError: A value of the wrong type.
    """
    _check_models(options)
    _check_counts(options)
    _check_study_options(options)
    for name in FLAGS:
        check_bool(name, options[name])
    check_seed(options["seed"])
    transform = options["target_transform"]
    if transform is not None and transform not in TARGET_TRANSFORMS:
        raise InputError(
            f"target_transform must be one of {TARGET_TRANSFORMS} or None, got {transform!r}"
        )
    check_distributions("search_space", options["search_space"])


def _check_models(options: Mapping[str, Any]) -> None:
    """The surrogate, the acquisition and their option dicts."""
    surrogate, acquisition = options["surrogate"], options["acquisition"]
    if surrogate not in SURROGATES:
        raise InputError(f"surrogate must be one of {sorted(SURROGATES)}, got {surrogate!r}")
    if acquisition not in ACQUISITIONS:
        raise InputError(f"acquisition must be one of {sorted(ACQUISITIONS)}, got {acquisition!r}")
    for name in ("surrogate_options", "acquisition_options"):
        value = options[name]
        if value is not None and not isinstance(value, dict):
            raise InputTypeError(f"{name} must be a dict or None, got {value!r}")
    if options["surrogate_options"]:  # an option the surrogate does not take fails here, by name
        make_surrogate(surrogate, **options["surrogate_options"])
    if options["acquisition_options"]:  # as does one the acquisition does not take, or its value
        make_acquisition(acquisition, **options["acquisition_options"])


def _check_counts(options: Mapping[str, Any]) -> None:
    """``n_startup``, ``random_fraction`` and ``n_candidates``."""
    n_startup = options["n_startup"]
    if n_startup is not None and not _positive_int(n_startup):
        raise InputError(f"n_startup must be a positive int or None, got {n_startup!r}")
    fraction = options["random_fraction"]  # a bool would pass for 0 or 1 (all random)
    if check_nonneg("random_fraction", fraction) > 1:
        raise InputError(f"random_fraction must be in [0, 1], got {fraction!r}")
    if not _positive_int(options["n_candidates"]):
        raise InputError(f"n_candidates must be a positive int, got {options['n_candidates']!r}")


def _check_study_options(options: Mapping[str, Any]) -> None:
    """``running``, ``transfer_studies`` and ``max_budget``."""
    if options["running"] not in LIARS:
        raise InputError(f"running must be one of {LIARS}, got {options['running']!r}")
    transfer_study_names(options["transfer_studies"])
    if options["max_budget"] is not None:  # NaN and inf slipped through as positive
        check_positive("max_budget", options["max_budget"])


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1
