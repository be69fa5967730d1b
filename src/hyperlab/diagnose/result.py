"""What a diagnosis says: findings, advice, and the diagnosis that holds them (plain data)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: Every finding the diagnostician can name.
FINDINGS = (
    "overfitting",
    "underfitting",
    "good-fit",
    "lr-too-high",
    "lr-too-low",
    "not-converged",
    "plateau",
    "noisy-validation",
)

#: Every knob advice can be about, in the order advice is listed.
KNOBS = ("lr", "weight_decay", "dropout", "width", "n_layers", "epochs", "batch_size")


@dataclass
class Finding:
    """One thing the curves show.

    Attributes:
        name: One of :data:`FINDINGS`.
        confidence: How sure the diagnostician is, in [0, 1].
        evidence: A sentence with the numbers behind the finding.
        onset_epoch: For ``overfitting``: the 1-based epoch after which validation loss rises
            (a fraction for a log with fractional epochs, see
            :func:`hyperlab.diagnose.check_curves`).
    """

    name: str
    confidence: float
    evidence: str
    onset_epoch: float | None = None


@dataclass
class Advice:
    """Which way to move one knob.

    Attributes:
        knob: One of :data:`KNOBS`.
        direction: ``"up"``, ``"down"`` or ``"keep"``.
        factor: Suggested multiplicative step (1.0 for ``keep``; for ``n_layers`` and ``dropout``
            the tuner turns it into an additive step).
        reason: The finding behind the advice, in words.
    """

    knob: str
    direction: str
    factor: float
    reason: str


@dataclass
class Diagnosis:
    """The diagnosis of one run.

    Attributes:
        findings: Findings sorted by confidence, highest first (never empty).
        advice: One entry per knob the configuration exposes (every knob without a config).
        features: The scale-free curve features the diagnosis rests on.
        n_epochs: Length of the curves: their last epoch (a fraction for a log with
            fractional epochs).
    """

    findings: list[Finding]
    advice: list[Advice]
    features: dict[str, float] = field(default_factory=dict)
    n_epochs: float = 0

    @property
    def primary(self) -> Finding:
        """The main finding (the most confident one)."""
        return self.findings[0]

    def finding(self, name: str) -> Finding | None:
        """The finding called ``name``, or ``None`` when it was not found."""
        return next((f for f in self.findings if f.name == name), None)

    def advice_for(self, knob: str) -> Advice | None:
        """The advice on ``knob``, or ``None`` when the configuration does not expose it."""
        return next((a for a in self.advice if a.knob == knob), None)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (JSON-serializable)."""
        return {
            "primary": self.primary.name,
            "findings": [asdict(f) for f in self.findings],
            "advice": [asdict(a) for a in self.advice],
            "features": dict(self.features),
            "n_epochs": self.n_epochs,
        }

    def summary(self) -> str:
        """A few lines of text: findings with confidence and evidence, then the advice."""
        lines = [f"Diagnosis of {self.n_epochs} epochs: {self.primary.name}"]
        for f in self.findings:
            lines.append(f"  {f.name:<16} {f.confidence:4.0%}  {f.evidence}")
        moves = [a for a in self.advice if a.direction != "keep"]
        if moves:
            lines.append("Advice:")
            for a in moves:
                lines.append(f"  {a.knob:<13} {a.direction:<4} x{a.factor:g}  ({a.reason})")
        else:
            lines.append("Advice: keep every knob as it is.")
        return "\n".join(lines)
