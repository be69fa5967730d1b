"""From findings to advice: which way to move each knob, and by what factor.

The table follows common practice for reading learning curves (e.g. Goodfellow, Bengio and
Courville 2016, ch. 11.4; Smith 2018, arXiv:1803.09820): overfitting calls for more
regularization or a smaller model, underfitting for less regularization or a larger model, a
diverging or oscillating loss for a smaller learning rate, a slow steady one for a larger rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hyperlab.diagnose.result import KNOBS, Advice, Finding

#: finding -> [(knob, direction, factor)]; the first move of a knob wins (findings by confidence).
MOVES: dict[str, list[tuple[str, str, float]]] = {
    "overfitting": [
        ("weight_decay", "up", 3.0),
        ("dropout", "up", 1.5),
        ("epochs", "down", 0.5),
        ("width", "down", 0.5),
    ],
    "underfitting": [
        ("weight_decay", "down", 0.3),
        ("dropout", "down", 0.5),
        ("width", "up", 2.0),
        ("n_layers", "up", 1.5),
    ],
    "lr-too-high": [("lr", "down", 0.3), ("batch_size", "up", 2.0)],
    "lr-too-low": [("lr", "up", 3.0)],
    "not-converged": [("epochs", "up", 2.0)],
    "plateau": [("lr", "down", 0.3), ("weight_decay", "down", 0.3)],
    "noisy-validation": [],
    "good-fit": [],
}

#: Regularization knobs that no reported finding moves follow the stronger of ``overfitting`` and
#: ``underfitting`` when that one has at least this confidence: the two point in opposite
#: directions, so even below the report threshold the stronger one says which way to go.
WEAK_FLOOR = 0.15
_REG_KNOBS = ("weight_decay", "dropout")

#: A factor within this share of 1 (x0.9 to x1.1) is no move: such a move is not advised.
MIN_CHANGE = 0.1

#: Names a configuration may use for each knob.
ALIASES: dict[str, tuple[str, ...]] = {
    "lr": ("lr", "learning_rate", "eta"),
    "weight_decay": ("weight_decay", "wd", "l2", "alpha"),
    "dropout": ("dropout", "dropout_rate", "p_dropout"),
    "width": ("width", "hidden_size", "n_units", "units", "hidden"),
    "n_layers": ("n_layers", "num_layers", "depth", "layers"),
    "epochs": ("epochs", "n_epochs", "max_epochs", "budget"),
    "batch_size": ("batch_size", "batch"),
}


def knob_key(knob: str, config: Mapping[str, Any]) -> str | None:
    """The key under which ``config`` holds ``knob`` (``None`` when it does not expose it)."""
    return next((k for k in ALIASES[knob] if k in config), None)


def _is_move(factor: float) -> bool:
    """Whether ``factor`` moves a knob by at least :data:`MIN_CHANGE` (x0.9 and x1.1 do)."""
    return abs(factor - 1.0) >= MIN_CHANGE - 1e-9


def advise(
    findings: list[Finding],
    config: Mapping[str, Any] | None = None,
    n_epochs: float | None = None,
    confidences: Mapping[str, float] | None = None,
) -> list[Advice]:
    """One advice per knob, from findings sorted by confidence (highest first).

    The advice depends on the findings alone; ``config`` only chooses which knobs are listed.
    When the primary finding is ``noisy-validation``, ``overfitting`` moves nothing: a
    validation curve too noisy to read cannot show that the model memorizes. A move whose
    factor is within :data:`MIN_CHANGE` of 1 is dropped (the knob is left to the next finding,
    or kept).

    Args:
        findings: The diagnosis's findings; the more confident finding decides a knob.
        config: The run's configuration; only knobs it exposes get advice (every knob when
            ``None``), and ``epochs`` always: every run has a length.
        n_epochs: Length of the run; with an overfitting onset it sets the epochs factor.
        confidences: Every finding's confidence, reported or not; with it, regularization knobs
            that no reported finding moves follow the stronger of ``overfitting`` and
            ``underfitting`` from :data:`WEAK_FLOOR` on.

    Returns:
        Advice in :data:`~hyperlab.diagnose.result.KNOBS` order.
    """
    knobs = [k for k in KNOBS if config is None or k == "epochs" or knob_key(k, config)]
    decided: dict[str, Advice] = {}
    noisy = bool(findings) and findings[0].name == "noisy-validation"
    for finding in findings:
        if noisy and finding.name == "overfitting":
            continue
        if finding.name == "lr-too-high" and "diverged" in finding.evidence:
            moves = [("lr", "down", 0.1), *MOVES["lr-too-high"][1:]]
        elif finding.name == "overfitting" and finding.onset_epoch and n_epochs:
            stop = round(max(0.1, finding.onset_epoch / n_epochs), 2)
            moves = [(k, d, stop if k == "epochs" else x) for k, d, x in MOVES["overfitting"]]
        else:
            moves = MOVES[finding.name]
        reason = f"{finding.name} ({finding.confidence:.0%})"
        for knob, direction, factor in moves:
            if knob in knobs and knob not in decided and _is_move(factor):
                decided[knob] = Advice(knob, direction, factor, reason)
    if confidences is not None and not noisy:
        weak = max(("overfitting", "underfitting"), key=lambda n: confidences.get(n, 0.0))
        conf = confidences.get(weak, 0.0)
        if conf >= WEAK_FLOOR:
            for knob, direction, factor in MOVES[weak]:
                if knob in _REG_KNOBS and knob in knobs and knob not in decided:
                    decided[knob] = Advice(knob, direction, factor, f"{weak} ({conf:.0%}, weak)")
    out = []
    for knob in knobs:
        out.append(decided.get(knob) or Advice(knob, "keep", 1.0, "no finding calls for a change"))
    return out


def stop_at_best(advice: list[Advice], finding: Finding, n_epochs: float) -> list[Advice]:
    """``advice`` with the epochs moved down to the onset of ``finding`` (an ``overfitting``
    whose run ended a few epochs after its best), where no other finding moved them: such a
    curve shows that the run went on past its best, not that the model needs more
    regularization."""
    if finding.onset_epoch is None or not n_epochs:
        return advice
    factor = round(max(0.1, finding.onset_epoch / n_epochs), 2)
    reason = f"{finding.name} ({finding.confidence:.0%}): stop at its best epoch"
    return [
        Advice(a.knob, "down", factor, reason)
        if a.knob == "epochs" and a.direction == "keep" and _is_move(factor)
        else a
        for a in advice
    ]
