"""``hyperlab.hypergrad`` lists its public names in ``__all__``, and every hyperlab type that
one of its public functions or methods returns can be imported from the package itself."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Iterator
from typing import Any

import hyperlab.hypergrad as hypergrad


def _public_callables(obj: Any) -> list[Any]:
    if inspect.isfunction(obj):
        return [obj]
    if inspect.isclass(obj):
        return [f for n, f in inspect.getmembers(obj, inspect.isfunction) if not n.startswith("_")]
    return []


def _returned_types(obj: Any) -> Iterator[tuple[str, type]]:
    """``(function, type)`` for each hyperlab class that a public callable of ``obj`` returns."""
    for func in _public_callables(obj):
        hint = typing.get_type_hints(func).get("return")
        for kind in (hint, *typing.get_args(hint)):
            if inspect.isclass(kind) and kind.__module__.startswith("hyperlab."):
                yield func.__qualname__, kind


def test_all_lists_every_public_name_of_the_package() -> None:
    bound = {
        name
        for name, value in vars(hypergrad).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name != "annotations"
    }
    assert set(hypergrad.__all__) == bound
    assert len(hypergrad.__all__) == len(set(hypergrad.__all__))


def test_every_type_a_public_function_returns_is_exported() -> None:
    missing = {
        f"{where} -> {kind.__name__}"
        for name in hypergrad.__all__
        for where, kind in _returned_types(getattr(hypergrad, name))
        if getattr(hypergrad, kind.__name__, None) is not kind
    }
    assert not missing


def test_the_result_types_and_the_method_names_are_exported() -> None:
    from hyperlab.hypergrad import (
        METHODS,
        SearchHistory,
        StackFactory,
        STNHistory,
        T1T2Result,
        stack,
    )

    assert {"t1t2", "ift"} <= set(METHODS)
    assert isinstance(stack("sgd"), StackFactory)
    assert {SearchHistory.__name__, STNHistory.__name__, T1T2Result.__name__} <= set(
        hypergrad.__all__
    )
