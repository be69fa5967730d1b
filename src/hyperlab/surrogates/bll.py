"""Bayesian last layer: an MLP feature extractor with Bayesian linear regression on top.

After Snoek et al. 2015 ("Scalable Bayesian Optimization Using Deep Neural Networks", DNGO):
the network is trained by least squares, then its last hidden layer ``phi(x)`` becomes the
basis of a Bayesian linear model ``z = phi(x)^T w + eps`` with prior ``w ~ N(0, I / alpha)``
and noise ``eps ~ N(0, 1 / beta + s_i^2)`` (``s_i`` the known per-point noise, if any). The
two precisions are set by maximizing the marginal likelihood (evidence; MacKay 1992, Bishop
2006 sec. 3.5), so the regression regularizes itself.

The evidence is computed on features that were trained on the very same points. A network
that interpolates its training data leaves no residual, so the evidence sends the noise
precision to its upper bound and the predictive intervals collapse. The surrogate therefore
checks itself out of fold: whenever it trains the network it also trains ``cv_folds`` copies
of the whole pipeline (network + evidence-maximized regression), each without one fold of the
points, in one batched pass, and fits a single noise floor ``t`` by maximizing the Gaussian
likelihood of the held-out points, ``z_i ~ N(mu_-k(i), v_-k(i) + s_i^2 + t)``, under the fold
models' predictions (cross-validated likelihood, as for GP hyperparameters in Sundararajan
and Keerthi 2001). The predictive variance becomes ``phi^T A^-1 phi + 1 / beta + t``: the
out-of-fold estimate of the error the network makes between its points takes the place of
the in-sample noise optimum where that one says "no noise". ``t`` is a maximum-likelihood
estimate, not a hand-set constant, and is 0 when held-out errors are no larger than the
model predicts (then the surrogate is plain DNGO). The floor is additive, not a scale of the
variance, because the epistemic term varies over orders of magnitude between points. It is
one number for the whole space, so where the points cluster (around optima) the far-away
intervals stay narrower than they should be. ``cv_folds=5`` is the usual K-fold choice
(Hastie et al. 2009, sec. 7.10). The cost is ``K`` extra networks, trained in one batch only
when the main network is trained (every ``refit_growth`` of growth).

The network is retrained from a fresh initialization, not continued from the previous one
(``reinit``): continued training through the many small refits of a run drifts to a rougher
interpolant than a fresh fit to the same points (Ash and Adams 2020 describe the same gap for
warm-started training). A retraining fit therefore trains all ``steps`` instead of
``warm_steps``; the last-layer refits in between are unchanged.

The measurements behind these choices are in ``docs/decisions/neural-tuner.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import minimize, minimize_scalar

from hyperlab.errors import InputError
from hyperlab.surrogates._mlp import (
    ACTIVATIONS,
    TORCH_DTYPES,
    BatchedMLP,
    torch_generator,
    train,
)
from hyperlab.surrogates.base import Surrogate

# Bounds of log alpha (prior precision) and log beta (noise precision) in model units.
_LOG_ALPHA_BOUNDS = (math.log(1e-4), math.log(1e4))
_LOG_BETA_BOUNDS = (math.log(1e-2), math.log(1e7))
# Search range of the log noise floor (model units: the targets have unit variance).
_LOG_FLOOR_BOUNDS = (math.log(1e-10), math.log(1e2))


@dataclass
class _Posterior:
    """Posterior ``N(m, A^-1)`` of the last-layer weights and the precisions behind it."""

    alpha: float
    beta: float
    m: np.ndarray  # (D,)
    A_inv: np.ndarray  # (D, D)
    log_evidence: float

    def predict(self, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and variance ``(m,)`` (noise ``1 / beta`` included) at features ``(m, D)``."""
        var = np.sum((phi @ self.A_inv) * phi, axis=1) + 1.0 / self.beta
        return phi @ self.m, np.maximum(var, 1e-12)


class BayesianLastLayer(Surrogate):
    """DNGO-style surrogate (Snoek et al. 2015), recalibrated out of fold.

    Args:
        width: Hidden units per layer (DNGO uses 50).
        depth: Hidden layers (DNGO uses 3).
        steps: Adam steps of a fit from scratch.
        warm_steps: Adam steps of a warm-started refit.
        lr: Adam learning rate.
        weight_decay: L2 penalty of the feature network.
        cv_folds: Folds of the out-of-fold variance calibration (see the module docstring);
            0 or 1 turns it off (plain DNGO: the in-sample evidence alone). The calibration
            is redone whenever the network is trained; refits of the last layer alone keep it.
            With fewer than ``2 * cv_folds`` points every point is its own fold.
        activation: Hidden unit: ``"tanh"`` (default, as DNGO), ``"silu"`` or ``"relu"``.
        reinit: Retrain the network from a fresh initialization whenever it is retrained
            (default; see the module docstring); the last-layer refits in between are kept.
        **kwargs: ``target_transform``, ``warm_start``, ``refit_growth``, ``seed``, ``dtype`` (see
            :class:`~hyperlab.surrogates.base.Surrogate`).

    Attributes:
        alpha_: Prior precision of the last-layer weights chosen by the evidence.
        beta_: Noise precision chosen by the evidence (model units).
        noise_floor_: Out-of-fold maximum-likelihood variance added to every prediction (model
            units; 0 when the calibration is off or finds nothing to add).
        noise_std_: Estimated noise standard deviation in the units of the targets,
            ``sqrt(1 / beta_ + noise_floor_)`` in model units.
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
        cv_folds: int = 5,
        activation: str = "tanh",
        target_transform: str = "standardize",
        warm_start: bool = True,
        refit_growth: float = 0.1,
        reinit: bool = True,
        seed: int | None = None,
        dtype: str = "float32",
    ) -> None:
        super().__init__(
            target_transform=target_transform,
            warm_start=warm_start,
            refit_growth=refit_growth,
            reinit=reinit,
            seed=seed,
            dtype=dtype,
        )
        self.width = width
        self.depth = depth
        self.steps = steps
        self.warm_steps = warm_steps
        self.lr = lr
        self.weight_decay = weight_decay
        self.cv_folds = cv_folds
        self.activation = activation

    def _fit(self, X: np.ndarray, z: np.ndarray, noise: np.ndarray | None, mode: str) -> None:
        for name in ("width", "depth", "steps", "warm_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be a positive int, got {value!r}")
        if self.activation not in ACTIVATIONS:
            raise InputError(
                f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}"
            )
        folds = self.cv_folds
        if isinstance(folds, bool) or not isinstance(folds, int) or folds < 0:
            raise InputError(f"cv_folds must be a non-negative int, got {folds!r}")
        if mode == "cold" or not hasattr(self, "_net"):
            self._net = self._new_net(1, X.shape[1])
            steps = self.steps
        else:
            steps = self.warm_steps if mode == "warm" else 0
        w = np.ones((1, X.shape[0])) if noise is None else 1.0 / (1.0 + noise[None, :] ** 2)
        if steps:
            train(self._net, X, z, w, steps=steps, lr=self.lr, weight_decay=self.weight_decay)
            self.noise_floor_ = self._calibrate(X, z, noise, w[0], steps)
        elif not hasattr(self, "noise_floor_"):
            self.noise_floor_ = 0.0
        self._post = _evidence_posterior(self._features(X), z, noise)
        self.alpha_, self.beta_ = self._post.alpha, self._post.beta
        self.log_evidence_ = self._post.log_evidence
        self.noise_std_ = float(
            self._target.inverse_std(
                np.zeros(1), np.array([math.sqrt(1.0 / self.beta_ + self.noise_floor_)])
            )[0]
        )

    def _new_net(self, members: int, d_in: int) -> BatchedMLP:
        return BatchedMLP(
            members,
            d_in,
            self.width,
            self.depth,
            1,
            TORCH_DTYPES[self.dtype],
            torch_generator(self._rng),
            self.activation,
        )

    def _calibrate(
        self, X: np.ndarray, z: np.ndarray, noise: np.ndarray | None, w: np.ndarray, steps: int
    ) -> float:
        """Out-of-fold maximum-likelihood noise floor of the whole pipeline (model units).

        Fold ``k`` holds the points with index ``i % K == k``; the ``K`` fold networks are
        trained in one batched pass (warm-started from the previous fold networks when the
        main network is), each with its fold's points weighted zero.
        """
        n = X.shape[0]
        K = min(self.cv_folds, n) if n >= 4 else 0
        if K < 2:
            return 0.0
        fold = np.arange(n) % K
        mask = (fold[None, :] != np.arange(K)[:, None]).astype(float)  # (K, n)
        prev = getattr(self, "_fold_net", None)
        if prev is None or steps == self.steps or prev.out_w.shape[0] != K:
            self._fold_net, fold_steps = self._new_net(K, X.shape[1]), self.steps
        else:
            fold_steps = steps
        train(
            self._fold_net,
            X,
            z,
            mask * w[None, :],
            steps=fold_steps,
            lr=self.lr,
            weight_decay=self.weight_decay,
        )
        with torch.no_grad():
            feats = self._fold_net.features(torch.as_tensor(X, dtype=TORCH_DTYPES[self.dtype]))
        phi_all = _with_bias(feats.numpy().astype(np.float64))  # (K, n, D)
        mu, var = np.empty(n), np.empty(n)
        for k in range(K):
            train_k, held = fold != k, fold == k
            post = _evidence_posterior(
                phi_all[k][train_k], z[train_k], None if noise is None else noise[train_k]
            )
            mu[held], var[held] = post.predict(phi_all[k][held])
        known = np.zeros(n) if noise is None else noise**2
        return _noise_floor(z - mu, var + known)

    def _features(self, X: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            h = self._net.features(torch.as_tensor(X, dtype=TORCH_DTYPES[self.dtype]))[0]
        return _with_bias(h.numpy().astype(np.float64))

    def _predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean, var = self._post.predict(self._features(X))
        return mean, np.sqrt(var + self.noise_floor_)

    def _sample(self, X: np.ndarray, n_samples: int, rng: np.random.Generator) -> np.ndarray:
        # Draws of the regression function phi^T w (no noise, no floor: smooth functions).
        phi = self._features(X)
        D = self._post.A_inv.shape[0]
        chol = np.linalg.cholesky(self._post.A_inv + 1e-10 * np.eye(D))
        w = self._post.m[None, :] + rng.standard_normal((n_samples, D)) @ chol.T
        return w @ phi.T


def _evidence_posterior(phi: np.ndarray, z: np.ndarray, noise: np.ndarray | None) -> _Posterior:
    """Bayesian linear regression of ``z`` ``(n,)`` on ``phi`` ``(n, D)`` at the evidence optimum.

    ``theta = (log alpha, log beta)``: a coarse grid finds the basin, L-BFGS-B polishes it.
    """
    n, D = phi.shape
    with_grad: Callable[[np.ndarray], tuple[float, np.ndarray]] | None = None
    if noise is None:
        with_grad = _neg_log_evidence(phi, z)
        neg_log_ev = _value_only(with_grad)
    else:
        neg_log_ev = _neg_log_evidence_noisy(phi, z, noise)
    grid = [
        (a, b_)
        for a in np.linspace(*_LOG_ALPHA_BOUNDS, 5)
        for b_ in np.linspace(*_LOG_BETA_BOUNDS, 7)
    ]
    start = min(grid, key=lambda t: neg_log_ev(np.array(t)))
    res = minimize(
        with_grad if with_grad is not None else neg_log_ev,
        np.array(start),
        jac=with_grad is not None,
        method="L-BFGS-B",
        bounds=[_LOG_ALPHA_BOUNDS, _LOG_BETA_BOUNDS],
    )
    theta = res.x if np.isfinite(res.fun) else np.array(start)
    alpha, beta = math.exp(theta[0]), math.exp(theta[1])
    w = np.full(n, beta) if noise is None else 1.0 / (1.0 / beta + noise**2)
    A = alpha * np.eye(D) + (phi.T * w) @ phi
    A_inv = np.linalg.inv(A)
    A_inv = 0.5 * (A_inv + A_inv.T)
    m = A_inv @ (phi.T @ (w * z))
    return _Posterior(alpha, beta, m, A_inv, -float(neg_log_ev(theta)))


def _neg_log_evidence(
    phi: np.ndarray, z: np.ndarray
) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """Negative log evidence and its gradient in ``theta`` with a shared noise precision.

    One eigendecomposition of ``phi^T phi`` makes each evaluation ``O(D)`` (Bishop 2006,
    eq. 3.86); the gradient uses that the posterior mean minimizes the energy.
    """
    n, D = phi.shape
    lam, V = np.linalg.eigh(phi.T @ phi)
    lam = np.clip(lam, 0.0, None)
    b = V.T @ (phi.T @ z)
    zz = float(z @ z)

    def neg_log_ev_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
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

    return neg_log_ev_grad


def _value_only(
    f: Callable[[np.ndarray], tuple[float, np.ndarray]],
) -> Callable[[np.ndarray], float]:
    def value(theta: np.ndarray) -> float:
        return f(theta)[0]

    return value


def _neg_log_evidence_noisy(
    phi: np.ndarray, z: np.ndarray, noise: np.ndarray
) -> Callable[[np.ndarray], float]:
    """Negative log evidence in ``theta`` when point ``i`` has noise variance
    ``1 / beta + noise_i^2`` (one Cholesky factorization per evaluation)."""
    n, D = phi.shape
    s2 = noise**2

    def neg_log_ev(theta: np.ndarray) -> float:
        alpha, beta = math.exp(theta[0]), math.exp(theta[1])
        w = 1.0 / (1.0 / beta + s2)
        A = alpha * np.eye(D) + (phi.T * w) @ phi
        L = np.linalg.cholesky(A)
        m = np.linalg.solve(A, phi.T @ (w * z))
        r = z - phi @ m
        energy = 0.5 * (alpha * (m @ m) + np.sum(w * r * r))
        return -float(
            0.5 * D * theta[0]
            + 0.5 * np.sum(np.log(w))
            - energy
            - np.sum(np.log(np.diag(L)))
            - 0.5 * n * math.log(2 * math.pi)
        )

    return neg_log_ev


def _with_bias(h: np.ndarray) -> np.ndarray:
    """Append a constant feature: ``(..., n, width)`` -> ``(..., n, width + 1)``."""
    return np.concatenate([h, np.ones((*h.shape[:-1], 1))], axis=-1)


def _noise_floor(resid: np.ndarray, var: np.ndarray) -> float:
    """Maximum-likelihood ``t >= 0`` of ``resid_i ~ N(0, var_i + t)``, shapes ``(n,)``."""

    def neg_log_lik(log_t: float) -> float:
        total = var + math.exp(log_t)
        return float(0.5 * np.sum(np.log(total) + resid**2 / total))

    res = minimize_scalar(neg_log_lik, bounds=_LOG_FLOOR_BOUNDS, method="bounded")
    # The lower bound stands for zero: held-out residuals no larger than the model expects.
    return 0.0 if res.x <= _LOG_FLOOR_BOUNDS[0] + 1e-3 else float(math.exp(res.x))
