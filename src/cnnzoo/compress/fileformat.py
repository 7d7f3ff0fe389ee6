"""The compressed model file (``.cnnzc``), version 1.

Deep Compression's storage (Han, Mao & Dally, ICLR 2016, §2–4): for every pruned and
quantized layer the codebook once, then the cluster index of every stored entry and the
relative index (gap) of every sparse position, both Huffman-coded; everything else —
biases, normalisation parameters and buffers — raw. All integers are little-endian.

::

    magic      8 bytes  b"\\x89CNZDC\\r\\n"
    version    u16
    header     u32 length, zlib-deflated UTF-8 JSON, u32 CRC-32 (of the deflated bytes)
               (model, model_options, num_classes, in_chans, input_size, dataset,
                classes, compression options, and the name and kind of every section)
    sections   one per state_dict entry, in order:
               u8 kind (0 raw, 1 shared), u64 payload length, payload, u32 CRC-32

    raw payload     u8 dtype, u8 ndim, ndim × u32 shape, the tensor's bytes
    shared payload  u8 ndim, ndim × u32 shape, u8 codebook dtype, u16 k, k codebook values,
                    u8 gap bits g, u64 entries,
                    code lengths of the k + 1 cluster-index symbols (symbol k = filler zero),
                    u16 m, code lengths of the gaps 0 .. m-1 (code lengths: 4 bits each,
                    two to a byte, the canonical Huffman code follows from them),
                    u64 bits + packed Huffman stream of the cluster indices,
                    u64 bits + packed Huffman stream of the gaps

The file ends right after the last section. The file is written to a temporary name and
renamed into place, so a failed write leaves nothing behind and never a partial file.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .._files import write_atomic
from . import huffman
from .sparse import SharedLayer, from_relative, to_relative

__all__ = [
    "MAGIC",
    "VERSION",
    "SUFFIX",
    "CompressedFileError",
    "SectionStats",
    "write_compressed",
    "read_compressed",
    "is_compressed_file",
    "load_compressed",
]

MAGIC = b"\x89CNZDC\r\n"
VERSION = 1
SUFFIX = ".cnnzc"
KIND_RAW, KIND_SHARED = 0, 1
_DTYPES = [torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.int64,
           torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool]
_REQUIRED = ("model", "model_options", "num_classes", "in_chans", "input_size", "sections")


class CompressedFileError(ValueError):
    """A file that is not a valid compressed model: wrong magic or version, truncated,
    corrupted (checksum), or inconsistent with the model it names."""


@dataclass(frozen=True)
class SectionStats:
    """What one section costs on disk (for the compression report)."""

    name: str
    kind: str  # "shared" or "raw"
    bytes: int  # the whole section: framing, payload and checksum
    entries: int = 0  # stored entries, fillers included
    fillers: int = 0
    clusters: int = 0
    gap_width: int = 0  # g, the relative index's bits
    index_stream_bits: int = 0  # the Huffman-coded cluster indices
    gap_stream_bits: int = 0  # the Huffman-coded relative indices


# -- writing -----------------------------------------------------------------------------
def _shape_bytes(shape) -> bytes:
    return struct.pack(f"<B{len(shape)}I", len(shape), *shape)


def _nibbles(lengths: np.ndarray) -> bytes:
    """Code lengths (0..15) two to a byte."""
    padded = np.append(lengths, np.zeros(len(lengths) % 2, np.uint8)).astype(np.uint8)
    return ((padded[0::2] << 4) | padded[1::2]).tobytes()


def _encode_raw(tensor: Tensor, float16: bool) -> bytes:
    t = tensor.detach().cpu().contiguous()
    if float16 and t.is_floating_point():
        t = t.half()
    if t.dtype not in _DTYPES:
        raise TypeError(f"cannot store a tensor of dtype {t.dtype}")
    data = t.reshape(-1).view(torch.uint8).numpy().tobytes()
    return struct.pack("<B", _DTYPES.index(t.dtype)) + _shape_bytes(t.shape) + data


def _encode_shared(layer: SharedLayer, gap_bits: int | None, float16: bool) -> tuple[bytes, dict]:
    """A shared layer's payload with ``gap_bits``-bit relative indices; ``None`` tries every
    width from 1 to 12 bits and keeps the smallest payload."""
    if gap_bits is None:
        return min((_encode_shared(layer, g, float16) for g in range(1, 13)), key=lambda pe: len(pe[0]))
    k = len(layer.codebook)
    gaps, filler = to_relative(layer.positions, gap_bits)
    symbols = np.full(len(gaps), k, dtype=np.int64)
    symbols[~filler] = layer.labels
    index_lengths = huffman.code_lengths(np.bincount(symbols, minlength=k + 1))
    gap_lengths = huffman.code_lengths(np.bincount(gaps)) if len(gaps) else np.zeros(0, np.uint8)
    index_stream, index_nbits = huffman.encode(symbols, index_lengths)
    gap_stream, gap_nbits = huffman.encode(gaps, gap_lengths)
    book = layer.codebook.astype(np.float16 if float16 else np.float32)
    payload = b"".join([
        _shape_bytes(layer.shape),
        struct.pack("<BH", _DTYPES.index(torch.float16 if float16 else torch.float32), k),
        book.tobytes(),
        struct.pack("<BQ", gap_bits, len(gaps)),
        _nibbles(index_lengths),
        struct.pack("<H", len(gap_lengths)),
        _nibbles(gap_lengths),
        struct.pack("<Q", index_nbits), index_stream,
        struct.pack("<Q", gap_nbits), gap_stream,
    ])
    stats = dict(entries=len(gaps), fillers=int(filler.sum()), clusters=k, gap_width=gap_bits,
                 index_stream_bits=index_nbits, gap_stream_bits=gap_nbits)
    return payload, stats


def write_compressed(path, header: dict, tensors: dict[str, SharedLayer | Tensor], *,
                     gap_bits: dict[str, int] | None = None, float16: bool = False) -> list[SectionStats]:
    """Write ``tensors`` (a model's state_dict with its compressed layers' weights as
    :class:`SharedLayer`) atomically to ``path``; ``gap_bits`` gives each shared
    tensor's relative-index width (``None``: the width that makes the smallest section).
    ``float16`` stores codebooks and raw floating tensors in half precision. Returns each
    section's size."""
    gap_bits = gap_bits or {}
    header = dict(header)
    header["sections"] = [[name, "shared" if isinstance(t, SharedLayer) else "raw"]
                          for name, t in tensors.items()]
    # The header is metadata, not weights: deflated, it costs a third of its JSON.
    head = zlib.compress(json.dumps(header, separators=(",", ":")).encode(), 9)
    parts = [MAGIC, struct.pack("<HI", VERSION, len(head)), head, struct.pack("<I", zlib.crc32(head))]
    stats = []
    for name, t in tensors.items():
        if isinstance(t, SharedLayer):
            if name not in gap_bits:
                raise ValueError(f"no relative-index width (gap bits) given for {name}")
            payload, extra = _encode_shared(t, gap_bits[name], float16)
            kind = KIND_SHARED
        else:
            payload, extra, kind = _encode_raw(t, float16), {}, KIND_RAW
        parts += [struct.pack("<BQ", kind, len(payload)), payload, struct.pack("<I", zlib.crc32(payload))]
        stats.append(SectionStats(name, "shared" if kind else "raw", 13 + len(payload), **extra))
    write_atomic(path, b"".join(parts))
    return stats


# -- reading -----------------------------------------------------------------------------
class _Reader:
    """Bounds-checked reads; errors say where in the file and what was expected."""

    def __init__(self, data: bytes, path, where: str):
        self.data, self.pos, self.path, self.where = memoryview(data), 0, path, where

    def fail(self, message: str) -> CompressedFileError:
        return CompressedFileError(f"{self.path}: {self.where}: {message}")

    def take(self, n: int, what: str) -> memoryview:
        left = len(self.data) - self.pos
        if n > left:
            raise self.fail(f"truncated: {what} needs {n:,} bytes but only {left:,} remain")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str, what: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))

    def shape(self) -> tuple[int, ...]:
        (ndim,) = self.unpack("B", "the number of dimensions")
        return self.unpack(f"{ndim}I", "the shape")

    def nibbles(self, n: int, what: str) -> np.ndarray:
        packed = np.frombuffer(self.take((n + 1) // 2, what), np.uint8)
        return np.stack([packed >> 4, packed & 15], 1).ravel()[:n]

    def dtype(self, what: str) -> torch.dtype:
        (code,) = self.unpack("B", what)
        if code >= len(_DTYPES):
            raise self.fail(f"unknown dtype code {code} in {what}")
        return _DTYPES[code]

    def done(self) -> None:
        if self.pos != len(self.data):
            raise self.fail(f"{len(self.data) - self.pos:,} unexpected bytes after the payload")


def _decode_raw(r: _Reader) -> Tensor:
    dtype = r.dtype("the tensor's dtype")
    shape = r.shape()
    numel = int(np.prod(shape)) if shape else 1
    data = r.take(numel * torch.empty(0, dtype=dtype).element_size(), f"a {dtype} tensor of shape {list(shape)}")
    r.done()
    return torch.frombuffer(bytearray(data), dtype=torch.uint8).view(dtype).reshape(shape).clone() \
        if numel else torch.zeros(shape, dtype=dtype)


def _decode_shared(r: _Reader) -> Tensor:
    shape = r.shape()
    dtype = r.dtype("the codebook's dtype")
    (k,) = r.unpack("H", "the codebook size")
    np_dtype = np.float16 if dtype == torch.float16 else np.float32
    book = np.frombuffer(r.take(k * np.dtype(np_dtype).itemsize, f"a codebook of {k} entries"), np_dtype)
    gap_bits, entries = r.unpack("BQ", "the gap width and entry count")
    index_lengths = r.nibbles(k + 1, "the cluster-index code table")
    (m,) = r.unpack("H", "the gap alphabet size")
    gap_lengths = r.nibbles(m, "the gap code table")
    streams = []
    for what in ("cluster-index", "gap"):
        (nbits,) = r.unpack("Q", f"the {what} stream length")
        streams.append((bytes(r.take((nbits + 7) // 8, f"the {what} stream of {nbits:,} bits")), nbits))
    r.done()
    try:
        symbols = huffman.decode(*streams[0], entries, index_lengths)
        gaps = huffman.decode(*streams[1], entries, gap_lengths)
    except huffman.HuffmanError as err:
        raise r.fail(f"corrupted Huffman stream: {err}") from None
    if (gaps >= 1 << gap_bits).any():
        raise r.fail(f"a gap exceeds the {gap_bits}-bit relative index")
    positions = from_relative(gaps)
    numel = int(np.prod(shape))
    if len(positions) and positions[-1] >= numel:
        raise r.fail(f"relative indices run to position {positions[-1]:,}, past the {numel:,} weights")
    dense = np.zeros(numel, dtype=np.float32)
    dense[positions] = np.append(book.astype(np.float32), np.float32(0))[symbols]
    return torch.from_numpy(dense.reshape(shape))


def read_compressed(path) -> tuple[dict, dict[str, Tensor]]:
    """The header and the decoded state_dict of a compressed file.

    Raises :class:`CompressedFileError` naming the part of the file (header or section)
    that is truncated, corrupted or inconsistent, and what was expected there.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no compressed model at {path}")
    data = path.read_bytes()
    if not data:
        raise CompressedFileError(f"{path} is empty (0 bytes); expected a cnnzoo compressed model, "
                                  f"which starts with the magic bytes {MAGIC!r}")
    # Only a file that begins like the magic is a truncated one; any other start is another format.
    if not data.startswith(MAGIC) and not MAGIC.startswith(data):
        raise CompressedFileError(f"{path} is not a cnnzoo compressed model (its first bytes are "
                                  f"{data[:len(MAGIC)]!r}, expected the magic bytes {MAGIC!r})")
    r = _Reader(data, path, "file start")
    r.take(len(MAGIC), "the magic bytes")
    r.where = "header"
    version, head_len = r.unpack("HI", "the version and header length")
    if version != VERSION:
        raise r.fail(f"format version {version}; this cnnzoo reads version {VERSION}")
    head = bytes(r.take(head_len, "the header"))
    if (zlib.crc32(head),) != r.unpack("I", "the header checksum"):
        raise r.fail("corrupted (CRC-32 mismatch)")
    try:
        header = json.loads(zlib.decompress(head))
    except (ValueError, zlib.error) as err:
        raise r.fail(f"not valid JSON ({err})") from None
    missing = [key for key in _REQUIRED if key not in header]
    if missing:
        raise r.fail(f"missing {', '.join(missing)}")
    sections = header["sections"]
    state = {}
    for i, (name, kind) in enumerate(sections):
        r.where = f"section {i + 1} of {len(sections)} ({name!r})"
        code, length = r.unpack("BQ", "the section kind and length")
        if code != (KIND_SHARED if kind == "shared" else KIND_RAW):
            raise r.fail(f"section kind {code}; the header says {kind!r}")
        payload = bytes(r.take(length, "the payload"))
        if (zlib.crc32(payload),) != r.unpack("I", "the section checksum"):
            raise r.fail("corrupted (CRC-32 mismatch)")
        sub = _Reader(payload, path, r.where)
        state[name] = _decode_shared(sub) if kind == "shared" else _decode_raw(sub)
    r.where = "end of file"
    if r.pos != len(data):
        raise r.fail(f"{len(data) - r.pos:,} unexpected bytes after the last section")
    return header, state


def is_compressed_file(path) -> bool:
    """Whether ``path`` is a file that starts with the compressed format's magic bytes."""
    try:
        with open(path, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except (OSError, TypeError):
        return False


def load_compressed(path, *, device="cpu"):
    """Rebuild the dense model a compressed file holds: ``(model, meta)``, the model in
    eval mode, its weights exactly the compressed model's, ``meta`` as
    :func:`cnnzoo.train.checkpoint.load_model` gives it (plus ``compression``)."""
    from ..registry import create_model
    from ..train.checkpoint import check_meta, error_summary

    header, state = read_compressed(path)
    try:
        check_meta(header, path)
    except ValueError as err:
        raise CompressedFileError(str(err)) from None
    try:
        options = {"num_classes": header["num_classes"], "in_chans": header["in_chans"],
                   **header["model_options"]}
        model = create_model(header["model"], **options)
    except (ValueError, TypeError) as err:
        raise CompressedFileError(f"{path}: cannot rebuild model {header['model']!r}: {err}") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise CompressedFileError(f"{path}: the tensors do not fit {header['model']!r}: {error_summary(err)}") from None
    meta = {key: value for key, value in header.items() if key != "sections"}
    meta["input_size"] = tuple(meta["input_size"])
    meta.setdefault("dataset", (header.get("data_config") or {}).get("dataset"))
    meta.setdefault("classes", (header.get("data_config") or {}).get("classes"))
    meta["compression"] = dict(header.get("compression") or {}, path=str(path),
                               file_bytes=os.path.getsize(path))
    model.model_options = dict(header["model_options"])
    if header.get("data_config"):
        model.data_config = header["data_config"]
    return model.to(device).eval(), meta
