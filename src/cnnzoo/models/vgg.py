"""VGG (Simonyan & Zisserman 2014): the ConvNet configurations A, A-LRN, B, C, D and E of
the paper's Table 1, with torchvision's module layout and state_dict keys
(``features`` / ``avgpool`` / ``classifier``), so torchvision's weights load unchanged.

``dense=True`` is the paper's dense evaluation (§3.2): the fully-connected layers become
convolutions (7×7, then 1×1), the network slides over the whole image, and the class-score
map is averaged into the logits. FC and dense models load each other's state_dicts.

Initialisation differs from the paper's, on purpose. §3.1 trains configuration A from
random weights, N(0, variance 10⁻²), zero biases, then starts the deeper ones from A's first
four convolutions and last three fully-connected layers, adding that "it is possible to
initialise the weights without pre-training by using the random initialisation procedure of
Glorot & Bengio". A builder cannot train net A first; every configuration here gets He
initialisation (``init_weights_kaiming``, as torchvision's VGG), which trains the deep
configurations from scratch, as Glorot's does in the paper's note.
"""

from __future__ import annotations

from torch import Tensor, nn

from ..layers import LocalResponseNorm, init_weights_kaiming
from ..registry import Figure, Paper, register_model
from .base import Classifier

__all__ = ["VGG", "TABLE_1", "make_features"]

# Simonyan & Zisserman (2014), Table 1: the ConvNet configurations, one column each, in the
# paper's notation ("conv<receptive field size>-<number of channels>"; ReLU not shown).
# Every column ends in FC-4096, FC-4096, FC-1000 and soft-max: VGG.classifier.
TABLE_1 = {
    "A": """conv3-64 maxpool
            conv3-128 maxpool
            conv3-256 conv3-256 maxpool
            conv3-512 conv3-512 maxpool
            conv3-512 conv3-512 maxpool""",
    "A-LRN": """conv3-64 LRN maxpool
            conv3-128 maxpool
            conv3-256 conv3-256 maxpool
            conv3-512 conv3-512 maxpool
            conv3-512 conv3-512 maxpool""",
    "B": """conv3-64 conv3-64 maxpool
            conv3-128 conv3-128 maxpool
            conv3-256 conv3-256 maxpool
            conv3-512 conv3-512 maxpool
            conv3-512 conv3-512 maxpool""",
    "C": """conv3-64 conv3-64 maxpool
            conv3-128 conv3-128 maxpool
            conv3-256 conv3-256 conv1-256 maxpool
            conv3-512 conv3-512 conv1-512 maxpool
            conv3-512 conv3-512 conv1-512 maxpool""",
    "D": """conv3-64 conv3-64 maxpool
            conv3-128 conv3-128 maxpool
            conv3-256 conv3-256 conv3-256 maxpool
            conv3-512 conv3-512 conv3-512 maxpool
            conv3-512 conv3-512 conv3-512 maxpool""",
    "E": """conv3-64 conv3-64 maxpool
            conv3-128 conv3-128 maxpool
            conv3-256 conv3-256 conv3-256 conv3-256 maxpool
            conv3-512 conv3-512 conv3-512 conv3-512 maxpool
            conv3-512 conv3-512 conv3-512 conv3-512 maxpool""",
}


def make_features(config: str, in_chans: int = 3, batch_norm: bool = False) -> nn.Sequential:
    """The convolutional part of a Table 1 column: stride-1 convolutions padded to keep the
    size (§2.1), each followed by ReLU (and, for the ``_bn`` variants, batch norm before
    it), 2×2 max pooling with stride 2, and LRN where the column has it."""
    layers: list[nn.Module] = []
    c = in_chans
    for token in TABLE_1[config].split():
        if token == "maxpool":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        elif token == "LRN":
            layers.append(LocalResponseNorm())  # Krizhevsky et al.'s parameters (§2.1)
        else:
            k, out = (int(v) for v in token.removeprefix("conv").split("-"))
            layers.append(nn.Conv2d(c, out, kernel_size=k, padding=k // 2))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.ReLU(inplace=True))
            c = out
    return nn.Sequential(*layers)


class VGG(Classifier):
    """A Table 1 configuration with the classifier FC-4096, FC-4096, FC-classes, dropout 0.5
    after the first two (§3.1).

    The plain network keeps torchvision's adaptive 7×7 average pooling before the
    classifier, so it takes any input of at least 32×32 (at 224×224 the pooling is the
    identity). With ``dense=True`` the FC layers are convolutions and the network takes
    any input of at least 224×224.
    """

    def __init__(self, config: str, *, num_classes: int = 1000, in_chans: int = 3,
                 batch_norm: bool = False, dense: bool = False, dropout: float = 0.5):
        if config not in TABLE_1:
            raise ValueError(f"unknown VGG configuration {config!r}; Table 1 has {', '.join(TABLE_1)}")
        super().__init__(num_classes=num_classes, in_chans=in_chans, input_size=(224, 224),
                         min_input_size=(224, 224) if dense else (32, 32),
                         classifier="classifier.6")
        self.config, self.dense = config, dense
        self.features = make_features(config, in_chans, batch_norm)
        self.avgpool = None if dense else nn.AdaptiveAvgPool2d((7, 7))

        def fc(n_in: int, n_out: int, k: int) -> nn.Module:
            return nn.Conv2d(n_in, n_out, k) if dense else nn.Linear(n_in * k * k, n_out)

        self.classifier = nn.Sequential(
            fc(512, 4096, 7), nn.ReLU(inplace=True), nn.Dropout(dropout),
            fc(4096, 4096, 1), nn.ReLU(inplace=True), nn.Dropout(dropout),
            fc(4096, num_classes, 1),
        )
        init_weights_kaiming(self)
        self.register_load_state_dict_pre_hook(_reshape_fc_weights)

    def _features(self, x: Tensor) -> Tensor:
        return self.features(x)

    def forward_head(self, features: Tensor) -> Tensor:
        if self.dense:  # class-score map, spatially averaged (§3.2)
            return self.classifier(features).mean(dim=(2, 3))
        return self.classifier(self.avgpool(features).flatten(1))


def _reshape_fc_weights(module: VGG, state_dict, prefix, *args) -> None:
    """Let FC weights (out × in·k·k) load into the dense model's convolutions
    (out × in × k × k), and back: the same numbers, in torchvision's flattening order."""
    for i, layer in enumerate(module.classifier):
        key = f"{prefix}classifier.{i}.weight"
        if isinstance(layer, (nn.Linear, nn.Conv2d)) and key in state_dict:
            w = state_dict[key]
            if w.dim() != layer.weight.dim() and w.numel() == layer.weight.numel():
                state_dict[key] = w.reshape(layer.weight.shape)


SIMONYAN_2014 = Paper(
    title="Very Deep Convolutional Networks for Large-Scale Image Recognition",
    authors="K. Simonyan and A. Zisserman",
    year=2014,
    venue="ICLR 2015",
    arxiv="1409.1556",
)


def _paper_figures(params_m: int, top1_err: float, top5_err: float) -> list[Figure]:
    """Table 2's parameter count (millions) and Table 3's single-scale errors (S = Q = 256)."""
    return [
        Figure("params", params_m * 1e6, "Simonyan & Zisserman 2014, Table 2 (millions)"),
        Figure("top1", round(100 - top1_err, 2), f"Simonyan & Zisserman 2014, Table 3 (S=Q=256, "
               f"{top1_err}% top-1 val error)"),
        Figure("top5", round(100 - top5_err, 2), f"Simonyan & Zisserman 2014, Table 3 (S=Q=256, "
               f"{top5_err}% top-5 val error)"),
    ]


def _torchvision_figures(weights: str, params: int, gflops: float, top1: float,
                         top5: float) -> list[Figure]:
    source = f"torchvision {weights}.IMAGENET1K_V1 meta"
    return [
        Figure("params", params, source),
        Figure("macs", gflops * 1e9, f"{source} (_ops, GFLOPS)"),
        Figure("top1", top1, source),
        Figure("top5", top5, source),
    ]


# name: (Table 1 column, batch norm, what it is, published figures)
VARIANTS = {
    "vgg11": ("A", False, "configuration A, 11 weight layers",
              _paper_figures(133, 29.6, 10.4)
              + _torchvision_figures("VGG11_Weights", 132_863_336, 7.609, 69.02, 88.628)),
    "vgg11_lrn": ("A-LRN", False, "configuration A-LRN: A with local response normalisation "
                  "after the first layer", _paper_figures(133, 29.7, 10.5)),
    "vgg13": ("B", False, "configuration B, 13 weight layers",
              _paper_figures(133, 28.7, 9.9)
              + _torchvision_figures("VGG13_Weights", 133_047_848, 11.308, 69.928, 89.246)),
    "vgg16_c": ("C", False, "configuration C: 16 weight layers, three of them 1×1 "
                "convolutions", _paper_figures(134, 28.1, 9.4)),
    "vgg16": ("D", False, "configuration D, 16 weight layers",
              _paper_figures(138, 27.0, 8.8)
              + _torchvision_figures("VGG16_Weights", 138_357_544, 15.47, 71.592, 90.382)),
    "vgg19": ("E", False, "configuration E, 19 weight layers",
              _paper_figures(144, 27.3, 9.0)
              + _torchvision_figures("VGG19_Weights", 143_667_240, 19.632, 72.376, 90.876)),
    "vgg11_bn": ("A", True, "configuration A with batch norm (torchvision)",
                 _torchvision_figures("VGG11_BN_Weights", 132_868_840, 7.609, 70.37, 89.81)),
    "vgg13_bn": ("B", True, "configuration B with batch norm (torchvision)",
                 _torchvision_figures("VGG13_BN_Weights", 133_053_736, 11.308, 71.586, 90.374)),
    "vgg16_bn": ("D", True, "configuration D with batch norm (torchvision)",
                 _torchvision_figures("VGG16_BN_Weights", 138_365_992, 15.47, 73.36, 91.516)),
    "vgg19_bn": ("E", True, "configuration E with batch norm (torchvision)",
                 _torchvision_figures("VGG19_BN_Weights", 143_678_248, 19.632, 74.218, 91.842)),
}


def _builder(name: str, config: str, batch_norm: bool, what: str):
    def build(*, num_classes: int = 1000, in_chans: int = 3, batch_norm: bool = batch_norm,
              dense: bool = False, dropout: float = 0.5) -> VGG:
        return VGG(config, num_classes=num_classes, in_chans=in_chans, batch_norm=batch_norm,
                   dense=dense, dropout=dropout)

    build.__name__ = build.__qualname__ = name
    build.__doc__ = (f"VGG {what} (Table 1, column {config}). ``dense=True``: the paper's "
                     "dense evaluation (§3.2).")
    return build


for _name, (_config, _bn, _what, _figures) in VARIANTS.items():
    globals()[_name] = register_model(
        _name, family="vgg", paper=SIMONYAN_2014, input_size=(3, 224, 224),
        description=f"VGG {_what}; torchvision's layout and keys; dense=True for the paper's "
        "dense evaluation",
        figures=_figures, layout="torchvision" if _bn else "paper",
    )(_builder(_name, _config, _bn, _what))
    __all__.append(_name)
