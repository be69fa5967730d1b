"""Damaged storage files: a cut-off journal line is repaired, other damage is a clean error, and
``hyperlab recover`` brings back every intact trial."""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import sqlite3
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

import hyperlab
from hyperlab.cli import main
from hyperlab.errors import StorageError
from hyperlab.lab.repair import recover
from hyperlab.lab.rundir import load_studies
from hyperlab.lab.storage import open_storage
from hyperlab.lab.trial_kinds import SURPLUS_REASON

STUDY = "{name}:random:none:seed0"


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two finished 4-trial runs of branin: ``j`` (journal, 2 workers) and ``s`` (SQLite)."""
    runs = tmp_path_factory.mktemp("templates")
    hyperlab.tune("branin", "random", trials=4, jobs=2, runs_dir=runs, name="j", progress=False)
    hyperlab.tune("branin", "random", trials=4, jobs=1, runs_dir=runs, name="s", progress=False)
    # everything into the main file: whether this process's idle connection has done it yet
    # depends on garbage collection, and a test that garbles the main file needs it there
    with contextlib.closing(sqlite3.connect(runs / "s" / "study.db")) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return runs


def copy_run(templates: Path, runs: Path, name: str) -> Path:
    """A copy of a template run under ``runs`` whose run.json names the copy's storage file."""
    shutil.copytree(templates / name, runs / name)
    spec_file = runs / name / "run.json"
    spec = json.loads(spec_file.read_text())
    spec["storage"] = spec["storage"].replace(str(templates / name), str(runs / name))
    spec_file.write_text(json.dumps(spec))
    return runs / name


def tune_args(runs: Path, name: str, trials: int, jobs: int) -> list[str]:
    return [
        "tune",
        "--task",
        "branin",
        "--tuner",
        "random",
        "--trials",
        str(trials),
        "--jobs",
        str(jobs),
        "--name",
        name,
        "--runs-dir",
        str(runs),
        "--no-progress",
    ]


def trials_of(run: Path) -> list[optuna.trial.FrozenTrial]:
    return load_studies(run)[0][0].get_trials()


def values(run: Path) -> list[float]:
    return [t.value for t in trials_of(run) if t.state == TrialState.COMPLETE]  # type: ignore[misc]


def counts(run: Path) -> str:
    """How ``recover`` should describe the run's trials: the template run with two workers
    sometimes holds one surplus trial besides its four complete ones."""
    trials = trials_of(run)
    surplus = sum(t.user_attrs.get("fail_reason") == SURPLUS_REASON for t in trials)
    assert len(trials) - surplus == 4
    return f"1 study, {len(trials)} trials (4 complete" + (
        f", {surplus} surplus" if surplus else ""
    )


def garble_line(path: Path, number: int) -> bytes:
    """Overwrite the end of line ``number`` (from 1) of a journal; the line as it was."""
    lines = path.read_bytes().split(b"\n")
    original = lines[number - 1]
    lines[number - 1] = original[:-12] + b"\x00#garbled#"
    path.write_bytes(b"\n".join(lines))
    return original


def line_with(path: Path, op_code: int, nth: int = 1, after: int = 0) -> int:
    """The number of the ``nth`` line after line ``after`` of a journal with ``op_code``."""
    found = [
        i
        for i, line in enumerate(path.read_bytes().split(b"\n"), start=1)
        if i > after and line.startswith(b'{"op_code":%d,' % op_code)
    ]
    return found[nth - 1]


def garble_page(db: Path, table: str) -> None:
    """Overwrite the root page of ``table`` (or index) in a SQLite file with 0xff bytes."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every page in the main file
    page = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    data = bytearray(db.read_bytes())
    data[(page - 1) * size : page * size] = b"\xff" * size
    db.write_bytes(bytes(data))


def assert_clean_error(capsys: pytest.CaptureFixture[str], code: int, command: str) -> str:
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"hyperlab {command}: error: " in err
    assert "Traceback" not in err
    return err


def test_cut_last_line_is_moved_aside_and_the_run_goes_on(templates: Path, tmp_path: Path) -> None:
    run = copy_run(templates, tmp_path, "j")
    journal = run / "study.journal"
    data = journal.read_bytes()
    cut, kept = data[:-40], data[-len(data.split(b"\n")[-2]) - 1 : -40]
    journal.write_bytes(cut)
    with pytest.warns(RuntimeWarning, match="cut off mid-write") as caught:
        assert main(tune_args(tmp_path, "j", trials=6, jobs=2)) == 0
    sides = list(run.glob("study.journal.damaged-*"))
    assert len(sides) == 1
    assert sides[0].read_bytes() == kept  # the cut bytes, not dropped
    assert str(journal) in str(caught[0].message) and str(sides[0]) in str(caught[0].message)
    assert journal.read_bytes().endswith(b"\n")
    assert all(json.loads(line) for line in journal.read_bytes().splitlines())
    assert len(values(run)) == 6


def test_append_after_a_cut_line_starts_a_fresh_line(tmp_path: Path) -> None:
    journal = tmp_path / "study.journal"
    storage = open_storage(f"journal:{journal}")
    study = optuna.create_study(storage=storage, study_name="s")
    study.add_trial(optuna.trial.create_trial(value=1.0))
    with open(journal, "ab") as f:  # another writer, killed mid-append
        f.write(b'{"op_code":4,"worker_id":"w","stu')
    with pytest.warns(RuntimeWarning, match="cut off mid-write"):
        study.add_trial(optuna.trial.create_trial(value=2.0))
    again = optuna.load_study(study_name="s", storage=open_storage(f"journal:{journal}"))
    assert [t.value for t in again.trials] == [1.0, 2.0]
    sides = list(tmp_path.glob("study.journal.damaged-*"))
    assert [side.read_bytes() for side in sides] == [b'{"op_code":4,"worker_id":"w","stu']


def test_garbled_middle_line_is_a_clean_error(
    templates: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = copy_run(templates, tmp_path, "j")
    garble_line(run / "study.journal", 10)
    recorded = (run / "run.json").read_bytes()
    for command, args in (
        ("report", ["report", str(run)]),
        ("tune", tune_args(tmp_path, "j", 6, 2)),
    ):
        err = assert_clean_error(capsys, main(args), command)
        assert f"journal file {str(run / 'study.journal')!r} is damaged at line 10" in err
        assert f"hyperlab recover {run}" in err
    assert (run / "run.json").read_bytes() == recorded
    with pytest.raises(StorageError, match="at line 10"):
        open_storage(f"journal:{run / 'study.journal'}")


def test_binary_journal_is_a_clean_error(
    templates: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = copy_run(templates, tmp_path, "j")
    (run / "study.journal").write_bytes(random.Random(0).randbytes(3000))
    for command, args in (
        ("report", ["report", str(run)]),
        ("tune", tune_args(tmp_path, "j", 6, 2)),
    ):
        err = assert_clean_error(capsys, main(args), command)
        assert "is damaged at line 1 (binary data, not text)" in err
        assert "has no study" not in err and "hyperlab recover" in err


@pytest.mark.parametrize("damage", ["header", "half", "index"])
def test_damaged_sqlite_is_a_clean_error(
    templates: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    run = copy_run(templates, tmp_path, "s")
    db = run / "study.db"
    if damage == "header":
        db.write_bytes(b"garbage!" * 16 + db.read_bytes()[128:])
    elif damage == "half":
        db.write_bytes(db.read_bytes()[: db.stat().st_size // 2])
    else:
        garble_page(db, "ix_trials_study_id")
    recorded = (run / "run.json").read_bytes()
    for command, args in (
        ("report", ["report", str(run)]),
        ("tune", tune_args(tmp_path, "s", 6, 1)),
    ):
        err = assert_clean_error(capsys, main(args), command)
        assert f"SQLite file {str(db)!r} is damaged" in err
        assert f"hyperlab recover {run}" in err
    assert (run / "run.json").read_bytes() == recorded  # (not the refused command's 6 trials)


def test_recover_journal_brings_back_every_intact_trial(
    templates: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = copy_run(templates, tmp_path, "j")
    journal = run / "study.journal"
    before, expected = values(run), counts(run)
    created = line_with(journal, 4, nth=2)  # the line that created trial 1
    step = line_with(journal, 7, after=created)  # an intermediate value
    garble_line(journal, created)
    garble_line(journal, step)
    damaged = journal.read_bytes()
    assert main(["recover", str(run)]) == 0
    out = capsys.readouterr().out
    assert f"{expected})" in out
    assert f"line {created}: damaged; the trial it created is kept" in out
    assert f"line {step}: damaged" in out
    kept = list(run.glob("study.journal.damaged-*"))
    assert len(kept) == 1 and str(kept[0]) in out
    assert kept[0].read_bytes() == damaged
    assert values(run) == before
    assert main(tune_args(tmp_path, "j", trials=6, jobs=2)) == 0
    assert values(run)[:4] == before and len(values(run)) == 6


def test_recover_keeps_records_appended_after_a_cut_line(tmp_path: Path) -> None:
    from hyperlab.lab.repair import recover

    journal = tmp_path / "study.journal"
    study = optuna.create_study(storage=open_storage(f"journal:{journal}"), study_name="s")
    study.add_trial(optuna.trial.create_trial(value=1.0))
    with open(journal, "ab") as f:  # a cut record, then what Optuna's own backend appended
        f.write(b'{"op_code":4,"worker_id":"w","stu')
    plain = optuna.storages.journal.JournalFileBackend(str(journal))
    for key in ("a", "b"):
        plain.append_logs([{"op_code": 2, "worker_id": "w", "study_id": 0, "user_attr": {key: 1}}])
    with pytest.raises(StorageError, match="at line 3"):
        open_storage(f"journal:{journal}")
    result = recover(f"journal:{journal}")
    assert result.lost == ["line 3: a record cut off mid-write (1 after it kept)"]
    again = optuna.load_study(study_name="s", storage=open_storage(f"journal:{journal}"))
    assert again.user_attrs == {"a": 1, "b": 1} and [t.value for t in again.trials] == [1.0]


def test_recover_sqlite(
    templates: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = copy_run(templates, tmp_path, "s")
    before = values(run)
    garble_page(run / "study.db", "ix_trials_study_id")
    assert main(["recover", str(run)]) == 0
    out = capsys.readouterr().out
    assert "1 study, 4 trials (4 complete)" in out and "nothing was lost" in out
    kept = [p.name for p in run.glob("study.db.damaged-*")]
    assert len([name for name in kept if not name.endswith(("-wal", "-shm"))]) == 1
    assert values(run) == before
    assert main(tune_args(tmp_path, "s", trials=6, jobs=1)) == 0
    assert values(run)[:4] == before and len(values(run)) == 6


def test_recover_sqlite_reports_what_it_lost(
    templates: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = copy_run(templates, tmp_path, "s")
    garble_page(run / "study.db", "trial_values")
    assert main(["recover", str(run)]) == 0
    out = capsys.readouterr().out
    assert "1 study, 0 trials" in out and "rows of table trial_values" in out
    assert "trial 3 of study 's:random:none:seed0': some of its rows in trial_values" in out
    assert main(["report", str(run)]) == 0


def test_recover_unreadable_sqlite_is_a_clean_error(
    templates: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = copy_run(templates, tmp_path, "s")
    db = run / "study.db"
    db.write_bytes(b"garbage!" * 16 + db.read_bytes()[128:])
    damaged = db.read_bytes()
    err = assert_clean_error(capsys, main(["recover", str(run)]), "recover")
    assert f"nothing can be recovered from SQLite file {str(db)!r}" in err
    assert db.read_bytes() == damaged and not list(run.glob("study.db.*"))


def test_recover_without_damage_changes_nothing(
    templates: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = copy_run(templates, tmp_path, "j")
    data, expected = (run / "study.journal").read_bytes(), counts(run)
    assert main(["recover", str(run)]) == 0
    assert f"no damage found, nothing changed ({expected})" in capsys.readouterr().out
    assert (run / "study.journal").read_bytes() == data


def test_recover_refuses_a_database_server(capsys: pytest.CaptureFixture[str]) -> None:
    err = assert_clean_error(capsys, main(["recover", "postgresql://u:s3cret@h/db"]), "recover")
    assert "handles journal files" in err and "s3cret" not in err


def test_recover_never_writes_a_damaged_sqlite_file_with_a_wal_beside_it(tmp_path: Path) -> None:
    """Opening a SQLite file writes its WAL into it: recover checks a copy, and an unreadable
    file is left exactly as it was."""
    live = tmp_path / "live.db"
    conn = sqlite3.connect(live)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (x INTEGER)")
    conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(2000)])
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("UPDATE t SET x = x + 1")  # data pages only: the WAL holds no header page
    conn.commit()
    db = tmp_path / "study.db"
    for suffix in ("", "-wal"):  # the files as a crash leaves them: the update still in the WAL
        shutil.copyfile(f"{live}{suffix}", f"{db}{suffix}")
    conn.close()
    assert Path(f"{db}-wal").stat().st_size > 0
    db.write_bytes(b"garbage!" * 16 + db.read_bytes()[128:])
    damaged = db.read_bytes()
    with pytest.raises(StorageError, match="nothing can be recovered"):
        recover(f"sqlite:///{db}")
    assert db.read_bytes() == damaged


def test_recover_counts_a_surplus_trial_apart_from_failures(
    templates: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = copy_run(templates, tmp_path, "j")
    study = load_studies(run)[0][0]
    trial = study.ask()
    trial.set_user_attr("fail_reason", SURPLUS_REASON)
    study.tell(trial, state=TrialState.FAIL)
    failed = study.ask()
    study.tell(failed, state=TrialState.FAIL)
    surplus = len(study.trials) - 5
    assert main(["recover", str(run)]) == 0
    out = capsys.readouterr().out
    assert f"(4 complete, 1 fail, {surplus} surplus))" in out


def test_recover_leaves_a_file_that_is_no_journal_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It "recovered" a CSV file into an empty journal and renamed the original."""
    csv = tmp_path / "curves.log"
    csv.write_text("epoch,val_loss\n1,0.5\n2,0.4\n")
    err = assert_clean_error(capsys, main(["recover", f"journal:{csv}"]), "recover")
    assert "is not a journal file: none of its 3 lines starts as a journal record does" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.log"]
    assert csv.read_text().startswith("epoch,val_loss")


def test_a_run_is_not_written_into_a_file_that_is_no_journal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A one-line JSON file without its line end was taken for a journal whose last record a
    kill cut off: moved aside, and the run's journal written in its place."""
    mine = tmp_path / "mine.json"
    mine.write_text('{"model": "resnet", "lr": 0.1}')
    argv = ["tune", "--task", "branin", "--tuner", "random", "--trials", "1"]
    argv += ["--runs-dir", str(tmp_path / "runs")]
    for command, args in (
        ("tune", [*argv, "--storage", f"journal:{mine}", "--no-progress"]),
        ("worker", ["worker", "--storage", f"journal:{mine}", "--name", "x", "--no-wait"]),
    ):
        err = assert_clean_error(capsys, main(args), command)
        assert "is not a journal file: its one line does not start as a journal record" in err
        assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.json"]
        assert mine.read_text() == '{"model": "resnet", "lr": 0.1}'
    assert open_storage(f"journal:{tmp_path / 'new.journal'}") is not None  # (a new file)


@pytest.mark.parametrize("tables", [[], ["foo"]])
def test_commands_that_read_a_storage_leave_another_sqlite_file_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tables: list[str]
) -> None:
    """A worker or a report wrote Optuna's 13 tables into an empty or unrelated database."""
    db = tmp_path / "other.db"
    with contextlib.closing(sqlite3.connect(db)) as connection:
        for table in tables:
            connection.execute(f"CREATE TABLE {table} (x)")
        connection.commit()
    before = db.read_bytes()
    argv = ["worker", "--storage", f"sqlite:///{db}", "--name", "x", "--no-wait"]
    err = assert_clean_error(capsys, main(argv), "worker")
    assert "holds no Optuna storage" in err and (str(tables) if tables else "no table") in err
    assert db.read_bytes() == before
    if tables:  # a run is not written into another program's database either
        for url in (f"sqlite:///{db}", f"sqlite:///{db}?timeout=10"):
            argv = ["tune", "--task", "branin", "--trials", "1", "--storage", url]
            err = assert_clean_error(capsys, main([*argv, "--runs-dir", str(tmp_path)]), "tune")
            assert "holds no Optuna storage: the tables ['foo']" in err
            assert db.read_bytes() == before


def test_a_storage_path_with_uri_characters_is_read_as_a_name(tmp_path: Path) -> None:
    """'#' in the path cut the read-only URI: a real storage was called empty, and a stray
    file was made where the '#' began."""
    folder = tmp_path / "a#b"
    folder.mkdir()
    url = f"sqlite:///{folder / 's#1.db'}"
    hyperlab.tune("branin", "random", trials=2, storage=url, runs_dir=tmp_path, progress=False)
    assert main(["report", str(tmp_path / "branin-random")]) == 0  # (it opens what exists)
    assert {p.name for p in folder.iterdir()} - {"s#1.db-wal", "s#1.db-shm"} == {"s#1.db"}


def test_recover_given_the_url_of_a_runs_own_file_takes_the_runs_lock(
    templates: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given as a URL, the run's own journal was recovered under a running --jobs run (whose
    processes keep no heartbeats): only `recover runs/NAME` took the run's lock."""
    from hyperlab.lab.runlock import RunLock

    run = copy_run(templates, tmp_path, "j")
    data = (run / "study.journal").read_bytes()
    with RunLock(run):  # a command running the run
        assert main(["recover", f"journal:{run / 'study.journal'}"]) == 2
        assert "is in use by process" in capsys.readouterr().err
    assert (run / "study.journal").read_bytes() == data
    assert main(["recover", f"journal:{run / 'study.journal'}"]) == 0


def five_trials(journal: Path) -> list[tuple[dict[str, float], float]]:
    """A journal of five finished trials, a study attribute written before the third;
    ``(params, value)`` of each."""
    study = optuna.create_study(storage=open_storage(f"journal:{journal}"), study_name="s")
    for number in range(5):
        if number == 2:
            study.set_user_attr("note", "x" * 40)
        trial = study.ask()
        trial.suggest_float("x", 0, 1)
        study.tell(trial, trial.params["x"] * 2)
    return [(t.params, t.value) for t in study.trials]  # type: ignore[misc]


def zero_from(journal: Path, start: bytes, length: int) -> int:
    """Overwrite ``length`` bytes with zeros from the middle of the first line that starts
    with ``start`` (line ends included, as a disk error does); that line's number."""
    data = bytearray(journal.read_bytes())
    at = data.index(start) + 20
    data[at : at + length] = bytes(length)
    journal.write_bytes(bytes(data))
    return data[:at].count(b"\n") + 1


def test_recover_keeps_the_trials_after_a_creation_lost_in_a_damaged_line(tmp_path: Path) -> None:
    journal = tmp_path / "study.journal"
    before = five_trials(journal)
    lines = journal.read_bytes().split(b"\n")
    attr = next(i for i, line in enumerate(lines) if line.startswith(b'{"op_code":2,'))
    # from the study attribute through the middle of the line that created trial 2
    line = zero_from(journal, b'{"op_code":2,', len(lines[attr]) - 20 + 1 + 30)
    result = recover(f"journal:{journal}")
    study = optuna.load_study(study_name="s", storage=open_storage(f"journal:{journal}"))
    after = [(t.params, t.value) for t in study.trials]
    # trial 2 lost only its creation: the lines after it finish its stand-in
    assert after == before and all(t.state == TrialState.COMPLETE for t in study.trials)
    assert f"line {line}: 1 trial created on it, kept as a placeholder" in "\n".join(result.lost)
    assert result.lost[-1].startswith("study 's': trial 2 may have lost records")


def test_recover_names_the_trials_that_were_running_at_a_damaged_line(tmp_path: Path) -> None:
    journal = tmp_path / "study.journal"
    study = optuna.create_study(storage=open_storage(f"journal:{journal}"), study_name="s")
    first, second = study.ask(), study.ask()  # two trials running side by side
    first.suggest_float("x", 0, 1)
    second.suggest_float("x", 0, 1)
    study.tell(first, 1.0)
    study.tell(second, 2.0)
    study.tell(study.ask(), 3.0)
    line = line_with(journal, 5, nth=2)  # the parameter of trial 1
    garble_line(journal, line)
    result = recover(f"journal:{journal}")
    assert result.lost == [
        f"line {line}: damaged",
        "study 's': trials 0, 1 may have lost records on the lines above (running at a "
        "damaged line, created on it, or named by a dropped record)",
    ]


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (lambda line: line[:30] + bytes(50) + line[80:], "50 zero bytes, the first at column 31"),
        (lambda line: line[:-1] + b",", "not JSON from column"),
        (lambda line: line.replace(b"op_code", b"op_}ode"), "JSON without an integer op_code"),
    ],
    ids=["zeros", "cut-json", "no-op-code"],
)
def test_a_damaged_line_whose_start_looks_whole_says_what_is_wrong(
    tmp_path: Path, damage: object, said: str
) -> None:
    journal = tmp_path / "study.journal"
    five_trials(journal)
    lines = journal.read_bytes().split(b"\n")
    lines[5] = damage(lines[5])  # type: ignore[operator]
    journal.write_bytes(b"\n".join(lines))
    with pytest.raises(StorageError, match=f"at line 6 \\(not a journal record \\({said}"):
        open_storage(f"journal:{journal}")


@pytest.mark.parametrize("legible", [True, False])
def test_recover_keeps_a_study_whose_creation_was_damaged_when_its_name_can_be_read(
    tmp_path: Path, legible: bool
) -> None:
    journal = tmp_path / "study.journal"
    before = five_trials(journal)
    data = bytearray(journal.read_bytes())
    end = data.index(b'"study_name"') if legible else data.index(b"\n")
    data[15:end] = bytes(end - 15)  # the study's creation: its worker, maybe its name too
    journal.write_bytes(bytes(data))
    result = recover(f"journal:{journal}")
    if not legible:
        assert result.studies == 0 and result.lost[-1] == (
            "line 1: damaged; it created study 0, whose name cannot be read: that study's "
            "records are lost, its 5 trials with them"
        )
        return
    study = optuna.load_study(study_name="s", storage=open_storage(f"journal:{journal}"))
    assert [(t.params, t.value) for t in study.trials] == before
    assert study.user_attrs == {"note": "x" * 40}
    assert result.lost[-1] == (
        "line 1: damaged; the study it created, 's', is kept (its name and directions read "
        "from what is left of the line)"
    )


def test_recover_names_the_trial_of_a_record_it_cannot_replay(tmp_path: Path) -> None:
    journal = tmp_path / "study.journal"
    five_trials(journal)
    line = line_with(journal, 5, nth=4)  # the parameter of trial 3
    lines = journal.read_bytes().split(b"\n")
    lines[line - 1] = lines[line - 1].replace(b'"param_name"', b'"param_nbme"')
    journal.write_bytes(b"\n".join(lines))
    with pytest.raises(StorageError, match=f"the record on line {line} cannot be replayed"):
        open_storage(f"journal:{journal}")
    result = recover(f"journal:{journal}")
    assert result.lost[0] == f"line {line}: cannot be replayed (KeyError: 'param_name')"
    assert result.lost[1].startswith("study 's': trial 3 may have lost records")


def test_recover_keeps_the_trials_after_a_creation_it_cannot_replay(tmp_path: Path) -> None:
    journal = tmp_path / "study.journal"
    before = five_trials(journal)
    line = line_with(journal, 4, nth=2)  # the creation of trial 1
    lines = journal.read_bytes().split(b"\n")
    # one flipped bit ("r" to "s") leaves the line JSON, but not a record Optuna can replay
    lines[line - 1] = lines[line - 1].replace(b'"worker_id"', b'"workes_id"')
    journal.write_bytes(b"\n".join(lines))
    result = recover(f"journal:{journal}")
    study = optuna.load_study(study_name="s", storage=open_storage(f"journal:{journal}"))
    # trial 1 lost only its creation: the lines after it finish its stand-in, and the later
    # trials keep their numbers and records
    assert [(t.params, t.value) for t in study.trials] == before
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    assert result.lost[0] == (
        f"line {line}: cannot be replayed (KeyError: 'worker_id'); the trial it created is "
        "kept, failed unless later lines finish it"
    )
    assert result.lost[1].startswith("study 's': trial 1 may have lost records")
