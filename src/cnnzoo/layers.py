"""Blocks shared by several families. Family-specific blocks live in their family's file."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = [
    "ConvNormAct",
    "LocalResponseNorm",
    "ScaledTanh",
    "SqueezeExcite",
    "DepthwiseSeparable",
    "make_divisible",
    "init_weights_kaiming",
]


class ConvNormAct(nn.Sequential):
    """Convolution, optional batch norm, optional activation — a ``Sequential`` so that
    its state_dict keys (``0.weight``, ``1.running_mean``) match torchvision's
    ``Conv2dNormActivation``. The convolution has a bias only when there is no norm."""

    def __init__(
        self,
        in_chans: int,
        out_chans: int,
        kernel_size: int | tuple[int, int] = 3,
        stride: int = 1,
        padding: int | tuple[int, int] | None = None,
        groups: int = 1,
        norm: type[nn.Module] | None = nn.BatchNorm2d,
        act: type[nn.Module] | None = nn.ReLU,
        bias: bool | None = None,
    ):
        if padding is None:
            k = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
            padding = (k[0] // 2, k[1] // 2)
        layers: list[nn.Module] = [
            nn.Conv2d(in_chans, out_chans, kernel_size, stride, padding, groups=groups,
                      bias=(norm is None) if bias is None else bias)
        ]
        if norm is not None:
            layers.append(norm(out_chans))
        if act is not None:
            layers.append(act(inplace=True) if _takes_inplace(act) else act())
        super().__init__(*layers)
        self.out_channels = out_chans


def _takes_inplace(act: type[nn.Module]) -> bool:
    return act in (nn.ReLU, nn.ReLU6, nn.Hardswish, nn.SiLU, nn.LeakyReLU)


class LocalResponseNorm(nn.Module):
    """Local response normalization as Krizhevsky et al. (2012, §3.3) write it:

        b_i = a_i / (k + α · Σ_{j=i-n/2}^{i+n/2} a_j²)^β

    with the paper's k=2, n=5, α=1e-4, β=0.75. PyTorch's ``nn.LocalResponseNorm`` (like
    Caffe) divides α by n, so the paper's α is multiplied by n before calling it; the
    result is the paper's formula exactly.
    """

    def __init__(self, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, x: Tensor) -> Tensor:
        return F.local_response_norm(x, self.size, self.alpha * self.size, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"size={self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class ScaledTanh(nn.Module):
    """LeCun's squashing function f(a) = A·tanh(S·a) with A = 1.7159, S = 2/3
    (LeCun et al. 1998, Appendix A), chosen so that f(±1) = ±1."""

    def __init__(self, amplitude: float = 1.7159, slope: float = 2.0 / 3.0):
        super().__init__()
        self.amplitude, self.slope = amplitude, slope

    def forward(self, x: Tensor) -> Tensor:
        return self.amplitude * torch.tanh(self.slope * x)

    def extra_repr(self) -> str:
        return f"amplitude={self.amplitude}, slope={self.slope:.4f}"


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation (Hu et al. 2017, Fig. 2/3): global average pool, FC to C/r,
    ReLU, FC to C, sigmoid, channel-wise rescale. The FCs are 1×1 convolutions with bias,
    as in the authors' release and timm (``fc1``/``fc2``), so timm's keys map directly."""

    gate_layers = ("fc1", "fc2")  # they scale the block's neurons rather than make them

    def __init__(self, channels: int, reduction: int = 16, reduced: int | None = None):
        super().__init__()
        reduced = reduced or max(1, channels // reduction)
        self.fc1 = nn.Conv2d(channels, reduced, 1)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(reduced, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        s = x.mean((2, 3), keepdim=True)
        s = self.fc2(self.relu(self.fc1(s)))
        return x * torch.sigmoid(s)


class DepthwiseSeparable(nn.Sequential):
    """A 3×3 depthwise convolution then a 1×1 pointwise one, each followed by batch norm
    and ReLU (Howard et al. 2017, Fig. 3)."""

    def __init__(self, in_chans: int, out_chans: int, stride: int = 1,
                 act: type[nn.Module] = nn.ReLU):
        super().__init__(
            ConvNormAct(in_chans, in_chans, 3, stride, groups=in_chans, act=act),
            ConvNormAct(in_chans, out_chans, 1, act=act),
        )


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a channel count to a multiple of ``divisor`` without going more than 10%
    below it — the rounding of the MobileNet reference code, which torchvision and timm
    share, so width-multiplied networks have their channel counts."""
    min_value = min_value or divisor
    new = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new < 0.9 * value:
        new += divisor
    return new


def init_weights_kaiming(module: nn.Module) -> nn.Module:
    """He initialisation for convolutions (He et al. 2015, "Delving deep"), N(0, 0.01) for
    linear layers, ones/zeros for norms — the scheme of torchvision's classic models."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module

