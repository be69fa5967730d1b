"""What a run tunes: a registered task name, a registered :class:`Task`, or an objective
function ``f(trial) -> float``; and the default run name built from it."""

from __future__ import annotations

import inspect
import os
import sys
from typing import Any, cast

from hyperlab.errors import HyperlabError, InputError, InputTypeError
from hyperlab.registry import TASKS, check_option_kind
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
    ``compare``); a reference to user code gives ``<module or file>-<attribute>-<suffix>``.
    A label too long for a run name is cut, with a hash of the whole, so that the run name
    is not what a long reference is refused for."""
    import hashlib

    from hyperlab.lab.run_paths import MAX_NAME

    label, suffix = task_label(task), str(suffix)  # (a bad tuner is refused by name later)
    if len(label) + len(suffix) + 1 <= MAX_NAME:
        return f"{label}-{suffix}"
    digest = hashlib.sha1(label.encode("utf-8", "replace")).hexdigest()[:8]
    return f"{label[: max(1, MAX_NAME - len(suffix) - 10)]}-{digest}-{suffix}"[:MAX_NAME]


def is_objective(task: Any) -> bool:
    """Whether ``task`` is a plain objective function (not a task name, a :class:`Task` or a
    subclass of it)."""
    return callable(task) and not isinstance(task, Task) and not _is_task_class(task)


def check_objective(func: Any) -> None:
    """Refuse an objective function that cannot be called with the trial alone (it would fail
    every trial).

    Raises:
        InputError: Naming the function and its parameters.
    """
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return  # (a builtin or extension whose signature cannot be read: let it run)
    try:
        signature.bind(object())
    except TypeError:
        name = getattr(func, "__qualname__", type(func).__name__)
        raise InputError(
            f"objective {name}{signature} cannot be called with the trial alone: an objective "
            "takes one argument, the trial (def objective(trial): ...), and returns its score"
        ) from None


def _is_task_class(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, Task)


def _class_reference(cls: type[Task]) -> str:
    """A reference to a Task subclass that every process can resolve: ``module:qualname``
    when importing its module by name finds the module that holds it, else ``FILE:qualname``.

    Raises:
        InputError: The class lives in the script being run (``__main__``) or inside a
            function, or has no file another process could load.
    """
    module, qualname = cls.__module__, cls.__qualname__
    if module == "__main__" or "<locals>" in qualname:
        raise InputError(
            f"the Task class {qualname} is defined in the script being run (or in a function), "
            "where worker processes and resumed runs cannot import it: put it in a module or a "
            "file of its own and pass the class from there, or its reference "
            "'path/to/file.py:ClassName'"
        )
    loaded = sys.modules.get(module)
    held = _holds(loaded, qualname, cls)
    if held:
        found = _find_by_name(module)
        here = getattr(loaded, "__file__", None)
        if found is not None and here and _same_file(found, here):
            return f"{module}:{qualname}"
    source = _class_file(cls, trust_module=held)
    if source is None:
        raise InputError(
            f"the Task class {qualname} of module {module!r} cannot be imported by that name "
            "in another process, and has no source file to load it from: make its module "
            "importable, or pass its reference 'path/to/file.py:ClassName'"
        )
    return f"{source}:{qualname}"  # loaded from a file by path, or shadowed: named by the file


def _holds(module: Any, qualname: str, cls: type) -> bool:
    """Whether ``module`` holds ``cls`` at ``qualname``."""
    obj = module
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    return obj is cls


def _same_file(a: str, b: str) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def _class_file(cls: type, *, trust_module: bool) -> str | None:
    """The real path of the file that defines ``cls``: its module's source where the module
    holds it, else the file of a method defined in its body (unwrapped from decorators)."""
    if trust_module:
        try:
            found = inspect.getsourcefile(cls)
        except (TypeError, OSError):
            found = None
        if found and os.path.isfile(found):
            return os.path.realpath(found)
    for value in vars(cls).values():
        func = inspect.unwrap(getattr(value, "__func__", value))
        code = getattr(func, "__code__", None)
        own = str(getattr(func, "__qualname__", "")).startswith(cls.__qualname__ + ".")
        if code is not None and own and not code.co_filename.startswith("<"):
            return os.path.realpath(code.co_filename)
    return None


def _find_by_name(fullname: str) -> str | None:
    """The file another process loads for ``import fullname``: asked of every finder on
    ``sys.meta_path`` (editable installs included), not of the modules this process holds."""
    path: Any = None
    spec = None
    parts = fullname.split(".")
    for i in range(len(parts)):
        name = ".".join(parts[: i + 1])
        spec = None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if find is None:
                continue
            try:
                spec = find(name, path)
            except Exception:  # a finder that cannot answer for this name
                spec = None
            if spec is not None:
                break
        if spec is None:
            return None
        path = spec.submodule_search_locations
        if i < len(parts) - 1 and path is None:
            return None
    return spec.origin if spec is not None else None


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
    if _is_task_class(task):
        task = _class_reference(cast("type[Task]", task))
    registered = isinstance(task, str) and task in TASKS
    known = TASKS.options(task) if registered else None
    kinds = TASKS.option_kinds(task) if registered else {}
    for key, value in options.items():
        if known is not None and key not in known:
            listed = ", ".join(sorted(known)) or "none"
            raise InputError(
                f"task {task!r} does not take the option {key!r}; the options it takes: {listed}"
            )
        if key in kinds:
            check_option_kind(f"task {task!r}", key, value, kinds[key])
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
