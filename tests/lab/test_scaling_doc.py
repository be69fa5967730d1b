"""docs/scaling.md runs as written against a throwaway PostgreSQL server, at the sizes below.

The page's database ``postgresql://hpo@db.example.org/hpo`` becomes a fresh database of the
test's server (its user, on loopback), and the password the page exports becomes that server's;
the shell blocks (a loop of workers, a Slurm job's script) run in ``bash`` with the package's
``hyperlab`` and the variables a shell or Slurm would give them.
"""

from __future__ import annotations

import itertools
import os
import shlex
from pathlib import Path

import pytest

from hyperlab.errors import InputError
from hyperlab.lab.repair import recover
from hyperlab.testing.postgres import TemporaryPostgres
from tests.docblocks import blocks, check_not_run, joined, lines, run_bash, run_lines, shrink_all

PAGE = "docs/scaling.md"
_counter = itertools.count()

#: Sizes shrunk (old text: new text, in the blocks that hold it). The database and the
#: password are the server's (``_server_table``).
SMALLER = {
    "--trials 200 --name big": "--trials 2 --budget 1 --name big",
    "--trials 200 --name mine": "--trials 2 --name mine",
    "$(seq 1 8)": "$(seq 1 2)",
}

#: Files a block reads that the user brings: written before the blocks run.
INPUTS = {
    "train.py": "def objective(trial):\n"
    "    x = trial.suggest_float('x', -5, 5)\n"
    "    return (x - 1) ** 2\n",
}

#: The block of "Damaged storage files" recovers a journal or SQLite run (a database server is
#: repaired with its own tools, and ``recover`` refuses one), so it runs on a journal run of its
#: name, made first by this command.
JOURNAL_RUN = "hyperlab tune --task branin --tuner random --trials 2 --name local"
#: The page's database, as its blocks name it.
PAGE_DATABASE = "postgresql://hpo@db.example.org/hpo"

#: Blocks (by their first text) no test runs, and why.
NOT_RUN = {
    "[Service]": "a systemd unit: the test cannot install units nor start services; the "
    "command it starts (`hyperlab worker --name big --worker-name ...`, the storage from "
    "HYPERLAB_STORAGE) is the shell loop's, which runs",
}


def _server_table(server: TemporaryPostgres) -> dict[str, str]:
    database = f"scaling_doc{os.getpid()}_{next(_counter)}"
    server.create_database(database)
    return {
        "postgresql://hpo@db.example.org/hpo": (
            f"postgresql://{server.user}@127.0.0.1:{server.port}/{database}"
        ),
        "PGPASSWORD=secret": f"PGPASSWORD={server.password}",
    }


def test_the_blocks_not_run_are_named() -> None:
    check_not_run(PAGE, NOT_RUN)


@pytest.mark.slow
def test_the_scaling_page_runs(
    postgres: TemporaryPostgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every block on PostgreSQL but the unit and recover, in order: the short version, your
    own code on workers, the shell loop and the Slurm script (which find the study done and
    leave)."""
    monkeypatch.chdir(tmp_path)
    for name, text in INPUTS.items():
        (tmp_path / name).write_text(text)
    server = _server_table(postgres)
    skip = (*NOT_RUN, "hyperlab recover")
    codes = [joined(b.code) for b in blocks(PAGE) if not b.code.startswith(skip)]
    for code in shrink_all(codes, {**server, **SMALLER}, PAGE):
        if 'hyperlab worker --storage "$URL"' in code:  # (bash: a loop, a job's script)
            env = {"URL": server["postgresql://hpo@db.example.org/hpo"]}
            env |= {"SLURM_ARRAY_JOB_ID": "7", "SLURM_ARRAY_TASK_ID": "1"}
            run_bash(code, tmp_path, env)
        else:
            run_lines(code, monkeypatch)
    assert (tmp_path / "runs" / "big" / "report.html").exists()


def test_the_recover_line_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (block,) = [b for b in blocks(PAGE) if b.code.startswith("hyperlab recover")]
    assert (
        run_lines(f"{JOURNAL_RUN}\n{block.code}", monkeypatch)[-1] == "hyperlab recover runs/local"
    )


def test_the_recover_line_names_no_run_the_page_keeps_in_a_database() -> None:
    """It named ``runs/big``, the page's PostgreSQL run, which ``recover`` refuses."""
    (block,) = [b for b in blocks(PAGE) if b.code.startswith("hyperlab recover")]
    target = shlex.split(lines(block.code)[0])[2]
    in_database = {
        f"runs/{words[words.index('--name') + 1]}"
        for b in blocks(PAGE)
        for line in lines(b.code)
        if PAGE_DATABASE in line and "--name" in (words := shlex.split(line))
    }
    assert "runs/big" in in_database and target not in in_database


def test_the_page_quotes_what_recover_says_of_a_database_run() -> None:
    with pytest.raises(InputError) as refused:
        recover(PAGE_DATABASE)
    text = " ".join(Path(PAGE).read_text().split())
    assert f"`hyperlab recover runs/big` is refused, exit status 2, with `{refused.value}`" in text
