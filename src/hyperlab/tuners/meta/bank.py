"""A practitioner's own past studies as training problems of the meta tuner.

A finished study becomes one real problem for
:class:`~hyperlab.tuners.meta.prior.TableProblems`: the parameters of its complete trials,
encoded the way the meta tuner encodes a study's trials while it tunes
(:class:`~hyperlab.space.SpaceEncoder` through
:class:`~hyperlab.tuners.neural.observations.TrialReader`), and their scores times the study's
sign, so that lower is better as in training. Pruned, failed and running trials are left out,
and so is a complete trial whose score is not finite.

A study is refused, by its name, when training could not read it or would learn something
false from it:

- it has :data:`~hyperlab.tuners.meta.prior.TOO_FEW` complete trials or fewer (training leaves
  such problems out);
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

from collections.abc import Sequence

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, TrialState

from hyperlab.direction import study_sign
from hyperlab.errors import InputError, InputTypeError
from hyperlab.space import SpaceEncoder
from hyperlab.tuners.meta.model import PFNConfig
from hyperlab.tuners.meta.prior import TOO_FEW
from hyperlab.tuners.neural.observations import TrialReader

#: Columns the shipped network reads (a categorical parameter takes one per choice).
MAX_DIM = PFNConfig().max_dim


def study_problems(
    studies: Sequence[optuna.Study], *, max_dim: int = MAX_DIM
) -> list[tuple[np.ndarray, np.ndarray]]:
    """One training problem ``(x, y)`` per study, in order (see the module docstring).

    Args:
        studies: Finished Optuna studies (a run's: ``[s for s, *_ in load_studies(run)]``).
        max_dim: Columns of the network to train (``weights.load().model.config.max_dim``).

    Returns:
        ``(x, y)`` pairs for :class:`~hyperlab.tuners.meta.prior.TableProblems`: ``x`` of
        shape ``(N, d)`` in ``[0, 1]``, ``y`` of shape ``(N,)``, lower is better.

    Raises:
        InputError: No study, or a study training cannot read; the message names it and why.
        InputTypeError: An entry is not an Optuna study.
    """
    if isinstance(studies, optuna.Study) or not isinstance(studies, Sequence):
        raise InputTypeError(f"studies must be a list of Optuna studies, got {studies!r}")
    if not studies:
        raise InputError("no past study given: name at least one to learn from")
    for i, study in enumerate(studies):
        if not isinstance(study, optuna.Study):
            raise InputTypeError(f"studies[{i}] is not an Optuna study, got {study!r}")
    return [study_problem(study, max_dim=max_dim) for study in studies]


def study_problem(study: optuna.Study, *, max_dim: int = MAX_DIM) -> tuple[np.ndarray, np.ndarray]:
    """The training problem ``(x, y)`` of one finished study (see :func:`study_problems`).

    Raises:
        InputError: The study is refused (see the module docstring); the message names it.
    """
    where = f"study {study.study_name!r}"
    if len(study.directions) > 1:
        raise InputError(
            f"{where} optimized {len(study.directions)} objectives; the meta tuner learns "
            "from studies of one"
        )
    trials = list(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    enc = SpaceEncoder(_one_space(where, trials))
    if enc.dim > max_dim:
        raise InputError(
            f"{where} takes {enc.dim} encoded columns ({', '.join(enc.names)}; a categorical "
            f"parameter takes one per choice); the network reads at most {max_dim}"
        )
    reader = TrialReader(pruner_predictions=False, multi_fidelity=False, max_budget=None)
    sign = study_sign(study)
    rows = [row for t in trials if (row := reader.read(enc, t, sign)) is not None]
    if len(rows) <= TOO_FEW:
        raise InputError(
            f"{where} has {len(rows)} complete trials with a finite score; training reads only "
            f"studies of more than {TOO_FEW}"
        )
    return np.stack([r.x for r in rows]), np.array([r.y for r in rows], dtype=float)


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
