from __future__ import annotations

from hyperlab.diagnose.advice import WEAK_FLOOR, advise
from hyperlab.diagnose.result import Finding


def _directions(findings: list[Finding], confidences: dict[str, float] | None) -> dict[str, str]:
    return {a.knob: a.direction for a in advise(findings, None, 40, confidences)}


def test_weak_overfitting_moves_only_the_regularization_knobs() -> None:
    good = [Finding("good-fit", 0.7, "fine")]
    conf = {"good-fit": 0.7, "overfitting": WEAK_FLOOR + 0.05, "underfitting": 0.05}
    got = _directions(good, conf)
    assert got["weight_decay"] == "up" and got["dropout"] == "up"
    assert got["epochs"] == "keep" and got["width"] == "keep" and got["lr"] == "keep"
    # the stronger of the two opposite findings decides
    got = _directions(good, {**conf, "underfitting": WEAK_FLOOR + 0.1})
    assert got["weight_decay"] == "down"


def test_below_the_floor_or_without_confidences_nothing_moves() -> None:
    good = [Finding("good-fit", 0.9, "fine")]
    conf = {"good-fit": 0.9, "overfitting": WEAK_FLOOR - 0.01, "underfitting": 0.0}
    assert set(_directions(good, conf).values()) == {"keep"}
    assert set(_directions(good, None).values()) == {"keep"}


def test_a_reported_finding_beats_a_weak_one() -> None:
    found = [Finding("underfitting", 0.6, "stuck"), Finding("overfitting", 0.4, "rises")]
    conf = {"underfitting": 0.6, "overfitting": 0.4}
    assert _directions(found, conf)["weight_decay"] == "down"


def test_noisy_validation_cannot_show_overfitting() -> None:
    found = [Finding("noisy-validation", 0.8, "jumps"), Finding("overfitting", 0.5, "rises")]
    conf = {"noisy-validation": 0.8, "overfitting": 0.5, "underfitting": 0.0}
    got = _directions(found, conf)
    assert got["weight_decay"] == "keep" and got["epochs"] == "keep"
    # but a reported overfitting behind another primary still moves the knobs
    found = [Finding("good-fit", 0.8, "fine"), Finding("overfitting", 0.5, "rises")]
    assert _directions(found, None)["weight_decay"] == "up"
