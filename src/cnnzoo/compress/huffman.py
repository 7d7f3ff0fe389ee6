"""Canonical Huffman coding of symbol streams, vectorised with numpy.

Deep Compression (Han, Mao & Dally, ICLR 2016, §4 and Figure 5) Huffman-codes the two
streams a pruned, quantized layer leaves: the cluster index of every surviving weight and
the relative index (gap) of every sparse position. Both distributions are far from uniform,
and the paper reports that Huffman coding them saves 20–30% of the storage.

A *canonical* code is fully described by each symbol's code length, so the file stores one
byte per symbol of the alphabet and nothing else. Code lengths are capped at
:data:`MAX_CODE_LENGTH` bits (flattening the counts, as zlib does, in the rare case a
Huffman tree is deeper), which lets the decoder work by table lookup: it reads the
``MAX_CODE_LENGTH`` bits starting at every bit position in one numpy pass, maps them to
(symbol, length) through a ``2**MAX_CODE_LENGTH`` table, and then only has to follow the
chain of code starts.
"""

from __future__ import annotations

import heapq

import numpy as np

__all__ = [
    "MAX_CODE_LENGTH",
    "HuffmanError",
    "code_lengths",
    "canonical_codes",
    "encode",
    "decode",
]

MAX_CODE_LENGTH = 15  # code lengths fit 4 bits in the file
_CHUNK = 1 << 20  # symbols (encoding) or bits (decoding) handled per numpy pass


class HuffmanError(ValueError):
    """A bit stream or code table that cannot be decoded."""


def _tree_lengths(counts: list[int]) -> list[int]:
    """Depth of every leaf of the Huffman tree over ``counts`` (all positive, ≥ 2 of them).
    Ties are broken by node number, so the code is deterministic."""
    n = len(counts)
    heap = [(c, i) for i, c in enumerate(counts)]
    heapq.heapify(heap)
    parent = [0] * (2 * n - 1)
    node = n
    while len(heap) > 1:
        ca, a = heapq.heappop(heap)
        cb, b = heapq.heappop(heap)
        parent[a] = parent[b] = node
        heapq.heappush(heap, (ca + cb, node))
        node += 1
    depth = [0] * (2 * n - 1)  # the root, node 2n-2, has depth 0
    for i in range(2 * n - 3, -1, -1):
        depth[i] = depth[parent[i]] + 1
    return depth[:n]


def code_lengths(counts, max_length: int = MAX_CODE_LENGTH) -> np.ndarray:
    """Huffman code length (bits) of every symbol given its count; 0 for absent symbols.

    A lone symbol gets a 1-bit code. Trees deeper than ``max_length`` are avoided by
    halving the counts (keeping them ≥ 1) until the code fits; with equal counts the depth
    is ⌈log2 n⌉, so this always ends for alphabets of up to ``2**max_length`` symbols.
    """
    counts = np.asarray(counts, dtype=np.int64)
    if counts.ndim != 1 or (counts < 0).any():
        raise ValueError("code_lengths expects a 1-D array of non-negative symbol counts")
    if len(counts) > 1 << max_length:
        raise ValueError(f"an alphabet of {len(counts)} symbols does not fit {max_length}-bit codes")
    lengths = np.zeros(len(counts), dtype=np.uint8)
    used = np.flatnonzero(counts)
    if len(used) == 1:
        lengths[used] = 1
    elif len(used) > 1:
        weights = counts[used]
        while True:
            depth = _tree_lengths(weights.tolist())
            if max(depth) <= max_length:
                break
            weights = (weights + 1) // 2
        lengths[used] = depth
    return lengths


def canonical_codes(lengths) -> np.ndarray:
    """The canonical Huffman code of every symbol from the code lengths alone: symbols
    sorted by (length, symbol) get consecutive codes, shifted left when the length grows."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if (lengths < 0).any() or (lengths > MAX_CODE_LENGTH).any():
        raise HuffmanError(f"code lengths must lie in 0..{MAX_CODE_LENGTH}, got {lengths.max()}")
    codes = np.zeros(len(lengths), dtype=np.int64)
    used = np.flatnonzero(lengths)
    if len(used) == 0:
        return codes
    # Kraft's inequality: a prefix code with these lengths exists only if Σ 2^-l ≤ 1.
    if sum(1 << (MAX_CODE_LENGTH - int(l)) for l in lengths[used]) > 1 << MAX_CODE_LENGTH:
        raise HuffmanError("code lengths violate Kraft's inequality: not a prefix code")
    order = used[np.lexsort((used, lengths[used]))]
    code, prev = 0, int(lengths[order[0]])
    for rank, sym in enumerate(order.tolist()):
        length = int(lengths[sym])
        if rank:
            code = (code + 1) << (length - prev)
        codes[sym] = code
        prev = length
    return codes


def encode(symbols, lengths) -> tuple[bytes, int]:
    """Huffman-code a stream of symbols; returns the packed bytes (most significant bit
    first, the last byte padded with zeros) and the number of meaningful bits."""
    symbols = np.asarray(symbols, dtype=np.int64).ravel()
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(symbols) and (symbols.min() < 0 or symbols.max() >= len(lengths)):
        raise ValueError(f"symbols must lie in 0..{len(lengths) - 1}")
    codes = canonical_codes(lengths)
    if len(symbols) and (lengths[symbols] == 0).any():
        missing = symbols[lengths[symbols] == 0][0]
        raise ValueError(f"symbol {missing} has no Huffman code (its count was zero)")
    chunks = []
    for start in range(0, len(symbols), _CHUNK):
        sym = symbols[start:start + _CHUNK]
        sym_len, sym_code = lengths[sym], codes[sym]
        owner = np.repeat(np.arange(len(sym)), sym_len)
        offset = np.arange(len(owner)) - np.repeat(np.cumsum(sym_len) - sym_len, sym_len)
        chunks.append(((sym_code[owner] >> (sym_len[owner] - 1 - offset)) & 1).astype(np.uint8))
    bits = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.uint8)
    return np.packbits(bits).tobytes(), int(len(bits))


def _lookup_tables(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tables indexed by the next ``MAX_CODE_LENGTH`` bits: the symbol whose code starts
    those bits and that code's length (0 where no code matches)."""
    codes = canonical_codes(lengths)
    table_sym = np.zeros(1 << MAX_CODE_LENGTH, dtype=np.int64)
    table_len = np.zeros(1 << MAX_CODE_LENGTH, dtype=np.int64)
    for sym in np.flatnonzero(lengths).tolist():
        shift = MAX_CODE_LENGTH - int(lengths[sym])
        lo, hi = int(codes[sym]) << shift, (int(codes[sym]) + 1) << shift
        table_sym[lo:hi] = sym
        table_len[lo:hi] = lengths[sym]
    return table_sym, table_len


def decode(data: bytes, nbits: int, count: int, lengths) -> np.ndarray:
    """Decode ``count`` symbols from the first ``nbits`` bits of ``data``.

    Raises :class:`HuffmanError` when the bits do not form exactly ``count`` codewords of
    this code (a corrupted or truncated stream).
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    if count == 0:
        if nbits:
            raise HuffmanError(f"{nbits} bits were given for an empty stream")
        return np.zeros(0, dtype=np.int64)
    if nbits > 8 * len(data):
        raise HuffmanError(f"the stream should hold {nbits} bits but has only {8 * len(data)}")
    if not lengths.any():
        raise HuffmanError(f"{count} symbols to decode but the code table is empty")
    table_sym, table_len = _lookup_tables(lengths)
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))[:nbits].astype(np.int64)
    bits = np.concatenate([bits, np.zeros(MAX_CODE_LENGTH, dtype=np.int64)])
    pieces, pos, n = [], 0, 0
    for lo in range(0, nbits, _CHUNK):
        hi = min(lo + _CHUNK, nbits)
        if pos >= hi:
            continue
        peek = np.zeros(hi - lo, dtype=np.int64)
        for j in range(MAX_CODE_LENGTH):
            peek = (peek << 1) | bits[lo + j:hi + j]
        len_at, starts = table_len[peek].tolist(), []
        while pos < hi and n < count:  # follow the chain of code starts
            step = len_at[pos - lo]
            if step == 0:
                raise HuffmanError(f"bit {pos} starts no codeword of this code")
            starts.append(pos - lo)
            pos += step
            n += 1
        pieces.append(table_sym[peek[np.asarray(starts, dtype=np.int64)]])
        if n == count:
            break
    if n != count or pos != nbits:
        raise HuffmanError(
            f"the stream of {nbits} bits decodes to {n} symbols ending at bit {pos}; "
            f"expected {count} symbols ending exactly at bit {nbits}"
        )
    return np.concatenate(pieces)
