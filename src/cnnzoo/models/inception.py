"""Inception v3, Inception-v4 and Inception-ResNet v1/v2.

* ``inception_v3``: Szegedy et al. 2015, "Rethinking the Inception architecture", in
  torchvision's layout and keys (which follow Google's released TF-slim network).
* ``inception_v4``, ``inception_resnet_v1``, ``inception_resnet_v2``: Szegedy et al. 2016,
  "Inception-v4, Inception-ResNet and the impact of residual connections", Figures 3–20.

Every network here is a list of named layers written as the papers' figures label them:
``"192 3x3/2 V"`` is a 3×3 convolution with 192 filters, stride 2 and valid padding (no
"V": same padding), followed by batch norm and ReLU; ``"max 3x3/2 V"`` and ``"avg 3x3"``
are pools. A dict is an Inception module -- branches, each a list of layers, concatenated
-- in which a tuple of layers is a fork whose outputs are concatenated (v3's "expanded
filter bank", Figure 7). :class:`Residual` marks an Inception-ResNet block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..layers import init_weights_kaiming
from ..registry import Figure, Paper, register_model
from .googlenet import BasicConv2d, InceptionNet, init_weights_trunc_normal

__all__ = ["Mixed", "ResidualMixed", "Residual", "InceptionV3Aux", "inception_net"]

V3_PAPER = Paper(
    title="Rethinking the Inception Architecture for Computer Vision",
    authors="Christian Szegedy, Vincent Vanhoucke, Sergey Ioffe, Jonathon Shlens and "
    "Zbigniew Wojna",
    year=2015,
    venue="CVPR 2016",
    arxiv="1512.00567",
)
V4_PAPER = Paper(
    title="Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning",
    authors="Christian Szegedy, Sergey Ioffe, Vincent Vanhoucke and Alex Alemi",
    year=2016,
    venue="AAAI 2017",
    arxiv="1602.07261",
)

_LAYER = re.compile(
    r"(?P<op>\d+|max|avg) (?P<kh>\d+)x(?P<kw>\d+)(?:/(?P<stride>\d+))?(?P<valid> V)?")


@dataclass(frozen=True)
class Residual:
    """An Inception-ResNet block (Szegedy et al. 2016, Figure 20): ``branches``
    concatenated, a 1×1 linear convolution back to the input width, scaled by ``scale``
    and added to the input, then ReLU (none when ``relu`` is False)."""

    branches: dict
    scale: float
    relu: bool = True


def _is_pool(spec: str) -> bool:
    return spec.startswith(("max", "avg"))


def _layer(in_chans: int, spec: str, count_include_pad: bool) -> tuple[nn.Module, int]:
    """One layer from its figure label; returns it and its output channels."""
    m = _LAYER.fullmatch(spec)
    if m is None:
        raise ValueError(f"bad layer {spec!r}: expected e.g. '192 3x3/2 V' or 'max 3x3/2 V'")
    kernel, stride = (int(m["kh"]), int(m["kw"])), int(m["stride"] or 1)
    padding = (0, 0) if m["valid"] else (kernel[0] // 2, kernel[1] // 2)
    if m["op"] == "max":
        return nn.MaxPool2d(kernel, stride, padding), in_chans
    if m["op"] == "avg":
        return nn.AvgPool2d(kernel, stride, padding, count_include_pad=count_include_pad), in_chans
    return BasicConv2d(in_chans, int(m["op"]), kernel, stride, padding), int(m["op"])


class Mixed(nn.Module):
    """An Inception module: its branches side by side, concatenated along channels.

    The layers are attributes with torchvision's Inception v3 names: a branch's only
    convolution takes the branch's name (``branch1x1``), several are numbered
    (``branch5x5_1``, ``branch5x5_2``), a fork's members get letters (``branch3x3_2a``,
    ``branch3x3_2b``), and the module's pool is ``pool``."""

    def __init__(self, in_chans: int, branches: dict, *, count_include_pad: bool = True):
        super().__init__()
        self.plan, self.out_channels = [], 0
        for name, layers in branches.items():
            n_convs = sum(len(l) if isinstance(l, tuple) else not _is_pool(l) for l in layers)
            steps, channels, index = [], in_chans, 0
            for layer in layers:
                specs = layer if isinstance(layer, tuple) else (layer,)
                index += not _is_pool(specs[0])
                names, width = [], 0
                for letter, spec in zip("ab" if len(specs) > 1 else ("",), specs):
                    attr = ("pool" if _is_pool(spec) else name if n_convs == 1
                            else f"{name}_{index}{letter}")
                    if attr in self._modules:
                        raise ValueError(f"two layers named {attr!r} in one Inception module")
                    module, out = _layer(channels, spec, count_include_pad)
                    self.add_module(attr, module)
                    names.append(attr)
                    width += out
                steps.append(names)
                channels = width
            self.plan.append(steps)
            self.out_channels += channels

    def forward(self, x: Tensor) -> Tensor:
        outputs = []
        for steps in self.plan:
            y = x
            for names in steps:
                ys = [getattr(self, n)(y) for n in names]
                y = ys[0] if len(ys) == 1 else torch.cat(ys, 1)
            outputs.append(y)
        return torch.cat(outputs, 1)


class ResidualMixed(Mixed):
    """An Inception-ResNet block (see :class:`Residual`). The 1×1 convolution ``conv2d``
    is "linear" (Figures 10–13, 16–19): a bias, no batch norm, no activation -- batch norm
    only on top of the traditional layers (§3.2)."""

    def __init__(self, in_chans: int, branches: dict, *, scale: float, relu: bool = True):
        super().__init__(in_chans, branches)
        self.conv2d = nn.Conv2d(self.out_channels, in_chans, 1)
        self.scale = scale
        self.relu = nn.ReLU(inplace=True) if relu else None
        self.out_channels = in_chans

    def forward(self, x: Tensor) -> Tensor:
        out = x + self.conv2d(super().forward(x)) * self.scale
        return self.relu(out) if self.relu is not None else out

    def extra_repr(self) -> str:
        return f"scale={self.scale}"


def _build(in_chans: int, spec, count_include_pad: bool) -> tuple[nn.Module, int]:
    """A layer, an Inception module, a residual block or (a list) a sequence of them."""
    if isinstance(spec, str):
        return _layer(in_chans, spec, count_include_pad)
    if isinstance(spec, dict):
        module = Mixed(in_chans, spec, count_include_pad=count_include_pad)
    elif isinstance(spec, Residual):
        module = ResidualMixed(in_chans, spec.branches, scale=spec.scale, relu=spec.relu)
    else:
        blocks = []
        for item in spec:
            block, in_chans = _build(in_chans, item, count_include_pad)
            blocks.append(block)
        return nn.Sequential(*blocks), in_chans
    return module, module.out_channels


class InceptionV3Aux(nn.Module):
    """Inception v3's auxiliary classifier on the 17×17 grid (Szegedy et al. 2015, §4 and
    Figure 8's network), in torchvision's layout: 5×5/3 average pool, 1×1 conv 128, 5×5
    conv 768, global average pool, linear ``fc``."""

    classifier = "fc"

    def __init__(self, in_chans: int, num_classes: int):
        super().__init__()
        self.pool = nn.AvgPool2d(5, 3)
        self.conv0 = BasicConv2d(in_chans, 128, 1)
        self.conv1 = BasicConv2d(128, 768, 5)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(768, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(self.conv0(self.pool(x)))
        return self.fc(self.avgpool(x).flatten(1))


def inception_net(specs, *, num_classes: int, in_chans: int, dropout: float, min_input_size,
                  count_include_pad: bool = True, aux_after: str | None = None,
                  aux_loss_weight: float = 0.0, transform_input: bool = False) -> InceptionNet:
    """Build the named layer ``specs`` in order at 299×299 default input, with Inception
    v3's auxiliary head ``AuxLogits`` after the layer ``aux_after`` when given."""
    layers, channels = [], in_chans
    for name, spec in specs:
        module, channels = _build(channels, spec, count_include_pad)
        layers.append((name, module))
        if name == aux_after:
            layers.append(("AuxLogits", InceptionV3Aux(channels, num_classes)))
    return InceptionNet(layers, num_features=channels, num_classes=num_classes,
                        in_chans=in_chans, input_size=(299, 299),
                        min_input_size=min_input_size, dropout=dropout,
                        aux_taps={aux_after: "AuxLogits"} if aux_after else None,
                        aux_loss_weight=aux_loss_weight, transform_input=transform_input)


# -- Inception v3 (Szegedy et al. 2015, Table 1 and Figures 5–7, as torchvision and TF-slim
#    release it, which differs from Table 1: after the 73×73×64 stage, a 3×3/2 max pool, a
#    1×1 conv 80 and a valid 3×3 conv 192, then a 3×3/2 max pool, where the table has conv
#    3×3/1 to 71×71×80, conv 3×3/2 to 35×35×192 and a 3×3 conv more, so the first 35×35 module
#    reads 192 channels, not 288; 5×5 convs in the 35×35 modules; four 17×17 modules where
#    §6 and Table 1 have "5 instances")
def _v3_a(pool_features: int) -> dict:  # Figure 5, 35×35
    return {"branch1x1": ["64 1x1"],
            "branch5x5": ["48 1x1", "64 5x5"],
            "branch3x3dbl": ["64 1x1", "96 3x3", "96 3x3"],
            "branch_pool": ["avg 3x3", f"{pool_features} 1x1"]}


def _v3_c(c7: int) -> dict:  # Figure 6, 17×17, n = 7
    return {"branch1x1": ["192 1x1"],
            "branch7x7": [f"{c7} 1x1", f"{c7} 1x7", "192 7x1"],
            "branch7x7dbl": [f"{c7} 1x1", f"{c7} 7x1", f"{c7} 1x7", f"{c7} 7x1", "192 1x7"],
            "branch_pool": ["avg 3x3", "192 1x1"]}


V3_REDUCTION_35 = {"branch3x3": ["384 3x3/2 V"],  # Figure 10, 35×35 → 17×17
                   "branch3x3dbl": ["64 1x1", "96 3x3", "96 3x3/2 V"],
                   "branch_pool": ["max 3x3/2 V"]}
V3_REDUCTION_17 = {"branch3x3": ["192 1x1", "320 3x3/2 V"],  # 17×17 → 8×8
                   "branch7x7x3": ["192 1x1", "192 1x7", "192 7x1", "192 3x3/2 V"],
                   "branch_pool": ["max 3x3/2 V"]}
V3_E = {"branch1x1": ["320 1x1"],  # Figure 7, 8×8
        "branch3x3": ["384 1x1", ("384 1x3", "384 3x1")],
        "branch3x3dbl": ["448 1x1", "384 3x3", ("384 1x3", "384 3x1")],
        "branch_pool": ["avg 3x3", "192 1x1"]}

INCEPTION_V3 = [
    ("Conv2d_1a_3x3", "32 3x3/2 V"),
    ("Conv2d_2a_3x3", "32 3x3 V"),
    ("Conv2d_2b_3x3", "64 3x3"),
    ("maxpool1", "max 3x3/2 V"),
    ("Conv2d_3b_1x1", "80 1x1"),
    ("Conv2d_4a_3x3", "192 3x3 V"),
    ("maxpool2", "max 3x3/2 V"),
    ("Mixed_5b", _v3_a(32)), ("Mixed_5c", _v3_a(64)), ("Mixed_5d", _v3_a(64)),
    ("Mixed_6a", V3_REDUCTION_35),
    ("Mixed_6b", _v3_c(128)), ("Mixed_6c", _v3_c(160)), ("Mixed_6d", _v3_c(160)),
    ("Mixed_6e", _v3_c(192)),
    ("Mixed_7a", V3_REDUCTION_17),
    ("Mixed_7b", V3_E), ("Mixed_7c", V3_E),
]


# -- Inception-v4 and Inception-ResNet (Szegedy et al. 2016). Branch order and the order of
#    the 1×7/7×1 pairs are those of the authors' released TF-slim code (and timm), whose
#    weights therefore map one to one; the figures draw some pairs the other way round.
def _reduction_a(k: int, l: int, m: int, n: int) -> dict:  # Figure 7, Table 1
    return {"branch0": [f"{n} 3x3/2 V"],
            "branch1": [f"{k} 1x1", f"{l} 3x3", f"{m} 3x3/2 V"],
            "branch2": ["max 3x3/2 V"]}


V4_STEM = [  # Figure 3: 299×299×3 → 35×35×384
    ("Conv2d_1a_3x3", "32 3x3/2 V"),
    ("Conv2d_2a_3x3", "32 3x3 V"),
    ("Conv2d_2b_3x3", "64 3x3"),
    ("Mixed_3a", {"branch0": ["max 3x3/2 V"], "branch1": ["96 3x3/2 V"]}),
    ("Mixed_4a", {"branch0": ["64 1x1", "96 3x3 V"],
                  "branch1": ["64 1x1", "64 1x7", "64 7x1", "96 3x3 V"]}),
    ("Mixed_5a", {"branch0": ["192 3x3/2 V"], "branch1": ["max 3x3/2 V"]}),
]
V4_A = {"branch0": ["96 1x1"],  # Figure 4
        "branch1": ["64 1x1", "96 3x3"],
        "branch2": ["64 1x1", "96 3x3", "96 3x3"],
        "branch3": ["avg 3x3", "96 1x1"]}
V4_B = {"branch0": ["384 1x1"],  # Figure 5
        "branch1": ["192 1x1", "224 1x7", "256 7x1"],
        "branch2": ["192 1x1", "192 7x1", "224 1x7", "224 7x1", "256 1x7"],
        "branch3": ["avg 3x3", "128 1x1"]}
V4_REDUCTION_B = {"branch0": ["192 1x1", "192 3x3/2 V"],  # Figure 8
                  "branch1": ["256 1x1", "256 1x7", "320 7x1", "320 3x3/2 V"],
                  "branch2": ["max 3x3/2 V"]}
V4_C = {"branch0": ["256 1x1"],  # Figure 6
        "branch1": ["384 1x1", ("256 1x3", "256 3x1")],
        "branch2": ["384 1x1", "448 3x1", "512 1x3", ("256 1x3", "256 3x1")],
        "branch3": ["avg 3x3", "256 1x1"]}

INCEPTION_V4 = [  # Figure 9
    *V4_STEM,
    *[(f"Mixed_5{c}", V4_A) for c in "bcde"],
    ("Mixed_6a", _reduction_a(192, 224, 256, 384)),
    *[(f"Mixed_6{c}", V4_B) for c in "bcdefgh"],
    ("Mixed_7a", V4_REDUCTION_B),
    *[(f"Mixed_7{c}", V4_C) for c in "bcd"],
]


def inception_resnet_v1_layers(scales) -> list:
    """Inception-ResNet-v1 (Figure 15: stem, 5 × A, Reduction-A, 10 × B, Reduction-B,
    5 × C) as the paper's Figures 10–14 give it; the authors released no v1 network."""
    a, b, c = scales
    block_a = {"branch0": ["32 1x1"],  # Figure 10
               "branch1": ["32 1x1", "32 3x3"],
               "branch2": ["32 1x1", "32 3x3", "32 3x3"]}
    block_b = {"branch0": ["128 1x1"],  # Figure 11
               "branch1": ["128 1x1", "128 1x7", "128 7x1"]}
    block_c = {"branch0": ["192 1x1"],  # Figure 13
               "branch1": ["192 1x1", "192 1x3", "192 3x1"]}
    return [
        ("Conv2d_1a_3x3", "32 3x3/2 V"),  # Figure 14: 299×299×3 → 35×35×256
        ("Conv2d_2a_3x3", "32 3x3 V"),
        ("Conv2d_2b_3x3", "64 3x3"),
        ("MaxPool_3a_3x3", "max 3x3/2 V"),
        ("Conv2d_3b_1x1", "80 1x1"),
        ("Conv2d_4a_3x3", "192 3x3 V"),
        ("Conv2d_4b_3x3", "256 3x3/2 V"),
        ("Repeat", [Residual(block_a, a)] * 5),
        ("Mixed_6a", _reduction_a(192, 192, 256, 384)),  # Table 1 → 17×17×896
        ("Repeat_1", [Residual(block_b, b)] * 10),
        ("Mixed_7a", {"branch0": ["256 1x1", "384 3x3/2 V"],  # Figure 12 → 8×8×1792
                      "branch1": ["256 1x1", "256 3x3/2 V"],
                      "branch2": ["256 1x1", "256 3x3", "256 3x3/2 V"],
                      "branch3": ["max 3x3/2 V"]}),
        ("Repeat_2", [Residual(block_c, c)] * 5),
    ]


BLOCK_8 = {"branch0": ["192 1x1"],  # Figure 19
           "branch1": ["192 1x1", "224 1x3", "256 3x1"]}


def inception_resnet_v2_layers(scales) -> list:
    """Inception-ResNet-v2 as the authors released it (TF-slim, and timm): the blocks of
    Figures 16–19 and Table 1's Reduction-A, on Inception v3's stem with a 35×35 module
    (320 channels), with 10 / 20 / 10 blocks and 320 / 1088 / 2080 channels, the last
    block unscaled and without ReLU, then a 1×1 conv to 1536."""
    a, b, c = scales
    return [
        ("Conv2d_1a_3x3", "32 3x3/2 V"),
        ("Conv2d_2a_3x3", "32 3x3 V"),
        ("Conv2d_2b_3x3", "64 3x3"),
        ("MaxPool_3a_3x3", "max 3x3/2 V"),
        ("Conv2d_3b_1x1", "80 1x1"),
        ("Conv2d_4a_3x3", "192 3x3 V"),
        ("MaxPool_5a_3x3", "max 3x3/2 V"),
        ("Mixed_5b", {"branch0": ["96 1x1"],
                      "branch1": ["48 1x1", "64 5x5"],
                      "branch2": ["64 1x1", "96 3x3", "96 3x3"],
                      "branch3": ["avg 3x3", "64 1x1"]}),
        ("Repeat", [Residual({"branch0": ["32 1x1"],  # Figure 16
                              "branch1": ["32 1x1", "32 3x3"],
                              "branch2": ["32 1x1", "48 3x3", "64 3x3"]}, a)] * 10),
        ("Mixed_6a", _reduction_a(256, 256, 384, 384)),  # Table 1
        ("Repeat_1", [Residual({"branch0": ["192 1x1"],  # Figure 17
                                "branch1": ["128 1x1", "160 1x7", "192 7x1"]}, b)] * 20),
        ("Mixed_7a", {"branch0": ["256 1x1", "384 3x3/2 V"],  # Figure 18
                      "branch1": ["256 1x1", "288 3x3/2 V"],
                      "branch2": ["256 1x1", "288 3x3", "320 3x3/2 V"],
                      "branch3": ["max 3x3/2 V"]}),
        ("Repeat_2", [Residual(BLOCK_8, c)] * 9),
        ("Block8", Residual(BLOCK_8, 1.0, relu=False)),
        ("Conv2d_7b_1x1", "1536 1x1"),
    ]



def _residual_scales(residual_scale) -> tuple[float, float, float]:
    """One factor for all three block types, or one each for A, B and C."""
    scales = ((residual_scale,) * 3 if isinstance(residual_scale, (int, float))
              else tuple(residual_scale))
    if len(scales) != 3 or not all(isinstance(s, (int, float)) and 0 < s <= 1 for s in scales):
        raise ValueError(
            "residual_scale must be a factor in (0, 1] or three of them (blocks A, B, C); "
            f"the paper recommends 0.1 to 0.3 (Szegedy et al. 2016, §3.3), got {residual_scale!r}")
    return tuple(float(s) for s in scales)


# Smallest input sides (tests/test_inception.py checks that one pixel less fails). The valid
# convolutions and pools of the stems and the two reductions take 75 down to 1×1:
# 75 → 37 → 35 → 17 → 15 → 7 → 3 → 1. Inception v3's auxiliary head needs the 17×17 grid
# of a 299 input (its 5×5/3 pool, then a 5×5 valid convolution).
MIN_SIZE = 75
V3_AUX_MIN_SIZE = 299


@register_model(
    "inception_v3",
    family="inception",
    paper=V3_PAPER,
    input_size=(3, 299, 299),
    description="Inception v3 with factorised n×1/1×n convolutions, grid reductions and one "
    "auxiliary head; torchvision's layout and keys.",
    figures=[
        Figure("params", 27_161_264, "torchvision Inception_V3_Weights.IMAGENET1K_V1 meta"),
        Figure("macs", 5.713e9, "torchvision Inception_V3_Weights.IMAGENET1K_V1 meta (_ops)"),
        Figure("top1", 77.294, "torchvision Inception_V3_Weights.IMAGENET1K_V1 meta"),
        Figure("top5", 93.450, "torchvision Inception_V3_Weights.IMAGENET1K_V1 meta"),
        Figure("top1", 78.8, "Szegedy et al. 2015, Table 3 (Inception-v3, single crop: "
               "21.2% top-1 error, on the 48,238 non-blacklisted validation images)"),
        Figure("top5", 94.4, "Szegedy et al. 2015, Table 3 (5.6% top-5 error)"),
    ],
    layout="torchvision",
)
def inception_v3(*, num_classes: int = 1000, in_chans: int = 3, aux_logits: bool = True,
                 dropout: float = 0.5, transform_input: bool = False) -> InceptionNet:
    """Inception v3 (Szegedy et al. 2015): the stem of Table 1 (as released, see
    ``INCEPTION_V3``), three 35×35 modules (Figure 5), a grid reduction (Figure 10), four
    17×17 modules (Table 1 says five) with 1×7/7×1
    factorisation (Figure 6), a grid reduction, two 8×8 modules with expanded filter banks
    (Figure 7), average pool, dropout, linear; the auxiliary classifier on the 17×17 grid
    (§4), with batch norm, is reached through ``forward_train`` (``aux_logits``).

    The layout, keys and numbers are torchvision's ``inception_v3(aux_logits=True,
    init_weights=True)``, which follow Google's released network: its state_dict loads and
    gives the same logits; 27,161,264 parameters with the auxiliary head, 23,834,568
    without. ``transform_input`` is torchvision's option (off without weights; pass True
    with its IMAGENET1K_V1 weights). ``dropout`` is torchvision's 0.5.

    With the auxiliary head the network takes inputs of at least 299×299 (the head's 5×5/3
    pool and 5×5 valid convolution need the 17×17 grid); without it, at least 75×75.

    Training recipe, for the trainer (not part of the model): label smoothing with
    ε = 0.1 (§7, "label-smoothing regularization"); RMSProp with decay 0.9 and ε = 1.0,
    learning rate 0.045 decayed by 0.94 every two epochs, gradient clipping at 2.0 (§8).
    ``aux_loss_weight`` is 0.4, the weight of the authors' TF-slim training script (the
    paper gives none).
    """
    model = inception_net(
        INCEPTION_V3, num_classes=num_classes, in_chans=in_chans, dropout=dropout,
        min_input_size=(V3_AUX_MIN_SIZE,) * 2 if aux_logits else (MIN_SIZE,) * 2,
        aux_after="Mixed_6e" if aux_logits else None, aux_loss_weight=0.4,
        transform_input=transform_input)
    init_weights_trunc_normal(model, std=0.1)  # torchvision: 0.1; 0.01 and 0.001 in the head
    if aux_logits:
        nn.init.trunc_normal_(model.AuxLogits.conv1.conv.weight, std=0.01, a=-2, b=2)
        nn.init.trunc_normal_(model.AuxLogits.fc.weight, std=0.001, a=-2, b=2)
    return model


def _v4_family(layers, num_classes: int, in_chans: int, dropout: float) -> InceptionNet:
    """Inception-v4 and Inception-ResNet: TF-style average pools that do not count the
    padding, dropout with keep probability 0.8 (Figures 9 and 15), He initialisation (the
    paper does not give its initialisation)."""
    model = inception_net(layers, num_classes=num_classes, in_chans=in_chans, dropout=dropout,
                          min_input_size=(MIN_SIZE, MIN_SIZE), count_include_pad=False)
    init_weights_kaiming(model)
    return model


# The arXiv text's numbering (the AAAI one numbers its tables and figures differently); its
# single-crop figures are "reported on the non-blacklisted subset" of the validation set.
V4_FIGURE = "Szegedy et al. 2016, arXiv Table 2 (single crop, single model, non-blacklisted images)"


@register_model(
    "inception_v4",
    family="inception",
    paper=V4_PAPER,
    input_size=(3, 299, 299),
    description="Inception-v4: Figure 3's stem, 4 × Inception-A, Reduction-A, 7 × "
    "Inception-B, Reduction-B, 3 × Inception-C.",
    figures=[
        Figure("params", 42_679_816, "timm inception_v4, 1000 classes"),
        Figure("top1", 80.0, f"{V4_FIGURE}: 20.0% top-1 error"),
        Figure("top5", 95.0, f"{V4_FIGURE}: 5.0% top-5 error"),
    ],
)
def inception_v4(*, num_classes: int = 1000, in_chans: int = 3,
                 dropout: float = 0.2) -> InceptionNet:
    """Inception-v4 (Szegedy et al. 2016, Figure 9): the stem of Figure 3 (299×299×3 →
    35×35×384), 4 × Inception-A (Figure 4), Reduction-A (Figure 7 with Table 1's k, l, m,
    n = 192, 224, 256, 384), 7 × Inception-B (Figure 5), Reduction-B (Figure 8),
    3 × Inception-C (Figure 6), average pool, dropout (keep 0.8), linear: 42,679,816
    parameters, timm's count. Branch and 1×7/7×1 order follow the authors' TF-slim release,
    so timm's weights map layer for layer."""
    return _v4_family(INCEPTION_V4, num_classes, in_chans, dropout)


@register_model(
    "inception_resnet_v1",
    family="inception",
    paper=V4_PAPER,
    input_size=(3, 299, 299),
    description="Inception-ResNet-v1 from the paper's Figures 10–15: 5 × A, 10 × B, 5 × C "
    "residual Inception blocks with scaled residuals.",
    figures=[
        Figure("top1", 78.7, f"{V4_FIGURE}: 21.3% top-1 error"),
        Figure("top5", 94.5, f"{V4_FIGURE}: 5.5% top-5 error"),
    ],
)
def inception_resnet_v1(*, num_classes: int = 1000, in_chans: int = 3, dropout: float = 0.2,
                        residual_scale=(0.17, 0.10, 0.20)) -> InceptionNet:
    """Inception-ResNet-v1 (Szegedy et al. 2016, Figure 15): the stem of Figure 14
    (299×299×3 → 35×35×256), 5 × Inception-ResNet-A (Figure 10), Reduction-A (Table 1:
    k, l, m, n = 192, 192, 256, 384 → 17×17×896), 10 × Inception-ResNet-B (Figure 11),
    Reduction-B (Figure 12 → 8×8×1792), 5 × Inception-ResNet-C (Figure 13), average pool,
    dropout (keep 0.8), linear.

    Each block adds its 1×1 "linear" projection, scaled by ``residual_scale`` (§3.3,
    Figure 20: "between 0.1 and 0.3"), to its input. One factor, or one each for the A, B
    and C blocks; the default is the authors' choice in their released Inception-ResNet-v2
    (0.17, 0.10, 0.20). 1.0 is the unscaled network.

    No reference implementation exists (Google released only v2); the filter numbers are
    the figures', and the tests check the channel and grid sizes the figures print."""
    layers = inception_resnet_v1_layers(_residual_scales(residual_scale))
    return _v4_family(layers, num_classes, in_chans, dropout)


@register_model(
    "inception_resnet_v2",
    family="inception",
    paper=V4_PAPER,
    input_size=(3, 299, 299),
    description="Inception-ResNet-v2 as the authors released it (TF-slim, timm): 10 × A, "
    "20 × B, 10 × C residual Inception blocks with scaled residuals.",
    figures=[
        Figure("params", 55_843_464, "timm inception_resnet_v2, 1000 classes"),
        Figure("top1", 80.1, f"{V4_FIGURE}: 19.9% top-1 error"),
        Figure("top5", 95.1, f"{V4_FIGURE}: 4.9% top-5 error"),
    ],
)
def inception_resnet_v2(*, num_classes: int = 1000, in_chans: int = 3, dropout: float = 0.2,
                        residual_scale=(0.17, 0.10, 0.20)) -> InceptionNet:
    """Inception-ResNet-v2 (Szegedy et al. 2016) as the authors released it in TF-slim --
    the network of their published checkpoint, and timm's ``inception_resnet_v2``
    (55,843,464 parameters): the blocks of Figures 16 (A), 17 (B), 19 (C) and 18
    (Reduction-B), Table 1's Reduction-A (k, l, m, n = 256, 256, 384, 384), residuals
    scaled by ``residual_scale`` (one factor, or one each for A, B, C; default 0.17, 0.10,
    0.20 as released; §3.3 recommends 0.1–0.3), average pool, dropout (keep 0.8), linear.

    The paper's own figures cannot be built as drawn: Figure 17's block projects to 1154
    channels, so Reduction-B (Figure 18) gives 1154 + 384 + 288 + 320 = 2146 channels,
    while Figure 19's block adds a 2048-channel projection to its input. The release
    resolves this with 320 / 1088 / 2080 channels, Inception v3's stem with a 35×35
    Inception module (Mixed_5b) in place of Figure 3's stem, 10 / 20 / 10 blocks in place
    of Figure 15's 5 / 10 / 5 (the last C block unscaled and without ReLU), and a 1×1
    convolution to 1536 channels before the pool; this is that network."""
    layers = inception_resnet_v2_layers(_residual_scales(residual_scale))
    return _v4_family(layers, num_classes, in_chans, dropout)
