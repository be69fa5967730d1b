"""A stacked optimizer's hyper state at load_state_dict: the hyperoptimizers' moments (Adam's
``step``, ``m``, ``v``, SGD's ``buf``) and the step count are numbers a run records, or the
state is refused by name with nothing loaded."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pytest
import torch

from hyperlab.errors import InputError
from hyperlab.hypergrad import HyperAdam, HyperSGD, StackedOptimizer, stack
from tests.hypergrad.test_stack import _problem, _run

LEVELS = ("sgd", "adam", ("sgd", {"momentum": 0.5}))


def _saved() -> tuple[torch.nn.Module, dict[str, Any]]:
    """A model and the state of a stack that trained it 3 steps (every level has moments)."""
    model, x, y = _problem(torch.float64)
    opt = stack(*LEVELS)(model.parameters())
    _run(model, opt, x, y, 3)
    return model, copy.deepcopy(opt.state_dict())


@pytest.mark.parametrize(
    ("path", "bad", "said"),
    [
        ((1, "0:lr", "m"), "0.1", r"\['m'\] is str '0.1': a hyperoptimizer's moment is a number"),
        ((1, "0:lr", "v"), None, r"\['v'\] is NoneType None: a hyperoptimizer's moment is a n"),
        ((1, "0:lr", "m"), True, r"\['m'\] is bool True: a hyperoptimizer's moment is a number"),
        ((1, "0:lr", "m"), math.nan, r"\['m'\] is float nan: a hyperoptimizer's moment is a n"),
        ((1, "0:lr", "v"), -1.0, r"\['v'\] is float -1.0, a negative mean of squared hyper"),
        ((1, "0:lr", "step"), -1, r"\['step'\] is int -1, not a whole number >= 0"),
        ((1, "0:lr", "step"), True, r"\['step'\] is bool True, not a whole number >= 0"),
        ((1, "0:lr", "step"), 2.0, r"\['step'\] is float 2.0, not a whole number >= 0"),
        ((2, "lr", "buf"), "x", r"\['lr'\]\['buf'\] is str 'x': a hyperoptimizer's moment is a"),
    ],
)
def test_a_hyperoptimizers_moment_that_is_not_one_a_run_records_is_refused_by_name(
    path: tuple[int, str, str], bad: Any, said: str
) -> None:
    """They loaded, and the next step failed inside ("can't multiply sequence by non-int",
    "math domain error", a division by zero), or went on with a bool as 1 or a NaN moment."""
    model, saved = _saved()
    k, slot, key = path
    assert key in saved["hyper_state"]["opt_state"][k][slot]  # (a moment the run keeps)
    saved["hyper_state"]["opt_state"][k][slot][key] = bad
    _refused(model, saved, rf"\['opt_state'\]\[{k}\].*{said}")


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"steps": "3"}, r"\['steps'\] is str '3', not a whole number >= 0"),
        ({"steps": -1}, r"\['steps'\] is int -1, not a whole number >= 0"),
        ({"opt_state": None}, r"\['opt_state'\] is NoneType None, not a list of one mapping per"),
        ({"opt_state": [{}, {}]}, r"\['opt_state'\] is list \[\{\}, \{\}\], not a list of one m"),
        ({"opt_state": [{}, {"0:lr": 1.0}, {}]}, r"\['opt_state'\]\[1\] is dict \{'0:lr': 1.0"),
    ],
)
def test_a_hyper_state_whose_step_count_or_moments_are_malformed_is_refused_by_name(
    change: dict[str, Any], said: str
) -> None:
    model, saved = _saved()
    saved["hyper_state"].update(change)
    fresh = stack(*LEVELS)(model.parameters())
    with pytest.raises(InputError, match=rf"hyper_state{said}.*nothing was loaded$"):
        fresh.load_state_dict(saved)
    assert fresh.hyper_state["steps"] == 0


def test_an_infinite_moment_loads_as_a_run_may_save_one() -> None:
    """``v`` overflows to inf once a hypergradient passes about 1.3e154; the run saves it so."""
    model, saved = _saved()
    saved["hyper_state"]["opt_state"][1]["0:lr"]["v"] = math.inf
    fresh = stack(*LEVELS)(model.parameters())
    fresh.load_state_dict(saved)
    assert fresh.hyper_state["opt_state"][1]["0:lr"]["v"] == math.inf


def test_a_hypergradient_that_overflows_in_log_coordinates_leaves_the_moments_as_they_were() -> (
    None
):
    """A huge hypergradient times a huge rate (the z-gradient in log coordinates) was stepped
    with as inf: the moments became inf, then NaN at the next sign change, the rate never moved
    again, and the optimizer's own state was then refused at load as NaN."""
    p = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
    levels = [HyperSGD(lr=1e10, lr_space="log"), HyperAdam(lr=1e-3), HyperSGD(lr=0.0)]
    opt = StackedOptimizer([p], levels)
    opt._update_hypers([{"0:lr": 1e-3}, {}, {}])  # one ordinary step first
    moments = copy.deepcopy(opt.hyper_state["opt_state"][1]["0:lr"])
    for g in (1e300, -1e300):  # g * 1e10 overflows
        opt._update_hypers([{"0:lr": g}, {}, {}])
    assert opt.hyper_state["opt_state"][1]["0:lr"] == moments
    again = StackedOptimizer([p], levels)
    again.load_state_dict(opt.state_dict())
    assert again.hyper_state["opt_state"] == opt.hyper_state["opt_state"]


@pytest.mark.parametrize(
    "top", [HyperAdam(betas=(np.float32(0.9), 0.999)), HyperSGD(momentum=np.float32(0.5))]
)
def test_a_state_whose_moments_are_numpy_numbers_loads_as_the_run_saved_it(top: Any) -> None:
    """A top level's setting given as a NumPy number (never learned, so kept so) makes its
    moments NumPy numbers: the run's own state was refused ("is float32 np.float32(-0.83): a
    hyperoptimizer's moment is a number, never NaN")."""
    model, x, y = _problem(torch.float64)
    opt = stack("sgd", top)(model.parameters())
    _run(model, opt, x, y, 3)
    saved = copy.deepcopy(opt.state_dict())
    moments = saved["hyper_state"]["opt_state"][1]["0:lr"]
    assert any(isinstance(v, np.floating) for v in moments.values())  # (as the run keeps them)
    fresh = stack("sgd", top)(model.parameters())
    fresh.load_state_dict(saved)
    assert fresh.hyper_state["opt_state"] == saved["hyper_state"]["opt_state"]


def _put(saved: dict[str, Any], path: tuple[Any, ...], bad: Any) -> None:
    """Set the entry at ``path`` of ``saved``'s hyper state to ``bad``."""
    entry = saved["hyper_state"]
    for key in path[:-1]:
        entry = entry[key]
    entry[path[-1]] = bad


@pytest.mark.parametrize(
    ("path", "bad", "said"),
    [
        (("values", 1, "lr"), "0.1", r"\['values'\]\[1\]\['lr'\] is str '0.1', not a finite num"),
        (("values", 1, "lr"), None, r"\['values'\]\[1\]\['lr'\] is NoneType None, not a finite"),
        (("values", 1, "lr"), math.nan, r"\['values'\]\[1\]\['lr'\] is float nan, not a finite "),
        (("values", 1, "lr"), True, r"\['values'\]\[1\]\['lr'\] is bool True, not a finite num"),
        (("values", 1, "lr"), -0.1, r"\['values'\]\[1\]\['lr'\] is float -0.1, not a finite nu"),
        (("values", 2, "momentum"), 1.0, r"\['values'\]\[2\]\['momentum'\] is float 1.0, not a"),
        (("values", 1), None, r"\['values'\]\[1\] is NoneType None, not a mapping \(level 1, ad"),
        (("values", 1), ["lr", "beta1", "beta2", "eps", "weight_decay"], r"\['values'\]\[1\] i"),
        (("values",), None, r"\['values'\] is NoneType None, not a list of one mapping per lev"),
        (("jac",), [{}], r"\['jac'\] is list \[\{\}\], not a list of one mapping per level \(3:"),
        (("jac",), None, r"\['jac'\] is NoneType None, not a list of one mapping per level"),
        (("jac", 1), "x", r"\['jac'\]\[1\] is str 'x', not a mapping \(level 1, adam\)"),
        (("jac", 1, "0:lr", "lr"), "x", r"\['jac'\]\[1\]\['0:lr'\]\['lr'\] is str 'x': a Jacobi"),
        (("jac", 1, "0:lr", "lr"), None, r"\['jac'\]\[1\]\['0:lr'\]\['lr'\] is NoneType N"),
        (("jac", 2, "lr"), None, r"\['jac'\]\[2\] has str 'lr' -> NoneType None: the Jacobians"),
        (("hypergrads",), None, r"\['hypergrads'\] is NoneType None, not a mapping of hyperpar"),
        (("hypergrads", "g0.lr"), "x", r"\['hypergrads'\]\['g0.lr'\] is str 'x': a hypergradie"),
    ],
)
def test_a_hyper_state_whose_values_jacobians_or_hypergradients_are_malformed_is_refused_by_name(
    path: tuple[Any, ...], bad: Any, said: str
) -> None:
    """They loaded, and the next step failed inside ("can't multiply sequence by non-int",
    "list index out of range", "'NoneType' object is not iterable" at the load itself), or
    went on with a NaN rate; a level's values were checked only for their names."""
    model, saved = _saved()
    _put(saved, path, bad)
    _refused(model, saved, said)


def test_a_non_finite_jacobian_or_hypergradient_loads_as_a_run_records_one() -> None:
    """Once ``v`` overflowed (a state that loads), β2's Jacobian is inf/inf, NaN; a NaN
    gradient gives a NaN hypergradient. The run saves both, and skips them at the next step."""
    model, x, y = _problem(torch.float64)
    opt = stack(*LEVELS)(model.parameters())
    _run(model, opt, x, y, 3)
    opt.hyper_state["opt_state"][1]["0:lr"]["v"] = math.inf
    _run(model, opt, x, y, 1)
    assert math.isnan(opt.hyper_state["jac"][1]["0:lr"]["beta2"])  # (as the run keeps it)
    saved = copy.deepcopy(opt.state_dict())
    saved["hyper_state"]["hypergrads"]["g0.lr"] = math.nan
    fresh = stack(*LEVELS)(model.parameters())
    fresh.load_state_dict(saved)
    assert math.isnan(fresh.hyper_state["jac"][1]["0:lr"]["beta2"])
    _run(model, fresh, x, y, 1)
    assert all(math.isfinite(v) for v in fresh.hyperparameters().values())


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (lambda values: values[:2], r"\['values'\] is list .*not a list of one mapping per level"),
        (lambda values: [*values, {}], r"\['values'\] is list .*not a list of one mapping per lev"),
        (
            lambda values: [values[0], {**values[1], "rho": 0.1}, values[2]],
            r"\['values'\]\[1\] names \['beta1', 'beta2', 'eps', 'lr', 'rho', 'weight_decay'\], "
            r"not the hyperparameters of level 1, adam: \['beta1', 'beta2', 'eps', 'lr', 'weig",
        ),
        (
            lambda values: [values[0], {"lr": 0.1}, values[2]],
            r"\['values'\]\[1\] names \['lr'\], not the hyperparameters of level 1, adam",
        ),
    ],
)
def test_values_of_another_length_or_names_in_a_state_saved_for_these_levels_are_named(
    change: Any, said: str
) -> None:
    """They were refused as "this state is of another stack (levels L); this optimizer's
    levels are L", the same levels twice: the state's own record of its levels matched."""
    model, saved = _saved()
    saved["hyper_state"]["values"] = change(saved["hyper_state"]["values"])
    _refused(model, saved, said)


def _refused(model: torch.nn.Module, saved: dict[str, Any], said: str) -> None:
    """A fresh stack refuses ``saved`` with a message on its hyper state matching ``said``,
    and is left as it was."""
    fresh = stack(*LEVELS)(model.parameters())
    before = copy.deepcopy(fresh.state_dict())
    where = r"^StackedOptimizer\.load_state_dict: the state's hyper_state"
    with pytest.raises(InputError, match=rf"{where}{said}.*nothing was loaded$"):
        fresh.load_state_dict(saved)
    assert fresh.state_dict() == before and fresh.history == []
