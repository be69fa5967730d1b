"""Loading a script of the checkout (a benchmark, a training script) or a file as a module."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

#: The checkout's root.
ROOT = Path(__file__).resolve().parents[1]


def load_file(path: Path, name: str | None = None) -> ModuleType:
    """The Python file ``path`` run as a module named ``name`` (default: the file's stem),
    registered under that name (dataclasses look their module up while it runs)."""
    spec = importlib.util.spec_from_file_location(name or path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def load_script(relative: str, name: str | None = None) -> ModuleType:
    """The checkout's script at ``relative`` (``"benchmarks/pbt.py"``) as a module."""
    return load_file(ROOT / relative, name)
