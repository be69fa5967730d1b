"""Synthetic learning curves with one clear problem each (shared by the diagnose tests)."""

from __future__ import annotations

import numpy as np


def good_fit(n: int = 40) -> dict[str, list[float]]:
    t = np.arange(n) / n * 40
    tr = 2.0 * np.exp(-t / 5) + 0.05
    va = 2.0 * np.exp(-t / 5) + 0.12
    return {"train_loss": tr.tolist(), "val_loss": va.tolist()}


def overfitting(n: int = 40) -> dict[str, list[float]]:
    t = np.arange(n) / n * 40
    tr = 2.0 * np.exp(-t / 5) + 0.05 * np.exp(-t / 15)
    va = 2.0 * np.exp(-t / 5) + 0.1 + 0.004 * np.maximum(t - 12, 0) ** 1.3
    return {"train_loss": tr.tolist(), "val_loss": va.tolist()}


def underfitting(n: int = 40) -> dict[str, list[float]]:
    t = np.arange(n) / n * 40
    tr = 0.6 + 0.5 * np.exp(-t / 3)
    va = 0.63 + 0.5 * np.exp(-t / 3)
    return {
        "train_loss": tr.tolist(),
        "val_loss": va.tolist(),
        "train_metric": (0.7 - 0.3 * np.exp(-t / 3)).tolist(),
        "val_metric": (0.68 - 0.3 * np.exp(-t / 3)).tolist(),
    }


def lr_too_high(n: int = 40) -> dict[str, list[float]]:
    t = np.arange(n)
    rng = np.random.default_rng(0)
    tr = 1.0 + 0.02 * t + 0.4 * np.abs(rng.standard_normal(n))
    va = 1.1 + 0.03 * t + 0.4 * np.abs(rng.standard_normal(n))
    return {"train_loss": tr.tolist(), "val_loss": va.tolist()}


def diverged(n: int = 10) -> dict[str, list[float]]:
    tr = [2.3, 5.0, 40.0, 1e6] + [float("nan")] * (n - 4)
    va = [2.2, 6.0, 80.0, float("inf")] + [float("nan")] * (n - 4)
    return {"train_loss": tr, "val_loss": va}


def lr_too_low(n: int = 40) -> dict[str, list[float]]:
    t = np.arange(n) / n * 40
    tr = 2.3 - 0.012 * t
    va = 2.32 - 0.011 * t
    return {"train_loss": tr.tolist(), "val_loss": va.tolist()}


def not_converged(n: int = 6) -> dict[str, list[float]]:
    t = np.arange(n) / n * 6
    tr = 2.0 * np.exp(-t / 2) + 0.02
    va = 2.0 * np.exp(-t / 2) + 0.06
    return {"train_loss": tr.tolist(), "val_loss": va.tolist()}


def plateau(n: int = 40) -> dict[str, list[float]]:
    t = np.arange(n) / n * 40
    tr = 2.2 + 0.1 * np.exp(-t) + 0.001 * np.cos(t)
    va = 2.21 + 0.1 * np.exp(-t) + 0.001 * np.sin(t)
    return {"train_loss": tr.tolist(), "val_loss": va.tolist()}


def noisy_validation(n: int = 40) -> dict[str, list[float]]:
    t = np.arange(n) / n * 40
    rng = np.random.default_rng(1)
    tr = 2.0 * np.exp(-t / 5) + 0.05
    va = (2.0 * np.exp(-t / 5) + 0.12) * np.exp(0.4 * rng.standard_normal(n))
    return {"train_loss": tr.tolist(), "val_loss": va.tolist()}


CASES = {
    "good-fit": good_fit,
    "overfitting": overfitting,
    "underfitting": underfitting,
    "lr-too-high": lr_too_high,
    "lr-too-low": lr_too_low,
    "not-converged": not_converged,
    "plateau": plateau,
    "noisy-validation": noisy_validation,
}
