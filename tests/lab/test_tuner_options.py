"""Tuner options: each tuner gets the ones it takes; one no tuner takes is refused up front."""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import pytest

import hyperlab
from hyperlab import compare
from hyperlab.errors import InputError, InputTypeError, RunConflictError
from hyperlab.lab.plugins import absolute_files
from hyperlab.lab.rundir import RunDir, RunSpec, load_studies
from hyperlab.registry import TUNERS, Registry
from hyperlab.tuners.meta.weights import PACKAGED, WEIGHTS


def run(tmp_path: Path, name: str, options: dict[str, Any]) -> list[dict[str, Any]]:
    return compare(
        "branin",
        ["random", "neural"],
        seeds=1,
        trials=4,
        name=name,
        runs_dir=tmp_path,
        progress=False,
        report=False,
        tuner_options=options,
    )


def test_an_option_goes_to_the_tuners_that_take_it(tmp_path: Path) -> None:
    rows = run(tmp_path, "ok", {"n_startup": 2})
    assert {r["tuner"] for r in rows} == {"random", "neural"}
    assert TUNERS.takes("neural", "n_startup") and not TUNERS.takes("random", "n_startup")
    assert TUNERS.takes("tpe", "constant_liar") and TUNERS.takes("diagnosis", "min_step")


def test_an_option_no_tuner_takes_is_refused_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="n_startupp"):
        run(tmp_path, "typo", {"n_startupp": 2})
    assert not (tmp_path / "typo").exists()
    with pytest.raises(InputError, match="'seed' is set by the lab"):
        run(tmp_path, "seed", {"seed": 3})
    with pytest.raises(InputError, match="n_startup must be a positive int"):
        run(tmp_path, "bad", {"n_startup": 0})
    assert not (tmp_path / "bad").exists()
    # a bad value of an option the tuner takes is named as such, not as an unknown option
    with pytest.raises(InputTypeError, match="pruner_predictions must be True or False") as info:
        run(tmp_path, "bad2", {"pruner_predictions": "maybe"})
    assert "does not take" not in str(info.value)


def test_a_value_one_tuner_of_several_refuses_names_that_tuner(tmp_path: Path) -> None:
    # meta scores by a quantile, neural does not: the message said only that acquisition
    # must be one of ['ei', 'ts', 'ucb'], with no word of which tuner asked
    with pytest.raises(InputError, match=r"^tuner 'neural': acquisition must be one of"):
        compare(
            "branin",
            ["meta", "neural"],
            seeds=1,
            trials=4,
            name="quantile",
            runs_dir=tmp_path,
            progress=False,
            report=False,
            tuner_options={"acquisition": "quantile"},
        )
    assert not (tmp_path / "quantile").exists()


def test_options_of_a_factory() -> None:
    registry: Registry[Any] = Registry("thing")

    def named(*, seed: int = 0, width: int = 1, **_: Any) -> None:
        return None

    def open_ended(*, seed: int = 0, **options: Any) -> None:
        return None

    registry.register("named", named, "swallows the rest")
    registry.register("open", open_ended, "passes the rest on")
    assert registry.options("named") == frozenset({"seed", "width"})
    assert registry.options("open") is None and registry.takes("open", "anything")
    assert not registry.takes("named", "depth")


def test_an_option_spelled_out_at_its_default_resumes_the_run(tmp_path: Path) -> None:
    def tune(trials: int, **options: Any) -> None:
        hyperlab.tune(
            "branin", "tpe", trials=trials, runs_dir=tmp_path, name="r", progress=False,
            tuner_options=options,
        )  # fmt: skip

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", hyperlab.StartupOnlyWarning)
        tune(2)
        tune(3, constant_liar=True, pruner_predictions=False)
        tune(4)  # and left out again
        with pytest.raises(RunConflictError, match="constant_liar"):
            tune(5, constant_liar=False)
    assert len(load_studies(tmp_path / "r")[0][0].trials) == 4


def test_defaults_count_for_every_tuner_and_pruner_of_a_run() -> None:
    def spec(tuner_options: dict[str, Any], pruner_options: dict[str, Any]) -> RunSpec:
        return RunSpec(
            "compare", "toy-curves", ["pbt", "pb2"], ["none", "oracle"], [0], 4, "",
            tuner_options=tuner_options, pruner_options=pruner_options,
        )  # fmt: skip

    bare = spec({}, {})
    # each option at the default of the factories that take it (PB2's bandit: PB2 only)
    same = spec({"quantile": 0.25, "ucb_kappa": 1, "interval": None}, {"noise": 0})
    assert same.differences(bare) == [] and bare.differences(same) == []
    assert spec({"hypergradient": 0}, {}).differences(bare) == [
        "tuner_options: {} -> {'hypergradient': 0}"  # 0 is not False
    ]
    assert spec({"quantile": 0.5}, {"noise": 0.1}).differences(bare) == [
        "tuner_options: {} -> {'quantile': 0.5}",
        "pruner_options: {} -> {'noise': 0.1}",
    ]


def test_a_default_set_by_the_factory_is_the_one_compared() -> None:
    # neural-ensemble's surrogate default is its own, not NeuralSampler's ("bll")
    assert TUNERS.defaults("neural-ensemble")["surrogate"] == "ensemble"
    assert TUNERS.defaults("neural")["surrogate"] == "bll"

    def spec(options: dict[str, Any]) -> RunSpec:
        return RunSpec(
            "tune", "branin", ["neural-ensemble"], ["none"], [0], 4, "", tuner_options=options
        )

    assert spec({"surrogate": "ensemble"}).differences(spec({})) == []
    assert spec({"surrogate": "bll"}).differences(spec({})) != []


@pytest.mark.parametrize("size", [10.0, 1, "10"])
def test_ga_refuses_a_population_size_it_cannot_use(size: Any) -> None:
    with pytest.raises((InputError, InputTypeError), match="population_size"):
        TUNERS.create("ga", population_size=size)


# ----------------------------------------------------------------- options that name files
def _weights_in(folder: Path) -> None:
    """The shipped meta weights and their card copied to ``folder/w/pfn.pt``."""
    (folder / "w").mkdir(parents=True)
    for name in (WEIGHTS, Path(WEIGHTS).with_suffix(".json").name):
        shutil.copy(PACKAGED / name, folder / "w" / name)


def _meta(runs: Path, trials: int, weights: str) -> None:
    hyperlab.tune(
        "branin", "meta", trials=trials, runs_dir=runs, name="m", progress=False,
        tuner_options={"weights_path": weights},
    )  # fmt: skip


def test_a_file_an_option_names_is_recorded_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the run recorded 'w/pfn.pt' as given: resumed, reported or joined from another folder,
    # its setup named another file (or none)
    _weights_in(tmp_path)
    monkeypatch.chdir(tmp_path)
    _meta(tmp_path / "runs", 2, "w/pfn.pt")
    spec = RunDir(tmp_path / "runs" / "m").load_spec()
    assert spec.tuner_options["weights_path"] == str(tmp_path / "w" / "pfn.pt")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    _meta(tmp_path / "runs", 3, str(tmp_path / "w" / "pfn.pt"))  # resumed from elsewhere
    assert len(load_studies(tmp_path / "runs" / "m")[0][0].trials) == 3
    assert TUNERS.file_options("meta") == ("weights_path",) and TUNERS.file_options("tpe") == ()


def test_absolute_files_keeps_what_names_no_file(tmp_path: Path) -> None:
    given = {"weights_path": Path("w.pt"), "zoom": 0}
    assert absolute_files(TUNERS, ["meta"], given) == {
        "weights_path": os.path.abspath("w.pt"),
        "zoom": 0,
    }
    assert absolute_files(TUNERS, ["meta"], {"weights_path": None}) == {"weights_path": None}
    assert absolute_files(TUNERS, ["tpe"], {"weights_path": "w.pt"}) == {"weights_path": "w.pt"}


def test_a_run_that_recorded_a_relative_path_resumes_from_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an older run recorded the path as given: resumed from the folder it ran in (where its
    # path was read from; the run did not record that folder), it reads the same file, and
    # its run.json now records the path absolute; another file is another setting
    _weights_in(tmp_path)
    monkeypatch.chdir(tmp_path)
    _meta(tmp_path / "runs", 2, "w/pfn.pt")
    spec_file = tmp_path / "runs" / "m" / "run.json"
    data = json.loads(spec_file.read_text())
    data["tuner_options"]["weights_path"] = "w/pfn.pt"
    spec_file.write_text(json.dumps(data))
    _meta(tmp_path / "runs", 3, str(tmp_path / "w" / "pfn.pt"))
    recorded = json.loads(spec_file.read_text())["tuner_options"]["weights_path"]
    assert recorded == str(tmp_path / "w" / "pfn.pt")
    assert len(load_studies(tmp_path / "runs" / "m")[0][0].trials) == 3
    spec_file.write_text(json.dumps(data))  # relative again
    _weights_in(tmp_path / "other")
    with pytest.raises(
        RunConflictError, match=r"'/[^']*/w/pfn.pt'} -> {'weights_path': '/[^']*/other/w"
    ):
        _meta(tmp_path / "runs", 4, "other/w/pfn.pt")
