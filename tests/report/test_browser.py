"""Every kind of report draws every figure in a real browser, with no console error.

Each report is opened in headless Chromium (Debian's ``chromium`` package; ``.ci/run`` installs
it) from a copy with a probe script first in its ``<head>``: the probe records console errors,
uncaught errors and failed loads, and after the page has loaded writes what each plotly figure
drew into the page, which ``--dump-dom`` prints.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hyperlab.report import write_report

pytestmark = pytest.mark.slow  # a browser start and a page load per report

_PROBE = """<script>(function () {
  var errors = [];
  var error = console.error;
  console.error = function () {
    errors.push(Array.prototype.map.call(arguments, String).join(" "));
    error.apply(console, arguments);
  };
  window.addEventListener("error", function (e) {
    var what = e.target && e.target !== window ? (e.target.src || e.target.href) : "";
    errors.push("error: " + (e.message || what || "unknown"));
  }, true);
  window.addEventListener("unhandledrejection", function (e) {
    errors.push("unhandled rejection: " + e.reason);
  });
  function inked(canvas) {
    var copy = document.createElement("canvas");
    copy.width = canvas.width;
    copy.height = canvas.height;
    var ctx = copy.getContext("2d");
    ctx.drawImage(canvas, 0, 0);
    var px = ctx.getImageData(0, 0, copy.width, copy.height).data, n = 0;
    for (var i = 3; i < px.length; i += 4) { if (px[i] > 0) { n++; } }
    return n;
  }
  function figure(div) {
    var context = div.querySelector("canvas.gl-canvas-context");
    return {
      types: (div.data || []).map(function (t) { return t.type; }),
      dimensions: (div.data || []).map(function (t) { return (t.dimensions || []).length; }),
      svgs: div.querySelectorAll(".main-svg").length,
      traces: Array.prototype.map.call(div.querySelectorAll("g.trace"), function (g) {
        return Array.prototype.filter.call(g.querySelectorAll("path"), function (p) {
          return (p.getAttribute("d") || "").length > 2;
        }).length;
      }),
      axes: div.querySelectorAll(".y-axis").length,
      inked: context ? inked(context) : 0,
      legend: div.layout && div.layout.legend ? div.layout.legend.orientation || "v" : "v"
    };
  }
  window.addEventListener("load", function () {
    setTimeout(function () {
      var out = document.createElement("pre");
      out.id = "hyperlab-probe";
      out.textContent = JSON.stringify({
        errors: errors,
        scrollWidth: document.documentElement.scrollWidth,
        innerWidth: window.innerWidth,
        figures: Array.prototype.map.call(document.querySelectorAll(".plotly-graph-div"), figure)
      });
      document.body.appendChild(out);
    }, 1000);
  });
})();</script>"""


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(
        "headless Chromium is needed to check the reports: "
        "apt-get install -y --no-install-recommends chromium"
    )


def _open(report: Path, tmp_path: Path, width: int = 1200) -> dict[str, Any]:
    """What the probe saw when Chromium loaded ``report`` in a window ``width`` pixels wide
    (Chromium's headless window is at least 500)."""
    page = tmp_path / "page.html"
    page.write_text(report.read_text().replace("<head>", "<head>" + _PROBE, 1), encoding="utf-8")
    command = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--enable-unsafe-swiftshader",  # software WebGL for the parallel-coordinates plot
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--window-size={width},900",
        "--virtual-time-budget=20000",
        "--dump-dom",
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    found = re.search(r'<pre id="hyperlab-probe">(.*?)</pre>', done.stdout, flags=re.S)
    assert found, f"chromium exit {done.returncode}: {done.stderr[-3000:]}"
    result: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return result


def _check(report: Path, tmp_path: Path) -> list[dict[str, Any]]:
    """Open ``report``; every figure drew, nothing went wrong. Returns the figures."""
    seen = _open(report, tmp_path)
    assert seen["errors"] == []
    figures = seen["figures"]
    assert len(figures) == report.read_text().count("Plotly.newPlot(") > 0
    for i, fig in enumerate(figures):
        assert fig["svgs"] >= 1, (i, fig)
        if fig["types"] == ["parcoords"]:
            assert fig["axes"] == fig["dimensions"][0] >= 2, (i, fig)
            assert fig["inked"] > 0, (i, fig)  # the lines were drawn (WebGL)
        else:
            assert len(fig["traces"]) == len(fig["types"]) > 0, (i, fig)
            assert all(paths > 0 for paths in fig["traces"]), (i, fig)
    return figures


def _types(figures: list[dict[str, Any]]) -> set[str]:
    return {t for fig in figures for t in fig["types"]}


def test_tune_report_of_a_builtin_task(builtin_tune: Path, tmp_path: Path) -> None:
    figures = _check(write_report(builtin_tune), tmp_path)
    assert {"scatter", "bar", "parcoords"} <= _types(figures)


def test_compare_report_of_a_builtin_task_with_pruning(
    builtin_compare: Path, tmp_path: Path
) -> None:
    page = write_report(builtin_compare)
    assert "Early-stopping diagnostics" in page.read_text()
    figures = _check(page, tmp_path)
    assert len(figures) == 4 and {"scatter", "box"} <= _types(figures)


def test_tune_report_of_a_user_objective(user_tune: Path, tmp_path: Path) -> None:
    figures = _check(write_report(user_tune), tmp_path)
    assert "parcoords" in _types(figures)


def test_compare_report_of_a_user_objective(user_compare: Path, tmp_path: Path) -> None:
    figures = _check(write_report(user_compare), tmp_path)
    assert len(figures) == 2


def test_a_narrow_screen_scrolls_wide_tables_in_their_box_and_puts_legends_below(
    builtin_compare: Path, tmp_path: Path
) -> None:
    """On a phone-sized window the page is no wider than the window (a wide table scrolls
    inside its own box) and every legend lies below its plot, where it is not cut off."""
    seen = _open(write_report(builtin_compare), tmp_path, width=500)
    assert seen["errors"] == []
    assert seen["scrollWidth"] <= seen["innerWidth"] <= 500
    assert seen["figures"] and all(fig["legend"] == "h" for fig in seen["figures"])
    (tmp_path / "wide").mkdir()
    wide = _open(write_report(builtin_compare), tmp_path / "wide")
    assert all(fig["legend"] == "v" for fig in wide["figures"])
