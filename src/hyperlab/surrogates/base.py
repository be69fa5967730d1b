"""The ``Surrogate`` extension point: a regression model that says how sure it is.

A surrogate learns the map configuration (encoded in ``[0, 1]^d``) -> score from the trials so
far. Public methods check their inputs and transform the targets; subclasses implement
``_fit``/``_predict`` (and optionally ``_sample``) on standardized targets.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

import numpy as np
from scipy.special import ndtri

from hyperlab.errors import InputError, InputTypeError, check_bool

TARGET_TRANSFORMS = ("standardize", "rank", "power")
_POWER_BOUNDS = (-2.0, 2.0)  # range of the Yeo-Johnson exponent
DTYPES = ("float32", "float64")


_CONTROLLER: Any = None


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run linear algebra on one BLAS thread.

    The matrices here are tiny (about 50 x 50); a multi-threaded BLAS on a busy machine makes
    them an order of magnitude slower than one thread.
    """
    global _CONTROLLER
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        yield
        return
    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    with _CONTROLLER.limit(limits=1, user_api="blas"):
        yield


class _TargetMap:
    """Monotone map between raw targets ``y`` and model units ``z`` (about N(0, 1)).

    ``standardize`` is affine. ``rank`` sends the empirical quantiles of ``y`` to normal
    scores (a Gaussian copula, which tames heavy tails) and is piecewise linear between them,
    extended linearly beyond the observed range. ``power`` standardizes, applies the
    Yeo-Johnson power transform (Yeo and Johnson 2000) with the exponent that makes the
    result most Gaussian (maximum likelihood, as in HEBO, Cowen-Rivers et al. 2022), and
    standardizes again: smooth, monotone, and the identity when ``y`` is already symmetric.
    """

    def __init__(self, y: np.ndarray, kind: str) -> None:
        self.kind = kind
        self.mean = float(np.mean(y))
        std = float(np.std(y))
        self.scale = std if std > 1e-12 * max(1.0, abs(self.mean)) else 1.0
        if kind == "power":
            from scipy.stats import yeojohnson_normmax

            u = (y - self.mean) / self.scale
            try:
                lam = float(yeojohnson_normmax(u))
            except (ValueError, FloatingPointError, RuntimeError):
                lam = 1.0
            self.lam = float(np.clip(lam if np.isfinite(lam) else 1.0, *_POWER_BOUNDS))
            v = _yeo_johnson(u, self.lam)
            self.v_mean = float(np.mean(v))
            self.v_scale = max(float(np.std(v)), 1e-12)
            return
        if kind == "rank":
            uniq = np.unique(y)
            if uniq.size < 3:
                self.kind = "standardize"
                return
            ranks = np.searchsorted(np.sort(y), uniq, side="left") + 0.5 * (
                np.searchsorted(np.sort(y), uniq, side="right")
                - np.searchsorted(np.sort(y), uniq, side="left")
            )
            self.y_knots = uniq
            self.z_knots = ndtri(ranks / y.size)
            self.z_knots = (self.z_knots - self.z_knots.mean()) / max(self.z_knots.std(), 1e-12)
            self.y_slopes = (
                (uniq[1] - uniq[0]) / (self.z_knots[1] - self.z_knots[0]),
                (uniq[-1] - uniq[-2]) / (self.z_knots[-1] - self.z_knots[-2]),
            )

    def forward(self, y: np.ndarray) -> np.ndarray:
        if self.kind == "standardize":
            return (y - self.mean) / self.scale
        if self.kind == "power":
            v = _yeo_johnson((y - self.mean) / self.scale, self.lam)
            return (v - self.v_mean) / self.v_scale
        z = np.interp(y, self.y_knots, self.z_knots)
        lo, hi = y < self.y_knots[0], y > self.y_knots[-1]
        z[lo] = self.z_knots[0] + (y[lo] - self.y_knots[0]) / self.y_slopes[0]
        z[hi] = self.z_knots[-1] + (y[hi] - self.y_knots[-1]) / self.y_slopes[1]
        return z

    def inverse(self, z: np.ndarray) -> np.ndarray:
        if self.kind == "standardize":
            return z * self.scale + self.mean
        if self.kind == "power":
            u = _yeo_johnson_inverse(z * self.v_scale + self.v_mean, self.lam)
            return u * self.scale + self.mean
        y = np.interp(z, self.z_knots, self.y_knots)
        lo, hi = z < self.z_knots[0], z > self.z_knots[-1]
        y[lo] = self.y_knots[0] + (z[lo] - self.z_knots[0]) * self.y_slopes[0]
        y[hi] = self.y_knots[-1] + (z[hi] - self.z_knots[-1]) * self.y_slopes[1]
        return y

    def scale_noise(self, noise: np.ndarray) -> np.ndarray:
        """Per-point noise standard deviations in model units (local slope for ``rank``)."""
        if self.kind == "standardize":
            return noise / self.scale
        if self.kind == "power":
            # first-order: the slope of the map at the mean of the targets
            return noise / (self.scale * self.v_scale)
        return noise / max(float(np.std(self.y_knots)), 1e-12)

    def inverse_std(self, mean_z: np.ndarray, std_z: np.ndarray) -> np.ndarray:
        if self.kind == "standardize":
            return std_z * self.scale
        # Delta method with a secant one standard deviation to each side.
        return 0.5 * (self.inverse(mean_z + std_z) - self.inverse(mean_z - std_z))


def _yeo_johnson(x: np.ndarray, lam: float) -> np.ndarray:
    """The Yeo-Johnson transform of ``x`` with exponent ``lam`` (elementwise)."""
    x = np.asarray(x, dtype=float)
    out = np.empty_like(x)
    pos = x >= 0
    if abs(lam) < 1e-8:
        out[pos] = np.log1p(x[pos])
    else:
        out[pos] = (np.power(x[pos] + 1.0, lam) - 1.0) / lam
    if abs(lam - 2.0) < 1e-8:
        out[~pos] = -np.log1p(-x[~pos])
    else:
        out[~pos] = -(np.power(1.0 - x[~pos], 2.0 - lam) - 1.0) / (2.0 - lam)
    return out


def _yeo_johnson_inverse(v: np.ndarray, lam: float) -> np.ndarray:
    """Inverse of :func:`_yeo_johnson`; values beyond the transform's range are clipped."""
    v = np.asarray(v, dtype=float)
    out = np.empty_like(v)
    pos = v >= 0
    if abs(lam) < 1e-8:
        out[pos] = np.expm1(np.minimum(v[pos], 700.0))
    else:
        base = np.maximum(v[pos] * lam + 1.0, 1e-12)
        out[pos] = np.power(base, 1.0 / lam) - 1.0
    if abs(lam - 2.0) < 1e-8:
        out[~pos] = -np.expm1(np.minimum(-v[~pos], 700.0))
    else:
        base = np.maximum(1.0 - (2.0 - lam) * v[~pos], 1e-12)
        out[~pos] = 1.0 - np.power(base, 1.0 / (2.0 - lam))
    return np.nan_to_num(out, nan=0.0, posinf=1e300, neginf=-1e300)


class Surrogate(ABC):
    """Base class of the regression models behind the neural sampler.

    Targets are mapped to model units inside :meth:`fit` and mapped back in :meth:`predict`,
    so callers always see scores in their own units (lower is better for the sampler, but the
    surrogate does not care).

    Args:
        target_transform: ``"standardize"`` (default), ``"rank"`` (normal scores of the
            ranks) or ``"power"`` (Yeo-Johnson, then standardized); the last two tame
            heavy-tailed scores.
        warm_start: When true, a refit on data of the same input dimension continues from the
            previous network instead of a fresh initialization (fewer training steps), and the
            network is retrained only once the data have grown by ``refit_growth`` (a fraction,
            at least one point) since it was last trained; in between only the last layer is
            refit on all data, which is exact for the Bayesian last layer and cheap for all.
        refit_growth: See ``warm_start``; 0 retrains the network on every fit.
        reinit: With ``warm_start``, retrain the network from a fresh initialization (all
            ``steps``) each time the data have grown enough, instead of continuing the
            previous network; the cheap last-layer refits in between are kept. Networks
            trained on and on through many small refits drift to rougher interpolants than a
            fresh fit to the same points (Ash and Adams 2020 saw the same generalization gap
            of warm-started training).
        seed: Seed of the initialization, bootstrap and sampling.
        dtype: ``"float32"`` (default) or ``"float64"`` for the network.

    Attributes:
        n_features_in_: Input dimension ``d`` seen by the last :meth:`fit`.
        n_fits_: Number of fits so far (warm starts count).
    """

    def __init__(
        self,
        *,
        target_transform: str = "standardize",
        warm_start: bool = True,
        refit_growth: float = 0.1,
        reinit: bool = False,
        seed: int | None = None,
        dtype: str = "float32",
    ) -> None:
        self.target_transform = target_transform
        self.warm_start = warm_start
        self.reinit = reinit
        self.refit_growth = refit_growth
        self.seed = seed
        self.dtype = dtype
        self.n_fits_ = 0

    # ----------------------------------------------------------------------------- public
    def fit(self, X: np.ndarray, y: np.ndarray, noise: np.ndarray | None = None) -> Surrogate:
        """Fit the model to ``n`` observations.

        Args:
            X: Inputs of shape ``(n, d)``, finite (usually in ``[0, 1]``).
            y: Targets of shape ``(n,)``, finite.
            noise: Optional known standard deviation of each target, shape ``(n,)``,
                non-negative; added to the noise the model estimates itself.

        Returns:
            ``self``.
        """
        self._check_settings()
        X = _as_matrix(X, "X")
        y = _as_vector(y, "y")
        if X.shape[0] != y.shape[0]:
            raise InputError(f"X has {X.shape[0]} rows but y has {y.shape[0]} entries")
        if X.shape[0] < 1:
            raise InputError("fit needs at least one observation, got 0")
        if noise is not None:
            noise = _as_vector(noise, "noise")
            if noise.shape != y.shape:
                raise InputError(f"noise must have shape {y.shape}, got {noise.shape}")
            if np.any(noise < 0):
                raise InputError(f"noise must be non-negative, got min {noise.min()!r}")
        if not hasattr(self, "_rng"):
            self._rng = np.random.default_rng(self.seed)
        n = X.shape[0]
        mode = "cold"
        if self.warm_start and getattr(self, "n_features_in_", None) == X.shape[1]:
            n_trained = getattr(self, "_n_trained", 0)
            grown = n - n_trained >= max(1.0, float(self.refit_growth) * n_trained)
            mode = "warm" if grown or n < n_trained else "head"
            if mode == "warm" and self.reinit:
                mode = "cold"
        self._target = _TargetMap(y, self.target_transform)
        z = self._target.forward(y)
        noise_z = (
            None if noise is None or not np.any(noise > 0) else self._target.scale_noise(noise)
        )
        with single_threaded_blas():
            self._fit(X, z, noise_z, mode)
        if mode != "head":
            self._n_trained = n
        self.n_features_in_ = X.shape[1]
        self.n_fits_ += 1
        return self

    def predict(self, X: np.ndarray, *, model_units: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Predictive mean and standard deviation.

        Args:
            X: Inputs of shape ``(m, d)``.
            model_units: When true, the Gaussian belief in the units the model was fit in
                (after the target transform; compare with :meth:`to_model_units`) instead
                of its image in the units of the targets.

        Returns:
            ``(mean, std)``, each of shape ``(m,)``, in the units of the targets (or model
            units).
        """
        X = self._check_predict_input(X)
        with single_threaded_blas():
            mean_z, std_z = self._predict(X)
        if model_units:
            return mean_z, std_z
        return self._target.inverse(mean_z), np.maximum(
            self._target.inverse_std(mean_z, std_z), 0.0
        )

    def sample(
        self, X: np.ndarray, n_samples: int = 1, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        """Draw functions from the model's posterior at ``X`` (jointly where the model can).

        Args:
            X: Inputs of shape ``(m, d)``.
            n_samples: Number of draws ``s``.
            rng: Source of randomness (default: the surrogate's own).

        Returns:
            Array of shape ``(s, m)`` in the units of the targets.
        """
        X = self._check_predict_input(X)
        if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
            raise InputError(f"n_samples must be a positive int, got {n_samples!r}")
        with single_threaded_blas():
            draws = self._sample(X, n_samples, rng if rng is not None else self._rng)
        return np.stack([self._target.inverse(d) for d in draws])

    def to_model_units(self, y: np.ndarray) -> np.ndarray:
        """Targets ``(n,)`` in the units the model was fit in (after the target transform)."""
        if not hasattr(self, "_target"):
            raise InputError(f"{type(self).__name__} must be fit first")
        return self._target.forward(_as_vector(y, "y"))

    # ---------------------------------------------------------------------------- private
    @abstractmethod
    def _fit(self, X: np.ndarray, z: np.ndarray, noise: np.ndarray | None, mode: str) -> None:
        """Fit on checked inputs ``(n, d)``, targets ``(n,)`` in model units, noise or None.

        ``mode`` is ``"cold"`` (fresh network), ``"warm"`` (continue training the previous
        network) or ``"head"`` (keep the network, refit only the last layer).
        """

    @abstractmethod
    def _predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std ``(m,)`` in model units at checked inputs ``(m, d)``."""

    def _sample(self, X: np.ndarray, n_samples: int, rng: np.random.Generator) -> np.ndarray:
        """Draws ``(s, m)`` in model units; default: independent normals per point."""
        mean, std = self._predict(X)
        return mean[None, :] + std[None, :] * rng.standard_normal((n_samples, X.shape[0]))

    def _check_settings(self) -> None:
        if self.target_transform not in TARGET_TRANSFORMS:
            raise InputError(
                f"target_transform must be one of {TARGET_TRANSFORMS}, got {self.target_transform!r}"
            )
        if (
            isinstance(self.refit_growth, bool)
            or not isinstance(self.refit_growth, int | float)
            or not 0 <= self.refit_growth
        ):
            raise InputError(
                f"refit_growth must be a non-negative number, got {self.refit_growth!r}"
            )
        if self.dtype not in DTYPES:
            raise InputError(f"dtype must be one of {DTYPES}, got {self.dtype!r}")
        for name in ("warm_start", "reinit"):
            check_bool(name, getattr(self, name))

    def _check_predict_input(self, X: np.ndarray) -> np.ndarray:
        if not hasattr(self, "n_features_in_"):
            raise InputError(f"{type(self).__name__} must be fit before it can predict")
        X = _as_matrix(X, "X")
        if X.shape[1] != self.n_features_in_:
            raise InputError(
                f"X must have {self.n_features_in_} columns like the training data, got {X.shape[1]}"
            )
        return X

    def get_params(self) -> dict[str, Any]:
        """The constructor settings (for records and ``repr``)."""
        return {
            k: v for k, v in vars(self).items() if not k.startswith("_") and not k.endswith("_")
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


def _as_matrix(X: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(X, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputTypeError(f"{name} must be a numeric array, got {type(X).__name__}") from exc
    if arr.ndim != 2:
        raise InputError(f"{name} must have shape (n, d), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} holds non-finite values")
    return arr


def _as_vector(v: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(v, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputTypeError(f"{name} must be a numeric array, got {type(v).__name__}") from exc
    if arr.ndim != 1:
        raise InputError(f"{name} must have shape (n,), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} holds non-finite values")
    return arr
