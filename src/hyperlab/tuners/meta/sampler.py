"""The meta tuner: a network trained on many tuning problems steers this one.

Every suggestion hands the study's finished trials to the prior-fitted network
(:mod:`hyperlab.tuners.meta.model`) as its context, scores candidate configurations by a low
quantile of their predicted distributions (or their expected improvement), and proposes the
best. No start-up
design: with no trials the network's prior alone ranks the candidates, and every later
suggestion is conditioned on all trials so far. Nothing is fitted during the study, so a
suggestion costs one forward pass whatever the number of trials (at most ``max_context``
trials are read: the best half of them and a random draw of the rest). A trial that failed,
returned an infinite value or was pruned with nothing to read joins the context at the worst
score so far (:mod:`hyperlab.tuners.failed_trials`).
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from hyperlab.errors import (
    InputError,
    InputTypeError,
    SettingError,
    SetupWarning,
    check_bool,
    check_seed,
)
from hyperlab.pickling import LockFreePickling
from hyperlab.space import SpaceEncoder, check_distributions
from hyperlab.tuners.failed_trials import FailedTrials, as_worst
from hyperlab.tuners.merged_space import MergedSpace
from hyperlab.tuners.meta import weights
from hyperlab.tuners.meta.bars import BarDistribution
from hyperlab.tuners.meta.candidates import choose
from hyperlab.tuners.meta.categoricals import RULES, chosen_row
from hyperlab.tuners.meta.escape import (
    anchors_away,
    away,
    escaping,
    numeric_columns,
    rank_away_first,
)
from hyperlab.tuners.meta.predict import Prediction, predict
from hyperlab.tuners.meta.prior import MAX_PARAMS
from hyperlab.tuners.meta.zoom import inside, stretch, zoom_box
from hyperlab.tuners.neural.observations import TrialMemory, TrialReader, transfer_study_names


class MetaSampler(LockFreePickling, BaseSampler):
    """Bayesian optimization with a network trained across many problems (a PFN).

    Args:
        search_space: The distributions to model when known in advance; by default the
            parameters every finished trial has, a numeric one over the union of the ranges
            the trials gave it (:mod:`hyperlab.tuners.merged_space`; a parameter outside, such
            as a conditional one, is sampled at random). A parameter of the given space that
            a finished trial lacks (another branch's) leaves the modelled space the same way.
        n_candidates: Random candidates per suggestion; half as many local moves around the
            best trials join them.
        max_context: The most trials the network reads at once (the best half of them and a
            random draw of the rest when there are more).
        running: ``"best"`` (a trial still running counts as if it scored the best value so
            far, so parallel workers spread out; default) or ``"none"``.
        transfer_studies: Names of other studies in the same storage whose trials (same
            parameter names) join the context, each study's scores standardized on their own
            (a name not in the storage, or a study none of whose finished trials fits this
            space, stops the study at its first model-based suggestion).
        pruner_predictions: A trial a curve pruner stopped with a predicted final value joins
            the context at that value (see ``NeuralSampler``).
        pruned_last_value: A trial pruned without a prediction joins the context at its last
            reported value, as if it had ended there (see ``NeuralSampler``; on by default).
        weights_path: The network's weights (default: the ones shipped with hyperlab).
        acquisition: How candidates are scored: ``"quantile"`` (the lowest predicted
            ``quantile`` of the score wins: an optimistic bound that weighs how good a
            candidate may be against how sure the network is; default) or ``"ei"`` (expected
            improvement over the best score).
        quantile: The level of the ``"quantile"`` acquisition, in ``(0, 0.5]``.
        zoom: From this many trials read on (default 15), every second suggestion looks
            closer: the network reads only the trials in a box around the best ones,
            stretched to fill its whole input range, and candidates are drawn in the box
            (:mod:`hyperlab.tuners.meta.zoom`); ``0`` never zooms. The trials read are the
            study's complete and pruned trials that gave the context a score (a value, a
            pruner's prediction or a last report) and hold every parameter of the space: not
            the failed ones (in the context at the worst score), those pruned with nothing to
            read, nor a transfer study's.
        escape: From 15 trials read (as for ``zoom``) on, each suggestion made when the
            number of trials read is a multiple of ``escape`` looks away from the best trial:
            it is not zoomed, and it takes a candidate farther than 0.25 of a side (encoded)
            from the best trial on at least one numeric parameter, its local moves starting
            from the best trials that far away; the network still reads every trial
            (:mod:`hyperlab.tuners.meta.escape`). ``0`` (default) never; otherwise an int
            >= 2. A development option against a study settling in one basin of a
            low-dimensional problem; not measured beyond the development problems of
            ``docs/decisions/meta-tuner.md``.
        categoricals: Who chooses a suggestion's categorical values: ``"network"`` (the
            network ranks whole candidates; default) or ``"thompson"`` (a Thompson draw from a
            linear model of the trials' ranks; every candidate carries the chosen values and
            the network steers the numeric parameters:
            :mod:`hyperlab.tuners.meta.categoricals`). A space without categoricals is steered
            the same under both. A development option against a study locking into a poor
            categorical choice; measured in ``docs/decisions/meta-tuner.md``.
        seed: Seed of every random choice.
    """

    def __init__(
        self,
        *,
        search_space: dict[str, BaseDistribution] | None = None,
        n_candidates: int = 512,
        max_context: int = 100,
        running: str = "best",
        transfer_studies: Sequence[str] | None = None,
        pruner_predictions: bool = True,
        pruned_last_value: bool = True,
        weights_path: str | None = None,
        acquisition: str = "quantile",
        quantile: float = 0.1,
        zoom: int = 15,
        escape: int = 0,
        categoricals: str = "network",
        seed: int | None = None,
    ) -> None:
        self.search_space = search_space
        self.n_candidates = n_candidates
        self.max_context = max_context
        self.running = running
        self.transfer_studies = transfer_studies
        self.pruner_predictions = pruner_predictions
        self.pruned_last_value = pruned_last_value
        self.weights_path = weights_path
        self.acquisition = acquisition
        self.quantile = quantile
        self.zoom = zoom
        self.escape = escape
        self.categoricals = categoricals
        self.seed = seed
        self._check()
        self._net = weights.load(weights_path)
        self._rng = np.random.default_rng(seed)
        self._random = RandomSampler(seed=seed)
        self._merged = MergedSpace(bool(pruner_predictions or pruned_last_value))
        self._memory = TrialMemory()
        self._failed = FailedTrials()
        self._warned_wide = False  # a space wider than pretraining covered, told once
        self._warned_random = False  # a parameter outside the modelled space, told once
        self._lock = threading.Lock()
        if search_space:
            self._check_width(SpaceEncoder(dict(search_space)))

    # ------------------------------------------------------------------ Optuna's contract
    def reseed_rng(self) -> None:
        self._rng = np.random.default_rng()
        self._random.reseed_rng()

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        with self._lock:
            if self.search_space is not None:
                return self._memory.modelled_space(study, dict(self.search_space))
            return self._merged.calculate(study)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if len(study.directions) > 1:  # refused at the first trial, before any runs
            raise InputError(
                f"MetaSampler optimizes one objective; this study has {len(study.directions)} "
                "(Optuna's TPESampler and NSGAIISampler take several)"
            )
        with self._lock:
            # (a space given in advance is known before any trial finished)
            read = self.search_space is not None or self._merged.has_read(study)
            self._memory.note_modelled(study, trial, search_space, read)
            if not search_space:
                return {}
            enc = self._memory.encoder_for(search_space)
            self._check_width(enc)
            x = self._propose(study, trial, enc)
            self._memory.proposed[(study.study_name, trial.number)] = x
            return enc.decode(x[None, :])[0]

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        if self._memory.left_out(study, trial, param_name):
            self._warn_random(param_name, trial.number)
        return self._random.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        with self._lock:
            self._memory.forget(study, trial)

    @property
    def startup_trials(self) -> int:
        """Trials drawn before the model is used: none."""
        return 0

    # -------------------------------------------------------------------------- private
    def _check(self) -> None:
        for name, least in (("n_candidates", 1), ("max_context", 1), ("zoom", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise InputError(f"{name} must be an int >= {least}, got {value!r}")
        e = self.escape
        if isinstance(e, bool) or not isinstance(e, int) or e < 0 or e == 1:
            raise InputError(f"escape must be 0 (never) or an int >= 2, got {e!r}")
        if self.acquisition not in ("quantile", "ei"):
            raise InputError(f"acquisition must be 'quantile' or 'ei', got {self.acquisition!r}")
        q = self.quantile
        if isinstance(q, bool) or not isinstance(q, int | float) or not 0 < q <= 0.5:
            raise InputError(f"quantile must be in (0, 0.5], got {q!r}")
        if self.categoricals not in RULES:
            raise InputError(
                f"categoricals must be one of {', '.join(map(repr, RULES))}, "
                f"got {self.categoricals!r}"
            )
        if self.running not in ("best", "none"):
            raise InputError(f"running must be 'best' or 'none', got {self.running!r}")
        self.transfer_studies = transfer_study_names(self.transfer_studies)
        self.search_space = check_distributions("search_space", self.search_space)
        check_seed(self.seed)
        check_bool("pruner_predictions", self.pruner_predictions)
        check_bool("pruned_last_value", self.pruned_last_value)
        path = self.weights_path
        if path is not None and not isinstance(path, str | os.PathLike):
            raise InputTypeError(f"weights_path must be a path (a str) or None, got {path!r}")

    def _check_width(self, enc: SpaceEncoder) -> None:
        limit = self._net.model.config.max_dim
        if enc.dim > limit:
            raise SettingError(
                f"the meta tuner reads at most {limit} encoded columns (a categorical "
                f"parameter takes one per choice); this search space takes {enc.dim} "
                f"({', '.join(enc.names)}); use 'tpe' or 'neural' for it"
            )
        if len(enc.names) > MAX_PARAMS and not self._warned_wide:
            self._warned_wide = True
            warnings.warn(
                f"the meta tuner was pretrained on problems of 1 to {MAX_PARAMS} parameters, "
                f"and its measurements are on such problems; this search space has "
                f"{len(enc.names)}: it runs, but nothing it learned or was checked on covers "
                "that width (compare it with 'tpe' on your problem: hyperlab compare)",
                SetupWarning,
                stacklevel=2,
            )

    def _warn_random(self, name: str, number: int) -> None:
        """Tell, once, that parameter ``name`` of trial ``number`` is drawn at random."""
        if self._warned_random:
            return
        self._warned_random = True
        warnings.warn(
            f"the meta tuner draws parameter {name!r} of trial {number} at random, and will "
            "for the rest of the study: some finished trials lack it (a conditional parameter) "
            "or disagree on its choices, kind, log axis or step, so the network does not model "
            "it (further such parameters are drawn the same way without another warning; "
            "'tpe' steers each parameter on the trials that have it)",
            SetupWarning,
            stacklevel=5,  # the objective's suggest_* call
        )

    def _propose(self, study: Study, trial: FrozenTrial, enc: SpaceEncoder) -> np.ndarray:
        reader = TrialReader(self.pruner_predictions, False, None, self.pruned_last_value)
        obs, running, unread = self._memory.observations(study, trial, enc, reader)
        transfer = self._memory.transfer_rows(study, enc, self.transfer_studies or (), reader)
        x = np.array([o.x for o in obs]).reshape(len(obs), enc.dim)
        y = np.array([o.y for o in obs])
        failed = self._failed.points(study, trial, enc)
        flee = self._flee(enc, x, y)
        # every trial run or running, not only those the context keeps, is never proposed again
        taken = np.vstack([x, *(np.stack(p) for p in (running, unread, failed) if p)])
        x, y = as_worst(x, y, failed, running)
        fixed = chosen_row(enc, x, y, self.categoricals, self._rng)
        groups = np.zeros(len(y), dtype=int)
        if running and self.running == "best" and len(y):
            x = np.vstack([x, np.stack(running)])
            y = np.concatenate([y, np.full(len(running), y.min())])
            groups = np.zeros(len(y), dtype=int)
        x, y, groups = self._select(x, y, groups)
        for i, rows in enumerate(transfer, start=1):
            if rows:
                x = np.vstack([x, np.stack([r.x for r in rows])])
                y = np.concatenate([y, [r.y for r in rows]])
                groups = np.concatenate([groups, np.full(len(rows), i)])
        x, y, groups = x[: self.max_context], y[: self.max_context], groups[: self.max_context]
        if flee:
            anchors, box = anchors_away(x, y, *flee), None
        else:
            anchors = x[np.argsort(y)[:5]] if len(y) else np.zeros((0, enc.dim))
            box = self._box(enc, x[groups == 0], y[groups == 0], finished=len(obs))
        if box is not None:
            keep = inside(x, *box)
            x, y, groups = stretch(x[keep], *box), y[keep], groups[keep]

        def score(cands: np.ndarray) -> np.ndarray:
            model = self._net.model
            seen = cands if box is None else stretch(cands, *box)
            pred = predict(model, x, y, seen, groups)
            values = _acquisition(model.bars, pred, self.acquisition, float(self.quantile))
            return rank_away_first(values, away(cands, *flee)) if flee else values

        return choose(enc, score, anchors, taken, self.n_candidates, self._rng, box, fixed)

    def _box(
        self, enc: SpaceEncoder, x: np.ndarray, y: np.ndarray, finished: int
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The zoom box of this suggestion over the context ``x, y``, or None (not zoomed:
        see ``zoom``; ``finished`` counts the study's trials read, not every finished one)."""
        if not self.zoom or finished < self.zoom or finished % 2 == 0:
            return None
        box = zoom_box(enc, x, y)
        return box if inside(x, *box).sum() >= 5 else None

    def _flee(
        self, enc: SpaceEncoder, x: np.ndarray, y: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The best trial read and the numeric columns, when this suggestion escapes (see
        ``escape``; ``x, y``: the study's trials read, their number the count it goes by),
        else None."""
        numeric = numeric_columns(enc)
        if not escaping(self.escape, len(y)) or not numeric.any():
            return None
        return x[int(np.argmin(y))], numeric

    def _select(
        self, x: np.ndarray, y: np.ndarray, groups: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """At most ``max_context`` rows: the best half and a random draw of the rest."""
        if len(y) <= self.max_context:
            return x, y, groups
        order = np.argsort(y)
        half = self.max_context // 2
        rest = self._rng.choice(order[half:], size=self.max_context - half, replace=False)
        keep = np.concatenate([order[:half], rest])
        return x[keep], y[keep], groups[keep]


def _acquisition(bars: BarDistribution, pred: Prediction, kind: str, quantile: float) -> np.ndarray:
    """Higher is better: minus the predicted ``quantile`` of the score (``"quantile"``), or
    the expected improvement over the best score (``"ei"``); without scores, minus the
    predicted mean."""
    if np.isnan(pred.best):
        return -bars.mean(pred.probs).numpy()
    if kind == "quantile":
        return -bars.quantile(pred.probs, quantile).numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bars.expected_improvement(pred.probs, pred.best).numpy()
