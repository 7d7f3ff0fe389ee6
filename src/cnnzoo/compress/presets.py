"""Per-model pruning presets: the per-layer weights kept that Deep Compression reports.

Han, Mao & Dally, "Deep Compression", ICLR 2016, Tables 2-5 give, for every layer of the four
networks they compress, the weights kept after pruning ("Weights% (P)"). For those models they
are :func:`~cnnzoo.compress.compress`'s default sparsity; a ``sparsity`` (or ``quality``) the
user gives overrides the preset for the layers it names. Other models get the generic
defaults of the pipeline.

Only the pruning column is a preset. The tables' weight bits are the paper's §3 defaults
(8 for convolutions, 5 for fully-connected layers) except Table 2's 6-bit LeNet-300-100; on
the bundled MNIST sample 6 bits gave no accuracy over 5 and a larger file (README), so the
5-bit default stands there too (``bits="fc=6"`` reproduces Table 2). The tables' index bits
(4 or 5) are a storage width that the pipeline chooses per layer by default
(``index_bits="auto"``).

The rows are in the paper's order, which is the order of the model's compressible layers
(:func:`~cnnzoo.compress.prune.compressible_layers`); the first column is the paper's name
of the layer, kept for the reader.
"""

from __future__ import annotations

from torch import nn

from .prune import layer_kind

__all__ = ["PAPER_PRESETS", "paper_preset"]

# (paper's layer name, fraction of the weights kept)
_TABLE_4_ALEXNET = (  # Table 4: AlexNet
    ("conv1", 0.84), ("conv2", 0.38), ("conv3", 0.35), ("conv4", 0.37), ("conv5", 0.37),
    ("fc6", 0.09), ("fc7", 0.09), ("fc8", 0.25),
)
PAPER_PRESETS: dict[str, tuple[tuple[str, float], ...]] = {
    # Table 2: LeNet-300-100
    "lenet_300_100": (("ip1", 0.08), ("ip2", 0.09), ("ip3", 0.26)),
    # Table 3: LeNet-5, the Caffe network cnnzoo calls lenet5_caffe
    "lenet5_caffe": (("conv1", 0.66), ("conv2", 0.12), ("ip1", 0.08), ("ip2", 0.19)),
    # Table 4: the Caffe AlexNet (grouped, as cnnzoo's alexnet); the torchvision layout has
    # the same five convolutions and three fully-connected layers
    "alexnet": _TABLE_4_ALEXNET,
    "alexnet_tv": _TABLE_4_ALEXNET,
    # Table 5: VGG-16
    "vgg16": (
        ("conv1_1", 0.58), ("conv1_2", 0.22), ("conv2_1", 0.34), ("conv2_2", 0.36),
        ("conv3_1", 0.53), ("conv3_2", 0.24), ("conv3_3", 0.42), ("conv4_1", 0.32),
        ("conv4_2", 0.27), ("conv4_3", 0.34), ("conv5_1", 0.35), ("conv5_2", 0.29),
        ("conv5_3", 0.36), ("fc6", 0.04), ("fc7", 0.04), ("fc8", 0.23),
    ),
}


def paper_preset(name: str, layers: dict[str, nn.Module]) -> tuple[float, ...] | None:
    """The paper's sparsity (fraction pruned) of every layer of model ``name``, in the order
    of ``layers``; ``None`` when the paper has no table for the model or the model's layers
    do not line up with the table's (built with other options: a different number of
    layers, or a convolution where the table has a fully-connected layer)."""
    rows = PAPER_PRESETS.get(name)
    if rows is None or len(rows) != len(layers):
        return None
    kinds = [layer_kind(m) for m in layers.values()]
    if any((kind == "conv") != label.startswith("conv") for (label, _), kind in zip(rows, kinds)):
        return None
    return tuple(round(1.0 - kept, 6) for _, kept in rows)
