"""Training recipes as data: each paper's, and a small-data one that is fast on a CPU.

A :class:`Recipe` holds every hyper-parameter of a run. :func:`get_recipe` picks the one for
a model (``kind="paper"`` or ``"small"``) and applies the user's overrides; any field can be
overridden (``cnnzoo train ... --lr 0.05 --set milestones=[30,60]``).

The paper recipes (:data:`PAPER_RECIPES`) give each paper's optimiser, learning rate,
schedule, weight decay, batch size, epochs, auxiliary-loss weight, label smoothing and
augmentation, with the section they come from. Where a paper leaves a value open, the
comment says what is used instead. Learning rates are the papers' for their batch sizes;
the user who changes the batch size should scale them (Goyal et al. 2017: linearly).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import typing
from dataclasses import dataclass, field

from .._checks import describe, hint_problem, python_value

__all__ = ["Recipe", "PAPER_RECIPES", "SMALL_RECIPE", "get_recipe", "parse_overrides", "RECIPE_KINDS"]

RECIPE_KINDS = ("small", "paper")
# Recipe fields that say where a recipe comes from, or that go to the model's builder.
NOT_OVERRIDDEN = {
    "name": "it names the recipe (--recipe small or paper)",
    "source": "it cites where the recipe comes from",
    "model_options": "model options are given with --option KEY=VALUE (model_options= in Python)",
}
OPTIMIZERS = ("sgd", "rmsprop", "adam", "adamw")
SCHEDULES = ("constant", "multistep", "exponential", "plateau", "cosine", "linear", "inv")


@dataclass(frozen=True)
class Recipe:
    """Every hyper-parameter of a training run.

    ``schedule``: ``constant``; ``multistep`` (× ``gamma`` at each of ``milestones``, or ×
    ``factors[k]`` after the k-th milestone); ``exponential`` (× ``gamma`` every
    ``step_size``); ``plateau`` (× ``gamma`` when the accuracy named by ``plateau_on``,
    ``"test"`` or ``"train"``, has not improved for ``patience`` epochs, at most
    ``max_decays`` times); ``cosine`` and ``linear`` (decay to
    zero at the end); ``inv`` (Caffe's: × (1 + ``gamma``·t)^−``power``). ``unit`` says whether milestones, ``step_size`` and ``warmup`` count
    epochs or optimiser steps (iterations). ``warmup`` runs at ``warmup_factor``·lr, rising
    linearly to lr (``warmup_mode="linear"``) or held there (``"constant"``).
    ``depthwise_decay`` is the weight decay of depthwise convolution filters (a convolution
    with one filter group per input channel), ``norm_bias_decay`` that of normalisation
    layers' scales and shifts and of biases; None: ``weight_decay`` as every other weight.
    ``filter_rms``: after every step, each convolution filter whose root mean square exceeds it
    is scaled back to it (:func:`cnnzoo.train.optim.renormalise_filters`; ZFNet's radius).
    ``aux_weight`` None keeps the model's own auxiliary-loss weight. ``augment`` is a preset
    of :data:`cnnzoo.data.AUGMENTS`, a dict of :class:`cnnzoo.data.Augment` fields, or
    ``"auto"``: the recipe's ``augment_rgb`` preset for colour images and ``"digits"``
    (small shifts, no flips) for grey ones. ``input_size`` None lets the model decide.
    """

    name: str
    source: str
    epochs: int
    batch_size: int
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    depthwise_decay: float | None = None
    norm_bias_decay: float | None = None
    rmsprop_decay: float = 0.9
    eps: float | None = None
    schedule: str = "constant"
    milestones: tuple[float, ...] = ()
    factors: tuple[float, ...] = ()
    gamma: float = 0.1
    step_size: float = 1.0
    power: float = 0.75
    patience: int = 5
    max_decays: int = 3
    plateau_on: str = "test"
    unit: str = "epoch"
    warmup: float = 0.0
    warmup_factor: float = 0.1
    warmup_mode: str = "linear"
    label_smoothing: float = 0.0
    aux_weight: float | None = None
    grad_clip: float = 0.0
    filter_rms: float | None = None
    augment: object = "auto"
    augment_rgb: str = "cifar"
    input_size: tuple[int, int, int] | None = None
    model_options: dict = field(default_factory=dict)

    def __post_init__(self):
        hints = typing.get_type_hints(Recipe)
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, python_value(getattr(self, f.name)))  # np.int64(30) epochs from a sweep
            problem = hint_problem(getattr(self, f.name), hints[f.name])
            if problem:
                raise ValueError(f"recipe {self.name}: {f.name} must be {problem}, "
                                 f"got {getattr(self, f.name)!r}")
        checks = [
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}"),
            (self.schedule in SCHEDULES, f"schedule must be one of {SCHEDULES}, got {self.schedule!r}"),
            (self.unit in ("epoch", "step"), f"unit must be 'epoch' or 'step', got {self.unit!r}"),
            (self.plateau_on in ("test", "train"), f"plateau_on must be 'test' or 'train', got {self.plateau_on!r}"),
            (self.warmup_mode in ("linear", "constant"), f"warmup_mode must be 'linear' or 'constant', got {self.warmup_mode!r}"),
            (isinstance(self.epochs, int) and self.epochs >= 1, f"epochs must be a positive integer, got {self.epochs!r}"),
            (isinstance(self.batch_size, int) and self.batch_size >= 1, f"batch_size must be a positive integer, got {self.batch_size!r}"),
            (self.lr > 0, f"lr must be positive, got {self.lr}"),
            (self.weight_decay >= 0, f"weight_decay must be ≥ 0, got {self.weight_decay}"),
            (self.depthwise_decay is None or self.depthwise_decay >= 0,
             f"depthwise_decay must be ≥ 0 (or null), got {self.depthwise_decay}"),
            (self.norm_bias_decay is None or self.norm_bias_decay >= 0,
             f"norm_bias_decay must be ≥ 0 (or null), got {self.norm_bias_decay}"),
            (0 <= self.label_smoothing < 1, f"label_smoothing must lie in [0, 1), got {self.label_smoothing}"),
            (0 <= self.momentum < 1, f"momentum must lie in [0, 1), got {self.momentum}"),
            (0 <= self.rmsprop_decay < 1, f"rmsprop_decay must lie in [0, 1), got {self.rmsprop_decay}"),
            (self.eps is None or self.eps > 0, f"eps must be positive, got {self.eps}"),
            (self.gamma > 0 and self.step_size > 0,
             f"gamma and step_size must be positive, got {self.gamma} and {self.step_size}"),
            (self.patience >= 0 and self.max_decays >= 0,
             f"patience and max_decays must be ≥ 0, got {self.patience} and {self.max_decays}"),
            (self.filter_rms is None or self.filter_rms > 0,
             f"filter_rms must be positive (or null), got {self.filter_rms}"),
            (self.warmup >= 0 and self.grad_clip >= 0,
             f"warmup and grad_clip must be ≥ 0, got {self.warmup} and {self.grad_clip}"),
            (not self.factors or len(self.factors) == len(self.milestones),
             f"factors ({len(self.factors)}) must match milestones ({len(self.milestones)})"),
            (all(m > 0 for m in self.milestones) and list(self.milestones) == sorted(self.milestones),
             f"milestones must be positive and in increasing order, got {list(self.milestones)}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"recipe {self.name}: {message}")
        if self.augment != "auto":
            from ..data import Augment

            Augment.from_spec(self.augment)  # a preset name or Augment's fields, checked now
        object.__setattr__(self, "milestones", tuple(self.milestones))
        object.__setattr__(self, "factors", tuple(self.factors))
        if self.input_size is not None:
            object.__setattr__(self, "input_size", tuple(self.input_size))

    def replace(self, **changes) -> "Recipe":
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown recipe field(s) {', '.join(unknown)}; fields: "
                             f"{', '.join(sorted(known - set(NOT_OVERRIDDEN)))}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Recipe":
        return cls(**data)


# The small-data recipe: Nesterov SGD with a short linear warm-up and a cosine decay, label
# smoothing, the shift/flip augmentation; a few minutes on a laptop CPU for the small nets.
SMALL_RECIPE = Recipe(
    name="small", source="cnnzoo small-data recipe (not a paper's)",
    epochs=15, batch_size=128, optimizer="sgd", lr=0.05, momentum=0.9, nesterov=True,
    weight_decay=5e-4, schedule="cosine", warmup=1, warmup_factor=0.1, label_smoothing=0.1,
)

# Per-model changes to the small recipe (first match wins).
SMALL_OVERRIDES: list[tuple[str, dict]] = [
    # LeNet-5 with its RBF output and eq. 9 criterion (tanh units, no normalisation): Adam
    # copes with its large output penalties; the distortions of §III.B keep the 60,000
    # weights from memorising 4,000 digits. `cnnzoo demo` runs this (README: measured).
    ("lenet5", dict(optimizer="adam", lr=5e-3, weight_decay=0.0, epochs=40, batch_size=64,
                    label_smoothing=0.0, warmup=0.5, augment="lecun")),
    ("lenet*", dict(optimizer="adam", lr=2e-3, weight_decay=0.0, epochs=12, batch_size=64)),
    # Networks without batch norm diverge at SGD 0.05 on small data: Adam (a family's
    # batch-norm variants, vgg*_bn and googlenet_tv, share its setting).
    ("alexnet*", dict(optimizer="adam", lr=2e-4, weight_decay=0.0)),
    ("zfnet*", dict(optimizer="adam", lr=2e-4, weight_decay=0.0)),
    ("vgg*", dict(optimizer="adam", lr=2e-4, weight_decay=0.0)),
    ("nin*", dict(optimizer="adam", lr=1e-3, weight_decay=0.0)),
    ("googlenet*", dict(optimizer="adam", lr=5e-4, weight_decay=0.0)),
    ("highway*", dict(optimizer="adam", lr=1e-3, weight_decay=0.0)),
]

_IMAGENET_SGD = dict(optimizer="sgd", momentum=0.9, augment_rgb="alexnet")
# Lin et al. 2013, §4.1: batch 128; the lr "is lowered by a scale of 10" when the accuracy
# stops improving, and "this procedure is repeated once such that the final learning rate is
# one percent of the initial value": two decays, when "the accuracy on the training set stops
# improving". Other hyper-parameters "similar to" Krizhevsky et al.: lr 0.01, momentum 0.9,
# weight decay 5e-4. The length is not given: 90 epochs is cnnzoo's, AlexNet's. The CIFAR-10
# network's global contrast normalisation and ZCA whitening (§4.2) are not applied.
_NIN = Recipe(
    name="paper", source="Lin et al. 2013, §4.1 (Krizhevsky et al.'s procedure)", epochs=90, batch_size=128,
    lr=0.01, weight_decay=5e-4, schedule="plateau", gamma=0.1, max_decays=2, plateau_on="train",
    **_IMAGENET_SGD)
# He et al. 2015, §4.2: the CIFAR-10 ResNets (and the warm-up of ResNet-110 and deeper).
# "terminate training at 64k iterations": 164 epochs of the 50,000 training images at batch
# 128 are 164 × 390 = 63,960 iterations (182 epochs, 64k iterations of the 45k/5k split that
# chose the length, would run 70,980 on the whole set).
_CIFAR_RESNET = Recipe(
    name="paper", source="He et al. 2015, §4.2", epochs=164, batch_size=128, lr=0.1, weight_decay=1e-4,
    schedule="multistep", milestones=(32_000, 48_000), unit="step", augment_rgb="cifar")
_CIFAR_WARMUP = dict(warmup=400, warmup_factor=0.1, warmup_mode="constant")
# He et al. 2015, §3.4 (ImageNet): batch 256, lr 0.1 divided by 10 when the error plateaus,
# up to 60×10^4 iterations (120 epochs: 60×10^4 × 256 / 1.28 M images), weight decay 1e-4,
# momentum 0.9; scale augmentation (shorter side uniform in [256, 480]), crops, flips and
# AlexNet's colour noise (the `resnet` preset).
_IMAGENET_RESNET = Recipe(
    name="paper", source="He et al. 2015, §3.4", epochs=120, batch_size=256, lr=0.1, weight_decay=1e-4,
    schedule="plateau", gamma=0.1, max_decays=3, augment_rgb="resnet")
# Caffe's MNIST example (examples/mnist/lenet_solver.prototxt), which Han et al. train their
# LeNets with: SGD, lr 0.01, momentum 0.9, weight decay 5e-4, the "inv" policy
# lr·(1 + 1e-4·iter)^-0.75, batch 64, 10,000 iterations (about 11 epochs of MNIST).
_CAFFE_LENET = Recipe(
    name="paper", source="Caffe's MNIST LeNet solver (as Han et al. 2015/2016 use)", epochs=11, batch_size=64,
    lr=0.01, momentum=0.9, weight_decay=5e-4, schedule="inv", gamma=1e-4, power=0.75, unit="step", augment="none")

# Paper recipes, matched by model-name pattern in this order (first match wins).
PAPER_RECIPES: list[tuple[str, Recipe]] = [
    # LeCun et al. 1998, §III.B and Appendix C: 20 passes; global step sizes 0.0005 (2
    # passes), 0.0002 (3), 0.0001 (3), 0.00005 (4), 0.00001 thereafter, scaled per weight by
    # the stochastic diagonal Levenberg-Marquardt method, on single examples. cnnzoo has no
    # SDLM: it keeps the 20 passes and the relative schedule, with SGD and momentum 0.9 on
    # mini-batches of 32 at a global rate of 0.0025 (at SDLM's largest step, η/μ = 0.025 with
    # μ = 0.02, plain SGD saturates the tanh units and learns nothing). On mnist-sample this
    # reaches 96.9% without augmentation (measured).
    ("lenet5", Recipe(
        name="paper", source="LeCun et al. 1998, §III.B, Appendix C (SGD with momentum in place of SDLM)",
        epochs=20, batch_size=32, optimizer="sgd", lr=0.0025, momentum=0.9,
        schedule="multistep", milestones=(2, 5, 8, 12), factors=(0.4, 0.2, 0.1, 0.02),
        augment="none")),
    # Zhang et al., Dive into Deep Learning, 0.x editions, §6.6 (LeNet): SGD, lr 0.9, batch 256,
    # 10 epochs. The 1.0 edition's §7.6 trains the same network with lr 0.1 at batch 128.
    ("lenet5_textbook", Recipe(
        name="paper", source="Zhang et al., Dive into Deep Learning, §6.6 (0.x editions)", epochs=10, batch_size=256,
        optimizer="sgd", lr=0.9, momentum=0.0, augment="none")),
    ("lenet5_caffe|lenet_300_100|lenet5_relu", _CAFFE_LENET),
    # Krizhevsky et al. 2012, §5: batch 128, momentum 0.9, weight decay 0.0005, lr 0.01
    # divided by 10 when the validation error stopped improving (three times), ~90 epochs;
    # §4.1: random 224 crops of the 256 image, flips, PCA colour noise; dropout 0.5 (model).
    ("alexnet*", Recipe(
        name="paper", source="Krizhevsky et al. 2012, §4.1, §5", epochs=90, batch_size=128,
        lr=0.01, weight_decay=5e-4, schedule="plateau", gamma=0.1, max_decays=3, **_IMAGENET_SGD)),
    # Zeiler & Fergus 2013, §3: batch 128, lr 0.01 annealed by hand when the validation
    # error plateaus (three times here, as AlexNet), momentum 0.9, dropout 0.5, 70 epochs,
    # "crops and flips" (the paper's ten fixed 224 crops and their mirror images are among the
    # `zfnet` preset's random crops; no colour noise is named); "we renormalize
    # each filter in the convolutional layers whose RMS value exceeds a fixed radius of 10^-1
    # to this fixed radius. This is crucial, especially in the first layer". Weight decay is
    # not given: AlexNet's 5e-4.
    ("zfnet*", Recipe(
        name="paper", source="Zeiler & Fergus 2013, §3", epochs=70, batch_size=128, lr=0.01,
        weight_decay=5e-4, schedule="plateau", gamma=0.1, max_decays=3, filter_rms=0.1,
        optimizer="sgd", momentum=0.9, augment_rgb="zfnet")),
    # Simonyan & Zisserman 2014, §3.1: batch 256, momentum 0.9, weight decay 5e-4, dropout
    # 0.5, lr 0.01 divided by 10 when validation accuracy stopped improving (3 times), 74
    # epochs; 224 crops of images rescaled to S = 256 (single-scale training: the Table 3 rows
    # whose errors the registry lists; `--set augment=vgg_jitter` for S in [256, 512]), flips,
    # RGB colour shift. Dense and multi-scale testing (§3.2) are not implemented: centre or
    # ten crops.
    ("vgg*", Recipe(
        name="paper", source="Simonyan & Zisserman 2014, §3.1", epochs=74, batch_size=256,
        lr=0.01, weight_decay=5e-4, schedule="plateau", gamma=0.1, max_decays=3, **_IMAGENET_SGD)),
    ("nin", _NIN.replace(augment_rgb="cifar")),  # the CIFAR-10 network: translations and flips
    ("nin_imagenet", _NIN),
    # Szegedy et al. 2014, §5-6: momentum 0.9, lr decreased by 4% every 8 epochs, auxiliary
    # losses weighted 0.3 (model), patches of 8%-100% area; the photometric distortions of
    # §6 (Howard's) are not reproduced. The initial lr, weight decay, batch size and length
    # are not given: BVLC's Caffe reproduction's solver.prototxt, 0.01, 0.0002, 32, 250 epochs
    # (its 10^7 iterations; the weights BVLC bundles came from its quick_solver.prototxt, a
    # polynomial decay over 60 epochs, per models/bvlc_googlenet/readme.md).
    ("googlenet*", Recipe(
        name="paper", source="Szegedy et al. 2014, §5-6 (lr 0.01, wd 2e-4 from BVLC's Caffe solver.prototxt)",
        epochs=250, batch_size=32, optimizer="sgd", lr=0.01, weight_decay=2e-4,
        schedule="exponential", gamma=0.96, step_size=8, augment_rgb="inception")),
    # Ioffe & Szegedy 2015, §4.2 ("mini-batch size of 32") and §4.2.1-4.2.2: the BN-x5
    # network: lr increased 5× to 0.0075, lr decay 6× faster than GoogLeNet's (4% every 8/6
    # epochs), L2 weight reduced 5×, no dropout. The base weight decay (GoogLeNet's 2e-4, so
    # 4e-5) and the length (60 epochs) are not in the paper: ours.
    ("bn_inception*", Recipe(
        name="paper", source="Ioffe & Szegedy 2015, §4.2.1 (BN-x5)", epochs=60, batch_size=32,
        lr=0.0075, weight_decay=4e-5, schedule="exponential", gamma=0.96, step_size=8 / 6,
        augment_rgb="inception")),
    # Szegedy et al. 2015 (Inception v3), §8: batch 32 per replica, 100 epochs, RMSProp
    # decay 0.9, ε 1.0, lr 0.045 decayed every two epochs by 0.94, gradient clipping at 2.0;
    # §7: label smoothing ε = 0.1. Weight decay and RMSProp's momentum are not given: TF-slim's
    # 4e-5 and 0.9 (train_image_classifier's rmsprop_momentum); TF-slim's arg scope puts the
    # decay on the convolutions' and the classifier's weights only (weights_regularizer), not
    # on batch norm's parameters or biases (norm_bias_decay=0), as in the v4 and MobileNet
    # recipes below.
    ("inception_v3*", Recipe(
        name="paper", source="Szegedy et al. 2015, §7-8", epochs=100, batch_size=32,
        optimizer="rmsprop", lr=0.045, momentum=0.9, rmsprop_decay=0.9, eps=1.0,
        weight_decay=4e-5, norm_bias_decay=0.0, schedule="exponential", gamma=0.94, step_size=2,
        grad_clip=2.0, label_smoothing=0.1, augment_rgb="inception")),
    # Szegedy et al. 2016 (Inception-v4, Inception-ResNet), §4: RMSProp decay 0.9, ε 1.0,
    # lr 0.045 decayed every two epochs by 0.94 (batch, length, wd as Inception v3).
    ("inception_*", Recipe(
        name="paper", source="Szegedy et al. 2016, §4", epochs=100, batch_size=32,
        optimizer="rmsprop", lr=0.045, momentum=0.9, rmsprop_decay=0.9, eps=1.0,
        weight_decay=4e-5, norm_bias_decay=0.0, schedule="exponential", gamma=0.94, step_size=2,
        augment_rgb="inception")),
    # He et al. 2015, §4.2 (CIFAR-10): batch 128, weight decay 1e-4, momentum 0.9, lr 0.1
    # divided by 10 at 32k and 48k iterations, stop at 64k; 4-pixel padding, crops, flips.
    # ResNet-110 (and deeper) warm up at 0.01 for about 400 iterations.
    ("resnet20|resnet32|resnet44|resnet56", _CIFAR_RESNET),
    ("resnet110|resnet1202", _CIFAR_RESNET.replace(**_CIFAR_WARMUP)),
    # He et al. 2016 (identity mappings), Appendix (implementation details, CIFAR): lr 0.1
    # divided by 10 at 32k and 48k iterations, warmed up at 0.01 for the first 400 iterations
    # in all CIFAR experiments, batch 128, weight decay 1e-4, momentum 0.9.
    ("preact_resnet110|preact_resnet164|preact_resnet1001",
     _CIFAR_RESNET.replace(source="He et al. 2016, Appendix; He et al. 2015, §4.2", **_CIFAR_WARMUP)),
    # Xie et al. 2016 (ResNeXt), Appendix A ("Implementation Details: CIFAR"): batch 128, 300
    # epochs, lr 0.1 reduced at epochs 150 and 225 (by 10, "as in" He et al.), weight decay
    # 5e-4, momentum 0.9.
    ("resnext29*", Recipe(
        name="paper", source="Xie et al. 2016, Appendix A", epochs=300, batch_size=128, lr=0.1,
        weight_decay=5e-4, schedule="multistep", milestones=(150, 225), augment_rgb="cifar")),
    # Xie et al. 2016 (ResNeXt), §4 ("Implementation details"): batch 256, lr 0.1 divided by
    # 10 three times with the schedule of Gross & Wilber's fb.resnet.torch (every 30 epochs; 100
    # epochs then end the third), weight decay 1e-4, momentum 0.9; "scale and aspect ratio
    # augmentation ... implemented by [11]": fb.resnet.torch's, with its colour jitter and
    # PCA noise, as the authors' code (facebookresearch/ResNeXt, datasets/imagenet.lua).
    ("resnext*", Recipe(
        name="paper", source="Xie et al. 2016, §4", epochs=100, batch_size=256, lr=0.1,
        weight_decay=1e-4, schedule="multistep", milestones=(30, 60, 90), augment_rgb="fb_resnet")),
    # Hu et al. 2017 (SENet), arXiv v4 (TPAMI) §5.1 "Image Classification" (§5
    # "Implementation" in the earlier arXiv/CVPR text; v4's §6 is the ablation study, trained
    # differently): "synchronous SGD with momentum 0.9 and a minibatch size of 1024. The
    # initial learning rate is set to 0.6 and decreased by a factor of 10 every 30 epochs.
    # Models are trained for 100 epochs" (weight decay not given: 1e-4 as ResNet).
    ("se_*|senet*", Recipe(
        name="paper", source="Hu et al. 2017 (arXiv v4), §5.1", epochs=100, batch_size=1024, lr=0.6,
        weight_decay=1e-4, schedule="multistep", milestones=(30, 60, 90), augment_rgb="inception")),
    # He et al. 2016 (identity mappings), Appendix (ImageNet): "The learning rate starts from
    # 0.1 (no warming up), and is divided by 10 at 30 and 60 epochs. The mini-batch size is
    # 256"; weight decay and augmentation as He et al. 2015. The length is not given: 90
    # epochs, as fb.resnet.torch, on which its code is built.
    ("preact_resnet*", _IMAGENET_RESNET.replace(
        source="He et al. 2016, Appendix (ImageNet)", epochs=90, schedule="multistep", milestones=(30, 60))),
    ("resnet*", _IMAGENET_RESNET),
    # Huang et al. 2017 (DenseNet), §4.2, CIFAR: batch 64, 300 epochs, lr 0.1 divided by 10
    # at 50% and 75% of training; Nesterov momentum 0.9 without dampening, weight decay 1e-4.
    ("densenet40*|densenet100*|densenet_bc_*", Recipe(
        name="paper", source="Huang et al. 2017, §4.2 (CIFAR)", epochs=300, batch_size=64, lr=0.1,
        nesterov=True, weight_decay=1e-4, schedule="multistep", milestones=(150, 225), augment_rgb="cifar")),
    # Huang et al. 2017 (DenseNet), §4.2: Nesterov momentum 0.9 without dampening, weight
    # decay 1e-4; ImageNet: batch 256, 90 epochs, lr 0.1 ÷10 at epochs 30 and 60, "the same
    # data augmentation scheme" as ResNet: the authors' code (liuzhuang13/DenseNet) trains with
    # fb.resnet.torch's (datasets/imagenet.lua). (CIFAR: batch 64, 300 epochs, ÷10 at 50% and
    # 75%: override epochs and milestones.)
    ("densenet*", Recipe(
        name="paper", source="Huang et al. 2017, §4.2 (ImageNet)", epochs=90, batch_size=256,
        lr=0.1, nesterov=True, weight_decay=1e-4, schedule="multistep", milestones=(30, 60),
        augment_rgb="fb_resnet")),
    # Sandler et al. 2018 (MobileNetV2), §6.1: RMSProp decay 0.9, momentum 0.9, weight decay
    # 4e-5, lr 0.045 decayed 0.98 per epoch, "16 GPU asynchronous workers, and a batch size of
    # 96" (ε and the length not given: ε TF-slim's 1.0, as v1's; 300 epochs cnnzoo's). The paper says nothing of the
    # depthwise filters; the authors' TF-slim code (mobilenet.training_scope) regularizes
    # slim.conv2d only and sets weights_regularizer=None on slim.separable_conv2d, which builds
    # v2's depthwise filters: that code puts no decay on them, as MobileNet v1's §3.2 advises
    # ("very little or no weight decay ... on the depthwise filters"), and neither does this.
    ("mobilenet_v2*", Recipe(
        name="paper", source="Sandler et al. 2018, §6.1 (no decay on depthwise filters, as the authors' code)",
        epochs=300, batch_size=96, optimizer="rmsprop", lr=0.045, momentum=0.9, rmsprop_decay=0.9,
        eps=1.0, weight_decay=4e-5, depthwise_decay=0.0, norm_bias_decay=0.0, schedule="exponential", gamma=0.98,
        step_size=1, augment_rgb="inception")),
    # Howard et al. 2017 (MobileNet), §3.2 ("Network Structure and Training"): RMSProp with
    # asynchronous gradient descent as Inception V3, no side heads, no label smoothing, and
    # "very little or no weight decay (l2 regularization) on the depthwise filters": none, as
    # in the authors' TF-slim code (regularize_depthwise=False); 4e-5 on the other weights.
    # The length is not given: Inception v3's 100 epochs.
    # "less regularization and data augmentation techniques": Inception's crops, "limiting
    # the size of small crops" (the `mobilenet` preset: at least a quarter of the image, a
    # bound the paper does not give).
    ("mobilenet*", Recipe(
        name="paper", source="Howard et al. 2017, §3.2 (Inception v3's RMSProp settings)",
        epochs=100, batch_size=32, optimizer="rmsprop", lr=0.045, momentum=0.9,
        rmsprop_decay=0.9, eps=1.0, weight_decay=4e-5, depthwise_decay=0.0, norm_bias_decay=0.0,
        schedule="exponential",
        gamma=0.94, step_size=2, augment_rgb="mobilenet")),
    # Srivastava et al. 2015 (Highway networks): the authors' release of the 19-layer CIFAR-10
    # network (github.com/flukeskywalker/highway-networks, examples/highways/cifar10-19layers/
    # cifar10_solver.prototxt and cifar10_network.prototxt): Nesterov SGD, momentum 0.9, lr
    # 0.025 × 0.1 at 100k, 150k and 175k iterations, 200k iterations of batch 100 (400 epochs
    # of the 50,000 images), weight decay 0.001 on the weights and none on the biases
    # (decay_mult 0), mirrored 32×32 crops of padded images. Not reproduced: the biases' doubled
    # learning rate (lr_mult 2), the classifier's tenfold decay (decay_mult 10) and the global
    # contrast normalisation of the release's data.
    ("highway*", Recipe(
        name="paper", source="Srivastava et al. 2015, the authors' release (cifar10_solver.prototxt)",
        epochs=400, batch_size=100, optimizer="sgd", lr=0.025, momentum=0.9, nesterov=True,
        weight_decay=1e-3, norm_bias_decay=0.0, schedule="multistep",
        milestones=(100_000, 150_000, 175_000), unit="step", augment_rgb="cifar")),
]


def _matches(name: str, pattern: str) -> bool:
    """Shell-style patterns, several separated by ``|``."""
    return any(fnmatch.fnmatch(name, p) for p in pattern.split("|"))


def _paper_recipe(model_name: str) -> Recipe:
    for pattern, recipe in PAPER_RECIPES:
        if _matches(model_name, pattern):
            return recipe
    # A network with no published recipe of its own: ResNet's ImageNet procedure.
    return _IMAGENET_RESNET.replace(source="He et al. 2015, §3.4 (the model has no recipe of its own)")


def get_recipe(model_name: str | None, kind: str = "small", **overrides) -> Recipe:
    """The ``kind`` recipe (``"small"`` or ``"paper"``) for a registered model name (None
    for a user's module), with ``overrides`` applied."""
    if model_name is not None and not isinstance(model_name, str):
        raise TypeError(f"get_recipe expects a model name (a string such as 'resnet20') or None, "
                        f"got {describe(model_name)}")
    if kind not in RECIPE_KINDS:
        raise ValueError(f"recipe must be one of {', '.join(RECIPE_KINDS)}, got {kind!r}")
    for key in set(overrides) & set(NOT_OVERRIDDEN):
        raise ValueError(f"{key} is not a setting to override: {NOT_OVERRIDDEN[key]}")
    name = (model_name or "").lower()
    if kind == "paper":
        recipe = _paper_recipe(name)
    else:
        changes = next((c for p, c in SMALL_OVERRIDES if _matches(name, p)), {})
        recipe = SMALL_RECIPE.replace(**changes)
    return recipe.replace(**overrides) if overrides else recipe


_PYTHON_LITERALS = {"True": True, "False": False, "None": None}


def parse_overrides(items: list[str], flag: str = "--set") -> dict:
    """``["lr=0.05", "milestones=[30,60]", "optimizer=adam"]`` as a dict: values are read as
    JSON where they parse (numbers, lists, true/false/null; Python's True/False/None too, as
    ``cnnzoo info`` prints builder options), else kept as strings. ``flag``
    names the option the items came from in error messages (``"--option"``)."""
    if isinstance(items, str) or not isinstance(items, (list, tuple)):
        raise TypeError(f"{flag}: expected a list of 'key=value' strings, got {describe(items)}")
    out, given = {}, {}
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"{flag}: expected 'key=value' strings, got {describe(item)}")
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"{flag}: expected key=value, got {item!r}")
        if key in given:  # the last would win silently; which one the user meant is unknown
            raise ValueError(f"{flag}: {key} is given twice ({given[key]!r} and {item!r}); give it once")
        given[key] = item
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = _PYTHON_LITERALS.get(value.strip(), value)
    return out

