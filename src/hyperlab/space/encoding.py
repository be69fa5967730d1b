"""Encode Optuna search spaces as points of the unit cube ``[0, 1]^d`` and back.

Floats and ints map to one column each (log-scaled ones on a log axis); a categorical with
``k`` choices maps to ``k`` one-hot columns. Ints and stepped floats own a cell of width
``1 / n_values`` around each admissible value, so a uniform point of the cube decodes to a
uniform admissible value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from scipy.stats import qmc

from hyperlab.errors import InputError, InputTypeError


@dataclass(frozen=True)
class _Column:
    """How one parameter maps to its columns of the encoding."""

    name: str
    dist: BaseDistribution
    start: int
    width: int
    lo: float  # numeric: lower end of the (log) axis, cell-widened for ints/steps
    hi: float  # numeric: upper end of the (log) axis
    log: bool
    step: float | None  # grid step on the value axis (ints: their step; floats: step or None)
    categorical: bool


def _numeric_column(name: str, dist: IntDistribution | FloatDistribution, start: int) -> _Column:
    low, high = float(dist.low), float(dist.high)
    is_int = isinstance(dist, IntDistribution)
    step = float(dist.step) if (is_int or dist.step is not None) else None  # type: ignore[arg-type]
    if dist.log:
        if step is not None:  # log ints: cells are half an integer wide on each side
            lo, hi = math.log(low - 0.5 * min(step, low) * 0.999), math.log(high + 0.5 * step)
        else:
            lo, hi = math.log(low), math.log(high)
        return _Column(name, dist, start, 1, lo, hi, True, step, False)
    if step is not None:
        lo, hi = low - 0.5 * step, high + 0.5 * step
    else:
        lo, hi = low, high
    return _Column(name, dist, start, 1, lo, hi, False, step, False)


class SpaceEncoder:
    """Map configurations of an Optuna search space to ``[0, 1]^d`` and back.

    Args:
        distributions: Parameter name -> Optuna distribution (float, int or categorical).

    Attributes:
        dim: Number of columns ``d`` of the encoding.
        names: Parameter names in column order.
    """

    def __init__(self, distributions: dict[str, BaseDistribution]) -> None:
        if not isinstance(distributions, dict):
            raise InputTypeError(
                f"distributions must be a dict of name -> distribution, got {distributions!r}"
            )
        self.distributions = dict(distributions)
        self._columns: list[_Column] = []
        start = 0
        for name in sorted(self.distributions):
            dist = self.distributions[name]
            if isinstance(dist, CategoricalDistribution):
                col = _Column(name, dist, start, len(dist.choices), 0.0, 1.0, False, None, True)
            elif isinstance(dist, IntDistribution | FloatDistribution):
                col = _numeric_column(name, dist, start)
            else:
                raise InputTypeError(f"unsupported distribution {dist!r} for parameter {name!r}")
            self._columns.append(col)
            start += col.width
        self.dim = start
        self.names = [c.name for c in self._columns]

    # ----------------------------------------------------------------------------- public
    def encode(self, params_list: list[dict[str, Any]]) -> np.ndarray:
        """Encode configurations.

        Args:
            params_list: ``n`` dicts holding a value for every parameter of the space.

        Returns:
            Array of shape ``(n, dim)`` with entries in ``[0, 1]``.
        """
        if not isinstance(params_list, list | tuple):
            raise InputTypeError(f"params_list must be a list of dicts, got {params_list!r}")
        out = np.zeros((len(params_list), self.dim))
        for i, params in enumerate(params_list):
            if not isinstance(params, dict):
                raise InputTypeError(f"each configuration must be a dict, got {params!r}")
            for col in self._columns:
                if col.name not in params:
                    raise InputError(f"configuration {params!r} lacks parameter {col.name!r}")
                self._encode_one(col, params[col.name], out[i])
        return out

    def decode(self, X: np.ndarray) -> list[dict[str, Any]]:
        """Decode points of the cube into admissible configurations.

        Args:
            X: Array of shape ``(n, dim)``; values outside ``[0, 1]`` are clipped.

        Returns:
            ``n`` dicts of parameter values (ints as ``int``, categoricals as the choice).
        """
        X = self._check(X)
        out: list[dict[str, Any]] = [{} for _ in range(X.shape[0])]
        for col in self._columns:
            block = X[:, col.start : col.start + col.width]
            if col.categorical:
                choices = col.dist.choices  # type: ignore[attr-defined]
                for i, idx in enumerate(np.argmax(block, axis=1)):
                    out[i][col.name] = choices[int(idx)]
            else:
                values = self._numeric_values(col, block[:, 0])
                is_int = isinstance(col.dist, IntDistribution)
                for i, v in enumerate(values):
                    out[i][col.name] = int(np.rint(v)) if is_int else float(v)
        return out

    def snap(self, X: np.ndarray) -> np.ndarray:
        """Move points to the encoding of the nearest admissible configuration (vectorized).

        Args:
            X: Array of shape ``(n, dim)``.

        Returns:
            Array of shape ``(n, dim)``: ``encode(decode(X))`` without the Python loop.
        """
        X = self._check(X)
        out = np.empty_like(X)
        for col in self._columns:
            sl = slice(col.start, col.start + col.width)
            if col.categorical:
                one_hot = np.zeros((X.shape[0], col.width))
                one_hot[np.arange(X.shape[0]), np.argmax(X[:, sl], axis=1)] = 1.0
                out[:, sl] = one_hot
            else:
                out[:, col.start] = self._numeric_codes(
                    col, self._numeric_values(col, X[:, col.start])
                )
        return out

    def random(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` admissible points drawn uniformly on the encoded axes, shape ``(n, dim)``."""
        return self.snap(rng.random((n, self.dim)))

    def latin_hypercube(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` admissible points, one per ``1/n`` stratum of every parameter (a Latin
        hypercube, McKay et al. 1979): each numeric parameter's axis is cut into ``n`` equal
        strata and each holds one point; a categorical parameter's choices are used as evenly
        as ``n`` allows. Shape ``(n, dim)``."""
        u = qmc.LatinHypercube(d=len(self._columns), seed=rng).random(n)
        out = np.zeros((n, self.dim))
        for j, col in enumerate(self._columns):
            if col.categorical:
                pick = np.minimum((u[:, j] * col.width).astype(int), col.width - 1)
                out[np.arange(n), col.start + pick] = 1.0
            else:
                out[:, col.start] = u[:, j]
        return self.snap(out)

    @property
    def categorical_blocks(self) -> list[tuple[int, int]]:
        """``(start, width)`` of each categorical parameter's one-hot block."""
        return [(c.start, c.width) for c in self._columns if c.categorical]

    @property
    def numeric_columns(self) -> list[int]:
        """Indices of the columns of numeric (float/int) parameters."""
        return [c.start for c in self._columns if not c.categorical]

    # ---------------------------------------------------------------------------- private
    def _check(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != self.dim:
            raise InputError(f"X must have shape (n, {self.dim}), got {X.shape}")
        if not np.all(np.isfinite(X)):
            raise InputError("X holds non-finite values")
        return np.clip(X, 0.0, 1.0)

    def _encode_one(self, col: _Column, value: Any, row: np.ndarray) -> None:
        if col.categorical:
            try:
                idx = col.dist.to_internal_repr(value)  # type: ignore[arg-type]
            except ValueError as exc:
                raise InputError(f"{value!r} is not a choice of parameter {col.name!r}") from exc
            row[col.start + int(idx)] = 1.0
            return
        try:
            v = float(value)
        except (TypeError, ValueError) as exc:
            raise InputTypeError(f"parameter {col.name!r} must be numeric, got {value!r}") from exc
        if not col.dist._contains(v):  # type: ignore[attr-defined]
            raise InputError(f"value {value!r} is outside the range of parameter {col.name!r}")
        row[col.start] = float(self._numeric_codes(col, np.array([v]))[0])

    @staticmethod
    def _numeric_codes(col: _Column, values: np.ndarray) -> np.ndarray:
        if col.hi <= col.lo:
            return np.full(values.shape, 0.5)
        axis = np.log(values) if col.log else values
        return np.clip((axis - col.lo) / (col.hi - col.lo), 0.0, 1.0)

    @staticmethod
    def _numeric_values(col: _Column, codes: np.ndarray) -> np.ndarray:
        dist = col.dist
        low, high = float(dist.low), float(dist.high)  # type: ignore[attr-defined]
        if col.hi <= col.lo:
            return np.full(codes.shape, low)
        axis = col.lo + np.clip(codes, 0.0, 1.0) * (col.hi - col.lo)
        values = np.exp(axis) if col.log else axis
        if col.step is not None:
            values = low + np.round((values - low) / col.step) * col.step
        return np.clip(values, low, high)
