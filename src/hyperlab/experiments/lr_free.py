"""The learning-rate-free optimizers, the bar for a network that sets its own learning rate.

Four optimizers that need no learning rate, each from its authors' package (optional
dependencies, ``pip install 'hyperlab[lrfree]'``), always at the package's defaults:

- ``D-Adapt Adam``: D-Adaptation (Defazio & Mishchenko 2023), ``dadaptation.DAdaptAdam``;
- ``Prodigy``: Prodigy (Mishchenko & Defazio 2024), ``prodigyopt.Prodigy``;
- ``DoG``: Distance over Gradients (Ivgi et al. 2023), ``dog.DoG`` (package ``dog-optimizer``);
- ``Schedule-Free AdamW``: Schedule-Free AdamW (Defazio et al. 2024),
  ``schedulefree.AdamWScheduleFree``; it has a training and an evaluation mode, which
  :func:`hyperlab.experiments.problems.set_mode` switches.

A factory ignores the learning rate it is handed, so the optimizers plug into the same training
loop as hyperlab's (:func:`hyperlab.experiments.problems.train`).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from hyperlab.errors import InputError, UnknownNameError
from hyperlab.experiments.problems import Factory

#: The command that installs all four.
INSTALL_ALL = "pip install 'hyperlab[lrfree]'"


@dataclass(frozen=True)
class LRFreeSpec:
    """Where an optimizer lives: the package to install, the module to import, the class."""

    package: str
    module: str
    cls: str


#: Display name -> where the optimizer lives.
LR_FREE: dict[str, LRFreeSpec] = {
    "D-Adapt Adam": LRFreeSpec("dadaptation", "dadaptation", "DAdaptAdam"),
    "Prodigy": LRFreeSpec("prodigyopt", "prodigyopt", "Prodigy"),
    "DoG": LRFreeSpec("dog-optimizer", "dog", "DoG"),
    "Schedule-Free AdamW": LRFreeSpec("schedulefree", "schedulefree", "AdamWScheduleFree"),
}


def _import(module: str) -> ModuleType:
    """``importlib.import_module`` (one place, so tests can simulate a missing package)."""
    return importlib.import_module(module)


def _spec(name: str) -> LRFreeSpec:
    if name not in LR_FREE:
        raise UnknownNameError(
            f"unknown learning-rate-free optimizer {name!r}; known: {list(LR_FREE)}"
        )
    return LR_FREE[name]


def is_installed(name: str) -> bool:
    """Whether the package of the optimizer called ``name`` can be imported."""
    try:
        _import(_spec(name).module)
    except ImportError:
        return False
    return True


def lr_free_optimizer(name: str) -> Factory:
    """A factory ``(params, lr) -> optimizer`` for the optimizer ``name`` at its defaults.

    The package is imported here, so a missing one is refused before any training starts. The
    ``lr`` handed to the factory is ignored.

    Raises:
        UnknownNameError: ``name`` is not in :data:`LR_FREE`.
        InputError: Its package is not installed (the message names it and the install command).
    """
    spec = _spec(name)
    try:
        module = _import(spec.module)
    except ImportError:
        raise InputError(
            f"the optimizer {name!r} needs the package {spec.package!r}, which is not installed; "
            f"install it with `pip install {spec.package}` (all four: `{INSTALL_ALL}`)"
        ) from None
    cls = getattr(module, spec.cls)

    def make(params: object, lr: float) -> object:
        return cls(params)

    return make
