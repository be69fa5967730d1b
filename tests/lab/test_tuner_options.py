"""Tuner options: each tuner gets the ones it takes; one no tuner takes is refused up front."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hyperlab import compare
from hyperlab.errors import InputError, InputTypeError
from hyperlab.registry import TUNERS, Registry


def run(tmp_path: Path, name: str, options: dict[str, Any]) -> list[dict[str, Any]]:
    return compare(
        "branin",
        ["random", "neural"],
        seeds=1,
        trials=4,
        name=name,
        runs_dir=tmp_path,
        progress=False,
        report=False,
        tuner_options=options,
    )


def test_an_option_goes_to_the_tuners_that_take_it(tmp_path: Path) -> None:
    rows = run(tmp_path, "ok", {"n_startup": 2})
    assert {r["tuner"] for r in rows} == {"random", "neural"}
    assert TUNERS.takes("neural", "n_startup") and not TUNERS.takes("random", "n_startup")
    assert TUNERS.takes("tpe", "constant_liar") and TUNERS.takes("diagnosis", "min_step")


def test_an_option_no_tuner_takes_is_refused_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="n_startupp"):
        run(tmp_path, "typo", {"n_startupp": 2})
    assert not (tmp_path / "typo").exists()
    with pytest.raises(InputError, match="'seed' is set by the lab"):
        run(tmp_path, "seed", {"seed": 3})
    with pytest.raises(InputError, match="n_startup must be a positive int"):
        run(tmp_path, "bad", {"n_startup": 0})
    assert not (tmp_path / "bad").exists()
    # a bad value of an option the tuner takes is named as such, not as an unknown option
    with pytest.raises(InputTypeError, match="pruner_predictions must be True or False") as info:
        run(tmp_path, "bad2", {"pruner_predictions": "maybe"})
    assert "does not take" not in str(info.value)


def test_options_of_a_factory() -> None:
    registry: Registry[Any] = Registry("thing")

    def named(*, seed: int = 0, width: int = 1, **_: Any) -> None:
        return None

    def open_ended(*, seed: int = 0, **options: Any) -> None:
        return None

    registry.register("named", named, "swallows the rest")
    registry.register("open", open_ended, "passes the rest on")
    assert registry.options("named") == frozenset({"seed", "width"})
    assert registry.options("open") is None and registry.takes("open", "anything")
    assert not registry.takes("named", "depth")
