"""The in-memory loader: batches of a uint8 dataset, augmented on the device.

As in Keller Jordan's airbench, the whole dataset sits on the device as one uint8 tensor;
every batch is gathered by index and augmented with a few batched tensor operations, with
no Python per sample. The sample order and every random draw are pure functions of
``(seed, epoch, step, rank)``, so that a run resumed from a checkpoint sees exactly the
batches an uninterrupted run would have seen.

Preprocessing, the same for training, evaluation, prediction and compression:

1. channels adapted to the model: a 1-channel dataset into a 3-channel model is repeated
   on the three channels; an RGB dataset into a 1-channel model becomes its luma
   (ITU-R BT.601 weights);
2. fitted to the model's input size: padded with black when the model's input is at most
   25% larger than the images (LeNet-5 takes the 28×28 MNIST digits in a 32×32 field,
   LeCun et al. 1998, §III.A), otherwise resized (bilinear, antialiased when shrinking),
   as the textbooks do when they feed 28×28 or 32×32 images to AlexNet at 224×224;
3. normalised by the training set's per-channel mean and standard deviation.

Augmentations (:class:`Augment`, training only): random translation with zero padding,
horizontal flips, random-resized crops (the scale augmentation of GoogLeNet and ResNet;
AlexNet's random 224×224 crops of the 256×256 image are the fixed-scale case), and
AlexNet's PCA colour jitter. At test time a centre crop (``test_crop``) or AlexNet's ten
crops (four corners, centre, and their mirror images; Krizhevsky et al. 2012, §4.1).
"""

from __future__ import annotations

import hashlib
import math
import typing
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import Tensor

from .._checks import check_chw, check_flag, check_hw, describe, fraction, hint_problem, int_at_least, positive_int, python_value, seed_value, type_problem
from .._device import resolve_device
from .datasets import ImageDataset, centre_offset

__all__ = ["Augment", "AUGMENTS", "Loader", "fit_size", "adapt_channels", "default_input_size"]

LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601
PAD_LIMIT = 1.25  # pad rather than resize when the target is at most this much larger


@dataclass(frozen=True)
class Augment:
    """Training-time augmentation (and the test-time view), applied batched on the device.

    crop_padding: random translation by up to this many pixels of the stored images (before
        they are fitted to the model's input), the uncovered border filled with black ("4
        pixels are padded on each side, and a 32×32 crop is randomly sampled", He et al.
        2015, §4.2).
    flip: random horizontal flips (off for digits: a mirrored digit is another glyph).
    resized_crop: (min, max) area fraction of a random crop that is then resized to the
        model's input; ``ratio`` bounds its aspect ratio.
    scale_jitter: draw the crop so that the image's scale, not the crop's area, is uniform:
        the shorter side S of an image rescaled before a fixed-size crop is uniform in
        [S_min, S_max] (He et al. 2015, §3.4: [256, 480]; Simonyan & Zisserman 2014, §3.1:
        [256, 512]), with ``resized_crop`` = ((224/S_max)², (224/S_min)²). Uniform areas
        (Szegedy et al.'s crops) would favour small S: a median of 319 where He et al.'s is 368.
    distort: strength of a random planar affine distortion about the centre: each entry of
        the 2×2 matrix moves from the identity by up to this much. LeCun et al. 1998, §III.B
        distort the training digits by "horizontal and vertical translations, scaling,
        squeezing ... and horizontal shearing"; a free 2×2 matrix also shears vertically and
        rotates a little.
    colour_jitter: brightness, contrast and saturation each blended by a factor 1 + U(−s, s)
        with black, the image's mean grey and each pixel's grey, in a random order per image
        (fb.resnet.torch's ColorJitter, s = 0.4: the training code of ResNeXt and DenseNet);
        colour input only, as the PCA noise.
    pca_jitter: standard deviation of AlexNet's colour noise along the principal components
        of the RGB pixel values (0.1 in Krizhevsky et al. 2012, §4.1).
    test_crop: side fraction of the centre crop taken at test time (224/256 on the
        ImageNet path, 1 = the whole image).
    """

    crop_padding: int = 0
    flip: bool = False
    resized_crop: tuple[float, float] | None = None
    ratio: tuple[float, float] = (1.0, 1.0)
    scale_jitter: bool = False
    distort: float = 0.0
    colour_jitter: float = 0.0
    pca_jitter: float = 0.0
    test_crop: float = 1.0

    def __post_init__(self):
        hints = typing.get_type_hints(Augment)
        for f in fields(self):  # values come from the command line as JSON (--set augment=...)
            problem = hint_problem(getattr(self, f.name), hints[f.name])
            if problem:
                raise ValueError(f"augmentation field {f.name} must be {problem}, got {getattr(self, f.name)!r}")
        if self.crop_padding < 0:
            raise ValueError(f"crop_padding must be ≥ 0, got {self.crop_padding}")
        if self.resized_crop is not None:
            lo, hi = self.resized_crop
            if not 0 < lo <= hi <= 1:
                raise ValueError(f"resized_crop must be (min, max) area fractions in (0, 1], got {self.resized_crop}")
            object.__setattr__(self, "resized_crop", (float(lo), float(hi)))
        elif self.scale_jitter:
            raise ValueError("scale_jitter needs resized_crop, the area fractions ((224/S_max)², (224/S_min)²) "
                             "of the crops at the two ends of the scale")
        if not 0 < self.ratio[0] <= self.ratio[1]:
            raise ValueError(f"ratio must be (min, max) with 0 < min ≤ max, got {self.ratio}")
        object.__setattr__(self, "ratio", tuple(float(r) for r in self.ratio))
        if self.pca_jitter < 0:
            raise ValueError(f"pca_jitter must be ≥ 0, got {self.pca_jitter}")
        fraction(self.colour_jitter, "colour_jitter")  # a factor 1 - s must stay positive
        fraction(self.distort, "distort")
        if not 0 < self.test_crop <= 1:
            raise ValueError(f"test_crop must be in (0, 1], got {self.test_crop}")

    @classmethod
    def from_spec(cls, spec) -> "Augment":
        """An :class:`Augment`, a preset name from :data:`AUGMENTS`, a dict of fields, or None."""
        if spec is None:
            return cls()
        if isinstance(spec, cls):
            return spec
        if isinstance(spec, str):
            if spec not in AUGMENTS:
                raise ValueError(f"unknown augmentation {spec!r}; presets: {', '.join(AUGMENTS)}")
            return AUGMENTS[spec]
        if isinstance(spec, dict):
            names = {f.name for f in fields(cls)}
            unknown = set(spec) - names
            if unknown:
                raise ValueError(f"unknown augmentation field(s) {sorted(unknown)}; fields: {sorted(names)}")
            return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in spec.items()})
        raise TypeError(f"augment must be an Augment, a preset name or a dict, got {type(spec).__name__}")

    def to_dict(self) -> dict:
        return asdict(self)


AUGMENTS: dict[str, Augment] = {
    "none": Augment(),
    # Small shifts only; LeCun et al. 1998 (§III.B) distort the digits to enlarge the set.
    "digits": Augment(crop_padding=2),
    # Shifts and random planar affine distortions, as LeCun et al. 1998 (§III.B) distort the
    # training digits.
    "lecun": Augment(crop_padding=2, distort=0.15),
    # He et al. 2015, §4.2 (CIFAR-10): 4-pixel padding, random crops, horizontal flips.
    "cifar": Augment(crop_padding=4, flip=True),
    # Krizhevsky et al. 2012, §4.1: random 224×224 patches of the 256×256 image and their
    # mirror images; PCA colour noise; test on the centre (or ten) 224×224 patches.
    "alexnet": Augment(resized_crop=((224 / 256) ** 2,) * 2, flip=True, pca_jitter=0.1, test_crop=224 / 256),
    # Zeiler & Fergus 2013, §3: "crops and flips" of the 256×256 image (ten fixed 224 crops
    # there: corners and centre, mirrored; random ones here), without colour noise.
    "zfnet": Augment(resized_crop=((224 / 256) ** 2,) * 2, flip=True, test_crop=224 / 256),
    # He et al. 2015, §3.4: shorter side resized at random in [256, 480], 224×224 crop, flips;
    # "The standard color augmentation in [21] is used": AlexNet's PCA colour noise.
    "resnet": Augment(resized_crop=((224 / 480) ** 2, (224 / 256) ** 2), scale_jitter=True, flip=True,
                      pca_jitter=0.1, test_crop=224 / 256),
    # Simonyan & Zisserman 2014, §3.1, multi-scale training: S uniform in [256, 512], 224×224
    # crops, flips, AlexNet's colour noise (the vgg recipes train at S = 256, Table 3's
    # single-scale rows, whose errors `cnnzoo info` lists; --set augment=vgg_jitter for these).
    "vgg_jitter": Augment(resized_crop=((224 / 512) ** 2, (224 / 256) ** 2), scale_jitter=True, flip=True,
                          pca_jitter=0.1, test_crop=224 / 256),
    # Szegedy et al. 2014, §6: patches of 8%-100% of the area, aspect ratio in [3/4, 4/3].
    "inception": Augment(resized_crop=(0.08, 1.0), ratio=(3 / 4, 4 / 3), flip=True, test_crop=0.875),
    # Gross & Wilber's fb.resnet.torch (datasets/imagenet.lua), with which Xie et al. 2016
    # (ResNeXt, §4: "implemented by [11]") and Huang et al. 2017 (DenseNet) trained on ImageNet:
    # Inception's crops, colour jitter 0.4, AlexNet's PCA noise 0.1, flips; test: 224 of 256.
    "fb_resnet": Augment(resized_crop=(0.08, 1.0), ratio=(3 / 4, 4 / 3), flip=True, colour_jitter=0.4,
                         pca_jitter=0.1, test_crop=224 / 256),
    # Howard et al. 2017, §3.2: Inception's crops, "limiting the size of small crops"; the
    # bound, a quarter of the image, is cnnzoo's (the paper gives none).
    "mobilenet": Augment(resized_crop=(0.25, 1.0), ratio=(3 / 4, 4 / 3), flip=True, test_crop=0.875),
}


def _mix(*parts) -> int:
    """A 63-bit seed from the parts (stable across processes and library versions)."""
    return int.from_bytes(hashlib.blake2b(repr(parts).encode(), digest_size=8).digest(), "little") >> 1


def default_input_size(model_size: tuple[int, int, int], data_size: tuple[int, int, int],
                       min_size: tuple[int, int] | None) -> tuple[int, int, int]:
    """The input a model gets from a dataset: its own size when it takes only that
    (``min_size`` None), else the images' size, raised to ``min_size`` where smaller."""
    c = model_size[0]
    if min_size is None:
        return tuple(model_size)
    return (c, max(data_size[1], min_size[0]), max(data_size[2], min_size[1]))


def adapt_channels(x: Tensor, channels: int) -> Tensor:
    """Gray → RGB by repetition; RGB → gray by BT.601 luma."""
    c = x.shape[1]
    if c == channels:
        return x
    if c == 1 and channels == 3:
        return x.expand(-1, 3, -1, -1)
    if c == 3 and channels == 1:
        return sum(w * x[:, i:i + 1] for i, w in enumerate(LUMA))  # no weight tensor to copy over
    raise ValueError(f"cannot feed {c}-channel images to a {channels}-channel model")


def fit_size(x: Tensor, size: tuple[int, int]) -> Tensor:
    """Pad (centred, black) or resize a float batch to ``size`` (see the module docstring)."""
    H, W = check_hw(size, "size")
    if not isinstance(x, Tensor) or x.dim() != 4 or not x.is_floating_point():
        raise TypeError(f"fit_size takes a float N×C×H×W batch, got {describe(x)}")
    h, w = x.shape[-2:]
    if (h, w) == (H, W):
        return x
    if h <= H <= PAD_LIMIT * h and w <= W <= PAD_LIMIT * w:
        top, left = (H - h) // 2, (W - w) // 2
        return F.pad(x, (left, W - w - left, top, H - h - top))
    return F.interpolate(x, size=(H, W), mode="bilinear", align_corners=False, antialias=H < h or W < w)


def _check_stats(values, name: str, channels: int) -> list[float]:
    """``mean`` or ``std`` as ``channels`` finite floats (a std above 0)."""
    try:
        found = [python_value(v) for v in values]
    except TypeError:
        found = None
    if (found is None or len(found) != channels or any(type_problem(v, float) for v in found)
            or (name == "std" and min(found) <= 0)):
        raise ValueError(f"mean/std need {channels} finite numbers (std > 0), one per channel of the "
                         f"model's input; {name} is {describe(values)}")
    return [float(v) for v in found]


def _translate(x: Tensor, pad: int, dy: Tensor, dx: Tensor) -> Tensor:
    """Shift each image by (dy, dx) ∈ [-pad, pad]², filling with zeros: one gather."""
    b, c, h, w = x.shape
    xp = F.pad(x, (pad, pad, pad, pad))
    ar = lambda n: torch.arange(n, device=x.device)  # noqa: E731
    rows = (pad + dy)[:, None] + ar(h)
    cols = (pad + dx)[:, None] + ar(w)
    return xp[ar(b)[:, None, None, None], ar(c)[None, :, None, None], rows[:, None, :, None], cols[:, None, None, :]]


def _to_device(t: Tensor, device: torch.device) -> Tensor:
    """Random numbers drawn on the CPU (one seeded generator, the same draws on every device)
    to ``device``. To a GPU through pinned memory, asynchronously: a copy from ordinary
    memory first waits for all the GPU's queued work, a stall in every step."""
    if device.type != "cuda":
        return t.to(device)
    return t.pin_memory().to(device, non_blocking=True)


def crop_fractions(aug: Augment, u_scale: Tensor, u_ratio: Tensor) -> tuple[Tensor, Tensor]:
    """The width and height, as fractions of the image's, of random crops drawn from uniform
    numbers in [0, 1): area (or, with ``scale_jitter``, the image's scale 1/side) uniform
    between ``resized_crop``'s bounds, log aspect ratio uniform within ``ratio``."""
    lo, hi = aug.resized_crop
    if aug.scale_jitter:  # S ∝ 1/side: uniform between the bounds' sides
        area = (1 / (1 / math.sqrt(hi) + (1 / math.sqrt(lo) - 1 / math.sqrt(hi)) * u_scale)) ** 2
    else:
        area = lo + (hi - lo) * u_scale
    log_r = math.log(aug.ratio[0]) + (math.log(aug.ratio[1]) - math.log(aug.ratio[0])) * u_ratio
    return (area * log_r.exp()).sqrt().clamp(max=1.0), (area / log_r.exp()).sqrt().clamp(max=1.0)


def _resized_crop(x: Tensor, size: tuple[int, int], aug: Augment, gen: torch.Generator, flip: Tensor) -> Tensor:
    """Random-resized crops (and flips) of the whole batch through one affine grid sample."""
    b = x.shape[0]
    u = torch.rand(b, 4, generator=gen)
    fw, fh = crop_fractions(aug, u[:, 0], u[:, 1])
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = fw * torch.where(flip, -1.0, 1.0)
    theta[:, 0, 2] = (2 * u[:, 2] - 1) * (1 - fw)
    theta[:, 1, 1] = fh
    theta[:, 1, 2] = (2 * u[:, 3] - 1) * (1 - fh)
    theta = _to_device(theta, x.device).to(x.dtype)
    grid = F.affine_grid(theta, [b, x.shape[1], *size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _colour_jitter(x: Tensor, strength: float, gen: torch.Generator) -> Tensor:
    """fb.resnet.torch's ColorJitter on RGB images in [0, 1]: brightness, contrast and
    saturation, each ``alpha·x + (1 − alpha)·target`` with alpha = 1 + U(−strength, strength)
    and target black, the mean grey of the image, or each pixel's grey (BT.601), in a random
    order per image."""
    b = x.shape[0]
    alphas = _to_device(1 + strength * (2 * torch.rand(b, 3, generator=gen) - 1), x.device).to(x.dtype)
    order = _to_device(torch.rand(b, 3, generator=gen).argsort(1), x.device)
    luma = torch.tensor(LUMA, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    rows = torch.arange(b, device=x.device)
    for k in range(3):
        op = order[:, k].view(b, 1, 1, 1)  # 0 brightness (target black), 1 contrast, 2 saturation
        grey = (x * luma).sum(1, keepdim=True)
        target = torch.where(op == 1, grey.mean((2, 3), keepdim=True), 0.0) + torch.where(op == 2, grey, 0.0)
        alpha = alphas[rows, order[:, k]].view(b, 1, 1, 1)
        x = alpha * x + (1 - alpha) * target  # one grey plane per image: no copy of the batch per target
    return x


def _ten_crops(x: Tensor, size: tuple[int, int]) -> Tensor:
    """Four corner crops, the centre crop and their mirror images: (B·10)×C×H×W, sample-major."""
    H, W = size
    h, w = x.shape[-2:]
    spots = [(0, 0), (0, w - W), (h - H, 0), (h - H, w - W), (centre_offset(h, H), centre_offset(w, W))]
    crops = [x[..., t:t + H, s:s + W] for t, s in spots]
    crops += [c.flip(-1) for c in crops]
    return torch.stack(crops, 1).flatten(0, 1)


class Loader:
    """Batches ``(x, y)`` of ``dataset`` for a model taking ``input_size`` (C, H, W).

    ``train=True`` shuffles and augments (``augment``: an :class:`Augment`, a preset name or
    a dict); ``train=False`` keeps the order and gives the test view. ``mean``/``std``
    default to the dataset's per-channel statistics (pass the training set's when loading a
    test set). Under distributed training each of ``world_size`` ranks iterates over its
    own shard (``rank``), as ``DistributedSampler`` does: the training shards are padded to
    equal length. Call :meth:`set_epoch` before each epoch; ``len(loader)`` is the number
    of batches per epoch.
    """

    def __init__(
        self,
        dataset: ImageDataset,
        *,
        batch_size: int,
        input_size: tuple[int, int, int] | None = None,
        train: bool,
        device: str | torch.device = "cpu",
        seed: int = 0,
        augment=None,
        mean: list[float] | None = None,
        std: list[float] | None = None,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool | None = None,
        ten_crop: bool = False,
    ):
        if not isinstance(dataset, ImageDataset):
            raise TypeError(f"Loader expects an ImageDataset (see load_dataset), got {type(dataset).__name__}")
        if len(dataset) == 0:
            raise ValueError(f"dataset {dataset.name} is empty")
        batch_size = positive_int(batch_size, "batch_size")
        world_size = positive_int(world_size, "world_size")
        rank = python_value(rank)
        if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < world_size:
            raise ValueError(f"rank must lie in 0..{world_size - 1}, got {describe(rank)}")
        self.dataset = dataset
        self.batch_size = batch_size
        # checked now: a size of 0 or 8.5 would fail only at the first batch, in torch's words
        self.input_size = tuple(dataset.image_size) if input_size is None else check_chw(input_size, "input_size")
        channels = self.input_size[0]
        adapt_channels(torch.zeros(1, dataset.image_size[0], 1, 1), channels)  # clear error now
        self.train = check_flag(train, "train")  # "no" is truthy: it would shuffle and augment
        self.device = resolve_device(device)
        self.seed = seed_value(seed)
        self.augment = Augment.from_spec(augment)
        self.rank, self.world_size = rank, world_size
        self.drop_last = self.train if drop_last is None else check_flag(drop_last, "drop_last")
        self.ten_crop = check_flag(ten_crop, "ten_crop")
        if (mean is None) != (std is None):  # one alone would silently be replaced by the data's
            raise ValueError(f"give both mean and std, or neither (for the dataset's own), got only "
                             f"{'mean' if std is None else 'std'}")
        if mean is None:
            mean, std = self._default_stats(channels)
        self.mean, self.std = _check_stats(mean, "mean", channels), _check_stats(std, "std", channels)
        self._mean = torch.tensor(self.mean, device=self.device).view(1, -1, 1, 1)
        self._std = torch.tensor(self.std, device=self.device).view(1, -1, 1, 1)
        self.images = dataset.images.to(self.device)
        self.labels = dataset.labels.to(self.device)
        if self.augment.pca_jitter and dataset.image_size[0] == 3 and channels == 3:
            val, vec = dataset.rgb_pca()
            self._pca = (val.to(self.device), vec.to(self.device))
        else:
            self._pca = None
        self.epoch, self.start_step = 0, 0

    def _default_stats(self, channels: int) -> tuple[list[float], list[float]]:
        mean, std = self.dataset.channel_stats()
        if len(mean) == channels:
            return mean, std
        if len(mean) == 1:
            return mean * channels, std * channels
        # RGB into gray: the luma of the means; the luma of the stds bounds the luma's std.
        return [sum(w * m for w, m in zip(LUMA, mean))], [sum(w * s for w, s in zip(LUMA, std))]

    @property
    def crops(self) -> int:
        """Views per image in a batch: 10 for the ten-crop test, else 1."""
        return 10 if (self.ten_crop and not self.train) else 1

    @property
    def data_config(self) -> dict:
        """What a checkpoint must remember to preprocess new images the same way."""
        return {
            "input_size": list(self.input_size),
            "image_size": list(self.dataset.image_size),
            "mean": self.mean,
            "std": self.std,
            "test_crop": self.augment.test_crop,
        }

    def set_epoch(self, epoch: int, start_step: int = 0) -> None:
        """Select the epoch's sample order; ``start_step`` skips the batches already done."""
        self.epoch, self.start_step = int_at_least(epoch, "epoch", 0), int_at_least(start_step, "start_step", 0)

    def _shard_size(self) -> int:
        n = len(self.dataset)
        if self.train:
            return math.ceil(n / self.world_size)
        return len(range(self.rank, n, self.world_size))

    def __len__(self) -> int:
        size = self._shard_size()
        if self.drop_last and size >= self.batch_size:
            return size // self.batch_size
        return math.ceil(size / self.batch_size)

    def indices(self) -> Tensor:
        """This rank's sample order for the current epoch."""
        n = len(self.dataset)
        if not self.train:
            return torch.arange(self.rank, n, self.world_size)
        gen = torch.Generator().manual_seed(_mix("order", self.seed, self.epoch))
        order = torch.randperm(n, generator=gen)
        total = self._shard_size() * self.world_size
        if total > n:  # pad as DistributedSampler does, so every rank takes as many steps
            order = torch.cat([order, order[: total - n]])
        return order[self.rank::self.world_size]

    def __iter__(self):
        order = self.indices().to(self.device)
        b = self.batch_size
        for step in range(self.start_step, len(self)):
            idx = order[step * b:(step + 1) * b]
            yield self.transform(self.images[idx], step), self.labels[idx]

    def transform(self, images: Tensor, step: int = 0) -> Tensor:
        """uint8 N×C×H×W (on the device) to the model's normalised float input."""
        c, H, W = self.input_size
        x = adapt_channels(images.float().div_(255), c)
        aug = self.augment
        if self.train:
            gen = torch.Generator().manual_seed(_mix("augment", self.seed, self.epoch, step, self.rank))
            x = self._augment(x, (H, W), aug, gen)
        elif self.ten_crop:
            x = _ten_crops(fit_size(x, (round(H / aug.test_crop), round(W / aug.test_crop))), (H, W))
        elif aug.test_crop < 1:
            big = fit_size(x, (round(H / aug.test_crop), round(W / aug.test_crop)))
            top, left = centre_offset(big.shape[-2], H), centre_offset(big.shape[-1], W)
            x = big[..., top:top + H, left:left + W]
        else:
            x = fit_size(x, (H, W))
        return ((x - self._mean) / self._std).contiguous()

    def _augment(self, x: Tensor, size: tuple[int, int], aug: Augment, gen: torch.Generator) -> Tensor:
        b = x.shape[0]
        flip = (torch.rand(b, generator=gen) < 0.5) if aug.flip else torch.zeros(b, dtype=torch.bool)
        if aug.crop_padding:
            p = aug.crop_padding
            shifts = _to_device(torch.randint(-p, p + 1, (2, b), generator=gen), x.device)
            x = _translate(x, p, shifts[0], shifts[1])
        if aug.resized_crop is not None:
            x = _resized_crop(x, size, aug, gen, flip)
        else:
            x = fit_size(x, size)
            if aug.flip:
                x = torch.where(_to_device(flip, x.device)[:, None, None, None], x.flip(-1), x)
        if aug.distort:
            theta = torch.zeros(b, 2, 3)
            theta[:, :, :2] = torch.eye(2) + aug.distort * (2 * torch.rand(b, 2, 2, generator=gen) - 1)
            grid = F.affine_grid(_to_device(theta, x.device).to(x.dtype), list(x.shape), align_corners=False)
            x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        if aug.colour_jitter and x.shape[1] == 3:
            x = _colour_jitter(x, aug.colour_jitter, gen)
        if self._pca is not None:
            val, vec = self._pca
            alpha = _to_device(torch.randn(b, 3, generator=gen) * aug.pca_jitter, x.device)
            x = x + ((alpha * val) @ vec.T)[:, :, None, None]  # Σ_i α_i λ_i p_i per image
        return x
