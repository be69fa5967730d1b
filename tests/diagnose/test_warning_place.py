"""A warning of diagnose points at the line that called into hyperlab (``warnings`` shows
that file and line, and filters on its module), whichever function was called and however
deep in the package the warning is raised; on the command line, at the command's own code."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import hyperlab.diagnose
from hyperlab.diagnose import check_curves, diagnose, read_curves

N = 20
T = np.arange(N)
FALLING = {
    "train_loss": (0.05 + np.exp(-T / 4)).tolist(),
    "val_loss": (0.1 + np.exp(-T / 4)).tolist(),
}
UNCHANGED = {"train_loss": [1.0] * N, "val_loss": [1.1] * N}
ERRORS = {
    "train_metric": (0.1 + 0.7 * np.exp(-T / 4)).tolist(),
    "val_metric": (0.15 + 0.7 * np.exp(-T / 4)).tolist(),
}
ACCURACIES = {
    "train_loss": (0.97 - 0.87 * np.exp(-T / 4)).tolist(),
    "val_loss": (0.93 - 0.83 * np.exp(-T / 4)).tolist(),
}


def _caught(call: Callable[[], Any]) -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return list(caught)


def _assert_here(caught: list[warnings.WarningMessage], text: str) -> None:
    """A warning holding ``text`` was caught, and every one points at this file."""
    assert any(text in str(w.message) for w in caught), [str(w.message) for w in caught]
    assert [(w.filename, str(w.message)[:40]) for w in caught if w.filename != __file__] == []


@pytest.mark.parametrize("call", [hyperlab.diagnose, diagnose], ids=["package", "function"])
@pytest.mark.parametrize(
    ("curves", "text"),
    [
        (UNCHANGED, "did not change"),
        ({**FALLING, "step": [200 * (i + 1) for i in range(N)]}, "the curves' 'step' is not read"),
        ({**FALLING, "global_step": list(range(N))}, "the curves' 'global_step' is not read"),
        ({**FALLING, **ERRORS}, "as errors do"),
        (ACCURACIES, "as accuracies do"),
        ({**FALLING, "val_metric": [0.5] * N}, "val_metric is read only beside train_metric"),
    ],
    ids=["unchanged", "step", "global_step", "errors", "accuracies", "lone-metric"],
)
def test_a_diagnosis_warns_at_the_callers_line(
    call: Callable[..., Any], curves: dict[str, Any], text: str
) -> None:
    """``hyperlab.diagnose(...)`` (the callable package) warned at its own ``__call__`` in
    hyperlab/diagnose/__init__.py, one frame short of the user's line."""
    _assert_here(_caught(lambda: call(curves)), text)


def test_reading_curves_warns_at_the_callers_line(tmp_path: Path) -> None:
    """``read_curves`` and ``check_curves`` warned inside the package (``place`` in
    diagnose/rows.py) or beyond the caller (a frame above it, in pytest)."""
    steps = tmp_path / "steps.csv"
    rows = zip(FALLING["train_loss"], FALLING["val_loss"])
    steps.write_text(
        "step,train_loss,val_loss\n"
        + "".join(f"{200 * (i + 1)},{t},{v}\n" for i, (t, v) in enumerate(rows))
    )
    _assert_here(_caught(lambda: read_curves(steps)), "'step' column and no 'epoch' column")
    as_object = tmp_path / "object.json"
    as_object.write_text(json.dumps({**FALLING, "step": list(range(N))}))
    _assert_here(_caught(lambda: read_curves(as_object)), "the curves' 'step' is not read")
    _assert_here(
        _caught(lambda: check_curves({**FALLING, "iteration": list(range(N))})), "'iteration'"
    )
    uneven = tmp_path / "uneven.csv"
    at = [0.25 * (i + 1) + (1.0 if i >= N // 2 else 0.0) for i in range(N)]
    rows = zip(at, FALLING["train_loss"], FALLING["val_loss"])
    uneven.write_text("epoch,train_loss,val_loss\n" + "".join(f"{e},{t},{v}\n" for e, t, v in rows))
    _assert_here(_caught(lambda: read_curves(uneven)), "unevenly apart")


def test_the_command_line_shows_a_diagnosis_warning_as_the_labs(tmp_path: Path) -> None:
    """``hyperlab diagnose FILE``: the warning points at the command's code, which the command
    line shows as ``hyperlab: warning: ...`` (not at the script that started it)."""
    from hyperlab.cli import _one_line_warning, main

    src = tmp_path / "flat.csv"
    src.write_text("epoch,train_loss,val_loss\n" + "".join(f"{e + 1},1.0,1.1\n" for e in range(N)))
    caught = _caught(lambda: main(["diagnose", str(src), "--no-html"]))
    (w,) = [w for w in caught if "did not change" in str(w.message)]
    assert Path(w.filename).parent.name == "cli"
    shown = _one_line_warning(w.message, w.category, w.filename, w.lineno)
    assert shown.startswith("hyperlab: warning: train_loss at 1 and val_loss at 1.1 did not")
