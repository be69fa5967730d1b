"""What a run tunes: a registered task name, a registered :class:`Task`, or an objective
function ``f(trial) -> float``; and the default run name built from it."""

from __future__ import annotations

import os
from typing import Any, cast

from hyperlab.errors import HyperlabError, InputError, InputTypeError
from hyperlab.registry import TASKS
from hyperlab.tasks.base import Task


def task_label(task: Any) -> str:
    """A short name for a task name, a Task or an objective function (default run names)."""
    if isinstance(task, str):
        from hyperlab.tasks import user

        if not user.is_reference(task) and user.is_file(task):
            raise user.without_attribute(task)  # before a run name is made of a path
        return user.label(task) if user.is_reference(task) else task
    return str(getattr(task, "name", getattr(task, "__name__", "objective")))


def default_name(task: Any, suffix: str) -> str:
    """The run name used when none is given: ``<task>-<suffix>`` (``suffix``: the tuner, or
    ``compare``); a reference to user code gives ``<module or file>-<attribute>-<suffix>``."""
    return f"{task_label(task)}-{suffix}"


def is_objective(task: Any) -> bool:
    """Whether ``task`` is a plain objective function (not a task name, a :class:`Task` or a
    subclass of it)."""
    return callable(task) and not isinstance(task, Task) and not _is_task_class(task)


def _is_task_class(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, Task)


def _class_reference(cls: type[Task]) -> str:
    """``module:qualname`` of a Task subclass, which every process can import by name.

    Raises:
        InputError: The class lives in the script being run (``__main__``) or inside a
            function, where no other process can find it by name.
    """
    module, qualname = cls.__module__, cls.__qualname__
    if module != "__main__" and "<locals>" not in qualname and not _importable(cls):
        from hyperlab.lab.identity import source_file

        source = source_file(cls)  # a module loaded from its file: named by the file
        if source is not None:
            return f"{source}:{qualname}"
    if module == "__main__" or "<locals>" in qualname or not _importable(cls):
        raise InputError(
            f"the Task class {qualname} is defined in the script being run (or in a function), "
            "where worker processes and resumed runs cannot import it by name: put it in a "
            "module or a file of its own and pass the class from there, or its reference "
            "'path/to/file.py:ClassName'"
        )
    return f"{module}:{qualname}"


def _importable(cls: type) -> bool:
    """Whether another process importing ``cls.__module__`` by name finds the file it came
    from (not so for a module loaded from a file path, nor one a local file would shadow)."""
    import importlib.util
    import sys

    module = sys.modules.get(cls.__module__)
    try:
        spec = importlib.util.find_spec(cls.__module__)
    except (ImportError, ValueError):
        return False
    here = getattr(module, "__file__", None)
    return (
        spec is not None
        and spec.origin is not None
        and here is not None
        and (os.path.realpath(spec.origin) == os.path.realpath(here))
    )


def build_task(
    task: Task | str | None, options: dict[str, Any] | None
) -> tuple[str | None, Task | None]:
    """The task's name and object, its options and settings checked before anything is stored.

    A factory that refuses an option's value with a plain ``TypeError`` or ``ValueError`` gives
    an :class:`InputError` naming the task and its options.
    """
    checked = _check_task_options(task, options)
    try:
        name, obj = _resolve_task(task, checked)
    except HyperlabError:
        raise
    except (TypeError, ValueError) as exc:
        raise InputError(f"task {task!r} refused its options {checked}: {exc}") from None
    if obj is not None:
        obj.check()
    return name, obj


def _check_task_options(task: Any, options: dict[str, Any] | None) -> dict[str, Any]:
    """A copy of ``options``, each of which the registered task named ``task`` takes."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise InputTypeError(f"task_options must be a dict, got {options!r}")
    known = TASKS.options(task) if isinstance(task, str) and task in TASKS else None
    for key in options:
        if known is not None and key not in known:
            listed = ", ".join(sorted(known)) or "none"
            raise InputError(
                f"task {task!r} does not take the option {key!r}; the options it takes: {listed}"
            )
    return dict(options)


def _resolve_task(
    task: Task | str | None, task_options: dict[str, Any]
) -> tuple[str | None, Task | None]:
    if _is_task_class(task):
        task = _class_reference(cast("type[Task]", task))
    if isinstance(task, str):
        name = TASKS.canonical(task)  # a reference to a file is recorded with its absolute path
        return name, TASKS.create(name, **task_options)
    if isinstance(task, Task):
        if task.name in TASKS:
            return task.name, task
        raise InputError(
            f"task object {task.name!r} is not registered: pass its class (or its reference, "
            "'path/to/file.py:ClassName' or 'module:ClassName'), whose task options are the "
            "class's arguments, or register it with hyperlab.registry.TASKS.register(name, "
            "factory, description), so that worker processes and resumed runs can rebuild it"
        )
    raise InputTypeError(
        "task must be a registered name, a Task or an objective function, "
        f"got {type(task).__name__}"
    )
