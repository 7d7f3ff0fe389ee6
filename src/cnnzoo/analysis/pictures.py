"""What a network has learnt and what it sees, as pictures.

:func:`filter_picture`: a convolution's learnt filters, as the papers show them: AlexNet's 96
first-layer kernels of 11×11×3 in colour (Krizhevsky et al. 2012, Fig. 3), ZFNet's (Zeiler &
Fergus 2013, Fig. 6), LeNet-5's C3 with the kernels its connection table leaves out drawn
blank (LeCun et al. 1998, Table I). A first layer on colour images is drawn one colour tile
per filter, each scaled from its own smallest to largest weight (the papers' way); a layer
whose filters read one channel (a first layer on grey images, a depthwise layer) one grey
tile per filter; any other one grey tile per filter and input channel (rows: filters,
columns: input channels). Grey tiles are scaled symmetrically
about zero, per filter, so that mid-grey is a zero weight. A kernel that is zero throughout
(no connection, or pruned whole) is left blank, in the light blue of the gaps, which no grey
tile can take.

:func:`feature_picture`: the feature maps a layer computes for one image, one grey tile per
channel, each scaled from its own smallest to largest value (black: the map's least response;
a constant map mid-grey).
"""

from __future__ import annotations

import difflib
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .._checks import describe, positive_int, some
from .._figures import new_figure, png_bytes
from ..registry import display_name

__all__ = ["Picture", "FilterPicture", "filter_picture", "feature_picture"]

MAX_TILES = 64  # filters (rows) × input channels (columns) drawn at most: VGG's 512×512 is a wall
MAX_SINGLE = 256  # tiles drawn one per filter or per feature map, at most
COLUMNS = 16  # one tile per filter or map: AlexNet's 96 in 6 rows of 16, as Fig. 3 shows its GPUs' 48 each
BACKGROUND = (0.74, 0.83, 0.96)  # gaps and blank tiles: a blue no grey tile can take (white is a weight)


@dataclass
class Picture:
    """Tiles laid out ``rows`` × ``cols`` as one image: ``pixels`` H×W×3 (colour) or H×W (grey),
    values in [0, 1], NaN in the gaps and where a tile is blank; ``title`` says what it shows,
    of which ``layer`` of ``model``."""

    title: str
    pixels: np.ndarray
    rows: int
    cols: int
    colour: bool
    model: str = ""
    layer: str = ""

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """The picture as a PNG file, written atomically; an existing file is replaced only with
        ``overwrite`` (never weights or a run's records)."""
        from .._files import check_new, check_writable, write_atomic

        check_new([check_writable(path)], overwrite)
        return write_atomic(path, self.png())

    def png(self, dpi: int = 100) -> bytes:
        """The picture as PNG bytes (the HTML report embeds them): each pixel of the mosaic an
        integer number of image pixels (at most 15), so that every gap is as wide as the others."""
        dpi = positive_int(dpi, "dpi")
        rgb = self.pixels if self.colour else np.repeat(self.pixels[..., None], 3, axis=2)
        rgb = np.where(np.isnan(rgb).any(axis=2, keepdims=True), BACKGROUND, rgb)
        height, width = rgb.shape[:2]
        scale = max(1, min(1200 // width, 1000 // height, 15))
        rgb = rgb.repeat(scale, axis=0).repeat(scale, axis=1)
        title_px = 28
        fig_w = max(width * scale, 9 * len(self.title) + 20)  # 9 points: at most ~9 pixels a character
        fig_h = height * scale + title_px
        fig = new_figure(figsize=(fig_w / dpi, fig_h / dpi), dpi=dpi)
        ax = fig.add_axes(((1 - width * scale / fig_w) / 2, 0, width * scale / fig_w, height * scale / fig_h))
        ax.imshow(rgb, interpolation="none")  # the axes hold the image pixel for pixel
        ax.set_axis_off()
        fig.text(0.5, 1 - title_px / 2 / fig_h, self.title, ha="center", va="center", fontsize=9)
        return png_bytes(fig, dpi=dpi)


@dataclass
class FilterPicture(Picture):
    """:class:`Picture` of the filters of ``layer``."""

    kernel: tuple[int, int] = (0, 0)
    filters: int = 0  # of the layer (drawn: at most MAX_SINGLE one by one, MAX_TILES in a grid)
    in_channels: int = 0  # per filter (per group for a grouped convolution)
    blank: int = 0  # tiles left blank: kernels that are zero throughout


def filter_picture(model: nn.Module, layer: str | None = None) -> FilterPicture:
    """The filters of ``layer`` (a dotted module name; default: the first convolution) of
    ``model`` as a :class:`FilterPicture`; ``.save(path)`` writes it as a PNG."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"filter_picture expects an nn.Module, got {describe(model)}")
    convs = {name: m for name, m in model.named_modules() if _kernels(m) is not None}
    if not convs:
        raise ValueError(f"{display_name(model)} has no convolution whose filters could be drawn")
    layer = next(iter(convs)) if layer is None else _known(model, layer, convs, "convolution")
    conv = convs[layer]
    weight = _kernels(conv).detach().float().cpu()
    filters, channels, kh, kw = weight.shape
    # colour only for a layer that reads the model's colour input: 3 channels elsewhere are no RGB
    colour = channels == 3 == getattr(model, "in_chans", 3) and layer == next(iter(convs))
    single = colour or channels == 1  # one tile per filter, in rows of 16
    shown = weight[:MAX_SINGLE] if single else weight[:MAX_TILES, :MAX_TILES]
    zero = shown.flatten(2).abs().amax(2) == 0  # filters × channels
    if colour:
        tiles = _span(shown.flatten(1)).view_as(shown).permute(0, 2, 3, 1).numpy()
    else:  # per filter, symmetric about zero: mid-grey is a zero weight
        reach = shown.flatten(1).abs().amax(1).clamp_min(1e-12)[:, None, None, None]
        tiles = (0.5 + 0.5 * shown / reach).flatten(0, 1).numpy()  # a tile per filter and channel
    blank = zero.all(1) if single else zero.flatten()
    tiles[blank.numpy()] = float("nan")
    cols = min(filters, COLUMNS) if single else min(channels, MAX_TILES)
    rows = math.ceil(len(tiles) / cols)
    if single:
        what, cut = f"{_count(filters, 'filter')} of {kh}×{kw}×{channels}", filters > MAX_SINGLE and f"{MAX_SINGLE}"
    else:
        what = f"{_count(filters, 'filter')} × {_count(channels, 'input channel')} of {kh}×{kw}"
        cut = max(filters, channels) > MAX_TILES and f"{min(filters, MAX_TILES)} × {min(channels, MAX_TILES)}"
    groups = getattr(conv, "groups", 1)  # a depthwise layer's one channel per filter says it already
    notes = [f"the first {cut} drawn" if cut else "", f"{int(blank.sum())} blank: zero throughout" if blank.any() else "",
             f"{groups} groups of {_count(filters // groups, 'filter')}, each reading its group's channels"
             if 1 < groups < filters else ""]
    title = f"{display_name(model)}: {layer or '(the model)'}, {what}" + "".join(f"; {n}" for n in notes if n)
    return FilterPicture(title=title, pixels=_mosaic(tiles, rows, cols), rows=rows, cols=cols, colour=colour,
                         model=display_name(model), layer=layer, kernel=(kh, kw), filters=filters, in_channels=channels,
                         blank=int(blank.sum()))


def feature_picture(model: nn.Module, x: torch.Tensor, layer: str | None = None, *,
                    image: str = "the image") -> Picture:
    """The feature maps ``layer`` (a dotted module name; default: the first convolution) of
    ``model`` computes for one input ``x`` (C×H×W or 1×C×H×W, preprocessed as the model takes
    it: :func:`cnnzoo.preprocess`), in eval mode, at most :data:`MAX_SINGLE` of them, each
    scaled from its least to its greatest response (a constant map mid-grey); ``image`` names
    the input in the title. A module that runs more than once in a pass (a ResNet block's
    ReLU) is drawn at its last call, and the title says so."""
    from .._device import eval_mode, floating_dtype, module_device

    if not isinstance(model, nn.Module):
        raise TypeError(f"feature_picture expects an nn.Module, got {describe(model)}")
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"expected one image as a C×H×W tensor (cnnzoo.preprocess makes it), got {describe(x)}")
    if x.dim() not in (3, 4) or (x.dim() == 4 and len(x) != 1) or not x.is_floating_point():
        raise ValueError(f"expected one image as a floating-point C×H×W (or 1×C×H×W) tensor, got a {x.dtype} "
                         f"tensor of shape {tuple(x.shape)}")
    modules = {name: m for name, m in model.named_modules() if name}
    if layer is None:
        layer = next((name for name, m in modules.items() if _kernels(m) is not None), None)
        if layer is None:
            raise ValueError(f"{display_name(model)} has no convolution to draw by default; name a layer: "
                             f"{some(modules, 8)}")
    layer = _known(model, layer, modules, "layer")
    seen = []

    def keep(module, args, out):  # a copy: an in-place ReLU after it would change what is drawn
        seen.append(out.detach().clone() if isinstance(out, torch.Tensor) else out)

    handle = modules[layer].register_forward_hook(keep)
    try:
        with torch.no_grad(), eval_mode(model):
            model((x if x.dim() == 4 else x[None]).to(module_device(model), floating_dtype(model)))
    finally:
        handle.remove()
    if not seen:
        raise ValueError(f"{display_name(model)}: {layer} did not run in eval mode (an auxiliary head runs only in "
                         "training): choose another layer")
    maps = seen[-1]
    if not isinstance(maps, torch.Tensor) or maps.dim() != 4 or maps.shape[-2:] == (1, 1):
        found = f"a tensor of shape {tuple(maps.shape)}" if isinstance(maps, torch.Tensor) else describe(maps)
        raise ValueError(f"{display_name(model)}: {layer} gives {found}, not feature maps (N×C×H×W, larger than 1×1) "
                         "to draw")
    channels, h, w = maps.shape[1:]
    flat = maps[0, :MAX_SINGLE].float().cpu().flatten(1)
    tiles = _span(flat, constant=0.0).view(-1, h, w).numpy()  # a constant map (a dead ReLU's) black
    constant = int((flat.amax(1) == flat.amin(1)).sum())
    cols = min(channels, COLUMNS)
    rows = math.ceil(len(tiles) / cols)
    notes = [f"the first {MAX_SINGLE} drawn" if channels > MAX_SINGLE else "",
             f"its call {len(seen)} of {len(seen)} in the pass" if len(seen) > 1 else "",
             f"{constant} constant (black)" if constant else ""]
    title = (f"{display_name(model)}: {layer} on {image}, {_count(channels, 'map')} of {h}×{w}"
             + "".join(f"; {n}" for n in notes if n))
    return Picture(title=title, pixels=_mosaic(tiles, rows, cols), rows=rows, cols=cols, colour=False,
                   model=display_name(model), layer=layer)


def _kernels(module: nn.Module) -> torch.Tensor | None:
    """A 2-D convolution's out×in×kh×kw weight (LeNet-5's C3 as the full layer it stands for)."""
    if callable(getattr(module, "dense_weight", None)):
        return module.dense_weight()
    if isinstance(module, nn.Conv2d):
        return module.weight
    return None


def _known(model: nn.Module, layer, names: dict, what: str) -> str:
    """``layer`` if it is one of ``names``, else an error with the closest ones."""
    if isinstance(layer, str) and layer in names:
        return layer
    close = difflib.get_close_matches(str(layer), list(names), n=3, cutoff=0.5)
    hint = f"closest: {', '.join(close)}" if close else f"its {what}s: {some(names, 8)}"
    raise ValueError(f"{display_name(model)} has no {what} {layer!r}; {hint}")


def _span(rows: torch.Tensor, constant: float = 0.5) -> torch.Tensor:
    """Each row scaled from its least (0) to its greatest (1) value; a constant row ``constant``."""
    low, high = rows.amin(1, keepdim=True), rows.amax(1, keepdim=True)
    return torch.where(high > low, (rows - low) / (high - low).clamp_min(1e-12), torch.full_like(rows, constant))


def _mosaic(tiles: np.ndarray, rows: int, cols: int, gap: int = 1) -> np.ndarray:
    """The tiles in a rows × cols grid, ``gap`` pixels of NaN (the background) between them and
    around them (so that a blank tile at an edge still shows where the grid ends)."""
    n, h, w = tiles.shape[:3]
    out = np.full((rows * (h + gap) + gap, cols * (w + gap) + gap, *tiles.shape[3:]), np.nan)
    for i in range(n):
        r, c = divmod(i, cols)
        top, left = gap + r * (h + gap), gap + c * (w + gap)
        out[top:top + h, left:left + w] = tiles[i]
    return out


def _count(n: int, noun: str) -> str:
    """``1 filter``, ``6 filters``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
