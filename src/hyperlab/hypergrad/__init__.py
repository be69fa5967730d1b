"""Networks that set their own hyperparameters while they train.

Usable alone inside any PyTorch training loop: nothing here imports the rest of hyperlab
except :mod:`hyperlab.errors`.
"""

from __future__ import annotations

from hyperlab.hypergrad.hd import SGDHD as SGDHD
from hyperlab.hypergrad.hd import SGDNHD as SGDNHD
from hyperlab.hypergrad.hd import AdamHD as AdamHD
from hyperlab.hypergrad.hd import HDOptimizer as HDOptimizer
from hyperlab.hypergrad.stack import HyperAdam as HyperAdam
from hyperlab.hypergrad.stack import HyperSGD as HyperSGD
from hyperlab.hypergrad.stack import Level as Level
from hyperlab.hypergrad.stack import StackedOptimizer as StackedOptimizer
from hyperlab.hypergrad.stack import stack as stack
