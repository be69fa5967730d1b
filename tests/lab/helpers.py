"""Helpers for scaling tests: forked workers and polling."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _child(target: Callable[..., Any], kwargs: dict[str, Any], out: str | None) -> None:
    """Run ``target`` in a forked child; write its result as JSON; leave without finalizers.

    ``os._exit`` skips the interpreter's clean-up, so database connections inherited from the
    parent are not closed from here (that would break the parent's connection pool).
    """
    # a process started in the background by a non-interactive shell inherits SIGINT ignored
    # (and Python then keeps ignoring it); the children here act as foreground workers
    signal.signal(signal.SIGINT, signal.default_int_handler)
    code = 0
    try:
        result = target(**kwargs)
        if out is not None:
            Path(out).write_text(json.dumps(getattr(result, "studies", result)))
    except KeyboardInterrupt:
        code = 130
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    os._exit(code)


def fork(target: Callable[..., Any], out: Path | None = None, **kwargs: Any) -> Any:
    """Start ``target(**kwargs)`` in a forked process (fast: the parent's imports are reused)."""
    proc = mp.get_context("fork").Process(
        target=_child, args=(target, kwargs, str(out) if out else None)
    )
    proc.start()
    return proc


def wait_for(condition: Callable[[], bool], timeout: float = 60.0, poll: float = 0.05) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(poll)
