from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest

from hyperlab.errors import InputError, InputTypeError
from hyperlab.registry import TASKS
from hyperlab.tasks import standard_error
from hyperlab.tasks.base import Task

SMALL = {
    "lr": 3e-3,
    "weight_decay": 1e-4,
    "batch_size": 64,
    "n_layers": 1,
    "width": 16,
    "activation": "relu",
    "dropout": 0.0,
    "optimizer": "adam",
}


def test_standard_error_matches_numpy() -> None:
    vals = [0.1, 0.4, 0.25, 0.3]
    assert standard_error(vals) == pytest.approx(np.std(vals, ddof=1) / 2)
    assert standard_error([1.0]) == 0.0


@pytest.mark.parametrize("name", ["wine-mlp", "breast-cancer-mlp"])
def test_mlp_evaluation_shapes_and_se(name: str) -> None:
    task = TASKS.create(name, n_folds=3, max_epochs=4)
    ev = task.evaluate(SMALL, budget=3, seed=1)
    assert ev.budget == 3
    for key in ("train_loss", "val_loss", "train_metric", "val_metric"):
        assert len(ev.curves[key]) == 3
    assert len(ev.fold_values) == 3
    assert ev.value == pytest.approx(np.mean(ev.fold_values))
    assert ev.std_err == pytest.approx(standard_error(ev.fold_values))
    assert ev.std_err > 0
    assert 0.0 <= ev.extra["val_accuracy"] <= 1.0
    # training helps: the train loss falls
    assert ev.curves["train_loss"][-1] < ev.curves["train_loss"][0]


def test_mlp_reproducible_under_seed() -> None:
    task = TASKS.create("wine-mlp", max_epochs=3)
    a = task.evaluate(SMALL, seed=5)
    b = task.evaluate(SMALL, seed=5)
    c = task.evaluate(SMALL, seed=6)
    assert a.curves == b.curves
    assert a.value != c.value


def test_mlp_on_epoch_sees_every_epoch_and_can_stop() -> None:
    task = TASKS.create("wine-mlp", max_epochs=5)
    seen: list[int] = []

    def on_epoch(epoch: int, value: float, curves: dict[str, list[float]]) -> None:
        seen.append(epoch)
        assert len(curves["val_loss"]) == epoch
        if epoch == 2:
            raise optuna.TrialPruned()

    with pytest.raises(optuna.TrialPruned):
        task.evaluate(SMALL, on_epoch=on_epoch)
    assert seen == [1, 2]


def test_mlp_test_score_is_held_out() -> None:
    task = TASKS.create("wine-mlp", max_epochs=3)
    data = task._data
    n_total = len(data["y"]) + len(data["y_test"])
    assert len(data["y_test"]) == pytest.approx(0.2 * n_total, abs=1)
    score = task.test_score(SMALL, budget=3)
    assert math.isfinite(score) and score > 0


def test_a_schedule_is_scored_on_the_test_split_as_it_was_trained() -> None:
    task = TASKS.create("wine-mlp", max_epochs=4)
    config = SMALL | {"dropout": 0.1}  # dropout modules either way: the same random draws
    assert task.schedule_test_score([(config, 3)], seed=2) == task.test_score(config, 3, seed=2)
    split = task.schedule_test_score([(config, 1), (config, 2)], seed=2)
    assert split == task.test_score(config, 3, seed=2)  # segments join without a seam
    faster = config | {"lr": 0.03, "batch_size": 16}
    assert task.schedule_test_score([(config, 1), (faster, 2)], seed=2) != split
    with pytest.raises(InputError, match="empty"):
        task.schedule_test_score([])
    with pytest.raises(InputError, match="epochs must be a positive integer, got 0"):
        task.schedule_test_score([(config, 0)])
    lacking = {k: v for k, v in config.items() if k != "activation"}
    with pytest.raises(InputError, match=r"segment 1's config for wine-mlp lacks \['activation'\]"):
        task.schedule_test_score([(config, 1), (lacking, 1)])
    with pytest.raises(InputTypeError, match="segment 0's config must be a dict, got NoneType"):
        task.schedule_test_score([(None, 1)])  # type: ignore[list-item]
    with pytest.raises(InputError, match="segment 0 of the schedule is not"):
        task.schedule_test_score([config])  # type: ignore[list-item]
    with pytest.raises(InputTypeError, match="schedule must be a list"):
        task.schedule_test_score(config)  # type: ignore[arg-type]


@pytest.mark.parametrize("hypergradient", [False, True], ids=["plain", "hypergradient"])
def test_the_test_split_model_trains_exactly_as_the_population_member_did(
    hypergradient: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pointed at fold 0's data, the schedule's test-split run gives fold 0's validation
    losses of the same segments trained by ``train_segment``: rates, batch sizes and weight
    decay change at the same epochs, and the hypergradient twin wraps the same optimizer."""
    from hyperlab.population.selftuning import hypergradient_twin
    from hyperlab.tasks.mlp import _FoldRun

    task = TASKS.create("wine-mlp", n_folds=2, max_epochs=6)
    base = task.search_space(optuna.trial.FixedTrial(SMALL | {"dropout": 0.0}))
    steps = [
        (base, 2),
        (base | {"lr": 0.003, "batch_size": 64}, 1),
        (base | {"lr": 0.003, "batch_size": 16, "weight_decay": 1e-3}, 2),
    ]
    wrap = hypergradient_twin if hypergradient else None
    state, ends = None, []
    for config, epochs in steps:
        segment = task.train_segment(config, state, epochs, seed=3, wrap_optimizer=wrap)
        state = segment.state
        ends.append(segment.fold_values[0])
    train, val = task._folds[0]
    data = task._data

    def fold0(config: dict[str, object], seed: int, **options: object) -> _FoldRun:
        x, y = data["x"], data["y"]
        return _FoldRun(x[train], y[train], x[val], y[val], config, task.n_classes, seed,
                        **options)  # fmt: skip

    monkeypatch.setattr(task, "_test_run", fold0)
    for cut in range(1, len(steps) + 1):
        assert task.schedule_test_score(steps[:cut], seed=3, wrap_optimizer=wrap) == ends[cut - 1]


def test_mlp_training_data_is_the_part_the_folds_split() -> None:
    from sklearn.datasets import load_wine

    task = TASKS.create("wine-mlp")
    x, y = task.training_data()
    n = len(load_wine().target)
    assert x.shape == (len(y), 13) and len(y) == n - round(0.2 * n)
    held = np.sort(np.concatenate([test for _, test in task._folds]))
    np.testing.assert_array_equal(held, np.arange(len(y)))  # the folds cover exactly these rows
    x[:] = 0  # a copy: the task's own data is untouched
    assert task.training_data()[0].any()


def test_mlp_bad_input() -> None:
    task = TASKS.create("wine-mlp", max_epochs=3)
    with pytest.raises(InputError, match=r"budget must be in 1\.\.3"):
        task.evaluate(SMALL, budget=4)
    with pytest.raises(InputTypeError):
        task.evaluate(SMALL, budget="3")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="lacks"):
        task.evaluate({"lr": 0.1})
    with pytest.raises(InputError, match="n_folds"):
        TASKS.create("wine-mlp", n_folds=1)


def test_mlp_divergence_is_a_trial_failure_with_curves() -> None:
    from hyperlab.errors import TrialFailure

    task = TASKS.create("wine-mlp", max_epochs=3)
    cfg = dict(SMALL, lr=1e6, optimizer="sgd")  # past the space's range, which evaluate refuses
    with pytest.raises(TrialFailure) as info:
        task._evaluate(cfg, 3, 0, None)
    assert "diverged" in str(info.value)
    assert info.value.curves["val_loss"]


@pytest.mark.parametrize("name", ["branin", "hartmann6", "rosenbrock-4d"])
def test_synthetic_optimum_at_argmin(name: str) -> None:
    task = TASKS.create(name)
    config = {f"x{i}": v for i, v in enumerate(task.argmin)}
    value = task.evaluate(config).value
    assert value == pytest.approx(task.optimum, abs=1e-4)
    # and it is a minimum: random points are no better
    rng = np.random.default_rng(0)
    for _ in range(200):
        x = {f"x{i}": rng.uniform(lo, hi) for i, (lo, hi) in enumerate(task.bounds)}
        assert task.evaluate(x).value >= task.optimum - 1e-6


def test_branin_has_three_minima() -> None:
    task = TASKS.create("branin")
    for x in ((-math.pi, 12.275), (math.pi, 2.275), (9.42478, 2.475)):
        assert task.function(np.array(x)) == pytest.approx(task.optimum, abs=1e-5)


def test_distributions_and_default_config() -> None:
    task = TASKS.create("digits-mlp")
    dists = task.distributions()
    assert set(dists) == set(SMALL)
    cfg = task.default_config()
    for name, dist in dists.items():
        assert dist._contains(dist.to_internal_repr(cfg[name]))


def test_grid_values_stay_inside_log_axes() -> None:
    from optuna.distributions import FloatDistribution, IntDistribution

    from hyperlab.space.distributions import grid_values

    for dist in (FloatDistribution(1e-6, 1e-1, log=True), FloatDistribution(1e-4, 1.0, log=True)):
        vals = grid_values(dist, 5)
        assert vals[0] == dist.low and vals[-1] == dist.high
        assert all(dist.low <= v <= dist.high for v in vals)
    ints = grid_values(IntDistribution(16, 256, log=True), 3)
    assert ints == [16, 64, 256]


def test_mlp_curves_are_labelled_right_and_match_the_value() -> None:
    task = TASKS.create("wine-mlp", max_epochs=4)
    reported: list[float] = []
    ev = task.evaluate(SMALL, on_epoch=lambda e, v, c: reported.append(v))
    # the reported value each epoch is the validation loss, and the last one is the score
    assert reported == ev.curves["val_loss"]
    assert ev.curves["val_loss"][-1] == pytest.approx(ev.value)
    # accuracies live in [0, 1] and the validation accuracy is the recorded one
    for key in ("train_metric", "val_metric"):
        assert all(0.0 <= a <= 1.0 for a in ev.curves[key])
    assert ev.curves["val_metric"][-1] == pytest.approx(ev.extra["val_accuracy"])
    # losses fall on the training data while accuracies rise
    assert ev.curves["train_loss"][-1] < ev.curves["train_loss"][0]
    assert ev.curves["train_metric"][-1] > ev.curves["train_metric"][0]


class Conditional(Task):
    """A parameter that exists only on one branch of another's value."""

    name = "conditional"
    max_budget = 1
    direction = "maximize"

    def search_space(self, trial: Any) -> dict[str, Any]:
        opt = trial.suggest_categorical("opt", ["sgd", "adam"])
        if opt == "sgd":
            return {"opt": opt, "momentum": trial.suggest_float("momentum", 0.0, 0.99)}
        return {"opt": opt, "beta1": trial.suggest_float("beta1", 0.5, 0.999)}

    def _evaluate(self, config: dict[str, Any], budget: int, seed: int, on_epoch: Any) -> Any:
        from hyperlab.tasks.base import Evaluation

        return Evaluation(value=config.get("momentum", 0.0) + config.get("beta1", 0.0), budget=1)


def test_a_conditional_search_space_runs_every_branch(tmp_path: Path) -> None:
    import hyperlab

    task = Conditional()
    assert set(task.distributions()) == {"opt", "momentum", "beta1"}  # every branch
    assert task.evaluate({"opt": "sgd", "momentum": 0.5}).value == 0.5
    with pytest.raises(InputError, match=r"lacks \['opt'\]"):
        task.evaluate({"momentum": 0.5})
    study, _ = hyperlab.tune(Conditional, "tpe", trials=12, runs_dir=tmp_path, progress=False)
    assert {t.state.name for t in study.trials} == {"COMPLETE"}
    assert {t.params["opt"] for t in study.trials} == {"sgd", "adam"}


def test_a_search_space_that_fails_is_named_with_its_error() -> None:
    class Broken(Conditional):
        name = "broken"

        def search_space(self, trial: Any) -> dict[str, Any]:
            return {"lr": trial.suggest_float("lr", 0.0, 1.0, log=True)}

    with pytest.raises(InputError, match=r"the search space of task 'broken' failed.*log=True"):
        Broken().distributions()


class Bare(Conditional):
    """Returns whatever ``reply`` holds."""

    name = "bare"
    max_budget = 4
    reply: Any = None

    def _evaluate(self, config: dict[str, Any], budget: int, seed: int, on_epoch: Any) -> Any:
        return self.reply


def test_what_evaluate_returns_is_checked_and_its_unset_fields_filled_in() -> None:
    from hyperlab.tasks.base import Evaluation

    task, config = Bare(), {"opt": "adam", "beta1": 0.9}
    task.reply = 0.5
    with pytest.raises(InputTypeError, match=r"Bare._evaluate returned 0.5 of type float, not an"):
        task.evaluate(config)
    task.reply = Evaluation(value=0.5)  # neither budget nor wall time given
    ev = task.evaluate(config, budget=3)
    assert ev.budget == 3 and ev.wall_time > 0
    task.reply = Evaluation(value=0.5, budget=2, wall_time=7.0)  # a trial stopped early
    assert (task.evaluate(config, budget=3).budget, task.evaluate(config).wall_time) == (2, 7.0)
    task.reply = Evaluation(value=0.5, budget=8)
    with pytest.raises(
        InputError,
        match=r"reported budget 8 \(int\): it must be the epochs it used, a whole number in 1\.\.3",
    ):
        task.evaluate(config, budget=3)


class Reporting(Bare):
    """Hands ``reply`` to ``on_epoch`` at epoch 1, and returns a fine evaluation."""

    def _evaluate(self, config: dict[str, Any], budget: int, seed: int, on_epoch: Any) -> Any:
        from hyperlab.tasks.base import Evaluation

        if on_epoch is not None:
            on_epoch(1, self.reply, {})
        return Evaluation(value=0.5)


@pytest.mark.parametrize("odd", ["0.5", True, None, [0.5]])
def test_a_score_evaluate_gives_that_is_not_a_number_breaks_the_task_contract(odd: Any) -> None:
    """Text, a bool or None as Evaluation.value, or handed to on_epoch, passed evaluate (a
    caller's float() read "0.5" and True silently); NaN passes: a training may diverge."""
    from hyperlab.errors import TaskContractError
    from hyperlab.tasks.base import Evaluation

    task, config = Bare(), {"opt": "adam", "beta1": 0.9}
    shown = f"{odd!r} of type {type(odd).__name__}"
    task.reply = Evaluation(value=odd)
    with pytest.raises(TaskContractError) as info:
        task.evaluate(config)
    said = f"Bare._evaluate returned Evaluation.value {shown}, not a number ("
    assert str(info.value).startswith(said)
    reporting = Reporting()
    reporting.reply = odd
    with pytest.raises(TaskContractError) as info:
        reporting.evaluate(config, on_epoch=lambda e, v, c: None)
    said = f"Reporting._evaluate reported {shown} to on_epoch at epoch 1, not a number ("
    assert str(info.value).startswith(said)
    task.reply = Evaluation(value=float("nan"))
    assert np.isnan(task.evaluate(config).value)


def test_on_epoch_is_handed_each_score_as_a_float() -> None:
    import torch

    seen: list[Any] = []
    task, config = Reporting(), {"opt": "adam", "beta1": 0.9}
    for reply in (torch.tensor(0.25), np.float32(0.5), 3, float("inf")):
        task.reply = reply
        task.evaluate(config, on_epoch=lambda e, v, c: seen.append(v))
    assert seen == [0.25, 0.5, 3.0, float("inf")] and {type(v) for v in seen} == {float}
    task.reply = "0.5"
    assert task.evaluate(config).value == 0.5  # no on_epoch: nothing reported, nothing checked


@pytest.mark.parametrize(
    ("field", "odd", "says"),
    [
        ("std_err", "0.1", "std_err '0.1' of type str, not a number (the standard error of"),
        ("std_err", True, "std_err True of type bool, not a number ("),
        ("std_err", None, "std_err None of type NoneType, not a number ("),
        ("std_err", -0.1, "std_err -0.1, a negative number (the standard error of value"),
        ("fold_values", ["a", "b"], "fold_values[0] 'a' of type str, not a number (one score"),
        ("fold_values", [0.5, None], "fold_values[1] None of type NoneType, not a number ("),
        ("fold_values", "0.5", "fold_values '0.5', a str, not a list of numbers (one score"),
        ("fold_values", None, "fold_values None, a NoneType, not a list of numbers ("),
        ("curves", [0.5], "curves [0.5], a list, not a dict of curve name -> one number per"),
        ("curves", {"val_loss": 0.5}, "curves['val_loss'] 0.5, a float, not a list of numbers"),
        ("curves", {"val_loss": [0.5, "0.4"]}, "curves['val_loss'][1] '0.4' of type str, not a"),
        ("curves", {"val_loss": [0.5, True]}, "curves['val_loss'][1] True of type bool, not a"),
        ("curves", {0: [0.5]}, "curves key 0 of type int, not a curve's name (text, such as 'v"),
        ("curves", {None: [0.5]}, "curves key None of type NoneType, not a curve's name (text,"),
        ("curves", {"val_loss": [0.5] * 5}, "curves['val_loss'] of 5 points, more than the 4 ep"),
        ("extra", {"acc": np.float32(0.5)}, "extra['acc'] np.float32(0.5) of type float32, whi"),
        ("extra", {"n": [np.int64(3)]}, "extra['n'] [np.int64(3)] of type list, which a trial'"),
        ("extra", {"at": object}, "extra['at'] <class 'object'> of type type, which a trial's "),
        ("extra", {1: 0.5}, "extra {1: 0.5}, not a dict keyed by text"),
        ("extra", [0.5], "extra [0.5], not a dict keyed by text"),
        ("extra", {"budget": 1}, "extra['budget'], a trial attribute the lab writes itself (one"),
        ("extra", {"acc": 1, "seed": 3}, "extra['seed'], a trial attribute the lab writes itself"),
        ("extra", {"schedule": "cosine"}, "extra['schedule'], a trial attribute that marks a tr"),
        ("extra", {"hypergradient": True}, "extra['hypergradient'], a trial attribute that mark"),
        ("extra", {"member": 0}, "extra['member'], a trial attribute that marks a population"),
        ("extra", {"lineage": []}, "extra['lineage'], a trial attribute that marks a populati"),
    ],
)
def test_an_evaluation_whose_other_numbers_are_not_numbers_breaks_the_task_contract(
    field: str, odd: Any, says: str
) -> None:
    """std_err, fold_values and the curves were not checked: text, a bool or None passed
    evaluate and were stored with the trial, to break or mislead what read them later. So was
    extra: a value JSON cannot write failed every trial in the storage, a key the lab writes
    itself (budget, seed) replaced the lab's value, and one that marks a self-tuning trial
    (``schedule``: a learning-rate schedule's name, say) broke the report."""
    from hyperlab.errors import TaskContractError
    from hyperlab.tasks.base import Evaluation

    task, config = Bare(), {"opt": "adam", "beta1": 0.9}
    task.reply = Evaluation(value=0.5, **{field: odd})
    with pytest.raises(TaskContractError) as info:
        task.evaluate(config)
    assert str(info.value).startswith(f"Bare._evaluate returned Evaluation.{says}")


def test_an_evaluation_s_extra_of_plain_data_passes() -> None:
    """What a trial's storage writes as JSON: numbers (NumPy's float64, NaN and infinity
    included), text, None, lists and dicts of them."""
    from hyperlab.tasks.base import Evaluation

    task, config = Bare(), {"opt": "adam", "beta1": 0.9}
    extra = {"acc": np.float64(0.5), "n": 3, "odd": [math.nan, math.inf], "m": {"a": None}}
    task.reply = Evaluation(value=0.5, extra=extra)
    assert task.evaluate(config).extra == extra


def test_a_curve_may_hold_up_to_one_point_per_epoch_trained_and_no_more() -> None:
    """A curve of more points than the epochs trained (several per epoch, a point before the
    first epoch) passed, and the report and the diagnosis read its points at the wrong epochs."""
    from hyperlab.errors import TaskContractError
    from hyperlab.tasks.base import Evaluation

    task, config = Bare(), {"opt": "adam", "beta1": 0.9}
    for points, used in ((3, 0), (2, 0), (2, 2), (1, 2)):  # the epochs trained, or fewer
        task.reply = Evaluation(value=0.5, budget=used, curves={"val_loss": [0.5] * points})
        assert task.evaluate(config, budget=3).curves == {"val_loss": [0.5] * points}
    task.reply = Evaluation(value=0.5, curves={"train_loss": [0.5] * 3, "val_loss": [0.5] * 4})
    with pytest.raises(TaskContractError) as info:
        task.evaluate(config, budget=3)
    assert str(info.value) == (
        "Bare._evaluate returned Evaluation.curves['val_loss'] of 4 points, more than the 3 "
        "epochs trained (a curve holds one number per epoch trained, epoch 1 first)"
    )
    task.reply = Evaluation(value=0.5, budget=2, curves={"val_loss": [0.5] * 3})  # stopped early
    with pytest.raises(TaskContractError, match=r"3 points, more than the 2 epochs trained \(its "):
        task.evaluate(config, budget=3)


def test_an_evaluation_s_numbers_come_back_as_floats_and_nan_passes() -> None:
    """A NaN or infinite std_err or fold value, or a curve point, is no contract error: a
    training may diverge (the lab fails that trial only)."""
    import torch

    from hyperlab.tasks.base import Evaluation

    task, config = Bare(), {"opt": "adam", "beta1": 0.9}
    task.reply = Evaluation(
        value=torch.tensor(0.5),  # type: ignore[arg-type]
        std_err=np.float32(0.25),  # type: ignore[arg-type]
        fold_values=np.array([0.25, 0.75]),  # type: ignore[arg-type]
        curves={"val_loss": (np.float32(1.0), 3)},  # type: ignore[dict-item]
    )
    ev = task.evaluate(config)
    assert (ev.value, ev.std_err, ev.fold_values, ev.curves) == (
        0.5, 0.25, [0.25, 0.75], {"val_loss": [1.0, 3.0]}
    )  # fmt: skip
    assert {type(v) for v in (ev.value, ev.std_err, *ev.fold_values, *ev.curves["val_loss"])} == {
        float
    }
    task.reply = Evaluation(
        value=0.5, std_err=math.nan, fold_values=[math.inf], curves={"val_loss": [math.nan]}
    )
    ev = task.evaluate(config)
    assert math.isnan(ev.std_err) and ev.fold_values == [math.inf]
    task.reply = Evaluation(value=0.5, std_err=-math.inf)  # not finite: the trial's failure
    assert task.evaluate(config).std_err == -math.inf


def test_fold_values_without_a_standard_error_give_theirs() -> None:
    """A scikit-learn task that gave its folds' scores but left std_err out was shown as
    '0.956874 ± 0 (CV standard error)'."""
    from hyperlab.tasks.base import Evaluation

    task, config = Bare(), {"opt": "adam", "beta1": 0.9}
    folds = [0.90, 0.92, 0.95, 0.93, 0.96]
    task.reply = Evaluation(value=float(np.mean(folds)), fold_values=folds)
    assert task.evaluate(config).std_err == pytest.approx(standard_error(folds))
    for given, same in ((0.01, folds), (0.0, [0.9, 0.9]), (0.0, [0.9]), (0.0, [0.9, math.nan])):
        task.reply = Evaluation(value=0.9, std_err=given, fold_values=same)
        assert task.evaluate(config).std_err == given  # given, no spread, or one not finite


class Optioned(Conditional):
    name = "optioned"

    def __init__(self, scale: float = 1.0, n_layers: int = 2, flag=False, label="a") -> None:  # type: ignore[no-untyped-def]
        self.scale = scale


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"scale": "abc"}, "option 'scale' must be a number, got 'abc'"),
        ({"scale": True}, "option 'scale' must be a number, got True"),
        ({"n_layers": 2.5}, "option 'n_layers' must be an integer, got 2.5"),
        ({"flag": 1}, "option 'flag' must be true or false, got 1"),
        ({"label": [3]}, "option 'label' must be text, got [3]"),
    ],
)
def test_a_task_option_of_the_wrong_kind_is_refused_before_anything_runs(
    tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    import hyperlab

    with pytest.raises(InputTypeError, match=re.escape(message)):
        hyperlab.tune(Optioned, "random", trials=1, task_options=options, runs_dir=tmp_path)
    assert not (tmp_path / "optioned").exists() or not any((tmp_path).rglob("study.db"))
    _, summary = hyperlab.tune(
        Optioned, "random", trials=1, task_options={"scale": 2, "n_layers": 3}, runs_dir=tmp_path,
        name="fine", progress=False, report=False,
    )  # fmt: skip
    assert summary.n_trials == 1


def test_option_kinds_read_a_user_class_by_reference_and_accept_what_the_cli_and_numpy_give(
    tmp_path: Path,
) -> None:
    """A user class given as a file reference: its annotations are read (one that does not
    resolve spoils no other), an int default takes any number, text takes a number (the
    command line reads dataset=31 as one), NumPy integers are integers."""
    from hyperlab.registry import TASKS

    (tmp_path / "ktask.py").write_text(
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "from hyperlab.tasks.base import Task\n"
        "if TYPE_CHECKING:\n"
        "    import pandas as pd\n"
        "class K(Task):\n"
        "    name = 'k'\n"
        "    def __init__(self, scale: float = 1, noise=0, n: int = 2,\n"
        "                 frame: pd.DataFrame | None = None, dataset: str = 'a'): ...\n"
    )
    kinds = TASKS.option_kinds(f"{tmp_path / 'ktask.py'}:K")
    assert kinds == {"scale": float, "noise": float, "n": int, "dataset": str}
    from hyperlab.registry import check_option_kind

    check_option_kind("t", "scale", 0.5, float)
    check_option_kind("t", "n", np.int64(5), int)
    check_option_kind("t", "dataset", 31, str)
    with pytest.raises(InputTypeError, match=r"'n' must be an integer, got 2\.5"):
        check_option_kind("t", "n", 2.5, int)


def test_an_early_stopping_task_may_report_its_budget_as_a_numpy_integer() -> None:
    from hyperlab.tasks.base import Evaluation

    task, config = Bare(), {"opt": "adam", "beta1": 0.9}
    task.reply = Evaluation(value=0.5, budget=np.int64(2))  # type: ignore[arg-type]
    assert task.evaluate(config, budget=3).budget == 2
    task.reply = Evaluation(value=0.5, budget=2.0)  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"reported budget 2\.0 \(float\)"):
        task.evaluate(config, budget=3)


class RareBranch(Conditional):
    """A parameter every configuration has but the rare one of k = 200."""

    name = "rare-branch"

    def search_space(self, trial: Any) -> dict[str, Any]:
        k = trial.suggest_int("k", 1, 200)
        return {"k": k} if k == 200 else {"k": k, "x": trial.suggest_float("x", 0.0, 1.0)}


def test_a_configuration_of_a_rare_branch_is_not_refused_for_what_other_branches_have() -> None:
    from hyperlab.tasks.config_checks import captured, check_config

    task = RareBranch()
    assert "x" in captured(task)[1]  # the first, quick reading never met k = 200
    check_config(task, {"k": 200})  # read again, thoroughly, before refusing: no error
    with pytest.raises(InputError, match=r"lacks \['k'\]"):
        check_config(task, {"x": 0.5})


def test_mlp_iris_is_a_data_set_option_beside_the_registered_ones() -> None:
    from hyperlab.tasks.mlp import SklearnMLPTask

    task = SklearnMLPTask("iris")
    x, y = task.training_data()
    assert x.shape == (120, 4) and sorted(set(y.tolist())) == [0, 1, 2]  # 150 less a 20% test
    assert task.name == "iris-mlp" and task.n_classes == 3
    with pytest.raises(InputError, match=r"unknown dataset 'mnist'.*'iris'"):
        SklearnMLPTask("mnist")


def test_mlp_generated_data_sets_have_their_own_arguments_and_classes_from_zero() -> None:
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split

    from hyperlab.tasks.mlp import SklearnMLPTask

    hastie = SklearnMLPTask("hastie")
    x, y = hastie.training_data()
    assert x.shape == (1200, 10) and sorted(set(y.tolist())) == [0, 1]  # given as -1 and 1
    assert hastie.name == "hastie-mlp" and hastie.n_classes == 2
    six = SklearnMLPTask("classif6")
    assert six.training_data()[0].shape == (1600, 30) and six.n_classes == 6
    imb = SklearnMLPTask("imb3")
    x3, y3 = imb.training_data()
    assert x3.shape == (1200, 15) and np.bincount(y3).tolist() == [705, 365, 130]
    two = SklearnMLPTask("clusters2")
    assert two.training_data()[0].shape == (1200, 12) and two.n_classes == 2
    # blobs is the set it always was
    xb, yb = make_classification(1500, n_features=20, n_informative=8, n_classes=4, random_state=0)
    expected = train_test_split(xb, yb, test_size=0.2, stratify=yb, random_state=0)[0]
    np.testing.assert_array_equal(SklearnMLPTask("blobs").training_data()[0], expected)


def test_a_wrong_reported_budget_is_told_before_the_curves_it_makes_too_long() -> None:
    """A task that reported budget=5 when asked for 3, with 5-point curves, was told its
    curves were longer than the epochs trained, not that its budget was wrong."""
    from hyperlab.errors import TaskContractError
    from hyperlab.tasks.base import Evaluation

    task, config = Bare(), {"opt": "adam", "beta1": 0.9}
    task.reply = Evaluation(value=0.5, budget=5, curves={"val_loss": [0.5] * 5})
    with pytest.raises(TaskContractError, match=r"reported budget 5 \(int\): it must be the"):
        task.evaluate(config, budget=3)
