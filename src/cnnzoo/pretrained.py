"""Published ImageNet weights (torchvision's, timm's) as cnnzoo checkpoints.

cnnzoo downloads nothing: the user brings the file — torchvision's ``resnet50-11ad3fa6.pth``,
timm's ``model.safetensors`` of ``inception_v4.tf_in1k`` — and :func:`load_published` loads it,
strictly, into the registered network that computes what the file's network computes
(torchvision's ``resnet50`` is our ``resnet50_tv``, not the paper-layout ``resnet50``, whose
keys it also fits). It records what the weights were trained with: the preprocessing (mean,
standard deviation, resize then centre crop), ImageNet's class names and the published
accuracy. :func:`import_weights` writes that as a cnnzoo checkpoint, which ``eval``,
``predict``, ``compress`` and ``summary`` read as they read a trained run's.

torchvision's files are recognised by content: torch.hub names each file after the first
hex digits of its SHA-256 (``resnet50-11ad3fa6.pth``), which also tells V1 from V2 weights,
whose preprocessing differs (resize 256 or 232 before the 224 crop). A file whose content does
not match the digits in its name is a damaged download and is refused. timm's files carry no
such digits and need the model named; their preprocessing is timm's ``pretrained_cfg``.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from ._checks import SettingWarning, describe
from ._files import check_new

__all__ = ["load_published", "import_weights", "published_sources", "imagenet_wnids"]

IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
INCEPTION_MEAN, INCEPTION_STD = [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]  # Google's weights take inputs in [-1, 1]
HUB_DIGITS = re.compile(r"-([0-9a-f]{6,})\.\w+$")  # torch.hub's name: the start of the file's SHA-256


@dataclass(frozen=True)
class Source:
    """Where a registered network's published weights come from and how they were trained to
    be fed: crop ``crop``×``crop`` from the image resized to ``resize`` (shorter side)."""

    library: str  # "torchvision" or "timm"
    name: str  # the library's name of the weights
    crop: int
    resize: int
    mean: list = field(default_factory=lambda: IMAGENET_MEAN)
    std: list = field(default_factory=lambda: IMAGENET_STD)
    options: dict = field(default_factory=dict)  # our builder's options for these weights
    rename: Callable[[str], str] | None = None  # the file's keys as ours
    top1: float | None = None
    top5: float | None = None
    order: Callable[[str], list] | None = None  # sort key: the file's keys in our definition order
    interpolation: str = "bilinear"  # of the resize: timm's TF Inceptions were scored bicubic


def _densenet_key(key: str) -> str:
    """torchvision's published DenseNets keep the old ``norm.1`` keys its own loader renames
    (``torchvision.models.densenet._load_state_dict``) to ``norm1``."""
    return re.sub(r"(denselayer\d+\.(?:norm|relu|conv))\.([12])\.", r"\1\2.", key)


_DEEP_STEM = {"layer0.conv1": "conv1.0", "layer0.bn1": "conv1.1", "layer0.conv2": "conv1.3",
              "layer0.bn2": "conv1.4", "layer0.conv3": "conv1.6", "layer0.bn3": "bn1"}


def _senet_key(key: str, deep_stem: bool = False) -> str:
    """The SENet authors' Caffe release as ported by Cadene and timm's ``legacy_se*``
    (``layer0.conv1``, ``se_module``, ``last_linear``) as our (torchvision's) names."""
    module, _, leaf = key.rpartition(".")
    if module.startswith("layer0."):
        module = _DEEP_STEM[module] if deep_stem else module[len("layer0."):]
    return f"{module.replace('se_module', 'se').replace('last_linear', 'fc')}.{leaf}"


_LEAF = {"weight": 0, "bias": 1, "running_mean": 2, "running_var": 3, "num_batches_tracked": 4}
_GOOGLE_TOP = ["features", "conv2d_1a", "conv2d_2a", "conv2d_2b", "conv2d_3b", "conv2d_4a", "mixed_5b", "repeat",
               "mixed_6a", "repeat_1", "mixed_7a", "repeat_2", "block8", "conv2d_7b", "last_linear", "classif"]


def _google_order(key: str) -> list:
    """Where a key of timm's ``inception_v4``/``inception_resnet_v2`` (Cadene's port of Google's
    checkpoints: ``features.6.branch1.0.conv.weight``, ``mixed_5b.branch0.bn.bias``) comes in the
    networks' definition order, which is ours, module for module, under other names. A
    safetensors file holds its keys sorted by name, so that order is rebuilt from the names."""
    rank = []
    for i, part in enumerate(key.split(".")):
        branch = re.fullmatch(r"branch(\d+)(?:_(\w+))?", part)
        if part.isdigit():
            rank.append((0, int(part), ""))
        elif i == 0 and part in _GOOGLE_TOP:
            rank.append((1, _GOOGLE_TOP.index(part), ""))
        elif branch:
            rank.append((2, int(branch.group(1)), branch.group(2) or ""))
        elif part in ("conv", "bn"):
            rank.append((3, ("conv", "bn").index(part), ""))
        elif part in _LEAF:
            rank.append((4, _LEAF[part], ""))
        else:  # Block35/17/8's own 1×1 convolution after its branches
            rank.append((5, 0, part))
    return rank


# timm's pretrained_cfg of the weights of networks torchvision does not publish: input size,
# crop_pct (crop = resize × crop_pct), interpolation and normalisation. The SENets are
# the authors' release; timm's own legacy_seresnet18/34 add a ReLU before the SE block that
# the paper's (and our) basic unit lacks, so their weights are not read into se_resnet18/34.
def _timm(name: str, crop: int, crop_pct: float, inception: bool = False, **kw) -> Source:
    stats = dict(mean=INCEPTION_MEAN, std=INCEPTION_STD) if inception else {}
    return Source("timm", name, crop, int(crop / crop_pct), **stats, **kw)  # timm's own rounding


TIMM = {
    "inception_v4": _timm("inception_v4.tf_in1k", 299, 0.875, inception=True, order=_google_order,
                          interpolation="bicubic"),
    "inception_resnet_v2": _timm("inception_resnet_v2.tf_in1k", 299, 0.8975, inception=True,
                                 order=_google_order, interpolation="bicubic"),
    "se_resnet50": _timm("legacy_seresnet50.in1k", 224, 0.875, rename=_senet_key),
    "se_resnet101": _timm("legacy_seresnet101.in1k", 224, 0.875, rename=_senet_key),
    "se_resnet152": _timm("legacy_seresnet152.in1k", 224, 0.875, rename=_senet_key),
    "se_resnext50_32x4d": _timm("legacy_seresnext50_32x4d.in1k", 224, 0.875, rename=_senet_key),
    "se_resnext101_32x4d": _timm("legacy_seresnext101_32x4d.in1k", 224, 0.875, rename=_senet_key),
    "senet154": _timm("legacy_senet154.in1k", 224, 0.875,
                      rename=lambda k: _senet_key(k, deep_stem=True)),
}

# torchvision feeds its Inception weights inputs normalised with ImageNet's statistics and
# lets the network convert them to the [-1, 1] the Google weights expect.
_TV_OPTIONS = {"googlenet": {"transform_input": True}, "inception_v3": {"transform_input": True}}
_TV_RENAME = {arch: _densenet_key for arch in ("densenet121", "densenet161", "densenet169", "densenet201")}


def _torchvision_archs() -> dict[str, str]:
    """torchvision's architecture → our registered network of the same computation: ``<arch>_tv``
    where we have one (``resnet50_tv``, ``alexnet_tv``, ``googlenet_tv``), else ``<arch>``
    itself where torchvision's layout is the paper's (``vgg16``, ``densenet121``)."""
    import torchvision

    from .registry import list_models

    ours = set(list_models())
    archs = {}
    for arch in torchvision.models.list_models(module=torchvision.models):
        name = f"{arch}_tv" if f"{arch}_tv" in ours else arch
        if name in ours:
            archs[arch] = name
    return archs


def _torchvision_sources(arch: str) -> list[tuple[str, Source]]:
    """(hex digits of the file's name, Source) for each of torchvision's ImageNet weights of ``arch``."""
    from torchvision.models import get_model_weights

    sources = []
    for weights in get_model_weights(arch):
        if not weights.meta.get("categories"):  # VGG-16's IMAGENET1K_FEATURES: no classifier
            continue
        digits = HUB_DIGITS.search(weights.url)
        t = weights.transforms()
        metrics = weights.meta.get("_metrics", {}).get("ImageNet-1K", {})
        sources.append((digits.group(1) if digits else "", Source(
            "torchvision", f"{arch} {weights.name}", t.crop_size[0], t.resize_size[0], list(t.mean), list(t.std),
            dict(_TV_OPTIONS.get(arch, {})), _TV_RENAME.get(arch), metrics.get("acc@1"), metrics.get("acc@5"))))
    return sources


def published_sources() -> dict[str, list[str]]:
    """Each registered network whose published weights :func:`load_published` reads, with the
    names of those weights (``{"resnet50_tv": ["torchvision resnet50 IMAGENET1K_V1", ...]}``)."""
    out: dict[str, list[str]] = {}
    for arch, name in _torchvision_archs().items():
        out.setdefault(name, []).extend(f"torchvision {s.name}" for _, s in _torchvision_sources(arch))
    for name, source in TIMM.items():
        out.setdefault(name, []).append(f"timm {source.name}")
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _identify(path: Path, model: str | None) -> tuple[str, Source | None]:
    """The registered network and the published weights ``path`` holds: by the SHA-256 of its
    content among torchvision's files; a file named like one of them whose content differs is
    refused. ``(model, None)`` for weights we cannot recognise."""
    archs = _torchvision_archs()
    if model is not None:
        archs = {a: n for a, n in archs.items() if n == model}
    named = HUB_DIGITS.search(path.name)
    digest = _sha256(path) if archs else ""
    known = [(name, digits, source) for arch, name in archs.items() for digits, source in _torchvision_sources(arch)]
    for name, digits, source in known:  # by content first: a published file renamed is still itself
        if digits and digest.startswith(digits):
            return name, source
    for name, digits, source in known:
        if digits and named and named.group(1) == digits:
            raise ValueError(f"{path} is named as torchvision's {source.name} weights, but its content is "
                             f"not theirs (SHA-256 {digest[:12]}…, expected {digits}…): the download is "
                             "damaged or incomplete; download it again")
    if model is None:
        raise ValueError(f"{path} is none of torchvision's published ImageNet weights (by content); name the "
                         "network its weights are for (--model NAME; `cnnzoo import --list` shows those "
                         "whose published weights cnnzoo reads)")
    return model, TIMM.get(model)


EXPECTED = "torchvision's .pth (torch.save of a state_dict) or timm's model.safetensors"


def _read_state(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a weight file: a state_dict saved by torch.save, or safetensors; a
    training checkpoint's ``state_dict``/``model`` entry; DataParallel's ``module.`` dropped."""
    from .train.checkpoint import FORMAT, _kind_by_content, unreadable

    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; expected a weight file, {EXPECTED}")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such weight file")
    if path.stat().st_size == 0:
        raise ValueError(f"{path} is empty (0 bytes); expected {EXPECTED}")
    try:
        if _kind_by_content(path) == "safetensors" or path.suffix == ".safetensors":
            from safetensors import safe_open
            from safetensors.torch import load_file

            with safe_open(path, "pt") as f:
                cnnzoo_meta = (f.metadata() or {}).get(FORMAT)
            state = None if cnnzoo_meta else load_file(path)
        else:
            with open(path, "rb") as f:  # a file object: torch reads a path named *.safetensors as safetensors
                state = torch.load(f, map_location="cpu", weights_only=True)
            cnnzoo_meta = isinstance(state, dict) and state.get("format") == FORMAT
    except PermissionError:
        raise PermissionError(f"cannot read {path}: permission denied") from None
    except Exception as err:  # noqa: BLE001  (torch and safetensors raise many kinds)
        raise ValueError(unreadable(path, err, "weight file", f"expected {EXPECTED}", EXPECTED)) from None
    if cnnzoo_meta:
        raise ValueError(f"{path} is already a cnnzoo checkpoint: eval, predict, compress and summary read it "
                         f"as it is; import reads published weights ({EXPECTED})")
    if isinstance(state, dict):
        for key in ("state_dict", "model", "state_dict_ema"):
            if isinstance(state.get(key), dict):
                state = state[key]
                break
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path} holds {describe(state)}, not a state_dict (names → tensors); expected {EXPECTED}")
    prefix = "module."
    if all(k.startswith(prefix) for k in state):
        state = {k[len(prefix):]: v for k, v in state.items()}
    return state


def imagenet_wnids() -> list[str]:
    """ImageNet-1k's WordNet IDs in class order (sorted: the order of torchvision's
    ``ImageFolder`` over ILSVRC-2012's class folders, in which every published network numbers
    its outputs), the names of the class folders of ImageNet's images."""
    return (Path(__file__).parent / "data" / "imagenet_wnids.txt").read_text().split()


def _classes(num_classes: int | None) -> tuple[list[str], list[str] | None]:
    """Class names (and WordNet IDs) of a network with ``num_classes`` outputs: ImageNet's for 1,000."""
    from torchvision.models import ResNet50_Weights

    categories = ResNet50_Weights.IMAGENET1K_V1.meta["categories"]  # ImageNet-1k, in class order
    if num_classes == len(categories):
        return list(categories), imagenet_wnids()
    return [str(i) for i in range(num_classes or 0)], None


def _unpublished(path: Path, name: str) -> tuple[Source, str]:
    """How to read weights of ``name`` that are none of the published files (a user's own, in
    torchvision's layout): with the preprocessing of torchvision's first ImageNet weights of the
    architecture, and the note that says so."""
    readable = published_sources()
    if f"{name}_tv" in readable:  # resnet50: torchvision's keys fit, its computation differs
        raise ValueError(f"weights in torchvision's layout are {name}_tv's: {name} is the paper's layout, "
                         f"whose keys they fit but whose computation differs; use --model {name}_tv")
    if name not in readable:
        raise ValueError(f"cnnzoo reads no published weights of {name}; it reads those of "
                         f"{', '.join(sorted(readable))}")
    arch = next(arch for arch, ours in _torchvision_archs().items() if ours == name)
    like = next(s for _, s in _torchvision_sources(arch))
    note = (f"{path} is not one of torchvision's published {arch} files: it is read in their layout "
            f"and preprocessed as {like.name} (resize {like.resize}, crop {like.crop})")
    return replace(like, name=f"{arch}, not a published file", top1=None, top5=None), note


def _by_position(state: dict, ours: dict, path: Path, name: str) -> dict:
    """``state``'s tensors under ``ours``'s names, pairing them in order; each pair must agree in
    its parameter's kind (``weight``, ``running_var``) and shape."""
    if len(state) != len(ours):
        raise ValueError(f"{path} holds weights that do not fit {name}: {len(state)} tensors, "
                         f"{name} has {len(ours)}")
    for (theirs, value), (key, mine) in zip(state.items(), ours.items()):
        if theirs.rpartition(".")[2] != key.rpartition(".")[2] or value.shape != mine.shape:
            raise ValueError(f"{path} holds weights that do not fit {name}: {theirs} "
                             f"{tuple(value.shape)} where {name} has {key} {tuple(mine.shape)}")
    return dict(zip(ours, state.values()))


def _num_classes(name: str, state: dict, source: Source) -> int | None:
    """The outputs of the file's classifier: the rows of the weight under the name of our
    network's last linear layer (built on the meta device), or, for a file read by position,
    of its last matrix; None where neither is there (load_state_dict then says what is amiss)."""
    from .registry import create_model

    if source.order:  # in definition order: the classifier's weight is the last matrix
        head = next((v for v in reversed(state.values()) if v.dim() == 2), None)
        return int(head.shape[0]) if head is not None else None
    with torch.device("meta"):
        net = create_model(name, **source.options)
    last = [n for n, m in net.named_modules() if isinstance(m, nn.Linear)][-1]
    weight = state.get(f"{last}.weight")
    return int(weight.shape[0]) if weight is not None and weight.dim() == 2 else None


def load_published(path: str | os.PathLike, model: str | None = None) -> tuple[nn.Module, dict]:
    """The network a published weight file holds, in eval mode, with its metadata (as
    :func:`cnnzoo.load_model` returns): ``model`` is our registered name (found from the
    file's content for torchvision's files); the preprocessing, ImageNet's class names and
    the published top-1/top-5 are in ``meta`` and in ``model.data_config``."""
    from .registry import create_model, model_info
    from ._files import as_path
    from .train.checkpoint import error_summary, model_meta

    path = as_path(path, "a weight file").expanduser()
    if model is not None:
        model = model_info(model).name
    state = _read_state(path)
    name, source = _identify(path, model)
    unpublished = ""
    if source is None:
        source, unpublished = _unpublished(path, name)
    if source.rename:
        state = {source.rename(k): v for k, v in state.items()}
    if source.order:
        state = dict(sorted(state.items(), key=lambda kv: source.order(kv[0])))
    num_classes = _num_classes(name, state, source)
    options = {**source.options, **({"num_classes": num_classes} if num_classes else {})}
    net = create_model(name, **options)
    if source.order:
        state = _by_position(state, net.state_dict(), path, name)
    try:
        net.load_state_dict(state)
    except RuntimeError as err:
        raise ValueError(f"{path} holds weights that do not fit {name}: {error_summary(err)}") from None
    if unpublished:
        warnings.warn(unpublished, SettingWarning, stacklevel=2)
    classes, wnids = _classes(num_classes)
    net.model_options = options
    net.data_config = {
        "input_size": [3, source.crop, source.crop], "image_size": [3, source.resize, source.resize],
        "mean": list(source.mean), "std": list(source.std), "test_crop": source.crop / source.resize,
        "interpolation": source.interpolation,
        "dataset": "imagenet" if wnids else None, "classes": classes, "class_ids": wnids,
    }
    published = {k: v for k, v in (("top1", source.top1), ("top5", source.top5)) if v is not None}
    meta = model_meta(net, weights=f"{source.library} {source.name}", weights_file=path.name,
                      published=published or None)
    meta["model"] = name
    return net.eval(), meta


def import_weights(path: str | os.PathLike, model: str | None = None,
                   out: str | os.PathLike | None = None) -> tuple[Path, dict]:
    """Write the published weights ``path`` holds as a cnnzoo checkpoint (default
    ``<model>.safetensors`` in the current folder; never over an existing file) and return
    its path and metadata (see :func:`load_published`)."""
    from .registry import model_info
    from .train.checkpoint import save_weights

    def target(name: str) -> Path:
        chosen = Path(out) if out is not None else Path(f"{name}.safetensors")
        if chosen.suffix != ".safetensors":
            raise ValueError(f"the checkpoint is written as safetensors: name it *.safetensors, not {chosen.name}")
        check_new([chosen], overwrite=False)  # weights are never written over
        return chosen

    if model is not None or out is not None:  # refused before the file is read, where it can be
        target(model_info(model).name if model is not None else "")
    net, meta = load_published(path, model)
    out = target(meta["model"])
    save_weights(out, net, meta)
    return out, meta
