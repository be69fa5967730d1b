"""Registries: names -> factories for tasks, tuners, pruners and experiments.

The CLI, configuration files and :func:`hyperlab.tune` look names up here. Built-in entries are
registered by the subpackages that define them; they are imported on the first lookup so that
``import hyperlab.registry`` (and ``hyperlab --help``) stays instant.

A *family* is a registered prefix whose members are created from the suffix, e.g. the task
family ``lcbench-`` creates ``lcbench-3945``.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import math
import numbers
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from hyperlab.errors import (
    HyperlabError,
    InputError,
    InputTypeError,
    NotANameError,
    UnknownNameError,
    with_article,
)

__all__ = [
    "EXPERIMENTS",
    "NONE_WORDS",
    "PRUNERS",
    "TASKS",
    "TUNERS",
    "Entry",
    "Registry",
    "Resolver",
    "check_option_kind",
    "parse_options",
]

T = TypeVar("T")

#: A name -> ``(recorded name, factory)`` hook for names that no entry matches.
Resolver = Callable[[str], tuple[str, Callable[..., T]] | None]

# Modules whose import registers the built-in entries.
_BUILTIN_MODULES = (
    "hyperlab.tasks",
    "hyperlab.tuners",
    "hyperlab.population",
    "hyperlab.pruners",
    "hyperlab.experiments",
)
_loaded = False
_loading = False
# Held while the built-ins are imported: another thread asking meanwhile waits for all of
# them (it saw an empty registry: "unknown tuner 'random'; known tuners: "); the importing
# thread itself re-enters (an import that registers asks the registry) and goes on.
_load_lock = threading.RLock()


def _load_builtins() -> None:
    global _loaded, _loading
    if _loaded:
        return
    with _load_lock:
        if _loaded or _loading:
            return
        _loading = True
        try:
            for module in _BUILTIN_MODULES:
                importlib.import_module(module)
            _loaded = True
        finally:
            _loading = False


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered name."""

    name: str
    factory: Callable[..., T]
    description: str
    family: bool = False
    reads_tasks: tuple[str, ...] = ()
    reads_files: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()
    default_files: tuple[tuple[str, str], ...] = ()


class Registry(Generic[T]):
    """A mapping from names to factories with helpful errors.

    Args:
        kind: What the entries are ("task", "tuner", ...), used in error messages.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}
        self._resolver: Resolver[T] | None = None

    def set_resolver(self, resolver: Resolver[T]) -> None:
        """Resolve names that no entry matches with ``resolver``.

        It returns ``(the name as a run records it, factory)`` for a name it understands
        (raising an error that names what is wrong when it cannot load it), else ``None``.
        """
        self._resolver = resolver

    def register(
        self,
        name: str,
        factory: Callable[..., T],
        description: str,
        *,
        family: bool = False,
        reads_tasks: tuple[str, ...] = (),
        reads_files: tuple[str, ...] = (),
        packages: tuple[str, ...] = (),
        default_files: Mapping[str, str | os.PathLike[str]] | None = None,
    ) -> Callable[..., T]:
        """Register ``factory`` under ``name`` (a prefix ending in ``-`` when ``family``).

        Args:
            name: The name.
            factory: Builds the object from keyword options.
            description: One line for ``hyperlab list``.
            family: ``name`` is a prefix; the rest of a looked-up name goes to the factory.
            reads_tasks: Options whose values name tasks (a list, or one comma-separated
                string): :meth:`create` hands the factory the tasks themselves, built from
                :data:`TASKS`, and :meth:`task_names` reads the names.
            reads_files: Options whose values are paths of files (:meth:`file_options`): a
                run records them absolute, so that it reads the same file when it is resumed
                or reported from another folder.
            default_files: The file each of those options reads when it is left at its
                default (:meth:`default_file`), e.g. weights shipped with the package.
            packages: The distributions (pip names) of other libraries the entry runs, whose
                installed versions a run that uses it records (:meth:`packages`).

        Returns:
            The factory, so this can be used as a decorator through :meth:`add`.
        """
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = Entry(
            name,
            factory,
            description,
            family,
            tuple(reads_tasks),
            tuple(reads_files),
            tuple(packages),
            tuple((k, os.fspath(v)) for k, v in (default_files or {}).items()),
        )
        return factory

    def add(
        self,
        name: str,
        description: str,
        *,
        family: bool = False,
        reads_tasks: tuple[str, ...] = (),
        reads_files: tuple[str, ...] = (),
        packages: tuple[str, ...] = (),
        default_files: Mapping[str, str | os.PathLike[str]] | None = None,
    ) -> Callable[..., Any]:
        """Decorator form of :meth:`register`."""

        def deco(factory: Callable[..., T]) -> Callable[..., T]:
            return self.register(
                name,
                factory,
                description,
                family=family,
                reads_tasks=reads_tasks,
                reads_files=reads_files,
                packages=packages,
                default_files=default_files,
            )

        return deco

    def entries(self) -> list[Entry[T]]:
        """All entries, sorted by name."""
        _load_builtins()
        return sorted(self._entries.values(), key=lambda e: e.name)

    def names(self) -> list[str]:
        """All registered names (families shown as ``prefix<id>``)."""
        return [e.name + "<id>" if e.family else e.name for e in self.entries()]

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            return self._find(name) is not None
        except HyperlabError:  # a name the resolver understands but cannot load
            return False

    def _registered(self, name: str) -> tuple[Entry[T], str | None] | None:
        """The entry ``name`` names and, for a family, the rest of the name (no resolver)."""
        _load_builtins()
        if name in self._entries and not self._entries[name].family:
            return self._entries[name], None
        for entry in self._entries.values():
            if entry.family and name.startswith(entry.name) and len(name) > len(entry.name):
                return entry, name[len(entry.name) :]
        return None

    def _find(self, name: str) -> tuple[Entry[T], str | None] | None:
        found = self._registered(name)
        if found is not None:
            return found
        resolved = self._resolver(name) if self._resolver is not None else None
        if resolved is not None:
            return Entry(resolved[0], resolved[1], "", family=False), None
        return None

    def builders(self, name: str) -> list[Any]:
        """What builds ``name``, without building it: the factory of a registered name (a
        family's for one of its names), then what that forwards to (a partial's function,
        ``forwards_to``); empty for any other name (the resolver, which may load a user's
        code, is not asked)."""
        found = self._registered(name) if isinstance(name, str) else None
        return _signature_sources(found[0].factory) if found is not None else []

    def canonical(self, name: str) -> str:
        """``name`` as a run records it (a resolved name may be rewritten, e.g. a file's path
        made absolute); a registered name is returned as it is."""
        found = self._find(name) if isinstance(name, str) else None
        return found[0].name if found is not None and found[1] is None else name

    def create(self, name: str, **kwargs: Any) -> T:
        """Create the object registered under ``name``.

        Raises:
            NotANameError: ``name`` is not a string (an Optuna sampler object, say).
            UnknownNameError: ``name`` is not registered; the message lists the known names.
        """
        self.check(name)
        found = self._find(name)
        assert found is not None
        entry, suffix = found
        for option in entry.reads_tasks:
            if kwargs.get(option) is not None:
                kwargs[option] = [TASKS.create(n) for n in _task_names(option, kwargs[option])]
        if suffix is not None:
            return entry.factory(suffix, **kwargs)
        return entry.factory(**kwargs)

    def task_names(self, name: str, options: dict[str, Any]) -> list[str]:
        """The task names that ``options`` give the factory of ``name`` in the options it
        declares as naming tasks (``reads_tasks``), in order."""
        found = self._find(name)
        if found is None:
            return []
        return [
            n
            for option in found[0].reads_tasks
            if options.get(option) is not None
            for n in _task_names(option, options[option])
        ]

    def file_options(self, name: str) -> tuple[str, ...]:
        """The options of ``name``'s factory whose values are paths of files (``reads_files``
        at registration); none for a name that is not registered."""
        found = self._find(name) if isinstance(name, str) else None
        return found[0].reads_files if found is not None else ()

    def default_file(self, name: str, option: str) -> str | None:
        """The file that the file option ``option`` of ``name``'s factory reads when it is left
        at its default (``default_files`` at registration); ``None`` when none is declared."""
        found = self._find(name) if isinstance(name, str) else None
        return dict(found[0].default_files).get(option) if found is not None else None

    def packages(self, name: str) -> tuple[str, ...]:
        """The distributions of other libraries that ``name`` runs (``packages`` at
        registration); none for a name that is not registered."""
        found = self._find(name) if isinstance(name, str) else None
        return found[0].packages if found is not None else ()

    def options(self, name: str) -> frozenset[str] | None:
        """The keyword options the factory of ``name`` takes (``None``: it takes any).

        A factory's own keyword parameters count. A factory that swallows other keywords in
        ``**_`` takes only its named ones; one that passes them on in another ``**kwargs``
        takes those named by its ``takes_options`` attribute (a set of names it checks itself),
        else those of the callable named by its ``forwards_to`` attribute as well (a class:
        its ``__init__``), or any keyword when it names neither.
        """
        self.check(name)
        found = self._find(name)
        assert found is not None
        entry = found[0]
        names = _keywords(entry.factory)
        if names is not None and entry.family:  # the suffix goes in the first parameter
            names = names - {_first_parameter(entry.factory)}
        return names

    def defaults(self, name: str) -> dict[str, Any]:
        """The default value of each keyword option of ``name``'s factory that has one (its own
        parameters, then those of the callable its ``forwards_to`` attribute names)."""
        self.check(name)
        found = self._find(name)
        assert found is not None
        return _defaults(found[0].factory)

    def option_kinds(self, name: str) -> dict[str, type]:
        """The plain type (``bool``, ``int``, ``float`` or ``str``) each keyword option of
        ``name``'s factory expects, read from its annotation (``x: float``) or else from the
        type of its default (``x=1.0``); options of another or no type are left out."""
        self.check(name)
        found = self._find(name)
        assert found is not None
        return _option_kinds(found[0].factory)

    def is_builtin(self, name: str) -> bool:
        """Whether ``name`` is one of hyperlab's own entries (its factory is hyperlab's code),
        not a user's or another package's."""
        self.check(name)
        found = self._find(name)
        assert found is not None
        factory = found[0].factory
        while isinstance(factory, functools.partial):
            factory = factory.func
        module = getattr(factory, "__module__", None) or ""
        return module == "hyperlab" or module.startswith("hyperlab.")

    def takes(self, name: str, option: str) -> bool:
        """Whether the factory of ``name`` takes the keyword ``option`` (see :meth:`options`)."""
        options = self.options(name)
        return options is None or option in options

    def check(self, name: str) -> str:
        """Return ``name`` if registered, else raise :class:`UnknownNameError` (or the
        resolver's error for a name it understands but cannot load).

        Raises:
            NotANameError: ``name`` is not a string: an object (an Optuna sampler or pruner,
                say) where a registered name is expected.
            UnknownNameError: ``name`` is not registered; the message lists the known names.
        """
        if not isinstance(name, str):
            raise NotANameError(
                f"{self.kind} name must be a string, got {name!r:.80} of type "
                f"{type(name).__name__}: pass the name of a registered {self.kind} (one of "
                f"{', '.join(self.names())}); hyperlab builds the {self.kind} from its name and "
                "its options"
            )
        if self._find(name) is None:
            known = ", ".join(self.names())
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}{self._elsewhere(name)}; known {self.kind}s: {known}"
            )
        return name

    def _elsewhere(self, name: str) -> str:
        """Where ``name`` is registered as another kind (``asha`` given as a tuner is a
        pruner), for the message that refuses it here; only registered names are read (no
        user code is loaded)."""
        kinds = [r.kind for r in _REGISTRIES if r is not self and r._registered(name) is not None]
        if not kinds:
            return ""
        if kinds[0] == "experiment":
            how = f"run it with hyperlab experiment {name}"
        else:
            how = f"name it among the {kinds[0]}s"
        return f" ({name!r} is {with_article(kinds[0])}, not {with_article(self.kind)}: {how})"


def _task_names(option: str, value: Any) -> list[str]:
    """The task names of an option that names tasks: a list of names, or one comma-separated
    string; each stripped of spaces."""
    names = value.split(",") if isinstance(value, str) else value
    if not isinstance(names, list | tuple):
        raise InputTypeError(
            f"{option} must name one or more tasks (a list or a comma-separated string), "
            f"got {value!r}"
        )
    if not names:
        raise InputError(f"{option} must name one or more tasks, got {value!r}")
    for n in names:
        if not isinstance(n, str):
            raise InputTypeError(f"{option} must name tasks by their names, got {n!r}")
        if not n.strip():
            raise InputError(f"{option} names an empty task name: {value!r}")
    stripped = [n.strip() for n in names]
    repeated = sorted({n for n in stripped if stripped.count(n) > 1})
    if repeated:
        raise InputError(f"{option} names {', '.join(repeated)} more than once: {value!r}")
    return stripped


def _first_parameter(factory: Callable[..., Any]) -> str | None:
    """The name of the first parameter of ``factory`` (``None`` when it has none)."""
    params = list(inspect.signature(factory).parameters)
    return params[0] if params else None


def _defaults(factory: Callable[..., Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in inspect.signature(factory).parameters.values():
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.default is not p.empty:
            out[p.name] = p.default
        elif p.kind == p.VAR_KEYWORD and getattr(factory, "forwards_to", None) is not None:
            out = {**_defaults(factory.forwards_to), **out}  # type: ignore[attr-defined]
    out.pop("self", None)
    return out


_PLAIN = (bool, int, float, str)
#: A plain type as a postponed annotation (``from __future__ import annotations``) writes it;
#: any other annotation (a union, a class) says nothing here.
_PLAIN_NAMES = {t.__name__: t for t in _PLAIN}


def _option_kinds(factory: Callable[..., Any]) -> dict[str, type]:
    hints: dict[str, Any] = {}
    for target in _signature_sources(factory):
        init = target.__init__ if isinstance(target, type) else target  # type: ignore[misc]
        for name, raw in (getattr(init, "__annotations__", None) or {}).items():
            hints.setdefault(name, _PLAIN_NAMES.get(raw) if isinstance(raw, str) else raw)
    out: dict[str, type] = {}
    for name, default in _defaults(factory).items():
        hint = hints.get(name)
        if hint in _PLAIN:
            out[name] = hint
        elif hint is None and type(default) in _PLAIN:
            # an int default says only "a number" (``noise=0`` may take 0.1)
            out[name] = float if type(default) is int else type(default)
    return out


def _signature_sources(factory: Callable[..., Any]) -> list[Any]:
    """``factory`` and what it forwards its keywords to (``forwards_to``, a partial's function)."""
    out: list[Any] = []
    current: Any = factory
    while current is not None and current not in out:
        out.append(current)
        if isinstance(current, functools.partial):
            current = current.func
        else:
            current = getattr(current, "forwards_to", None)
    return out


def check_option_kind(what: str, key: str, value: Any, kind: type) -> None:
    """Refuse ``value`` for option ``key`` when it is not of ``kind``: a bool is only a bool;
    an integer (NumPy's too) passes for a number; text also takes a number (the command line
    reads ``dataset=31`` as one).

    Raises:
        InputTypeError: The message names ``what``, the option, the kind and the value.
    """
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is str:
        ok = isinstance(value, str | numbers.Real) and not isinstance(value, bool)
    else:
        wanted = numbers.Integral if kind is int else numbers.Real
        ok = isinstance(value, wanted) and not isinstance(value, bool)
    if not ok:
        raise InputTypeError(f"{what}: option {key!r} must be {_KIND_WORDS[kind]}, got {value!r}")


_KIND_WORDS = {bool: "true or false", int: "an integer", float: "a number", str: "text"}


def _keywords(factory: Callable[..., Any]) -> frozenset[str] | None:
    names: set[str] = set()
    for p in inspect.signature(factory).parameters.values():
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            names.add(p.name)
        elif p.kind == p.VAR_KEYWORD and p.name != "_":
            declared = getattr(factory, "takes_options", None)
            if declared is not None:
                names |= set(declared)
                continue
            target = getattr(factory, "forwards_to", None)
            if target is None:
                return None
            more = _keywords(target)
            if more is None:
                return None
            names |= more
    names.discard("self")
    return frozenset(names)


TASKS: Registry[Any] = Registry("task")
TUNERS: Registry[Any] = Registry("tuner")
PRUNERS: Registry[Any] = Registry("pruner")
EXPERIMENTS: Registry[Any] = Registry("experiment")
#: Every registry, for the message that finds a name under another kind than asked for.
_REGISTRIES = (TASKS, TUNERS, PRUNERS, EXPERIMENTS)


#: The ``KEY=VALUE`` values read as ``None``.
NONE_WORDS = ("None", "null")


def parse_options(items: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings -> a factory's options, values read as int, float, bool, ``None``
    or text: ``true``/``false`` (any case) are booleans, ``None`` and ``null`` are ``None``
    (a lower-case ``none`` stays text: it is the name of a pruner and of option values).

    Raises:
        InputError: An item without ``=`` or without a key, a key given twice, or a number
            that is not finite (``nan``, ``inf``: no option takes one, and ``run.json`` could
            not record it as JSON).
    """
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item or not item.split("=", 1)[0].strip():
            raise InputError(f"option {item!r} must look like KEY=VALUE")
        key, raw = item.split("=", 1)
        if key.strip() in out:
            raise InputError(f"option {key.strip()!r} is given twice ({item!r}); give it once")
        value: Any = raw
        for cast in (int, float):
            try:
                value = cast(raw)
                break
            except ValueError:
                continue
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(
                f"option {item!r}: {raw!r} is not a finite number; give a finite value "
                "(None where an option takes no limit)"
            )
        if raw.lower() in ("true", "false"):
            value = raw.lower() == "true"
        elif raw in NONE_WORDS:
            value = None
        out[key.strip()] = value
    return out
