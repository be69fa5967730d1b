"""The meta tuner ``meta``: a prior-fitted network, trained across many tuning problems before
the study starts, reads the study's trials in context and proposes the next one.

One module per part:

- ``model``: the transformer (:class:`PFN`) and its shape (:class:`PFNConfig`);
- ``bars``: its output, a distribution over fixed buckets of the standardized score;
- ``scores``: the map from raw scores to the network's scale (the same in training and tuning);
- ``prior``: the random problems it is trained on (GP-prior functions and real problems);
- ``bank``: one's own past studies as real problems to train on;
- ``training``: the training loop (from scratch, or fine-tuning trained weights);
- ``weights``: the shipped weights and their card;
- ``predict``: one forward pass from trials to predictive distributions;
- ``candidates``: the candidate points and the choice among them;
- ``zoom``: the closer look at the region around the best trials (option ``zoom``);
- ``escape``: suggestions away from the best trial (option ``escape``, off by default);
- ``categoricals``: a suggestion's categoricals chosen by per-choice evidence (option
  ``categoricals``);
- ``sampler``: :class:`MetaSampler`, the Optuna sampler.

It reads a study's trials with modules it shares with the neural tuner:
``hyperlab.tuners.merged_space`` (the search space modelled when none is given),
``hyperlab.tuners.failed_trials`` (trials that failed, read as the worst score so far),
``hyperlab.tuners.trial_points`` (a trial as an encoded point) and
``hyperlab.tuners.neural.observations`` (a trial as an observation).
"""

from __future__ import annotations

from typing import Any

from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler

from hyperlab.registry import TUNERS
from hyperlab.tuners.meta import weights
from hyperlab.tuners.meta.model import PFN, PFNConfig
from hyperlab.tuners.meta.sampler import MetaSampler


@TUNERS.add(
    "meta",
    "meta tuner: a network pretrained on many tuning problems reads the trials in context (PFN)",
    reads_files=("weights_path",),
    default_files={"weights_path": weights.PACKAGED / weights.WEIGHTS},
)
def meta(
    *,
    seed: int | None = None,
    space: dict[str, BaseDistribution] | None = None,
    task: Any = None,
    **options: Any,
) -> BaseSampler:
    return MetaSampler(search_space=space, seed=seed, **options)


meta.forwards_to = MetaSampler  # type: ignore[attr-defined]

__all__ = ["PFN", "MetaSampler", "PFNConfig"]
