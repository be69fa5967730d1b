"""Run folders: names, what --overwrite may delete, failed first attempts, moved and copied runs."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from hyperlab.cli import main
from hyperlab.errors import InputError, InputTypeError
from hyperlab.lab.rundir import RunDir, check_name, load_studies
from hyperlab.lab.trial_kinds import SURPLUS_REASON, is_bookkeeping, is_surplus
from hyperlab.registry import TASKS


def _tune(runs: Path, name: str, *extra: str, trials: int = 2) -> int:
    tuner = [] if "--tuner" in extra else ["--tuner", "random"]
    argv = ["tune", "--task", "branin", *tuner, "--trials", str(trials)]
    return main([*argv, "--runs-dir", str(runs), "--name", name, "--no-progress", *extra])


def _tree(folder: Path) -> list[str]:
    """The files below ``folder``, less SQLite's -wal/-shm files (they come and go with
    connections that garbage collection closes)."""
    return sorted(
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if not p.name.endswith(("-wal", "-shm"))
    )


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".",
        "..",
        "a/b",
        "../up",
        "a\\b",
        "x:y",
        " lead",
        "tab\tname",
        "n" * 300,
        "a?b",
        "a%41",
        "a#b",
    ],
)
def test_bad_run_names_are_refused_and_nothing_is_touched(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "work" / "runs"
    assert _tune(runs, "keep") == 0
    (tmp_path / "work" / "mine.txt").write_text("user file")
    before, above = _tree(runs), _tree(tmp_path)
    capsys.readouterr()
    assert _tune(runs, name, "--overwrite") == 2
    err = capsys.readouterr().err
    assert ("run name" in err or "--name must not be empty" in err) and "Traceback" not in err
    assert _tree(runs) == before and _tree(tmp_path) == above


def test_check_name_accepts_plain_names_and_types() -> None:
    assert check_name("digits-mlp_tpe.v2") == "digits-mlp_tpe.v2"
    with pytest.raises(InputTypeError):
        check_name(3)
    with pytest.raises(InputError, match="at most 100"):
        check_name("a" * 101)


def test_a_runs_folder_a_sqlite_url_cannot_hold_is_refused_by_name(tmp_path: Path) -> None:
    from hyperlab.lab.storage import default_storage

    with pytest.raises(InputError, match=r"holds \['\?'\]"):
        default_storage(tmp_path / "what?" / "run")
    assert default_storage(tmp_path / "run").endswith("run/study.db")


def test_overwrite_refuses_a_folder_that_holds_no_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = tmp_path / "runs" / "photos"
    photos.mkdir(parents=True)
    (photos / "holiday.jpg").write_bytes(b"\xff\xd8jpeg")
    for extra in (("--overwrite",), ()):
        assert _tune(tmp_path / "runs", "photos", *extra) == 2
        err = capsys.readouterr().err
        assert "holds no hyperlab run" in err and "holiday.jpg" in err
    assert _tree(photos) == ["holiday.jpg"]


def test_overwrite_removes_only_what_the_lab_wrote(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    assert _tune(runs, "r1", trials=3) == 0
    notes = runs / "r1" / "notes.txt"
    notes.write_text("my notes")
    backup = runs / "r1" / "study.db.bak"
    shutil.copyfile(runs / "r1" / "study.db", backup)
    assert _tune(runs / "r1", "population") == 0  # a run inside it, named as the lab's folder
    assert _tune(runs, "r1", "--overwrite", trials=2) == 0
    assert notes.read_text() == "my notes"
    assert backup.is_file() and (runs / "r1" / "population" / "run.json").is_file()
    study = load_studies(runs / "r1")[0][0]
    assert len(study.trials) == 2  # started over


def test_a_failed_first_attempt_does_not_block_the_corrected_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    assert _tune(runs, "s1", "--storage", "sqlite:////nonexistent/dir/x.db") == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (runs / "s1" / "run.json").exists()
    assert _tune(runs, "s1") == 0
    assert len(load_studies(runs / "s1")[0][0].trials) == 2


def _leftover(runs: Path, name: str, storage: str) -> None:
    """A run.json as an earlier version left it: recorded before its storage ever opened."""
    (runs / name).mkdir(parents=True)
    spec = {
        "kind": "tune",
        "task": "branin",
        "tuners": ["random"],
        "pruners": ["none"],
        "seeds": [0],
        "trials": 2,
        "storage": storage,
        "name": name,
    }
    (runs / name / "run.json").write_text(json.dumps(spec))


def test_a_recorded_run_with_no_trials_is_set_up_again(tmp_path: Path) -> None:
    """Its storage file in the run folder is missing: nothing ran, so new settings replace it."""
    runs = tmp_path / "runs"
    _leftover(runs, "s2", "sqlite:///study.db")
    assert _tune(runs, "s2", "--tuner", "qmc", trials=3) == 0
    assert len(load_studies(runs / "s2")[0][0].trials) == 3


def test_a_run_whose_storage_elsewhere_is_missing_is_not_replaced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing file outside the folder may be an unmounted disk: refused, --overwrite works."""
    runs = tmp_path / "runs"
    _leftover(runs, "s3", f"sqlite:///{tmp_path}/elsewhere/x.db")
    assert _tune(runs, "s3", "--tuner", "qmc", trials=3) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert _tune(runs, "s3", "--tuner", "qmc", "--overwrite", trials=3) == 0


def test_a_relative_storage_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert _tune(Path("runs"), "rel", "--storage", "sqlite:///mine.db", trials=2) == 0
    assert _tune(Path("runs"), "rel", "--storage", "sqlite:///mine.db", trials=3) == 0
    assert len(load_studies("runs/rel")[0][0].trials) == 3


def test_overwrite_starts_over_in_a_storage_outside_the_folder(tmp_path: Path) -> None:
    shared = f"sqlite:///{tmp_path}/shared.db"
    assert _tune(tmp_path / "runs", "o", "--storage", shared, trials=3) == 0
    assert _tune(tmp_path / "runs", "o", "--storage", shared, "--overwrite", trials=2) == 0
    assert len(load_studies(tmp_path / "runs" / "o")[0][0].trials) == 2


def test_storage_is_recorded_relative_to_the_run_folder(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    assert _tune(runs, "d0") == 0
    recorded = json.loads((runs / "d0" / "run.json").read_text())["storage"]
    assert recorded == "sqlite:///study.db"
    assert _tune(runs, "j0", "--jobs", "2") == 0
    assert json.loads((runs / "j0" / "run.json").read_text())["storage"] == "journal:study.journal"


def test_a_moved_run_reports_and_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert _tune(Path("runs"), "d1", trials=3) == 0
    Path("archive").mkdir()
    shutil.move("runs/d1", "archive/d1")
    assert main(["report", "archive/d1"]) == 0
    assert _tune(Path("archive"), "d1", trials=5) == 0
    assert len(load_studies("archive/d1")[0][0].trials) == 5


def test_a_copied_run_reads_its_own_storage(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    assert _tune(runs, "d2", trials=3) == 0
    shutil.copytree(runs / "d2", runs / "d2copy")
    assert _tune(runs, "d2", trials=5) == 0  # the original goes on; the copy must not see it
    study = load_studies(runs / "d2copy")[0][0]
    assert len(study.trials) == 3
    assert main(["report", str(runs / "d2copy")]) == 0
    # the copy resumes on its own file (its studies keep the names they were recorded with)
    assert _tune(runs, "d2copy", trials=4) == 0
    assert len(load_studies(runs / "d2copy")[0][0].trials) == 4
    assert len(load_studies(runs / "d2")[0][0].trials) == 5


def _record_storage_absolute(run: Path) -> None:
    """Record ``run``'s storage in its run.json by absolute path, as runs made before storages
    were recorded relative to their folder (2026-12-03) did."""
    spec = json.loads((run / "run.json").read_text())
    kind, _, name = spec["storage"].partition(":")
    name = name.removeprefix("///")
    prefix = "sqlite:///" if kind == "sqlite" else "journal:"
    spec["storage"] = f"{prefix}{(run / name).resolve().as_posix()}"
    (run / "run.json").write_text(json.dumps(spec))


def test_a_copied_run_that_recorded_its_storage_absolute_reads_its_own(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    assert _tune(runs, "old", trials=3) == 0
    _record_storage_absolute(runs / "old")
    shutil.copytree(runs / "old", runs / "oldcopy")
    assert main(["report", str(runs / "oldcopy")]) == 0
    assert _tune(runs, "oldcopy", trials=5) == 0  # (it went into the original's storage)
    assert len(load_studies(runs / "oldcopy")[0][0].trials) == 5
    assert len(load_studies(runs / "old")[0][0].trials) == 3
    recorded = json.loads((runs / "oldcopy" / "run.json").read_text())["storage"]
    assert recorded == "sqlite:///study.db"  # recorded relative from now on


def _add_surplus_claim(run: Path) -> None:
    """Add to ``run``'s journal the surplus claim that two workers' last round of trials may
    leave (both passed the count's check at once; the later one was failed as surplus)."""
    from optuna.storages.journal import JournalFileBackend

    storage = optuna.storages.JournalStorage(JournalFileBackend(str(run / "study.journal")))
    study_id = storage.get_all_studies()[0]._study_id
    trial_id = storage.create_new_trial(study_id)
    storage.set_trial_user_attr(trial_id, "fail_reason", SURPLUS_REASON)
    storage.set_trial_state_values(trial_id, TrialState.FAIL)


def test_a_moved_run_that_recorded_its_journal_absolute_reports_and_resumes(
    tmp_path: Path,
) -> None:
    assert _tune(tmp_path / "runs", "oldj", "--jobs", "2", trials=3) == 0
    _add_surplus_claim(tmp_path / "runs" / "oldj")  # (two workers leave one at times)
    _record_storage_absolute(tmp_path / "runs" / "oldj")
    shutil.move(tmp_path / "runs", tmp_path / "archive")
    assert main(["report", str(tmp_path / "archive" / "oldj")]) == 0  # 'lost its storage'
    assert _tune(tmp_path / "archive", "oldj", "--jobs", "2", trials=4) == 0
    trials = load_studies(tmp_path / "archive" / "oldj")[0][0].trials
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 4  # exactly the count asked
    others = [t for t in trials if t.state != TrialState.COMPLETE]
    assert any(is_surplus(t) for t in others)  # (the surplus claim stays, failed, beside them)
    assert all(is_bookkeeping(t) for t in others)  # the run's own: surplus, cut off and queued


def test_only_a_default_storage_file_of_the_runs_folder_is_read_as_the_folders_own(
    tmp_path: Path,
) -> None:
    from hyperlab.lab.run_paths import own_default_file

    here = tmp_path / "now" / "r"
    here.mkdir(parents=True)
    (here / "study.db").write_text("")
    was = (tmp_path / "then" / "r").as_posix()
    assert own_default_file(f"{was}/study.db", "r", here) == (here / "study.db").resolve()
    assert own_default_file(f"{was}/study.journal", "r", here) is None  # not in the folder
    assert own_default_file(f"{was}/shared.db", "r", here) is None  # a storage given by name
    other = (tmp_path / "then" / "other").as_posix()
    assert own_default_file(f"{other}/study.db", "r", here) is None  # another run's folder
    assert own_default_file(f"{here.as_posix()}/study.db", "r", here) is None  # not moved


def test_run_spec_resolves_recorded_relative_storage(tmp_path: Path) -> None:
    assert _tune(tmp_path, "rel") == 0
    spec = RunDir(tmp_path / "rel").load_spec()
    assert spec.storage == f"sqlite:///{(tmp_path / 'rel' / 'study.db').resolve().as_posix()}"
    optuna.load_study(study_name=spec.study_names()[0][0], storage=spec.storage)


def test_a_changed_setting_is_named_briefly_however_long_it_is() -> None:
    from hyperlab.lab.rundir import RunSpec

    def spec(seeds: list[int]) -> RunSpec:
        return RunSpec(kind="compare", task="branin", tuners=["random"], pruners=["none"],
                       seeds=seeds, trials=2, storage="", budget=None, jobs=1)  # fmt: skip

    (diff,) = spec(list(range(2))).differences(spec(list(range(1_000_000))))
    assert diff.startswith("seeds: [0, 1, 2,") and diff.endswith("-> [0, 1]")
    assert "characters)" in diff and len(diff) < 300


def test_a_run_name_is_one_run_per_shared_storage_and_overwrite_keeps_the_others(
    tmp_path: Path,
) -> None:
    """Two run folders that name one run in one database (outside both) do not share its
    studies: the second is refused, and its --overwrite deletes none of the first's."""
    shared = f"sqlite:///{tmp_path}/shared.db"

    def tune(task: str, runs: str, *extra: str) -> int:
        return main(
            ["tune", "--task", task, "--tuner", "random", "--trials", "2", "--name", "r",
             "--storage", shared, "--runs-dir", str(tmp_path / runs), *extra]
        )  # fmt: skip

    assert tune("branin", "a") == 0
    assert tune("hartmann6", "b") == 2  # another task under the same name
    assert tune("hartmann6", "b", "--overwrite") == 2
    assert tune("branin", "c") == 2  # the same task from another folder
    assert not (tmp_path / "b" / "r").exists() and not (tmp_path / "c" / "r").exists()
    study = optuna.load_study(study_name="r:random:none:seed0", storage=shared)
    assert len(study.trials) == 2 and study.user_attrs["hyperlab"]["task"] == "branin"
    assert tune("branin", "a") == 0  # the owner resumes
    (tmp_path / "a").rename(tmp_path / "moved")  # a run folder moved keeps its studies
    assert main(
        ["tune", "--task", "branin", "--tuner", "random", "--trials", "3", "--name", "r",
         "--storage", shared, "--runs-dir", str(tmp_path / "moved")]
    ) == 0  # fmt: skip
    assert len(optuna.load_study(study_name="r:random:none:seed0", storage=shared).trials) == 3


def test_overwrite_in_a_shared_storage_leaves_another_runs_studies(tmp_path: Path) -> None:
    """A folder whose run name another run's studies hold in one database (an older lab let
    both in): --overwrite is refused before it deletes anything."""
    shared = f"sqlite:///{tmp_path}/shared.db"
    argv = ["tune", "--task", "branin", "--tuner", "random", "--trials", "2", "--name", "r",
            "--storage", shared]  # fmt: skip
    assert main([*argv, "--runs-dir", str(tmp_path / "a")]) == 0
    info = optuna.load_study(study_name="r:random:none:seed0", storage=shared).user_attrs
    # the study as another run made it
    storage = optuna.storages.RDBStorage(shared)
    study_id = storage.get_study_id_from_name("r:random:none:seed0")
    storage.set_study_user_attr(study_id, "hyperlab", {**info["hyperlab"], "run": "elsewhere"})
    assert main([*argv, "--runs-dir", str(tmp_path / "a"), "--overwrite"]) == 2
    assert len(optuna.load_study(study_name="r:random:none:seed0", storage=shared).trials) == 2
    assert (tmp_path / "a" / "r" / "run.json").exists()  # refused before anything was touched


def test_overwrite_leaves_a_folder_whose_run_json_another_program_wrote(tmp_path: Path) -> None:
    other = tmp_path / "runs" / "other"
    other.mkdir(parents=True)
    files = {"run.json": '{"model": "resnet"}', "report.html": "mine", "study.db": "mine too"}
    for name, text in files.items():
        (other / name).write_text(text)
    assert _tune(tmp_path / "runs", "other", "--overwrite") == 2
    assert {p.name: p.read_text() for p in other.iterdir()} == files


def test_the_full_budget_given_or_left_out_is_the_same_setting_on_resume(tmp_path: Path) -> None:
    from hyperlab.lab.rundir import RunSpec

    def spec(budget: int | None) -> RunSpec:
        return RunSpec(kind="tune", task="branin", tuners=["random"], pruners=["none"],
                       seeds=[0], trials=2, storage="", budget=budget)  # fmt: skip

    full = TASKS.create("wine-mlp").max_budget
    as_wine = [dataclasses.replace(spec(b), task="wine-mlp") for b in (None, full, full - 1)]
    assert as_wine[1].differences(as_wine[0]) == []
    assert as_wine[0].differences(as_wine[1]) == []
    assert as_wine[2].differences(as_wine[0]) == [f"budget: None -> {full - 1}"]


def test_fewer_trials_on_resume_only_while_no_study_holds_more(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A report covers every trial its studies hold: asking for fewer than that would label
    them with the smaller count, so it is refused; fewer than recorded but more than run is
    fine (an interrupted run finished early)."""
    assert _tune(tmp_path, "t", trials=4) == 0
    assert _tune(tmp_path, "t", trials=2) == 2
    assert "already holds 4 finished trials" in capsys.readouterr().err
    assert json.loads((tmp_path / "t" / "run.json").read_text())["trials"] == 4
    assert _tune(tmp_path, "t", trials=5) == 0
    assert _tune(tmp_path, "t", trials=5) == 0  # the same count again: nothing to run


@pytest.mark.parametrize(
    "extra",
    [
        ["--storage", "sqlite:///{tmp}/no/such/folder/x.db"],
        ["--storage", "journal:{tmp}"],
        ["--create-only", "--grace-period", "1"],
        ["--dask", "tcp://127.0.0.1:99999"],
    ],
)
def test_overwrite_that_is_refused_keeps_the_old_run(tmp_path: Path, extra: list[str]) -> None:
    """The old run was deleted first, then the command was refused: its results were lost."""
    runs = tmp_path / "runs"
    assert _tune(runs, "r", trials=3) == 0
    before = _tree(runs / "r")
    assert _tune(runs, "r", "--overwrite", *[e.format(tmp=tmp_path) for e in extra]) == 2
    assert _tree(runs / "r") == before
    assert len(load_studies(runs / "r")[0][0].trials) == 3


def test_refused_scaled_runs_leave_no_folder_and_a_conflict_creates_no_storage(
    tmp_path: Path,
) -> None:
    runs = tmp_path / "runs"
    assert _tune(runs, "g", "--create-only", "--grace-period", "1") == 2
    assert not (runs / "g").exists()
    assert _tune(runs, "r", trials=3) == 0
    other = tmp_path / "other.db"
    assert _tune(runs, "r", "--storage", f"sqlite:///{other}", trials=3) == 2  # another storage
    assert not other.exists()


@pytest.mark.parametrize(
    ("storage", "message"),
    [
        ("journal:{run}", "names a folder"),
        ("sqlite:///{run}", "names a folder"),
        ("journal:{run}/sub/x.journal", "does not exist"),
        ("journal:{run}/run.json", "names 'run.json', a file the lab writes"),
        ("sqlite:///{run}/report.html", "names 'report.html', a file the lab writes"),
    ],
)
def test_a_storage_where_the_lab_writes_is_refused_and_the_run_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], storage: str, message: str
) -> None:
    """A storage inside the run folder was not checked before --overwrite cleared the folder;
    one named report.html had the report written over it and its trials lost."""
    runs = tmp_path / "runs"
    assert _tune(runs, "r", trials=3) == 0
    before = _tree(runs / "r")
    capsys.readouterr()
    url = storage.format(run=runs / "r")
    assert _tune(runs, "r", "--overwrite", "--storage", url) == 2
    assert message in capsys.readouterr().err
    assert _tree(runs / "r") == before
    assert _tune(runs, "new", "--storage", storage.format(run=runs / "new")) == 2
    assert not (runs / "new").exists()


def test_the_worker_hint_is_quoted_for_the_shell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shlex

    assert _tune(tmp_path / "my runs", "a b", "--create-only") == 0
    hint = next(x for x in capsys.readouterr().out.splitlines() if "start workers with:" in x)
    argv = shlex.split(hint.split("start workers with: ", 1)[1])
    assert argv[argv.index("--name") + 1] == "a b"
    assert argv[argv.index("--storage") + 1].endswith("my runs/a b/study.journal")


def test_a_run_set_up_for_workers_and_set_up_again_elsewhere_leaves_no_study_for_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--create-only made the run's study in study.journal; the run, still without trials, is
    set up again in study.db: a worker started as --create-only said ran its trials in the
    journal, outside the run, and the run's report never showed them."""
    from hyperlab.lab.storage import open_storage
    from hyperlab.lab.workers import run_worker

    runs = tmp_path / "runs"
    assert _tune(runs, "w", "--create-only") == 0
    journal = f"journal:{runs / 'w' / 'study.journal'}"
    assert _tune(runs, "w") == 0  # set up again in study.db, where it ran
    with pytest.raises(InputError, match="no study named 'w'"):
        run_worker(journal, "w", worker_name="late", wait=False)
    assert len(load_studies(runs / "w")[0][0].trials) == 2
    # set up again in the same storage with another tuner: the first tuner's study goes
    assert _tune(runs, "v", "--create-only") == 0
    assert _tune(runs, "v", "--create-only", "--tuner", "qmc") == 0
    journal = f"journal:{runs / 'v' / 'study.journal'}"
    assert [s.study_name for s in open_storage(journal).get_all_studies()] == ["v:qmc:none:seed0"]


def test_loading_a_runs_studies_reads_no_trials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the study names are read: Optuna's study summaries deep-copy every trial of every
    study (seconds for a run of thousands of trials, at each report and each resume)."""
    import hyperlab.lab.storage as storage_module

    runs = tmp_path / "runs"
    journal = f"journal:{tmp_path / 'study.journal'}"  # (Optuna wraps a database's in a cache)
    assert _tune(runs, "big", "--storage", journal, trials=3) == 0
    opened = storage_module.open_storage
    reads: list[object] = []

    def spying(*args: object, **kwargs: object) -> optuna.storages.BaseStorage:
        storage = opened(*args, **kwargs)  # type: ignore[arg-type]
        read = storage.get_all_trials

        def get_all_trials(*a: object, **k: object) -> object:
            reads.append(k.get("deepcopy", True))
            return read(*a, **k)  # type: ignore[arg-type]

        monkeypatch.setattr(storage, "get_all_trials", get_all_trials)
        return storage

    monkeypatch.setattr(storage_module, "open_storage", spying)
    (study, *_), *_ = load_studies(runs / "big")
    assert reads == []
    assert len(study.get_trials(deepcopy=False)) == 3


def test_resuming_opens_the_runs_storage_once_to_set_it_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening a journal replays all of it (seconds for a run of thousands of trials): the
    resumed run's storage is opened once to learn whether it holds trials and that it opens."""
    import hyperlab.lab.storage as storage_module
    from hyperlab.lab.plan import make_plan

    runs = tmp_path / "runs"
    assert _tune(runs, "big", "--jobs", "2", trials=2) == 0
    opened = storage_module.open_storage
    urls: list[str] = []

    def spying(url: str, **kwargs: object) -> optuna.storages.BaseStorage:
        urls.append(url)
        return opened(url, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(storage_module, "open_storage", spying)
    plan = make_plan(
        "tune",
        "branin",
        name="big",
        tuners=["random"],
        pruners=["none"],
        seeds=[0],
        trials=2,
        jobs=2,
    )
    RunDir(runs / "big").prepare(plan.spec)
    assert urls == [f"journal:{(runs / 'big' / 'study.journal').resolve()}"]


@pytest.mark.parametrize("kind", ["tune", "compare"])
def test_a_resume_replays_its_journal_twice_not_once_per_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """The checks before a run, its studies, its summary and its report share one open storage
    (each open replays the whole journal); the one the study runs in is the second."""
    import hyperlab

    journal = f"journal:{tmp_path / 'study.journal'}"
    if kind == "tune":
        again = lambda: hyperlab.tune(  # noqa: E731
            "branin", "random", trials=3, storage=journal, runs_dir=tmp_path, progress=False
        )
    else:
        again = lambda: hyperlab.compare(  # noqa: E731
            "branin",
            ["random"],
            seeds=1,
            trials=3,
            storage=journal,
            runs_dir=tmp_path,
            progress=False,
        )
    again()
    opened = []
    replay = optuna.storages.JournalStorage.__init__

    def counting(self: optuna.storages.JournalStorage, *args: object, **kwargs: object) -> None:
        opened.append(type(self).__name__)
        replay(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(optuna.storages.JournalStorage, "__init__", counting)
    again()
    assert len(opened) == 2, opened
