from __future__ import annotations

from pathlib import Path

import pytest

from hyperlab.errors import UnknownNameError
from hyperlab.registry import PRUNERS, TASKS, TUNERS, Registry


def test_builtins_registered() -> None:
    for name in ("random", "grid", "qmc", "ga", "tpe", "cmaes", "gp"):
        assert name in TUNERS
    for name in ("none", "median", "asha", "hyperband"):
        assert name in PRUNERS
    for name in (
        "digits-mlp",
        "breast-cancer-mlp",
        "wine-mlp",
        "branin",
        "hartmann6",
        "rosenbrock-4d",
    ):
        assert name in TASKS


def test_unknown_name_lists_known_ones() -> None:
    with pytest.raises(UnknownNameError) as info:
        TUNERS.create("tpee")
    msg = str(info.value)
    assert "'tpee'" in msg and "random" in msg and "tpe" in msg
    assert isinstance(info.value, ValueError)


def test_a_name_of_another_kind_says_which_kind_it_is() -> None:
    import hyperlab.experiments  # noqa: F401  (registers the experiments)
    from hyperlab.registry import EXPERIMENTS

    assert "self-lr" in EXPERIMENTS
    with pytest.raises(UnknownNameError, match=r"'asha' is a pruner, not a tuner: name it among"):
        TUNERS.create("asha")
    with pytest.raises(UnknownNameError, match=r"'tpe' is a tuner, not a pruner"):
        PRUNERS.create("tpe")
    with pytest.raises(UnknownNameError, match=r"an experiment, not a task: run it with hyperl"):
        TASKS.create("self-lr")
    with pytest.raises(UnknownNameError) as plain:
        TUNERS.create("tpee")
    assert " is a " not in str(plain.value)


def test_family_and_duplicates() -> None:
    reg: Registry[str] = Registry("thing")
    reg.register("fam-", lambda suffix, **kw: f"made {suffix}", "a family", family=True)
    reg.register("plain", lambda: "plain", "one")
    assert reg.create("fam-42") == "made 42"
    assert "fam-42" in reg and "fam-" not in reg
    assert reg.create("plain") == "plain"
    with pytest.raises(ValueError, match="already registered"):
        reg.register("plain", lambda: "x", "again")
    assert "fam-<id>" in reg.names()


def test_parse_options_reads_numbers_booleans_and_text() -> None:
    from hyperlab.errors import InputError
    from hyperlab.registry import parse_options

    assert parse_options(["n=3", "lr=0.1", "log=true", "name=a=b", " k =x"]) == {
        "n": 3,
        "lr": 0.1,
        "log": True,
        "name": "a=b",
        "k": "x",
    }
    with pytest.raises(InputError, match="'oops'"):
        parse_options(["oops"])
    with pytest.raises(InputError, match="option ' =3' must look like KEY=VALUE"):
        parse_options([" =3"])
    with pytest.raises(InputError, match="option 'interval' is given twice \\('interval =2'\\)"):
        parse_options(["interval=1", "interval =2"])
    for raw in ("nan", "inf", "-Infinity", "1e999"):  # run.json could not hold them as JSON
        with pytest.raises(InputError, match=f"option 'x={raw}': '{raw}' is not a finite number"):
            parse_options([f"x={raw}"])


def test_parse_options_reads_none_and_null_as_none() -> None:
    from hyperlab.registry import parse_options

    parsed = parse_options(["n_startup=None", "weights_path=null", "running=none", "x=NONE"])
    # a lower-case ``none`` is a name (a pruner, a liar of the neural tuner): it stays text
    assert parsed == {"n_startup": None, "weights_path": None, "running": "none", "x": "NONE"}


def test_an_option_that_names_tasks_gets_the_tasks() -> None:
    """A factory that declares ``reads_tasks`` receives the tasks themselves, built from the
    task registry; ``task_names`` reads the names for the lab's checks."""
    from hyperlab.errors import InputError, InputTypeError
    from hyperlab.tasks.base import Task

    reg: Registry[object] = Registry("gadget")
    reg.register("g", lambda *, source=None: source, "reads tasks", reads_tasks=("source",))
    tasks = reg.create("g", source="branin, hartmann6")
    assert [t.name for t in tasks] == ["branin", "hartmann6"]
    assert all(isinstance(t, Task) for t in tasks)
    assert reg.create("g") is None
    assert reg.task_names("g", {"source": ["branin"]}) == ["branin"]
    assert reg.task_names("g", {}) == []
    with pytest.raises(UnknownNameError, match="no-such-task"):
        reg.create("g", source="no-such-task")
    with pytest.raises(InputError, match="one or more"):
        reg.create("g", source=[])
    with pytest.raises(InputTypeError, match="by their names"):
        reg.create("g", source=[3])
    with pytest.raises(InputError, match="source names branin more than once"):
        reg.task_names("g", {"source": "branin, hartmann6,branin"})  # (its curves twice)


def test_the_registry_module_lists_its_public_names() -> None:
    import hyperlab.registry as registry

    names: dict[str, object] = {}
    exec("from hyperlab.registry import *", names)
    assert set(names) - {"__builtins__"} == set(registry.__all__)
    assert {"TASKS", "TUNERS", "Registry", "parse_options"} <= set(registry.__all__)
    assert not {"functools", "importlib", "T", "Any"} & set(registry.__all__)
    assert all(hasattr(registry, name) for name in registry.__all__)


def test_a_second_thread_waits_until_every_builtin_is_registered(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The first thread marked the built-ins loaded before importing them: a second thread
    asking meanwhile saw an empty registry ("unknown tuner 'random'; known tuners: ")."""
    import sys
    import threading
    import types

    from hyperlab import registry

    gate = types.SimpleNamespace(entered=threading.Event(), release=threading.Event())
    monkeypatch.setitem(sys.modules, "hl_test_gate", gate)
    (tmp_path / "hl_slow_builtin.py").write_text(
        "import sys\n"
        "gate = sys.modules['hl_test_gate']\n"
        "gate.entered.set()\n"
        "gate.release.wait(30)\n"
        "from hyperlab.registry import TUNERS\n"
        "TUNERS.register('hl-slow-tuner', lambda **kw: None, 'a test entry')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_BUILTIN_MODULES", ("hl_slow_builtin",))
    monkeypatch.setattr(registry, "_loaded", False)
    monkeypatch.setattr(registry.TUNERS, "_entries", dict(registry.TUNERS._entries))
    seen: dict[str, list[str]] = {}
    first = threading.Thread(target=lambda: seen.setdefault("first", registry.TUNERS.names()))
    second = threading.Thread(target=lambda: seen.setdefault("second", registry.TUNERS.names()))
    first.start()
    assert gate.entered.wait(30)
    second.start()
    second.join(1.0)  # (it waits for the first; without the lock it has already answered)
    gate.release.set()
    first.join(30)
    second.join(30)
    assert "hl-slow-tuner" in seen["first"] and "hl-slow-tuner" in seen["second"]
