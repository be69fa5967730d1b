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
