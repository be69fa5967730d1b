"""Networks that set their own hyperparameters while they train.

Usable alone inside any PyTorch training loop: nothing here imports the rest of hyperlab
except :mod:`hyperlab.errors`.
"""

from __future__ import annotations

from hyperlab.hypergrad.hd import LR_HISTORY_SIZE as LR_HISTORY_SIZE
from hyperlab.hypergrad.hd import SGDHD as SGDHD
from hyperlab.hypergrad.hd import SGDNHD as SGDNHD
from hyperlab.hypergrad.hd import AdamHD as AdamHD
from hyperlab.hypergrad.hd import HDOptimizer as HDOptimizer
from hyperlab.hypergrad.regularizers import ConcreteDropout as ConcreteDropout
from hyperlab.hypergrad.regularizers import InputNoise as InputNoise
from hyperlab.hypergrad.regularizers import Regularizer as Regularizer
from hyperlab.hypergrad.regularizers import WeightDecay as WeightDecay
from hyperlab.hypergrad.relax import Architecture as Architecture
from hyperlab.hypergrad.relax import ArchitectureSearch as ArchitectureSearch
from hyperlab.hypergrad.relax import MixedActivation as MixedActivation
from hyperlab.hypergrad.relax import RelaxedMLP as RelaxedMLP
from hyperlab.hypergrad.relax import SearchHistory as SearchHistory
from hyperlab.hypergrad.stack import HyperAdam as HyperAdam
from hyperlab.hypergrad.stack import HyperSGD as HyperSGD
from hyperlab.hypergrad.stack import Level as Level
from hyperlab.hypergrad.stack import StackedOptimizer as StackedOptimizer
from hyperlab.hypergrad.stack import StackFactory as StackFactory
from hyperlab.hypergrad.stack import stack as stack
from hyperlab.hypergrad.stn import SelfTuningMLP as SelfTuningMLP
from hyperlab.hypergrad.stn import STNHistory as STNHistory
from hyperlab.hypergrad.stn import STNTrainer as STNTrainer
from hyperlab.hypergrad.trainer import METHODS as METHODS
from hyperlab.hypergrad.trainer import HyperHistory as HyperHistory
from hyperlab.hypergrad.trainer import HyperTrainer as HyperTrainer
from hyperlab.hypergrad.valgrad import T1T2Result as T1T2Result
from hyperlab.hypergrad.valgrad import ift_hypergradient as ift_hypergradient
from hyperlab.hypergrad.valgrad import module_loss as module_loss
from hyperlab.hypergrad.valgrad import t1t2_hypergradient as t1t2_hypergradient

__all__ = [
    "LR_HISTORY_SIZE",
    "METHODS",
    "SGDHD",
    "SGDNHD",
    "AdamHD",
    "Architecture",
    "ArchitectureSearch",
    "ConcreteDropout",
    "HDOptimizer",
    "HyperAdam",
    "HyperHistory",
    "HyperSGD",
    "HyperTrainer",
    "InputNoise",
    "Level",
    "MixedActivation",
    "Regularizer",
    "RelaxedMLP",
    "STNHistory",
    "STNTrainer",
    "SearchHistory",
    "SelfTuningMLP",
    "StackFactory",
    "StackedOptimizer",
    "T1T2Result",
    "WeightDecay",
    "ift_hypergradient",
    "module_loss",
    "stack",
    "t1t2_hypergradient",
]
