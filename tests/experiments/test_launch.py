"""Where ``hyperlab experiment`` writes its results, and what a failure leaves there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hyperlab.errors import InputError
from hyperlab.experiments.base import ExperimentResult
from hyperlab.experiments.launch import run_experiments
from hyperlab.registry import EXPERIMENTS


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Experiments made up and instant; the list records those that ran."""
    calls: list[str] = []

    def made(name: str, quick: bool, seed: int, **_: object) -> ExperimentResult:
        calls.append(name)
        return ExperimentResult(name, "t", summary=[f"run {len(calls)}"], data={"run": len(calls)})

    monkeypatch.setattr(EXPERIMENTS, "create", made)
    return calls


@pytest.mark.parametrize("taken", ["stn.json", "stn.html", "experiments.html"])
def test_a_folder_where_a_result_goes_is_refused_before_anything_runs(
    tmp_path: Path, ran: list[str], taken: str
) -> None:
    """The experiment ran for minutes, then writing its results over a folder failed: all lost."""
    (tmp_path / taken).mkdir()
    with pytest.raises(InputError, match=f"{taken}' is not a file"):
        run_experiments(["relax", "stn"], tmp_path, quick=True, overwrite=True)
    assert ran == []


def test_a_folder_that_cannot_be_written_into_is_refused_before_anything_runs(
    tmp_path: Path, ran: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only --out was found only when the results were written, after the runs."""
    import tempfile

    def refused(**_: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    with pytest.raises(InputError, match=r"cannot write into the folder --out .*Permission denied"):
        run_experiments(["stn"], tmp_path, quick=True)
    assert ran == []


def test_a_page_that_fails_to_render_leaves_the_earlier_json_and_page(
    tmp_path: Path, ran: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The JSON was written before the page was made: a failure in between left a new JSON next
    to the earlier run's page, whose numbers it no longer matched."""
    import hyperlab.report.page

    run_experiments(["stn"], tmp_path, quick=True)
    before = {p.name: p.read_text() for p in tmp_path.iterdir()}
    assert json.loads(before["stn.json"])["run"] == 1

    def broken(*_: object, **__: object) -> str:
        raise RuntimeError("no page")

    monkeypatch.setattr(hyperlab.report.page, "page", broken)
    with pytest.raises(RuntimeError, match="no page"):
        run_experiments(["stn"], tmp_path, quick=True)
    assert ran == ["stn", "stn"]
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == before


def test_a_failed_write_leaves_the_earlier_pair_and_no_temporary_file(
    tmp_path: Path, ran: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disk that fills while the page is written leaves the earlier JSON and page."""
    run_experiments(["stn"], tmp_path, quick=True)
    before = {p.name: p.read_text() for p in tmp_path.iterdir()}
    real = Path.write_text

    def full_disk(self: Path, text: str, *args: object, **kwargs: object) -> int:
        if ".stn.html." in self.name:
            raise OSError(28, "No space left on device")
        return real(self, text, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "write_text", full_disk)
    with pytest.raises(OSError, match="No space left"):
        run_experiments(["stn"], tmp_path, quick=True)
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == before


def test_ctrl_c_leaves_an_index_that_shows_what_the_files_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C in the second experiment left experiments.html of the call before: it showed the
    first experiment's earlier results, which its JSON and page no longer held."""

    def made(name: str, quick: bool, seed: int, **_: object) -> ExperimentResult:
        if name == "relax" and seed == 1:
            raise KeyboardInterrupt
        return ExperimentResult(name, "t", summary=[f"{name} with seed {seed}"])

    monkeypatch.setattr(EXPERIMENTS, "create", made)
    run_experiments(["stn", "relax"], tmp_path, quick=True)
    with pytest.raises(KeyboardInterrupt):
        run_experiments(["stn", "relax"], tmp_path, quick=True, seed=1, overwrite=True)
    index = (tmp_path / "experiments.html").read_text()
    assert "stn with seed 1" in index and "with seed 0" not in index
    assert "<a href='relax.html'>relax</a>" in index  # the earlier run's, still in the folder
    assert "relax with seed 0" in (tmp_path / "relax.html").read_text()
    # and the user is told which finished (the message said only "interrupted")
    said = capsys.readouterr().err
    assert f"experiments finished and written to {tmp_path}: stn; not finished: relax" in said


def test_a_second_call_in_a_folder_in_use_is_refused_before_anything_runs(
    tmp_path: Path, ran: list[str]
) -> None:
    """Two calls in one folder each checked it, then the later finisher replaced the other's
    results without a word."""
    from hyperlab.errors import RunInUseError
    from hyperlab.lab.runlock import RunLock

    with RunLock(tmp_path), pytest.raises(RunInUseError, match="is in use by process"):
        run_experiments(["stn"], tmp_path, quick=True)
    assert ran == []
    run_experiments(["stn"], tmp_path, quick=True)  # once it is free
    assert ran == ["stn"] and not (tmp_path / ".lock").exists()
