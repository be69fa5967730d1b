"""The digits data the ``relax`` and ``stn`` experiments share: a split, batches and scores."""

from __future__ import annotations

from typing import Any

import numpy as np


def split_digits(seed: int) -> dict[str, Any]:
    """scikit-learn's digits split 60/20/20 (stratified, by ``seed``), standardized on train.

    Returns:
        ``{"train" | "val" | "test": (x, y)}``: float32 inputs ``(n, 64)`` and labels ``(n,)``.
    """
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_tr, x_rest, y_tr, y_rest = train_test_split(
        x, y, test_size=0.4, stratify=y, random_state=seed
    )
    x_va, x_te, y_va, y_te = train_test_split(
        x_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=seed
    )
    mu, sd = x_tr.mean(0), x_tr.std(0) + 1.0

    def t(a: np.ndarray, b: np.ndarray) -> tuple[Any, Any]:
        return torch.tensor((a - mu) / sd, dtype=torch.float32), torch.tensor(b)

    return {"train": t(x_tr, y_tr), "val": t(x_va, y_va), "test": t(x_te, y_te)}


def batches(data: tuple[Any, Any], seed: int, size: int = 64) -> list[tuple[Any, Any]]:
    """``data`` shuffled by ``seed`` into batches of ``size`` (the last one may be smaller)."""
    import torch

    x, y = data
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    return [(x[perm[i : i + size]], y[perm[i : i + size]]) for i in range(0, len(x), size)]


def scores(model: Any, split: dict[str, Any]) -> dict[str, float]:
    """Validation and test cross-entropy and accuracy of ``model`` (put in eval mode)."""
    import torch
    import torch.nn.functional as F

    model.eval()
    out = {}
    with torch.no_grad():
        for part in ("val", "test"):
            x, y = split[part]
            logits = model(x)
            out[f"{part}_loss"] = float(F.cross_entropy(logits, y))
            out[f"{part}_acc"] = float((logits.argmax(1) == y).float().mean())
    return out
