"""The multi-fidelity peers (Syne Tune's ASHA and BOHB) stop trials through the pruner ``tuner``:
their runs prune and count epochs like hyperlab's pruners, repeat under a seed, treat maximized
studies as minimized mirror images, survive failures and pickling, and refuse a run they cannot
work in by name."""

from __future__ import annotations

import functools
import gc
import pickle
import random
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

import hyperlab
from hyperlab.errors import InputError, InputTypeError
from hyperlab.lab.plugins import check_plugins
from hyperlab.pruners import TunerRulePruner
from hyperlab.registry import PRUNERS, TUNERS
from hyperlab.testing.pruners import synthetic_objective
from hyperlab.testing.tuners import CHECKS
from hyperlab.tuners.peers.syne_fidelity import kde_startup

PEERS = ["syne-asha", "syne-bohb", "smac-hyperband", "dehb"]
#: The epochs at which each peer stops a trial of ``BUDGET`` epochs: ASHA's rungs; Hyperband's
#: budgets 10 / 9 and 10 / 3, rounded.
STOPS = {"syne-asha": (1, 3, 9), "syne-bohb": (1, 3, 9), "smac-hyperband": (1, 3), "dehb": (1, 3)}
#: The space of :func:`~hyperlab.testing.pruners.synthetic_objective`.
SPACE = {
    "x": FloatDistribution(0.0, 1.0),
    "k": IntDistribution(1, 4),
    "kind": CategoricalDistribution(["a", "b"]),
}
BUDGET = 10


def _curves(peer: str, seed: int, trials: int = 24, sign: float = 1.0, **options: Any) -> Any:
    """A study of the pruners' synthetic curves (``BUDGET`` epochs) under ``peer``'s rule."""
    sampler = TUNERS.create(peer, seed=seed, space=dict(SPACE), **options)
    study = optuna.create_study(
        sampler=sampler,
        pruner=TunerRulePruner(max_budget=BUDGET),
        direction="maximize" if sign < 0 else "minimize",
    )
    study.optimize(synthetic_objective(sign=sign), n_trials=trials)
    return study


def _decisions(study: optuna.Study) -> list[tuple[Any, ...]]:
    return [(t.params, t.state.name, t.last_step) for t in study.trials]


@pytest.mark.parametrize("check", list(CHECKS))
def test_bohb_conformance_with_its_kde_acting_early(check: str) -> None:
    # every trial of the checks is random before the KDE fits; the default-option run is
    # tests/tuners/test_conformance.py's (every registered tuner)
    CHECKS[check](functools.partial(TUNERS.create, "syne-bohb", random_fraction=0.0))


@pytest.mark.parametrize("peer", PEERS)
def test_a_run_prunes_and_counts_epochs(peer: str) -> None:
    study = _curves(peer, seed=0)
    states = [t.state for t in study.trials]
    epochs = sum(t.last_step or 0 for t in study.trials)
    assert states.count(TrialState.PRUNED) >= len(states) // 2
    assert epochs < len(states) * BUDGET
    for t in study.trials:
        if t.state == TrialState.COMPLETE:
            assert t.last_step == BUDGET
        else:
            assert t.last_step in STOPS[peer]


@pytest.mark.parametrize("peer", PEERS)
def test_same_seed_same_run_whatever_the_global_rngs(peer: str) -> None:
    runs = []
    for global_seed in (1, 2):
        np.random.seed(global_seed)
        random.seed(global_seed)
        runs.append(_decisions(_curves(peer, seed=3, trials=16)))
    assert runs[0] == runs[1]


@pytest.mark.parametrize("peer", PEERS)
def test_a_maximized_study_is_the_minimized_mirror_image(peer: str) -> None:
    low = _curves(peer, seed=4, trials=16)
    high = _curves(peer, seed=4, trials=16, sign=-1.0)
    assert _decisions(low) == _decisions(high)
    assert any(t.state == TrialState.PRUNED for t in low.trials)


def test_bohb_kde_proposes_after_its_startup_trials() -> None:
    space = {"x": FloatDistribution(0.0, 1.0), "y": FloatDistribution(0.0, 1.0)}
    sampler = TUNERS.create(
        "syne-bohb", seed=0, space=space, num_min_data_points=3, random_fraction=0.0
    )
    assert sampler.startup_trials == kde_startup(2, 3, 15) == 6
    study = optuna.create_study(sampler=sampler)
    study.optimize(
        lambda t: (t.suggest_float("x", 0, 1) - 0.2) ** 2 + t.suggest_float("y", 0, 1), 9
    )
    kde = sampler._peer.searcher.searcher  # Syne Tune's KDE, fitted once enough trials told
    assert kde is not None and kde.good_kde is not None


def test_bohb_startup_on_lcbench_is_54_trials() -> None:
    # Syne Tune's KDE needs both of its sets larger than the 7 parameters; its good set is 15 %
    assert kde_startup(7, None, 15) == 54


def _failing(trial: optuna.Trial) -> float:
    """The synthetic curves; every fourth trial fails before its first epoch."""
    if trial.number % 4 == 1:
        trial.suggest_float("x", 0.0, 1.0)
        raise RuntimeError("diverged")
    return synthetic_objective()(trial)


@pytest.mark.parametrize("peer", ["smac-hyperband", "dehb"])
def test_a_promoted_configuration_is_trained_again_as_a_new_trial(peer: str) -> None:
    study = _curves(peer, seed=0, trials=30)
    steps: dict[tuple[Any, ...], list[int | None]] = {}
    for t in study.trials:
        steps.setdefault(tuple(sorted(t.params.items())), []).append(t.last_step)
    promoted = [s for s in steps.values() if len(s) > 1]
    # (DEHB's populations also carry a configuration into a later bracket at the same budget)
    assert any(max(s) > s[0] for s in promoted)


def test_dehb_prints_nothing_and_leaves_no_files(capfd: pytest.CaptureFixture[str]) -> None:
    before = set(Path(tempfile.gettempdir()).glob("hyperlab-dehb-*"))
    study = _curves("dehb", seed=0, trials=12)
    folders = set(Path(tempfile.gettempdir()).glob("hyperlab-dehb-*")) - before
    assert [list(f.iterdir()) for f in folders] == [[]]
    del study
    gc.collect()
    assert not [f for f in folders if f.exists()]
    assert capfd.readouterr().out == ""


@pytest.mark.parametrize("peer", PEERS)
def test_failures_and_a_pickled_copy_keep_the_rule(peer: str) -> None:
    sampler = TUNERS.create(peer, seed=0, space=dict(SPACE))
    study = optuna.create_study(sampler=sampler, pruner=TunerRulePruner(max_budget=BUDGET))
    study.optimize(_failing, n_trials=12, catch=(RuntimeError,))
    study.sampler = pickle.loads(pickle.dumps(study.sampler))  # replays the study's history
    study.optimize(_failing, n_trials=12, catch=(RuntimeError,))
    states = [t.state for t in study.trials]
    assert states.count(TrialState.FAIL) == 6
    assert sum(s == TrialState.PRUNED for s in states[12:]) >= 4


def test_enqueued_trials_are_judged_by_the_rule() -> None:
    sampler = TUNERS.create("syne-asha", seed=0)
    study = optuna.create_study(sampler=sampler, pruner=TunerRulePruner(max_budget=BUDGET))
    study.optimize(synthetic_objective(), n_trials=10)
    study.enqueue_trial({"x": 1.0, "k": 4, "kind": "b"})  # the worst curve
    study.optimize(synthetic_objective(), n_trials=1)
    assert study.trials[-1].state == TrialState.PRUNED


def _from_zero(trial: optuna.Trial) -> float:
    """A falling curve reported at steps 0..BUDGET-1 (the step is not the epochs trained)."""
    x = trial.suggest_float("x", 0.0, 1.0)
    for step in range(BUDGET):
        trial.report(x + 1 / (step + 1), step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return x + 1 / BUDGET


@pytest.mark.parametrize("peer", PEERS)
def test_steps_that_are_not_epochs_are_named(peer: str) -> None:
    """Steps 0..9 under 10 epochs: the rule stops trials an epoch late, and a trial asked at
    the full budget never reports step 10, so Hyperband and DEHB were never told a complete
    trial's value, silently."""
    sampler = TUNERS.create(peer, seed=0)
    study = optuna.create_study(sampler=sampler, pruner=TunerRulePruner(max_budget=BUDGET))
    with pytest.warns(UserWarning, match=rf"{peer}.*trial 0 reported steps 0"):
        study.optimize(_from_zero, n_trials=3)


@pytest.mark.slow  # a few seconds: the lab's storage writes every epoch
def test_a_run_in_the_lab_prunes(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study, _ = hyperlab.tune(
            "lcbench-3945",
            "syne-asha",
            pruner="tuner",
            trials=8,
            budget=9,
            seed=0,
            runs_dir=tmp_path,
            progress=False,
            report=False,
        )
    epochs = sum(t.last_step or 0 for t in study.trials)
    assert len(study.trials) == 8
    assert 8 <= epochs < 8 * 9
    assert any(t.state == TrialState.PRUNED for t in study.trials)


@pytest.mark.parametrize("pruner", ["none", "asha"])
def test_another_pruner_is_refused_by_name(pruner: str, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=rf"syne-asha.*pruner 'tuner'.*\['{pruner}'\]"):
        hyperlab.tune(
            "lcbench-3945", "syne-asha", pruner=pruner, trials=3, runs_dir=tmp_path, report=False
        )


def test_an_objective_without_a_budget_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"syne-bohb.*give a budget"):
        hyperlab.tune(
            synthetic_objective(), "syne-bohb", pruner="tuner", trials=3, runs_dir=tmp_path
        )


def test_a_tuner_without_a_rule_is_warned_about() -> None:
    with pytest.warns(UserWarning, match=r"tuners \['random'\] have no stopping rule"):
        check_plugins(
            ["random", "syne-asha"],
            ["tuner"],
            {},
            {},
            task_name=None,
            task=None,
            budget=5,
            trials=4,
        )


def test_the_tuner_pruner_stops_nothing_for_a_tuner_without_a_rule() -> None:
    study = optuna.create_study(
        sampler=optuna.samplers.RandomSampler(seed=0), pruner=PRUNERS.create("tuner", max_budget=5)
    )
    study.optimize(synthetic_objective(budget=5), n_trials=6)
    assert all(t.state == TrialState.COMPLETE for t in study.trials)


@pytest.mark.parametrize(
    ("name", "options", "error", "match"),
    [
        ("syne-asha", {"grace_period": 0}, InputError, "grace_period"),
        ("syne-asha", {"reduction_factor": 1}, InputError, "reduction_factor"),
        ("syne-asha", {"reduction_factor": "3"}, InputTypeError, "reduction_factor"),
        ("syne-bohb", {"num_min_data_points": 1, "space": SPACE}, InputError, "num_min_data"),
        ("syne-bohb", {"random_fraction": 2.0}, InputError, "random_fraction"),
        ("syne-bohb", {"top_n_percent": 100}, InputError, "top_n_percent"),
        ("syne-bohb", {"num_candidates": 0}, InputError, "num_candidates"),
        ("smac-hyperband", {"eta": 1}, InputError, "eta"),
        ("smac-hyperband", {"eta": 2.5}, InputTypeError, "eta"),
        ("dehb", {"eta": 1}, InputError, "eta"),
        ("dehb", {"eta": "3"}, InputTypeError, "eta"),
    ],
)
def test_bad_options_are_refused_by_name(
    name: str, options: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        TUNERS.create(name, **{"seed": 0, **options})


def test_a_grace_period_beyond_the_budget_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="grace_period=5"):
        hyperlab.tune(
            "lcbench-3945",
            "syne-asha",
            pruner="tuner",
            trials=3,
            budget=3,
            tuner_options={"grace_period": 5},
            runs_dir=tmp_path,
            report=False,
        )


@pytest.mark.parametrize("peer", ["smac-hyperband", "dehb"])
@pytest.mark.parametrize("eta", [2, 3])
def test_the_warned_trial_count_is_where_the_first_trial_completes(peer: str, eta: int) -> None:
    """With fewer trials than the first bracket holds, such a run completed none and nothing
    said so before it ran."""
    from hyperlab.tuners.peers.fidelity import first_full_trial

    needed = first_full_trial(BUDGET, eta)
    assert needed == {2: 1 + 2 + 4 + 8, 3: 1 + 3 + 9}[eta]
    study = _curves(peer, seed=0, trials=needed, eta=eta)
    states = [t.state for t in study.trials]
    assert TrialState.COMPLETE not in states[:-1] and states[-1] == TrialState.COMPLETE
    sampler = TUNERS.create(peer, seed=0, space=dict(SPACE), eta=eta)
    run = {"budget": BUDGET, "pruners": ["tuner"], "stop_at_noise": False}
    with pytest.warns(UserWarning, match=f"in its trial {needed}; with trials={needed - 1} "):
        sampler.check_run(trials=needed - 1, **run)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sampler.check_run(trials=needed, **run)
