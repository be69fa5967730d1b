from __future__ import annotations

import numpy as np
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from hyperlab.errors import InputError, InputTypeError
from hyperlab.space import SpaceEncoder

SPACE = {
    "f": FloatDistribution(-2.0, 3.0),
    "flog": FloatDistribution(1e-5, 1e-1, log=True),
    "fstep": FloatDistribution(0.0, 1.0, step=0.25),
    "i": IntDistribution(-3, 4),
    "istep": IntDistribution(0, 10, step=5),
    "ilog": IntDistribution(1, 1024, log=True),
    "c": CategoricalDistribution(["a", 1, None, 2.5]),
    "single": FloatDistribution(0.5, 0.5),
}


def test_round_trip_of_every_distribution_type() -> None:
    enc = SpaceEncoder(SPACE)
    assert enc.dim == 7 + 4
    rng = np.random.default_rng(0)
    configs = enc.decode(rng.random((200, enc.dim)))
    X = enc.encode(configs)
    assert X.shape == (200, enc.dim)
    assert X.min() >= 0.0 and X.max() <= 1.0
    assert enc.decode(X) == configs
    np.testing.assert_allclose(enc.snap(X), X)
    for cfg in configs:
        for name, dist in SPACE.items():
            assert dist._contains(dist.to_internal_repr(cfg[name]))
        assert isinstance(cfg["i"], int) and isinstance(cfg["ilog"], int)
        assert cfg["fstep"] in (0.0, 0.25, 0.5, 0.75, 1.0)
        assert cfg["istep"] in (0, 5, 10)
    seen = {cfg["c"] for cfg in configs}
    assert seen == {"a", 1, None, 2.5}


def test_extremes_and_log_axis() -> None:
    enc = SpaceEncoder({"flog": SPACE["flog"], "i": SPACE["i"]})
    X = enc.encode([{"flog": 1e-5, "i": -3}, {"flog": 1e-1, "i": 4}, {"flog": 1e-3, "i": 0}])
    np.testing.assert_allclose(X[:2, 0], [0.0, 1.0])
    assert X[2, 0] == pytest.approx(0.5)  # geometric midpoint of [1e-5, 1e-1]
    assert 0 < X[0, 1] < X[2, 1] < X[1, 1] < 1  # ints sit in the middle of their cells
    back = enc.decode(X)
    assert [c["i"] for c in back] == [-3, 4, 0]
    np.testing.assert_allclose([c["flog"] for c in back], [1e-5, 1e-1, 1e-3], rtol=1e-12)


def test_uniform_codes_give_every_int_about_equally_often() -> None:
    enc = SpaceEncoder({"i": IntDistribution(0, 3)})
    values = [c["i"] for c in enc.decode(np.random.default_rng(1).random((4000, 1)))]
    counts = np.bincount(values, minlength=4)
    assert counts.min() > 850


def test_bad_inputs_raise() -> None:
    enc = SpaceEncoder(SPACE)
    with pytest.raises(InputError, match="lacks"):
        enc.encode([{"f": 0.0}])
    with pytest.raises(InputError, match="outside"):
        enc.encode([{**enc.decode(np.zeros((1, enc.dim)))[0], "f": 99.0}])
    with pytest.raises(InputError, match="choice"):
        enc.encode([{**enc.decode(np.zeros((1, enc.dim)))[0], "c": "zzz"}])
    with pytest.raises(InputError, match="shape"):
        enc.decode(np.zeros((2, 3)))
    with pytest.raises(InputTypeError):
        SpaceEncoder({"x": "not a distribution"})  # type: ignore[dict-item]


def test_a_latin_hypercube_fills_every_stratum_and_uses_choices_evenly() -> None:
    space = {
        "lr": FloatDistribution(1e-5, 1e-1, log=True),
        "units": IntDistribution(1, 1000),
        "act": CategoricalDistribution(["relu", "tanh", "gelu"]),
    }
    enc = SpaceEncoder(space)
    x = enc.latin_hypercube(6, np.random.default_rng(3))
    assert np.array_equal(x, enc.snap(x))  # admissible points
    lr = x[:, enc.numeric_columns[0]]
    assert sorted(np.floor(lr * 6).astype(int).tolist()) == list(range(6))
    start, width = enc.categorical_blocks[0]
    assert x[:, start : start + width].sum(axis=0).tolist() == [2.0, 2.0, 2.0]
    again = enc.latin_hypercube(6, np.random.default_rng(3))
    assert np.array_equal(x, again)
