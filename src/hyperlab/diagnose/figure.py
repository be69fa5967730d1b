"""The annotated curve figure: data first (tested as data), then one plotly renderer.

The figure shows the train and validation loss (log axis when positive), the smoothed
validation loss and a straight-line trend fitted to the last third of each loss (on the log
axis), the overfitting onset as a vertical line, and the metrics on a second panel when given.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from hyperlab.diagnose.features import view
from hyperlab.diagnose.inputs import check_curves
from hyperlab.diagnose.points import AT_EPOCH
from hyperlab.diagnose.result import Diagnosis
from hyperlab.errors import InputError

#: The most epochs the figure draws evenly spaced (a longer run is drawn at this many, and at
#: the measured epochs of a curve measured at no more).
MAX_SHOWN = 2000


class FigureData(NamedTuple):
    """Everything the renderer draws.

    Attributes:
        epochs: 1-based epochs, length ``n`` (fractions for a log with fractional epochs).
        series: name -> per-epoch values (NaN where missing), each length ``n``.
        trends: name -> (epochs, values) of a fitted trend line.
        onset_epoch: Overfitting onset to mark, or ``None``.
        log_y: Whether the loss axis is logarithmic.
        title: Figure title.
        notes: Finding lines shown under the figure.
    """

    epochs: list[float]
    series: dict[str, list[float]]
    trends: dict[str, tuple[list[float], list[float]]]
    onset_epoch: float | None
    log_y: bool
    title: str
    notes: list[str]


def figure_data(curves: Any, diagnosis: Diagnosis, title: str = "") -> FigureData:
    """Collect what the figure shows for ``curves`` and their ``diagnosis``."""
    checked = check_curves(curves)
    v = view(checked)
    shown = _shown_epochs(checked)
    epochs = [v.label(int(i)) for i in shown]
    series = {k: [float(x) for x in arr[shown]] for k, arr in checked.items() if k != AT_EPOCH}
    trends: dict[str, tuple[list[float], list[float]]] = {}
    m = len(v.index)
    if m >= 3:
        back = np.exp if v.log_scale else (lambda x: x)
        at = [v.epoch(i) for i in range(m)]
        trends["val_loss smoothed"] = (at, list(map(float, back(v.val_smooth))))
        k = max(2, math.ceil(m / 3))
        xs = np.asarray(at[m - k :], dtype=np.float64)
        for name, g in (("train_loss", v.train), ("val_loss", v.val)):
            slope, icpt = np.polyfit(xs, g[m - k :], 1)
            trends[f"{name} trend (last third)"] = (
                at[m - k :],
                [float(y) for y in back(slope * xs + icpt)],
            )
    over = diagnosis.finding("overfitting")
    notes = [f"{f.name} ({f.confidence:.0%}): {f.evidence}" for f in diagnosis.findings]
    notes += [
        f"advice: {a.knob} {a.direction} x{a.factor:g}"
        for a in diagnosis.advice
        if a.direction != "keep"
    ]
    return FigureData(
        epochs,
        series,
        trends,
        over.onset_epoch if over else None,
        v.log_scale,
        title or f"Diagnosis: {diagnosis.primary.name}",
        notes,
    )


def _shown_epochs(curves: dict[str, np.ndarray]) -> np.ndarray:
    """0-based epochs the figure draws: all of them, or :data:`MAX_SHOWN` evenly spaced ones
    and every measured epoch of a curve measured at no more than that many (a validation loss
    logged every 500 steps of 10,000 keeps all its 20 points, not the 3 that fall on the spaced
    ones)."""
    n = len(curves["train_loss"])
    if n <= MAX_SHOWN:
        return np.arange(n)
    shown = [np.round(np.linspace(0, n - 1, MAX_SHOWN)).astype(np.int64)]
    for values in curves.values():
        measured = np.flatnonzero(np.isfinite(values))
        if len(measured) <= MAX_SHOWN:
            shown.append(measured)
    return np.unique(np.concatenate(shown))


def render_html(data: FigureData) -> str:
    """A self-contained HTML page (plotly.js embedded, no external URL)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    has_metric = any(k.endswith("_metric") for k in data.series)
    fig = make_subplots(
        rows=2 if has_metric else 1,
        cols=1,
        shared_xaxes=True,
        row_heights=[0.65, 0.35] if has_metric else None,
        vertical_spacing=0.08,
    )
    for name, values in data.series.items():
        row = 2 if name.endswith("_metric") else 1
        y = [None if not math.isfinite(x) else x for x in values]
        fig.add_trace(
            go.Scatter(
                x=data.epochs,
                y=y,
                name=name,
                mode="lines+markers" if len(y) <= 200 else "lines",
                line={"color": _colour(name)},
                connectgaps=True,  # a curve measured every few epochs is drawn as a line
            ),
            row=row,
            col=1,
        )
    for name, (xs, ys) in data.trends.items():
        dash = "dot" if "smoothed" in name else "dash"
        line = {"color": _colour(name), "dash": dash, "width": 1.5}
        fig.add_trace(go.Scatter(x=xs, y=ys, name=name, mode="lines", line=line), row=1, col=1)
    if data.onset_epoch is not None:
        fig.add_vline(
            x=data.onset_epoch,
            line={"color": "black", "dash": "dash"},
            annotation_text=f"overfitting from epoch {data.onset_epoch}",
            row=1,
            col=1,
        )
    # labels at 1, 2 and 5 of each decade: the default labels every digit, which piles up
    loss_axis = {"type": "log", "dtick": "D2"} if data.log_y else {"type": "linear"}
    fig.update_yaxes(title_text="loss", row=1, col=1, **loss_axis)
    if has_metric:
        metrics = ", ".join(k for k in data.series if k.endswith("_metric"))
        fig.update_yaxes(title_text=metrics, row=2, col=1)
    fig.update_xaxes(title_text="epoch", row=2 if has_metric else 1, col=1)
    fig.update_layout(height=600, template="plotly_white", margin={"t": 30})  # (titled above)
    body = fig.to_html(full_html=False, include_plotlyjs=True)
    findings = "".join(f"<li>{html.escape(n)}</li>" for n in data.notes if _is_finding(n))
    advice = "".join(
        f"<li>{html.escape(n.removeprefix('advice: '))}</li>"
        for n in data.notes
        if not _is_finding(n)
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(data.title)}</title></head>"
        "<body style='font-family:sans-serif;max-width:1100px;margin:auto'>"
        f"<h1>{html.escape(data.title)}</h1><p>{_LEGEND}</p>{body}"
        f"<h2>Findings, strongest first</h2><ul>{findings}</ul>"
        + (f"<h2>Advice</h2><ul>{advice}</ul>" if advice else "")
        + "</body></html>"
    )


#: What the figure shows, in words, above it.
_LEGEND = (
    "Upper panel: the train loss (blue) and validation loss (red) per epoch, on a log axis "
    "where every value is positive; dotted, the smoothed validation loss; dashed, a straight "
    "line fitted to the last third of each loss (the trend the findings read); a dashed "
    "vertical line marks where overfitting starts. Lower panel, where given: the metrics."
)

#: Colours of the curves, by what they measure (a trend takes its curve's colour).
_COLOURS = {"train_loss": "#1f77b4", "val_loss": "#d62728", "train_metric": "#2ca02c"}


def _colour(name: str) -> str:
    """The colour of a curve or of a line fitted to one (``val_loss trend`` is ``val_loss``'s)."""
    return _COLOURS.get(name.split(" ")[0], "#9467bd")


def _is_finding(note: str) -> bool:
    return not note.startswith("advice: ")


#: The endings of a file the figure (an HTML page) may be written to.
HTML_SUFFIXES = (".html", ".htm")


def check_html_path(path: str | Path) -> Path:
    """``path`` as a :class:`~pathlib.Path` if its name ends in ``.html`` or ``.htm``.

    Raises:
        InputError: It ends otherwise (the figure is an HTML page, whatever the name says).
    """
    path = Path(path)
    if path.suffix.lower() not in HTML_SUFFIXES:
        raise InputError(
            f"the figure is an HTML page: its file name must end in .html or .htm, got "
            f"{str(path)!r}"
        )
    return path


def write_html(curves: Any, diagnosis: Diagnosis, path: str | Path, title: str = "") -> Path:
    """Write the annotated figure of ``curves`` to ``path`` (``.html`` or ``.htm``) and return
    the path.

    Raises:
        InputError: ``path`` ends otherwise, or cannot be written.
    """
    path = check_html_path(path)
    page = render_html(figure_data(curves, diagnosis, title))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise InputError(
            f"cannot write the figure to {str(path)!r}: {exc.strerror or exc}"
        ) from None
    return path
