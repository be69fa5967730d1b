"""What the rules say about curves, shared by the diagnose tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hyperlab.diagnose import check_curves, features, rule_scores, view


def evidence(curves: Mapping[str, Any]) -> dict[str, str]:
    """Every rule's evidence sentence for ``curves`` (checked as ``diagnose`` checks them)."""
    c = check_curves(curves)
    v = view(c)
    return {name: text for name, (_, text) in rule_scores(features(c, v), v).items()}
