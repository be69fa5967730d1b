"""The message helpers of hyperlab.errors."""

from __future__ import annotations

from hyperlab.errors import listed


def test_names_are_listed_for_a_message_with_their_count_when_cut() -> None:
    assert listed([]) == "none"
    assert listed(["a", "b"]) == "a, b"
    assert listed([str(i) for i in range(12)], most=3) == "0, 1, 2, ... (12 in all)"
