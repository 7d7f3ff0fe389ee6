"""A convolution's learnt filters as one picture, as the papers show them: AlexNet's 96
first-layer kernels of 11×11×3 in colour (Krizhevsky et al. 2012, Fig. 3), ZFNet's
(Zeiler & Fergus 2013, Fig. 6), LeNet-5's C3 with the kernels its connection table leaves
out drawn blank (LeCun et al. 1998, Table I).

A layer whose filters read three input channels (a first layer on colour images) is drawn
one colour tile per filter, each scaled from its own smallest to largest weight (the papers'
way); one whose filters read one channel (a first layer on grey images, a depthwise layer)
one grey tile per filter; any other one grey tile per filter and input channel (rows:
filters, columns: input channels). Grey tiles are scaled symmetrically about zero, per
filter, so that mid-grey is a zero weight.
A kernel that is zero throughout (no connection, or pruned whole) is left blank.
"""

from __future__ import annotations

import difflib
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .._checks import describe

__all__ = ["FilterPicture", "filter_picture"]

MAX_TILES = 64  # filters (rows) × input channels (columns) drawn at most: VGG's 512×512 is a wall
MAX_FILTERS = 256  # one tile per filter (a first layer): drawn at most
COLUMNS = 16  # one tile per filter: AlexNet's 96 in 6 rows of 16, as Fig. 3 shows its two GPUs' 48 each


@dataclass
class FilterPicture:
    """The filters of ``layer`` as an image (``pixels``: H×W×3 for colour tiles, H×W for grey,
    values in [0, 1], NaN where a tile is blank), laid out ``rows`` × ``cols``."""

    model: str
    layer: str
    kernel: tuple[int, int]
    filters: int  # of the layer (drawn: at most MAX_FILTERS one by one, MAX_TILES in a grid)
    in_channels: int  # per filter (per group for a grouped convolution)
    colour: bool
    rows: int
    cols: int
    blank: int  # tiles left blank: kernels that are zero throughout
    pixels: np.ndarray

    @property
    def title(self) -> str:
        kh, kw = self.kernel
        if self.in_channels in (1, 3):  # one tile per filter
            what, cut = f"{self.filters} filters of {kh}×{kw}×{self.in_channels}", self.filters > MAX_FILTERS
            drawn = f"{MAX_FILTERS}"
        else:
            what = f"{self.filters} filters × {self.in_channels} input channels of {kh}×{kw}"
            cut = max(self.filters, self.in_channels) > MAX_TILES
            drawn = f"{min(self.filters, MAX_TILES)} × {min(self.in_channels, MAX_TILES)}"
        return f"{self.model}: {self.layer}, {what}" + (f" (the first {drawn} drawn)" if cut else "")

    def save(self, path: str | os.PathLike) -> Path:
        """The picture as a PNG file, written atomically."""
        from .._files import write_atomic

        return write_atomic(path, self.png())

    def png(self) -> bytes:
        """The picture as PNG bytes (the HTML report embeds them)."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        height, width = self.pixels.shape[:2]
        inches = min(12 / width, 10 / height, 0.15)  # per pixel: at most 12 inches wide, 10 high
        fig = Figure(figsize=(max(width * inches, 3), height * inches + 0.6))
        FigureCanvasAgg(fig)
        ax = fig.subplots()
        ax.imshow(np.nan_to_num(self.pixels, nan=1.0), cmap=None if self.colour else "gray", vmin=0, vmax=1,
                  interpolation="nearest")  # blank tiles white, as the gaps
        ax.set_axis_off()
        ax.set_title(self.title, fontsize=9)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
        return buffer.getvalue()


def filter_picture(model: nn.Module, layer: str | None = None) -> FilterPicture:
    """The filters of ``layer`` (a dotted module name; default: the first convolution) of
    ``model`` as a :class:`FilterPicture`; ``.save(path)`` writes it as a PNG."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"filter_picture expects an nn.Module, got {describe(model)}")
    convs = {name: m for name, m in model.named_modules() if _kernels(m) is not None}
    if not convs:
        raise ValueError(f"{_name(model)} has no convolution whose filters could be drawn")
    if layer is None:
        layer = next(iter(convs))
    elif layer not in convs:
        close = difflib.get_close_matches(str(layer), list(convs), n=3, cutoff=0.5)
        hint = f"closest: {', '.join(close)}; " if close else ""
        raise ValueError(f"{_name(model)} has no convolution {layer!r}; {hint}its convolutions are "
                         f"{', '.join(list(convs)[:8])}{' and more' if len(convs) > 8 else ''}")
    weight = _kernels(convs[layer]).detach().float().cpu()
    filters, channels, kh, kw = weight.shape
    colour, per_filter = channels == 3, channels in (1, 3)  # one tile per filter, in rows of 16
    shown = weight[:MAX_FILTERS] if per_filter else weight[:MAX_TILES, :MAX_TILES]
    zero = shown.flatten(2).abs().amax(2) == 0  # filters × channels
    tiles = _colour_tiles(shown) if colour else _grey_tiles(shown)
    if per_filter:
        cols, blank = min(filters, COLUMNS), zero.all(1)
    else:
        cols, blank = min(channels, MAX_TILES), zero.flatten()
    tiles[blank.numpy()] = float("nan")
    rows = math.ceil(len(tiles) / cols)
    return FilterPicture(model=_name(model), layer=layer, kernel=(kh, kw), filters=filters, in_channels=channels,
                         colour=colour, rows=rows, cols=cols, blank=int(blank.sum()), pixels=_mosaic(tiles, rows, cols))


def _kernels(module: nn.Module) -> torch.Tensor | None:
    """A 2-D convolution's out×in×kh×kw weight (LeNet-5's C3 as the full layer it stands for)."""
    if callable(getattr(module, "dense_weight", None)):
        return module.dense_weight()
    if isinstance(module, nn.Conv2d):
        return module.weight
    return None


def _colour_tiles(weight: torch.Tensor) -> np.ndarray:
    """filters × kh × kw × 3, each filter scaled from its own smallest to largest weight."""
    flat = weight.flatten(1)
    low, high = flat.amin(1)[:, None, None, None], flat.amax(1)[:, None, None, None]
    scaled = (weight - low) / (high - low).clamp_min(1e-12)
    return scaled.permute(0, 2, 3, 1).numpy()


def _grey_tiles(weight: torch.Tensor) -> np.ndarray:
    """(filters·channels) × kh × kw, each filter's row scaled about zero to [0, 1]."""
    reach = weight.flatten(1).abs().amax(1).clamp_min(1e-12)[:, None, None, None]
    return (0.5 + 0.5 * weight / reach).flatten(0, 1).numpy()


def _mosaic(tiles: np.ndarray, rows: int, cols: int, gap: int = 1) -> np.ndarray:
    """The tiles in a rows × cols grid, ``gap`` pixels of white between them."""
    n, h, w = tiles.shape[:3]
    out = np.ones((rows * (h + gap) - gap, cols * (w + gap) - gap, *tiles.shape[3:]))
    for i in range(n):
        r, c = divmod(i, cols)
        out[r * (h + gap): r * (h + gap) + h, c * (w + gap): c * (w + gap) + w] = tiles[i]
    return out


def _name(model: nn.Module) -> str:
    name = getattr(model, "name", None)
    return name if isinstance(name, str) else type(model).__name__
