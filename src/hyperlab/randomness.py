"""The global random streams (torch's, NumPy's and Python's) seeded for a block of code, and
put back afterwards.

Code that draws from the global streams (``torch.randperm`` without a generator,
``torch.nn.Dropout``, ``np.random``, ``random``, scikit-learn with ``random_state=None``) sees a
stream that depends on everything the process did before, so the same run would take another
path each time. The lab runs each trial of a plain objective, and the population each segment,
inside :func:`seeded_globals`.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np


@contextmanager
def seeded_globals(seed: int) -> Iterator[None]:
    """Run the block with torch's, NumPy's and Python's global random streams seeded with
    ``seed``; each is put back as it was afterwards (a GPU's as well, where CUDA is in use)."""
    import torch

    np_state, py_state = np.random.get_state(), random.getstate()
    cuda = torch.cuda.is_available() and torch.cuda.is_initialized()
    devices = list(range(torch.cuda.device_count())) if cuda else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        np.random.seed(seed)
        random.seed(seed)
        try:
            yield
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)


__all__ = ["seeded_globals"]
