"""Run experiments by name and write their results (HTML page + JSON per experiment)."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hyperlab.errors import InputError
from hyperlab.experiments.base import ExperimentResult
from hyperlab.registry import EXPERIMENTS


def _plain(value: Any) -> Any:
    """JSON-safe copy (NaN/inf as strings, numpy scalars and arrays as Python values)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def experiment_sections(result: ExperimentResult) -> str:
    """The HTML of one experiment's section (without the page around it)."""
    from hyperlab.report.html import figure_html, table

    parts = [f"<p>{html.escape(s)}</p>" for s in result.summary]
    if result.table:
        parts.append(table(result.table))
    parts.extend(figure_html(f) for f in result.figures)
    return "".join(parts)


#: The key of ``<name>.json`` that records how the experiment was run.
SETTINGS_KEY = "hyperlab_run"


def run_experiments(
    names: Sequence[str], out_dir: Path, *, quick: bool, seed: int = 0, overwrite: bool = False
) -> Path:
    """Run each named experiment; write ``<name>.json`` and ``<name>.html`` for each, and
    ``experiments.html``: this call's experiments, with links to earlier ones in the folder.

    ``<name>.json`` records the settings (``quick``, ``seed``) under :data:`SETTINGS_KEY`. An
    experiment already in ``out_dir`` with other settings is replaced only with ``overwrite``
    (a ``--quick`` run would replace a full one); with the same settings it is run again.

    Raises:
        InputError: An unknown or repeated name, a seed outside ``0..2**32 - 1`` (the
            range NumPy and scikit-learn accept), an ``out_dir`` that is a file or cannot be
            created, or (without ``overwrite``) an experiment in ``out_dir`` run with other
            settings, checked for every name before any runs.
    """
    from hyperlab.report.html import page

    for name in names:
        EXPERIMENTS.check(name)
    repeated = sorted({n for n in names if list(names).count(n) > 1})
    if repeated:
        raise InputError(f"experiments {repeated} are named more than once; name each once")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise InputError(f"seed must be a whole number in 0..{2**32 - 1}, got {seed!r}")
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out {str(out_dir)!r} is a file; the experiments need a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"cannot create the folder --out {str(out_dir)!r}: {exc.strerror}"
        ) from None
    settings = {"quick": bool(quick), "seed": seed}
    if not overwrite:
        for name in names:
            _check_replaceable(out_dir / f"{name}.json", settings)
    from tqdm.auto import tqdm

    sections = []
    for name in tqdm(names, desc="experiments", unit="experiment", dynamic_ncols=True):
        result: ExperimentResult = EXPERIMENTS.create(name, out_dir=out_dir, quick=quick, seed=seed)
        data = {SETTINGS_KEY: settings, **_plain(result.data)}
        (out_dir / f"{name}.json").write_text(json.dumps(data, indent=1))
        section = (f"{result.name}: {result.title}", experiment_sections(result))
        (out_dir / f"{name}.html").write_text(page(f"hyperlab {name}", [section]), "utf-8")
        sections.append(section)
    earlier = _earlier_pages(out_dir, names)
    if earlier:
        sections.append(("Earlier experiments in this folder", earlier))
    path = out_dir / "experiments.html"
    path.write_text(page("hyperlab experiments", sections), encoding="utf-8")
    return path


def _check_replaceable(path: Path, settings: dict[str, Any]) -> None:
    """Refuse to write over an experiment's results recorded with other settings.

    Raises:
        InputError: Naming the file, what it holds and what this call would run.
    """
    if not path.exists():
        return
    try:
        held = json.loads(path.read_text(encoding="utf-8")).get(SETTINGS_KEY)
    except (OSError, ValueError, AttributeError):
        held = None
    if held == settings:
        return
    was = "results of unrecorded settings" if not isinstance(held, dict) else _described(held)
    raise InputError(
        f"{str(path)!r} holds {was}; this call runs {_described(settings)} and would replace "
        "them: choose another --out, or pass --overwrite (overwrite=True) to replace them"
    )


def _described(settings: dict[str, Any]) -> str:
    kind = "a --quick run" if settings.get("quick") else "a full run"
    return f"{kind} with seed {settings.get('seed')!r}"


def _earlier_pages(out_dir: Path, names: Sequence[str]) -> str:
    """Links to the pages of the experiments run into ``out_dir`` before this call (each
    experiment keeps its own ``<name>.html``; ``experiments.html`` shows this call's)."""
    items = [
        f"<li><a href='{html.escape(p.name)}'>{html.escape(p.stem)}</a></li>"
        for p in sorted(out_dir.glob("*.html"))
        if p.stem in EXPERIMENTS.names() and p.stem not in names
    ]
    return f"<ul>{''.join(items)}</ul>" if items else ""
