"""A comparison's reference is fixed by the methods' names, never by the order they are given
in, and ``--reference`` (``reference=``) names another, checked before anything runs."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

import hyperlab
from hyperlab.cli import main
from hyperlab.errors import InputError
from hyperlab.lab.compare_reference import check_reference, default_reference
from hyperlab.report import compare_records

pytestmark = pytest.mark.filterwarnings("ignore::hyperlab.lab.plugins.StartupOnlyWarning")


def _compare(root: Path, name: str, tuners: list[str], **kwargs: object) -> Path:
    hyperlab.compare(
        "branin",
        tuners,
        seeds=2,
        trials=4,
        runs_dir=root,
        name=name,
        progress=False,
        report=False,
        **kwargs,  # type: ignore[arg-type]
    )
    return root / name


@pytest.mark.parametrize(
    ("tuners", "pruners", "expected"),
    [
        (["qmc", "tpe", "random"], ["none"], "random"),
        (["qmc", "tpe", "cmaes"], ["none"], "tpe"),
        (["qmc", "cmaes"], ["none"], "cmaes"),  # two methods: the first alphabetically
        (["random", "tpe"], ["median", "none"], "random+none"),
        (["tpe", "qmc"], ["asha", "median"], "tpe+median"),
        (["qmc"], ["asha", "median"], "qmc+asha"),
    ],
)
def test_the_default_reference_ignores_the_order_given(
    tuners: list[str], pruners: list[str], expected: str
) -> None:
    for t, p in itertools.product(itertools.permutations(tuners), itertools.permutations(pruners)):
        assert default_reference(list(t), list(p)) == expected, (t, p)


def test_pairs_read_the_same_whatever_the_order(tmp_path: Path) -> None:
    """``--tuners qmc,tpe`` and ``--tuners tpe,qmc`` pair qmc against tpe (it was the first
    named)."""
    one = compare_records(_compare(tmp_path, "a", ["qmc", "tpe"]))
    other = compare_records(_compare(tmp_path, "b", ["tpe", "qmc"]))
    assert one.reference == other.reference == "tpe"
    assert [c["sentence"] for c in one.comparisons] == [c["sentence"] for c in other.comparisons]
    assert one.comparisons[0]["sentence"].startswith("qmc vs tpe")


def test_a_run_without_a_default_must_name_its_reference(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"qmc, cmaes, neural.*--reference NAME"):
        _compare(tmp_path, "r", ["qmc", "cmaes", "neural"])
    assert not (tmp_path / "r").exists()  # refused before the run's folder is made
    with pytest.raises(InputError, match="'tpe' is not a method of the run; its methods: qmc"):
        _compare(tmp_path, "r", ["qmc", "cmaes", "neural"], reference="tpe")
    assert not (tmp_path / "r").exists()
    with pytest.raises(InputError, match=r"'random' is not a method.*random\+none, random\+me"):
        check_reference("random", ["random"], ["none", "median"])


def test_a_named_reference_is_recorded_and_may_change_on_resuming(tmp_path: Path) -> None:
    run_dir = _compare(tmp_path, "r", ["qmc", "random"], reference="qmc")
    rec = compare_records(run_dir)
    assert rec.reference == "qmc" and rec.comparisons[0]["sentence"].startswith("random vs qmc")
    assert json.loads((run_dir / "run.json").read_text())["reference"] == "qmc"
    _compare(tmp_path, "r", ["qmc", "random"])  # resumed under the default: nothing to run
    assert compare_records(run_dir).reference == "random"


def test_a_recorded_run_without_a_reference_says_why_nothing_is_paired(tmp_path: Path) -> None:
    """A run.json of three methods without random or tpe recorded before runs named a
    reference: its report pairs nothing and says how to name one."""
    run_dir = _compare(tmp_path, "r", ["qmc", "cmaes", "neural"], reference="qmc")
    spec = json.loads((run_dir / "run.json").read_text())
    del spec["reference"]
    (run_dir / "run.json").write_text(json.dumps(spec))
    rec = compare_records(run_dir)
    assert rec.comparisons == [] and rec.reference == ""
    assert any("--reference NAME" in line for line in rec.stopped), rec.stopped


def test_the_command_line_names_the_reference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["compare", "--task", "branin", "--tuners", "tpe,qmc,random", "--seeds", "2"]
    args += ["--trials", "4", "--runs-dir", str(tmp_path), "--name", "c", "--no-progress"]
    assert main([*args, "--reference", "qmc+none"]) == 2
    assert "'qmc+none' is not a method of the run; its methods: tpe, qmc, random" in (
        capsys.readouterr().err
    )
    assert not (tmp_path / "c").exists()
    assert main([*args, "--reference", "qmc"]) == 0
    out = capsys.readouterr().out
    assert "tpe vs qmc" in out and "random vs qmc" in out
    assert "Paired against qmc:" in (tmp_path / "c" / "report.html").read_text()
