"""Tasks of the user's own code, named by reference: ``module:attribute`` or ``file.py:attribute``.

The attribute is an Optuna objective ``f(trial) -> float``, a :class:`~hyperlab.tasks.Task`
subclass, or a factory (a function taking only keyword options) that returns a Task or an
objective. :data:`hyperlab.registry.TASKS` resolves every name holding a ``:`` here, so a
reference is a task name like any other: it is recorded in the run and in each study, and every
worker process (``--jobs``, ``hyperlab worker``, Dask) imports the code again by that name.

A module is imported as Python would from the current folder (which is put on ``sys.path``,
as ``python -m`` does); a file is loaded from its absolute path (its folder is put on
``sys.path``, as ``python file.py`` does, so it can import its neighbours). A run records a
file's absolute path, so workers and resumed runs started in other folders find it.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import os
import sys
import traceback
import zlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import optuna

from hyperlab.errors import InputError, library_caller
from hyperlab.tasks.base import EpochCallback, Evaluation, Task
from hyperlab.tasks.contract import missing_methods

KINDS = "an objective f(trial) -> float, a Task subclass, or a function returning a Task"

#: Files loaded so far: (absolute path, modification time, size) -> module.
_FILES: dict[tuple[str, int, int], ModuleType] = {}


def is_reference(name: str) -> bool:
    """Whether ``name`` is a reference to user code (it holds a ``:``)."""
    return ":" in name


def is_file(where: str) -> bool:
    """Whether the part before the ``:`` of a reference names a file (not a module)."""
    return where.endswith(".py") or "/" in where or os.sep in where


def split(name: str) -> tuple[str, str]:
    """``(module or file, attribute)`` of a reference (split at its last ``:``).

    Raises:
        InputError: Either part is empty.
    """
    where, _, attr = name.rpartition(":")
    if not where or not attr.strip():
        raise InputError(
            f"task reference {name!r} must look like module:attribute or path/to/file.py:attribute"
        )
    return where, attr.strip()


def canonical(name: str) -> str:
    """The reference as a run records it: a file's path made absolute."""
    where, attr = split(name)
    if not is_file(where):
        return f"{where}:{attr}"
    return f"{Path(where).expanduser().resolve().as_posix()}:{attr}"


def label(name: str) -> str:
    """A short name for run names: ``<module or file stem>-<attribute>`` (no ``:`` or ``/``)."""
    where, attr = split(name)
    stem = Path(where).stem if is_file(where) else where.rpartition(".")[2]
    return f"{stem}-{attr}".replace(".", "-")


class ObjectiveTask(Task):
    """A user's objective ``f(trial) -> float`` as a task that runs whole trials itself.

    Its search space is known only from the trials (each suggests its own parameters), so the
    tuners get none in advance, as for an objective passed to :func:`hyperlab.tune` directly.

    Args:
        name: The reference it was loaded from.
        func: The objective.
    """

    metric = "objective"
    direction = None  # not declared: the run's direction (default minimize) applies

    def __init__(self, name: str, func: Callable[[optuna.Trial], float]) -> None:
        self.name = name
        self.func = func

    def trial_objective(self) -> Callable[[optuna.Trial], float]:
        """The user's objective (the lab calls it with each trial)."""
        return self.func

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        """The parameters the trial holds already (the objective suggests its own)."""
        return dict(trial.params)

    def _evaluate(
        self, config: dict[str, Any], budget: int, seed: int, on_epoch: EpochCallback | None
    ) -> Evaluation:
        raise InputError(
            f"task {self.name!r} is an objective f(trial) -> float: it runs whole trials, "
            "not single configurations"
        )


def resolve(name: str) -> tuple[str, Callable[..., Task]] | None:
    """``(recorded name, factory)`` for a reference, ``None`` for any other name.

    The factory takes the task's options (those of a Task class or factory; an objective
    takes none) and returns a :class:`Task`.

    Raises:
        InputError: The file or module is missing, its import raised, it lacks the attribute,
            or the attribute is of the wrong kind; the message names which. Also a Python
            file named without ``:NAME`` (the message lists what the file defines).
    """
    if not is_reference(name):
        if is_file(name):
            raise without_attribute(name)
        return None
    name = canonical(name)
    obj = _attribute(name)
    kind = _kind(name, obj)
    if kind == "objective":
        return name, lambda: ObjectiveTask(name, obj)

    def factory(**options: Any) -> Task:
        if inspect.isabstract(obj):  # (Python's TypeError would read as an option refused)
            raise InputError(missing_methods(name, obj))
        return _as_task(name, obj(**options))

    factory.forwards_to = obj  # type: ignore[attr-defined]  # its options are the attribute's
    return name, factory


def without_attribute(name: str) -> InputError:
    """The error for a Python file named as a task without the object to use (``FILE.py``
    instead of ``FILE.py:NAME``): it names the form expected and lists the classes that derive
    from a Task and the functions the file defines. The file is read, not run (a script without
    a ``__main__`` guard would train in full)."""
    text = (
        f"task {name!r} names a file but not what to use in it: give FILE.py:NAME, where NAME "
        f"is {KINDS}"
    )
    path = Path(name).expanduser()
    if not path.is_file():
        missing = "is a folder, not a file" if path.is_dir() else "does not exist"
        return InputError(f"{text} (and {str(path)!r} {missing})")
    try:
        found = _candidates(path)
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError) as exc:
        return InputError(f"{text} (and {str(path)!r} cannot be read: {exc})")
    if not found:
        return InputError(f"{text}; {name!r} defines none of them")
    return InputError(f"{text}, e.g. {name}:{found[0]}; what {name!r} defines: {', '.join(found)}")


def _candidates(path: Path) -> list[str]:
    """The public classes at the top of the file whose bases name a Task, then its public
    functions, from its source (nothing is run)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    classes: list[str] = []
    functions: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            if any("Task" in ast.unparse(base) for base in node.bases):
                classes.append(node.name)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if not node.name.startswith("_"):
                functions.append(node.name)
    return sorted(classes) + sorted(functions)


def _kind(name: str, obj: Any) -> str:
    """``"objective"`` or ``"factory"`` (a Task class counts as a factory)."""
    if isinstance(obj, type):
        if issubclass(obj, Task):
            return "factory"
        raise InputError(f"task {name!r} is the class {obj.__name__}, not a Task subclass")
    if isinstance(obj, Task):
        raise InputError(
            f"task {name!r} is a Task instance; name its class or a function returning it"
        )
    if not callable(obj):
        raise InputError(f"task {name!r} is {_a(obj)}, not {KINDS}")
    required = _required_positional(obj)
    if required is None or required == 1:
        return "objective"
    if required == 0:
        return "factory"
    raise InputError(
        f"task {name!r} takes {required} positional arguments; an objective takes one (the "
        "trial) and a factory takes keyword options only"
    )


def _required_positional(func: Callable[..., Any]) -> int | None:
    """How many positional parameters ``func`` requires (``None`` when it cannot be read)."""
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return None
    return sum(
        p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        for p in params
    )


def _as_task(name: str, made: Any) -> Task:
    """What a factory returned, as a task (an objective it returned is wrapped)."""
    if isinstance(made, Task):
        return made
    if callable(made) and not isinstance(made, type) and _required_positional(made) in (1, None):
        return ObjectiveTask(name, made)
    raise InputError(f"task {name!r} returned {_a(made)}, not a Task or an objective")


def _a(obj: Any) -> str:
    kind = type(obj).__name__
    return f"{'an' if kind[:1].lower() in 'aeiou' else 'a'} {kind}"


def _attribute(name: str) -> Any:
    """The object a (canonical) reference names."""
    where, attr = split(name)
    module = _load_file(where) if is_file(where) else _load_module(where, name)
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            origin = getattr(module, "__file__", None) or where
            found = sorted(
                k for k, v in vars(module).items() if callable(v) and not k.startswith("_")
            )
            shown = ", ".join(found[:12]) + (" ..." if len(found) > 12 else "")
            raise InputError(
                f"task {name!r}: {origin!r} has no attribute {attr!r}; "
                f"what it defines: {shown or 'nothing callable'}"
            )
        obj = getattr(obj, part)
    return obj


def _load_module(module: str, name: str) -> ModuleType:
    """Import ``module`` with the current folder on ``sys.path`` (as ``python -m`` does)."""
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (module == missing or module.startswith(missing + ".")):
            raise InputError(
                f"no module named {module!r} (from the task reference {name!r}) in "
                f"{cwd!r} or on the Python path; run from the folder that holds it, put it "
                "on PYTHONPATH, or name its file: path/to/file.py:attribute"
            ) from None
        raise _import_failed(module, exc) from None
    except Exception as exc:
        raise _import_failed(module, exc) from None


def _load_file(where: str) -> ModuleType:
    """Load the file at the absolute path ``where`` as a module (once per version of it)."""
    path = Path(where)
    if not path.is_file():
        missing = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise InputError(f"task file {where!r} {missing}")
    stat = path.stat()
    key = (where, stat.st_mtime_ns, stat.st_size)
    if key in _FILES:
        return _FILES[key]
    name = f"hyperlab_user_{path.stem}_{zlib.crc32(where.encode()):08x}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InputError(f"task file {where!r} cannot be loaded as Python")
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise _import_failed(where, exc) from None
    _FILES[key] = module
    return module


def _import_failed(where: str, exc: BaseException) -> InputError:
    """An error naming what was imported, the exception in one line and where it was raised."""
    text = str(exc.msg if isinstance(exc, SyntaxError) else exc).strip().splitlines()
    line = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
    place = ""
    if isinstance(exc, SyntaxError) and exc.filename:
        place = f" ({exc.filename}, line {exc.lineno})"
    else:
        frames = traceback.extract_tb(exc.__traceback__)
        own = [f for f in frames if "importlib" not in f.filename] or frames
        if own:
            place = f" ({own[-1].filename}, line {own[-1].lineno}"
            caller = library_caller(exc)
            if caller is not None:
                place += f", called from {caller}"  # (the user's line, not numpy's)
            place += ")"
    return InputError(f"importing the task code {where!r} raised {line}{place}")
