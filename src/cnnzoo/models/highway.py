"""Convolutional highway networks (Srivastava, Greff, Schmidhuber 2015, "Training Very Deep
Networks", NIPS 2015, arXiv:1507.06228), with the plain and residual networks of the same depth
to compare them against.

A highway layer computes a block state H(x) and a transform gate T(x) = σ(W_T x + b_T) and
outputs y = H(x)·T(x) + x·(1 − T(x)) (§2, Eq. 3): the carry gate is C = 1 − T. In a
convolutional highway layer H and T are 3×3 "same" convolutions (§2.1); H has a ReLU. A
negative b_T biases every layer towards carrying its input at the start of training (§2.2:
"-1, -2 and -3 for convolutional highway networks of depth approximately 10, 20 and 30").
Plain layers (no highway) change the number of channels between stages (§2.1).

``highway`` is the 19-layer CIFAR network of the authors' release
(github.com/flukeskywalker/highway-networks, ``examples/highways/cifar10-19layers``), the
network of the paper's Table 3: dropout 0.2 on the input; three stages of 32, 80 and 128
channels, each a plain 3×3 conv + ReLU and 4, 5, 5 highway layers, separated by 2×2
max-pooling and dropout 0.2; a 1×1 conv to 100 channels + ReLU; global average pooling,
dropout 0.2 and the classifier. Weights: Caffe's "xavier" (uniform, ±√(3/fan_in)); b_T = −2.
(The release's first convolution asks for a "gaussian" filler with ``value: 0.05``, a field
Caffe's gaussian filler ignores, so that it drew N(0, 1): a slip not copied; xavier as the rest.)

Options: ``depth`` (weight layers on the path, a highway layer counting as one: depth − 5
highway layers spread over the three stages, later stages taking the remainder, which gives
the release's 4, 5, 5 at depth 19; other depths keep its widths, they are not the paper's
Highway A/C whose layouts are unpublished); ``gate``: ``"highway"``, or the comparators of the
same depth with the gates fixed, ``"residual"`` (T = C = 1: y = H(x) + x) and ``"plain"``
(T = 1, C = 0: y = H(x)), which have no gate convolutions; ``transform_bias`` (default from the
§2.2 guideline, −max(1, round(depth/10))); ``drop_rate``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .._checks import check_choice, fraction
from ..layers import ConvNormAct
from ..registry import Figure, Paper, register_model
from .base import Classifier

__all__ = ["HighwayConv", "HighwayNet", "GATES"]

PAPER = Paper(
    title="Training Very Deep Networks",
    authors="Rupesh Kumar Srivastava, Klaus Greff, Jürgen Schmidhuber",
    year=2015,
    venue="NIPS 2015",
    arxiv="1507.06228",
)

GATES = ("highway", "residual", "plain")
# The authors' 19-layer CIFAR release: channels of the three stages, and the channels of the
# 1×1 convolution before global average pooling.
STAGE_WIDTHS = (32, 80, 128)
HEAD_WIDTH = 100


def _xavier_(conv: nn.Conv2d | nn.Linear) -> None:
    """Caffe's "xavier" filler: uniform on ±√(3/fan_in), zero bias."""
    nn.init.kaiming_uniform_(conv.weight, nonlinearity="linear")
    nn.init.zeros_(conv.bias)


class HighwayConv(nn.Module):
    """One convolutional layer y = H(x)·T(x) + x·C(x) with H(x) = ReLU(conv₃ₓ₃(x)) and, by
    ``gate``: T = σ(conv₃ₓ₃(x) + b_T), C = 1 − T (``"highway"``, Eq. 3); T = C = 1
    (``"residual"``); T = 1, C = 0 (``"plain"``)."""

    gate_layers = ("t",)  # T weighs H's neurons against the carried input; H makes them

    def __init__(self, channels: int, gate: str = "highway", transform_bias: float = -2.0):
        super().__init__()
        check_choice(gate, "gate", GATES)
        self.gate = gate
        self.h = nn.Conv2d(channels, channels, 3, padding=1)
        _xavier_(self.h)
        if gate == "highway":
            self.t = nn.Conv2d(channels, channels, 3, padding=1)
            _xavier_(self.t)
            nn.init.constant_(self.t.bias, transform_bias)

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(self.h(x))
        if self.gate == "plain":
            return h
        if self.gate == "residual":
            return h + x
        t = torch.sigmoid(self.t(x))
        return h * t + x * (1.0 - t)

    def extra_repr(self) -> str:
        return f"gate={self.gate!r}"


def stage_depths(depth: int) -> tuple[int, int, int]:
    """Highway layers per stage for a network of ``depth`` weight layers: depth − 5 of them
    (3 plain convs, the 1×1 conv and the classifier make the other 5), spread evenly with the
    remainder on the later stages."""
    n, extra = divmod(depth - 5, 3)
    return tuple(n + (i >= 3 - extra) for i in range(3))


class HighwayNet(Classifier):
    """The authors' convolutional highway network for 32×32 input (see the module docstring)."""

    def __init__(self, *, depth: int = 19, gate: str = "highway",
                 transform_bias: float | None = None, drop_rate: float = 0.2,
                 num_classes: int = 10, in_chans: int = 3):
        if not isinstance(depth, int) or depth < 8:
            raise ValueError(f"highway: depth must be an integer ≥ 8 (one highway layer per "
                             f"stage), got {depth!r}")
        check_choice(gate, "highway: gate", GATES)
        if transform_bias is not None and gate != "highway":
            raise ValueError(f"highway: transform_bias applies to gate='highway' only, "
                             f"got gate={gate!r}")
        fraction(drop_rate, "highway: drop_rate")
        # min_input_size 8×8: the third stage then still works on 2×2 maps. The arithmetic
        # runs down to 4×4 (1×1 maps), which the registry's interface contract refuses.
        super().__init__(num_classes=num_classes, in_chans=in_chans, input_size=(32, 32),
                         min_input_size=(8, 8), classifier="fc")
        if transform_bias is None:
            transform_bias = -float(max(1, round(depth / 10)))
        self.depth, self.gate, self.transform_bias = depth, gate, transform_bias

        layers: list[nn.Module] = [nn.Dropout(drop_rate)]
        channels = in_chans
        for i, (width, n) in enumerate(zip(STAGE_WIDTHS, stage_depths(depth))):
            if i:
                layers += [nn.MaxPool2d(2, 2), nn.Dropout(drop_rate)]
            layers.append(ConvNormAct(channels, width, 3, norm=None))
            layers += [HighwayConv(width, gate, transform_bias) for _ in range(n)]
            channels = width
        layers.append(ConvNormAct(channels, HEAD_WIDTH, 1, norm=None))
        self.features = nn.Sequential(*layers)
        self.drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(HEAD_WIDTH, num_classes)
        for m in self.features:
            if isinstance(m, ConvNormAct):
                _xavier_(m[0])
        nn.init.normal_(self.fc.weight, 0.0, 0.05)  # the release's classifier filler
        nn.init.zeros_(self.fc.bias)

    def _features(self, x: Tensor) -> Tensor:
        return self.features(x)

    def forward_head(self, features: Tensor) -> Tensor:
        return self.fc(self.drop(torch.flatten(F.adaptive_avg_pool2d(features, 1), 1)))


_TABLE3 = "Srivastava et al. 2015, Table 3 (highway network, with data augmentation)"
_RELEASE = ("authors' release, cifar10-19layers/sample.log: 2,265,928 trainable parameters "
            "(its 100-way output)")


@register_model(
    "highway", family="highway", paper=PAPER, input_size=(3, 32, 32),
    description=("19-layer convolutional highway network for CIFAR (authors' release); "
                 "gate='plain'/'residual' builds the same-depth comparators"),
    figures=[
        Figure("top1", 92.40, _TABLE3, "CIFAR-10"),
        Figure("top1", 67.76, _TABLE3, "CIFAR-100"),
        Figure("params", 2.3e6, "Srivastava et al. 2015, Table 2 (19-layer Highway B, ~2.3M)",
               "CIFAR-10"),
        Figure("params", 2_265_928, _RELEASE, "CIFAR-100"),
    ],
)
def highway(*, num_classes: int = 10, in_chans: int = 3, depth: int = 19, gate: str = "highway",
            transform_bias: float | None = None, drop_rate: float = 0.2) -> HighwayNet:
    """Convolutional highway network (Srivastava et al. 2015) for 32×32 input; ``gate`` picks
    the highway layers or the plain/residual comparators of the same ``depth``."""
    return HighwayNet(depth=depth, gate=gate, transform_bias=transform_bias,
                      drop_rate=drop_rate, num_classes=num_classes, in_chans=in_chans)
