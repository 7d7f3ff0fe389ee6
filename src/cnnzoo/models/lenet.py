"""The LeNets: LeNet-5 as LeCun et al. (1998) publish it, the two variants textbooks and
tutorials teach today, and the two MNIST networks of Han et al.'s Deep Compression.

``lenet5`` is the paper's network (§II.B, Fig. 2): 32×32 input, trainable subsampling (S2,
S4), the partially connected C3 of Table I, the scaled tanh, and an output of Euclidean RBF
units whose centres are fixed ±1 7×12 bitmaps of the digits, drawn by hand in the style of
Fig. 3 (which shows the full ASCII set's; its pixels are not given as data). Its logits are the negated
RBF penalties, and its :meth:`LeNet5.loss` is the paper's criterion (eq. 9, §II.C).
"""

from __future__ import annotations

import math
import random
from collections import OrderedDict

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .._checks import positive_int
from ..layers import ScaledTanh
from ..registry import Figure, Paper, register_model
from .base import Classifier

__all__ = ["LeNet5", "LeNet", "Subsampling", "PartialConv2d", "EuclideanRBF", "rbf_codes"]

LECUN_1998 = Paper(
    title="Gradient-Based Learning Applied to Document Recognition",
    authors="Y. LeCun, L. Bottou, Y. Bengio and P. Haffner",
    year=1998,
    venue="Proceedings of the IEEE 86(11):2278-2324",
)
DEEP_COMPRESSION = Paper(
    title="Deep Compression: Compressing Deep Neural Networks with Pruning, Trained "
    "Quantization and Huffman Coding",
    authors="S. Han, H. Mao and W. J. Dally",
    year=2016,
    venue="ICLR 2016",
    arxiv="1510.00149",
)

# LeCun et al. (1998), Table I: the S2 feature maps (rows 0-5) that feed each C3 feature map
# (columns 0-15). Maps 0-5 see three adjacent S2 maps, 6-11 four adjacent, 12-14 four
# non-adjacent, and 15 all six.
C3_TABLE = (
    "X...XXX..XXXX.XX",
    "XX...XXX..XXXX.X",
    "XXX...XXX..X.XXX",
    ".XXX..XXXX..X.XX",
    "..XXX..XXXX.XX.X",
    "...XXX..XXXX.XXX",
)

# LeCun et al. (1998), Fig. 3 style: the ten digits drawn on 7×12 bitmaps, '#' = +1 and
# '.' = -1. Each bitmap, read row by row, is the fixed centre of one output RBF unit (§II.B).
DIGIT_BITMAPS = """
.......  .......  .......  .......  .......  .......  .......  .......  .......  .......
..###..  ...#...  .#####.  .#####.  ....##.  #######  ..####.  #######  .#####.  .#####.
.#...#.  ..##...  #.....#  #.....#  ...#.#.  #......  .#.....  ......#  #.....#  #.....#
#.....#  .#.#...  ......#  ......#  ..#..#.  #......  #......  .....#.  #.....#  #.....#
#.....#  ...#...  .....#.  ......#  .#...#.  ######.  #......  ....#..  #.....#  #.....#
#.....#  ...#...  ...##..  ..####.  #....#.  ......#  ######.  ...#...  .#####.  .######
#.....#  ...#...  ..#....  ......#  #######  ......#  #.....#  ..#....  #.....#  ......#
#.....#  ...#...  .#.....  ......#  .....#.  ......#  #.....#  ..#....  #.....#  ......#
.#...#.  ...#...  #......  #.....#  .....#.  #.....#  #.....#  ..#....  #.....#  .....#.
..###..  .#####.  #######  .#####.  .....#.  .#####.  .#####.  ..#....  .#####.  .####..
.......  .......  .......  .......  .......  .......  .......  .......  .......  .......
.......  .......  .......  .......  .......  .......  .......  .......  .......  .......
"""


def rbf_codes(num_classes: int) -> Tensor:
    """The ±1 centres of the output RBF units, one 84-vector per class.

    Classes 0-9 get the digit bitmaps of :data:`DIGIT_BITMAPS`. Further classes get ±1
    codes drawn at random with equal probabilities (a fixed seed), which §II.B names as the
    alternative to hand-drawn bitmaps.
    """
    rows = DIGIT_BITMAPS.strip().splitlines()
    digits = ["".join(row[9 * k: 9 * k + 7] for row in rows) for k in range(10)]
    codes = [[1.0 if c == "#" else -1.0 for c in digits[k]] for k in range(min(num_classes, 10))]
    rng = random.Random(1998)
    codes += [[rng.choice((-1.0, 1.0)) for _ in range(84)] for _ in range(num_classes - 10)]
    return torch.tensor(codes)


def _lecun_uniform_(tensor: Tensor, fan_in: float | list[float]) -> None:
    """LeCun et al. (1998), Appendix A: uniform in ±2.4/F_i, F_i the fan-in of the unit the
    weight belongs to; ``fan_in`` is one number or one per slice along the first dimension."""
    bound = 2.4 / torch.as_tensor(fan_in, dtype=tensor.dtype, device=tensor.device)
    if bound.dim():
        bound = bound.view(-1, *[1] * (tensor.dim() - 1))
    with torch.no_grad():
        tensor.uniform_(-1, 1).mul_(bound)


class Subsampling(nn.Module):
    """LeNet-5's S2 and S4 (§II.B): each unit adds the four inputs of its non-overlapping
    2×2 field, multiplies the sum by a trainable coefficient and adds a trainable bias, one
    pair per feature map (S2: 12 parameters). The sigmoid follows as its own layer."""

    def __init__(self, channels: int, kernel_size: int = 2):
        super().__init__()
        self.kernel_size = kernel_size
        self.weight = nn.Parameter(torch.empty(channels))
        self.bias = nn.Parameter(torch.empty(channels))
        for p in (self.weight, self.bias):
            _lecun_uniform_(p, kernel_size * kernel_size)

    def forward(self, x: Tensor) -> Tensor:
        k = self.kernel_size
        total = F.avg_pool2d(x, k) * (k * k)
        return total * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)

    def extra_repr(self) -> str:
        return f"{self.weight.numel()}, kernel_size={self.kernel_size}"


class PartialConv2d(nn.Module):
    """C3 (§II.B, Table I): a convolution in which each output map sees only the input maps
    the connection table marks, so it holds one k×k kernel per ``X`` of the table (60 for
    Table I) and one bias per output map: 1,516 parameters instead of a full layer's 2,416."""

    def __init__(self, table: tuple[str, ...], kernel_size: int = 5):
        super().__init__()
        self.in_channels, self.out_channels = len(table), len(table[0])
        self.kernel_size = kernel_size
        links = sorted((o, i) for i, row in enumerate(table) for o, c in enumerate(row) if c == "X")
        self.links = tuple(links)  # (output map, input map), one per kernel
        self.weight = nn.Parameter(torch.empty(len(links), kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.empty(self.out_channels))
        fan_in = [kernel_size**2 * len(self.inputs_of(o)) for o in range(self.out_channels)]
        _lecun_uniform_(self.weight, [fan_in[o] for o, _ in links])
        _lecun_uniform_(self.bias, fan_in)

    def inputs_of(self, out_map: int) -> list[int]:
        """The input maps that feed output map ``out_map``."""
        return [i for o, i in self.links if o == out_map]

    def dense_weight(self) -> Tensor:
        """The equivalent full ``out×in×k×k`` convolution weight, zero where unconnected."""
        k = self.kernel_size
        out, inp = torch.tensor(self.links, device=self.weight.device).unbind(1)
        dense = self.weight.new_zeros(self.out_channels, self.in_channels, k, k)
        return dense.index_put((out, inp), self.weight)

    def connections(self, input_shape: tuple, output_shape: tuple) -> int:
        """Connections in LeCun's sense, which ``cnnzoo.summarize`` reads: each output unit
        reads k·k inputs from every input map its table row links, plus its bias
        (§II.B, with Table I's 60 links: (60·25 + 16)·10·10 = 151,600)."""
        units = output_shape[-1] * output_shape[-2]
        return (len(self.links) * self.kernel_size**2 + self.out_channels) * units

    def macs(self, input_shape: tuple, output_shape: tuple) -> int:
        """Multiply-adds of the connected kernels only, which ``cnnzoo.summarize`` reads
        (60·25·10·10 = 150,000); ``forward``'s dense convolution also multiplies zeros."""
        return len(self.links) * self.kernel_size**2 * output_shape[-1] * output_shape[-2]

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.dense_weight(), self.bias)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"connections={len(self.links)}")


class EuclideanRBF(nn.Module):
    """The output layer (§II.B, eq. 7): unit i computes the penalty
    y_i = Σ_j (x_j − w_ij)², the squared distance of the F6 state to its centre. The centres
    are a buffer, fixed and not trained."""

    def __init__(self, centers: Tensor):
        super().__init__()
        self.register_buffer("centers", centers)

    def forward(self, x: Tensor) -> Tensor:
        return (x.unsqueeze(1) - self.centers).square().sum(-1)

    def extra_repr(self) -> str:
        return f"in_features={self.centers.shape[1]}, out_features={self.centers.shape[0]}"


class LeNet5(Classifier):
    """LeNet-5 (LeCun et al. 1998, §II.B, Fig. 2): C1 6@28×28, S2 6@14×14, C3 16@10×10,
    S4 16@5×5, C5 120@1×1, F6 84, output 10 RBF units; 60,000 trainable parameters.

    Every unit up to F6 is squashed by f(a) = 1.7159·tanh(2a/3) (§II.B, Appendix A).
    ``forward`` returns logits = −y (the negated RBF penalties), so the arg-max is the class.
    ``j`` is the constant of the training criterion (eq. 9), which the paper leaves open.
    """

    def __init__(self, *, num_classes: int = 10, in_chans: int = 1, j: float = 0.1):
        super().__init__(num_classes=num_classes, in_chans=in_chans, input_size=(32, 32),
                         min_input_size=None, classifier="output")
        if j <= 0:
            raise ValueError(f"j must be a positive constant (LeCun et al. 1998, eq. 9), got {j}")
        self.j = float(j)
        self.features = nn.Sequential(OrderedDict([
            ("c1", nn.Conv2d(in_chans, 6, 5)), ("f1", ScaledTanh()),
            ("s2", Subsampling(6)), ("f2", ScaledTanh()),
            ("c3", PartialConv2d(C3_TABLE, 5)), ("f3", ScaledTanh()),
            ("s4", Subsampling(16)), ("f4", ScaledTanh()),
            ("c5", nn.Conv2d(16, 120, 5)), ("f5", ScaledTanh()),
            ("flatten", nn.Flatten()),
            ("f6", nn.Linear(120, 84)), ("f6_act", ScaledTanh()),
        ]))
        for layer in (self.features.c1, self.features.c5, self.features.f6):
            for p in (layer.weight, layer.bias):
                _lecun_uniform_(p, layer.weight[0].numel())
        self.output = EuclideanRBF(rbf_codes(num_classes))

    def _features(self, x: Tensor) -> Tensor:
        return self.features(x)

    def forward_head(self, features: Tensor) -> Tensor:
        return -self.output(features)

    def reset_classifier(self, num_classes: int) -> None:
        num_classes = positive_int(num_classes, "num_classes")
        self.output = EuclideanRBF(rbf_codes(num_classes).to(self.output.centers.device))
        self.num_classes = num_classes

    def _with_rubbish(self, logits: Tensor) -> Tensor:
        return torch.cat([logits, logits.new_full((logits.shape[0], 1), -self.j)], dim=1)

    def loss(self, logits: Tensor, target: Tensor, aux_logits: list[Tensor] | None = None,
             label_smoothing: float = 0.0) -> Tensor:
        """The paper's maximum a posteriori criterion (eq. 9), averaged over the batch:

            E = y_D + log(e^{−j} + Σ_i e^{−y_i}),

        which, with logits −y, is exactly the cross-entropy over the class logits and one
        "rubbish class" logit fixed at −j. ``label_smoothing`` ε spreads ε over the real
        classes only (ε = 0 is eq. 9)."""
        nll = torch.logsumexp(self._with_rubbish(logits), dim=1, keepdim=True) - logits
        per_sample = (1 - label_smoothing) * nll.gather(1, target.view(-1, 1)).squeeze(1)
        if label_smoothing:
            per_sample = per_sample + label_smoothing * nll.mean(1)
        return per_sample.mean()

    def predict_scores(self, logits: Tensor) -> Tensor:
        """Class probabilities of the eq. 9 model: the softmax over the logits and the
        rubbish class, rubbish column dropped, so a row sums to at most 1 (the rest is the
        probability that the input is none of the classes)."""
        return torch.softmax(self._with_rubbish(logits), dim=1)[:, :-1]


class LeNet(Classifier):
    """Convolution stages (5×5 convolution, optional activation, 2×2 pooling) and then
    fully-connected layers: the modern LeNets, Caffe's LeNet, and (no convolutions) the
    multilayer perceptron LeNet-300-100. The input size is fixed by the first FC layer.

    ``init``: ``"glorot"`` draws weights from U(±√(6/(fan_in + fan_out))) (Glorot & Bengio
    2010, as d2l's LeNet); ``"caffe"`` from Caffe's "xavier" filler, U(±√(3/fan_in)) (Caffe's
    ``filler.hpp``: fan-in only by default), as the Caffe networks of Han et al. were trained.
    Biases start at zero."""

    def __init__(self, *, convs: tuple[int, ...], hidden: tuple[int, ...], act: type[nn.Module],
                 pool: type[nn.Module] = nn.MaxPool2d, padding: int = 0, conv_act: bool = True,
                 init: str = "glorot", num_classes: int = 10, in_chans: int = 1, input_size: int = 28):
        if init not in ("glorot", "caffe"):
            raise ValueError(f"init must be 'glorot' or 'caffe', got {init!r}")
        super().__init__(num_classes=num_classes, in_chans=in_chans,
                         input_size=(input_size, input_size), min_input_size=None,
                         classifier=f"classifier.fc{len(hidden) + 1}")
        stages: OrderedDict[str, nn.Module] = OrderedDict()
        c, size = in_chans, input_size
        for i, out in enumerate(convs, 1):
            pad = padding if i == 1 else 0
            stages[f"conv{i}"] = nn.Conv2d(c, out, 5, padding=pad)
            if conv_act:
                stages[f"act{i}"] = act()
            stages[f"pool{i}"] = pool(2, 2)
            c, size = out, (size + 2 * pad - 4) // 2
        self.features = nn.Sequential(stages)
        head: OrderedDict[str, nn.Module] = OrderedDict(flatten=nn.Flatten())
        width = c * size * size
        for i, out in enumerate((*hidden, num_classes), 1):
            head[f"fc{i}"] = nn.Linear(width, out)
            if i <= len(hidden):
                head[f"fc_act{i}"] = act()
            width = out
        self.classifier = nn.Sequential(head)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                if init == "glorot":
                    nn.init.xavier_uniform_(m.weight)
                else:
                    bound = math.sqrt(3 / m.weight[0].numel())  # fan-in: one output's weights
                    nn.init.uniform_(m.weight, -bound, bound)
                nn.init.zeros_(m.bias)

    def _features(self, x: Tensor) -> Tensor:
        return self.features(x)

    def forward_head(self, features: Tensor) -> Tensor:
        return self.classifier(features)


# -- builders ------------------------------------------------------------------------------
@register_model(
    "lenet5", family="lenet", paper=LECUN_1998, input_size=(1, 32, 32),
    description="LeNet-5 as published: trainable subsampling, C3 partial connections "
    "(Table I), scaled tanh, Euclidean RBF output with fixed 7×12 digit bitmaps; trained "
    "with the paper's criterion (eq. 9)",
    figures=[
        Figure("params", 60_000, "LeCun et al. 1998, §II.A (60,000 trainable parameters; "
               "§II.B's per-layer counts)", "MNIST"),
        Figure("top1", 99.05, "LeCun et al. 1998, §III.B and Fig. 9 (0.95% test error)", "MNIST"),
        Figure("top1", 99.2, "LeCun et al. 1998, §III.B and Fig. 9 (0.8% test error, distorted "
               "training set)", "MNIST (with distortions)"),
    ],
)
def lenet5(*, num_classes: int = 10, in_chans: int = 1, j: float = 0.1) -> LeNet5:
    """LeNet-5 (LeCun et al. 1998); ``j`` is the constant of the criterion (eq. 9)."""
    return LeNet5(num_classes=num_classes, in_chans=in_chans, j=j)


@register_model(
    "lenet5_relu", family="lenet", paper=LECUN_1998, input_size=(1, 28, 28),
    description="LeNet-5 as modern code writes it: 6 and 16 5×5 convolutions (padding 2 on "
    "28×28 input), ReLU, 2×2 max pooling, fully-connected 120-84-classes, softmax",
)
def lenet5_relu(*, num_classes: int = 10, in_chans: int = 1) -> LeNet:
    """The ReLU/max-pool LeNet-5 of today's tutorials, on MNIST's 28×28 digits."""
    return LeNet(convs=(6, 16), hidden=(120, 84), act=nn.ReLU, pool=nn.MaxPool2d, padding=2,
                 num_classes=num_classes, in_chans=in_chans)


@register_model(
    "lenet5_textbook", family="lenet", paper=LECUN_1998, input_size=(1, 28, 28),
    description="LeNet-5 as the textbook teaches it (Zhang et al., Dive into Deep Learning, "
    "§7.6): sigmoid, 2×2 average pooling, padding 2 on 28×28 input, fully-connected 120-84-"
    "classes",
)
def lenet5_textbook(*, num_classes: int = 10, in_chans: int = 1) -> LeNet:
    """d2l's LeNet: the sigmoid/average-pooling network, layer for layer."""
    return LeNet(convs=(6, 16), hidden=(120, 84), act=nn.Sigmoid, pool=nn.AvgPool2d, padding=2,
                 num_classes=num_classes, in_chans=in_chans)


@register_model(
    "lenet_300_100", family="lenet", paper=DEEP_COMPRESSION, input_size=(1, 28, 28),
    description="LeNet-300-100: the 784-300-100-10 multilayer perceptron with ReLU of Han "
    "et al.'s pruning and Deep Compression experiments (Caffe's lenet_300_100)",
    figures=[
        Figure("params", 267_000, "Han et al. 2015, Learning both Weights and Connections, "
               "Table 1 (267K)", "MNIST"),
        Figure("top1", 98.36, "Han et al. 2016, Deep Compression, Table 1 (1.64% reference "
               "error)", "MNIST"),
    ],
)
def lenet_300_100(*, num_classes: int = 10, in_chans: int = 1) -> LeNet:
    """The MLP 784-300-100-10 (266,610 parameters)."""
    return LeNet(convs=(), hidden=(300, 100), act=nn.ReLU, init="caffe", num_classes=num_classes,
                 in_chans=in_chans)


@register_model(
    "lenet5_caffe", family="lenet", paper=DEEP_COMPRESSION, input_size=(1, 28, 28),
    description="What Han et al. call LeNet-5 (Caffe's MNIST example): 20 and 50 5×5 "
    "convolutions each followed by 2×2 max pooling (no activation), fc 500 with ReLU, fc 10",
    figures=[
        Figure("params", 431_000, "Han et al. 2015, Learning both Weights and Connections, "
               "Table 1 (431K)", "MNIST"),
        Figure("top1", 99.20, "Han et al. 2016, Deep Compression, Table 1 (0.80% reference "
               "error)", "MNIST"),
    ],
)
def lenet5_caffe(*, num_classes: int = 10, in_chans: int = 1) -> LeNet:
    """Caffe's LeNet (examples/mnist/lenet.prototxt), 431,080 parameters."""
    return LeNet(convs=(20, 50), hidden=(500,), act=nn.ReLU, conv_act=False, init="caffe",
                 num_classes=num_classes, in_chans=in_chans)
