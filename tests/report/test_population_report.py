"""A population's report: its learned schedules and lineage as data, and their section."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

import hyperlab
from hyperlab.lab.rundir import load_studies
from hyperlab.report import compare_records, study_report_records, write_report
from hyperlab.report.population import PopulationRecords, population_records
from hyperlab.report.population_html import HEADING

QUADRATIC = f"{Path(__file__).parents[1] / 'population' / 'quadratic.py'}:Quadratic"


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> tuple[optuna.Study, Path]:
    """A population of 4 members, 6 epochs in segments of 2, and its run folder."""
    root = tmp_path_factory.mktemp("population-report")
    study, _ = hyperlab.tune(
        QUADRATIC,
        "pbt",
        trials=4,
        budget=6,
        runs_dir=root,
        name="pop",
        progress=False,
        tuner_options={"interval": 2},
    )
    return study, root / "pop"


def _records(study: optuna.Study) -> PopulationRecords:
    rec = study_report_records(study).population
    assert rec is not None
    return rec


def test_segments_are_the_trials_schedules(population: tuple[optuna.Study, Path]) -> None:
    study, _ = population
    rec = _records(study)
    assert [p.name for p in rec.params] == ["lr", "momentum", "steps"]
    assert rec.tuner == "pbt" and rec.budget == 6
    by_member = {t.user_attrs["member"]: t for t in study.trials}
    assert [m.member for m in rec.members] == sorted(by_member)
    for m in rec.members:
        schedule = by_member[m.member].user_attrs["schedule"]
        assert [(s.start, s.end) for s in m.segments] == [(s["start"], s["end"]) for s in schedule]
        assert [s.config for s in m.segments] == [s["config"] for s in schedule]
        assert [s.copied_from for s in m.segments] == [s["copied_from"] for s in schedule]
        lineage = by_member[m.member].user_attrs["lineage"]
        assert [(c.epoch, c.copied_from) for c in m.copies] == [
            (e["epoch"], e["copied_from"]) for e in lineage if "copied_from" in e
        ]
        assert m.segments[0].start == 0 and m.segments[-1].end == 6
    assert any(m.copies for m in rec.members)  # the run exercises the lineage


def test_values_stay_inside_the_search_space(population: tuple[optuna.Study, Path]) -> None:
    rec = _records(population[0])
    by_name = {p.name: p for p in rec.params}
    assert by_name["lr"].log and not by_name["momentum"].log
    for m in rec.members:
        for p in rec.params:
            assert p.low is not None and p.high is not None
            assert all(p.low <= v <= p.high for v in m.values_of(p.name))


def test_best_member_is_the_one_with_the_best_value(
    population: tuple[optuna.Study, Path],
) -> None:
    study, _ = population
    rec = _records(study)
    assert rec.best == study.best_trial.user_attrs["member"]
    assert rec.best_member.value == pytest.approx(study.best_value)
    assert rec.sentence.startswith(f"The best member, {rec.best}:")
    assert "lr " in rec.sentence and "over 6 epochs" in rec.sentence


def test_lineage_tree_puts_each_copy_under_its_donor(
    population: tuple[optuna.Study, Path],
) -> None:
    rec = _records(population[0])
    roots = [b for b in rec.branches if b.parent is None]
    assert sorted(b.member for b in roots) == [m.member for m in rec.members]
    copies = [b for b in rec.branches if b.copied_from is not None]
    assert sorted((b.member, b.start, b.copied_from) for b in copies) == sorted(
        (m.member, c.epoch, c.copied_from) for m in rec.members for c in m.copies
    )
    for b in copies:
        assert b.parent is not None
        donor = rec.branches[b.parent]
        assert donor.member == b.copied_from and donor.start <= b.start
    assert sorted(b.member for b in rec.branches if b.final) == [m.member for m in rec.members]


def test_report_page_shows_the_schedule(population: tuple[optuna.Study, Path]) -> None:
    study, run_dir = population
    page = write_report(run_dir).read_text()
    rec = _records(study)
    assert HEADING in page and "Lineage" in page
    assert "lr against epochs" in page and "momentum against epochs" in page
    assert rec.sentence.split(":")[0] in page
    assert '"type":"log"' in page.replace(" ", "")


def test_a_tune_run_without_a_population_has_no_schedule_section(
    no_cv_tune: Path,
) -> None:
    (study, *_), *_ = load_studies(no_cv_tune)
    assert population_records(study) is None
    assert study_report_records(study).population is None
    assert HEADING not in (no_cv_tune / "report.html").read_text()


def test_a_comparison_shows_each_population_methods_best_seed(tmp_path: Path) -> None:
    hyperlab.compare(
        QUADRATIC,
        ["pbt", "random"],
        seeds=2,
        trials=4,
        budget=6,
        runs_dir=tmp_path,
        name="cmp",
        progress=False,
        tuner_options={"interval": 2},
    )
    rec = compare_records(tmp_path / "cmp")
    assert [(label, seed in (0, 1)) for label, seed, _ in rec.populations] == [("pbt", True)]
    _, seed, population = rec.populations[0]
    studies = {s: study for study, tuner, _, s in load_studies(tmp_path / "cmp") if tuner == "pbt"}
    values = {s: _records(study).best_member.value for s, study in studies.items()}
    assert population.best_member.value == min(values.values()) == values[seed]
    page = (tmp_path / "cmp" / "report.html").read_text()
    assert f"{HEADING}: pbt, seed {seed}" in page and "Lineage" in page
    assert f"{HEADING}: random" not in page


def test_the_best_population_trial_shows_the_hyperparameters_its_model_ended_with(
    tmp_path: Path,
) -> None:
    from hyperlab.report.trials import curves_of

    hyperlab.tune(QUADRATIC, "pbt", trials=4, budget=6, runs_dir=tmp_path, name="q",
                  progress=False, report=False, tuner_options={"interval": 2})  # fmt: skip
    study = load_studies(tmp_path / "q")[0][0]
    best = study.best_trial
    curves = curves_of("", best)
    assert curves.params_at_end and curves.params == best.user_attrs["schedule"][-1]["config"]


def test_results_csv_gives_a_members_hyperparameters_at_the_end_as_report_and_summary_do() -> None:
    """A population trial's starting parameters may be those of a model a copy overwrote:
    results.csv gave them while the summary and the report gave what the model ended with."""
    from hyperlab.lab import summarize
    from hyperlab.lab.results import study_records

    study = optuna.create_study()
    study.set_user_attr("population", {"tuner": "pbt"})
    study.add_trial(
        optuna.trial.create_trial(
            params={"lr": 0.01, "width": 97},
            distributions={
                "lr": optuna.distributions.FloatDistribution(1e-4, 1.0, log=True),
                "width": optuna.distributions.IntDistribution(8, 256),
            },
            value=0.5,
            user_attrs={"schedule": [{"start": 0, "end": 2, "config": {"lr": 0.2, "width": 144}}]},
        )
    )
    (row,) = study_records(study)
    assert (row["param_lr"], row["param_width"]) == (0.2, 144)
    assert summarize(study).best_params == {"lr": 0.2, "width": 144}


def test_a_learned_rate_is_shown_beside_the_configured_one() -> None:
    from hyperlab.report.trials import curves_of

    trial = optuna.trial.create_trial(
        params={"lr": 0.01},
        distributions={"lr": optuna.distributions.FloatDistribution(1e-4, 1.0, log=True)},
        value=0.5,
        user_attrs={"schedule": [{"start": 0, "end": 2, "config": {"lr": 0.02},
                                  "learned": {"lr": 0.031}}]},
    )  # fmt: skip
    curves = curves_of("", trial)
    assert curves.params == {"lr": 0.02} and curves.learned == {"lr": 0.031}


def test_a_learned_rate_gets_its_own_schedule_figure_and_sentence(tmp_path: Path) -> None:
    """Hypergradient members: the rate each segment ended with is drawn and told, not only
    the configured one (which stays constant and said nothing)."""
    study, _ = hyperlab.tune(
        "wine-mlp", "pbt", trials=4, budget=4, runs_dir=tmp_path, name="hd", progress=False,
        tuner_options={"interval": 2, "hypergradient": True},
    )  # fmt: skip
    rec = _records(study)
    names = [p.name for p in rec.params]
    assert "lr (learned)" in names
    best = next(m for m in rec.members if m.member == rec.best)
    learned = best.values_of("lr (learned)")
    assert len(learned) == len(best.segments) and all(v is not None and v > 0 for v in learned)
    assert "lr (learned)" in rec.sentence
    page = write_report(tmp_path / "hd").read_text()
    assert "lr learned by the end" in page


def test_a_restart_is_told_apart_from_a_start_in_the_lineage() -> None:
    from hyperlab.report.population import MemberSchedule, lineage_tree
    from hyperlab.report.population_html import lineage_html

    members = [MemberSchedule(0, 0, 1.0, [], restarts=[0, 4]), MemberSchedule(1, 1, 2.0, [])]
    branches = lineage_tree(members)
    assert [(b.member, b.start, b.restarted) for b in branches] == [
        (0, 0, False), (1, 0, False), (0, 0, True), (0, 4, True),
    ]  # fmt: skip
    page = lineage_html(branches)
    assert page.count("restarted from a fresh model") == 2
    assert "restarted from a fresh model at epoch 0" in page and "at epoch 4" in page


def test_a_population_shows_no_importances_or_parallel_coordinates_of_starting_values(
    population: tuple[optuna.Study, Path],
) -> None:
    """A member's trial params are where it started, not what its model trained with: the
    page says so instead of ranking or plotting them."""
    from hyperlab.report.records import POPULATION_PARAMS_NOTE

    study, run_dir = population
    rec = study_report_records(study)
    assert rec.importances == {} and rec.parallel == []
    assert rec.params_note == POPULATION_PARAMS_NOTE
    page = write_report(run_dir).read_text()
    assert "Parallel coordinates" not in page and POPULATION_PARAMS_NOTE in page.replace(
        "&#x27;", "'"
    )


def test_a_members_diagnosis_reads_the_hyperparameters_its_model_ended_with(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import hyperlab.diagnose
    from hyperlab.report.trials import curves_of

    seen: list[dict[str, object]] = []

    def spy(curves: object, config: dict[str, object]) -> object:
        seen.append(config)
        raise RuntimeError("only the config is looked at")

    monkeypatch.setattr(hyperlab.diagnose, "diagnose", spy)
    trial = optuna.trial.create_trial(
        params={"lr": 0.01},
        distributions={"lr": optuna.distributions.FloatDistribution(1e-4, 1.0, log=True)},
        value=0.5,
        user_attrs={
            "schedule": [{"start": 0, "end": 3, "config": {"lr": 0.2}}],
            "curves": {"train_loss": [3.0, 2.0, 1.0], "val_loss": [3.0, 2.0, 1.5]},
        },
    )
    curves_of("", trial)
    assert seen == [{"lr": 0.2}]


def test_schedule_figures_write_powers_of_ten_and_whole_epochs(
    population: tuple[optuna.Study, Path],
) -> None:
    """``1e-4`` as a power of ten, not plotly's SI ``100µ``; ticks on whole epochs only."""
    from hyperlab.report.population_html import schedule_figure

    rec = _records(population[0])
    for param in rec.params:
        layout = schedule_figure(rec, param).layout
        assert layout.yaxis.exponentformat == "power", param.name
        assert layout.xaxis.dtick == 1 and layout.xaxis.tickformat == "d"


def test_the_sentence_names_the_member_that_made_each_copy_of_the_best_line() -> None:
    """Member 1's model came from member 2's copy of member 0, then member 1's copy of
    member 2: the copier is the member that trained on from the copy, not always member 1."""
    from hyperlab.report.population import (
        MemberSchedule,
        ScheduledParam,
        ScheduleSegment,
        schedule_sentence,
    )

    segments = [
        ScheduleSegment(0, 4, 0, {"lr": 0.75}),
        ScheduleSegment(4, 6, 2, {"lr": 0.6}, copied_from=0),
        ScheduleSegment(6, 8, 1, {"lr": 0.48}, copied_from=2),
    ]
    sentence = schedule_sentence(MemberSchedule(1, 1, 0.12, segments), [ScheduledParam("lr")])
    assert "member 2 copied member 0 at epoch 4" in sentence
    assert "member 1 copied member 2 at epoch 6" in sentence


def test_each_member_has_its_own_colour_in_the_schedule_figures(
    population: tuple[optuna.Study, Path],
) -> None:
    from hyperlab.report.population_html import schedule_figure

    rec = _records(population[0])
    fig = schedule_figure(rec, rec.params[0])
    styles = [(t.line.color, t.line.dash) for t in fig.data]
    assert len(styles) == len(rec.members) == len(set(styles))
    assert all(t.name.split(" ")[1] in t.hovertemplate for t in fig.data)


def test_a_tpe_hd_comparison_names_its_trials_not_members(tmp_path: Path) -> None:
    """tpe-hd trials train alone: the page called each a member, 'the seed whose best member
    ended best', and gave its schedule 'trained by' and 'copied from' columns of its own
    number and dashes."""
    task = f"{Path(__file__).parents[1] / 'population' / 'test_selftuning.py'}:OwnLinear"
    hyperlab.compare(
        task, ["tpe", "tpe-hd"], seeds=1, trials=2, budget=3, runs_dir=tmp_path, name="hd",
        progress=False,
    )  # fmt: skip
    ((label, seed, population),) = compare_records(tmp_path / "hd").populations
    assert label == "tpe-hd"
    page = (tmp_path / "hd" / "report.html").read_text()
    assert f"{HEADING}: tpe-hd, seed {seed} (the seed whose best trial ended best)" in page
    assert f"Schedule of the best trial ({population.best}," in page
    assert "member" not in page.split(HEADING)[1] and "copied from" not in page
    assert population.sentence.startswith(f"The best trial, {population.best}:")
