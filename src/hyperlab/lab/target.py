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
    """A reference to a Task subclass that every process can resolve: ``module:qualname``
    when importing its module by name finds its file, else ``FILE:qualname``.

    Raises:
        InputError: The class lives in the script being run (``__main__``) or inside a
            function, where no other process can find it.
    """
    module, qualname = cls.__module__, cls.__qualname__
    if module == "__main__" or "<locals>" in qualname:
        raise InputError(
            f"the Task class {qualname} is defined in the script being run (or in a function), "
            "where worker processes and resumed runs cannot import it: put it in a module or a "
            "file of its own and pass the class from there, or its reference "
            "'path/to/file.py:ClassName'"
        )
    source = _class_file(cls)
    if source is not None and _found_on_path(module) == source:
        return f"{module}:{qualname}"
    if source is None:
        raise InputError(
            f"the Task class {qualname} of module {module!r} has no source file that other "
            "processes could import: pass its reference 'path/to/file.py:ClassName'"
        )
    return f"{source}:{qualname}"  # loaded from a file by path, or shadowed: named by the file


def _class_file(cls: type) -> str | None:
    """The real path of the file that defines ``cls`` (from its methods' code where its
    module is not in ``sys.modules``, as after ``spec_from_file_location``)."""
    import inspect

    try:
        found = inspect.getsourcefile(cls)
    except (TypeError, OSError):
        found = None
    if found:
        return os.path.realpath(found)
    for value in vars(cls).values():
        code = getattr(getattr(value, "__func__", value), "__code__", None)
        if code is not None:
            return os.path.realpath(code.co_filename)
    return None


def _found_on_path(module: str) -> str | None:
    """The real path of the file another process finds when it imports ``module`` by name
    (searching ``sys.path``, not the modules this process has loaded)."""
    from importlib.machinery import PathFinder

    parts = module.split(".")
    spec = PathFinder.find_spec(parts[0])
    for i in range(1, len(parts)):
        if spec is None or not spec.submodule_search_locations:
            return None
        spec = PathFinder.find_spec(".".join(parts[: i + 1]), spec.submodule_search_locations)
    if spec is None or spec.origin is None:
        return None
    return os.path.realpath(spec.origin)


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
