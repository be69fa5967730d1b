"""docs/hypergrad.md runs as written: its checkpoint example, in a fresh folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

DOC = Path(__file__).resolve().parents[2] / "docs" / "hypergrad.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_checkpoint_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every name the example uses is defined on the page (its data too), and the resumed
    trainer holds the history of both fits."""
    blocks = _python_blocks()
    assert blocks
    monkeypatch.chdir(tmp_path)
    rng = torch.get_rng_state()
    namespace: dict[str, object] = {"__name__": "hypergrad_doc"}
    try:
        torch.manual_seed(0)
        for code in blocks:
            exec(compile(code, str(DOC), "exec"), namespace)
    finally:
        torch.set_rng_state(rng)  # (the page restores a saved generator state)
    assert (tmp_path / "stn.pt").exists()
    history = namespace["trainer"].history  # type: ignore[attr-defined]
    batches = len(namespace["train_batches"])  # type: ignore[arg-type]
    assert len(history.step) == 2 * 5 * batches // 2  # two fits of 5 epochs, a cycle per 2
