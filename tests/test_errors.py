"""The message helpers of hyperlab.errors."""

from __future__ import annotations

from hyperlab.errors import counted, listed


def test_names_are_listed_for_a_message_with_their_count_when_cut() -> None:
    assert listed([]) == "none"
    assert listed(["a", "b"]) == "a, b"
    assert listed([str(i) for i in range(12)], most=3) == "0, 1, 2, ... (12 in all)"


def test_a_count_of_one_takes_the_singular() -> None:
    """A batch of one item was "a list of 1 items"."""
    assert [counted(n, "item") for n in (0, 1, 3)] == ["0 items", "1 item", "3 items"]


def test_a_warning_with_no_user_line_in_a_thread_points_at_the_line_that_warns() -> None:
    """A thread that runs library code only (no frame of the user's) pointed its warning at
    the standard library's threading.py, the outermost frame."""
    import threading
    import warnings

    import torch

    from hyperlab.hypergrad import guards

    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        thread = threading.Thread(target=guards.checked_params, args=("SGDHD", [torch.zeros(1)]))
        thread.start()
        thread.join()
    assert [w.filename for w in record] == [guards.__file__]


def test_a_warning_in_a_spawned_worker_points_at_the_line_that_warns() -> None:
    """In a process that ``multiprocessing`` spawned (a worker of ``--jobs N``) with library
    code for its target, the warning pointed at ``<string>:1``, the code that starts the
    process."""
    import subprocess
    import sys

    code = (
        "import multiprocessing as mp, torch\n"
        "from hyperlab.hypergrad.guards import checked_params\n"
        "p = mp.get_context('spawn').Process(\n"
        "    target=checked_params, args=('SGDHD', [torch.zeros(1)])\n"
        ")\n"
        "p.start(); p.join()\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "always", "-c", code], capture_output=True, text=True, timeout=120
    )
    assert "a frozen model" in done.stderr
    assert "<string>:" not in done.stderr and "guards.py:" in done.stderr
