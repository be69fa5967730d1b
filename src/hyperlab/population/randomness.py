"""The global random streams a segment sees: seeded from the member that trains it and the
epoch it starts at, the same in a resumed run and in a replay.

A task should keep every random stream it uses in its state (its own ``torch.Generator``,
say). One that draws from the global streams instead (``torch.randperm`` without a generator,
``torch.nn.Dropout``, ``np.random``, ``random``) would otherwise see a stream that depends on
everything the process did before the segment, so a resumed run or a replay would take another
path. Each segment runs with the three global streams seeded by :func:`segment_seed` from the
seed of the member that trains it (so a member that has just copied another draws other
numbers than its donor) and the segment's first epoch; the streams the caller had are put back
afterwards (a GPU's as well, where CUDA is in use): :func:`hyperlab.randomness.seeded_globals`.
"""

from __future__ import annotations

import zlib

from hyperlab.randomness import seeded_globals


def segment_seed(member_seed: int, start: int) -> int:
    """The seed of the global streams for the segment that the member seeded ``member_seed``
    trains from epoch ``start``."""
    return zlib.crc32(f"segment:{int(member_seed)}:{int(start)}".encode()) % (2**31)


__all__ = ["seeded_globals", "segment_seed"]
