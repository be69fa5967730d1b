"""Tasks that continue training: ``Task.train_segment`` and the MLP tasks' segments."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hyperlab.errors import InputError
from hyperlab.population import hypergradient_twin
from hyperlab.registry import TASKS


def _wine() -> object:
    return TASKS.create("wine-mlp", n_folds=2, max_epochs=6)


def test_a_task_without_segments_says_so() -> None:
    branin = TASKS.create("branin")
    assert not branin.continues_training and branin.mutable_params == ()
    with pytest.raises(NotImplementedError, match="'branin' cannot continue training"):
        branin.train_segment(branin.default_config(), None, 1)
    assert TASKS.create("wine-mlp").continues_training
    assert TASKS.create("digits-mlp-bank").continues_training  # a replayed curve goes on


def test_a_replayed_curve_continues_and_a_changed_configuration_reads_its_own_curve() -> None:
    import numpy as np

    bank = TASKS.create("digits-mlp-bank")
    config = bank.default_config()
    whole = bank.train_segment(config, None, 6)
    first = bank.train_segment(config, None, 2)
    rest = bank.train_segment(config, first.state, 4)
    assert first.values + rest.values == whole.values and rest.epoch == 6
    assert whole.values == list(bank.curve(config).curves["val_loss"][:6])
    # a segment with another rate follows that configuration's curve from the epoch it starts
    other = dict(config, lr=config["lr"] * 50)
    assert bank.nearest(other) != bank.nearest(config)
    switched = bank.train_segment(other, first.state, 4)
    assert np.allclose(switched.values, bank.curve(other).curves["val_loss"][2:6])
    with pytest.raises(InputError, match="goes past them"):
        bank.train_segment(config, rest.state, bank.max_budget)


def test_a_population_trains_on_a_replay_task(tmp_path: Path) -> None:
    from tests.population.conftest import run_population

    study = run_population("pb2", TASKS.create("digits-mlp-bank"), tmp_path, trials=4, budget=8)
    assert len(study.trials) == 4 and all(len(t.intermediate_values) == 8 for t in study.trials)


def test_a_segment_of_another_type_is_named_with_its_article() -> None:
    """The message read "its segment is a int"."""
    from hyperlab.errors import InputTypeError
    from hyperlab.tasks.base import check_segment

    with pytest.raises(
        InputTypeError, match=r"its segment is an int, not a hyperlab\.tasks\.Segment"
    ):
        check_segment("t", 3, 2)


def test_a_segment_of_one_score_or_one_epoch_is_told_in_the_singular() -> None:
    """The messages read "has 1 scores for 2 epochs", "trained 1 epochs"."""
    from hyperlab.tasks.base import Segment, check_segment

    with pytest.raises(InputError, match=r"its segment has 1 score for 2 epochs \("):
        check_segment("t", Segment(state={}, values=[0.5], epoch=2), 2)
    with pytest.raises(InputError, match=r"has 2 values for 1 epoch \("):
        check_segment("t", Segment({}, [0.5], 1, curves={"val_loss": [0.5, 0.4]}), 1)
    with pytest.raises(InputError, match=r"from epoch 3 trained 1 epoch but says epoch=3 "):
        check_segment("t", Segment(state={}, values=[0.5], epoch=3), 1, start=3)


def test_a_segment_s_negative_std_err_is_refused_as_an_evaluation_s() -> None:
    """An Evaluation with std_err=-0.1 was refused, a Segment with one passed; an infinite
    one fails the member's segment only, as an evaluation's fails its trial."""
    import math

    from hyperlab.tasks.base import Segment, check_segment

    with pytest.raises(InputError, match=r"its segment has std_err -0\.1, a negative number \("):
        check_segment("t", Segment(state={}, values=[0.5], epoch=1, std_err=-0.1), 1)
    for fine in (0.0, 0.1, -math.inf, math.nan):
        check_segment("t", Segment(state={}, values=[0.5], epoch=1, std_err=fine), 1)


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ([0.5], r"has extra \[0\.5\], not a dict keyed by text"),
        ({1: 0.5}, r"has extra \{1: 0\.5\}, not a dict keyed by text"),
        (
            {"acc": np.float32(0.5)},
            r"has extra\['acc'\] np\.float32\(0\.5\) of type float32, which a trial's "
            r"attributes cannot store \(Object of type float32 is not JSON serializable: ",
        ),
        ({"budget": 1}, r"has extra\['budget'\], a trial attribute the lab writes itself \(one "),
        ({"seed": 3}, r"has extra\['seed'\], a trial attribute the lab writes itself \(one of "),
        ({"member": 3}, r"has extra\['member'\], a trial attribute that marks a population "),
        ({"lineage": []}, r"has extra\['lineage'\], a trial attribute that marks a populati"),
    ],
)
def test_a_segment_s_extra_that_a_trial_cannot_store_is_refused(extra: object, says: str) -> None:
    """A tpe-hd trial stores its last segment's extra as attributes: a NumPy float32 failed
    every trial deep in the storage (``TypeError: Object of type float32 is not JSON
    serializable``), naming neither the task nor the field, and ``budget`` or ``seed`` replaced
    the trial's own (its epochs, its seed), and ``member`` made a tpe-hd trial read as a
    population member in the report and the summary. ``schedule`` passes: the tuner's own
    replaces it."""
    from hyperlab.errors import InputTypeError
    from hyperlab.tasks.base import Segment, check_segment

    with pytest.raises(InputTypeError, match=r"task 't': its segment " + says):
        check_segment("t", Segment(state={}, values=[0.5], epoch=1, extra=extra), 1)
    for fine in ({"acc": 0.5}, {"schedule": "mine", "hypergradient": False}):
        check_segment("t", Segment(state={}, values=[0.5], epoch=1, extra=fine), 1)


def test_segment_input_is_checked() -> None:
    task = _wine()
    with pytest.raises(InputError, match="epochs must be a positive integer, got 0"):
        task.train_segment(task.default_config(), None, 0)
    with pytest.raises(InputError, match=r"lacks \['lr'\]"):
        config = task.default_config()
        del config["lr"]
        task.train_segment(config, None, 1)


@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_segments_compose_into_one_training_run(dropout: float) -> None:
    task = _wine()
    config = dict(task.default_config(), dropout=dropout)
    whole = task.evaluate(config, 4, seed=3)
    first = task.train_segment(config, None, 2, seed=3)
    second = task.train_segment(config, first.state, 2, seed=99)  # a state keeps its streams
    assert first.values + second.values == whole.curves["val_loss"]
    assert second.epoch == 4 and second.value == whole.value
    assert second.curves["train_loss"] == whole.curves["train_loss"][2:]
    assert second.std_err == whole.std_err and second.fold_values == whole.fold_values
    again = task.train_segment(config, first.state, 2, seed=99)
    assert again.values == second.values  # the state given was not changed


def test_mutable_hyperparameters_take_effect_between_segments() -> None:
    task = _wine()
    config = task.default_config()
    first = task.train_segment(config, None, 1, seed=0)
    same = task.train_segment(config, first.state, 1, seed=0)
    for key, value in (("lr", 0.05), ("weight_decay", 0.05), ("dropout", 0.4), ("batch_size", 128)):
        changed = task.train_segment(dict(config, **{key: value}), first.state, 1, seed=0)
        assert changed.values != same.values, key
        if key in ("lr", "weight_decay"):
            group = changed.state["folds"][0]["optimizer"]["param_groups"][0]
            assert group[key] == value


def test_a_wrapped_optimizer_learns_the_rate_and_keeps_it() -> None:
    task = _wine()
    config = dict(task.default_config(), lr=1e-3)
    first = task.train_segment(config, None, 2, seed=0, wrap_optimizer=hypergradient_twin)
    assert task.learning_rate_param == "lr" and first.learned["lr"] != 1e-3
    fold_rates = [f["optimizer"]["param_groups"][0]["lr"] for f in first.state["folds"]]
    assert first.learned["lr"] == pytest.approx(sum(fold_rates) / len(fold_rates))
    # the config's rate is the one the state started with: the learned rates stay, so two
    # segments are one
    second = task.train_segment(config, first.state, 1, seed=0, wrap_optimizer=hypergradient_twin)
    whole = task.train_segment(config, None, 3, seed=0, wrap_optimizer=hypergradient_twin)
    assert first.values + second.values == whole.values
    assert second.learned == whole.learned
    plain = task.train_segment(config, None, 1, seed=0)
    assert plain.learned == {}
    assert all(isinstance(t, torch.Tensor) for t in first.state["folds"][0]["model"].values())


def test_an_lcbench_schedule_is_scored_by_its_last_configuration() -> None:
    task = TASKS.create("lcbench-3945")
    config = task.default_config()
    later = dict(config, learning_rate=config["learning_rate"] / 10)
    score = task.schedule_test_score([(config, 10), (later, 20)])
    assert score == task.test_score(later, 30)


def test_the_hypergradient_twin_refuses_what_it_would_change() -> None:
    import torch

    from hyperlab.errors import InputError
    from hyperlab.hypergrad import SGDHD, AdamHD

    params = list(torch.nn.Linear(3, 1).parameters())
    adamw_like = torch.optim.Adam(params, lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True)
    with pytest.raises(InputError, match="decoupled_weight_decay=True"):
        hypergradient_twin(adamw_like)
    with pytest.raises(InputError, match="no AMSGrad"):
        hypergradient_twin(torch.optim.Adam(params, amsgrad=True))
    # decoupled with no decay at all changes nothing: swapped
    assert isinstance(
        hypergradient_twin(torch.optim.Adam(params, decoupled_weight_decay=True)), AdamHD
    )
    assert isinstance(hypergradient_twin(torch.optim.SGD(params, lr=0.1)), SGDHD)


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: torch.optim.Adam(ps, lr=0.01),
        lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9),
    ],
)
def test_the_twin_of_an_optimizer_that_stepped_goes_on_where_it_stopped(make: object) -> None:
    def steps(opt: torch.optim.Optimizer, model: torch.nn.Module, n: int) -> None:
        for i in range(n):
            opt.zero_grad()
            model(torch.full((2, 3), float(i + 1))).pow(2).sum().backward()
            opt.step()

    torch.manual_seed(0)
    plain = torch.nn.Linear(3, 1)
    swapped = torch.nn.Linear(3, 1)
    swapped.load_state_dict(plain.state_dict())
    reference, before = make(list(plain.parameters())), make(list(swapped.parameters()))  # type: ignore[operator]
    steps(reference, plain, 2)
    steps(before, swapped, 1)
    twin = hypergradient_twin(before)
    twin.zero_grad()
    swapped(torch.full((2, 3), 2.0)).pow(2).sum().backward()
    twin.step()  # its first rate update needs a direction of its own: the step is the plain one
    assert torch.allclose(swapped.weight, plain.weight)


def test_the_twin_refuses_what_is_no_optimizer() -> None:
    from hyperlab.errors import InputTypeError

    with pytest.raises(InputTypeError, match=r"takes a torch\.optim\.Adam or SGD, got None"):
        hypergradient_twin(None)
