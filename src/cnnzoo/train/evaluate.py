"""Evaluate a trained model on a dataset, and predict the classes of image files.

Both preprocess exactly as training did: the model's ``data_config`` (set by the trainer
and stored in every checkpoint) gives the input size, the training set's mean and
standard deviation, and the test crop.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import torch
from torch import Tensor, nn

from .._checks import check_choice, describe, positive_int
from .._device import eval_mode, floating_dtype, module_device, resolve_device
from ..data import Augment, ImageDataset, Loader, adapt_channels, default_input_size, load_dataset
from ..data.datasets import (at_training_size, folder_of, folder_parts, image_tensor, match_classes,
                             read_image, resize_center_crop, unit_float_to_uint8)
from ..models.base import Classifier
from .checkpoint import load_model
from .loop import _scores, evaluate_loader

__all__ = ["evaluate", "predict", "preprocess"]

# the part of a dataset each ``split`` scores: load_dataset's ``train``
SPLITS = {"test": False, "train": True, "all": None}


def _model(model, device) -> tuple[nn.Module, torch.device, dict]:
    """The model on ``device`` (``None``: a module where it is, so that a GPU model is not
    moved to the CPU under its caller; a file on the CPU), and what its checkpoint records
    (empty for a module). Scored under :func:`eval_mode`: a caller's model in training
    stays in training."""
    meta: dict = {}
    if isinstance(model, (str, os.PathLike)):
        dev = resolve_device(device or "cpu")
        model, meta = load_model(model, device=dev)
    elif not isinstance(model, nn.Module):
        raise TypeError(f"expected a model, a checkpoint or a run directory, got {type(model).__name__}")
    elif device is None:
        dev = module_device(model)
    else:
        dev = resolve_device(device)
    return model.to(dev), dev, meta


def _one_crop(cfg: dict, ten_crop: bool = False) -> tuple[int, int] | None:
    """The centre crop to take of each image as it is read, where the images are read at the
    size the test view crops from (published weights: torchvision's Resize(256) then
    CenterCrop(224), one crop, where a square of 256 and a crop of it may lie a pixel apart);
    None where the loader crops: ten crops, no crop, or a run whose images were read at another
    size than input / test_crop (the loader fits them to it first)."""
    size, read = list(cfg.get("input_size") or [])[-2:], list(cfg.get("image_size") or [])[-2:]
    test_crop = cfg.get("test_crop", 1.0)
    if ten_crop or test_crop >= 1 or len(size) != 2 or len(read) != 2 or read[0] != read[1]:
        return None
    if read != [round(size[0] / test_crop), round(size[1] / test_crop)]:
        return None
    return tuple(size)


def _input_size(model: nn.Module, cfg: dict, image_size) -> tuple[int, int, int]:
    if cfg.get("input_size"):
        return tuple(cfg["input_size"])
    if isinstance(model, Classifier):
        return default_input_size(model.default_input_size, image_size, model.min_input_size)
    return tuple(image_size)


def evaluate(
    model,
    dataset_or_name=None,
    *,
    batch_size: int = 256,
    device: str | torch.device | None = None,
    split: str | None = None,
    ten_crop: bool = False,
    root: str | None = None,
    download: bool = False,
) -> dict:
    """Accuracy of ``model`` (a module, a checkpoint, or a run directory) on a dataset (an
    :class:`~cnnzoo.data.ImageDataset`, or a name/path for :func:`~cnnzoo.data.load_dataset`,
    by default the one the model was trained on; ``split`` ``"test"`` (the default), ``"train"``
    or ``"all"``: every image, for data the model never saw, such as ImageNet's validation
    images for published weights, :mod:`cnnzoo.pretrained`; an ImageDataset is one split
    already, and is scored whole).

    Returns ``top1``, ``top5`` (percent), ``per_class`` (percent per class), ``confusion``
    (rows: true class, columns: predicted), ``loss``, ``n`` (images scored), ``classes``,
    ``dataset`` and ``split`` (which part of the dataset was scored, e.g. ``"test split"``, or
    the held-out 10% of a dataset that has no test split), and what was scored: ``model`` (the
    registered name, when known), ``model_options``, ``input_size``, ``weights`` (published
    weights' name, for imports) and ``checkpoint`` (the file or run given; None for a module).
    ``ten_crop`` averages AlexNet's ten crops (Krizhevsky et al. 2012, §4.1). ``device``: where
    to score (default: a module where it is, a checkpoint on the CPU).

    The data's labels are matched to the model's classes (recorded in its ``data_config``) by
    name, and its images brought to the training images' size, as
    :func:`cnnzoo.data.datasets.match_classes` and :func:`~cnnzoo.data.datasets.at_training_size` say
    (a folder's images, for published weights, resized and centre-cropped once as their
    publisher's transform does: :func:`_one_crop`).
    """
    if split is not None:
        check_choice(split, "split", SPLITS)
    if split is not None and isinstance(dataset_or_name, ImageDataset):
        raise ValueError(f"an ImageDataset is scored whole (it is one split already: {dataset_or_name.split}); "
                         f"split={split!r} applies to a dataset name or path")
    batch_size = positive_int(batch_size, "batch_size")  # before the parts are sized by it
    source = model
    model, dev, meta = _model(model, device)
    cfg = dict(getattr(model, "data_config", None) or {})
    if ten_crop and cfg.get("test_crop", 1.0) >= 1:
        raise ValueError("ten-crop testing needs a model tested on a centre crop of a larger image (AlexNet's "
                         "224 of 256: test_crop < 1); this one sees the whole image (test_crop 1.0), so "
                         "its ten crops would be five copies of the image and five mirror images")
    if dataset_or_name is None:
        dataset_or_name = cfg.get("dataset")
        if dataset_or_name is None:
            raise ValueError("the model does not record its dataset; pass one (--data NAME or FOLDER)")
        if cfg.get("class_ids") and not Path(dataset_or_name).exists():  # published weights (cnnzoo.pretrained)
            raise ValueError(f"the model was trained on {dataset_or_name}, which cnnzoo does not download: "
                             "give its images (--data FOLDER, one sub-folder per class named by WordNet ID "
                             "such as n01440764, or by class name; --split all scores every image)")
    if not isinstance(dataset_or_name, (ImageDataset, str, os.PathLike)):
        raise TypeError(f"data must be a dataset name or path, or an ImageDataset, got {describe(dataset_or_name)}")
    crop = _one_crop(cfg, ten_crop) if _read_in_parts(dataset_or_name, cfg) else None
    parts = iter(_parts(dataset_or_name, SPLITS[split or "test"], cfg, root, download, batch_size, crop))
    ds = next(parts)
    k = getattr(model, "num_classes", None)
    if k is not None and k != ds.num_classes:
        raise ValueError(f"the model predicts {k} classes but {ds.name} has {ds.num_classes}")
    first = Loader(ds, batch_size=batch_size, input_size=_input_size(model, cfg, ds.image_size), train=False,
                   device=dev, mean=cfg.get("mean"), std=cfg.get("std"), ten_crop=ten_crop,
                   augment=Augment(test_crop=1.0 if crop else cfg.get("test_crop", 1.0)))
    rest = (Loader(part, batch_size=batch_size, input_size=first.input_size, train=False, device=dev,
                   mean=first.mean, std=first.std, ten_crop=ten_crop, augment=first.augment) for part in parts)
    with eval_mode(model):
        result = evaluate_loader(model, _Chained(first, rest), num_classes=ds.num_classes)
    name = meta.get("model") or getattr(model, "name", None)
    return {**result, "classes": list(ds.classes), "dataset": ds.name, "split": ds.split,
            # what was scored, so that `cnnzoo compare --evals` can chart it
            "model": name if isinstance(name, str) else None,
            "model_options": dict(meta.get("model_options") or getattr(model, "model_options", None) or {}),
            "input_size": list(first.input_size), "weights": meta.get("weights"),
            "checkpoint": None if isinstance(source, nn.Module) else os.fspath(source)}


PART = 1024  # images of a folder decoded at a time: ImageNet's 50,000 need not fit in memory at once


def _read_in_parts(data, cfg: dict) -> bool:
    """Whether :func:`_parts` decodes ``data`` part by part: a folder, for a model that records
    its normalisation (else the data's statistics are needed first, and it is read whole)."""
    return (not isinstance(data, ImageDataset) and folder_of(data) is not None
            and cfg.get("mean") is not None and cfg.get("std") is not None)


def _parts(data, train: bool | None, cfg: dict, root, download: bool, batch_size: int,
           crop: tuple[int, int] | None = None):
    """The data to score as datasets of about :data:`PART` images (whole batches), each with
    its labels numbered as the model's classes and its images at the training images' size (or,
    with ``crop``, at that centre crop of it). A folder is decoded part by part where
    :func:`_read_in_parts` says so; anything else is read whole."""
    trained_at = list(cfg.get("image_size") or [])[-2:]  # a folder's photographs, read at once at that size
    side = trained_at[0] if len(trained_at) == 2 and trained_at[0] == trained_at[1] else None

    def fitted(ds: ImageDataset) -> ImageDataset:
        return at_training_size(match_classes(ds, cfg.get("classes"), cfg.get("class_ids")), cfg.get("image_size"))

    if not _read_in_parts(data, cfg):
        yield fitted(data if isinstance(data, ImageDataset) else
                     load_dataset(data, train=train, root=root, download=download, to_train=False, image_size=side))
        return
    part = max(PART // batch_size, 1) * batch_size
    for ds in folder_parts(folder_of(data), train, image_size=side, part=part, to_train=False,
                           interpolation=cfg.get("interpolation", "bilinear"), crop=crop):
        yield match_classes(ds, cfg.get("classes"), cfg.get("class_ids")) if crop else fitted(ds)


class _Chained:
    """Batches of several loaders, one after another, as :func:`evaluate_loader` reads one."""

    def __init__(self, first: Loader, rest):
        self.device, self.crops, self.dataset = first.device, first.crops, first.dataset
        self._loaders = itertools.chain([first], rest)

    def __iter__(self):
        for loader in self._loaders:
            yield from loader


def _read_image(item, channels: int, where: str) -> Tensor:
    """A path, a PIL image or a tensor (C×H×W or H×W; uint8 0-255, or float in [0, 1]) as
    uint8 C×H×W with ``channels``; ``where`` names it in errors."""
    if isinstance(item, Tensor):
        return _tensor_image(item, channels, where)
    from PIL import Image

    if isinstance(item, (str, os.PathLike)):
        path = Path(item)
        if path.is_dir():
            raise FileNotFoundError(f"image {path} is a folder; give the image files themselves "
                                    f"(e.g. {path}/*.png)")
        if not path.is_file():
            raise FileNotFoundError(f"image {path} does not exist")
        item, where = read_image(path), f"image {path}"
    if not isinstance(item, Image.Image):
        raise TypeError(f"{where}: expected an image path, a PIL image or a tensor, got {type(item).__name__}")
    return image_tensor(item, channels, where)


def _tensor_image(x: Tensor, channels: int, where: str) -> Tensor:
    shape = "×".join(map(str, x.shape))
    x = x.unsqueeze(0) if x.dim() == 2 else x
    if x.dim() != 3:
        raise ValueError(f"{where}: expected a C×H×W (or H×W) image tensor, got shape {shape}")
    if x.shape[0] not in (1, 3):
        if x.shape[-1] in (1, 3):
            raise ValueError(f"{where}: a tensor of shape {shape} looks channels-last (H×W×C); expected "
                             f"C×H×W: pass x.permute(2, 0, 1)")
        raise ValueError(f"{where}: expected 1 or 3 channels (C×H×W), got shape {shape}")
    if 0 in x.shape:
        raise ValueError(f"{where}: the tensor of shape {shape} holds no pixels")
    if x.is_floating_point():
        x = torch.from_numpy(unit_float_to_uint8(x.detach().float().cpu().numpy(), where))
    elif x.dtype != torch.uint8:  # 0-255, 0-65535 and 0-1 are all plausible: refuse to guess
        raise TypeError(f"{where}: expected a uint8 tensor (0-255) or a float one (0-1), got {x.dtype}; "
                        f"convert it, e.g. x.to(torch.uint8) if its values are 0-255")
    x = x.detach().cpu()
    if x.shape[0] != channels:  # as the loader would, so that images of both kinds batch together
        x = adapt_channels(x[None].float(), channels)[0].round().to(torch.uint8)
    return x


def predict(model, images, *, topk: int = 5, device: str | torch.device | None = None
            ) -> list[list[tuple[str, float]]]:
    """The ``topk`` most probable classes of each image, as ``(class name, probability)``.

    ``model`` is a module, a checkpoint or a run directory; ``images`` a list of paths, PIL
    images or tensors (C×H×W or H×W, uint8 0-255 or float in [0, 1]; an N×C×H×W tensor is a
    list of N), preprocessed as :func:`preprocess` says.
    """
    topk = positive_int(topk, "topk")
    model, dev, _ = _model(model, device)
    classes, loader = _loader(model, images, dev)
    out = []
    with torch.no_grad(), eval_mode(model):
        for x, _ in loader:
            probs = _scores(model, model(x.to(floating_dtype(model))).float())
            p, idx = probs.topk(min(topk, probs.shape[1]), dim=1)
            out += [[(classes[i], float(v)) for v, i in zip(pr.tolist(), ix.tolist())] for pr, ix in zip(p, idx)]
    return out


def preprocess(model: nn.Module, images, *, device: str | torch.device | None = None) -> Tensor:
    """``images`` (as :func:`predict` takes them) as ``model`` sees them, N×C×H×W in its dtype
    on ``device`` (default: the model's): each image resized (shorter side) and centre-cropped
    to the size of the training images, then preprocessed as the test set was (an MNIST model
    expects a light digit on a dark background, as MNIST's are)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"preprocess expects a model (an nn.Module; cnnzoo.load_model reads a run), "
                        f"got {describe(model)}")
    dev = module_device(model) if device is None else resolve_device(device)
    _, loader = _loader(model, images, dev)
    batches = [x for x, _ in loader]
    if not batches:
        raise ValueError("no images to preprocess")
    return torch.cat(batches).to(floating_dtype(model))


def _loader(model: nn.Module, images, dev: torch.device) -> tuple[list[str], list | Loader]:
    """The model's class names and a loader of ``images`` preprocessed for it (a list of none
    for no images)."""
    cfg = dict(getattr(model, "data_config", None) or {})
    k = getattr(model, "num_classes", None)
    classes = cfg.get("classes") or [str(i) for i in range(k or 0)]
    image_size = cfg.get("image_size") or list(getattr(model, "default_input_size", ()) or ())
    if not image_size:
        raise ValueError("the model records no input size; train it with cnnzoo or set model.data_config")
    from PIL import Image

    if isinstance(images, (str, os.PathLike, Image.Image)) or (isinstance(images, Tensor) and images.dim() != 4):
        images = [images]  # one image; an N×C×H×W tensor is N of them
    if not isinstance(images, (list, tuple, Tensor)):
        raise TypeError(f"images must be an image (a path, a PIL image or a tensor) or a list of them, "
                        f"got {describe(images)}")
    c, h, w = image_size
    crop, interpolation = _one_crop(cfg), cfg.get("interpolation", "bilinear")
    batch = []
    for i, item in enumerate(images):
        x = _read_image(item, c, f"images[{i}]")
        if crop is not None:
            x = resize_center_crop(x, crop, interpolation, resize=(h, w))
        elif tuple(x.shape[1:]) != (h, w):
            x = resize_center_crop(x, (h, w), interpolation)
        batch.append(x)
    if not batch:
        return classes, []
    ds = ImageDataset(torch.stack(batch), torch.zeros(len(batch), dtype=torch.long), classes, "images")
    return classes, Loader(ds, batch_size=256, input_size=_input_size(model, cfg, ds.image_size), train=False,
                           device=dev, mean=cfg.get("mean"), std=cfg.get("std"),
                           augment=Augment(test_crop=1.0 if crop else cfg.get("test_crop", 1.0)))
