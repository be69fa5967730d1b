"""Conformance checks every pruner passes (after Optuna's ``optuna.testing`` helpers).

Each check takes a pruner factory ``factory(*, max_budget, seed) -> optuna.pruners.BasePruner``
(the signature of :data:`hyperlab.registry.PRUNERS` entries) and raises ``AssertionError`` when
the pruner misbehaves. The checks hold for every pruner, whatever its rule:

- :func:`check_returns_bool`: ``prune`` answers a ``bool`` (or NumPy's, as Optuna's own
  pruners do) at every step, and ``False`` for a trial that has reported nothing;
- :func:`check_deterministic`: the same seeds give the same pruning decisions;
- :func:`check_survives_failures_and_nan`: failed trials and NaN intermediate values neither
  crash the pruner nor stop the study;
- :func:`check_pickles`: a pickled copy decides exactly like a fresh pruner;
- :func:`check_threads`: a study with ``n_jobs=2`` threads finishes with every trial in a final
  state;
- :func:`check_maximize`: a maximized study of the mirrored curves (every value negated) is
  pruned exactly as the minimized one, keeps its clearly best trial and, when the pruner prunes
  at all, prunes one of its clearly worst;
- :func:`check_unknown_budget`: built with ``max_budget=None`` (the budget of a user's objective
  is unknown), a pruner that prunes with the budget given still prunes.

A third-party pruner runs them all with ``for check in ALL_CHECKS: check(my_factory)``.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

PrunerFactory = Callable[..., optuna.pruners.BasePruner]

#: Budget (steps) of the synthetic curves the checks run.
BUDGET = 10
#: Trials per study in the checks.
N_TRIALS = 24


#: A configuration whose curve is clearly the best of :func:`synthetic_objective`'s.
BEST = {"x": 0.0, "k": 1, "kind": "a"}
#: Configurations whose curves are clearly among the worst of :func:`synthetic_objective`'s.
WORST = (
    {"x": 1.0, "k": 4, "kind": "b"},
    {"x": 0.98, "k": 4, "kind": "b"},
    {"x": 0.95, "k": 4, "kind": "b"},
)


def synthetic_objective(
    budget: int = BUDGET, fail_every: int = 0, nan_every: int = 0, sign: float = 1.0
) -> Callable[[optuna.Trial], float]:
    """An objective reporting a noisy power-law curve per trial, ``budget`` steps long.

    Args:
        budget: Steps per trial.
        fail_every: Every ``fail_every``-th trial raises ``RuntimeError`` half-way (0: never).
        nan_every: Every ``nan_every``-th trial reports NaN half-way, then fails (0: never).
        sign: Multiplies every value: ``-1.0`` gives the mirror image, rising curves whose
            best trials are the highest, for a maximized study.

    Returns:
        The objective (its curves depend only on the parameters and the trial number).
    """

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        k = trial.suggest_int("k", 1, 4)
        kind = trial.suggest_categorical("kind", ["a", "b"])
        rng = np.random.default_rng(trial.number)
        level = x + 0.1 * k + (0.2 if kind == "b" else 0.0)
        value = float("nan")
        for step in range(1, budget + 1):
            n = trial.number + 1
            if fail_every and n % fail_every == 0 and step == budget // 2:
                raise RuntimeError(f"planned failure of trial {trial.number}")
            value = sign * (level + step**-0.5 + float(rng.normal(0.0, 0.01)))
            if nan_every and n % nan_every == 0 and step == budget // 2:
                value = float("nan")
            trial.report(value, step)
            if not math.isfinite(value):
                raise RuntimeError(f"NaN value at step {step} of trial {trial.number}")
            if trial.should_prune():
                raise optuna.TrialPruned()
        return value

    return objective


def synthetic_final(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> float:
    """The value :func:`synthetic_objective` reports at its last step (:data:`BUDGET`) for
    ``trial``, in the study's units (mirrored for a maximized study): the final value an
    oracle pruner (:class:`~hyperlab.pruners.oracle.OraclePruner`) reads."""
    sign = -1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else 1.0
    x, k, kind = trial.params["x"], trial.params["k"], trial.params["kind"]
    level = x + 0.1 * k + (0.2 if kind == "b" else 0.0)
    rng = np.random.default_rng(trial.number)
    noise = [float(rng.normal(0.0, 0.01)) for _ in range(BUDGET)][-1]
    return sign * (level + BUDGET**-0.5 + noise)


def _study(factory: PrunerFactory, seed: int, **kwargs: Any) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner = factory(max_budget=BUDGET, seed=seed)
    # a fixed name: Optuna's Hyperband assigns brackets by hashing the study name
    return optuna.create_study(
        study_name="conformance",
        sampler=optuna.samplers.RandomSampler(seed=seed),
        pruner=pruner,
        **kwargs,
    )


def _decisions(study: optuna.Study) -> list[tuple[str, int | None]]:
    return [(t.state.name, t.last_step) for t in study.trials]


class _Recorder(optuna.pruners.BasePruner):
    """Wraps a pruner and keeps every answer it gives."""

    def __init__(self, inner: optuna.pruners.BasePruner) -> None:
        self.inner = inner
        self.answers: list[Any] = []

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        answer = self.inner.prune(study, trial)
        self.answers.append(answer)
        return bool(answer)


def check_returns_bool(factory: PrunerFactory) -> None:
    """``prune`` returns a ``bool`` at every step; ``False`` before any report."""
    study = _study(factory, seed=0)
    recorder = _Recorder(study.pruner)
    study.pruner = recorder
    study.optimize(synthetic_objective(), n_trials=N_TRIALS)
    assert recorder.answers, "the pruner was never asked"
    bad = {type(a).__qualname__ for a in recorder.answers if not isinstance(a, bool | np.bool_)}
    assert not bad, f"prune returned {bad} instead of bool"
    trial = study.ask()
    assert not recorder.inner.prune(study, study._storage.get_trial(trial._trial_id))


def check_deterministic(factory: PrunerFactory) -> None:
    """Two runs with the same seeds make the same decisions."""
    runs = []
    for _ in range(2):
        study = _study(factory, seed=7)
        study.optimize(synthetic_objective(), n_trials=N_TRIALS)
        runs.append(_decisions(study))
    assert runs[0] == runs[1], f"decisions differ between identical runs: {runs}"


def check_survives_failures_and_nan(factory: PrunerFactory) -> None:
    """Failed trials and NaN values neither crash the pruner nor stop the study."""
    study = _study(factory, seed=1)
    objective = synthetic_objective(fail_every=5, nan_every=7)
    study.optimize(objective, n_trials=N_TRIALS, catch=(RuntimeError,))
    states = [t.state for t in study.trials]
    assert len(states) == N_TRIALS, f"the study stopped after {len(states)} trials"
    assert all(s in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL) for s in states)
    for t in study.trials:
        if (t.number + 1) % 7 == 0 and (t.number + 1) % 5:
            assert t.state in (TrialState.FAIL, TrialState.PRUNED), (t.number, t.state)
    assert TrialState.COMPLETE in states, "no trial completed"


def check_pickles(factory: PrunerFactory) -> None:
    """A pickled copy of a fresh pruner decides like a fresh pruner."""
    pruner = factory(max_budget=BUDGET, seed=3)
    copy = pickle.loads(pickle.dumps(pruner))
    assert type(copy) is type(pruner)
    runs = []
    for p in (pruner, copy):
        study = optuna.create_study(
            study_name="conformance", sampler=optuna.samplers.RandomSampler(seed=3), pruner=p
        )
        study.optimize(synthetic_objective(), n_trials=N_TRIALS)
        runs.append(_decisions(study))
    assert runs[0] == runs[1], "the unpickled pruner decides differently"
    pickle.dumps(pruner)  # still picklable after use


def check_threads(factory: PrunerFactory) -> None:
    """``n_jobs=2`` threads share the pruner; every trial ends in a final state."""
    study = _study(factory, seed=5)
    study.optimize(synthetic_objective(), n_trials=N_TRIALS, n_jobs=2)
    states = [t.state for t in study.trials]
    assert len(states) == N_TRIALS
    assert all(s in (TrialState.COMPLETE, TrialState.PRUNED) for s in states), states


def _with_extremes(factory: PrunerFactory, direction: str, seed: int) -> optuna.Study:
    """A study of :data:`N_TRIALS` random trials, then :data:`BEST`, then :data:`WORST`; its
    values are mirrored (negated) when ``direction`` is ``"maximize"``."""
    sign = -1.0 if direction == "maximize" else 1.0
    study = _study(factory, seed=seed, direction=direction)
    study.optimize(synthetic_objective(sign=sign), n_trials=N_TRIALS)
    for params in (BEST, *WORST):
        study.enqueue_trial(params)
    study.optimize(synthetic_objective(sign=sign), n_trials=1 + len(WORST))
    return study


def check_maximize(factory: PrunerFactory) -> None:
    """On a maximized study the pruner keeps the clearly best trial, prunes a clearly worst one
    (when it prunes at all), and decides exactly as on the minimized mirror image."""
    maximized = _with_extremes(factory, "maximize", seed=1)
    best, *worst = maximized.trials[N_TRIALS:]
    assert best.state == TrialState.COMPLETE, (
        f"maximized: the clearly best trial was stopped at step {best.last_step}"
    )
    if any(t.state == TrialState.PRUNED for t in maximized.trials[:N_TRIALS]):
        assert any(t.state == TrialState.PRUNED for t in worst), (
            f"maximized: none of the clearly worst trials was pruned: {_decisions(maximized)}"
        )
    minimized = _with_extremes(factory, "minimize", seed=1)
    assert _decisions(maximized) == _decisions(minimized), (
        f"the maximized mirror image is pruned differently: maximized {_decisions(maximized)}, "
        f"minimized {_decisions(minimized)}"
    )


def check_unknown_budget(factory: PrunerFactory) -> None:
    """Built with ``max_budget=None``, a pruner that prunes with the budget given prunes too."""
    known = _study(factory, seed=2)
    known.optimize(synthetic_objective(), n_trials=N_TRIALS)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    unknown = optuna.create_study(
        study_name="conformance",
        sampler=optuna.samplers.RandomSampler(seed=2),
        pruner=factory(max_budget=None, seed=2),
    )
    unknown.optimize(synthetic_objective(), n_trials=N_TRIALS)
    n_known, n_unknown = (
        sum(t.state == TrialState.PRUNED for t in s.trials) for s in (known, unknown)
    )
    assert n_unknown > 0 or n_known == 0, (
        f"with the budget given it pruned {n_known} of {N_TRIALS} trials, without it none"
    )


ALL_CHECKS: tuple[Callable[[PrunerFactory], None], ...] = (
    check_returns_bool,
    check_deterministic,
    check_survives_failures_and_nan,
    check_pickles,
    check_threads,
    check_maximize,
    check_unknown_budget,
)
