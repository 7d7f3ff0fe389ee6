"""GoogLeNet (Inception v1) and BN-Inception.

* ``googlenet``: Szegedy et al. 2014, "Going deeper with convolutions" -- Table 1 for the
  layers, Figure 3 for the stem's local response normalisation, §5 for the auxiliary
  classifiers. No batch norm.
* ``googlenet_tv``: torchvision's ``googlenet`` layout (batch norm, a 3×3 convolution in
  the "5×5" branch, a 2×2 pool before 5a), with its state_dict keys.
* ``bn_inception``: Ioffe & Szegedy 2015, "Batch normalization", Figure 5 (the Inception
  network with batch norm after every convolution and each 5×5 replaced by two 3×3).

All three are one :class:`GoogLeNet` read from a table; the Inception module is one class,
:class:`Inception`, whose convolution block (with or without batch norm) and "wide" branch
(5×5, 3×3 or 3×3→3×3) are options.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import partial

import torch
from torch import Tensor, nn

from ..layers import LocalResponseNorm, init_weights_kaiming
from ..registry import Figure, Paper, register_model
from .base import Classifier

__all__ = [
    "BasicConv2d", "SeparableConv2d", "Inception", "InceptionAux", "InceptionNet", "GoogLeNet",
    "imagenet_to_inception", "init_weights_trunc_normal",
]

GOOGLENET_PAPER = Paper(
    title="Going Deeper with Convolutions",
    authors="Christian Szegedy, Wei Liu, Yangqing Jia, Pierre Sermanet, Scott Reed, "
    "Dragomir Anguelov, Dumitru Erhan, Vincent Vanhoucke and Andrew Rabinovich",
    year=2014,
    venue="CVPR 2015",
    arxiv="1409.4842",
)
BN_PAPER = Paper(
    title="Batch Normalization: Accelerating Deep Network Training by Reducing Internal "
    "Covariate Shift",
    authors="Sergey Ioffe and Christian Szegedy",
    year=2015,
    venue="ICML 2015",
    arxiv="1502.03167",
)

# Szegedy et al. 2014, Table 1: the nine Inception modules, in the paper's column order
#   name, #1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj
# A 3×3/2 max pool stands before the first module of stages 4 and 5.
GOOGLENET_TABLE = (
    ("3a", 64, 96, 128, 16, 32, 32),
    ("3b", 128, 128, 192, 32, 96, 64),
    ("4a", 192, 96, 208, 16, 48, 64),
    ("4b", 160, 112, 224, 24, 64, 64),
    ("4c", 128, 128, 256, 24, 64, 64),
    ("4d", 112, 144, 288, 32, 64, 64),
    ("4e", 256, 160, 320, 32, 128, 128),
    ("5a", 256, 160, 320, 32, 128, 128),
    ("5b", 384, 192, 384, 48, 128, 128),
)

# Ioffe & Szegedy 2015, Figure 5, in the paper's column order
#   name, stride, #1×1, #3×3 reduce, #3×3, double #3×3 reduce, double #3×3, pool, proj
# proj 0 is the table's "pass through" (the pooled input itself). The stride-2 modules 3c
# and 4e halve the grid; there are no pools between stages.
BN_INCEPTION_TABLE = (
    ("3a", 1, 64, 64, 64, 64, 96, "avg", 32),
    ("3b", 1, 64, 64, 96, 64, 96, "avg", 64),
    ("3c", 2, 0, 128, 160, 64, 96, "max", 0),
    ("4a", 1, 224, 64, 96, 96, 128, "avg", 128),
    ("4b", 1, 192, 96, 128, 96, 128, "avg", 128),
    ("4c", 1, 160, 128, 160, 128, 160, "avg", 128),
    ("4d", 1, 96, 128, 192, 160, 192, "avg", 128),
    ("4e", 2, 0, 128, 192, 192, 256, "max", 0),
    ("5a", 1, 352, 192, 320, 160, 224, "avg", 128),
    ("5b", 1, 352, 192, 320, 192, 224, "max", 128),
)


class BasicConv2d(nn.Module):
    """Convolution, batch norm (optional), ReLU -- torchvision's Inception block, with its
    keys ``conv`` and ``bn``. With batch norm the convolution has no bias (BN's shift
    replaces it; Ioffe & Szegedy 2015, §3.2) and ε = 0.001, as in torchvision and the
    authors' TF-slim releases; without it (GoogLeNet as published) it has a bias."""

    def __init__(self, in_chans: int, out_chans: int, kernel_size, stride=1, padding=0, *,
                 batch_norm: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(in_chans, out_chans, kernel_size, stride, padding,
                              bias=not batch_norm)
        self.bn = nn.BatchNorm2d(out_chans, eps=1e-3) if batch_norm else None
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return self.relu(x)


class SeparableConv2d(nn.Sequential):
    """A k×k depthwise convolution with ``multiplier`` filters per input channel, then a 1×1
    convolution, batch norm and ReLU: BN-Inception's first layer as its appendix gives it
    ("separable convolution with depth multiplier 8 on the first convolutional layer")."""

    def __init__(self, in_chans: int, out_chans: int, kernel_size, stride, padding, *, multiplier: int = 8,
                 batch_norm: bool = True):
        super().__init__(OrderedDict(
            depthwise=nn.Conv2d(in_chans, in_chans * multiplier, kernel_size, stride, padding,
                                groups=in_chans, bias=False),
            pointwise=BasicConv2d(in_chans * multiplier, out_chans, 1, batch_norm=batch_norm)))


class Inception(nn.Module):
    """The Inception module (Szegedy et al. 2014, Figure 2b): four branches, concatenated
    along channels in this order --

    * ``branch1``: 1×1 (absent when ``ch1x1`` is 0, as in BN-Inception's 3c and 4e);
    * ``branch2``: 1×1 reduction → 3×3;
    * ``branch3``: 1×1 reduction → the ``wide`` convolutions: ``(5,)`` in the paper,
      ``(3,)`` in torchvision, ``(3, 3)`` in BN-Inception (two 3×3 in place of a 5×5);
    * ``branch4``: 3×3 max or average pool → 1×1 projection (``pool_proj`` 0: the pooled
      input itself, BN-Inception's "pass through").

    With ``stride`` 2 the last convolution of branches 2 and 3 and the pool have stride 2
    and padding 1, so all branches give the same grid at any input size.
    """

    def __init__(self, in_chans: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int,
                 ch5x5: int, pool_proj: int, *, conv=BasicConv2d, wide=(5,), pool="max",
                 stride: int = 1):
        super().__init__()
        self.branch1 = conv(in_chans, ch1x1, 1) if ch1x1 else None
        self.branch2 = nn.Sequential(conv(in_chans, ch3x3red, 1),
                                     conv(ch3x3red, ch3x3, 3, stride, 1))
        widths = [ch5x5red] + [ch5x5] * len(wide)
        strides = [1] * (len(wide) - 1) + [stride]
        self.branch3 = nn.Sequential(conv(in_chans, ch5x5red, 1), *(
            conv(c_in, c_out, k, s, k // 2)
            for c_in, c_out, k, s in zip(widths, widths[1:], wide, strides)))
        pooling = nn.MaxPool2d(3, stride, 1) if pool == "max" else nn.AvgPool2d(3, stride, 1)
        self.branch4 = (nn.Sequential(pooling, conv(in_chans, pool_proj, 1)) if pool_proj
                        else pooling)
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + (pool_proj or in_chans)

    def forward(self, x: Tensor) -> Tensor:
        branches = (self.branch1, self.branch2, self.branch3, self.branch4)
        return torch.cat([b(x) for b in branches if b is not None], 1)


class InceptionAux(nn.Module):
    """GoogLeNet's auxiliary classifier (Szegedy et al. 2014, §5): average pooling to 4×4
    (``pool``: the paper's 5×5/3 on the 14×14 grid; torchvision pools adaptively), a 1×1
    convolution with 128 filters and ReLU, a 1024-unit fully connected layer with ReLU,
    dropout 0.7 and a linear layer ``fc2``."""

    classifier = "fc2"

    def __init__(self, in_chans: int, num_classes: int, *, conv, pool: nn.Module):
        super().__init__()
        self.pool = pool
        self.conv = conv(in_chans, 128, 1)
        self.fc1 = nn.Linear(128 * 4 * 4, 1024)
        self.relu = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout(0.7)
        self.fc2 = nn.Linear(1024, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv(self.pool(x)).flatten(1)
        return self.fc2(self.dropout(self.relu(self.fc1(x))))


def imagenet_to_inception(x: Tensor) -> Tensor:
    """torchvision's ``transform_input``: map an input normalised with ImageNet's mean and
    std to the (x - 0.5) / 0.5 scaling that Google's ported weights expect, with the same
    arithmetic channel by channel, so that the results are bit-identical."""
    if x.shape[1] != 3:
        raise ValueError(f"transform_input needs RGB input (3 channels), got {x.shape[1]}")
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    return torch.cat([x[:, i : i + 1] * (s / 0.5) + (m - 0.5) / 0.5
                      for i, (m, s) in enumerate(zip(mean, std))], 1)


class InceptionNet(Classifier):
    """The shape every network of the Inception family shares: named ``layers`` run in
    order, global average pooling, dropout and a linear layer ``fc``. Auxiliary heads sit
    among the layers; ``aux_taps`` maps the layer each one reads to the head's name, and
    only ``forward_train`` computes them. ``transform_input`` is torchvision's option (see
    :func:`imagenet_to_inception`)."""

    def __init__(self, layers, *, num_features: int, num_classes: int, in_chans: int,
                 input_size: tuple[int, int], min_input_size, dropout: float,
                 aux_taps: dict[str, str] | None = None, aux_loss_weight: float = 0.0,
                 transform_input: bool = False):
        super().__init__(num_classes=num_classes, in_chans=in_chans, input_size=input_size,
                         min_input_size=min_input_size, classifier="fc")
        for name, layer in layers:
            self.add_module(name, layer)
        self.aux_taps = dict(aux_taps or {})
        self.stages = [name for name, _ in layers if name not in self.aux_taps.values()]
        self.aux_loss_weight = aux_loss_weight if self.aux_taps else 0.0
        self.transform_input = transform_input
        self.num_features = num_features
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(num_features, num_classes)

    def _run(self, x: Tensor, with_aux: bool) -> tuple[Tensor, list[Tensor]]:
        if self.transform_input:
            x = imagenet_to_inception(x)
        aux = []
        for name in self.stages:
            x = getattr(self, name)(x)
            if with_aux and name in self.aux_taps:
                aux.append(getattr(self, self.aux_taps[name])(x))
        return x, aux

    def _features(self, x: Tensor) -> Tensor:
        return self._run(x, with_aux=False)[0]

    def forward_head(self, features: Tensor) -> Tensor:
        return self.fc(self.dropout(self.avgpool(features).flatten(1)))

    def forward_train(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Main logits and the auxiliary heads' logits in network order (an empty list
        without heads); the training loss adds the heads' with ``aux_loss_weight``."""
        self.check_input(x)
        features, aux = self._run(x, with_aux=True)
        return self.forward_head(features), aux

    def reset_classifier(self, num_classes: int) -> None:
        super().reset_classifier(num_classes)
        for head in self.aux_taps.values():
            self._replace_layer(f"{head}.{getattr(self, head).classifier}", num_classes)


class GoogLeNet(InceptionNet):
    """The stem, the Inception ``modules`` -- (name, table row, options) in order, with a
    max pool of kernel ``stage_pools[i]`` before the first module of stages 4 and 5 when
    given --, global average pooling, dropout, linear; with ``aux_logits`` the heads
    ``aux1`` and ``aux2`` after 4a and 4d.

    The global average pool is the paper's "avg pool 7×7/1" at 224×224 input; it lets the
    network without auxiliary heads take smaller inputs too.
    """

    def __init__(self, modules, *, num_classes: int, in_chans: int, batch_norm: bool,
                 lrn: bool, wide, stage_pools, dropout: float, aux_logits: bool,
                 aux_pool=None, transform_input: bool = False, min_input_size, separable_stem: bool = False):
        conv = partial(BasicConv2d, batch_norm=batch_norm)
        norm = [LocalResponseNorm(5, 2e-5, 0.75, 1.0) for _ in range(2)] if lrn else []
        stem = (SeparableConv2d(in_chans, 64, 7, 2, 3, batch_norm=batch_norm)
                if separable_stem
                else conv(in_chans, 64, 7, 2, 3))
        layers = [("conv1", stem),
                  ("maxpool1", nn.MaxPool2d(3, 2, ceil_mode=True)),
                  *[("lrn1", n) for n in norm[:1]],
                  ("conv2", conv(64, 64, 1)),
                  ("conv3", conv(64, 192, 3, 1, 1)),
                  *[("lrn2", n) for n in norm[1:]],
                  ("maxpool2", nn.MaxPool2d(3, 2, ceil_mode=True))]
        pools, channels, aux_taps = list(stage_pools or ()), 192, {}
        for name, row, options in modules:
            if pools and name[1] == "a" and name != "3a":
                pool = nn.MaxPool2d(pools.pop(0), 2, ceil_mode=True)
                layers.append((f"maxpool{int(name[0]) - 1}", pool))
            module = Inception(channels, *row, conv=conv, wide=wide, **options)
            layers.append((f"inception{name}", module))
            channels = module.out_channels
            if aux_logits and name in ("4a", "4d"):
                head = aux_taps[f"inception{name}"] = f"aux{len(aux_taps) + 1}"
                layers.append((head, InceptionAux(channels, num_classes, conv=conv,
                                                  pool=aux_pool or nn.AvgPool2d(5, 3))))
        super().__init__(layers, num_features=channels, num_classes=num_classes,
                         in_chans=in_chans, input_size=(224, 224),
                         min_input_size=min_input_size, dropout=dropout, aux_taps=aux_taps,
                         aux_loss_weight=0.3,  # Szegedy et al. 2014, §5
                         transform_input=transform_input)


def init_weights_trunc_normal(model: nn.Module, std: float) -> nn.Module:
    """torchvision's GoogLeNet and Inception v3 initialisation: truncated normal weights
    (standard deviation ``std``, cut at ±2) for convolutions and linear layers, ones and
    zeros for batch norm."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.trunc_normal_(m.weight, mean=0.0, std=std, a=-2, b=2)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return model


# The smallest input side each network takes (tests/test_googlenet.py checks that one pixel
# less fails). GoogLeNet: 31 → 16 → 8 → 4 → 2 after the stem's and stage 3's pools, and the
# 3×3/2 pool before 5a needs 2; torchvision's 2×2 pool there takes 1, hence 15 (its weights'
# meta says min_size 15×15 too); BN-Inception's padded stride-2 modules reach 1×1 from 7.
GOOGLENET_MIN = 31
GOOGLENET_TV_MIN = 15
BN_INCEPTION_MIN = 7


@register_model(
    "googlenet",
    family="inception",
    paper=GOOGLENET_PAPER,
    input_size=(3, 224, 224),
    description="GoogLeNet as published: Table 1 with 5×5 branches, LRN in the stem, no batch "
    "norm, dropout 0.4, two auxiliary classifiers (loss weight 0.3) through forward_train.",
    figures=[Figure("top5", 89.93, "Szegedy et al. 2014, Table 3 (1 model, 1 crop: "
                    "10.07% top-5 error)")],
)
def googlenet(*, num_classes: int = 1000, in_chans: int = 3, aux_logits: bool = True,
              dropout: float = 0.4) -> GoogLeNet:
    """GoogLeNet (Szegedy et al. 2014) as Table 1 and Figure 3 give it: 7×7/2 convolution,
    3×3/2 max pool, LRN, 1×1 and 3×3 convolutions, LRN, 3×3/2 max pool, Inception 3a–3b,
    max pool, 4a–4e, max pool, 5a–5b, average pool, dropout 0.4 (Table 1), linear. Every
    convolution has a bias and a ReLU; there is no batch norm.

    The auxiliary classifiers after 4a and 4d (§5: 5×5/3 average pool, 1×1 conv 128, fc
    1024, dropout 0.7, linear) are reached through ``forward_train`` and weighted 0.3 in
    the loss (``aux_loss_weight``); ``forward`` never computes them. With them the network
    takes exactly 224×224 (the 5×5/3 pool and the 2048-input fc fix the 14×14 grid after
    4a); with ``aux_logits=False``, any input of at least ``min_input_size``.

    The paper gives no LRN constants; those of BVLC's Caffe replication (bvlc_googlenet:
    size 5, α = 1e-4 divided by the size, β = 0.75, k = 1) are used, and its ceil-mode
    pools, which give the table's grids 112, 56, 28, 14 and 7. Weights are initialised
    with He's scheme (the paper does not give its initialisation).
    """
    modules = [(name, row, {}) for name, *row in GOOGLENET_TABLE]
    return init_weights_kaiming(GoogLeNet(
        modules, num_classes=num_classes, in_chans=in_chans, batch_norm=False, lrn=True,
        wide=(5,), stage_pools=(3, 3), dropout=dropout, aux_logits=aux_logits,
        min_input_size=None if aux_logits else (GOOGLENET_MIN, GOOGLENET_MIN)))


@register_model(
    "googlenet_tv",
    family="inception",
    paper=GOOGLENET_PAPER,
    input_size=(3, 224, 224),
    description="torchvision's GoogLeNet: batch norm, 3×3 in the '5×5' branch, its "
    "state_dict keys; torchvision's weights load unchanged.",
    figures=[
        Figure("params", 6_624_904, "torchvision GoogLeNet_Weights.IMAGENET1K_V1 meta "
               "(without auxiliary heads)"),
        Figure("macs", 1.498e9, "torchvision GoogLeNet_Weights.IMAGENET1K_V1 meta (_ops)"),
        Figure("top1", 69.778, "torchvision GoogLeNet_Weights.IMAGENET1K_V1 meta"),
        Figure("top5", 89.530, "torchvision GoogLeNet_Weights.IMAGENET1K_V1 meta"),
    ],
    layout="torchvision",
)
def googlenet_tv(*, num_classes: int = 1000, in_chans: int = 3, aux_logits: bool = True,
                 dropout: float = 0.2, transform_input: bool = False) -> GoogLeNet:
    """torchvision's ``googlenet``: the keys and numbers of
    ``torchvision.models.googlenet(aux_logits=True, init_weights=True)``, so its state_dict
    (and the IMAGENET1K_V1 weights) load unchanged and give the same logits.

    It differs from the paper: batch norm after every convolution and no LRN, a 3×3
    convolution where the paper has 5×5 (torchvision issue #906), a 2×2/2 max pool before
    5a, adaptive 4×4 pooling in the auxiliary heads, dropout 0.2. 6,624,904 parameters
    without the auxiliary heads.

    ``transform_input`` is torchvision's option of that name: off by default, as
    torchvision has it when built without weights; torchvision turns it on for its
    pretrained weights, so pass ``transform_input=True`` with them (inputs normalised with
    ImageNet's mean and std). The auxiliary heads pool adaptively, so the network takes any
    input of at least ``min_input_size`` with or without them.
    """
    modules = [(name, row, {}) for name, *row in GOOGLENET_TABLE]
    return init_weights_trunc_normal(GoogLeNet(
        modules, num_classes=num_classes, in_chans=in_chans, batch_norm=True, lrn=False,
        wide=(3,), stage_pools=(3, 2), dropout=dropout, aux_logits=aux_logits,
        aux_pool=nn.AdaptiveAvgPool2d(4), transform_input=transform_input,
        min_input_size=(GOOGLENET_TV_MIN, GOOGLENET_TV_MIN)), std=0.01)


@register_model(
    "bn_inception",
    family="inception",
    paper=BN_PAPER,
    input_size=(3, 224, 224),
    description="BN-Inception (Inception v2): Figure 5's table, batch norm after every "
    "convolution, two 3×3 in place of each 5×5, stride-2 modules 3c and 4e.",
    figures=[
        Figure("top1", 74.8, "Ioffe & Szegedy 2015, Figure 4 (BN-Inception single crop: "
               "25.2% top-1 error)"),
        Figure("top5", 92.18, "Ioffe & Szegedy 2015, Figure 4 (BN-Inception single crop: "
               "7.82% top-5 error)"),
    ],
)
def bn_inception(*, num_classes: int = 1000, in_chans: int = 3,
                 dropout: float = 0.0, separable_stem: bool = False) -> GoogLeNet:
    """BN-Inception (Ioffe & Szegedy 2015, §4.2 and Figure 5): GoogLeNet with batch norm
    after every convolution, the 5×5 convolutions replaced by two 3×3 ("double #3×3"),
    average or max pooling per module as the table says, and the grid halved by the
    stride-2 modules 3c and 4e (no 1×1 branch, max pool with pass-through) instead of pools
    between stages. No LRN, no auxiliary heads, and no dropout by default (§4.2.1 removes
    both LRN and dropout); ``dropout`` adds it before the classifier.

    The table's output column says 576 channels after 4c and 4d and 1024 after 4e, but its
    own filter numbers add up to 608, 608 and 1056; the network follows the filter
    numbers, as the Caffe port does (``bninception`` of Cadene's pretrained-models). §4.2
    speaks of 13.6M parameters; the table's numbers give 11,285,224 (1000 classes), and
    nothing in the table accounts for the difference. The appendix's first convolution is
    separable ("convolution*": depth multiplier 8); ``separable_stem=True`` builds it so. By
    default it is a plain 7×7/2, as in the Caffe port and in the re-implementation whose
    2.03 GFLOPs Hu et al. (SENet, Table 2) report — the separable one takes 84M
    multiply-adds, 4 %, off that figure.

    The stride-2 modules pad their 3×3 pools by one like their convolutions, so the
    branches agree at any input size (the Caffe port uses unpadded ceil-mode pools, which
    give the same 14×14 and 7×7 grids at 224).
    """
    modules = [(name, (a, r, c, dr, d, proj), {"stride": s, "pool": pool})
               for name, s, a, r, c, dr, d, pool, proj in BN_INCEPTION_TABLE]
    return init_weights_kaiming(GoogLeNet(
        modules, num_classes=num_classes, in_chans=in_chans, batch_norm=True, lrn=False,
        wide=(3, 3), stage_pools=None, dropout=dropout, aux_logits=False,
        min_input_size=(BN_INCEPTION_MIN, BN_INCEPTION_MIN), separable_stem=separable_stem))
