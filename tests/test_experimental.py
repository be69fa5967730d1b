from __future__ import annotations

import warnings

import pytest

from hyperlab._experimental import ExperimentalWarning, experimental


def test_experimental_warns_once_for_functions_and_classes() -> None:
    @experimental("API may change")
    def f(x: int) -> int:
        return x + 1

    @experimental()
    class C:
        def __init__(self, v: int) -> None:
            self.v = v

    with pytest.warns(ExperimentalWarning, match="API may change"):
        assert f(1) == 2
    with pytest.warns(ExperimentalWarning, match="C is experimental"):
        assert C(3).v == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert f(2) == 3
        assert C(4).v == 4
