"""The trained network's weights: where they ship, how they load, what they record.

The weights ship inside the package as ``hyperlab/data/meta/pfn.pt`` (the state dict) beside
``pfn.json`` (the network's shape, the training problems and seeds, the command that made
them, and the validation numbers measured on them). ``scripts/train_meta_tuner.py`` writes
both. A run loads them once per process.
"""

from __future__ import annotations

import json
import pickle
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from hyperlab.errors import DataNotFoundError
from hyperlab.tuners.meta.model import PFN, PFNConfig

#: The shipped weights' folder.
PACKAGED = Path(__file__).resolve().parent.parent.parent / "data" / "meta"
#: The shipped weights' file name (the card beside it has the same stem and ``.json``).
WEIGHTS = "pfn.pt"

#: How weights are made, for a pip install as for a checkout (the scripts are not installed).
_MAKE = (
    "write them with hyperlab.tuners.meta.weights.save, or train them from a checkout of "
    "hyperlab's source with: python scripts/train_meta_tuner.py"
)

_cache: dict[tuple[Path, tuple[int, int], tuple[int, int]], Trained] = {}
_lock = threading.Lock()


@dataclass
class Trained:
    """A trained network and its card (plain data from ``pfn.json``)."""

    model: PFN
    card: dict[str, Any]


def save(model: PFN, card: dict[str, Any], path: Path) -> None:
    """Write the state dict to ``path`` and the card (with the shape) beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    card = {**card, "config": model.config.to_dict()}
    path.with_suffix(".json").write_text(json.dumps(card, indent=1) + "\n")


def load(path: str | Path | None = None) -> Trained:
    """The network at ``path`` (default: the shipped one), loaded once per process (again
    when the weights or their card have been written anew since).

    Raises:
        DataNotFoundError: No weights there; the message names the script that trains them.
    """
    file = Path(path) if path is not None else PACKAGED / WEIGHTS
    with _lock:
        key = (file.resolve(), _stamp(file), _stamp(file.with_suffix(".json")))
        if key not in _cache:
            trained = _read(file)
            for old in [k for k in _cache if k[0] == key[0]]:  # (written anew: drop the old)
                del _cache[old]
            _cache[key] = trained
        return _cache[key]


def _stamp(file: Path) -> tuple[int, int]:
    """``file``'s modification time (ns) and size; zeros when it cannot be read."""
    try:
        stat = file.stat()
    except OSError:
        return (0, 0)
    return (stat.st_mtime_ns, stat.st_size)


def _read(file: Path) -> Trained:
    card_file = file.with_suffix(".json")
    if not file.is_file() or not card_file.is_file():
        raise DataNotFoundError(
            f"no meta-tuner weights at {file} (with {card_file.name} beside them); {_MAKE}"
        )
    try:
        card = json.loads(card_file.read_text())
        model = PFN(_shape(card))
    except (ValueError, KeyError, TypeError, OSError) as exc:
        raise _unloadable(file, f"its card: {type(exc).__name__}: {exc}") from None
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, EOFError, RuntimeError, ValueError, OSError):
        raise _unloadable(file, "the file is damaged, empty or not saved weights") from None
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise _unloadable(file, f"not of the shape its card gives, {_first_lines(exc)}") from None
    model.eval()
    return Trained(model, card)


def _shape(card: Any) -> PFNConfig:
    """The network's shape as the card gives it (``card["config"]``), each entry a positive
    integer and the width a multiple of the heads.

    Raises:
        KeyError, TypeError, ValueError: The card holds no such shape; the message names the
            bad entry.
    """
    config = card["config"]
    if not isinstance(config, dict):
        raise TypeError(f"'config' must be a table of the network's shape, got {config!r}")
    shape = PFNConfig(**config)
    for name, value in shape.to_dict().items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"config {name} must be a positive integer, got {value!r}")
    if shape.width % shape.heads:
        raise ValueError(f"config width {shape.width} is not a multiple of heads {shape.heads}")
    return shape


def _first_lines(exc: BaseException, lines: int = 2) -> str:
    """The first ``lines`` non-empty lines of ``exc``'s message, on one line (PyTorch lists
    every mismatched tensor of a state dict)."""
    text = [line.strip() for line in str(exc).splitlines() if line.strip()]
    more = f" (and {len(text) - lines} more lines)" if len(text) > lines else ""
    return " ".join(text[:lines]) + more


def _unloadable(file: Path, why: str) -> DataNotFoundError:
    """The error for weights at ``file`` that do not load, saying ``why``."""
    return DataNotFoundError(
        f"the meta-tuner weights at {file} do not load with their card "
        f"{file.with_suffix('.json').name} ({why}); {_MAKE}"
    )
