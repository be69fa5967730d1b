"""Peers: other libraries' tuners as hyperlab tuners, run in the same harness.

Importing this package registers each peer's name in :data:`hyperlab.registry.TUNERS`; the
peer library itself is imported only when its tuner is built, so hyperlab and every other tuner
work without any peer installed, and a missing one is refused by name with its install command
(``pip install 'hyperlab[peers]'``); so is one installed in part or broken, when its tuner is
built (every module the peer reaches for is imported then, not at its first trial). :mod:`hyperlab.tuners.peers.base` holds the ask/tell
bridge and the space mapping they share; ``docs/peers.md`` says which peers ship, which are
left out and why.
"""

from __future__ import annotations

from hyperlab.tuners.peers import dehb as dehb  # registers dehb
from hyperlab.tuners.peers import hyperopt as hyperopt  # registers hyperopt-tpe
from hyperlab.tuners.peers import nevergrad as nevergrad  # registers nevergrad
from hyperlab.tuners.peers import smac as smac  # registers smac-rf
from hyperlab.tuners.peers import smac_fidelity as smac_fidelity  # registers smac-hyperband
from hyperlab.tuners.peers import syne as syne  # registers syne-bore, syne-rea
from hyperlab.tuners.peers import syne_fidelity as syne_fidelity  # registers syne-asha, syne-bohb
from hyperlab.tuners.peers.base import PeerSampler
from hyperlab.tuners.peers.dehb import DehbSampler
from hyperlab.tuners.peers.fidelity import MultiFidelityPeer
from hyperlab.tuners.peers.hyperopt import HyperoptSampler
from hyperlab.tuners.peers.nevergrad import NevergradSampler
from hyperlab.tuners.peers.smac import SmacSampler
from hyperlab.tuners.peers.smac_fidelity import SmacHyperbandSampler
from hyperlab.tuners.peers.syne import SyneSampler
from hyperlab.tuners.peers.syne_fidelity import SyneFidelitySampler

__all__ = [
    "DehbSampler",
    "HyperoptSampler",
    "MultiFidelityPeer",
    "NevergradSampler",
    "PeerSampler",
    "SmacHyperbandSampler",
    "SmacSampler",
    "SyneFidelitySampler",
    "SyneSampler",
]
