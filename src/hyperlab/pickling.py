"""Pickling objects that hold thread locks (samplers and pruners go to worker processes)."""

from __future__ import annotations

import threading
from typing import Any

#: Lock classes an object may hold, and how to make a fresh one of each.
_LOCK_FACTORIES: dict[type, Any] = {
    type(threading.Lock()): threading.Lock,
    type(threading.RLock()): threading.RLock,
}


class LockFreePickling:
    """A mixin: pickling leaves out every lock in the instance's ``__dict__`` and unpickling
    gives the copy fresh, unlocked ones of the same kinds (a lock cannot be pickled, and one
    held while pickling must not arrive held)."""

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        locks = [name for name, value in state.items() if type(value) in _LOCK_FACTORIES]
        state["_hyperlab_locks"] = {name: type(state.pop(name)).__name__ for name in locks}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        kinds = {kind.__name__: factory for kind, factory in _LOCK_FACTORIES.items()}
        for name, kind_name in state.pop("_hyperlab_locks", {}).items():
            state[name] = kinds[kind_name]()
        self.__dict__.update(state)
