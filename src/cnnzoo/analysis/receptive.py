"""Receptive field, effective stride and effective padding, over the real graph.

Each spatial axis of a tensor carries three numbers (Araujo, Norris & Sim, "Computing
Receptive Fields of Convolutional Neural Networks", Distill 2019, eqs. 2, 6 and 10):

- ``r``, the receptive field: the input pixels one output sees along the axis;
- ``j``, the effective stride (jump): input pixels between two neighbouring outputs;
- ``p``, the effective padding: input pixels by which the first output's field reaches
  before the input's first pixel.

A window of ``k`` taps with stride ``s``, padding ``pad`` and dilation ``d`` (a
convolution or a pooling) maps them as

    r_out = r_in + d·(k − 1)·j_in,    j_out = j_in·s,    p_out = p_in + pad·j_in,

so two 3×3 convolutions see 5×5 and three see 7×7. The first output's field is centred
on input pixel u = (r − 1)/2 − p.

Where branches meet (element-wise addition, concatenation) the output takes the largest
field over the branches; branches that differ in stride or in centre are not aligned on
one input grid, and a warning says so. An operand broadcast onto the others (a
per-channel scale such as squeeze-and-excitation's) is not a branch. Global or adaptive
pooling to one position, flatten, and linear layers see the whole input (``WHOLE``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from torch import Tensor

from .rules import ADAPTIVE_POOL, CONV, CONV_TRANSPOSE, POOL, Call, window_params

__all__ = ["Axis", "WHOLE", "Field", "initial", "window", "merge", "propagate"]


@dataclass(frozen=True)
class Axis:
    r: int  # receptive field
    j: int  # effective stride (jump)
    p: int  # effective padding

    @property
    def centre2(self) -> int:
        """Twice the input coordinate of the first output's centre (an integer)."""
        return self.r - 1 - 2 * self.p


WHOLE = "whole"
# A tuple of Axis per spatial axis; WHOLE; or None where the field is not known.
Field = Union[tuple, str, None]

# Operations that move pixels in ways the three numbers cannot follow.
_UNTRACED = {
    "getitem", "narrow", "select", "index_select", "gather", "roll", "flip",
    "pixel_shuffle", "pixel_unshuffle", "as_strided", "interpolate", "upsample",
    "upsample_nearest", "upsample_bilinear", "grid_sample",
} | CONV_TRANSPOSE


def initial(nd: int) -> tuple:
    """The field of the input itself: each pixel sees itself."""
    return tuple(Axis(1, 1, 0) for _ in range(nd))


def window(field: Field, kernel, stride, padding, dilation) -> Field:
    if not isinstance(field, tuple):
        return field
    return tuple(
        Axis(a.r + d * (k - 1) * a.j, a.j * s, a.p + pad * a.j)
        for a, k, s, pad, d in zip(field, kernel, stride, padding, dilation)
    )


def merge(fields: list[Field]) -> tuple[Field, str | None]:
    """The field where branches meet, and a warning if they are not aligned."""
    known = [f for f in fields if f is not None]
    if not known:
        return None, None
    if any(f == WHOLE for f in known):
        return WHOLE, None
    if len(known) == 1:
        return known[0], None
    out, warning = [], None
    for axes in zip(*known):
        jumps = sorted({a.j for a in axes})
        centres = sorted({a.centre2 / 2 for a in axes})
        if len(jumps) > 1 or len(centres) > 1:
            warning = (
                f"branches are not aligned (strides {', '.join(map(str, jumps))}; first "
                f"output centred on input pixel {', '.join(f'{c:g}' for c in centres)}); "
                "taking the largest receptive field"
            )
        out.append(max(axes, key=lambda a: (a.r, a.j)))
    return tuple(out), warning


def _trailing(t: Tensor, nd: int) -> tuple | None:
    return tuple(t.shape[-nd:]) if t.dim() > nd else None


def _adaptive(field: Field, n_in: tuple, n_out: tuple) -> tuple[Field, str | None]:
    if all(o == 1 for o in n_out):
        return WHOLE, None
    note = None
    axes = []
    for a, i, o in zip(field, n_in, n_out):
        if i % o == 0:
            k = s = i // o
        else:  # windows of varying size: the largest, at the average stride (rounded down)
            k, s = -(-i // o) + 1, i // o
            note = "adaptive pooling with uneven windows: receptive field approximate"
        axes.append(Axis(a.r + (k - 1) * a.j, a.j * s, a.p))
    return tuple(axes), note


def _slice(field: tuple, index, t: Tensor, nd: int) -> Field:
    """``x[..., a:b:s, c:d:t]``: a crop and a subsampling of the spatial axes (the option-A
    shortcut of the CIFAR ResNets, ``x[:, :, ::2, ::2]``). ``None`` for other indexing."""
    index = index if isinstance(index, tuple) else (index,)
    if any(i is Ellipsis for i in index):
        at = index.index(Ellipsis)
        index = index[:at] + (slice(None),) * (t.dim() - len(index) + 1) + index[at + 1:]
    if len(index) > t.dim() or not all(isinstance(i, slice) for i in index):
        return None
    index = index + (slice(None),) * (t.dim() - len(index))
    axes = []
    for a, sl, n in zip(field, index[-nd:], t.shape[-nd:]):
        start, _, step = sl.indices(int(n))
        axes.append(Axis(a.r, a.j * step, a.p - start * a.j))
    return tuple(axes)


def propagate(call: Call, fields: list[Field], nd: int) -> tuple[Field, str | None]:
    """The field of ``call``'s first output from its activation inputs' fields.
    Returns ``(field, note)``; the note says where the field is a warning or unknown."""
    name = call.name
    first = fields[0] if fields else None
    if name in CONV or name in POOL:
        return window(first, *window_params(call)), None
    if name in ADAPTIVE_POOL:
        if not isinstance(first, tuple):
            return first, None
        return _adaptive(first, _trailing(call.inputs[0], nd), _trailing(call.out, nd))
    if name == "pad" and isinstance(first, tuple):
        pad = list(call.arg(1, "pad"))
        lefts = [pad[2 * (nd - 1 - i)] if 2 * (nd - 1 - i) < len(pad) else 0 for i in range(nd)]
        return tuple(Axis(a.r, a.j, a.p + left * a.j) for a, left in zip(first, lefts)), None
    if name in ("linear", "matmul", "mm", "bmm", "addmm", "baddbmm"):
        return WHOLE, None
    if name == "getitem" and isinstance(first, tuple):
        sliced = _slice(first, call.arg(1, "idx"), call.inputs[0], nd)
        if sliced is not None:
            return sliced, None
    out_axes = _trailing(call.out, nd)
    branches = [f for t, f in zip(call.inputs, fields) if _trailing(t, nd) == out_axes]
    if branches:
        return merge(branches)
    if name in _UNTRACED:
        return None, f"receptive field not traced through {name}"
    return WHOLE, None  # flatten, reshape, reductions over the spatial axes
