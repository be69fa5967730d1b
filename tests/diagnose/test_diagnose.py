from __future__ import annotations

import json
import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from hyperlab.diagnose import FINDINGS, KNOBS, Diagnosis, diagnose
from hyperlab.diagnose.features import FEATURE_NAMES, features
from hyperlab.diagnose.inputs import check_curves
from hyperlab.errors import InputError, InputTypeError

# -- synthetic curves with one clear problem each ----------------------------------------


def good_fit(n: int = 40) -> dict[str, list[float]]:
    t = np.arange(n) / n * 40
    tr = 2.0 * np.exp(-t / 5) + 0.05
    va = 2.0 * np.exp(-t / 5) + 0.12
    return {"train_loss": tr.tolist(), "val_loss": va.tolist()}


def overfitting(n: int = 40) -> dict[str, list[float]]:
    t = np.arange(n) / n * 40
    tr = 2.0 * np.exp(-t / 5) + 0.05 * np.exp(-t / 15)
    va = 2.0 * np.exp(-t / 5) + 0.1 + 0.004 * np.maximum(t - 12, 0) ** 1.3
    return {"train_loss": tr.tolist(), "val_loss": va.tolist()}


def underfitting(n: int = 40) -> dict[str, list[float]]:
    t = np.arange(n) / n * 40
    tr = 0.6 + 0.5 * np.exp(-t / 3)
    va = 0.63 + 0.5 * np.exp(-t / 3)
    return {
        "train_loss": tr.tolist(),
        "val_loss": va.tolist(),
        "train_metric": (0.7 - 0.3 * np.exp(-t / 3)).tolist(),
        "val_metric": (0.68 - 0.3 * np.exp(-t / 3)).tolist(),
    }


def lr_too_high(n: int = 40) -> dict[str, list[float]]:
    t = np.arange(n)
    rng = np.random.default_rng(0)
    tr = 1.0 + 0.02 * t + 0.4 * np.abs(rng.standard_normal(n))
    va = 1.1 + 0.03 * t + 0.4 * np.abs(rng.standard_normal(n))
    return {"train_loss": tr.tolist(), "val_loss": va.tolist()}


def diverged(n: int = 10) -> dict[str, list[float]]:
    tr = [2.3, 5.0, 40.0, 1e6] + [float("nan")] * (n - 4)
    va = [2.2, 6.0, 80.0, float("inf")] + [float("nan")] * (n - 4)
    return {"train_loss": tr, "val_loss": va}


def lr_too_low(n: int = 40) -> dict[str, list[float]]:
    t = np.arange(n) / n * 40
    tr = 2.3 - 0.012 * t
    va = 2.32 - 0.011 * t
    return {"train_loss": tr.tolist(), "val_loss": va.tolist()}


def not_converged(n: int = 6) -> dict[str, list[float]]:
    t = np.arange(n) / n * 6
    tr = 2.0 * np.exp(-t / 2) + 0.02
    va = 2.0 * np.exp(-t / 2) + 0.06
    return {"train_loss": tr.tolist(), "val_loss": va.tolist()}


def plateau(n: int = 40) -> dict[str, list[float]]:
    t = np.arange(n) / n * 40
    tr = 2.2 + 0.1 * np.exp(-t) + 0.001 * np.cos(t)
    va = 2.21 + 0.1 * np.exp(-t) + 0.001 * np.sin(t)
    return {"train_loss": tr.tolist(), "val_loss": va.tolist()}


def noisy_validation(n: int = 40) -> dict[str, list[float]]:
    t = np.arange(n) / n * 40
    rng = np.random.default_rng(1)
    tr = 2.0 * np.exp(-t / 5) + 0.05
    va = (2.0 * np.exp(-t / 5) + 0.12) * np.exp(0.4 * rng.standard_normal(n))
    return {"train_loss": tr.tolist(), "val_loss": va.tolist()}


CASES = {
    "good-fit": good_fit,
    "overfitting": overfitting,
    "underfitting": underfitting,
    "lr-too-high": lr_too_high,
    "lr-too-low": lr_too_low,
    "not-converged": not_converged,
    "plateau": plateau,
    "noisy-validation": noisy_validation,
}


# -- tests ------------------------------------------------------------------------------


@pytest.mark.parametrize("use_model", [False, True])
@pytest.mark.parametrize("name", sorted(CASES))
def test_clear_case_is_found_with_high_confidence(name: str, use_model: bool) -> None:
    d = diagnose(CASES[name](), use_model=use_model)
    assert d.primary.name == name, d.summary()
    if name == "good-fit" and use_model:
        # "good" is the absence of problems: the classifier, trained on real (noisy, early-
        # stopped) runs, is less sure of a noise-free synthetic curve, but no problem may be
        # reported beside it
        assert d.primary.confidence >= 0.5 and len(d.findings) == 1, d.summary()
    else:
        assert d.primary.confidence >= 0.7, d.summary()
    assert any(ch.isdigit() for ch in d.primary.evidence)


@pytest.mark.parametrize("use_model", [False, True])
def test_clean_good_fit_is_not_over_or_underfitting(use_model: bool) -> None:
    d = diagnose(good_fit(), use_model=use_model)
    names = {f.name for f in d.findings}
    assert "overfitting" not in names and "underfitting" not in names
    assert all(a.direction == "keep" for a in d.advice)


def test_overfitting_reports_onset_and_advice() -> None:
    d = diagnose(overfitting())
    f = d.finding("overfitting")
    assert f is not None and f.onset_epoch is not None
    assert 12 <= f.onset_epoch <= 25
    assert "epoch" in f.evidence and "%" in f.evidence
    assert d.advice_for("weight_decay").direction == "up"  # type: ignore[union-attr]
    assert d.advice_for("epochs").direction == "down"  # type: ignore[union-attr]
    assert d.advice_for("lr").direction == "keep"  # type: ignore[union-attr]


@pytest.mark.parametrize("name", sorted(CASES))
def test_scale_invariance(name: str) -> None:
    # with metric curves the loss's level is read (val_loss_excess): scale-free without them
    given = CASES[name]()
    curves = {k: given[k] for k in ("train_loss", "val_loss")}
    scaled = {k: [10.0 * x for x in c] for k, c in curves.items()}
    a, b = diagnose(curves), diagnose(scaled)
    assert [f.name for f in a.findings] == [f.name for f in b.findings]
    assert [f.confidence for f in a.findings] == pytest.approx([f.confidence for f in b.findings])
    if "val_metric" in given:
        f1 = features(check_curves(given))
        f2 = features(check_curves({**given, **scaled}))
        rest = [k for k in FEATURE_NAMES if k != "val_loss_excess"]
        assert [f1[k] for k in rest] == pytest.approx([f2[k] for k in rest])
        assert f2["val_loss_excess"] == pytest.approx(f1["val_loss_excess"] + math.log(10.0))


def test_features_are_scale_free_on_random_curves() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        n = int(rng.integers(3, 60))
        curves = {
            "train_loss": np.exp(rng.standard_normal(n).cumsum() * 0.1),
            "val_loss": np.exp(rng.standard_normal(n).cumsum() * 0.1),
        }
        f1 = features(check_curves(curves))
        f2 = features(check_curves({k: v * 37.0 for k, v in curves.items()}))
        assert [f1[k] for k in FEATURE_NAMES] == pytest.approx([f2[k] for k in FEATURE_NAMES])


def test_length_three() -> None:
    d = diagnose({"train_loss": [2.0, 1.0, 0.6], "val_loss": [2.1, 1.2, 0.8]})
    assert d.n_epochs == 3
    assert d.primary.name in FINDINGS
    assert 0.0 <= d.primary.confidence <= 1.0
    with pytest.warns(UserWarning, match="did not change"):
        flat = diagnose({"train_loss": [1.0, 1.0, 1.0], "val_loss": [1.0, 1.0, 1.0]})
    assert flat.primary.name in FINDINGS


@pytest.mark.parametrize("name", ["good-fit", "overfitting", "lr-too-low", "underfitting"])
def test_length_1000_same_finding_as_short(name: str) -> None:
    long = diagnose(CASES[name](1000))
    assert long.n_epochs == 1000
    assert long.primary.name == name, long.summary()


def test_nan_and_inf_mean_lr_too_high() -> None:
    d = diagnose(diverged())
    assert d.primary.name == "lr-too-high"
    assert d.primary.confidence >= 0.9
    assert "epoch 4" in d.primary.evidence
    lr = d.advice_for("lr")
    assert lr is not None and lr.direction == "down" and lr.factor < 0.5
    # divergence after a good start, and NaN from the first epoch on
    good = good_fit()
    good["train_loss"][30] = math.inf
    assert diagnose(good).primary.name == "lr-too-high"
    nan = {"train_loss": [math.nan] * 5, "val_loss": [math.nan] * 5}
    assert diagnose(nan).primary.name == "lr-too-high"
    # a run stopped at the first NaN may be shorter than 3 epochs
    short = diagnose({"train_loss": [2.3, math.nan], "val_loss": [2.2, math.inf]})
    assert short.primary.name == "lr-too-high" and "epoch 2" in short.primary.evidence


@pytest.mark.parametrize(
    ("curves", "match"),
    [
        ({"train_loss": [None] * 6, "val_loss": [None] * 6}, r"'train_loss' holds no value"),
        ({"train_loss": [1.0, 0.8, 0.7, 0.6], "val_loss": [None] * 4}, r"'val_loss' holds no"),
        (
            {"train_loss": [1.0, 0.8, 0.7, 0.6], "val_loss": [math.nan] * 4},
            r"val_loss is NaN at every epoch while train_loss is finite at all 4: val_loss was "
            "never computed",
        ),
        (
            {"train_loss": [math.nan] * 4, "val_loss": [1.0, 0.8, 0.7, 0.6]},
            r"train_loss is NaN at every epoch while val_loss is finite",
        ),
    ],
)
def test_a_loss_never_measured_is_refused_not_read_as_divergence(curves: dict, match: str) -> None:
    """Such curves read as 'diverged at epoch 1: lr down x0.1' (98%) though nothing diverged."""
    with pytest.raises(InputError, match=match):
        diagnose(curves)


def test_one_epoch_whose_validation_loss_is_nan_is_a_divergence() -> None:
    """Weights that blow up at the last steps of the first epoch leave its train loss finite
    and its validation loss NaN, and a NaN check stops the run there: one epoch cannot tell
    that from a loss never computed, and was refused as one."""
    curves = {"train_loss": [2.3], "val_loss": [math.nan]}
    assert diagnose(curves).primary.name == "lr-too-high"


def test_a_metric_outside_the_unit_interval_is_refused_but_features_read_it() -> None:
    # diagnose reads metrics as fractions; the features of one that moves by 2.5 between epochs
    # (called directly) are still finite
    curves = {
        "train_loss": [2.0, 1.2, 0.9, 0.7],
        "val_loss": [2.1, 1.3, 1.0, 0.8],
        "train_metric": [0.3, 0.5, 0.3, 0.5],
        "val_metric": [0.3, 0.5, 3.0, 0.5],
    }
    with pytest.raises(InputError, match=r"val_metric is 3 at epoch 3, outside \[0, 1\]"):
        diagnose(curves)
    arrays = {k: np.asarray(v, dtype=float) for k, v in curves.items()}
    assert math.isfinite(features(arrays)["val_loss_excess"])


def test_an_accuracy_in_percent_is_refused_with_the_fix() -> None:
    curves = {**good_fit(), "val_metric": [50.0 + e for e in range(40)]}
    with pytest.raises(
        InputError, match=r"val_metric is 50 at epoch 1.*divide a percentage by 100"
    ):
        diagnose(curves)
    assert diagnose({**good_fit(), "val_metric": [0.5 + e / 100 for e in range(40)]}).findings


def test_a_metric_below_0_is_refused_without_the_percentage_hint() -> None:
    """A regression's R² (-0.017 after its first epoch) was refused with "divide a percentage
    by 100", a fix that does not apply to a value below 0."""
    r2 = [-0.017 + 0.9 * (1 - math.exp(-e / 5)) for e in range(40)]
    with pytest.raises(InputError, match=r"train_metric is -0\.017 at epoch 1.*an R²") as info:
        diagnose({**good_fit(), "train_metric": r2, "val_metric": [0.5] * 40})
    assert "percentage" not in str(info.value)
    assert "leave it out" in str(info.value)


def test_a_lone_metric_is_left_out_with_a_warning_that_names_the_other() -> None:
    """The metric features compare the two metrics: a val_metric alone (as a CSV with an
    accuracy column and the losses holds) was left out of the diagnosis without a word."""
    losses = overfitting()
    accuracy = [0.6 + 0.3 * min(e, 10) / 10 - 0.004 * max(0, e - 10) for e in range(40)]
    with pytest.warns(UserWarning, match="val_metric is read only beside train_metric"):
        lone = diagnose({**losses, "val_metric": accuracy})
    assert lone.to_dict() == diagnose(losses).to_dict()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        both = diagnose({**losses, "val_metric": accuracy, "train_metric": [0.99] * 40})
    assert both.features["has_metric"] == 1.0


MIXUP = r"both losses rise steadily within \[0, 1\], as accuracies do"


def test_accuracies_logged_as_losses_are_warned_of() -> None:
    """The example underfitting run's accuracies under the loss names (a val_acc logged as
    val_loss) were diagnosed without a word: "underfitting 90%: train loss settled at 175% of
    its first value", "lr-too-high 60%"."""
    run = underfitting()
    as_losses = {"train_loss": run["train_metric"], "val_loss": run["val_metric"]}
    with pytest.warns(UserWarning, match=r"train_loss 0\.4 -> 0\.7 and val_loss .*" + MIXUP):
        diagnose(as_losses)
    t = np.arange(30)
    rising = {  # an accuracy from near 0 toward 1, as a 10-class run's is
        "train_loss": (0.97 - 0.87 * np.exp(-t / 4)).tolist(),
        "val_loss": (0.93 - 0.83 * np.exp(-t / 4)).tolist(),
    }
    with pytest.warns(UserWarning, match=MIXUP):
        diagnose(rising)


@pytest.mark.parametrize("name", sorted(CASES))
def test_no_example_run_is_read_as_accuracies(name: str) -> None:
    """None of the example runs' losses warns, overfitting's included (a validation loss that
    rises while the train loss falls); nor does an accuracy under the validation loss alone,
    which reads as overfitting and cannot be told from it."""
    curves = CASES[name]()
    runs = [curves]
    if "val_metric" in curves:
        runs.append({**curves, "val_loss": curves["val_metric"]})
    runs.append({**overfitting(), "val_loss": [0.1 + 0.02 * e for e in range(40)]})
    for run in runs:
        assert not _warned(run, "as accuracies do"), name


def _warned(run: dict[str, Any], text: str) -> bool:
    """Whether diagnosing ``run`` warns with a message that holds ``text``."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        diagnose(run)
    return any(text in str(w.message) for w in seen)


ERRORS = r"both metrics fall steadily within \[0, 1\] while the losses fall, as errors do"


def test_errors_given_as_metrics_are_warned_of() -> None:
    """A regression MLP's RMSE (standardized targets) given as its metrics was read as an
    accuracy without a word: a healthy run's falling error read as "lr-too-high 71%: the
    network blew up and did not recover"."""
    t = np.arange(28)
    mse = {"train_loss": 0.03 + 0.7 * np.exp(-t / 4), "val_loss": 0.06 + 0.5 * np.exp(-t / 4)}
    rmse = {f"{k[:-5]}_metric": np.sqrt(v).tolist() for k, v in mse.items()}
    with pytest.warns(UserWarning, match=r"train_metric 0\.85 -> 0\.18 and val_metric .*" + ERRORS):
        diagnose({**{k: v.tolist() for k, v in mse.items()}, **rmse})
    run = underfitting()  # its error rates, one minus its accuracies
    errors = {k: [1.0 - x for x in run[k]] for k in ("train_metric", "val_metric")}
    with pytest.warns(UserWarning, match=ERRORS):
        diagnose({**run, **errors})


@pytest.mark.parametrize("name", sorted(CASES))
def test_no_example_run_is_read_as_errors(name: str) -> None:
    """None of the example runs' metrics warns, nor an accuracy that falls steadily while its
    losses rise (weights pulled back to their start by heavy weight decay)."""
    t = np.arange(30)
    pulled = {
        "train_loss": (2.0 - 0.8 * np.exp(-t / 5)).tolist(),
        "val_loss": (2.05 - 0.8 * np.exp(-t / 5)).tolist(),
        "train_metric": (0.2 + 0.7 * np.exp(-t / 5)).tolist(),
        "val_metric": (0.18 + 0.7 * np.exp(-t / 5)).tolist(),
    }
    for run in (CASES[name](), pulled):
        assert not _warned(run, "as errors do"), name


UNCHANGED = r"did not change from epoch 1 to 20 .*check that it trains"


def test_losses_that_never_change_are_warned_of() -> None:
    """A regression MLP trained at a learning rate of 0 (its mean train loss moved by 1e-8,
    summation order alone) was read as "underfitting 85%" with width x2 and n_layers x1.5,
    without a word that nothing had trained."""
    rng = np.random.default_rng(0)
    frozen = {
        "train_loss": (1.0175168 + 1e-8 * rng.standard_normal(20)).tolist(),
        "val_loss": [1.0418214] * 20,
    }
    with pytest.warns(UserWarning, match=r"train_loss at 1\.01752 and val_loss .*" + UNCHANGED):
        diagnose(frozen)
    at = np.arange(1, 21) * 0.5  # (a log twice an epoch names its own epochs)
    with pytest.warns(UserWarning, match=r"from epoch 0\.5 to 10 "):
        diagnose({**frozen, "at_epoch": at.tolist()})


@pytest.mark.parametrize("name", sorted(CASES))
def test_no_example_run_is_read_as_unchanged(name: str) -> None:
    """None of the example runs warns, nor a run held at its start by heavy weight decay
    (losses that move by 4e-4 of their value, the least of the labelled runs), nor losses at
    0 throughout (a perfect fit)."""
    t = np.arange(20)
    held = {"train_loss": (0.69 + 3e-4 * np.exp(-t / 3)).tolist(), "val_loss": [0.7] * 20}
    for run in (CASES[name](), held, {"train_loss": [0.0] * 5, "val_loss": [0.0] * 5}):
        assert not _warned(run, "did not change"), name


def test_dataframe_input_and_metrics() -> None:
    curves = CASES["underfitting"]()
    df = pd.DataFrame(curves)
    a, b = diagnose(df), diagnose(curves)
    assert a.primary.name == b.primary.name == "underfitting"
    assert a.features["has_metric"] == 1.0


def test_a_dataframe_of_nullable_columns_reads_pd_na_as_a_missing_point() -> None:
    """``df.convert_dtypes()`` (or ``read_csv(dtype_backend=...)``) holds ``pd.NA`` where a
    loss was not measured; it was refused as 'expected a number, got <NA>'."""
    curves = good_fit()
    curves["val_loss"][17] = math.nan
    nullable = pd.DataFrame(curves).convert_dtypes()
    assert nullable["val_loss"].isna().sum() == 1
    d = diagnose(nullable)
    assert d.to_dict()["findings"] == diagnose(curves).to_dict()["findings"]
    with pytest.raises(InputError, match="'val_loss' holds no value"):
        diagnose(pd.DataFrame({"train_loss": [1.0, 0.8, 0.7], "val_loss": [pd.NA] * 3}))


def test_advice_restricted_to_exposed_knobs() -> None:
    d = diagnose(overfitting(), config={"lr": 0.01, "weight_decay": 1e-4, "optimizer": "adam"})
    assert [a.knob for a in d.advice] == ["lr", "weight_decay", "epochs"]  # every run has a length
    full = diagnose(overfitting())
    assert [a.knob for a in full.advice] == list(KNOBS)
    aliased = diagnose(CASES["lr-too-low"](), config={"learning_rate": 1e-5})
    assert aliased.advice[0].knob == "lr" and aliased.advice[0].direction == "up"


def test_to_dict_and_summary() -> None:
    d = diagnose(overfitting())
    assert isinstance(d, Diagnosis)
    data = json.loads(json.dumps(d.to_dict()))
    assert data["primary"] == "overfitting"
    assert data["findings"][0]["onset_epoch"] == d.primary.onset_epoch
    assert {a["knob"] for a in data["advice"]} == set(KNOBS)
    text = d.summary()
    assert "overfitting" in text and "weight_decay" in text


@pytest.mark.parametrize(
    ("curves", "match"),
    [
        ({"train_loss": [1.0, 0.5], "val_loss": [1.0, 0.6]}, r"at least 3 epochs.*got 2"),
        ({"train_loss": [1.0, 0.5, 0.4]}, "val_loss"),
        ({"train_loss": [1.0, "x", 0.4], "val_loss": [1, 1, 1]}, "'x'"),
        (  # truth values and complex numbers passed float(): ones, or a dropped imaginary part
            {"train_loss": np.array([1.0, 0.5, 0.4]) > 0.45, "val_loss": [1.0, 0.6, 0.5]},
            r"curve 'train_loss' epoch 1: expected a number, got np.True_",
        ),
        (
            {"train_loss": [1.0, 0.5, 0.4], "val_loss": np.array([1.0, 0.6, 0.5 + 1j])},
            r"curve 'val_loss' epoch 1: expected a number, got np.complex128\(1\+0j\)",
        ),
        (
            {"train_loss": [1.0, 0.5, 0.4], "val_loss": [1.0, 0.5]},
            r"differ in length.*None \(or NaN\) at an epoch where it was not measured",
        ),
        (  # a Lightning metrics.csv read with pandas: train and validation rows apart
            {
                "train_loss": [1.0, None, 0.5, None, 0.4, None],
                "val_loss": [None, 1.1, None, 0.9, None, 0.8],
            },
            r"got 0 with both.*on different rows.*df.groupby\('epoch'\).mean\(\)",
        ),
        ({"loss": [1.0, 0.5, 0.4], "val_loss": [1.0, 0.5, 0.4]}, "rename 'loss' to 'train_loss'"),
        ({"train_loss": "1,2,3", "val_loss": [1.0, 0.5, 0.4]}, "list of numbers"),
        (
            {"train_loss": np.ones((2, 3)), "val_loss": np.ones((2, 3))},
            r"'train_loss' must be one value per epoch \(1-D\).*\(2, 3\)",
        ),
    ],
)
def test_bad_input_raises_input_error(curves: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        diagnose(curves)


def test_wrong_types() -> None:
    with pytest.raises(InputTypeError, match="list"):
        diagnose([1.0, 2.0, 3.0])
    with pytest.raises(InputTypeError, match="config"):
        diagnose(good_fit(), config=[("lr", 1)])  # type: ignore[arg-type]
    with pytest.raises(InputTypeError, match="use_model must be True or False, got 'no'"):
        diagnose(good_fit(), use_model="no")  # type: ignore[arg-type]


def test_a_wrong_setting_is_refused_before_the_curves_are_warned_of() -> None:
    """Curves that warn (losses that never changed) with a config of the wrong type warned
    first and then refused the config: under ``-W error`` the refusal never came."""
    flat = {"train_loss": [1.0] * 5, "val_loss": [1.1] * 5}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InputTypeError, match="config must be a dict"):
            diagnose(flat, config=[("lr", 1)])  # type: ignore[arg-type]
        with pytest.raises(InputTypeError, match="use_model must be True or False"):
            diagnose(flat, use_model="no")  # type: ignore[arg-type]


def test_diagnose_import_does_not_load_torch() -> None:
    import subprocess
    import sys

    code = "import sys, hyperlab.diagnose; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_hyperlab_diagnose_is_one_object_that_shows_the_functions_signature() -> None:
    import subprocess
    import sys

    code = (
        "import inspect, hyperlab\n"
        "first = hyperlab.diagnose\n"
        "import hyperlab.diagnose as later\n"
        "print(first is hyperlab.diagnose is later)\n"
        "print(inspect.signature(first))\n"
        "print(inspect.getdoc(first))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    same, signature, doc = out.stdout.split("\n", 2)
    assert same == "True"
    assert signature.startswith("(curves") and "use_model" in signature
    assert "Diagnose one training run from its learning curves." in doc


def test_blend_is_the_last_step_of_diagnose() -> None:
    from hyperlab.diagnose import blend, check_curves, diagnose, features, rule_scores, view

    raw = {
        "train_loss": [1.0 / (1 + e) for e in range(30)],
        "val_loss": [1.0 / (1 + e) + 0.01 * max(0, e - 15) for e in range(30)],
    }
    curves = check_curves(raw)
    v = view(curves)
    feats = features(curves, v)
    by_rules = blend(v, feats, rule_scores(feats, v), None, 0.0, None)
    assert by_rules.findings == diagnose(raw, use_model=False).findings
