"""Magnitude pruning with masks that hold through retraining.

Han, Pool, Tran & Dally, "Learning both Weights and Connections for Efficient Neural
Networks" (NeurIPS 2015, §3), the first stage of Deep Compression (Han, Mao & Dally, ICLR
2016, §2): connections whose weight magnitude falls below a per-layer threshold are removed,
the network is retrained so that the remaining ones compensate, and prune → retrain is
iterated. The threshold is a quality parameter times the standard deviation of the layer's
weights (Han et al. 2015, §4, its opening paragraph), or, here, the magnitude that leaves a
target fraction of the layer pruned.

A :class:`Pruner` keeps one boolean mask per layer. During retraining it zeroes the pruned
weights' gradients in the backward pass (:meth:`Pruner.masked_gradients`) and writes zeros
into the pruned weights again after every optimizer step (:meth:`Pruner.apply`), so
neither momentum nor weight decay revives them.
"""

from __future__ import annotations

import contextlib
import fnmatch
import math

import torch
from torch import nn

from .._checks import describe, fraction, some

__all__ = [
    "compressible_layers",
    "layer_kind",
    "resolve_per_layer",
    "parse_layer_spec",
    "sparsity_schedule",
    "Pruner",
]

def layer_kind(module: nn.Module) -> str | None:
    """``"conv"`` or ``"fc"`` for a layer whose weight Deep Compression compresses: a
    weight matrix (fully-connected) or a bank of kernels (convolutional, LeNet-5's partially
    connected C3 included); ``None`` for layers without one (normalisation, pooling)."""
    weight = getattr(module, "weight", None)
    if not isinstance(weight, nn.Parameter) or weight.dim() < 2:
        return None
    return "fc" if weight.dim() == 2 else "conv"


def compressible_layers(model: nn.Module) -> dict[str, nn.Module]:
    """The convolutional and fully-connected layers whose weights are pruned and
    quantized, by module path in the network's order. Biases, normalisation layers and
    buffers are stored as they are (Deep Compression compresses the weights, §2–4)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"compressible_layers expects a torch.nn.Module, got {type(model).__name__}")
    return {name: m for name, m in model.named_modules()
            if layer_kind(m) is not None and m.weight.requires_grad}


def parse_layer_spec(text, cast=float, what: str = "setting"):
    """A per-layer setting as the command line writes it: ``"0.9"`` (every layer),
    ``"conv=8,fc=5"`` (by kind) or ``"fc1=0.92,features.*=0.6"`` (module paths or
    shell patterns). Numbers and dicts pass through unchanged. ``what`` names the option in
    error messages (``"sparsity"``)."""
    if text is None or isinstance(text, (int, float, dict)):
        return text
    if not isinstance(text, str):
        raise TypeError(f"{what}: expected a number, a dict or a string like 'conv=8,fc=5', "
                        f"got {describe(text)}")
    expected = f"{what}: expected a value or 'key=value,...' (keys: conv, fc, a layer name or pattern)"
    if "=" not in text:
        try:
            return cast(text)
        except ValueError:
            raise ValueError(f"{expected}, got {text!r}") from None
    spec = {}
    for item in text.split(","):
        key, sep, value = (part.strip() for part in item.partition("="))
        if key in spec:  # a dict would keep the last silently; the user meant one of them
            raise ValueError(f"{what}: {key!r} is given twice in {text!r}; give each key once")
        try:
            if not sep or not key:
                raise ValueError
            spec[key] = cast(value)
        except ValueError:
            where = f" in {text!r}" if item.strip() != text.strip() else ""
            raise ValueError(f"{expected}, got {item.strip()!r}{where}") from None
    return spec


def resolve_per_layer(spec, layers: dict[str, nn.Module], default, what: str) -> dict[str, object]:
    """One value per layer from ``spec``: ``None`` (use ``default``), a single value, or a
    dict whose keys are layer kinds (``conv``, ``fc``), ``*``, module paths or shell
    patterns of module paths — the most specific key wins (path, pattern, kind, ``*``).
    ``default`` is a single value, a dict by kind, or a sequence in layer order."""
    names = list(layers)
    if isinstance(default, (list, tuple)):
        if len(default) != len(names):
            raise ValueError(f"default {what} lists {len(default)} layers, the model has {len(names)}")
        base = dict(zip(names, default))
    elif isinstance(default, dict):
        base = {n: default.get(layer_kind(layers[n]), default.get("*")) for n in names}
    else:
        base = dict.fromkeys(names, default)
    if spec is None:
        return base
    if not isinstance(spec, dict):
        return dict.fromkeys(names, spec)
    kinds = sorted({layer_kind(m) for m in layers.values()})
    for key in spec:
        if key in ("conv", "fc") and key not in kinds:  # it would change nothing: say so
            raise ValueError(f"{what}: {key!r} names no layer: the model has {kinds[0]} layers only "
                             f"({some(names, 8)}); use {kinds[0]}=, one value for every layer, or layer names")
        if key not in ("conv", "fc", "*") and not fnmatch.filter(names, key):
            raise ValueError(
                f"{what}: {key!r} names no compressible layer; the layers are {some(names, 8)} "
                f"(or use the kinds {' and '.join(kinds)})"
            )
    out = {}
    for n in names:
        kind = layer_kind(layers[n])
        patterns = [k for k in spec if k not in ("conv", "fc", "*") and k != n and fnmatch.fnmatch(n, k)]
        for key in ([n] if n in spec else []) + patterns + [kind, "*"]:
            if key in spec:
                out[n] = spec[key]
                break
        else:
            out[n] = base[n]
    return out


def sparsity_schedule(target: float, iteration: int, iterations: int) -> float:
    """Sparsity after ``iteration`` of ``iterations`` prune–retrain rounds: every round
    prunes the same fraction of the weights still alive, reaching ``target`` at the end."""
    return 1.0 - (1.0 - target) ** (iteration / iterations)


class Pruner:
    """Pruning masks of a model's compressible layers (``True`` = the weight is kept)."""

    def __init__(self, model: nn.Module, layers: dict[str, nn.Module] | None = None):
        self.layers = compressible_layers(model) if layers is None else dict(layers)
        self.masks = {n: torch.ones_like(m.weight, dtype=torch.bool) for n, m in self.layers.items()}
        # σ of each layer's weights before pruning, for the quality-parameter threshold.
        self.std = {n: float(m.weight.detach().float().std()) for n, m in self.layers.items()}

    def prune_to_sparsity(self, name: str, sparsity: float) -> None:
        """Prune the smallest-magnitude weights of a layer until ``sparsity`` of them are
        zero (already pruned weights stay pruned)."""
        fraction(sparsity, f"sparsity of {name}")
        mask = self.masks[name]
        magnitude = self._kept_magnitude(name).flatten()
        # at least one weight stays: a sparsity below 1 must not round to an empty layer
        n_prune = min(max(int(round(sparsity * mask.numel())), int((~mask).sum())), mask.numel() - 1)
        order = torch.argsort(magnitude, stable=True)
        flat = torch.ones(mask.numel(), dtype=torch.bool, device=mask.device)
        flat[order[:n_prune]] = False
        self.masks[name] = flat.view_as(mask)

    def prune_below(self, name: str, quality: float) -> None:
        """Prune the weights whose magnitude is below ``quality × σ`` (σ: the layer's
        weight standard deviation before pruning; Han et al. 2015, §4, opening paragraph). A quality is judged
        before any work (:meth:`check_quality`); if retraining has since shrunk the layer's
        weights below the threshold, its largest weight stays, so the layer never goes empty
        in a later round, hours into the retraining."""
        if not quality >= 0:
            raise ValueError(f"quality of {name} must be ≥ 0, got {quality}")
        weight, mask = self.layers[name].weight.detach(), self.masks[name]
        keep = mask & (weight.abs() >= quality * self.std[name])
        if mask.any() and not keep.any():
            keep.view(-1)[self._kept_magnitude(name).argmax()] = True
        self.masks[name] = keep

    def _kept_magnitude(self, name: str) -> torch.Tensor:
        """The layer's weight magnitudes, -1 where a weight is pruned already."""
        weight, mask = self.layers[name].weight.detach(), self.masks[name]
        return torch.where(mask, weight.abs(), torch.full_like(weight, -1.0))

    def max_quality(self, name: str) -> float:
        """The largest quality parameter that keeps some of the layer's weights: its largest
        kept magnitude over σ (infinite for a layer of zeros, which any threshold keeps)."""
        largest = max(0.0, float(self._kept_magnitude(name).max()))
        return math.inf if self.std[name] == 0 else largest / self.std[name]

    def check_quality(self, name: str, quality: float) -> None:
        """Refuse a quality parameter that is negative or would prune every weight of the
        layer (as a sparsity of 1 is refused): a layer with no weights cuts the network."""
        if not quality >= 0:
            raise ValueError(f"quality of {name} must be ≥ 0, got {quality}")
        limit = self.max_quality(name)
        if quality > limit:
            raise ValueError(
                f"quality {quality:g} would prune every weight of {name}: its largest weight is below "
                f"{quality:g} × σ (σ: the standard deviation of its weights); the largest quality that "
                f"keeps some is {math.floor(limit * 1000) / 1000:g}")

    @torch.no_grad()
    def apply(self) -> None:
        """Write zeros into the pruned weights (after pruning and after every step)."""
        for name, m in self.layers.items():
            m.weight.mul_(self.masks[name])

    @contextlib.contextmanager
    def masked_gradients(self):
        """While active, the gradient reaching each layer's weight is multiplied by its
        mask, so that momentum and weight decay never see a pruned weight move."""
        handles = [m.weight.register_hook(lambda grad, n=n: grad * self.masks[n])
                   for n, m in self.layers.items()]
        try:
            yield self
        finally:
            for handle in handles:
                handle.remove()

    def sparsity(self) -> dict[str, float]:
        return {n: 1.0 - float(mask.float().mean()) for n, mask in self.masks.items()}
