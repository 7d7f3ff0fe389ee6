"""Network in Network (Lin, Chen & Yan 2013): mlpconv layers — a convolution followed by
1×1 convolutions, a small multilayer perceptron slid over the image (§3.1) — and global
average pooling of one confidence map per class instead of fully-connected layers (§3.2).

``nin`` is the paper's CIFAR-10 network (§4.2; layer widths from the authors' released
cuda-convnet/Caffe definition). ``nin_imagenet`` is the ImageNet layout of the textbook
(Zhang et al., Dive into Deep Learning, §8.3).
"""

from __future__ import annotations

from collections import OrderedDict

from torch import Tensor, nn

from ..layers import init_weights_kaiming
from ..registry import Figure, Paper, register_model
from .base import Classifier

__all__ = ["NiN", "MLPConv", "NIN_CIFAR10", "NIN_IMAGENET"]

# One row per mlpconv layer: (output channels of its k×k convolution and of its 1×1
# convolutions, k, stride, padding). ``None``: one map per class (the last mlpconv, §3.2).
#
# Lin et al. (2013), §4.1-4.2, on 32×32 CIFAR-10 images: three mlpconv layers, dropout 0.5 on
# the outputs of all but the last; the text puts "a spatial max pooling layer which downsamples
# the input image by a factor of two" after every mlpconv layer, the authors' released model
# only after the first two, with 3×3/2 windows (32 → 16 → 8). Followed here: the release's
# two pools, both max pools as the text says (the release averages at the second).
NIN_CIFAR10 = (
    ((192, 160, 96), 5, 1, 2),
    ((192, 192, 192), 5, 1, 2),
    ((192, 192, None), 3, 1, 1),
)
# Dive into Deep Learning, §8.3, on 224×224 images: AlexNet's first three convolutions as
# mlpconv layers, each followed by 3×3/2 max pooling (54 → 26 → 12 → 5), dropout 0.5, then a
# 3×3 mlpconv to the classes.
NIN_IMAGENET = (
    ((96, 96, 96), 11, 4, 0),
    ((256, 256, 256), 5, 1, 2),
    ((384, 384, 384), 3, 1, 1),
    ((None, None, None), 3, 1, 1),
)


class MLPConv(nn.Sequential):
    """An mlpconv layer (§3.1, eq. 2): a k×k convolution, then 1×1 convolutions, each
    followed by ReLU."""

    def __init__(self, in_chans: int, channels: tuple[int, ...], kernel_size: int,
                 stride: int = 1, padding: int = 0):
        layers: list[nn.Module] = []
        for i, out in enumerate(channels):
            first = i == 0
            layers += [
                nn.Conv2d(in_chans, out, kernel_size if first else 1, stride if first else 1,
                          padding if first else 0),
                nn.ReLU(inplace=True),
            ]
            in_chans = out
        super().__init__(*layers)


class NiN(Classifier):
    """mlpconv layers from a table, max pooling (and dropout, in the layers named by
    ``dropout_after``) between them, and global average pooling of the last layer's class
    maps into the logits. Any input size from ``min_input_size`` up works."""

    def __init__(self, table, *, num_classes: int, in_chans: int, input_size: int,
                 min_input_size: int, dropout_after: tuple[int, ...], ceil_mode: bool = False,
                 dropout: float = 0.5):
        last = f"features.mlpconv{len(table)}.{2 * (len(table[-1][0]) - 1)}"
        super().__init__(num_classes=num_classes, in_chans=in_chans,
                         input_size=(input_size, input_size),
                         min_input_size=(min_input_size, min_input_size), classifier=last)
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        c = in_chans
        for i, (channels, k, stride, padding) in enumerate(table, 1):
            channels = tuple(num_classes if ch is None else ch for ch in channels)
            layers[f"mlpconv{i}"] = MLPConv(c, channels, k, stride, padding)
            if i < len(table):
                layers[f"pool{i}"] = nn.MaxPool2d(3, 2, ceil_mode=ceil_mode)
            if i in dropout_after:
                layers[f"drop{i}"] = nn.Dropout(dropout)
            c = channels[-1]
        self.features = nn.Sequential(layers)
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        init_weights_kaiming(self)

    def _features(self, x: Tensor) -> Tensor:
        """The class confidence maps of the last mlpconv layer."""
        return self.features(x)

    def forward_head(self, features: Tensor) -> Tensor:
        return self.global_pool(features).flatten(1)


LIN_2013 = Paper(
    title="Network In Network",
    authors="M. Lin, Q. Chen and S. Yan",
    year=2013,
    venue="ICLR 2014",
    arxiv="1312.4400",
)


@register_model(
    "nin", family="nin", paper=LIN_2013, input_size=(3, 32, 32),
    description="NiN for CIFAR-10 (§4.2): three mlpconv layers (192-160-96, 192-192-192, "
    "192-192-classes), 3×3/2 max pooling and dropout 0.5 after the first two, global average "
    "pooling, no fully-connected layer",
    figures=[
        Figure("top1", 89.59, "Lin et al. 2013, Table 1 (NIN + Dropout, 10.41% test error)",
               "CIFAR-10"),
        Figure("top1", 91.19, "Lin et al. 2013, Table 1 (NIN + Dropout + Data Augmentation, "
               "8.81% test error)", "CIFAR-10 (augmented)"),
    ],
)
def nin(*, num_classes: int = 10, in_chans: int = 3, dropout: float = 0.5) -> NiN:
    """The CIFAR-10 NiN. Pooling rounds up as in the authors' Caffe model (32 → 16 → 8); the
    paper's text calls for max pooling after every mlpconv layer (the released Caffe file has
    none after the third, and averages after the second). The class maps keep their ReLU, as
    in the released model. Inputs from 8×8, which
    leave 2×2 class maps (the arithmetic would go down to 4×4, with the pooling windows
    clipped by the border of 4×4 and 2×2 maps)."""
    return NiN(NIN_CIFAR10, num_classes=num_classes, in_chans=in_chans, input_size=32,
               min_input_size=8, dropout_after=(1, 2), ceil_mode=True, dropout=dropout)


@register_model(
    "nin_imagenet", family="nin", paper=LIN_2013, input_size=(3, 224, 224),
    description="NiN in the textbook's ImageNet layout (Dive into Deep Learning §8.3): "
    "mlpconv layers of 96 (11×11/4), 256 (5×5), 384 (3×3) channels with 3×3/2 max pooling, "
    "dropout 0.5, a 3×3 mlpconv to the classes, global average pooling",
)
def nin_imagenet(*, num_classes: int = 1000, in_chans: int = 3, dropout: float = 0.5) -> NiN:
    """d2l's NiN, layer for layer (224×224 input; any input from 67×67)."""
    return NiN(NIN_IMAGENET, num_classes=num_classes, in_chans=in_chans, input_size=224,
               min_input_size=67, dropout_after=(3,), dropout=dropout)
