"""What the summary of a run says beside its numbers."""

from __future__ import annotations


def test_a_held_out_loss_far_above_the_validation_loss_is_told() -> None:
    from hyperlab.lab.summary import TuneSummary

    def lines(test: float, direction: str = "minimize") -> str:
        summary = TuneSummary({"x": 1}, 0.25, float("nan"), test, 4, direction=direction)
        return "\n".join(summary.lines())

    assert "235x the validation value" in lines(58.76) and "diverged" in lines(58.76)
    assert "diverged" not in lines(0.3) and "diverged" not in lines(58.76, "maximize")
