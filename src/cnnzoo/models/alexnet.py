"""AlexNet (Krizhevsky, Sutskever & Hinton 2012), torchvision's single-tower AlexNet, and
ZFNet (Zeiler & Fergus 2013): five convolutions, then three fully-connected layers.

One class builds all three from a table of their convolutions. ``alexnet`` is the two-tower
network of the paper: the kernels of conv2, conv4 and conv5 see only the maps on their own
GPU, which a convolution with ``groups=2`` computes exactly.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import Tensor, nn

from ..layers import LocalResponseNorm
from ..registry import Figure, Paper, register_model
from .base import Classifier

__all__ = ["AlexNet", "ALEXNET_2012", "ALEXNET_TV", "ZFNET"]

# One row per convolution: (kernels, size, stride, padding, groups, what follows its ReLU:
# "norm" local response normalisation, "pool" 3×3 max pooling with stride 2).
#
# Krizhevsky et al. (2012), §3.5 and Fig. 2. The text says the 11×11/4 kernels filter "the
# 224×224×3 input image"; the 55×55 maps it lists need 227×227 (as Caffe's model reads it):
# on 227×227 input (55, 27, 13, 13, 13, then 6×6):
# response normalisation after conv1 and conv2, overlapping pooling after both and conv5.
ALEXNET_2012 = (
    (96, 11, 4, 0, 1, ("norm", "pool")),
    (256, 5, 1, 2, 2, ("norm", "pool")),
    (384, 3, 1, 1, 1, ()),
    (384, 3, 1, 1, 2, ()),
    (256, 3, 1, 1, 2, ("pool",)),
)
# torchvision's AlexNet (after Krizhevsky 2014, "One weird trick"): one tower, no LRN.
ALEXNET_TV = (
    (64, 11, 4, 2, 1, ("pool",)),
    (192, 5, 1, 2, 1, ("pool",)),
    (384, 3, 1, 1, 1, ()),
    (256, 3, 1, 1, 1, ()),
    (256, 3, 1, 1, 1, ("pool",)),
)
# Zeiler & Fergus (2013), Fig. 3 (the sizes and the normalised layers as the figure draws them;
# its caption and §3 say the maps are pooled and contrast-normalised), on 224×224 input (110,
# 55, 26, 13, 13, 13, then 6×6): layers 1 and 2 are pooled, then contrast-normalised across
# feature maps; layers 3-5 are dense (§3: "the sparse connections used in Krizhevsky's layers
# 3,4,5 ... are replaced with dense connections in our model").
ZFNET = (
    (96, 7, 2, 1, 1, ("pool", "norm")),
    (256, 5, 2, 0, 1, ("pool", "norm")),
    (384, 3, 1, 1, 1, ()),
    (384, 3, 1, 1, 1, ()),
    (256, 3, 1, 1, 1, ("pool",)),
)


class AlexNet(Classifier):
    """Convolutions from a table, then fc6-fc8 on the 256×6×6 maps of the last pooling.

    ``layout="paper"`` names the layers as the papers do (``features.conv1``,
    ``classifier.fc6``) and applies dropout to the outputs of fc6 and fc7 (Krizhevsky et al.
    §4.2). ``layout="torchvision"`` numbers them as torchvision does, puts dropout before
    fc6 and fc7, and adds torchvision's adaptive 6×6 average pooling, so its state_dict is
    torchvision's and it takes any input of at least 63×63.
    """

    def __init__(self, table, *, num_classes: int, in_chans: int, input_size: int,
                 layout: str = "paper", ceil_mode: bool = False, dropout: float = 0.5):
        tv = layout == "torchvision"
        super().__init__(num_classes=num_classes, in_chans=in_chans,
                         input_size=(input_size, input_size),
                         min_input_size=(63, 63) if tv else None,
                         classifier="classifier.6" if tv else "classifier.fc8")
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        c = in_chans
        for i, (out, k, s, p, groups, after) in enumerate(table, 1):
            layers[f"conv{i}"] = nn.Conv2d(c, out, k, s, p, groups=groups)
            layers[f"relu{i}"] = nn.ReLU(inplace=True)
            for op in after:
                layers[f"{op}{i}"] = (LocalResponseNorm() if op == "norm"
                                      else nn.MaxPool2d(3, 2, ceil_mode=ceil_mode))
            c = out
        fc6, fc7, fc8 = nn.Linear(c * 6 * 6, 4096), nn.Linear(4096, 4096), nn.Linear(4096, num_classes)
        if tv:
            self.features = nn.Sequential(*layers.values())
            self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
            self.classifier = nn.Sequential(
                nn.Dropout(dropout), fc6, nn.ReLU(inplace=True),
                nn.Dropout(dropout), fc7, nn.ReLU(inplace=True), fc8,
            )
        else:
            self.features = nn.Sequential(layers)
            self.avgpool = None
            self.classifier = nn.Sequential(OrderedDict([
                ("fc6", fc6), ("relu6", nn.ReLU(inplace=True)), ("drop6", nn.Dropout(dropout)),
                ("fc7", fc7), ("relu7", nn.ReLU(inplace=True)), ("drop7", nn.Dropout(dropout)),
                ("fc8", fc8),
            ]))

    def _features(self, x: Tensor) -> Tensor:
        return self.features(x)

    def forward_head(self, features: Tensor) -> Tensor:
        if self.avgpool is not None:
            features = self.avgpool(features)
        return self.classifier(features.flatten(1))


def _gaussian_init_(model: AlexNet, bias_one: tuple[str, ...] = ()) -> AlexNet:
    """Weights from N(0, 0.01²); biases 1 in the layers named in ``bias_one``, else 0."""
    for name, m in [*model.features.named_children(), *model.classifier.named_children()]:
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.01)
            nn.init.constant_(m.bias, 1.0 if name in bias_one else 0.0)
    return model


KRIZHEVSKY_2012 = Paper(
    title="ImageNet Classification with Deep Convolutional Neural Networks",
    authors="A. Krizhevsky, I. Sutskever and G. E. Hinton",
    year=2012,
    venue="NeurIPS 2012",
)


@register_model(
    "alexnet", family="alexnet", paper=KRIZHEVSKY_2012, input_size=(3, 227, 227),
    description="AlexNet as published: two towers (conv2, conv4, conv5 in 2 groups), ReLU, "
    "LRN after conv1 and conv2, overlapping 3×3/2 max pooling, dropout 0.5 in fc6 and fc7",
    figures=[
        Figure("params", 60_000_000, "Krizhevsky et al. 2012, abstract (60 million)"),
        Figure("top1", 59.3, "Krizhevsky et al. 2012, Table 2 (1 CNN, 40.7% top-1 val error)"),
        Figure("top5", 81.8, "Krizhevsky et al. 2012, Table 2 (1 CNN, 18.2% top-5 val error)"),
        Figure("top5", 84.7, "Krizhevsky et al. 2012, Table 2 (7 CNNs*, 15.3% top-5 test "
               "error)", "ImageNet test, 7-CNN ensemble"),
    ],
)
def alexnet(*, num_classes: int = 1000, in_chans: int = 3, dropout: float = 0.5) -> AlexNet:
    """The 2012 network on 227×227 input, with the paper's initialisation (§5): weights
    from N(0, 0.01²), biases 1 in conv2, conv4, conv5, fc6 and fc7, 0 elsewhere."""
    model = AlexNet(ALEXNET_2012, num_classes=num_classes, in_chans=in_chans, input_size=227,
                    dropout=dropout)
    return _gaussian_init_(model, bias_one=("conv2", "conv4", "conv5", "fc6", "fc7"))


@register_model(
    "alexnet_tv", family="alexnet",
    paper=Paper(title="One weird trick for parallelizing convolutional neural networks",
                authors="A. Krizhevsky", year=2014, venue="arXiv", arxiv="1404.5997"),
    input_size=(3, 224, 224), layout="torchvision",
    description="torchvision's AlexNet: one tower of 64-192-384-256-256 kernels, no LRN, "
    "adaptive 6×6 average pooling; torchvision's state_dict keys",
    figures=[
        Figure("params", 61_100_840, "torchvision AlexNet_Weights.IMAGENET1K_V1 meta"),
        Figure("macs", 0.714e9, "torchvision AlexNet_Weights.IMAGENET1K_V1 meta (_ops, GFLOPS)"),
        Figure("top1", 56.522, "torchvision AlexNet_Weights.IMAGENET1K_V1 meta"),
        Figure("top5", 79.066, "torchvision AlexNet_Weights.IMAGENET1K_V1 meta"),
    ],
)
def alexnet_tv(*, num_classes: int = 1000, in_chans: int = 3, dropout: float = 0.5) -> AlexNet:
    """torchvision's ``alexnet``: its weights load unchanged (PyTorch's default init)."""
    return AlexNet(ALEXNET_TV, num_classes=num_classes, in_chans=in_chans, input_size=224,
                   layout="torchvision", dropout=dropout)


@register_model(
    "zfnet", family="alexnet",
    paper=Paper(title="Visualizing and Understanding Convolutional Networks",
                authors="M. D. Zeiler and R. Fergus", year=2013, venue="ECCV 2014",
                arxiv="1311.2901"),
    input_size=(3, 224, 224),
    description="ZFNet (Zeiler & Fergus Fig. 3): 7×7/2 conv1, 5×5/2 conv2, dense layers 3-5, "
    "pooling then contrast normalisation after layers 1 and 2, dropout 0.5 in fc6 and fc7",
    figures=[
        Figure("top1", 61.6, "Zeiler & Fergus 2013, Table 2 (1 convnet as per Fig. 3, 38.4% "
               "top-1 val error)"),
        Figure("top5", 83.5, "Zeiler & Fergus 2013, Table 2 (1 convnet as per Fig. 3, 16.5% "
               "top-5 val error)"),
    ],
)
def zfnet(*, num_classes: int = 1000, in_chans: int = 3, dropout: float = 0.5) -> AlexNet:
    """ZFNet on 224×224 crops. Its pooling rounds up, as cuda-convnet's did, which gives
    Fig. 3's 55×55 and 13×13 maps; the contrast normalisation is AlexNet's LRN (the paper
    refers to Krizhevsky et al. for it). §3: "All weights are initialized to 10^-2 and biases
    are set to 0": read as AlexNet's N(0, 0.01²), since equal weights would stay equal. Its
    filter renormalisation (§3) is a training step: the paper recipe's ``filter_rms``."""
    model = AlexNet(ZFNET, num_classes=num_classes, in_chans=in_chans, input_size=224,
                    ceil_mode=True, dropout=dropout)
    return _gaussian_init_(model)
