"""Bayesian last layer: an MLP feature extractor with Bayesian linear regression on top.

After Snoek et al. 2015 ("Scalable Bayesian Optimization Using Deep Neural Networks", DNGO):
the network is trained by least squares, then its last hidden layer ``phi(x)`` becomes the
basis of a Bayesian linear model ``z = phi(x)^T w + eps`` with prior ``w ~ N(0, I / alpha)``
and noise ``eps ~ N(0, 1 / beta + s_i^2)`` (``s_i`` the known per-point noise, if any). The
two precisions are set by maximizing the marginal likelihood (evidence; MacKay 1992, Bishop
2006 sec. 3.5), so the regression regularizes itself.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.optimize import minimize

from hyperlab.errors import InputError
from hyperlab.surrogates._mlp import TORCH_DTYPES, BatchedMLP, torch_generator, train
from hyperlab.surrogates.base import Surrogate

# Bounds of log alpha (prior precision) and log beta (noise precision) in model units.
_LOG_ALPHA_BOUNDS = (math.log(1e-4), math.log(1e4))
_LOG_BETA_BOUNDS = (math.log(1e-2), math.log(1e7))


class BayesianLastLayer(Surrogate):
    """DNGO-style surrogate (Snoek et al. 2015).

    Args:
        width: Hidden units per layer (DNGO uses 50).
        depth: Hidden layers (DNGO uses 3).
        steps: Adam steps of a fit from scratch.
        warm_steps: Adam steps of a warm-started refit.
        lr: Adam learning rate.
        weight_decay: L2 penalty of the feature network.
        **kwargs: ``target_transform``, ``warm_start``, ``refit_growth``, ``seed``, ``dtype`` (see
            :class:`~hyperlab.surrogates.base.Surrogate`).

    Attributes:
        alpha_: Prior precision of the last-layer weights chosen by the evidence.
        beta_: Noise precision chosen by the evidence (model units).
        noise_std_: Estimated noise standard deviation in the units of the targets.
        log_evidence_: Log marginal likelihood at the optimum (model units).
    """

    _net: BatchedMLP

    def __init__(
        self,
        *,
        width: int = 50,
        depth: int = 2,
        steps: int = 400,
        warm_steps: int = 100,
        lr: float = 0.01,
        weight_decay: float = 1e-4,
        target_transform: str = "standardize",
        warm_start: bool = True,
        refit_growth: float = 0.1,
        seed: int | None = None,
        dtype: str = "float32",
    ) -> None:
        super().__init__(
            target_transform=target_transform,
            warm_start=warm_start,
            refit_growth=refit_growth,
            seed=seed,
            dtype=dtype,
        )
        self.width = width
        self.depth = depth
        self.steps = steps
        self.warm_steps = warm_steps
        self.lr = lr
        self.weight_decay = weight_decay

    def _fit(self, X: np.ndarray, z: np.ndarray, noise: np.ndarray | None, mode: str) -> None:
        for name in ("width", "depth", "steps", "warm_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be a positive int, got {value!r}")
        if mode == "cold" or not hasattr(self, "_net"):
            self._net = BatchedMLP(
                1,
                X.shape[1],
                self.width,
                self.depth,
                1,
                TORCH_DTYPES[self.dtype],
                torch_generator(self._rng),
            )
            steps = self.steps
        else:
            steps = self.warm_steps if mode == "warm" else 0
        if steps:
            w = np.ones((1, X.shape[0])) if noise is None else 1.0 / (1.0 + noise[None, :] ** 2)
            train(self._net, X, z, w, steps=steps, lr=self.lr, weight_decay=self.weight_decay)
        phi = self._features(X)
        self._fit_linear(phi, z, noise)

    def _features(self, X: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            h = self._net.features(torch.as_tensor(X, dtype=TORCH_DTYPES[self.dtype]))[0]
        h64 = h.numpy().astype(np.float64)
        return np.hstack([h64, np.ones((X.shape[0], 1))])

    def _fit_linear(self, phi: np.ndarray, z: np.ndarray, noise: np.ndarray | None) -> None:
        n, D = phi.shape
        if noise is None:
            lam, V = np.linalg.eigh(phi.T @ phi)
            lam = np.clip(lam, 0.0, None)
            b = V.T @ (phi.T @ z)
            zz = float(z @ z)

            def neg_log_ev_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
                # Bishop 2006, eq. 3.86; the gradient uses that m minimizes the energy.
                alpha, beta = math.exp(theta[0]), math.exp(theta[1])
                s = alpha + beta * lam
                m = beta * b / s
                mm = float(m @ m)
                rr = max(zz - 2 * float(m @ b) + float((lam * m) @ m), 0.0)
                value = (
                    0.5 * D * theta[0]
                    + 0.5 * n * theta[1]
                    - 0.5 * beta * rr
                    - 0.5 * alpha * mm
                    - 0.5 * float(np.sum(np.log(s)))
                    - 0.5 * n * math.log(2 * math.pi)
                )
                d_alpha = 0.5 * D - 0.5 * alpha * mm - 0.5 * alpha * float(np.sum(1.0 / s))
                d_beta = 0.5 * n - 0.5 * beta * rr - 0.5 * beta * float(np.sum(lam / s))
                return -value, -np.array([d_alpha, d_beta])

            def neg_log_ev(theta: np.ndarray) -> float:
                return neg_log_ev_grad(theta)[0]

            jac = True

        else:
            s2 = noise**2
            jac = False

            def neg_log_ev(theta: np.ndarray) -> float:
                alpha, beta = math.exp(theta[0]), math.exp(theta[1])
                w = 1.0 / (1.0 / beta + s2)
                A = alpha * np.eye(D) + (phi.T * w) @ phi
                L = np.linalg.cholesky(A)
                m = np.linalg.solve(A, phi.T @ (w * z))
                r = z - phi @ m
                energy = 0.5 * (alpha * (m @ m) + np.sum(w * r * r))
                return -(
                    0.5 * D * theta[0]
                    + 0.5 * np.sum(np.log(w))
                    - energy
                    - np.sum(np.log(np.diag(L)))
                    - 0.5 * n * math.log(2 * math.pi)
                )

        # A coarse grid finds the basin, L-BFGS-B polishes it.
        grid = [
            (a, b_)
            for a in np.linspace(*_LOG_ALPHA_BOUNDS, 5)
            for b_ in np.linspace(*_LOG_BETA_BOUNDS, 7)
        ]
        start = min(grid, key=lambda t: neg_log_ev(np.array(t)))
        res = minimize(
            neg_log_ev_grad if jac else neg_log_ev,
            np.array(start),
            jac=jac,
            method="L-BFGS-B",
            bounds=[_LOG_ALPHA_BOUNDS, _LOG_BETA_BOUNDS],
        )
        theta = res.x if np.isfinite(res.fun) else np.array(start)
        self.alpha_, self.beta_ = math.exp(theta[0]), math.exp(theta[1])
        self.log_evidence_ = -float(neg_log_ev(theta))
        w = np.full(n, self.beta_) if noise is None else 1.0 / (1.0 / self.beta_ + noise**2)
        A = self.alpha_ * np.eye(D) + (phi.T * w) @ phi
        self._A_inv = np.linalg.inv(A)
        self._A_inv = 0.5 * (self._A_inv + self._A_inv.T)
        self._m = self._A_inv @ (phi.T @ (w * z))
        self.noise_std_ = float(
            self._target.inverse_std(np.zeros(1), np.array([self.beta_**-0.5]))[0]
        )

    def _predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        phi = self._features(X)
        mean = phi @ self._m
        var = np.sum((phi @ self._A_inv) * phi, axis=1) + 1.0 / self.beta_
        return mean, np.sqrt(np.maximum(var, 1e-12))

    def _sample(self, X: np.ndarray, n_samples: int, rng: np.random.Generator) -> np.ndarray:
        phi = self._features(X)
        D = self._A_inv.shape[0]
        chol = np.linalg.cholesky(self._A_inv + 1e-10 * np.eye(D))
        w = self._m[None, :] + rng.standard_normal((n_samples, D)) @ chol.T
        return w @ phi.T
