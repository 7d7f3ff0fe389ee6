"""Residual networks: one class for the ImageNet and CIFAR ResNets, the pre-activation
ResNets, ResNeXt and (in :mod:`.senet`) SENet.

- He, Zhang, Ren, Sun (2015), *Deep Residual Learning for Image Recognition*: the ImageNet
  networks of Table 1 and the CIFAR-10 networks of §4.2 (6n+2 layers, Table 6).
- He, Zhang, Ren, Sun (2016), *Identity Mappings in Deep Residual Networks*: the
  pre-activation unit (Fig. 1b, 4e), CIFAR ResNet-164/1001 and ImageNet depths.
- Xie, Girshick, Dollár, Tu, He (2016), *Aggregated Residual Transformations*: ResNeXt, a
  bottleneck whose 3×3 convolution is grouped (Fig. 3c), Table 1 and §5.3.

Like torchvision's ``ResNet`` (which covers ResNet, ResNeXt and Wide ResNet), one
:class:`ResNet` reads a stage table; the variants are options of one
:class:`ResidualUnit` — basic or bottleneck, grouped, squeeze-and-excitation,
pre-activation, stride in the 1×1 or the 3×3 — not copies of it. Module names are
torchvision's (``conv1``, ``bn1``, ``layer1.0.conv1``, ``downsample.0``, ``fc``), so its
state_dicts load unchanged into ``resnet18``/``resnet34``/``resnet*_tv``/``resnext*``.
"""

from __future__ import annotations

import math
import warnings
from typing import Callable, Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torchvision.ops import FrozenBatchNorm2d

from .._checks import check_choice, check_flag, fraction
from ..layers import SqueezeExcite, init_weights_kaiming
from ..registry import Figure, Paper, register_model
from .base import Classifier

__all__ = ["ResNet", "ResidualUnit", "ZeroPadShortcut", "resolve_norm", "register_resnet", "ARCHS"]

RESNET_PAPER = Paper(
    title="Deep Residual Learning for Image Recognition",
    authors="Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun",
    year=2015, venue="CVPR 2016", arxiv="1512.03385",
)
PREACT_PAPER = Paper(
    title="Identity Mappings in Deep Residual Networks",
    authors="Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun",
    year=2016, venue="ECCV 2016", arxiv="1603.05027",
)
RESNEXT_PAPER = Paper(
    title="Aggregated Residual Transformations for Deep Neural Networks",
    authors="Saining Xie, Ross Girshick, Piotr Dollár, Zhuowen Tu, Kaiming He",
    year=2016, venue="CVPR 2017", arxiv="1611.05431",
)


# -- normalisation ---------------------------------------------------------------------
def _group_norm(channels: int) -> nn.GroupNorm:
    """Group norm with Wu & He's (2018) 32 groups, fewer where ``channels`` is not a
    multiple of 32 (the CIFAR networks' 16 channels get 16 groups)."""
    return nn.GroupNorm(math.gcd(32, channels), channels)


NORM_LAYERS: dict[str, Callable[[int], nn.Module]] = {
    "batch": nn.BatchNorm2d,        # the papers' batch norm
    "group": _group_norm,           # batch-size independent (Wu & He 2018)
    "frozen": FrozenBatchNorm2d,    # fixed statistics and affine: fine-tuning with small batches
}


def resolve_norm(spec: str | Callable[[int], nn.Module]) -> Callable[[int], nn.Module]:
    """``norm_layer`` as a factory ``channels -> module``: one of :data:`NORM_LAYERS`' names,
    or a callable (a class such as ``nn.BatchNorm2d``) that takes the channel count."""
    if isinstance(spec, str):
        if spec not in NORM_LAYERS:
            raise ValueError(f"norm_layer must be one of {', '.join(map(repr, NORM_LAYERS))} "
                             f"or a callable taking the channel count, got {spec!r}")
        return NORM_LAYERS[spec]
    if not callable(spec):
        raise TypeError(f"norm_layer must be a name or a callable taking the channel count, "
                        f"got {type(spec).__name__}")

    def make(channels: int) -> nn.Module:
        module = spec(channels)
        if not isinstance(module, nn.Module):
            raise TypeError(f"norm_layer({channels}) must return an nn.Module, "
                            f"got {type(module).__name__}")
        return module

    return make


# -- blocks ----------------------------------------------------------------------------
class ZeroPadShortcut(nn.Module):
    """Shortcut option A (He et al. 2015, §3.3 and §4.2): the identity, subsampled by the
    stride, with zero channels appended for the increased dimension. No parameters."""

    def __init__(self, in_chans: int, out_chans: int, stride: int):
        super().__init__()
        self.in_chans, self.out_chans, self.stride = in_chans, out_chans, stride

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.out_chans - self.in_chans))

    def extra_repr(self) -> str:
        return f"{self.in_chans}, {self.out_chans}, stride={self.stride}"


class ResidualUnit(nn.Module):
    """One residual unit ``y = shortcut(x) + F(x)`` (He et al. 2015, Fig. 2 and 5).

    ``chans`` are the channels along the residual branch and ``kernels`` its kernel sizes:
    ``(3, 3)`` is the basic unit, ``(1, 3, 1)`` the bottleneck. Options, all of the same unit:

    - ``groups``: the 3×3 is a grouped convolution (ResNeXt, Xie et al. 2016, Fig. 3c);
    - ``stride_index``: which convolution carries the stride (the paper's bottleneck: the
      first 1×1; torchvision's "v1.5" and ResNeXt: the 3×3);
    - ``se_reduction``: a squeeze-and-excitation block rescales the branch before the
      addition (Hu et al. 2017, Fig. 3);
    - ``preact``: each convolution is preceded by norm and ReLU and nothing follows the
      addition (He et al. 2016, Fig. 4e); ``activate_shortcut`` lets the shortcut take
      the pre-activated input, as the authors' code does in units with a projection and as
      the paper's appendix asks of the first unit after conv1; ``activated_input``: the
      input is already normalised and activated (by the stem), so the first convolution
      takes it as it is (``bn1`` is an identity).

    Convolution ``i`` and its norm are ``conv{i}``/``bn{i}`` (torchvision's names); in a
    pre-activation unit ``bn{i}`` normalises the *input* of ``conv{i}``.
    """

    def __init__(
        self,
        chans: Sequence[int],
        kernels: Sequence[int],
        *,
        stride: int = 1,
        stride_index: int = 0,
        groups: int = 1,
        downsample: nn.Module | None = None,
        norm: Callable[[int], nn.Module] = nn.BatchNorm2d,
        preact: bool = False,
        activate_shortcut: bool = False,
        activated_input: bool = False,
        se_reduction: int | None = None,
    ):
        super().__init__()
        self.depth = len(kernels)
        self.preact, self.activate_shortcut = preact, preact and activate_shortcut
        self.activated_input = preact and activated_input
        for i, k in enumerate(kernels):
            conv = nn.Conv2d(chans[i], chans[i + 1], k, stride if i == stride_index else 1,
                             k // 2, groups=groups if k == 3 else 1, bias=False)
            setattr(self, f"conv{i + 1}", conv)
            setattr(self, f"bn{i + 1}", nn.Identity() if i == 0 and self.activated_input
                    else norm(chans[i] if preact else chans[i + 1]))
        self.relu = nn.ReLU(inplace=True)
        self.se = SqueezeExcite(chans[-1], se_reduction) if se_reduction else None
        self.downsample = downsample

    def layers(self) -> list[tuple[nn.Conv2d, nn.Module]]:
        return [(getattr(self, f"conv{i}"), getattr(self, f"bn{i}")) for i in range(1, self.depth + 1)]

    def forward(self, x: Tensor) -> Tensor:
        shortcut = out = x
        for i, (conv, bn) in enumerate(self.layers()):
            if self.preact:
                if i > 0 or not self.activated_input:
                    out = self.relu(bn(out))
                if i == 0 and self.activate_shortcut:
                    shortcut = out
                out = conv(out)
            else:
                out = bn(conv(out))
                if i < self.depth - 1:
                    out = self.relu(out)
        if self.se is not None:
            out = self.se(out)
        if self.downsample is not None:
            shortcut = self.downsample(shortcut)
        out = out + shortcut
        return out if self.preact else self.relu(out)

    def zero_init_(self) -> None:
        """Make the branch output zero, so the unit starts as its shortcut (Goyal et al.
        2017): the last norm's scale, or in a pre-activation unit the last convolution."""
        conv, bn = self.layers()[-1]
        target = conv.weight if self.preact else getattr(bn, "weight", None)
        if target is not None:
            with torch.no_grad():
                target.zero_()


def _stem_norm_from_first_unit(module, state_dict, prefix, *_) -> None:
    """Read a pre-activation checkpoint saved before the stem took the first norm (cnnzoo
    before 2026-11-24: ``layer1.0.bn1``): on CIFAR (no pool) the same function, on ImageNet the
    same in eval mode where every scale is positive (a max pool commutes with a per-channel
    increasing affine map and with ReLU)."""
    old, new = f"{prefix}layer1.0.bn1.", f"{prefix}bn1."
    if any(k.startswith(new) for k in state_dict) or not any(k.startswith(old) for k in state_dict):
        return
    for key in [k for k in state_dict if k.startswith(old)]:
        state_dict[new + key[len(old):]] = state_dict.pop(key)
    scale = state_dict.get(new + "weight")
    if not isinstance(module.maxpool, nn.Identity) and scale is not None and (scale <= 0).any():
        warnings.warn(f"{prefix or 'the model'}: a checkpoint of the earlier pre-activation layout (norm after "
                      "the max pool) with scales ≤ 0 is read into the stem's norm, before the pool: its outputs "
                      "change; build ResNet(..., bare_stem=True) for that layout", stacklevel=2)


# -- the network -----------------------------------------------------------------------
STEMS = ("imagenet", "caffe", "deep", "cifar")


class ResNet(Classifier):
    """A residual network: a stem, stages of :class:`ResidualUnit`, global average pooling
    and a linear classifier.

    Parameters
    ----------
    block:
        ``"basic"`` (two 3×3) or ``"bottleneck"`` (1×1, 3×3, 1×1, expansion 4).
    layers, planes:
        Units per stage and each stage's ``planes`` (the basic unit's width, the
        bottleneck's 1×1 width before ResNeXt's widening). The first stage keeps the
        resolution, each later one halves it.
    stem:
        ``"imagenet"``: 7×7/2 conv, norm, ReLU, 3×3/2 max pool (He et al. 2015, Table 1, as
        torchvision pads it); ``"caffe"``: the same with the Caffe releases' max pool
        (no padding, ceil rounding), as the SENet authors' models; ``"deep"``: three 3×3
        convs (``stem_width``, ``stem_width``, ``2·stem_width``) in place of the 7×7
        (Hu et al. 2017, SENet-154); ``"cifar"``: one 3×3/1 conv, norm, ReLU (§4.2).
    groups, base_width:
        ResNeXt's cardinality C and per-group width d at 64 planes: the bottleneck's 3×3
        has ``int(planes · d / 64) · C`` channels (Xie et al. 2016, Table 1; torchvision's
        ``width_per_group``). ``first_reduce`` divides the first 1×1's width (SENet-154).
    stride_in_1x1:
        Put a bottleneck's stride in its first 1×1 (the ResNet paper) rather than the 3×3.
    preact:
        Pre-activation units (He et al. 2016), and the network ends with norm and ReLU
        before pooling. The stem keeps its norm and ReLU, before its max pool, and the first
        unit starts at its convolution: the appendix adopts "the first activation right after
        conv1 and before splitting into two paths", as fb.resnet.torch's ``preresnet.lua`` does
        (on CIFAR, with no pool, the same function as a first unit that pre-activates).
    bare_stem:
        Pre-activation networks only: the stem is the bare convolution and pool, and the
        first unit pre-activates after the pool: timm's ``ResNetV2``, whose weights load into
        ``ResNet(**ARCHS["preact_resnet50"], bare_stem=True)``.
    se_reduction:
        Squeeze-and-excitation in every unit with this reduction ratio r (Hu et al. 2017).
    shortcut:
        He et al. 2015, §3.3: ``"A"`` zero-padded identity for increased dimensions (no
        parameters), ``"B"`` projections for increased dimensions, ``"C"`` projections
        everywhere. A projection is a 1×1 conv and norm (a bare conv in pre-activation
        units); ``down_kernel`` > 1 makes the stride-2 ones k×k (SENet-154).
    drop_rate:
        Dropout before the classifier.
    zero_init_residual:
        Start every residual branch at zero (Goyal et al. 2017).
    norm_layer:
        ``"batch"``, ``"group"``, ``"frozen"`` or a callable taking the channel count.
    """

    def __init__(
        self,
        *,
        block: str,
        layers: Sequence[int],
        planes: Sequence[int] = (64, 128, 256, 512),
        stem: str = "imagenet",
        stem_width: int = 64,
        groups: int = 1,
        base_width: int = 64,
        first_reduce: int = 1,
        stride_in_1x1: bool = False,
        preact: bool = False,
        bare_stem: bool = False,
        se_reduction: int | None = None,
        shortcut: str = "B",
        down_kernel: int = 1,
        drop_rate: float = 0.0,
        zero_init_residual: bool = False,
        norm_layer: str | Callable[[int], nn.Module] = "batch",
        num_classes: int = 1000,
        in_chans: int = 3,
        input_size: tuple[int, int] = (224, 224),
        min_input_size: tuple[int, int] = (32, 32),
    ):
        super().__init__(num_classes=num_classes, in_chans=in_chans, input_size=input_size,
                         min_input_size=min_input_size, classifier="fc")
        check_choice(block, "block", ("basic", "bottleneck"))
        check_choice(stem, "stem", STEMS)
        check_choice(shortcut, "shortcut", ("A", "B", "C"))
        if len(layers) != len(planes) or not all(isinstance(n, int) and n >= 1 for n in layers):
            raise ValueError(f"layers must give a positive unit count for each of the "
                             f"{len(planes)} stages, got {tuple(layers)}")
        if block == "basic" and (groups, base_width, first_reduce) != (1, 64, 1):
            raise ValueError("the basic unit takes no groups, base_width or first_reduce "
                             f"(got groups={groups}, base_width={base_width}, first_reduce={first_reduce})")
        fraction(drop_rate, "drop_rate")
        norm = resolve_norm(norm_layer)
        self.preact, self.bare_stem = check_flag(preact, "preact"), check_flag(bare_stem, "bare_stem")
        if bare_stem and not preact:
            raise ValueError("bare_stem applies to pre-activation networks (preact=True) only")

        width = self._make_stem(stem, in_chans, stem_width, norm)
        expansion = 1 if block == "basic" else 4
        self.stage_names = []
        for s, (count, p) in enumerate(zip(layers, planes)):
            units = []
            for u in range(count):
                stride = 2 if s > 0 and u == 0 else 1
                out = p * expansion
                downsample, projection = self._shortcut(shortcut, width, out, stride, norm, down_kernel)
                if block == "basic":
                    chans, kernels, stride_index = (width, p, out), (3, 3), 0
                else:
                    mid = int(p * base_width / 64) * groups
                    chans, kernels = (width, mid // first_reduce, mid, out), (1, 3, 1)
                    stride_index = 0 if stride_in_1x1 else 1
                units.append(ResidualUnit(
                    chans, kernels, stride=stride, stride_index=stride_index, groups=groups,
                    downsample=downsample, norm=norm, preact=preact,
                    activate_shortcut=projection or (s == 0 and u == 0),
                    activated_input=s == 0 and u == 0 and not bare_stem,
                    se_reduction=se_reduction,
                ))
                width = out
            self.stage_names.append(f"layer{s + 1}")
            setattr(self, self.stage_names[-1], nn.Sequential(*units))

        self.num_features = width
        if preact:
            self.final_bn = norm(width)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(drop_rate)
        self.fc = nn.Linear(width, num_classes)
        init_weights_kaiming(self)
        if preact and not bare_stem:
            self.register_load_state_dict_pre_hook(_stem_norm_from_first_unit)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, ResidualUnit):
                    m.zero_init_()

    def _make_stem(self, kind: str, in_chans: int, width: int, norm) -> int:
        """Set ``conv1``, ``bn1``, ``relu``, ``maxpool`` (torchvision's names); return the
        stem's output channels."""
        if kind == "deep":
            def conv3(i, o, s=1):
                return nn.Conv2d(i, o, 3, s, 1, bias=False)
            self.conv1 = nn.Sequential(
                conv3(in_chans, width, 2), norm(width), nn.ReLU(inplace=True),
                conv3(width, width), norm(width), nn.ReLU(inplace=True),
                conv3(width, 2 * width),
            )
            width *= 2
        elif kind == "cifar":
            self.conv1 = nn.Conv2d(in_chans, width, 3, 1, 1, bias=False)
        else:
            self.conv1 = nn.Conv2d(in_chans, width, 7, 2, 3, bias=False)
        if not self.bare_stem:
            self.bn1 = norm(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = {
            "imagenet": nn.MaxPool2d(3, 2, padding=1),
            "caffe": nn.MaxPool2d(3, 2, ceil_mode=True),
            "deep": nn.MaxPool2d(3, 2, ceil_mode=True),
            "cifar": nn.Identity(),
        }[kind]
        return width

    def _shortcut(self, kind, in_chans, out_chans, stride, norm, down_kernel):
        """The unit's shortcut (``None`` for the identity) and whether it is a projection."""
        if kind != "C" and stride == 1 and in_chans == out_chans:
            return None, False
        if kind == "A":
            return ZeroPadShortcut(in_chans, out_chans, stride), False
        k = down_kernel if stride > 1 else 1
        conv = nn.Conv2d(in_chans, out_chans, k, stride, k // 2, bias=False)
        return (nn.Sequential(conv) if self.preact else nn.Sequential(conv, norm(out_chans))), True

    def _features(self, x: Tensor) -> Tensor:
        x = self.conv1(x)
        if not self.bare_stem:
            x = self.relu(self.bn1(x))
        x = self.maxpool(x)
        for name in self.stage_names:
            x = getattr(self, name)(x)
        if self.preact:
            x = self.relu(self.final_bn(x))
        return x

    def forward_head(self, features: Tensor) -> Tensor:
        return self.fc(self.dropout(self.avgpool(features).flatten(1)))


# -- registration ----------------------------------------------------------------------
#: The architecture options of every registered residual network, by name.
ARCHS: dict[str, dict] = {}


def register_resnet(name: str, *, family: str, paper: Paper, description: str,
                    figures: Sequence[Figure] = (), layout: str = "paper", cifar: bool = False,
                    **arch) -> None:
    """Register ``name`` as :class:`ResNet` with the architecture ``arch``. Its builder takes
    ``num_classes``, ``in_chans``, ``shortcut``, ``norm_layer``, ``zero_init_residual`` and
    ``drop_rate``; CIFAR networks default to 3×32×32 input and 10 classes."""
    size = (32, 32) if cifar else (224, 224)
    default_classes = 10 if cifar else 1000
    default_shortcut = arch.pop("shortcut", "B")
    default_drop = arch.pop("drop_rate", 0.0)

    def build(*, num_classes: int = default_classes, in_chans: int = 3,
              shortcut: str = default_shortcut,
              norm_layer: str | Callable[[int], nn.Module] = "batch",
              zero_init_residual: bool = False, drop_rate: float = default_drop) -> ResNet:
        return ResNet(**arch, shortcut=shortcut, norm_layer=norm_layer,
                      zero_init_residual=zero_init_residual, drop_rate=drop_rate,
                      num_classes=num_classes, in_chans=in_chans, input_size=size,
                      # the total stride: the last stage gets at least a 1×1 map (the
                      # arithmetic runs on smaller inputs, which are then mostly padding)
                      min_input_size=(4, 4) if cifar else (32, 32))

    build.__name__ = build.__qualname__ = name
    build.__doc__ = description
    ARCHS[name] = dict(arch, shortcut=default_shortcut, drop_rate=default_drop)
    register_model(name, family=family, paper=paper, input_size=(3, *size),
                   description=description, figures=figures, layout=layout)(build)


def _tv(weights: str, num_params: int, top1: float, top5: float, gflops: float) -> list[Figure]:
    """Figures of torchvision's ``weights`` (their ``meta``: ``num_params``,
    ``_metrics['ImageNet-1K']`` single 224 crop, ``_ops`` in GFLOPS = multiply-adds)."""
    src = f"torchvision {weights}.meta"
    return [Figure("params", num_params, src), Figure("top1", top1, src),
            Figure("top5", top5, src), Figure("macs", gflops * 1e9, src)]


def _err(source: str, top1_err: float, top5_err: float | None = None, dataset: str = "ImageNet",
         **published: float) -> list[Figure]:
    """A paper's error rates as accuracies, and its ``params``/``macs``."""
    figs = [Figure(k, v, source, dataset) for k, v in published.items()]
    figs.append(Figure("top1", round(100 - top1_err, 2), source, dataset))
    if top5_err is not None:
        figs.append(Figure("top5", round(100 - top5_err, 2), source, dataset))
    return figs


# He et al. 2015, Table 1: units per stage (conv2_x … conv5_x) and FLOPs (multiply-adds),
# Table 3: top-1/top-5 error, 10-crop testing, ImageNet val (ResNet-34 with option B).
IMAGENET_RESNETS = {
    #    block         stages          GFLOPs  Table 3 errors
    18: ("basic", (2, 2, 2, 2), 1.8, None),
    34: ("basic", (3, 4, 6, 3), 3.6, (24.52, 7.46)),
    50: ("bottleneck", (3, 4, 6, 3), 3.8, (22.85, 6.71)),
    101: ("bottleneck", (3, 4, 23, 3), 7.6, (21.75, 6.05)),
    152: ("bottleneck", (3, 8, 36, 3), 11.3, (21.43, 5.71)),
}
# torchvision's IMAGENET1K_V1 weights' meta: (num_params, acc@1, acc@5, GFLOPS). For 18/34 the
# network is the paper's; for 50/101/152 it is the "v1.5" of the _tv builders.
TORCHVISION_META = {
    "resnet18": ("ResNet18_Weights.IMAGENET1K_V1", 11_689_512, 69.758, 89.078, 1.814),
    "resnet34": ("ResNet34_Weights.IMAGENET1K_V1", 21_797_672, 73.314, 91.42, 3.664),
    "resnet50_tv": ("ResNet50_Weights.IMAGENET1K_V1", 25_557_032, 76.13, 92.862, 4.089),
    "resnet101_tv": ("ResNet101_Weights.IMAGENET1K_V1", 44_549_160, 77.374, 93.546, 7.801),
    "resnet152_tv": ("ResNet152_Weights.IMAGENET1K_V1", 60_192_808, 78.312, 94.046, 11.514),
    "resnext50_32x4d": ("ResNeXt50_32X4D_Weights.IMAGENET1K_V1", 25_028_904, 77.618, 93.698, 4.23),
    "resnext101_32x8d": ("ResNeXt101_32X8D_Weights.IMAGENET1K_V1", 88_791_336, 79.312, 94.526, 16.414),
    "resnext101_64x4d": ("ResNeXt101_64X4D_Weights.IMAGENET1K_V1", 83_455_272, 83.246, 96.454, 15.46),
}

# He et al. 2015, §4.2 and Table 6: 6n+2 layers, three stages of n basic units with 16, 32,
# 64 filters on 32×32, 16×16, 8×8 maps, option A shortcuts; Table 6: params, CIFAR-10 error.
CIFAR_RESNETS = {20: (0.27e6, 8.75), 32: (0.46e6, 7.51), 44: (0.66e6, 7.17),
                 56: (0.85e6, 6.97), 110: (1.7e6, 6.43), 1202: (19.4e6, 7.93)}

# He et al. 2016: pre-activation units at Table 1's ImageNet depths, plus ResNet-200 (its
# stages (3, 24, 36, 3) are fb.resnet.torch's, on which the paper's ImageNet runs are based);
# Table 5: top-1/top-5 error, single 320×320 crop of networks trained on 224 crops.
PREACT_IMAGENET = {18: None, 34: None, 50: None, 101: None, 152: (21.1, 5.5), 200: (20.7, 5.3)}

# He et al. 2016, CIFAR: ResNet-110 (basic units, 6n+2 layers; shortcut option A, as ResNet-110
# in He et al. 2015, §4.2, and fb.resnet.torch's CIFAR default, whose preresnet.lua the paper's
# runs used) and the bottleneck ResNet-164 and ResNet-1001 (9n+2 layers, stage outputs
# 64/128/256; as the authors' code github.com/KaimingHe/resnet-1k-layers: stride in the first
# 1×1, 1×1 projections where the dimension grows). Tables 3 and 4: params, CIFAR-10 and
# CIFAR-100 error.
PREACT_SHORTCUTS = {"A": "zero-padded identity shortcuts (option A)", "B": "projection shortcuts"}
PREACT_CIFAR = {
    #      block      n   shortcut params  C-10   C-100
    110: ("basic", 18, "A", None, 6.37, None),
    164: ("bottleneck", 18, "B", 1.7e6, 5.46, 24.33),
    1001: ("bottleneck", 111, "B", 10.2e6, 4.92, 22.71),
}

# Xie et al. 2016, Table 1 (ResNeXt-50 32×4d: 25.0M params, 4.2 GFLOPs), Table 3 (top-1 error)
# and Table 5 (top-1/top-5 error, 224 crop). ResNeXt-101 32×8d is torchvision's (FAIR's) model.
RESNEXT_IMAGENET = {
    #                    stages        C   d   paper's figures
    "resnext50_32x4d": ((3, 4, 6, 3), 32, 4,
                        dict(source="Xie et al. 2016, Tables 1 and 3", top1_err=22.2,
                             params=25.0e6, macs=4.2e9)),
    "resnext101_32x4d": ((3, 4, 23, 3), 32, 4, dict(source="Xie et al. 2016, Table 3", top1_err=21.2)),
    "resnext101_32x8d": ((3, 4, 23, 3), 32, 8, None),
    "resnext101_64x4d": ((3, 4, 23, 3), 64, 4,
                         dict(source="Xie et al. 2016, Table 5 (224 crop)", top1_err=20.4, top5_err=5.3)),
}

# Xie et al. 2016, §5.3 and Table 7: ResNeXt-29 for CIFAR, a 3×3 stem of 64 filters, three
# stages of 3 bottleneck units with outputs 256/512/1024 and d = 64; params, C-10/C-100 error.
RESNEXT_CIFAR = {8: (34.4e6, 3.65, 17.77), 16: (68.1e6, 3.58, 17.31)}


# Before training, batch norm's running statistics are 0 and 1, so in eval mode each of
# 500-600 residual additions roughly doubles the activations' variance: float32 overflows.
_UNTRAINED_OVERFLOW = (" Untrained, in eval mode, its outputs overflow to NaN (batch norm's running "
                       "statistics are not yet measured); train mode, or a trained model, is finite.")


def _register_resnets() -> None:
    for depth, (block, stages, gflops, errors) in IMAGENET_RESNETS.items():
        name = f"resnet{depth}"
        figs = _tv(*TORCHVISION_META[name]) if name in TORCHVISION_META else []
        figs.append(Figure("macs", gflops * 1e9, "He et al. 2015, Table 1 (FLOPs = multiply-adds)"))
        if errors:
            figs += _err("He et al. 2015, Table 3 (10-crop, ImageNet val)", *errors)
        where = (" It is torchvision's network: its weights load unchanged." if block == "basic"
                 else " The stride is in the bottleneck's first 1×1, as in the paper.")
        register_resnet(
            name, family="resnet", paper=RESNET_PAPER, figures=figs,
            description=f"ResNet-{depth} (He et al. 2015, Table 1): {block} units {list(stages)}.{where}",
            block=block, layers=stages, stride_in_1x1=True,
        )
    for depth in (50, 101, 152):
        block, stages = IMAGENET_RESNETS[depth][:2]
        register_resnet(
            f"resnet{depth}_tv", family="resnet", paper=RESNET_PAPER, layout="torchvision",
            figures=_tv(*TORCHVISION_META[f"resnet{depth}_tv"]),
            description=f"ResNet-{depth} as torchvision builds it (\"v1.5\": the bottleneck's stride "
                        "in its 3×3); torchvision's keys, its weights load unchanged.",
            block=block, layers=stages,
        )
    for depth, (params, error) in CIFAR_RESNETS.items():
        n = (depth - 2) // 6
        register_resnet(
            f"resnet{depth}", family="resnet", paper=RESNET_PAPER, cifar=True,
            figures=_err("He et al. 2015, Table 6", error, dataset="CIFAR-10", params=params),
            description=f"CIFAR-10 ResNet-{depth} (He et al. 2015, §4.2): 6n+2 layers with n={n}, "
                        "16/32/64 filters, shortcut option A (zero-padded identity; 'B' projects)."
                        + (_UNTRAINED_OVERFLOW if depth > 1000 else ""),
            block="basic", layers=(n,) * 3, planes=(16, 32, 64), stem="cifar", stem_width=16,
            shortcut="A",
        )


def _register_preact() -> None:
    for depth, errors in PREACT_IMAGENET.items():
        block, stages = IMAGENET_RESNETS.get(depth, ("bottleneck", (3, 24, 36, 3)))[:2]
        register_resnet(
            f"preact_resnet{depth}", family="preact-resnet", paper=PREACT_PAPER,
            figures=_err("He et al. 2016, Table 5 (320×320 crop)", *errors) if errors else (),
            description=f"Pre-activation ResNet-{depth} (He et al. 2016, Fig. 4e): BN-ReLU before "
                        f"each conv, {block} units {list(stages)}, stride in the 3×3; the stem's BN-ReLU "
                        "before its max pool (Appendix).",
            block=block, layers=stages, preact=True,
        )
    for depth, (block, n, shortcut, params, c10, c100) in PREACT_CIFAR.items():
        figs = _err("He et al. 2016, Tables 3-4", c10, dataset="CIFAR-10",
                    **({"params": params} if params else {}))
        if c100:
            figs += _err("He et al. 2016, Tables 3-4", c100, dataset="CIFAR-100")
        register_resnet(
            f"preact_resnet{depth}", family="preact-resnet", paper=PREACT_PAPER, cifar=True,
            figures=figs,
            description=f"CIFAR pre-activation ResNet-{depth} (He et al. 2016): {n} {block} units "
                        f"per stage, widths 16/32/64, {PREACT_SHORTCUTS[shortcut]}."
                        + (_UNTRAINED_OVERFLOW if depth > 1000 else ""),
            block=block, layers=(n,) * 3, planes=(16, 32, 64), stem="cifar", stem_width=16,
            preact=True, stride_in_1x1=True, shortcut=shortcut,
        )


def _register_resnext() -> None:
    for name, (stages, c, d, published) in RESNEXT_IMAGENET.items():
        figs = _err(**published) if published else []
        if name in TORCHVISION_META:
            figs += _tv(*TORCHVISION_META[name])
        register_resnet(
            name, family="resnext", paper=RESNEXT_PAPER, figures=figs,
            description=f"ResNeXt (Xie et al. 2016, Table 1): cardinality {c}, {d} channels per "
                        f"group, bottleneck units {list(stages)}; "
                        + ("torchvision's network and keys." if name in TORCHVISION_META
                           else "timm's network and keys (torchvision has none)."),
            block="bottleneck", layers=stages, groups=c, base_width=d,
        )
    for c, (params, c10, c100) in RESNEXT_CIFAR.items():
        register_resnet(
            f"resnext29_{c}x64d", family="resnext", paper=RESNEXT_PAPER, cifar=True,
            figures=_err("Xie et al. 2016, Table 7", c10, dataset="CIFAR-10", params=params)
            + _err("Xie et al. 2016, Table 7", c100, dataset="CIFAR-100"),
            description=f"CIFAR ResNeXt-29 {c}×64d (Xie et al. 2016, §5.3): 3 stages of 3 "
                        f"bottleneck units, cardinality {c}, 64 channels per group.",
            block="bottleneck", layers=(3, 3, 3), planes=(64, 128, 256), stem="cifar",
            stem_width=64, groups=c, base_width=64,
        )


# Chronological: the 2015 paper, the 2016 pre-activation paper, ResNeXt (SENet: .senet).
_register_resnets()
_register_preact()
_register_resnext()
