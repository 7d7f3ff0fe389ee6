"""MobileNet v1 (Howard et al. 2017) and MobileNet v2 (Sandler et al. 2018).

MobileNet v1 factors each convolution into a 3×3 depthwise and a 1×1 pointwise convolution,
each followed by batch norm and ReLU (Fig. 3), stacked as in Table 1. Two global knobs shrink
it (§3.3, §3.4): the width multiplier α thins every layer to αM channels, the resolution
multiplier ρ shrinks the input to 224, 192, 160 or 128 pixels. The seven networks of Tables 6
and 7 are registered (``mobilenet_v1``, ``mobilenet_v1_075/050/025``,
``mobilenet_v1_192/160/128``); every other combination of the paper's Figure 4/5 is reachable
through the options ``width_mult`` and ``resolution``.

MobileNet v2 stacks inverted residual blocks with linear bottlenecks (Fig. 3b, Table 1) as
Table 2 lists them. Its module names follow torchvision's (``features.1.conv.0.0``,
``classifier.1``), so torchvision's state_dicts load unchanged, and ``width_mult`` rounds
channels as torchvision does (``layers.make_divisible``).

``min_input_size`` is 32×32 for both: with a total stride of 32, smaller inputs leave the last
stride-2 layers with 1×1 maps they can no longer halve (Keras documents the same minimum; the
arithmetic alone runs down to 1×1, which torchvision's metadata quotes for v2).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .._checks import fraction
from ..layers import ConvNormAct, DepthwiseSeparable, init_weights_kaiming, make_divisible
from ..registry import Figure, Paper, register_model
from .base import Classifier

__all__ = ["MobileNetV1", "MobileNetV2", "InvertedResidual"]

PAPER_V1 = Paper(
    title="MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications",
    authors=("Andrew G. Howard, Menglong Zhu, Bo Chen, Dmitry Kalenichenko, Weijun Wang, "
             "Tobias Weyand, Marco Andreetto, Hartwig Adam"),
    year=2017,
    venue="arXiv",
    arxiv="1704.04861",
)
PAPER_V2 = Paper(
    title="MobileNetV2: Inverted Residuals and Linear Bottlenecks",
    authors="Mark Sandler, Andrew Howard, Menglong Zhu, Andrey Zhmoginov, Liang-Chieh Chen",
    year=2018,
    venue="CVPR 2018",
    arxiv="1801.04381",
)

# Howard et al. 2017, Table 1, after the full 3×3/2 convolution with 32 channels: the
# depthwise-separable layers as (stride of the 3×3 depthwise conv, channels of the 1×1
# pointwise conv). Table 1 prints "s2" for the last depthwise conv, but its input and output
# are both 7×7, so its stride is 1 (as in the authors' TF-slim release).
MOBILENET_V1 = [
    (1, 64),
    (2, 128), (1, 128),
    (2, 256), (1, 256),
    (2, 512), (1, 512), (1, 512), (1, 512), (1, 512), (1, 512),
    (2, 1024), (1, 1024),
]
WIDTH_MULTIPLIERS = (1.0, 0.75, 0.5, 0.25)  # α, §3.3 and Table 6
RESOLUTIONS = (224, 192, 160, 128)  # ρ·224, §3.4 and Table 7

# Sandler et al. 2018, Table 2, after the 3×3/2 convolution with 32 channels: bottleneck
# stages as (expansion factor t, output channels c, repeats n, stride s of the first block).
# A final 1×1 convolution to 1280 channels, average pooling and the classifier follow.
MOBILENET_V2 = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
]


def _pool_flatten(x: Tensor) -> Tensor:
    return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


class MobileNetV1(Classifier):
    """MobileNet v1 (Howard et al. 2017, Table 1) with width multiplier ``width_mult`` (α ∈
    {1, 0.75, 0.5, 0.25}) and input ``resolution`` (224, 192, 160 or 128; the network is fully
    convolutional, the option sets its default input size). ``relu6`` uses ReLU6 as the
    TF-slim release and timm do (their weights need it); the paper's Fig. 3 has ReLU."""

    def __init__(self, *, width_mult: float = 1.0, resolution: int = 224, relu6: bool = False,
                 num_classes: int = 1000, in_chans: int = 3):
        if width_mult not in WIDTH_MULTIPLIERS:
            raise ValueError(f"MobileNet v1: width_mult must be one of {WIDTH_MULTIPLIERS} "
                             f"(Howard et al. 2017, §3.3), got {width_mult!r}")
        if resolution not in RESOLUTIONS:
            raise ValueError(f"MobileNet v1: resolution must be one of {RESOLUTIONS} "
                             f"(Howard et al. 2017, §3.4), got {resolution!r}")
        super().__init__(num_classes=num_classes, in_chans=in_chans,
                         input_size=(resolution, resolution), min_input_size=(32, 32),
                         classifier="fc")
        act = nn.ReLU6 if relu6 else nn.ReLU
        channels = make_divisible(32 * width_mult)
        layers: list[nn.Module] = [ConvNormAct(in_chans, channels, 3, 2, act=act)]
        for stride, out in MOBILENET_V1:
            out = make_divisible(out * width_mult)
            layers.append(DepthwiseSeparable(channels, out, stride, act=act))
            channels = out
        self.features = nn.Sequential(*layers)
        self.num_features = channels
        self.fc = nn.Linear(channels, num_classes)
        init_weights_kaiming(self)

    def _features(self, x: Tensor) -> Tensor:
        return self.features(x)

    def forward_head(self, features: Tensor) -> Tensor:
        return self.fc(_pool_flatten(features))


class InvertedResidual(nn.Module):
    """Bottleneck residual block (Sandler et al. 2018, Table 1, Fig. 3b): 1×1 expansion to
    t·c channels with ReLU6 (Table 1 has it in every block; left out when t = 1, as
    torchvision builds it and its weights need), 3×3 depthwise conv with ReLU6, and a linear
    1×1 projection; the input is added when the stride is 1 and the channels match."""

    def __init__(self, in_chans: int, out_chans: int, stride: int, expand_ratio: int):
        super().__init__()
        hidden = int(round(in_chans * expand_ratio))
        expand = [ConvNormAct(in_chans, hidden, 1, act=nn.ReLU6)] if expand_ratio != 1 else []
        self.conv = nn.Sequential(
            *expand,
            ConvNormAct(hidden, hidden, 3, stride, groups=hidden, act=nn.ReLU6),
            nn.Conv2d(hidden, out_chans, 1, bias=False),
            nn.BatchNorm2d(out_chans),
        )
        self.use_shortcut = stride == 1 and in_chans == out_chans
        self.out_channels = out_chans

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv(x) if self.use_shortcut else self.conv(x)


class MobileNetV2(Classifier):
    """MobileNet v2 (Sandler et al. 2018, Table 2). ``width_mult`` scales every layer's
    channels (rounded to multiples of 8), the last convolution's only upwards (§4: "except the
    very last convolutional layer");
    ``drop_rate`` is the dropout before the classifier (torchvision's 0.2)."""

    def __init__(self, *, width_mult: float = 1.0, drop_rate: float = 0.2,
                 num_classes: int = 1000, in_chans: int = 3):
        if not (isinstance(width_mult, (int, float)) and math.isfinite(width_mult)
                and width_mult > 0):
            raise ValueError(f"MobileNet v2: width_mult must be a positive number, "
                             f"got {width_mult!r}")
        fraction(drop_rate, "MobileNet v2: drop_rate")
        super().__init__(num_classes=num_classes, in_chans=in_chans, input_size=(224, 224),
                         min_input_size=(32, 32), classifier="classifier.1")
        channels = make_divisible(32 * width_mult)
        layers: list[nn.Module] = [ConvNormAct(in_chans, channels, 3, 2, act=nn.ReLU6)]
        for t, c, n, s in MOBILENET_V2:
            out = make_divisible(c * width_mult)
            for i in range(n):
                layers.append(InvertedResidual(channels, out, s if i == 0 else 1, t))
                channels = out
        last = make_divisible(1280 * max(1.0, width_mult))
        layers.append(ConvNormAct(channels, last, 1, act=nn.ReLU6))
        self.features = nn.Sequential(*layers)
        self.num_features = last
        self.classifier = nn.Sequential(nn.Dropout(drop_rate), nn.Linear(last, num_classes))
        init_weights_kaiming(self)

    def _features(self, x: Tensor) -> Tensor:
        return self.features(x)

    def forward_head(self, features: Tensor) -> Tensor:
        return self.classifier(_pool_flatten(features))


# -- registered MobileNet v1 networks ----------------------------------------------------

# Howard et al. 2017, Table 6 (width multiplier) and Table 7 (resolution): α, input size,
# ImageNet top-1 (%), million mult-adds, million parameters, and the table they come from.
V1_VARIANTS = {
    "mobilenet_v1": (1.0, 224, 70.6, 569, 4.2, "Tables 6-8"),
    "mobilenet_v1_075": (0.75, 224, 68.4, 325, 2.6, "Table 6"),
    "mobilenet_v1_050": (0.5, 224, 63.7, 149, 1.3, "Table 6"),
    "mobilenet_v1_025": (0.25, 224, 50.6, 41, 0.5, "Table 6"),
    "mobilenet_v1_192": (1.0, 192, 69.1, 418, 4.2, "Table 7"),
    "mobilenet_v1_160": (1.0, 160, 67.2, 290, 4.2, "Table 7"),
    "mobilenet_v1_128": (1.0, 128, 64.4, 186, 4.2, "Table 7"),
}


def _register_v1(name: str):
    alpha, resolution, top1, macs_m, params_m, table = V1_VARIANTS[name]
    src = f"Howard et al. 2017, {table} ({alpha} MobileNet-{resolution})"
    figures = [Figure("top1", top1, src), Figure("macs", macs_m * 1_000_000, src),
               Figure("params", params_m * 1e6, src)]
    if name == "mobilenet_v1":
        figures.append(Figure("params", 4_231_976, "timm mobilenetv1_100 (its parameter count)"))

    @register_model(
        name, family="mobilenet", paper=PAPER_V1, input_size=(3, resolution, resolution),
        description=f"{alpha} MobileNet-{resolution}: depthwise-separable convolutions (Table 1)",
        figures=figures,
    )
    def build(*, num_classes: int = 1000, in_chans: int = 3, width_mult: float = alpha,
              resolution: int = resolution, relu6: bool = False) -> MobileNetV1:
        return MobileNetV1(width_mult=width_mult, resolution=resolution, relu6=relu6,
                           num_classes=num_classes, in_chans=in_chans)

    build.__name__ = build.__qualname__ = name
    build.__doc__ = f"{name}: MobileNet v1, width multiplier {alpha}, {resolution}×{resolution} input."
    return build


(mobilenet_v1, mobilenet_v1_075, mobilenet_v1_050, mobilenet_v1_025,
 mobilenet_v1_192, mobilenet_v1_160, mobilenet_v1_128) = map(_register_v1, V1_VARIANTS)


# -- MobileNet v2 ------------------------------------------------------------------------

_TV_V2 = "torchvision weights metadata (MobileNet_V2_Weights.IMAGENET1K_V1)"
_TABLE4 = "Sandler et al. 2018, Table 4 (MobileNetV2)"


@register_model(
    "mobilenet_v2", family="mobilenet", paper=PAPER_V2, input_size=(3, 224, 224),
    description="inverted residuals with linear bottlenecks (Table 2; torchvision's keys)",
    figures=[
        Figure("params", 3_504_872, _TV_V2), Figure("macs", 301_000_000, _TV_V2),
        Figure("top1", 71.878, _TV_V2), Figure("top5", 90.286, _TV_V2),
        Figure("top1", 72.0, _TABLE4), Figure("params", 3.4e6, _TABLE4),
        Figure("macs", 300e6, _TABLE4),
    ],
)
def mobilenet_v2(*, num_classes: int = 1000, in_chans: int = 3, width_mult: float = 1.0,
                 drop_rate: float = 0.2) -> MobileNetV2:
    """MobileNet v2 as Sandler et al. 2018, Table 2, in torchvision's layout."""
    return MobileNetV2(width_mult=width_mult, drop_rate=drop_rate, num_classes=num_classes,
                       in_chans=in_chans)
