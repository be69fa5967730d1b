"""Run experiments by name and write their results (HTML page + JSON per experiment)."""

from __future__ import annotations

import html
import json
import math
import os
import tempfile
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
    from hyperlab.report.page import figure_html, table

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
    (a ``--quick`` run would replace a full one); with the same settings it is run again. An
    experiment's JSON and page are replaced together once both are ready, so an interrupt or a
    failure leaves the earlier pair; ``experiments.html`` is then rewritten with the experiments
    finished before it, so that it never shows results their files no longer hold.

    Raises:
        InputError: An unknown or repeated name, a seed outside ``0..2**32 - 1`` (the
            range NumPy and scikit-learn accept), an ``out_dir`` that is a file or cannot be
            created or written into, a result's place in it taken by a folder, or (without
            ``overwrite``) an experiment in ``out_dir`` run with other settings, checked for
            every name before any runs.
        RunInUseError: Another call is running experiments in ``out_dir`` (its process named).
    """
    for name in names:
        EXPERIMENTS.check(name)
    repeated = sorted({n for n in names if list(names).count(n) > 1})
    if repeated:
        raise InputError(f"experiments {repeated} are named more than once; name each once")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise InputError(f"seed must be a whole number in 0..{2**32 - 1}, got {seed!r}")
    _check_out_dir(out_dir, names)
    from hyperlab.lab.runlock import RunLock

    # one call at a time in a folder: two would each check it, then replace the other's results
    with RunLock(out_dir, f"experiments folder {str(out_dir)!r}"):
        settings = {"quick": bool(quick), "seed": seed}
        if not overwrite:
            for name in names:
                _check_replaceable(out_dir / f"{name}.json", settings)
        return _run_all(names, out_dir, quick=quick, seed=seed, settings=settings)


def _run_all(
    names: Sequence[str], out_dir: Path, *, quick: bool, seed: int, settings: dict[str, Any]
) -> Path:
    """Run the experiments (inputs checked, the folder locked) and write their files."""
    from tqdm.auto import tqdm

    from hyperlab.report.page import page

    sections: dict[str, tuple[str, str]] = {}
    try:
        for name in tqdm(names, desc="experiments", unit="experiment", dynamic_ncols=True):
            result = EXPERIMENTS.create(name, out_dir=out_dir, quick=quick, seed=seed)
            data = {SETTINGS_KEY: settings, **_plain(result.data)}
            section = (f"{result.name}: {result.title}", experiment_sections(result))
            _write_together(
                {
                    out_dir / f"{name}.json": json.dumps(data, indent=1),
                    out_dir / f"{name}.html": page(f"hyperlab {name}", [section]),
                }
            )
            sections[name] = section
    except BaseException:  # Ctrl-C or a failure: the index must not show replaced results
        if sections:
            _write_index(out_dir, sections)
        _say_what_was_kept(list(sections), [n for n in names if n not in sections], out_dir)
        raise
    return _write_index(out_dir, sections)


def _say_what_was_kept(done: list[str], left: list[str], out_dir: Path) -> None:
    """On stderr, after an interrupt or a failure: which experiments finished (their files
    are in ``out_dir``) and which did not (their earlier files, if any, are as they were)."""
    import sys

    finished = ", ".join(done) if done else "none"
    print(
        f"experiments finished and written to {out_dir}: {finished}; not finished: "
        f"{', '.join(left)} (their earlier results, if any, are as they were)",
        file=sys.stderr,
    )


def _write_index(out_dir: Path, sections: dict[str, tuple[str, str]]) -> Path:
    """Write ``experiments.html``: the sections of the experiments this call finished, then
    links to the other experiments' pages in ``out_dir``."""
    from hyperlab.report.page import page

    shown = list(sections.values())
    earlier = _earlier_pages(out_dir, list(sections))
    if earlier:
        shown.append(("Earlier experiments in this folder", earlier))
    path = out_dir / "experiments.html"
    _write_together({path: page("hyperlab experiments", shown)})
    return path


def _check_out_dir(out_dir: Path, names: Sequence[str]) -> None:
    """Create ``out_dir`` and make sure every file the experiments write there can be written,
    before anything runs (a full run takes minutes; its results must not be lost at the end).

    Raises:
        InputError: ``out_dir`` is a file, cannot be created or written into, or the place of
            one of the files to write (``<name>.json``, ``<name>.html``, ``experiments.html``)
            is taken by something that is not a file.
    """
    where = f"--out {str(out_dir)!r}"
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{where} is a file; the experiments need a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the folder {where}: {exc.strerror}") from None
    targets = [out_dir / f"{n}.{ext}" for n in names for ext in ("json", "html")]
    for target in [*targets, out_dir / "experiments.html"]:
        if target.exists() and not target.is_file():
            raise InputError(
                f"{str(target)!r} is not a file; the experiments write their results there: "
                "move it away or choose another --out"
            )
    try:
        fd, probe = tempfile.mkstemp(dir=out_dir, prefix=".hyperlab-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise InputError(f"cannot write into the folder {where}: {exc.strerror}") from None


def _write_together(files: dict[Path, str]) -> None:
    """Write each text to its path, all or none: each goes to a temporary file beside its path
    first, and only when all are written do they replace the paths, so a failure or an
    interrupt while writing leaves the files that were there before (a page and its JSON from
    the same run)."""
    temps: dict[Path, Path] = {}
    try:
        for path, text in files.items():
            temps[path] = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            temps[path].write_text(text, encoding="utf-8")
        for path, temp in temps.items():
            os.replace(temp, path)
    finally:
        for temp in temps.values():
            temp.unlink(missing_ok=True)


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
