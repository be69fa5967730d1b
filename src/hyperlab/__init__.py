"""hyperlab: neural networks that set the hyperparameters of neural networks, measured
honestly against the classic tuners.

The public face::

    import hyperlab
    study, summary = hyperlab.tune("digits-mlp", "tpe", trials=20)
    records = hyperlab.compare("branin", ["random", "tpe"], seeds=3, trials=30)

Heavy modules load on first use, so ``import hyperlab`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what the lazy names below are, for type checkers; never imported at run time
    from hyperlab import registry as registry
    from hyperlab.api import compare as compare
    from hyperlab.api import tune as tune
    from hyperlab.lab.fold_scores import report_fold_scores as report_fold_scores
    from hyperlab.lab.plugins import StartupOnlyWarning as StartupOnlyWarning
    from hyperlab.lab.summary import TuneSummary as TuneSummary
    from hyperlab.tasks.base import Evaluation as Evaluation
    from hyperlab.tasks.base import Task as Task

__version__ = "0.1.0"

__all__ = [
    "Evaluation",
    "StartupOnlyWarning",
    "Task",
    "TuneSummary",
    "__version__",
    "compare",
    "diagnose",
    "registry",
    "report_fold_scores",
    "tune",
]

_LAZY = {
    "tune": ("hyperlab.api", "tune"),
    "compare": ("hyperlab.api", "compare"),
    "TuneSummary": ("hyperlab.lab.summary", "TuneSummary"),
    "report_fold_scores": ("hyperlab.lab.fold_scores", "report_fold_scores"),
    "StartupOnlyWarning": ("hyperlab.lab.plugins", "StartupOnlyWarning"),
    "Task": ("hyperlab.tasks.base", "Task"),
    "Evaluation": ("hyperlab.tasks.base", "Evaluation"),
}
#: Subpackages reached as attributes; ``hyperlab.diagnose`` is a package that calls like its
#: function, so every access (before or after ``import hyperlab.diagnose``) gives one object
#: (type checkers see it through ``__getattr__``, as ``Any``: a module type does not call).
_SUBMODULES = ("diagnose", "registry")


def __dir__() -> list[str]:
    return sorted(__all__)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"hyperlab.{name}")
    raise AttributeError(f"module 'hyperlab' has no attribute {name!r}")
