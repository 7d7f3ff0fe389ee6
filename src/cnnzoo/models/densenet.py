"""DenseNet and DenseNet-BC (Huang, Liu, van der Maaten, Weinberger 2016, "Densely Connected
Convolutional Networks", arXiv:1608.06993).

Every layer of a dense block takes the concatenation of all earlier feature maps of the block
and adds ``k`` (the growth rate) maps of its own (§3, Eq. 2). Its composite function is
BN-ReLU-Conv(3×3); DenseNet-B puts a bottleneck BN-ReLU-Conv(1×1, 4k) in front (§3,
"Bottleneck layers"). Between blocks, a transition BN-ReLU-Conv(1×1)-AvgPool(2×2) halves the
map and, in DenseNet-C, keeps a fraction θ = 0.5 of the channels ("Compression").

* ImageNet: ``densenet121/169/201/264`` are Table 1 (DenseNet-BC, k = 32, stem 7×7/2 conv +
  3×3/2 max-pool); ``densenet161`` (k = 48) is the authors' release. The module names follow
  torchvision's, so its state_dicts load unchanged (``features.denseblock1.denselayer1.norm1``).
* CIFAR (§3, "Implementation Details"): a 3×3 stem conv with 16 channels (2k for
  DenseNet-BC), three dense blocks on 32×32, 16×16 and 8×8 maps, global average pooling.
  Depth L = 3n + 4 (basic) or 6n + 4 (BC) for n layers per block. Table 2's configurations
  are registered: ``densenet40_k12``, ``densenet100_k12``, ``densenet100_k24``,
  ``densenet_bc_100_k12``, ``densenet_bc_250_k24``, ``densenet_bc_190_k40``.

``memory_efficient=True`` recomputes each layer's concatenation + BN + ReLU + first
convolution in the backward pass (``torch.utils.checkpoint``) instead of storing them, the
scheme of Pleiss et al. 2017 ("Memory-Efficient Implementation of DenseNets",
arXiv:1707.06990): memory grows linearly instead of quadratically with depth, outputs and
gradients are unchanged. ``drop_rate`` adds dropout after every convolution but the stem
(§4.2: 0.2 for the runs without data augmentation).
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.checkpoint import checkpoint

from .._checks import fraction
from ..layers import init_weights_kaiming
from ..registry import Figure, Paper, register_model
from .base import Classifier

__all__ = ["DenseNet", "DenseLayer", "DenseBlock", "Transition"]

PAPER = Paper(
    title="Densely Connected Convolutional Networks",
    authors="Gao Huang, Zhuang Liu, Laurens van der Maaten, Kilian Q. Weinberger",
    year=2016,
    venue="CVPR 2017",
    arxiv="1608.06993",
)

# Huang et al. 2016, Table 1: layers per dense block and growth rate k of the ImageNet
# DenseNet-BCs (121, 169, 201, 264). DenseNet-161 is not in the table; it is the authors'
# release (github.com/liuzhuang13/DenseNet) that torchvision also ships. Ordered by name.
IMAGENET_CONFIGS = {
    "densenet121": ((6, 12, 24, 16), 32),
    "densenet161": ((6, 12, 36, 24), 48),
    "densenet169": ((6, 12, 32, 32), 32),
    "densenet201": ((6, 12, 48, 32), 32),
    "densenet264": ((6, 12, 64, 48), 32),
}

# Huang et al. 2016, Table 2, in the table's order: depth L, growth rate k, BC?, parameters
# (millions) and error rates (%) on C10, C10+, C100, C100+ ("+": standard augmentation;
# None where the table has "-").
CIFAR_CONFIGS = {
    "densenet40_k12": (40, 12, False, 1.0, (7.00, 5.24, 27.55, 24.42)),
    "densenet100_k12": (100, 12, False, 7.0, (5.77, 4.10, 23.79, 20.20)),
    "densenet100_k24": (100, 24, False, 27.2, (5.83, 3.74, 23.42, 19.25)),
    "densenet_bc_100_k12": (100, 12, True, 0.8, (5.92, 4.51, 24.15, 22.27)),
    "densenet_bc_250_k24": (250, 24, True, 15.3, (5.19, 3.62, 19.64, 17.60)),
    "densenet_bc_190_k40": (190, 40, True, 25.6, (None, 3.46, None, 17.18)),
}


@contextlib.contextmanager
def _running_statistics_frozen(norm: nn.BatchNorm2d):
    """Within the block, a training-mode ``norm`` still normalises with the batch's statistics
    (and saves the same tensors for backward) but leaves its running statistics and batch
    counter as they were: momentum 0 keeps the running averages, the counter is restored."""
    momentum, count = norm.momentum, norm.num_batches_tracked
    saved = None if count is None else count.clone()
    norm.momentum = 0.0
    try:
        yield
    finally:
        norm.momentum = momentum
        if saved is not None:
            count.copy_(saved)


class DenseLayer(nn.Module):
    """One layer of a dense block: BN-ReLU-Conv(1×1, ``bn_size``·k) then BN-ReLU-Conv(3×3, k)
    with a bottleneck (DenseNet-B), or BN-ReLU-Conv(3×3, k) alone (``bn_size=None``).

    ``norm1/relu1/conv1`` is the layer's first unit, the one that reads the concatenation;
    ``memory_efficient`` recomputes it in the backward pass instead of storing its output.
    """

    def __init__(self, in_chans: int, growth_rate: int, bn_size: int | None,
                 drop_rate: float = 0.0, memory_efficient: bool = False):
        super().__init__()
        first_out = bn_size * growth_rate if bn_size else growth_rate
        self.norm1 = nn.BatchNorm2d(in_chans)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_chans, first_out, 1 if bn_size else 3,
                               padding=0 if bn_size else 1, bias=False)
        if bn_size:
            self.norm2 = nn.BatchNorm2d(first_out)
            self.relu2 = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(first_out, growth_rate, 3, padding=1, bias=False)
        self.bottleneck = bool(bn_size)
        self.drop_rate = float(drop_rate)
        self.memory_efficient = memory_efficient

    def _first_unit(self, *features: Tensor) -> Tensor:
        return self.conv1(self.relu1(self.norm1(torch.cat(features, 1))))

    def _checkpoint_contexts(self):
        # The recomputation in the backward pass normalises with the same batch statistics
        # but must not count the batch a second time in norm1's running statistics.
        return contextlib.nullcontext(), _running_statistics_frozen(self.norm1)

    def forward(self, features: list[Tensor]) -> Tensor:
        needs_grad = torch.is_grad_enabled() and any(f.requires_grad for f in features)
        if self.memory_efficient and needs_grad:
            out = checkpoint(self._first_unit, *features, use_reentrant=False,
                             context_fn=self._checkpoint_contexts)
        else:
            out = self._first_unit(*features)
        out = F.dropout(out, self.drop_rate, self.training)
        if self.bottleneck:
            out = F.dropout(self.conv2(self.relu2(self.norm2(out))), self.drop_rate, self.training)
        return out


class DenseBlock(nn.ModuleDict):
    """``num_layers`` dense layers; layer ℓ reads [x₀, x₁, …, x_{ℓ-1}] (Eq. 2) and the block
    returns the concatenation of its input and every layer's k new maps."""

    def __init__(self, num_layers: int, in_chans: int, growth_rate: int, bn_size: int | None,
                 drop_rate: float = 0.0, memory_efficient: bool = False):
        super().__init__()
        for i in range(num_layers):
            self[f"denselayer{i + 1}"] = DenseLayer(
                in_chans + i * growth_rate, growth_rate, bn_size, drop_rate, memory_efficient
            )

    def forward(self, x: Tensor) -> Tensor:
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class Transition(nn.Sequential):
    """BN-ReLU-Conv(1×1)-AvgPool(2×2) between two dense blocks (§3, "Pooling layers")."""

    def __init__(self, in_chans: int, out_chans: int, drop_rate: float = 0.0):
        super().__init__()
        self.norm = nn.BatchNorm2d(in_chans)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(in_chans, out_chans, 1, bias=False)
        if drop_rate:
            self.drop = nn.Dropout(drop_rate)
        self.pool = nn.AvgPool2d(2, 2)


class DenseNet(Classifier):
    """A DenseNet: stem, dense blocks joined by transitions, BN-ReLU, global average pooling
    and a linear classifier.

    ``block_config`` gives the layers per block, ``growth_rate`` k, ``stem_width`` the stem
    convolution's channels, ``bn_size`` the bottleneck width in multiples of k (None: no
    bottleneck), ``compression`` θ the fraction of channels a transition keeps (rounded down,
    as the authors' code does), ``imagenet_stem`` the 7×7/2 conv + 3×3/2 max-pool stem of
    the ImageNet models (else the single 3×3 conv of the CIFAR ones).
    """

    def __init__(self, block_config: tuple[int, ...], growth_rate: int, *, stem_width: int,
                 bn_size: int | None = 4, compression: float = 0.5, imagenet_stem: bool = True,
                 drop_rate: float = 0.0, memory_efficient: bool = False, num_classes: int = 1000,
                 in_chans: int = 3, input_size: tuple[int, int] = (224, 224),
                 min_input_size: tuple[int, int] | None = (29, 29)):
        super().__init__(num_classes=num_classes, in_chans=in_chans, input_size=input_size,
                         min_input_size=min_input_size, classifier="classifier")
        fraction(drop_rate, "drop_rate")
        if imagenet_stem:
            stem = [
                ("conv0", nn.Conv2d(in_chans, stem_width, 7, 2, 3, bias=False)),
                ("norm0", nn.BatchNorm2d(stem_width)),
                ("relu0", nn.ReLU(inplace=True)),
                ("pool0", nn.MaxPool2d(3, 2, 1)),
            ]
        else:
            stem = [("conv0", nn.Conv2d(in_chans, stem_width, 3, 1, 1, bias=False))]
        self.features = nn.Sequential(OrderedDict(stem))
        channels = stem_width
        for i, num_layers in enumerate(block_config, 1):
            self.features.add_module(f"denseblock{i}", DenseBlock(
                num_layers, channels, growth_rate, bn_size, drop_rate, memory_efficient))
            channels += num_layers * growth_rate
            if i < len(block_config):
                out = int(channels * compression)
                self.features.add_module(f"transition{i}", Transition(channels, out, drop_rate))
                channels = out
        self.features.add_module(f"norm{len(block_config) + 1}", nn.BatchNorm2d(channels))
        self.num_features = channels
        self.classifier = nn.Linear(channels, num_classes)
        init_weights_kaiming(self)
        nn.init.zeros_(self.classifier.bias)

    def _features(self, x: Tensor) -> Tensor:
        return F.relu(self.features(x))

    def forward_head(self, features: Tensor) -> Tensor:
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(features, 1), 1))


# -- ImageNet models (Table 1) ----------------------------------------------------------

# torchvision weights metadata (DenseNet*_Weights.IMAGENET1K_V1): parameters, multiply-adds
# (torchvision's "_ops", which it labels GFLOPS, counts the convolutions' and the linear
# layer's multiply-adds), top-1 and top-5 on ImageNet-1k at 224×224.
_TV_META = {
    "densenet121": (7_978_856, 2.834, 74.434, 91.972),
    "densenet169": (14_149_480, 3.360, 75.600, 92.806),
    "densenet201": (20_013_928, 4.291, 76.896, 93.370),
    "densenet161": (28_681_000, 7.728, 77.138, 93.560),
}
# Huang et al. 2016, Table 3: single-crop top-1 and top-5 error (%) on ImageNet validation.
_TABLE3 = {
    "densenet121": (25.02, 7.71),
    "densenet169": (23.80, 6.85),
    "densenet201": (22.58, 6.34),
    "densenet264": (22.15, 6.12),
}


def _imagenet_figures(name: str) -> list[Figure]:
    figures = []
    if name in _TV_META:
        params, gmacs, top1, top5 = _TV_META[name]
        weights = name.replace("densenet", "DenseNet") + "_Weights.IMAGENET1K_V1"
        src = f"torchvision weights metadata ({weights})"
        figures += [Figure("params", params, src), Figure("macs", round(gmacs * 1e9), src),
                    Figure("top1", top1, src), Figure("top5", top5, src)]
    if name in _TABLE3:
        top1_err, top5_err = _TABLE3[name]
        src = f"Huang et al. 2016, Table 3 (single-crop error {top1_err}% / {top5_err}%)"
        figures += [Figure("top1", round(100 - top1_err, 2), src),
                    Figure("top5", round(100 - top5_err, 2), src)]
    return figures


def _register(name: str, *, description: str, figures: list[Figure],
              input_size: tuple[int, int], default_classes: int, **architecture):
    """Register ``name``: a builder of ``DenseNet(**architecture)`` taking the options every
    DenseNet takes."""

    @register_model(name, family="densenet", paper=PAPER, input_size=(3, *input_size),
                    description=description, figures=figures)
    def build(*, num_classes: int = default_classes, in_chans: int = 3, drop_rate: float = 0.0,
              memory_efficient: bool = False) -> DenseNet:
        return DenseNet(**architecture, input_size=input_size, drop_rate=drop_rate,
                        memory_efficient=memory_efficient, num_classes=num_classes,
                        in_chans=in_chans)

    build.__name__ = build.__qualname__ = name
    build.__doc__ = f"{name}: {description}."
    return build


def _imagenet(name: str):
    block_config, growth_rate = IMAGENET_CONFIGS[name]
    depth = 2 * sum(block_config) + 5  # 2 convs per layer, stem, 3 transitions, classifier
    return _register(
        name, description=(f"DenseNet-BC, {depth} weight layers, k={growth_rate}, blocks "
                           f"{block_config} (torchvision's keys)"),
        figures=_imagenet_figures(name), input_size=(224, 224), default_classes=1000,
        block_config=block_config, growth_rate=growth_rate, stem_width=2 * growth_rate,
    )


# -- CIFAR models (Table 2) ---------------------------------------------------------------

_CIFAR_DATASETS = ("CIFAR-10", "CIFAR-10+", "CIFAR-100", "CIFAR-100+")


def _cifar_figures(name: str) -> list[Figure]:
    *_, params_m, errors = CIFAR_CONFIGS[name]
    src = "Huang et al. 2016, Table 2"
    figures = [Figure("params", params_m * 1e6, f"{src} ({params_m}M)", "CIFAR-10")]
    # The augmented runs ("+") first: ModelInfo.figure() returns the first match, and the
    # standard training recipe augments.
    runs = sorted(zip(_CIFAR_DATASETS, errors), key=lambda run: not run[0].endswith("+"))
    for dataset, err in runs:
        if err is not None:
            augmentation = "with" if dataset.endswith("+") else "without"
            figures.append(Figure("top1", round(100 - err, 2),
                                  f"{src} ({dataset}: error {err}%, {augmentation} augmentation)",
                                  dataset.rstrip("+")))
    return figures


def _cifar(name: str):
    depth, growth_rate, bc, _, _ = CIFAR_CONFIGS[name]
    per_block = (depth - 4) // (6 if bc else 3)
    kind = "DenseNet-BC" if bc else "DenseNet"
    # min_input_size 8×8: the third block then still works on 2×2 maps. The arithmetic runs
    # down to 4×4 (1×1 maps), which the registry's interface contract refuses.
    return _register(
        name, description=(f"CIFAR {kind} L={depth}, k={growth_rate}: three blocks of "
                           f"{per_block} layers on 32×32/16×16/8×8 maps"),
        figures=_cifar_figures(name), input_size=(32, 32), default_classes=10,
        block_config=(per_block,) * 3, growth_rate=growth_rate,
        stem_width=2 * growth_rate if bc else 16, bn_size=4 if bc else None,
        compression=0.5 if bc else 1.0, imagenet_stem=False, min_input_size=(8, 8),
    )


densenet121, densenet161, densenet169, densenet201, densenet264 = map(_imagenet, IMAGENET_CONFIGS)
(densenet40_k12, densenet100_k12, densenet100_k24,
 densenet_bc_100_k12, densenet_bc_250_k24, densenet_bc_190_k40) = map(_cifar, CIFAR_CONFIGS)
