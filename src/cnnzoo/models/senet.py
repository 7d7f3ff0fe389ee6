"""SENet (Hu, Shen, Sun 2017, *Squeeze-and-Excitation Networks*): the residual networks of
:mod:`.resnet` with a squeeze-and-excitation block, reduction r = 16, in every unit
(Fig. 3; Table 1 gives SE-ResNet-50 and SE-ResNeXt-50 32×4d).

The networks are those of the authors' Caffe release (github.com/hujie-frank/SENet), which
timm's ``legacy_se*`` models port: SE-ResNets keep the ResNet paper's stride in the first
1×1, SE-ResNeXts put it in the grouped 3×3, and the stem's max pool is Caffe's (no padding,
ceil rounding). SE-ResNet-18 and -34 are not in the release; they are built the same way
on the paper's basic units (timm's ``legacy_seresnet18/34`` have as many parameters but add a
ReLU before the SE block, so their weights compute something else here). SENet-154 is SE-ResNeXt-152
64×4d with the changes of the paper's appendix: the first 1×1 of each unit at half width,
three 3×3 convolutions in place of the 7×7, 3×3 stride-2 projections, and dropout 0.2
before the classifier.
"""

from __future__ import annotations

from ..registry import Figure, Paper
from .resnet import IMAGENET_RESNETS, register_resnet

SENET_PAPER = Paper(
    title="Squeeze-and-Excitation Networks",
    authors="Jie Hu, Li Shen, Gang Sun",
    year=2017, venue="CVPR 2018", arxiv="1709.01507",
)

# Top-1/top-5 error of the authors' released models (the table in their repository's README,
# not the paper's Table 1: single 224×224 center crop, ImageNet val) and GFLOPs of Hu et al. 2017, Table 2.
RELEASE = "Hu et al., authors' release (github.com/hujie-frank/SENet), 224 center crop"
SENETS = {
    #  name                  architecture (beyond se_reduction=16, stem="caffe")    errors         GFLOPs
    "se_resnet18": (dict(block="basic", layers=IMAGENET_RESNETS[18][1]), None, None),
    "se_resnet34": (dict(block="basic", layers=IMAGENET_RESNETS[34][1]), None, None),
    "se_resnet50": (dict(block="bottleneck", layers=IMAGENET_RESNETS[50][1], stride_in_1x1=True),
                    (22.37, 6.36), 3.87),
    "se_resnet101": (dict(block="bottleneck", layers=IMAGENET_RESNETS[101][1], stride_in_1x1=True),
                     (21.75, 5.72), 7.60),
    "se_resnet152": (dict(block="bottleneck", layers=IMAGENET_RESNETS[152][1], stride_in_1x1=True),
                     (21.34, 5.54), 11.32),
    "se_resnext50_32x4d": (dict(block="bottleneck", layers=(3, 4, 6, 3), groups=32, base_width=4),
                           (20.97, 5.54), 4.25),
    "se_resnext101_32x4d": (dict(block="bottleneck", layers=(3, 4, 23, 3), groups=32, base_width=4),
                            (19.81, 4.96), 8.00),
    "senet154": (dict(block="bottleneck", layers=(3, 8, 36, 3), groups=64, base_width=4,
                      first_reduce=2, stem="deep", down_kernel=3, drop_rate=0.2),
                 (18.68, 4.47), None),
}


def _register_senets() -> None:
    for name, (arch, errors, gflops) in SENETS.items():
        figs = []
        if errors:
            figs += [Figure("top1", round(100 - errors[0], 2), RELEASE),
                     Figure("top5", round(100 - errors[1], 2), RELEASE)]
        if gflops:
            figs.append(Figure("macs", gflops * 1e9, "Hu et al. 2017, Table 2 (GFLOPs)"))
        block, stages = arch["block"], list(arch["layers"])
        kind = "SE-ResNeXt" if "groups" in arch else "SE-ResNet"
        # The release has no SE-ResNet-18/34 (no errors above): the same construction on
        # the paper's basic units.
        origin = ("as the authors' Caffe release" if errors else
                  "not in the authors' release: built like its SE-ResNets, on basic units")
        register_resnet(
            name, family="senet", paper=SENET_PAPER, figures=figs,
            description=(f"{kind} (Hu et al. 2017): {block} units {stages} with squeeze-and-"
                         f"excitation (r=16), {origin}." if name != "senet154"
                         else "SENet-154 (Hu et al. 2017, appendix): SE-ResNeXt-152 64×4d with a "
                              "3×3 stem, halved first 1×1s, 3×3 projections and dropout 0.2."),
            se_reduction=16, **dict(dict(stem="caffe"), **arch),
        )


_register_senets()
