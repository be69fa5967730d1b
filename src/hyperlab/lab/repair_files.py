"""Putting a recovered storage file in place of the damaged one (``hyperlab recover``).

The damaged original is kept beside it as ``FILE.damaged-<UTC time>``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hyperlab.lab.damage import side_file


def dispose_engine(storage: Any) -> None:
    engine = getattr(storage, "engine", None)
    if engine is not None:
        engine.dispose()  # let go of the file


def replace_file(path: Path, fresh: Path) -> Path:
    """Move ``path`` (and a SQLite file's ``-wal``/``-shm``) aside and ``fresh`` into its place."""
    kept = side_file(path)
    os.replace(path, kept)
    for suffix in ("-wal", "-shm"):
        extra = path.with_name(path.name + suffix)
        if extra.exists():
            os.replace(extra, kept.with_name(kept.name + suffix))
    os.replace(fresh, path)
    return kept
