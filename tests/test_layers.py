"""The import rules of docs/architecture.md, checked on every module of the package (imports
inside functions count: a lazy import is still a dependency)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import hyperlab

SRC = Path(hyperlab.__file__).parent
CORE = {
    "errors",
    "direction",
    "registry",
    "optuna_logs",
    "pickling",
    "space",
    "folder_lock",
    "stops",
    "randomness",
}
PLUGINS = {"tasks", "surrogates", "curves", "tuners", "pruners"}
LEAVES = {"hypergrad", "diagnose"}
#: Each room and the rooms of the package it may import (besides itself).
ALLOWED = {
    **{name: CORE for name in CORE},
    "hypergrad": {"errors"},
    "diagnose": {"errors"},
    "tasks": CORE,
    "surrogates": CORE,
    "curves": CORE | {"surrogates"},
    "tuners": CORE | {"surrogates", "diagnose", "tasks"},
    "pruners": CORE | {"curves", "tasks"},
    "lab": CORE | {"tasks"},
    "report": CORE | {"lab", "tasks", "diagnose"},
    "experiments": CORE
    | {"tasks", "hypergrad", "report", "lab"},  # (lab: its statistics, its lock)
    "testing": CORE | {"tasks"},
    "population": CORE | {"tasks", "hypergrad"},
    "api": CORE | {"lab", "report", "tasks"},
    "cli": CORE | LEAVES | PLUGINS | {"population", "lab", "report", "experiments", "api"},
    # the lazy top-level names (``hyperlab.tune``, ``hyperlab.Task``, ...): loaded on first use,
    # imported for type checkers only
    "__init__": {"api", "lab", "tasks"},
    "__main__": {"cli"},  # ``python -m hyperlab``: the command line, nothing else
}
OUTSIDE = ("benchmarks", "scripts", "tests")


def _room(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imports(path: Path) -> list[str]:
    """Every module an ``import`` statement in ``path`` names (absolute imports)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
        elif isinstance(node, ast.Import):
            out.extend(alias.name for alias in node.names)
    return out


MODULES = sorted(p for p in SRC.rglob("*.py") if "data" not in p.relative_to(SRC).parts)


def test_every_room_has_a_rule() -> None:
    assert {_room(p) for p in MODULES} <= set(ALLOWED)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_follow_the_layers(path: Path) -> None:
    room = _room(path)
    bad = []
    for module in _imports(path):
        top = module.split(".")[0]
        if top in OUTSIDE:
            bad.append(module)
        if top != "hyperlab" or module == "hyperlab":
            continue
        target = module.split(".")[1]
        if target != room and target not in ALLOWED[room]:
            bad.append(module)
    assert not bad, f"{path.relative_to(SRC)} ({room}) imports {bad}"


def test_the_rules_catch_a_lab_module_that_imports_a_plugin(tmp_path: Path) -> None:
    """The scan sees imports inside functions (a lazy import is still a dependency)."""
    module = tmp_path / "m.py"
    module.write_text(
        "def f():\n    from hyperlab.pruners.curve import x\n    import hyperlab.report\n"
    )
    targets = {m.split(".")[1] for m in _imports(module)}
    assert targets == {"pruners", "report"}
    assert not targets & ALLOWED["lab"]


#: Modules split by pure moves that keep the moved names for the code outside the package
#: (users, tests); the package itself imports each name from its new home.
SPLIT = (
    "lab.storage",
    "lab.leaderboard",
    "lab.runner",
    "lab.rundir",
    "report.demo",
    "report.records",
    "population.checkpoint",
    "report.html",
    "report.comparison_html",
    "tasks.replay",
    "lab.repair_journal",
)


def _reexported(module: str) -> set[str]:
    """The names ``hyperlab.<module>`` binds by importing them from another module of the
    package (at its top level)."""
    tree = ast.parse((SRC / (module.replace(".", "/") + ".py")).read_text(encoding="utf-8"))
    return {
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hyperlab.")
        for alias in node.names
    }


@pytest.mark.parametrize("module", SPLIT)
def test_the_package_imports_moved_names_from_their_new_homes(module: str) -> None:
    """A name imported through the module that only re-exports it hides where it lives (and
    keeps the old module on the import path of code that does not need it)."""
    kept = _reexported(module)
    bad = []
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == f"hyperlab.{module}":
                bad += [f"{path.relative_to(SRC)}: {a.name}" for a in node.names if a.name in kept]
    assert not bad, f"import these from their new homes, not hyperlab.{module}: {bad}"


def _dotted(path: Path) -> str:
    """``path``'s module, ``hyperlab.``-less (a package by its own name: ``lab``)."""
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


#: Every module of the package: a private name (a leading underscore) stays in its own module;
#: a name another module of the package uses is public in its home (the package's internal API).
PACKAGE = {_dotted(p) for p in MODULES}
#: The private names a module may still use from another, each kept for a reason outside the
#: code: ``{user: {home.name}}``.
PRIVATE_ALLOWED = {
    # Checkpoint files of the layouts before 3 name their arrays' class by the path it had
    # then, ``hyperlab.population.checkpoint._Array``: checkpoint.py binds the class under that
    # name so those files still load, and the class keeps the name those files were written with.
    "population.checkpoint": {"population.checkpoint_file._Array"},
}


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _private_uses(path: Path, modules: set[str]) -> list[str]:
    """The private names of ``modules`` (dotted, ``hyperlab.``-less; the package itself ``""``)
    that ``path`` imports, or reads from a module it imported (``from hyperlab.lab import
    libpq``, or ``import hyperlab.lab.libpq as libpq``, then ``libpq._x``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    aliases = {}  # the name a module of ``modules`` is bound to in ``path``
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname and alias.name.removeprefix("hyperlab.") in modules:
                    aliases[alias.asname] = alias.name.removeprefix("hyperlab.")
        if not isinstance(node, ast.ImportFrom) or not node.module or node.level:
            continue
        if node.module != "hyperlab" and not node.module.startswith("hyperlab."):
            continue
        home = node.module[len("hyperlab.") :]  # "" for ``from hyperlab import ...``
        for alias in node.names:
            name = f"{home}.{alias.name}".lstrip(".")
            if home in modules and _private(alias.name):
                out.append(name)
            if name in modules:
                aliases[alias.asname or alias.name] = name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and _private(node.attr)
        ):
            out.append(f"{aliases[node.value.id]}.{node.attr}")
    return out


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_module_uses_a_private_name_of_another_module(path: Path) -> None:
    """A private name is its module's own business; one another module needs is part of the
    package's internal API and is named so (no underscore)."""
    own = _dotted(path)
    bad = set(_private_uses(path, PACKAGE - {own})) - PRIVATE_ALLOWED.get(own, set())
    assert not bad, f"{path.relative_to(SRC)} uses private names of other modules: {sorted(bad)}"


def test_every_private_name_allowed_is_still_used() -> None:
    """An allowance outlives no use: each names a module and a private name it still uses."""
    for own, names in PRIVATE_ALLOWED.items():
        path = SRC / (own.replace(".", "/") + ".py")
        assert names <= set(_private_uses(path, PACKAGE - {own})), own


def test_the_private_name_rule_sees_imports_and_attributes(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from hyperlab.lab.storage_errors import _hidden, redact\n"
        "from hyperlab.lab import libpq\n"
        "libpq._given('x'), libpq.connect_args('x'), libpq.__name__\n"
        "from hyperlab.report.trials import _value\n"
        "from hyperlab import lab, _lazy\n"
        "import hyperlab.report.trials as trials\n"
        "lab._made, trials._value\n"
    )
    uses = _private_uses(module, PACKAGE)
    assert sorted(uses) == [
        "_lazy",
        "lab._made",
        "lab.libpq._given",
        "lab.storage_errors._hidden",
        "report.trials._value",
        "report.trials._value",
    ]


#: The most lines a function may take (docs/architecture.md, "Size rules": under about 60,
#: none over 80).
MAX_FUNCTION_LINES = 80


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_function_is_over_80_lines(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines, line {node.lineno})"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, f"{path.relative_to(SRC)}: split {long}"


#: The most lines a class may take (docs/architecture.md, "Size rules": under 300).
MAX_CLASS_LINES = 300
#: Classes still over it, to be split: ``{module path: {class}}`` (none now). An allowance
#: outlives no class over the limit (checked below).
LONG_CLASSES_ALLOWED: dict[str, set[str]] = {}


def _long_classes(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_CLASS_LINES
    }


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_class_is_over_300_lines(path: Path) -> None:
    where = str(path.relative_to(SRC))
    long = _long_classes(path) - LONG_CLASSES_ALLOWED.get(where, set())
    assert not long, f"{where}: split {sorted(long)} (at most {MAX_CLASS_LINES} lines a class)"


def test_every_long_class_allowed_is_still_long() -> None:
    for where, names in LONG_CLASSES_ALLOWED.items():
        assert names <= _long_classes(SRC / where), f"{where}: drop {names} from the allowance"
