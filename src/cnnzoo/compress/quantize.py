"""Trained quantization: k-means weight sharing and centroid fine-tuning.

Deep Compression (Han, Mao & Dally, ICLR 2016, §3). The surviving weights of each layer are
clustered by one-dimensional k-means into ``2**b`` clusters (§3.1); every weight is replaced
by its cluster's centroid, so a layer stores a small codebook and a ``b``-bit cluster index
per weight. Centroids start linearly spaced between the layer's smallest and largest weight
— the initialization the paper found best, because it keeps the few large weights that
matter most (§3.2, Figure 4) — with random (Forgy) and density-based initialization as the
alternatives the paper compares. The centroids are then fine-tuned: the gradient of a
centroid is the sum of the gradients of the weights that share it (§3.3, Figure 3) — the
backward pass of the shared weights' parametrization computes exactly that.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from .sparse import SharedLayer

__all__ = ["INITS", "init_centroids", "assign", "kmeans_1d", "centroid_gradients", "WeightSharing"]

INITS = ("linear", "random", "density")


def init_centroids(values: Tensor, n_clusters: int, init: str = "linear", seed: int = 0) -> Tensor:
    """Initial centroids (Deep Compression §3.2): ``linear`` spaces them evenly between the
    smallest and largest value; ``random`` (Forgy) picks distinct values at random;
    ``density`` spaces them evenly along the values' cumulative distribution."""
    if init not in INITS:
        raise ValueError(f"unknown centroid initialization {init!r}; expected one of {', '.join(INITS)}")
    if init == "linear":
        return torch.linspace(float(values.min()), float(values.max()), n_clusters, dtype=values.dtype,
                              device=values.device)
    if init == "random":
        generator = torch.Generator().manual_seed(seed)
        pick = torch.randperm(values.numel(), generator=generator)[:n_clusters]
        return values[pick.to(values.device)].sort().values
    ranks = torch.linspace(0, values.numel() - 1, n_clusters).round().long()
    return values.sort().values[ranks.to(values.device)]


def assign(values: Tensor, centroids: Tensor) -> Tensor:
    """Index of the nearest of the sorted ``centroids`` for every value (ties go to the
    smaller centroid)."""
    return torch.searchsorted((centroids[1:] + centroids[:-1]) / 2, values)


def kmeans_1d(values: Tensor, n_clusters: int, *, init: str = "linear", max_iter: int = 300,
              seed: int = 0) -> tuple[Tensor, Tensor]:
    """Lloyd's k-means on a 1-D set of values, in float64. Returns the sorted centroids
    (float32) and each value's cluster. A cluster that loses all its values keeps its
    centroid."""
    if n_clusters < 1:
        raise ValueError(f"k-means needs at least one cluster, got {n_clusters}")
    v = values.detach().flatten().double()
    if v.numel() == 0:
        return torch.zeros(0, device=v.device), torch.zeros(0, dtype=torch.long, device=v.device)
    centroids = init_centroids(v, n_clusters, init, seed).sort().values
    for _ in range(max_iter):
        labels = assign(v, centroids)
        counts = torch.bincount(labels, minlength=n_clusters)
        sums = torch.zeros_like(centroids).scatter_add_(0, labels, v)
        new = torch.where(counts > 0, sums / counts.clamp(min=1), centroids).sort().values
        if torch.equal(new, centroids):
            break
        centroids = new
    return centroids.float(), assign(v, centroids)


def centroid_gradients(weight_grads: Tensor, labels: Tensor, n_clusters: int) -> Tensor:
    """Gradient of every centroid: the sum of the gradients of the weights in its cluster
    (Deep Compression §3.3, Figure 3's "group by" and "reduce")."""
    return torch.zeros(n_clusters, dtype=weight_grads.dtype, device=weight_grads.device).scatter_add_(
        0, labels, weight_grads
    )


class _ShareWeights(torch.autograd.Function):
    """Dense weights from a codebook: ``weight[positions] = codebook[labels]``, zeros
    elsewhere; the backward pass gives each centroid the sum of its weights' gradients."""

    @staticmethod
    def forward(ctx, codebook: Tensor, positions: Tensor, labels: Tensor, numel: int) -> Tensor:
        ctx.save_for_backward(positions, labels)
        ctx.clusters = len(codebook)
        flat = codebook.new_zeros(numel)
        flat[positions] = codebook[labels]
        return flat

    @staticmethod
    def backward(ctx, grad: Tensor):
        positions, labels = ctx.saved_tensors
        return centroid_gradients(grad[positions], labels, ctx.clusters), None, None, None


class _SharedWeight(nn.Module):
    """Parametrization of a layer's ``weight`` by its codebook (the parametrization's
    ``original`` parameter), for :func:`torch.nn.utils.parametrize.register_parametrization`."""

    def __init__(self, shape, positions: Tensor, labels: Tensor, codebook: Tensor):
        super().__init__()
        self.shape = tuple(shape)
        self.register_buffer("positions", positions, persistent=False)
        self.register_buffer("labels", labels, persistent=False)
        self._initial = codebook

    def forward(self, codebook: Tensor) -> Tensor:
        numel = int(np.prod(self.shape))
        return _ShareWeights.apply(codebook, self.positions, self.labels, numel).view(self.shape)

    def right_inverse(self, weight: Tensor) -> Tensor:
        return self._initial  # the parametrization's parameter is the k-means codebook


class WeightSharing:
    """Shared weights of a model's compressible layers.

    ``layers`` maps module paths to layers, ``masks`` marks their surviving weights (all
    ``True`` for an unpruned layer), ``bits`` gives each layer's ``b``. Clusters that end
    empty are dropped, so a codebook holds at most ``2**b`` centroids. Each layer's
    ``weight`` becomes a function of its codebook (a parametrization), so any training loop
    fine-tunes the centroids with the gradient of §3.3; :meth:`remove` turns the shared
    weights back into plain parameters.
    """

    def __init__(self, layers: dict[str, nn.Module], masks: dict[str, Tensor], bits: dict[str, int],
                 *, init: str = "linear", seed: int = 0):
        self.layers = dict(layers)
        self.positions: dict[str, Tensor] = {}
        self.labels: dict[str, Tensor] = {}
        self.codebooks: dict[str, nn.Parameter] = {}
        for name, m in self.layers.items():
            b = bits[name]
            if not isinstance(b, int) or not 1 <= b <= 12:
                raise ValueError(f"bits of {name} must be an integer in 1..12, got {b!r}")
            weight = m.weight.detach()
            positions = torch.nonzero(masks[name].flatten()).squeeze(1)
            centroids, labels = kmeans_1d(weight.flatten()[positions], 2 ** b, init=init, seed=seed)
            used = torch.bincount(labels, minlength=len(centroids)) > 0
            labels = (torch.cumsum(used, 0) - 1)[labels]
            shared = _SharedWeight(weight.shape, positions, labels, centroids[used].to(weight))
            parametrize.register_parametrization(m, "weight", shared, unsafe=True)
            self.positions[name], self.labels[name] = positions, labels
            self.codebooks[name] = m.parametrizations.weight.original

    def parameters(self) -> list[nn.Parameter]:
        return list(self.codebooks.values())

    def remove(self) -> None:
        """Make every shared weight a plain parameter again, holding its centroids (the
        codebooks are kept, as frozen copies, for :meth:`export`)."""
        for name, m in self.layers.items():
            if parametrize.is_parametrized(m, "weight"):
                book = self.codebooks[name].detach().clone()
                parametrize.remove_parametrizations(m, "weight", leave_parametrized=True)
                self.codebooks[name] = nn.Parameter(book, requires_grad=False)

    def export(self) -> dict[str, SharedLayer]:
        """The layers in the storage form the compressed file encodes."""
        return {
            name: SharedLayer(
                shape=tuple(m.weight.shape),
                codebook=self.codebooks[name].detach().cpu().float().numpy().astype(np.float32),
                positions=self.positions[name].cpu().numpy().astype(np.int64),
                labels=self.labels[name].cpu().numpy().astype(np.int64),
            )
            for name, m in self.layers.items()
        }
