"""Networks that set their own hyperparameters while they train.

Usable alone inside any PyTorch training loop: nothing here imports the rest of hyperlab
except :mod:`hyperlab.errors`.
"""

from __future__ import annotations
