"""Families of random synthetic problems: many cheap functions with known (or estimated) optima.

Two families, each a registered name pattern whose instance number seeds every random choice,
so the same name is always the same function:

- ``synth-<function>-<d>d-<instance>`` (e.g. ``synth-ackley-6d-3``): a classic test function
  (:data:`FUNCTIONS`), shifted, rotated, stretched and rescaled at random, in ``d`` = 1..20
  dimensions. Each parameter is a linear float, a log float (the function sees the log axis)
  or an int; the minimizer lies inside the box, on an admissible grid point of every int, so
  ``optimum`` is exact.
- ``gpprior-<d>d-<instance>``: a function drawn from a Gaussian-process prior (random Fourier
  features of an RBF or Matérn-5/2 kernel with random ARD lengthscales, some dimensions nearly
  irrelevant), over linear and log floats. Its ``optimum`` is an *estimate*: the best of 20,000
  random points refined by projected gradient steps (Adam) from the best 32, computed once per
  instance and cached.

Both are noiseless, minimized and have ``max_budget = 1``. Evaluating many points is one matrix
operation: :meth:`FamilyTask.function_batch` takes raw parameter values of shape ``(n, d)``,
:meth:`FamilyTask.values` takes a list of configurations, :meth:`FamilyTask.sample_points`
draws random points with their values.
"""

from __future__ import annotations

import math
import re
import threading
import time
import zlib
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, FloatDistribution, IntDistribution

from hyperlab.errors import InputError, InputTypeError, UnknownNameError
from hyperlab.registry import TASKS
from hyperlab.tasks.base import EpochCallback, Evaluation, Task

#: Dimensions a family instance may have.
MAX_DIM = 20


@dataclass(frozen=True)
class Param:
    """One parameter of a family instance.

    Attributes:
        name: ``x0``, ``x1``, ...
        kind: ``"float"`` (linear), ``"log"`` (log-scaled float) or ``"int"``.
        low: Lower bound.
        high: Upper bound.
    """

    name: str
    kind: str
    low: float
    high: float

    @property
    def distribution(self) -> BaseDistribution:
        """The Optuna distribution of the parameter."""
        if self.kind == "int":
            return IntDistribution(int(self.low), int(self.high))
        return FloatDistribution(self.low, self.high, log=self.kind == "log")

    def to_unit(self, x: np.ndarray) -> np.ndarray:
        """Raw values -> positions in [0, 1] (the log axis for a log float)."""
        if self.kind == "log":
            return (np.log(x) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        return (x - self.low) / (self.high - self.low)

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Positions in [0, 1] -> raw values (ints rounded to the grid)."""
        u = np.clip(u, 0.0, 1.0)
        if self.kind == "log":
            lo, hi = math.log(self.low), math.log(self.high)
            return np.clip(np.exp(lo + u * (hi - lo)), self.low, self.high)
        x = self.low + u * (self.high - self.low)
        return np.round(x) if self.kind == "int" else x


def random_params(rng: np.random.Generator, d: int, kinds: tuple[str, ...]) -> list[Param]:
    """``d`` parameters of random kinds (from ``kinds``) and random ranges."""
    out = []
    for j in range(d):
        kind = str(rng.choice(kinds))
        if kind == "int":
            first = float(rng.integers(0, 10))
            out.append(Param(f"x{j}", kind, first, first + float(rng.integers(4, 33))))
        elif kind == "log":
            low = float(10.0 ** rng.uniform(-6, 0))
            out.append(Param(f"x{j}", kind, low, low * float(10.0 ** rng.uniform(1, 4))))
        else:
            low = float(rng.uniform(-10, 10))
            out.append(Param(f"x{j}", kind, low, low + float(10.0 ** rng.uniform(-1, 2))))
    return out


class FamilyTask(Task):
    """A noiseless function of box-bounded parameters, evaluated in batches.

    Subclasses set ``params`` and implement :meth:`unit_function` on positions in the unit
    cube (log axes for log floats).
    """

    max_budget = 1
    metric = "value"
    direction = "minimize"
    params: list[Param]

    @abstractmethod
    def unit_function(self, u: np.ndarray) -> np.ndarray:
        """The function at unit-cube positions ``u`` of shape ``(n, d)``: shape ``(n,)``."""

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for p in self.params:
            if p.kind == "int":
                out[p.name] = trial.suggest_int(p.name, int(p.low), int(p.high))
            else:
                out[p.name] = trial.suggest_float(p.name, p.low, p.high, log=p.kind == "log")
        return out

    def distributions(self) -> dict[str, BaseDistribution]:
        return {p.name: p.distribution for p in self.params}

    def to_unit(self, x: np.ndarray) -> np.ndarray:
        """Raw values ``(n, d)`` -> unit-cube positions ``(n, d)``."""
        return np.stack([p.to_unit(x[:, j]) for j, p in enumerate(self.params)], axis=1)

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Unit-cube positions ``(n, d)`` -> raw values ``(n, d)`` (ints on their grid)."""
        return np.stack([p.from_unit(u[:, j]) for j, p in enumerate(self.params)], axis=1)

    def function_batch(self, x: np.ndarray) -> np.ndarray:
        """The function at raw parameter values ``x`` of shape ``(n, d)`` (columns in the order
        of :meth:`distributions`): shape ``(n,)``."""
        x = np.asarray(x, dtype=float)
        if x.ndim != 2 or x.shape[1] != len(self.params):
            raise InputError(f"x must have shape (n, {len(self.params)}), got {x.shape}")
        lows = np.array([p.low for p in self.params])
        highs = np.array([p.high for p in self.params])
        bad = np.any((x < lows - 1e-9 * np.abs(lows)) | (x > highs + 1e-9 * np.abs(highs)), axis=1)
        if np.any(bad):
            raise InputError(f"{self.name}: point {x[np.argmax(bad)].tolist()} is outside the box")
        return self.unit_function(self.to_unit(x))

    def matrix(self, configs: list[dict[str, Any]]) -> np.ndarray:
        """Configurations as raw values of shape ``(n, d)``.

        Raises:
            InputError: A configuration lacks a parameter (the message names it).
            InputTypeError: A value that is not a number.
        """
        out = np.empty((len(configs), len(self.params)))
        for i, config in enumerate(configs):
            for j, p in enumerate(self.params):
                if p.name not in config:
                    raise InputError(
                        f"{self.name}: the configuration {config!r} lacks the parameter {p.name!r}"
                    )
                value = config[p.name]
                if isinstance(value, bool) or not isinstance(value, int | float | np.number):
                    raise InputTypeError(f"{p.name} must be a number, got {value!r}")
                out[i, j] = value
        return out

    def configs(self, x: np.ndarray) -> list[dict[str, Any]]:
        """Raw values ``(n, d)`` as configurations (ints as ``int``)."""
        return [
            {p.name: int(v) if p.kind == "int" else float(v) for p, v in zip(self.params, row)}
            for row in x
        ]

    def values(self, configs: list[dict[str, Any]]) -> np.ndarray:
        """The function at many configurations: shape ``(len(configs),)``."""
        return self.function_batch(self.matrix(configs))

    def sample_points(self, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``n`` uniformly random points (uniform on the log axis of log floats).

        Returns:
            ``(x, values)``: raw values of shape ``(n, d)`` and values of shape ``(n,)``.
        """
        rng = np.random.default_rng(seed)
        x = self.from_unit(rng.random((int(n), len(self.params))))
        return x, self.function_batch(x)

    def _evaluate(
        self, config: dict[str, Any], budget: int, seed: int, on_epoch: EpochCallback | None
    ) -> Evaluation:
        start = time.perf_counter()
        value = float(self.values([config])[0])
        curves = {"val_loss": [value]}
        if on_epoch is not None:
            on_epoch(1, value, curves)
        return Evaluation(
            value=value,
            budget=1,
            curves=curves,
            fold_values=[value],
            wall_time=time.perf_counter() - start,
        )

    def test_score(
        self, config: dict[str, Any], budget: int | None = None, seed: int = 0
    ) -> float | None:
        """``None``: a function has no held-out split (its value is the validation score)."""
        return None

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out.update(params=[(p.name, p.kind, p.low, p.high) for p in self.params])
        return out


# ----------------------------------------------------------------------------- classic functions


@dataclass(frozen=True)
class ClassicFunction:
    """A classic test function whose global minimum over all of R^d is known.

    Attributes:
        width: Half the width of the usual domain: the unit box spans about ±1.8 ``width``
            around the minimizer.
        argmin: The minimizer's coordinate (the same in every dimension).
        fn: The function on points ``(n, d)``: shape ``(n,)``.
    """

    width: float
    argmin: float
    fn: Callable[[np.ndarray], np.ndarray]


def _ellipsoid(z: np.ndarray) -> np.ndarray:
    d = z.shape[1]
    weights = 10.0 ** (6.0 * np.arange(d) / max(d - 1, 1))
    return np.sum(weights * z**2, axis=1)


def _rosenbrock(z: np.ndarray) -> np.ndarray:
    if z.shape[1] == 1:
        return (1.0 - z[:, 0]) ** 2
    return np.sum(100.0 * (z[:, 1:] - z[:, :-1] ** 2) ** 2 + (1.0 - z[:, :-1]) ** 2, axis=1)


def _rastrigin(z: np.ndarray) -> np.ndarray:
    return 10.0 * z.shape[1] + np.sum(z**2 - 10.0 * np.cos(2 * np.pi * z), axis=1)


def _ackley(z: np.ndarray) -> np.ndarray:
    rms = np.sqrt(np.mean(z**2, axis=1))
    wave = np.mean(np.cos(2 * np.pi * z), axis=1)
    return -20.0 * np.exp(-0.2 * rms) - np.exp(wave) + 20.0 + math.e


def _levy(z: np.ndarray) -> np.ndarray:
    w = 1.0 + (z - 1.0) / 4.0
    head = np.sin(np.pi * w[:, 0]) ** 2
    mid = np.sum((w[:, :-1] - 1) ** 2 * (1 + 10 * np.sin(np.pi * w[:, :-1] + 1) ** 2), axis=1)
    tail = (w[:, -1] - 1) ** 2 * (1 + np.sin(2 * np.pi * w[:, -1]) ** 2)
    return head + mid + tail


def _styblinski_tang(z: np.ndarray) -> np.ndarray:
    return 0.5 * np.sum(z**4 - 16 * z**2 + 5 * z, axis=1)


def _griewank(z: np.ndarray) -> np.ndarray:
    i = np.sqrt(np.arange(1, z.shape[1] + 1))
    return 1.0 + np.sum(z**2, axis=1) / 4000.0 - np.prod(np.cos(z / i), axis=1)


#: Schwefel's function is used on its box [-500, 500]^d (points outside are clipped to it),
#: where its per-coordinate minimizer is this root of sin(√z) + √z cos(√z) / 2.
_SCHWEFEL_ARGMIN = 420.96874635998202


def _schwefel(z: np.ndarray) -> np.ndarray:
    z = np.clip(z, -500.0, 500.0)
    return 418.9828872724338 * z.shape[1] - np.sum(z * np.sin(np.sqrt(np.abs(z))), axis=1)


#: The per-coordinate minimizer of Styblinski-Tang: the root of 4z³ - 32z + 5 near -2.9.
_ST_ARGMIN = float(min(np.roots([4.0, 0.0, -32.0, 5.0]).real))

#: The classic functions of ``synth-<function>-<d>d-<instance>``.
FUNCTIONS: dict[str, ClassicFunction] = {
    "sphere": ClassicFunction(5.0, 0.0, lambda z: np.sum(z**2, axis=1)),
    "ellipsoid": ClassicFunction(5.0, 0.0, _ellipsoid),
    "rosenbrock": ClassicFunction(3.0, 1.0, _rosenbrock),
    "rastrigin": ClassicFunction(5.12, 0.0, _rastrigin),
    "ackley": ClassicFunction(16.0, 0.0, _ackley),
    "levy": ClassicFunction(10.0, 1.0, _levy),
    "styblinski-tang": ClassicFunction(5.0, _ST_ARGMIN, _styblinski_tang),
    "griewank": ClassicFunction(100.0, 0.0, _griewank),
    "schwefel": ClassicFunction(250.0, _SCHWEFEL_ARGMIN, _schwefel),
}


def _instance_rng(*parts: object) -> np.random.Generator:
    """A generator seeded by the name's parts (stable across processes and versions)."""
    return np.random.default_rng(zlib.crc32("/".join(map(str, parts)).encode()))


class SynthTask(FamilyTask):
    """A random instance of a classic test function (see the module docstring).

    The value is ``scale * g(z) + offset`` with ``z = z* + width * R (s ⊙ 2 (u - u*))``: ``u``
    the unit-cube position, ``u*`` the random minimizer (inside ``[0.1, 0.9]``, on the grid of
    every int), ``R`` a random rotation, ``s`` random stretches in ``[e^-0.5, e^0.5]``, ``g`` the
    classic function with minimizer ``z*``.

    Args:
        function: A key of :data:`FUNCTIONS`.
        dim: Dimensions, 1..20.
        instance: Seeds every random choice (>= 0).
    """

    def __init__(self, function: str, dim: int, instance: int) -> None:
        if function not in FUNCTIONS:
            raise UnknownNameError(
                f"unknown synthetic function {function!r}; known: {', '.join(FUNCTIONS)}"
            )
        _check_dim_instance(dim, instance)
        self.function_name, self.dim, self.instance = function, dim, instance
        self.name = f"synth-{function}-{dim}d-{instance}"
        self.description = f"random instance {instance} of the {dim}-D {function} function"
        self._fn = FUNCTIONS[function]
        rng = _instance_rng("synth", function, dim, instance)
        self.params = random_params(rng, dim, ("float", "float", "log", "int"))
        u_star = rng.uniform(0.1, 0.9, dim)
        for j, p in enumerate(self.params):
            if p.kind == "int":
                u_star[j] = np.round(u_star[j] * (p.high - p.low)) / (p.high - p.low)
        self.u_star = u_star
        q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
        self.rotation = q * np.sign(np.diag(r))
        self.stretch = np.exp(rng.uniform(-0.5, 0.5, dim))
        self.scale = float(10.0 ** rng.uniform(-1, 1))
        self.offset = float(rng.normal(0.0, 10.0))
        z_star = np.full((1, dim), self._fn.argmin)
        self._optimum = self.scale * float(self._fn.fn(z_star)[0]) + self.offset

    def unit_function(self, u: np.ndarray) -> np.ndarray:
        t = 2.0 * (u - self.u_star) * self.stretch
        z = self._fn.argmin + self._fn.width * t @ self.rotation.T
        return self.scale * self._fn.fn(z) + self.offset

    def argmin_config(self) -> dict[str, Any]:
        """The configuration at which the function takes its minimum."""
        return self.configs(self.from_unit(self.u_star[None, :]))[0]

    @property  # type: ignore[override]
    def optimum(self) -> float | None:
        """The exact minimum: the classic function's minimum, scaled and offset."""
        return self._optimum

    @optimum.setter
    def optimum(self, value: float | None) -> None:
        raise InputError("the optimum of a synthetic instance is fixed by its name")


# ----------------------------------------------------------------------------- GP prior

#: Random Fourier features behind a GP-prior instance.
GP_FEATURES = 512
#: Random points, the best of them refined, and the refining steps behind the estimated optimum.
GP_OPTIMUM_SAMPLES = 20_000
GP_OPTIMUM_STARTS = 32
GP_OPTIMUM_STEPS = 300

_GP_OPTIMA: dict[str, tuple[float, np.ndarray]] = {}
_GP_LOCK = threading.Lock()


class GPPriorTask(FamilyTask):
    """A function drawn from a GP prior through random Fourier features.

    ``f(u) = scale * sqrt(2 / M) * sum_m w_m cos(omega_m . (u / l) + b_m) + offset`` with
    ``w ~ N(0, 1)``, ``b ~ U(0, 2 pi)`` and ``omega`` Gaussian (RBF kernel) or Student-t with 5
    degrees of freedom (Matérn-5/2); the lengthscales ``l`` are log-uniform in [0.1, 1] for the
    relevant dimensions and in [10, 100] for the nearly irrelevant ones (each dimension is
    nearly irrelevant with probability 0.3, at least one stays relevant).

    Args:
        dim: Dimensions, 1..20.
        instance: Seeds every random choice (>= 0).
    """

    def __init__(self, dim: int, instance: int) -> None:
        _check_dim_instance(dim, instance)
        self.dim, self.instance = dim, instance
        self.name = f"gpprior-{dim}d-{instance}"
        rng = _instance_rng("gpprior", dim, instance)
        self.params = random_params(rng, dim, ("float", "float", "log"))
        self.kernel = str(rng.choice(["rbf", "matern52"]))
        irrelevant = rng.random(dim) < 0.3
        irrelevant[int(rng.integers(dim))] = False
        self.lengthscales = np.where(
            irrelevant, 10.0 ** rng.uniform(1, 2, dim), 10.0 ** rng.uniform(-1, 0, dim)
        )
        omega = rng.standard_normal((GP_FEATURES, dim))
        if self.kernel == "matern52":
            omega /= np.sqrt(rng.chisquare(5.0, (GP_FEATURES, 1)) / 5.0)
        self._omega = omega / self.lengthscales
        self._phase = rng.uniform(0, 2 * np.pi, GP_FEATURES)
        self._weights = rng.standard_normal(GP_FEATURES) * math.sqrt(2.0 / GP_FEATURES)
        self.scale = float(10.0 ** rng.uniform(-1, 1))
        self.offset = float(rng.normal(0.0, 10.0))
        self.description = (
            f"random {self.kernel} GP-prior function {instance}, {dim}-D (optimum estimated)"
        )

    def unit_function(self, u: np.ndarray) -> np.ndarray:
        return self.scale * (np.cos(u @ self._omega.T + self._phase) @ self._weights) + self.offset

    def _value_and_gradient(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`unit_function` at ``u`` of shape ``(k, d)`` and its gradient ``(k, d)``."""
        angle = u @ self._omega.T + self._phase
        values = self.scale * (np.cos(angle) @ self._weights) + self.offset
        return values, -self.scale * (np.sin(angle) * self._weights) @ self._omega

    def _estimate(self) -> tuple[float, np.ndarray]:
        """Dense random sampling, then projected Adam from the best samples, all at once."""
        rng = _instance_rng("gpprior-optimum", self.dim, self.instance)
        u = rng.random((GP_OPTIMUM_SAMPLES, self.dim))
        values = self.unit_function(u)
        best_value, best_u = float(values.min()), u[int(np.argmin(values))]
        x = u[np.argsort(values)[:GP_OPTIMUM_STARTS]].copy()
        m, v = np.zeros_like(x), np.zeros_like(x)
        for step, lr in enumerate(np.geomspace(0.02, 1e-5, GP_OPTIMUM_STEPS), start=1):
            f, g = self._value_and_gradient(x)
            if float(f.min()) < best_value:
                best_value, best_u = float(f.min()), x[int(np.argmin(f))].copy()
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g**2
            step_size = lr * math.sqrt(1 - 0.999**step) / (1 - 0.9**step)
            x = np.clip(x - step_size * m / (np.sqrt(v) + 1e-12), 0.0, 1.0)
        f = self.unit_function(x)
        if float(f.min()) < best_value:
            best_value, best_u = float(f.min()), x[int(np.argmin(f))].copy()
        return best_value, best_u

    def _estimated(self) -> tuple[float, np.ndarray]:
        with _GP_LOCK:
            if self.name not in _GP_OPTIMA:
                _GP_OPTIMA[self.name] = self._estimate()
            return _GP_OPTIMA[self.name]

    def argmin_config(self) -> dict[str, Any]:
        """The configuration of the estimated minimum."""
        return self.configs(self.from_unit(self._estimated()[1][None, :]))[0]

    @property  # type: ignore[override]
    def optimum(self) -> float | None:
        """An *estimate* of the minimum (dense random sampling refined by gradient steps; cached)."""
        return self._estimated()[0]

    @optimum.setter
    def optimum(self, value: float | None) -> None:
        raise InputError("the optimum of a GP-prior instance is estimated; it cannot be set")


# ----------------------------------------------------------------------------- names


def _check_dim_instance(dim: int, instance: int) -> None:
    if isinstance(dim, bool) or not isinstance(dim, int) or not 1 <= dim <= MAX_DIM:
        raise InputError(f"dimensions must be an integer in 1..{MAX_DIM}, got {dim!r}")
    if isinstance(instance, bool) or not isinstance(instance, int) or instance < 0:
        raise InputError(f"instance must be a non-negative integer, got {instance!r}")


_SYNTH_NAME = re.compile(r"^(?P<function>[a-z][a-z-]*?)-(?P<dim>\d+)d-(?P<instance>\d+)$")
_GP_NAME = re.compile(r"^(?P<dim>\d+)d-(?P<instance>\d+)$")


def _synth(suffix: str) -> SynthTask:
    match = _SYNTH_NAME.match(suffix)
    if match is None:
        raise UnknownNameError(
            f"unknown task 'synth-{suffix}': expected synth-<function>-<d>d-<instance> with "
            f"function one of {', '.join(FUNCTIONS)}, e.g. synth-ackley-6d-3"
        )
    return SynthTask(match["function"], int(match["dim"]), int(match["instance"]))


def _gpprior(suffix: str) -> GPPriorTask:
    match = _GP_NAME.match(suffix)
    if match is None:
        raise UnknownNameError(
            f"unknown task 'gpprior-{suffix}': expected gpprior-<d>d-<instance>, e.g. gpprior-4d-0"
        )
    return GPPriorTask(int(match["dim"]), int(match["instance"]))


TASKS.register(
    "synth-",
    _synth,
    "random shifted/rotated/scaled test function: synth-<function>-<d>d-<instance> (exact optimum)",
    family=True,
)
TASKS.register(
    "gpprior-",
    _gpprior,
    "random function from a GP prior: gpprior-<d>d-<instance> (optimum estimated)",
    family=True,
)
