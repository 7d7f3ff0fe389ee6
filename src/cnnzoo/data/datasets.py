"""Datasets held in memory as one uint8 tensor.

:func:`load_dataset` reads the bundled ``mnist-sample``, the torchvision datasets (MNIST,
Fashion-MNIST, CIFAR-10/100, from a cache directory), a folder of images (one sub-folder per
class) or an ``.npz`` with arrays ``x`` and ``y``, and returns an :class:`ImageDataset`:
``images`` (N×C×H×W uint8), ``labels`` (N int64), ``classes`` and ``name``. Everything is
decoded once, here; the training loop never touches a Python object per sample.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .._checks import check_choice, check_flag, check_hw, describe, positive_int, python_value, seed_value, some
from .._checks import fraction as check_fraction  # holdout_split's argument is named fraction

__all__ = [
    "ImageDataset",
    "load_dataset",
    "list_datasets",
    "data_root",
    "holdout_split",
    "IMAGE_EXTENSIONS",
    "resize_center_crop",
    "read_image",
    "image_tensor",
    "class_difference",
    "match_classes",
    "folder_parts",
    "folder_of",
    "class_order",
    "at_training_size",
    "unit_float_to_uint8",
]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
HOLDOUT_FRACTION = 0.1  # test share carved out of a folder or .npz that has no test split
# PIL modes read as one gray channel; the 16-bit and 32-bit integer and the float ones need
# their own scaling (_DEEP_MODES), since convert("L") clips them at 255.
_DEEP_MODES = ("I", "I;16", "I;16L", "I;16B", "I;16N", "F")
GRAY_MODES = ("1", "L", "LA", *_DEEP_MODES)


@dataclass
class ImageDataset:
    """A labelled image dataset in memory: ``images`` N×C×H×W uint8, ``labels`` N int64."""

    images: Tensor
    labels: Tensor
    classes: list[str]
    name: str
    split: str = "as given"  # which part of its source this is, e.g. "test split" (evaluate reports it)
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        if not isinstance(self.images, Tensor) or self.images.dtype != torch.uint8 or self.images.dim() != 4:
            got = getattr(self.images, "dtype", type(self.images).__name__)
            shape = tuple(getattr(self.images, "shape", ()))
            raise ValueError(f"{self.name}: images must be a uint8 tensor N×C×H×W, got {got} of shape {shape}")
        if self.images.shape[1] not in (1, 3):
            raise ValueError(f"{self.name}: images must have 1 or 3 channels, got {self.images.shape[1]}")
        self.labels = torch.as_tensor(self.labels).long()
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError(
                f"{self.name}: {self.images.shape[0]} images but labels of shape {tuple(self.labels.shape)}"
            )
        if len(self.labels) and (self.labels.min() < 0 or self.labels.max() >= len(self.classes)):
            raise ValueError(
                f"{self.name}: labels must lie in 0..{len(self.classes) - 1} (one per class), "
                f"found {int(self.labels.min())}..{int(self.labels.max())}"
            )
        self.classes = [str(c) for c in self.classes]

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_size(self) -> tuple[int, int, int]:
        """C×H×W of the stored images."""
        return tuple(self.images.shape[1:])

    def subset(self, indices, name: str | None = None) -> "ImageDataset":
        idx = torch.as_tensor(indices, dtype=torch.long)
        return ImageDataset(self.images[idx], self.labels[idx], list(self.classes), name or self.name, self.split)

    def channel_stats(self) -> tuple[list[float], list[float]]:
        """Per-channel mean and standard deviation of the pixels, in [0, 1] units."""
        if "stats" not in self._cache:
            c = self.images.shape[1]
            total = torch.zeros(c, dtype=torch.float64)
            total_sq = torch.zeros(c, dtype=torch.float64)
            for chunk in self.images.split(4096):  # bounded memory for CIFAR-sized sets
                x = chunk.to(torch.float64).div_(255).transpose(0, 1).reshape(c, -1)
                total += x.sum(1)
                total_sq += (x * x).sum(1)
            n = max(1, self.images[:, 0].numel())
            mean = total / n
            std = (total_sq / n - mean * mean).clamp_min(1e-12).sqrt()
            self._cache["stats"] = (mean.tolist(), std.tolist())
        return self._cache["stats"]

    def rgb_pca(self, max_pixels: int = 1_000_000) -> tuple[Tensor, Tensor]:
        """Eigenvalues and eigenvectors (columns) of the 3×3 covariance of the RGB pixel
        values, in [0, 1] units: the basis of AlexNet's colour augmentation (§4.1)."""
        if self.images.shape[1] != 3:
            raise ValueError(f"{self.name}: PCA colour jitter needs RGB images, got {self.images.shape[1]} channel(s)")
        if "pca" not in self._cache:
            pixels = self.images.permute(1, 0, 2, 3).reshape(3, -1)
            step = max(1, pixels.shape[1] // max_pixels)
            x = pixels[:, ::step].double().div(255)
            eigval, eigvec = torch.linalg.eigh(torch.cov(x))
            self._cache["pca"] = (eigval.float().clamp_min(0), eigvec.float())
        return self._cache["pca"]


# -- where data lives --------------------------------------------------------------------
def data_root(root: str | os.PathLike | None = None) -> Path:
    """The cache directory of downloaded datasets: ``root``, else ``$CNNZOO_DATA``, else
    ``~/.cache/cnnzoo``."""
    env = os.environ.get("CNNZOO_DATA")
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a folder (a path), or None for the default, got {describe(root)}")
    if root is not None:
        where, path = "--data-root", Path(root).expanduser()
    elif env:
        where, path = "$CNNZOO_DATA", Path(env).expanduser()
    else:
        where, path = "the default", Path.home() / ".cache" / "cnnzoo"
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"the dataset cache {path} ({where}) is a file; expected a folder")
    return path


def _key(name: str) -> str:
    return name.strip().lower().replace("-", "").replace("_", "")


# name -> (torchvision class name, folder torchvision keeps it in, download size)
_TORCHVISION = {
    "mnist": ("MNIST", "MNIST/raw", "11 MB"),
    "fashionmnist": ("FashionMNIST", "FashionMNIST/raw", "30 MB"),
    "cifar10": ("CIFAR10", "cifar-10-batches-py", "163 MB"),
    "cifar100": ("CIFAR100", "cifar-100-python", "161 MB"),
}
_CANONICAL = {"mnist": "mnist", "fashionmnist": "fashion-mnist", "cifar10": "cifar10", "cifar100": "cifar100"}


def _check_options(train, image_size, to_train) -> tuple[bool | None, int | None, bool]:
    """``train``, ``image_size`` and ``to_train`` checked (numpy's values made Python's), with
    ``to_train`` defaulting to ``train``: a string such as "no" is truthy and would silently
    mean the training split, and a size of 0 silently the median size."""
    train = python_value(train)
    if train is not None and not isinstance(train, bool):  # check_flag's words leave out None
        raise TypeError(f"train must be True, False or None (every image), got {describe(train)}")
    if image_size is not None:
        image_size = positive_int(image_size, "image_size")
    to_train = bool(train) if to_train is None else check_flag(to_train, "to_train")
    return train, image_size, to_train


def list_datasets() -> list[str]:
    """The named datasets (a folder or an ``.npz`` path works too)."""
    return ["mnist-sample", *_CANONICAL.values()]


def load_dataset(
    name_or_path: str | os.PathLike,
    *,
    train: bool | None,
    root: str | os.PathLike | None = None,
    download: bool = False,
    image_size: int | None = None,
    to_train: bool | None = None,
) -> ImageDataset:
    """Load the training (``train=True``) or test split of a dataset into memory, or
    (``train=None``) every image of it: both splits, or the whole of a dataset without a test
    split (a folder of images none of which a model was trained on, such as ImageNet's
    validation images for published weights).

    ``name_or_path`` is ``"mnist-sample"`` (bundled: 4,000 training and 1,000 test digits),
    ``"mnist"``, ``"fashion-mnist"``, ``"cifar10"``, ``"cifar100"`` (torchvision's files in
    ``root``, default :func:`data_root`; fetched only with ``download=True``), a folder with
    one sub-folder of images per class, or an ``.npz`` with ``x`` and ``y`` (or ``x_train``,
    ``y_train``, ``x_test``, ``y_test``). A folder with ``train/`` and ``test/`` (or ``val/``)
    sub-folders, or an ``.npz`` with both splits, gives its own test split; otherwise a fixed
    stratified 10% of it is held out as the test split. Folder images of different sizes are
    resized (shorter side) and centre-cropped to ``image_size`` (a positive integer; default:
    their median shorter side, at most 256); they are decoded by :func:`image_tensor`.
    ``image_size`` applies to folders only: the bundled sample, the torchvision datasets and an
    ``.npz`` are read at the size they are stored at (the loader fits them to the model).

    Refused, as they would give a silently wrong result: images in a sub-folder of a class
    folder, broken links that could be images or class folders, and, for training (``to_train``, default ``train``; evaluate passes
    False), a training split of fewer than 2 classes and test labels of an ``.npz`` that its
    training labels lack. Hidden files and folders are ignored.
    """
    train, image_size, to_train = _check_options(train, image_size, to_train)
    download = check_flag(download, "download")
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(f"expected a dataset name or path, got {describe(name_or_path)}")
    text = os.fspath(name_or_path)
    if not text.strip():  # Path("") is the current folder: never what an empty --data meant
        raise ValueError("the dataset name or path is empty; give one (see `cnnzoo train --help`)")
    key = _key(text)
    if key == "mnistsample":
        return _bundled_mnist(train) if train is not None else _every_image(_bundled_mnist(True), _bundled_mnist(False))
    if key in _TORCHVISION and not Path(text).exists():
        if train is None:
            return _every_image(*(_torchvision(key, part, data_root(root), download) for part in (True, False)))
        return _torchvision(key, train, data_root(root), download)
    path = Path(text).expanduser()
    if path.suffix.lower() == ".npz":
        if not path.is_file():
            raise FileNotFoundError(f"dataset file {path} does not exist")
        return _npz(path, train, to_train)
    if folder_of(text) is not None:
        return _folder(path, train, image_size, to_train)
    if path.exists():
        raise ValueError(f"{path} is neither a folder of images nor an .npz file")
    raise FileNotFoundError(
        f"unknown dataset {text!r}: not one of {', '.join(list_datasets())}, and no such file or folder"
    )


def holdout_split(labels: Tensor, fraction: float = HOLDOUT_FRACTION, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Fixed stratified split: indices (train, test) with ``fraction`` (0 ≤ fraction < 1) of
    each class in test."""
    if not isinstance(labels, Tensor) or labels.dim() != 1 or labels.is_floating_point():
        raise TypeError(f"labels must be a 1-D tensor of class indices, got {describe(labels)}")
    fraction = check_fraction(fraction, "fraction")  # a negative one would silently slice from the end
    gen = torch.Generator().manual_seed(seed_value(seed))
    train, test = [], []
    for c in torch.unique(labels):
        idx = torch.nonzero(labels == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        n_test = int(round(len(idx) * fraction)) if len(idx) > 1 else 0
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return torch.cat(train).sort().values, torch.cat(test).sort().values


def class_order(first, second) -> Tensor:
    """The first split's number of each of the second's classes (the splits of one dataset)."""
    if not set(second.classes) <= set(first.classes):
        raise ValueError(f"{first.name}: its splits hold different classes "
                         f"({class_difference(first.classes, second.classes, 'the training split', 'the test split')})")
    return torch.tensor([first.classes.index(c) for c in second.classes], dtype=torch.long)


def _every_image(first: ImageDataset, second: ImageDataset) -> ImageDataset:
    """Both splits of a dataset as one, labelled by the first one's classes (in colour where
    one split is grey and the other is not, as a folder holding both is read)."""
    order = class_order(first, second)
    if first.images.shape[1] != second.images.shape[1]:
        first, second = (ImageDataset(d.images.expand(-1, 3, -1, -1).contiguous(), d.labels, d.classes, d.name)
                         if d.images.shape[1] == 1 else d for d in (first, second))
    if first.images.shape[1:] != second.images.shape[1:]:
        second = ImageDataset(resize_center_crop(second.images, first.images.shape[-2:]), second.labels,
                              second.classes, second.name)
    return ImageDataset(torch.cat([first.images, second.images]), torch.cat([first.labels, order[second.labels]]),
                        first.classes, first.name, "every image, both splits")


def _select(ds: ImageDataset, train: bool | None) -> ImageDataset:
    """The training or the held-out test part of a dataset that has no test split, or all of it."""
    idx, split = _holdout(ds.labels, train, ds.name, ds.num_classes)
    part = ds if idx is None else ds.subset(idx)
    part.split = split
    return part


def _holdout(labels: Tensor, train: bool | None, name: str, num_classes: int) -> tuple[Tensor | None, str]:
    """The indices of the training or held-out test part of labels without a test split (None:
    all of them, for ``train=None``), and how the part is described."""
    if train is None:
        return None, "every image"
    train_idx, test_idx = holdout_split(labels)
    if not train and not len(test_idx):
        # Rounding holds out nothing from a small class; say so rather than "empty dataset".
        need = next(n for n in range(2, 10_000) if round(n * HOLDOUT_FRACTION) >= 1)
        largest = int(torch.bincount(labels).max()) if len(labels) else 0
        raise ValueError(
            f"{name} has {len(labels)} images in {num_classes} classes (at most {largest} per class), so "
            f"the held-out test split ({HOLDOUT_FRACTION:.0%} of each class, rounded) is empty: a class "
            f"needs at least {need} images to give one. Add images, give a test split of your own "
            f"(x_test and y_test in an .npz, a test/ sub-folder beside train/ in a folder), or, for "
            f"images the model was not trained on, score them all (eval --split all)"
        )
    split = ("training part: the images not held out for testing" if train else
             f"held-out test part: {HOLDOUT_FRACTION:.0%} of each class, since the dataset has no test split")
    return (train_idx if train else test_idx), split


def _split_name(train: bool) -> str:
    return "training split" if train else "test split"


def class_difference(first, second, first_name: str = "the first", second_name: str = "the second") -> str:
    """What differs between two lists of class names, for an error message: the names only one
    of them holds ("only in the training split: 'dog'; only in the test split: 'fox'"), or that
    they hold the same names in another order; "" when they are equal."""
    first, second = [str(c) for c in first], [str(c) for c in second]
    if first == second:
        return ""
    only = ((first_name, [c for c in first if c not in set(second)]),
            (second_name, [c for c in second if c not in set(first)]))
    return ("; ".join(f"only in {name}: {some(map(repr, names))}" for name, names in only if names)
            or f"{first_name} and {second_name} hold the same classes in another order")


def _unnamed(classes) -> bool:
    return list(classes) == [str(i) for i in range(len(classes))]


def match_classes(ds: ImageDataset, model_classes, class_ids=None) -> ImageDataset:
    """``ds`` with its labels numbered as a model numbers its classes (``model_classes``, the
    names it was trained on): by name, when the data holds the same names in another order, or
    some of them, or by the classes' IDs (``class_ids``: ImageNet's WordNet IDs, the names of
    its class folders); as they are where the data's labels are bare numbers (an .npz: they can
    only be the model's), or carry the numbers the model's bare ones are ("0 - zero" for "0");
    other names are refused, named."""
    if not model_classes or list(model_classes) == ds.classes:
        return ds
    model_classes = [str(c) for c in model_classes]
    classes = ds.classes
    if class_ids and len(class_ids) == len(model_classes):  # a folder named by ID is its class's
        by_id = dict(zip(class_ids, model_classes))
        classes = [by_id.get(c, c) for c in classes]
        twice = [f"{a!r} and {b!r}" for i, a in enumerate(ds.classes) for b in ds.classes[i + 1:]
                 if by_id.get(a, a) == by_id.get(b, b)]
        if twice:  # one class in two folders: read as two, scored as one, without a word
            raise ValueError(f"{ds.name}: folders {', '.join(twice)} are one class (by WordNet ID and by "
                             "name); put its images in one folder")
    if set(classes) <= set(model_classes):
        order = torch.tensor([model_classes.index(c) for c in classes])
        return ImageDataset(ds.images, order[ds.labels], model_classes, ds.name, ds.split)
    # Labels without names (an .npz) can only mean the model's numbering; names against a model's
    # bare numbers only where they carry them ("0 - zero", torchvision's MNIST): folders named
    # zero..nine sort as eight, five, four, ... and must not be paired by position.
    # ImageNet's published weights (class_ids) against 10 bare digit labels: not by position
    if _unnamed(ds.classes) and len(ds.classes) <= len(model_classes) and (
            not class_ids or len(ds.classes) == len(model_classes)):
        return ImageDataset(ds.images, ds.labels, model_classes, ds.name, ds.split)
    numbered = all(c.split(" ")[0] == str(i) for i, c in enumerate(ds.classes))
    if _unnamed(model_classes) and numbered and len(ds.classes) == len(model_classes):
        return ds
    # only the data's unknown names: a model's other classes may be missing from the data
    unknown = [c for c in classes if c not in set(model_classes)]
    raise ValueError(f"{ds.name} holds classes the model was not trained on: {some(map(repr, unknown))}; "
                     f"the model's classes are {some(map(repr, model_classes))}")


def at_training_size(ds: ImageDataset, image_size) -> ImageDataset:
    """``ds`` with its images brought to ``image_size`` (…×H×W: the size of the images a model
    was trained on), as :func:`cnnzoo.predict` brings each image, so that the loader then fits
    them to the model's input as it fitted the training images (28×28 digits padded to LeNet-5's
    32×32, not 56×56 ones stretched to it)."""
    size = tuple(image_size or ())[-2:]
    if not size or tuple(ds.images.shape[-2:]) == size:
        return ds
    return ImageDataset(resize_center_crop(ds.images, size), ds.labels, ds.classes, ds.name, ds.split)


def _too_few_classes(where, found: str, hint: str = "") -> ValueError:
    return ValueError(f"{where}: a training set needs images of at least 2 classes, found {found}; with "
                      f"one class every prediction is right and the model learns nothing{hint}")


# -- the sources -------------------------------------------------------------------------
def _bundled_mnist(train: bool) -> ImageDataset:
    split = "train" if train else "test"
    with resources.files(__package__).joinpath("mnist_sample.npz").open("rb") as f, np.load(f) as z:
        x, y = z[f"x_{split}"], z[f"y_{split}"]
    return ImageDataset(torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y.astype(np.int64)),
                        [str(i) for i in range(10)], "mnist-sample", _split_name(train))


def _torchvision(key: str, train: bool, root: Path, download: bool) -> ImageDataset:
    import torchvision.datasets as tvd

    cls_name, folder, size = _TORCHVISION[key]
    name = _CANONICAL[key]
    try:
        ds = getattr(tvd, cls_name)(str(root), train=train, download=download)
    except RuntimeError:  # torchvision: "Dataset not found ..."
        raise FileNotFoundError(
            f"{name} is not in {root / folder}, or its files there are incomplete. Download it "
            f"({size}) by adding --download to the command (download=True in Python), "
            f"or copy torchvision's {name} files there; set $CNNZOO_DATA or --data-root to use "
            f"another cache directory."
        ) from None
    except OSError as err:  # no network, DNS failure, disk full ...
        raise FileNotFoundError(
            f"could not download {name} into {root}: {err}. Without a network, copy torchvision's "
            f"{name} files into {root / folder}."
        ) from None
    data = torch.as_tensor(np.asarray(ds.data))
    data = data.unsqueeze(1) if data.dim() == 3 else data.permute(0, 3, 1, 2)  # MNIST N×H×W, CIFAR N×H×W×C
    return ImageDataset(data.contiguous(), torch.as_tensor(ds.targets), list(ds.classes), name, _split_name(train))


_NPZ_EXPECTED = "an .npz archive from numpy.savez with arrays x and y (or x_train, y_train, x_test, y_test)"


def _open_npz(path: Path):
    if path.stat().st_size == 0:
        raise ValueError(f"dataset file {path} is empty (0 bytes); expected {_NPZ_EXPECTED}")
    try:
        z = np.load(path, allow_pickle=False)
    except OSError as err:  # permissions, I/O: the file itself is fine to name as unreadable
        raise ValueError(f"cannot read dataset file {path}: {err.strerror or err}") from None
    except Exception as err:  # EOFError, BadZipFile, or numpy's advice to unpickle: all say "not an .npz"
        with open(path, "rb") as f:
            head = f.read(8)
        found = (f"a zip archive numpy cannot read ({err})" if head.startswith(b"PK")
                 else f"a file that starts with {head!r}")
        raise ValueError(f"dataset file {path} is not an .npz archive: expected {_NPZ_EXPECTED}, "
                         f"found {found}") from None
    if not isinstance(z, np.lib.npyio.NpzFile):  # a single .npy array under an .npz name
        raise ValueError(f"dataset file {path} holds a single array of shape {z.shape}, "
                         f"not an archive; expected {_NPZ_EXPECTED}")
    return z


def _array(z, key: str, path: Path) -> np.ndarray:
    try:
        return z[key]
    except Exception as err:  # object arrays (pickle refused) or a damaged zip member
        raise ValueError(f"{path}: cannot read array {key!r} ({err}); expected {_NPZ_EXPECTED} "
                         f"holding numbers") from None


def _npz(path: Path, train: bool | None, to_train: bool) -> ImageDataset:
    with _open_npz(path) as z:
        keys = set(z.files)
    if train is None and {"x_train", "y_train", "x_test", "y_test"} <= keys:
        return _every_image(_npz(path, True, to_train), _npz(path, False, to_train))
    with _open_npz(path) as z:
        split = "train" if train else "test"
        # one split only: its test part is held out, as from x and y (a test split alone is
        # no training data: it is read only to score every image)
        alone = [("x", "y"), ("x_train", "y_train"), *([("x_test", "y_test")] if train is None else [])]
        one = [pair for pair in alone if set(pair) <= keys]
        if {"x_train", "y_train", "x_test", "y_test"} <= keys:
            xkey, ykey, both = f"x_{split}", f"y_{split}", True
        elif one:
            (xkey, ykey), both = one[0], False
        else:
            raise ValueError(f"{path}: expected arrays 'x' and 'y', or 'x_train' and 'y_train' (with 'x_test' "
                             f"and 'y_test' for a test split of its own), found {sorted(keys)}")
        x = _array(z, xkey, path)
        # Every split's labels, checked before their maximum sets the number of classes.
        all_labels = {k: _array(z, k, path) for k in ("y", "y_train", "y_test") if k in keys}
        classes = [str(c) for c in _array(z, "classes", path)] if "classes" in keys else None
    for k, v in all_labels.items():
        if not np.issubdtype(v.dtype, np.integer):
            example = f" such as {v.flat[0].item()!r}" if v.size else ""
            raise ValueError(f"{path}: labels {k!r} must be integer class indices 0..K-1, "
                             f"found dtype {v.dtype}{example}")
        if v.size and v.min() < 0:
            raise ValueError(f"{path}: labels {k!r} must be class indices 0..K-1, "
                             f"found {int(v.min())}..{int(v.max())}")
    y = all_labels[ykey]
    top = max((int(v.max()) for v in all_labels.values() if v.size), default=-1)
    if both and to_train:  # a class only the test split holds would be an output the model never trains
        unseen = np.setdiff1d(all_labels["y_test"], all_labels["y_train"])
        if unseen.size:
            raise ValueError(f"{path}: 'y_test' holds labels that 'y_train' lacks: {some(unseen.tolist())}; "
                             f"expected every test label among the training labels")
    images = _as_nchw_uint8(x, path)
    if not len(images):
        raise ValueError(f"{path}: array {xkey!r} holds no images (shape {x.shape}); expected at least one")
    if train and to_train and np.unique(y).size < 2:
        raise _too_few_classes(path, f"only label {int(y.flat[0])} in {ykey!r}")
    labels = torch.from_numpy(y.astype(np.int64)).flatten()
    if classes is None:  # both splits name the same classes, 0..K-1
        classes = [str(i) for i in range(top + 1)]
    ds = ImageDataset(images, labels, classes, str(path), _split_name(train))
    return ds if both else _select(ds, train)


def _as_nchw_uint8(x: np.ndarray, path: Path) -> Tensor:
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        x = x.transpose(0, 3, 1, 2)  # N×H×W×C
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"{path}: images 'x' must be N×H×W, N×H×W×C or N×C×H×W with 1 or 3 channels, got shape {x.shape}")
    if x.dtype != np.uint8:
        if not np.issubdtype(x.dtype, np.floating):
            raise ValueError(f"{path}: images must be uint8 (0-255) or float (0-1), got {x.dtype}")
        x = unit_float_to_uint8(x, path)
    return torch.from_numpy(np.ascontiguousarray(x))


def unit_float_to_uint8(x: np.ndarray, source) -> np.ndarray:
    """Float pixels in [0, 1] as uint8 0..255. Other ranges are refused: 0..255, 0..65535 or
    -1..1 cannot be told apart from a dark or a bright image, so any guess could be wrong."""
    if x.size and not np.isfinite(x).all():
        raise ValueError(f"{source}: float images must lie in [0, 1], found "
                         f"{np.count_nonzero(~np.isfinite(x)):,} NaN or infinite values")
    if x.size and (x.min() < 0 or x.max() > 1):
        raise ValueError(f"{source}: float images must lie in [0, 1], found {x.min():g}..{x.max():g}")
    return np.rint(x * 255).astype(np.uint8)


def _folder_splits(path: Path) -> tuple[Path, Path] | None:
    """A folder's own ``train/`` and ``test/`` (or ``val/``) sub-folders, if it has both."""
    splits = {p.name.lower(): p for p in _entries(path) if p.is_dir()}
    test_dir = splits.get("test") or splits.get("val")
    return (splits["train"], test_dir) if "train" in splits and test_dir is not None else None


@dataclass
class _FolderIndex:
    """One folder (or split folder) of a dataset: its image files and labels, not yet decoded.
    ``sizes_from``: the files whose sizes and modes set the size and channels it is read at
    (all of the folder a held-out part was taken from)."""

    files: list[Path]
    labels: Tensor
    classes: list[str]
    name: str
    split: str
    sizes_from: list[Path]


def folder_parts(path: str | os.PathLike, train: bool | None, *, image_size: int | None = None,
                 part: int | None = None, to_train: bool | None = None,
                 interpolation: str = "bilinear", crop: tuple[int, int] | None = None) -> Iterator[ImageDataset]:
    """The images :func:`load_dataset` reads from a folder (same ``train``, ``image_size`` and
    checks), decoded ``part`` images at a time (default: a split at a time), so that ImageNet's
    50,000 validation photographs need never be in memory at once (:func:`cnnzoo.evaluate`).
    For every image (``train=None``) of a folder with its own ``train/`` and ``test/``, the test
    split follows the training split as one dataset: labelled by the training split's classes,
    at its size, in colour where either split is. Everything is checked, and every file's header
    read (a file that is no image fails at once), before the first part is decoded.
    ``interpolation``: how images are resized (:func:`resize_center_crop`); ``crop``: each image,
    resized to cover ``image_size``, is then centre-cropped to ``crop`` (torchvision's Resize and
    CenterCrop, one crop)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"expected a folder of images (a path), got {describe(path)}")
    check_choice(interpolation, "interpolation", INTERPOLATIONS)
    train, image_size, to_train = _check_options(train, image_size, to_train)
    if part is not None:
        part = positive_int(part, "part")
    path = Path(path)
    splits = _folder_splits(path)
    if train is None and splits:
        first, second = (_index_folder(path, split, to_train) for split in (True, False))
        second = replace(second, labels=class_order(first, second)[second.labels], classes=first.classes)
        indexes = [replace(index, split="every image, both splits") for index in (first, second)]
    else:
        indexes = [_index_folder(path, train, to_train)]
    plans = [_read_plan(index.sizes_from, image_size) for index in indexes]
    if crop is not None and any(c > s for c, s in zip(check_hw(crop, "crop"), plans[0][1])):
        raise ValueError(f"crop {crop[0]}×{crop[1]} is larger than the {plans[0][1][0]}×{plans[0][1][1]} "
                         "the images are read at")
    return _decoded(indexes, max(c for c, _ in plans), plans[0][1], part, interpolation, crop)


def _decoded(indexes: list[_FolderIndex], channels: int, size: tuple[int, int],
             part: int | None, interpolation: str, crop: tuple[int, int] | None) -> Iterator[ImageDataset]:
    for index in indexes:
        step = part or len(index.files)
        for start in range(0, len(index.files), step):
            files = index.files[start:start + step]
            yield ImageDataset(_decode(files, channels, size, interpolation, crop), index.labels[start:start + step],
                               index.classes, index.name, index.split)


def _index_folder(path: Path, train: bool | None, to_train: bool) -> _FolderIndex:
    """The files and labels of a folder's training or test split, or of all of it."""
    splits = _folder_splits(path)
    root = splits[0 if train else 1] if splits else path
    classes = [p.name for p in _entries(root) if p.is_dir()]
    if not classes:
        raise ValueError(f"{root}: expected one sub-folder of images per class, found none")
    if train and to_train and len(classes) == 1:  # typically the path is one level too high: FOLDER/digits/{0,1,...}
        inner = [p.name for p in _entries(root / classes[0]) if p.is_dir()]
        hint = (f". Its sub-folders ({some(inner)}) look like the classes: did you mean {root / classes[0]}?"
                if inner else "")
        raise _too_few_classes(root, f"one class folder, {classes[0]!r}", hint)
    files, labels = [], []
    for i, c in enumerate(classes):
        found = _class_images(root / c)
        files += found
        labels += [i] * len(found)
    labels = torch.tensor(labels)
    if splits:
        return _FolderIndex(files, labels, classes, str(path), _split_name(train), files)
    idx, split = _holdout(labels, train, str(path), len(classes))
    if idx is None:
        return _FolderIndex(files, labels, classes, str(path), split, files)
    return _FolderIndex([files[i] for i in idx.tolist()], labels[idx], classes, str(path), split, files)


def folder_of(name_or_path: str | os.PathLike) -> Path | None:
    """The folder :func:`load_dataset` reads for ``name_or_path``, or None where it reads
    something else (the bundled sample, a torchvision dataset, an .npz) or nothing."""
    text = os.fspath(name_or_path)
    if not text.strip() or _key(text) == "mnistsample":
        return None
    path = Path(text).expanduser()
    return path if path.suffix.lower() != ".npz" and path.is_dir() else None


def _folder(path: Path, train: bool | None, image_size: int | None, to_train: bool) -> ImageDataset:
    parts = list(folder_parts(path, train, image_size=image_size, to_train=to_train))
    if len(parts) == 1:
        return parts[0]
    return ImageDataset(torch.cat([p.images for p in parts]), torch.cat([p.labels for p in parts]),
                        parts[0].classes, parts[0].name, parts[0].split)


def _entries(folder: Path) -> list[Path]:
    """The entries of a dataset folder, sorted, hidden ones (.DS_Store, ._x.png, .ipynb_checkpoints)
    left out. A broken link that could be a class folder or an image (no suffix, a number's
    such as v1.0, or an image's) is refused: skipping it would silently drop a class or an
    image; others (notes.txt) are not."""
    entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    broken = next((p for p in entries if not p.exists()  # exists() follows the link
                   and (p.suffix.lower() in IMAGE_EXTENSIONS or not p.suffix[1:].isalpha())), None)
    if broken is not None:
        raise FileNotFoundError(f"{broken} is a broken link (to {os.readlink(broken)}, which does not "
                                f"exist); expected a class folder or an image: restore its target or remove it")
    return entries


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file() and not path.name.startswith(".")


def _class_images(folder: Path) -> list[Path]:
    """The images of one class folder. Images in a sub-folder are refused rather than merged into
    the class: they are as likely to be classes of their own (the path one level too high)."""
    entries = _entries(folder)
    nested = next((d for d in entries if d.is_dir() and any(map(_is_image, d.rglob("*")))), None)
    if nested is not None:
        raise ValueError(f"class folder {folder} holds a sub-folder of images, {nested}; expected each class's "
                         f"images directly in its folder. Move them into {folder} if they belong to class "
                         f"{folder.name!r}, or load {folder} itself if its sub-folders are the classes")
    found = [f for f in entries if _is_image(f)]
    if not found:
        raise ValueError(f"{folder}: class folder holds no images ({', '.join(IMAGE_EXTENSIONS)})")
    return found


def _read_plan(files: list[Path], image_size: int | None) -> tuple[int, tuple[int, int]]:
    """The channels (1 if every image is grey) and the H×W all of ``files`` are read at:
    ``image_size`` square, else, where sizes differ, their median shorter side (at most 256)
    square, else their one size. From the files' headers: nothing is decoded."""
    heads = [_header(f) for f in files]
    channels = 1 if all(mode in GRAY_MODES for mode, _ in heads) else 3
    sizes = {size for _, size in heads}
    if len(sizes) > 1 or image_size is not None:
        side = image_size or min(256, int(np.median([min(s) for s in sizes])))
        return channels, (side, side)
    return channels, sizes.pop()


def _decode(files: list[Path], channels: int, size: tuple[int, int], interpolation: str = "bilinear",
            crop: tuple[int, int] | None = None) -> Tensor:
    """The images as one uint8 tensor, each brought to ``size`` (then cropped to ``crop``) as it
    is decoded: 50,000 ImageNet photographs are never all in memory at full size."""
    images = []
    for f in files:
        t = image_tensor(read_image(f), channels, f"image {f}")
        if crop is not None:
            t = resize_center_crop(t, crop, interpolation, resize=size)
        elif tuple(t.shape[-2:]) != tuple(size):
            t = resize_center_crop(t, size, interpolation)
        images.append(t)
    return torch.stack(images)


def _header(path: Path) -> tuple[str, tuple[int, int]]:
    """An image file's mode and H×W, read from its header without decoding it."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.mode, (im.height, im.width)
    except Exception:  # noqa: BLE001  (the decoder's error, named, comes from read_image)
        read_image(path)
        raise


def read_image(path: str | os.PathLike):
    """The PIL image in the file ``path``, decoded; a ValueError naming the file if it cannot
    be read or holds several frames (an animated GIF or WebP, a multi-page TIFF): which frame
    is meant cannot be guessed, and taking the first one silently could be wrong."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()
            frames = getattr(im, "n_frames", 1)
            image = im.copy()
    except Exception as err:  # PIL raises many types for bad files
        raise ValueError(f"cannot read image {path}: {err}") from None
    if frames > 1:
        raise ValueError(f"image {path} has {frames} frames (an animation or a multi-page file); expected "
                         f"a single image: save the frame you mean as an image of its own")
    return image


def image_tensor(image, channels: int, source) -> Tensor:
    """A PIL image as a uint8 C×H×W tensor with ``channels`` (1: gray, 3: RGB). 16-bit images
    (mode I;16, or I) are scaled by 1/257 (65535 → 255), float images (mode F) must lie in
    [0, 1] and are scaled by 255, and transparent pixels become white, as viewers show them on
    a white page. ``source`` names the image in errors."""
    from PIL import Image

    if 0 in image.size:
        raise ValueError(f"{source} holds no pixels (size {image.size[0]}×{image.size[1]})")
    if image.mode in _DEEP_MODES:  # convert("L") would clip these at 255
        a = np.asarray(image)
        if image.mode == "F":
            a = unit_float_to_uint8(a, source)
        elif a.min() < 0 or a.max() > 65535:
            raise ValueError(f"{source}: integer images must lie in 0..65535 (16 bits), "
                             f"found {a.min()}..{a.max()}")
        else:
            a = np.rint(a / 257).astype(np.uint8)
        image = Image.fromarray(a)
    elif image.mode in ("RGBA", "LA", "PA", "RGBa") or "transparency" in image.info:  # alpha, or a clear colour
        image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image.convert("RGBA"))
    array = np.asarray(image.convert("L" if channels == 1 else "RGB"))
    return torch.from_numpy((array[None] if channels == 1 else array.transpose(2, 0, 1)).copy())


INTERPOLATIONS = ("bilinear", "bicubic")


def resize_center_crop(image: Tensor, size: tuple[int, int], interpolation: str = "bilinear",
                       resize: tuple[int, int] | None = None) -> Tensor:
    """A uint8 C×H×W image, or N×C×H×W images, scaled (``interpolation``: bilinear or bicubic,
    antialiased) so that they cover ``resize`` (default ``size``) and centre-cropped to ``size``:
    with ``resize`` (256, 256) and ``size`` (224, 224), torchvision's Resize(256) and
    CenterCrop(224)."""
    import torch.nn.functional as F

    H, W = size = check_hw(size, "size")
    RH, RW = resize = size if resize is None else check_hw(resize, "resize")
    check_choice(interpolation, "interpolation", INTERPOLATIONS)
    if RH < H or RW < W:
        raise ValueError(f"resize {RH}×{RW} must cover the crop {H}×{W}")
    if not isinstance(image, Tensor) or image.dim() not in (3, 4):
        raise TypeError(f"resize_center_crop takes a C×H×W or N×C×H×W image tensor, got {describe(image)}")
    if image.dim() == 4:  # one at a time: a float copy of a whole dataset could be large
        return (torch.cat([resize_center_crop(chunk, size, interpolation, resize)[None] for chunk in image])
                if len(image) else image)
    h, w = image.shape[1:]
    # torchvision's Resize and CenterCrop, with which published weights were scored: the side
    # that fits exactly, the other truncated (int, not round), and the crop offset rounded
    if RH / h >= RW / w:
        sh, sw, scale = RH, max(RW, int(w * RH / h)), RH / h
    else:
        sh, sw, scale = max(RH, int(h * RW / w)), RW, RW / w
    # bicubic as PIL (and torchvision's Resize) computes it: torch's antialiased kernel (a = -0.5)
    x = F.interpolate(image[None].float(), size=(sh, sw), mode=interpolation, align_corners=False,
                      antialias=scale < 1 or interpolation == "bicubic")[0]
    top, left = centre_offset(sh, H), centre_offset(sw, W)
    return x[:, top:top + H, left:left + W].round().clamp(0, 255).to(torch.uint8)


def centre_offset(length: int, crop: int) -> int:
    """Where a centred crop starts, as torchvision's CenterCrop puts it: int(round((L - c) / 2)),
    Python's rounding half to even (an odd margin of 43 pixels starts at 22, not 21)."""
    return int(round((length - crop) / 2))
