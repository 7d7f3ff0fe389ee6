"""Relative indices: the sparse positions of a pruned layer as bounded gaps.

Deep Compression (Han, Mao & Dally, ICLR 2016, §2 and Figure 2) stores a pruned weight
matrix as its non-zero values and, for each, the index difference to the previous one
instead of the absolute position, in ``g`` bits (8 for convolutional layers, 5 for
fully-connected ones). When a difference exceeds what ``g`` bits can hold, a *filler zero*
is inserted: an entry at the largest reachable position whose value is zero.

Here an entry's gap is the number of zero weights skipped before it (the flattened,
row-major weight tensor; the first entry counts from position 0), so a gap lies in
``0 .. 2**g - 1`` and each entry advances the position by ``gap + 1``. A run of ``d``
zeros becomes ``d // 2**g`` fillers of gap ``2**g - 1`` followed by the real entry with
gap ``d % 2**g``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["to_relative", "from_relative", "SharedLayer"]


def to_relative(positions, gap_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Relative indices of sorted flat ``positions`` with ``gap_bits``-bit gaps.

    Returns ``(gaps, filler)``: one gap per stored entry and a boolean array marking the
    filler zeros; the real entries appear in the order of ``positions``.
    """
    if not 1 <= gap_bits <= 16:
        raise ValueError(f"gap_bits must lie in 1..16, got {gap_bits}")
    positions = np.asarray(positions, dtype=np.int64).ravel()
    if len(positions) and (positions[0] < 0 or (np.diff(positions) <= 0).any()):
        raise ValueError("positions must be non-negative and strictly increasing")
    span = 1 << gap_bits
    skipped = np.diff(positions, prepend=-1) - 1
    fillers = skipped // span
    owner = np.repeat(np.arange(len(positions)), fillers + 1)
    rank = np.arange(len(owner)) - np.repeat(np.cumsum(fillers + 1) - (fillers + 1), fillers + 1)
    filler = rank < fillers[owner]
    gaps = np.where(filler, span - 1, skipped[owner] - fillers[owner] * span)
    return gaps, filler


def from_relative(gaps) -> np.ndarray:
    """Flat positions of the stored entries (fillers included) from their gaps."""
    gaps = np.asarray(gaps, dtype=np.int64).ravel()
    return np.cumsum(gaps + 1) - 1


@dataclass(frozen=True)
class SharedLayer:
    """A pruned and quantized weight tensor as Deep Compression stores it: the shape, the
    layer's codebook of shared weights, the sorted flat positions of the surviving weights
    and each one's cluster index into the codebook."""

    shape: tuple[int, ...]
    codebook: np.ndarray  # float32, one entry per cluster
    positions: np.ndarray  # int64, strictly increasing flat positions
    labels: np.ndarray  # int64, 0 .. len(codebook) - 1

    def dense(self) -> np.ndarray:
        out = np.zeros(int(np.prod(self.shape)), dtype=np.float32)
        out[self.positions] = self.codebook[self.labels]
        return out.reshape(self.shape)
