"""A peer whose package is missing, partly installed or broken is refused once, up front.

Partial installs are simulated, never made: ``sys.modules[name] = None`` makes ``import name``
fail as a missing module does, and a patched ``builtins.__import__`` makes a dependency raise
while a module imports it, as a broken one does.
"""

from __future__ import annotations

import builtins
import sys
from pathlib import Path
from typing import Any

import optuna
import pytest

import hyperlab
from hyperlab.errors import InputError, SettingError
from hyperlab.registry import TASKS, TUNERS
from hyperlab.testing.tuners import MIXED_SPACE
from hyperlab.tuners.peers.base import PeerImportError, PeerSampler, require

FAKE = "hyperlab_fake_peer"  # a package written for these tests, on a path they add


@pytest.fixture(autouse=True)
def _modules_as_they_were() -> Any:
    """Put ``sys.modules`` back as it was: a package first imported while one of its modules
    was hidden stays half made (``hyperopt`` imported again without its ``base``), and every
    later test in the process that uses it fails. Only the peers' packages (and the fake one)
    are dropped again: hyperlab's own modules registered their names (imported again, the
    population tuners would register twice), and a standard module imported anew would no
    longer be the one other code holds (``concurrent.futures.process`` then fails to pickle)."""
    before = dict(sys.modules)
    yield
    peers = {"dehb", "hyperopt", "loguru", "nevergrad", "smac", "syne_tune", FAKE}
    for name in [n for n in sys.modules if n not in before and n.split(".")[0] in peers]:
        del sys.modules[name]
    sys.modules.update(before)


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("smac-rf", "smac.runhistory.dataclasses"),
        ("smac-hyperband", "smac.intensifier.hyperband"),
        ("dehb", "loguru"),
        ("nevergrad", "nevergrad.common.errors"),
        ("syne-bore", "syne_tune.optimizer.schedulers.searchers.bore"),
        ("syne-bohb", "syne_tune.optimizer.schedulers.searchers.kde"),
        ("hyperopt-tpe", "hyperopt.tpe"),
    ],
)
def test_a_partly_installed_peer_is_refused_when_built(
    name: str, module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the package imported, so the tuner was built, and every trial then failed on the module
    # its peer reached for (or the missing dependency was called the package, not installed)
    monkeypatch.setitem(sys.modules, module, None)
    options: dict[str, Any] = {"task": TASKS.create("branin")} if name in ("dehb",) else {}
    with pytest.raises(PeerImportError) as info:
        TUNERS.create(name, seed=0, space=dict(MIXED_SPACE), **options)
    text = str(info.value)
    assert (
        f"tuner {name!r} needs the package" in text and "installed but cannot be imported" in text
    )
    assert "raised ModuleNotFoundError" in text and module in text  # (or the package's)
    assert "pip install --force-reinstall" in text and "pip install 'hyperlab[peers]'" in text


def test_a_partly_installed_peer_stops_a_run_before_anything_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "smac.runhistory.dataclasses", None)
    with pytest.raises(PeerImportError, match=r"'smac-rf' needs the package 'smac>=2\.4'"):
        hyperlab.tune("branin", "smac-rf", trials=3, runs_dir=tmp_path, name="r", progress=False)
    assert not (tmp_path / "r").exists()


@pytest.fixture
def fake_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder of a package ``FAKE`` whose submodule ``core`` imports a dependency
    ``fake_dependency``."""
    folder = tmp_path / FAKE
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    (folder / "core.py").write_text("import fake_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [n for n in sys.modules if n.startswith(FAKE)]:
        monkeypatch.delitem(sys.modules, name)
    return folder


class _Fake(PeerSampler):
    peer_name = "fake"
    package = f"{FAKE.replace('_', '-')}>=1.0"
    modules = (FAKE, f"{FAKE}.core")


def test_a_dependency_that_breaks_while_imported_is_named_with_its_error(
    fake_package: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = builtins.__import__

    def broken(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "fake_dependency":  # built for another NumPy, say
            raise AttributeError("module 'numpy' has no attribute 'float_'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", broken)
    with pytest.raises(PeerImportError) as info:
        _Fake(seed=0)
    text = str(info.value)
    assert "'fake' needs the package 'hyperlab-fake-peer>=1.0', which is installed but" in text
    assert f"importing '{FAKE}.core' raised AttributeError: module 'numpy' has no" in text
    assert isinstance(info.value, InputError) and isinstance(info.value, SettingError)


def test_a_missing_dependency_is_not_called_the_package_missing(
    fake_package: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "fake_dependency", None)
    with pytest.raises(PeerImportError, match=r"installed but .*No module named|halted"):
        _Fake(seed=0)
    monkeypatch.setitem(sys.modules, FAKE, None)  # the package itself: not installed
    with pytest.raises(PeerImportError, match=r"which is not installed; install it with `pip"):
        _Fake(seed=0)
    monkeypatch.setitem(sys.modules, "syne_tune", None)  # pip's name and the import's differ
    with pytest.raises(PeerImportError, match=r"'syne-tune>=0\.16', which is not installed"):
        require("syne_tune", "syne-rea", "syne-tune>=0.16")


def test_a_package_that_breaks_after_the_tuner_is_built_stops_at_the_first_trial(
    fake_package: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (a copy unpickled in a process where the install is broken): one error, not one per trial
    (fake_package / "core.py").write_text("")
    sampler = _Fake(MIXED_SPACE, seed=0)
    monkeypatch.setitem(sys.modules, f"{FAKE}.core", None)
    study = optuna.create_study(sampler=sampler)
    with pytest.raises(PeerImportError, match=f"importing '{FAKE}.core'"):
        study.optimize(lambda t: t.suggest_float("float", -1, 2), n_trials=3)
    assert len(study.trials) == 1
