"""``hyperlab recover`` and a journal some of whose whole lines were written twice (a copy tool
or a write sent again), or that lost its last whole lines."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import optuna
import pytest

import hyperlab
from hyperlab.lab.repair import recover
from hyperlab.lab.repeats import find_repeats


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished 6-trial run of branin whose storage is a journal file outside its folder."""
    runs = tmp_path_factory.mktemp("template")
    url = f"journal:{runs / 'study.journal'}"
    hyperlab.tune(
        "branin", "random", trials=6, storage=url, runs_dir=runs, name="r", progress=False
    )
    return runs / "study.journal"


def trials(journal: Path) -> list[tuple[str, dict[str, float], float | None]]:
    storage = hyperlab.lab.storage.open_storage(f"journal:{journal}")
    study = optuna.load_study(study_name=storage.get_all_studies()[0].study_name, storage=storage)
    return [(t.state.name, t.params, t.value) for t in study.trials]


def creations(lines: list[bytes]) -> list[int]:
    """The indexes of the lines that create a trial."""
    return [i for i, line in enumerate(lines) if line.startswith(b'{"op_code":4,')]


def test_recover_drops_a_block_of_lines_written_twice(template: Path, tmp_path: Path) -> None:
    journal = tmp_path / "study.journal"
    shutil.copyfile(template, journal)
    before = trials(journal)
    lines = journal.read_bytes().splitlines(keepends=True)
    made = creations(lines)
    start, stop = made[1] - 2, made[3] + 3  # from trial 0's end into trial 3
    lines[stop:stop] = lines[start:stop]  # the block again, right after itself
    journal.write_bytes(b"".join(lines))
    assert len(trials(journal)) == len(before) + 3  # the harm: three extra trials, no error
    result = recover(f"journal:{journal}")
    assert trials(journal) == before
    size = stop - start
    assert result.lost == [
        f"lines {stop + 1}-{stop + size}: a copy of lines {start + 1}-{stop} ({size} records, "
        "3 trial creations, 3 trial state changes), written twice; the copy was dropped"
    ]
    assert result.kept is not None and result.kept.read_bytes() == b"".join(lines)


def test_recover_drops_a_repeated_block_further_down_and_a_lone_state_change(
    template: Path, tmp_path: Path
) -> None:
    journal = tmp_path / "study.journal"
    shutil.copyfile(template, journal)
    before = trials(journal)
    lines = journal.read_bytes().splitlines(keepends=True)
    made = creations(lines)
    block = lines[made[0] : made[2]]  # trials 0 and 1, whole
    finish = next(line for line in lines[made[4] :] if line.startswith(b'{"op_code":6,'))
    lines[made[4] : made[4]] = block  # between trials 3 and 4
    lines.append(finish)  # trial 4 finished again, at the end
    journal.write_bytes(b"".join(lines))
    result = recover(f"journal:{journal}")
    assert trials(journal) == before
    assert [entry.split(":")[0] for entry in result.lost] == [
        f"lines {made[4] + 1}-{made[4] + len(block)}",
        f"line {len(lines)}",
    ]


def test_records_a_writer_may_repeat_are_kept(tmp_path: Path) -> None:
    """Two trials queued with the same parameters by one worker are two identical lines."""
    journal = tmp_path / "study.journal"
    storage = hyperlab.lab.storage.open_storage(f"journal:{journal}")
    study = optuna.create_study(storage=storage, study_name="s")
    study.enqueue_trial({"x": 0.5}, skip_if_exists=False)
    study.enqueue_trial({"x": 0.5}, skip_if_exists=False)
    lines = journal.read_bytes().splitlines()
    assert lines[-1] == lines[-2]
    assert recover(f"journal:{journal}").kept is None
    assert [t.state.name for t in study.trials] == ["WAITING", "WAITING"]


def test_a_lone_repeated_creation_is_not_taken_for_a_copy() -> None:
    created = {"op_code": 4, "worker_id": "w", "study_id": 0, "datetime_start": "2026-01-01"}
    other = {"op_code": 8, "worker_id": "w", "trial_id": 0, "user_attr": {"a": 1}}
    assert find_repeats([created, other, created]) == []
    assert len(find_repeats([created, other, created, other])) == 1


def test_recover_says_what_points_to_records_lost_at_the_end(
    template: Path, tmp_path: Path
) -> None:
    journal = tmp_path / "study.journal"
    lines = template.read_bytes().splitlines(keepends=True)
    made = creations(lines)
    journal.write_bytes(b"".join(lines[: made[5] + 3]))  # cut at a line end inside trial 5
    result = recover(f"journal:{journal}")
    assert result.kept is None and result.lost == []  # nothing looks damaged
    assert result.doubts == [
        f"study {trials_study(journal)!r}: trial 5 was left running with no worker beating for "
        "it: its worker was stopped, or the records that finished it were lost at the end of "
        "the file"
    ]
    beats = tmp_path / "study.journal.heartbeats"
    beats.mkdir()
    (beats / "6").touch()  # a trial whose creation the cut took
    (beats / "5").touch()
    os.utime(beats / "6", (0, 0))  # long stale: no worker beats
    os.utime(beats / "5", (0, 0))
    result = recover(f"journal:{journal}")
    assert result.doubts[1:] == [
        f"heartbeat file {str(beats / '6')!r} names trial id 6, which the journal does not "
        "hold (its trial ids end at 5): records at the end of the file were lost"
    ]
    assert "a journal has no end mark" in "\n".join(result.lines())


def trials_study(journal: Path) -> str:
    storage = hyperlab.lab.storage.open_storage(f"journal:{journal}")
    return str(storage.get_all_studies()[0].study_name)


def test_a_heartbeat_beside_a_journal_with_no_trial_says_so(tmp_path: Path) -> None:
    """The message said 'its trial ids end at -1'."""
    journal = tmp_path / "study.journal"
    optuna.create_study(storage=hyperlab.lab.storage.open_storage(f"journal:{journal}"))
    beats = tmp_path / "study.journal.heartbeats"
    beats.mkdir()
    (beats / "0").touch()
    os.utime(beats / "0", (0, 0))
    (doubt,) = recover(f"journal:{journal}").doubts
    assert "names trial id 0, which the journal does not hold (it holds no trial)" in doubt
