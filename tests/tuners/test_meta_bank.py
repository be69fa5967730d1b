"""Teaching the meta tuner from one's own past studies: reading them, fine-tuning, the script."""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
from pathlib import Path
from types import ModuleType

import numpy as np
import optuna
import pytest
import torch
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

import hyperlab
from hyperlab.errors import DataNotFoundError, InputError, InputTypeError
from hyperlab.lab.rundir import load_studies
from hyperlab.lab.storage import load_study
from hyperlab.space import SpaceEncoder
from hyperlab.tuners.meta import MetaSampler, PFNConfig
from hyperlab.tuners.meta import weights as meta_weights
from hyperlab.tuners.meta.bank import ShortStudyError, read_studies, study_problem, study_problems
from hyperlab.tuners.meta.prior import TableProblems
from hyperlab.tuners.meta.training import TrainingPlan, train
from tests.modules import load_script

SPACE = {
    "lr": FloatDistribution(1e-4, 1.0, log=True),
    "units": IntDistribution(8, 64),
    "act": CategoricalDistribution(["relu", "tanh", "gelu"]),
}


def _study(
    direction: str = "minimize", complete: int = 12, name: str = "s", storage: str | None = None
) -> optuna.Study:
    """A study of SPACE with ``complete`` complete trials (value: the trial's number), two
    pruned and one failed."""
    study = optuna.create_study(study_name=name, direction=direction, storage=storage)
    rng = np.random.default_rng(0)
    for i in range(complete):
        params = {
            "lr": float(10 ** rng.uniform(-4, 0)),
            "units": int(rng.integers(8, 65)),
            "act": ["relu", "tanh", "gelu"][i % 3],
        }
        study.add_trial(optuna.trial.create_trial(params=params, distributions=SPACE, value=i))
    for state in (optuna.trial.TrialState.PRUNED,) * 2 + (optuna.trial.TrialState.FAIL,):
        params = {"lr": 0.1, "units": 8, "act": "relu"}
        study.add_trial(optuna.trial.create_trial(params=params, distributions=SPACE, state=state))
    return study


# ------------------------------------------------------------------------------ reading
def test_a_study_reads_as_its_complete_trials_encoded_in_the_unit_box() -> None:
    study = _study()
    x, y = study_problem(study)
    complete = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert x.shape == (12, SpaceEncoder(SPACE).dim) and y.tolist() == list(range(12))
    assert ((x >= 0) & (x <= 1)).all()
    decoded = SpaceEncoder(SPACE).decode(x)
    assert [d["act"] for d in decoded] == [t.params["act"] for t in complete]
    assert [d["units"] for d in decoded] == [t.params["units"] for t in complete]
    assert len(TableProblems([(x, y)], max_dim=PFNConfig().max_dim)) == 1


def test_a_maximized_study_is_read_with_its_sign_flipped() -> None:
    _, low = study_problem(_study("minimize"))
    _, high = study_problem(_study("maximize"))
    assert high.tolist() == [-v for v in low.tolist()]
    assert np.argmin(high) == 11  # the best trial (largest value) is the lowest score


def test_nine_complete_trials_are_enough_and_eight_are_refused() -> None:
    assert len(study_problem(_study(complete=9))[1]) == 9
    with pytest.raises(ShortStudyError, match=r"study 'few' has 8 complete trials.*more than 8"):
        study_problem(_study(complete=8, name="few"))


def test_a_trial_without_a_finite_score_does_not_count() -> None:
    study = _study(complete=8, name="inf")
    params = {"lr": 0.1, "units": 8, "act": "relu"}
    study.add_trial(optuna.trial.create_trial(params=params, distributions=SPACE, value=math.inf))
    with pytest.raises(ShortStudyError, match=r"'inf' has 8 complete trials with a finite"):
        study_problem(study)


def test_a_short_study_is_left_out_with_a_note_and_the_others_kept() -> None:
    notes: list[str] = []
    long, short, empty = (
        _study(name="long"),
        _study(complete=3, name="short"),
        _study(complete=0, name="none"),
    )
    kept = read_studies([short, long, empty], note=notes.append)
    assert [p.study for p in kept] == [long] and kept[0].y.tolist() == list(range(12))
    assert len(notes) == 2 and all("\n" not in n for n in notes)
    assert "left out: study 'short' has 3 complete trials" in notes[0]
    assert "'none' has no complete trial" in notes[1]
    with pytest.warns(UserWarning, match="left out: study 'short'"):  # no note: a warning
        assert len(study_problems([long, short])) == 1


def test_studies_all_too_short_are_refused_naming_each() -> None:
    with pytest.raises(ShortStudyError, match=r"no study given .*'a' \(3\), 'b' \(0\)"):
        read_studies([_study(complete=3, name="a"), _study(complete=0, name="b")], note=print)


def test_a_short_study_that_cannot_be_read_either_is_left_out_as_short() -> None:
    notes: list[str] = []
    study = optuna.create_study(study_name="short-branches")
    for high in (1, 2):  # a range changed between two trials
        dists = {"x": FloatDistribution(0, high)}
        study.add_trial(optuna.trial.create_trial(params={"x": 0.5}, distributions=dists, value=1))
    assert len(read_studies([study, _study()], note=notes.append)) == 1
    assert "'short-branches' has 2 complete trials" in notes[0]


def _conditional(name: str, change_range: bool = False) -> optuna.Study:
    study = optuna.create_study(study_name=name)
    for i in range(12):
        dists: dict[str, optuna.distributions.BaseDistribution] = {
            "x": FloatDistribution(0, 2 if change_range and i > 5 else 1)
        }
        params: dict[str, object] = {"x": 0.5}
        if not change_range and i % 2:
            dists["depth"] = IntDistribution(1, 4)
            params["depth"] = 2
        study.add_trial(optuna.trial.create_trial(params=params, distributions=dists, value=i))
    return study


def _no_parameters() -> optuna.Study:
    study = optuna.create_study(study_name="bare")
    for i in range(12):
        study.add_trial(optuna.trial.create_trial(params={}, distributions={}, value=i))
    return study


@pytest.mark.parametrize(
    ("study", "match"),
    [
        (_conditional("branches"), "'branches' mixes search spaces: depth missing"),
        (_conditional("moved", change_range=True), "'moved' mixes .* x with other ranges"),
        (optuna.create_study(study_name="empty"), "'empty' has no complete trial"),
        (_no_parameters(), "'bare' has no parameter"),
        (
            optuna.create_study(study_name="two", directions=["minimize", "minimize"]),
            "'two' optimized 2 objectives",
        ),
    ],
)
def test_studies_training_cannot_read_are_refused_by_name(study: optuna.Study, match: str) -> None:
    with pytest.raises(InputError, match=match):
        study_problem(study)


def test_a_study_wider_than_the_network_is_refused_by_name() -> None:
    with pytest.raises(InputError, match=r"'wide' takes 5 encoded columns .* at most 4"):
        study_problem(_study(name="wide"), max_dim=4)
    assert study_problem(_study(), max_dim=5)[0].shape[1] == 5


def test_the_list_of_studies_is_checked() -> None:
    with pytest.raises(InputError, match="no past study"):
        study_problems([])
    with pytest.raises(InputTypeError, match="list of Optuna studies"):
        study_problems(_study())  # type: ignore[arg-type]
    with pytest.raises(InputTypeError, match=r"studies\[1\] is not an Optuna study"):
        study_problems([_study(), "runs/x"])  # type: ignore[list-item]
    assert len(study_problems([_study(), _study("maximize")])) == 2


def test_a_study_in_a_storage_is_opened_by_url_and_name(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _study(name="kept", storage=url)
    assert study_problem(load_study(url, "kept"))[0].shape[0] == 12
    with pytest.raises(InputError, match=r"no study 'gone' in storage .*its studies: kept"):
        load_study(url, "gone")
    missing = tmp_path / "missing.db"
    with pytest.raises(DataNotFoundError, match="no such storage file"):
        load_study(f"sqlite:///{missing}", "kept")
    assert not missing.exists()  # nothing created


# ---------------------------------------------------------------------------- fine-tuning
def test_fine_tuning_trains_a_copy_and_leaves_the_start_alone() -> None:
    config = PFNConfig(max_dim=5, width=16, depth=1, heads=2, buckets=16)
    plan = TrainingPlan(steps=3, batch=4, max_context=12, queries=4, lr=1e-2)
    start = train(config, TrainingPlan(steps=0))
    before = {k: v.clone() for k, v in start.state_dict().items()}
    tables = TableProblems([study_problem(_study())], max_dim=5)
    tuned = train(config, plan, tables, start=start)
    assert tuned is not start and tuned.steps_done == 3
    assert all(torch.equal(before[k], v) for k, v in start.state_dict().items())
    assert any(not torch.equal(before[k], v) for k, v in tuned.state_dict().items())
    same = train(config, TrainingPlan(steps=0), start=start)  # no step: the start's weights
    assert all(torch.equal(before[k], v) for k, v in same.state_dict().items())


def test_fine_tuning_refuses_a_start_of_another_shape() -> None:
    config = PFNConfig(max_dim=5, width=16, depth=1, heads=2, buckets=16)
    start = train(config, TrainingPlan(steps=0))
    with pytest.raises(InputError, match="not the shape to train"):
        train(
            PFNConfig(max_dim=6, width=16, depth=1, heads=2, buckets=16),
            TrainingPlan(steps=1),
            start=start,
        )
    with pytest.raises(InputTypeError, match="start must be a trained PFN"):
        train(config, TrainingPlan(steps=1), start="pfn.pt")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ the script
def _script() -> ModuleType:
    return load_script("scripts/train_meta_tuner.py", "train_meta_tuner")


def _digests(folder: Path) -> dict[str, str]:
    """Each file of ``folder`` and its digest; a SQLite database by its rows (SQLite folds its
    write-ahead file into the database when a reader closes it last: the bytes change, the data
    does not), its write-ahead and shared-memory files left out."""
    out = {}
    for p in sorted(folder.iterdir()):
        if p.name.endswith(("-wal", "-shm")):
            continue
        if p.suffix == ".db":
            con = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
            out[p.name] = "\n".join(con.iterdump())
            con.close()
        else:
            out[p.name] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def branin_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    hyperlab.tune("branin", "random", trials=10, runs_dir=runs, name="b", progress=False)
    return runs / "b"


def test_the_script_fine_tunes_on_a_run_and_the_tuner_uses_the_weights(
    branin_run: Path, tmp_path: Path
) -> None:
    before = _digests(branin_run)
    out = tmp_path / "mine" / "pfn.pt"
    argv = ["--runs", str(branin_run), "--start-from", "shipped", "--steps", "2", "--batch", "4"]
    _script().main([*argv, "--no-validation", "--out", str(out)])
    assert _digests(branin_run) == before  # the run is read, never written
    card = json.loads(out.with_suffix(".json").read_text())
    (study,) = card["past_studies"]
    assert study["study"] == "b:random:none:seed0" and study["trials"] == 10
    assert study["source"] == str(branin_run) and study["parameters"] == ["x0", "x1"]
    assert card["started_from"]["path"].endswith("pfn.pt") and card["steps_done"] == 2
    assert card["plan"]["lr"] == 1e-4 and card["training_problems"] == []

    shipped = meta_weights.load().model.state_dict()
    sampler = MetaSampler(weights_path=str(out), seed=0)
    mine = sampler._net.model.state_dict()
    assert any(not torch.equal(shipped[k], mine[k]) for k in shipped)
    space = load_studies(branin_run)[0][0].best_trial.distributions
    new = optuna.create_study(sampler=sampler)
    new.optimize(lambda t: sum(t.suggest_float(n, d.low, d.high) for n, d in space.items()), 3)
    assert len(new.trials) == 3 and all(
        space["x0"].low <= t.params["x0"] <= space["x0"].high for t in new.trials
    )


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--runs", "R"], "--out is needed"),
        (["--runs", "R", "--no-tables", "--out", "o.pt"], "cannot go with --runs"),
        (["--start-from", "shipped", "--width", "32", "--out", "o.pt"], "keeps its own shape"),
        (["--categorical", "1.5"], "--categorical must be a share from 0 to 1, got 1.5"),
        (["--additive", "-0.1"], "--additive must be a share from 0 to 1, got -0.1"),
        (["--steps", "-3"], "--steps must be an integer >= 0, got -3"),
        (["--batch", "0"], "--batch must be a positive integer, got 0"),
        (["--lr", "nan"], "--lr must be a positive finite number, got nan"),
        (["--seed", "-1"], "--seed must be an integer >= 0, got -1"),
    ],
)
def test_the_script_refuses_options_that_do_not_go_together(
    argv: list[str], match: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        _script().parse(argv)
    assert match in capsys.readouterr().err


def test_the_script_refuses_runs_it_cannot_read_by_name(tmp_path: Path) -> None:
    script = _script()
    with pytest.raises(DataNotFoundError, match="does not exist"):
        script.past_problems([str(tmp_path / "nowhere")], [], 40)
    (tmp_path / "plain").mkdir()
    with pytest.raises(InputError, match="not a hyperlab run directory"):
        script.past_problems([str(tmp_path / "plain")], [], 40)


@pytest.fixture(scope="module")
def short_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    hyperlab.tune("branin", "random", trials=3, runs_dir=runs, name="short", progress=False)
    return runs / "short"


def test_the_script_leaves_a_short_study_out_with_a_note(
    branin_run: Path, short_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    problems, cards = _script().past_problems([str(short_run), str(branin_run)], [], 40)
    assert [c["study"] for c in cards] == ["b:random:none:seed0"] and len(problems) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("note: left out: study 'short:random:none:seed0' has 3 complete")


def test_the_script_refuses_when_every_study_is_too_short_naming_what_was_given(
    short_run: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _study(complete=4, name="other", storage=url)
    with pytest.raises(ShortStudyError, match=r"'other' \(4\)\).*\(from --runs .*short, --study"):
        _script().past_problems([str(short_run)], [[url, "other"]], 40)


def test_the_script_reads_a_study_given_twice_once(
    branin_run: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(branin_run.parent)  # the storage's file named from another folder
    url = "sqlite:///b/study.db"
    again = [str(branin_run), str(branin_run) + "/"]
    problems, cards = _script().past_problems(again, [[url, "b:random:none:seed0"]], 40)
    assert len(problems) == 1 and cards[0]["source"] == str(branin_run)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and all("'b:random:none:seed0' of" in n for n in lines)
    assert all(f"given twice (also as {branin_run})" in n for n in lines)


def test_a_note_that_is_not_a_function_and_a_bad_max_dim_are_refused_by_name() -> None:
    """note='print' was taken as given and failed as "'str' object is not callable" at the
    first short study; max_dim='40' failed in a comparison deep inside."""
    studies = [_study(complete=3, name="short"), _study(name="long")]
    with pytest.raises(InputTypeError, match=r"note must be a function .*got str 'print'"):
        read_studies(studies, note="print")  # type: ignore[arg-type]
    with pytest.raises(InputTypeError, match="max_dim"):
        study_problems(studies, max_dim="40")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="max_dim must be a positive integer, got 0"):
        read_studies(studies, max_dim=0)


def test_the_warning_for_a_short_study_points_at_the_callers_line() -> None:
    """From read_studies it pointed one frame past the caller (into pytest)."""
    studies = [_study(complete=3, name="short"), _study(name="long")]
    for read in (read_studies, study_problems):
        with pytest.warns(UserWarning, match="left out") as told:
            read(studies)
        assert [Path(w.filename).name for w in told] == [Path(__file__).name], read
