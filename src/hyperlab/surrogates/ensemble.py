"""Deep ensemble: ``M`` small MLPs from different initializations and bootstrap resamples.

After Lakshminarayanan et al. 2017 ("Simple and Scalable Predictive Uncertainty Estimation
using Deep Ensembles"). The prediction is the mixture of the members: its mean is the members'
mean, its variance their spread plus the noise (each member's predicted variance when
``predict_variance`` is on, else the out-of-bag residual variance of the ensemble mean, which
the bootstrap gives for free; Breiman 1996).
"""

from __future__ import annotations

import numpy as np
import torch

from hyperlab.errors import InputError
from hyperlab.surrogates._mlp import TORCH_DTYPES, BatchedMLP, torch_generator, train
from hyperlab.surrogates.base import Surrogate


class DeepEnsemble(Surrogate):
    """Ensemble of small MLPs trained together in one batched pass.

    Args:
        n_members: Number of networks ``M``.
        width: Hidden units per layer.
        depth: Hidden layers.
        steps: Adam steps of a fit from scratch.
        warm_steps: Adam steps of a warm-started refit.
        lr: Adam learning rate.
        weight_decay: L2 penalty.
        bootstrap: Train each member on a bootstrap resample (as multinomial weights).
        predict_variance: Each member also predicts a variance (Gaussian NLL training).
        **kwargs: ``target_transform``, ``warm_start``, ``refit_growth``, ``reinit`` (off by
            default), ``seed``, ``dtype`` (see
            :class:`~hyperlab.surrogates.base.Surrogate`).

    Attributes:
        noise_std_: Estimated noise standard deviation in the units of the targets.
    """

    _net: BatchedMLP

    def __init__(
        self,
        *,
        n_members: int = 5,
        width: int = 50,
        depth: int = 2,
        steps: int = 400,
        warm_steps: int = 100,
        lr: float = 0.01,
        weight_decay: float = 1e-4,
        bootstrap: bool = True,
        predict_variance: bool = False,
        target_transform: str = "standardize",
        warm_start: bool = True,
        refit_growth: float = 0.1,
        reinit: bool = False,
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
        self.n_members = n_members
        self.width = width
        self.depth = depth
        self.steps = steps
        self.warm_steps = warm_steps
        self.lr = lr
        self.weight_decay = weight_decay
        self.bootstrap = bootstrap
        self.predict_variance = predict_variance

    def _fit(self, X: np.ndarray, z: np.ndarray, noise: np.ndarray | None, mode: str) -> None:
        for name in ("n_members", "width", "depth", "steps", "warm_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be a positive int, got {value!r}")
        n, M = X.shape[0], self.n_members
        d_out = 2 if self.predict_variance else 1
        if mode == "cold" or not hasattr(self, "_net") or self._net.out_w.shape[-1] != d_out:
            self._net = BatchedMLP(
                M,
                X.shape[1],
                self.width,
                self.depth,
                d_out,
                TORCH_DTYPES[self.dtype],
                torch_generator(self._rng),
            )
            steps = self.steps
        else:
            steps = self.warm_steps if mode == "warm" else 0
        if self.bootstrap and n > 1:
            counts = self._rng.multinomial(n, np.full(n, 1.0 / n), size=M).astype(float)
        else:
            counts = np.ones((M, n))
        weights = counts if noise is None else counts / (1.0 + noise[None, :] ** 2)
        if steps:
            train(
                self._net,
                X,
                z,
                weights,
                steps=steps,
                lr=self.lr,
                weight_decay=self.weight_decay,
                gaussian_nll=self.predict_variance,
            )
        else:
            self._refit_heads(X, z, weights)
        # Out-of-bag residuals estimate the noise the members cannot explain.
        mean_m, _ = self._members(X)
        oob = counts == 0
        has_oob = oob.any(axis=0)
        if self.bootstrap and has_oob.sum() >= 2:
            pred = (mean_m * oob).sum(axis=0)[has_oob] / oob.sum(axis=0)[has_oob]
            resid = z[has_oob] - pred
        else:
            resid = z - mean_m.mean(axis=0)
        self._noise_var = float(np.clip(np.mean(resid**2), 1e-6, 10.0))
        self.noise_std_ = float(
            self._target.inverse_std(np.zeros(1), np.array([np.sqrt(self._noise_var)]))[0]
        )

    def _refit_heads(self, X: np.ndarray, z: np.ndarray, weights: np.ndarray) -> None:
        """Weighted ridge regression of each member's mean output on its last hidden layer."""
        with torch.no_grad():
            feats = self._net.features(torch.as_tensor(X, dtype=TORCH_DTYPES[self.dtype]))
            phi = feats.numpy().astype(np.float64)  # (M, n, width)
            for m in range(phi.shape[0]):
                design = np.hstack([phi[m], np.ones((phi.shape[1], 1))])
                w = weights[m]
                gram = (design.T * w) @ design + 1e-3 * w.sum() * np.eye(design.shape[1])
                coef = np.linalg.solve(gram, design.T @ (w * z))
                dtype = self._net.out_w.dtype
                self._net.out_w[m, :, 0] = torch.as_tensor(coef[:-1], dtype=dtype)
                self._net.out_b[m, 0, 0] = torch.as_tensor(coef[-1], dtype=dtype)

    def _members(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        with torch.no_grad():
            out = self._net(torch.as_tensor(X, dtype=TORCH_DTYPES[self.dtype]))
        out64 = out.numpy().astype(np.float64)
        if self.predict_variance:
            return out64[..., 0], np.exp(np.clip(out64[..., 1], -10.0, 5.0))
        return out64[..., 0], None

    def _predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean_m, var_m = self._members(X)
        mean = mean_m.mean(axis=0)
        spread = mean_m.var(axis=0)
        noise = var_m.mean(axis=0) if var_m is not None else self._noise_var
        return mean, np.sqrt(spread + noise)

    def _sample(self, X: np.ndarray, n_samples: int, rng: np.random.Generator) -> np.ndarray:
        # A posterior draw is one member's function (a joint sample over X).
        mean_m, _ = self._members(X)
        return mean_m[rng.integers(0, mean_m.shape[0], size=n_samples)]
