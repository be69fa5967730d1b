from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hyperlab.cli import main


def _overfit_csv(path: Path) -> Path:
    rows = ["epoch,train_loss,val_loss,train_metric,val_metric"]
    for e in range(1, 31):
        tr = 2.0 * 0.8**e + 0.01
        va = 2.0 * 0.8**e + 0.1 + 0.01 * max(e - 10, 0) ** 1.3
        rows.append(f"{e},{tr:.5f},{va:.5f},{1 - tr / 3:.4f},{0.9 - va / 10:.4f}")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_file_mode_prints_and_writes_html(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _overfit_csv(tmp_path / "run.csv")
    assert main(["diagnose", str(src)]) == 0
    out = capsys.readouterr().out
    assert "overfitting" in out and "weight_decay" in out
    page = tmp_path / "run.diagnosis.html"
    assert page.is_file()
    text = page.read_text()
    assert "overfitting from epoch" in text
    assert "<script src=" not in text and "Plotly" in text  # plotly.js embedded, no URL


def test_file_mode_json_and_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _overfit_csv(tmp_path / "run.csv")
    out_html = tmp_path / "sub" / "fig.html"
    assert main(["diagnose", str(src), "--json", "--out", str(out_html)]) == 0
    printed = capsys.readouterr()
    data = json.loads(printed.out)  # stdout is one JSON document (for jq, json.load)
    assert data["primary"] == "overfitting"
    assert out_html.is_file() and f"figure: {out_html}" in printed.err


@pytest.mark.parametrize("name", ["fig.png", "fig.svg", "fig"])
def test_out_that_is_not_an_html_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    src = _overfit_csv(tmp_path / "run.csv")
    out = tmp_path / name
    assert main(["diagnose", str(src), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert f"must end in .html or .htm, got {str(out)!r}" in captured.err
    assert captured.out == "" and not out.exists()  # refused before anything is printed


def test_malformed_file_is_a_clean_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("epoch,train_loss,val_loss\n1,1.0,1.0\n2,abc,0.9\n3,0.5,0.8\n")
    assert main(["diagnose", str(bad), "--no-html"]) == 2
    err = capsys.readouterr().err
    assert "line 3" in err and "abc" in err
    assert main(["diagnose", str(bad), "--trial", "1"]) == 2


@pytest.mark.slow
def test_run_dir_mode_after_tuning_with_the_diagnosis_tuner(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hyperlab import tune

    study, _ = tune(
        "wine-mlp", "diagnosis", trials=3, budget=4, runs_dir=tmp_path, name="r", progress=False
    )
    assert len(study.trials) == 3
    run_dir = tmp_path / "r"
    assert main(["diagnose", str(run_dir), "--trial", "1"]) == 0
    out = capsys.readouterr().out
    assert "trial 1" in out and "Diagnosis of 4 epochs" in out
    assert (run_dir / "diagnosis-trial-1.html").is_file()
    assert main(["diagnose", str(run_dir), "--trial", "9", "--no-html"]) == 2
    assert "no trial 9" in capsys.readouterr().err
    assert main(["diagnose", str(run_dir), "--no-html"]) == 2  # --trial is required


def _same_curves_three_ways() -> list[dict[str, list[float]]]:
    """Curves whose findings move knobs a run's configuration may not hold: not converged
    (epochs), underfitting (width, layers), overfitting (dropout, width)."""
    t6, t40 = np.arange(6, dtype=np.float64), np.arange(40, dtype=np.float64)
    return [
        {
            "train_loss": (2.0 * np.exp(-t6 / 2) + 0.02).tolist(),
            "val_loss": (2.0 * np.exp(-t6 / 2) + 0.06).tolist(),
        },
        {
            "train_loss": (0.6 + 0.5 * np.exp(-t40 / 3)).tolist(),
            "val_loss": (0.63 + 0.5 * np.exp(-t40 / 3)).tolist(),
        },
        {
            "train_loss": (2.0 * np.exp(-t40 / 5) + 0.05 * np.exp(-t40 / 15)).tolist(),
            "val_loss": (
                2.0 * np.exp(-t40 / 5) + 0.1 + 0.004 * np.maximum(t40 - 12, 0) ** 1.3
            ).tolist(),
        },
    ]


def test_a_run_trial_and_a_csv_of_its_curves_get_the_same_advice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import hyperlab

    shapes = _same_curves_three_ways()

    def objective(trial: Any) -> float:
        trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True)
        curves = shapes[trial.number]
        trial.set_user_attr("curves", curves)
        return float(curves["val_loss"][-1])

    hyperlab.tune(objective, "random", trials=3, runs_dir=tmp_path, name="mine", progress=False)
    for number, curves in enumerate(shapes):
        csv = tmp_path / f"trial{number}.csv"
        rows = zip(curves["train_loss"], curves["val_loss"])
        lines = [f"{e},{a!r},{b!r}" for e, (a, b) in enumerate(rows, start=1)]
        csv.write_text("epoch,train_loss,val_loss\n" + "\n".join(lines) + "\n")
        capsys.readouterr()
        assert (
            main(
                ["diagnose", str(tmp_path / "mine"), "--trial", str(number), "--json", "--no-html"]
            )
            == 0
        )
        from_run = json.loads(capsys.readouterr().out)
        assert main(["diagnose", str(csv), "--json", "--no-html"]) == 0
        from_csv = json.loads(capsys.readouterr().out)
        assert "untuned_knobs" in from_run and "untuned_knobs" not in from_csv  # (no run: none)
        assert from_run["findings"] == from_csv["findings"]
        assert from_run["advice"] == from_csv["advice"], (number, from_run["findings"])
        assert any(a["direction"] != "keep" for a in from_run["advice"])
        # in words, a trial's page names the knobs advised that its run does not tune
        assert main(["diagnose", str(tmp_path / "mine"), "--trial", str(number), "--no-html"]) == 0
        said = capsys.readouterr().out
        moved = {a["knob"] for a in from_run["advice"] if a["direction"] != "keep"}
        untuned = sorted(moved - {"epochs", "lr", "weight_decay"})
        if untuned:
            line = next(s for s in said.splitlines() if s.startswith("not in this run's"))
            assert all(k in line for k in untuned) and "weight_decay" not in line
        else:
            assert "not in this run's" not in said
        assert main(["diagnose", str(csv), "--no-html"]) == 0
        assert "not in this run's" not in capsys.readouterr().out  # a file: no run to ask


def test_the_figure_tells_its_curves_apart_and_says_what_it_shows(tmp_path: Path) -> None:
    """The metrics were drawn in the losses' colours, the smoothed curve and the trend in the
    same dotted red, the metric axis said only "metric", and the page had no heading."""
    from hyperlab.diagnose import diagnose
    from hyperlab.diagnose.figure import _colour, figure_data, render_html

    curves = {
        "train_loss": [2.0 * 0.8**e + 0.01 for e in range(30)],
        "val_loss": [2.0 * 0.8**e + 0.1 + 0.01 * max(e - 10, 0) ** 1.3 for e in range(30)],
        "train_metric": [0.5 + e / 100 for e in range(30)],
        "val_metric": [0.4 + e / 100 for e in range(30)],
    }
    page = render_html(figure_data(curves, diagnose(curves), title="run 7"))
    names = ["train_loss", "val_loss", "train_metric", "val_metric"]
    assert len({_colour(n) for n in names}) == 4
    assert _colour("val_loss trend (last third)") == _colour("val_loss")
    assert '"dash":"dot"' in page and '"dash":"dash"' in page  # smoothed, trends
    assert '"text":"train_metric, val_metric"' in page  # the metric axis names them
    assert "<h1>run 7</h1>" in page and "Upper panel:" in page
    assert "<h2>Advice</h2><ul><li>weight_decay up" in page


def test_an_out_that_is_the_input_or_cannot_be_written_is_refused_before_any_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--out`` equal to the input replaced the curves with the figure; an unwritable one
    failed after the whole diagnosis was printed."""
    src = _overfit_csv(tmp_path / "run.html")
    data = src.read_text()
    assert main(["diagnose", str(src), "--out", str(src)]) == 2
    out = capsys.readouterr()
    assert "is the input: the figure would replace the curves" in out.err and out.out == ""
    assert src.read_text() == data
    assert main(["diagnose", str(src), "--out", "/proc/figure.html"]) == 2
    out = capsys.readouterr()
    assert "--out '/proc/figure.html' cannot be written" in out.err and out.out == ""
    (tmp_path / "page.html").mkdir()  # a folder named like a page: refused before printing
    assert main(["diagnose", str(src), "--out", str(tmp_path / "page.html")]) == 2
    out = capsys.readouterr()
    assert "page.html' is a folder: name the page's file inside it" in out.err and out.out == ""


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["{tmp}/folder"], "is a folder but not a run (no run.json)"),
    ],
)
def test_inputs_that_name_nothing_usable_are_refused_by_what_they_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    (tmp_path / "folder").mkdir()
    _overfit_csv(tmp_path / "run.csv")
    assert main(["diagnose", *[a.format(tmp=tmp_path) for a in argv]]) == 2
    assert message in capsys.readouterr().err


def test_a_trial_of_a_study_with_no_trial_yet_is_refused_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = ["--runs-dir", str(tmp_path), "--name", "empty", "--no-progress"]
    assert main(["tune", "--task", "branin", "--tuner", "random", "--create-only", *runs]) == 0
    capsys.readouterr()
    assert main(["diagnose", str(tmp_path / "empty"), "--trial", "0", "--no-html"]) == 2
    err = capsys.readouterr().err
    assert "has no trial 0; it holds no trial yet" in err and "0..-1" not in err


def test_a_knob_another_branch_of_the_space_tunes_is_not_called_untuned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """In a conditional space, a trial lacks the parameters of the other branch: the line read
    this trial's parameters alone and called dropout untuned though the run tunes it."""
    import hyperlab

    overfit = _same_curves_three_ways()[2]

    def objective(trial: Any) -> float:
        if trial.suggest_categorical("reg", ["dropout", "none"]) == "dropout":
            trial.suggest_float("dropout", 0.0, 0.5)
        trial.set_user_attr("curves", overfit)
        return float(overfit["val_loss"][-1])

    study, _ = hyperlab.tune(
        objective, "random", trials=6, runs_dir=tmp_path, name="cond", progress=False
    )
    without = next(t.number for t in study.trials if "dropout" not in t.params)
    assert any("dropout" in t.params for t in study.trials)
    capsys.readouterr()
    assert (
        main(["diagnose", str(tmp_path / "cond"), "--trial", str(without), "--json", "--no-html"])
        == 0
    )
    said_json = json.loads(capsys.readouterr().out)
    advice = said_json["advice"]
    assert any(a["knob"] == "dropout" and a["direction"] != "keep" for a in advice)
    assert said_json["untuned_knobs"] and "dropout" not in said_json["untuned_knobs"]
    assert main(["diagnose", str(tmp_path / "cond"), "--trial", str(without), "--no-html"]) == 0
    said = capsys.readouterr().out
    untuned = [s for s in said.splitlines() if s.startswith("not in this run's")]
    assert untuned and "dropout" not in untuned[0]  # (width and the like are untuned)


def test_a_warning_about_a_curve_names_the_files_column(tmp_path: Path) -> None:
    """A Keras CSVLogger file with accuracies under ``loss``/``val_loss``: the warning named
    ``train_loss``, which the file does not hold."""
    t = np.arange(30)
    tr, va = 0.97 - 0.87 * np.exp(-t / 4), 0.93 - 0.83 * np.exp(-t / 4)
    rows = ["epoch,loss,val_loss"] + [f"{e},{tr[e]:.5f},{va[e]:.5f}" for e in range(30)]
    src = tmp_path / "training.log"
    src.write_text("\n".join(rows) + "\n")
    with pytest.warns(UserWarning, match=r"^loss 0\.1 -> 0\.97 and val_loss 0\.1 -> 0\.93: "):
        assert main(["diagnose", str(src), "--no-html"]) == 0


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_trial_best_diagnoses_the_studys_best_trial_in_its_direction(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], direction: str
) -> None:
    import hyperlab

    shapes = _same_curves_three_ways()
    scores = [0.7, 0.9, 0.8]  # trial 1 is the best when higher is better, trial 0 when lower

    def objective(trial: Any) -> float:
        trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        trial.set_user_attr("curves", shapes[trial.number])
        return scores[trial.number]

    hyperlab.tune(
        objective, "random", trials=3, runs_dir=tmp_path, name="r", progress=False,
        direction=direction,
    )  # fmt: skip
    capsys.readouterr()
    assert main(["diagnose", str(tmp_path / "r"), "--trial", "best", "--no-html"]) == 0
    best = 1 if direction == "maximize" else 0
    assert capsys.readouterr().out.startswith(f"r trial {best} (complete)")
    with pytest.raises(SystemExit) as exited:  # (argparse's own exit)
        main(["diagnose", str(tmp_path / "r"), "--trial", "bset", "--no-html"])
    assert exited.value.code == 2
    assert "takes a trial's number or 'best', got 'bset'" in capsys.readouterr().err


def test_trial_best_of_a_study_with_no_complete_trial_is_refused_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = ["--runs-dir", str(tmp_path), "--name", "empty", "--no-progress"]
    assert main(["tune", "--task", "branin", "--tuner", "random", "--create-only", *runs]) == 0
    capsys.readouterr()
    assert main(["diagnose", str(tmp_path / "empty"), "--trial", "best", "--no-html"]) == 2
    assert "has no complete trial yet to be its best" in capsys.readouterr().err


def test_a_self_tuning_trial_without_curves_is_told_where_segments_keep_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A tpe-hd trial trains through _train_segment: the refusal pointed at the Evaluation,
    which such a trial never returns."""
    task = f"{Path(__file__).parents[1] / 'population' / 'test_selftuning.py'}:OwnLinear"
    runs = ["--runs-dir", str(tmp_path), "--name", "hd", "--no-progress"]
    assert main(["tune", "--task", task, "--tuner", "tpe-hd", "--trials", "2", *runs]) == 0
    capsys.readouterr()
    assert main(["diagnose", str(tmp_path / "hd"), "--trial", "0", "--no-html"]) == 2
    err = capsys.readouterr().err
    assert "has no per-epoch curves" in err and "Segment.curves" in err
    assert "its Evaluation carries" not in err
