"""A practitioner's own past studies as training problems of the meta tuner.

A finished study becomes one real problem for
:class:`~hyperlab.tuners.meta.prior.TableProblems`: the parameters of its complete trials,
encoded the way the meta tuner encodes a study's trials while it tunes
(:class:`~hyperlab.space.SpaceEncoder` through
:class:`~hyperlab.tuners.neural.observations.TrialReader`), and their scores times the study's
sign, so that lower is better as in training. Pruned, failed and running trials are left out,
and so is a complete trial whose score is not finite.

A study too short to train on is left out, with a one-line note naming it: one with
:data:`~hyperlab.tuners.meta.prior.TOO_FEW` complete trials with a finite score or fewer (an
interrupted run's, say; training reads no smaller problem). Only when every study given is that
short is training refused (:class:`ShortStudyError`, naming them all).

A study is refused, by its name, when training could not read it or would learn something
false from it:

- it optimized more than one objective;
- its trials do not all share one search space: conditional parameters (a trial of one branch
  lacks the other's) or a range changed between resumptions. Such a study is refused rather
  than cut down to the parameters every trial has: its scores would then depend on parameters
  the network is not shown, and it would learn that noise as the problem's own;
- it has no parameter, or its encoding is wider than the network reads (``max_dim``).

This module reads studies and writes nothing; opening them is the lab's
(:func:`hyperlab.lab.rundir.load_studies` for a run folder,
:func:`hyperlab.lab.storage.load_study` for a storage URL and a study name), which refuses a
folder that is missing or holds no run, and a storage file that does not exist.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, TrialState

from hyperlab.direction import study_sign
from hyperlab.errors import InputError, InputTypeError, check_positive_int, listed
from hyperlab.space import SpaceEncoder
from hyperlab.tuners.meta.model import PFNConfig
from hyperlab.tuners.meta.prior import TOO_FEW
from hyperlab.tuners.neural.observations import TrialReader

#: Columns the shipped network reads (a categorical parameter takes one per choice).
MAX_DIM = PFNConfig().max_dim


class ShortStudyError(InputError):
    """A study has too few complete trials with a finite score to train on (or, from
    :func:`read_studies`, every study given has)."""


class PastStudy(NamedTuple):
    """A study kept for training and its problem (see :func:`study_problem`)."""

    study: optuna.Study
    x: np.ndarray
    y: np.ndarray


def read_studies(
    studies: Sequence[optuna.Study],
    *,
    max_dim: int = MAX_DIM,
    note: Callable[[str], None] | None = None,
) -> list[PastStudy]:
    """The studies that training can read and their problems, in order; a study too short is
    left out with a note (see the module docstring).

    Args:
        studies: Finished Optuna studies (a run's: ``[s for s, *_ in load_studies(run)]``).
        max_dim: Columns of the network to train (``weights.load().model.config.max_dim``).
        note: Called with one line per study left out (default: a ``UserWarning``).

    Returns:
        One :class:`PastStudy` per study kept.

    Raises:
        ShortStudyError: Every study given is too short; the message names each.
        InputError: No study, a study training cannot read (the message names it and why), or
            ``max_dim`` below 1.
        InputTypeError: An entry is not an Optuna study, ``note`` is not callable or
            ``max_dim`` not an integer.
    """
    _check_reading(studies, max_dim, note)
    return _read(studies, max_dim, note)


def _check_reading(studies: Any, max_dim: Any, note: Any) -> None:
    """Refuse what :func:`read_studies` cannot read (see its Raises)."""
    if isinstance(studies, optuna.Study) or not isinstance(studies, Sequence):
        raise InputTypeError(f"studies must be a list of Optuna studies, got {studies!r}")
    if not studies:
        raise InputError("no past study given: name at least one to learn from")
    for i, study in enumerate(studies):
        if not isinstance(study, optuna.Study):
            raise InputTypeError(f"studies[{i}] is not an Optuna study, got {study!r}")
    check_positive_int("max_dim", max_dim)
    if note is not None and not callable(note):
        raise InputTypeError(
            f"note must be a function taking one line of text (print, say) or None, got "
            f"{type(note).__name__} {note!r:.60}"
        )


def _read(
    studies: Sequence[optuna.Study], max_dim: int, note: Callable[[str], None] | None
) -> list[PastStudy]:
    """:func:`read_studies` of checked arguments (a note's warning points at the caller of the
    public function that called this one)."""
    kept, short = [], []
    for study in studies:
        try:
            kept.append(PastStudy(study, *study_problem(study, max_dim=max_dim)))
        except ShortStudyError as exc:
            short.append(f"{study.study_name!r} ({_finite_count(study)})")
            _tell(note, f"left out: {exc}")
    if not kept:
        raise ShortStudyError(
            f"no study given can be trained on: each has {TOO_FEW} complete trials with a finite "
            f"score or fewer (given: {listed(short)}); run them longer or give longer ones"
        )
    return kept


def study_problems(
    studies: Sequence[optuna.Study],
    *,
    max_dim: int = MAX_DIM,
    note: Callable[[str], None] | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """One training problem ``(x, y)`` per study kept, in order (see :func:`read_studies`).

    Returns:
        ``(x, y)`` pairs for :class:`~hyperlab.tuners.meta.prior.TableProblems`: ``x`` of
        shape ``(N, d)`` in ``[0, 1]``, ``y`` of shape ``(N,)``, lower is better.

    Raises:
        As :func:`read_studies`.
    """
    _check_reading(studies, max_dim, note)
    return [(p.x, p.y) for p in _read(studies, max_dim, note)]


def study_problem(study: optuna.Study, *, max_dim: int = MAX_DIM) -> tuple[np.ndarray, np.ndarray]:
    """The training problem ``(x, y)`` of one finished study (see :func:`read_studies`).

    Raises:
        ShortStudyError: The study is too short to train on; the message names it.
        InputError: The study is refused (see the module docstring); the message names it.
    """
    where = f"study {study.study_name!r}"
    if len(study.directions) > 1:
        raise InputError(
            f"{where} optimized {len(study.directions)} objectives; the meta tuner learns "
            "from studies of one"
        )
    trials = list(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    if not trials:
        raise ShortStudyError(f"{where} has no complete trial to learn from")
    finite = _finite_count(study)
    if finite <= TOO_FEW:
        raise ShortStudyError(
            f"{where} has {finite} complete trials with a finite score; training reads only "
            f"studies of more than {TOO_FEW}"
        )
    enc = SpaceEncoder(_one_space(where, trials))
    if enc.dim > max_dim:
        raise InputError(
            f"{where} takes {enc.dim} encoded columns ({', '.join(enc.names)}; a categorical "
            f"parameter takes one per choice); the network reads at most {max_dim}"
        )
    reader = TrialReader(pruner_predictions=False, multi_fidelity=False, max_budget=None)
    sign = study_sign(study)
    rows = [row for t in trials if (row := reader.read(enc, t, sign)) is not None]
    return np.stack([r.x for r in rows]), np.array([r.y for r in rows], dtype=float)


def _finite_count(study: optuna.Study) -> int:
    """How many complete trials of ``study`` have a finite score."""
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return sum(t.value is not None and math.isfinite(t.value) for t in trials)


def _tell(note: Callable[[str], None] | None, message: str) -> None:
    """``message`` through ``note``, else as a warning."""
    if note is not None:
        note(message)
    else:
        warnings.warn(message, UserWarning, stacklevel=4)


def _one_space(where: str, trials: list[FrozenTrial]) -> dict[str, BaseDistribution]:
    """The one search space of ``trials``.

    Raises:
        InputError: ``where`` has no complete trial, no parameter, or trials of more than one
            space; the message names the parameters that differ.
    """
    if not trials:
        raise InputError(f"{where} has no complete trial to learn from")
    first = trials[0].distributions
    names = sorted(set().union(*(t.distributions for t in trials)))
    partial = [n for n in names if any(n not in t.distributions for t in trials)]
    changed = [
        n for n in names if n not in partial and any(t.distributions[n] != first[n] for t in trials)
    ]
    if partial or changed:
        why = []
        if partial:
            why.append(f"{', '.join(partial)} missing from some trials (conditional)")
        if changed:
            why.append(f"{', '.join(changed)} with other ranges or choices in some trials")
        raise InputError(
            f"{where} mixes search spaces: {'; '.join(why)}; the meta tuner learns only from "
            "studies whose complete trials share one space (leave this one out)"
        )
    if not first:
        raise InputError(f"{where} has no parameter to learn from")
    return dict(first)
