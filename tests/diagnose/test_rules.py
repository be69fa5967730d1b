"""The rules on curve shapes that the learned classifier cannot be trusted to know by itself."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from hyperlab.diagnose import diagnose
from hyperlab.diagnose.features import features, view
from hyperlab.diagnose.inputs import check_curves
from hyperlab.diagnose.rules import rule_scores
from hyperlab.errors import InputError
from tests.diagnose.evidence import evidence


def _scores(curves: dict[str, list[float]]) -> dict[str, float]:
    c = check_curves(curves)
    v = view(c)
    return {name: s for name, (s, _) in rule_scores(features(c, v), v).items()}


def _fit_then_rise(n_fall: int, n_rise: int) -> dict[str, list[float]]:
    """Validation loss falls for ``n_fall`` epochs, then rises 8% per epoch; train keeps falling."""
    t = np.arange(n_fall + n_rise)
    tr = 2.0 * np.exp(-t / 3) + 0.02
    va = 2.0 * np.exp(-np.minimum(t, n_fall - 1) / 3) + 0.15
    va = va * np.exp(0.08 * np.maximum(t - (n_fall - 1), 0))
    return {"train_loss": tr.tolist(), "val_loss": va.tolist()}


def test_a_run_stopped_a_few_epochs_after_its_best_is_a_good_fit() -> None:
    # early stopping with a patience of 3 leaves three rising epochs at the end
    stopped = _scores(_fit_then_rise(12, 3))
    assert stopped["overfitting"] == 0.0
    assert stopped["good-fit"] > 0.7
    assert diagnose(_fit_then_rise(12, 3), use_model=False).primary.name == "good-fit"
    # it says how far above its best the run ends (it read "ends within 27% of its best")
    text = evidence(_fit_then_rise(12, 3))["good-fit"]
    assert "and ends 27% above its best (epoch 12 of 15)" in text, text
    assert "if nothing stopped it early, it overfits from epoch 12 on" in text
    assert "ends at its best" in evidence(_fit_then_rise(15, 0))["good-fit"]
    # the same curve left to rise for 12 epochs is overfitting
    left_on = _scores(_fit_then_rise(12, 12))
    assert left_on["overfitting"] > 0.9
    assert diagnose(_fit_then_rise(12, 12), use_model=False).primary.name == "overfitting"


def test_validation_stalled_while_train_loss_keeps_falling_is_overfitting() -> None:
    t = np.arange(60)
    tr = 2.0 * np.exp(-t / 6) + 0.001
    va = 2.0 * np.exp(-np.minimum(t, 30) / 6) + 0.2  # flat from epoch 31 on, no rise
    curves = {"train_loss": tr.tolist(), "val_loss": va.tolist()}
    assert _scores(curves)["overfitting"] > 0.9
    assert diagnose(curves, use_model=False).primary.name == "overfitting"
    # stalled for only the last 3 epochs: stopped in time
    short = {k: v[:34] for k, v in curves.items()}
    assert _scores(short)["overfitting"] == 0.0


def test_a_loss_that_never_leaves_its_start_is_underfitting_not_plateau() -> None:
    # strong weight decay: both losses sit at the first value, smooth, the train loss creeping
    # up a little (a model held at its start)
    t = np.arange(20)
    tr = 2.302 + 0.01 * (1 - np.exp(-t / 4))
    va = 2.303 + 0.01 * (1 - np.exp(-t / 4))
    held = {"train_loss": tr.tolist(), "val_loss": va.tolist()}
    s = _scores(held)
    assert s["underfitting"] > 0.9
    assert s["plateau"] == 0.0
    assert diagnose(held, use_model=False).primary.name == "underfitting"
    # a slow learner whose validation loss falls every epoch is not held at its start
    slow = {"train_loss": (2.302 - 0.0005 * t).tolist(), "val_loss": (2.303 - 0.0006 * t).tolist()}
    assert _scores(slow)["underfitting"] < 0.1


def test_a_network_that_blew_up_and_never_recovered_has_lr_too_high() -> None:
    rng = np.random.default_rng(0)
    n = 15
    tr = np.r_[45.0, 2.3 * np.exp(0.03 * rng.standard_normal(n - 1))]
    va = 2.3 * np.exp(0.02 * rng.standard_normal(n))
    acc = 0.1 + 0.01 * rng.standard_normal(n)  # chance level for 10 classes, all along
    curves = {
        "train_loss": tr.tolist(),
        "val_loss": va.tolist(),
        "train_metric": acc.tolist(),
        "val_metric": acc.tolist(),
    }
    d = diagnose(curves, use_model=False)
    assert d.primary.name == "lr-too-high", d.summary()
    assert "did not recover" in d.primary.evidence
    # a metric that rose (it learned) is no such blow-up
    learned = dict(curves, train_metric=np.linspace(0.3, 0.95, n).tolist())
    learned["val_metric"] = np.linspace(0.3, 0.93, n).tolist()
    assert "did not recover" not in evidence(learned)["lr-too-high"]
    # without metric curves the loss alone cannot tell a blow-up from fast learning
    losses = {k: curves[k] for k in ("train_loss", "val_loss")}
    assert "did not recover" not in evidence(losses)["lr-too-high"]


def test_a_loss_of_exactly_zero_keeps_the_run_on_the_log_axis() -> None:
    # a net that fits its small train set perfectly: train loss underflows to 0 at one epoch
    t = np.arange(40)
    tr = 2.0 * np.exp(-t / 2.5) + 1e-9
    va = 2.0 * np.exp(-np.minimum(t, 20) / 3) + 0.3
    zero = tr.copy()
    zero[30] = 0.0
    floored = tr.copy()
    floored[30] = min(tr[tr > 0].min(), va.min())
    c0 = check_curves({"train_loss": zero.tolist(), "val_loss": va.tolist()})
    c1 = check_curves({"train_loss": floored.tolist(), "val_loss": va.tolist()})
    v0, v1 = view(c0), view(c1)
    assert v0.log_scale and v1.log_scale
    np.testing.assert_allclose(v0.train, v1.train)
    f0, f1 = features(c0, v0), features(c1, v1)
    for name in f0:
        if not name.startswith("lin_"):  # the linear-axis features see the raw 0
            assert f0[name] == f1[name], name
    assert diagnose({"train_loss": zero.tolist(), "val_loss": va.tolist()}).primary.name == (
        diagnose({"train_loss": floored.tolist(), "val_loss": va.tolist()}).primary.name
    )
    # every loss 0 is read on its own linear axis (a negative one is refused)
    assert not view(check_curves({"train_loss": [0.0] * 3, "val_loss": [0.0] * 3})).log_scale


@pytest.mark.parametrize(
    "curve", [[-1.2, -1.5, -1.7, -1.9], [1.3, 0.7, 0.2, -0.2]], ids=["nll", "crossing-0"]
)
def test_a_negative_loss_is_refused_by_value_not_misread(curve: list[float]) -> None:
    """A healthy falling negative log-likelihood read as "underfitting 100%" before."""
    curves = {"train_loss": curve, "val_loss": [c + 0.1 for c in curve]}
    with pytest.raises(InputError, match=r"train_loss is negative \(-[\d.]+ at epoch \d\).*floor"):
        diagnose(curves)


def test_a_negative_likelihood_is_told_it_has_no_floor_to_shift_by() -> None:
    """The refusal of a Gaussian negative log-likelihood told the user to shift the loss by
    its "known floor", which a density's likelihood does not have: it says so, and what to
    give instead."""
    curve = [0.19, -0.18, -0.35, -0.56, -0.8]
    with pytest.raises(InputError) as caught:
        diagnose({"train_loss": curve, "val_loss": [c + 0.1 for c in curve]})
    message = str(caught.value)
    assert "negative log-likelihood with a learned variance (a Gaussian NLL) has no such floor" in (
        message
    )
    assert "its lowest logged value makes one up" in message
    assert "mean squared error" in message and "known floor" not in message


@pytest.mark.parametrize("reached", [1, 5])
def test_losses_at_zero_to_the_end_read_as_a_perfect_fit(reached: int) -> None:
    """Both losses at 0, the best they can be, read as underfitting 99% before."""
    falling = [0.8, 0.6, 0.4, 0.2][: reached - 1]
    curve = falling + [0.0] * (30 - len(falling))
    d = diagnose({"train_loss": curve, "val_loss": curve, "val_metric": [1.0] * 30})
    assert d.primary.name == "good-fit" and d.primary.confidence == 1.0
    assert f"0 from epoch {reached} on" in d.primary.evidence
    assert [f.name for f in d.findings] == ["good-fit"]
    assert all(a.direction == "keep" for a in d.advice)
    almost = diagnose({"train_loss": [*curve[:-1], 0.1], "val_loss": curve})  # not 0 at the end
    assert "perfect fit" not in almost.primary.evidence


def test_a_validation_metric_in_steps_of_one_sixth_is_a_noisy_measurement() -> None:
    # a smooth, healthy run whose validation accuracy is measured on 6 samples
    t = np.arange(20)
    tr = (1.5 * np.exp(-t / 4) + 0.1).tolist()
    va = (1.5 * np.exp(-t / 4) + 0.15).tolist()
    tm = (1 - 0.5 * np.exp(-t / 4)).tolist()
    coarse = [round(6 * x) / 6 for x in (1 - 0.5 * np.exp(-t / 4))]
    curves = {"train_loss": tr, "val_loss": va, "train_metric": tm, "val_metric": coarse}
    scores, text = _scores(curves), evidence(curves)
    assert scores["noisy-validation"] == 0.9
    assert "multiples of 1/6" in text["noisy-validation"]
    # the same run measured on 200 samples: no such evidence
    fine = [round(200 * x) / 200 for x in (1 - 0.5 * np.exp(-t / 4))]
    assert _scores({**curves, "val_metric": fine})["noisy-validation"] < 0.1
    # a constant metric fits every step size: no evidence either
    assert _scores({**curves, "val_metric": [1.0] * 20})["noisy-validation"] < 0.1


def test_a_good_metric_with_a_huge_loss_is_lr_too_highevidence() -> None:
    # five epochs with a fine accuracy: a loss near a calibrated classifier's log-loss vs the
    # same shape 200x higher (confident wrong predictions after too-large steps)
    t = np.arange(5)
    metric = (0.9 + 0.01 * t).tolist()
    normal = {
        "train_loss": (0.3 * np.exp(-t / 3)).tolist(),
        "val_loss": (0.35 * np.exp(-t / 3) + 0.05).tolist(),
        "train_metric": metric,
        "val_metric": metric,
    }
    huge = dict(normal, val_loss=[200.0 * x for x in normal["val_loss"]])
    huge["train_loss"] = [200.0 * x for x in normal["train_loss"]]
    c = check_curves(huge)
    assert features(c, view(c))["val_loss_excess"] > 4.5
    assert _scores(huge)["lr-too-high"] > 0.9
    assert _scores(normal)["lr-too-high"] < 0.2
    assert "calibrated classifier" in evidence(huge)["lr-too-high"]


def test_a_perfect_score_on_few_samples_is_not_overconfidence_and_a_redrawn_gap_zigzags() -> None:
    # heavy regularization: every one of 36 validation samples right, at low confidence (loss 0.35)
    t = np.arange(14)
    tr = (0.6 * np.exp(-t / 3) + 0.4).tolist()
    va = (0.5 * np.exp(-t / 3) + 0.35).tolist()
    vm = [min(36, 28 + k) / 36 for k in range(14)]
    tm = (0.95 - 0.3 * np.exp(-t / 3)).tolist()
    curves = {"train_loss": tr, "val_loss": va, "train_metric": tm, "val_metric": vm}
    c = check_curves(curves)
    f = features(c, view(c))
    # read as an error rate of half a sample (1/72), not 0.001: the loss is not 40x too high
    assert f["val_loss_excess"] < 2.5
    assert _scores(curves)["lr-too-high"] < 0.2
    # the validation-minus-train gap of a steady split moves smoothly; one redrawn each epoch zigzags
    assert f["val_gap_zigzag"] < 0.1
    jumpy = [x + (0.3 if k % 2 else -0.3) for k, x in enumerate(va)]
    c2 = check_curves({"train_loss": tr, "val_loss": jumpy})
    assert features(c2, view(c2))["val_gap_zigzag"] > 1.0


def test_losses_at_zero_that_then_diverge_read_as_a_divergence_not_a_perfect_fit() -> None:
    nan = float("nan")
    d = diagnose(
        {"train_loss": [0.9, 0.5, 0.2, 0, 0, nan, nan], "val_loss": [1, 0.6, 0.3, 0, 0, nan, nan]}
    )
    assert d.primary.name == "lr-too-high"


def test_a_loss_below_zero_by_rounding_reads_as_zero() -> None:
    d = diagnose({"train_loss": [0.5, 0.1, -1e-15, 0.0], "val_loss": [0.5, 0.1, 0.0, -1e-16]})
    assert d.primary.name == "good-fit" and "0 from epoch 3" in d.primary.evidence


def test_the_labs_callers_leave_out_a_metric_that_is_not_a_fraction() -> None:
    """A task recording its accuracy in percent (or an R² below 0) lost every diagnosis in
    its report, and the diagnosis tuner stopped reading curves, once metrics had to be
    fractions."""
    from hyperlab.diagnose.inputs import without_odd_metrics
    from hyperlab.report.trials import _diagnosis

    curves = _fit_then_rise(12, 12) | {"val_metric": [50.0 + e for e in range(24)]}
    with pytest.raises(InputError, match="divide a percentage by 100"):
        diagnose(curves)  # the API still refuses it by name
    assert "val_metric" not in without_odd_metrics(curves)
    assert without_odd_metrics(curves)["val_loss"] == curves["val_loss"]
    trial = optuna.trial.create_trial(
        state=optuna.trial.TrialState.COMPLETE, value=1.0, user_attrs={"curves": curves}
    )
    found = _diagnosis(trial, {})
    assert found is not None and found["primary"] == "overfitting"


def test_a_slow_fall_per_epoch_is_not_shown_as_minus_zero_percent() -> None:
    """lr-too-low's evidence read "-0% per epoch at the end" for a fall under half a percent."""
    t = np.arange(60)
    curves = {"train_loss": (2.3 - 0.002 * t).tolist(), "val_loss": (2.32 - 0.0019 * t).tolist()}
    text = evidence(curves)["lr-too-low"]
    assert "-0.1% per epoch at the end" in text and "-0%" not in text, text
    assert diagnose(curves, use_model=False).primary.name == "lr-too-low"


@pytest.mark.parametrize(
    ("change", "shown"),
    [(0.0, "+0%"), (-0.0004, "-<0.1%"), (0.0004, "+<0.1%"), (-0.003, "-0.3%"), (-0.0096, "-1%")],
)
def test_changes_under_one_percent_keep_a_digit(change: float, shown: str) -> None:
    from hyperlab.diagnose.rules import _pct

    assert _pct(change, log_scale=False) == shown
    assert _pct(-0.05, log_scale=False) == "-5%"


def _at_a_floor() -> dict[str, list[float]]:
    """Both losses fall fast to a high floor, validation's 0.15 above train's; the run ends
    three epochs after its validation minimum (stopped by patience)."""
    t = np.arange(10)
    tr = 0.35 * np.exp(-t / 2) + 0.45
    va = 0.25 * np.exp(-t / 2) + 0.6
    va = np.concatenate([va, va[-1] * np.exp(0.01 * np.arange(1, 4))])
    tr = np.concatenate([tr, tr[-1] * np.exp(-0.005 * np.arange(1, 4))])
    return {"train_loss": tr.tolist(), "val_loss": va.tolist()}


def test_a_run_stopped_at_its_best_above_its_train_loss_is_a_good_fit_at_a_high_floor() -> None:
    """It learned what the data allow (train below validation: the model is not too weak), so
    it is not underfitting, however high the loss it ends at (it read as underfitting)."""
    scores = _scores(_at_a_floor())
    assert scores["good-fit"] > 0.7 and scores["underfitting"] < 0.05
    assert diagnose(_at_a_floor(), use_model=False).primary.name == "good-fit"


def _steady_fall(epochs: int, rate: float) -> dict[str, list[float]]:
    """Both losses fall by ``rate`` (log) every epoch, validation 10% above train."""
    tr = 2.0 * np.exp(-rate * np.arange(epochs))
    return {"train_loss": tr.tolist(), "val_loss": (tr * np.exp(0.1)).tolist()}


def test_a_train_loss_that_fell_by_a_factor_e2_steadily_did_not_learn_too_slowly() -> None:
    """40 epochs at -5% an epoch fell by 86%: still falling (not converged), not a learning rate
    too low, whose evidence would read "falls slowly" beside that fall (it read lr-too-low,
    1.0); 20 epochs at -6% (-68%) still read lr-too-low."""
    long = _scores(_steady_fall(40, 0.05))
    assert long["lr-too-low"] == 0.0 and long["not-converged"] > 0.2
    assert diagnose(_steady_fall(40, 0.05), use_model=False).primary.name == "not-converged"
    assert diagnose(_steady_fall(20, 0.06), use_model=False).primary.name == "lr-too-low"


def test_underfitting_evidence_says_close_only_for_a_close_validation_loss() -> None:
    """A fine-tuning run whose train loss fell from 0.27 to 0.09 while its validation loss
    stayed near 0.23, read as underfitting by the classifier, was told as "validation close to
    it (gap +160%)"."""
    t = np.arange(15)
    tr = 0.27 * np.exp(-t / 13)
    va = 0.227 + 0.0009 * t
    text = evidence({"train_loss": tr.tolist(), "val_loss": va.tolist()})["underfitting"]
    assert "close to it" not in text
    assert "validation above it (gap +" in text
    below = evidence({"train_loss": va.tolist(), "val_loss": tr.tolist()})["underfitting"]
    assert "validation below it (gap -" in below
    close = evidence({"train_loss": tr.tolist(), "val_loss": (tr * 1.05).tolist()})
    assert "validation close to it (gap +5%)" in close["underfitting"]
