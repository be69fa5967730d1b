"""What a pip install carries: the data files the modules load are package data (declared in
pyproject.toml, under src/hyperlab), and a message never sends a pip user to a repository
script or document as if it were beside them."""

from __future__ import annotations

import ast
import glob
import importlib
import re
import sys
from pathlib import Path

import hyperlab

if sys.version_info >= (3, 11):
    import tomllib
else:  # (the test extra installs tomli there)
    import tomli as tomllib

PACKAGE = Path(hyperlab.__file__).resolve().parent
#: The checkout's pyproject.toml (the tests run from a checkout: the sdist leaves them out).
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _declared() -> set[Path]:
    """The files the wheel takes besides the modules, expanded as setuptools expands them."""
    patterns = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]["package-data"]
    files: set[Path] = set()
    for pattern in patterns["hyperlab"]:
        for name in glob.glob(pattern, root_dir=PACKAGE, recursive=True):
            if (PACKAGE / name).is_file():
                files.add((PACKAGE / name).resolve())
    return files


def test_every_data_file_of_the_package_is_declared() -> None:
    data = {
        p.resolve()
        for p in PACKAGE.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    }
    assert data, "no data files found under src/hyperlab"
    assert sorted(map(str, data - _declared())) == []


def test_the_files_the_modules_load_ship_inside_the_package() -> None:
    from hyperlab.diagnose.classifier import MODEL_PATH
    from hyperlab.tasks.replay import DIGITS_BANK, LCBENCH_DIR, PACKAGED_DATA
    from hyperlab.tuners.meta.weights import PACKAGED, WEIGHTS

    loaded = [
        PACKAGED / WEIGHTS,
        (PACKAGED / WEIGHTS).with_suffix(".json"),
        MODEL_PATH,
        DIGITS_BANK,
        PACKAGED_DATA / LCBENCH_DIR / "model.onnx",
        PACKAGED_DATA / LCBENCH_DIR / "config_space.json",
        PACKAGED_DATA / LCBENCH_DIR / "encoding.json",
    ]
    declared = _declared()
    for file in loaded:
        assert file.resolve().is_relative_to(PACKAGE), file
        assert file.resolve() in declared, f"{file} is loaded but not declared package data"


def _messages(tree: ast.AST) -> list[str]:
    """The module's string literals (an f-string as one, its parts joined), docstrings left out."""
    docstrings: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            docstrings.add(id(body[0].value))
    parts: set[int] = set()
    texts: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts.update(id(v) for v in node.values)
            texts.append("".join(v.value for v in node.values if isinstance(v, ast.Constant)))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in docstrings and id(node) not in parts:
                texts.append(node.value)
    return texts


#: The checkout's folders that a wheel leaves out (docs/ reaches the sdist, not the wheel).
REPOSITORY_FOLDERS = ("scripts/", "benchmarks/", "docs/")


def test_messages_that_name_a_repository_file_say_where_it_lives() -> None:
    """scripts/, benchmarks/ and docs/ are not installed: a message (an error, a warning, a
    command's help) that names a file there says it is in a checkout of hyperlab's source."""
    bad = []
    for module in sorted(PACKAGE.rglob("*.py")):
        for text in _messages(ast.parse(module.read_text())):
            if any(f in text for f in REPOSITORY_FOLDERS) and "checkout" not in text:
                bad.append(f"{module.relative_to(PACKAGE)}: {text!r}")
    assert bad == []


def test_the_wheels_version_is_the_one_the_package_reports() -> None:
    """pyproject.toml's version (the wheel's metadata: ``pip show``, run.json's versions) and
    ``__version__`` (``hyperlab --version``) are written twice: they must agree."""
    assert tomllib.loads(PYPROJECT.read_text())["project"]["version"] == hyperlab.__version__


def _extras() -> dict[str, list[str]]:
    return tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]


def _requirement_name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].lower()


def test_the_extras_that_messages_name_exist() -> None:
    """A missing optional package is named with ``pip install 'hyperlab[EXTRA]'``: each such
    EXTRA is one that pyproject.toml declares."""
    named: set[str] = set()
    for module in sorted(PACKAGE.rglob("*.py")):
        for text in _messages(ast.parse(module.read_text())):
            named.update(re.findall(r"hyperlab\[([^\]]*)\]", text))
    assert {"bench", "peers", "lrfree", "postgres", "dask"} <= named
    assert sorted(named - set(_extras())) == []


def test_the_extras_hold_the_packages_their_messages_name() -> None:
    """A peer's message gives its package's requirement as an install command, and the
    learning-rate-free optimizers name their packages: the extras install those."""
    from hyperlab.experiments.lr_free import LR_FREE

    extras = _extras()
    for peer in ("dehb", "hyperopt", "nevergrad", "smac", "syne"):
        requirement = importlib.import_module(f"hyperlab.tuners.peers.{peer}").PACKAGE
        assert requirement in extras["peers"], peer
    lrfree = {_requirement_name(r) for r in extras["lrfree"]}
    assert {spec.package for spec in LR_FREE.values()} == lrfree


#: The first Optuna release with each Optuna API the lab relies on, by what it is.
OPTUNA_NEEDS = {
    (4, 3): "optuna.exceptions.UpdateFinishedTrialError (lab/retrying.py)",
    (4, 9): "RDBStorage's heartbeat_stale_trial_callback (lab/storage.py)",
}


def test_the_optuna_floor_has_what_the_lab_uses() -> None:
    """pyproject.toml allowed optuna 4.2, which has neither ``UpdateFinishedTrialError`` (4.3:
    ``hyperlab.lab.retrying`` did not import) nor RDBStorage's
    ``heartbeat_stale_trial_callback`` (4.9: no database storage opened)."""
    import inspect

    import optuna

    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    (floor,) = [r for r in dependencies if _requirement_name(r) == "optuna"]
    found = re.fullmatch(r"optuna>=(\d+)\.(\d+)(\.\d+)?", floor)
    assert found is not None, floor
    assert (int(found[1]), int(found[2])) >= max(OPTUNA_NEEDS), OPTUNA_NEEDS
    # (the APIs named are the ones the installed Optuna offers)
    assert issubclass(optuna.exceptions.UpdateFinishedTrialError, RuntimeError)
    parameters = inspect.signature(optuna.storages.RDBStorage).parameters
    assert "heartbeat_stale_trial_callback" in parameters
