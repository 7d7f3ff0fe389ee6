"""What a network has learnt and what it sees, as pictures.

:func:`filter_picture`: a convolution's learnt filters, as the papers show them: AlexNet's 96
first-layer kernels of 11×11×3 in colour (Krizhevsky et al. 2012, Fig. 3), ZFNet's (Zeiler &
Fergus 2013, Fig. 6), LeNet-5's C3 with the kernels its connection table leaves out drawn
blank (LeCun et al. 1998, Table I). A layer whose filters read three input channels (a first
layer on colour images) is drawn one colour tile per filter, each scaled from its own smallest
to largest weight (the papers' way); one whose filters read one channel (a first layer on grey
images, a depthwise layer) one grey tile per filter; any other one grey tile per filter and
input channel (rows: filters, columns: input channels). Grey tiles are scaled symmetrically
about zero, per filter, so that mid-grey is a zero weight. A kernel that is zero throughout
(no connection, or pruned whole) is left blank.

:func:`feature_picture`: the feature maps a layer computes for one image, one grey tile per
channel, each scaled from its own smallest to largest value (black: the map's least response).
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

__all__ = ["Picture", "FilterPicture", "filter_picture", "feature_picture"]

MAX_TILES = 64  # filters (rows) × input channels (columns) drawn at most: VGG's 512×512 is a wall
MAX_FILTERS = 256  # one tile per filter (a first layer): drawn at most
COLUMNS = 16  # one tile per filter: AlexNet's 96 in 6 rows of 16, as Fig. 3 shows its two GPUs' 48 each


@dataclass
class Picture:
    """Tiles laid out ``rows`` × ``cols`` as one image: ``pixels`` H×W×3 (colour) or H×W (grey),
    values in [0, 1], NaN where a tile is blank; ``title`` says what it shows, of which
    ``layer`` of ``model``."""

    title: str
    pixels: np.ndarray
    rows: int
    cols: int
    colour: bool
    model: str = ""
    layer: str = ""

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


@dataclass
class FilterPicture(Picture):
    """:class:`Picture` of the filters of ``layer``."""

    kernel: tuple[int, int] = (0, 0)
    filters: int = 0  # of the layer (drawn: at most MAX_FILTERS one by one, MAX_TILES in a grid)
    in_channels: int = 0  # per filter (per group for a grouped convolution)
    blank: int = 0  # tiles left blank: kernels that are zero throughout


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
    if per_filter:
        what, drawn = f"{filters} filters of {kh}×{kw}×{channels}", filters > MAX_FILTERS and f"{MAX_FILTERS}"
    else:
        what = f"{filters} filters × {channels} input channels of {kh}×{kw}"
        drawn = max(filters, channels) > MAX_TILES and f"{min(filters, MAX_TILES)} × {min(channels, MAX_TILES)}"
    title = f"{_name(model)}: {layer}, {what}" + (f" (the first {drawn} drawn)" if drawn else "")
    return FilterPicture(title=title, pixels=_mosaic(tiles, rows, cols), rows=rows, cols=cols, colour=colour,
                         model=_name(model), layer=layer, kernel=(kh, kw), filters=filters, in_channels=channels,
                         blank=int(blank.sum()))


def feature_picture(model: nn.Module, x: torch.Tensor, layer: str | None = None, *,
                    image: str = "the image") -> Picture:
    """The feature maps ``layer`` (a dotted module name; default: the first convolution) of
    ``model`` computes for one input ``x`` (C×H×W or 1×C×H×W, preprocessed as the model takes
    it: :func:`cnnzoo.train.preprocess`), in eval mode, at most :data:`MAX_FILTERS` of them;
    ``image`` names the input in the title."""
    from .._device import eval_mode

    if not isinstance(model, nn.Module):
        raise TypeError(f"feature_picture expects an nn.Module, got {describe(model)}")
    if not isinstance(x, torch.Tensor) or x.dim() not in (3, 4) or (x.dim() == 4 and len(x) != 1):
        raise ValueError(f"expected one image as a C×H×W (or 1×C×H×W) tensor, got {describe(x)}")
    modules = dict(model.named_modules())
    layer = layer or next((name for name, m in modules.items() if _kernels(m) is not None), None)
    if layer not in modules or not layer:
        close = difflib.get_close_matches(str(layer), [n for n in modules if n], n=3, cutoff=0.5)
        raise ValueError(f"{_name(model)} has no layer {layer!r}" + (f"; closest: {', '.join(close)}" if close else ""))
    seen = []
    handle = modules[layer].register_forward_hook(lambda m, args, out: seen.append(out))
    try:
        with torch.no_grad(), eval_mode(model):
            model(x if x.dim() == 4 else x[None])
    finally:
        handle.remove()
    maps = seen[0] if seen and isinstance(seen[0], torch.Tensor) else None
    if maps is None or maps.dim() != 4:
        raise ValueError(f"{_name(model)}: {layer} gives no feature maps (N×C×H×W) to draw"
                         + (f", but {tuple(maps.shape)}" if maps is not None else ""))
    maps = maps[0, :MAX_FILTERS].detach().float().cpu()
    flat = maps.flatten(1)
    low, high = flat.amin(1)[:, None, None], flat.amax(1)[:, None, None]
    tiles = ((maps - low) / (high - low).clamp_min(1e-12)).numpy()
    channels, h, w = seen[0].shape[1:]
    cols = min(channels, COLUMNS)
    rows = math.ceil(len(tiles) / cols)
    drawn = f" (the first {MAX_FILTERS} drawn)" if channels > MAX_FILTERS else ""
    return Picture(title=f"{_name(model)}: {layer} on {image}, {channels} maps of {h}×{w}{drawn}",
                   pixels=_mosaic(tiles, rows, cols), rows=rows, cols=cols, colour=False, model=_name(model),
                   layer=layer)


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
