from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from hyperlab.errors import InputError, InputTypeError
from hyperlab.lab.provenance import git_commit, provenance, write_result


def test_records_the_command_versions_and_machine() -> None:
    record = provenance(["python", "benchmarks/x.py", "--tasks", "a b"])
    assert record["command"] == "python benchmarks/x.py --tasks 'a b'"
    assert record["versions"]["hyperlab"] and record["versions"]["python"]
    assert record["machine"]["cpus"] >= 1
    import torch  # imported: the kernels' instruction set is recorded (digits differ by it)

    assert (
        provenance()["machine"]["torch_cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    )
    assert record["date"].endswith("+00:00")
    json.dumps(record)  # plain data
    assert provenance()["command"]  # this process's own command line


def test_the_commit_is_the_checkout_head(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "f.txt").write_text("one\n")
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "add", "f.txt"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "one"], check=True)
    head = subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert git_commit(tmp_path) == {"commit": head, "dirty": False}
    (tmp_path / "f.txt").write_text("two\n")
    assert git_commit(tmp_path / "f.txt") == {"commit": head, "dirty": True}


def test_outside_a_checkout_there_is_no_commit(tmp_path: Path) -> None:
    assert git_commit(tmp_path) == {"commit": None, "dirty": None}


def test_write_result_puts_the_provenance_beside_the_payload(tmp_path: Path) -> None:
    path = write_result(
        tmp_path / "sub" / "r.json",
        {"x": np.float64(0.5), "v": np.arange(3), "where": tmp_path},
        argv=["python", "b.py"],
    )
    data = json.loads(path.read_text())
    assert list(data) == ["provenance", "x", "v", "where"]
    assert data["provenance"]["command"] == "python b.py"
    assert data["x"] == 0.5 and data["v"] == [0, 1, 2] and data["where"] == str(tmp_path)


def test_paths_inside_the_current_folder_are_written_relative(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A result file names no folder of the machine that wrote it."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "results" / "r.json"
    payload = {"settings": {"out": str(out), "data": [out.parent]}, "other": "/elsewhere/x"}
    data = json.loads(write_result(out, payload, argv=["python", "b.py"]).read_text())
    assert data["settings"] == {"out": "results/r.json", "data": ["results"]}
    assert data["other"] == "/elsewhere/x"
    assert str(tmp_path) not in json.dumps(data["settings"])


def test_bad_payloads_and_commands_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="'provenance'"):
        write_result(tmp_path / "r.json", {"provenance": 1})
    with pytest.raises(InputTypeError, match="payload must be a mapping, got list"):
        write_result(tmp_path / "r.json", [1])  # type: ignore[arg-type]
    with pytest.raises(InputTypeError, match="argv must be a sequence of strings"):
        provenance("python b.py")
    with pytest.raises(TypeError, match="object is not JSON data"):
        write_result(tmp_path / "r.json", {"o": object()})


def test_an_install_inside_another_checkout_records_no_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """hyperlab installed into a project's .venv is not the project's code: its commit is not
    hyperlab's (it was recorded as such)."""
    import hyperlab.lab.provenance as module

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "one"], check=True)
    installed = tmp_path / ".venv" / "site-packages" / "hyperlab" / "lab" / "provenance.py"
    installed.parent.mkdir(parents=True)
    installed.write_text("# installed, not tracked\n")
    monkeypatch.setattr(module, "__file__", str(installed))
    assert git_commit() == {"commit": None, "dirty": None}
    subprocess.run([*git, "add", "-f", str(installed)], check=True)  # a checkout of hyperlab
    subprocess.run([*git, "commit", "-q", "-m", "two"], check=True)
    assert git_commit()["commit"] is not None


def test_the_command_names_paths_inside_the_folder_it_ran_in_relative_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    python = str(tmp_path / ".venv" / "bin" / "python")
    record = provenance([python, "benchmarks/x.py", "--out", str(tmp_path / "r.json"), "/usr/x"])
    assert record["command"] == ".venv/bin/python benchmarks/x.py --out r.json /usr/x"
