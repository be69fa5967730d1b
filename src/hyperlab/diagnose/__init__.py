"""The learning-curve diagnostician: what is wrong with one run, and which way to move each knob."""

from __future__ import annotations
