"""The top-level names that load on first use: ``import hyperlab`` stays light, and type
checkers see what each name is (``__getattr__`` alone gives them ``Any``)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import hyperlab

SRC = Path(__file__).resolve().parents[1] / "src"

#: What type checkers follow: hyperlab's top level and the modules its lazy names live in
#: (every other import is skipped, so the check reads those few files only).
MYPY_CONFIG = """\
[mypy]
follow_imports = skip
ignore_missing_imports = true
warn_unused_configs = false

[mypy-{modules}]
follow_imports = normal
"""


def test_import_hyperlab_loads_none_of_its_heavy_modules() -> None:
    code = "import sys, hyperlab; print(sorted(sys.modules))"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    loaded = set(ast.literal_eval(out.stdout))
    heavy = {"torch", "optuna", "numpy", "sklearn", "plotly", "hyperlab.api", "hyperlab.lab"}
    assert "hyperlab" in loaded and not heavy & loaded


def test_the_type_checking_block_names_every_lazy_name() -> None:
    """``if TYPE_CHECKING:`` imports each lazy name from where ``__getattr__`` loads it."""
    tree = ast.parse((SRC / "hyperlab" / "__init__.py").read_text())
    (block,) = [
        n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING"
    ]
    imported = {
        alias.asname: (node.module, alias.name)
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    lazy = hyperlab._LAZY
    assert {name: imported[name] for name in lazy} == lazy
    assert set(imported) - set(lazy) <= set(hyperlab._SUBMODULES)


def test_a_type_checker_sees_the_lazy_names_signatures(tmp_path: Path) -> None:
    """mypy refuses a misspelt keyword of ``hyperlab.tune`` and types every lazy name."""
    names = sorted(hyperlab._LAZY)
    snippet = tmp_path / "snippet.py"
    snippet.write_text(
        "import hyperlab\n\n"
        'hyperlab.tune("branin", "tpe", trails=20)\n'
        + "".join(f"reveal_type(hyperlab.{name})\n" for name in names)
    )
    modules = ",".join(["hyperlab", *sorted({m for m, _ in hyperlab._LAZY.values()})])
    config = tmp_path / "mypy.ini"
    config.write_text(MYPY_CONFIG.format(modules=modules))
    command = [sys.executable, "-m", "mypy", "--config-file", str(config), "--cache-dir"]
    command += [os.devnull, str(snippet)]
    env = {**os.environ, "MYPYPATH": str(SRC)}
    out = subprocess.run(command, env=env, capture_output=True, text=True, cwd=tmp_path)
    said = out.stdout.splitlines()
    assert 'Unexpected keyword argument "trails" for "tune"' in said[0], out.stdout
    revealed = [line for line in said if "Revealed type is" in line]
    assert len(revealed) == len(names), out.stdout
    for name, line in zip(names, revealed, strict=True):
        assert '"Any"' not in line, f"{name}: {line}"
    assert "trials: int" in revealed[names.index("tune")]
